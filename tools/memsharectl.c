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

/* ---- text of JSON fields --------------------------------------------------- */

/*
 * Text for one field of a JSON object: the local JSON form, or a reply from
 * memshare-hostd, which may lack anything or hold the wrong type, so these
 * never fail: an absent field reads "?" (bytes: "-", as for a figure the
 * kernel did not give).  Numbers go into one of TXT_SLOTS static buffers
 * used in turn: enough for the fields of one printf.
 */
#define TXT_SLOTS 16
#define TXT_SIZE 48

static char *txt_slot(void)
{
	static char slots[TXT_SLOTS][TXT_SIZE];
	static unsigned next;

	return slots[next++ % TXT_SLOTS];
}

/* A count: "1234" or "?". */
static const char *txt_u64(json_object *o, const char *key)
{
	uint64_t v = msj_get_u64(o, key);
	char *b;

	if (v == MS_UNKNOWN)
		return "?";
	b = txt_slot();
	snprintf(b, TXT_SIZE, "%llu", (unsigned long long)v);
	return b;
}

/* A signed integer: "-110" or "?". */
static const char *txt_i64(json_object *o, const char *key)
{
	int64_t v;
	char *b;

	if (!msj_get_int64(o, key, &v))
		return "?";
	b = txt_slot();
	snprintf(b, TXT_SIZE, "%lld", (long long)v);
	return b;
}

/* Milliseconds @key shown in @unit_ms units with one decimal: "12.3" or "?". */
static const char *txt_ms(json_object *o, const char *key, double unit_ms)
{
	uint64_t v = msj_get_u64(o, key);
	char *b;

	if (v == MS_UNKNOWN)
		return "?";
	b = txt_slot();
	snprintf(b, TXT_SIZE, "%.1f", (double)v / unit_ms);
	return b;
}

/* A number with @decimals decimals: "40.11", or "-" if absent. */
static const char *txt_double(json_object *o, const char *key, int decimals)
{
	double v = msj_get_double(o, key);
	char *b;

	if (isnan(v))
		return "-";
	b = txt_slot();
	snprintf(b, TXT_SIZE, "%.*f", decimals, v);
	return b;
}

/* Bytes: "356.1 MiB", or "-" if absent. */
static const char *txt_bytes(json_object *o, const char *key)
{
	return cli_fmt_bytes(msj_get_u64(o, key), txt_slot(), TXT_SIZE);
}

/* A rate in bytes per second: "1.5 MiB" (the caller adds "/s"), or "-". */
static const char *txt_bytes_rate(json_object *o, const char *key)
{
	double v = msj_get_double(o, key);

	if (isnan(v) || v < 0 || v >= 18446744073709551616.0)
		return "-";
	return cli_fmt_bytes((uint64_t)v, txt_slot(), TXT_SIZE);
}

/* A string, or "?". */
static const char *txt_str(json_object *o, const char *key)
{
	const char *s = msj_get_string(o, key);

	return s ? s : "?";
}

/* A boolean: @yes, @no, or "?". */
static const char *txt_bool(json_object *o, const char *key, const char *yes, const char *no)
{
	int v = msj_get_bool(o, key);

	return v < 0 ? "?" : v ? yes : no;
}

/* An array of strings, JSON-style ("[\"psi\", \"mglru\"]"), or "?". */
static const char *txt_array(json_object *o, const char *key)
{
	json_object *a = msj_get_array(o, key);

	return a ? json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN) : "?";
}

/* An LRU bin's name: "active", or its ages "5s-30s" ("inf": open-ended). */
static const char *bin_label(json_object *bin, char *buf, size_t size)
{
	uint64_t lo = msj_get_u64(bin, "min_age_ms");
	char x[24], y[24];

	if (msj_get_string(bin, "list"))
		snprintf(buf, size, "%s", msj_get_string(bin, "list"));
	else
		snprintf(buf, size, "%s-%s", lo == MS_UNKNOWN ? "?" : age_label(lo, x, sizeof(x)),
			 age_label(msj_get_u64(bin, "max_age_ms"), y, sizeof(y)));
	return buf;
}

static void print_lru_node(json_object *n, const char *indent)
{
	json_object *bins = msj_get_array(n, "bins");
	char label[64];

	printf("%s  node %s\n", indent, txt_u64(n, "node"));
	printf("%s    %-16s %12s %12s\n", indent, "age", "anon", "file");
	for (size_t j = 0; bins && j < json_object_array_length(bins); j++) {
		json_object *bin = json_object_array_get_idx(bins, j);

		printf("%s    %-16s %12s %12s\n", indent, bin_label(bin, label, sizeof(label)),
		       txt_bytes(bin, "anon_bytes"), txt_bytes(bin, "file_bytes"));
	}
	printf("%s    slab reclaimable %s, shmem %s, unevictable %s\n", indent,
	       txt_bytes(n, "slab_reclaimable_bytes"), txt_bytes(n, "shmem_bytes"),
	       txt_bytes(n, "unevictable_bytes"));
}

/* Text rendering of the JSON form, so local and host output look alike. */
static void print_lru_json(json_object *lru, const char *indent)
{
	json_object *nodes = msj_get_array(lru, "nodes");

	printf("%sLRU ages (source: %s)\n", indent, txt_str(lru, "source"));
	for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++)
		print_lru_node(json_object_array_get_idx(nodes, i), indent);
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

/* Say that memshare-hostd's reply is not what it sends; returns -EPROTO. */
static int malformed(const char *what)
{
	fprintf(stderr, "memsharectl: malformed reply from memshare-hostd: %s\n", what);
	return -EPROTO;
}

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
		if (!json_object_is_type(*resp, json_type_object)) {
			json_object_put(*resp);
			*resp = NULL;
			free(buf);
			return malformed("not a JSON object");
		}
	}
	if (r < 0)
		fprintf(stderr, "memsharectl: no valid reply from memshare-hostd: %s\n", strerror(-r));
	free(buf);
	return r;
}

/*
 * The outcome a reply states: 0 if "ok" is true; for false, print its
 * "error" and return its -"errno" (-EIO if none in 1..4095); -EPROTO if
 * "ok" is missing or not a boolean.
 */
static int host_error(json_object *resp)
{
	uint64_t e = msj_get_u64(resp, "errno");
	int ok = msj_get_bool(resp, "ok");

	if (ok < 0)
		return malformed("no \"ok\" true or false");
	if (ok)
		return 0;
	if (opt_json)
		print_json(resp);
	else
		fprintf(stderr, "memsharectl: %s\n", msj_get_string(resp, "error") ?:
			"memshare-hostd refused the request (it gave no reason)");
	return e >= 1 && e <= 4095 ? -(int)e : -EIO;
}

static void print_guest_links(json_object *g)
{
	json_object *t = msj_get_object(g, "traffic"), *rj = msj_get_object(g, "rejected"),
		    *le = msj_get_object(g, "last_error");
	uint64_t trig = msj_get_u64(g, "psi_trigger_reports");

	if (t && rj)
		printf("  traffic   in %s frames / %s, out %s / %s; reconnects %s; "
		       "refused: %s invalid reports, %s over the rate, %s unknown\n",
		       txt_u64(t, "frames_in"), txt_bytes(t, "bytes_in"), txt_u64(t, "frames_out"),
		       txt_bytes(t, "bytes_out"), txt_u64(g, "reconnects"),
		       txt_u64(rj, "reports_invalid"), txt_u64(rj, "reports_rate_limited"),
		       txt_u64(rj, "unknown_messages"));
	if (trig && trig != MS_UNKNOWN)
		printf("  trigger   %llu reports from its PSI trigger\n", (unsigned long long)trig);
	if (le)
		printf("  error     %s (%s in all)\n", txt_str(le, "message"), txt_u64(g, "errors"));
}

/* The guest's last report: pressure, memory, LRU ages. */
static void print_guest_report(json_object *rep, json_object *rates)
{
	json_object *psi = msj_get_object(rep, "psi"), *mi = msj_get_object(rep, "meminfo"),
		    *lru = msj_get_object(rep, "lru"), *some = msj_get_object(psi, "some"),
		    *full = msj_get_object(psi, "full");

	if (some)
		printf("  pressure  some avg10 %s%% avg60 %s%% total %s us",
		       txt_double(some, "avg10", 2), txt_double(some, "avg60", 2),
		       txt_u64(some, "total_us"));
	else
		printf("  pressure  (no PSI)");
	if (full)
		printf(" | full avg10 %s%%", txt_double(full, "avg10", 2));
	printf("\n");
	printf("  memory    total %s, available %s, free %s, slab reclaimable %s\n",
	       txt_bytes(mi, "total_bytes"), txt_bytes(mi, "available_bytes"),
	       txt_bytes(mi, "free_bytes"), txt_bytes(mi, "sreclaimable_bytes"));
	if (rates)
		printf("  rates     refaults %s/s, stall (some) %s us/s, scanned %s/s\n",
		       txt_bytes_rate(rates, "refault_bytes_per_s"),
		       txt_double(rates, "some_stall_us_per_s", 0),
		       txt_bytes_rate(rates, "pgscan_bytes_per_s"));
	if (lru)
		print_lru_json(lru, "  ");
}

static void print_guest(json_object *g)
{
	json_object *rep = msj_get_object(g, "report"), *lr = msj_get_object(g, "last_reclaim");

	printf("guest %s (#%s)  %s  agent %s\n", txt_str(g, "name"), txt_u64(g, "id"),
	       txt_str(g, "peer"), txt_str(g, "agent_version"));
	printf("  connected %s s, %s reports, last %s ms ago; capabilities: %s\n",
	       txt_ms(g, "connected_ms", 1000.0), txt_u64(g, "reports"),
	       txt_u64(g, "last_report_age_ms"), txt_array(g, "capabilities"));
	print_guest_links(g);
	if (!rep) {
		printf("  no report yet\n");
		return;
	}
	print_guest_report(rep, msj_get_object(g, "rates"));
	if (lr)
		printf("  last reclaim: status %s, freed %s in %s us\n", txt_i64(lr, "status"),
		       txt_bytes(lr, "freed_bytes"), txt_u64(lr, "duration_us"));
}

static void print_host_memory(json_object *h)
{
	json_object *nodes = msj_get_array(h, "nodes");
	size_t n = nodes ? json_object_array_length(nodes) : 0;

	printf("host      total %s, available %s, PSI some avg10 %s%%, trigger %s (fired %s)\n",
	       txt_bytes(h, "total_bytes"), txt_bytes(h, "available_bytes"),
	       txt_double(h, "psi_some_avg10", 2), txt_bool(h, "psi_trigger", "armed", "off"),
	       txt_u64(h, "psi_trigger_fired"));
	for (size_t i = 0; n > 1 && i < n; i++) {
		json_object *nd = json_object_array_get_idx(nodes, i);

		printf("  node %s  total %s, free %s\n", txt_u64(nd, "node"),
		       txt_bytes(nd, "total_bytes"), txt_bytes(nd, "free_bytes"));
	}
}

static void print_host_agents(json_object *ag)
{
	json_object *dr = msj_get_object(ag, "dropped");
	const char *sep = "; dropped:";

	printf("agents    %s connections, %s refused (peer), %s refused (full), %s reports",
	       txt_u64(ag, "accepted"), txt_u64(ag, "refused_peer"), txt_u64(ag, "refused_full"),
	       txt_u64(ag, "reports"));
	if (dr) {
		json_object_object_foreach(dr, why, nv) {
			uint64_t n = msj_get_u64(dr, why);

			(void)nv;
			if (n && n != MS_UNKNOWN) {
				printf("%s %s %llu", sep, why, (unsigned long long)n);
				sep = ",";
			}
		}
	}
	printf("\n");
}

static void print_host_policy(json_object *pol)
{
	json_object *acts = msj_get_array(pol, "recent_actions");
	size_t n = acts ? json_object_array_length(acts) : 0;

	printf("policy    %s%s, every %s ms, %s rounds, %s actions\n", txt_str(pol, "name"),
	       msj_get_bool(pol, "dry_run") == 1 ? " (dry run)" : "",
	       txt_u64(pol, "interval_ms"), txt_u64(pol, "rounds"), txt_u64(pol, "actions"));
	for (size_t i = n > 5 ? n - 5 : 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(acts, i);
		const char *what = msj_get_string(x, "action");
		bool rec = what && strcmp(what, "reclaim") == 0;

		printf("  round %s: %s %s %s: %s [%s]\n", txt_u64(x, "round"), txt_str(x, "guest"),
		       what ? what : "?", txt_bytes(x, rec ? "bytes" : "target_bytes"),
		       txt_str(x, "reason"), txt_str(x, "result"));
	}
}

static void print_host(json_object *resp)
{
	json_object *h = msj_get_object(resp, "host"), *ag = msj_get_object(resp, "agents"),
		    *pol = msj_get_object(resp, "policy");

	if (h)
		print_host_memory(h);
	if (ag)
		print_host_agents(ag);
	if (pol)
		print_host_policy(pol);
}

static void print_domain(json_object *dm)
{
	json_object *b = msj_get_object(dm, "balloon"), *st = msj_get_object(dm, "stats"),
		    *w = msj_get_array(dm, "warnings");
	const char *model = msj_get_string(b, "model");

	printf("domain %s  agent %s", txt_str(dm, "name"), txt_str(dm, "agent"));
	if (msj_get_u64(dm, "vsock_cid") != MS_UNKNOWN)
		printf(", vsock cid %s", txt_u64(dm, "vsock_cid"));
	if (msj_get_string(dm, "channel_path"))
		printf(", channel %s", msj_get_string(dm, "channel_path"));
	printf("\n  balloon   %s: current %s of max %s, min_guarantee %s\n",
	       !model ? "?" : model[0] ? model : "none", txt_bytes(b, "current_bytes"),
	       txt_bytes(b, "max_bytes"), txt_bytes(b, "min_guarantee_bytes"));
	if (st)
		printf("  stats     guest free %s, usable %s, total %s, rss %s\n",
		       txt_bytes(st, "guest_free_bytes"), txt_bytes(st, "guest_usable_bytes"),
		       txt_bytes(st, "guest_total_bytes"), txt_bytes(st, "rss_bytes"));
	for (size_t k = 0; w && k < json_object_array_length(w); k++) {
		json_object *x = json_object_array_get_idx(w, k);

		printf("  warning   %s\n", json_object_is_type(x, json_type_string)
		       ? json_object_get_string(x) : "?");
	}
}

static void print_domains(json_object *resp)
{
	json_object *doms = msj_get_array(resp, "domains"), *lv = msj_get_object(resp, "libvirt");

	if (!doms)
		return;
	if (msj_get_string(lv, "uri"))
		printf("libvirt %s: %s, reconnects %s\n", msj_get_string(lv, "uri"),
		       msj_get_bool(lv, "connected") == 1
			       ? "connected" : "DOWN (domains as last seen, policy paused)",
		       txt_u64(lv, "reconnects"));
	printf("libvirt domains: %zu\n", json_object_array_length(doms));
	for (size_t i = 0; i < json_object_array_length(doms); i++)
		print_domain(json_object_array_get_idx(doms, i));
}

static int cmd_status(const char *host)
{
	json_object *req = json_object_new_object(), *resp = NULL, *guests;
	size_t n;
	int r;

	json_object_object_add(req, "cmd", json_object_new_string("status"));
	r = host_call(host, req, &resp);
	json_object_put(req);
	if (r < 0)
		return r;
	r = host_error(resp);
	guests = msj_get_array(resp, "guests");
	if (r == 0 && !guests)
		r = malformed("no \"guests\" list in the status");
	if (r < 0) {
		json_object_put(resp);
		return r;
	}
	if (opt_json) {
		print_json(resp);
		json_object_put(resp);
		return 0;
	}
	n = json_object_array_length(guests);
	printf("memshare-hostd %s, up %s s, %zu guest%s\n", txt_str(resp, "version"),
	       txt_ms(resp, "uptime_ms", 1000.0), n, n == 1 ? "" : "s");
	print_host(resp);
	for (size_t i = 0; i < n; i++)
		print_guest(json_object_array_get_idx(guests, i));
	print_domains(resp);
	json_object_put(resp);
	return 0;
}

/* Why a reclaim ended with @status (0: nothing to say). */
static const char *reclaim_why(int64_t status)
{
	if (status == -ETIMEDOUT)
		return "the guest did not answer in time (or missed its deadline)";
	if (status == -EAGAIN)
		return "the guest's kernel found less to free than asked";
	if (status < 0 && status > -4096)
		return strerror((int)-status);
	return status ? "unknown error" : NULL;
}

static void print_reclaim(json_object *resp, json_object *res, int64_t status)
{
	json_object *methods = msj_get_array(res, "methods");
	const char *why = reclaim_why(status);

	printf("guest %s: freed %s bytes (%s: file %s, anon %s, slab %s) of %s asked, in %s ms "
	       "via %s%s%s\n",
	       txt_str(resp, "guest"), txt_u64(res, "freed_bytes"), txt_bytes(res, "freed_bytes"),
	       txt_bytes(res, "freed_file_bytes"), txt_bytes(res, "freed_anon_bytes"),
	       txt_bytes(res, "freed_slab_bytes"),
	       /* hostd's own figure; older hostds only relay the guest's */
	       msj_get_u64(resp, "asked_bytes") != MS_UNKNOWN ? txt_bytes(resp, "asked_bytes")
							       : txt_bytes(res, "requested_bytes"),
	       txt_ms(res, "duration_us", 1000.0),
	       !methods ? "?" : json_object_array_length(methods)
		       ? json_object_to_json_string_ext(methods, JSON_C_TO_STRING_PLAIN) : "nothing",
	       why ? "; " : "", why ? why : "");
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
	int64_t status;
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
	if (argc - optind != 2 || !kinds || ms_reclaim_kinds_parse(kinds) < 0)
		goto usage;
	r = cli_parse_bytes(argv[optind + 1], &bytes);
	if (r < 0) {
		fprintf(stderr, "memsharectl: reclaim: BYTES '%s': %s\n", argv[optind + 1],
			cli_bytes_error(r));
		goto usage;
	}
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
	res = msj_get_object(resp, "result");
	if (r == 0 && !res)
		r = malformed("no \"result\" object in the reclaim reply");
	else if (r == 0 && !msj_get_int64(res, "status", &status))
		r = malformed("no integer \"status\" in the reclaim result");
	if (r == 0) {
		if (opt_json)
			print_json(resp);
		else
			print_reclaim(resp, res, status);
		/* Less than asked (-EAGAIN) is an answer, not a failure. */
		if (status && status != -EAGAIN)
			r = status < 0 && status > -4096 ? (int)status : -EIO;
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
