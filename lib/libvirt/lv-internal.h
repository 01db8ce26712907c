/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Private definitions of libmemshare-libvirt.  Never installed.  This
 * library sees only libmemshare's public API.
 */
#ifndef MS_LV_INTERNAL_H
#define MS_LV_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memshare/libvirt.h>

#define LV_EXPORT __attribute__((visibility("default")))

#define lv_err(ctx, ...) ms_ctx_log(ctx, MS_LOG_ERR, __VA_ARGS__)
#define lv_warn(ctx, ...) ms_ctx_log(ctx, MS_LOG_WARNING, __VA_ARGS__)
#define lv_info(ctx, ...) ms_ctx_log(ctx, MS_LOG_INFO, __VA_ARGS__)
#define lv_dbg(ctx, ...) ms_ctx_log(ctx, MS_LOG_DEBUG, __VA_ARGS__)

/* One active domain of the table. */
struct lv_dom {
	struct ms_domain_info info;
	virDomainPtr dom;            /* our reference */
	uint64_t period_set_s;       /* CLOCK_MONOTONIC s of our last
				      * virDomainSetMemoryStatsPeriod; 0 never */
	bool seen, replaced, stale;  /* scratch flags of the refresh merge */
};

struct ms_libvirt {
	struct ms_ctx *ctx;
	virConnectPtr conn;
	bool own_conn;
	/* Connection state.  @uri: what ms_libvirt_new() opened (the URI it
	 * was given, or the default's as virConnectGetURI() names it), to
	 * reopen; NULL for a borrowed connection. */
	char *uri;
	bool close_cb;               /* our virConnectRegisterCloseCallback */
	bool down;                   /* closed, or found dead; until reopened */
	bool reopen_warned;          /* one warning per outage */
	uint64_t down_since_s;       /* lv_now_mono_s() when it went down */
	uint64_t reconnects;
	int32_t stats_period_s;      /* > 0, or -1: never touch */
	ms_libvirt_event_fn event_fn;
	void *userdata;
	/* Domain event callback ids (virConnectDomainEventRegisterAny), -1
	 * when not registered. */
	int cb_ids[4];
	bool events;
	/* The table: pointers sorted by info.name (strcmp). */
	struct lv_dom **doms;
	size_t nr, cap;
};

/* The table entry named @name, or NULL. */
struct lv_dom *lv_find(struct ms_libvirt *lv, const char *name);

/*
 * libvirt's last error as a negative errno: VIR_ERR_NO_DOMAIN -ENOENT,
 * no support -EOPNOTSUPP, denied -EACCES, no memory -ENOMEM, invalid
 * argument -EINVAL, timeout -ETIMEDOUT, anything else -EIO.
 */
int lv_errno(void);

/*
 * Log libvirt's last error for @what on domain @d (as ERR, or INFO when the
 * domain just stopped) and return it as a negative errno, -ENOENT when the
 * domain is no longer running.
 */
int lv_dom_error(struct ms_libvirt *lv, struct lv_dom *d, const char *what);

/*
 * Whether the connection is down: closed (libvirt's close callback said
 * so), or found dead now (virConnectIsAlive() is 0, which a call that
 * just failed on a closed socket leaves behind).  Marks it down and logs
 * the loss once.
 */
bool lv_conn_down(struct ms_libvirt *lv);

/* CLOCK_MONOTONIC in seconds (never 0). */
uint64_t lv_now_mono_s(void);

/* Copy a string into a fixed buffer; false (and @dst empty) if it does not fit. */
bool lv_strcpy(char *dst, size_t size, const char *src);

#endif
