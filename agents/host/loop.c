/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include "loop.h"

#if MS_HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#endif

#define LOOP_MAX_FDS 8

struct loop_fd {
	int fd;
	int watch;          /* libvirt handle watch id */
	loop_fd_fn fn;
	void *data;
};

struct loop {
	struct loop_fd fds[LOOP_MAX_FDS];
	int nr;
#if MS_HAVE_LIBVIRT
	int timer;
#endif
};

#if MS_HAVE_LIBVIRT
static void on_handle(int watch, int fd, int events, void *opaque)
{
	struct loop_fd *f = opaque;

	(void)watch;
	(void)events;
	f->fn(fd, f->data);
}

static void on_timer(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;      /* only wakes the loop up */
}
#endif

int loop_new(struct loop **out)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
#if MS_HAVE_LIBVIRT
	if (virEventRegisterDefaultImpl() < 0) {
		free(l);
		return -EIO;
	}
	l->timer = virEventAddTimeout(-1, on_timer, l, NULL);
	if (l->timer < 0) {
		free(l);
		return -EIO;
	}
#endif
	*out = l;
	return 0;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
#if MS_HAVE_LIBVIRT
	for (int i = 0; i < l->nr; i++)
		virEventRemoveHandle(l->fds[i].watch);
	virEventRemoveTimeout(l->timer);
#endif
	free(l);
}

int loop_add_fd(struct loop *l, int fd, loop_fd_fn fn, void *data)
{
	struct loop_fd *f;

	if (l->nr == LOOP_MAX_FDS)
		return -ENOSPC;
	f = &l->fds[l->nr];
	f->fd = fd;
	f->fn = fn;
	f->data = data;
#if MS_HAVE_LIBVIRT
	f->watch = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, on_handle, f, NULL);
	if (f->watch < 0)
		return -EIO;
#endif
	l->nr++;
	return 0;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
#if MS_HAVE_LIBVIRT
	virEventUpdateTimeout(l->timer, timeout_ms);
	return virEventRunDefaultImpl() < 0 ? -EIO : 0;
#else
	struct pollfd p[LOOP_MAX_FDS];

	for (int i = 0; i < l->nr; i++) {
		p[i].fd = l->fds[i].fd;
		p[i].events = POLLIN;
		p[i].revents = 0;
	}
	if (poll(p, (nfds_t)l->nr, timeout_ms) < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < l->nr; i++)
		if (p[i].revents)
			l->fds[i].fn(l->fds[i].fd, l->fds[i].data);
	return 0;
#endif
}
