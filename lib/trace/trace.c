/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Recording and replaying guest traffic (format in include/memshare/trace.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <memshare/trace.h>

#include "../internal.h"
#include "../proto/codec.h"
#include "trace-writer.h"

#define TRACE_MAGIC "MSTRACE1"
#define TRACE_VERSION 1u
#define TRACE_HEADER_BYTES 24
#define TRACE_RECORD_HEADER_BYTES 24
/* A record holds one frame (bounded by the protocol) or a short reason. */
#define TRACE_RECORD_MAX_BYTES MS_FRAME_HARD_MAX_BYTES

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- writer ----------------------------------------------------------------- */

struct ms_trace_writer {
	FILE *f;
	uint64_t start_mono_us;
};

int ms_trace_writer_open(struct ms_trace_writer **out, const char *path)
{
	uint8_t h[TRACE_HEADER_BYTES];
	struct ms_trace_writer *w;
	struct timespec ts;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->f = fopen(path, "wbe");
	if (!w->f) {
		int err = -errno;

		free(w);
		return err;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	memcpy(h, TRACE_MAGIC, 8);
	put_be32(h + 8, TRACE_VERSION);
	put_be32(h + 12, 0);
	put_be64(h + 16, (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
	if (fwrite(h, sizeof(h), 1, w->f) != 1 || fflush(w->f) != 0) {
		int err = -errno;

		fclose(w->f);
		free(w);
		return err ? err : -EIO;
	}
	w->start_mono_us = ms_now_us();
	*out = w;
	return 0;
}

int ms_trace_writer_add(struct ms_trace_writer *w, uint64_t guest_id, enum ms_trace_dir dir,
			const void *data, size_t len)
{
	uint8_t h[TRACE_RECORD_HEADER_BYTES];

	if (len > TRACE_RECORD_MAX_BYTES)
		return -EMSGSIZE;
	put_be64(h, ms_now_us() - w->start_mono_us);
	put_be64(h + 8, guest_id);
	put_be32(h + 16, (uint32_t)dir);
	put_be32(h + 20, (uint32_t)len);
	/* One record, then flush: a crash loses at most the record being
	 * written, and the reader stops cleanly at a torn one. */
	if (fwrite(h, sizeof(h), 1, w->f) != 1 || (len && fwrite(data, len, 1, w->f) != 1) ||
	    fflush(w->f) != 0)
		return errno ? -errno : -EIO;
	return 0;
}

void ms_trace_writer_close(struct ms_trace_writer *w)
{
	if (!w)
		return;
	fclose(w->f);
	free(w);
}

/* ---- reader ------------------------------------------------------------------- */

struct ms_trace {
	FILE *f;
	uint64_t start_us;
	uint64_t next_off;        /* file offset of the next record */
	uint64_t rec_off;         /* of the last one returned, or that failed */
	int err;                  /* the error ms_trace_next() keeps returning */
	uint8_t *buf;
	size_t cap;
	struct ms_msg msg;
	char text[MS_ERROR_MESSAGE_MAX];
};

MS_EXPORT int ms_trace_open(struct ms_trace **out, const char *path)
{
	uint8_t h[TRACE_HEADER_BYTES];
	struct ms_trace *t;

	if (!out || !path)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->f = fopen(path, "rbe");
	if (!t->f) {
		int err = -errno;

		free(t);
		return err;
	}
	if (fread(h, sizeof(h), 1, t->f) != 1 || memcmp(h, TRACE_MAGIC, 8) != 0 ||
	    get_be32(h + 8) != TRACE_VERSION) {
		fclose(t->f);
		free(t);
		return -EBADMSG;
	}
	t->start_us = get_be64(h + 16);
	t->next_off = t->rec_off = TRACE_HEADER_BYTES;
	*out = t;
	return 0;
}

MS_EXPORT uint64_t ms_trace_start_us(const struct ms_trace *t)
{
	return t ? t->start_us : 0;
}

MS_EXPORT uint64_t ms_trace_offset(const struct ms_trace *t)
{
	return t ? t->rec_off : 0;
}

/* Stop reading @t for good with @err (returned by every later call). */
static int trace_fail(struct ms_trace *t, int err)
{
	t->err = err;
	return err;
}

/* Why fread() came up short: a read error, or the end of the file. */
static int short_read(struct ms_trace *t)
{
	return trace_fail(t, ferror(t->f) ? -EIO : -ENODATA);
}

MS_EXPORT int ms_trace_next(struct ms_trace *t, struct ms_trace_record *rec)
{
	uint8_t h[TRACE_RECORD_HEADER_BYTES];
	char why[160];
	uint32_t len, dir;
	size_t n;

	if (!t || !rec)
		return -EINVAL;
	ms_msg_clear(&t->msg);
	memset(rec, 0, sizeof(*rec));
	if (t->err)
		return t->err;
	t->rec_off = t->next_off;
	n = fread(h, 1, sizeof(h), t->f);
	if (n == 0 && !ferror(t->f))
		return 0;
	if (n != sizeof(h))
		return short_read(t);
	len = get_be32(h + 20);
	dir = get_be32(h + 16);
	/* What no writer makes, even one killed mid-record: corruption. */
	if (len > TRACE_RECORD_MAX_BYTES || dir < MS_TRACE_FROM_GUEST || dir > MS_TRACE_GUEST_GONE)
		return trace_fail(t, -EBADMSG);
	if (len > t->cap) {
		uint8_t *nb = realloc(t->buf, len);

		if (!nb)
			return -ENOMEM;
		t->buf = nb;
		t->cap = len;
	}
	if (len && fread(t->buf, len, 1, t->f) != 1)
		return short_read(t);
	t->next_off += TRACE_RECORD_HEADER_BYTES + (uint64_t)len;
	rec->t_us = get_be64(h);
	rec->guest_id = get_be64(h + 8);
	rec->dir = (enum ms_trace_dir)dir;
	if (dir == MS_TRACE_GUEST_GONE) {
		size_t k = MS_MIN((size_t)len, sizeof(t->text) - 1);

		memcpy(t->text, t->buf, k);
		t->text[k] = '\0';
		rec->text = t->text;
		return 1;
	}
	if (ms_msg_decode(t->buf, len, &t->msg, why, sizeof(why)) < 0) {
		rec->msg = MS_TRACE_MSG_OTHER;
		return 1;
	}
	switch (t->msg.type) {
	case MS_MSG_HELLO:
		rec->msg = MS_TRACE_MSG_HELLO;
		rec->hello = &t->msg.u.hello;
		break;
	case MS_MSG_WELCOME:
		rec->msg = MS_TRACE_MSG_WELCOME;
		rec->welcome = &t->msg.u.welcome;
		break;
	case MS_MSG_REPORT:
		rec->msg = MS_TRACE_MSG_REPORT;
		rec->report = &t->msg.u.report;
		break;
	case MS_MSG_RECLAIM_REQUEST:
		rec->msg = MS_TRACE_MSG_RECLAIM_REQUEST;
		rec->request = &t->msg.u.reclaim_request;
		break;
	case MS_MSG_RECLAIM_RESULT:
		rec->msg = MS_TRACE_MSG_RECLAIM_RESULT;
		rec->reply = &t->msg.u.reclaim_result;
		break;
	default:
		rec->msg = MS_TRACE_MSG_OTHER;
		break;
	}
	return 1;
}

MS_EXPORT void ms_trace_close(struct ms_trace *t)
{
	if (!t)
		return;
	ms_msg_clear(&t->msg);
	fclose(t->f);
	free(t->buf);
	free(t);
}
