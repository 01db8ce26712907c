/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Policy simulator: recorded guests + a guest-response model + a policy.
 * include/memshare/sim.h describes the model; docs/policy.md discusses it.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <memshare/sim.h>
#include <memshare/trace.h>

#include "../internal.h"

#define SIM_STEP_MS 1000u
#define GIB (1024.0 * 1024.0 * 1024.0)

/* What one recorded Report says, reduced to what the model needs. */
struct sample {
	uint64_t t_ms;            /* trace time */
	uint64_t total, free, avail, cold, slab, ws;
	double psi_avg10;         /* NAN if none */
	uint64_t psi_total_us;    /* MS_UNKNOWN if none */
	uint64_t refault_bytes;   /* cumulative; MS_UNKNOWN if none */
	uint64_t guest_mono_us;
};

struct sim_guest {
	uint64_t id;
	uint64_t caps;
	struct sample *s;
	size_t n, cap;
	/* model state */
	size_t cur;               /* index of the sample in effect */
	bool present;
	uint64_t max;             /* MemTotal of the first report */
	uint64_t size;            /* balloon size */
	uint64_t evicted;         /* cold bytes the policy (or ballooning) evicted */
	double stall_frac;        /* model stall in the last step, 0..1 */
	double refault_bytes_per_s; /* model refaults in the last step */
	uint64_t resident;
	uint64_t free_m, avail_m, cold_m;
	struct ms_policy_state pstate;
};

static void sample_from_report(struct sample *out, const struct ms_report *rep,
			       const struct ms_policy_params *p, uint64_t caps)
{
	struct ms_policy_guest g;

	memset(&g, 0, sizeof(g));
	ms_policy_guest_from_report(&g, p, rep, NULL, caps);
	out->total = g.total_bytes;
	out->free = rep->meminfo.free_bytes == MS_UNKNOWN ? 0
		  : MS_MIN(rep->meminfo.free_bytes, g.total_bytes);
	out->avail = g.available_bytes;
	out->cold = g.cold_bytes;
	out->slab = rep->meminfo.sreclaimable_bytes == MS_UNKNOWN ? 0
		  : MS_MIN(rep->meminfo.sreclaimable_bytes, g.total_bytes);
	out->ws = g.working_set_bytes;
	out->psi_avg10 = rep->has_psi ? rep->psi.some.avg10 : NAN;
	out->psi_total_us = rep->has_psi ? rep->psi.some.total_us : MS_UNKNOWN;
	out->refault_bytes = rep->vmstat.refault_bytes;
	out->guest_mono_us = rep->mono_us;
}

static struct sim_guest *guest_get(struct sim_guest **gs, size_t *ng, uint64_t id)
{
	struct sim_guest *n;

	for (size_t i = 0; i < *ng; i++)
		if ((*gs)[i].id == id)
			return &(*gs)[i];
	n = realloc(*gs, (*ng + 1) * sizeof(**gs));
	if (!n)
		return NULL;
	*gs = n;
	memset(&n[*ng], 0, sizeof(n[*ng]));
	n[*ng].id = id;
	return &n[(*ng)++];
}

/* Add the guests of recording number @idx (ids made unique per file). */
static int load(const char *path, uint32_t idx, const struct ms_policy_params *p,
		struct sim_guest **gsp, size_t *ngp)
{
	struct ms_trace_record rec;
	struct ms_trace *t;
	int r;

	r = ms_trace_open(&t, path);
	if (r < 0)
		return r;
	while ((r = ms_trace_next(t, &rec)) == 1) {
		struct sim_guest *g;

		if (rec.dir != MS_TRACE_FROM_GUEST)
			continue;
		if (rec.msg != MS_TRACE_MSG_HELLO && rec.msg != MS_TRACE_MSG_REPORT)
			continue;
		g = guest_get(gsp, ngp, (uint64_t)idx << 40 | (rec.guest_id & ((1ull << 40) - 1)));
		if (!g) {
			r = -ENOMEM;
			break;
		}
		if (rec.msg == MS_TRACE_MSG_HELLO) {
			g->caps = rec.hello->capabilities;
			continue;
		}
		if (g->n == g->cap) {
			size_t cap = g->cap ? g->cap * 2 : 64;
			struct sample *ns = realloc(g->s, cap * sizeof(*ns));

			if (!ns) {
				r = -ENOMEM;
				break;
			}
			g->s = ns;
			g->cap = cap;
		}
		sample_from_report(&g->s[g->n], rec.report, p, g->caps);
		g->s[g->n].t_ms = rec.t_us / 1000u;
		if (g->s[g->n].total)
			g->n++;
	}
	ms_trace_close(t);
	/* A truncated tail (a recorder killed mid-write): replay what came
	 * before it.  memshare-sim warns about it (ms_trace_offset()). */
	return r == -ENODATA ? 0 : r;
}

/* Per-second rate of a cumulative counter between two samples. */
static double counter_rate(uint64_t a, uint64_t b, uint64_t ta_us, uint64_t tb_us)
{
	if (a == MS_UNKNOWN || b == MS_UNKNOWN || tb_us <= ta_us || b < a)
		return 0;
	return (double)(b - a) * 1e6 / (double)(tb_us - ta_us);
}

/* Advance one guest's model to trace time @now_ms over @dt_s seconds. */
static void step_guest(struct sim_guest *g, uint64_t now_ms, double dt_s, struct ms_sim_result *res)
{
	const struct sample *s;
	uint64_t need, excess, take;

	g->present = g->n && g->s[0].t_ms <= now_ms && g->s[g->n - 1].t_ms + 5000 >= now_ms;
	if (!g->present)
		return;
	while (g->cur + 1 < g->n && g->s[g->cur + 1].t_ms <= now_ms)
		g->cur++;
	s = &g->s[g->cur];
	if (!g->max) {
		g->max = s->total;
		g->size = s->total;
	}
	g->stall_frac = 0;
	g->refault_bytes_per_s = 0;
	/* Evicted memory the guest uses again comes back as refaults (which
	 * its workingset_refault counters, and so the policy, see). */
	if (g->evicted > s->cold) {
		res->refault_bytes += g->evicted - s->cold;
		g->refault_bytes_per_s = (double)(g->evicted - s->cold) / dt_s;
		g->evicted = s->cold;
	}
	need = s->total - s->free;
	need = need > g->evicted ? need - g->evicted : 0;
	if (need > g->size) {
		excess = need - g->size;
		/* The guest's own reclaim drops cold memory, then slab. */
		take = MS_MIN(excess, s->cold - g->evicted);
		g->evicted += take;
		excess -= take;
		excess -= MS_MIN(excess, s->slab);
		if (excess) {
			/* The working set does not fit: it thrashes. */
			g->stall_frac = MS_MIN(1.0, (double)excess / (double)MS_MAX(s->ws, 1));
			g->refault_bytes_per_s += (double)excess;
			res->stall_s += g->stall_frac * dt_s;
			res->refault_bytes += (uint64_t)((double)excess * dt_s);
		}
		need = g->size;
	}
	g->resident = need;
	g->free_m = g->size - need;
	g->cold_m = s->cold - g->evicted;
	g->avail_m = s->avail > g->max - g->size ? s->avail - (g->max - g->size) : 0;
	if (g->stall_frac > 0)
		g->avail_m = 0;
}

static void policy_guest(const struct sim_guest *g, const struct ms_policy_params *p,
			 uint64_t now_ms, struct ms_policy_guest *pg)
{
	const struct sample *s = &g->s[g->cur], *prev = g->cur ? &g->s[g->cur - 1] : NULL;

	memset(pg, 0, sizeof(*pg));
	pg->id = g->id;
	pg->has_balloon = true;
	pg->max_bytes = g->max;
	pg->current_bytes = g->size;
	pg->shares = 1.0;
	pg->has_report = now_ms - s->t_ms <= p->report_max_age_ms;
	pg->report_age_ms = now_ms - s->t_ms;
	pg->reclaim_kinds = 0;
	if (g->caps & MS_CAP_MEMCG_RECLAIM)
		pg->reclaim_kinds |= MS_RECLAIM_FILE;
	if (g->caps & MS_CAP_SLAB_RECLAIM)
		pg->reclaim_kinds |= MS_RECLAIM_SLAB;
	pg->total_bytes = g->size;
	pg->free_bytes = g->free_m;
	pg->available_bytes = g->avail_m;
	pg->cold_bytes = g->cold_m;
	pg->working_set_bytes = s->ws;
	pg->psi_some_avg10 = s->psi_avg10;
	pg->stall_us_per_s = g->stall_frac * 1e6 +
		(prev ? counter_rate(prev->psi_total_us, s->psi_total_us, prev->guest_mono_us,
				     s->guest_mono_us) : 0);
	pg->refault_bytes_per_s = g->refault_bytes_per_s +
		(prev ? counter_rate(prev->refault_bytes, s->refault_bytes, prev->guest_mono_us,
				     s->guest_mono_us) : 0);
}

MS_EXPORT int ms_sim_run(const struct ms_sim_opts *opts, struct ms_sim_result *out)
{
	const struct ms_policy_ops *policy;
	struct ms_policy_params defaults;
	const struct ms_policy_params *p;
	struct ms_policy_guest *pgs = NULL;
	struct ms_policy_state *pst = NULL;
	struct ms_policy_action *acts = NULL;
	struct sim_guest *gs = NULL;
	struct ms_sim_result res;
	uint64_t t0 = UINT64_MAX, t1 = 0, host_total, sum_max = 0, next_round, steps = 0;
	double ws_sum = 0, ws_n = 0;
	bool fpr;
	size_t ng = 0;
	int r = 0;

	if (!opts || !out || !MS_OPTS_VALID(opts, ms_sim_opts))
		return -EINVAL;
	policy = MS_OPTS_GET(opts, ms_sim_opts, policy, NULL);
	if (!policy)
		policy = ms_policy_find("memshare");
	p = MS_OPTS_GET(opts, ms_sim_opts, params, NULL);
	if (!p) {
		ms_policy_params_init(&defaults);
		p = &defaults;
	}
	fpr = MS_OPTS_GET(opts, ms_sim_opts, free_page_reporting, 0) >= 0;

	{
		const char *const *paths = MS_OPTS_GET(opts, ms_sim_opts, trace_paths, NULL);
		size_t nt = MS_OPTS_GET(opts, ms_sim_opts, nr_traces, 0);

		if (nt && paths) {
			for (size_t i = 0; i < nt && r == 0; i++)
				r = paths[i] ? load(paths[i], (uint32_t)i, p, &gs, &ng) : -EINVAL;
		} else {
			const char *path = MS_OPTS_GET(opts, ms_sim_opts, trace_path, NULL);

			r = path ? load(path, 0, p, &gs, &ng) : -EINVAL;
		}
		if (r < 0)
			goto out;
	}
	for (size_t i = 0; i < ng; i++) {
		if (!gs[i].n)
			continue;
		t0 = MS_MIN(t0, gs[i].s[0].t_ms);
		t1 = MS_MAX(t1, gs[i].s[gs[i].n - 1].t_ms);
		sum_max += gs[i].s[0].total;
	}
	if (t0 == UINT64_MAX) {
		r = -ENODATA;
		goto out;
	}
	host_total = MS_OPTS_GET(opts, ms_sim_opts, host_total_bytes, 0);
	if (!host_total)
		host_total = sum_max / 4 * 3;
	pgs = calloc(ng, sizeof(*pgs));
	pst = calloc(ng, sizeof(*pst));
	acts = calloc(4 * ng + 4, sizeof(*acts));
	if (!pgs || !pst || !acts) {
		r = -ENOMEM;
		goto out;
	}

	memset(&res, 0, sizeof(res));
	ms_strlcpy(res.policy, policy->name, sizeof(res.policy));
	for (size_t i = 0; i < ng; i++)
		res.guests += gs[i].n > 0;
	next_round = t0;
	for (uint64_t now = t0; now <= t1; now += SIM_STEP_MS) {
		double dt = SIM_STEP_MS / 1000.0;
		uint64_t resident = 0, returned = 0;
		struct ms_policy_host host;
		size_t np = 0;

		for (size_t i = 0; i < ng; i++) {
			struct sim_guest *g = &gs[i];

			step_guest(g, now, dt, &res);
			if (!g->present)
				continue;
			resident += fpr ? g->resident : g->size;
			returned += g->max - (fpr ? g->resident : g->size);
			ws_sum += (double)g->s[g->cur].ws;
			ws_n += 1;
		}
		steps++;
		res.returned_gib_s += (double)returned / GIB * dt;
		if (resident > host_total - (uint64_t)(p->host_critical_ratio * (double)host_total))
			res.host_critical_s += dt;
		if (now < next_round)
			continue;
		next_round = now + p->interval_ms;

		memset(&host, 0, sizeof(host));
		host.now_ms = now;
		host.total_bytes = host_total;
		host.available_bytes = resident < host_total ? host_total - resident : 0;
		host.psi_some_avg10 = NAN;
		for (size_t i = 0; i < ng; i++) {
			if (!gs[i].present)
				continue;
			policy_guest(&gs[i], p, now, &pgs[np]);
			pst[np] = gs[i].pstate;
			np++;
		}
		{
			size_t na = ms_policy_decide(policy, p, &host, pgs, pst, np, acts, 4 * ng + 4);
			size_t k = 0;

			/* Write the states back to their guests. */
			for (size_t i = 0; i < ng; i++)
				if (gs[i].present)
					gs[i].pstate = pst[k++];
			for (size_t a = 0; a < na; a++) {
				struct sim_guest *g = NULL;

				for (size_t i = 0; i < ng && !g; i++)
					if (gs[i].id == acts[a].guest_id)
						g = &gs[i];
				if (!g)
					continue;
				res.actions++;
				if (acts[a].type == MS_POLICY_RECLAIM) {
					uint64_t freed = MS_MIN(acts[a].bytes, g->cold_m);

					res.reclaim_actions++;
					g->evicted += freed;
					g->cold_m -= freed;
					ms_policy_note_reclaim(&g->pstate, p, now,
							       freed < acts[a].bytes ? -EAGAIN : 0,
							       acts[a].bytes, freed);
				} else {
					res.balloon_actions++;
					g->size = MS_MIN(acts[a].target_bytes, g->max);
				}
			}
		}
	}
	/* Each step stands for the SIM_STEP_MS that follow it: a trace with
	 * reports at 0..400 s is 401 s of guest life, as its integrals are. */
	res.duration_s = (double)steps * (SIM_STEP_MS / 1000.0);
	res.returned_mean_gib = res.duration_s > 0 ? res.returned_gib_s / res.duration_s : 0;
	if (ws_n > 0 && res.duration_s > 0) {
		double ws_mean = ws_sum / ws_n * (double)res.guests;

		res.refault_pct_ws_per_min = ws_mean > 0
			? (double)res.refault_bytes / (res.duration_s / 60.0) / ws_mean * 100.0 : 0;
	}
	*out = res;
	r = 0;
out:
	for (size_t i = 0; i < ng; i++)
		free(gs[i].s);
	free(gs);
	free(pgs);
	free(pst);
	free(acts);
	return r;
}
