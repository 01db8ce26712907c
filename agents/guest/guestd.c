/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memshare-guestd: the reference guest agent.  Connects to the host agent,
 * reports this machine's memory pressure and LRU ages every interval and
 * executes the host's reclaim requests.  All the work is libmemshare's
 * struct ms_guest; this file is the event loop and the command line.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <memshare/memshare.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memshare-guestd --connect ENDPOINT|--listen ENDPOINT [OPTIONS]\n"
		"\n"
		"Report this machine's memory pressure and LRU ages to memshare-hostd and\n"
		"execute its reclaim requests.\n"
		"\n"
		"  -c, --connect ENDPOINT   host agent: vsock:2:PORT, serial:/dev/virtio-ports/NAME\n"
		"                           or unix:/path\n"
		"  -l, --listen ENDPOINT    wait for the host instead: vsock:-1:PORT (hybrid vsock\n"
		"                           of Firecracker / Cloud Hypervisor) or unix:/path\n"
		"      --host-cid CID       listening on vsock: the host's CID (default 2)\n"
		"      --host-uid UID|any   unix: the host agent's uid (default: our own uid)\n"
		"      --reclaim-floor BYTES  never reclaim page cache below this (e.g. 256M)\n"
		"  -n, --name NAME          guest name in Hello (default: hostname)\n"
		"  -i, --interval-ms N      report interval in ms unless the host sets one\n"
		"                           (default 1000)\n"
		"  -r, --sysroot DIR        read /proc and /sys under DIR (default /)\n"
		"  -m, --memcg PATH         cgroup v2 path memory.reclaim targets (default: root)\n"
		"  -s, --lru-source SRC     auto, mglru or classic (default auto)\n"
		"  -a, --mglru-aging-ms N   MGLRU aging pass every N ms (default 40000; 0: off)\n"
		"      --once               build one report, print nothing, exit (self-test)\n"
		"  -v, --verbose            more logging (repeat for debug)\n"
		"  -h, --help               this help\n"
		"  -V, --version            print the version\n");
}

static void on_event(struct ms_guest *g, const struct ms_guest_event *ev, void *userdata)
{
	(void)g;
	(void)userdata;
	if (ev->type == MS_GUEST_EVENT_RECLAIM_DONE) {
		char capped[64] = "";

		/* (the capped bytes only when there are some: "in 123 us", not "us0") */
		if (ev->reply->result.capped_bytes)
			snprintf(capped, sizeof(capped), " (request capped by %llu bytes: reclaim floor)",
				 (unsigned long long)ev->reply->result.capped_bytes);
		fprintf(stderr, "memshare-guestd: reclaim %llu: %s, freed %llu bytes "
			"(file %llu, anon %llu, slab %llu) in %llu us%s\n",
			(unsigned long long)ev->reply->id,
			ev->reply->result.status ? strerror(-ev->reply->result.status) : "ok",
			(unsigned long long)ev->reply->result.freed_bytes,
			(unsigned long long)ev->reply->result.freed_file_bytes,
			(unsigned long long)ev->reply->result.freed_anon_bytes,
			(unsigned long long)ev->reply->result.freed_slab_bytes,
			(unsigned long long)ev->reply->result.duration_us, capped);
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "host-cid", required_argument, NULL, 'C' },
		{ "host-uid", required_argument, NULL, 'U' },
		{ "reclaim-floor", required_argument, NULL, 'F' },
		{ "name", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "sysroot", required_argument, NULL, 'r' },
		{ "memcg", required_argument, NULL, 'm' },
		{ "lru-source", required_argument, NULL, 's' },
		{ "mglru-aging-ms", required_argument, NULL, 'a' },
		{ "once", no_argument, NULL, 'O' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *connect = NULL, *listen = NULL, *name = NULL, *sysroot = NULL, *memcg = NULL;
	enum ms_lru_source source = MS_LRU_SOURCE_AUTO;
	enum ms_unix_peer host_peer = MS_UNIX_PEER_SAME_UID;
	uint32_t interval_ms = 0, aging_ms = 0, host_cid = 0, host_uid = 0;
	uint64_t floor_bytes = 0;
	bool once = false;
	int verbose = 0, c, r, sfd;
	struct ms_guest *guest = NULL;
	struct ms_ctx *ctx = NULL;

	while ((c = getopt_long(argc, argv, "c:l:n:i:r:m:s:a:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (cli_parse_u32(optarg, &aging_ms) < 0 ||
			    (aging_ms && aging_ms < 1000)) {
				fprintf(stderr, "memshare-guestd: --mglru-aging-ms wants 0 (off) or "
					"a number >= 1000, got '%s'\n", optarg);
				return 2;
			}
			if (aging_ms == 0)
				aging_ms = MS_GUEST_NO_AGING;
			break;
		case 'c':
			connect = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'C':
			if (cli_parse_u32(optarg, &host_cid) < 0 || host_cid == 0 ||
			    host_cid == UINT32_MAX) {
				fprintf(stderr, "memshare-guestd: --host-cid wants a CID (1, 2, ...), "
					"got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'U':
			if (strcmp(optarg, "any") == 0) {
				host_peer = MS_UNIX_PEER_ANY;
			} else if (cli_parse_u32(optarg, &host_uid) == 0) {
				host_peer = MS_UNIX_PEER_UID;
			} else {
				fprintf(stderr, "memshare-guestd: --host-uid wants a uid or 'any', "
					"got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'F':
			if (cli_parse_bytes(optarg, &floor_bytes) < 0) {
				fprintf(stderr, "memshare-guestd: --reclaim-floor wants a size such as "
					"268435456 or 256M, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			name = optarg;
			break;
		case 'i':
			if (cli_parse_u32(optarg, &interval_ms) < 0 || interval_ms < MS_REPORT_INTERVAL_MIN_MS) {
				fprintf(stderr, "memshare-guestd: --interval-ms wants a number >= 10, "
					"got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'r':
			sysroot = optarg;
			break;
		case 'm':
			memcg = optarg;
			break;
		case 's':
			if (strcmp(optarg, "auto") == 0)
				source = MS_LRU_SOURCE_AUTO;
			else if (strcmp(optarg, "mglru") == 0)
				source = MS_LRU_SOURCE_MGLRU;
			else if (strcmp(optarg, "classic") == 0)
				source = MS_LRU_SOURCE_CLASSIC;
			else {
				fprintf(stderr, "memshare-guestd: --lru-source: auto, mglru or classic\n");
				return 2;
			}
			break;
		case 'O':
			once = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("memshare-guestd %s\n", ms_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (!connect && !listen && !once) || (connect && listen)) {
		usage(stderr);
		return 2;
	}
	if (connect && strncmp(connect, "unix:", 5) && strncmp(connect, "vsock:", 6) &&
	    strncmp(connect, "serial:", 7)) {
		fprintf(stderr, "memshare-guestd: --connect %s: want vsock:2:PORT (the host of "
			"a VM), serial:/dev/virtio-ports/NAME, unix:/path or unix:@name\n", connect);
		return 2;
	}
	if (listen && strncmp(listen, "unix:", 5) && strncmp(listen, "vsock:", 6)) {
		fprintf(stderr, "memshare-guestd: --listen %s: want vsock:-1:PORT or "
			"unix:/path\n", listen);
		return 2;
	}
	if (memcg && strstr(memcg, "..")) {
		fprintf(stderr, "memshare-guestd: --memcg %s: a cgroup path below "
			"/sys/fs/cgroup, without '..'\n", memcg);
		return 2;
	}

	MS_OPTS(ms_ctx_opts, copts, .sysroot = sysroot, .log_fn = cli_log_stderr,
		.log_userdata = (void *)"memshare-guestd", .log_level = cli_log_level(verbose));
	r = ms_ctx_new(&ctx, &copts);
	if (r < 0) {
		fprintf(stderr, "memshare-guestd: sysroot %s: %s\n", sysroot ? sysroot : "/",
			strerror(-r));
		return 1;
	}
	if (once) {
		MS_OPTS(ms_lru_opts, lo, .source = source);
		struct ms_report rep;

		r = ms_guest_build_report(ctx, &lo, &rep);
		if (r == 0)
			ms_report_clear(&rep);
		ms_ctx_free(ctx);
		return r < 0 ? 1 : 0;
	}

	if (memcg) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/sys/fs/cgroup/%s/memory.reclaim",
			 sysroot ? sysroot : "", memcg);
		if (access(path, F_OK) < 0)
			fprintf(stderr, "memshare-guestd: warning: %s: %s; reclaim requests will fail "
				"until it exists\n", path, strerror(errno));
	}

	MS_OPTS(ms_guest_opts, gopts, .ctx = ctx, .connect = connect, .listen = listen,
		.name = name, .report_interval_ms = interval_ms, .lru_source = source,
		.reclaim_memcg = memcg, .mglru_aging_ms = aging_ms, .event_fn = on_event,
		.host_cid = host_cid, .host_unix_peer = host_peer, .host_unix_uid = host_uid,
		.reclaim_floor_bytes = floor_bytes);
	/* Signals first: a SIGTERM while the socket is being made waits for a
	 * clean stop. */
	sfd = cli_signalfd();
	if (sfd < 0) {
		fprintf(stderr, "memshare-guestd: signalfd: %s\n", strerror(-sfd));
		ms_ctx_free(ctx);
		return 1;
	}
	r = ms_guest_new(&guest, &gopts);
	if (r < 0) {
		/* -EINVAL: an option the library refused (its log says which). */
		fprintf(stderr, "memshare-guestd: %s\n", strerror(-r));
		close(sfd);
		ms_ctx_free(ctx);
		return r == -EINVAL ? 2 : 1;
	}
	fprintf(stderr, "memshare-guestd %s: %s %s\n", ms_version(),
		connect ? "connecting to" : "listening on", connect ? connect : listen);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = ms_guest_get_fd(guest), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		int64_t t = ms_guest_get_timeout_us(guest);
		int timeout = t < 0 ? -1 : (int)((t + 999) / 1000);

		if (poll(pfd, 2, timeout) < 0 && errno != EINTR) {
			perror("memshare-guestd: poll");
			break;
		}
		if (pfd[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				fprintf(stderr, "memshare-guestd: signal %u, stopping\n", si.ssi_signo);
				break;
			}
		}
		r = ms_guest_process(guest);
		if (r < 0) {
			fprintf(stderr, "memshare-guestd: %s\n", strerror(-r));
			break;
		}
	}
	ms_guest_free(guest);   /* says Goodbye */
	ms_ctx_free(ctx);
	close(sfd);
	return r < 0 ? 1 : 0;
}
