/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One framed connection: non-blocking socket, streaming frame decoder,
 * bounded output queue, registration in the owner's epoll set.
 */
#ifndef MS_CONN_H
#define MS_CONN_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/codec.h"
#include "../proto/frame.h"
#include "../trace/trace-writer.h"

/* What an epoll_event's data.ptr points at. */
enum ms_watch_kind {
	MS_WATCH_LISTENER = 1,
	MS_WATCH_CONN = 2,
	MS_WATCH_GUEST_LISTEN = 3,
	MS_WATCH_PSI_TRIGGER = 4,
};

struct ms_watch {
	enum ms_watch_kind kind;
	void *owner;        /* listener or guest record */
};

#define MS_CONN_OUT_MAX_BYTES (1u << 20)
/* Bytes read from one connection per ms_conn_read() call (fairness). */
#define MS_CONN_READ_BUDGET (64u * 1024u)

struct ms_conn {
	int fd;
	int epfd;
	struct ms_watch watch;
	struct ms_frame_decoder dec;
	uint8_t *out;
	size_t out_cap;     /* allocated; grows geometrically */
	size_t out_len;
	size_t out_off;
	bool epollout;      /* EPOLLOUT currently requested */
	bool read_paused;   /* EPOLLIN not requested (ms_conn_pause_read) */
	uint64_t out_since_us; /* when the output queue last became non-empty */
	bool eof;           /* peer closed its side */
	bool is_socket;     /* send/recv; else read/write (a virtio-serial port) */
	uint64_t seq_out;   /* last seq sent */
	uint64_t frames_in;
	uint64_t bytes_in;
	uint64_t frames_out;
	uint64_t bytes_out;
	uint64_t last_rx_us;   /* when the peer last sent anything */
	uint64_t partial_since_us; /* a frame started and not complete since; 0: none */
	char peer[96];
	/* Recording (host side): every frame in and out; NULL = off. */
	struct ms_trace_writer **recorder;
	uint64_t record_id;
};

/* Take ownership of @fd and add it to @epfd (EPOLLIN, plus EPOLLOUT if
 * @connecting).  0 or -errno (fd closed on failure). */
int ms_conn_open(struct ms_conn *c, int fd, int epfd, uint32_t max_frame, void *owner,
		 bool connecting);
void ms_conn_close(struct ms_conn *c);
bool ms_conn_is_open(const struct ms_conn *c);

/* Encode @m (stamping version and seq) and queue it; tries to write at
 * once.  0, -ENOBUFS (queue over MS_CONN_OUT_MAX_BYTES), -EMSGSIZE, -EPIPE
 * or another write errno. */
int ms_conn_send(struct ms_conn *c, struct ms_msg *m, uint32_t max_frame);

/* Bytes queued but not yet written. */
static inline size_t ms_conn_pending_out(const struct ms_conn *c)
{
	return c->out_len - c->out_off;
}

/* Write queued bytes.  0 or -errno (connection is broken). */
int ms_conn_flush(struct ms_conn *c);

/* Read up to the budget.  >0 bytes read, 0 nothing now, -ECONNRESET on
 * EOF (after which queued frames may still be taken), other -errno. */
int ms_conn_read(struct ms_conn *c);

/* ms_conn_read() of at most @budget bytes (> 0). */
int ms_conn_read_max(struct ms_conn *c, size_t budget);

/* Stop (or resume) watching for input: what the peer sends stays in its
 * socket.  Hangups and errors are still reported.  0 or -errno. */
int ms_conn_pause_read(struct ms_conn *c, bool paused);

/*
 * Next message: 1 (in *m, clear with ms_msg_clear), 0 (need more bytes),
 * MS_FRAME_SYNC (sync mode: the peer sent a sync marker: it restarted its
 * session), -EMSGSIZE (announced frame too large), -EPROTO (undecodable;
 * @why says why; in sync mode the decoder then hunts for the next marker).
 */
int ms_conn_next(struct ms_conn *c, struct ms_msg *m, char *why, size_t why_size);

/* Queue a sync marker (sync mode: "my session starts here"). */
int ms_conn_send_sync(struct ms_conn *c);

/* Record that the connection closed (host recording only). */
void ms_conn_record_gone(struct ms_conn *c, const char *reason);

/* For a non-blocking connect: 0 once connected, -errno if it failed. */
int ms_conn_connect_result(struct ms_conn *c);

#endif
