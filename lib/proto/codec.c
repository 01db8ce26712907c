/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Codec between the public message structs and the protobuf-c types of
 * memshare.proto.  Decoding validates every field a peer controls:
 * string lengths, counts, node numbers, bin order, enum ranges.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memshare.pb-c.h"

#include "../internal.h"
#include "codec.h"
#include "frame.h"
#include "../util/text.h"

const char *ms_msg_type_name(enum ms_msg_type type)
{
	static const char *const names[] = {
		[MS_MSG_NONE] = "none",
		[MS_MSG_HELLO] = "Hello",
		[MS_MSG_WELCOME] = "Welcome",
		[MS_MSG_REPORT] = "Report",
		[MS_MSG_RECLAIM_REQUEST] = "ReclaimRequest",
		[MS_MSG_RECLAIM_RESULT] = "ReclaimResult",
		[MS_MSG_ERROR] = "Error",
		[MS_MSG_PING] = "Ping",
		[MS_MSG_PONG] = "Pong",
		[MS_MSG_GOODBYE] = "Goodbye",
		[MS_MSG_UNKNOWN] = "unknown",
		[MS_MSG_CONFIG] = "Config",
	};

	return (unsigned)type < MS_ARRAY_SIZE(names) ? names[type] : "invalid";
}

/*
 * MemInfo and VmStat are flat lists of optional uint64 whose field numbers
 * follow the order of the uint64_t fields of struct ms_meminfo / ms_vmstat
 * (tests/unit/test_codec.c checks every name).  Copy them by reflection
 * instead of writing each field out twice.
 */
static void u64s_to_pb(ProtobufCMessage *pb, const uint64_t *vals, size_t n)
{
	const ProtobufCMessageDescriptor *d = pb->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		size_t idx = f->id - 1;

		if (idx >= n || vals[idx] == MS_UNKNOWN)
			continue;
		*(uint64_t *)((char *)pb + f->offset) = vals[idx];
		*(protobuf_c_boolean *)((char *)pb + f->quantifier_offset) = 1;
	}
}

static void u64s_from_pb(const ProtobufCMessage *pb, uint64_t *vals, size_t n)
{
	const ProtobufCMessageDescriptor *d = pb->descriptor;

	for (size_t i = 0; i < n; i++)
		vals[i] = MS_UNKNOWN;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		size_t idx = f->id - 1;

		if (idx >= n || !*(const protobuf_c_boolean *)((const char *)pb + f->quantifier_offset))
			continue;
		vals[idx] = *(const uint64_t *)((const char *)pb + f->offset);
	}
}


#define U64S(s) ((uint64_t *)(s)), (sizeof(*(s)) / sizeof(uint64_t))
#define CU64S(s) ((const uint64_t *)(s)), (sizeof(*(s)) / sizeof(uint64_t))

_Static_assert(sizeof(struct ms_meminfo) == 26 * sizeof(uint64_t), "ms_meminfo is 26 x u64");
_Static_assert(sizeof(struct ms_vmstat) == 14 * sizeof(uint64_t), "ms_vmstat is 14 x u64");

/* ---- encode ------------------------------------------------------------- */

/* All protobuf-c structs an encode needs, on the stack or in one arena. */
struct enc {
	Memshare__Envelope env;
	union {
		Memshare__Hello hello;
		Memshare__Welcome welcome;
		Memshare__ReclaimRequest rreq;
		Memshare__ReclaimResult rres;
		Memshare__Error error;
		Memshare__Ping ping;
		Memshare__Pong pong;
		Memshare__Goodbye goodbye;
		struct {
			Memshare__Config config;
			Memshare__PsiTrigger trigger;
		} cfg;
	} b;
	struct {
		Memshare__Report report;
		Memshare__Psi psi;
		Memshare__PsiStat some, full;
		Memshare__MemInfo meminfo;
		Memshare__VmStat vmstat;
		Memshare__LruSummary lru;
		Memshare__LruNode *nodes;       /* nr_nodes */
		Memshare__LruNode **node_ptrs;
		Memshare__LruBin *bins;         /* nr_nodes * MS_LRU_MAX_BINS */
		Memshare__LruBin **bin_ptrs;
	} r;
};

static void psi_stat_to_pb(Memshare__PsiStat *pb, const struct ms_psi_stat *st)
{
	memshare__psi_stat__init(pb);
	pb->has_avg10 = pb->has_avg60 = pb->has_avg300 = pb->has_total_us = 1;
	pb->avg10 = st->avg10;
	pb->avg60 = st->avg60;
	pb->avg300 = st->avg300;
	pb->total_us = st->total_us;
}

static void opt_u64(protobuf_c_boolean *has, uint64_t *dst, uint64_t v)
{
	*has = v != MS_UNKNOWN;
	*dst = *has ? v : 0;
}

static int report_to_pb(struct enc *e, const struct ms_report *rep)
{
	Memshare__Report *r = &e->r.report;

	memshare__report__init(r);
	r->has_mono_us = r->has_reason = 1;
	r->mono_us = rep->mono_us;
	r->reason = rep->reason;
	/* Refuse what the peer would refuse, rather than send it. */
	if (rep->has_psi && !(rep->psi.present & MS_PSI_SOME))
		return -EINVAL;
	if (rep->has_psi) {
		memshare__psi__init(&e->r.psi);
		if (rep->psi.present & MS_PSI_SOME) {
			psi_stat_to_pb(&e->r.some, &rep->psi.some);
			e->r.psi.some = &e->r.some;
		}
		if (rep->psi.present & MS_PSI_FULL) {
			psi_stat_to_pb(&e->r.full, &rep->psi.full);
			e->r.psi.full = &e->r.full;
		}
		r->psi = &e->r.psi;
	}
	memshare__mem_info__init(&e->r.meminfo);
	u64s_to_pb(&e->r.meminfo.base, CU64S(&rep->meminfo));
	r->meminfo = &e->r.meminfo;
	memshare__vm_stat__init(&e->r.vmstat);
	u64s_to_pb(&e->r.vmstat.base, CU64S(&rep->vmstat));
	r->vmstat = &e->r.vmstat;

	if (rep->lru) {
		const struct ms_lru_summary *s = rep->lru;
		size_t nn = s->nr_nodes;

		if (nn > MS_MAX_NODES)
			return -EMSGSIZE;
		if (s->source != MS_LRU_SOURCE_MGLRU && s->source != MS_LRU_SOURCE_CLASSIC)
			return -EINVAL;
		for (size_t i = 0; i < nn; i++)
			if (s->nodes[i].nr_bins > MS_LRU_MAX_BINS)
				return -EINVAL;
		memshare__lru_summary__init(&e->r.lru);
		e->r.lru.has_source = 1;
		e->r.lru.source = s->source == MS_LRU_SOURCE_MGLRU ? MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU
				: s->source == MS_LRU_SOURCE_CLASSIC ? MEMSHARE__LRU_SOURCE__LRU_SOURCE_CLASSIC
				: MEMSHARE__LRU_SOURCE__LRU_SOURCE_UNSPECIFIED;
		if (nn) {
			e->r.nodes = calloc(nn, sizeof(*e->r.nodes));
			e->r.node_ptrs = calloc(nn, sizeof(*e->r.node_ptrs));
			e->r.bins = calloc(nn * MS_LRU_MAX_BINS, sizeof(*e->r.bins));
			e->r.bin_ptrs = calloc(nn * MS_LRU_MAX_BINS, sizeof(*e->r.bin_ptrs));
			if (!e->r.nodes || !e->r.node_ptrs || !e->r.bins || !e->r.bin_ptrs)
				return -ENOMEM;
		}
		for (size_t i = 0; i < nn; i++) {
			const struct ms_lru_node *n = &s->nodes[i];
			Memshare__LruNode *pn = &e->r.nodes[i];
			uint32_t nb = n->nr_bins;

			memshare__lru_node__init(pn);
			pn->has_node = 1;
			pn->node = n->node;
			opt_u64(&pn->has_slab_reclaimable_bytes, &pn->slab_reclaimable_bytes,
				n->slab_reclaimable_bytes);
			opt_u64(&pn->has_shmem_bytes, &pn->shmem_bytes, n->shmem_bytes);
			opt_u64(&pn->has_unevictable_bytes, &pn->unevictable_bytes,
				n->unevictable_bytes);
			pn->n_bins = nb;
			pn->bins = &e->r.bin_ptrs[i * MS_LRU_MAX_BINS];
			for (uint32_t j = 0; j < nb; j++) {
				Memshare__LruBin *pb = &e->r.bins[i * MS_LRU_MAX_BINS + j];
				const struct ms_lru_bin *bin = &n->bins[j];

				memshare__lru_bin__init(pb);
				opt_u64(&pb->has_min_age_ms, &pb->min_age_ms, bin->min_age_ms);
				/* MS_AGE_INFINITE is UINT64_MAX like MS_UNKNOWN: send it. */
				pb->has_max_age_ms = bin->max_age_ms != MS_UNKNOWN ||
						     bin->min_age_ms != MS_UNKNOWN;
				pb->max_age_ms = bin->max_age_ms;
				opt_u64(&pb->has_anon_bytes, &pb->anon_bytes, bin->anon_bytes);
				opt_u64(&pb->has_file_bytes, &pb->file_bytes, bin->file_bytes);
				pn->bins[j] = pb;
			}
			e->r.node_ptrs[i] = pn;
		}
		e->r.lru.n_nodes = nn;
		e->r.lru.nodes = e->r.node_ptrs;
		r->lru = &e->r.lru;
	}
	e->env.body_case = MEMSHARE__ENVELOPE__BODY_REPORT;
	e->env.report = r;
	return 0;
}

static int body_to_pb(struct enc *e, const struct ms_msg *m)
{
	Memshare__Envelope *env = &e->env;

	switch (m->type) {
	case MS_MSG_HELLO: {
		const struct ms_hello *h = &m->u.hello;
		Memshare__Hello *p = &e->b.hello;

		memshare__hello__init(p);
		p->has_proto_min = p->has_proto_max = p->has_capabilities = 1;
		p->proto_min = h->proto_min;
		p->proto_max = h->proto_max;
		p->capabilities = h->capabilities;
		p->agent_version = (char *)h->agent_version;
		p->guest_name = (char *)h->guest_name;
		p->boot_id = (char *)h->boot_id;
		opt_u64(&p->has_page_size_bytes, &p->page_size_bytes, h->page_size_bytes);
		opt_u64(&p->has_mem_total_bytes, &p->mem_total_bytes, h->mem_total_bytes);
		env->body_case = MEMSHARE__ENVELOPE__BODY_HELLO;
		env->hello = p;
		return 0;
	}
	case MS_MSG_WELCOME: {
		const struct ms_welcome *w = &m->u.welcome;
		Memshare__Welcome *p = &e->b.welcome;

		if (w->nr_bin_edges > MS_LRU_MAX_BINS - 1)
			return -EINVAL;
		memshare__welcome__init(p);
		p->has_proto_version = p->has_capabilities = p->has_report_interval_ms = 1;
		p->proto_version = w->proto_version;
		p->capabilities = w->capabilities;
		p->report_interval_ms = w->report_interval_ms;
		p->n_bin_edges_ms = w->nr_bin_edges;
		p->bin_edges_ms = (uint64_t *)w->bin_edges_ms;
		env->body_case = MEMSHARE__ENVELOPE__BODY_WELCOME;
		env->welcome = p;
		return 0;
	}
	case MS_MSG_REPORT:
		return report_to_pb(e, &m->u.report);
	case MS_MSG_CONFIG: {
		const struct ms_config *c = &m->u.config;
		Memshare__Config *p = &e->b.cfg.config;

		if (c->nr_bin_edges > MS_LRU_MAX_BINS - 1)
			return -EINVAL;
		memshare__config__init(p);
		p->has_report_interval_ms = p->has_keepalive_ms = 1;
		p->report_interval_ms = c->report_interval_ms;
		p->keepalive_ms = c->keepalive_ms;
		p->n_bin_edges_ms = c->nr_bin_edges;
		p->bin_edges_ms = (uint64_t *)c->bin_edges_ms;
		if (c->has_psi_trigger) {
			Memshare__PsiTrigger *t = &e->b.cfg.trigger;

			memshare__psi_trigger__init(t);
			t->has_kind = t->has_stall_us = t->has_window_us = 1;
			t->kind = c->psi_trigger.kind;
			t->stall_us = c->psi_trigger.stall_us;
			t->window_us = c->psi_trigger.window_us;
			p->psi_trigger = t;
		}
		env->body_case = MEMSHARE__ENVELOPE__BODY_CONFIG;
		env->config = p;
		return 0;
	}
	case MS_MSG_RECLAIM_REQUEST: {
		const struct ms_reclaim_request *q = &m->u.reclaim_request;
		Memshare__ReclaimRequest *p = &e->b.rreq;

		memshare__reclaim_request__init(p);
		p->has_id = p->has_bytes = p->has_kinds = p->has_min_age_ms = p->has_deadline_ms = 1;
		p->id = q->id;
		p->bytes = q->bytes;
		p->kinds = q->kinds;
		p->min_age_ms = q->min_age_ms;
		p->deadline_ms = q->deadline_ms;
		env->body_case = MEMSHARE__ENVELOPE__BODY_RECLAIM_REQUEST;
		env->reclaim_request = p;
		return 0;
	}
	case MS_MSG_RECLAIM_RESULT: {
		const struct ms_reclaim_reply *q = &m->u.reclaim_result;
		const struct ms_reclaim_result *res = &q->result;
		Memshare__ReclaimResult *p = &e->b.rres;

		memshare__reclaim_result__init(p);
		p->has_id = p->has_status = p->has_method = p->has_requested_bytes = 1;
		p->has_freed_bytes = p->has_freed_file_bytes = p->has_freed_anon_bytes = 1;
		p->has_freed_slab_bytes = p->has_duration_us = p->has_capped_bytes = 1;
		p->id = q->id;
		p->status = res->status;
		p->method = res->method;
		p->requested_bytes = res->requested_bytes;
		p->freed_bytes = res->freed_bytes;
		p->freed_file_bytes = res->freed_file_bytes;
		p->freed_anon_bytes = res->freed_anon_bytes;
		p->freed_slab_bytes = res->freed_slab_bytes;
		p->duration_us = res->duration_us;
		p->capped_bytes = res->capped_bytes;
		env->body_case = MEMSHARE__ENVELOPE__BODY_RECLAIM_RESULT;
		env->reclaim_result = p;
		return 0;
	}
	case MS_MSG_ERROR:
		memshare__error__init(&e->b.error);
		e->b.error.has_code = 1;
		/* errno codes are positive on the wire; accept -EFOO too. */
		e->b.error.code = (uint32_t)(m->u.error.code < 0 ? -m->u.error.code : m->u.error.code);
		e->b.error.message = (char *)m->u.error.message;
		env->body_case = MEMSHARE__ENVELOPE__BODY_ERROR;
		env->error = &e->b.error;
		return 0;
	case MS_MSG_PING:
		memshare__ping__init(&e->b.ping);
		e->b.ping.has_nonce = 1;
		e->b.ping.nonce = m->u.nonce;
		env->body_case = MEMSHARE__ENVELOPE__BODY_PING;
		env->ping = &e->b.ping;
		return 0;
	case MS_MSG_PONG:
		memshare__pong__init(&e->b.pong);
		e->b.pong.has_nonce = 1;
		e->b.pong.nonce = m->u.nonce;
		env->body_case = MEMSHARE__ENVELOPE__BODY_PONG;
		env->pong = &e->b.pong;
		return 0;
	case MS_MSG_GOODBYE:
		memshare__goodbye__init(&e->b.goodbye);
		e->b.goodbye.reason = (char *)m->u.reason;
		env->body_case = MEMSHARE__ENVELOPE__BODY_GOODBYE;
		env->goodbye = &e->b.goodbye;
		return 0;
	case MS_MSG_NONE:
	case MS_MSG_UNKNOWN:
		break;
	}
	return -EINVAL;
}

int ms_msg_encode(const struct ms_msg *m, uint32_t max_frame, uint8_t **out, size_t *len)
{
	struct enc *e;
	uint8_t *buf = NULL;
	size_t plen;
	int r;

	if (!m || !out || !len)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	memshare__envelope__init(&e->env);
	e->env.has_version = e->env.has_seq = 1;
	e->env.version = m->version;
	e->env.seq = m->seq;
	e->env.has_in_reply_to = m->in_reply_to != 0;
	e->env.in_reply_to = m->in_reply_to;
	r = body_to_pb(e, m);
	if (r < 0)
		goto out;
	plen = memshare__envelope__get_packed_size(&e->env);
	if (plen + MS_FRAME_HEADER_BYTES > max_frame) {
		r = -EMSGSIZE;
		goto out;
	}
	buf = malloc(plen + MS_FRAME_HEADER_BYTES);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	buf[0] = (uint8_t)(plen >> 24);
	buf[1] = (uint8_t)(plen >> 16);
	buf[2] = (uint8_t)(plen >> 8);
	buf[3] = (uint8_t)plen;
	memshare__envelope__pack(&e->env, buf + MS_FRAME_HEADER_BYTES);
	*out = buf;
	*len = plen + MS_FRAME_HEADER_BYTES;
out:
	free(e->r.nodes);
	free(e->r.node_ptrs);
	free(e->r.bins);
	free(e->r.bin_ptrs);
	free(e);
	return r;
}

/* ---- decode ------------------------------------------------------------- */

static int bad(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (why && size) {
		va_start(ap, fmt);
		vsnprintf(why, size, fmt, ap);
		va_end(ap);
	}
	return -EPROTO;
}

/* Copy a peer's string: must fit and hold no control characters. */
static int copy_str(char *dst, size_t size, const char *src, const char *what, char *why,
		    size_t why_size)
{
	size_t n;

	dst[0] = '\0';
	if (!src)
		return 0;
	n = strnlen(src, size);
	if (n >= size)
		return bad(why, why_size, "%s longer than %zu bytes", what, size - 1);
	/* Kept, logged and put into JSON: text only (no control characters,
	 * C1 included, which 8-bit terminals take as escapes; valid UTF-8). */
	if (!ms_text_valid(src, n))
		return bad(why, why_size, "%s is not UTF-8 text without control characters",
			   what);
	memcpy(dst, src, n + 1);
	return 0;
}

/* Bin edges from a peer: at most 15, ascending, non-zero, finite. */
static int edges_from_pb(const uint64_t *in, size_t n, uint64_t *out, const char *what,
			 char *why, size_t ws)
{
	if (n > MS_LRU_MAX_BINS - 1)
		return bad(why, ws, "%s with %zu bin edges (max %d)", what, n, MS_LRU_MAX_BINS - 1);
	for (size_t i = 0; i < n; i++) {
		if (in[i] == 0 || in[i] == MS_AGE_INFINITE || (i && in[i] <= in[i - 1]))
			return bad(why, ws, "%s bin edges not ascending", what);
		out[i] = in[i];
	}
	return 0;
}

static int psi_from_pb(const Memshare__PsiStat *p, struct ms_psi_stat *st, char *why, size_t ws)
{
	if (!p->has_avg10 || !p->has_avg60 || !p->has_avg300 || !p->has_total_us)
		return bad(why, ws, "PSI line lacks avg10/avg60/avg300/total_us");
	/* !(x >= 0 && x <= 100) also rejects NaN. */
	if (!(p->avg10 >= 0 && p->avg10 <= 100) || !(p->avg60 >= 0 && p->avg60 <= 100) ||
	    !(p->avg300 >= 0 && p->avg300 <= 100))
		return bad(why, ws, "PSI average outside 0..100%%");
	st->avg10 = p->avg10;
	st->avg60 = p->avg60;
	st->avg300 = p->avg300;
	st->total_us = p->total_us;
	return 0;
}

static uint64_t opt_get(protobuf_c_boolean has, uint64_t v)
{
	return has ? v : MS_UNKNOWN;
}

static int lru_from_pb(const Memshare__LruSummary *p, struct ms_lru_summary **out, char *why,
		       size_t ws)
{
	struct ms_lru_summary *s;

	if (p->n_nodes > MS_MAX_NODES)
		return bad(why, ws, "LRU summary with %zu nodes (max %d)", p->n_nodes, MS_MAX_NODES);
	if (!p->has_source || (p->source != MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU &&
			       p->source != MEMSHARE__LRU_SOURCE__LRU_SOURCE_CLASSIC))
		return bad(why, ws, "LRU summary with an unknown source");
	s = calloc(1, sizeof(*s) + p->n_nodes * sizeof(s->nodes[0]));
	if (!s)
		return -ENOMEM;
	s->source = p->source == MEMSHARE__LRU_SOURCE__LRU_SOURCE_MGLRU ? MS_LRU_SOURCE_MGLRU
									 : MS_LRU_SOURCE_CLASSIC;
	s->nr_nodes = (uint32_t)p->n_nodes;
	for (size_t i = 0; i < p->n_nodes; i++) {
		const Memshare__LruNode *pn = p->nodes[i];
		struct ms_lru_node *n = &s->nodes[i];

		if (!pn->has_node || pn->node < 0 || pn->node > 65535 ||
		    (i && pn->node <= s->nodes[i - 1].node)) {
			free(s);
			return bad(why, ws, "LRU node numbers missing, out of range or not ascending");
		}
		if (pn->n_bins > MS_LRU_MAX_BINS) {
			free(s);
			return bad(why, ws, "LRU node %d with %zu bins (max %d)", pn->node,
				   pn->n_bins, MS_LRU_MAX_BINS);
		}
		n->node = pn->node;
		n->nr_bins = (uint32_t)pn->n_bins;
		n->slab_reclaimable_bytes = opt_get(pn->has_slab_reclaimable_bytes,
						    pn->slab_reclaimable_bytes);
		n->shmem_bytes = opt_get(pn->has_shmem_bytes, pn->shmem_bytes);
		n->unevictable_bytes = opt_get(pn->has_unevictable_bytes, pn->unevictable_bytes);
		for (size_t j = 0; j < pn->n_bins; j++) {
			const Memshare__LruBin *pb = pn->bins[j];
			struct ms_lru_bin *bin = &n->bins[j];

			bin->min_age_ms = opt_get(pb->has_min_age_ms, pb->min_age_ms);
			bin->max_age_ms = opt_get(pb->has_max_age_ms, pb->max_age_ms);
			bin->anon_bytes = opt_get(pb->has_anon_bytes, pb->anon_bytes);
			bin->file_bytes = opt_get(pb->has_file_bytes, pb->file_bytes);
			if (s->source == MS_LRU_SOURCE_MGLRU) {
				/* Bins must tile [0, inf) in order. */
				bool ok = pb->has_min_age_ms && pb->has_max_age_ms &&
					  bin->min_age_ms < bin->max_age_ms &&
					  bin->min_age_ms == (j ? n->bins[j - 1].max_age_ms : 0) &&
					  (j + 1 < pn->n_bins || bin->max_age_ms == MS_AGE_INFINITE);
				if (!ok) {
					free(s);
					return bad(why, ws, "LRU node %d: bin %zu ages out of order",
						   pn->node, j);
				}
			}
		}
		if (s->source == MS_LRU_SOURCE_CLASSIC && pn->n_bins != 2) {
			free(s);
			return bad(why, ws, "classic LRU node %d needs 2 bins", pn->node);
		}
	}
	*out = s;
	return 0;
}

static int report_from_pb(const Memshare__Report *p, struct ms_report *rep, char *why, size_t ws)
{
	int r;

	memset(rep, 0, sizeof(*rep));
	if (!p->has_mono_us)
		return bad(why, ws, "Report without mono_us");
	rep->mono_us = p->mono_us;
	rep->reason = p->has_reason ? p->reason : MS_REPORT_PERIODIC;
	if (rep->reason > MS_REPORT_AFTER_RECLAIM)
		return bad(why, ws, "Report with unknown reason %u", rep->reason);
	if (p->psi) {
		if (!p->psi->some)
			return bad(why, ws, "Report PSI without 'some'");
		if ((r = psi_from_pb(p->psi->some, &rep->psi.some, why, ws)) < 0)
			return r;
		rep->psi.present = MS_PSI_SOME;
		if (p->psi->full) {
			if ((r = psi_from_pb(p->psi->full, &rep->psi.full, why, ws)) < 0)
				return r;
			rep->psi.present |= MS_PSI_FULL;
		}
		rep->has_psi = true;
	}
	/* UINT64_MAX would read back as MS_UNKNOWN: as good as absent. */
	if (!p->meminfo || !p->meminfo->has_total_bytes || p->meminfo->total_bytes == MS_UNKNOWN)
		return bad(why, ws, "Report without meminfo total_bytes");
	u64s_from_pb(&p->meminfo->base, U64S(&rep->meminfo));
	if (p->vmstat) {
		u64s_from_pb(&p->vmstat->base, U64S(&rep->vmstat));
	} else {
		uint64_t *v = (uint64_t *)&rep->vmstat;

		for (size_t i = 0; i < sizeof(rep->vmstat) / sizeof(uint64_t); i++)
			v[i] = MS_UNKNOWN;
	}
	if (p->lru)
		return lru_from_pb(p->lru, &rep->lru, why, ws);
	return 0;
}

int ms_msg_decode(const uint8_t *payload, size_t len, struct ms_msg *out, char *why, size_t ws)
{
	Memshare__Envelope *env;
	struct ms_msg m;
	int r = 0;

	if (!out || (!payload && len))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	env = memshare__envelope__unpack(NULL, len, payload);
	if (!env)
		return bad(why, ws, "not a valid protobuf Envelope (%zu bytes)", len);
	memset(&m, 0, sizeof(m));
	m.version = env->has_version ? env->version : 0;
	m.seq = env->has_seq ? env->seq : 0;
	m.in_reply_to = env->has_in_reply_to ? env->in_reply_to : 0;
	if (!env->has_version || m.version == 0) {
		r = bad(why, ws, "Envelope without a protocol version");
		goto out;
	}

	switch (env->body_case) {
	case MEMSHARE__ENVELOPE__BODY_HELLO: {
		const Memshare__Hello *p = env->hello;
		struct ms_hello *h = &m.u.hello;

		m.type = MS_MSG_HELLO;
		if (!p->has_proto_min || !p->has_proto_max || p->proto_min > p->proto_max ||
		    p->proto_min == 0) {
			r = bad(why, ws, "Hello with a bad protocol range");
			break;
		}
		h->proto_min = p->proto_min;
		h->proto_max = p->proto_max;
		h->capabilities = p->has_capabilities ? p->capabilities : 0;
		h->page_size_bytes = opt_get(p->has_page_size_bytes, p->page_size_bytes);
		h->mem_total_bytes = opt_get(p->has_mem_total_bytes, p->mem_total_bytes);
		if ((r = copy_str(h->agent_version, sizeof(h->agent_version), p->agent_version,
				  "agent_version", why, ws)) < 0 ||
		    (r = copy_str(h->guest_name, sizeof(h->guest_name), p->guest_name,
				  "guest_name", why, ws)) < 0 ||
		    (r = copy_str(h->boot_id, sizeof(h->boot_id), p->boot_id, "boot_id", why,
				  ws)) < 0)
			break;
		break;
	}
	case MEMSHARE__ENVELOPE__BODY_WELCOME: {
		const Memshare__Welcome *p = env->welcome;
		struct ms_welcome *w = &m.u.welcome;

		m.type = MS_MSG_WELCOME;
		if (!p->has_proto_version) {
			r = bad(why, ws, "Welcome without proto_version");
			break;
		}
		r = edges_from_pb(p->bin_edges_ms, p->n_bin_edges_ms, w->bin_edges_ms, "Welcome",
				  why, ws);
		if (r < 0)
			break;
		w->nr_bin_edges = (uint32_t)p->n_bin_edges_ms;
		w->proto_version = p->proto_version;
		w->capabilities = p->has_capabilities ? p->capabilities : 0;
		w->report_interval_ms = p->has_report_interval_ms ? p->report_interval_ms : 0;
		if (w->report_interval_ms && w->report_interval_ms < MS_REPORT_INTERVAL_MIN_MS)
			r = bad(why, ws, "Welcome report interval under %d ms",
				MS_REPORT_INTERVAL_MIN_MS);
		break;
	}
	case MEMSHARE__ENVELOPE__BODY_CONFIG: {
		const Memshare__Config *p = env->config;
		struct ms_config *c = &m.u.config;

		m.type = MS_MSG_CONFIG;
		r = edges_from_pb(p->bin_edges_ms, p->n_bin_edges_ms, c->bin_edges_ms, "Config",
				  why, ws);
		if (r < 0)
			break;
		c->nr_bin_edges = (uint32_t)p->n_bin_edges_ms;
		c->report_interval_ms = p->has_report_interval_ms ? p->report_interval_ms : 0;
		c->keepalive_ms = p->has_keepalive_ms ? p->keepalive_ms : 0;
		if (c->report_interval_ms && c->report_interval_ms < MS_REPORT_INTERVAL_MIN_MS) {
			r = bad(why, ws, "Config report interval under %d ms",
				MS_REPORT_INTERVAL_MIN_MS);
			break;
		}
		if (c->keepalive_ms && c->keepalive_ms < MS_KEEPALIVE_MIN_MS) {
			r = bad(why, ws, "Config keepalive under %d ms", MS_KEEPALIVE_MIN_MS);
			break;
		}
		if (p->psi_trigger) {
			const Memshare__PsiTrigger *t = p->psi_trigger;

			if (!t->has_kind || !t->has_stall_us || !t->has_window_us || t->kind > 1 ||
			    t->window_us < 500000 || t->window_us > 10000000 || !t->stall_us ||
			    t->stall_us > t->window_us) {
				r = bad(why, ws, "Config PSI trigger out of range");
				break;
			}
			c->has_psi_trigger = true;
			c->psi_trigger.kind = t->kind;
			c->psi_trigger.stall_us = t->stall_us;
			c->psi_trigger.window_us = t->window_us;
		}
		break;
	}
	case MEMSHARE__ENVELOPE__BODY_REPORT:
		m.type = MS_MSG_REPORT;
		r = report_from_pb(env->report, &m.u.report, why, ws);
		break;
	case MEMSHARE__ENVELOPE__BODY_RECLAIM_REQUEST: {
		const Memshare__ReclaimRequest *p = env->reclaim_request;
		struct ms_reclaim_request *q = &m.u.reclaim_request;

		m.type = MS_MSG_RECLAIM_REQUEST;
		if (!p->has_id || !p->has_kinds || !p->kinds || (p->kinds & ~MS_RECLAIM_ALL_KINDS)) {
			r = bad(why, ws, "ReclaimRequest without id or with bad kinds");
			break;
		}
		q->id = p->id;
		q->bytes = p->has_bytes ? p->bytes : 0;
		q->kinds = p->kinds;
		q->min_age_ms = p->has_min_age_ms ? p->min_age_ms : 0;
		q->deadline_ms = p->has_deadline_ms ? p->deadline_ms : 0;
		break;
	}
	case MEMSHARE__ENVELOPE__BODY_RECLAIM_RESULT: {
		const Memshare__ReclaimResult *p = env->reclaim_result;
		struct ms_reclaim_reply *q = &m.u.reclaim_result;

		m.type = MS_MSG_RECLAIM_RESULT;
		if (!p->has_id || !p->has_status || p->status > 0 || p->status < -4095) {
			r = bad(why, ws, "ReclaimResult without id, or with a bad status");
			break;
		}
		q->id = p->id;
		q->result.status = p->status;
		q->result.method = p->has_method ? p->method : 0;
		q->result.requested_bytes = p->has_requested_bytes ? p->requested_bytes : 0;
		q->result.freed_file_bytes = p->has_freed_file_bytes ? p->freed_file_bytes : 0;
		q->result.freed_anon_bytes = p->has_freed_anon_bytes ? p->freed_anon_bytes : 0;
		q->result.freed_slab_bytes = p->has_freed_slab_bytes ? p->freed_slab_bytes : 0;
		q->result.duration_us = p->has_duration_us ? p->duration_us : 0;
		q->result.capped_bytes = p->has_capped_bytes ? p->capped_bytes : 0;
		/* Recompute the sum rather than trust it. */
		if (__builtin_add_overflow(q->result.freed_file_bytes, q->result.freed_anon_bytes,
					   &q->result.freed_bytes) ||
		    __builtin_add_overflow(q->result.freed_bytes, q->result.freed_slab_bytes,
					   &q->result.freed_bytes)) {
			r = bad(why, ws, "ReclaimResult byte counts overflow");
			break;
		}
		break;
	}
	case MEMSHARE__ENVELOPE__BODY_ERROR:
		m.type = MS_MSG_ERROR;
		m.u.error.code = env->error->has_code ? (int32_t)MS_MIN(env->error->code, 4095u) : 0;
		/* An over-long message is cut, not rejected: it is only shown. */
		if (env->error->message) {
			ms_strlcpy(m.u.error.message, env->error->message, sizeof(m.u.error.message));
			ms_text_sanitize(m.u.error.message);
		}
		break;
	case MEMSHARE__ENVELOPE__BODY_PING:
		m.type = MS_MSG_PING;
		m.u.nonce = env->ping->has_nonce ? env->ping->nonce : 0;
		break;
	case MEMSHARE__ENVELOPE__BODY_PONG:
		m.type = MS_MSG_PONG;
		m.u.nonce = env->pong->has_nonce ? env->pong->nonce : 0;
		break;
	case MEMSHARE__ENVELOPE__BODY_GOODBYE:
		m.type = MS_MSG_GOODBYE;
		if (env->goodbye->reason) {
			ms_strlcpy(m.u.reason, env->goodbye->reason, sizeof(m.u.reason));
			ms_text_sanitize(m.u.reason);
		}
		break;
	default:
		/* A newer peer's message (or none): the caller answers Error. */
		m.type = MS_MSG_UNKNOWN;
		break;
	}
out:
	memshare__envelope__free_unpacked(env, NULL);
	if (r < 0) {
		ms_msg_clear(&m);
		return r;
	}
	*out = m;
	return 0;
}

void ms_msg_clear(struct ms_msg *m)
{
	if (m && m->type == MS_MSG_REPORT) {
		free(m->u.report.lru);
		m->u.report.lru = NULL;
	}
}
