/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memsharectl: inspect this machine (or a captured tree) with libmemshare,
 * or talk to memshare-hostd's control socket.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <memshare/memshare.h>

#include "cli.h"
#include "msjson.h"
#include "unixsock.h"

#define HOST_REPLY_TIMEOUT_MS 180000
/* Returned by a command for a command-line mistake: exit status 2. */
#define USAGE_ERROR (-100000)

static bool opt_json;
static uint32_t opt_timeout_ms = HOST_REPLY_TIMEOUT_MS;
/* Messages the library logged during the last call (not to say it twice). */
static unsigned lib_errors;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memsharectl [--sysroot DIR] [--json] COMMAND [ARGS]\n"
		"       memsharectl --host unix:CONTROL [--json] status\n"
		"       memsharectl --host unix:CONTROL reclaim GUEST BYTES --kind KINDS\n"
		"\n"
		"This machine (or the captured tree under --sysroot):\n"
		"  pressure [--memcg PATH]     PSI memory pressure (some/full)\n"
		"  meminfo                     /proc/meminfo in bytes\n"
		"  vmstat                      refaults, scans, steals, faults, swap, OOM kills\n"
		"  numa                        per-NUMA-node memory\n"
		"  lru [--memcg PATH] [--source auto|mglru|classic] [--bins MS,MS,...]\n"
		"                              memory by age (MGLRU generations or active/inactive)\n"
		"  report                      everything a guest agent sends, as one report\n"
		"\n"
		"A host agent (memshare-hostd --control unix:PATH):\n"
		"  status                      connected guests, their pressure, memory and ages\n"
		"  reclaim GUEST BYTES --kind slab|file|anon[,...] [--deadline-ms N]\n"
		"                              ask GUEST (name or #id) to reclaim; BYTES takes\n"
		"                              K/M/G suffixes; prints the bytes actually freed\n"
		"\n"
		"Options:\n"
		"  -r, --sysroot DIR   read /proc and /sys under DIR\n"
		"  -H, --host ENDPOINT memshare-hostd control socket (unix:/path)\n"
		"  -j, --json          JSON output (keys carry units: *_bytes, *_us, *_ms);\n"
		"                      may also follow the command\n"
		"  -t, --timeout-ms N  wait at most N ms for memshare-hostd (default 180000)\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n");
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void print_bytes_line(const char *name, uint64_t v)
{
	char h[32];

	if (v == MS_UNKNOWN)
		printf("  %-24s %20s\n", name, "-");
	else
		printf("  %-24s %20llu  (%s)\n", name, (unsigned long long)v,
		       cli_fmt_bytes(v, h, sizeof(h)));
}

/* ---- local commands ---------------------------------------------------- */

static int cmd_pressure(struct ms_ctx *ctx, const char *memcg)
{
	struct ms_psi psi;
	int r = ms_psi_read(ctx, memcg, &psi);

	if (r < 0)
		return r;
	if (opt_json) {
		json_object *o = msj_psi(&psi);

		print_json(o);
		json_object_put(o);
		return 0;
	}
	printf("memory pressure (%s)\n", memcg ? "cgroup memory.pressure" : "/proc/pressure/memory");
	printf("        %7s %7s %7s %16s\n", "avg10", "avg60", "avg300", "total_us");
	printf("  some  %7.2f %7.2f %7.2f %16llu\n", psi.some.avg10, psi.some.avg60,
	       psi.some.avg300, (unsigned long long)psi.some.total_us);
	if (psi.present & MS_PSI_FULL)
		printf("  full  %7.2f %7.2f %7.2f %16llu\n", psi.full.avg10, psi.full.avg60,
		       psi.full.avg300, (unsigned long long)psi.full.total_us);
	return 0;
}

static void print_json_bytes_obj(json_object *o)
{
	json_object_object_foreach(o, key, val) {
		if (strstr(key, "_bytes"))
			print_bytes_line(key, val ? json_object_get_uint64(val) : MS_UNKNOWN);
		else if (!val)
			printf("  %-24s %20s\n", key, "-");
		else
			printf("  %-24s %20s\n", key, json_object_get_string(val));
	}
}

static int cmd_meminfo(struct ms_ctx *ctx)
{
	struct ms_meminfo mi;
	json_object *o;
	int r = ms_meminfo_read(ctx, &mi);

	if (r < 0)
		return r;
	o = msj_meminfo(&mi);
	if (opt_json) {
		print_json(o);
	} else {
		printf("memory (/proc/meminfo, bytes)\n");
		print_json_bytes_obj(o);
	}
	json_object_put(o);
	return 0;
}

static int cmd_vmstat(struct ms_ctx *ctx)
{
	struct ms_vmstat vs;
	json_object *o;
	int r = ms_vmstat_read(ctx, &vs);

	if (r < 0)
		return r;
	o = msj_vmstat(&vs);
	if (opt_json) {
		print_json(o);
	} else {
		printf("reclaim activity since boot (/proc/vmstat)\n");
		print_json_bytes_obj(o);
	}
	json_object_put(o);
	return 0;
}

static int cmd_numa(struct ms_ctx *ctx)
{
	struct ms_numa_node *nodes;
	size_t nr;
	int r = ms_numa_read(ctx, &nodes, &nr);

	if (r < 0)
		return r;
	if (opt_json) {
		json_object *o = msj_numa(nodes, nr);

		print_json(o);
		json_object_put(o);
	} else {
		printf("%-5s %12s %12s %12s %12s %12s\n", "node", "total", "free", "file", "anon",
		       "slab_recl");
		for (size_t i = 0; i < nr; i++) {
			const struct ms_meminfo *m = &nodes[i].meminfo;
			char a[32], b[32], c[32], d[32], e[32];
			uint64_t file = m->file_pages_bytes != MS_UNKNOWN ? m->file_pages_bytes
									  : m->cached_bytes;

			printf("%-5d %12s %12s %12s %12s %12s\n", nodes[i].node,
			       cli_fmt_bytes(m->total_bytes, a, sizeof(a)),
			       cli_fmt_bytes(m->free_bytes, b, sizeof(b)),
			       cli_fmt_bytes(file, c, sizeof(c)),
			       cli_fmt_bytes(m->anon_pages_bytes, d, sizeof(d)),
			       cli_fmt_bytes(m->sreclaimable_bytes, e, sizeof(e)));
		}
	}
	free(nodes);
	return 0;
}

static const char *age_label(uint64_t ms, char *buf, size_t size)
{
	if (ms == MS_AGE_INFINITE)
		snprintf(buf, size, "inf");
	else if (ms % 1000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	return buf;
}

/* Text rendering of the JSON form, so local and host output look alike. */
static void print_lru_json(json_object *lru, const char *indent)
{
	json_object *nodes;
	const char *src = msj_get_string(lru, "source");

	printf("%sLRU ages (source: %s)\n", indent, src ? src : "?");
	if (!json_object_object_get_ex(lru, "nodes", &nodes))
		return;
	for (size_t i = 0; i < json_object_array_length(nodes); i++) {
		json_object *n = json_object_array_get_idx(nodes, i), *bins;
		char a[32], b[32], c[32];

		printf("%s  node %llu\n", indent, (unsigned long long)msj_get_u64(n, "node"));
		printf("%s    %-16s %12s %12s\n", indent, "age", "anon", "file");
		if (json_object_object_get_ex(n, "bins", &bins)) {
			for (size_t j = 0; j < json_object_array_length(bins); j++) {
				json_object *bin = json_object_array_get_idx(bins, j);
				const char *list = msj_get_string(bin, "list");
				char label[64], x[24], y[24];

				if (list)
					snprintf(label, sizeof(label), "%s", list);
				else
					snprintf(label, sizeof(label), "%s-%s",
						 age_label(msj_get_u64(bin, "min_age_ms"), x, sizeof(x)),
						 age_label(msj_get_u64(bin, "max_age_ms"), y, sizeof(y)));
				printf("%s    %-16s %12s %12s\n", indent, label,
				       cli_fmt_bytes(msj_get_u64(bin, "anon_bytes"), a, sizeof(a)),
				       cli_fmt_bytes(msj_get_u64(bin, "file_bytes"), b, sizeof(b)));
			}
		}
		printf("%s    slab reclaimable %s, shmem %s, unevictable %s\n", indent,
		       cli_fmt_bytes(msj_get_u64(n, "slab_reclaimable_bytes"), a, sizeof(a)),
		       cli_fmt_bytes(msj_get_u64(n, "shmem_bytes"), b, sizeof(b)),
		       cli_fmt_bytes(msj_get_u64(n, "unevictable_bytes"), c, sizeof(c)));
	}
}

static int lru_opts_from_args(int argc, char **argv, struct ms_lru_opts *lo, uint64_t *edges,
			      const char **memcg)
{
	static const struct option o[] = {
		{ "memcg", required_argument, NULL, 'm' },
		{ "source", required_argument, NULL, 's' },
		{ "bins", required_argument, NULL, 'b' },
		{ 0 },
	};
	int c;

	optind = 0;  /* 0: full getopt re-initialisation (GNU) */
	while ((c = getopt_long(argc, argv, "+m:s:b:", o, NULL)) != -1) {
		switch (c) {
		case 'm':
			*memcg = optarg;
			lo->memcg = optarg;
			break;
		case 's':
			if (strcmp(optarg, "auto") == 0)
				lo->source = MS_LRU_SOURCE_AUTO;
			else if (strcmp(optarg, "mglru") == 0)
				lo->source = MS_LRU_SOURCE_MGLRU;
			else if (strcmp(optarg, "classic") == 0)
				lo->source = MS_LRU_SOURCE_CLASSIC;
			else
				return -EINVAL;
			break;
		case 'b': {
			int n = cli_parse_edges(optarg, edges, MS_LRU_MAX_BINS - 1);

			if (n < 0)
				return -EINVAL;
			lo->bin_edges_ms = edges;
			lo->nr_bin_edges = (size_t)n;
			break;
		}
		default:
			return -EINVAL;
		}
	}
	return optind < argc ? -EINVAL : 0;
}

static int cmd_lru(struct ms_ctx *ctx, int argc, char **argv)
{
	uint64_t edges[MS_LRU_MAX_BINS - 1];
	struct ms_lru_summary *s;
	const char *memcg = NULL;
	json_object *o;
	MS_OPTS(ms_lru_opts, lo);
	int r;

	if (lru_opts_from_args(argc, argv, &lo, edges, &memcg) < 0) {
		fprintf(stderr, "memsharectl lru: options are --memcg PATH, --source "
			"auto|mglru|classic, --bins MS,MS,... (ascending)\n");
		return USAGE_ERROR;
	}
	r = ms_lru_summary_read(ctx, &lo, &s);
	if (r < 0)
		return r;
	o = msj_lru(s);
	if (opt_json)
		print_json(o);
	else
		print_lru_json(o, "");
	json_object_put(o);
	ms_lru_summary_free(s);
	return 0;
}

static int cmd_report(struct ms_ctx *ctx)
{
	struct ms_report rep;
	json_object *o;
	int r = ms_guest_build_report(ctx, NULL, &rep);

	if (r < 0)
		return r;
	o = msj_report(&rep);
	print_json(o);
	json_object_put(o);
	ms_report_clear(&rep);
	return 0;
}

/* ---- host commands ------------------------------------------------------ */

static int host_call(const char *endpoint, json_object *req, json_object **resp)
{
	const char *txt;
	size_t cap = 65536, len = 0;
	char *buf;
	int fd, r = 0;

	fd = unixsock_connect(endpoint);
	if (fd == -EINVAL) {
		fprintf(stderr, "memsharectl: --host wants unix:/absolute/path or unix:@name\n");
		return USAGE_ERROR;
	}
	if (fd < 0) {
		fprintf(stderr, "memsharectl: cannot reach memshare-hostd at %s: %s\n", endpoint,
			strerror(-fd));
		return fd;
	}
	txt = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (send(fd, txt, strlen(txt), MSG_NOSIGNAL) < 0 || send(fd, "\n", 1, MSG_NOSIGNAL) < 0) {
		r = -errno;
		fprintf(stderr, "memsharectl: cannot talk to memshare-hostd at %s: %s (is it a "
			"control socket?)\n", endpoint, strerror(-r));
		close(fd);
		return r;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (memchr(buf, '\n', len))
			break;
		if (poll(&p, 1, (int)opt_timeout_ms) == 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (len + 4096 > cap) {
			char *nb;

			if (cap >= (64u << 20)) {
				r = -EMSGSIZE;
				break;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -ECONNRESET;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (r == 0) {
		buf[len] = '\0';
		*resp = json_tokener_parse(buf);
		if (!*resp)
			r = -EPROTO;
	}
	if (r < 0)
		fprintf(stderr, "memsharectl: no valid reply from memshare-hostd: %s\n", strerror(-r));
	free(buf);
	return r;
}

/* Print a hostd error reply; returns its -errno. */
static int host_error(json_object *resp)
{
	json_object *ok;
	uint64_t e;

	if (json_object_object_get_ex(resp, "ok", &ok) && json_object_get_boolean(ok))
		return 0;
	e = msj_get_u64(resp, "errno");
	if (opt_json)
		print_json(resp);
	else
		fprintf(stderr, "memsharectl: %s\n", msj_get_string(resp, "error") ?: "error");
	return e == MS_UNKNOWN || e == 0 ? -EIO : -(int)e;
}

static void print_guest(json_object *g)
{
	json_object *rep = NULL, *psi = NULL, *mi = NULL, *lru = NULL, *rates = NULL, *some = NULL,
		    *full = NULL, *caps = NULL, *lr = NULL;
	char a[32], b[32], c[32], d[32];

	json_object_object_get_ex(g, "report", &rep);
	json_object_object_get_ex(g, "rates", &rates);
	json_object_object_get_ex(g, "capabilities", &caps);
	json_object_object_get_ex(g, "last_reclaim", &lr);
	if (rep) {
		json_object_object_get_ex(rep, "psi", &psi);
		json_object_object_get_ex(rep, "meminfo", &mi);
		json_object_object_get_ex(rep, "lru", &lru);
	}
	if (psi) {
		json_object_object_get_ex(psi, "some", &some);
		json_object_object_get_ex(psi, "full", &full);
	}
	printf("guest %s (#%llu)  %s  agent %s\n", msj_get_string(g, "name"),
	       (unsigned long long)msj_get_u64(g, "id"), msj_get_string(g, "peer"),
	       msj_get_string(g, "agent_version"));
	printf("  connected %.1f s, %llu reports, last %llu ms ago; capabilities: %s\n",
	       (double)msj_get_u64(g, "connected_ms") / 1000.0,
	       (unsigned long long)msj_get_u64(g, "reports"),
	       (unsigned long long)msj_get_u64(g, "last_report_age_ms"),
	       caps ? json_object_to_json_string_ext(caps, JSON_C_TO_STRING_PLAIN) : "[]");
	{
		json_object *t = NULL, *rj = NULL;

		json_object_object_get_ex(g, "traffic", &t);
		json_object_object_get_ex(g, "rejected", &rj);
		if (t && rj)
			printf("  traffic   in %llu frames / %s, out %llu / %s; reconnects %llu; "
			       "refused: %llu invalid reports, %llu over the rate, %llu unknown\n",
			       (unsigned long long)msj_get_u64(t, "frames_in"),
			       cli_fmt_bytes(msj_get_u64(t, "bytes_in"), a, sizeof(a)),
			       (unsigned long long)msj_get_u64(t, "frames_out"),
			       cli_fmt_bytes(msj_get_u64(t, "bytes_out"), b, sizeof(b)),
			       (unsigned long long)msj_get_u64(g, "reconnects"),
			       (unsigned long long)msj_get_u64(rj, "reports_invalid"),
			       (unsigned long long)msj_get_u64(rj, "reports_rate_limited"),
			       (unsigned long long)msj_get_u64(rj, "unknown_messages"));
	}
	{
		uint64_t trig = msj_get_u64(g, "psi_trigger_reports");
		json_object *le = NULL;

		if (trig && trig != MS_UNKNOWN)
			printf("  trigger   %llu reports from its PSI trigger\n",
			       (unsigned long long)trig);
		if (json_object_object_get_ex(g, "last_error", &le) && le)
			printf("  error     %s (%llu in all)\n", msj_get_string(le, "message"),
			       (unsigned long long)msj_get_u64(g, "errors"));
	}
	if (!rep) {
		printf("  no report yet\n");
		return;
	}
	if (some)
		printf("  pressure  some avg10 %.2f%% avg60 %.2f%% total %llu us", msj_get_double(some, "avg10"),
		       msj_get_double(some, "avg60"), (unsigned long long)msj_get_u64(some, "total_us"));
	else
		printf("  pressure  (no PSI)");
	if (full)
		printf(" | full avg10 %.2f%%", msj_get_double(full, "avg10"));
	printf("\n");
	printf("  memory    total %s, available %s, free %s, slab reclaimable %s\n",
	       cli_fmt_bytes(msj_get_u64(mi, "total_bytes"), a, sizeof(a)),
	       cli_fmt_bytes(msj_get_u64(mi, "available_bytes"), b, sizeof(b)),
	       cli_fmt_bytes(msj_get_u64(mi, "free_bytes"), c, sizeof(c)),
	       cli_fmt_bytes(msj_get_u64(mi, "sreclaimable_bytes"), d, sizeof(d)));
	if (rates) {
		double rf = msj_get_double(rates, "refault_bytes_per_s");
		double st = msj_get_double(rates, "some_stall_us_per_s");

		printf("  rates     refaults %s/s, stall (some) %s us/s, scanned %s/s\n",
		       isnan(rf) ? "-" : cli_fmt_bytes((uint64_t)rf, a, sizeof(a)),
		       isnan(st) ? "-" : (snprintf(b, sizeof(b), "%.0f", st), b),
		       isnan(msj_get_double(rates, "pgscan_bytes_per_s")) ? "-" :
		       cli_fmt_bytes((uint64_t)msj_get_double(rates, "pgscan_bytes_per_s"), c, sizeof(c)));
	}
	if (lru)
		print_lru_json(lru, "  ");
	if (lr)
		printf("  last reclaim: status %lld, freed %s in %llu us\n",
		       (long long)json_object_get_int64(json_object_object_get(lr, "status")),
		       cli_fmt_bytes(msj_get_u64(lr, "freed_bytes"), a, sizeof(a)),
		       (unsigned long long)msj_get_u64(lr, "duration_us"));
}

static void print_host(json_object *resp)
{
	json_object *h = NULL, *pol = NULL, *nodes = NULL, *acts = NULL, *ag = NULL;
	char a[32], b[32], p[32];

	if (json_object_object_get_ex(resp, "host", &h) && h) {
		double psi = msj_get_double(h, "psi_some_avg10");

		printf("host      total %s, available %s, PSI some avg10 %s%%, trigger %s (fired %llu)\n",
		       cli_fmt_bytes(msj_get_u64(h, "total_bytes"), a, sizeof(a)),
		       cli_fmt_bytes(msj_get_u64(h, "available_bytes"), b, sizeof(b)),
		       isnan(psi) ? "-" : (snprintf(p, sizeof(p), "%.2f", psi), p),
		       json_object_get_boolean(json_object_object_get(h, "psi_trigger")) ? "armed" : "off",
		       (unsigned long long)msj_get_u64(h, "psi_trigger_fired"));
		if (json_object_object_get_ex(h, "nodes", &nodes) && json_object_array_length(nodes) > 1)
			for (size_t i = 0; i < json_object_array_length(nodes); i++) {
				json_object *nd = json_object_array_get_idx(nodes, i);

				printf("  node %llu  total %s, free %s\n",
				       (unsigned long long)msj_get_u64(nd, "node"),
				       cli_fmt_bytes(msj_get_u64(nd, "total_bytes"), a, sizeof(a)),
				       cli_fmt_bytes(msj_get_u64(nd, "free_bytes"), b, sizeof(b)));
			}
	}
	if (json_object_object_get_ex(resp, "agents", &ag) && ag) {
		json_object *dr = NULL;

		printf("agents    %llu connections, %llu refused (peer), %llu refused (full), "
		       "%llu reports", (unsigned long long)msj_get_u64(ag, "accepted"),
		       (unsigned long long)msj_get_u64(ag, "refused_peer"),
		       (unsigned long long)msj_get_u64(ag, "refused_full"),
		       (unsigned long long)msj_get_u64(ag, "reports"));
		if (json_object_object_get_ex(ag, "dropped", &dr) && dr) {
			const char *sep = "; dropped:";

			json_object_object_foreach(dr, why, nv) {
				if (json_object_get_uint64(nv)) {
					printf("%s %s %llu", sep, why,
					       (unsigned long long)json_object_get_uint64(nv));
					sep = ",";
				}
			}
		}
		printf("\n");
	}
	if (json_object_object_get_ex(resp, "policy", &pol) && pol) {
		printf("policy    %s%s, every %llu ms, %llu rounds, %llu actions\n",
		       msj_get_string(pol, "name"),
		       json_object_get_boolean(json_object_object_get(pol, "dry_run")) ? " (dry run)" : "",
		       (unsigned long long)msj_get_u64(pol, "interval_ms"),
		       (unsigned long long)msj_get_u64(pol, "rounds"),
		       (unsigned long long)msj_get_u64(pol, "actions"));
		if (json_object_object_get_ex(pol, "recent_actions", &acts)) {
			size_t n = json_object_array_length(acts), from = n > 5 ? n - 5 : 0;

			for (size_t i = from; i < n; i++) {
				json_object *x = json_object_array_get_idx(acts, i);
				const char *what = msj_get_string(x, "action");
				bool rec = what && strcmp(what, "reclaim") == 0;

				printf("  round %llu: %s %s %s: %s [%s]\n",
				       (unsigned long long)msj_get_u64(x, "round"),
				       msj_get_string(x, "guest"), what,
				       cli_fmt_bytes(msj_get_u64(x, rec ? "bytes" : "target_bytes"), a,
						     sizeof(a)),
				       msj_get_string(x, "reason"), msj_get_string(x, "result"));
			}
		}
	}
}

static void print_domains(json_object *resp)
{
	json_object *doms = NULL, *lv = NULL;

	if (!json_object_object_get_ex(resp, "domains", &doms) || !doms)
		return;
	if (json_object_object_get_ex(resp, "libvirt", &lv) && lv && msj_get_string(lv, "uri"))
		printf("libvirt %s: %s, reconnects %llu\n", msj_get_string(lv, "uri"),
		       json_object_get_boolean(json_object_object_get(lv, "connected"))
			       ? "connected" : "DOWN (domains as last seen, policy paused)",
		       (unsigned long long)msj_get_u64(lv, "reconnects"));
	printf("libvirt domains: %zu\n", json_object_array_length(doms));
	for (size_t i = 0; i < json_object_array_length(doms); i++) {
		json_object *dm = json_object_array_get_idx(doms, i), *b = NULL, *st = NULL, *w = NULL;
		char a[32], c[32], e[32], f[32];

		json_object_object_get_ex(dm, "balloon", &b);
		json_object_object_get_ex(dm, "stats", &st);
		json_object_object_get_ex(dm, "warnings", &w);
		printf("domain %s  agent %s", msj_get_string(dm, "name"), msj_get_string(dm, "agent"));
		if (msj_get_u64(dm, "vsock_cid") != MS_UNKNOWN)
			printf(", vsock cid %llu", (unsigned long long)msj_get_u64(dm, "vsock_cid"));
		if (msj_get_string(dm, "channel_path"))
			printf(", channel %s", msj_get_string(dm, "channel_path"));
		printf("\n  balloon   %s: current %s of max %s, min_guarantee %s\n",
		       msj_get_string(b, "model")[0] ? msj_get_string(b, "model") : "none",
		       cli_fmt_bytes(msj_get_u64(b, "current_bytes"), a, sizeof(a)),
		       cli_fmt_bytes(msj_get_u64(b, "max_bytes"), c, sizeof(c)),
		       cli_fmt_bytes(msj_get_u64(b, "min_guarantee_bytes"), e, sizeof(e)));
		if (st)
			printf("  stats     guest free %s, usable %s, total %s, rss %s\n",
			       cli_fmt_bytes(msj_get_u64(st, "guest_free_bytes"), a, sizeof(a)),
			       cli_fmt_bytes(msj_get_u64(st, "guest_usable_bytes"), c, sizeof(c)),
			       cli_fmt_bytes(msj_get_u64(st, "guest_total_bytes"), e, sizeof(e)),
			       cli_fmt_bytes(msj_get_u64(st, "rss_bytes"), f, sizeof(f)));
		for (size_t k = 0; w && k < json_object_array_length(w); k++)
			printf("  warning   %s\n", json_object_get_string(json_object_array_get_idx(w, k)));
	}
}

static int cmd_status(const char *host)
{
	json_object *req = json_object_new_object(), *resp = NULL, *guests;
	int r;

	json_object_object_add(req, "cmd", json_object_new_string("status"));
	r = host_call(host, req, &resp);
	json_object_put(req);
	if (r < 0)
		return r;
	r = host_error(resp);
	if (r == 0) {
		if (opt_json) {
			print_json(resp);
		} else if (json_object_object_get_ex(resp, "guests", &guests)) {
			size_t n = json_object_array_length(guests);

			printf("memshare-hostd %s, up %.1f s, %zu guest%s\n",
			       msj_get_string(resp, "version"),
			       (double)msj_get_u64(resp, "uptime_ms") / 1000.0, n, n == 1 ? "" : "s");
			print_host(resp);
			for (size_t i = 0; i < n; i++)
				print_guest(json_object_array_get_idx(guests, i));
			print_domains(resp);
		}
	}
	json_object_put(resp);
	return r;
}

static int cmd_reclaim(const char *host, int argc, char **argv)
{
	static const struct option o[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "deadline-ms", required_argument, NULL, 'd' },
		{ 0 },
	};
	const char *kinds = NULL;
	json_object *req, *resp = NULL, *res;
	uint32_t deadline = 0;
	uint64_t bytes;
	int c, r;

	optind = 0;  /* 0: full getopt re-initialisation (GNU) */
	while ((c = getopt_long(argc, argv, "k:d:", o, NULL)) != -1) {
		if (c == 'k')
			kinds = optarg;
		else if (c == 'd' && cli_parse_u32(optarg, &deadline) == 0)
			continue;
		else
			goto usage;
	}
	if (argc - optind != 2 || !kinds || ms_reclaim_kinds_parse(kinds) < 0 ||
	    cli_parse_bytes(argv[optind + 1], &bytes) < 0)
		goto usage;
	req = json_object_new_object();
	json_object_object_add(req, "cmd", json_object_new_string("reclaim"));
	json_object_object_add(req, "guest", json_object_new_string(argv[optind]));
	json_object_object_add(req, "bytes", json_object_new_uint64(bytes));
	json_object_object_add(req, "kinds", json_object_new_string(kinds));
	if (deadline)
		json_object_object_add(req, "deadline_ms", json_object_new_uint64(deadline));
	r = host_call(host, req, &resp);
	json_object_put(req);
	if (r < 0)
		return r;
	r = host_error(resp);
	if (r == 0 && json_object_object_get_ex(resp, "result", &res)) {
		int64_t status = json_object_get_int64(json_object_object_get(res, "status"));
		char a[32], b[32], x[32], y[32], z[32];

		if (opt_json) {
			print_json(resp);
		} else {
			json_object *methods = json_object_object_get(res, "methods");
			const char *why = status == -ETIMEDOUT
				? "the guest did not answer in time (or missed its deadline)"
				: status == -EAGAIN ? "the guest's kernel found less to free than asked"
				: status ? strerror((int)-status) : NULL;

			printf("guest %s: freed %llu bytes (%s: file %s, anon %s, slab %s) of %s "
			       "asked, in %.1f ms via %s%s%s\n",
			       msj_get_string(resp, "guest"),
			       (unsigned long long)msj_get_u64(res, "freed_bytes"),
			       cli_fmt_bytes(msj_get_u64(res, "freed_bytes"), b, sizeof(b)),
			       cli_fmt_bytes(msj_get_u64(res, "freed_file_bytes"), x, sizeof(x)),
			       cli_fmt_bytes(msj_get_u64(res, "freed_anon_bytes"), y, sizeof(y)),
			       cli_fmt_bytes(msj_get_u64(res, "freed_slab_bytes"), z, sizeof(z)),
			       cli_fmt_bytes(msj_get_u64(res, "requested_bytes"), a, sizeof(a)),
			       (double)msj_get_u64(res, "duration_us") / 1000.0,
			       methods && json_object_array_length(methods)
				       ? json_object_to_json_string_ext(methods, JSON_C_TO_STRING_PLAIN)
				       : "nothing",
			       why ? "; " : "", why ? why : "");
		}
		/* Less than asked (-EAGAIN) is an answer, not a failure. */
		if (status && status != -EAGAIN)
			r = (int)status;
	}
	json_object_put(resp);
	return r;
usage:
	fprintf(stderr, "Usage: memsharectl --host unix:CONTROL reclaim GUEST BYTES "
		"--kind slab|file|anon[,...] [--deadline-ms N]\n");
	return USAGE_ERROR;
}

/* Log callback: print like the agents do, and count errors so that the
 * command does not print the same failure a second time. */
static void log_stderr(enum ms_log_level level, const char *msg, void *userdata)
{
	if (level <= MS_LOG_ERR)
		lib_errors++;
	cli_log_stderr(level, msg, userdata);
}

/* Global options may also follow the command ("status --json"). */
static void take_global_flags(int *argc, char **argv)
{
	int k = 1;

	for (int i = 1; i < *argc; i++) {
		if (strcmp(argv[i], "--json") == 0 || strcmp(argv[i], "-j") == 0)
			opt_json = true;
		else
			argv[k++] = argv[i];
	}
	*argc = k;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sysroot", required_argument, NULL, 'r' },
		{ "host", required_argument, NULL, 'H' },
		{ "json", no_argument, NULL, 'j' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *sysroot = NULL, *host = NULL, *cmd;
	struct ms_ctx *ctx = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "+r:H:jt:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			sysroot = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'j':
			opt_json = true;
			break;
		case 't':
			if (cli_parse_u32(optarg, &opt_timeout_ms) < 0 || !opt_timeout_ms ||
			    opt_timeout_ms > INT32_MAX) {
				fprintf(stderr, "memsharectl: --timeout-ms wants a positive number\n");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("memsharectl %s\n", ms_version());
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
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	take_global_flags(&argc, argv);

	if (strcmp(cmd, "status") == 0 || strcmp(cmd, "reclaim") == 0) {
		if (!host) {
			fprintf(stderr, "memsharectl: %s needs --host unix:CONTROL\n", cmd);
			return 2;
		}
		if (strcmp(cmd, "status") == 0 && argc != 1) {
			fprintf(stderr, "memsharectl: status takes no arguments (got '%s')\n", argv[1]);
			return 2;
		}
		r = strcmp(cmd, "status") == 0 ? cmd_status(host) : cmd_reclaim(host, argc, argv);
		return r == USAGE_ERROR ? 2 : r < 0 ? 1 : 0;
	}
	if (host) {
		fprintf(stderr, "memsharectl: --host is for status and reclaim; %s reads this "
			"machine (or --sysroot)\n", cmd);
		return 2;
	}

	MS_OPTS(ms_ctx_opts, copts, .sysroot = sysroot, .log_fn = log_stderr,
		.log_userdata = (void *)"memsharectl", .log_level = MS_LOG_WARNING);
	r = ms_ctx_new(&ctx, &copts);
	if (r < 0) {
		if (!lib_errors)
			fprintf(stderr, "memsharectl: sysroot %s: %s\n", sysroot, strerror(-r));
		return 1;
	}
	if (strcmp(cmd, "pressure") == 0) {
		const char *memcg = NULL;

		if (argc == 3 && strcmp(argv[1], "--memcg") == 0)
			memcg = argv[2];
		else if (argc != 1)
			r = USAGE_ERROR;
		if (r == 0)
			r = cmd_pressure(ctx, memcg);
	} else if (strcmp(cmd, "meminfo") == 0 && argc == 1) {
		r = cmd_meminfo(ctx);
	} else if (strcmp(cmd, "vmstat") == 0 && argc == 1) {
		r = cmd_vmstat(ctx);
	} else if (strcmp(cmd, "numa") == 0 && argc == 1) {
		r = cmd_numa(ctx);
	} else if (strcmp(cmd, "lru") == 0) {
		r = cmd_lru(ctx, argc, argv);
	} else if (strcmp(cmd, "report") == 0 && argc == 1) {
		r = cmd_report(ctx);
	} else {
		r = USAGE_ERROR;
	}
	if (r == USAGE_ERROR)
		fprintf(stderr, "memsharectl: bad command or arguments: %s (see --help)\n", cmd);
	else if (r < 0 && !lib_errors)
		fprintf(stderr, "memsharectl %s: %s\n", cmd, strerror(-r));
	ms_ctx_free(ctx);
	return r == USAGE_ERROR ? 2 : r < 0 ? 1 : 0;
}
