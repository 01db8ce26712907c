/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Raw peers for the session tests; see testraw.h.
 */
#include "testraw.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <memshare/guest.h>
#include <memshare/host.h>

void tu_raw_adopt(struct tu_raw *r, int fd)
{
	memset(r, 0, sizeof(*r));
	ms_frame_decoder_init(&r->dec, MS_FRAME_HARD_MAX_BYTES);
	ck_assert_int_ge(fd, 0);
	r->fd = fd;
	ck_assert_int_eq(fcntl(r->fd, F_SETFL, O_NONBLOCK), 0);
}

void tu_raw_open(struct tu_raw *r, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect %s: %m",
		      path);
	tu_raw_adopt(r, fd);
}

void tu_raw_close(struct tu_raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	ms_msg_clear(&r->msg);
	ms_frame_decoder_release(&r->dec);
}

void tu_raw_send(struct tu_raw *r, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);

		ck_assert_msg(n > 0, "raw send: %m");
		p += n;
		len -= (size_t)n;
	}
}

void tu_raw_send_msg(struct tu_raw *r, struct ms_msg *m)
{
	uint8_t *frame;
	size_t len;

	m->version = MS_PROTO_VERSION_MAX;
	m->seq = ++r->seq;
	ck_assert_int_eq(ms_msg_encode(m, MS_FRAME_HARD_MAX_BYTES, &frame, &len), 0);
	tu_raw_send(r, frame, len);
	free(frame);
}

void tu_raw_send_hello(struct tu_raw *r, const char *name)
{
	struct ms_msg m = { .type = MS_MSG_HELLO };

	m.u.hello.proto_min = 1;
	m.u.hello.proto_max = 1;
	snprintf(m.u.hello.guest_name, sizeof(m.u.hello.guest_name), "%s", name);
	snprintf(m.u.hello.agent_version, sizeof(m.u.hello.agent_version), "raw");
	m.u.hello.mem_total_bytes = 1ull << 30;
	m.u.hello.page_size_bytes = 4096;
	tu_raw_send_msg(r, &m);
}

void tu_raw_drain(struct tu_raw *r)
{
	uint8_t buf[4096];

	while (!r->closed) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			ck_assert_int_eq(ms_frame_decoder_push(&r->dec, buf, (size_t)n), 0);
			continue;
		}
		if (n == 0 || errno == ECONNRESET || errno == EPIPE)
			r->closed = true;
		else
			ck_assert_msg(errno == EAGAIN || errno == EINTR, "raw recv: %m");
		return;
	}
}

bool tu_raw_cond_closed(void *arg)
{
	struct tu_raw *r = arg;

	tu_raw_drain(r);
	return r->closed;
}

bool tu_raw_cond_msg(void *arg)
{
	struct tu_raw *r = arg;
	const uint8_t *payload;
	size_t len;
	char why[160];
	int k;

	tu_raw_drain(r);
	k = ms_frame_decoder_next(&r->dec, &payload, &len);
	ck_assert_int_ge(k, 0);
	if (k == 0)
		return false;
	ms_msg_clear(&r->msg);
	ck_assert_msg(ms_msg_decode(payload, len, &r->msg, why, sizeof(why)) == 0,
		      "the peer sent an undecodable frame: %s", why);
	r->have_msg = true;
	return true;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool tu_pump_until(struct ms_host *host, struct ms_guest *guest, unsigned timeout_ms,
		   uint64_t step_us, void (*before)(void *), void *before_arg,
		   bool (*cond)(void *), void *arg)
{
	uint64_t deadline = mono_us() + (uint64_t)timeout_ms * 1000u;

	for (;;) {
		struct pollfd p[2];
		int64_t wait, t;
		uint64_t now;
		nfds_t n = 0;

		if (before)
			before(before_arg);
		if (cond && cond(arg))
			return true;
		now = mono_us();
		if (now >= deadline)
			return !cond;
		wait = (int64_t)(deadline - now < step_us ? deadline - now : step_us);
		if (host) {
			p[n++] = (struct pollfd){ .fd = ms_host_get_fd(host), .events = POLLIN };
			t = ms_host_get_timeout_us(host);
			if (t >= 0 && t < wait)
				wait = t;
		}
		if (guest) {
			p[n++] = (struct pollfd){ .fd = ms_guest_get_fd(guest), .events = POLLIN };
			t = ms_guest_get_timeout_us(guest);
			if (t >= 0 && t < wait)
				wait = t;
		}
		ck_assert_int_ge(poll(p, n, (int)((wait + 999) / 1000)), 0);
		if (host)
			ck_assert_int_eq(ms_host_process(host), 0);
		if (guest)
			ck_assert_int_eq(ms_guest_process(guest), 0);
	}
}
