/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connection, the table of active domains, refresh and domain events.
 *
 * A domain's info comes from virDomainGetInfo (state, maxMem, memory), the
 * domain's id and its XML (domain.c).  Refresh lists the active domains
 * (virConnectListAllDomains ACTIVE) and merges them into the table; an event
 * re-reads one domain and merges it the same way, so the two agree.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lv-internal.h"

/* The domain events we subscribe to; each only triggers a re-read. */
enum {
	LV_CB_LIFECYCLE,
	LV_CB_BALLOON,
	LV_CB_DEVICE_ADDED,
	LV_CB_DEVICE_REMOVED,
	LV_CB_NR,
};

/* ---- helpers ---------------------------------------------------------------- */

uint64_t lv_now_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec + 1;
}

bool lv_strcpy(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size) {
		dst[0] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

int lv_errno(void)
{
	switch (virGetLastErrorCode()) {
	case VIR_ERR_NO_MEMORY:
		return -ENOMEM;
	case VIR_ERR_NO_DOMAIN:
		return -ENOENT;
	case VIR_ERR_NO_SUPPORT:
	case VIR_ERR_OPERATION_UNSUPPORTED:
	case VIR_ERR_ARGUMENT_UNSUPPORTED:
		return -EOPNOTSUPP;
	case VIR_ERR_OPERATION_DENIED:
	case VIR_ERR_ACCESS_DENIED:
	case VIR_ERR_AUTH_FAILED:
	case VIR_ERR_AUTH_CANCELLED:
		return -EACCES;
	case VIR_ERR_INVALID_ARG:
		return -EINVAL;
	case VIR_ERR_OPERATION_TIMEOUT:
	case VIR_ERR_AGENT_UNRESPONSIVE:
		return -ETIMEDOUT;
	default:
		return -EIO;
	}
}

int lv_dom_error(struct ms_libvirt *lv, struct lv_dom *d, const char *what)
{
	char msg[384];
	int code = virGetLastErrorCode();
	int r = lv_errno();

	/* Copied: virDomainIsActive() below resets libvirt's last error. */
	snprintf(msg, sizeof(msg), "%s", virGetLastErrorMessage());
	if (lv_conn_down(lv)) {
		lv_dbg(lv->ctx, "domain %s: %s: %s", d->info.name, what, msg);
		return -ENOTCONN;
	}
	/* "domain is not running" (VIR_ERR_OPERATION_INVALID) or gone: the
	 * domain stopped since the table last saw it. */
	if (code == VIR_ERR_NO_DOMAIN ||
	    (code == VIR_ERR_OPERATION_INVALID && virDomainIsActive(d->dom) != 1)) {
		lv_info(lv->ctx, "domain %s: %s: %s", d->info.name, what, msg);
		return -ENOENT;
	}
	lv_err(lv->ctx, "domain %s: %s: %s", d->info.name, what, msg);
	return r;
}

/* libvirt prints every error to stderr unless a handler takes it. */
static void lv_swallow_error(void *userdata, virErrorPtr err)
{
}

/* ---- the connection ------------------------------------------------------------ */

static const char *lv_uri_name(const struct ms_libvirt *lv)
{
	return lv->uri ? lv->uri : "(borrowed)";
}

static void mark_down(struct ms_libvirt *lv, const char *why)
{
	if (lv->down)
		return;
	lv->down = true;
	lv->reopen_warned = false;
	lv->down_since_s = lv_now_mono_s();
	lv_warn(lv->ctx, "libvirt connection %s lost (%s); domains kept as last seen until it is "
		"back%s", lv_uri_name(lv), why,
		lv->own_conn ? "" : " (a borrowed connection is never reopened)");
}

bool lv_conn_down(struct ms_libvirt *lv)
{
	if (!lv->down && virConnectIsAlive(lv->conn) == 0)
		mark_down(lv, "found closed");
	return lv->down;
}

/* libvirt's close callback: the daemon went away (EOF), the keepalive timed
 * out, or an I/O error.  Called from the event loop; reopening waits for the
 * next ms_libvirt_refresh(), outside libvirt's locks. */
static void lv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
	static const char *const reasons[] = {
		[VIR_CONNECT_CLOSE_REASON_ERROR] = "I/O error",
		[VIR_CONNECT_CLOSE_REASON_EOF] = "end of file: libvirtd stopped",
		[VIR_CONNECT_CLOSE_REASON_KEEPALIVE] = "keepalive timeout",
		[VIR_CONNECT_CLOSE_REASON_CLIENT] = "closed by the client",
	};
	struct ms_libvirt *lv = opaque;

	if (conn != lv->conn)
		return;
	mark_down(lv, reason >= 0 && reason < (int)(sizeof(reasons) / sizeof(reasons[0])) &&
			      reasons[reason] ? reasons[reason] : "unknown reason");
}

static void close_cb_register(struct ms_libvirt *lv)
{
	/* One close callback per connection: a borrowed one's slot is the
	 * application's (there virConnectIsAlive() tells).  It needs an event
	 * loop implementation to ever fire; harmless without. */
	if (!lv->own_conn)
		return;
	lv->close_cb = virConnectRegisterCloseCallback(lv->conn, lv_close_cb, lv, NULL) == 0;
	if (!lv->close_cb)
		lv_dbg(lv->ctx, "no close callback on %s: %s", lv_uri_name(lv),
		       virGetLastErrorMessage());
}

static void close_cb_unregister(struct ms_libvirt *lv)
{
	if (lv->close_cb)
		virConnectUnregisterCloseCallback(lv->conn, lv_close_cb);
	lv->close_cb = false;
}

static bool opts_valid(const struct ms_libvirt_opts *opts)
{
	if (!opts)
		return true;
	if (opts->sz < sizeof(size_t))
		return false;
	for (size_t i = sizeof(*opts); i < opts->sz; i++)
		if (((const unsigned char *)opts)[i] != 0)
			return false;
	return true;
}

#define OPTS_GET(opts, FIELD, FALLBACK)                                         \
	((opts) && (opts)->sz >= offsetof(struct ms_libvirt_opts, FIELD) +      \
				     sizeof((opts)->FIELD) ? (opts)->FIELD : (FALLBACK))

/* ---- the table ---------------------------------------------------------------- */

static int cmp_name(const void *key, const void *elem)
{
	const struct lv_dom *d = *(struct lv_dom *const *)elem;

	return strcmp(key, d->info.name);
}

static int cmp_doms(const void *a, const void *b)
{
	const struct lv_dom *x = *(struct lv_dom *const *)a;
	const struct lv_dom *y = *(struct lv_dom *const *)b;

	return strcmp(x->info.name, y->info.name);
}

struct lv_dom *lv_find(struct ms_libvirt *lv, const char *name)
{
	struct lv_dom **p;

	if (!lv->nr)
		return NULL;
	p = bsearch(name, lv->doms, lv->nr, sizeof(*lv->doms), cmp_name);
	return p ? *p : NULL;
}

static void dom_free(struct lv_dom *d)
{
	if (!d)
		return;
	if (d->dom)
		virDomainFree(d->dom);
	free(d);
}

static bool info_equal(const struct ms_domain_info *a, const struct ms_domain_info *b)
{
	return !strcmp(a->name, b->name) && !strcmp(a->uuid, b->uuid) && a->id == b->id &&
	       a->active == b->active && a->vsock_cid == b->vsock_cid &&
	       !strcmp(a->channel_path, b->channel_path) && a->has_balloon == b->has_balloon &&
	       !strcmp(a->balloon_model, b->balloon_model) && a->autodeflate == b->autodeflate &&
	       a->free_page_reporting == b->free_page_reporting &&
	       a->stats_period_s == b->stats_period_s && a->max_bytes == b->max_bytes &&
	       a->current_bytes == b->current_bytes &&
	       a->min_guarantee_bytes == b->min_guarantee_bytes &&
	       a->numa_nodeset == b->numa_nodeset && a->warnings == b->warnings;
}

/* Same domain instance: a restart under the same name changes the id. */
static bool same_instance(const struct ms_domain_info *a, const struct ms_domain_info *b)
{
	return a->id == b->id && !strcmp(a->uuid, b->uuid);
}

/*
 * Read one domain.  Returns 1 with *@out filled (holding a new reference
 * to @dom) if it is running and belongs in the table, 0 if it does not
 * (shut off, crashed, vanished), or a negative errno.
 */
static int dom_read(struct ms_libvirt *lv, virDomainPtr dom, struct lv_dom **out)
{
	const char *name = virDomainGetName(dom);
	struct lv_dom *d;
	virDomainInfo vi;
	char *xml;
	int r;

	*out = NULL;
	if (virDomainGetInfo(dom, &vi) < 0) {
		r = lv_errno();
		if (r == -ENOENT)
			return 0;
		lv_err(lv->ctx, "domain %s: virDomainGetInfo: %s", name ? name : "?",
		       virGetLastErrorMessage());
		return r;
	}
	if (vi.state == VIR_DOMAIN_SHUTOFF || vi.state == VIR_DOMAIN_CRASHED)
		return 0;
	xml = virDomainGetXMLDesc(dom, 0);
	if (!xml) {
		r = lv_errno();
		if (r == -ENOENT)
			return 0;
		lv_err(lv->ctx, "domain %s: virDomainGetXMLDesc: %s", name ? name : "?",
		       virGetLastErrorMessage());
		return r;
	}
	d = calloc(1, sizeof(*d));
	if (!d) {
		free(xml);
		return -ENOMEM;
	}
	r = ms_libvirt_parse_domain_xml(lv->ctx, xml, &d->info);
	free(xml);
	if (r < 0) {
		free(d);
		return r;
	}
	d->info.id = (int32_t)virDomainGetID(dom);
	d->info.active = true;
	d->info.max_bytes = (uint64_t)vi.maxMem * 1024u;
	d->info.current_bytes = (uint64_t)vi.memory * 1024u;
	if (virDomainRef(dom) < 0) {
		free(d);
		return -ENOMEM;
	}
	d->dom = dom;
	*out = d;
	return 1;
}

/* ---- events to the caller ---------------------------------------------------- */

struct lv_event {
	enum ms_libvirt_event_type type;
	struct ms_domain_info info;
};

struct lv_events {
	struct lv_event *v;
	size_t nr, cap;
	bool oom;
};

static void events_push(struct lv_events *ev, enum ms_libvirt_event_type type,
			const struct ms_domain_info *info)
{
	if (ev->nr == ev->cap) {
		size_t cap = ev->cap ? 2 * ev->cap : 8;
		struct lv_event *v = realloc(ev->v, cap * sizeof(*v));

		if (!v) {
			ev->oom = true;
			return;
		}
		ev->v = v;
		ev->cap = cap;
	}
	ev->v[ev->nr].type = type;
	ev->v[ev->nr].info = *info;
	ev->nr++;
}

/* Dispatch after the table is complete: a callback sees the new table. */
static void events_dispatch(struct ms_libvirt *lv, struct lv_events *ev)
{
	static const char *const names[] = {
		[MS_LIBVIRT_EVENT_DOMAIN_ADDED] = "added",
		[MS_LIBVIRT_EVENT_DOMAIN_REMOVED] = "removed",
		[MS_LIBVIRT_EVENT_DOMAIN_CHANGED] = "changed",
	};

	if (ev->oom)
		lv_err(lv->ctx, "out of memory: domain events lost");
	/* REMOVED first, so that a CID or channel path that moved from one
	 * domain to another is released before it is claimed again. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ev->nr; i++) {
			const struct lv_event *e = &ev->v[i];

			if ((e->type == MS_LIBVIRT_EVENT_DOMAIN_REMOVED) != (pass == 0))
				continue;
			lv_dbg(lv->ctx, "domain %s %s (id %d)", e->info.name, names[e->type],
			       e->info.id);
			if (lv->event_fn)
				lv->event_fn(lv, e->type, &e->info, lv->userdata);
		}
	}
	free(ev->v);
}

/*
 * Merge a fresh reading @fresh into the table entry @old (either may be
 * NULL), queueing the events.  Returns the entry that belongs in the table
 * (NULL: none): @old updated in place (its name pointer and period state
 * stay) or @fresh.  @fresh is consumed; @old, if not returned, is the
 * caller's to take out and free.
 */
static struct lv_dom *merge_one(struct lv_dom *old, struct lv_dom *fresh, struct lv_events *ev)
{
	if (old && fresh && same_instance(&old->info, &fresh->info)) {
		if (!info_equal(&old->info, &fresh->info))
			events_push(ev, MS_LIBVIRT_EVENT_DOMAIN_CHANGED, &fresh->info);
		old->info = fresh->info;
		virDomainFree(old->dom);
		old->dom = fresh->dom;
		free(fresh);
		return old;
	}
	if (old)
		events_push(ev, MS_LIBVIRT_EVENT_DOMAIN_REMOVED, &old->info);
	if (fresh)
		events_push(ev, MS_LIBVIRT_EVENT_DOMAIN_ADDED, &fresh->info);
	return fresh;
}

static int table_reserve(struct ms_libvirt *lv, size_t n)
{
	struct lv_dom **v;
	size_t cap;

	if (n <= lv->cap)
		return 0;
	cap = lv->cap ? lv->cap : 8;
	while (cap < n)
		cap *= 2;
	v = realloc(lv->doms, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	lv->doms = v;
	lv->cap = cap;
	return 0;
}

/* Re-read one domain (after an event) and merge it into the table. */
static void update_one(struct ms_libvirt *lv, virDomainPtr dom)
{
	struct lv_events ev = { 0 };
	struct lv_dom *old, *fresh, *keep;
	const char *name = virDomainGetName(dom);
	int r;

	if (!name)
		return;
	r = dom_read(lv, dom, &fresh);
	if (r < 0) {
		lv_warn(lv->ctx, "domain %s: not updated after an event (%s); the next refresh will",
			name, strerror(-r));
		return;
	}
	if (fresh && table_reserve(lv, lv->nr + 1) < 0) {
		lv_err(lv->ctx, "domain %s: out of memory, not added", name);
		dom_free(fresh);
		return;
	}
	old = lv_find(lv, name);
	keep = merge_one(old, fresh, &ev);
	if (old && old != keep) {
		size_t i = 0;

		while (lv->doms[i] != old)
			i++;
		memmove(&lv->doms[i], &lv->doms[i + 1], (lv->nr - i - 1) * sizeof(*lv->doms));
		lv->nr--;
		dom_free(old);
	}
	if (keep && keep != old) {
		lv->doms[lv->nr++] = keep;
		qsort(lv->doms, lv->nr, sizeof(*lv->doms), cmp_doms);
	}
	events_dispatch(lv, &ev);
}

static int lv_domain_event(virConnectPtr conn, virDomainPtr dom, void *opaque)
{
	update_one(opaque, dom);
	return 0;
}

static int lv_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail,
			   void *opaque)
{
	return lv_domain_event(conn, dom, opaque);
}

static void lv_balloon_cb(virConnectPtr conn, virDomainPtr dom, unsigned long long actual_kib,
			  void *opaque)
{
	lv_domain_event(conn, dom, opaque);
}

static void lv_device_cb(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
	lv_domain_event(conn, dom, opaque);
}

static void lv_noop_timeout(int timer, void *opaque)
{
}

/* Whether an event loop implementation is registered: libvirt has no getter,
 * but adding a (disabled) timeout fails without one. */
static bool have_event_impl(void)
{
	int t = virEventAddTimeout(-1, lv_noop_timeout, NULL, NULL);

	if (t < 0)
		return false;
	virEventRemoveTimeout(t);
	return true;
}

static void events_subscribe(struct ms_libvirt *lv)
{
	static const struct {
		int id;
		virConnectDomainEventGenericCallback cb;
		const char *name;
	} subs[LV_CB_NR] = {
		[LV_CB_LIFECYCLE] = { VIR_DOMAIN_EVENT_ID_LIFECYCLE,
				      VIR_DOMAIN_EVENT_CALLBACK(lv_lifecycle_cb), "lifecycle" },
		[LV_CB_BALLOON] = { VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
				    VIR_DOMAIN_EVENT_CALLBACK(lv_balloon_cb), "balloon change" },
		[LV_CB_DEVICE_ADDED] = { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
					 VIR_DOMAIN_EVENT_CALLBACK(lv_device_cb), "device added" },
		[LV_CB_DEVICE_REMOVED] = { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
					   VIR_DOMAIN_EVENT_CALLBACK(lv_device_cb), "device removed" },
	};

	if (!have_event_impl()) {
		lv_dbg(lv->ctx, "no libvirt event loop implementation registered: "
		       "no domain events, call ms_libvirt_refresh()");
		return;
	}
	for (int i = 0; i < LV_CB_NR; i++) {
		lv->cb_ids[i] = virConnectDomainEventRegisterAny(lv->conn, NULL, subs[i].id,
								 subs[i].cb, lv, NULL);
		if (lv->cb_ids[i] < 0) {
			/* The lifecycle ones are what matters; without them
			 * only refresh keeps the table right. */
			lv_warn(lv->ctx, "cannot subscribe to %s events: %s", subs[i].name,
				virGetLastErrorMessage());
			if (i == LV_CB_LIFECYCLE)
				return;
		}
	}
	lv->events = true;
}

static void events_unsubscribe(struct ms_libvirt *lv)
{
	for (int i = 0; i < LV_CB_NR; i++) {
		/* On a dead connection libvirt drops the callback locally and
		 * fails to tell the daemon, which is gone anyway. */
		if (lv->cb_ids[i] >= 0 &&
		    virConnectDomainEventDeregisterAny(lv->conn, lv->cb_ids[i]) < 0 && !lv->down)
			lv_warn(lv->ctx, "cannot unsubscribe from domain events: %s",
				virGetLastErrorMessage());
		lv->cb_ids[i] = -1;
	}
	lv->events = false;
}

/*
 * Open the URI again after the connection went down, and subscribe on the
 * new one.  The table stays: the refresh that follows diffs it against the
 * new listing.  Returns 0, or -ENOTCONN (still down: a borrowed connection,
 * or the URI does not open yet; warned once per outage).
 */
static int reopen(struct ms_libvirt *lv)
{
	virConnectPtr c;

	if (!lv->own_conn)
		return -ENOTCONN;
	c = virConnectOpen(lv->uri);
	if (!c) {
		if (!lv->reopen_warned)
			lv_warn(lv->ctx, "cannot reopen libvirt connection %s yet: %s; trying again "
				"at each refresh", lv->uri, virGetLastErrorMessage());
		else
			lv_dbg(lv->ctx, "cannot reopen libvirt connection %s: %s", lv->uri,
			       virGetLastErrorMessage());
		lv->reopen_warned = true;
		return -ENOTCONN;
	}
	virConnSetErrorFunc(c, NULL, lv_swallow_error);
	events_unsubscribe(lv);
	close_cb_unregister(lv);
	virConnectClose(lv->conn);
	lv->conn = c;
	lv->down = false;
	lv->reconnects++;
	lv_info(lv->ctx, "libvirt connection %s reopened, %llu s after it was lost", lv->uri,
		(unsigned long long)(lv_now_mono_s() - lv->down_since_s));
	close_cb_register(lv);
	events_subscribe(lv);
	return 0;
}

/* ---- public ------------------------------------------------------------------ */

LV_EXPORT int ms_libvirt_refresh(struct ms_libvirt *lv)
{
	struct lv_events ev = { 0 };
	struct lv_dom **fresh = NULL, **next = NULL;
	virDomainPtr *list = NULL;
	size_t nfresh = 0, nnext = 0, i;
	int n, r = 0;

	if (!lv)
		return -EINVAL;
	if (lv_conn_down(lv) && reopen(lv) < 0)
		return -ENOTCONN;
	n = virConnectListAllDomains(lv->conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	/* A daemon that went away since the last call (no event loop to see
	 * it go): reopen once and list again. */
	if (n < 0 && lv_conn_down(lv)) {
		if (reopen(lv) < 0)
			return -ENOTCONN;
		n = virConnectListAllDomains(lv->conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	}
	if (n < 0) {
		r = lv_errno();
		lv_err(lv->ctx, "virConnectListAllDomains: %s", virGetLastErrorMessage());
		return r == -ENOMEM ? r : -EIO;
	}
	fresh = calloc((size_t)n + 1, sizeof(*fresh));
	next = calloc((size_t)n + 1, sizeof(*next));
	if (!fresh || !next) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < lv->nr; i++)
		lv->doms[i]->seen = lv->doms[i]->replaced = lv->doms[i]->stale = false;
	for (i = 0; i < (size_t)n; i++) {
		const char *name = virDomainGetName(list[i]);
		struct lv_dom *d, *old;

		r = dom_read(lv, list[i], &d);
		if (r == -ENOMEM)
			goto out;
		if (r == -EBADMSG) {
			lv_warn(lv->ctx, "domain %s: XML not understood, left out", name);
		} else if (r < 0) {
			/* A passing failure (a busy driver, a timeout) must not
			 * make a known domain flap: keep what we knew. */
			old = name ? lv_find(lv, name) : NULL;
			lv_warn(lv->ctx, "domain %s: cannot be read (%s), %s", name,
				strerror(-r), old ? "kept as it was" : "left out");
			if (old)
				old->seen = old->stale = true;
		}
		if (d)
			fresh[nfresh++] = d;
	}
	r = 0;
	qsort(fresh, nfresh, sizeof(*fresh), cmp_doms);

	/* Merge; the table stays as it is (sorted, for lv_find) until the end. */
	for (i = 0; i < nfresh; i++) {
		struct lv_dom *old, *keep;

		if (nnext && !strcmp(next[nnext - 1]->info.name, fresh[i]->info.name)) {
			dom_free(fresh[i]);     /* a name listed twice */
			fresh[i] = NULL;
			continue;
		}
		old = lv_find(lv, fresh[i]->info.name);
		if (old && old->stale) {
			dom_free(fresh[i]);     /* read twice, failed once */
			fresh[i] = NULL;
			continue;
		}
		keep = merge_one(old, fresh[i], &ev);
		fresh[i] = NULL;
		if (old) {
			old->seen = true;
			old->replaced = keep != old;
		}
		next[nnext++] = keep;
	}
	for (i = 0; i < lv->nr; i++)
		if (lv->doms[i]->stale)
			next[nnext++] = lv->doms[i];
	qsort(next, nnext, sizeof(*next), cmp_doms);
	/* Not listed any more: REMOVED.  Replaced by another instance of the
	 * same name: merge_one() queued its REMOVED already. */
	for (i = 0; i < lv->nr; i++) {
		struct lv_dom *d = lv->doms[i];

		if (!d->seen)
			events_push(&ev, MS_LIBVIRT_EVENT_DOMAIN_REMOVED, &d->info);
		if (!d->seen || d->replaced)
			dom_free(d);
	}
	free(lv->doms);
	lv->doms = next;
	lv->nr = nnext;
	lv->cap = (size_t)n + 1;
	next = NULL;
out:
	if (fresh)
		for (i = 0; i < (size_t)n; i++)
			dom_free(fresh[i]);
	free(fresh);
	free(next);
	for (i = 0; i < (size_t)n; i++)
		virDomainFree(list[i]);
	free(list);
	if (r == 0)
		events_dispatch(lv, &ev);
	else
		free(ev.v);
	return r;
}

LV_EXPORT int ms_libvirt_new(struct ms_libvirt **out, const struct ms_libvirt_opts *opts)
{
	struct ms_libvirt *lv;
	virConnectPtr conn;
	const char *uri;
	int r;

	if (!out || !opts_valid(opts))
		return -EINVAL;
	conn = OPTS_GET(opts, conn, NULL);
	uri = OPTS_GET(opts, uri, NULL);
	if (conn && uri)
		return -EINVAL;
	if (OPTS_GET(opts, stats_period_s, 0) < -1)
		return -EINVAL;

	lv = calloc(1, sizeof(*lv));
	if (!lv)
		return -ENOMEM;
	for (int i = 0; i < LV_CB_NR; i++)
		lv->cb_ids[i] = -1;
	lv->ctx = OPTS_GET(opts, ctx, NULL);
	lv->stats_period_s = OPTS_GET(opts, stats_period_s, 0);
	if (lv->stats_period_s == 0)
		lv->stats_period_s = 5;
	lv->event_fn = OPTS_GET(opts, event_fn, NULL);
	lv->userdata = OPTS_GET(opts, userdata, NULL);

	if (conn) {
		if (virConnectRef(conn) < 0) {
			free(lv);
			return -EINVAL;
		}
		lv->conn = conn;
	} else {
		lv->conn = virConnectOpen(uri);
		if (!lv->conn) {
			lv_err(lv->ctx, "cannot open libvirt connection %s: %s",
			       uri ? uri : "(default URI)", virGetLastErrorMessage());
			free(lv);
			return -ECONNREFUSED;
		}
		lv->own_conn = true;
		virConnSetErrorFunc(lv->conn, NULL, lv_swallow_error);
		lv->uri = uri ? strdup(uri) : virConnectGetURI(lv->conn);
		if (!lv->uri) {
			ms_libvirt_free(lv);
			return -ENOMEM;
		}
	}
	if (lv->ctx) {
		char *u = virConnectGetURI(lv->conn);

		lv_dbg(lv->ctx, "libvirt connection %s", u ? u : "?");
		free(u);
	}

	/* Subscribe first: a domain that starts during the listing is then
	 * either listed or announced. */
	close_cb_register(lv);
	events_subscribe(lv);
	r = ms_libvirt_refresh(lv);
	if (r < 0) {
		ms_libvirt_free(lv);
		return r;
	}
	*out = lv;
	return 0;
}

LV_EXPORT void ms_libvirt_free(struct ms_libvirt *lv)
{
	if (!lv)
		return;
	if (lv->conn) {
		events_unsubscribe(lv);
		close_cb_unregister(lv);
	}
	for (size_t i = 0; i < lv->nr; i++)
		dom_free(lv->doms[i]);
	free(lv->doms);
	if (lv->conn)
		virConnectClose(lv->conn);
	free(lv->uri);
	free(lv);
}

LV_EXPORT bool ms_libvirt_events_enabled(struct ms_libvirt *lv)
{
	return lv && lv->events;
}

LV_EXPORT bool ms_libvirt_connected(struct ms_libvirt *lv)
{
	return lv && !lv_conn_down(lv);
}

LV_EXPORT uint64_t ms_libvirt_reconnects(struct ms_libvirt *lv)
{
	return lv ? lv->reconnects : 0;
}

LV_EXPORT virConnectPtr ms_libvirt_get_conn(struct ms_libvirt *lv)
{
	return lv ? lv->conn : NULL;
}

LV_EXPORT size_t ms_libvirt_list(struct ms_libvirt *lv, struct ms_domain_info *out, size_t max)
{
	if (!lv)
		return 0;
	for (size_t i = 0; out && i < lv->nr && i < max; i++)
		out[i] = lv->doms[i]->info;
	return lv->nr;
}

LV_EXPORT int ms_libvirt_domain(struct ms_libvirt *lv, const char *name,
				struct ms_domain_info *out)
{
	struct lv_dom *d;

	if (!lv || !name || !out)
		return -EINVAL;
	d = lv_find(lv, name);
	if (!d)
		return -ENOENT;
	*out = d->info;
	return 0;
}

LV_EXPORT const char *ms_libvirt_find_by_cid(struct ms_libvirt *lv, uint32_t cid)
{
	if (!lv || !cid)
		return NULL;
	for (size_t i = 0; i < lv->nr; i++)
		if (lv->doms[i]->info.vsock_cid == cid)
			return lv->doms[i]->info.name;
	return NULL;
}

LV_EXPORT const char *ms_libvirt_find_by_channel(struct ms_libvirt *lv, const char *path)
{
	if (!lv || !path || !*path)
		return NULL;
	for (size_t i = 0; i < lv->nr; i++)
		if (!strcmp(lv->doms[i]->info.channel_path, path))
			return lv->doms[i]->info.name;
	return NULL;
}
