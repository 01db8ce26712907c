/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memshare/message.h>

#include "../internal.h"
#include "../transport/endpoint.h"
#include "conn.h"

static int set_events(struct ms_conn *c, bool want_out, bool want_in)
{
	struct epoll_event ev = { .events = (want_in ? EPOLLIN : 0) | (want_out ? EPOLLOUT : 0),
				  .data.ptr = &c->watch };

	if (want_out == c->epollout && want_in == !c->read_paused)
		return 0;
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -errno;
	c->epollout = want_out;
	c->read_paused = !want_in;
	return 0;
}

static int update_events(struct ms_conn *c, bool want_out)
{
	return set_events(c, want_out, !c->read_paused);
}

int ms_conn_pause_read(struct ms_conn *c, bool paused)
{
	if (c->fd < 0)
		return -ENOTCONN;
	return set_events(c, c->epollout, !paused);
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
	{
		struct stat st;

		c->is_socket = fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
	}
	c->last_rx_us = ms_now_us();
	if (!connecting && c->is_socket)
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
		ssize_t n = c->is_socket
			? send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			       MSG_NOSIGNAL | MSG_DONTWAIT)
			: write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return update_events(c, true);
			return -errno;
		}
		c->out_off += (size_t)n;
		c->bytes_out += (uint64_t)n;
	}
	c->out_off = c->out_len = 0;
	return update_events(c, false);
}

/* Append @len bytes to the output queue and try to write. */
static int queue(struct ms_conn *c, const uint8_t *data, size_t len)
{
	size_t held;

	if (c->fd < 0)
		return -ENOTCONN;
	held = c->out_len - c->out_off;
	if (held + len > MS_CONN_OUT_MAX_BYTES)
		return -ENOBUFS;
	if (!held)
		c->out_since_us = ms_now_us();
	if (c->out_off) {
		memmove(c->out, c->out + c->out_off, held);
		c->out_off = 0;
		c->out_len = held;
	}
	if (held + len > c->out_cap) {
		/* Grow geometrically (up to the queue limit): a peer that
		 * reads slowly must not make every send copy the queue. */
		size_t cap = c->out_cap ? c->out_cap : 4096;
		uint8_t *nb;

		while (cap < held + len)
			cap *= 2;
		if (cap > MS_CONN_OUT_MAX_BYTES)
			cap = MS_CONN_OUT_MAX_BYTES;
		nb = realloc(c->out, cap);
		if (!nb)
			return -ENOMEM;
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + held, data, len);
	c->out_len = held + len;
	if (c->epollout && held)
		return 0;       /* writable notification pending */
	return ms_conn_flush(c);
}

int ms_conn_send(struct ms_conn *c, struct ms_msg *m, uint32_t max_frame)
{
	uint8_t *frame;
	size_t len;
	int r;

	if (c->fd < 0)
		return -ENOTCONN;
	m->version = MS_PROTO_VERSION_MAX;
	m->seq = c->seq_out + 1;
	r = ms_msg_encode(m, max_frame, &frame, &len);
	if (r < 0)
		return r;
	conn_record(c, MS_TRACE_TO_GUEST, frame + MS_FRAME_HEADER_BYTES, len - MS_FRAME_HEADER_BYTES);
	r = queue(c, frame, len);
	free(frame);
	if (r < 0 && r != -EAGAIN)
		return r;
	c->seq_out++;
	c->frames_out++;
	return r;
}

int ms_conn_send_sync(struct ms_conn *c)
{
	return queue(c, (const uint8_t *)MS_SYNC_MARKER, MS_SYNC_MARKER_BYTES);
}

int ms_conn_read(struct ms_conn *c)
{
	return ms_conn_read_max(c, MS_CONN_READ_BUDGET);
}

int ms_conn_read_max(struct ms_conn *c, size_t budget)
{
	size_t total = 0;

	while (total < budget) {
		size_t room;
		uint8_t *dst = ms_frame_decoder_space(&c->dec, &room);
		ssize_t n;

		if (!dst)
			return total ? (int)total : -ENOBUFS;
		if (room > budget - total)
			room = budget - total;
		n = c->is_socket ? recv(c->fd, dst, room, MSG_DONTWAIT) : read(c->fd, dst, room);
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
		c->last_rx_us = ms_now_us();
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
	/* A frame begun and not finished: since when (slow peers). */
	if (r == 0 && ms_frame_decoder_pending(&c->dec)) {
		if (!c->partial_since_us)
			c->partial_since_us = ms_now_us();
	} else {
		c->partial_since_us = 0;
	}
	if (r <= 0 || r == MS_FRAME_SYNC)
		return r;
	c->frames_in++;
	conn_record(c, MS_TRACE_FROM_GUEST, payload, len);
	r = ms_msg_decode(payload, len, m, why, why_size);
	if (r < 0)
		ms_frame_decoder_hunt(&c->dec);
	return r < 0 ? r : 1;
}
