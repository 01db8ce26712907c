/* SPDX-License-Identifier: LGPL-2.1-or-later */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <poll.h>
#include <strings.h>
#include <termios.h>
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
	if (strncmp(text, "serial:", 7) == 0) {
		const char *path = text + 7;
		size_t n = strlen(path);

		if (n < 2 || n >= sizeof(ep->path) || path[0] != '/')
			return -EINVAL;
		ep->kind = MS_ENDPOINT_SERIAL;
		memcpy(ep->path, path, n + 1);
		return 0;
	}
	if (strncmp(text, "hvsock:", 7) == 0) {
		const char *path = text + 7, *colon = strrchr(path, ':');
		size_t n;

		if (!colon || colon == path || path[0] != '/')
			return -EINVAL;
		n = (size_t)(colon - path);
		/* The listening path is "<uds>_<port>": leave room for it. */
		if (n + 12 >= sizeof(ep->path))
			return -EINVAL;
		memcpy(ep->path, path, n);
		ep->path[n] = '\0';
		if (parse_u32(colon + 1, &ep->port) < 0 || ep->port == VMADDR_PORT_ANY)
			return -EINVAL;
		ep->kind = MS_ENDPOINT_HVSOCK;
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
	else if (ep->kind == MS_ENDPOINT_SERIAL)
		snprintf(buf, size, "serial:%s", ep->path);
	else if (ep->kind == MS_ENDPOINT_HVSOCK)
		snprintf(buf, size, "hvsock:%s:%u", ep->path, ep->port);
	else if (ep->cid == VMADDR_CID_ANY)
		snprintf(buf, size, "vsock:-1:%u", ep->port);
	else
		snprintf(buf, size, "vsock:%u:%u", ep->cid, ep->port);
}

static socklen_t unix_addr_path(const char *path, struct sockaddr_un *sa)
{
	size_t n = strnlen(path, sizeof(sa->sun_path) - 1);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, n);
	if (path[0] == '@') {
		sa->sun_path[0] = '\0';       /* abstract namespace */
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	return (socklen_t)sizeof(*sa);
}

/* The unix address an endpoint listens on: its path, or for hvsock the
 * "<uds>_<port>" Firecracker and Cloud Hypervisor connect guests to. */
static socklen_t unix_addr(const struct ms_endpoint *ep, struct sockaddr_un *sa)
{
	char path[sizeof(sa->sun_path) + 16];

	if (ep->kind == MS_ENDPOINT_HVSOCK) {
		snprintf(path, sizeof(path), "%s_%u", ep->path, ep->port);
		return unix_addr_path(path, sa);
	}
	return unix_addr_path(ep->path, sa);
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

	if (ep->kind == MS_ENDPOINT_SERIAL)
		return -EOPNOTSUPP;       /* a port is opened, not listened on */
	if (ep->kind == MS_ENDPOINT_UNIX || ep->kind == MS_ENDPOINT_HVSOCK) {
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
		if (err == -EADDRINUSE && family == AF_UNIX && a.un.sun_path[0] &&
		    lstat(a.un.sun_path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
			close(fd);
			return -EEXIST;
		}

		if (err == -EADDRINUSE && family == AF_UNIX && a.un.sun_path[0] &&
		    lstat(a.un.sun_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    !unix_in_use(&a.un, len) && unlink(a.un.sun_path) == 0 &&
		    bind(fd, &a.sa, len) == 0)
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

static int connect_socket(int family, const struct sockaddr *sa, socklen_t len, bool *in_progress)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	*in_progress = false;
	if (fd < 0)
		return -errno;
	if (connect(fd, sa, len) < 0) {
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

int ms_endpoint_connect(const struct ms_endpoint *ep, bool *in_progress)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
		struct sockaddr_vm vm;
	} a;
	socklen_t len;
	int fd;

	*in_progress = false;
	switch (ep->kind) {
	case MS_ENDPOINT_SERIAL:
		/* A guest's virtio-serial port: a character device. */
		fd = open(ep->path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return -errno;
		/* A port that is a tty (a virtio console /dev/hvcN, a pty) would
		 * echo, turn \n into \r\n and hold input until a newline: make
		 * it a raw byte pipe, as a virtio-serial port is. */
		if (isatty(fd)) {
			struct termios t;

			if (tcgetattr(fd, &t) < 0 || (cfmakeraw(&t), tcsetattr(fd, TCSANOW, &t) < 0)) {
				int err = -errno;

				close(fd);
				return err;
			}
		}
		return fd;
	case MS_ENDPOINT_HVSOCK:
		len = unix_addr_path(ep->path, &a.un);
		return connect_socket(AF_UNIX, &a.sa, len, in_progress);
	case MS_ENDPOINT_UNIX:
		len = unix_addr(ep, &a.un);
		return connect_socket(AF_UNIX, &a.sa, len, in_progress);
	case MS_ENDPOINT_VSOCK:
		len = vsock_addr(ep, &a.vm);
		return connect_socket(AF_VSOCK, &a.sa, len, in_progress);
	}
	return -EINVAL;
}

int ms_endpoint_connect_host(const struct ms_endpoint *ep, bool *in_progress)
{
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
	} a;
	socklen_t len;

	/* The host side of a virtio-serial port is its chardev's socket. */
	if (ep->kind == MS_ENDPOINT_SERIAL) {
		len = unix_addr_path(ep->path, &a.un);
		return connect_socket(AF_UNIX, &a.sa, len, in_progress);
	}
	return ms_endpoint_connect(ep, in_progress);
}

int ms_hvsock_send_connect(int fd, uint32_t port)
{
	char line[32];
	int len = snprintf(line, sizeof(line), "CONNECT %u\n", port);
	ssize_t n = send(fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT);

	return n == len ? 0 : n < 0 ? -errno : -EIO;
}

int ms_hvsock_read_reply(int fd, char *line, size_t size, size_t *n)
{
	/* Byte by byte: what follows '\n' is the guest's stream, not ours. */
	while (*n < size - 1) {
		ssize_t k = recv(fd, &line[*n], 1, MSG_DONTWAIT);

		if (k == 0)
			return -ECONNREFUSED;      /* the VMM closed: refused */
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -ECONNREFUSED;
		}
		if (line[*n] != '\n') {
			(*n)++;
			continue;
		}
		line[*n] = '\0';
		if (*n && line[*n - 1] == '\r')
			line[*n - 1] = '\0';
		if (strncasecmp(line, "OK ", 3) != 0)
			return -ECONNREFUSED;
		if (!line[3])
			return -EPROTO;
		for (const char *c = line + 3; *c; c++)
			if (*c < '0' || *c > '9')
				return -EPROTO;
		return 1;
	}
	return -EPROTO;             /* a line that never ends */
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
