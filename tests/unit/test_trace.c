/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace/: recordings written with the internal writer (trace-writer.h) and
 * read back field by field; files that are not traces, from another
 * version, truncated anywhere (-ENODATA) or corrupt (-EBADMSG), with the
 * offsets ms_trace_offset() gives; and a real recording of
 * a host and a guest (measuring the linux-6.1-guest capture) talking over
 * a unix socket in one thread.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <memshare/memshare.h>

#include "proto/codec.h"
#include "proto/frame.h"
#include "trace/trace-writer.h"

#include "testutil.h"

#define GUEST_FIXTURE MS_FIXTURES_DIR "/linux-6.1-guest"
#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define GIB (1024ull * 1024ull * 1024ull)

static char dir[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "%s", tu_tmp_root("trace"));
}

static void teardown(void)
{
	tu_tmp_cleanup();
}

/* @name under the temporary directory, in a static buffer per slot. */
static const char *tpath(const char *name)
{
	static char buf[4][256];
	static int slot;
	char *p = buf[slot++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static uint64_t now_us(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Append @m as one record (the Envelope, without the frame's length). */
static void add_msg(struct ms_trace_writer *w, uint64_t guest, enum ms_trace_dir d,
		    struct ms_msg *m)
{
	uint8_t *frame;
	size_t len;

	m->version = 1;
	ck_assert_int_eq(ms_msg_encode(m, MS_FRAME_HARD_MAX_BYTES, &frame, &len), 0);
	ck_assert_uint_gt(len, MS_FRAME_HEADER_BYTES);
	ck_assert_int_eq(ms_trace_writer_add(w, guest, d, frame + MS_FRAME_HEADER_BYTES,
					     len - MS_FRAME_HEADER_BYTES),
			 0);
	free(frame);
}

static void add_text(struct ms_trace_writer *w, uint64_t guest, const char *text)
{
	ck_assert_int_eq(ms_trace_writer_add(w, guest, MS_TRACE_GUEST_GONE, text, strlen(text)), 0);
}

/* A one-node MGLRU summary over the default bins. */
static struct ms_lru_summary *lru_mk(void)
{
	static const uint64_t lo[5] = { 0, 5000, 30000, 120000, 600000 };
	static const uint64_t hi[5] = { 5000, 30000, 120000, 600000, MS_AGE_INFINITE };
	struct ms_lru_summary *s = calloc(1, sizeof(*s) + sizeof(struct ms_lru_node));

	ck_assert_ptr_nonnull(s);
	s->source = MS_LRU_SOURCE_MGLRU;
	s->nr_nodes = 1;
	s->nodes[0].node = 3;
	s->nodes[0].nr_bins = 5;
	for (int i = 0; i < 5; i++) {
		s->nodes[0].bins[i].min_age_ms = lo[i];
		s->nodes[0].bins[i].max_age_ms = hi[i];
		s->nodes[0].bins[i].anon_bytes = (uint64_t)(i + 1) * MIB;
		s->nodes[0].bins[i].file_bytes = (uint64_t)(10 + i) * MIB;
	}
	s->nodes[0].slab_reclaimable_bytes = 7 * MIB;
	s->nodes[0].shmem_bytes = MS_UNKNOWN;
	s->nodes[0].unevictable_bytes = 0;
	return s;
}

static void fill_report(struct ms_report *r)
{
	memset(r, 0, sizeof(*r));
	memset(&r->meminfo, 0xff, sizeof(r->meminfo));
	memset(&r->vmstat, 0xff, sizeof(r->vmstat));
	r->mono_us = 123456789;
	r->reason = MS_REPORT_PSI_TRIGGER;
	r->has_psi = true;
	r->psi.present = MS_PSI_SOME | MS_PSI_FULL;
	r->psi.some.avg10 = 12.5;
	r->psi.some.avg60 = 3.25;
	r->psi.some.avg300 = 0.5;
	r->psi.some.total_us = 4242;
	r->psi.full.avg10 = 1.5;
	r->psi.full.total_us = 99;
	r->meminfo.total_bytes = 4 * GIB;
	r->meminfo.free_bytes = GIB;
	r->meminfo.available_bytes = 2 * GIB;
	r->meminfo.sreclaimable_bytes = 64 * MIB;
	r->meminfo.swap_total_bytes = 0;
	r->vmstat.refault_bytes = 777 * KIB;
	r->lru = lru_mk();
}

/* Write the reference recording (NREF records); CLOCK_REALTIME around the
 * open in *@start_lo, *@start_hi. */
static void write_reference(const char *path, uint64_t *start_lo, uint64_t *start_hi)
{
	struct ms_trace_writer *w = NULL;
	struct ms_msg m;
	char reason[301];
	static const uint8_t garbage[] = { 0xff, 0x00, 'g', 'a', 'r', 'b', 0x12, 0x99 };

	*start_lo = now_us(CLOCK_REALTIME);
	ck_assert_int_eq(ms_trace_writer_open(&w, path), 0);
	*start_hi = now_us(CLOCK_REALTIME);
	ck_assert_ptr_nonnull(w);

	memset(&m, 0, sizeof(m));
	m.type = MS_MSG_HELLO;
	m.seq = 1;
	m.u.hello.proto_min = 1;
	m.u.hello.proto_max = 1;
	m.u.hello.capabilities = MS_CAP_PSI | MS_CAP_MGLRU | MS_CAP_MEMCG_RECLAIM;
	snprintf(m.u.hello.agent_version, sizeof(m.u.hello.agent_version), "9.8.7");
	snprintf(m.u.hello.guest_name, sizeof(m.u.hello.guest_name), "vm-a");
	snprintf(m.u.hello.boot_id, sizeof(m.u.hello.boot_id), "boot-1");
	m.u.hello.page_size_bytes = 4096;
	m.u.hello.mem_total_bytes = 4 * GIB;
	add_msg(w, 7, MS_TRACE_FROM_GUEST, &m);

	memset(&m, 0, sizeof(m));
	m.type = MS_MSG_WELCOME;
	m.seq = 1;
	m.in_reply_to = 1;
	m.u.welcome.proto_version = 1;
	m.u.welcome.capabilities = MS_CAP_PSI;
	m.u.welcome.report_interval_ms = 1000;
	m.u.welcome.nr_bin_edges = 2;
	m.u.welcome.bin_edges_ms[0] = 30000;
	m.u.welcome.bin_edges_ms[1] = 120000;
	add_msg(w, 7, MS_TRACE_TO_GUEST, &m);

	memset(&m, 0, sizeof(m));
	m.type = MS_MSG_REPORT;
	m.seq = 2;
	fill_report(&m.u.report);
	add_msg(w, 7, MS_TRACE_FROM_GUEST, &m);
	ms_msg_clear(&m);

	memset(&m, 0, sizeof(m));
	m.type = MS_MSG_RECLAIM_REQUEST;
	m.seq = 2;
	m.u.reclaim_request.id = 5;
	m.u.reclaim_request.bytes = 200 * MIB;
	m.u.reclaim_request.kinds = MS_RECLAIM_FILE | MS_RECLAIM_ANON;
	m.u.reclaim_request.min_age_ms = 120000;
	m.u.reclaim_request.deadline_ms = 3000;
	add_msg(w, 7, MS_TRACE_TO_GUEST, &m);

	memset(&m, 0, sizeof(m));
	m.type = MS_MSG_RECLAIM_RESULT;
	m.seq = 3;
	m.in_reply_to = 2;
	m.u.reclaim_result.id = 5;
	m.u.reclaim_result.result.status = -EAGAIN;
	m.u.reclaim_result.result.method = 1u << MS_RECLAIM_METHOD_MEMCG;
	m.u.reclaim_result.result.requested_bytes = 200 * MIB;
	m.u.reclaim_result.result.freed_file_bytes = 100 * MIB;
	m.u.reclaim_result.result.freed_anon_bytes = 20 * MIB;
	m.u.reclaim_result.result.freed_slab_bytes = 3 * MIB;
	m.u.reclaim_result.result.freed_bytes = 123 * MIB;
	m.u.reclaim_result.result.duration_us = 4567;
	add_msg(w, 7, MS_TRACE_FROM_GUEST, &m);

	/* Garbage: recorded as it came, read back as OTHER. */
	ck_assert_int_eq(ms_trace_writer_add(w, 7, MS_TRACE_FROM_GUEST, garbage, sizeof(garbage)), 0);
	/* A frame that decodes but is none of the five: OTHER. */
	memset(&m, 0, sizeof(m));
	m.type = MS_MSG_PING;
	m.seq = 4;
	m.u.nonce = 99;
	add_msg(w, 9, MS_TRACE_FROM_GUEST, &m);
	/* An empty frame. */
	ck_assert_int_eq(ms_trace_writer_add(w, 9, MS_TRACE_TO_GUEST, NULL, 0), 0);

	add_text(w, 7, "Goodbye: bye");
	memset(reason, 'r', sizeof(reason) - 1);
	reason[sizeof(reason) - 1] = '\0';
	add_text(w, 9, reason);
	add_text(w, 11, "");
	/* Records are bounded by the protocol's largest frame. */
	ck_assert_int_eq(ms_trace_writer_add(w, 7, MS_TRACE_FROM_GUEST, garbage,
					     MS_FRAME_HARD_MAX_BYTES + 1),
			 -EMSGSIZE);
	ms_trace_writer_close(w);
	ms_trace_writer_close(NULL);
}

#define NREF 11

/* Record @i of the reference recording, checked field by field. */
static void check_reference_record(int i, const struct ms_trace_record *r)
{
	switch (i) {
	case 0:
		ck_assert_uint_eq(r->guest_id, 7);
		ck_assert_int_eq(r->dir, MS_TRACE_FROM_GUEST);
		ck_assert_int_eq(r->msg, MS_TRACE_MSG_HELLO);
		ck_assert_ptr_nonnull(r->hello);
		ck_assert_uint_eq(r->hello->proto_min, 1);
		ck_assert_uint_eq(r->hello->proto_max, 1);
		ck_assert_uint_eq(r->hello->capabilities,
				  MS_CAP_PSI | MS_CAP_MGLRU | MS_CAP_MEMCG_RECLAIM);
		ck_assert_str_eq(r->hello->agent_version, "9.8.7");
		ck_assert_str_eq(r->hello->guest_name, "vm-a");
		ck_assert_str_eq(r->hello->boot_id, "boot-1");
		ck_assert_uint_eq(r->hello->page_size_bytes, 4096);
		ck_assert_uint_eq(r->hello->mem_total_bytes, 4 * GIB);
		break;
	case 1:
		ck_assert_uint_eq(r->guest_id, 7);
		ck_assert_int_eq(r->dir, MS_TRACE_TO_GUEST);
		ck_assert_int_eq(r->msg, MS_TRACE_MSG_WELCOME);
		ck_assert_ptr_nonnull(r->welcome);
		ck_assert_uint_eq(r->welcome->proto_version, 1);
		ck_assert_uint_eq(r->welcome->capabilities, MS_CAP_PSI);
		ck_assert_uint_eq(r->welcome->report_interval_ms, 1000);
		ck_assert_uint_eq(r->welcome->nr_bin_edges, 2);
		ck_assert_uint_eq(r->welcome->bin_edges_ms[0], 30000);
		ck_assert_uint_eq(r->welcome->bin_edges_ms[1], 120000);
		break;
	case 2: {
		struct ms_report want;
		const struct ms_lru_node *n;

		fill_report(&want);
		ck_assert_uint_eq(r->guest_id, 7);
		ck_assert_int_eq(r->dir, MS_TRACE_FROM_GUEST);
		ck_assert_int_eq(r->msg, MS_TRACE_MSG_REPORT);
		ck_assert_ptr_nonnull(r->report);
		ck_assert_uint_eq(r->report->mono_us, 123456789);
		ck_assert_uint_eq(r->report->reason, MS_REPORT_PSI_TRIGGER);
		ck_assert(r->report->has_psi);
		ck_assert_uint_eq(r->report->psi.present, MS_PSI_SOME | MS_PSI_FULL);
		ck_assert_double_eq(r->report->psi.some.avg10, 12.5);
		ck_assert_double_eq(r->report->psi.some.avg60, 3.25);
		ck_assert_double_eq(r->report->psi.some.avg300, 0.5);
		ck_assert_uint_eq(r->report->psi.some.total_us, 4242);
		ck_assert_double_eq(r->report->psi.full.avg10, 1.5);
		ck_assert_uint_eq(r->report->psi.full.total_us, 99);
		/* Every meminfo and vmstat field, known or not. */
		ck_assert_mem_eq(&r->report->meminfo, &want.meminfo, sizeof(want.meminfo));
		ck_assert_mem_eq(&r->report->vmstat, &want.vmstat, sizeof(want.vmstat));
		ck_assert_ptr_nonnull(r->report->lru);
		ck_assert_int_eq(r->report->lru->source, MS_LRU_SOURCE_MGLRU);
		ck_assert_uint_eq(r->report->lru->nr_nodes, 1);
		n = &r->report->lru->nodes[0];
		ck_assert_int_eq(n->node, 3);
		ck_assert_uint_eq(n->nr_bins, 5);
		ck_assert_mem_eq(n->bins, want.lru->nodes[0].bins, 5 * sizeof(n->bins[0]));
		ck_assert_uint_eq(n->slab_reclaimable_bytes, 7 * MIB);
		ck_assert_uint_eq(n->shmem_bytes, MS_UNKNOWN);
		ck_assert_uint_eq(n->unevictable_bytes, 0);
		ms_report_clear(&want);
		break;
	}
	case 3:
		ck_assert_uint_eq(r->guest_id, 7);
		ck_assert_int_eq(r->dir, MS_TRACE_TO_GUEST);
		ck_assert_int_eq(r->msg, MS_TRACE_MSG_RECLAIM_REQUEST);
		ck_assert_ptr_nonnull(r->request);
		ck_assert_uint_eq(r->request->id, 5);
		ck_assert_uint_eq(r->request->bytes, 200 * MIB);
		ck_assert_uint_eq(r->request->kinds, MS_RECLAIM_FILE | MS_RECLAIM_ANON);
		ck_assert_uint_eq(r->request->min_age_ms, 120000);
		ck_assert_uint_eq(r->request->deadline_ms, 3000);
		break;
	case 4:
		ck_assert_uint_eq(r->guest_id, 7);
		ck_assert_int_eq(r->dir, MS_TRACE_FROM_GUEST);
		ck_assert_int_eq(r->msg, MS_TRACE_MSG_RECLAIM_RESULT);
		ck_assert_ptr_nonnull(r->reply);
		ck_assert_uint_eq(r->reply->id, 5);
		ck_assert_int_eq(r->reply->result.status, -EAGAIN);
		ck_assert_uint_eq(r->reply->result.method, 1u << MS_RECLAIM_METHOD_MEMCG);
		ck_assert_uint_eq(r->reply->result.requested_bytes, 200 * MIB);
		ck_assert_uint_eq(r->reply->result.freed_bytes, 123 * MIB);
		ck_assert_uint_eq(r->reply->result.freed_file_bytes, 100 * MIB);
		ck_assert_uint_eq(r->reply->result.freed_anon_bytes, 20 * MIB);
		ck_assert_uint_eq(r->reply->result.freed_slab_bytes, 3 * MIB);
		ck_assert_uint_eq(r->reply->result.duration_us, 4567);
		break;
	case 5:
	case 6:
	case 7:
		ck_assert_uint_eq(r->guest_id, i == 5 ? 7 : 9);
		ck_assert_int_eq(r->dir, i == 7 ? MS_TRACE_TO_GUEST : MS_TRACE_FROM_GUEST);
		ck_assert_int_eq(r->msg, MS_TRACE_MSG_OTHER);
		break;
	case 8:
		ck_assert_uint_eq(r->guest_id, 7);
		ck_assert_int_eq(r->dir, MS_TRACE_GUEST_GONE);
		ck_assert_ptr_nonnull(r->text);
		ck_assert_str_eq(r->text, "Goodbye: bye");
		break;
	case 9:
		ck_assert_uint_eq(r->guest_id, 9);
		ck_assert_int_eq(r->dir, MS_TRACE_GUEST_GONE);
		ck_assert_ptr_nonnull(r->text);
		/* Cut to MS_ERROR_MESSAGE_MAX - 1 characters. */
		ck_assert_uint_eq(strlen(r->text), MS_ERROR_MESSAGE_MAX - 1);
		ck_assert_int_eq(r->text[0], 'r');
		ck_assert_int_eq(r->text[MS_ERROR_MESSAGE_MAX - 2], 'r');
		break;
	case 10:
		ck_assert_uint_eq(r->guest_id, 11);
		ck_assert_int_eq(r->dir, MS_TRACE_GUEST_GONE);
		ck_assert_ptr_nonnull(r->text);
		ck_assert_str_eq(r->text, "");
		break;
	default:
		ck_abort_msg("record %d", i);
	}
	/* Only the pointer of the message read is set. */
	ck_assert(!r->hello == (r->msg != MS_TRACE_MSG_HELLO));
	ck_assert(!r->welcome == (r->msg != MS_TRACE_MSG_WELCOME));
	ck_assert(!r->report == (r->msg != MS_TRACE_MSG_REPORT));
	ck_assert(!r->request == (r->msg != MS_TRACE_MSG_RECLAIM_REQUEST));
	ck_assert(!r->reply == (r->msg != MS_TRACE_MSG_RECLAIM_RESULT));
	ck_assert(!r->text == (r->dir != MS_TRACE_GUEST_GONE));
	if (r->dir == MS_TRACE_GUEST_GONE)
		ck_assert_int_eq(r->msg, MS_TRACE_MSG_OTHER);
}

START_TEST(roundtrip)
{
	const char *path = tpath("ref.trace");
	uint64_t lo, hi, t_prev = 0, mono0 = now_us(CLOCK_MONOTONIC), elapsed;
	struct ms_trace_record rec;
	struct ms_trace *t = NULL;
	int i = 0, r;

	write_reference(path, &lo, &hi);
	elapsed = now_us(CLOCK_MONOTONIC) - mono0;
	ck_assert_int_eq(ms_trace_open(&t, path), 0);
	ck_assert_ptr_nonnull(t);
	/* CLOCK_REALTIME when the recording began. */
	ck_assert_uint_ge(ms_trace_start_us(t), lo);
	ck_assert_uint_le(ms_trace_start_us(t), hi);
	while ((r = ms_trace_next(t, &rec)) == 1) {
		ck_assert_int_lt(i, NREF);
		/* In the order written, time never going back, within the time it
		 * took to write them. */
		ck_assert_uint_ge(rec.t_us, t_prev);
		ck_assert_uint_le(rec.t_us, elapsed);
		t_prev = rec.t_us;
		check_reference_record(i, &rec);
		i++;
	}
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(i, NREF);
	/* The end stays the end. */
	ck_assert_int_eq(ms_trace_next(t, &rec), 0);
	ck_assert_int_eq(ms_trace_next(t, &rec), 0);
	ck_assert_int_eq(ms_trace_next(NULL, &rec), -EINVAL);
	ck_assert_int_eq(ms_trace_next(t, NULL), -EINVAL);
	ms_trace_close(t);
	ms_trace_close(NULL);
	ck_assert_uint_eq(ms_trace_start_us(NULL), 0);
}
END_TEST

START_TEST(writer_errors)
{
	struct ms_trace_writer *w = NULL;

	ck_assert_int_eq(ms_trace_writer_open(&w, tpath("no/such/dir/x.trace")), -ENOENT);
	ck_assert_ptr_null(w);
	/* An existing file is truncated. */
	tu_put_str(dir, "old.trace", "old content that is not a trace at all, longer than 24");
	ck_assert_int_eq(ms_trace_writer_open(&w, tpath("old.trace")), 0);
	ms_trace_writer_close(w);
	{
		struct stat st;
		struct ms_trace *t;
		struct ms_trace_record rec;

		ck_assert_int_eq(stat(tpath("old.trace"), &st), 0);
		ck_assert_int_eq(st.st_size, 24);
		ck_assert_int_eq(ms_trace_open(&t, tpath("old.trace")), 0);
		ck_assert_int_eq(ms_trace_next(t, &rec), 0);
		ms_trace_close(t);
	}
}
END_TEST

/* ---- bad files ----------------------------------------------------------- */

static void header(uint8_t h[24], const char *magic, uint32_t version)
{
	memcpy(h, magic, 8);
	put_be32(h + 8, version);
	put_be32(h + 12, 0);
	put_be64(h + 16, 1700000000000000ull);
}

static void record_hdr(uint8_t r[24], uint64_t t, uint64_t guest, uint32_t d, uint32_t len)
{
	put_be64(r, t);
	put_be64(r + 8, guest);
	put_be32(r + 16, d);
	put_be32(r + 20, len);
}

static int open_bytes(const char *name, const void *data, size_t len, struct ms_trace **t)
{
	tu_put_file(dir, name, data, len);
	*t = NULL;
	return ms_trace_open(t, tpath(name));
}

START_TEST(bad_headers)
{
	uint8_t h[24];
	struct ms_trace *t;
	struct ms_trace_record rec;

	ck_assert_int_eq(open_bytes("text", "this is not a memshare trace file\n", 34, &t), -EBADMSG);
	ck_assert_ptr_null(t);
	header(h, "MSTRACE2", 1);
	ck_assert_int_eq(open_bytes("magic", h, 24, &t), -EBADMSG);
	header(h, "MSTRACE1", 2);
	ck_assert_int_eq(open_bytes("v2", h, 24, &t), -EBADMSG);
	header(h, "MSTRACE1", 0);
	ck_assert_int_eq(open_bytes("v0", h, 24, &t), -EBADMSG);
	header(h, "MSTRACE1", 1);
	ck_assert_int_eq(open_bytes("short", h, 23, &t), -EBADMSG);
	ck_assert_int_eq(open_bytes("tiny", h, 8, &t), -EBADMSG);
	ck_assert_int_eq(open_bytes("empty", h, 0, &t), -EBADMSG);
	ck_assert_ptr_null(t);
	/* A bare header is an empty recording. */
	ck_assert_int_eq(open_bytes("bare", h, 24, &t), 0);
	ck_assert_uint_eq(ms_trace_start_us(t), 1700000000000000ull);
	ck_assert_int_eq(ms_trace_next(t, &rec), 0);
	ms_trace_close(t);

	ck_assert_int_eq(ms_trace_open(&t, tpath("missing")), -ENOENT);
	ck_assert_int_eq(ms_trace_open(NULL, tpath("bare")), -EINVAL);
	ck_assert_int_eq(ms_trace_open(&t, NULL), -EINVAL);
}
END_TEST

/* A file of a header, one good GUEST_GONE record, then @tail. */
static struct ms_trace *open_with_tail(const char *name, const void *tail, size_t len)
{
	uint8_t buf[256];
	struct ms_trace *t;
	struct ms_trace_record rec;

	ck_assert_uint_le(len, sizeof(buf) - 50);
	header(buf, "MSTRACE1", 1);
	record_hdr(buf + 24, 5, 1, MS_TRACE_GUEST_GONE, 2);
	memcpy(buf + 48, "ok", 2);
	memcpy(buf + 50, tail, len);
	ck_assert_int_eq(open_bytes(name, buf, 50 + len, &t), 0);
	ck_assert_int_eq(ms_trace_next(t, &rec), 1);
	ck_assert_uint_eq(rec.t_us, 5);
	ck_assert_str_eq(rec.text, "ok");
	return t;
}

/* The next record of @t fails with @err at byte offset @off, for good. */
static void next_fails(struct ms_trace *t, int err, uint64_t off)
{
	struct ms_trace_record rec;

	ck_assert_int_eq(ms_trace_next(t, &rec), err);
	ck_assert_uint_eq(ms_trace_offset(t), off);
	ck_assert_int_eq(ms_trace_next(t, &rec), err);
	ck_assert_uint_eq(ms_trace_offset(t), off);
}

START_TEST(bad_records)
{
	struct ms_trace_record rec;
	struct ms_trace *t;
	uint8_t r[40];

	/* Truncated tails (-ENODATA), at the record after the good one (50).
	 * Cut inside a record header. */
	record_hdr(r, 6, 1, MS_TRACE_GUEST_GONE, 4);
	t = open_with_tail("cut-header", r, 10);
	ck_assert_uint_eq(ms_trace_offset(t), 24);
	next_fails(t, -ENODATA, 50);
	ms_trace_close(t);
	t = open_with_tail("cut-header-1", r, 23);
	next_fails(t, -ENODATA, 50);
	ms_trace_close(t);
	/* Cut inside the payload, or before it. */
	memcpy(r + 24, "ab", 2);
	t = open_with_tail("cut-payload", r, 26);
	next_fails(t, -ENODATA, 50);
	ms_trace_close(t);
	t = open_with_tail("cut-no-payload", r, 24);
	next_fails(t, -ENODATA, 50);
	ms_trace_close(t);
	/* Complete: read. */
	memcpy(r + 24, "abcd", 4);
	t = open_with_tail("complete", r, 28);
	ck_assert_int_eq(ms_trace_next(t, &rec), 1);
	ck_assert_str_eq(rec.text, "abcd");
	ck_assert_uint_eq(ms_trace_offset(t), 50);
	ck_assert_int_eq(ms_trace_next(t, &rec), 0);
	ck_assert_uint_eq(ms_trace_offset(t), 78);
	ms_trace_close(t);
	/* The largest record with nothing there: cut too. */
	record_hdr(r, 6, 1, MS_TRACE_FROM_GUEST, MS_FRAME_HARD_MAX_BYTES);
	t = open_with_tail("max-missing", r, 24);
	next_fails(t, -ENODATA, 50);
	ms_trace_close(t);

	/* Corruption (-EBADMSG): a length beyond the largest frame. */
	record_hdr(r, 6, 1, MS_TRACE_FROM_GUEST, MS_FRAME_HARD_MAX_BYTES + 1);
	t = open_with_tail("oversized", r, 24);
	next_fails(t, -EBADMSG, 50);
	ms_trace_close(t);
	record_hdr(r, 6, 1, MS_TRACE_FROM_GUEST, UINT32_MAX);
	t = open_with_tail("huge", r, 24);
	next_fails(t, -EBADMSG, 50);
	ms_trace_close(t);
	/* Unknown directions, even in a header with nothing after it. */
	record_hdr(r, 6, 1, 0, 0);
	t = open_with_tail("dir0", r, 24);
	next_fails(t, -EBADMSG, 50);
	ms_trace_close(t);
	record_hdr(r, 6, 1, 4, 2);
	t = open_with_tail("dir4", r, 24);
	next_fails(t, -EBADMSG, 50);
	ms_trace_close(t);
	ck_assert_uint_eq(ms_trace_offset(NULL), 0);
}
END_TEST

/* The reference recording at @path: its bytes, and each record's offset. */
static char *reference_offsets(const char *path, size_t *len, uint64_t off[NREF + 1])
{
	struct ms_trace_record rec;
	struct ms_trace *t;
	uint64_t lo, hi;
	int i = 0;

	write_reference(path, &lo, &hi);
	ck_assert_int_eq(ms_trace_open(&t, path), 0);
	while (ms_trace_next(t, &rec) == 1)
		off[i++] = ms_trace_offset(t);
	ck_assert_int_eq(i, NREF);
	ms_trace_next(t, &rec);
	off[NREF] = ms_trace_offset(t);         /* the end: where a next one would be */
	ms_trace_close(t);
	return tu_read_file(NULL, path, len);
}

/* A real recording cut anywhere: the complete records, then -ENODATA at the
 * cut one (or the plain end, cut between records). */
START_TEST(truncated_recording)
{
	uint64_t off[NREF + 1];
	size_t len;
	char *buf = reference_offsets(tpath("ref.trace"), &len, off);

	ck_assert_uint_eq(off[0], 24);
	ck_assert_uint_eq(off[NREF], len);
	for (size_t cut = 24; cut < len; cut++) {
		struct ms_trace_record rec;
		struct ms_trace *t;
		int i = 0, r;

		tu_put_file(dir, "cut.trace", buf, cut);
		ck_assert_int_eq(ms_trace_open(&t, tpath("cut.trace")), 0);
		while ((r = ms_trace_next(t, &rec)) == 1)
			check_reference_record(i++, &rec);
		/* Records [0, i) are whole: the cut is at or after the end of
		 * the last, before the end of the next. */
		ck_assert_uint_ge(cut, off[i]);
		ck_assert_uint_lt(cut, off[i + 1]);
		if (cut == off[i]) {
			ck_assert_int_eq(r, 0);
		} else {
			ck_assert_msg(r == -ENODATA, "cut at %zu: %d", cut, r);
			ck_assert_uint_eq(ms_trace_offset(t), off[i]);
			next_fails(t, -ENODATA, off[i]);
		}
		ms_trace_close(t);
	}
	free(buf);
}
END_TEST

/* A real recording corrupt in the middle: the records before, then
 * -EBADMSG naming the bad one's offset, for good. */
START_TEST(corrupt_recording)
{
	uint64_t off[NREF + 1];
	size_t len;
	char *buf = reference_offsets(tpath("ref.trace"), &len, off);

	for (int k = 1; k < NREF - 1; k++) {
		for (int how = 0; how < 2; how++) {
			struct ms_trace_record rec;
			struct ms_trace *t;
			char *bad = malloc(len);
			int i = 0, r;

			ck_assert_ptr_nonnull(bad);
			memcpy(bad, buf, len);
			if (how == 0)           /* a direction no writer makes */
				put_be32((uint8_t *)bad + off[k] + 16, 7);
			else                    /* a length over the largest frame */
				put_be32((uint8_t *)bad + off[k] + 20, MS_FRAME_HARD_MAX_BYTES + 1);
			tu_put_file(dir, "bad.trace", bad, len);
			free(bad);
			ck_assert_int_eq(ms_trace_open(&t, tpath("bad.trace")), 0);
			while ((r = ms_trace_next(t, &rec)) == 1)
				check_reference_record(i++, &rec);
			ck_assert_int_eq(r, -EBADMSG);
			ck_assert_int_eq(i, k);
			next_fails(t, -EBADMSG, off[k]);
			ms_trace_close(t);
		}
	}
	free(buf);
}
END_TEST

/* ---- a real recording ----------------------------------------------------------- */

struct rec_world {
	unsigned ready, reports, gone;
	uint64_t id;
	char gone_reason[160];
};

static void on_host(struct ms_host *h, const struct ms_host_event *ev, void *userdata)
{
	struct rec_world *w = userdata;

	(void)h;
	switch (ev->type) {
	case MS_HOST_EVENT_GUEST_READY:
		w->ready++;
		w->id = ev->guest_id;
		break;
	case MS_HOST_EVENT_REPORT:
		w->reports++;
		break;
	case MS_HOST_EVENT_GUEST_GONE:
		w->gone++;
		snprintf(w->gone_reason, sizeof(w->gone_reason), "%s", ev->reason);
		break;
	default:
		break;
	}
}

/* Run @h and @g (either may be NULL) until *@v >= @want or 5 s passed. */
static bool pump(struct ms_host *h, struct ms_guest *g, const unsigned *v, unsigned want)
{
	uint64_t deadline = now_us(CLOCK_MONOTONIC) + 5000000;

	while (*v < want) {
		struct pollfd p[2];
		nfds_t n = 0;
		int64_t wait = 10000, to;

		if (now_us(CLOCK_MONOTONIC) >= deadline)
			return false;
		if (h) {
			p[n++] = (struct pollfd){ .fd = ms_host_get_fd(h), .events = POLLIN };
			to = ms_host_get_timeout_us(h);
			if (to >= 0 && to < wait)
				wait = to;
		}
		if (g) {
			p[n++] = (struct pollfd){ .fd = ms_guest_get_fd(g), .events = POLLIN };
			to = ms_guest_get_timeout_us(g);
			if (to >= 0 && to < wait)
				wait = to;
		}
		ck_assert_int_ge(poll(p, n, (int)((wait + 999) / 1000)), 0);
		if (h)
			ck_assert_int_eq(ms_host_process(h), 0);
		if (g)
			ck_assert_int_eq(ms_guest_process(g), 0);
	}
	return true;
}

START_TEST(host_recording)
{
	const char *path = tpath("host.trace");
	struct ms_ctx *hctx = tu_new_ctx(NULL), *gctx;
	struct rec_world w = { 0 };
	struct ms_host *h = NULL;
	struct ms_guest *g = NULL;
	struct ms_trace *t;
	struct ms_trace_record rec;
	char ep[200];
	uint64_t lo, hi, t_prev = 0;
	unsigned reports = 0, others = 0;
	bool gone = false;
	int i = 0, r;
	static struct tu_log glog;

	gctx = tu_new_ctx_log(GUEST_FIXTURE, &glog);
	snprintf(ep, sizeof(ep), "unix:%s", tpath("host.sock"));
	{
		MS_OPTS(ms_host_opts, o, .ctx = hctx, .listen = ep, .report_interval_ms = 50,
			.max_reports_per_s = 20, .event_fn = on_host, .userdata = &w, .record_path = path);

		lo = now_us(CLOCK_REALTIME);
		ck_assert_int_eq(ms_host_new(&h, &o), 0);
		hi = now_us(CLOCK_REALTIME);
	}
	{
		MS_OPTS(ms_guest_opts, o, .ctx = gctx, .connect = ep, .name = "vm-rec",
			.report_interval_ms = 5000);

		ck_assert_int_eq(ms_guest_new(&g, &o), 0);
	}
	ck_assert_msg(pump(h, g, &w.reports, 3), "3 reports never came");
	ms_guest_free(g);
	ck_assert_msg(pump(h, NULL, &w.gone, 1), "the host did not see the guest go");
	ms_host_free(h);
	ck_assert_uint_eq(w.ready, 1);

	ck_assert_int_eq(ms_trace_open(&t, path), 0);
	ck_assert_uint_ge(ms_trace_start_us(t), lo);
	ck_assert_uint_le(ms_trace_start_us(t), hi);
	while ((r = ms_trace_next(t, &rec)) == 1) {
		ck_assert_uint_eq(rec.guest_id, w.id);
		ck_assert_uint_ge(rec.t_us, t_prev);
		t_prev = rec.t_us;
		if (i == 0) {
			ck_assert_int_eq(rec.dir, MS_TRACE_FROM_GUEST);
			ck_assert_int_eq(rec.msg, MS_TRACE_MSG_HELLO);
			ck_assert_str_eq(rec.hello->guest_name, "vm-rec");
			ck_assert_uint_eq(rec.hello->mem_total_bytes, 481268 * KIB);
		} else if (i == 1) {
			ck_assert_int_eq(rec.dir, MS_TRACE_TO_GUEST);
			ck_assert_int_eq(rec.msg, MS_TRACE_MSG_WELCOME);
			ck_assert_uint_eq(rec.welcome->report_interval_ms, 50);
		} else if (i == 2) {
			/* Config, recorded as an opaque host frame. */
			ck_assert_int_eq(rec.dir, MS_TRACE_TO_GUEST);
			ck_assert_int_eq(rec.msg, MS_TRACE_MSG_OTHER);
		} else if (rec.dir == MS_TRACE_GUEST_GONE) {
			/* The last record. */
			ck_assert_str_eq(rec.text, w.gone_reason);
			gone = true;
			ck_assert_int_eq(ms_trace_next(t, &rec), 0);
			break;
		} else if (rec.msg == MS_TRACE_MSG_REPORT) {
			ck_assert_int_eq(rec.dir, MS_TRACE_FROM_GUEST);
			ck_assert_uint_eq(rec.report->meminfo.total_bytes, 481268 * KIB);
			ck_assert_uint_eq(rec.report->meminfo.free_bytes, 254880 * KIB);
			ck_assert_uint_eq(rec.report->meminfo.sreclaimable_bytes, 19992 * KIB);
			ck_assert_uint_eq(rec.report->psi.some.total_us, 6035076);
			ck_assert_ptr_nonnull(rec.report->lru);
			ck_assert_int_eq(rec.report->lru->source, MS_LRU_SOURCE_MGLRU);
			reports++;
		} else {
			/* Goodbye, the only other guest frame here, comes last. */
			ck_assert_int_eq(rec.msg, MS_TRACE_MSG_OTHER);
			ck_assert_int_eq(rec.dir, MS_TRACE_FROM_GUEST);
			others++;
		}
		i++;
	}
	ck_assert_int_eq(r, 1);
	ck_assert(gone);
	/* Every Report the host saw is in the recording. */
	ck_assert_uint_eq(reports, w.reports);
	ck_assert_uint_ge(reports, 3);
	/* The guest's Goodbye, and the host's reason for the end. */
	ck_assert_uint_eq(others, 1);
	ck_assert_str_eq(w.gone_reason, "Goodbye: guest agent stopping");
	ck_assert_int_eq(i, 3 + (int)reports + (int)others);
	ms_trace_close(t);
	ms_ctx_free(gctx);
	ms_ctx_free(hctx);
}
END_TEST

/* The host refuses a recording it cannot create. */
START_TEST(host_record_error)
{
	struct ms_ctx *hctx = tu_new_ctx(NULL);
	struct ms_host *h = NULL;
	MS_OPTS(ms_host_opts, o, .ctx = hctx, .record_path = tpath("no/dir/x.trace"));

	ck_assert_int_eq(ms_host_new(&h, &o), -ENOENT);
	ck_assert_ptr_null(h);
	ms_ctx_free(hctx);
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc;

	tc = tcase_create("format");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, roundtrip);
	tcase_add_test(tc, writer_errors);
	tcase_add_test(tc, bad_headers);
	tcase_add_test(tc, bad_records);
	tcase_add_test(tc, truncated_recording);
	tcase_add_test(tc, corrupt_recording);
	suite_add_tcase(s, tc);

	tc = tcase_create("host");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, host_recording);
	tcase_add_test(tc, host_record_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(trace_suite());
}
