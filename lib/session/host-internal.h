/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Host session internals for tests and fuzzing.  Not exported (not in
 * include/memshare/ nor in libmemshare.map).
 */
#ifndef MS_HOST_INTERNAL_H
#define MS_HOST_INTERNAL_H

#include <memshare/host.h>

/*
 * ms_host_adopt_fd - take @fd (a connected AF_UNIX stream socket, ideally
 * non-blocking and close-on-exec as accept4() makes it) as a guest
 * connection, exactly as if a unix listener had accepted it: the peer's
 * credentials are checked (unix_peer), max_guests applies, and the guest
 * must then send Hello.  The host owns @fd from then on: it is closed on
 * failure too, except with -EINVAL (@host NULL or @fd negative).
 * Returns 0, -EINVAL, -EPERM (peer not allowed), -EUSERS (max_guests) or
 * -ENOMEM.
 */
int ms_host_adopt_fd(struct ms_host *host, int fd);

#endif
