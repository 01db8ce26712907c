/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Balancing policies: pure functions from (host, guests, per-guest state)
 * to actions.  docs/policy.md is the prose version of this file.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <memshare/policy.h>

#include "../internal.h"

#define MIB (1024ull * 1024ull)

/* ---- parameters ---------------------------------------------------------- */

MS_EXPORT void ms_policy_params_init(struct ms_policy_params *p)
{
	memset(p, 0, sizeof(*p));
	p->interval_ms = 10000;
	p->host_pressure_ratio = 0.20;
	p->host_critical_ratio = 0.05;
	p->host_psi_pressure_pct = 1.0;
	p->guest_min_free_ratio = 0.20;
	p->mom_step_ratio = 0.05;
	p->mom_min_change_ratio = 0.0025;
	p->ba_step_max_bytes = 10 * MIB;
	p->ba_dead_band_ratio = 0.01;
	p->ba_guest_critical_ratio = 0.05;
	p->cold_age_ms = 120000;
	p->stall_target_us_per_s = 1000.0;
	p->stall_backoff_us_per_s = 2000.0;
	p->refault_limit_ratio_per_min = 0.002;
	p->idle_tax = 0.75;
	p->reclaim_step_ratio = 0.02;
	p->reclaim_step_pressure_ratio = 0.05;
	p->reclaim_step_critical_ratio = 0.10;
	p->reclaim_min_bytes = 4 * MIB;
	p->proactive = true;
	p->proactive_guests_per_round = 1;
	p->deflate_step_ratio = 0.10;
	p->dead_band_ratio = 0.0025;
	p->min_take_interval_ms = 10000;
	p->backoff_ms = 60000;
	p->report_max_age_ms = 10000;
	p->guest_short_ratio = 0.05;
}

enum ptype { P_U32, P_U64, P_BYTES, P_RATIO, P_DOUBLE, P_BOOL };

static const struct param_desc {
	const char *key;
	enum ptype type;
	size_t off;
	double min, max;
} param_descs[] = {
#define D(k, t, f, lo, hi) { k, t, offsetof(struct ms_policy_params, f), lo, hi }
	D("interval_ms", P_U32, interval_ms, 100, 3600000),
	D("host_pressure_ratio", P_RATIO, host_pressure_ratio, 0, 1),
	D("host_critical_ratio", P_RATIO, host_critical_ratio, 0, 1),
	D("host_psi_pressure", P_DOUBLE, host_psi_pressure_pct, 0, 100),
	D("guest_min_free_ratio", P_RATIO, guest_min_free_ratio, 0, 0.9),
	D("mom_step_ratio", P_RATIO, mom_step_ratio, 0, 1),
	D("mom_min_change_ratio", P_RATIO, mom_min_change_ratio, 0, 1),
	D("ba_step_max", P_BYTES, ba_step_max_bytes, 0, 0),
	D("ba_dead_band_ratio", P_RATIO, ba_dead_band_ratio, 0, 1),
	D("ba_guest_critical_ratio", P_RATIO, ba_guest_critical_ratio, 0, 1),
	D("cold_age_ms", P_U64, cold_age_ms, 1, 86400000),
	D("stall_target", P_DOUBLE, stall_target_us_per_s, 0, 1e6),
	D("stall_backoff", P_DOUBLE, stall_backoff_us_per_s, 0, 1e6),
	D("refault_limit", P_RATIO, refault_limit_ratio_per_min, 0, 1),
	D("idle_tax", P_RATIO, idle_tax, 0, 0.99),
	D("reclaim_step_ratio", P_RATIO, reclaim_step_ratio, 0, 1),
	D("reclaim_step_pressure_ratio", P_RATIO, reclaim_step_pressure_ratio, 0, 1),
	D("reclaim_step_critical_ratio", P_RATIO, reclaim_step_critical_ratio, 0, 1),
	D("reclaim_min", P_BYTES, reclaim_min_bytes, 0, 0),
	D("proactive", P_BOOL, proactive, 0, 1),
	D("proactive_guests_per_round", P_U32, proactive_guests_per_round, 0, 1000000),
	D("deflate_step_ratio", P_RATIO, deflate_step_ratio, 0, 1),
	D("dead_band_ratio", P_RATIO, dead_band_ratio, 0, 1),
	D("min_take_interval", P_U64, min_take_interval_ms, 0, 86400000),
	D("backoff", P_U64, backoff_ms, 0, 86400000),
	D("report_max_age", P_U64, report_max_age_ms, 0, 86400000),
	D("guest_short_ratio", P_RATIO, guest_short_ratio, 0, 0.9),
#undef D
};

static int parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	uint64_t mult = 1;
	char *end;

	/* strtoull() would skip blanks and wrap " -1" to 2^64 - 1. */
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0':
		break;
	case 'K': case 'k':
		mult = 1ull << 10;
		end++;
		break;
	case 'M': case 'm':
		mult = 1ull << 20;
		end++;
		break;
	case 'G': case 'g':
		mult = 1ull << 30;
		end++;
		break;
	default:
		return -EINVAL;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (*end || __builtin_mul_overflow((uint64_t)v, mult, out))
		return -EINVAL;
	return 0;
}

MS_EXPORT int ms_policy_params_set(struct ms_policy_params *p, const char *key, const char *value)
{
	if (!p || !key || !value)
		return -EINVAL;
	for (size_t i = 0; i < MS_ARRAY_SIZE(param_descs); i++) {
		const struct param_desc *d = &param_descs[i];
		char *field = (char *)p + d->off, *end;
		uint64_t u;
		double v;

		if (strcmp(d->key, key) != 0)
			continue;
		switch (d->type) {
		case P_BOOL:
			if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") ||
			    !strcmp(value, "1") || !strcasecmp(value, "on"))
				*(bool *)field = true;
			else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") ||
				 !strcmp(value, "0") || !strcasecmp(value, "off"))
				*(bool *)field = false;
			else
				return -EINVAL;
			return 0;
		case P_BYTES:
			if (parse_size(value, &u) < 0)
				return -EINVAL;
			*(uint64_t *)field = u;
			return 0;
		case P_U32:
		case P_U64:
			if (parse_size(value, &u) < 0 || (double)u < d->min || (double)u > d->max)
				return -EINVAL;
			if (d->type == P_U32)
				*(uint32_t *)field = (uint32_t)u;
			else
				*(uint64_t *)field = u;
			return 0;
		case P_RATIO:
		case P_DOUBLE:
			errno = 0;
			v = strtod(value, &end);
			if (errno || end == value || *end || !(v >= d->min && v <= d->max))
				return -EINVAL;
			*(double *)field = v;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- shared helpers -------------------------------------------------------- */

enum host_level { HOST_OK, HOST_PRESSURE, HOST_CRITICAL };

static enum host_level host_level(const struct ms_policy_params *p, const struct ms_policy_host *h)
{
	double avail;

	if (!h->total_bytes)
		return HOST_OK;
	avail = (double)h->available_bytes / (double)h->total_bytes;
	if (avail < p->host_critical_ratio)
		return HOST_CRITICAL;
	if (avail < p->host_pressure_ratio ||
	    (!isnan(h->psi_some_avg10) && h->psi_some_avg10 > p->host_psi_pressure_pct))
		return HOST_PRESSURE;
	return HOST_OK;
}

static uint64_t clamp_u64(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static uint64_t ratio_of(double ratio, uint64_t bytes)
{
	double v = ratio * (double)bytes;

	return v <= 0 ? 0 : v >= 1.8e19 ? UINT64_MAX : (uint64_t)v;
}

static bool push(struct ms_policy_action *actions, size_t max, size_t *n,
		 const struct ms_policy_action *a)
{
	if (*n >= max)
		return false;
	actions[(*n)++] = *a;
	return true;
}

/* A balloon target is never above the maximum nor below the floor. */
static uint64_t bound_target(const struct ms_policy_guest *g, uint64_t target)
{
	uint64_t floor = MS_MIN(g->floor_bytes, g->max_bytes);

	return clamp_u64(target, floor, g->max_bytes);
}

/* ---- static ---------------------------------------------------------------- */

static size_t policy_static(const struct ms_policy_params *p, const struct ms_policy_host *h,
			    const struct ms_policy_guest *g, struct ms_policy_state *s, size_t n,
			    struct ms_policy_action *a, size_t max)
{
	(void)p; (void)h; (void)g; (void)s; (void)n; (void)a; (void)max;
	return 0;
}

/* ---- oVirt MoM default balloon rules ----------------------------------------
 * MoM's balloon.rules (mom/doc/rules/balloon.rules), with its constants as
 * parameters.  host_free = available / total.
 *  - host_free < pressure: shrink every guest towards
 *      min = used + guest_free * current, used = current - MemFree,
 *      guest_free = min_guest_free * host_free / pressure
 *                   (critical: host_free - 0.05, i.e. force the guest to swap),
 *    by at most mom_step_ratio of its size per round;
 *  - otherwise grow every ballooned guest by mom_step_ratio of its size, at
 *    least to used + min_guest_free * max, never above its maximum;
 *  - changes smaller than mom_min_change_ratio of the guest are skipped.
 */
static size_t policy_mom(const struct ms_policy_params *p, const struct ms_policy_host *h,
			 const struct ms_policy_guest *guests, struct ms_policy_state *states,
			 size_t n, struct ms_policy_action *actions, size_t max)
{
	double host_free = h->total_bytes ? (double)h->available_bytes / (double)h->total_bytes : 1;
	bool pressure = host_free < p->host_pressure_ratio;
	double guest_free = host_free <= p->host_critical_ratio
		? host_free - 0.05
		: p->guest_min_free_ratio * host_free / MS_MAX(p->host_pressure_ratio, 1e-9);
	size_t na = 0;

	for (size_t i = 0; i < n; i++) {
		const struct ms_policy_guest *g = &guests[i];
		struct ms_policy_action a = { .type = MS_POLICY_BALLOON, .guest_id = g->id };
		double cur = (double)g->current_bytes, used, size, min;

		/* MoM needs the balloon and the guest's free memory. */
		if (!g->has_balloon || !g->current_bytes || !g->has_report)
			continue;
		used = cur - (double)MS_MIN(g->free_bytes, g->current_bytes);
		if (pressure) {
			min = used + guest_free * cur;
			size = MS_MAX(cur * (1.0 - p->mom_step_ratio), min);
			if (size > cur)
				continue;
			a.reason = "mom: host under pressure: shrink the guest";
		} else {
			if (g->current_bytes >= g->max_bytes)
				continue;
			min = used + p->guest_min_free_ratio * (double)g->max_bytes;
			size = MS_MIN(cur * (1.0 + p->mom_step_ratio), (double)g->max_bytes);
			size = MS_MAX(size, min);
			a.reason = "mom: host not under pressure: grow the guest";
		}
		if (fabs(size - cur) <= p->mom_min_change_ratio * cur)
			continue;
		a.target_bytes = bound_target(g, size <= 0 ? 0 : (uint64_t)size);
		if (a.target_bytes == g->current_bytes)
			continue;
		if (!push(actions, max, &na, &a))
			break;
		states[i].last_take_ms = h->now_ms;
	}
	return na;
}

/* ---- ChromeOS concierge BalanceAvailable --------------------------------------
 * vm_tools/concierge/balloon_policy.cc, BalanceAvailableBalloonPolicy:
 *   guest_above = guest available - guest critical margin
 *   host_above  = host available - host critical margin
 *   delta       = (guest_above - host_above) / 2      (> 0: inflate)
 * clamped to [-(host_above + 10 MiB), guest_above + 10 MiB] (its
 * MAX_CRITICAL_DELTA, ba_step_max), and applied only when it moves either
 * side's headroom by more than ba_dead_band_ratio (1%), or either side is
 * within 1 MiB of its critical margin.  Its guest available is free plus
 * page cache, ours MemAvailable; its guest critical margin is 400 MiB for
 * a phone-sized VM, ours ba_guest_critical_ratio of the guest.  With
 * several guests each is weighed against its equal share of the host's
 * headroom.
 */
static size_t policy_balance_available(const struct ms_policy_params *p,
				       const struct ms_policy_host *h,
				       const struct ms_policy_guest *guests,
				       struct ms_policy_state *states, size_t n,
				       struct ms_policy_action *actions, size_t max)
{
	double host_above = (double)h->available_bytes - p->host_critical_ratio * (double)h->total_bytes;
	double margin = (double)p->ba_step_max_bytes;
	size_t nb = 0, na = 0;

	for (size_t i = 0; i < n; i++)
		nb += guests[i].has_balloon && guests[i].has_report;
	if (!nb)
		return 0;
	host_above /= (double)nb;
	for (size_t i = 0; i < n; i++) {
		const struct ms_policy_guest *g = &guests[i];
		struct ms_policy_action a = { .type = MS_POLICY_BALLOON, .guest_id = g->id };
		double guest_above, delta, mag;
		uint64_t target;

		if (!g->has_balloon || !g->has_report)
			continue;
		guest_above = (double)g->available_bytes -
			      p->ba_guest_critical_ratio * (double)g->current_bytes;
		delta = (guest_above - host_above) / 2.0;
		mag = fabs(delta);
		if (!(guest_above < (double)MIB || host_above < (double)MIB ||
		      mag > p->ba_dead_band_ratio * guest_above ||
		      mag > p->ba_dead_band_ratio * host_above))
			continue;
		delta = MS_MAX(delta, -(host_above + margin));
		delta = MS_MIN(delta, guest_above + margin);
		if (delta > 0) {
			target = g->current_bytes > (uint64_t)delta ? g->current_bytes - (uint64_t)delta : 0;
			a.reason = "balance-available: guest has more headroom than the host: inflate";
		} else {
			target = g->current_bytes + (uint64_t)-delta;
			a.reason = "balance-available: host has more headroom than the guest: deflate";
		}
		target = bound_target(g, target);
		if (target == g->current_bytes)
			continue;
		a.target_bytes = target;
		if (!push(actions, max, &na, &a))
			break;
		states[i].last_take_ms = h->now_ms;
	}
	return na;
}

/* ---- memshare -------------------------------------------------------------------
 * 1. Give back fast: a guest stalling (PSI some rate, or avg10, above
 *    stall_backoff), refaulting (more than refault_limit of its working set
 *    per minute), or nearly out of available memory (under
 *    guest_short_ratio of its MemTotal) is deflated at once by what it
 *    lacks to reach guest_min_free_ratio, at least deflate_step_ratio of its
 *    maximum, and left alone for backoff_ms (doubling while it keeps
 *    happening).  When the host is fine, a ballooned guest under
 *    guest_min_free_ratio is topped up too, before it stalls.  All
 *    deflations of one round share the host's headroom above critical in
 *    proportion to need, so no guest's claims push the host into trouble
 *    and none is starved by its place in the list.
 * 2. Return what was freed: memory a guest reclaimed for us is taken with
 *    the balloon, down to a floor that keeps its working set plus
 *    guest_min_free_ratio and its min_guarantee.
 * 3. Take cold memory first: ask guests with cold memory (idle >=
 *    cold_age_ms) to reclaim it, largest idle-taxed footprint per share
 *    first (ESX); step by host level; proactively (one guest per round)
 *    when the host is fine, every eligible guest under pressure.  When a
 *    host NUMA node is short, guests on it go first.
 */

/*
 * ESX idle-memory tax: a guest's memory per share, with idle (cold) bytes
 * counted k = 1/(1 - idle_tax) times:  cost = P (f + k (1 - f)) / S, the
 * inverse of ESX's shares-per-page ratio rho = S / (P (f + k (1 - f))).
 * The highest cost (lowest rho) gives memory first.
 */
static double taxed_cost(const struct ms_policy_params *p, const struct ms_policy_guest *g)
{
	double P = (double)g->current_bytes, k = 1.0 / (1.0 - p->idle_tax);
	double idle = P > 0 ? (double)MS_MIN(g->cold_bytes, g->current_bytes) / P : 0;
	double f = 1.0 - idle, shares = g->shares > 0 ? g->shares : 1.0;

	return P * (f + k * (1.0 - f)) / shares;
}

/* A guest's own size: its MemTotal when it reported one (with a balloon
 * MemTotal follows the balloon), else what the VMM says it has. */
static uint64_t guest_size(const struct ms_policy_guest *g)
{
	return g->has_report && g->total_bytes ? g->total_bytes : g->current_bytes;
}

static bool guest_hot(const struct ms_policy_params *p, const struct ms_policy_guest *g,
		      const char **why)
{
	double stall = isnan(g->stall_us_per_s) ? 0 : g->stall_us_per_s;

	if (!g->has_report)
		return false;
	/* The rate between the last two reports, or PSI's own 10 s average
	 * (percent -> us/s), whichever is higher: a spike between rounds
	 * still shows in avg10. */
	if (!isnan(g->psi_some_avg10))
		stall = MS_MAX(stall, g->psi_some_avg10 * 1e4);
	if (stall > p->stall_backoff_us_per_s) {
		*why = "memshare: guest stalls on memory: deflate and back off";
		return true;
	}
	if (!isnan(g->refault_bytes_per_s) && g->working_set_bytes &&
	    g->refault_bytes_per_s * 60.0 >
		    p->refault_limit_ratio_per_min * (double)g->working_set_bytes) {
		*why = "memshare: guest refaults its working set: deflate and back off";
		return true;
	}
	if ((double)g->available_bytes < p->guest_short_ratio * (double)guest_size(g) &&
	    guest_size(g)) {
		*why = "memshare: guest is nearly out of available memory: deflate and back off";
		return true;
	}
	return false;
}

/* Lowest balloon target that keeps the working set plus the free share. */
static uint64_t take_floor(const struct ms_policy_params *p, const struct ms_policy_guest *g)
{
	double ws = (double)MS_MIN(g->working_set_bytes, g->current_bytes);
	double keep = ws / (1.0 - MS_MIN(p->guest_min_free_ratio, 0.9));

	return MS_MAX(g->floor_bytes, keep >= 1.8e19 ? UINT64_MAX : (uint64_t)keep);
}

struct cand {
	size_t idx;
	double score;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->score != y->score)
		return x->score < y->score ? 1 : -1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Host nodes whose free share is under the critical ratio. */
static uint64_t short_nodes(const struct ms_policy_params *p, const struct ms_policy_host *h)
{
	uint64_t mask = 0;

	for (uint32_t i = 0; i < h->nr_nodes && i < MS_POLICY_MAX_NODES; i++) {
		int32_t node = h->nodes[i].node;

		if (node >= 0 && node < 64 && h->nodes[i].total_bytes &&
		    (double)h->nodes[i].free_bytes <
			    p->host_critical_ratio * (double)h->nodes[i].total_bytes)
			mask |= 1ull << node;
	}
	return mask;
}

static size_t policy_memshare(const struct ms_policy_params *p, const struct ms_policy_host *h,
			      const struct ms_policy_guest *guests, struct ms_policy_state *states,
			      size_t n, struct ms_policy_action *actions, size_t max)
{
	enum host_level level = host_level(p, h);
	double headroom = (double)h->available_bytes - p->host_critical_ratio * (double)h->total_bytes;
	uint64_t now = h->now_ms, nodes_short = short_nodes(p, h), *need;
	double total_need = 0, scale;
	const char **reason;
	struct cand *cands;
	size_t na = 0, nc = 0, budget, asked = 0;

	/* 1. Give back fast.  First what each guest needs: hot guests their
	 * shortfall (at least deflate_step_ratio of their maximum); when the
	 * host is fine, also ballooned guests below guest_min_free_ratio, before
	 * they stall (MoM grows guests whenever the host has room).  If the
	 * host's headroom above critical cannot cover it all, every guest gets
	 * the same share of its need: none starves for its place in the list. */
	need = calloc(n ? n : 1, sizeof(*need));
	reason = calloc(n ? n : 1, sizeof(*reason));
	if (!need || !reason) {
		free(need);
		free(reason);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ms_policy_guest *g = &guests[i];
		struct ms_policy_state *s = &states[i];
		double lack = p->guest_min_free_ratio * (double)guest_size(g) -
			      (double)g->available_bytes;
		bool hot = guest_hot(p, g, &reason[i]);

		if (hot) {
			s->backoff_until_ms = now + (p->backoff_ms << MS_MIN(s->backoffs, 4u));
			s->backoffs++;
			s->reclaimed_unreturned_bytes = 0;
		} else if (s->backoffs && now >= s->backoff_until_ms + p->backoff_ms) {
			/* Calm for a whole backoff_ms after its last back-off
			 * ended: the next one is not consecutive, it starts at 1x. */
			s->backoffs = 0;
		}
		if (!g->has_balloon || g->current_bytes >= g->max_bytes)
			continue;
		if (hot) {
			need[i] = MS_MAX(lack > 0 ? (uint64_t)lack : 0,
					 ratio_of(p->deflate_step_ratio, g->max_bytes));
		} else if (level == HOST_OK && g->has_report &&
			   lack > p->dead_band_ratio * (double)g->current_bytes) {
			need[i] = MS_MIN((uint64_t)lack, ratio_of(p->deflate_step_ratio, g->max_bytes));
			reason[i] = "memshare: host has room, guest is low on available memory: deflate";
		}
		need[i] = MS_MIN(need[i], g->max_bytes - g->current_bytes);
		total_need += (double)need[i];
	}
	scale = total_need > headroom ? MS_MAX(headroom, 0.0) / total_need : 1.0;
	for (size_t i = 0; i < n; i++) {
		const struct ms_policy_guest *g = &guests[i];
		struct ms_policy_action a = { .type = MS_POLICY_BALLOON, .guest_id = g->id };
		uint64_t target;

		if (!need[i])
			continue;
		target = bound_target(g, g->current_bytes + (uint64_t)((double)need[i] * scale));
		if (target <= g->current_bytes)
			continue;
		a.target_bytes = target;
		a.reason = reason[i];
		if (!push(actions, max, &na, &a))
			break;
	}
	free(need);
	free(reason);
	if (na == max)
		return na;

	/* 2. Return what the guests freed for us. */
	for (size_t i = 0; i < n; i++) {
		const struct ms_policy_guest *g = &guests[i];
		struct ms_policy_state *s = &states[i];
		struct ms_policy_action a = { .type = MS_POLICY_BALLOON, .guest_id = g->id };
		uint64_t floor, target, take;
		const char *why;

		if (!s->reclaimed_unreturned_bytes)
			continue;
		/* Without a balloon, freed memory goes back to the host by free
		 * page reporting, if at all: nothing to take here. */
		if (!g->has_balloon) {
			s->reclaimed_unreturned_bytes = 0;
			continue;
		}
		if (!g->has_report || guest_hot(p, g, &why) || now < s->backoff_until_ms)
			continue;
		floor = take_floor(p, g);
		take = s->reclaimed_unreturned_bytes;
		target = g->current_bytes > take ? g->current_bytes - take : 0;
		target = bound_target(g, MS_MAX(target, floor));
		if (target >= g->current_bytes ||
		    (double)(g->current_bytes - target) < p->dead_band_ratio * (double)g->current_bytes) {
			/* At the floor, or too little to bother. */
			s->reclaimed_unreturned_bytes = 0;
			continue;
		}
		a.target_bytes = target;
		a.reason = "memshare: inflate by what the guest reclaimed";
		/* No room: the freed bytes stay for the next round. */
		if (!push(actions, max, &na, &a))
			return na;
		s->reclaimed_unreturned_bytes -= MS_MIN(s->reclaimed_unreturned_bytes,
							g->current_bytes - target);
		s->last_take_ms = now;
	}

	/* 3. Take cold memory first. */
	if (!p->proactive && level == HOST_OK)
		return na;
	cands = calloc(n ? n : 1, sizeof(*cands));
	if (!cands)
		return na;
	for (size_t i = 0; i < n; i++) {
		const struct ms_policy_guest *g = &guests[i];
		const struct ms_policy_state *s = &states[i];
		uint32_t kinds = g->reclaim_kinds & (MS_RECLAIM_FILE | MS_RECLAIM_ANON);
		const char *why;

		if (!g->has_report || !kinds || s->reclaim_pending || now < s->backoff_until_ms ||
		    (s->last_take_ms && now - s->last_take_ms < p->min_take_interval_ms) ||
		    guest_hot(p, g, &why) || g->cold_bytes < p->reclaim_min_bytes ||
		    s->reclaimed_unreturned_bytes)
			continue;
		/* Stalling at all (above the target) means no probing now. */
		if (!isnan(g->stall_us_per_s) && g->stall_us_per_s > p->stall_target_us_per_s)
			continue;
		cands[nc].idx = i;
		cands[nc].score = taxed_cost(p, g);
		if (g->numa_nodeset & nodes_short)
			cands[nc].score *= 2.0;
		nc++;
	}
	qsort(cands, nc, sizeof(*cands), cand_cmp);
	budget = level == HOST_OK ? p->proactive_guests_per_round : nc;
	/* The budget counts guests asked: one whose step is under reclaim_min
	 * does not use up the round. */
	for (size_t c = 0; c < nc && asked < budget; c++) {
		size_t i = cands[c].idx;
		const struct ms_policy_guest *g = &guests[i];
		struct ms_policy_state *s = &states[i];
		struct ms_policy_action a = { .type = MS_POLICY_RECLAIM, .guest_id = g->id };
		double ratio = level == HOST_CRITICAL ? p->reclaim_step_critical_ratio
			     : level == HOST_PRESSURE ? p->reclaim_step_pressure_ratio
						      : p->reclaim_step_ratio;
		uint64_t bytes = MS_MIN(g->cold_bytes, ratio_of(ratio, g->current_bytes));

		if (bytes < p->reclaim_min_bytes)
			continue;
		a.bytes = bytes;
		a.kinds = g->reclaim_kinds & (MS_RECLAIM_FILE | MS_RECLAIM_ANON);
		a.min_age_ms = p->cold_age_ms;
		a.reason = level == HOST_OK ? "memshare: reclaim cold memory (proactive)"
			 : level == HOST_PRESSURE ? "memshare: host under pressure: reclaim cold memory"
						  : "memshare: host critical: reclaim cold memory";
		if (!push(actions, max, &na, &a))
			break;
		s->reclaim_pending = true;
		s->last_take_ms = now;
		asked++;
	}
	free(cands);
	return na;
}

/* ---- registry and entry points --------------------------------------------- */

static const struct ms_policy_ops ops_memshare = {
	"memshare", "cold memory first: guest reclaim, then balloon; back off on stall",
	policy_memshare,
};
static const struct ms_policy_ops ops_mom = {
	"mom", "oVirt MoM default balloon rules", policy_mom,
};
static const struct ms_policy_ops ops_ba = {
	"balance-available", "ChromeOS concierge BalanceAvailable", policy_balance_available,
};
static const struct ms_policy_ops ops_static = {
	"static", "never acts (baseline)", policy_static,
};
static const struct ms_policy_ops *const all_policies[] = {
	&ops_memshare, &ops_mom, &ops_ba, &ops_static, NULL,
};

MS_EXPORT const struct ms_policy_ops *const *ms_policy_list(void)
{
	return all_policies;
}

MS_EXPORT const struct ms_policy_ops *ms_policy_find(const char *name)
{
	for (size_t i = 0; name && all_policies[i]; i++)
		if (strcmp(all_policies[i]->name, name) == 0)
			return all_policies[i];
	return NULL;
}

MS_EXPORT size_t ms_policy_decide(const struct ms_policy_ops *policy,
				  const struct ms_policy_params *params,
				  const struct ms_policy_host *host,
				  const struct ms_policy_guest *guests, struct ms_policy_state *states,
				  size_t nr_guests, struct ms_policy_action *actions, size_t max_actions)
{
	if (!policy || !params || !host || (nr_guests && (!guests || !states)) ||
	    (max_actions && !actions))
		return 0;
	return policy->decide(params, host, guests, states, nr_guests, actions, max_actions);
}

MS_EXPORT void ms_policy_note_reclaim(struct ms_policy_state *s, const struct ms_policy_params *p,
				      uint64_t now_ms, int status, uint64_t requested_bytes,
				      uint64_t freed_bytes)
{
	if (!s || !p)
		return;
	s->reclaim_pending = false;
	if (status != 0 && status != -EAGAIN) {
		/* A guest that cannot or did not reclaim is left alone a while. */
		s->backoff_until_ms = now_ms + p->backoff_ms;
		return;
	}
	/* A guest cannot free more for us than we asked for. */
	s->reclaimed_unreturned_bytes += MS_MIN(freed_bytes, requested_bytes);
}

MS_EXPORT void ms_policy_guest_from_report(struct ms_policy_guest *g,
					   const struct ms_policy_params *p,
					   const struct ms_report *rep, const struct ms_rates *rates,
					   uint64_t caps)
{
	const struct ms_meminfo *mi;
	uint64_t total, freeb, avail, cold, slab, used;
	bool swap;

	if (!g || !p || !rep)
		return;
	mi = &rep->meminfo;
	total = mi->total_bytes == MS_UNKNOWN ? 0 : mi->total_bytes;
	freeb = mi->free_bytes == MS_UNKNOWN ? 0 : MS_MIN(mi->free_bytes, total);
	avail = mi->available_bytes == MS_UNKNOWN ? freeb : MS_MIN(mi->available_bytes, total);
	slab = mi->sreclaimable_bytes == MS_UNKNOWN ? 0 : MS_MIN(mi->sreclaimable_bytes, total);
	swap = mi->swap_total_bytes != MS_UNKNOWN && mi->swap_total_bytes > 0;
	cold = rep->lru ? ms_lru_summary_bytes_older_than(rep->lru, p->cold_age_ms,
							 MS_LRU_FILE | (swap ? MS_LRU_ANON : 0))
			: 0;
	cold = MS_MIN(cold, total - freeb);
	used = total - freeb - cold;
	g->has_report = true;
	g->total_bytes = total;
	g->free_bytes = freeb;
	g->available_bytes = avail;
	g->cold_bytes = cold;
	g->working_set_bytes = used > slab ? used - slab : 0;
	g->psi_some_avg10 = rep->has_psi ? rep->psi.some.avg10 : NAN;
	g->stall_us_per_s = rates ? rates->some_stall_us_per_s : NAN;
	g->refault_bytes_per_s = rates ? rates->refault_bytes_per_s : NAN;
	g->reclaim_kinds = 0;
	if (caps & MS_CAP_MEMCG_RECLAIM)
		g->reclaim_kinds |= MS_RECLAIM_FILE | (swap ? MS_RECLAIM_ANON : 0);
	if (caps & MS_CAP_SLAB_RECLAIM)
		g->reclaim_kinds |= MS_RECLAIM_SLAB;
}
