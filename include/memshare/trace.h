/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace: a host's recording of its guests' protocol traffic.  memshare-hostd
 * --record FILE (struct ms_host_opts.record_path) appends every frame a
 * guest sends and every frame sent to it, with a timestamp, so that the
 * simulator (memshare-sim) can replay real guests against any policy.
 *
 * File format (all integers big-endian):
 *   header  "MSTRACE1" | u32 version (1) | u32 flags (0) | u64 start, us
 *           since the epoch (CLOCK_REALTIME when recording began)
 *   record  u64 t_us (CLOCK_MONOTONIC since recording began) |
 *           u64 guest_id | u32 dir | u32 length | length bytes
 * dir 1: a frame from the guest, 2: a frame to the guest (the bytes are
 * one protocol Envelope, docs/protocol.md), 3: the guest's connection
 * closed (the bytes are the reason, UTF-8, no NUL).
 */
#ifndef MEMSHARE_TRACE_H
#define MEMSHARE_TRACE_H

#include <memshare/message.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ms_trace_dir {
	MS_TRACE_FROM_GUEST = 1,
	MS_TRACE_TO_GUEST = 2,
	MS_TRACE_GUEST_GONE = 3,
};

enum ms_trace_msg {
	MS_TRACE_MSG_OTHER = 0,        /* Config, Ping, Pong, Error, Goodbye, unknown */
	MS_TRACE_MSG_HELLO,
	MS_TRACE_MSG_WELCOME,
	MS_TRACE_MSG_REPORT,
	MS_TRACE_MSG_RECLAIM_REQUEST,
	MS_TRACE_MSG_RECLAIM_RESULT,
};

/* One record; the pointers are valid until the next ms_trace_next(). */
struct ms_trace_record {
	uint64_t t_us;                 /* since the recording began */
	uint64_t guest_id;             /* the host's id for the connection */
	enum ms_trace_dir dir;
	enum ms_trace_msg msg;         /* for frames */
	const struct ms_hello *hello;
	const struct ms_welcome *welcome;
	const struct ms_report *report;
	const struct ms_reclaim_request *request;
	const struct ms_reclaim_reply *reply;
	const char *text;              /* GUEST_GONE: the reason */
};

struct ms_trace;

/*
 * ms_trace_open - open a recording.  Returns 0, -ENOENT/-EACCES (open),
 * -EBADMSG (not a memshare trace, or another version).
 */
int ms_trace_open(struct ms_trace **out, const char *path);

/*
 * ms_trace_next - the next record.  Returns 1 (the record in *@rec), 0 at
 * the end of the file, or:
 *  -ENODATA  the file ends inside a record: a truncated tail, as a recorder
 *            killed mid-write leaves (it writes and flushes one record at a
 *            time).  Every record before it was complete; a reader may use
 *            them and warn.
 *  -EBADMSG  corruption: a record header no writer makes (a direction other
 *            than 1..3, a length over the largest frame).
 *  -EIO      a read error; -ENOMEM; -EINVAL (@trace or @rec NULL).
 * ms_trace_offset() says where.  After -ENODATA, -EBADMSG or -EIO every
 * later call returns the same error.  A record whose frame does not decode
 * is returned with msg OTHER, not an error.
 */
int ms_trace_next(struct ms_trace *trace, struct ms_trace_record *rec);

/*
 * ms_trace_offset - byte offset in the file of the record ms_trace_next()
 * last returned, or of the one it failed on (for -ENODATA: the size of the
 * complete part of the file).  24 (the header) before the first call; 0 for
 * a NULL @trace.
 */
uint64_t ms_trace_offset(const struct ms_trace *trace);

/* Recording start, us since the epoch. */
uint64_t ms_trace_start_us(const struct ms_trace *trace);

void ms_trace_close(struct ms_trace *trace);

#ifdef __cplusplus
}
#endif
#endif
