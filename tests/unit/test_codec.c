/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests of lib/proto: the codec (public structs <-> protobuf-c
 * Envelope, validation of peer data), the framing and the streaming frame
 * decoder.
 *
 * Hostile payloads are built with the generated protobuf-c API so that each
 * one breaks exactly one rule: every such test first checks that the valid
 * message it starts from decodes, then breaks one thing.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memshare.pb-c.h"
#include "proto/codec.h"
#include "proto/frame.h"

#include "testutil.h"

#define WHY_SIZE 256

/* ---- helpers ------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static size_t rng_below(size_t n)
{
	return n ? (size_t)(rng_next() % n) : 0;
}

static void set_all_unknown(void *p, size_t size)
{
	uint64_t *v = p;

	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		v[i] = MS_UNKNOWN;
}

/*
 * An LRU summary: nodes numbered node_ids[], each with nr_bins bins.  MGLRU
 * bins tile [0, inf) with edges 1000, 2000, ... ms; classic bins carry
 * unknown ages.  Byte counts are distinct per node and bin.
 */
static struct ms_lru_summary *make_lru(enum ms_lru_source source, const int32_t *node_ids,
				       uint32_t nr_nodes, uint32_t nr_bins)
{
	struct ms_lru_summary *s = calloc(1, sizeof(*s) + nr_nodes * sizeof(s->nodes[0]));

	ck_assert_ptr_nonnull(s);
	s->source = source;
	s->nr_nodes = nr_nodes;
	for (uint32_t i = 0; i < nr_nodes; i++) {
		struct ms_lru_node *n = &s->nodes[i];

		n->node = node_ids[i];
		n->nr_bins = nr_bins;
		n->slab_reclaimable_bytes = (i % 3 == 1) ? MS_UNKNOWN : 4096ull * (i + 1);
		n->shmem_bytes = (i % 3 == 2) ? MS_UNKNOWN : 0;
		n->unevictable_bytes = (1ull << 40) + i;
		for (uint32_t j = 0; j < nr_bins; j++) {
			struct ms_lru_bin *b = &n->bins[j];

			if (source == MS_LRU_SOURCE_MGLRU) {
				b->min_age_ms = 1000ull * j;
				b->max_age_ms = j + 1 < nr_bins ? 1000ull * (j + 1) : MS_AGE_INFINITE;
			} else {
				b->min_age_ms = MS_UNKNOWN;
				b->max_age_ms = MS_UNKNOWN;
			}
			b->anon_bytes = (uint64_t)(i * 100 + j) << 12;
			b->file_bytes = j == 1 ? 0 : ((uint64_t)(i * 100 + j) << 20) + 7;
		}
	}
	return s;
}

static void check_lru_eq(const struct ms_lru_summary *a, const struct ms_lru_summary *b)
{
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(a->source, b->source);
	ck_assert_uint_eq(a->nr_nodes, b->nr_nodes);
	for (uint32_t i = 0; i < a->nr_nodes; i++) {
		const struct ms_lru_node *x = &a->nodes[i], *y = &b->nodes[i];

		ck_assert_int_eq(x->node, y->node);
		ck_assert_uint_eq(x->nr_bins, y->nr_bins);
		ck_assert_uint_eq(x->slab_reclaimable_bytes, y->slab_reclaimable_bytes);
		ck_assert_uint_eq(x->shmem_bytes, y->shmem_bytes);
		ck_assert_uint_eq(x->unevictable_bytes, y->unevictable_bytes);
		for (uint32_t j = 0; j < x->nr_bins; j++) {
			ck_assert_uint_eq(x->bins[j].min_age_ms, y->bins[j].min_age_ms);
			ck_assert_uint_eq(x->bins[j].max_age_ms, y->bins[j].max_age_ms);
			ck_assert_uint_eq(x->bins[j].anon_bytes, y->bins[j].anon_bytes);
			ck_assert_uint_eq(x->bins[j].file_bytes, y->bins[j].file_bytes);
		}
	}
}

static void check_u64s_eq(const void *a, const void *b, size_t size, const char *what)
{
	const uint64_t *x = a, *y = b;

	for (size_t i = 0; i < size / sizeof(uint64_t); i++)
		ck_assert_msg(x[i] == y[i], "%s field %zu: %llu != %llu", what, i,
			      (unsigned long long)x[i], (unsigned long long)y[i]);
}

static void check_psi_stat_eq(const struct ms_psi_stat *a, const struct ms_psi_stat *b)
{
	ck_assert(a->avg10 == b->avg10);
	ck_assert(a->avg60 == b->avg60);
	ck_assert(a->avg300 == b->avg300);
	ck_assert_uint_eq(a->total_us, b->total_us);
}

/* Every field of two messages of the same type. */
static void check_msg_eq(const struct ms_msg *a, const struct ms_msg *b)
{
	ck_assert_int_eq(a->type, b->type);
	ck_assert_uint_eq(a->version, b->version);
	ck_assert_uint_eq(a->seq, b->seq);
	ck_assert_uint_eq(a->in_reply_to, b->in_reply_to);

	switch (a->type) {
	case MS_MSG_HELLO: {
		const struct ms_hello *x = &a->u.hello, *y = &b->u.hello;

		ck_assert_uint_eq(x->proto_min, y->proto_min);
		ck_assert_uint_eq(x->proto_max, y->proto_max);
		ck_assert_uint_eq(x->capabilities, y->capabilities);
		ck_assert_str_eq(x->agent_version, y->agent_version);
		ck_assert_str_eq(x->guest_name, y->guest_name);
		ck_assert_str_eq(x->boot_id, y->boot_id);
		ck_assert_uint_eq(x->page_size_bytes, y->page_size_bytes);
		ck_assert_uint_eq(x->mem_total_bytes, y->mem_total_bytes);
		break;
	}
	case MS_MSG_WELCOME: {
		const struct ms_welcome *x = &a->u.welcome, *y = &b->u.welcome;

		ck_assert_uint_eq(x->proto_version, y->proto_version);
		ck_assert_uint_eq(x->capabilities, y->capabilities);
		ck_assert_uint_eq(x->report_interval_ms, y->report_interval_ms);
		ck_assert_uint_eq(x->nr_bin_edges, y->nr_bin_edges);
		for (uint32_t i = 0; i < x->nr_bin_edges; i++)
			ck_assert_uint_eq(x->bin_edges_ms[i], y->bin_edges_ms[i]);
		break;
	}
	case MS_MSG_REPORT: {
		const struct ms_report *x = &a->u.report, *y = &b->u.report;

		ck_assert_uint_eq(x->mono_us, y->mono_us);
		ck_assert_uint_eq(x->reason, y->reason);
		ck_assert_int_eq(x->has_psi, y->has_psi);
		if (x->has_psi) {
			ck_assert_uint_eq(x->psi.present, y->psi.present);
			if (x->psi.present & MS_PSI_SOME)
				check_psi_stat_eq(&x->psi.some, &y->psi.some);
			if (x->psi.present & MS_PSI_FULL)
				check_psi_stat_eq(&x->psi.full, &y->psi.full);
		}
		check_u64s_eq(&x->meminfo, &y->meminfo, sizeof(x->meminfo), "meminfo");
		check_u64s_eq(&x->vmstat, &y->vmstat, sizeof(x->vmstat), "vmstat");
		ck_assert_int_eq(x->lru == NULL, y->lru == NULL);
		if (x->lru)
			check_lru_eq(x->lru, y->lru);
		break;
	}
	case MS_MSG_RECLAIM_REQUEST: {
		const struct ms_reclaim_request *x = &a->u.reclaim_request;
		const struct ms_reclaim_request *y = &b->u.reclaim_request;

		ck_assert_uint_eq(x->id, y->id);
		ck_assert_uint_eq(x->bytes, y->bytes);
		ck_assert_uint_eq(x->kinds, y->kinds);
		ck_assert_uint_eq(x->min_age_ms, y->min_age_ms);
		ck_assert_uint_eq(x->deadline_ms, y->deadline_ms);
		break;
	}
	case MS_MSG_RECLAIM_RESULT: {
		const struct ms_reclaim_reply *x = &a->u.reclaim_result;
		const struct ms_reclaim_reply *y = &b->u.reclaim_result;

		ck_assert_uint_eq(x->id, y->id);
		ck_assert_int_eq(x->result.status, y->result.status);
		ck_assert_uint_eq(x->result.method, y->result.method);
		ck_assert_uint_eq(x->result.requested_bytes, y->result.requested_bytes);
		ck_assert_uint_eq(x->result.freed_bytes, y->result.freed_bytes);
		ck_assert_uint_eq(x->result.freed_file_bytes, y->result.freed_file_bytes);
		ck_assert_uint_eq(x->result.freed_anon_bytes, y->result.freed_anon_bytes);
		ck_assert_uint_eq(x->result.freed_slab_bytes, y->result.freed_slab_bytes);
		ck_assert_uint_eq(x->result.duration_us, y->result.duration_us);
		ck_assert_uint_eq(x->result.capped_bytes, y->result.capped_bytes);
		break;
	}
	case MS_MSG_CONFIG: {
		const struct ms_config *x = &a->u.config, *y = &b->u.config;

		ck_assert_uint_eq(x->report_interval_ms, y->report_interval_ms);
		ck_assert_uint_eq(x->keepalive_ms, y->keepalive_ms);
		ck_assert_uint_eq(x->nr_bin_edges, y->nr_bin_edges);
		for (uint32_t i = 0; i < x->nr_bin_edges; i++)
			ck_assert_uint_eq(x->bin_edges_ms[i], y->bin_edges_ms[i]);
		ck_assert_int_eq(x->has_psi_trigger, y->has_psi_trigger);
		if (x->has_psi_trigger) {
			ck_assert_uint_eq(x->psi_trigger.kind, y->psi_trigger.kind);
			ck_assert_uint_eq(x->psi_trigger.stall_us, y->psi_trigger.stall_us);
			ck_assert_uint_eq(x->psi_trigger.window_us, y->psi_trigger.window_us);
		}
		break;
	}
	case MS_MSG_ERROR:
		ck_assert_int_eq(a->u.error.code, b->u.error.code);
		ck_assert_str_eq(a->u.error.message, b->u.error.message);
		break;
	case MS_MSG_PING:
	case MS_MSG_PONG:
		ck_assert_uint_eq(a->u.nonce, b->u.nonce);
		break;
	case MS_MSG_GOODBYE:
		ck_assert_str_eq(a->u.reason, b->u.reason);
		break;
	case MS_MSG_NONE:
	case MS_MSG_UNKNOWN:
		break;
	}
}

/*
 * Encode @in, feed the frame to a streaming decoder in one push, decode the
 * payload into @out and check the envelope fields.  The caller compares the
 * body and calls ms_msg_clear(out).
 */
static void roundtrip(const struct ms_msg *in, struct ms_msg *out)
{
	struct ms_frame_decoder d;
	const uint8_t *payload;
	uint8_t *frame = NULL;
	size_t flen = 0, plen;
	char why[WHY_SIZE] = "";
	int r;

	ck_assert_int_eq(ms_msg_encode(in, MS_FRAME_DEFAULT_MAX_BYTES, &frame, &flen), 0);
	ck_assert_ptr_nonnull(frame);
	ck_assert_uint_ge(flen, MS_FRAME_HEADER_BYTES);
	ck_assert_uint_eq(be32(frame), flen - MS_FRAME_HEADER_BYTES);

	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	ck_assert_int_eq(ms_frame_decoder_push(&d, frame, flen), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_uint_eq(plen, flen - MS_FRAME_HEADER_BYTES);
	ck_assert_mem_eq(payload, frame + MS_FRAME_HEADER_BYTES, plen);
	r = ms_msg_decode(payload, plen, out, why, sizeof(why));
	ck_assert_msg(r == 0, "decode of %s: %d (%s)", ms_msg_type_name(in->type), r, why);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), 0);
	ms_frame_decoder_release(&d);
	free(frame);

	ck_assert_int_eq(out->type, in->type);
	ck_assert_uint_eq(out->version, in->version);
	ck_assert_uint_eq(out->seq, in->seq);
	ck_assert_uint_eq(out->in_reply_to, in->in_reply_to);
}

static void roundtrip_eq(const struct ms_msg *in)
{
	struct ms_msg out;

	roundtrip(in, &out);
	check_msg_eq(in, &out);
	ms_msg_clear(&out);
}

static void msg_init(struct ms_msg *m, enum ms_msg_type type)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->version = MS_PROTO_VERSION_MAX;
	m->seq = 42;
	m->in_reply_to = 0;
}

/* A Report with every figure known and distinct. */
static void full_report(struct ms_msg *m)
{
	struct ms_report *rep = &m->u.report;
	uint64_t *v;

	msg_init(m, MS_MSG_REPORT);
	rep->mono_us = 123456789012ull;
	rep->reason = MS_REPORT_PSI_TRIGGER;
	rep->has_psi = true;
	rep->psi.present = MS_PSI_SOME | MS_PSI_FULL;
	rep->psi.some = (struct ms_psi_stat){ 12.34, 5.5, 0.0, 987654321ull };
	rep->psi.full = (struct ms_psi_stat){ 100.0, 0.01, 3.25, 1ull << 50 };
	v = (uint64_t *)&rep->meminfo;
	for (size_t i = 0; i < sizeof(rep->meminfo) / sizeof(uint64_t); i++)
		v[i] = (i + 1) * 4096ull * 1024 + i;
	v = (uint64_t *)&rep->vmstat;
	for (size_t i = 0; i < sizeof(rep->vmstat) / sizeof(uint64_t); i++)
		v[i] = (i + 1) * 1000003ull;
	rep->vmstat.oom_kill = 0;       /* zero is a value, not "absent" */
	rep->lru = NULL;
}

/* ---- 1. round trips ------------------------------------------------------- */

START_TEST(test_roundtrip_hello)
{
	struct ms_msg m;
	struct ms_hello *h = &m.u.hello;

	msg_init(&m, MS_MSG_HELLO);
	m.seq = 1;
	h->proto_min = MS_PROTO_VERSION_MIN;
	h->proto_max = MS_PROTO_VERSION_MAX + 3;
	h->capabilities = MS_CAP_PSI | MS_CAP_MGLRU | MS_CAP_NUMA | MS_CAP_FREE_PAGE_REPORTING |
			  (1ull << 63);
	strcpy(h->agent_version, "memshare-guestd 0.1.0");
	strcpy(h->guest_name, "vm-ünïcode.example");
	strcpy(h->boot_id, "0f2b7d1c-3a55-4c2e-9f3e-6e3a9d2c1b00");
	h->page_size_bytes = 4096;
	h->mem_total_bytes = 8ull << 30;
	roundtrip_eq(&m);

	/* Longest strings that fit, and unknown sizes. */
	memset(h->agent_version, 'a', sizeof(h->agent_version) - 1);
	h->agent_version[sizeof(h->agent_version) - 1] = '\0';
	memset(h->guest_name, 'g', sizeof(h->guest_name) - 1);
	h->guest_name[sizeof(h->guest_name) - 1] = '\0';
	memset(h->boot_id, 'b', sizeof(h->boot_id) - 1);
	h->boot_id[sizeof(h->boot_id) - 1] = '\0';
	h->page_size_bytes = MS_UNKNOWN;
	h->mem_total_bytes = MS_UNKNOWN;
	h->proto_min = h->proto_max = 7;
	roundtrip_eq(&m);

	/* Empty strings, no capabilities. */
	h->agent_version[0] = h->guest_name[0] = h->boot_id[0] = '\0';
	h->capabilities = 0;
	h->page_size_bytes = 0;
	roundtrip_eq(&m);
}
END_TEST

START_TEST(test_roundtrip_welcome)
{
	struct ms_msg m;
	struct ms_welcome *w = &m.u.welcome;

	msg_init(&m, MS_MSG_WELCOME);
	m.in_reply_to = 1;
	w->proto_version = 1;
	w->capabilities = MS_CAP_PSI | MS_CAP_SLAB_RECLAIM;
	w->report_interval_ms = 5000;
	w->nr_bin_edges = MS_LRU_DEFAULT_NR_BIN_EDGES;
	memcpy(w->bin_edges_ms, ms_lru_default_bin_edges_ms, sizeof(ms_lru_default_bin_edges_ms));
	roundtrip_eq(&m);

	/* No edges: the guest's default. */
	w->nr_bin_edges = 0;
	w->report_interval_ms = 0;
	w->capabilities = 0;
	roundtrip_eq(&m);

	/* The most edges there can be. */
	w->nr_bin_edges = MS_LRU_MAX_BINS - 1;
	for (uint32_t i = 0; i < w->nr_bin_edges; i++)
		w->bin_edges_ms[i] = 1 + i * 997ull;
	w->bin_edges_ms[w->nr_bin_edges - 1] = MS_AGE_INFINITE - 1;
	roundtrip_eq(&m);
}
END_TEST

START_TEST(test_roundtrip_report_minimal)
{
	struct ms_msg m, out;
	struct ms_report *rep = &m.u.report;

	/* Only MemTotal known: everything else must come back MS_UNKNOWN. */
	msg_init(&m, MS_MSG_REPORT);
	rep->mono_us = 1;
	rep->reason = MS_REPORT_PERIODIC;
	set_all_unknown(&rep->meminfo, sizeof(rep->meminfo));
	set_all_unknown(&rep->vmstat, sizeof(rep->vmstat));
	rep->meminfo.total_bytes = 2ull << 30;
	roundtrip(&m, &out);
	check_msg_eq(&m, &out);
	ck_assert(!out.u.report.has_psi);
	ck_assert_ptr_null(out.u.report.lru);
	ck_assert_uint_eq(out.u.report.meminfo.total_bytes, 2ull << 30);
	ck_assert_uint_eq(out.u.report.meminfo.available_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(out.u.report.meminfo.page_tables_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(out.u.report.vmstat.refault_anon_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(out.u.report.vmstat.oom_kill, MS_UNKNOWN);
	ms_msg_clear(&out);
}
END_TEST

START_TEST(test_roundtrip_report_full)
{
	struct ms_msg m, out;

	/* PSI both lines, every meminfo/vmstat figure present, no LRU. */
	full_report(&m);
	roundtrip(&m, &out);
	check_msg_eq(&m, &out);
	ck_assert(out.u.report.has_psi);
	ck_assert_uint_eq(out.u.report.psi.present, MS_PSI_SOME | MS_PSI_FULL);
	ck_assert_uint_eq(out.u.report.vmstat.oom_kill, 0);
	ms_msg_clear(&out);
	ck_assert_ptr_null(out.u.report.lru);

	/* PSI without the full line (cpu-like file). */
	m.u.report.psi.present = MS_PSI_SOME;
	m.u.report.reason = MS_REPORT_AFTER_RECLAIM;
	roundtrip(&m, &out);
	check_msg_eq(&m, &out);
	ck_assert_uint_eq(out.u.report.psi.present, MS_PSI_SOME);
	ck_assert(out.u.report.psi.full.avg10 == 0);
	ms_msg_clear(&out);

	/* Mixed: a few figures unknown, a few zero. */
	m.u.report.has_psi = false;
	m.u.report.meminfo.available_bytes = MS_UNKNOWN;
	m.u.report.meminfo.used_bytes = 0;
	m.u.report.meminfo.kreclaimable_bytes = MS_UNKNOWN;
	m.u.report.vmstat.refault_anon_bytes = MS_UNKNOWN;
	m.u.report.vmstat.refault_file_bytes = MS_UNKNOWN;
	m.u.report.vmstat.pswpin_bytes = 0;
	roundtrip(&m, &out);
	check_msg_eq(&m, &out);
	ck_assert(!out.u.report.has_psi);
	ck_assert_uint_eq(out.u.report.meminfo.available_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(out.u.report.meminfo.used_bytes, 0);
	ck_assert_uint_eq(out.u.report.vmstat.refault_file_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(out.u.report.vmstat.pswpin_bytes, 0);
	ms_msg_clear(&out);
}
END_TEST

START_TEST(test_roundtrip_report_mglru)
{
	static const int32_t ids[] = { 0, 1, 3, 64, 65535 };
	struct ms_msg m, out;

	full_report(&m);
	m.u.report.lru = make_lru(MS_LRU_SOURCE_MGLRU, ids, 5, 5);
	/* Unknown byte counts stay unknown. */
	m.u.report.lru->nodes[2].bins[3].anon_bytes = MS_UNKNOWN;
	roundtrip(&m, &out);
	check_msg_eq(&m, &out);
	for (uint32_t i = 0; i < out.u.report.lru->nr_nodes; i++) {
		const struct ms_lru_node *n = &out.u.report.lru->nodes[i];

		ck_assert_uint_eq(n->bins[0].min_age_ms, 0);
		ck_assert_uint_eq(n->bins[n->nr_bins - 1].max_age_ms, MS_AGE_INFINITE);
	}
	ck_assert_uint_eq(out.u.report.lru->nodes[1].slab_reclaimable_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(out.u.report.lru->nodes[2].shmem_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(out.u.report.lru->nodes[2].bins[3].anon_bytes, MS_UNKNOWN);
	ms_msg_clear(&out);
	ck_assert_ptr_null(out.u.report.lru);
	free(m.u.report.lru);

	/* One open-ended bin per node; the most bins there can be. */
	m.u.report.lru = make_lru(MS_LRU_SOURCE_MGLRU, ids, 2, 1);
	roundtrip_eq(&m);
	free(m.u.report.lru);
	m.u.report.lru = make_lru(MS_LRU_SOURCE_MGLRU, ids, 3, MS_LRU_MAX_BINS);
	roundtrip_eq(&m);
	free(m.u.report.lru);

	/* A summary without nodes. */
	m.u.report.lru = make_lru(MS_LRU_SOURCE_MGLRU, ids, 0, 0);
	roundtrip(&m, &out);
	ck_assert_ptr_nonnull(out.u.report.lru);
	ck_assert_uint_eq(out.u.report.lru->nr_nodes, 0);
	ck_assert_int_eq(out.u.report.lru->source, MS_LRU_SOURCE_MGLRU);
	ms_msg_clear(&out);
	free(m.u.report.lru);
}
END_TEST

START_TEST(test_roundtrip_report_classic)
{
	static const int32_t ids[] = { 0, 2, 7 };
	struct ms_msg m, out;

	full_report(&m);
	m.u.report.lru = make_lru(MS_LRU_SOURCE_CLASSIC, ids, 3, 2);
	roundtrip(&m, &out);
	check_msg_eq(&m, &out);
	ck_assert_int_eq(out.u.report.lru->source, MS_LRU_SOURCE_CLASSIC);
	for (uint32_t i = 0; i < 3; i++)
		for (uint32_t j = 0; j < 2; j++) {
			ck_assert_uint_eq(out.u.report.lru->nodes[i].bins[j].min_age_ms, MS_UNKNOWN);
			ck_assert_uint_eq(out.u.report.lru->nodes[i].bins[j].max_age_ms, MS_UNKNOWN);
		}
	ms_msg_clear(&out);
	free(m.u.report.lru);
}
END_TEST

START_TEST(test_roundtrip_reclaim)
{
	struct ms_msg m, out;

	msg_init(&m, MS_MSG_RECLAIM_REQUEST);
	m.in_reply_to = 9;
	m.u.reclaim_request = (struct ms_reclaim_request){
		.id = 77, .bytes = 256ull << 20, .kinds = MS_RECLAIM_FILE | MS_RECLAIM_SLAB,
		.min_age_ms = 120000, .deadline_ms = 2500,
	};
	roundtrip_eq(&m);
	m.u.reclaim_request = (struct ms_reclaim_request){
		.id = UINT64_MAX, .bytes = UINT64_MAX, .kinds = MS_RECLAIM_ALL_KINDS,
		.min_age_ms = 0, .deadline_ms = UINT32_MAX,
	};
	roundtrip_eq(&m);

	msg_init(&m, MS_MSG_RECLAIM_RESULT);
	m.in_reply_to = 5;
	m.u.reclaim_result.id = 77;
	m.u.reclaim_result.result = (struct ms_reclaim_result){
		.status = -EAGAIN,
		.method = 1u << MS_RECLAIM_METHOD_MEMCG | 1u << MS_RECLAIM_METHOD_DROP_SLAB,
		.requested_bytes = 256ull << 20,
		.freed_file_bytes = 100ull << 20,
		.freed_anon_bytes = 3,
		.freed_slab_bytes = 5ull << 20,
		.freed_bytes = (100ull << 20) + 3 + (5ull << 20),
		.duration_us = 123456,
	};
	roundtrip_eq(&m);
	m.u.reclaim_result.result.status = 0;
	m.u.reclaim_result.result.freed_file_bytes = UINT64_MAX - 10;
	m.u.reclaim_result.result.freed_anon_bytes = 4;
	m.u.reclaim_result.result.freed_slab_bytes = 6;
	m.u.reclaim_result.result.freed_bytes = UINT64_MAX;
	roundtrip_eq(&m);
	m.u.reclaim_result.result.status = -4095;
	roundtrip_eq(&m);

	/* The receiver recomputes freed_bytes instead of trusting the sum. */
	m.u.reclaim_result.result = (struct ms_reclaim_result){
		.status = 0, .freed_file_bytes = 10, .freed_anon_bytes = 20,
		.freed_slab_bytes = 30, .freed_bytes = 1,
	};
	roundtrip(&m, &out);
	ck_assert_uint_eq(out.u.reclaim_result.result.freed_bytes, 60);
	ms_msg_clear(&out);
}
END_TEST

START_TEST(test_roundtrip_small)
{
	struct ms_msg m, out;

	msg_init(&m, MS_MSG_ERROR);
	m.u.error.code = EPROTO;
	strcpy(m.u.error.message, "unknown message type");
	roundtrip_eq(&m);
	memset(m.u.error.message, 'x', sizeof(m.u.error.message) - 1);
	m.u.error.message[sizeof(m.u.error.message) - 1] = '\0';
	m.u.error.code = 4095;
	roundtrip_eq(&m);
	m.u.error.message[0] = '\0';
	m.u.error.code = 0;
	roundtrip_eq(&m);

	/* Control characters are shown as '?', not rejected. */
	strcpy(m.u.error.message, "bad\nline\x7f");
	roundtrip(&m, &out);
	ck_assert_str_eq(out.u.error.message, "bad?line?");
	ms_msg_clear(&out);
	/* So are C1 controls (an 8-bit CSI) and bytes that are not UTF-8;
	 * valid UTF-8 stays. */
	strcpy(m.u.error.message, "\xc2\x9b" "31m \xff\xfe caf\xc3\xa9 \xe2\x82");
	roundtrip(&m, &out);
	ck_assert_str_eq(out.u.error.message, "??31m ?? caf\xc3\xa9 ??");
	ms_msg_clear(&out);

	msg_init(&m, MS_MSG_PING);
	m.u.nonce = 0;
	roundtrip_eq(&m);
	m.u.nonce = UINT64_MAX;
	m.seq = UINT64_MAX;
	roundtrip_eq(&m);

	msg_init(&m, MS_MSG_PONG);
	m.in_reply_to = 41;
	m.u.nonce = 0x0123456789abcdefull;
	roundtrip_eq(&m);

	msg_init(&m, MS_MSG_GOODBYE);
	strcpy(m.u.reason, "agent shutting down");
	roundtrip_eq(&m);
	m.u.reason[0] = '\0';
	roundtrip_eq(&m);
	memset(m.u.reason, 'r', sizeof(m.u.reason) - 1);
	m.u.reason[sizeof(m.u.reason) - 1] = '\0';
	roundtrip_eq(&m);
}
END_TEST

START_TEST(test_roundtrip_config)
{
	struct ms_msg m, out;
	char why[160];
	uint8_t *buf;
	size_t len;

	msg_init(&m, MS_MSG_CONFIG);
	roundtrip_eq(&m);                      /* all defaults: nothing set */
	m.u.config.report_interval_ms = 250;
	m.u.config.keepalive_ms = 15000;
	m.u.config.nr_bin_edges = 3;
	m.u.config.bin_edges_ms[0] = 1000;
	m.u.config.bin_edges_ms[1] = 60000;
	m.u.config.bin_edges_ms[2] = 120000;
	m.u.config.has_psi_trigger = true;
	m.u.config.psi_trigger.kind = MS_PSI_KIND_FULL;
	m.u.config.psi_trigger.stall_us = 150000;
	m.u.config.psi_trigger.window_us = 2000000;
	roundtrip_eq(&m);

	/* What a host must not send, and a guest refuses. */
	{
		static const struct {
			uint32_t kind;
			uint64_t stall, window;
		} bad[] = {
			{ 2, 100000, 2000000 },        /* neither some nor full */
			{ 0, 0, 2000000 },             /* no threshold */
			{ 0, 3000000, 2000000 },       /* threshold above the window */
			{ 0, 100000, 400000 },         /* window under 500 ms */
			{ 0, 100000, 20000000 },       /* window over 10 s */
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			m.u.config.psi_trigger.kind = bad[i].kind;
			m.u.config.psi_trigger.stall_us = bad[i].stall;
			m.u.config.psi_trigger.window_us = bad[i].window;
			m.version = 1;
			m.seq = 1;
			ck_assert_int_eq(ms_msg_encode(&m, 65536, &buf, &len), 0);
			ck_assert_int_eq(ms_msg_decode(buf + 4, len - 4, &out, why, sizeof(why)),
					 -EPROTO);
			ck_assert_str_eq(why, "Config PSI trigger out of range");
			free(buf);
		}
	}
	m.u.config.has_psi_trigger = false;
	m.u.config.report_interval_ms = 5;
	ck_assert_int_eq(ms_msg_encode(&m, 65536, &buf, &len), 0);
	ck_assert_int_eq(ms_msg_decode(buf + 4, len - 4, &out, why, sizeof(why)), -EPROTO);
	free(buf);
	m.u.config.report_interval_ms = 100;
	m.u.config.keepalive_ms = 99;                 /* would ping 10 times a second */
	ck_assert_int_eq(ms_msg_encode(&m, 65536, &buf, &len), 0);
	ck_assert_int_eq(ms_msg_decode(buf + 4, len - 4, &out, why, sizeof(why)), -EPROTO);
	ck_assert_str_eq(why, "Config keepalive under 100 ms");
	free(buf);
	m.u.config.keepalive_ms = 100;
	ck_assert_int_eq(ms_msg_encode(&m, 65536, &buf, &len), 0);
	ck_assert_int_eq(ms_msg_decode(buf + 4, len - 4, &out, why, sizeof(why)), 0);
	ms_msg_clear(&out);
	free(buf);
	m.u.config.bin_edges_ms[1] = 500;             /* not ascending */
	ck_assert_int_eq(ms_msg_encode(&m, 65536, &buf, &len), 0);
	ck_assert_int_eq(ms_msg_decode(buf + 4, len - 4, &out, why, sizeof(why)), -EPROTO);
	ck_assert_str_eq(why, "Config bin edges not ascending");
	free(buf);
	m.u.config.nr_bin_edges = MS_LRU_MAX_BINS;
	ck_assert_int_eq(ms_msg_encode(&m, 65536, &buf, &len), -EINVAL);
	ck_assert_str_eq(ms_msg_type_name(MS_MSG_CONFIG), "Config");
}
END_TEST

START_TEST(test_encode_invalid)
{
	struct ms_msg m;
	uint8_t *buf = (uint8_t *)&m;   /* must stay untouched */
	size_t len = 12345;

	msg_init(&m, MS_MSG_NONE);
	ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &buf, &len), -EINVAL);
	m.type = MS_MSG_UNKNOWN;
	ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &buf, &len), -EINVAL);
	m.type = (enum ms_msg_type)99;
	ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &buf, &len), -EINVAL);
	msg_init(&m, MS_MSG_WELCOME);
	m.u.welcome.proto_version = 1;
	m.u.welcome.nr_bin_edges = MS_LRU_MAX_BINS;
	ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &buf, &len), -EINVAL);
	ck_assert_int_eq(ms_msg_encode(NULL, MS_FRAME_DEFAULT_MAX_BYTES, &buf, &len), -EINVAL);

	/* Reports the peer would refuse are refused here instead. */
	{
		static const int32_t ids[] = { 0 };

		msg_init(&m, MS_MSG_REPORT);
		m.u.report.mono_us = 1;
		set_all_unknown(&m.u.report.meminfo, sizeof(m.u.report.meminfo));
		set_all_unknown(&m.u.report.vmstat, sizeof(m.u.report.vmstat));
		m.u.report.meminfo.total_bytes = 1 << 30;
		m.u.report.has_psi = true;
		m.u.report.psi.present = MS_PSI_FULL;      /* "full" without "some" */
		ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &buf, &len), -EINVAL);
		m.u.report.has_psi = false;
		m.u.report.lru = make_lru(MS_LRU_SOURCE_AUTO, ids, 1, 2);
		ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &buf, &len), -EINVAL);
		m.u.report.lru->source = MS_LRU_SOURCE_MGLRU;
		m.u.report.lru->nodes[0].nr_bins = MS_LRU_MAX_BINS + 1;
		ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &buf, &len), -EINVAL);
		free(m.u.report.lru);
	}
	ck_assert_ptr_eq(buf, (uint8_t *)&m);
	ck_assert_uint_eq(len, 12345);

	/* A negative errno in Error is sent as the positive code. */
	{
		struct ms_msg out;

		msg_init(&m, MS_MSG_ERROR);
		m.u.error.code = -EPROTONOSUPPORT;
		roundtrip(&m, &out);
		ck_assert_int_eq(out.u.error.code, EPROTONOSUPPORT);
		ms_msg_clear(&out);
	}

	ck_assert_str_eq(ms_msg_type_name(MS_MSG_HELLO), "Hello");
	ck_assert_str_eq(ms_msg_type_name(MS_MSG_UNKNOWN), "unknown");
	ck_assert_str_eq(ms_msg_type_name((enum ms_msg_type)1000), "invalid");
}
END_TEST

/* ---- 2. reflection mapping ------------------------------------------------ */

struct field_map {
	const char *name;
	size_t offset;
	size_t size;
};

#define MI(f) { #f, offsetof(struct ms_meminfo, f), sizeof(((struct ms_meminfo *)0)->f) }
static const struct field_map meminfo_fields[] = {
	MI(total_bytes),
	MI(free_bytes),
	MI(available_bytes),
	MI(used_bytes),
	MI(buffers_bytes),
	MI(cached_bytes),
	MI(file_pages_bytes),
	MI(swap_cached_bytes),
	MI(active_anon_bytes),
	MI(inactive_anon_bytes),
	MI(active_file_bytes),
	MI(inactive_file_bytes),
	MI(unevictable_bytes),
	MI(mlocked_bytes),
	MI(swap_total_bytes),
	MI(swap_free_bytes),
	MI(dirty_bytes),
	MI(writeback_bytes),
	MI(anon_pages_bytes),
	MI(mapped_bytes),
	MI(shmem_bytes),
	MI(kreclaimable_bytes),
	MI(slab_bytes),
	MI(sreclaimable_bytes),
	MI(sunreclaim_bytes),
	MI(page_tables_bytes),
};
#undef MI

#define VS(f) { #f, offsetof(struct ms_vmstat, f), sizeof(((struct ms_vmstat *)0)->f) }
static const struct field_map vmstat_fields[] = {
	VS(refault_anon_bytes),
	VS(refault_file_bytes),
	VS(refault_bytes),
	VS(activate_bytes),
	VS(pgscan_kswapd_bytes),
	VS(pgscan_direct_bytes),
	VS(pgsteal_kswapd_bytes),
	VS(pgsteal_direct_bytes),
	VS(pgscan_bytes),
	VS(pgsteal_bytes),
	VS(pgmajfault),
	VS(pswpin_bytes),
	VS(pswpout_bytes),
	VS(oom_kill),
};
#undef VS

static void check_mapping(const ProtobufCMessageDescriptor *desc, const struct field_map *map,
			  size_t n, size_t struct_size)
{
	bool seen[64] = { false };

	ck_assert_uint_eq(n, struct_size / sizeof(uint64_t));
	ck_assert_uint_eq(struct_size % sizeof(uint64_t), 0);
	ck_assert_uint_eq(n, desc->n_fields);
	ck_assert_uint_le(n, 64);
	for (size_t i = 0; i < n; i++) {
		const ProtobufCFieldDescriptor *f =
			protobuf_c_message_descriptor_get_field_by_name(desc, map[i].name);

		ck_assert_msg(f != NULL, "%s: no field %s", desc->name, map[i].name);
		ck_assert_msg(map[i].size == sizeof(uint64_t), "%s is not a uint64_t", map[i].name);
		ck_assert_msg(map[i].offset % sizeof(uint64_t) == 0, "%s misaligned", map[i].name);
		ck_assert_msg(f->id == map[i].offset / sizeof(uint64_t) + 1,
			      "%s.%s: field number %u, struct position %zu", desc->name,
			      map[i].name, f->id, map[i].offset / sizeof(uint64_t) + 1);
		ck_assert_int_eq(f->type, PROTOBUF_C_TYPE_UINT64);
		ck_assert_int_eq(f->label, PROTOBUF_C_LABEL_OPTIONAL);
		ck_assert_msg(!seen[f->id - 1], "%s listed twice", map[i].name);
		seen[f->id - 1] = true;
	}
}

START_TEST(test_reflection_tables)
{
	check_mapping(&memshare__mem_info__descriptor, meminfo_fields,
		      sizeof(meminfo_fields) / sizeof(meminfo_fields[0]), sizeof(struct ms_meminfo));
	check_mapping(&memshare__vm_stat__descriptor, vmstat_fields,
		      sizeof(vmstat_fields) / sizeof(vmstat_fields[0]), sizeof(struct ms_vmstat));
}
END_TEST

/* Read the uint64 field @name of a generated message (absent: MS_UNKNOWN). */
static uint64_t pb_u64(const ProtobufCMessage *pb, const char *name)
{
	const ProtobufCFieldDescriptor *f =
		protobuf_c_message_descriptor_get_field_by_name(pb->descriptor, name);

	ck_assert_ptr_nonnull(f);
	if (!*(const protobuf_c_boolean *)((const char *)pb + f->quantifier_offset))
		return MS_UNKNOWN;
	return *(const uint64_t *)((const char *)pb + f->offset);
}

/* The encoder puts each struct field into the wire field of the same name. */
START_TEST(test_reflection_wire)
{
	struct ms_msg m;
	Memshare__Envelope *env;
	uint8_t *frame;
	size_t flen;

	full_report(&m);
	for (size_t i = 0; i < sizeof(meminfo_fields) / sizeof(meminfo_fields[0]); i++)
		if (i % 5 == 3)
			*(uint64_t *)((char *)&m.u.report.meminfo + meminfo_fields[i].offset) =
				MS_UNKNOWN;
	for (size_t i = 0; i < sizeof(vmstat_fields) / sizeof(vmstat_fields[0]); i++)
		if (i % 4 == 2)
			*(uint64_t *)((char *)&m.u.report.vmstat + vmstat_fields[i].offset) =
				MS_UNKNOWN;
	ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &frame, &flen), 0);
	env = memshare__envelope__unpack(NULL, flen - 4, frame + 4);
	ck_assert_ptr_nonnull(env);
	ck_assert_int_eq(env->body_case, MEMSHARE__ENVELOPE__BODY_REPORT);
	for (size_t i = 0; i < sizeof(meminfo_fields) / sizeof(meminfo_fields[0]); i++) {
		uint64_t want = *(uint64_t *)((char *)&m.u.report.meminfo + meminfo_fields[i].offset);

		ck_assert_msg(pb_u64(&env->report->meminfo->base, meminfo_fields[i].name) == want,
			      "meminfo %s", meminfo_fields[i].name);
	}
	for (size_t i = 0; i < sizeof(vmstat_fields) / sizeof(vmstat_fields[0]); i++) {
		uint64_t want = *(uint64_t *)((char *)&m.u.report.vmstat + vmstat_fields[i].offset);

		ck_assert_msg(pb_u64(&env->report->vmstat->base, vmstat_fields[i].name) == want,
			      "vmstat %s", vmstat_fields[i].name);
	}
	memshare__envelope__free_unpacked(env, NULL);
	free(frame);
}
END_TEST

/* ---- 3. streaming ---------------------------------------------------------- */

/* A Report frame of a few KiB: several nodes with 16 bins. */
static void big_report(struct ms_msg *m, uint32_t nr_nodes)
{
	int32_t ids[256];

	ck_assert_uint_le(nr_nodes, 256);
	for (uint32_t i = 0; i < nr_nodes; i++)
		ids[i] = (int32_t)(i * 2);
	full_report(m);
	m->u.report.lru = make_lru(MS_LRU_SOURCE_MGLRU, ids, nr_nodes, MS_LRU_MAX_BINS);
}

static void encode_ok(const struct ms_msg *m, uint8_t **frame, size_t *flen)
{
	ck_assert_int_eq(ms_msg_encode(m, MS_FRAME_HARD_MAX_BYTES, frame, flen), 0);
}

/* Decode @payload and compare with @want. */
static void decode_eq(const uint8_t *payload, size_t len, const struct ms_msg *want)
{
	struct ms_msg out;
	char why[WHY_SIZE] = "";
	int r = ms_msg_decode(payload, len, &out, why, sizeof(why));

	ck_assert_msg(r == 0, "decode: %d (%s)", r, why);
	check_msg_eq(want, &out);
	ms_msg_clear(&out);
}

/* Push @frame in chunks of @chunk bytes: no frame before the last byte. */
static void push_chunked(const struct ms_msg *m, const uint8_t *frame, size_t flen, size_t chunk,
			 bool use_space)
{
	struct ms_frame_decoder d;
	const uint8_t *payload = NULL;
	size_t plen = 0, off = 0;

	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	while (off < flen) {
		size_t k = flen - off < chunk ? flen - off : chunk;

		if (use_space) {
			size_t room = 0;
			uint8_t *dst = ms_frame_decoder_space(&d, &room);

			ck_assert_ptr_nonnull(dst);
			ck_assert_uint_gt(room, 0);
			if (k > room)
				k = room;
			memcpy(dst, frame + off, k);
			ms_frame_decoder_commit(&d, k);
		} else {
			ck_assert_int_eq(ms_frame_decoder_push(&d, frame + off, k), 0);
		}
		off += k;
		if (off < flen) {
			ck_assert_msg(ms_frame_decoder_next(&d, &payload, &plen) == 0,
				      "frame out after %zu of %zu bytes (chunk %zu)", off, flen, chunk);
			ck_assert_uint_eq(ms_frame_decoder_pending(&d), off);
		}
	}
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_uint_eq(plen, flen - 4);
	ck_assert_mem_eq(payload, frame + 4, plen);
	if (m)
		decode_eq(payload, plen, m);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), 0);
	ms_frame_decoder_release(&d);
}

START_TEST(test_stream_every_chunk_size)
{
	struct ms_msg m;
	uint8_t *frame;
	size_t flen;

	big_report(&m, 3);
	encode_ok(&m, &frame, &flen);
	ck_assert_uint_gt(flen, 1000);
	for (size_t chunk = 1; chunk <= flen; chunk++)
		push_chunked(&m, frame, flen, chunk, false);
	for (size_t chunk = 1; chunk <= flen; chunk += 37)
		push_chunked(&m, frame, flen, chunk, true);
	free(frame);
	free(m.u.report.lru);
}
END_TEST

/* Every one of the 2^(n-1) ways to split a small frame. */
START_TEST(test_stream_every_split)
{
	struct ms_msg m;
	uint8_t *frame;
	size_t flen;

	msg_init(&m, MS_MSG_PING);
	m.seq = 3;
	m.u.nonce = 0x1234;
	encode_ok(&m, &frame, &flen);
	ck_assert_uint_le(flen, 18);
	for (uint32_t cuts = 0; cuts < 1u << (flen - 1); cuts++) {
		struct ms_frame_decoder d;
		const uint8_t *payload = NULL;
		size_t plen = 0, start = 0;

		ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
		for (size_t i = 1; i <= flen; i++) {
			/* Bit i-1 set: cut after byte i. */
			if (i < flen && !(cuts & 1u << (i - 1)))
				continue;
			ck_assert_int_eq(ms_frame_decoder_push(&d, frame + start, i - start), 0);
			start = i;
			ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), i == flen);
		}
		ck_assert_uint_eq(plen, flen - 4);
		ck_assert_mem_eq(payload, frame + 4, plen);
		if (cuts % 1024 == 0)
			decode_eq(payload, plen, &m);
		ck_assert_uint_eq(ms_frame_decoder_pending(&d), 0);
		ms_frame_decoder_release(&d);
	}
	free(frame);
}
END_TEST

START_TEST(test_stream_several_frames_one_push)
{
	struct ms_msg ping, rep;
	struct ms_frame_decoder d;
	const uint8_t *payload;
	uint8_t *f1, *f2, *all;
	size_t l1, l2, plen;

	msg_init(&ping, MS_MSG_PING);
	ping.u.nonce = 5;
	big_report(&rep, 2);
	encode_ok(&ping, &f1, &l1);
	encode_ok(&rep, &f2, &l2);
	all = malloc(2 * (l1 + l2));
	ck_assert_ptr_nonnull(all);
	memcpy(all, f1, l1);
	memcpy(all + l1, f2, l2);
	memcpy(all + l1 + l2, f1, l1);
	memcpy(all + 2 * l1 + l2, f2, l2);

	/* Two whole frames in one push. */
	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	ck_assert_int_eq(ms_frame_decoder_push(&d, all, l1 + l2), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	decode_eq(payload, plen, &ping);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	decode_eq(payload, plen, &rep);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), 0);

	/* Frame, frame, and most of a third in one push; the rest later. */
	ck_assert_int_eq(ms_frame_decoder_push(&d, all, l1 + l2 + l1 - 1), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	decode_eq(payload, plen, &ping);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	decode_eq(payload, plen, &rep);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), l1 - 1);
	ck_assert_int_eq(ms_frame_decoder_push(&d, all + 2 * l1 + l2 - 1, l2 + 1), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	decode_eq(payload, plen, &ping);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	decode_eq(payload, plen, &rep);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ms_frame_decoder_release(&d);

	free(all);
	free(f1);
	free(f2);
	free(rep.u.report.lru);
}
END_TEST

/* A frame bigger than the decoder's first buffer, pushed at once. */
START_TEST(test_stream_large_frame_one_push)
{
	struct ms_msg m;
	struct ms_frame_decoder d;
	const uint8_t *payload;
	uint8_t *frame;
	size_t flen, plen;

	big_report(&m, 48);
	encode_ok(&m, &frame, &flen);
	ck_assert_uint_gt(flen, 3 * 4096);
	ck_assert_uint_lt(flen, MS_FRAME_DEFAULT_MAX_BYTES);
	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	ck_assert_int_eq(ms_frame_decoder_push(&d, frame, flen), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	decode_eq(payload, plen, &m);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ms_frame_decoder_release(&d);

	/* Same frame against a decoder limited to exactly its size. */
	ms_frame_decoder_init(&d, (uint32_t)flen);
	ck_assert_int_eq(ms_frame_decoder_push(&d, frame, flen), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_uint_eq(plen, flen - 4);
	ms_frame_decoder_release(&d);

	free(frame);
	free(m.u.report.lru);
}
END_TEST

START_TEST(test_stream_partial_header)
{
	static const uint8_t hdr[4] = { 0, 0, 0, 3 };
	struct ms_frame_decoder d;
	const uint8_t *payload;
	size_t plen;

	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), 0);
	ck_assert_int_eq(ms_frame_decoder_push(&d, hdr, 0), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(ms_frame_decoder_push(&d, hdr + i, 1), 0);
		ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
		ck_assert_uint_eq(ms_frame_decoder_pending(&d), i + 1);
	}
	/* Whole header, payload still missing. */
	ck_assert_int_eq(ms_frame_decoder_push(&d, hdr + 3, 1), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ck_assert_int_eq(ms_frame_decoder_push(&d, "abc", 3), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_uint_eq(plen, 3);
	ck_assert_mem_eq(payload, "abc", 3);
	ms_frame_decoder_release(&d);

	/* An empty frame (length 0) is a frame; its payload is no Envelope. */
	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	ck_assert_int_eq(ms_frame_decoder_push(&d, "\0\0\0\0", 4), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_uint_eq(plen, 0);
	ms_frame_decoder_release(&d);
}
END_TEST

START_TEST(test_stream_oversized)
{
	struct ms_frame_decoder d;
	const uint8_t *payload;
	uint8_t hdr[4], *buf;
	size_t plen;
	const size_t max = MS_FRAME_DEFAULT_MAX_BYTES;

	/* One byte over the default limit: refused on the header alone. */
	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	put_be32(hdr, (uint32_t)(max - 4 + 1));
	ck_assert_int_eq(ms_frame_decoder_push(&d, hdr, 4), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), -EMSGSIZE);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), -EMSGSIZE);
	ms_frame_decoder_release(&d);

	/* The largest length there is. */
	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	ck_assert_int_eq(ms_frame_decoder_push(&d, "\xff\xff\xff\xff", 4), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), -EMSGSIZE);
	ms_frame_decoder_release(&d);

	/* Exactly the limit passes, pushed in one go or header first. */
	buf = calloc(1, max);
	ck_assert_ptr_nonnull(buf);
	put_be32(buf, (uint32_t)(max - 4));
	ms_frame_decoder_init(&d, MS_FRAME_DEFAULT_MAX_BYTES);
	ck_assert_int_eq(ms_frame_decoder_push(&d, buf, 4), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ck_assert_int_eq(ms_frame_decoder_push(&d, buf + 4, max - 4), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_uint_eq(plen, max - 4);
	ck_assert_int_eq(ms_frame_decoder_push(&d, buf, max), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_uint_eq(plen, max - 4);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), 0);
	ms_frame_decoder_release(&d);
	free(buf);

	/* A tiny limit: a max_frame below the header is raised to header + 1. */
	ms_frame_decoder_init(&d, 0);
	ck_assert_int_eq(ms_frame_decoder_push(&d, "\0\0\0\1x", 5), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_int_eq(ms_frame_decoder_push(&d, "\0\0\0\2", 4), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), -EMSGSIZE);
	ms_frame_decoder_release(&d);
}
END_TEST

/* The decoder holds at most one maximal frame plus a read's worth. */
START_TEST(test_stream_buffer_bound)
{
	struct ms_frame_decoder d;
	const uint8_t *payload;
	size_t plen, hold;
	uint8_t *zeros;

	ms_frame_decoder_init(&d, 64);
	hold = 64 + 4096;
	zeros = calloc(1, hold + 1);     /* hold/4 empty frames */
	ck_assert_ptr_nonnull(zeros);
	ck_assert_int_eq(ms_frame_decoder_push(&d, zeros, hold), 0);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), hold);
	ck_assert_int_eq(ms_frame_decoder_push(&d, zeros, 1), -ENOBUFS);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), hold);
	/* Draining makes room again. */
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_uint_eq(plen, 0);
	ck_assert_int_eq(ms_frame_decoder_push(&d, zeros, 4), 0);
	ck_assert_int_eq(ms_frame_decoder_push(&d, zeros, 1), -ENOBUFS);
	for (size_t i = 0; i < hold / 4; i++)
		ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 0);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), 0);
	/* More than the bound in one push: keeps what fits, says so. */
	ck_assert_int_eq(ms_frame_decoder_push(&d, zeros, hold + 1), -ENOBUFS);
	ck_assert_uint_eq(ms_frame_decoder_pending(&d), hold);
	ms_frame_decoder_release(&d);
	free(zeros);
}
END_TEST

START_TEST(test_encode_limit)
{
	struct ms_msg m, out;
	struct ms_frame_decoder d;
	const uint8_t *payload;
	uint8_t *frame, *frame2 = NULL;
	size_t flen, flen2 = 0, plen;
	char why[WHY_SIZE];

	big_report(&m, 8);
	encode_ok(&m, &frame, &flen);
	ck_assert_uint_le(flen, UINT32_MAX);

	/* Exactly at the limit: encoded, and accepted by a decoder so bound. */
	ck_assert_int_eq(ms_msg_encode(&m, (uint32_t)flen, &frame2, &flen2), 0);
	ck_assert_uint_eq(flen2, flen);
	ck_assert_mem_eq(frame2, frame, flen);
	free(frame2);
	ms_frame_decoder_init(&d, (uint32_t)flen);
	ck_assert_int_eq(ms_frame_decoder_push(&d, frame, flen), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), 1);
	ck_assert_int_eq(ms_msg_decode(payload, plen, &out, why, sizeof(why)), 0);
	check_msg_eq(&m, &out);
	ms_msg_clear(&out);
	ms_frame_decoder_release(&d);

	/* One byte less: -EMSGSIZE on both ends, the decoder from the header. */
	frame2 = NULL;
	flen2 = 0;
	ck_assert_int_eq(ms_msg_encode(&m, (uint32_t)flen - 1, &frame2, &flen2), -EMSGSIZE);
	ck_assert_ptr_null(frame2);
	ck_assert_uint_eq(flen2, 0);
	ms_frame_decoder_init(&d, (uint32_t)flen - 1);
	ck_assert_int_eq(ms_frame_decoder_push(&d, frame, 4), 0);
	ck_assert_int_eq(ms_frame_decoder_next(&d, &payload, &plen), -EMSGSIZE);
	ms_frame_decoder_release(&d);
	free(frame);
	free(m.u.report.lru);

	/* Bigger than the default limit. */
	big_report(&m, 256);
	encode_ok(&m, &frame, &flen);
	ck_assert_uint_gt(flen, MS_FRAME_DEFAULT_MAX_BYTES);
	free(frame);
	ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_DEFAULT_MAX_BYTES, &frame2, &flen2),
			 -EMSGSIZE);
	ck_assert_ptr_null(frame2);
	free(m.u.report.lru);

	/* More nodes than a peer would accept. */
	m.u.report.lru = calloc(1, sizeof(*m.u.report.lru) +
				      (MS_MAX_NODES + 1) * sizeof(m.u.report.lru->nodes[0]));
	ck_assert_ptr_nonnull(m.u.report.lru);
	m.u.report.lru->source = MS_LRU_SOURCE_MGLRU;
	m.u.report.lru->nr_nodes = MS_MAX_NODES + 1;
	for (uint32_t i = 0; i <= MS_MAX_NODES; i++)
		m.u.report.lru->nodes[i].node = (int32_t)i;
	ck_assert_int_eq(ms_msg_encode(&m, MS_FRAME_HARD_MAX_BYTES, &frame2, &flen2), -EMSGSIZE);
	ck_assert_ptr_null(frame2);
	free(m.u.report.lru);
}
END_TEST

/* ---- 4. hostile input ------------------------------------------------------ */

#define PB_MAX_BINS (MS_LRU_MAX_BINS + 2)

/* Storage for one valid Envelope of each kind, built with the generated API. */
struct pb {
	Memshare__Envelope env;
	Memshare__Hello hello;
	Memshare__Welcome welcome;
	uint64_t edges[MS_LRU_MAX_BINS + 1];
	Memshare__Report report;
	Memshare__Psi psi;
	Memshare__PsiStat some, full;
	Memshare__MemInfo meminfo;
	Memshare__VmStat vmstat;
	Memshare__LruSummary lru;
	Memshare__LruNode *nodes;
	Memshare__LruNode **node_ptrs;
	Memshare__LruBin *bins;                /* nr_nodes * PB_MAX_BINS */
	Memshare__LruBin **bin_ptrs;
	Memshare__ReclaimRequest rreq;
	Memshare__ReclaimResult rres;
	Memshare__Error error;
	Memshare__Goodbye goodbye;
	char str[3][128];
};

static struct pb P;

static void pb_setup(void)
{
	memset(&P, 0, sizeof(P));
}

static void pb_teardown(void)
{
	free(P.nodes);
	free(P.node_ptrs);
	free(P.bins);
	free(P.bin_ptrs);
	memset(&P, 0, sizeof(P));
}

static void pb_env(Memshare__Envelope__BodyCase body)
{
	memshare__envelope__init(&P.env);
	P.env.has_version = 1;
	P.env.version = 1;
	P.env.has_seq = 1;
	P.env.seq = 1;
	P.env.body_case = body;
}

static void pb_hello(void)
{
	pb_env(MEMSHARE__ENVELOPE__BODY_HELLO);
	memshare__hello__init(&P.hello);
	P.hello.has_proto_min = P.hello.has_proto_max = 1;
	P.hello.proto_min = 1;
	P.hello.proto_max = 2;
	strcpy(P.str[0], "0.1.0");
	strcpy(P.str[1], "vm-a");
	strcpy(P.str[2], "0f2b7d1c-3a55-4c2e-9f3e-6e3a9d2c1b00");
	P.hello.agent_version = P.str[0];
	P.hello.guest_name = P.str[1];
	P.hello.boot_id = P.str[2];
	P.env.hello = &P.hello;
}

static void pb_welcome(size_t nr_edges)
{
	pb_env(MEMSHARE__ENVELOPE__BODY_WELCOME);
	memshare__welcome__init(&P.welcome);
	P.welcome.has_proto_version = 1;
	P.welcome.proto_version = 1;
	for (size_t i = 0; i < MS_LRU_MAX_BINS + 1; i++)
		P.edges[i] = 1000 * (i + 1);
	P.welcome.n_bin_edges_ms = nr_edges;
	P.welcome.bin_edges_ms = P.edges;
	P.env.welcome = &P.welcome;
}

static void pb_psi_stat(Memshare__PsiStat *st)
{
	memshare__psi_stat__init(st);
	st->has_avg10 = st->has_avg60 = st->has_avg300 = st->has_total_us = 1;
	st->avg10 = 1.5;
	st->avg60 = 0.25;
	st->avg300 = 0;
	st->total_us = 12345;
}

/* A valid Report with PSI, meminfo and an LRU summary of @nr_nodes nodes. */
static void pb_report(Memshare__LruSource source, size_t nr_nodes, size_t nr_bins)
{
	pb_teardown();
	pb_env(MEMSHARE__ENVELOPE__BODY_REPORT);
	memshare__report__init(&P.report);
	P.report.has_mono_us = 1;
	P.report.mono_us = 1000;
	memshare__psi__init(&P.psi);
	pb_psi_stat(&P.some);
	pb_psi_stat(&P.full);
	P.psi.some = &P.some;
	P.psi.full = &P.full;
	P.report.psi = &P.psi;
	memshare__mem_info__init(&P.meminfo);
	P.meminfo.has_total_bytes = 1;
	P.meminfo.total_bytes = 1ull << 30;
	P.report.meminfo = &P.meminfo;
	memshare__vm_stat__init(&P.vmstat);
	P.vmstat.has_pgscan_bytes = 1;
	P.report.vmstat = &P.vmstat;

	ck_assert_uint_le(nr_bins, PB_MAX_BINS);
	memshare__lru_summary__init(&P.lru);
	P.lru.has_source = 1;
	P.lru.source = source;
	P.nodes = calloc(nr_nodes + 1, sizeof(*P.nodes));
	P.node_ptrs = calloc(nr_nodes + 1, sizeof(*P.node_ptrs));
	P.bins = calloc((nr_nodes + 1) * PB_MAX_BINS, sizeof(*P.bins));
	P.bin_ptrs = calloc((nr_nodes + 1) * PB_MAX_BINS, sizeof(*P.bin_ptrs));
	ck_assert(P.nodes && P.node_ptrs && P.bins && P.bin_ptrs);
	for (size_t i = 0; i < nr_nodes; i++) {
		Memshare__LruNode *n = &P.nodes[i];

		memshare__lru_node__init(n);
		n->has_node = 1;
		n->node = (int32_t)i;
		n->n_bins = nr_bins;
		n->bins = &P.bin_ptrs[i * PB_MAX_BINS];
		/* All PB_MAX_BINS are valid bins, so that a test may raise n_bins. */
		for (size_t j = 0; j < PB_MAX_BINS; j++) {
			Memshare__LruBin *b = &P.bins[i * PB_MAX_BINS + j];

			memshare__lru_bin__init(b);
			if (source == MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU) {
				b->has_min_age_ms = b->has_max_age_ms = 1;
				b->min_age_ms = 1000 * j;
				b->max_age_ms = j + 1 < nr_bins ? 1000 * (j + 1) : MS_AGE_INFINITE;
			}
			b->has_anon_bytes = b->has_file_bytes = 1;
			b->anon_bytes = 4096 * j;
			b->file_bytes = 8192 * j;
			n->bins[j] = b;
		}
		P.node_ptrs[i] = n;
	}
	P.lru.n_nodes = nr_nodes;
	P.lru.nodes = P.node_ptrs;
	P.report.lru = nr_nodes ? &P.lru : NULL;
	P.env.report = &P.report;
}

static void pb_rreq(void)
{
	pb_env(MEMSHARE__ENVELOPE__BODY_RECLAIM_REQUEST);
	memshare__reclaim_request__init(&P.rreq);
	P.rreq.has_id = P.rreq.has_kinds = P.rreq.has_bytes = 1;
	P.rreq.id = 7;
	P.rreq.kinds = MS_RECLAIM_FILE;
	P.rreq.bytes = 1 << 20;
	P.env.reclaim_request = &P.rreq;
}

static void pb_rres(void)
{
	pb_env(MEMSHARE__ENVELOPE__BODY_RECLAIM_RESULT);
	memshare__reclaim_result__init(&P.rres);
	P.rres.has_id = P.rres.has_status = 1;
	P.rres.id = 7;
	P.rres.status = 0;
	P.rres.has_freed_file_bytes = P.rres.has_freed_anon_bytes = P.rres.has_freed_slab_bytes = 1;
	P.rres.freed_file_bytes = 1 << 20;
	P.rres.freed_anon_bytes = 1 << 10;
	P.rres.freed_slab_bytes = 1;
	P.env.reclaim_result = &P.rres;
}

static uint8_t *pb_pack(size_t *len)
{
	size_t n = memshare__envelope__get_packed_size(&P.env);
	uint8_t *buf = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(memshare__envelope__pack(&P.env, buf), n);
	*len = n;
	return buf;
}

/* The current P.env must decode; returns the type. */
static enum ms_msg_type expect_valid_at(int line)
{
	struct ms_msg out;
	char why[WHY_SIZE] = "";
	size_t len;
	uint8_t *buf = pb_pack(&len);
	int r = ms_msg_decode(buf, len, &out, why, sizeof(why));

	free(buf);
	ck_assert_msg(r == 0, "line %d: valid message refused: %d (%s)", line, r, why);
	ms_msg_clear(&out);
	return out.type;
}

/* The current P.env must be refused with -EPROTO and a reason. */
static void expect_proto_at(int line)
{
	struct ms_msg out;
	char why[WHY_SIZE] = "";
	size_t len;
	uint8_t *buf = pb_pack(&len);
	int r;

	memset(&out, 0xa5, sizeof(out));
	r = ms_msg_decode(buf, len, &out, why, sizeof(why));
	free(buf);
	ck_assert_msg(r == -EPROTO, "line %d: hostile message gave %d, not -EPROTO", line, r);
	ck_assert_msg(why[0] != '\0', "line %d: no reason given", line);
	ck_assert_msg(strlen(why) < sizeof(why), "line %d: reason not terminated", line);
	/* Nothing left owned by @out. */
	ck_assert_int_eq(out.type, MS_MSG_NONE);
	ck_assert_ptr_null(out.u.report.lru);
	ms_msg_clear(&out);
}

#define expect_valid() expect_valid_at(__LINE__)
#define expect_proto() expect_proto_at(__LINE__)

START_TEST(test_hostile_envelope)
{
	struct ms_msg out;
	char why[WHY_SIZE] = "";

	/* Empty payload: an Envelope without a version. */
	ck_assert_int_eq(ms_msg_decode((const uint8_t *)"", 0, &out, why, sizeof(why)), -EPROTO);
	ck_assert_str_ne(why, "");
	why[0] = '\0';
	ck_assert_int_eq(ms_msg_decode(NULL, 0, &out, why, sizeof(why)), -EPROTO);
	ck_assert_str_ne(why, "");
	ck_assert_int_eq(ms_msg_decode(NULL, 1, &out, why, sizeof(why)), -EINVAL);
	/* A NULL or tiny reason buffer is fine. */
	ck_assert_int_eq(ms_msg_decode((const uint8_t *)"", 0, &out, NULL, 0), -EPROTO);
	why[0] = 'x';
	ck_assert_int_eq(ms_msg_decode((const uint8_t *)"", 0, &out, why, 1), -EPROTO);
	ck_assert_int_eq(why[0], '\0');

	pb_hello();
	ck_assert_int_eq(expect_valid(), MS_MSG_HELLO);
	P.env.has_version = 0;
	expect_proto();
	P.env.has_version = 1;
	P.env.version = 0;
	expect_proto();

	/* Not protobuf at all: a known field with the wrong wire type, a
	 * truncated varint, a length running past the end. */
	static const uint8_t wrong_type[] = { 0x08, 0x01, 0x50, 0x01 };
	static const uint8_t trunc_varint[] = { 0x08, 0x81 };
	static const uint8_t long_len[] = { 0x08, 0x01, 0x52, 0x7f, 0x08 };

	why[0] = '\0';
	ck_assert_int_eq(ms_msg_decode(wrong_type, sizeof(wrong_type), &out, why, sizeof(why)),
			 -EPROTO);
	ck_assert_str_ne(why, "");
	why[0] = '\0';
	ck_assert_int_eq(ms_msg_decode(trunc_varint, sizeof(trunc_varint), &out, why, sizeof(why)),
			 -EPROTO);
	ck_assert_str_ne(why, "");
	why[0] = '\0';
	ck_assert_int_eq(ms_msg_decode(long_len, sizeof(long_len), &out, why, sizeof(why)),
			 -EPROTO);
	ck_assert_str_ne(why, "");
}
END_TEST

START_TEST(test_hostile_hello)
{
	pb_hello();
	ck_assert_int_eq(expect_valid(), MS_MSG_HELLO);
	P.hello.proto_min = 3;
	P.hello.proto_max = 2;
	expect_proto();
	pb_hello();
	P.hello.proto_min = 0;
	expect_proto();
	pb_hello();
	P.hello.proto_min = P.hello.proto_max = 0;
	expect_proto();
	pb_hello();
	P.hello.has_proto_max = 0;
	expect_proto();
	pb_hello();
	P.hello.has_proto_min = 0;
	expect_proto();

	/* Strings: the longest that fit pass, one more byte is refused. */
	pb_hello();
	memset(P.str[1], 'n', MS_NAME_MAX - 1);
	P.str[1][MS_NAME_MAX - 1] = '\0';
	expect_valid();
	memset(P.str[1], 'n', MS_NAME_MAX);
	P.str[1][MS_NAME_MAX] = '\0';
	expect_proto();
	memset(P.str[1], 'n', sizeof(P.str[1]) - 1);
	P.str[1][sizeof(P.str[1]) - 1] = '\0';
	expect_proto();

	pb_hello();
	memset(P.str[0], 'v', MS_VERSION_STR_MAX - 1);
	P.str[0][MS_VERSION_STR_MAX - 1] = '\0';
	expect_valid();
	P.str[0][MS_VERSION_STR_MAX - 1] = 'v';
	P.str[0][MS_VERSION_STR_MAX] = '\0';
	expect_proto();

	pb_hello();
	memset(P.str[2], 'b', MS_BOOT_ID_MAX - 1);
	P.str[2][MS_BOOT_ID_MAX - 1] = '\0';
	expect_valid();
	P.str[2][MS_BOOT_ID_MAX - 1] = 'b';
	P.str[2][MS_BOOT_ID_MAX] = '\0';
	expect_proto();

	/* Control characters in each string. */
	pb_hello();
	strcpy(P.str[1], "vm\n1");
	expect_proto();
	pb_hello();
	strcpy(P.str[1], "\x1b[31mred");
	expect_proto();
	pb_hello();
	strcpy(P.str[0], "0.1\x7f");
	expect_proto();
	pb_hello();
	strcpy(P.str[2], "\tboot");
	expect_proto();
	/* Non-ASCII is not a control character. */
	pb_hello();
	strcpy(P.str[1], "vm-\xc3\xa9t\xc3\xa9");
	expect_valid();
	pb_hello();
	strcpy(P.str[1], "\xf0\x9f\x90\xa7-vm");              /* U+1F427, 4 bytes */
	expect_valid();
	/* Not UTF-8, or C1 controls: a name must print and go into JSON as is. */
	static const char *const bad_names[] = {
		"\xff\xfe" "vm",          /* not UTF-8 at all */
		"vm\xc2\x9b" "31m",        /* U+009B, the 8-bit CSI */
		"vm\xc2\x85",              /* U+0085, NEL */
		"vm\xc3",                  /* cut sequence */
		"vm\xc0\xae",              /* overlong '.' */
		"vm\xe0\x80\xae",          /* overlong, 3 bytes */
		"vm\xed\xa0\x80",          /* surrogate U+D800 */
		"vm\xf4\x90\x80\x80",      /* above U+10FFFF */
		"vm\x80",                  /* lone continuation byte */
	};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		pb_hello();
		strcpy(P.str[1], bad_names[i]);
		expect_proto();
	}
}
END_TEST

START_TEST(test_hostile_welcome)
{
	pb_welcome(MS_LRU_MAX_BINS - 1);
	ck_assert_int_eq(expect_valid(), MS_MSG_WELCOME);
	pb_welcome(MS_LRU_MAX_BINS);
	expect_proto();
	pb_welcome(MS_LRU_MAX_BINS + 1);
	expect_proto();

	pb_welcome(4);
	expect_valid();
	P.edges[2] = P.edges[1] - 1;
	expect_proto();
	pb_welcome(4);
	P.edges[3] = P.edges[2];
	expect_proto();
	pb_welcome(4);
	P.edges[0] = 0;
	expect_proto();
	pb_welcome(4);
	P.edges[3] = MS_AGE_INFINITE;
	expect_proto();
	pb_welcome(4);
	P.welcome.has_proto_version = 0;
	expect_proto();
	/* The report interval: 0 (the guest's own) or at least 10 ms, as in
	 * Config (found by fuzz-guest). */
	pb_welcome(0);
	P.welcome.has_report_interval_ms = 1;
	P.welcome.report_interval_ms = 0;
	expect_valid();
	P.welcome.report_interval_ms = 10;
	expect_valid();
	P.welcome.report_interval_ms = 9;
	expect_proto();
	P.welcome.report_interval_ms = 1;
	expect_proto();
}
END_TEST

START_TEST(test_hostile_report)
{
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 2, 4);
	ck_assert_int_eq(expect_valid(), MS_MSG_REPORT);

	P.report.has_mono_us = 0;
	expect_proto();
	P.report.has_mono_us = 1;
	P.report.has_reason = 1;
	P.report.reason = 2;
	expect_valid();
	P.report.reason = 3;
	expect_proto();
	P.report.has_reason = 0;

	/* meminfo total_bytes: absent, or the value that means "unknown". */
	P.report.meminfo = NULL;
	expect_proto();
	P.report.meminfo = &P.meminfo;
	P.meminfo.has_total_bytes = 0;
	P.meminfo.has_free_bytes = 1;
	expect_proto();
	P.meminfo.has_total_bytes = 1;
	P.meminfo.total_bytes = MS_UNKNOWN;
	expect_proto();
	P.meminfo.total_bytes = 1 << 20;
	expect_valid();

	/* No vmstat at all is fine: every counter unknown. */
	P.report.vmstat = NULL;
	expect_valid();
}
END_TEST

START_TEST(test_hostile_psi)
{
	Memshare__PsiStat *lines[] = { &P.some, &P.full };

	for (size_t l = 0; l < 2; l++) {
		Memshare__PsiStat *st = lines[l];

		pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
		expect_valid();
		st->avg10 = 150;
		expect_proto();
		pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
		st->avg10 = 100;
		expect_valid();
		st->avg10 = 100.0001;
		expect_proto();
		pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
		st->avg60 = NAN;
		expect_proto();
		pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
		st->avg300 = -0.5;
		expect_proto();
		pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
		st->avg10 = INFINITY;
		expect_proto();
		pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
		st->avg60 = -NAN;
		expect_proto();
		pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
		st->has_total_us = 0;
		expect_proto();
		pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
		st->has_avg300 = 0;
		expect_proto();
		pb_teardown();
	}
	/* "full" alone, without "some". */
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 1);
	P.psi.some = NULL;
	expect_proto();
	/* "some" alone is fine. */
	P.psi.some = &P.some;
	P.psi.full = NULL;
	expect_valid();
}
END_TEST

START_TEST(test_hostile_lru_nodes)
{
	/* The most nodes a peer may send passes; 2000 does not. */
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 2000, 2);
	P.lru.n_nodes = MS_MAX_NODES;
	expect_valid();
	P.lru.n_nodes = MS_MAX_NODES + 1;
	expect_proto();
	P.lru.n_nodes = 2000;
	expect_proto();
	pb_teardown();

	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 3, 2);
	expect_valid();
	P.nodes[1].node = 5;
	P.nodes[2].node = 4;
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 3, 2);
	P.nodes[2].node = 1;
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 3, 2);
	P.nodes[0].node = -1;
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 3, 2);
	P.nodes[2].node = 65535;
	expect_valid();
	P.nodes[2].node = 65536;
	expect_proto();
	P.nodes[2].node = INT32_MAX;
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 3, 2);
	P.nodes[1].has_node = 0;
	expect_proto();
	pb_teardown();

	/* Source: unspecified, unknown or absent. */
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 2);
	P.lru.source = MEMSHARE__LRU_SOURCE__LRU_SOURCE_UNSPECIFIED;
	expect_proto();
	P.lru.source = (Memshare__LruSource)7;
	expect_proto();
	P.lru.source = MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU;
	P.lru.has_source = 0;
	expect_proto();
}
END_TEST

START_TEST(test_hostile_lru_bins)
{
	Memshare__LruBin *tmp;

	/* Node 1 of 2: 16 bins pass, 17 (tiling [0, inf) too) do not. */
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 2, MS_LRU_MAX_BINS);
	expect_valid();
	P.nodes[1].n_bins = MS_LRU_MAX_BINS + 1;
	P.bins[PB_MAX_BINS + MS_LRU_MAX_BINS - 1].max_age_ms = 1000 * MS_LRU_MAX_BINS;
	P.bins[PB_MAX_BINS + MS_LRU_MAX_BINS].min_age_ms = 1000 * MS_LRU_MAX_BINS;
	P.bins[PB_MAX_BINS + MS_LRU_MAX_BINS].max_age_ms = MS_AGE_INFINITE;
	expect_proto();

	/* MGLRU bins must tile [0, inf) in order. */
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	expect_valid();
	tmp = P.nodes[0].bins[1];             /* out of order: 0-1, 2-3, 1-2, 3-inf */
	P.nodes[0].bins[1] = P.nodes[0].bins[2];
	P.nodes[0].bins[2] = tmp;
	expect_proto();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[1].min_age_ms = 2000;          /* empty: [2000, 2000) */
	P.bins[0].max_age_ms = 2000;
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[1].min_age_ms = 3000;          /* after its own end */
	P.bins[1].max_age_ms = 2000;
	P.bins[2].min_age_ms = 2000;
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[2].min_age_ms = 2500;          /* gap [2000, 2500) */
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[2].min_age_ms = 1500;          /* overlap */
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[0].min_age_ms = 1;             /* does not start at 0 */
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[3].max_age_ms = 4000;          /* last bin not open-ended */
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[1].max_age_ms = MS_AGE_INFINITE; /* open-ended before the last */
	P.bins[2].min_age_ms = MS_AGE_INFINITE;
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[3].has_max_age_ms = 0;         /* unknown ages */
	expect_proto();
	pb_teardown();
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU, 1, 4);
	P.bins[2].has_min_age_ms = 0;
	expect_proto();
	pb_teardown();

	/* Classic: exactly two bins. */
	pb_report(MEMSHARE__LRU_SOURCE__LRU_SOURCE_CLASSIC, 2, 2);
	expect_valid();
	P.nodes[1].n_bins = 3;
	expect_proto();
	P.nodes[1].n_bins = 1;
	expect_proto();
	P.nodes[1].n_bins = 0;
	expect_proto();
}
END_TEST

START_TEST(test_hostile_reclaim)
{
	pb_rreq();
	ck_assert_int_eq(expect_valid(), MS_MSG_RECLAIM_REQUEST);
	P.rreq.kinds = 0;
	expect_proto();
	P.rreq.kinds = 0x80;
	expect_proto();
	P.rreq.kinds = MS_RECLAIM_ALL_KINDS | 0x8;
	expect_proto();
	P.rreq.kinds = MS_RECLAIM_ALL_KINDS;
	expect_valid();
	P.rreq.has_kinds = 0;
	expect_proto();
	pb_rreq();
	P.rreq.has_id = 0;
	expect_proto();

	pb_rres();
	ck_assert_int_eq(expect_valid(), MS_MSG_RECLAIM_RESULT);
	P.rres.status = 1;
	expect_proto();
	P.rres.status = INT32_MAX;
	expect_proto();
	P.rres.status = -4096;
	expect_proto();
	P.rres.status = INT32_MIN;
	expect_proto();
	P.rres.status = -EAGAIN;
	expect_valid();
	P.rres.has_status = 0;
	expect_proto();
	pb_rres();
	P.rres.has_id = 0;
	expect_proto();

	/* freed bytes whose sum does not fit 64 bits. */
	pb_rres();
	P.rres.freed_file_bytes = UINT64_MAX - (1 << 10) - 1;
	expect_valid();
	P.rres.freed_file_bytes = UINT64_MAX;
	expect_proto();
	pb_rres();
	P.rres.freed_file_bytes = UINT64_MAX - (1 << 10);
	expect_proto();          /* file + anon fits, + slab does not */
	pb_rres();
	P.rres.freed_slab_bytes = UINT64_MAX;
	expect_proto();
}
END_TEST

/* Error and Goodbye text is cut and cleaned, never refused. */
START_TEST(test_hostile_text)
{
	char big[1024];
	struct ms_msg out;
	char why[WHY_SIZE];
	uint8_t *buf;
	size_t len;

	memset(big, 'e', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[3] = '\r';
	pb_env(MEMSHARE__ENVELOPE__BODY_ERROR);
	memshare__error__init(&P.error);
	P.error.has_code = 1;
	P.error.code = UINT32_MAX;
	P.error.message = big;
	P.env.error = &P.error;
	buf = pb_pack(&len);
	ck_assert_int_eq(ms_msg_decode(buf, len, &out, why, sizeof(why)), 0);
	free(buf);
	ck_assert_int_eq(out.type, MS_MSG_ERROR);
	ck_assert_int_eq(out.u.error.code, 4095);
	ck_assert_uint_eq(strlen(out.u.error.message), MS_ERROR_MESSAGE_MAX - 1);
	ck_assert_int_eq(out.u.error.message[3], '?');

	pb_env(MEMSHARE__ENVELOPE__BODY_GOODBYE);
	memshare__goodbye__init(&P.goodbye);
	P.goodbye.reason = big;
	P.env.goodbye = &P.goodbye;
	buf = pb_pack(&len);
	ck_assert_int_eq(ms_msg_decode(buf, len, &out, why, sizeof(why)), 0);
	free(buf);
	ck_assert_int_eq(out.type, MS_MSG_GOODBYE);
	ck_assert_uint_eq(strlen(out.u.reason), MS_ERROR_MESSAGE_MAX - 1);
	ck_assert_int_eq(out.u.reason[3], '?');
}
END_TEST

/* Append a varint to @p; returns the bytes written. */
static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* Unknown fields and bodies: a newer peer, not an error. */
START_TEST(test_forward_compat)
{
	uint8_t buf[512], *inner;
	size_t n = 0, ilen;
	struct ms_msg out;
	char why[WHY_SIZE] = "";
	int r;

	/* version 1, seq 5, body field 99 (length-delimited) "abc". */
	n += put_varint(buf + n, 1 << 3 | 0);
	n += put_varint(buf + n, 1);
	n += put_varint(buf + n, 2 << 3 | 0);
	n += put_varint(buf + n, 5);
	n += put_varint(buf + n, 99 << 3 | 2);
	n += put_varint(buf + n, 3);
	memcpy(buf + n, "abc", 3);
	n += 3;
	r = ms_msg_decode(buf, n, &out, why, sizeof(why));
	ck_assert_msg(r == 0, "unknown body refused: %d (%s)", r, why);
	ck_assert_int_eq(out.type, MS_MSG_UNKNOWN);
	ck_assert_uint_eq(out.version, 1);
	ck_assert_uint_eq(out.seq, 5);
	ms_msg_clear(&out);

	/* A varint and a fixed64 field nobody knows, and no body at all. */
	n = 0;
	n += put_varint(buf + n, 1 << 3 | 0);
	n += put_varint(buf + n, 2);
	n += put_varint(buf + n, 4000 << 3 | 0);
	n += put_varint(buf + n, UINT64_MAX);
	n += put_varint(buf + n, 100 << 3 | 1);
	memset(buf + n, 0xee, 8);
	n += 8;
	ck_assert_int_eq(ms_msg_decode(buf, n, &out, why, sizeof(why)), 0);
	ck_assert_int_eq(out.type, MS_MSG_UNKNOWN);
	ck_assert_uint_eq(out.version, 2);
	ms_msg_clear(&out);

	/* A Hello carrying an unknown field 50, inside an Envelope that carries
	 * unknown field 20: a Hello as usual. */
	pb_hello();
	ilen = memshare__hello__get_packed_size(&P.hello);
	inner = malloc(ilen + 16);
	ck_assert_ptr_nonnull(inner);
	memshare__hello__pack(&P.hello, inner);
	ilen += put_varint(inner + ilen, 50 << 3 | 2);
	ilen += put_varint(inner + ilen, 2);
	inner[ilen++] = 'h';
	inner[ilen++] = 'i';
	n = 0;
	n += put_varint(buf + n, 1 << 3 | 0);
	n += put_varint(buf + n, 1);
	n += put_varint(buf + n, 20 << 3 | 0);
	n += put_varint(buf + n, 12345);
	n += put_varint(buf + n, 10 << 3 | 2);
	n += put_varint(buf + n, ilen);
	ck_assert_uint_lt(n + ilen, sizeof(buf));
	memcpy(buf + n, inner, ilen);
	n += ilen;
	free(inner);
	r = ms_msg_decode(buf, n, &out, why, sizeof(why));
	ck_assert_msg(r == 0, "Hello with unknown fields refused: %d (%s)", r, why);
	ck_assert_int_eq(out.type, MS_MSG_HELLO);
	ck_assert_uint_eq(out.u.hello.proto_min, 1);
	ck_assert_uint_eq(out.u.hello.proto_max, 2);
	ck_assert_str_eq(out.u.hello.guest_name, "vm-a");
	ms_msg_clear(&out);
}
END_TEST

/* What a successful decode promises, whatever the input. */
static void check_decoded_sane(const struct ms_msg *m)
{
	ck_assert_uint_ne(m->version, 0);
	switch (m->type) {
	case MS_MSG_HELLO:
		ck_assert_uint_lt(strnlen(m->u.hello.agent_version, MS_VERSION_STR_MAX),
				  MS_VERSION_STR_MAX);
		ck_assert_uint_lt(strnlen(m->u.hello.guest_name, MS_NAME_MAX), MS_NAME_MAX);
		ck_assert_uint_lt(strnlen(m->u.hello.boot_id, MS_BOOT_ID_MAX), MS_BOOT_ID_MAX);
		ck_assert_uint_ge(m->u.hello.proto_min, 1);
		ck_assert_uint_le(m->u.hello.proto_min, m->u.hello.proto_max);
		break;
	case MS_MSG_WELCOME:
		ck_assert_uint_lt(m->u.welcome.nr_bin_edges, MS_LRU_MAX_BINS);
		break;
	case MS_MSG_REPORT: {
		const struct ms_lru_summary *s = m->u.report.lru;

		ck_assert_uint_ne(m->u.report.meminfo.total_bytes, MS_UNKNOWN);
		if (m->u.report.has_psi)
			ck_assert(m->u.report.psi.present & MS_PSI_SOME);
		if (!s)
			break;
		ck_assert_uint_le(s->nr_nodes, MS_MAX_NODES);
		ck_assert(s->source == MS_LRU_SOURCE_MGLRU || s->source == MS_LRU_SOURCE_CLASSIC);
		for (uint32_t i = 0; i < s->nr_nodes; i++)
			ck_assert_uint_le(s->nodes[i].nr_bins, MS_LRU_MAX_BINS);
		break;
	}
	case MS_MSG_RECLAIM_REQUEST:
		ck_assert_uint_ne(m->u.reclaim_request.kinds, 0);
		ck_assert_uint_eq(m->u.reclaim_request.kinds & ~MS_RECLAIM_ALL_KINDS, 0);
		break;
	case MS_MSG_RECLAIM_RESULT:
		ck_assert_int_le(m->u.reclaim_result.result.status, 0);
		break;
	case MS_MSG_ERROR:
		ck_assert_uint_lt(strnlen(m->u.error.message, MS_ERROR_MESSAGE_MAX),
				  MS_ERROR_MESSAGE_MAX);
		break;
	case MS_MSG_GOODBYE:
		ck_assert_uint_lt(strnlen(m->u.reason, MS_ERROR_MESSAGE_MAX), MS_ERROR_MESSAGE_MAX);
		break;
	default:
		break;
	}
}

/* Decode @buf: -EPROTO with a reason, or a sane message that survives a
 * second round trip unchanged. */
static void fuzz_one(const uint8_t *buf, size_t len, size_t *ok)
{
	struct ms_msg out, again;
	char why[WHY_SIZE] = "";
	uint8_t *frame = NULL;
	size_t flen;
	int r = ms_msg_decode(len ? buf : NULL, len, &out, why, sizeof(why));

	if (r == -EPROTO) {
		ck_assert_msg(why[0] != '\0', "no reason for a refusal");
		return;
	}
	ck_assert_msg(r == 0, "decode gave %d", r);
	(*ok)++;
	check_decoded_sane(&out);
	if (out.type != MS_MSG_UNKNOWN) {
		ck_assert_int_eq(ms_msg_encode(&out, MS_FRAME_HARD_MAX_BYTES, &frame, &flen), 0);
		r = ms_msg_decode(frame + 4, flen - 4, &again, why, sizeof(why));
		ck_assert_msg(r == 0, "re-encoded %s refused: %s", ms_msg_type_name(out.type), why);
		check_msg_eq(&out, &again);
		ms_msg_clear(&again);
		free(frame);
	}
	ms_msg_clear(&out);
}

START_TEST(test_fuzz_garbage)
{
	uint8_t buf[512];
	size_t ok = 0;

	rng_seed(0x6d656d7368617265ull);
	for (int it = 0; it < 5000; it++) {
		size_t len = rng_below(sizeof(buf) + 1);

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)rng_next();
		/* Sometimes start like an Envelope, to get past the version. */
		if (len >= 2 && it % 2)
			buf[0] = 0x08, buf[1] = 0x01;
		fuzz_one(buf, len, &ok);
	}
}
END_TEST

/* Valid messages with a few bytes changed, cut or inserted. */
START_TEST(test_fuzz_mutations)
{
	struct ms_msg seeds[4];
	uint8_t *frames[4], buf[16384];
	size_t flens[4], ok = 0;

	big_report(&seeds[0], 3);
	seeds[0].u.report.lru->nodes[1].nr_bins = 3;
	seeds[0].u.report.lru->nodes[1].bins[2].max_age_ms = MS_AGE_INFINITE;
	full_report(&seeds[1]);
	seeds[1].u.report.lru = make_lru(MS_LRU_SOURCE_CLASSIC, (const int32_t[]){ 0, 1 }, 2, 2);
	msg_init(&seeds[2], MS_MSG_HELLO);
	seeds[2].u.hello = (struct ms_hello){ .proto_min = 1, .proto_max = 1,
					      .agent_version = "0.1.0", .guest_name = "vm",
					      .boot_id = "id", .page_size_bytes = 4096,
					      .mem_total_bytes = 1 << 30 };
	msg_init(&seeds[3], MS_MSG_WELCOME);
	seeds[3].u.welcome = (struct ms_welcome){ .proto_version = 1, .nr_bin_edges = 3,
						  .bin_edges_ms = { 10, 20, 30 } };
	for (int s = 0; s < 4; s++) {
		encode_ok(&seeds[s], &frames[s], &flens[s]);
		ck_assert_uint_lt(flens[s], sizeof(buf) / 2);
	}

	rng_seed(42);
	for (int it = 0; it < 4000; it++) {
		int s = it % 4;
		size_t len = flens[s] - 4;
		size_t edits = 1 + rng_below(4);

		memcpy(buf, frames[s] + 4, len);
		for (size_t e = 0; e < edits && len; e++) {
			size_t at = rng_below(len);

			switch (rng_below(5)) {
			case 0:
				buf[at] ^= (uint8_t)(1u << rng_below(8));
				break;
			case 1:
				buf[at] = (uint8_t)rng_next();
				break;
			case 2:
				buf[at] = (uint8_t[]){ 0x00, 0x7f, 0x80, 0xff }[rng_below(4)];
				break;
			case 3:
				len = at;
				break;
			default:
				if (len + 1 < sizeof(buf)) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = (uint8_t)rng_next();
					len++;
				}
				break;
			}
		}
		fuzz_one(buf, len, &ok);
	}
	/* The mutations must not all be trivially refused. */
	ck_assert_uint_gt(ok, 100);
	for (int s = 0; s < 4; s++)
		free(frames[s]);
	free(seeds[0].u.report.lru);
	free(seeds[1].u.report.lru);
}
END_TEST

/* Random bytes through the frame decoder: frames, waits or -EMSGSIZE. */
START_TEST(test_fuzz_frames)
{
	uint8_t buf[600];

	rng_seed(7);
	for (int it = 0; it < 500; it++) {
		struct ms_frame_decoder d;
		const uint8_t *payload;
		size_t plen, ok = 0;
		int r = 0;

		ms_frame_decoder_init(&d, 64 + (uint32_t)rng_below(512));
		for (int push = 0; push < 8 && r >= 0; push++) {
			size_t len = rng_below(sizeof(buf));

			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rng_next();
			/* Small lengths, so frames do complete. */
			if (len >= 4 && rng_below(2))
				buf[0] = buf[1] = 0, buf[2] = (uint8_t)rng_below(2);
			ck_assert_int_eq(ms_frame_decoder_push(&d, buf, len), 0);
			while ((r = ms_frame_decoder_next(&d, &payload, &plen)) == 1) {
				ck_assert_uint_le(plen + 4, d.max_frame);
				fuzz_one(payload, plen, &ok);
			}
			ck_assert(r == 0 || r == -EMSGSIZE);
		}
		ms_frame_decoder_release(&d);
	}
}
END_TEST

/* ---- suite ------------------------------------------------------------------ */

/* The worked frames of docs/protocol.md, byte for byte: the encoder makes
 * them and the decoder reads them back. */
START_TEST(test_doc_frames)
{
	static const uint8_t ping[] = { 0x00, 0x00, 0x00, 0x09, 0x08, 0x01, 0x10, 0x07,
					0x82, 0x01, 0x02, 0x08, 0x2a };
	static const uint8_t hello[] = {
		0x00, 0x00, 0x00, 0x23, 0x08, 0x01, 0x10, 0x01, 0x52, 0x1d, 0x08, 0x01, 0x10, 0x01,
		0x18, 0x4d, 0x22, 0x05, 0x30, 0x2e, 0x31, 0x2e, 0x30, 0x2a, 0x03, 0x76, 0x6d, 0x31,
		0x32, 0x00, 0x38, 0x80, 0x20, 0x40, 0x80, 0xa0, 0xff, 0xea, 0x01 };
	static const uint8_t config[] = {
		0x00, 0x00, 0x00, 0x19, 0x08, 0x01, 0x10, 0x02, 0x9a, 0x01, 0x12, 0x08, 0xe8, 0x07,
		0x1a, 0x0a, 0x08, 0x00, 0x10, 0xf0, 0x93, 0x09, 0x18, 0x80, 0x89, 0x7a, 0x20, 0x98,
		0x75 };
	struct ms_msg m;
	uint8_t *frame;
	size_t flen;

	msg_init(&m, MS_MSG_PING);
	m.seq = 7;
	m.u.nonce = 42;
	encode_ok(&m, &frame, &flen);
	ck_assert_uint_eq(flen, sizeof(ping));
	ck_assert_mem_eq(frame, ping, sizeof(ping));
	free(frame);
	decode_eq(ping + 4, sizeof(ping) - 4, &m);

	msg_init(&m, MS_MSG_HELLO);
	m.seq = 1;
	m.u.hello.proto_min = m.u.hello.proto_max = 1;
	m.u.hello.capabilities = MS_CAP_PSI | MS_CAP_MGLRU | MS_CAP_CLASSIC_LRU |
				 MS_CAP_SLAB_RECLAIM;
	ck_assert_uint_eq(m.u.hello.capabilities, 0x4d);
	strcpy(m.u.hello.agent_version, "0.1.0");
	strcpy(m.u.hello.guest_name, "vm1");
	m.u.hello.page_size_bytes = 4096;
	m.u.hello.mem_total_bytes = 492818432;
	decode_eq(hello + 4, sizeof(hello) - 4, &m);
	encode_ok(&m, &frame, &flen);
	ck_assert_uint_eq(flen, sizeof(hello));
	ck_assert_mem_eq(frame, hello, sizeof(hello));
	free(frame);

	msg_init(&m, MS_MSG_CONFIG);
	m.seq = 2;
	m.u.config.report_interval_ms = 1000;
	m.u.config.has_psi_trigger = true;
	m.u.config.psi_trigger.kind = MS_PSI_KIND_SOME;
	m.u.config.psi_trigger.stall_us = 150000;
	m.u.config.psi_trigger.window_us = 2000000;
	m.u.config.keepalive_ms = 15000;
	encode_ok(&m, &frame, &flen);
	ck_assert_uint_eq(flen, sizeof(config));
	ck_assert_mem_eq(frame, config, sizeof(config));
	free(frame);
	decode_eq(config + 4, sizeof(config) - 4, &m);
}
END_TEST

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc;

	tc = tcase_create("roundtrip");
	tcase_add_test(tc, test_roundtrip_hello);
	tcase_add_test(tc, test_roundtrip_welcome);
	tcase_add_test(tc, test_roundtrip_report_minimal);
	tcase_add_test(tc, test_roundtrip_report_full);
	tcase_add_test(tc, test_roundtrip_report_mglru);
	tcase_add_test(tc, test_roundtrip_report_classic);
	tcase_add_test(tc, test_roundtrip_reclaim);
	tcase_add_test(tc, test_roundtrip_small);
	tcase_add_test(tc, test_roundtrip_config);
	tcase_add_test(tc, test_doc_frames);
	tcase_add_test(tc, test_encode_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("reflection");
	tcase_add_test(tc, test_reflection_tables);
	tcase_add_test(tc, test_reflection_wire);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_add_test(tc, test_stream_every_chunk_size);
	tcase_add_test(tc, test_stream_every_split);
	tcase_add_test(tc, test_stream_several_frames_one_push);
	tcase_add_test(tc, test_stream_large_frame_one_push);
	tcase_add_test(tc, test_stream_partial_header);
	tcase_add_test(tc, test_stream_oversized);
	tcase_add_test(tc, test_stream_buffer_bound);
	tcase_add_test(tc, test_encode_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, pb_setup, pb_teardown);
	tcase_add_test(tc, test_hostile_envelope);
	tcase_add_test(tc, test_hostile_hello);
	tcase_add_test(tc, test_hostile_welcome);
	tcase_add_test(tc, test_hostile_report);
	tcase_add_test(tc, test_hostile_psi);
	tcase_add_test(tc, test_hostile_lru_nodes);
	tcase_add_test(tc, test_hostile_lru_bins);
	tcase_add_test(tc, test_hostile_reclaim);
	tcase_add_test(tc, test_hostile_text);
	tcase_add_test(tc, test_forward_compat);
	suite_add_tcase(s, tc);

	tc = tcase_create("fuzz");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_fuzz_garbage);
	tcase_add_test(tc, test_fuzz_mutations);
	tcase_add_test(tc, test_fuzz_frames);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	return testutil_run(codec_suite());
}
