/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "unixsock.h"

static int address(const char *endpoint, struct sockaddr_un *sa, socklen_t *len)
{
	const char *p;
	size_t n;

	if (!endpoint || strncmp(endpoint, "unix:", 5) != 0)
		return -EINVAL;
	p = endpoint + 5;
	n = strlen(p);
	if (n < 2 || n >= sizeof(sa->sun_path) || (p[0] != '/' && p[0] != '@'))
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, p, n);
	if (p[0] == '@') {
		sa->sun_path[0] = '\0';
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		*len = sizeof(*sa);
	}
	return 0;
}

/* Does someone listen there?  Non-blocking, so that a hung listener with
 * a full backlog counts as alive instead of hanging us. */
static int in_use(const struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return 1;
	r = connect(fd, (const struct sockaddr *)sa, len) == 0 || errno != ECONNREFUSED;
	close(fd);
	return r;
}

int unixsock_listen(const char *endpoint, int backlog)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r;

	r = address(endpoint, &sa, &len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		struct stat st;

		r = -errno;
		if (r != -EADDRINUSE || sa.sun_path[0] == '\0')
			goto fail;
		if (lstat(sa.sun_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			r = -EEXIST;
			goto fail;
		}
		if (in_use(&sa, len))
			goto fail;
		if (unlink(sa.sun_path) < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0) {
			r = -errno;
			goto fail;
		}
	}
	/* Only the owner (root) may command the host agent. */
	if (sa.sun_path[0] && chmod(sa.sun_path, 0600) < 0) {
		r = -errno;
		goto fail;
	}
	if (listen(fd, backlog) < 0) {
		r = -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return r;
}

int unixsock_connect(const char *endpoint)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, r;

	r = address(endpoint, &sa, &len);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

void unixsock_unlink(const char *endpoint)
{
	struct sockaddr_un sa;
	socklen_t len;

	if (address(endpoint, &sa, &len) == 0 && sa.sun_path[0])
		unlink(sa.sun_path);
}
