/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * policy/: the parameters, the registry, and every rule and guard of the
 * four built-in policies (docs/policy.md), with the expected bytes worked
 * out by hand; ms_policy_note_reclaim(); ms_policy_guest_from_report() on
 * hand-made Reports and on the linux-6.1-guest capture.
 *
 * Sizes are mostly decimal (GB = 10^9 bytes) with odd offsets, so that a
 * ratio times a size never lands exactly on an integer where the double
 * for the ratio is below its decimal value (0.95 = 1 - 0.05 is): the
 * truncated byte counts below are then exactly the decimal arithmetic in
 * the comments.  Ratios used directly (0.02, 0.05, 0.1, 0.2, 0.0025, 0.01)
 * have doubles slightly above their decimal value, so an exact integer
 * product still truncates to that integer.
 */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memshare/memshare.h>

#include "testutil.h"

#define GUEST_FIXTURE MS_FIXTURES_DIR "/linux-6.1-guest"
#define KIB 1024ull
#define MIB (1024ull * 1024ull)
#define GIB (1024ull * 1024ull * 1024ull)
#define GB 1000000000ull
#define MAXA 16

/* ---- helpers --------------------------------------------------------------- */

static struct ms_policy_params P;

static void setup(void)
{
	ms_policy_params_init(&P);
}

static void teardown(void)
{
}

/* A host of @total bytes with @avail available, no PSI, no NUMA figures. */
static struct ms_policy_host host_at(uint64_t now, uint64_t total, uint64_t avail)
{
	struct ms_policy_host h;

	memset(&h, 0, sizeof(h));
	h.now_ms = now;
	h.total_bytes = total;
	h.available_bytes = avail;
	h.psi_some_avg10 = NAN;
	return h;
}

/*
 * A ballooned guest with a fresh report: @cur of @max bytes, @avail
 * available (MemFree the same), nothing cold, a 4 GB working set, file
 * reclaim, stall and refaults unknown.
 */
static struct ms_policy_guest guest_mk(uint64_t id, uint64_t max, uint64_t cur, uint64_t avail)
{
	struct ms_policy_guest g;

	memset(&g, 0, sizeof(g));
	g.id = id;
	g.has_balloon = true;
	g.max_bytes = max;
	g.current_bytes = cur;
	g.shares = 1;
	g.has_report = true;
	g.reclaim_kinds = MS_RECLAIM_FILE;
	g.total_bytes = cur;
	g.free_bytes = avail;
	g.available_bytes = avail;
	g.working_set_bytes = 4 * GB;
	g.psi_some_avg10 = NAN;
	g.stall_us_per_s = NAN;
	g.refault_bytes_per_s = NAN;
	return g;
}

static size_t decide(const char *name, const struct ms_policy_host *h,
		     const struct ms_policy_guest *g, struct ms_policy_state *s, size_t n,
		     struct ms_policy_action *a, size_t max)
{
	const struct ms_policy_ops *ops = ms_policy_find(name);

	ck_assert_ptr_nonnull(ops);
	memset(a, 0x5a, sizeof(*a) * max);
	return ms_policy_decide(ops, &P, h, g, s, n, a, max);
}

/* One guest, fresh state: the number of actions. */
static size_t decide1(const char *name, const struct ms_policy_host *h,
		      const struct ms_policy_guest *g, struct ms_policy_state *s,
		      struct ms_policy_action *a)
{
	return decide(name, h, g, s, 1, a, MAXA);
}

static void check_balloon(const struct ms_policy_action *a, uint64_t id, uint64_t target)
{
	ck_assert_int_eq(a->type, MS_POLICY_BALLOON);
	ck_assert_uint_eq(a->guest_id, id);
	ck_assert_uint_eq(a->target_bytes, target);
	ck_assert_ptr_nonnull(a->reason);
}

static void check_reclaim(const struct ms_policy_action *a, uint64_t id, uint64_t bytes,
			  uint32_t kinds)
{
	ck_assert_int_eq(a->type, MS_POLICY_RECLAIM);
	ck_assert_uint_eq(a->guest_id, id);
	ck_assert_uint_eq(a->bytes, bytes);
	ck_assert_uint_eq(a->kinds, kinds);
	ck_assert_uint_eq(a->min_age_ms, P.cold_age_ms);
	ck_assert_ptr_nonnull(a->reason);
}

static bool has(const char *hay, const char *needle)
{
	return hay && strstr(hay, needle) != NULL;
}

/* ---- parameters ---------------------------------------------------------- */

/* The table of docs/policy.md (and the defaults policy.h lists), field by field. */
START_TEST(params_defaults)
{
	struct ms_policy_params p;

	memset(&p, 0xa5, sizeof(p));
	ms_policy_params_init(&p);
	ck_assert_uint_eq(p.interval_ms, 10000);
	ck_assert_double_eq(p.host_pressure_ratio, 0.20);
	ck_assert_double_eq(p.host_critical_ratio, 0.05);
	ck_assert_double_eq(p.host_psi_pressure_pct, 1.0);
	ck_assert_double_eq(p.guest_min_free_ratio, 0.20);
	ck_assert_double_eq(p.mom_step_ratio, 0.05);
	ck_assert_double_eq(p.mom_min_change_ratio, 0.0025);
	ck_assert_uint_eq(p.ba_step_max_bytes, 10 * MIB);
	ck_assert_double_eq(p.ba_dead_band_ratio, 0.01);
	ck_assert_double_eq(p.ba_guest_critical_ratio, 0.05);
	ck_assert_uint_eq(p.cold_age_ms, 120000);
	ck_assert_double_eq(p.stall_target_us_per_s, 1000);
	ck_assert_double_eq(p.stall_backoff_us_per_s, 2000);
	ck_assert_double_eq(p.refault_limit_ratio_per_min, 0.002);
	ck_assert_double_eq(p.idle_tax, 0.75);
	ck_assert_double_eq(p.reclaim_step_ratio, 0.02);
	ck_assert_double_eq(p.reclaim_step_pressure_ratio, 0.05);
	ck_assert_double_eq(p.reclaim_step_critical_ratio, 0.10);
	ck_assert_uint_eq(p.reclaim_min_bytes, 4 * MIB);
	ck_assert(p.proactive);
	ck_assert_uint_eq(p.proactive_guests_per_round, 1);
	ck_assert_double_eq(p.deflate_step_ratio, 0.10);
	ck_assert_double_eq(p.dead_band_ratio, 0.0025);
	ck_assert_uint_eq(p.min_take_interval_ms, 10000);
	ck_assert_uint_eq(p.backoff_ms, 60000);
	ck_assert_uint_eq(p.report_max_age_ms, 10000);
}
END_TEST

/* Every key, set to the documented default on a zeroed struct, rebuilds
 * ms_policy_params_init() byte for byte: the keys cover every field. */
static const struct {
	const char *key, *value;
} doc_defaults[] = {
	{ "interval_ms", "10000" },
	{ "host_pressure_ratio", "0.20" },
	{ "host_critical_ratio", "0.05" },
	{ "host_psi_pressure", "1.0" },
	{ "guest_min_free_ratio", "0.20" },
	{ "mom_step_ratio", "0.05" },
	{ "mom_min_change_ratio", "0.0025" },
	{ "ba_step_max", "10M" },
	{ "ba_dead_band_ratio", "0.01" },
	{ "ba_guest_critical_ratio", "0.05" },
	{ "cold_age_ms", "120000" },
	{ "stall_target", "1000" },
	{ "stall_backoff", "2000" },
	{ "refault_limit", "0.002" },
	{ "idle_tax", "0.75" },
	{ "reclaim_step_ratio", "0.02" },
	{ "reclaim_step_pressure_ratio", "0.05" },
	{ "reclaim_step_critical_ratio", "0.10" },
	{ "reclaim_min", "4M" },
	{ "proactive", "true" },
	{ "proactive_guests_per_round", "1" },
	{ "deflate_step_ratio", "0.10" },
	{ "dead_band_ratio", "0.0025" },
	{ "min_take_interval", "10000" },
	{ "backoff", "60000" },
	{ "report_max_age", "10000" },
	{ "guest_short_ratio", "0.05" },
};

START_TEST(params_keys_cover_struct)
{
	struct ms_policy_params p, want;

	ms_policy_params_init(&want);
	memset(&p, 0, sizeof(p));
	for (size_t i = 0; i < sizeof(doc_defaults) / sizeof(doc_defaults[0]); i++)
		ck_assert_msg(ms_policy_params_set(&p, doc_defaults[i].key, doc_defaults[i].value) == 0,
			      "%s = %s", doc_defaults[i].key, doc_defaults[i].value);
	ck_assert_mem_eq(&p, &want, sizeof(p));
}
END_TEST

START_TEST(params_sizes)
{
	struct ms_policy_params p;

	ms_policy_params_init(&p);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "7"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 7);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "4K"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 4 * KIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "5k"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 5 * KIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "3M"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 3 * MIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "6m"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 6 * MIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "2G"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 2 * GIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "3g"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 3 * GIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "5MiB"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 5 * MIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "9KB"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 9 * KIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "reclaim_min", "0"), 0);
	ck_assert_uint_eq(p.reclaim_min_bytes, 0);
	ck_assert_int_eq(ms_policy_params_set(&p, "ba_step_max", "18446744073709551615"), 0);
	ck_assert_uint_eq(p.ba_step_max_bytes, UINT64_MAX);
	ck_assert_int_eq(ms_policy_params_set(&p, "ba_step_max", "17179869183G"), 0);
	ck_assert_uint_eq(p.ba_step_max_bytes, 17179869183ull * GIB);
	ck_assert_int_eq(ms_policy_params_set(&p, "ba_step_max", "1M"), 0);

	/* Bad sizes change nothing. */
	static const char *const bad[] = {
		"", "-1", "+1", " 1", " -1", "\t5", "1 ", "1T", "1.5M", "M", "1MX", "1iB", "0x10",
		"18446744073709551616", "17179869184G", "16777216T", "1KiBs",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ms_policy_params_set(&p, "ba_step_max", bad[i]) == -EINVAL, "'%s'",
			      bad[i]);
		ck_assert_msg(ms_policy_params_set(&p, "reclaim_min", bad[i]) == -EINVAL, "'%s'",
			      bad[i]);
	}
	ck_assert_uint_eq(p.ba_step_max_bytes, MIB);
	ck_assert_uint_eq(p.reclaim_min_bytes, 0);
}
END_TEST

/* Integer keys and their ranges: in range is taken, one past is -EINVAL. */
START_TEST(params_integers)
{
	static const struct {
		const char *key;
		uint64_t lo, hi;
		size_t off;
		bool u32;
	} keys[] = {
		{ "interval_ms", 100, 3600000, offsetof(struct ms_policy_params, interval_ms), true },
		{ "proactive_guests_per_round", 0, 1000000,
		  offsetof(struct ms_policy_params, proactive_guests_per_round), true },
		{ "cold_age_ms", 1, 86400000, offsetof(struct ms_policy_params, cold_age_ms), false },
		{ "min_take_interval", 0, 86400000,
		  offsetof(struct ms_policy_params, min_take_interval_ms), false },
		{ "backoff", 0, 86400000, offsetof(struct ms_policy_params, backoff_ms), false },
		{ "report_max_age", 0, 86400000,
		  offsetof(struct ms_policy_params, report_max_age_ms), false },
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct ms_policy_params p;
		char v[32];
		uint64_t got;

#define FIELD(p) (keys[i].u32 ? *(const uint32_t *)((const char *)&(p) + keys[i].off) \
			      : *(const uint64_t *)((const char *)&(p) + keys[i].off))
		ms_policy_params_init(&p);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)keys[i].lo);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, v), 0);
		got = FIELD(p);
		ck_assert_uint_eq(got, keys[i].lo);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)keys[i].hi);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, v), 0);
		got = FIELD(p);
		ck_assert_uint_eq(got, keys[i].hi);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)keys[i].hi + 1);
		ck_assert_msg(ms_policy_params_set(&p, keys[i].key, v) == -EINVAL, "%s %s",
			      keys[i].key, v);
		if (keys[i].lo) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)keys[i].lo - 1);
			ck_assert_msg(ms_policy_params_set(&p, keys[i].key, v) == -EINVAL, "%s %s",
				      keys[i].key, v);
		}
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, "-1"), -EINVAL);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, "12abc"), -EINVAL);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, "1.5"), -EINVAL);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, ""), -EINVAL);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, "99999999999999999999"),
				 -EINVAL);
		got = FIELD(p);
		ck_assert_uint_eq(got, keys[i].hi);
#undef FIELD
	}
}
END_TEST

/* Ratios and the other real-valued keys: bounds inclusive, beyond -EINVAL. */
START_TEST(params_reals)
{
	static const struct {
		const char *key;
		double lo, hi;
		const char *above;
		size_t off;
	} keys[] = {
#define R(k, f, lo, hi, above) { k, lo, hi, above, offsetof(struct ms_policy_params, f) }
		R("host_pressure_ratio", host_pressure_ratio, 0, 1, "1.0001"),
		R("host_critical_ratio", host_critical_ratio, 0, 1, "1.0001"),
		R("host_psi_pressure", host_psi_pressure_pct, 0, 100, "100.01"),
		R("guest_min_free_ratio", guest_min_free_ratio, 0, 0.9, "0.9001"),
		R("mom_step_ratio", mom_step_ratio, 0, 1, "1.5"),
		R("mom_min_change_ratio", mom_min_change_ratio, 0, 1, "2"),
		R("ba_dead_band_ratio", ba_dead_band_ratio, 0, 1, "1.01"),
		R("ba_guest_critical_ratio", ba_guest_critical_ratio, 0, 1, "1.01"),
		R("stall_target", stall_target_us_per_s, 0, 1e6, "1000001"),
		R("stall_backoff", stall_backoff_us_per_s, 0, 1e6, "1e7"),
		R("refault_limit", refault_limit_ratio_per_min, 0, 1, "1.1"),
		R("idle_tax", idle_tax, 0, 0.99, "0.995"),
		R("reclaim_step_ratio", reclaim_step_ratio, 0, 1, "1.1"),
		R("reclaim_step_pressure_ratio", reclaim_step_pressure_ratio, 0, 1, "1.1"),
		R("reclaim_step_critical_ratio", reclaim_step_critical_ratio, 0, 1, "1.1"),
		R("deflate_step_ratio", deflate_step_ratio, 0, 1, "1.1"),
		R("dead_band_ratio", dead_band_ratio, 0, 1, "1.1"),
#undef R
	};
	static const char *const bad[] = { "", "-0.1", "abc", "0.5x", "nan", "inf", "-inf", "0,5" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct ms_policy_params p;
		char v[32];
		const double *f = (const double *)((const char *)&p + keys[i].off);

		ms_policy_params_init(&p);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, "0"), 0);
		ck_assert_double_eq(*f, 0);
		snprintf(v, sizeof(v), "%.17g", keys[i].hi);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, v), 0);
		ck_assert_double_eq(*f, keys[i].hi);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, "0.125"), 0);
		ck_assert_double_eq(*f, 0.125);
		ck_assert_int_eq(ms_policy_params_set(&p, keys[i].key, "1e-3"), 0);
		ck_assert_double_eq(*f, 1e-3);
		ck_assert_msg(ms_policy_params_set(&p, keys[i].key, keys[i].above) == -EINVAL, "%s %s",
			      keys[i].key, keys[i].above);
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++)
			ck_assert_msg(ms_policy_params_set(&p, keys[i].key, bad[b]) == -EINVAL,
				      "%s '%s'", keys[i].key, bad[b]);
		ck_assert_double_eq(*f, 1e-3);
	}
}
END_TEST

START_TEST(params_booleans)
{
	static const char *const yes[] = { "yes", "true", "1", "on", "TRUE", "Yes", "ON" };
	static const char *const no[] = { "no", "false", "0", "off", "FALSE", "No", "Off" };
	static const char *const bad[] = { "", "2", "maybe", "y", "n", "truee", " true", "01" };
	struct ms_policy_params p;

	ms_policy_params_init(&p);
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		p.proactive = false;
		ck_assert_int_eq(ms_policy_params_set(&p, "proactive", yes[i]), 0);
		ck_assert_msg(p.proactive, "%s", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		p.proactive = true;
		ck_assert_int_eq(ms_policy_params_set(&p, "proactive", no[i]), 0);
		ck_assert_msg(!p.proactive, "%s", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(ms_policy_params_set(&p, "proactive", bad[i]) == -EINVAL, "'%s'", bad[i]);
		ck_assert(!p.proactive);
	}
}
END_TEST

START_TEST(params_unknown_and_null)
{
	struct ms_policy_params p, before;

	ms_policy_params_init(&p);
	before = p;
	ck_assert_int_eq(ms_policy_params_set(&p, "nope", "1"), -ENOENT);
	ck_assert_int_eq(ms_policy_params_set(&p, "", "1"), -ENOENT);
	/* Keys are exact: no case folding, no prefixes, no "interval". */
	ck_assert_int_eq(ms_policy_params_set(&p, "Interval_ms", "1000"), -ENOENT);
	ck_assert_int_eq(ms_policy_params_set(&p, "interval", "1000"), -ENOENT);
	ck_assert_int_eq(ms_policy_params_set(&p, "cold_age", "1000"), -ENOENT);
	ck_assert_int_eq(ms_policy_params_set(&p, "backoff_ms", "1000"), -ENOENT);
	/* An unknown key is -ENOENT even with a bad value. */
	ck_assert_int_eq(ms_policy_params_set(&p, "nope", "zzz"), -ENOENT);
	ck_assert_int_eq(ms_policy_params_set(NULL, "idle_tax", "0.5"), -EINVAL);
	ck_assert_int_eq(ms_policy_params_set(&p, NULL, "0.5"), -EINVAL);
	ck_assert_int_eq(ms_policy_params_set(&p, "idle_tax", NULL), -EINVAL);
	ck_assert_mem_eq(&p, &before, sizeof(p));
}
END_TEST

/* ---- registry, decide -------------------------------------------------------- */

START_TEST(registry)
{
	static const char *const names[] = { "memshare", "mom", "balance-available", "static" };
	const struct ms_policy_ops *const *list = ms_policy_list();
	size_t n = 0;

	ck_assert_ptr_nonnull(list);
	while (list[n])
		n++;
	ck_assert_uint_eq(n, 4);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(list[i]->name, names[i]);
		ck_assert_ptr_nonnull(list[i]->description);
		ck_assert_uint_gt(strlen(list[i]->description), 0);
		ck_assert_ptr_nonnull(list[i]->decide);
		ck_assert_ptr_eq(ms_policy_find(names[i]), list[i]);
	}
	ck_assert_ptr_eq(ms_policy_list(), list);
	ck_assert_ptr_null(ms_policy_find(NULL));
	ck_assert_ptr_null(ms_policy_find(""));
	ck_assert_ptr_null(ms_policy_find("MoM"));
	ck_assert_ptr_null(ms_policy_find("memshare "));
	ck_assert_ptr_null(ms_policy_find("balance"));
}
END_TEST

/* A guest that memshare would deflate (short of memory, below its max). */
static struct ms_policy_guest hot_guest(void)
{
	return guest_mk(1, 10 * GB, 8 * GB, 0);
}

START_TEST(decide_arguments)
{
	const struct ms_policy_ops *ops = ms_policy_find("memshare");
	struct ms_policy_host h = host_at(1000, 100 * GB, 50 * GB);
	struct ms_policy_guest g = hot_guest();
	struct ms_policy_state s, zero;
	struct ms_policy_action a[MAXA];

	memset(&s, 0, sizeof(s));
	memset(&zero, 0, sizeof(zero));
	ck_assert_uint_eq(ms_policy_decide(NULL, &P, &h, &g, &s, 1, a, MAXA), 0);
	ck_assert_uint_eq(ms_policy_decide(ops, NULL, &h, &g, &s, 1, a, MAXA), 0);
	ck_assert_uint_eq(ms_policy_decide(ops, &P, NULL, &g, &s, 1, a, MAXA), 0);
	ck_assert_uint_eq(ms_policy_decide(ops, &P, &h, NULL, &s, 1, a, MAXA), 0);
	ck_assert_uint_eq(ms_policy_decide(ops, &P, &h, &g, NULL, 1, a, MAXA), 0);
	ck_assert_uint_eq(ms_policy_decide(ops, &P, &h, &g, &s, 1, NULL, 1), 0);
	/* Refused calls did not run the policy. */
	ck_assert_mem_eq(&s, &zero, sizeof(s));

	/* No guests: NULL arrays are fine, for every policy. */
	for (const struct ms_policy_ops *const *l = ms_policy_list(); *l; l++)
		ck_assert_uint_eq(ms_policy_decide(*l, &P, &h, NULL, NULL, 0, a, MAXA), 0);
	/* No room for actions: none written, but the policy did run (the
	 * guest's back-off is a fact about the guest, not an action). */
	ck_assert_uint_eq(ms_policy_decide(ops, &P, &h, &g, &s, 1, NULL, 0), 0);
	ck_assert_uint_eq(s.backoffs, 1);
	/* The same round with room: the deflate. */
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(ms_policy_decide(ops, &P, &h, &g, &s, 1, a, MAXA), 1);
	check_balloon(&a[0], 1, 9600000000ull);
	/* Pure: the same inputs give the same outputs. */
	{
		struct ms_policy_state s2;
		struct ms_policy_action b[MAXA];

		memset(&s2, 0, sizeof(s2));
		memset(b, 0, sizeof(b));
		ck_assert_uint_eq(ms_policy_decide(ops, &P, &h, &g, &s2, 1, b, MAXA), 1);
		ck_assert_mem_eq(&s2, &s, sizeof(s));
		ck_assert_uint_eq(b[0].target_bytes, a[0].target_bytes);
		ck_assert_str_eq(b[0].reason, a[0].reason);
	}
}
END_TEST

/* ---- static ------------------------------------------------------------------ */

START_TEST(static_never_acts)
{
	struct ms_policy_guest g[3] = { hot_guest(), guest_mk(2, 10 * GB, 10 * GB, 5 * GB),
					guest_mk(3, 10 * GB, 6 * GB, 1 * GB) };
	struct ms_policy_state s[3], zero[3];
	struct ms_policy_action a[MAXA];
	static const uint64_t avail[] = { 50 * GB, 19 * GB, 4 * GB, 0 };

	g[1].cold_bytes = 3 * GB;
	g[2].stall_us_per_s = 1e6;
	memset(s, 0, sizeof(s));
	s[1].reclaimed_unreturned_bytes = GB;
	memcpy(zero, s, sizeof(s));
	for (size_t i = 0; i < sizeof(avail) / sizeof(avail[0]); i++) {
		struct ms_policy_host h = host_at(1000 + i, 100 * GB, avail[i]);

		ck_assert_uint_eq(decide("static", &h, g, s, 3, a, MAXA), 0);
		ck_assert_mem_eq(s, zero, sizeof(s));
	}
}
END_TEST

/* ---- mom ---------------------------------------------------------------------
 * Host 100 GB; a guest of max 10 GB at cur = 8 000 000 001 bytes.
 * host_free = avail / 100 GB; pressure below 0.20, critical at or below 0.05.
 */

#define MOM_CUR 8000000001ull

static struct ms_policy_guest mom_guest(uint64_t id, uint64_t cur, uint64_t free_bytes)
{
	struct ms_policy_guest g = guest_mk(id, 10 * GB, cur, free_bytes);

	return g;
}

/* MoM's target for one guest, or 0 if it does nothing. */
static uint64_t mom1(uint64_t host_avail, struct ms_policy_guest g)
{
	struct ms_policy_host h = host_at(5000, 100 * GB, host_avail);
	struct ms_policy_state s;
	struct ms_policy_action a[MAXA];
	size_t n;

	memset(&s, 0, sizeof(s));
	n = decide1("mom", &h, &g, &s, a);
	ck_assert_uint_le(n, 1);
	if (!n) {
		ck_assert_uint_eq(s.last_take_ms, 0);
		return 0;
	}
	ck_assert_int_eq(a[0].type, MS_POLICY_BALLOON);
	ck_assert_uint_eq(a[0].guest_id, g.id);
	ck_assert_uint_eq(s.last_take_ms, 5000);
	ck_assert(has(a[0].reason, a[0].target_bytes < g.current_bytes ? "shrink" : "grow"));
	return a[0].target_bytes;
}

START_TEST(mom_pressure_threshold)
{
	/* free 3 GB: used = 5 000 000 001.
	 * host_free 0.20 exactly is not pressure: grow by 5%,
	 *   min(cur * 1.05, max) = 8 400 000 001.05, at least
	 *   used + 0.20 * max = 7 000 000 001 -> 8 400 000 001. */
	ck_assert_uint_eq(mom1(20 * GB, mom_guest(1, MOM_CUR, 3 * GB)), 8400000001ull);
	ck_assert_uint_eq(mom1(20 * GB + 1, mom_guest(1, MOM_CUR, 3 * GB)), 8400000001ull);
	/* One byte less (host_free 0.19999999999) is pressure: shrink to
	 * max(cur * 0.95 = 7 600 000 000.95,
	 *     used + guest_free * cur = 5 000 000 001 + 0.19999999999 * cur
	 *       = 6 600 000 001.12) -> 7 600 000 000. */
	ck_assert_uint_eq(mom1(20 * GB - 1, mom_guest(1, MOM_CUR, 3 * GB)), 7600000000ull);
	/* Host MemTotal unknown (0): host_free counts as 1, grow. */
	{
		struct ms_policy_host h = host_at(5000, 0, 0);
		struct ms_policy_guest g = mom_guest(1, MOM_CUR, 3 * GB);
		struct ms_policy_state s = { 0 };
		struct ms_policy_action a[MAXA];

		ck_assert_uint_eq(decide1("mom", &h, &g, &s, a), 1);
		check_balloon(&a[0], 1, 8400000001ull);
	}
}
END_TEST

START_TEST(mom_shrink_target)
{
	/* host_free 0.10: guest_free = 0.20 * 0.10 / 0.20 = 0.10.  free 1 GB:
	 * used = 7 000 000 001, min = used + 0.1 * cur = 7 800 000 001.1000001,
	 * above cur * 0.95 = 7 600 000 000.95: the target is min. */
	ck_assert_uint_eq(mom1(10 * GB, mom_guest(1, MOM_CUR, 1 * GB)), 7800000001ull);
	/* free 3 GB: min = 5 000 000 001 + 800 000 000.1 below the 5% step. */
	ck_assert_uint_eq(mom1(10 * GB, mom_guest(1, MOM_CUR, 3 * GB)), 7600000000ull);
	/* The guest needs more than it has (min > cur): no action at all, MoM
	 * never grows a guest under pressure.  free 0.5 GB: min = 7 500 000 001 +
	 * 800 000 000.1 > cur. */
	ck_assert_uint_eq(mom1(10 * GB, mom_guest(1, MOM_CUR, GB / 2)), 0);
	/* MemFree above the balloon (a lying guest) counts as cur: used 0. */
	ck_assert_uint_eq(mom1(10 * GB, mom_guest(1, MOM_CUR, 20 * GB)), 7600000000ull);
}
END_TEST

START_TEST(mom_critical)
{
	/* host_free 0.04 <= 0.05 is critical: guest_free = 0.04 - 0.05 = -0.01,
	 * forcing the guest below its used memory.  free 100 MB: used =
	 * 7 900 000 001, min = used - 0.01 * cur = 7 820 000 000.99 above the
	 * 5% step -> 7 820 000 000. */
	ck_assert_uint_eq(mom1(4 * GB, mom_guest(1, MOM_CUR, 100000000)), 7820000000ull);
	/* host_free 0.05 exactly is critical too (<=): guest_free 0, min = used. */
	ck_assert_uint_eq(mom1(5 * GB, mom_guest(1, MOM_CUR, 100000000)), 7900000001ull);
	/* Just above: the scaled rule, guest_free 0.05001, min = 7 900 000 001 +
	 * 400 080 000.05 > cur: nothing. */
	ck_assert_uint_eq(mom1(5 * GB + 1000000, mom_guest(1, MOM_CUR, 100000000)), 0);
	/* Host fully used (host_free 0): guest_free -0.05, min = used - 0.05 cur
	 * = 7 500 000 000.95, but never more than the 5% step: 7 600 000 000. */
	ck_assert_uint_eq(mom1(0, mom_guest(1, MOM_CUR, 100000000)), 7600000000ull);
}
END_TEST

START_TEST(mom_dead_band)
{
	/* Shrink at host_free 0.10: the change is cur - min = free - 0.1 cur.
	 * 0.25% of cur is 20 000 000.0025.  free 820 000 000: 19 999 999.9, skipped. */
	ck_assert_uint_eq(mom1(10 * GB, mom_guest(1, MOM_CUR, 820000000)), 0);
	/* free 820 000 002: used 7 179 999 999, min 7 979 999 999.1: 20 000 001.9. */
	ck_assert_uint_eq(mom1(10 * GB, mom_guest(1, MOM_CUR, 820000002)), 7979999999ull);
	/* Grow: 19 999 999 short of the max, 0.25% of cur is 24 950 000.0025:
	 * skipped. */
	ck_assert_uint_eq(mom1(50 * GB, mom_guest(1, 9980000001ull, 3 * GB)), 0);
	/* 30 000 000 short: grown to the max. */
	ck_assert_uint_eq(mom1(50 * GB, mom_guest(1, 9970000000ull, 3 * GB)), 10 * GB);
}
END_TEST

START_TEST(mom_grow)
{
	/* host_free 0.5.  The 5% step: 8 400 000 001. */
	ck_assert_uint_eq(mom1(50 * GB, mom_guest(1, MOM_CUR, 3 * GB)), 8400000001ull);
	/* At least used + 0.20 * max: free 0.5 GB, used 7 500 000 001 ->
	 * 9 500 000 001, more than the step. */
	ck_assert_uint_eq(mom1(50 * GB, mom_guest(1, MOM_CUR, GB / 2)), 9500000001ull);
	/* Never above the max: cur 9 800 000 001 * 1.05 > 10 GB. */
	ck_assert_uint_eq(mom1(50 * GB, mom_guest(1, 9800000001ull, 3 * GB)), 10 * GB);
	/* used + 0.20 * max above the max (free 0): the max. */
	ck_assert_uint_eq(mom1(50 * GB, mom_guest(1, 9000000001ull, 0)), 10 * GB);
	/* At the max (or above it): nothing to grow. */
	ck_assert_uint_eq(mom1(50 * GB, mom_guest(1, 10 * GB, 3 * GB)), 0);
	ck_assert_uint_eq(mom1(50 * GB, mom_guest(1, 11 * GB, 3 * GB)), 0);
}
END_TEST

START_TEST(mom_bounds_and_skips)
{
	struct ms_policy_host h = host_at(7000, 100 * GB, 10 * GB);
	struct ms_policy_guest g[6];
	struct ms_policy_state s[6];
	struct ms_policy_action a[MAXA];

	/* The floor: the 5% step (7 600 000 000) stops at min_guarantee. */
	g[0] = mom_guest(1, MOM_CUR, 3 * GB);
	g[0].floor_bytes = 7700000000ull;
	ck_assert_uint_eq(mom1(10 * GB, g[0]), 7700000000ull);
	/* A floor at the current size: the bounded target is no change. */
	g[0].floor_bytes = MOM_CUR;
	ck_assert_uint_eq(mom1(10 * GB, g[0]), 0);

	/* No balloon, no report, no size: skipped; the others still act. */
	g[0] = mom_guest(1, MOM_CUR, 3 * GB);
	g[1] = mom_guest(2, MOM_CUR, 3 * GB);
	g[1].has_balloon = false;
	g[2] = mom_guest(3, MOM_CUR, 3 * GB);
	g[2].has_report = false;
	g[3] = mom_guest(4, 0, 3 * GB);
	g[4] = mom_guest(5, MOM_CUR, 3 * GB);
	g[5] = mom_guest(6, MOM_CUR, 3 * GB);
	memset(s, 0, sizeof(s));
	ck_assert_uint_eq(decide("mom", &h, g, s, 6, a, MAXA), 3);
	check_balloon(&a[0], 1, 7600000000ull);
	check_balloon(&a[1], 5, 7600000000ull);
	check_balloon(&a[2], 6, 7600000000ull);
	for (int i = 0; i < 6; i++)
		ck_assert_uint_eq(s[i].last_take_ms, i == 0 || i >= 4 ? 7000 : 0);

	/* max_actions: the first two, the third's state untouched. */
	memset(s, 0, sizeof(s));
	ck_assert_uint_eq(decide("mom", &h, g, s, 6, a, 2), 2);
	check_balloon(&a[0], 1, 7600000000ull);
	check_balloon(&a[1], 5, 7600000000ull);
	ck_assert_uint_eq(s[5].last_take_ms, 0);
	ck_assert_uint_eq(s[4].last_take_ms, 7000);
	/* MoM keeps no other state. */
	ck_assert_uint_eq(s[0].backoffs, 0);
	ck_assert_uint_eq(s[0].backoff_until_ms, 0);
	ck_assert(!s[0].reclaim_pending);
}
END_TEST

/* ---- balance-available ---------------------------------------------------------
 * Host 100 GB, critical 5 GB: host_above = avail - 5 GB (per guest share).
 * Guest cur 10 GB, max 12 GB, critical 0.05 * cur = 500 MB: guest_above =
 * avail - 500 MB.  delta = (guest_above - host_above) / 2, > 0 inflates.
 * ba_step_max (m) = 10 MiB = 10 485 760.
 */

static struct ms_policy_guest ba_guest(uint64_t id, uint64_t avail)
{
	return guest_mk(id, 12 * GB, 10 * GB, avail);
}

static uint64_t ba1(uint64_t host_avail, struct ms_policy_guest g)
{
	struct ms_policy_host h = host_at(3000, 100 * GB, host_avail);
	struct ms_policy_state s;
	struct ms_policy_action a[MAXA];
	size_t n;

	memset(&s, 0, sizeof(s));
	n = decide1("balance-available", &h, &g, &s, a);
	ck_assert_uint_le(n, 1);
	if (!n) {
		ck_assert_uint_eq(s.last_take_ms, 0);
		return 0;
	}
	ck_assert_int_eq(a[0].type, MS_POLICY_BALLOON);
	ck_assert_uint_eq(a[0].guest_id, g.id);
	ck_assert_uint_eq(s.last_take_ms, 3000);
	ck_assert(has(a[0].reason, a[0].target_bytes < g.current_bytes ? "inflate" : "deflate"));
	return a[0].target_bytes;
}

START_TEST(ba_direction)
{
	/* guest_above 3 500 000 001, host_above 2 GB: delta 750 000 000.5:
	 * inflate by 750 000 000. */
	ck_assert_uint_eq(ba1(7 * GB, ba_guest(1, 4000000001ull)), 9250000000ull);
	/* guest_above 500 000 001: delta -749 999 999.5: deflate by 749 999 999. */
	ck_assert_uint_eq(ba1(7 * GB, ba_guest(1, 1000000001ull)), 10749999999ull);
	/* Equal headroom: delta 0, nothing. */
	ck_assert_uint_eq(ba1(7 * GB, ba_guest(1, 2500000000ull)), 0);
	/* Deflating stops at the max... */
	{
		struct ms_policy_guest g = ba_guest(1, 1000000001ull);

		g.max_bytes = 10500000000ull;
		ck_assert_uint_eq(ba1(7 * GB, g), 10500000000ull);
		/* ...and at the max there is nothing to do. */
		g.max_bytes = 10 * GB;
		ck_assert_uint_eq(ba1(7 * GB, g), 0);
	}
	/* Inflating stops at the floor. */
	{
		struct ms_policy_guest g = ba_guest(1, 4000000001ull);

		g.floor_bytes = 9500000000ull;
		ck_assert_uint_eq(ba1(7 * GB, g), 9500000000ull);
	}
}
END_TEST

/*
 * The clamp [-(host_above + m), guest_above + m] only binds when
 * guest_above + host_above < -2m, and then its bounds cross (the lower one
 * is above the upper one); the upper one is applied last and wins, as with
 * ChromeOS's std::clamp (libstdc++ takes min(max(v, lo), hi)).  So when it
 * binds the delta is always guest_above + m.
 */
START_TEST(ba_clamp)
{
	/* Host below critical (host_above -300 MB), guest fine (guest_above
	 * 100 MB): unclamped delta 200 MB, clamped to 100 MB + 10 MiB =
	 * 110 485 760: the guest gives at most its headroom plus the margin. */
	ck_assert_uint_eq(ba1(4700000000ull, ba_guest(1, 600000000)), 9889514240ull);
	/* Both short: host_above 50 MB, guest_above -99 999 999.  Unclamped
	 * -74 999 999.5; the lower bound -(50 MB + m) = -60 485 760 lifts it,
	 * then the upper bound -99 999 999 + m = -89 514 239 brings it down:
	 * deflate by 89 514 239, more than the host's headroom plus margin. */
	ck_assert_uint_eq(ba1(5050000000ull, ba_guest(1, 400000001)), 10089514239ull);
	/* host_above 0, guest_above -20 971 518: the sum is -2m + 2, the clamp
	 * does not bind: delta -10 485 759. */
	ck_assert_uint_eq(ba1(5 * GB, ba_guest(1, 500000000 - 20971518)), 10 * GB + 10485759);
	/* guest_above -20 971 522 (sum -2m - 2): unclamped -10 485 761, lifted
	 * to -(0 + m) = -10 485 760, then lowered to guest_above + m =
	 * -10 485 762: the clamp deflates more than the delta it clamps. */
	ck_assert_uint_eq(ba1(5 * GB, ba_guest(1, 500000000 - 20971522)), 10 * GB + 10485762);
}
END_TEST

START_TEST(ba_dead_band)
{
	/* host_above 2 GB; delta must exceed 1% of either side's headroom
	 * (here the host's, 20 000 000).  guest_above 2 040 000 000: delta
	 * 20 000 000, skipped. */
	ck_assert_uint_eq(ba1(7 * GB, ba_guest(1, 2540000000ull)), 0);
	/* 2 bytes more: delta 20 000 001, inflate. */
	ck_assert_uint_eq(ba1(7 * GB, ba_guest(1, 2540000002ull)), 9979999999ull);
	/* Within 1 MiB of critical, any change is made: guest_above 1 000 000,
	 * host_above 1 000 002: delta -1, deflate one byte. */
	ck_assert_uint_eq(ba1(5001000002ull, ba_guest(1, 501000000)), 10 * GB + 1);
	/* guest_above exactly 1 MiB, host_above 2 bytes more: not within
	 * (strictly below 1 MiB is), and 1 byte is no 1%: nothing. */
	ck_assert_uint_eq(ba1(5 * GB + MIB + 2, ba_guest(1, 500000000 + MIB)), 0);
	/* The host's side: host_above 1 048 574 < 1 MiB, guest_above 1 MiB:
	 * delta +1, inflate one byte. */
	ck_assert_uint_eq(ba1(5 * GB + MIB - 2, ba_guest(1, 500000000 + MIB)), 10 * GB - 1);
}
END_TEST

START_TEST(ba_several_guests)
{
	/* Host headroom 6 GB shared by the three guests with a balloon and a
	 * report: 2 GB each, as in ba_direction. */
	struct ms_policy_host h = host_at(3000, 100 * GB, 11 * GB);
	struct ms_policy_guest g[5] = {
		ba_guest(1, 4000000001ull), ba_guest(2, 1000000001ull), ba_guest(3, 2500000000ull),
		ba_guest(4, 9 * GB), ba_guest(5, 9 * GB),
	};
	struct ms_policy_state s[5];
	struct ms_policy_action a[MAXA];

	g[3].has_balloon = false;
	g[4].has_report = false;
	memset(s, 0, sizeof(s));
	ck_assert_uint_eq(decide("balance-available", &h, g, s, 5, a, MAXA), 2);
	check_balloon(&a[0], 1, 9250000000ull);
	check_balloon(&a[1], 2, 10749999999ull);
	ck_assert_uint_eq(s[0].last_take_ms, 3000);
	ck_assert_uint_eq(s[1].last_take_ms, 3000);
	ck_assert_uint_eq(s[2].last_take_ms, 0);
	ck_assert_uint_eq(s[3].last_take_ms, 0);
	ck_assert_uint_eq(s[4].last_take_ms, 0);
	/* max_actions. */
	memset(s, 0, sizeof(s));
	ck_assert_uint_eq(decide("balance-available", &h, g, s, 5, a, 1), 1);
	check_balloon(&a[0], 1, 9250000000ull);
	ck_assert_uint_eq(s[1].last_take_ms, 0);
	/* Nobody with a balloon and a report: nothing. */
	ck_assert_uint_eq(decide("balance-available", &h, &g[3], &s[3], 2, a, MAXA), 0);
}
END_TEST

/* ---- memshare: 1. give back fast ---------------------------------------------
 * Host 100 GB with 50 GB available (fine).  Guest max 10 GB, cur 8 GB:
 * 20% of it is 1.6 GB, 10% of the max 1 GB.
 */

static struct ms_policy_host ms_host(uint64_t now)
{
	return host_at(now, 100 * GB, 50 * GB);
}

/* The deflate target memshare gives @g in a fine host, or 0. */
static uint64_t deflate1(struct ms_policy_guest g, struct ms_policy_state *s)
{
	struct ms_policy_host h = ms_host(100000);
	struct ms_policy_action a[MAXA];
	size_t n = decide1("memshare", &h, &g, s, a);

	ck_assert_uint_le(n, 1);
	if (!n)
		return 0;
	ck_assert_int_eq(a[0].type, MS_POLICY_BALLOON);
	ck_assert_uint_eq(a[0].guest_id, g.id);
	ck_assert(a[0].target_bytes > g.current_bytes);
	return a[0].target_bytes;
}

START_TEST(ms_hot_stall)
{
	struct ms_policy_guest g = guest_mk(1, 10 * GB, 8 * GB, 5 * GB);
	struct ms_policy_state s = { 0 };

	/* At stall_backoff (2000 us/s) the guest is not hot. */
	g.stall_us_per_s = 2000;
	ck_assert_uint_eq(deflate1(g, &s), 0);
	ck_assert_uint_eq(s.backoffs, 0);
	ck_assert_uint_eq(s.backoff_until_ms, 0);
	/* Above: deflated by 10% of the max (it lacks nothing). */
	g.stall_us_per_s = 2000.5;
	ck_assert_uint_eq(deflate1(g, &s), 9 * GB);
	ck_assert_uint_eq(s.backoffs, 1);
	ck_assert_uint_eq(s.backoff_until_ms, 100000 + 60000);
	/* The reason says why. */
	{
		struct ms_policy_host h = ms_host(100000);
		struct ms_policy_action a[MAXA];
		struct ms_policy_state s2 = { 0 };

		ck_assert_uint_eq(decide1("memshare", &h, &g, &s2, a), 1);
		ck_assert(has(a[0].reason, "stall"));
	}
	/* Unknown stall is not hot. */
	g.stall_us_per_s = NAN;
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(deflate1(g, &s), 0);
}
END_TEST

START_TEST(ms_hot_refault)
{
	struct ms_policy_guest g = guest_mk(1, 10 * GB, 8 * GB, 5 * GB);
	struct ms_policy_state s = { 0 };
	struct ms_policy_host h = ms_host(100000);
	struct ms_policy_action a[MAXA];

	/* Working set 6 GB: 0.2% of it per minute is 12 000 000 bytes, 200 000/s. */
	g.working_set_bytes = 6 * GB;
	g.refault_bytes_per_s = 200000;
	ck_assert_uint_eq(deflate1(g, &s), 0);
	g.refault_bytes_per_s = 200001;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	check_balloon(&a[0], 1, 9 * GB);
	ck_assert(has(a[0].reason, "refault"));
	ck_assert_uint_eq(s.backoffs, 1);
	/* A guest claiming no working set is never hot by refaults. */
	g.working_set_bytes = 0;
	g.refault_bytes_per_s = 1e12;
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(deflate1(g, &s), 0);
	/* Without a report nothing is hot. */
	g = guest_mk(1, 10 * GB, 8 * GB, 0);
	g.stall_us_per_s = 1e6;
	g.has_report = false;
	ck_assert_uint_eq(deflate1(g, &s), 0);
	ck_assert_uint_eq(s.backoffs, 0);
}
END_TEST

START_TEST(ms_hot_available)
{
	struct ms_policy_guest g;
	struct ms_policy_state s = { 0 };
	struct ms_policy_host h = ms_host(100000);
	struct ms_policy_action a[MAXA];

	/* 20% of 8 GB: 1.6 GB available is enough. */
	g = guest_mk(1, 10 * GB, 8 * GB, 1600000000ull);
	ck_assert_uint_eq(deflate1(g, &s), 0);
	/* One byte short of 20% is inside the dead band (0.25% of 8 GB). */
	g.available_bytes = 1599999999ull;
	ck_assert_uint_eq(deflate1(g, &s), 0);
	/* 1 GB available: low, not short.  The host has room: topped up by
	 * what it lacks (0.6 GB, under the 1 GB step), no back-off. */
	g.available_bytes = GB;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	check_balloon(&a[0], 1, 8600000000ull);
	ck_assert(has(a[0].reason, "host has room"));
	ck_assert_uint_eq(s.backoffs, 0);
	/* The same guest with the host under pressure (15% available): left
	 * alone. */
	{
		struct ms_policy_host hp = host_at(100000, 100 * GB, 15 * GB);

		ck_assert_uint_eq(decide1("memshare", &hp, &g, &s, a), 0);
		ck_assert_uint_eq(s.backoffs, 0);
	}
	/* Exactly 5% (400 MB) is not short yet: a top-up of one 1 GB step. */
	g.available_bytes = 400000000ull;
	ck_assert_uint_eq(deflate1(g, &s), 9 * GB);
	ck_assert_uint_eq(s.backoffs, 0);
	/* Under 5%: short (hot): it lacks 1.2 GB, more than the step, and
	 * backs off. */
	g.available_bytes = 399999999ull;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	check_balloon(&a[0], 1, 9200000001ull);
	ck_assert(has(a[0].reason, "nearly out"));
	ck_assert_uint_eq(s.backoffs, 1);
	/* Nothing available: it lacks 1.6 GB. */
	g.available_bytes = 0;
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(deflate1(g, &s), 9600000000ull);
	/* Never above the max: cur 9.5 GB lacking 1.9 GB. */
	g = guest_mk(1, 10 * GB, 9500000000ull, 0);
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(deflate1(g, &s), 10 * GB);
	/* A guest of size 0 is not "short". */
	g = guest_mk(1, 10 * GB, 0, 0);
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(deflate1(g, &s), 0);
	ck_assert_uint_eq(s.backoffs, 0);
	/* Shares are of the guest's own MemTotal, not the VMM's figure: 300 MB
	 * of a 4 GB guest is 7.5% (not short), though 3.75% of 8 GB. */
	g = guest_mk(1, 10 * GB, 8 * GB, 300000000ull);
	g.total_bytes = 4 * GB;
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(deflate1(g, &s), 8500000000ull);
	ck_assert_uint_eq(s.backoffs, 0);
}
END_TEST

/* PSI's 10 s average catches a stall between two reports. */
START_TEST(ms_hot_psi_avg10)
{
	struct ms_policy_guest g = guest_mk(1, 10 * GB, 8 * GB, 5 * GB);
	struct ms_policy_state s = { 0 };

	g.stall_us_per_s = 0;
	g.psi_some_avg10 = 0.20;        /* 2000 us/s: not above stall_backoff */
	ck_assert_uint_eq(deflate1(g, &s), 0);
	g.psi_some_avg10 = 0.21;        /* 2100 us/s */
	ck_assert_uint_eq(deflate1(g, &s), 9 * GB);
	ck_assert_uint_eq(s.backoffs, 1);
}
END_TEST

START_TEST(ms_hot_no_deflate)
{
	struct ms_policy_guest g;
	struct ms_policy_state s;

	/* Hot at its max, or without a balloon: no action, but it backs off
	 * and what it reclaimed for us is forgotten. */
	g = guest_mk(1, 10 * GB, 10 * GB, 0);
	memset(&s, 0, sizeof(s));
	s.reclaimed_unreturned_bytes = GB;
	ck_assert_uint_eq(deflate1(g, &s), 0);
	ck_assert_uint_eq(s.backoffs, 1);
	ck_assert_uint_eq(s.backoff_until_ms, 160000);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 0);

	g = guest_mk(1, 10 * GB, 8 * GB, 0);
	g.has_balloon = false;
	memset(&s, 0, sizeof(s));
	s.reclaimed_unreturned_bytes = GB;
	ck_assert_uint_eq(deflate1(g, &s), 0);
	ck_assert_uint_eq(s.backoffs, 1);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 0);

	/* The floor lifts a guest below it all the way up. */
	g = guest_mk(1, 10 * GB, 8 * GB, 0);
	g.floor_bytes = 9800000000ull;
	memset(&s, 0, sizeof(s));
	ck_assert_uint_eq(deflate1(g, &s), 9800000000ull);
}
END_TEST

/* All deflations of a round share the host's headroom above critical. */
START_TEST(ms_deflate_headroom)
{
	/* Host: 8 GB available (under pressure: no top-ups), critical 5 GB:
	 * headroom 3 GB.  Three guests lacking 1.6 GB each (4.8 GB): each gets
	 * 3/4.8 = 62.5% of its need, 1 GB. */
	struct ms_policy_host h = host_at(100000, 100 * GB, 8 * GB);
	struct ms_policy_guest g[3] = { guest_mk(1, 10 * GB, 8 * GB, 0),
					guest_mk(2, 10 * GB, 8 * GB, 0),
					guest_mk(3, 10 * GB, 8 * GB, 0) };
	struct ms_policy_state s[3];
	struct ms_policy_action a[MAXA];

	memset(s, 0, sizeof(s));
	s[2].reclaimed_unreturned_bytes = GB;
	ck_assert_uint_eq(decide("memshare", &h, g, s, 3, a, MAXA), 3);
	check_balloon(&a[0], 1, 9 * GB);
	check_balloon(&a[1], 2, 9 * GB);
	check_balloon(&a[2], 3, 9 * GB);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(s[i].backoffs, 1);
		ck_assert_uint_eq(s[i].backoff_until_ms, 160000);
	}
	ck_assert_uint_eq(s[2].reclaimed_unreturned_bytes, 0);

	/* A host at or below critical gives nothing back. */
	h.available_bytes = 5 * GB;
	memset(s, 0, sizeof(s));
	ck_assert_uint_eq(decide("memshare", &h, g, s, 3, a, MAXA), 0);
	h.available_bytes = 0;
	ck_assert_uint_eq(decide("memshare", &h, g, s, 3, a, MAXA), 0);
	ck_assert_uint_eq(s[0].backoffs, 2);

	/* max_actions: one deflate; the second guest still backs off. */
	h.available_bytes = 50 * GB;
	memset(s, 0, sizeof(s));
	ck_assert_uint_eq(decide("memshare", &h, g, s, 3, a, 1), 1);
	check_balloon(&a[0], 1, 9600000000ull);
	ck_assert_uint_eq(s[1].backoffs, 1);
}
END_TEST

/* Back-off doubles with each consecutive back-off, up to 16x, and starts
 * again at 1x once the guest stayed calm for a whole backoff_ms after the
 * last one ended. */
START_TEST(ms_backoff_doubling)
{
	static const uint64_t mult[] = { 1, 2, 4, 8, 16, 16, 16 };
	struct ms_policy_guest hot = guest_mk(1, 10 * GB, 10 * GB, 5 * GB);
	struct ms_policy_guest calm = hot;
	struct ms_policy_state s = { 0 };
	struct ms_policy_action a[MAXA];
	uint64_t now = 1000000, until;

	hot.stall_us_per_s = 5000;
	for (size_t i = 0; i < sizeof(mult) / sizeof(mult[0]); i++, now += 10000) {
		struct ms_policy_host h = ms_host(now);

		ck_assert_uint_eq(decide1("memshare", &h, &hot, &s, a), 0);
		ck_assert_uint_eq(s.backoffs, i + 1);
		ck_assert_uint_eq(s.backoff_until_ms, now + mult[i] * 60000);
	}
	until = s.backoff_until_ms;
	/* Calm, but within backoff_ms of the end of the back-off: the count
	 * stays, so the next back-off is 16x again. */
	{
		struct ms_policy_host h = ms_host(until + 59999);

		ck_assert_uint_eq(decide1("memshare", &h, &calm, &s, a), 0);
		ck_assert_uint_eq(s.backoffs, 7);
	}
	{
		struct ms_policy_host h = ms_host(until + 59999);
		struct ms_policy_state s2 = s;

		ck_assert_uint_eq(decide1("memshare", &h, &hot, &s2, a), 0);
		ck_assert_uint_eq(s2.backoff_until_ms, until + 59999 + 16 * 60000);
	}
	/* Calm for a whole backoff_ms after it ended: forgotten. */
	{
		struct ms_policy_host h = ms_host(until + 60000);

		ck_assert_uint_eq(decide1("memshare", &h, &calm, &s, a), 0);
		ck_assert_uint_eq(s.backoffs, 0);
	}
	{
		struct ms_policy_host h = ms_host(until + 70000);

		ck_assert_uint_eq(decide1("memshare", &h, &hot, &s, a), 0);
		ck_assert_uint_eq(s.backoffs, 1);
		ck_assert_uint_eq(s.backoff_until_ms, until + 70000 + 60000);
	}
}
END_TEST

/* ---- memshare: 2. take back what was freed -------------------------------------
 * Guest at 10 GB of 10 GB, 5 GB available, working set 4 GB: take floor
 * 4 GB / (1 - 0.2) = 5 GB.  0.25% of 10 GB = 25 000 000.
 */

static struct ms_policy_guest take_guest(void)
{
	struct ms_policy_guest g = guest_mk(1, 10 * GB, 10 * GB, 5 * GB);

	g.reclaim_kinds = 0;        /* no reclaim: only step 2 acts */
	return g;
}

/* The inflate target for @g with @reclaimed freed in it, or 0; *left gets
 * what is still unreturned. */
static uint64_t inflate1(struct ms_policy_guest g, uint64_t reclaimed, uint64_t *left)
{
	struct ms_policy_host h = ms_host(200000);
	struct ms_policy_action a[MAXA];
	struct ms_policy_state s = { 0 };
	size_t n;

	s.reclaimed_unreturned_bytes = reclaimed;
	n = decide1("memshare", &h, &g, &s, a);
	*left = s.reclaimed_unreturned_bytes;
	ck_assert_uint_le(n, 1);
	if (!n) {
		ck_assert_uint_eq(s.last_take_ms, 0);
		return 0;
	}
	check_balloon(&a[0], g.id, a[0].target_bytes);
	ck_assert(has(a[0].reason, "reclaimed"));
	ck_assert_uint_eq(s.last_take_ms, 200000);
	return a[0].target_bytes;
}

START_TEST(ms_inflate)
{
	struct ms_policy_guest g = take_guest();
	uint64_t left;

	/* 1 GB freed, far from the floor: all of it. */
	ck_assert_uint_eq(inflate1(g, GB, &left), 9 * GB);
	ck_assert_uint_eq(left, 0);
	/* Working set 7.6 GB: floor 9.5 GB, only 0.5 GB taken, 0.5 GB left. */
	g.working_set_bytes = 7600000000ull;
	ck_assert_uint_eq(inflate1(g, GB, &left), 9500000000ull);
	ck_assert_uint_eq(left, GB / 2);
	/* At the floor already: nothing, and nothing left to take. */
	g.working_set_bytes = 8 * GB;
	ck_assert_uint_eq(inflate1(g, GB, &left), 0);
	ck_assert_uint_eq(left, 0);
	/* min_guarantee above the working-set floor wins. */
	g = take_guest();
	g.floor_bytes = 9800000000ull;
	ck_assert_uint_eq(inflate1(g, GB, &left), 9800000000ull);
	ck_assert_uint_eq(left, 800000000ull);
	/* A working set above the guest's size counts as its size. */
	g = take_guest();
	g.working_set_bytes = 50 * GB;
	ck_assert_uint_eq(inflate1(g, GB, &left), 0);
	ck_assert_uint_eq(left, 0);
	/* More freed than the guest has: down to the floor, 5 GB. */
	g = take_guest();
	ck_assert_uint_eq(inflate1(g, 20 * GB, &left), 5 * GB);
	ck_assert_uint_eq(left, 15 * GB);
}
END_TEST

START_TEST(ms_inflate_dead_band)
{
	struct ms_policy_guest g = take_guest();
	uint64_t left;

	/* 0.25% of 10 GB is 25 000 000: one byte less is not worth it, and
	 * is forgotten. */
	ck_assert_uint_eq(inflate1(g, 24999999, &left), 0);
	ck_assert_uint_eq(left, 0);
	ck_assert_uint_eq(inflate1(g, 25000000, &left), 10 * GB - 25000000);
	ck_assert_uint_eq(left, 0);
	/* The floor leaves less than the dead band to take: forgotten. */
	g.working_set_bytes = 7990000000ull;   /* floor 9 987 500 000 */
	ck_assert_uint_eq(inflate1(g, GB, &left), 0);
	ck_assert_uint_eq(left, 0);
}
END_TEST

START_TEST(ms_inflate_waits)
{
	struct ms_policy_host h = ms_host(200000);
	struct ms_policy_action a[MAXA];
	struct ms_policy_guest g;
	struct ms_policy_state s;

	/* No balloon: the freed memory goes back by free page reporting, if at
	 * all: forgotten, no action. */
	g = take_guest();
	g.has_balloon = false;
	memset(&s, 0, sizeof(s));
	s.reclaimed_unreturned_bytes = GB;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 0);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 0);
	/* No fresh report: kept for later. */
	g = take_guest();
	g.has_report = false;
	memset(&s, 0, sizeof(s));
	s.reclaimed_unreturned_bytes = GB;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 0);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, GB);
	/* Backing off: kept for later, taken once the back-off is over. */
	g = take_guest();
	memset(&s, 0, sizeof(s));
	s.reclaimed_unreturned_bytes = GB;
	s.backoff_until_ms = 200001;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 0);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, GB);
	s.backoff_until_ms = 200000;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	check_balloon(&a[0], 1, 9 * GB);
	/* Hot: step 1 forgets it (and deflates). */
	g = take_guest();
	g.current_bytes = 9 * GB;
	g.stall_us_per_s = 3000;
	memset(&s, 0, sizeof(s));
	s.reclaimed_unreturned_bytes = GB;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	check_balloon(&a[0], 1, 10 * GB);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 0);
}
END_TEST

/* An inflate that does not fit in the actions array is not recorded as
 * done: the freed bytes stay for the next round. */
START_TEST(ms_inflate_truncated)
{
	struct ms_policy_host h = ms_host(200000);
	struct ms_policy_guest g[2] = { take_guest(), take_guest() };
	struct ms_policy_state s[2];
	struct ms_policy_action a[MAXA];

	g[1].id = 2;
	memset(s, 0, sizeof(s));
	s[0].reclaimed_unreturned_bytes = GB;
	s[1].reclaimed_unreturned_bytes = 2 * GB;
	ck_assert_uint_eq(decide("memshare", &h, g, s, 2, a, 1), 1);
	check_balloon(&a[0], 1, 9 * GB);
	ck_assert_uint_eq(s[0].reclaimed_unreturned_bytes, 0);
	ck_assert_uint_eq(s[0].last_take_ms, 200000);
	ck_assert_uint_eq(s[1].reclaimed_unreturned_bytes, 2 * GB);
	ck_assert_uint_eq(s[1].last_take_ms, 0);
	/* Next round, with room: the second guest's turn. */
	h.now_ms += 10000;
	ck_assert_uint_eq(decide("memshare", &h, g, s, 2, a, MAXA), 1);
	check_balloon(&a[0], 2, 8 * GB);
}
END_TEST

/* ---- memshare: 3. take cold memory first ----------------------------------------
 * Eligible guest: 10 GB, 1 GB cold, 5 GB available; 2% of it is 200 MB.
 */

static struct ms_policy_guest cold_guest(uint64_t id)
{
	struct ms_policy_guest g = guest_mk(id, 10 * GB, 10 * GB, 5 * GB);

	g.cold_bytes = GB;
	return g;
}

/* What memshare asks @g (fresh report, host fine, at @now) to reclaim, or 0. */
static uint64_t reclaim1(struct ms_policy_guest g, struct ms_policy_state *s, uint64_t now)
{
	struct ms_policy_host h = ms_host(now);
	struct ms_policy_action a[MAXA];
	size_t n = decide1("memshare", &h, &g, s, a);

	for (size_t i = 0; i < n; i++) {
		if (a[i].type != MS_POLICY_RECLAIM)
			continue;
		ck_assert_uint_eq(i, n - 1);
		ck_assert_uint_eq(a[i].guest_id, g.id);
		ck_assert_uint_eq(a[i].min_age_ms, P.cold_age_ms);
		ck_assert(has(a[i].reason, "proactive"));
		ck_assert(s->reclaim_pending);
		ck_assert_uint_eq(s->last_take_ms, now);
		return a[i].bytes;
	}
	return 0;
}

START_TEST(ms_reclaim_eligibility)
{
	struct ms_policy_guest g;
	struct ms_policy_state s;
	const uint64_t now = 500000;

#define FRESH() memset(&s, 0, sizeof(s))
	/* The eligible guest. */
	g = cold_guest(1);
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 200000000);
	{
		struct ms_policy_host h = ms_host(now);
		struct ms_policy_action a[MAXA];

		FRESH();
		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
		check_reclaim(&a[0], 1, 200000000, MS_RECLAIM_FILE);
	}
	/* No report. */
	g = cold_guest(1);
	g.has_report = false;
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	/* Kinds: slab alone is not cold-memory reclaim; anon alone is. */
	g = cold_guest(1);
	g.reclaim_kinds = MS_RECLAIM_SLAB;
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	g.reclaim_kinds = 0;
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	{
		struct ms_policy_host h = ms_host(now);
		struct ms_policy_action a[MAXA];

		g.reclaim_kinds = MS_RECLAIM_ANON;
		FRESH();
		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
		check_reclaim(&a[0], 1, 200000000, MS_RECLAIM_ANON);
		g.reclaim_kinds = MS_RECLAIM_ALL_KINDS;
		FRESH();
		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
		check_reclaim(&a[0], 1, 200000000, MS_RECLAIM_FILE | MS_RECLAIM_ANON);
	}
	/* A request pending. */
	g = cold_guest(1);
	FRESH();
	s.reclaim_pending = true;
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	/* Backing off until now + 1; until now is over. */
	FRESH();
	s.backoff_until_ms = now + 1;
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	FRESH();
	s.backoff_until_ms = now;
	ck_assert_uint_eq(reclaim1(g, &s, now), 200000000);
	/* Taken from within min_take_interval (10 s). */
	FRESH();
	s.last_take_ms = now - 9999;
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	FRESH();
	s.last_take_ms = now - 10000;
	ck_assert_uint_eq(reclaim1(g, &s, now), 200000000);
	/* Hot (nearly out of available memory, under 5%; it also backs off). */
	g = cold_guest(1);
	g.available_bytes = 499999999;
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	/* Low (under 20%) but not short: its cold memory is still taken
	 * (page cache is counted as available: reclaiming it costs nothing). */
	g.available_bytes = 1999999999;
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 200000000);
	/* Stalling above stall_target (but not hot). */
	g = cold_guest(1);
	g.stall_us_per_s = 1000.5;
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	g.stall_us_per_s = 1000;
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 200000000);
	/* Cold under reclaim_min (4 MiB). */
	g = cold_guest(1);
	g.cold_bytes = 4 * MIB - 1;
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 0);
	g.cold_bytes = 4 * MIB;
	FRESH();
	ck_assert_uint_eq(reclaim1(g, &s, now), 4 * MIB);
	/* Freed memory not yet returned.  With min_take_interval 0 the inflate
	 * of step 2 does not block step 3, so only this rule does: working set
	 * 7.6 GB lets step 2 take 0.5 GB of the 1 GB. */
	P.min_take_interval_ms = 0;
	g = cold_guest(1);
	g.working_set_bytes = 7600000000ull;
	{
		struct ms_policy_host h = ms_host(now);
		struct ms_policy_action a[MAXA];

		FRESH();
		s.reclaimed_unreturned_bytes = GB;
		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
		check_balloon(&a[0], 1, 9500000000ull);
		ck_assert_uint_eq(s.reclaimed_unreturned_bytes, GB / 2);
		ck_assert(!s.reclaim_pending);
		/* All of it taken: reclaim again in the same round. */
		FRESH();
		s.reclaimed_unreturned_bytes = GB / 2;
		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 2);
		check_balloon(&a[0], 1, 9500000000ull);
		check_reclaim(&a[1], 1, 200000000, MS_RECLAIM_FILE);
	}
#undef FRESH
}
END_TEST

START_TEST(ms_reclaim_min_age)
{
	struct ms_policy_host h = ms_host(500000);
	struct ms_policy_guest g = cold_guest(1);
	struct ms_policy_state s = { 0 };
	struct ms_policy_action a[MAXA];

	ck_assert_int_eq(ms_policy_params_set(&P, "cold_age_ms", "30000"), 0);
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	ck_assert_uint_eq(a[0].min_age_ms, 30000);
}
END_TEST

/* Reclaim step by host level: 2% / 5% / 10% of the guest, capped at cold. */
START_TEST(ms_reclaim_steps)
{
	struct ms_policy_guest g = cold_guest(1);
	struct ms_policy_action a[MAXA];
	static const struct {
		uint64_t avail;
		double psi;
		uint64_t bytes;
		const char *why;
	} lv[] = {
		{ 50 * GB, NAN, 200000000, "proactive" },
		{ 20 * GB, NAN, 200000000, "proactive" },       /* 0.20: fine */
		{ 20 * GB - 1, NAN, 500000000, "pressure" },
		{ 50 * GB, 1.0, 200000000, "proactive" },       /* PSI 1.0: fine */
		{ 50 * GB, 1.01, 500000000, "pressure" },       /* PSI above 1.0 */
		{ 5 * GB, NAN, 500000000, "pressure" },         /* 0.05: pressure */
		{ 5 * GB - 1, NAN, 1000000000, "critical" },
		{ 0, NAN, 1000000000, "critical" },
	};

	g.cold_bytes = 5 * GB;
	for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
		struct ms_policy_host h = ms_host(500000);
		struct ms_policy_state s = { 0 };

		h.available_bytes = lv[i].avail;
		h.psi_some_avg10 = lv[i].psi;
		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
		ck_assert_msg(a[0].bytes == lv[i].bytes, "level %zu: %llu", i,
			      (unsigned long long)a[0].bytes);
		ck_assert_msg(has(a[0].reason, lv[i].why), "level %zu: %s", i, a[0].reason);
	}
	/* Capped at the cold bytes. */
	g.cold_bytes = 300000001;
	{
		struct ms_policy_host h = host_at(500000, 100 * GB, 0);
		struct ms_policy_state s = { 0 };

		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
		check_reclaim(&a[0], 1, 300000001, MS_RECLAIM_FILE);
	}
	/* A host that does not know its size is fine. */
	{
		struct ms_policy_host h = host_at(500000, 0, 0);
		struct ms_policy_state s = { 0 };

		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
		check_reclaim(&a[0], 1, 200000000, MS_RECLAIM_FILE);
	}
	/* A step under reclaim_min is not asked: a 150 MB guest (2% = 3 MB). */
	g = guest_mk(1, 150000000, 150000000, 100000000);
	g.cold_bytes = 100000000;
	{
		struct ms_policy_host h = ms_host(500000);
		struct ms_policy_state s = { 0 };

		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 0);
		ck_assert(!s.reclaim_pending);
		/* Critical: 10% = 15 MB is. */
		h.available_bytes = 0;
		ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
		check_reclaim(&a[0], 1, 15000000, MS_RECLAIM_FILE);
	}
}
END_TEST

/*
 * Ranking by the idle-taxed cost per share, P (f + k (1 - f)) / S with
 * k = 1 / (1 - 0.75) = 4:
 *   A: 10 GB, 1 GB cold (f 0.9):    10 (0.9 + 0.4) / 1   = 13 GB
 *   B:  6 GB, 4.5 GB cold (f 0.25):  6 (0.25 + 3) / 1    = 19.5 GB
 *   C: 16 GB, 2 GB cold (f 0.875):  16 (0.875 + 0.5) / 2 = 11 GB
 * Under pressure (5%): B 0.3 GB, A 0.5 GB, C 0.8 GB, in that order.
 */
static void rank_guests(struct ms_policy_guest g[3])
{
	g[0] = guest_mk(1, 10 * GB, 10 * GB, 5 * GB);
	g[0].cold_bytes = 1 * GB;
	g[1] = guest_mk(2, 6 * GB, 6 * GB, 3 * GB);
	g[1].cold_bytes = 4500000000ull;
	g[2] = guest_mk(3, 16 * GB, 16 * GB, 8 * GB);
	g[2].cold_bytes = 2 * GB;
	g[2].shares = 2;
}

/* The guest ids asked to reclaim, in order, as a string "2,1,3". */
static const char *reclaim_order(struct ms_policy_host *h, struct ms_policy_guest *g, size_t n,
				 size_t max)
{
	static char buf[64];
	struct ms_policy_state s[8];
	struct ms_policy_action a[MAXA];
	size_t k, len = 0;

	ck_assert_uint_le(n, 8);
	memset(s, 0, sizeof(s));
	k = decide("memshare", h, g, s, n, a, max);
	buf[0] = '\0';
	for (size_t i = 0; i < k; i++) {
		ck_assert_int_eq(a[i].type, MS_POLICY_RECLAIM);
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%llu", i ? "," : "",
					(unsigned long long)a[i].guest_id);
	}
	/* Exactly the guests asked are pending. */
	for (size_t i = 0; i < n; i++) {
		bool asked = false;

		for (size_t j = 0; j < k; j++)
			asked |= a[j].guest_id == g[i].id;
		ck_assert(s[i].reclaim_pending == asked);
		ck_assert_uint_eq(s[i].last_take_ms, asked ? h->now_ms : 0);
	}
	return buf;
}

START_TEST(ms_reclaim_ranking)
{
	struct ms_policy_guest g[3];
	struct ms_policy_host h = host_at(500000, 100 * GB, 15 * GB);
	struct ms_policy_state s[3];
	struct ms_policy_action a[MAXA];

	rank_guests(g);
	memset(s, 0, sizeof(s));
	ck_assert_uint_eq(decide("memshare", &h, g, s, 3, a, MAXA), 3);
	check_reclaim(&a[0], 2, 300000000, MS_RECLAIM_FILE);
	check_reclaim(&a[1], 1, 500000000, MS_RECLAIM_FILE);
	check_reclaim(&a[2], 3, 800000000, MS_RECLAIM_FILE);
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "2,1,3");
	/* Equal shares: C costs 22 GB and goes first. */
	g[2].shares = 0;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "3,2,1");
	g[2].shares = 1;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "3,2,1");
	/* Without the idle tax (k = 1) the cost is P / S: A 10, B 6, C 8. */
	rank_guests(g);
	P.idle_tax = 0;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "1,3,2");
	P.idle_tax = 0.75;
	/* Ties go by position. */
	{
		struct ms_policy_guest t[2] = { cold_guest(7), cold_guest(3) };

		ck_assert_str_eq(reclaim_order(&h, t, 2, MAXA), "7,3");
	}
	/* max_actions: the first two; the third is not pending. */
	ck_assert_str_eq(reclaim_order(&h, g, 3, 2), "2,1");
}
END_TEST

/* A guest on a host NUMA node short of memory (free under 5%) counts double. */
START_TEST(ms_reclaim_numa)
{
	struct ms_policy_guest g[3];
	struct ms_policy_host h = host_at(500000, 100 * GB, 15 * GB);

	rank_guests(g);
	h.nr_nodes = 2;
	h.nodes[0].node = 0;
	h.nodes[0].total_bytes = 50 * GB;
	h.nodes[0].free_bytes = 2 * GB;        /* 4% */
	h.nodes[1].node = 1;
	h.nodes[1].total_bytes = 50 * GB;
	h.nodes[1].free_bytes = 20 * GB;
	g[0].numa_nodeset = 1u << 1;
	g[1].numa_nodeset = 1u << 2;           /* a node the host did not list */
	g[2].numa_nodeset = 1u << 0;           /* C: 11 GB -> 22 GB */
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "3,2,1");
	/* On both nodes: still doubled. */
	g[2].numa_nodeset = 3;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "3,2,1");
	/* Free exactly 5%: not short. */
	g[2].numa_nodeset = 1;
	h.nodes[0].free_bytes = 2500000000ull;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "2,1,3");
	/* Short node 1, C not on it: A's 13 GB doubles past B. */
	h.nodes[0].free_bytes = 20 * GB;
	h.nodes[1].free_bytes = 0;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "1,2,3");
	/* No nodeset (any node): never doubled. */
	g[0].numa_nodeset = 0;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "2,1,3");
	/* Nodes numbered 64 and up, or with no size, are ignored; figures
	 * beyond nr_nodes too. */
	g[0].numa_nodeset = 1u << 1;
	h.nodes[1].node = 64;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "2,1,3");
	h.nodes[1].node = 1;
	h.nodes[1].total_bytes = 0;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "2,1,3");
	h.nodes[1].total_bytes = 50 * GB;
	h.nr_nodes = 1;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "2,1,3");
	h.nr_nodes = 2;
	ck_assert_str_eq(reclaim_order(&h, g, 3, MAXA), "1,2,3");
}
END_TEST

/* How many guests are asked per round. */
START_TEST(ms_reclaim_budget)
{
	struct ms_policy_guest g[3];
	struct ms_policy_host ok = host_at(500000, 100 * GB, 50 * GB);
	struct ms_policy_host pressure = host_at(500000, 100 * GB, 15 * GB);
	struct ms_policy_host critical = host_at(500000, 100 * GB, 4 * GB);

	rank_guests(g);
	/* Host fine: proactive_guests_per_round (1), the top one. */
	ck_assert_str_eq(reclaim_order(&ok, g, 3, MAXA), "2");
	P.proactive_guests_per_round = 2;
	ck_assert_str_eq(reclaim_order(&ok, g, 3, MAXA), "2,1");
	P.proactive_guests_per_round = 0;
	ck_assert_str_eq(reclaim_order(&ok, g, 3, MAXA), "");
	P.proactive_guests_per_round = 1;
	/* Under pressure or critical: every eligible guest. */
	ck_assert_str_eq(reclaim_order(&pressure, g, 3, MAXA), "2,1,3");
	ck_assert_str_eq(reclaim_order(&critical, g, 3, MAXA), "2,1,3");
	/* Not proactive: nothing while the host is fine, the same otherwise. */
	P.proactive = false;
	ck_assert_str_eq(reclaim_order(&ok, g, 3, MAXA), "");
	ck_assert_str_eq(reclaim_order(&pressure, g, 3, MAXA), "2,1,3");
	ck_assert_str_eq(reclaim_order(&critical, g, 3, MAXA), "2,1,3");
	P.proactive = true;
	/* The budget counts guests asked, not guests looked at: a top-ranked
	 * guest whose step is under reclaim_min (150 MB with low shares: 2% is
	 * 3 MB) does not use up the round. */
	{
		struct ms_policy_guest t[2] = { guest_mk(9, 150000000, 150000000, 100000000),
						cold_guest(1) };

		t[0].cold_bytes = 100000000;
		t[0].shares = 0.01;
		ck_assert_str_eq(reclaim_order(&ok, t, 2, MAXA), "1");
	}
}
END_TEST

/* The three steps in one round, in order: give back, take back, reclaim. */
START_TEST(ms_round_order)
{
	struct ms_policy_host h = host_at(500000, 100 * GB, 15 * GB);
	struct ms_policy_guest g[3] = { cold_guest(1), take_guest(), guest_mk(3, 10 * GB, 8 * GB, 0) };
	struct ms_policy_state s[3];
	struct ms_policy_action a[MAXA];

	g[1].id = 2;
	memset(s, 0, sizeof(s));
	s[1].reclaimed_unreturned_bytes = GB;
	ck_assert_uint_eq(decide("memshare", &h, g, s, 3, a, MAXA), 3);
	check_balloon(&a[0], 3, 9600000000ull);
	check_balloon(&a[1], 2, 9 * GB);
	check_reclaim(&a[2], 1, 500000000, MS_RECLAIM_FILE);
	/* Room for two: the reclaim is not asked, the guest not pending. */
	memset(s, 0, sizeof(s));
	s[1].reclaimed_unreturned_bytes = GB;
	ck_assert_uint_eq(decide("memshare", &h, g, s, 3, a, 2), 2);
	ck_assert(!s[0].reclaim_pending);
	ck_assert_uint_eq(s[0].last_take_ms, 0);
}
END_TEST

/* ---- ms_policy_note_reclaim ---------------------------------------------------- */

START_TEST(note_reclaim)
{
	struct ms_policy_state s;

	memset(&s, 0, sizeof(s));
	s.reclaim_pending = true;
	/* Done: what was freed, at most what was asked. */
	ms_policy_note_reclaim(&s, &P, 1000, 0, 100000000, 250000000);
	ck_assert(!s.reclaim_pending);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 100000000);
	ck_assert_uint_eq(s.backoff_until_ms, 0);
	/* Less than asked (-EAGAIN) counts too, and adds up. */
	s.reclaim_pending = true;
	ms_policy_note_reclaim(&s, &P, 2000, -EAGAIN, 100000000, 30000000);
	ck_assert(!s.reclaim_pending);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 130000000);
	ck_assert_uint_eq(s.backoff_until_ms, 0);
	ms_policy_note_reclaim(&s, &P, 2500, 0, 5, 5);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 130000005);
	/* Failures and time-outs: left alone for backoff_ms, nothing freed
	 * counted, the back-off count untouched. */
	{
		static const int errs[] = { -EIO, -ETIMEDOUT, -EOPNOTSUPP, -EACCES, 1 };

		for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
			s.reclaim_pending = true;
			ms_policy_note_reclaim(&s, &P, 3000 + i, errs[i], 100000000, 100000000);
			ck_assert(!s.reclaim_pending);
			ck_assert_uint_eq(s.backoff_until_ms, 3000 + i + 60000);
			ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 130000005);
			ck_assert_uint_eq(s.backoffs, 0);
		}
	}
	P.backoff_ms = 5;
	ms_policy_note_reclaim(&s, &P, 9000, -ETIMEDOUT, 1, 0);
	ck_assert_uint_eq(s.backoff_until_ms, 9005);
	/* NULL is ignored. */
	ms_policy_note_reclaim(NULL, &P, 1, 0, 1, 1);
	s.reclaim_pending = true;
	ms_policy_note_reclaim(&s, NULL, 1, 0, 1, 1);
	ck_assert(s.reclaim_pending);
}
END_TEST

/* The round trip: reclaim asked, answered, then taken by the balloon. */
START_TEST(note_then_inflate)
{
	struct ms_policy_guest g = cold_guest(1);
	struct ms_policy_state s = { 0 };
	struct ms_policy_action a[MAXA];
	struct ms_policy_host h = ms_host(500000);

	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	check_reclaim(&a[0], 1, 200000000, MS_RECLAIM_FILE);
	/* Pending: not asked again. */
	h.now_ms += 10000;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 0);
	ms_policy_note_reclaim(&s, &P, h.now_ms, -EAGAIN, 200000000, 150000000);
	/* Next round: the balloon takes the 150 MB. */
	h.now_ms += 10000;
	g.cold_bytes -= 150000000;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	check_balloon(&a[0], 1, 9850000000ull);
	ck_assert_uint_eq(s.reclaimed_unreturned_bytes, 0);
	ck_assert_uint_eq(s.last_take_ms, h.now_ms);
	/* Next round: too soon after the take. */
	h.now_ms += 9999;
	g.current_bytes = 9850000000ull;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 0);
	/* Then the next reclaim, 2% of the new size: 197 000 000. */
	h.now_ms += 1;
	ck_assert_uint_eq(decide1("memshare", &h, &g, &s, a), 1);
	check_reclaim(&a[0], 1, 197000000, MS_RECLAIM_FILE);
}
END_TEST

/* ---- ms_policy_guest_from_report ------------------------------------------------ */

/* A one-node MGLRU summary with the default bins; @anon/@file per bin. */
static struct ms_lru_summary *lru_mk(int nodes, const uint64_t anon[5], const uint64_t file[5])
{
	static const uint64_t lo[5] = { 0, 5000, 30000, 120000, 600000 };
	static const uint64_t hi[5] = { 5000, 30000, 120000, 600000, MS_AGE_INFINITE };
	struct ms_lru_summary *s =
		calloc(1, sizeof(*s) + (size_t)nodes * sizeof(struct ms_lru_node));

	ck_assert_ptr_nonnull(s);
	s->source = MS_LRU_SOURCE_MGLRU;
	s->nr_nodes = (uint32_t)nodes;
	for (int n = 0; n < nodes; n++) {
		s->nodes[n].node = n;
		s->nodes[n].nr_bins = 5;
		for (int i = 0; i < 5; i++) {
			s->nodes[n].bins[i].min_age_ms = lo[i];
			s->nodes[n].bins[i].max_age_ms = hi[i];
			s->nodes[n].bins[i].anon_bytes = anon[i];
			s->nodes[n].bins[i].file_bytes = file[i];
		}
	}
	return s;
}

/* meminfo with every field unknown but the ones given. */
static void report_mk(struct ms_report *r, uint64_t total, uint64_t free_b, uint64_t avail,
		      uint64_t slab, uint64_t swap)
{
	memset(r, 0, sizeof(*r));
	memset(&r->meminfo, 0xff, sizeof(r->meminfo));
	memset(&r->vmstat, 0xff, sizeof(r->vmstat));
	r->meminfo.total_bytes = total;
	r->meminfo.free_bytes = free_b;
	r->meminfo.available_bytes = avail;
	r->meminfo.sreclaimable_bytes = slab;
	r->meminfo.swap_total_bytes = swap;
}

/* A guest struct whose VMM fields must survive. */
static struct ms_policy_guest vmm_guest(void)
{
	struct ms_policy_guest g;

	memset(&g, 0, sizeof(g));
	g.id = 42;
	g.has_balloon = true;
	g.max_bytes = 9 * GIB;
	g.current_bytes = 8 * GIB;
	g.floor_bytes = GIB;
	g.shares = 3;
	g.numa_nodeset = 5;
	g.report_age_ms = 77;
	return g;
}

static void check_vmm_kept(const struct ms_policy_guest *g)
{
	ck_assert_uint_eq(g->id, 42);
	ck_assert(g->has_balloon);
	ck_assert_uint_eq(g->max_bytes, 9 * GIB);
	ck_assert_uint_eq(g->current_bytes, 8 * GIB);
	ck_assert_uint_eq(g->floor_bytes, GIB);
	ck_assert_double_eq(g->shares, 3);
	ck_assert_uint_eq(g->numa_nodeset, 5);
	ck_assert_uint_eq(g->report_age_ms, 77);
}

/*
 * 8 GiB guest, 1 GiB free, 3 GiB available, 256 MiB SReclaimable; LRU per
 * bin [0,5s) [5s,30s) [30s,120s) [120s,600s) [600s,inf):
 *   anon 2G   256M  0     512M  0
 *   file 1G   0     128M  768M  256M
 * Cold (>= 120 s): file 768M + 256M = 1 GiB; with swap anon 512M too.
 */
static const uint64_t A5[5] = { 2 * GIB, 256 * MIB, 0, 512 * MIB, 0 };
static const uint64_t F5[5] = { GIB, 0, 128 * MIB, 768 * MIB, 256 * MIB };

START_TEST(from_report_basic)
{
	struct ms_report r;
	struct ms_policy_guest g = vmm_guest();
	struct ms_rates rates;

	report_mk(&r, 8 * GIB, GIB, 3 * GIB, 256 * MIB, 0);
	r.lru = lru_mk(1, A5, F5);
	r.has_psi = true;
	r.psi.some.avg10 = 12.5;
	memset(&rates, 0, sizeof(rates));
	rates.some_stall_us_per_s = 1234.5;
	rates.refault_bytes_per_s = 4096;
	ms_policy_guest_from_report(&g, &P, &r, &rates, MS_CAP_MEMCG_RECLAIM);
	check_vmm_kept(&g);
	ck_assert(g.has_report);
	ck_assert_uint_eq(g.total_bytes, 8 * GIB);
	ck_assert_uint_eq(g.free_bytes, GIB);
	ck_assert_uint_eq(g.available_bytes, 3 * GIB);
	/* No swap: file only. */
	ck_assert_uint_eq(g.cold_bytes, GIB);
	/* 8G - 1G free - 1G cold - 256M slab. */
	ck_assert_uint_eq(g.working_set_bytes, 5888 * MIB);
	ck_assert_double_eq(g.psi_some_avg10, 12.5);
	ck_assert_double_eq(g.stall_us_per_s, 1234.5);
	ck_assert_double_eq(g.refault_bytes_per_s, 4096);
	ck_assert_uint_eq(g.reclaim_kinds, MS_RECLAIM_FILE);

	/* Swap: anon counts as cold, and can be reclaimed. */
	r.meminfo.swap_total_bytes = 1;
	ms_policy_guest_from_report(&g, &P, &r, NULL, MS_CAP_MEMCG_RECLAIM | MS_CAP_SLAB_RECLAIM);
	ck_assert_uint_eq(g.cold_bytes, 1536 * MIB);
	ck_assert_uint_eq(g.working_set_bytes, 5376 * MIB);
	ck_assert_uint_eq(g.reclaim_kinds, MS_RECLAIM_ALL_KINDS);
	/* No rates, no PSI: unknown. */
	ck_assert(isnan(g.stall_us_per_s));
	ck_assert(isnan(g.refault_bytes_per_s));
	r.has_psi = false;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert(isnan(g.psi_some_avg10));
	ck_assert_uint_eq(g.reclaim_kinds, 0);
	/* SwapTotal unknown is no swap; slab reclaim alone. */
	r.meminfo.swap_total_bytes = MS_UNKNOWN;
	ms_policy_guest_from_report(&g, &P, &r, NULL, MS_CAP_SLAB_RECLAIM | MS_CAP_PSI);
	ck_assert_uint_eq(g.cold_bytes, GIB);
	ck_assert_uint_eq(g.reclaim_kinds, MS_RECLAIM_SLAB);

	/* cold_age_ms picks the bins: 30 s adds [30s,120s) (128M file). */
	P.cold_age_ms = 30000;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, 1152 * MIB);
	ck_assert_uint_eq(g.working_set_bytes, 5760 * MIB);
	/* 600 s: only [600s,inf). */
	P.cold_age_ms = 600000;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, 256 * MIB);
	/* Bins starting inside (130 s) do not count: they may hold younger memory. */
	P.cold_age_ms = 130000;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, 256 * MIB);
	P.cold_age_ms = 120000;

	/* Several nodes add up. */
	ms_lru_summary_free(r.lru);
	r.lru = lru_mk(2, A5, F5);
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, 2 * GIB);
	ck_assert_uint_eq(g.working_set_bytes, 4864 * MIB);
	/* No LRU summary: nothing is known to be cold. */
	ms_lru_summary_free(r.lru);
	r.lru = NULL;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, 0);
	ck_assert_uint_eq(g.working_set_bytes, 6912 * MIB);
	check_vmm_kept(&g);
}
END_TEST

/* The classic source: the inactive lists (bin 1) are cold for any age. */
START_TEST(from_report_classic)
{
	struct ms_report r;
	struct ms_policy_guest g = vmm_guest();
	struct ms_lru_summary *s = calloc(1, sizeof(*s) + sizeof(struct ms_lru_node));

	ck_assert_ptr_nonnull(s);
	s->source = MS_LRU_SOURCE_CLASSIC;
	s->nr_nodes = 1;
	s->nodes[0].nr_bins = 2;
	for (int i = 0; i < 2; i++)
		s->nodes[0].bins[i].min_age_ms = s->nodes[0].bins[i].max_age_ms = MS_UNKNOWN;
	s->nodes[0].bins[0].anon_bytes = GIB;       /* active */
	s->nodes[0].bins[0].file_bytes = 512 * MIB;
	s->nodes[0].bins[1].anon_bytes = 256 * MIB; /* inactive */
	s->nodes[0].bins[1].file_bytes = 768 * MIB;
	report_mk(&r, 4 * GIB, GIB, 2 * GIB, 0, 0);
	r.lru = s;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, 768 * MIB);
	ck_assert_uint_eq(g.working_set_bytes, 2304 * MIB);
	P.cold_age_ms = 1;
	r.meminfo.swap_total_bytes = GIB;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, GIB);
	ms_lru_summary_free(s);
}
END_TEST

/* A guest's figures never claim more than its MemTotal. */
START_TEST(from_report_clamps)
{
	static const uint64_t big[5] = { 0, 0, 0, 100 * GIB, 100 * GIB };
	struct ms_report r;
	struct ms_policy_guest g = vmm_guest();

	/* Free, available and slab above MemTotal: clamped; cold cannot
	 * exceed used memory (none here); working set 0. */
	report_mk(&r, 4 * GIB, 6 * GIB, 10 * GIB, 9 * GIB, GIB);
	r.lru = lru_mk(1, big, big);
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.total_bytes, 4 * GIB);
	ck_assert_uint_eq(g.free_bytes, 4 * GIB);
	ck_assert_uint_eq(g.available_bytes, 4 * GIB);
	ck_assert_uint_eq(g.cold_bytes, 0);
	ck_assert_uint_eq(g.working_set_bytes, 0);
	/* 1 GiB free: cold at most the 3 GiB used. */
	r.meminfo.free_bytes = GIB;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, 3 * GIB);
	ck_assert_uint_eq(g.working_set_bytes, 0);
	/* Slab above what is left after cold: working set 0, not negative. */
	ms_lru_summary_free(r.lru);
	r.lru = lru_mk(1, A5, F5);              /* with swap: 1.5 GiB cold */
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.cold_bytes, 1536 * MIB);
	ck_assert_uint_eq(g.working_set_bytes, 0);
	r.meminfo.sreclaimable_bytes = 512 * MIB;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.working_set_bytes, 1024 * MIB);
	/* MemAvailable unknown: MemFree stands in; MemFree unknown: 0. */
	r.meminfo.available_bytes = MS_UNKNOWN;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.available_bytes, GIB);
	r.meminfo.free_bytes = MS_UNKNOWN;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert_uint_eq(g.free_bytes, 0);
	ck_assert_uint_eq(g.available_bytes, 0);
	ck_assert_uint_eq(g.cold_bytes, 1536 * MIB);
	ck_assert_uint_eq(g.working_set_bytes, 4 * GIB - 1536 * MIB - 512 * MIB);
	/* MemTotal unknown: everything 0. */
	r.meminfo.total_bytes = MS_UNKNOWN;
	r.meminfo.free_bytes = GIB;
	r.meminfo.available_bytes = GIB;
	ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
	ck_assert(g.has_report);
	ck_assert_uint_eq(g.total_bytes, 0);
	ck_assert_uint_eq(g.free_bytes, 0);
	ck_assert_uint_eq(g.available_bytes, 0);
	ck_assert_uint_eq(g.cold_bytes, 0);
	ck_assert_uint_eq(g.working_set_bytes, 0);
	/* Unknown LRU cells count as nothing. */
	{
		static const uint64_t unk[5] = { 0, 0, 0, MS_UNKNOWN, MS_UNKNOWN };

		ms_lru_summary_free(r.lru);
		report_mk(&r, 4 * GIB, GIB, GIB, 0, GIB);
		r.lru = lru_mk(1, unk, unk);
		ms_policy_guest_from_report(&g, &P, &r, NULL, 0);
		ck_assert_uint_eq(g.cold_bytes, 0);
		ck_assert_uint_eq(g.working_set_bytes, 3 * GIB);
	}
	check_vmm_kept(&g);
	ms_lru_summary_free(r.lru);
}
END_TEST

START_TEST(from_report_null)
{
	struct ms_report r;
	struct ms_policy_guest g = vmm_guest(), before = g;

	report_mk(&r, 4 * GIB, GIB, GIB, 0, 0);
	ms_policy_guest_from_report(NULL, &P, &r, NULL, 0);
	ms_policy_guest_from_report(&g, NULL, &r, NULL, 0);
	ms_policy_guest_from_report(&g, &P, NULL, NULL, 0);
	ck_assert_mem_eq(&g, &before, sizeof(g));
}
END_TEST

/*
 * The real 6.1 capture (tests/fixtures/NOTES.md): MemTotal 481268 kB,
 * MemFree 254880 kB, MemAvailable 364660 kB, SReclaimable 19992 kB, no
 * swap.  Its MGLRU generations are 24-36 s old: in the default bins, file
 * 0 pages in [5 s, 30 s) and 25627 pages in [30 s, 120 s), nothing older.
 */
START_TEST(from_report_capture)
{
	struct ms_ctx *ctx = tu_new_ctx(GUEST_FIXTURE);
	const uint64_t ps = ms_ctx_get_page_size(ctx);
	uint64_t caps = ms_guest_capabilities(ctx);
	struct ms_policy_guest g = vmm_guest();
	struct ms_report r;

	ck_assert_int_eq(ms_guest_build_report(ctx, NULL, &r), 0);
	ck_assert_ptr_nonnull(r.lru);
	ms_policy_guest_from_report(&g, &P, &r, NULL, caps);
	check_vmm_kept(&g);
	ck_assert_uint_eq(g.total_bytes, 481268 * KIB);
	ck_assert_uint_eq(g.free_bytes, 254880 * KIB);
	ck_assert_uint_eq(g.available_bytes, 364660 * KIB);
	/* Nothing is 120 s old. */
	ck_assert_uint_eq(g.cold_bytes, 0);
	/* 481268 - 254880 - 19992 = 206396 kB. */
	ck_assert_uint_eq(g.working_set_bytes, 206396 * KIB);
	/* PSI avg10 40.11; no memory.reclaim nor drop_caches in the capture. */
	ck_assert_double_eq_tol(g.psi_some_avg10, 40.11, 1e-9);
	ck_assert_uint_eq(g.reclaim_kinds, 0);

	/* cold_age 30 s: the [30 s, 120 s) generations, file only (no swap). */
	P.cold_age_ms = 30000;
	ms_policy_guest_from_report(&g, &P, &r, NULL, caps | MS_CAP_MEMCG_RECLAIM);
	ck_assert_uint_eq(g.cold_bytes, 25627 * ps);
	ck_assert_uint_eq(g.working_set_bytes, 206396 * KIB - 25627 * ps);
	ck_assert_uint_eq(g.reclaim_kinds, MS_RECLAIM_FILE);
	ms_report_clear(&r);
	ms_ctx_free(ctx);
}
END_TEST

static Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("params");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, params_defaults);
	tcase_add_test(tc, params_keys_cover_struct);
	tcase_add_test(tc, params_sizes);
	tcase_add_test(tc, params_integers);
	tcase_add_test(tc, params_reals);
	tcase_add_test(tc, params_booleans);
	tcase_add_test(tc, params_unknown_and_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("registry");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, registry);
	tcase_add_test(tc, decide_arguments);
	tcase_add_test(tc, static_never_acts);
	suite_add_tcase(s, tc);

	tc = tcase_create("mom");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, mom_pressure_threshold);
	tcase_add_test(tc, mom_shrink_target);
	tcase_add_test(tc, mom_critical);
	tcase_add_test(tc, mom_dead_band);
	tcase_add_test(tc, mom_grow);
	tcase_add_test(tc, mom_bounds_and_skips);
	suite_add_tcase(s, tc);

	tc = tcase_create("balance-available");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ba_direction);
	tcase_add_test(tc, ba_clamp);
	tcase_add_test(tc, ba_dead_band);
	tcase_add_test(tc, ba_several_guests);
	suite_add_tcase(s, tc);

	tc = tcase_create("memshare-give");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ms_hot_stall);
	tcase_add_test(tc, ms_hot_refault);
	tcase_add_test(tc, ms_hot_available);
	tcase_add_test(tc, ms_hot_psi_avg10);
	tcase_add_test(tc, ms_hot_no_deflate);
	tcase_add_test(tc, ms_deflate_headroom);
	tcase_add_test(tc, ms_backoff_doubling);
	suite_add_tcase(s, tc);

	tc = tcase_create("memshare-take");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ms_inflate);
	tcase_add_test(tc, ms_inflate_dead_band);
	tcase_add_test(tc, ms_inflate_waits);
	tcase_add_test(tc, ms_inflate_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("memshare-reclaim");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ms_reclaim_eligibility);
	tcase_add_test(tc, ms_reclaim_min_age);
	tcase_add_test(tc, ms_reclaim_steps);
	tcase_add_test(tc, ms_reclaim_ranking);
	tcase_add_test(tc, ms_reclaim_numa);
	tcase_add_test(tc, ms_reclaim_budget);
	tcase_add_test(tc, ms_round_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("note-reclaim");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, note_reclaim);
	tcase_add_test(tc, note_then_inflate);
	suite_add_tcase(s, tc);

	tc = tcase_create("from-report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, from_report_basic);
	tcase_add_test(tc, from_report_classic);
	tcase_add_test(tc, from_report_clamps);
	tcase_add_test(tc, from_report_null);
	tcase_add_test(tc, from_report_capture);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(policy_suite());
}
