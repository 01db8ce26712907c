/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memshare-hostd: the reference host agent.  Accepts guest agents
 * (libmemshare's struct ms_host), keeps each guest's latest report and the
 * rates between its last two, runs a balancing policy every interval (and
 * when the host's PSI trigger fires), acts through guest reclaim requests
 * and libvirt's balloon, and serves a JSON control socket for memsharectl.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "hostd.h"
#include "msjson.h"

#if MS_HAVE_LIBVIRT
#include <libvirt/virterror.h>
#endif

/* After a PSI trigger, run a round at once unless one ran this recently. */
#define TRIGGER_MIN_GAP_MS 1000
/* The longest reclaim deadline the control socket takes, ms. */
#define CONTROL_DEADLINE_MAX_MS 3600000u

uint64_t hostd_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct guest_extra *hostd_extra(struct hostd *d, uint64_t id, bool create)
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
			json_object_put(x->last_error);
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

/* Run the policy now rather than at the next interval (at most once per
 * TRIGGER_MIN_GAP_MS): someone is stalling. */
static void round_soon(struct hostd *d)
{
	uint64_t now = hostd_now_us() / 1000u;

	if (now - d->last_round_ms >= TRIGGER_MIN_GAP_MS)
		d->next_round_ms = now;
	else if (d->next_round_ms > d->last_round_ms + TRIGGER_MIN_GAP_MS)
		d->next_round_ms = d->last_round_ms + TRIGGER_MIN_GAP_MS;
}

static void on_report(struct hostd *d, const struct ms_host_event *ev)
{
	struct guest_extra *x = hostd_extra(d, ev->guest_id, true);
	const struct ms_report *rep = ev->report;

	if (!x)
		return;
	if (rep->reason == MS_REPORT_PSI_TRIGGER) {
		/* The guest stalls past its trigger: back it off now. */
		x->psi_trigger_reports++;
		ms_ctx_log(d->ctx, MS_LOG_INFO, "guest %" PRIu64 " '%s': PSI trigger fired "
			   "(some avg10 %.2f%%): policy round now", ev->guest_id,
			   ev->hello->guest_name, rep->has_psi ? rep->psi.some.avg10 : 0.0);
		round_soon(d);
	}
	x->prev = x->cur;
	x->cur.mono_us = rep->mono_us;
	x->cur.has_psi = rep->has_psi;
	x->cur.psi = rep->psi;
	x->cur.vmstat = rep->vmstat;
	if (x->nr_samples < 2)
		x->nr_samples++;
	x->has_rates = x->nr_samples == 2 && ms_rates_compute(&x->prev, &x->cur, &x->rates) == 0;
}

static void on_reply(struct hostd *d, const struct ms_host_event *ev)
{
	struct guest_extra *x = hostd_extra(d, ev->guest_id, true);
	json_object *res = msj_reclaim_result(&ev->reply->result);

	if (x) {
		json_object_put(x->last_reclaim);
		x->last_reclaim = json_object_get(res);
	}
	if (!balancer_on_reply(d, ev->guest_id, ev->reply)) {
		for (struct pending_reclaim *p = d->pending; p; p = p->next) {
			json_object *o;

			if (p->reclaim_id != ev->reply->id || p->guest_id != ev->guest_id)
				continue;
			o = json_object_new_object();
			json_object_object_add(o, "ok", json_object_new_boolean(1));
			json_object_object_add(o, "guest", json_object_new_string(ev->hello->guest_name));
			json_object_object_add(o, "request_id", json_object_new_uint64(ev->reply->id));
			json_object_object_add(o, "round_trip_us",
					       json_object_new_uint64(hostd_now_us() - p->sent_us));
			/* Ours: result.requested_bytes is only the guest's word. */
			json_object_object_add(o, "asked_bytes", json_object_new_uint64(p->asked_bytes));
			json_object_object_add(o, "result", json_object_get(res));
			control_reply(d->ctl, p->client_id, o);
			pending_remove(d, p);
			break;
		}
	}
	json_object_put(res);
}

/*
 * The arrival and departure lines, at most 10 a second (bursts of 20): a
 * peer that connects and drops in a loop must not fill the log.  What was
 * left out is counted in the next line that goes out.
 */
static bool peer_line_ok(struct hostd *d)
{
	uint64_t now = hostd_now_us();

	d->peer_log_tokens += (double)(now - d->peer_log_us) * 10.0 / 1e6;
	if (d->peer_log_tokens > 20.0)
		d->peer_log_tokens = 20.0;
	d->peer_log_us = now;
	if (d->peer_log_tokens < 1.0) {
		d->peer_log_dropped++;
		return false;
	}
	d->peer_log_tokens -= 1.0;
	if (d->peer_log_dropped) {
		fprintf(stderr, "memshare-hostd: (%" PRIu64 " arrival/departure lines left out)\n",
			d->peer_log_dropped);
		d->peer_log_dropped = 0;
	}
	return true;
}

static void on_event(struct ms_host *host, const struct ms_host_event *ev, void *userdata)
{
	struct hostd *d = userdata;

	(void)host;
	switch (ev->type) {
	case MS_HOST_EVENT_GUEST_READY:
		if (peer_line_ok(d))
			fprintf(stderr, "memshare-hostd: guest %" PRIu64 " '%s' connected (agent %s)\n",
				ev->guest_id, ev->hello->guest_name, ev->hello->agent_version);
		hostd_extra(d, ev->guest_id, true);
		break;
	case MS_HOST_EVENT_REPORT:
		on_report(d, ev);
		break;
	case MS_HOST_EVENT_RECLAIM_REPLY:
		on_reply(d, ev);
		break;
	case MS_HOST_EVENT_GUEST_ERROR: {
		/* What the guest could not do (a PSI trigger it cannot arm, a
		 * message it does not know): shown in status. */
		struct guest_extra *x = hostd_extra(d, ev->guest_id, true);
		json_object *e = json_object_new_object();

		json_object_object_add(e, "code", json_object_new_int(ev->error->code));
		json_object_object_add(e, "message", json_object_new_string(ev->error->message));
		if (x) {
			json_object_put(x->last_error);
			x->last_error = e;
			x->errors++;
		} else {
			json_object_put(e);
		}
		break;
	}
	case MS_HOST_EVENT_GUEST_GONE:
		if (peer_line_ok(d))
			fprintf(stderr, "memshare-hostd: guest %" PRIu64 " '%s' gone: %s\n",
				ev->guest_id, ev->hello->guest_name, ev->reason);
		for (struct pending_reclaim *p = d->pending, *next; p; p = next) {
			next = p->next;
			if (p->guest_id == ev->guest_id) {
				control_reply_error(d->ctl, p->client_id, ECONNRESET,
						    "guest '%s' went away before answering: %s",
						    ev->hello->guest_name, ev->reason);
				pending_remove(d, p);
			}
		}
		balancer_on_gone(d, ev->guest_id);
		extra_drop(d, ev->guest_id);
		break;
	}
}

/* "name" or "#id": the guest's id, 0 if none, or -1 if the name is taken
 * by several guests (a name is only the guest's own claim). */
static int64_t lookup_guest(struct hostd *d, const char *sel)
{
	size_t n = ms_host_list_guests(d->host, NULL, 0), matches = 0;
	uint64_t *ids, found = 0;

	if (sel[0] == '#') {
		struct ms_guest_info gi;
		uint32_t id;

		return cli_parse_u32(sel + 1, &id) == 0 && ms_host_guest_info(d->host, id, &gi) == 0
			? (int64_t)id : 0;
	}
	ids = calloc(n ? n : 1, sizeof(*ids));
	n = ids ? ms_host_list_guests(d->host, ids, n) : 0;
	for (size_t i = 0; i < n; i++) {
		struct ms_guest_info gi;

		if (ms_host_guest_info(d->host, ids[i], &gi) == 0 &&
		    strcmp(gi.hello.guest_name, sel) == 0) {
			found = ids[i];
			matches++;
		}
	}
	free(ids);
	return matches > 1 ? -1 : (int64_t)found;
}

/* A non-negative integer field: 0 and *out, 1 if absent, -1 if bad. */
static int get_count(json_object *req, const char *key, uint64_t max, uint64_t *out)
{
	json_object *v;
	int64_t i;
	uint64_t u;

	if (!json_object_object_get_ex(req, key, &v) || !v)
		return 1;
	if (!json_object_is_type(v, json_type_int))
		return -1;
	i = json_object_get_int64(v);
	if (i < 0)
		return -1;
	/* json-c keeps values above INT64_MAX as uint64, and clamps what does
	 * not fit even that to UINT64_MAX (2^64 reads as 2^64 - 1): refuse it. */
	u = json_object_get_uint64(v);
	if (u == UINT64_MAX || u > max)
		return -1;
	*out = u;
	return 0;
}

static void cmd_reclaim(struct hostd *d, uint64_t client, json_object *req)
{
	struct ms_reclaim_request rr = { 0 };
	const char *sel = msj_get_string(req, "guest");
	const char *kinds = msj_get_string(req, "kinds");
	uint64_t bytes = 0, deadline = 0, rid, sent_us;
	struct pending_reclaim *p;
	int64_t gid;
	int k, r;

	if (!sel || !kinds) {
		control_reply_error(d->ctl, client, EINVAL, "reclaim needs \"guest\" and \"kinds\"");
		return;
	}
	if (get_count(req, "bytes", UINT64_MAX - 1, &bytes) < 0 ||
	    get_count(req, "deadline_ms", CONTROL_DEADLINE_MAX_MS, &deadline) < 0) {
		control_reply_error(d->ctl, client, EINVAL, "\"bytes\" must be an integer in "
				    "0..2^64-2 and \"deadline_ms\" one in 0..%u (an hour): a request "
				    "pending longer would block the guest's next ones",
				    CONTROL_DEADLINE_MAX_MS);
		return;
	}
	k = ms_reclaim_kinds_parse(kinds);
	if (k < 0) {
		control_reply_error(d->ctl, client, EINVAL,
				    "bad kinds '%s' (file, anon, slab, comma-separated)", kinds);
		return;
	}
	gid = lookup_guest(d, sel);
	if (gid == 0) {
		control_reply_error(d->ctl, client, ENOENT, "no connected guest '%s'", sel);
		return;
	}
	if (gid < 0) {
		control_reply_error(d->ctl, client, EEXIST, "several guests are named '%s': "
				    "use #ID from status", sel);
		return;
	}
	rr.bytes = bytes;
	rr.kinds = (uint32_t)k;
	rr.deadline_ms = (uint32_t)deadline;
	/* The clock starts before the send: the guest may be answering
	 * before this process runs again (seen in the QEMU tests). */
	sent_us = hostd_now_us();
	r = ms_host_reclaim(d->host, (uint64_t)gid, &rr, &rid);
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
	p->guest_id = (uint64_t)gid;
	p->client_id = client;
	p->sent_us = sent_us;
	p->asked_bytes = rr.bytes;
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
		control_reply(ctl, client, status_json(d));
	else if (strcmp(cmd, "reclaim") == 0)
		cmd_reclaim(d, client, req);
	else
		control_reply_error(ctl, client, EOPNOTSUPP,
				    "unknown command '%s' (status, reclaim)", cmd);
}

/* ---- loop callbacks -------------------------------------------------------- */

static void on_host_fd(int fd, void *data)
{
	struct hostd *d = data;
	int r;

	(void)fd;
	r = ms_host_process(d->host);
	if (r < 0) {
		fprintf(stderr, "memshare-hostd: %s\n", strerror(-r));
		d->stop_signal = -1;
	}
}

static void on_control_fd(int fd, void *data)
{
	struct hostd *d = data;

	(void)fd;
	if (control_process(d->ctl) < 0)
		d->stop_signal = -1;
}

static void on_signal_fd(int fd, void *data)
{
	struct hostd *d = data;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) == sizeof(si))
		d->stop_signal = (int)si.ssi_signo;
}

static void on_pressure_fd(int fd, void *data)
{
	struct hostd *d = data;

	(void)fd;
	pressure_ack(&d->pressure);
	ms_ctx_log(d->ctx, MS_LOG_INFO, "host memory pressure (PSI trigger): policy round now");
	round_soon(d);
}

/* ---- command line ------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: memshare-hostd [--config FILE] --listen ENDPOINT --control unix:PATH [OPTIONS]\n"
		"\n"
		"Accept memshare guest agents, balance memory between them and the host,\n"
		"and serve the control socket that memsharectl talks to.\n"
		"\n"
		"  -f, --config FILE          INI configuration (see memshare-hostd(8));\n"
		"                             the options below override it\n"
		"  -l, --listen ENDPOINT      where guests connect: vsock:-1:PORT, unix:/path or\n"
		"                             hvsock:/path/vm.vsock:PORT (repeatable)\n"
		"  -C, --connect ENDPOINT     a guest hostd reaches itself: serial:/path (QEMU\n"
		"                             chardev socket of a virtio-serial port),\n"
		"                             hvsock:/path/vm.vsock:PORT, or unix:/path or\n"
		"                             vsock:CID:PORT of a listening agent (repeatable)\n"
		"  -c, --control unix:PATH    control socket for memsharectl (mode 0600)\n"
		"  -i, --report-interval-ms N report interval asked of guests (default: theirs)\n"
		"  -b, --bins MS,MS,...       LRU age bin edges asked of guests\n"
		"  -k, --keepalive-ms N       ping a silent guest after N ms (default 15000)\n"
		"  -t, --guest-psi-trigger 'some|full STALL_US WINDOW_US'\n"
		"                             guests also report when this trigger fires\n"
		"  -u, --guest-uid UID|same|any  unix guests allowed (default: same uid)\n"
		"  -R, --record FILE          record all guest traffic (memshare-sim replays it)\n"
		"  -p, --policy NAME          memshare (default), mom, balance-available, static\n"
		"  -s, --set KEY=VALUE        set a policy parameter (docs/policy.md)\n"
		"  -n, --dry-run              decide and log, but do not act\n"
		"  -L, --libvirt[=URI]        act through libvirt (default URI: libvirt's)\n"
		"  -v, --verbose              more logging (repeat for debug)\n"
		"  -h, --help                 this help\n"
		"  -V, --version              print the version\n");
}

static const struct option longopts[] = {
	{ "config", required_argument, NULL, 'f' },
	{ "listen", required_argument, NULL, 'l' },
	{ "connect", required_argument, NULL, 'C' },
	{ "keepalive-ms", required_argument, NULL, 'k' },
	{ "guest-psi-trigger", required_argument, NULL, 't' },
	{ "guest-uid", required_argument, NULL, 'u' },
	{ "control", required_argument, NULL, 'c' },
	{ "report-interval-ms", required_argument, NULL, 'i' },
	{ "bins", required_argument, NULL, 'b' },
	{ "record", required_argument, NULL, 'R' },
	{ "policy", required_argument, NULL, 'p' },
	{ "set", required_argument, NULL, 's' },
	{ "dry-run", no_argument, NULL, 'n' },
	{ "libvirt", optional_argument, NULL, 'L' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};
#define SHORTOPTS "f:l:C:k:t:u:c:i:b:R:p:s:nL::vhV"

/* 0 to go on, 1 to exit 0 (help/version), 2 to exit 2 (usage). */
static int parse_args(struct hostd_conf *c, int argc, char **argv)
{
	const char *config = NULL;
	bool cli_listen = false, cli_connect = false;
	int o, r;

	/* The config file first, so that options override it. */
	opterr = 0;
	while ((o = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) != -1)
		if (o == 'f')
			config = optarg;
	if (config) {
		int line = 0;

		r = conf_load(c, config, &line);
		if (r == -EINVAL)
			return 2;
		if (r < 0) {
			fprintf(stderr, "memshare-hostd: config %s: %s\n", config,
				r == -EISDIR ? "a directory, not a file" : strerror(-r));
			return 2;
		}
	}
	optind = 0;
	opterr = 1;
	while ((o = getopt_long(argc, argv, SHORTOPTS, longopts, NULL)) != -1) {
		const char *key = NULL, *section = "host";
		char *eq;

		switch (o) {
		case 'f':
			continue;
		case 'l':
			/* Options override the file: the first --listen
			 * replaces its listen list (likewise --connect). */
			if (!cli_listen)
				conf_drop_endpoints(c, true);
			cli_listen = true;
			key = "listen";
			break;
		case 'C':
			if (!cli_connect)
				conf_drop_endpoints(c, false);
			cli_connect = true;
			key = "connect";
			break;
		case 'k':
			key = "keepalive_ms";
			break;
		case 't':
			key = "guest_psi_trigger";
			break;
		case 'u':
			key = "guest_uid";
			break;
		case 'c':
			key = "control";
			break;
		case 'i':
			key = "report_interval_ms";
			break;
		case 'b':
			key = "bins";
			break;
		case 'R':
			key = "record";
			break;
		case 'p':
			section = "policy";
			key = "name";
			break;
		case 'n':
			c->dry_run = true;
			continue;
		case 'L':
			c->libvirt = true;
			if (optarg && conf_set(c, "libvirt", "uri", optarg) < 0)
				return 2;
			continue;
		case 's':
			eq = strchr(optarg, '=');
			if (!eq) {
				fprintf(stderr, "memshare-hostd: --set wants KEY=VALUE\n");
				return 2;
			}
			*eq = '\0';
			r = conf_set(c, "policy", optarg, eq + 1);
			if (r < 0) {
				fprintf(stderr, "memshare-hostd: --set %s=%s: %s\n", optarg, eq + 1,
					r == -ENOENT ? "unknown parameter" : "bad value");
				return 2;
			}
			continue;
		case 'v':
			c->verbose++;
			continue;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("memshare-hostd %s\n", ms_version());
			return 1;
		default:
			usage(stderr);
			return 2;
		}
		r = conf_set(c, section, key, optarg);
		if (r < 0) {
			fprintf(stderr, "memshare-hostd: -%c %s: bad value\n", o, optarg);
			if (o == 'i')
				fprintf(stderr, "memshare-hostd: --report-interval-ms wants a number >= 10\n");
			else if (o == 'b')
				fprintf(stderr, "memshare-hostd: --bins wants up to %d ascending non-zero "
					"ms values, e.g. 5000,30000,120000\n", MS_LRU_MAX_BINS - 1);
			else if (o == 'p')
				fprintf(stderr, "memshare-hostd: policies: memshare, mom, "
					"balance-available, static\n");
			else if (o == 'k')
				fprintf(stderr, "memshare-hostd: --keepalive-ms wants a number >= 100\n");
			else if (o == 't')
				fprintf(stderr, "memshare-hostd: --guest-psi-trigger wants 'some|full "
					"STALL_US WINDOW_US', window 500000..10000000, 0 < stall <= "
					"window, e.g. 'some 150000 2000000'\n");
			else if (o == 'u')
				fprintf(stderr, "memshare-hostd: --guest-uid wants a uid, 'same' or 'any'\n");
			else if (o == 'C' || o == 'l')
				fprintf(stderr, "memshare-hostd: at most %d of each\n",
					o == 'C' ? CONF_MAX_CONNECT : CONF_MAX_LISTEN);
			return 2;
		}
	}
	if (optind < argc || (!c->nr_listen && !c->nr_connect && !c->libvirt) || !c->control) {
		usage(stderr);
		return 2;
	}
	for (int i = 0; i < c->nr_listen; i++) {
		if (strncmp(c->listen[i], "unix:", 5) && strncmp(c->listen[i], "vsock:", 6) &&
		    strncmp(c->listen[i], "hvsock:", 7)) {
			fprintf(stderr, "memshare-hostd: --listen %s: want vsock:-1:PORT, unix:/path, "
				"unix:@name or hvsock:/path/vm.vsock:PORT\n", c->listen[i]);
			return 2;
		}
	}
	for (int i = 0; i < c->nr_connect; i++) {
		if (strncmp(c->connect[i], "serial:/", 8) && strncmp(c->connect[i], "hvsock:/", 8) &&
		    strncmp(c->connect[i], "unix:", 5) && strncmp(c->connect[i], "vsock:", 6)) {
			fprintf(stderr, "memshare-hostd: --connect %s: want serial:/path, "
				"hvsock:/path/vm.vsock:PORT, unix:/path or vsock:CID:PORT\n",
				c->connect[i]);
			return 2;
		}
	}
	/* The host would drop the reports it asks for. */
	if (c->report_interval_ms &&
	    (uint64_t)c->report_interval_ms * (c->max_reports_per_s ? c->max_reports_per_s : 10) <
		    1000) {
		fprintf(stderr, "memshare-hostd: report_interval_ms %u asks each guest for more "
			"reports than max_reports_per_s %u accepts\n", c->report_interval_ms,
			c->max_reports_per_s ? c->max_reports_per_s : 10);
		return 2;
	}
	if (strncmp(c->control, "unix:/", 6) && strncmp(c->control, "unix:@", 6)) {
		fprintf(stderr, "memshare-hostd: --control %s: want unix:/absolute/path or "
			"unix:@name\n", c->control);
		return 2;
	}
	return 0;
}

#if MS_HAVE_LIBVIRT
static void libvirt_silent(void *userdata, virErrorPtr err)
{
}
#endif

int main(int argc, char **argv)
{
	struct hostd d = { 0 };
	int r, sfd = -1;

	conf_init(&d.conf);
	r = parse_args(&d.conf, argc, argv);
	if (r) {
		conf_release(&d.conf);
		return r == 1 ? 0 : 2;
	}
	conf_finish(&d.conf);
	/* Signals first: a SIGTERM that comes while the sockets are being made
	 * (libvirt can take a while) waits in the signalfd for a clean stop,
	 * rather than killing hostd with its sockets left behind. */
	sfd = cli_signalfd();
	if (sfd < 0) {
		fprintf(stderr, "memshare-hostd: signalfd: %s\n", strerror(-sfd));
		conf_release(&d.conf);
		return 1;
	}
	d.policy = ms_policy_find(d.conf.policy ? d.conf.policy : "memshare");
	d.recent_actions = json_object_new_array();

	MS_OPTS(ms_ctx_opts, copts, .log_fn = cli_log_stderr,
		.log_userdata = (void *)"memshare-hostd", .log_level = cli_log_level(d.conf.verbose));
	r = ms_ctx_new(&d.ctx, &copts);
	if (r < 0) {
		fprintf(stderr, "memshare-hostd: %s\n", strerror(-r));
		goto out;
	}
	r = loop_new(&d.loop);
	if (r < 0) {
		fprintf(stderr, "memshare-hostd: event loop: %s\n", strerror(-r));
		goto out;
	}
	MS_OPTS(ms_host_opts, hopts, .ctx = d.ctx, .report_interval_ms = d.conf.report_interval_ms,
		.bin_edges_ms = d.conf.nr_bins ? d.conf.bins : NULL,
		.nr_bin_edges = (size_t)d.conf.nr_bins, .record_path = d.conf.record,
		.reclaim_timeout_ms = d.conf.reclaim_timeout_ms, .event_fn = on_event,
		.userdata = &d, .keepalive_ms = d.conf.keepalive_ms,
		.max_reports_per_s = d.conf.max_reports_per_s,
		.frame_timeout_ms = d.conf.frame_timeout_ms,
		.hello_timeout_ms = d.conf.hello_timeout_ms,
		.psi_trigger = d.conf.has_guest_trigger ? &d.conf.guest_trigger : NULL,
		.unix_peer = d.conf.guest_peer, .unix_peer_uid = d.conf.guest_uid);
	r = ms_host_new(&d.host, &hopts);
	if (r < 0) {
		fprintf(stderr, "memshare-hostd: %s\n", strerror(-r));
		goto out;
	}
	for (int i = 0; i < d.conf.nr_listen; i++) {
		r = ms_host_listen(d.host, d.conf.listen[i]);
		if (r < 0) {
			fprintf(stderr, "memshare-hostd: cannot listen on %s: %s\n",
				d.conf.listen[i], strerror(-r));
			goto out;
		}
	}
	for (int i = 0; i < d.conf.nr_connect; i++) {
		r = ms_host_connect(d.host, d.conf.connect[i]);
		if (r < 0 && r != -EEXIST) {
			fprintf(stderr, "memshare-hostd: cannot connect to %s: %s\n",
				d.conf.connect[i], strerror(-r));
			goto out;
		}
	}
	r = control_new(&d.ctl, d.conf.control, on_control, &d);
	if (r < 0) {
		fprintf(stderr, "memshare-hostd: control socket %s: %s\n", d.conf.control,
			strerror(-r));
		goto out;
	}
	if (d.conf.libvirt) {
#if MS_HAVE_LIBVIRT
		MS_OPTS(ms_libvirt_opts, lopts, .ctx = d.ctx, .uri = d.conf.libvirt_uri,
			.stats_period_s = d.conf.stats_period_s);

		/* libvirt's process-wide handler prints every failure to
		 * open (and reopen, while libvirtd is away) to stderr; the
		 * handle logs libvirt's message itself. */
		virSetErrorFunc(NULL, libvirt_silent);
		r = ms_libvirt_new(&d.lv, &lopts);
		if (r < 0) {
			fprintf(stderr, "memshare-hostd: libvirt %s: %s\n",
				d.conf.libvirt_uri ? d.conf.libvirt_uri : "(default URI)", strerror(-r));
			goto out;
		}
		{
			/* Reach the agents on domains' channels at once. */
			size_t nd = ms_libvirt_list(d.lv, NULL, 0);
			struct ms_domain_info *di = calloc(nd ? nd : 1, sizeof(*di));

			if (di) {
				nd = ms_libvirt_list(d.lv, di, nd);
				hostd_sync_channels(&d, di, nd);
				free(di);
			}
		}
#else
		fprintf(stderr, "memshare-hostd: built without libvirt support\n");
		r = -EOPNOTSUPP;
		goto out;
#endif
	}
	pressure_open(&d.pressure, d.ctx);
	if ((r = loop_add_fd(d.loop, ms_host_get_fd(d.host), on_host_fd, &d)) < 0 ||
	    (r = loop_add_fd(d.loop, control_get_fd(d.ctl), on_control_fd, &d)) < 0 ||
	    (r = loop_add_fd(d.loop, sfd, on_signal_fd, &d)) < 0 ||
	    (pressure_get_fd(&d.pressure) >= 0 &&
	     (r = loop_add_fd(d.loop, pressure_get_fd(&d.pressure), on_pressure_fd, &d)) < 0))
		goto out;

	d.started_us = hostd_now_us();
	d.next_round_ms = d.started_us / 1000u + d.conf.params.interval_ms;
	d.peer_log_tokens = 20.0;
	d.peer_log_us = d.started_us;
	fprintf(stderr, "memshare-hostd %s: guests on", ms_version());
	for (int i = 0; i < d.conf.nr_listen; i++)
		fprintf(stderr, "%s %s", i ? "," : "", d.conf.listen[i]);
	for (int i = 0; i < d.conf.nr_connect; i++)
		fprintf(stderr, "%s %s", i || d.conf.nr_listen ? "," : "", d.conf.connect[i]);
	if (!d.conf.nr_listen && !d.conf.nr_connect)
		fprintf(stderr, " the libvirt domains' channels");
	fprintf(stderr, "; control on %s; policy %s%s%s\n", d.conf.control, d.policy->name,
		d.conf.dry_run ? " (dry run)" : "", d.conf.libvirt ? "; libvirt" : "");

	while (!d.stop_signal) {
		uint64_t now = hostd_now_us() / 1000u;
		int64_t host_t = ms_host_get_timeout_us(d.host);
		int64_t wait = d.next_round_ms > now ? (int64_t)(d.next_round_ms - now) : 0;

		int ctl_t = control_get_timeout_ms(d.ctl);

		if (host_t >= 0 && (host_t + 999) / 1000 < wait)
			wait = (host_t + 999) / 1000;
		if (ctl_t >= 0 && ctl_t < wait)
			wait = ctl_t;
		r = loop_run_once(d.loop, (int)wait);
		if (r < 0)
			break;
		/* Deadlines of the host session (Hello, reclaim timeouts) and
		 * of the control socket (accept paused). */
		if (ms_host_get_timeout_us(d.host) == 0)
			ms_host_process(d.host);
		if (control_get_timeout_ms(d.ctl) == 0)
			control_process(d.ctl);
		now = hostd_now_us() / 1000u;
		if (now >= d.next_round_ms) {
			balancer_round(&d);
			d.next_round_ms = now + d.conf.params.interval_ms;
		}
	}
	if (d.stop_signal > 0) {
		fprintf(stderr, "memshare-hostd: signal %d, stopping\n", d.stop_signal);
		r = 0;
	} else if (d.stop_signal < 0) {
		r = -EIO;
	}
out:
	while (d.pending) {
		struct pending_reclaim *p = d.pending;

		d.pending = p->next;
		free(p);
	}
	while (d.extras)
		extra_drop(&d, d.extras->guest_id);
	balancer_free(&d);
#if MS_HAVE_LIBVIRT
	hostd_channels_free(&d);
#endif
	ms_host_free(d.host);   /* says Goodbye to every guest */
	control_free(d.ctl);
#if MS_HAVE_LIBVIRT
	ms_libvirt_free(d.lv);
#endif
	pressure_close(&d.pressure);
	loop_free(d.loop);
	if (sfd >= 0)
		close(sfd);
	json_object_put(d.recent_actions);
	ms_ctx_free(d.ctx);
	conf_release(&d.conf);
	return r < 0 ? 1 : 0;
}
