/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Endpoints: "unix:/path" (or "unix:@abstract"), "vsock:CID:PORT".
 * Sockets are non-blocking and close-on-exec.
 */
#ifndef MS_ENDPOINT_H
#define MS_ENDPOINT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>

enum ms_endpoint_kind {
	MS_ENDPOINT_UNIX = 1,
	MS_ENDPOINT_VSOCK = 2,
};

struct ms_endpoint {
	enum ms_endpoint_kind kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix; '@' = abstract */
	uint32_t cid;     /* vsock; VMADDR_CID_ANY (-1U) for "any"/-1 */
	uint32_t port;    /* vsock */
};

/* Parse an endpoint string.  0 or -EINVAL. */
int ms_endpoint_parse(const char *text, struct ms_endpoint *ep);

/* "unix:/run/x.sock", "vsock:3:5252". */
void ms_endpoint_format(const struct ms_endpoint *ep, char *buf, size_t size);

/*
 * Listening socket.  A unix path whose socket nobody listens on is
 * replaced; one in use gives -EADDRINUSE.  fd or -errno.
 */
int ms_endpoint_listen(const struct ms_endpoint *ep, int backlog);

/*
 * Start a non-blocking connect.  Returns the fd; *in_progress tells
 * whether to wait for POLLOUT and check SO_ERROR.  -errno on failure.
 */
int ms_endpoint_connect(const struct ms_endpoint *ep, bool *in_progress);

/* Accept one connection (non-blocking, cloexec): fd, -EAGAIN, or -errno. */
int ms_endpoint_accept(int listen_fd);

/* Describe the peer of a connected socket: "unix:pid=42,uid=0" or
 * "vsock:cid=3,port=1025". */
void ms_socket_peer(int fd, char *buf, size_t size);

/* The peer's CID of a connected AF_VSOCK socket, or 0. */
uint32_t ms_socket_peer_cid(int fd);

#endif
