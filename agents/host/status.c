/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The control socket's "status": host, guest agents, libvirt domains, policy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"
#include "msjson.h"

static json_object *traffic_json(const struct ms_guest_info *gi)
{
	json_object *t = json_object_new_object();

	json_object_object_add(t, "frames_in", json_object_new_uint64(gi->frames_in));
	json_object_object_add(t, "bytes_in", json_object_new_uint64(gi->bytes_in));
	json_object_object_add(t, "frames_out", json_object_new_uint64(gi->frames_out));
	json_object_object_add(t, "bytes_out", json_object_new_uint64(gi->bytes_out));
	return t;
}

/* Reports rejected by reason (ms_report_reject_name()) plus the other
 * frames the host refused on this connection. */
static json_object *reject_counts(const uint64_t *by_reason)
{
	json_object *r = json_object_new_object();

	for (int i = 0; i < MS_REJECT__COUNT; i++)
		json_object_object_add(r, ms_report_reject_name((enum ms_report_reject)i),
				       json_object_new_uint64(by_reason[i]));
	return r;
}

static json_object *rejected_json(const struct ms_guest_info *gi)
{
	json_object *r = json_object_new_object();

	json_object_object_add(r, "reports_invalid", json_object_new_uint64(gi->reports_invalid));
	json_object_object_add(r, "reports_by_reason", reject_counts(gi->reports_rejected));
	json_object_object_add(r, "reports_rate_limited",
			       json_object_new_uint64(gi->reports_rate_dropped));
	json_object_object_add(r, "unknown_messages", json_object_new_uint64(gi->unknown_messages));
	json_object_object_add(r, "sync_bytes_dropped",
			       json_object_new_uint64(gi->sync_bytes_dropped));
	return r;
}

/* The host session's counters since hostd started. */
static json_object *agents_json(struct hostd *d)
{
	json_object *o = json_object_new_object(), *dropped = json_object_new_object();
	struct ms_host_stats st;

	if (ms_host_get_stats(d->host, &st) < 0) {
		json_object_put(dropped);
		return o;
	}
	json_object_object_add(o, "accepted", json_object_new_uint64(st.accepted));
	json_object_object_add(o, "refused_full", json_object_new_uint64(st.refused_full));
	json_object_object_add(o, "refused_peer", json_object_new_uint64(st.refused_peer));
	for (int i = 0; i < MS_DROP__COUNT; i++)
		json_object_object_add(dropped, ms_host_drop_name((enum ms_host_drop)i),
				       json_object_new_uint64(st.dropped[i]));
	json_object_object_add(o, "dropped", dropped);
	json_object_object_add(o, "reports", json_object_new_uint64(st.reports));
	json_object_object_add(o, "reports_rate_limited",
			       json_object_new_uint64(st.reports_rate_dropped));
	json_object_object_add(o, "reports_invalid", json_object_new_uint64(st.reports_invalid));
	json_object_object_add(o, "reports_by_reason", reject_counts(st.reports_rejected));
	json_object_object_add(o, "links", json_object_new_uint64(st.links));
	json_object_object_add(o, "links_up", json_object_new_uint64(st.links_up));
	return o;
}

static json_object *guest_json(struct hostd *d, uint64_t id)
{
	const struct ms_report *rep = ms_host_guest_report(d->host, id);
	struct guest_extra *x = hostd_extra(d, id, false);
	struct ms_guest_info gi;
	uint64_t now = hostd_now_us();
	json_object *o;

	if (ms_host_guest_info(d->host, id, &gi) < 0)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_uint64(gi.guest_id));
	json_object_object_add(o, "name", json_object_new_string(gi.hello.guest_name));
	json_object_object_add(o, "peer", json_object_new_string(gi.peer));
	json_object_object_add(o, "vsock_cid", gi.vsock_cid ? json_object_new_uint64(gi.vsock_cid) : NULL);
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
	json_object_object_add(o, "reconnects", json_object_new_uint64(gi.reconnects));
	json_object_object_add(o, "traffic", traffic_json(&gi));
	json_object_object_add(o, "rejected", rejected_json(&gi));
	json_object_object_add(o, "report", rep ? msj_report(rep) : NULL);
	json_object_object_add(o, "rates", x && x->has_rates ? msj_rates(&x->rates) : NULL);
	json_object_object_add(o, "last_reclaim", x && x->last_reclaim ?
			       json_object_get(x->last_reclaim) : NULL);
	json_object_object_add(o, "psi_trigger_reports",
			       json_object_new_uint64(x ? x->psi_trigger_reports : 0));
	json_object_object_add(o, "errors", json_object_new_uint64(x ? x->errors : 0));
	json_object_object_add(o, "last_error", x && x->last_error ?
			       json_object_get(x->last_error) : NULL);
	return o;
}

#if MS_HAVE_LIBVIRT
/* The libvirt connection: its URI, whether it is up, how often it came back. */
static json_object *libvirt_json(struct hostd *d)
{
	json_object *o = json_object_new_object();
	char *uri = virConnectGetURI(ms_libvirt_get_conn(d->lv));

	json_object_object_add(o, "uri", json_object_new_string(uri ? uri : "?"));
	free(uri);
	json_object_object_add(o, "connected", json_object_new_boolean(ms_libvirt_connected(d->lv)));
	json_object_object_add(o, "reconnects", json_object_new_uint64(ms_libvirt_reconnects(d->lv)));
	return o;
}

static json_object *domain_json(struct hostd *d, const struct ms_domain_info *dom)
{
	json_object *o = json_object_new_object(), *w = json_object_new_array();
	json_object *b = json_object_new_object();
	struct ms_balloon_stats bs;
	const char *agent = NULL;
	uint64_t agent_id = 0;

	/* Which connected agent is this domain's (same rule as the policy). */
	{
		size_t n = ms_host_list_guests(d->host, NULL, 0), k;
		uint64_t *ids = calloc(n ? n : 1, sizeof(*ids));

		n = ids ? ms_host_list_guests(d->host, ids, n) : 0;
		k = hostd_domain_agent(d, dom, ids, n, NULL);
		if (k < n) {
			agent_id = ids[k];
			agent = "connected";
		}
		free(ids);
	}
	json_object_object_add(o, "name", json_object_new_string(dom->name));
	json_object_object_add(o, "uuid", json_object_new_string(dom->uuid));
	json_object_object_add(o, "active", json_object_new_boolean(dom->active));
	json_object_object_add(o, "vsock_cid", dom->vsock_cid ? json_object_new_uint64(dom->vsock_cid) : NULL);
	json_object_object_add(o, "channel_path", dom->channel_path[0]
			       ? json_object_new_string(dom->channel_path) : NULL);
	json_object_object_add(o, "agent", json_object_new_string(agent ? agent : "not connected"));
	json_object_object_add(o, "agent_id", agent_id ? json_object_new_uint64(agent_id) : NULL);
	json_object_object_add(b, "model", json_object_new_string(dom->balloon_model));
	json_object_object_add(b, "current_bytes", json_object_new_uint64(dom->current_bytes));
	json_object_object_add(b, "max_bytes", json_object_new_uint64(dom->max_bytes));
	json_object_object_add(b, "min_guarantee_bytes", msj_u64(dom->min_guarantee_bytes));
	json_object_object_add(b, "stats_period_s", json_object_new_uint64(dom->stats_period_s));
	json_object_object_add(b, "autodeflate", json_object_new_boolean(dom->autodeflate));
	json_object_object_add(b, "free_page_reporting",
			       json_object_new_boolean(dom->free_page_reporting));
	json_object_object_add(o, "balloon", b);
	if (dom->active && ms_libvirt_balloon_stats(d->lv, dom->name, &bs) == 0) {
		json_object *s = json_object_new_object();

		json_object_object_add(s, "actual_bytes", msj_u64(bs.actual_bytes));
		json_object_object_add(s, "guest_free_bytes", msj_u64(bs.guest_free_bytes));
		json_object_object_add(s, "guest_total_bytes", msj_u64(bs.guest_total_bytes));
		json_object_object_add(s, "guest_usable_bytes", msj_u64(bs.guest_usable_bytes));
		json_object_object_add(s, "disk_caches_bytes", msj_u64(bs.disk_caches_bytes));
		json_object_object_add(s, "rss_bytes", msj_u64(bs.rss_bytes));
		json_object_object_add(s, "swap_in_bytes", msj_u64(bs.swap_in_bytes));
		json_object_object_add(s, "swap_out_bytes", msj_u64(bs.swap_out_bytes));
		json_object_object_add(s, "major_faults", msj_u64(bs.major_faults));
		json_object_object_add(s, "minor_faults", msj_u64(bs.minor_faults));
		json_object_object_add(s, "last_update_s", msj_u64(bs.last_update_s));
		json_object_object_add(o, "stats", s);
	} else {
		json_object_object_add(o, "stats", NULL);
	}
	for (unsigned bit = 1; bit; bit <<= 1)
		if (dom->warnings & bit && ms_domain_warning_name(bit))
			json_object_array_add(w, json_object_new_string(ms_domain_warning_name(bit)));
	json_object_object_add(o, "warnings", w);
	return o;
}
#endif

json_object *status_json(struct hostd *d)
{
	json_object *o = json_object_new_object(), *guests = json_object_new_array();
	json_object *pol = json_object_new_object();
	size_t n = ms_host_list_guests(d->host, NULL, 0);
	uint64_t *ids = calloc(n ? n : 1, sizeof(*ids));

	n = ids ? ms_host_list_guests(d->host, ids, n) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *g = guest_json(d, ids[i]);

		if (g)
			json_object_array_add(guests, g);
	}
	free(ids);
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "version", json_object_new_string(ms_version()));
	json_object_object_add(o, "uptime_ms",
			       json_object_new_uint64((hostd_now_us() - d->started_us) / 1000u));
	json_object_object_add(o, "host", pressure_status(&d->pressure));
	if (d->conf.has_guest_trigger) {
		char spec[64];

		snprintf(spec, sizeof(spec), "%s %llu %llu",
			 d->conf.guest_trigger.kind == MS_PSI_KIND_FULL ? "full" : "some",
			 (unsigned long long)d->conf.guest_trigger.stall_us,
			 (unsigned long long)d->conf.guest_trigger.window_us);
		json_object_object_add(o, "guest_psi_trigger", json_object_new_string(spec));
	} else {
		json_object_object_add(o, "guest_psi_trigger", NULL);
	}
	json_object_object_add(pol, "name", json_object_new_string(d->policy->name));
	json_object_object_add(pol, "dry_run", json_object_new_boolean(d->conf.dry_run));
	json_object_object_add(pol, "interval_ms", json_object_new_uint64(d->conf.params.interval_ms));
	json_object_object_add(pol, "rounds", json_object_new_uint64(d->rounds));
	json_object_object_add(pol, "rounds_skipped", json_object_new_uint64(d->rounds_skipped));
	json_object_object_add(pol, "actions", json_object_new_uint64(d->actions));
	json_object_object_add(pol, "recent_actions", json_object_get(d->recent_actions));
	json_object_object_add(o, "policy", pol);
	json_object_object_add(o, "agents", agents_json(d));
	json_object_object_add(o, "guests", guests);
#if MS_HAVE_LIBVIRT
	if (d->lv) {
		json_object *doms = json_object_new_array();
		size_t nd = ms_libvirt_list(d->lv, NULL, 0);
		struct ms_domain_info *di = calloc(nd ? nd : 1, sizeof(*di));

		nd = di ? ms_libvirt_list(d->lv, di, nd) : 0;
		for (size_t i = 0; i < nd; i++)
			json_object_array_add(doms, domain_json(d, &di[i]));
		free(di);
		json_object_object_add(o, "domains", doms);
		json_object_object_add(o, "libvirt", libvirt_json(d));
	} else {
		json_object_object_add(o, "domains", NULL);
		json_object_object_add(o, "libvirt", NULL);
	}
#else
	json_object_object_add(o, "domains", NULL);
	json_object_object_add(o, "libvirt", NULL);
#endif
	return o;
}
