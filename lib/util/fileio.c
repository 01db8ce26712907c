/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fileio.h"

static const char *rel(const char *path)
{
	while (*path == '/')
		path++;
	return *path ? path : ".";
}

int ms_openat(struct ms_ctx *ctx, const char *path, int flags)
{
	int fd = openat(ctx->rootfd, rel(path), flags | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

bool ms_path_exists(struct ms_ctx *ctx, const char *path)
{
	return faccessat(ctx->rootfd, rel(path), F_OK, 0) == 0;
}

int ms_read_fd(int fd, char **out, size_t *len_out, size_t max)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *nbuf;

			/* Room for max bytes plus the NUL; a full buffer is
			 * only too small if the file goes on. */
			if (cap > max) {
				char c;
				ssize_t k = pread(fd, &c, 1, (off_t)len);

				if (k == 0)
					break;
				free(buf);
				return k < 0 ? -errno : -EFBIG;
			}
			cap = MS_MIN(cap * 2, max + 1);
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
		}
		n = pread(fd, buf + len, cap - len - 1, (off_t)len);
		if (n < 0) {
			int err = -errno;

			if (err == -EINTR)
				continue;
			free(buf);
			return err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	*len_out = len;
	return 0;
}

int ms_read_file(struct ms_ctx *ctx, const char *path, char **out, size_t *len_out, size_t max)
{
	struct stat st;
	int fd, r;

	/* O_NONBLOCK: a FIFO planted in a sysroot must not hang us. */
	fd = ms_openat(ctx, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		close(fd);
		return r;
	}
	r = ms_read_fd(fd, out, len_out, max);
	close(fd);
	return r;
}

int ms_write_file(struct ms_ctx *ctx, const char *path, const char *data)
{
	size_t len = strlen(data);
	ssize_t n;
	int fd;

	/* O_TRUNC is a no-op on kernel files and keeps plain-file stand-ins
	 * (captured trees, tests) holding exactly what was written last. */
	/* O_NONBLOCK on open: a FIFO without a reader fails (ENXIO) instead
	 * of blocking; the write itself blocks as kernel files expect. */
	fd = ms_openat(ctx, path, O_WRONLY | O_TRUNC | O_NONBLOCK);
	if (fd < 0)
		return fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

int ms_cgroup_path(char *buf, size_t size, const char *cgroup, const char *file)
{
	const char *c = cgroup ? cgroup : "";
	int n;

	while (*c == '/')
		c++;
	/* No escaping the cgroup tree: reject ".." components. */
	for (const char *p = c; (p = strstr(p, "..")); p += 2)
		if ((p == c || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
			return -EINVAL;
	if (*c)
		n = snprintf(buf, size, "sys/fs/cgroup/%s%s%s", c,
			     c[strlen(c) - 1] == '/' ? "" : "/", file ? file : "");
	else
		n = snprintf(buf, size, "sys/fs/cgroup/%s", file ? file : "");
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}
