/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memshare-hostd's event loop.  With libvirt support it is libvirt's
 * default event implementation (virEventRunDefaultImpl), so that libvirt's
 * domain events are delivered; without, poll(2).
 */
#ifndef MS_HOSTD_LOOP_H
#define MS_HOSTD_LOOP_H

typedef void (*loop_fd_fn)(int fd, void *data);

struct loop;

/* With libvirt this registers libvirt's default event implementation, so
 * call it before opening any libvirt connection.  0 or -errno. */
int loop_new(struct loop **out);
void loop_free(struct loop *loop);

/* Call @fn when @fd is readable (POLLIN).  0 or -errno. */
int loop_add_fd(struct loop *loop, int fd, loop_fd_fn fn, void *data);

/* Wait until an fd is ready or @timeout_ms passed (-1: no limit), and
 * dispatch.  0 or -errno. */
int loop_run_once(struct loop *loop, int timeout_ms);

#endif
