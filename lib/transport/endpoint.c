/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "../internal.h"
#include "../util/parse.h"
#include "endpoint.h"

static int parse_u32(const char *s, uint32_t *out)
{
	const char *p = s, *end = s + strlen(s);
	uint64_t v;

	if (ms_parse_u64(&p, end, &v) < 0 || p != end || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int ms_endpoint_parse(const char *text, struct ms_endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (!text)
		return -EINVAL;
	if (strncmp(text, "unix:", 5) == 0) {
		const char *path = text + 5;
		size_t n = strlen(path);

		if (n == 0 || n >= sizeof(ep->path) || (path[0] != '/' && path[0] != '@' &&
							 path[0] != '.'))
			return -EINVAL;
		ep->kind = MS_ENDPOINT_UNIX;
		memcpy(ep->path, path, n + 1);
		return 0;
	}
	if (strncmp(text, "vsock:", 6) == 0) {
		char cid[16];
		const char *colon = strrchr(text + 6, ':');
		size_t n;

		if (!colon)
			return -EINVAL;
		n = (size_t)(colon - (text + 6));
		if (n == 0 || n >= sizeof(cid))
			return -EINVAL;
		memcpy(cid, text + 6, n);
		cid[n] = '\0';
		ep->kind = MS_ENDPOINT_VSOCK;
		if (strcmp(cid, "-1") == 0 || strcmp(cid, "any") == 0)
			ep->cid = VMADDR_CID_ANY;
		else if (parse_u32(cid, &ep->cid) < 0)
			return -EINVAL;
		if (parse_u32(colon + 1, &ep->port) < 0 || ep->port == VMADDR_PORT_ANY)
			return -EINVAL;
		return 0;
	}
	return -EINVAL;
}

void ms_endpoint_format(const struct ms_endpoint *ep, char *buf, size_t size)
{
	if (ep->kind == MS_ENDPOINT_UNIX)
		snprintf(buf, size, "unix:%s", ep->path);
	else if (ep->cid == VMADDR_CID_ANY)
		snprintf(buf, size, "vsock:-1:%u", ep->port);
	else
		snprintf(buf, size, "vsock:%u:%u", ep->cid, ep->port);
}

static socklen_t unix_addr(const struct ms_endpoint *ep, struct sockaddr_un *sa)
{
	size_t n = strlen(ep->path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, ep->path, n);
	if (ep->path[0] == '@') {
		sa->sun_path[0] = '\0';       /* abstract namespace */
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	return (socklen_t)sizeof(*sa);
}

static socklen_t vsock_addr(const struct ms_endpoint *ep, struct sockaddr_vm *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->svm_family = AF_VSOCK;
	sa->svm_cid = ep->cid;
	sa->svm_port = ep->port;
	return sizeof(*sa);
}

/* Is someone listening on this unix path?  Used to replace stale files.
 * Non-blocking: a live listener with a full backlog (a hung daemon) must
 * answer EAGAIN ("in use"), not block us. */
static bool unix_in_use(const struct sockaddr_un *sa, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool used;

	if (fd < 0)
		return true;
	used = connect(fd, (const struct sockaddr *)sa, len) == 0 || errno != ECONNREFUSED;
	close(fd);
	return used;
}

int ms_endpoint_listen(const struct ms_endpoint *ep, int backlog)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
		struct sockaddr_vm vm;
	} a;
	socklen_t len;
	int fd, family;

	if (ep->kind == MS_ENDPOINT_UNIX) {
		family = AF_UNIX;
		len = unix_addr(ep, &a.un);
	} else {
		family = AF_VSOCK;
		len = vsock_addr(ep, &a.vm);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, &a.sa, len) < 0) {
		int err = -errno;
		struct stat st;

		/* Something that is not a socket is in the way: say so. */
		if (err == -EADDRINUSE && family == AF_UNIX && ep->path[0] != '@' &&
		    lstat(ep->path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			close(fd);
			return -EEXIST;
		}

		if (err == -EADDRINUSE && family == AF_UNIX && ep->path[0] != '@' &&
		    lstat(ep->path, &st) == 0 && S_ISSOCK(st.st_mode) && !unix_in_use(&a.un, len) &&
		    unlink(ep->path) == 0 && bind(fd, &a.sa, len) == 0)
			goto bound;
		close(fd);
		return err;
	}
bound:
	if (listen(fd, backlog) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int ms_endpoint_connect(const struct ms_endpoint *ep, bool *in_progress)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
		struct sockaddr_vm vm;
	} a;
	socklen_t len;
	int fd, family;

	*in_progress = false;
	if (ep->kind == MS_ENDPOINT_UNIX) {
		family = AF_UNIX;
		len = unix_addr(ep, &a.un);
	} else {
		family = AF_VSOCK;
		len = vsock_addr(ep, &a.vm);
	}
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, &a.sa, len) < 0) {
		int err = -errno;

		if (err == -EINPROGRESS) {
			*in_progress = true;
			return fd;
		}
		close(fd);
		return err;
	}
	return fd;
}

int ms_endpoint_accept(int listen_fd)
{
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

void ms_socket_peer(int fd, char *buf, size_t size)
{
	union {
		struct sockaddr sa;
		struct sockaddr_vm vm;
		struct sockaddr_un un;
	} a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, &a.sa, &len) == 0 && a.sa.sa_family == AF_UNIX) {
		struct ucred cred;
		socklen_t cl = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
			snprintf(buf, size, "unix:pid=%d,uid=%u", (int)cred.pid, (unsigned)cred.uid);
		else
			snprintf(buf, size, "unix");
		return;
	}
	len = sizeof(a);
	if (getpeername(fd, &a.sa, &len) == 0 && a.sa.sa_family == AF_VSOCK) {
		snprintf(buf, size, "vsock:cid=%u,port=%u", a.vm.svm_cid, a.vm.svm_port);
		return;
	}
	snprintf(buf, size, "unknown");
}

uint32_t ms_socket_peer_cid(int fd)
{
	struct sockaddr_vm vm;
	socklen_t len = sizeof(vm);

	if (getpeername(fd, (struct sockaddr *)&vm, &len) < 0 || vm.svm_family != AF_VSOCK)
		return 0;
	return vm.svm_cid;
}
