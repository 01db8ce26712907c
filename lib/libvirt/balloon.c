/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The balloon: statistics (virDomainMemoryStats, with the stats period kept
 * alive by virDomainSetMemoryStatsPeriod) and the target
 * (virDomainSetMemoryFlags LIVE).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lv-internal.h"

/* KiB from libvirt to bytes; a KiB figure too big for bytes is unknown. */
static uint64_t kib_to_bytes(unsigned long long kib)
{
	return kib > UINT64_MAX / 1024 ? MS_UNKNOWN : (uint64_t)kib * 1024u;
}

static void stats_fill(struct ms_balloon_stats *out, const virDomainMemoryStatStruct *st, int n)
{
	out->actual_bytes = MS_UNKNOWN;
	out->guest_free_bytes = MS_UNKNOWN;
	out->guest_total_bytes = MS_UNKNOWN;
	out->guest_usable_bytes = MS_UNKNOWN;
	out->disk_caches_bytes = MS_UNKNOWN;
	out->rss_bytes = MS_UNKNOWN;
	out->swap_in_bytes = MS_UNKNOWN;
	out->swap_out_bytes = MS_UNKNOWN;
	out->major_faults = MS_UNKNOWN;
	out->minor_faults = MS_UNKNOWN;
	out->last_update_s = MS_UNKNOWN;
	out->hugetlb_pgalloc = MS_UNKNOWN;
	out->hugetlb_pgfail = MS_UNKNOWN;

	for (int i = 0; i < n; i++) {
		unsigned long long v = st[i].val;

		switch (st[i].tag) {
		case VIR_DOMAIN_MEMORY_STAT_SWAP_IN:
			out->swap_in_bytes = kib_to_bytes(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_SWAP_OUT:
			out->swap_out_bytes = kib_to_bytes(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_MAJOR_FAULT:
			out->major_faults = v;
			break;
		case VIR_DOMAIN_MEMORY_STAT_MINOR_FAULT:
			out->minor_faults = v;
			break;
		case VIR_DOMAIN_MEMORY_STAT_UNUSED:
			out->guest_free_bytes = kib_to_bytes(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_AVAILABLE:
			out->guest_total_bytes = kib_to_bytes(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_ACTUAL_BALLOON:
			out->actual_bytes = kib_to_bytes(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_RSS:
			out->rss_bytes = kib_to_bytes(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_USABLE:
			out->guest_usable_bytes = kib_to_bytes(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_LAST_UPDATE:
			out->last_update_s = v;
			break;
		case VIR_DOMAIN_MEMORY_STAT_DISK_CACHES:
			out->disk_caches_bytes = kib_to_bytes(v);
			break;
		case VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGALLOC:
			out->hugetlb_pgalloc = v;
			break;
		case VIR_DOMAIN_MEMORY_STAT_HUGETLB_PGFAIL:
			out->hugetlb_pgfail = v;
			break;
		default:
			break;          /* a tag newer than this build */
		}
	}
}

/*
 * qemu only polls the guest's balloon statistics when a period is set, and
 * loses that setting in some cases (a restart of the balloon driver in the
 * guest): re-arm it when the figures are missing or older than 3 periods,
 * at most once per 3 periods.
 */
static void stats_keep_alive(struct ms_libvirt *lv, struct lv_dom *d, uint64_t last_update_s)
{
	uint32_t period = d->info.stats_period_s;
	uint64_t want = (uint64_t)lv->stats_period_s, now, every;
	time_t wall = time(NULL);
	bool stale;

	if (lv->stats_period_s < 0 || !d->info.has_balloon)
		return;
	/* A LAST_UPDATE in the future (a guest clock ahead) is not stale. */
	stale = !period || last_update_s == MS_UNKNOWN ||
		(wall >= 0 && (uint64_t)wall > last_update_s &&
		 (uint64_t)wall - last_update_s > 3ull * period);
	if (!stale)
		return;
	now = lv_now_mono_s();
	every = 3ull * (period > want ? period : want);
	if (d->period_set_s && now - d->period_set_s < every)
		return;
	/* A guest without a balloon driver never updates them: say so once,
	 * then only at debug level. */
	ms_ctx_log(lv->ctx, d->period_set_s ? MS_LOG_DEBUG : MS_LOG_INFO,
		   "domain %s: balloon stats %s, setting the stats period to %llu s",
		   d->info.name, period ? "stale" : "period is 0", (unsigned long long)want);
	d->period_set_s = now;
	if (virDomainSetMemoryStatsPeriod(d->dom, (int)want, VIR_DOMAIN_AFFECT_LIVE) < 0)
		lv_warn(lv->ctx, "domain %s: virDomainSetMemoryStatsPeriod: %s", d->info.name,
			virGetLastErrorMessage());
	/* The table learns the new period from the live XML at the next
	 * refresh (or event), which raises CHANGED for it. */
}

LV_EXPORT int ms_libvirt_balloon_stats(struct ms_libvirt *lv, const char *name,
				       struct ms_balloon_stats *out)
{
	virDomainMemoryStatStruct st[VIR_DOMAIN_MEMORY_STAT_NR];
	struct ms_balloon_stats s;
	struct lv_dom *d;
	int n;

	if (!lv || !name || !out)
		return -EINVAL;
	if (lv_conn_down(lv))
		return -ENOTCONN;
	d = lv_find(lv, name);
	if (!d)
		return -ENOENT;
	n = virDomainMemoryStats(d->dom, st, VIR_DOMAIN_MEMORY_STAT_NR, 0);
	if (n < 0) {
		int r = lv_dom_error(lv, d, "virDomainMemoryStats");

		return r == -EINVAL ? -EIO : r;
	}
	if (n > VIR_DOMAIN_MEMORY_STAT_NR)
		n = VIR_DOMAIN_MEMORY_STAT_NR;
	stats_fill(&s, st, n);
	stats_keep_alive(lv, d, s.last_update_s);
	*out = s;
	return 0;
}

LV_EXPORT int ms_libvirt_set_balloon(struct ms_libvirt *lv, const char *name, uint64_t target_bytes)
{
	uint64_t kib = target_bytes / 1024, bytes = kib * 1024, max;
	struct lv_dom *d;
	virDomainInfo vi;

	if (!lv || !name)
		return -EINVAL;
	if (lv_conn_down(lv))
		return -ENOTCONN;
	d = lv_find(lv, name);
	if (!d)
		return -ENOENT;
	if (!d->info.has_balloon) {
		lv_err(lv->ctx, "domain %s: no balloon device (memballoon model '%s')",
		       name, d->info.balloon_model[0] ? d->info.balloon_model : "absent");
		return -EOPNOTSUPP;
	}
	if (virDomainGetInfo(d->dom, &vi) < 0) {
		int r = lv_dom_error(lv, d, "virDomainGetInfo");

		return r == -EINVAL ? -EIO : r;
	}
	if (vi.state == VIR_DOMAIN_SHUTOFF || vi.state == VIR_DOMAIN_CRASHED) {
		lv_info(lv->ctx, "domain %s: not running any more", name);
		return -ENOENT;
	}
	max = (uint64_t)vi.maxMem * 1024u;
	if (!kib || bytes > max || kib > ULONG_MAX) {
		lv_err(lv->ctx, "domain %s: balloon target %llu bytes is outside 1 KiB..%llu (maximum)",
		       name, (unsigned long long)bytes, (unsigned long long)max);
		return -ERANGE;
	}
	if (d->info.min_guarantee_bytes != MS_UNKNOWN && bytes < d->info.min_guarantee_bytes) {
		lv_err(lv->ctx, "domain %s: balloon target %llu bytes is below min_guarantee %llu",
		       name, (unsigned long long)bytes,
		       (unsigned long long)d->info.min_guarantee_bytes);
		return -ERANGE;
	}
	if (virDomainSetMemoryFlags(d->dom, (unsigned long)kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
		int r = lv_dom_error(lv, d, "virDomainSetMemoryFlags");

		/* The size is the only argument a driver can find invalid. */
		return r == -EINVAL ? -ERANGE : r;
	}
	lv_dbg(lv->ctx, "domain %s: balloon target %llu KiB", name, (unsigned long long)kib);
	/* Keep the table's size current: drivers that report the change at
	 * once (test, and qemu once the guest moved the balloon) need no
	 * event or refresh for the next ms_libvirt_list() to see it. */
	if (virDomainGetInfo(d->dom, &vi) == 0)
		d->info.current_bytes = (uint64_t)vi.memory * 1024u;
	return 0;
}
