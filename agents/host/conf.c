/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>

#include "cli.h"
#include "conf.h"

void conf_init(struct hostd_conf *c)
{
	memset(c, 0, sizeof(*c));
	c->stats_period_s = 0;
	c->connect_channels = true;
	ms_policy_params_init(&c->params);
}

void conf_finish(struct hostd_conf *c)
{
	/* Fire when a guest stalls as much as makes the policy back it off:
	 * its report then comes at once, not at the next interval. */
	const uint64_t window_us = 2000000;
	double stall = c->params.stall_backoff_us_per_s * (double)window_us / 1e6;

	if (c->has_guest_trigger || c->guest_trigger_off)
		return;
	c->guest_trigger.kind = MS_PSI_KIND_SOME;
	c->guest_trigger.window_us = window_us;
	c->guest_trigger.stall_us = stall < 1 ? 1 : stall > (double)window_us ? window_us
				    : (uint64_t)stall;
	c->has_guest_trigger = true;
}

void conf_release(struct hostd_conf *c)
{
	for (int i = 0; i < c->nr_listen; i++)
		free(c->listen[i]);
	for (int i = 0; i < c->nr_connect; i++)
		free(c->connect[i]);
	free(c->control);
	free(c->record);
	free(c->libvirt_uri);
	free(c->pid_dir);
	free(c->policy);
	memset(c, 0, sizeof(*c));
}

void conf_drop_endpoints(struct hostd_conf *c, bool listen)
{
	char **arr = listen ? c->listen : c->connect;
	int *nr = listen ? &c->nr_listen : &c->nr_connect;

	for (int i = 0; i < *nr; i++) {
		free(arr[i]);
		arr[i] = NULL;
	}
	*nr = 0;
}

static int set_str(char **dst, const char *v)
{
	char *n = strdup(v);

	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static int add_str(char **arr, int *nr, int max, const char *v)
{
	if (*nr == max)
		return -EINVAL;
	arr[*nr] = strdup(v);
	if (!arr[*nr])
		return -ENOMEM;
	(*nr)++;
	return 0;
}

/* "some 150000 2000000": kind, stall and window in us, as the kernel's
 * trigger syntax. */
static int parse_trigger(const char *v, struct ms_psi_trigger_spec *t)
{
	char kind[8], end;
	unsigned long long stall, window;

	if (sscanf(v, "%7s %llu %llu %c", kind, &stall, &window, &end) != 3)
		return -EINVAL;
	if (strcmp(kind, "some") == 0)
		t->kind = MS_PSI_KIND_SOME;
	else if (strcmp(kind, "full") == 0)
		t->kind = MS_PSI_KIND_FULL;
	else
		return -EINVAL;
	/* The kernel's bounds (kernel/sched/psi.c psi_trigger_create()). */
	if (window < 500000 || window > 10000000 || stall == 0 || stall > window)
		return -EINVAL;
	t->stall_us = stall;
	t->window_us = window;
	return 0;
}

static int parse_ms(const char *v, uint32_t *out, uint32_t min)
{
	return cli_parse_u32(v, out) < 0 || *out < min ? -EINVAL : 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcmp(v, "1") ||
	    !strcasecmp(v, "on"))
		*out = true;
	else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcmp(v, "0") ||
		 !strcasecmp(v, "off"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

int conf_set(struct hostd_conf *c, const char *section, const char *key, const char *v)
{
	if (strcmp(section, "host") == 0) {
		if (strcmp(key, "listen") == 0)
			return add_str(c->listen, &c->nr_listen, CONF_MAX_LISTEN, v);
		if (strcmp(key, "connect") == 0)
			return add_str(c->connect, &c->nr_connect, CONF_MAX_CONNECT, v);
		if (strcmp(key, "keepalive_ms") == 0)
			return parse_ms(v, &c->keepalive_ms, MS_KEEPALIVE_MIN_MS);
		if (strcmp(key, "frame_timeout_ms") == 0)
			return parse_ms(v, &c->frame_timeout_ms, 100);
		if (strcmp(key, "hello_timeout_ms") == 0)
			return parse_ms(v, &c->hello_timeout_ms, 100);
		if (strcmp(key, "max_reports_per_s") == 0)
			return parse_ms(v, &c->max_reports_per_s, 1);
		if (strcmp(key, "guest_psi_trigger") == 0) {
			if (strcmp(v, "off") == 0) {
				c->has_guest_trigger = false;
				c->guest_trigger_off = true;
				return 0;
			}
			if (parse_trigger(v, &c->guest_trigger) < 0)
				return -EINVAL;
			c->has_guest_trigger = true;
			c->guest_trigger_off = false;
			return 0;
		}
		if (strcmp(key, "guest_uid") == 0) {
			if (strcmp(v, "same") == 0)
				c->guest_peer = MS_UNIX_PEER_SAME_UID;
			else if (strcmp(v, "any") == 0)
				c->guest_peer = MS_UNIX_PEER_ANY;
			else if (cli_parse_u32(v, &c->guest_uid) == 0)
				c->guest_peer = MS_UNIX_PEER_UID;
			else
				return -EINVAL;
			return 0;
		}
		if (strcmp(key, "control") == 0)
			return set_str(&c->control, v);
		if (strcmp(key, "record") == 0)
			return set_str(&c->record, v);
		if (strcmp(key, "report_interval_ms") == 0)
			return cli_parse_u32(v, &c->report_interval_ms) < 0 ||
			       c->report_interval_ms < MS_REPORT_INTERVAL_MIN_MS ? -EINVAL : 0;
		if (strcmp(key, "reclaim_timeout_ms") == 0)
			return cli_parse_u32(v, &c->reclaim_timeout_ms) < 0 ||
			       c->reclaim_timeout_ms < 100 ? -EINVAL : 0;
		if (strcmp(key, "bins") == 0) {
			int n = cli_parse_edges(v, c->bins, MS_LRU_MAX_BINS - 1);

			if (n < 0)
				return -EINVAL;
			c->nr_bins = n;
			return 0;
		}
		return -ENOENT;
	}
	if (strcmp(section, "libvirt") == 0) {
		if (strcmp(key, "enabled") == 0)
			return parse_bool(v, &c->libvirt);
		if (strcmp(key, "uri") == 0) {
			c->libvirt = true;
			return set_str(&c->libvirt_uri, v);
		}
		if (strcmp(key, "connect_channels") == 0)
			return parse_bool(v, &c->connect_channels);
		if (strcmp(key, "pid_dir") == 0)
			return v[0] == '/' ? set_str(&c->pid_dir, v) : -EINVAL;
		if (strcmp(key, "stats_period_s") == 0) {
			uint32_t p;

			if (strcmp(v, "-1") == 0) {
				c->stats_period_s = -1;
				return 0;
			}
			if (cli_parse_u32(v, &p) < 0 || p > 3600)
				return -EINVAL;
			c->stats_period_s = (int32_t)p;
			return 0;
		}
		return -ENOENT;
	}
	if (strcmp(section, "policy") == 0) {
		if (strcmp(key, "name") == 0) {
			if (!ms_policy_find(v))
				return -EINVAL;
			return set_str(&c->policy, v);
		}
		if (strcmp(key, "dry_run") == 0)
			return parse_bool(v, &c->dry_run);
		return ms_policy_params_set(&c->params, key, v);
	}
	return -ENOENT;
}

struct load_state {
	struct hostd_conf *c;
	FILE *f;
	int lineno;            /* line inih is parsing (counted by read_line) */
	int err_line;
	char first_error[256];
	int err;
	int long_line;         /* first line longer than inih takes, or 0 */
	int long_max;
};

/* fgets for inih that counts lines, so errors carry their own line.  A
 * line longer than inih's buffer (Debian's libinih: 200 bytes) would come
 * in pieces, each parsed as a line: it is noted and skipped instead, and
 * conf_load() refuses the file. */
static char *read_line(char *str, int num, void *stream)
{
	struct load_state *st = stream;
	char *r = fgets(str, num, st->f);
	size_t len;
	int ch;

	if (!r)
		return r;
	st->lineno++;
	len = strlen(r);
	if (len && r[len - 1] != '\n' && !feof(st->f)) {
		while ((ch = getc(st->f)) != EOF && ch != '\n')
			;
		if (!st->long_line) {
			st->long_line = st->lineno;
			st->long_max = num - 2;
		}
		strcpy(str, "\n");
	}
	return r;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct load_state *st = user;
	int r = conf_set(st->c, section, name, value);

	if (r < 0) {
		/* inih reports the line of the first failure it saw. */
		if (!st->err) {
			snprintf(st->first_error, sizeof(st->first_error), "[%s] %s = %s: %s",
				 section, name, value, r == -ENOENT ? "unknown key" : "bad value");
			st->err = r;
			st->err_line = st->lineno;
		}
		return 0;
	}
	return 1;
}

int conf_load(struct hostd_conf *c, const char *path, int *bad_line)
{
	struct load_state st = { .c = c };
	int r;

	struct stat sb;
	bool read_failed;

	st.f = fopen(path, "re");
	if (!st.f)
		return -errno;
	if (fstat(fileno(st.f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		fclose(st.f);
		return -EISDIR;
	}
	r = ini_parse_stream(read_line, &st, on_ini, &st);
	read_failed = ferror(st.f);
	fclose(st.f);
	if (r < 0)
		return -ENOMEM;
	if (read_failed)
		return -EIO;
	if (st.long_line && (r == 0 || st.long_line <= r)) {
		if (bad_line)
			*bad_line = st.long_line;
		fprintf(stderr, "memshare-hostd: %s:%d: line longer than %d bytes\n", path,
			st.long_line, st.long_max);
		return -EINVAL;
	}
	if (r > 0) {
		/* The first failure: a key we refused, or a syntax error. */
		bool ours = st.err && st.err_line == r;

		if (bad_line)
			*bad_line = r;
		fprintf(stderr, "memshare-hostd: %s:%d: %s\n", path, r,
			ours ? st.first_error : "syntax error (want [section] and key = value)");
		return -EINVAL;
	}
	return 0;
}
