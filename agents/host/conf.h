/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memshare-hostd's configuration: an INI file (inih) and the command line,
 * which wins.  docs/memshare-hostd.8 lists every key.
 */
#ifndef MS_HOSTD_CONF_H
#define MS_HOSTD_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <memshare/memshare.h>

#define CONF_MAX_LISTEN 8
#define CONF_MAX_CONNECT 64

struct hostd_conf {
	/* [host] */
	char *listen[CONF_MAX_LISTEN];
	int nr_listen;
	char *connect[CONF_MAX_CONNECT]; /* guests hostd reaches: serial:, hvsock: */
	int nr_connect;
	char *control;
	char *record;
	uint32_t report_interval_ms;
	uint32_t reclaim_timeout_ms;   /* beyond a request's own deadline */
	uint64_t bins[MS_LRU_MAX_BINS - 1];
	int nr_bins;
	uint32_t keepalive_ms;         /* 0: the library's default */
	uint32_t max_reports_per_s;
	uint32_t frame_timeout_ms;
	uint32_t hello_timeout_ms;
	enum ms_unix_peer guest_peer;  /* guest_uid = same | any | UID */
	uint32_t guest_uid;
	bool has_guest_trigger;        /* guest_psi_trigger = some|full STALL_US WINDOW_US */
	bool guest_trigger_off;        /* guest_psi_trigger = off */
	struct ms_psi_trigger_spec guest_trigger;
	int verbose;
	/* [libvirt] */
	bool libvirt;                  /* act through libvirt */
	char *libvirt_uri;             /* NULL: libvirt's default */
	int32_t stats_period_s;
	char *pid_dir;                 /* where libvirt keeps <domain>.pid */
	bool connect_channels;         /* connect to domains' org.memshare.0 channels */
	/* [policy] */
	char *policy;                  /* "memshare" by default */
	bool dry_run;                  /* decide and log, do not act */
	struct ms_policy_params params;
};

void conf_init(struct hostd_conf *c);
/* Forget the listen (@listen) or connect endpoints read so far: the
 * command line's replace the config file's. */
void conf_drop_endpoints(struct hostd_conf *c, bool listen);
/* After all settings: the guests' PSI trigger, unless set or off, is the
 * policy's stall_backoff over a 2 s window. */
void conf_finish(struct hostd_conf *c);
void conf_release(struct hostd_conf *c);

/*
 * Read an INI file into @c.  Returns 0, or -ENOENT/-EACCES (cannot open),
 * -EINVAL (a bad line: *bad_line is its number and the message is
 * printed to stderr).
 */
int conf_load(struct hostd_conf *c, const char *path, int *bad_line);

/* Set one key as the INI file would ([section] key = value).
 * 0, -ENOENT (unknown key), -EINVAL (bad value). */
int conf_set(struct hostd_conf *c, const char *section, const char *key, const char *value);

#endif
