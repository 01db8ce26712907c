/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Endpoints:
 *   unix:/path, unix:@abstract      a unix stream socket
 *   vsock:CID:PORT                  AF_VSOCK (CID -1 or "any" to listen)
 *   hvsock:/path/to/uds:PORT        Firecracker / Cloud Hypervisor hybrid
 *                                   vsock: the host listens on
 *                                   "/path/to/uds_PORT" for guest->host, and
 *                                   connects to the UDS with "CONNECT PORT\n"
 *                                   for host->guest
 *   serial:/path                    virtio-serial: in a guest the port's
 *                                   character device (/dev/virtio-ports/NAME);
 *                                   on the host the unix socket of its QEMU
 *                                   chardev (libvirt <channel>).  No
 *                                   connection boundaries: sync markers.
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
	MS_ENDPOINT_HVSOCK = 3,
	MS_ENDPOINT_SERIAL = 4,
};

struct ms_endpoint {
	enum ms_endpoint_kind kind;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix; '@' = abstract */
	uint32_t cid;     /* vsock; VMADDR_CID_ANY (-1U) for "any"/-1 */
	uint32_t port;    /* vsock, hvsock */
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
 * Start a non-blocking connect (hvsock: to the UDS itself; the CONNECT
 * line is ms_hvsock_handshake's).  Returns the fd; *in_progress tells
 * whether to wait for POLLOUT and check SO_ERROR.  serial: opens the
 * character device O_RDWR|O_NONBLOCK in a guest (a tty is switched to raw
 * mode), or connects to the chardev's unix socket on a host
 * (ms_endpoint_connect_host).  hvsock is a host's endpoint only.
 * -errno on failure.
 */
int ms_endpoint_connect(const struct ms_endpoint *ep, bool *in_progress);
int ms_endpoint_connect_host(const struct ms_endpoint *ep, bool *in_progress);

/*
 * Hybrid vsock, host to guest: after connecting to the UDS, send
 * "CONNECT <port>\n" (0 or -errno), then read the answer one byte at a
 * time, so that no byte of the guest's own stream is consumed, until '\n':
 * "OK <n>" (any case) means connected.  ms_hvsock_read_reply() never
 * blocks: 1 done, 0 call again when readable (@line and @n keep the state),
 * -ECONNREFUSED (closed, or another answer), -EPROTO (malformed).
 */
int ms_hvsock_send_connect(int fd, uint32_t port);
int ms_hvsock_read_reply(int fd, char *line, size_t size, size_t *n);

/* Accept one connection (non-blocking, cloexec): fd, -EAGAIN, or -errno. */
int ms_endpoint_accept(int listen_fd);

/* Describe the peer of a connected socket: "unix:pid=42,uid=0" or
 * "vsock:cid=3,port=1025". */
void ms_socket_peer(int fd, char *buf, size_t size);

/* The peer's CID of a connected AF_VSOCK socket, or 0. */
uint32_t ms_socket_peer_cid(int fd);

#endif
