/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memshare-sim: replay recorded guests (memshare-hostd --record) against
 * balancing policies and print what each achieved.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memshare/memshare.h>

#include "cli.h"
#include "msjson.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memshare-sim [OPTIONS] TRACE...\n"
		"\n"
		"Replay each TRACE (memshare-hostd --record FILE) against policies and print,\n"
		"per policy: memory returned to the host (GiB*s and mean GiB), guest stall\n"
		"time the policy caused, refaults of evicted memory per minute as %% of the\n"
		"working set, host time below critical, and the number of actions.\n"
		"\n"
		"  -p, --policy NAME        memshare, mom, balance-available, static, or all\n"
		"                           (default all; repeatable)\n"
		"  -H, --host-total BYTES   host memory (default 0.75 x the guests' MemTotal)\n"
		"  -s, --set KEY=VALUE      set a policy parameter (docs/policy.md; repeatable)\n"
		"      --no-free-page-reporting  guests do not return free pages\n"
		"  -c, --combine            replay all TRACEs together, as guests of one host\n"
		"  -j, --json               JSON output\n"
		"  -h, --help               this help\n");
}

static json_object *result_json(const char *trace, const struct ms_sim_result *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "trace", json_object_new_string(trace));
	json_object_object_add(o, "policy", json_object_new_string(r->policy));
	json_object_object_add(o, "guests", json_object_new_int64(r->guests));
	json_object_object_add(o, "duration_s", msj_double(r->duration_s));
	json_object_object_add(o, "returned_gib_s", msj_double(r->returned_gib_s));
	json_object_object_add(o, "returned_mean_gib", msj_double(r->returned_mean_gib));
	json_object_object_add(o, "stall_s", msj_double(r->stall_s));
	json_object_object_add(o, "refault_pct_ws_per_min", msj_double(r->refault_pct_ws_per_min));
	json_object_object_add(o, "refault_bytes", json_object_new_uint64(r->refault_bytes));
	json_object_object_add(o, "host_critical_s", msj_double(r->host_critical_s));
	json_object_object_add(o, "actions", json_object_new_uint64(r->actions));
	json_object_object_add(o, "reclaim_actions", json_object_new_uint64(r->reclaim_actions));
	json_object_object_add(o, "balloon_actions", json_object_new_uint64(r->balloon_actions));
	return o;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "host-total", required_argument, NULL, 'H' },
		{ "set", required_argument, NULL, 's' },
		{ "no-free-page-reporting", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'j' },
		{ "combine", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const struct ms_policy_ops *policies[8];
	struct ms_policy_params params;
	uint64_t host_total = 0;
	size_t np = 0;
	bool json = false, fpr = true, combine = false;
	json_object *all = NULL;
	int c, rc = 0;

	ms_policy_params_init(&params);
	while ((c = getopt_long(argc, argv, "p:H:s:jch", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			combine = true;
			break;
		case 'p':
			if (strcmp(optarg, "all") == 0)
				break;
			if (np == 8 || !(policies[np] = ms_policy_find(optarg))) {
				fprintf(stderr, "memshare-sim: unknown policy '%s' (memshare, mom, "
					"balance-available, static, all)\n", optarg);
				return 2;
			}
			np++;
			break;
		case 'H':
			if (cli_parse_bytes(optarg, &host_total) < 0 || !host_total) {
				fprintf(stderr, "memshare-sim: --host-total wants a size, e.g. 2G\n");
				return 2;
			}
			break;
		case 's': {
			char *eq = strchr(optarg, '=');
			int r;

			if (!eq) {
				fprintf(stderr, "memshare-sim: --set wants KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			r = ms_policy_params_set(&params, optarg, eq + 1);
			if (r < 0) {
				fprintf(stderr, "memshare-sim: --set %s=%s: %s\n", optarg, eq + 1,
					r == -ENOENT ? "unknown parameter" : "bad value");
				return 2;
			}
			break;
		}
		case 'F':
			fpr = false;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (!np)
		for (const struct ms_policy_ops *const *l = ms_policy_list(); *l && np < 8; l++)
			policies[np++] = *l;
	if (json)
		all = json_object_new_array();
	for (int t = optind; t < argc; t++) {
		const char *name = combine ? "combined" : argv[t];

		if (!json) {
			if (combine) {
				printf("combined:");
				for (int k = optind; k < argc; k++)
					printf(" %s", argv[k]);
				printf("\n");
			} else {
				printf("%s\n", argv[t]);
			}
			printf("  %-18s %10s %9s %9s %13s %10s %8s %8s %8s\n", "policy", "GiB*s",
			       "mean GiB", "stall s", "refault %ws/m", "critical s", "actions",
			       "reclaim", "balloon");
		}
		for (size_t i = 0; i < np; i++) {
			MS_OPTS(ms_sim_opts, so, .trace_path = argv[t], .policy = policies[i],
				.params = &params, .host_total_bytes = host_total,
				.free_page_reporting = fpr ? 1 : -1,
				.trace_paths = combine ? (const char *const *)&argv[optind] : NULL,
				.nr_traces = combine ? (size_t)(argc - optind) : 0);
			struct ms_sim_result res;
			int r = ms_sim_run(&so, &res);

			if (r < 0) {
				fprintf(stderr, "memshare-sim: %s: %s\n", name,
					r == -EBADMSG ? "not a memshare trace, or corrupt" :
					r == -ENODATA ? "no guest reports in it" : strerror(-r));
				rc = 1;
				break;
			}
			if (json) {
				json_object_array_add(all, result_json(name, &res));
				continue;
			}
			printf("  %-18s %10.2f %9.3f %9.2f %13.3f %10.1f %8llu %8llu %8llu\n",
			       res.policy, res.returned_gib_s, res.returned_mean_gib, res.stall_s,
			       res.refault_pct_ws_per_min, res.host_critical_s,
			       (unsigned long long)res.actions,
			       (unsigned long long)res.reclaim_actions,
			       (unsigned long long)res.balloon_actions);
		}
		if (combine)
			break;
	}
	if (json) {
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(all);
	}
	return rc;
}
