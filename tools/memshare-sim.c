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
		"  -h, --help               this help\n"
		"  -V, --version            print the version\n"
		"\n"
		"A TRACE cut short in its last record (memshare-hostd killed mid-write) is\n"
		"replayed up to the cut, with a warning; a corrupt one is not replayed.\n");
}

#define MAX_POLICIES 8

/* What to replay, from the command line. */
struct sim_args {
	const struct ms_policy_ops *policies[MAX_POLICIES];
	size_t np;
	struct ms_policy_params params;
	uint64_t host_total;                    /* 0: the library's default */
	bool json, fpr, combine;
	char **traces;
	size_t nr_traces;
};

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

/*
 * Read the trace at @path through before replaying it: 0 if it is whole, 1
 * if its last record is cut short (said on stderr, with where: the records
 * before it are replayed), or -errno once stderr says why it cannot be.
 */
static int check_trace(const char *path)
{
	struct ms_trace_record rec;
	struct ms_trace *t;
	unsigned long long n = 0;
	int r = ms_trace_open(&t, path);

	if (r < 0) {
		fprintf(stderr, "memshare-sim: %s: %s\n", path, r == -EBADMSG
			? "not a memshare trace (no MSTRACE1 version 1 header)" : strerror(-r));
		return r;
	}
	while ((r = ms_trace_next(t, &rec)) == 1)
		n++;
	if (r == -ENODATA)
		fprintf(stderr, "memshare-sim: warning: %s: cut short at byte offset %llu (its last "
			"record is incomplete, as when the recorder is killed mid-write); replaying "
			"the %llu records before it\n", path,
			(unsigned long long)ms_trace_offset(t), n);
	else if (r == -EBADMSG)
		fprintf(stderr, "memshare-sim: %s: corrupt record at byte offset %llu (a direction "
			"or length no recorder writes), after %llu good ones; not replayed\n", path,
			(unsigned long long)ms_trace_offset(t), n);
	else if (r < 0)
		fprintf(stderr, "memshare-sim: %s: cannot read the record at byte offset %llu: %s\n",
			path, (unsigned long long)ms_trace_offset(t), strerror(-r));
	ms_trace_close(t);
	return r == -ENODATA ? 1 : r;
}

/* check_trace() of every trace replayed together (@a->combine) or of @path. */
static int check_traces(const struct sim_args *a, const char *path)
{
	int bad = 0;

	if (!a->combine)
		return check_trace(path) < 0 ? -1 : 0;
	for (size_t k = 0; k < a->nr_traces; k++)
		bad |= check_trace(a->traces[k]) < 0;
	return bad ? -1 : 0;
}

/* Replay @path (or all traces, combined) against every policy into @res. */
static int replay(const struct sim_args *a, const char *path, const char *name,
		  struct ms_sim_result *res)
{
	for (size_t i = 0; i < a->np; i++) {
		MS_OPTS(ms_sim_opts, so, .trace_path = path, .policy = a->policies[i],
			.params = &a->params, .host_total_bytes = a->host_total,
			.free_page_reporting = a->fpr ? 1 : -1,
			.trace_paths = a->combine ? (const char *const *)a->traces : NULL,
			.nr_traces = a->combine ? a->nr_traces : 0);
		int r = ms_sim_run(&so, &res[i]);

		if (r < 0) {
			fprintf(stderr, "memshare-sim: %s: %s\n", name,
				r == -EBADMSG ? "not a memshare trace, or corrupt" :
				r == -ENODATA ? "no guest reports in it" : strerror(-r));
			return r;
		}
	}
	return 0;
}

static void print_table(const struct sim_args *a, const char *path,
			const struct ms_sim_result *res)
{
	if (a->combine) {
		printf("combined:");
		for (size_t k = 0; k < a->nr_traces; k++)
			printf(" %s", a->traces[k]);
		printf("\n");
	} else {
		printf("%s\n", path);
	}
	printf("  %-18s %10s %9s %9s %13s %10s %8s %8s %8s\n", "policy", "GiB*s", "mean GiB",
	       "stall s", "refault %ws/m", "critical s", "actions", "reclaim", "balloon");
	for (size_t i = 0; i < a->np; i++)
		printf("  %-18s %10.2f %9.3f %9.2f %13.3f %10.1f %8llu %8llu %8llu\n",
		       res[i].policy, res[i].returned_gib_s, res[i].returned_mean_gib,
		       res[i].stall_s, res[i].refault_pct_ws_per_min, res[i].host_critical_s,
		       (unsigned long long)res[i].actions,
		       (unsigned long long)res[i].reclaim_actions,
		       (unsigned long long)res[i].balloon_actions);
}

/* Check, replay and print one trace (or all, combined); 0 or -1. */
static int simulate(const struct sim_args *a, const char *path, json_object *all)
{
	const char *name = a->combine ? "combined" : path;
	struct ms_sim_result res[MAX_POLICIES];

	if (check_traces(a, path) < 0 || replay(a, path, name, res) < 0)
		return -1;
	if (!a->json) {
		print_table(a, path, res);
		return 0;
	}
	for (size_t i = 0; i < a->np; i++)
		json_object_array_add(all, result_json(name, &res[i]));
	return 0;
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
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct sim_args a = { .fpr = true };
	json_object *all = NULL;
	int c, rc = 0;

	ms_policy_params_init(&a.params);
	while ((c = getopt_long(argc, argv, "p:H:s:jchV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			a.combine = true;
			break;
		case 'p':
			if (strcmp(optarg, "all") == 0)
				break;
			if (a.np == MAX_POLICIES || !(a.policies[a.np] = ms_policy_find(optarg))) {
				fprintf(stderr, "memshare-sim: unknown policy '%s' (memshare, mom, "
					"balance-available, static, all)\n", optarg);
				return 2;
			}
			a.np++;
			break;
		case 'H': {
			int r = cli_parse_bytes(optarg, &a.host_total);

			if (r < 0 || !a.host_total) {
				fprintf(stderr, "memshare-sim: --host-total '%s': %s\n", optarg,
					r < 0 ? cli_bytes_error(r) : "must be more than 0");
				return 2;
			}
			break;
		}
		case 's': {
			char *eq = strchr(optarg, '=');
			int r;

			if (!eq) {
				fprintf(stderr, "memshare-sim: --set wants KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			r = ms_policy_params_set(&a.params, optarg, eq + 1);
			if (r < 0) {
				fprintf(stderr, "memshare-sim: --set %s=%s: %s\n", optarg, eq + 1,
					r == -ENOENT ? "unknown parameter" : "bad value");
				return 2;
			}
			break;
		}
		case 'F':
			a.fpr = false;
			break;
		case 'j':
			a.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("memshare-sim %s\n", ms_version());
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
	if (!a.np)
		for (const struct ms_policy_ops *const *l = ms_policy_list();
		     *l && a.np < MAX_POLICIES; l++)
			a.policies[a.np++] = *l;
	a.traces = &argv[optind];
	a.nr_traces = (size_t)(argc - optind);
	if (a.json)
		all = json_object_new_array();
	for (size_t t = 0; t < a.nr_traces; t++) {
		if (simulate(&a, a.traces[t], all) < 0)
			rc = 1;
		if (a.combine)
			break;
	}
	if (a.json) {
		puts(json_object_to_json_string_ext(all, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(all);
	}
	return rc;
}
