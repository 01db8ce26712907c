/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memshare/message.h>

#include "../internal.h"
#include "../transport/endpoint.h"
#include "conn.h"

static int update_events(struct ms_conn *c, bool want_out)
{
	struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0),
				  .data.ptr = &c->watch };

	if (want_out == c->epollout)
		return 0;
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -errno;
	c->epollout = want_out;
	return 0;
}

int ms_conn_open(struct ms_conn *c, int fd, int epfd, uint32_t max_frame, void *owner,
		 bool connecting)
{
	struct epoll_event ev = { .events = EPOLLIN | (connecting ? EPOLLOUT : 0),
				  .data.ptr = &c->watch };

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->epfd = epfd;
	c->watch.kind = MS_WATCH_CONN;
	c->watch.owner = owner;
	c->epollout = connecting;
	ms_frame_decoder_init(&c->dec, max_frame);
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		close(fd);
		c->fd = -1;
		return err;
	}
	if (!connecting)
		ms_socket_peer(fd, c->peer, sizeof(c->peer));
	return 0;
}

bool ms_conn_is_open(const struct ms_conn *c)
{
	return c->fd >= 0;
}

void ms_conn_close(struct ms_conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	ms_frame_decoder_release(&c->dec);
	free(c->out);
	c->out = NULL;
	c->out_cap = c->out_len = c->out_off = 0;
}

int ms_conn_connect_result(struct ms_conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (err)
		return -err;
	ms_socket_peer(c->fd, c->peer, sizeof(c->peer));
	return update_events(c, c->out_len > c->out_off);
}

/* Append to the host's recording; a failing recorder is switched off. */
static void conn_record(struct ms_conn *c, enum ms_trace_dir dir, const void *data, size_t len)
{
	if (!c->recorder || !*c->recorder)
		return;
	if (ms_trace_writer_add(*c->recorder, c->record_id, dir, data, len) < 0) {
		ms_trace_writer_close(*c->recorder);
		*c->recorder = NULL;
	}
}

void ms_conn_record_gone(struct ms_conn *c, const char *reason)
{
	conn_record(c, MS_TRACE_GUEST_GONE, reason, strlen(reason));
}

int ms_conn_flush(struct ms_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return update_events(c, true);
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	c->out_off = c->out_len = 0;
	return update_events(c, false);
}

int ms_conn_send(struct ms_conn *c, struct ms_msg *m, uint32_t max_frame)
{
	uint8_t *frame, *nb;
	size_t len, held;
	int r;

	if (c->fd < 0)
		return -ENOTCONN;
	m->version = MS_PROTO_VERSION_MAX;
	m->seq = c->seq_out + 1;
	r = ms_msg_encode(m, max_frame, &frame, &len);
	if (r < 0)
		return r;
	conn_record(c, MS_TRACE_TO_GUEST, frame + MS_FRAME_HEADER_BYTES, len - MS_FRAME_HEADER_BYTES);
	held = c->out_len - c->out_off;
	if (!held)
		c->out_since_us = ms_now_us();
	if (held + len > MS_CONN_OUT_MAX_BYTES) {
		free(frame);
		return -ENOBUFS;
	}
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, held);
		c->out_off = 0;
		c->out_len = held;
	}
	if (held + len > c->out_cap) {
		/* Geometric growth: one realloc per message would copy the
		 * whole queue each time with allocators that always move. */
		size_t cap = MS_MIN(MS_MAX(MS_MAX(c->out_cap * 2, (size_t)4096), held + len),
				    (size_t)MS_CONN_OUT_MAX_BYTES);

		nb = realloc(c->out, cap);
		if (!nb) {
			free(frame);
			return -ENOMEM;
		}
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + held, frame, len);
	c->out_len = held + len;
	free(frame);
	c->seq_out++;
	if (c->epollout && c->out_off == 0 && held)
		return 0;       /* writable notification pending */
	return ms_conn_flush(c);
}

int ms_conn_read(struct ms_conn *c)
{
	size_t total = 0;

	while (total < MS_CONN_READ_BUDGET) {
		size_t room;
		uint8_t *dst = ms_frame_decoder_space(&c->dec, &room);
		ssize_t n;

		if (!dst)
			return total ? (int)total : -ENOBUFS;
		if (room > MS_CONN_READ_BUDGET - total)
			room = MS_CONN_READ_BUDGET - total;
		n = recv(c->fd, dst, room, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		if (n == 0) {
			c->eof = true;
			return total ? (int)total : -ECONNRESET;
		}
		ms_frame_decoder_commit(&c->dec, (size_t)n);
		c->bytes_in += (uint64_t)n;
		total += (size_t)n;
		/* Stop once a complete frame could be waiting; the caller
		 * drains it and comes back (level-triggered). */
		if ((size_t)n < room)
			break;
	}
	return (int)total;
}

int ms_conn_next(struct ms_conn *c, struct ms_msg *m, char *why, size_t why_size)
{
	const uint8_t *payload;
	size_t len;
	int r;

	r = ms_frame_decoder_next(&c->dec, &payload, &len);
	if (r == -EMSGSIZE) {
		snprintf(why, why_size, "frame larger than the %u-byte limit", c->dec.max_frame);
		return r;
	}
	if (r <= 0)
		return r;
	c->frames_in++;
	conn_record(c, MS_TRACE_FROM_GUEST, payload, len);
	r = ms_msg_decode(payload, len, m, why, why_size);
	return r < 0 ? r : 1;
}
