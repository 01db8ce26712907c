/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Does one hostile guest delay the others?  50 honest guests report every
 * 100 ms to one host and answer reclaim rounds (tests/unit/manyguests.c:
 * host, guests and hostile peer on their own threads, one process, unix
 * socket).  Per phase, the honest guests' report round trip (the Report's
 * mono_us to the host's REPORT event) and reclaim round trip
 * (ms_host_reclaim() to the RECLAIM_REPLY event), p50/p99 in us, without
 * the hostile peer (baseline, measured in the same run) and with each
 * kind of hostile peer; ratio = with / without.  Then what the host did
 * with the hostile traffic.
 *
 * The machine is shared and noisy: every hostile phase runs right after a
 * phase without it, REPS times over, and is compared with those baseline
 * phases alone (samples pooled), so that load coming and going elsewhere
 * shows in both.  The report round trip is the host's own delay; the
 * reclaim round trip also holds the guests' work, done one guest after the
 * other on one thread that shares the CPUs with the host's thread and the
 * hostile peer's (a flooding peer's CPU is taken from the guests' thread
 * here, where in production it would be another VM's).  "round cpu" is the
 * CPU time of one ms_host_process(): what a ready guest's message may wait
 * behind.
 *
 *   bench-hostile-guests [PHASE_MS [REPS [MODE...]]]
 *     MODE: garbage slowloris flood invalid nohello all (default: all six)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memshare/memshare.h>

#include "manyguests.h"

struct pool {
	uint64_t *rep, *rec, *rnd;
	size_t nr_rep, nr_rec, nr_rnd;
	double seconds;
	uint64_t seen, sent, bad;
	struct mg_phase_result sum;     /* counters summed over the phases */
	uint64_t process_max_us, process_max_cpu_us;
	uint64_t conns_max;
};

static void append(uint64_t **dst, size_t *n, const uint64_t *src, size_t k)
{
	uint64_t *v = realloc(*dst, (*n + k + 1) * sizeof(*v));

	if (!v) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memcpy(v + *n, src, k * sizeof(*v));
	*dst = v;
	*n += k;
}

static void pool_add(struct pool *p, const struct mg_phase_result *r)
{
	append(&p->rep, &p->nr_rep, r->report_rtt_us, r->nr_report_rtt);
	append(&p->rec, &p->nr_rec, r->reclaim_rtt_us, r->nr_reclaim_rtt);
	append(&p->rnd, &p->nr_rnd, r->round_cpu_us, r->nr_round_cpu);
	p->seconds += r->seconds;
	for (unsigned i = 0; i < r->nr_guests; i++) {
		const struct mg_guest_phase *g = &r->guests[i];

		p->seen += g->reports_seen;
		p->sent += g->reports_sent;
		p->bad += g->rate_dropped + g->invalid + g->host_gone + g->guest_disconnects +
			  g->reclaims_failed + g->reclaims_refused +
			  (g->reclaims_issued - g->reclaims_replied);
	}
	p->sum.hostile.connects += r->hostile.connects;
	p->sum.hostile.frames += r->hostile.frames;
	p->sum.hostile.bytes += r->hostile.bytes;
	p->sum.stats.reports_rate_dropped += r->stats.reports_rate_dropped;
	p->sum.stats.reports_invalid += r->stats.reports_invalid;
	for (int k = 0; k < MS_DROP__COUNT; k++)
		p->sum.stats.dropped[k] += r->stats.dropped[k];
	p->sum.host_rounds += r->host_rounds;
	p->sum.host_log_lines += r->host_log_lines;
	if (r->host_process_max_us > p->process_max_us) {
		p->process_max_us = r->host_process_max_us;
		p->process_max_cpu_us = r->host_process_max_cpu_us;
	}
	if (r->host_conns_max > p->conns_max)
		p->conns_max = r->host_conns_max;
}

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

#define P(p, field, q) mg_percentile((p)->field, (p)->nr_##field, q)

int main(int argc, char **argv)
{
	static const enum mg_hostile all[] = { MG_GARBAGE, MG_SLOWLORIS, MG_FLOOD, MG_INVALID,
					       MG_NOHELLO, MG_ALL };
	unsigned phase_ms = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000;
	unsigned reps = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 2;
	enum mg_hostile modes[16];
	size_t nr = 0;
	struct mg_config cfg = { 0 };
	struct pool with[16], without[16], base = { 0 };
	struct mg *w;
	char err[256];
	int r;

	if (phase_ms < 500)
		phase_ms = 500;
	if (reps < 1)
		reps = 1;
	for (int i = 3; i < argc && nr < 16; i++) {
		int m = mg_hostile_parse(argv[i]);

		if (m <= 0) {
			fprintf(stderr, "unknown hostile mode '%s'\n", argv[i]);
			return 2;
		}
		modes[nr++] = (enum mg_hostile)m;
	}
	if (!nr) {
		memcpy(modes, all, sizeof(all));
		nr = sizeof(all) / sizeof(all[0]);
	}
	memset(with, 0, sizeof(with));
	memset(without, 0, sizeof(without));
	cfg.verbose = getenv("MS_BENCH_VERBOSE") != NULL;
	r = mg_start(&w, &cfg, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "start: %s\n", err);
		return 1;
	}
	printf("%u honest guests reporting every %u ms + reclaim rounds to all; phases of %u ms, "
	       "each hostile one after one without, %u times\n", 50, mg_report_interval_ms(w),
	       phase_ms, reps);
	fflush(stdout);
	mg_idle(w, 500);
	for (unsigned rep = 0; rep < reps; rep++) {
		for (size_t i = 0; i < nr; i++) {
			for (int k = 0; k < 2; k++) {
				enum mg_hostile mode = k ? modes[i] : MG_NONE;
				struct mg_phase_result res;

				r = mg_phase(w, mode, phase_ms, &res, err, sizeof(err));
				if (r < 0) {
					fprintf(stderr, "phase %s: %s\n", mg_hostile_name(mode),
						err);
					mg_phase_result_free(&res);
					mg_stop(w);
					return 1;
				}
				pool_add(k ? &with[i] : &without[i], &res);
				if (!k)
					pool_add(&base, &res);
				mg_phase_result_free(&res);
				/* Let the host see the peer's last connections close. */
				mg_idle(w, 200);
			}
		}
	}
	mg_stop(w);

	printf("\nhonest guests' round trips, us: report (Report.mono_us -> host REPORT event), "
	       "reclaim (ms_host_reclaim -> RECLAIM_REPLY);\n"
	       "'without' = the phases without the hostile peer run just before (pooled); "
	       "ratio = with / without\n");
	printf("%-10s | %-21s %-21s %-11s | %-21s %-21s %-11s | %9s %4s\n", "",
	       "report p50 with/wo", "report p99 with/wo", "ratio50/99", "reclaim p50 with/wo",
	       "reclaim p99 with/wo", "ratio50/99", "reports/s", "bad");
	printf("%-10s | %9llu %11s %9llu %11s %11s | %9llu %11s %9llu %11s %11s | %9.1f %4llu\n",
	       "none(all)", (unsigned long long)P(&base, rep, 50), "",
	       (unsigned long long)P(&base, rep, 99), "", "",
	       (unsigned long long)P(&base, rec, 50), "", (unsigned long long)P(&base, rec, 99),
	       "", "", (double)base.seen / base.seconds, (unsigned long long)base.bad);
	for (size_t i = 0; i < nr; i++) {
		const struct pool *x = &with[i], *b = &without[i];

		printf("%-10s | %9llu %9llu  %9llu %9llu  %5.2f %5.2f | %9llu %9llu  %9llu %9llu  "
		       "%5.2f %5.2f | %9.1f %4llu\n", mg_hostile_name(modes[i]),
		       (unsigned long long)P(x, rep, 50), (unsigned long long)P(b, rep, 50),
		       (unsigned long long)P(x, rep, 99), (unsigned long long)P(b, rep, 99),
		       ratio(P(x, rep, 50), P(b, rep, 50)), ratio(P(x, rep, 99), P(b, rep, 99)),
		       (unsigned long long)P(x, rec, 50), (unsigned long long)P(b, rec, 50),
		       (unsigned long long)P(x, rec, 99), (unsigned long long)P(b, rec, 99),
		       ratio(P(x, rec, 50), P(b, rec, 50)), ratio(P(x, rec, 99), P(b, rec, 99)),
		       (double)x->seen / x->seconds, (unsigned long long)x->bad);
	}

	printf("\nthe host and the hostile traffic (per second of hostile phase; 'bad' above = "
	       "honest reports throttled/rejected/lost, drops, failed reclaims)\n");
	printf("%-10s %9s %10s %8s %10s %8s %9s %17s %8s %6s  %s\n", "hostile", "connects/s",
	       "frames/s", "MB/s", "rate-dr/s", "invalid", "rounds/s", "round cpu p99/max", "log/s",
	       "conns", "dropped by reason (total)");
	for (size_t i = 0; i <= nr; i++) {
		const struct pool *x = i < nr ? &with[i] : &base;

		printf("%-10s %9.0f %10.0f %8.1f %10.0f %8llu %9.0f %7llu/%-7lluus %8.0f %6llu ",
		       i < nr ? mg_hostile_name(modes[i]) : "none(all)",
		       (double)x->sum.hostile.connects / x->seconds,
		       (double)x->sum.hostile.frames / x->seconds,
		       (double)x->sum.hostile.bytes / x->seconds / 1e6,
		       (double)x->sum.stats.reports_rate_dropped / x->seconds,
		       (unsigned long long)x->sum.stats.reports_invalid,
		       (double)x->sum.host_rounds / x->seconds,
		       (unsigned long long)P(x, rnd, 99),
		       (unsigned long long)P(x, rnd, 100),
		       (double)x->sum.host_log_lines / x->seconds,
		       (unsigned long long)x->conns_max);
		for (int k = 0; k < MS_DROP__COUNT; k++)
			if (x->sum.stats.dropped[k])
				printf(" %s=%llu", ms_host_drop_name(k),
				       (unsigned long long)x->sum.stats.dropped[k]);
		printf("\n");
	}
	for (size_t i = 0; i < nr; i++) {
		free(with[i].rep);
		free(with[i].rec);
		free(without[i].rep);
		free(without[i].rec);
		free(with[i].rnd);
		free(without[i].rnd);
	}
	free(base.rep);
	free(base.rec);
	free(base.rnd);
	return 0;
}
