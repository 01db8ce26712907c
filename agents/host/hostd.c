/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memshare-hostd: the reference host agent.  Accepts guest agents
 * (libmemshare's struct ms_host), keeps each guest's latest report and the
 * rates between its last two, and serves a JSON control socket for
 * memsharectl: "status" and "reclaim".
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <memshare/memshare.h>

#include "cli.h"
#include "control.h"
#include "msjson.h"

/* What hostd adds to each guest: rates and the last reclaim outcome. */
struct guest_extra {
	struct guest_extra *next;
	uint64_t guest_id;
	struct ms_sample prev, cur;
	int nr_samples;
	struct ms_rates rates;
	bool has_rates;
	json_object *last_reclaim;
};

struct pending_reclaim {
	struct pending_reclaim *next;
	uint64_t reclaim_id;
	uint64_t guest_id;
	uint64_t client_id;
	uint64_t sent_us;
};

struct hostd {
	struct ms_ctx *ctx;
	struct ms_host *host;
	struct control *ctl;
	struct guest_extra *extras;
	struct pending_reclaim *pending;
	uint64_t started_us;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct guest_extra *extra_get(struct hostd *d, uint64_t id, bool create)
{
	struct guest_extra *x;

	for (x = d->extras; x; x = x->next)
		if (x->guest_id == id)
			return x;
	if (!create || !(x = calloc(1, sizeof(*x))))
		return NULL;
	x->guest_id = id;
	x->next = d->extras;
	d->extras = x;
	return x;
}

static void extra_drop(struct hostd *d, uint64_t id)
{
	for (struct guest_extra **pp = &d->extras; *pp; pp = &(*pp)->next) {
		if ((*pp)->guest_id == id) {
			struct guest_extra *x = *pp;

			*pp = x->next;
			json_object_put(x->last_reclaim);
			free(x);
			return;
		}
	}
}

static void pending_remove(struct hostd *d, struct pending_reclaim *p)
{
	for (struct pending_reclaim **pp = &d->pending; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	free(p);
}

static void on_report(struct hostd *d, const struct ms_host_event *ev)
{
	struct guest_extra *x = extra_get(d, ev->guest_id, true);
	const struct ms_report *rep = ev->report;

	if (!x)
		return;
	x->prev = x->cur;
	x->cur.mono_us = rep->mono_us;
	x->cur.has_psi = rep->has_psi;
	x->cur.psi = rep->psi;
	x->cur.vmstat = rep->vmstat;
	if (x->nr_samples < 2)
		x->nr_samples++;
	x->has_rates = x->nr_samples == 2 && ms_rates_compute(&x->prev, &x->cur, &x->rates) == 0;
}

static void on_event(struct ms_host *host, const struct ms_host_event *ev, void *userdata)
{
	struct hostd *d = userdata;

	(void)host;
	switch (ev->type) {
	case MS_HOST_EVENT_GUEST_READY:
		fprintf(stderr, "memshare-hostd: guest %" PRIu64 " '%s' connected (agent %s)\n",
			ev->guest_id, ev->hello->guest_name, ev->hello->agent_version);
		extra_get(d, ev->guest_id, true);
		break;
	case MS_HOST_EVENT_REPORT:
		on_report(d, ev);
		break;
	case MS_HOST_EVENT_RECLAIM_REPLY: {
		struct guest_extra *x = extra_get(d, ev->guest_id, true);
		json_object *res = msj_reclaim_result(&ev->reply->result);

		if (x) {
			json_object_put(x->last_reclaim);
			x->last_reclaim = json_object_get(res);
		}
		for (struct pending_reclaim *p = d->pending; p; p = p->next) {
			if (p->reclaim_id == ev->reply->id && p->guest_id == ev->guest_id) {
				json_object *o = json_object_new_object();

				json_object_object_add(o, "ok", json_object_new_boolean(1));
				json_object_object_add(o, "guest",
						       json_object_new_string(ev->hello->guest_name));
				json_object_object_add(o, "request_id",
						       json_object_new_uint64(ev->reply->id));
				json_object_object_add(o, "round_trip_us",
						       json_object_new_uint64(now_us() - p->sent_us));
				json_object_object_add(o, "result", json_object_get(res));
				control_reply(d->ctl, p->client_id, o);
				pending_remove(d, p);
				break;
			}
		}
		json_object_put(res);
		break;
	}
	case MS_HOST_EVENT_GUEST_ERROR:
		break;
	case MS_HOST_EVENT_GUEST_GONE:
		fprintf(stderr, "memshare-hostd: guest %" PRIu64 " '%s' gone: %s\n", ev->guest_id,
			ev->hello->guest_name, ev->reason);
		for (struct pending_reclaim *p = d->pending, *next; p; p = next) {
			next = p->next;
			if (p->guest_id == ev->guest_id) {
				control_reply_error(d->ctl, p->client_id, ECONNRESET,
						    "guest '%s' went away before answering: %s",
						    ev->hello->guest_name, ev->reason);
				pending_remove(d, p);
			}
		}
		extra_drop(d, ev->guest_id);
		break;
	}
}

static json_object *guest_status(struct hostd *d, uint64_t id)
{
	const struct ms_report *rep = ms_host_guest_report(d->host, id);
	struct guest_extra *x = extra_get(d, id, false);
	struct ms_guest_info gi;
	uint64_t now = now_us();
	json_object *o;

	if (ms_host_guest_info(d->host, id, &gi) < 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_uint64(gi.guest_id));
	json_object_object_add(o, "name", json_object_new_string(gi.hello.guest_name));
	json_object_object_add(o, "peer", json_object_new_string(gi.peer));
	json_object_object_add(o, "agent_version", json_object_new_string(gi.hello.agent_version));
	json_object_object_add(o, "boot_id", json_object_new_string(gi.hello.boot_id));
	json_object_object_add(o, "capabilities", msj_capabilities(gi.hello.capabilities));
	json_object_object_add(o, "mem_total_bytes", msj_u64(gi.hello.mem_total_bytes));
	json_object_object_add(o, "connected_ms",
			       json_object_new_uint64((now - gi.connected_mono_us) / 1000u));
	json_object_object_add(o, "reports", json_object_new_uint64(gi.reports));
	json_object_object_add(o, "last_report_age_ms",
			       gi.last_report_mono_us ? json_object_new_uint64(
				       (now - gi.last_report_mono_us) / 1000u) : NULL);
	json_object_object_add(o, "reclaim_pending", json_object_new_boolean(gi.reclaim_pending));
	json_object_object_add(o, "report", rep ? msj_report(rep) : NULL);
	json_object_object_add(o, "rates", x && x->has_rates ? msj_rates(&x->rates) : NULL);
	json_object_object_add(o, "last_reclaim", x && x->last_reclaim ?
			       json_object_get(x->last_reclaim) : NULL);
	return o;
}

static void cmd_status(struct hostd *d, uint64_t client)
{
	json_object *o = json_object_new_object(), *guests = json_object_new_array();
	size_t n = ms_host_list_guests(d->host, NULL, 0);
	uint64_t *ids = calloc(n ? n : 1, sizeof(*ids));

	if (!ids) {
		json_object_put(o);
		json_object_put(guests);
		control_reply_error(d->ctl, client, ENOMEM, "out of memory");
		return;
	}
	n = ms_host_list_guests(d->host, ids, n);
	for (size_t i = 0; i < n; i++) {
		json_object *g = guest_status(d, ids[i]);

		if (g)
			json_object_array_add(guests, g);
	}
	free(ids);
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "version", json_object_new_string(ms_version()));
	json_object_object_add(o, "uptime_ms",
			       json_object_new_uint64((now_us() - d->started_us) / 1000u));
	json_object_object_add(o, "guests", guests);
	control_reply(d->ctl, client, o);
}

/* "name" or "#id" */
static uint64_t lookup_guest(struct hostd *d, const char *sel)
{
	if (sel[0] == '#') {
		uint32_t id;

		return cli_parse_u32(sel + 1, &id) == 0 ? id : 0;
	}
	return ms_host_find_guest(d->host, sel);
}

static void cmd_reclaim(struct hostd *d, uint64_t client, json_object *req)
{
	struct ms_reclaim_request rr = { 0 };
	const char *sel = msj_get_string(req, "guest");
	const char *kinds = msj_get_string(req, "kinds");
	uint64_t bytes = msj_get_u64(req, "bytes"), deadline = msj_get_u64(req, "deadline_ms");
	struct pending_reclaim *p;
	uint64_t gid, rid;
	int k, r;

	if (!sel || !kinds) {
		control_reply_error(d->ctl, client, EINVAL, "reclaim needs \"guest\" and \"kinds\"");
		return;
	}
	k = ms_reclaim_kinds_parse(kinds);
	if (k < 0) {
		control_reply_error(d->ctl, client, EINVAL,
				    "bad kinds '%s' (file, anon, slab, comma-separated)", kinds);
		return;
	}
	gid = lookup_guest(d, sel);
	if (!gid) {
		control_reply_error(d->ctl, client, ENOENT, "no connected guest '%s'", sel);
		return;
	}
	rr.bytes = bytes == MS_UNKNOWN ? 0 : bytes;
	rr.kinds = (uint32_t)k;
	rr.deadline_ms = deadline == MS_UNKNOWN || deadline > UINT32_MAX ? 0 : (uint32_t)deadline;
	r = ms_host_reclaim(d->host, gid, &rr, &rid);
	if (r < 0) {
		control_reply_error(d->ctl, client, -r, "reclaim on '%s': %s%s", sel, strerror(-r),
				    r == -EBUSY ? " (a request is already pending)" :
				    r == -EINVAL ? " (file/anon need bytes > 0)" : "");
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		control_reply_error(d->ctl, client, ENOMEM, "out of memory");
		return;
	}
	p->reclaim_id = rid;
	p->guest_id = gid;
	p->client_id = client;
	p->sent_us = now_us();
	p->next = d->pending;
	d->pending = p;
}

static void on_control(struct control *ctl, uint64_t client, json_object *req, void *userdata)
{
	struct hostd *d = userdata;
	const char *cmd = msj_get_string(req, "cmd");

	if (!cmd)
		control_reply_error(ctl, client, EINVAL, "request without \"cmd\"");
	else if (strcmp(cmd, "status") == 0)
		cmd_status(d, client);
	else if (strcmp(cmd, "reclaim") == 0)
		cmd_reclaim(d, client, req);
	else
		control_reply_error(ctl, client, EOPNOTSUPP,
				    "unknown command '%s' (status, reclaim)", cmd);
}

static int poll_timeout_ms(struct hostd *d)
{
	int64_t t = ms_host_get_timeout_us(d->host);

	return t < 0 ? -1 : (int)((t + 999) / 1000);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memshare-hostd --listen ENDPOINT --control unix:PATH [OPTIONS]\n"
		"\n"
		"Accept memshare guest agents, keep their latest reports, and serve the\n"
		"control socket that memsharectl talks to.\n"
		"\n"
		"  -l, --listen ENDPOINT      where guests connect: unix:/path or vsock:-1:PORT\n"
		"                             (repeatable)\n"
		"  -c, --control unix:PATH    control socket for memsharectl (mode 0600)\n"
		"  -i, --report-interval-ms N report interval asked of guests (default: theirs)\n"
		"  -b, --bins MS,MS,...       LRU age bin edges asked of guests\n"
		"  -R, --record FILE          record all guest traffic (memshare-sim replays it)\n"
		"  -v, --verbose              more logging (repeat for debug)\n"
		"  -h, --help                 this help\n"
		"  -V, --version              print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "control", required_argument, NULL, 'c' },
		{ "report-interval-ms", required_argument, NULL, 'i' },
		{ "bins", required_argument, NULL, 'b' },
		{ "record", required_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	const char *listens[8], *control = NULL, *record = NULL;
	uint64_t edges[MS_LRU_MAX_BINS - 1];
	int nr_listens = 0, nr_edges = 0, verbose = 0, c, r, sfd;
	uint32_t interval = 0;
	struct hostd d = { 0 };

	while ((c = getopt_long(argc, argv, "l:c:i:b:R:vhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'R':
			record = optarg;
			break;
		case 'l':
			if (nr_listens == 8) {
				fprintf(stderr, "memshare-hostd: at most 8 --listen\n");
				return 2;
			}
			listens[nr_listens++] = optarg;
			break;
		case 'c':
			control = optarg;
			break;
		case 'i':
			if (cli_parse_u32(optarg, &interval) < 0 || interval < 10) {
				fprintf(stderr, "memshare-hostd: --report-interval-ms wants a number "
					">= 10, got '%s'\n", optarg);
				return 2;
			}
			break;
		case 'b':
			nr_edges = cli_parse_edges(optarg, edges, MS_LRU_MAX_BINS - 1);
			if (nr_edges < 0) {
				fprintf(stderr, "memshare-hostd: --bins wants up to %d ascending "
					"non-zero ms values, e.g. 5000,30000,120000\n",
					MS_LRU_MAX_BINS - 1);
				return 2;
			}
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("memshare-hostd %s\n", ms_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || !nr_listens || !control) {
		usage(stderr);
		return 2;
	}

	MS_OPTS(ms_ctx_opts, copts, .log_fn = cli_log_stderr,
		.log_userdata = (void *)"memshare-hostd", .log_level = cli_log_level(verbose));
	r = ms_ctx_new(&d.ctx, &copts);
	if (r < 0) {
		fprintf(stderr, "memshare-hostd: %s\n", strerror(-r));
		return 1;
	}
	MS_OPTS(ms_host_opts, hopts, .ctx = d.ctx, .report_interval_ms = interval,
		.bin_edges_ms = nr_edges ? edges : NULL, .nr_bin_edges = (size_t)nr_edges,
		.record_path = record, .event_fn = on_event, .userdata = &d);
	r = ms_host_new(&d.host, &hopts);
	for (int i = 0; r == 0 && i < nr_listens; i++)
		r = ms_host_listen(d.host, listens[i]);
	if (r < 0) {
		fprintf(stderr, "memshare-hostd: cannot listen: %s\n", strerror(-r));
		goto out;
	}
	r = control_new(&d.ctl, control, on_control, &d);
	if (r < 0) {
		fprintf(stderr, "memshare-hostd: control socket %s: %s\n", control, strerror(-r));
		goto out;
	}
	sfd = cli_signalfd();
	if (sfd < 0) {
		r = sfd;
		goto out;
	}
	d.started_us = now_us();
	fprintf(stderr, "memshare-hostd %s: guests on %s, control on %s\n", ms_version(),
		listens[0], control);

	for (;;) {
		struct pollfd pfd[3] = {
			{ .fd = ms_host_get_fd(d.host), .events = POLLIN },
			{ .fd = control_get_fd(d.ctl), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};

		if (poll(pfd, 3, poll_timeout_ms(&d)) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				fprintf(stderr, "memshare-hostd: signal %u, stopping\n", si.ssi_signo);
				r = 0;
				break;
			}
		}
		r = ms_host_process(d.host);
		if (r < 0)
			break;
		r = control_process(d.ctl);
		if (r < 0)
			break;
	}
	close(sfd);
out:
	while (d.pending) {
		struct pending_reclaim *p = d.pending;

		d.pending = p->next;
		free(p);
	}
	while (d.extras)
		extra_drop(&d, d.extras->guest_id);
	ms_host_free(d.host);   /* says Goodbye to every guest */
	control_free(d.ctl);
	ms_ctx_free(d.ctx);
	return r < 0 ? 1 : 0;
}
