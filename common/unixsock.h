/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's unix endpoint, for memshare-hostd and memsharectl:
 * "unix:/absolute/path" or "unix:@abstract-name". */
#ifndef MS_UNIXSOCK_H
#define MS_UNIXSOCK_H

/*
 * Listen (non-blocking, close-on-exec).  A stale socket file is replaced,
 * a live one is not (-EADDRINUSE), a path that is not a socket is left
 * alone (-EEXIST); a path socket is made mode 0600.  -EINVAL for anything
 * but unix:/absolute or unix:@name.
 */
int unixsock_listen(const char *endpoint, int backlog);

/* Connect (blocking, close-on-exec).  fd or -errno (-EINVAL for syntax). */
int unixsock_connect(const char *endpoint);

/* Remove the socket file of a path endpoint (no-op for abstract ones). */
void unixsock_unlink(const char *endpoint);

#endif
