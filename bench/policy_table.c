/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The policy comparison: every shipped recording (tests/fixtures/traces)
 * replayed against every built-in policy, one at a time and all together
 * on one host, with the memory returned shown against the static
 * baseline measured in the same run.
 *
 *   bench-policy-table TRACE...
 */
#include <stdio.h>
#include <string.h>

#include <memshare/memshare.h>

static int table(const char *title, const char *const *paths, size_t n)
{
	const struct ms_policy_ops *const *pol = ms_policy_list();
	struct ms_sim_result res[8], *base = NULL;
	size_t np = 0;

	for (; pol[np] && np < 8; np++) {
		MS_OPTS(ms_sim_opts, o, .policy = pol[np], .trace_paths = paths, .nr_traces = n);
		int r = ms_sim_run(&o, &res[np]);

		if (r < 0) {
			fprintf(stderr, "%s: %s\n", title, strerror(-r));
			return 1;
		}
		if (strcmp(pol[np]->name, "static") == 0)
			base = &res[np];
	}
	printf("%s (%u guest%s, %.0f s)\n", title, res[0].guests, res[0].guests == 1 ? "" : "s",
	       res[0].duration_s);
	printf("  %-18s %9s %9s %9s %8s %12s %10s %8s\n", "policy", "GiB*s", "mean GiB",
	       "vs static", "stall s", "refault %ws/m", "critical s", "actions");
	for (size_t i = 0; i < np; i++)
		printf("  %-18s %9.2f %9.3f %+8.1f%% %8.2f %12.3f %10.1f %8llu\n", res[i].policy,
		       res[i].returned_gib_s, res[i].returned_mean_gib,
		       base && base->returned_gib_s > 0
			       ? 100.0 * (res[i].returned_gib_s / base->returned_gib_s - 1.0) : 0.0,
		       res[i].stall_s, res[i].refault_pct_ws_per_min, res[i].host_critical_s,
		       (unsigned long long)res[i].actions);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s TRACE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *one[1] = { argv[i] };

		rc |= table(argv[i], one, 1);
	}
	if (argc > 2)
		rc |= table("all traces on one host", (const char *const *)&argv[1], (size_t)argc - 1);
	return rc;
}
