/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One policy round: gather the host's state, every libvirt domain and every
 * guest agent (matched by vsock CID, or by name), run the policy, carry out
 * its actions (reclaim requests to agents, balloon targets through libvirt).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd.h"
#include "msjson.h"

/* Entries not seen for this many rounds are forgotten. */
#define ENTRY_MAX_IDLE_ROUNDS 100
/* Deadline of a reclaim the policy asks for. */
#define POLICY_RECLAIM_DEADLINE_MS 30000

struct target {
	uint64_t agent_id;           /* 0: no agent */
	char domain[256];            /* "": no libvirt domain */
	struct policy_entry *entry;
};

static struct policy_entry *entry_get(struct hostd *d, const char *key)
{
	struct policy_entry *e;

	for (e = d->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->next = d->entries;
	d->entries = e;
	return e;
}

static void entries_prune(struct hostd *d)
{
	for (struct policy_entry **pp = &d->entries; *pp;) {
		struct policy_entry *e = *pp;

		if (d->rounds - e->seen_round > ENTRY_MAX_IDLE_ROUNDS) {
			*pp = e->next;
			free(e);
		} else {
			pp = &e->next;
		}
	}
}

/* Fill the report-derived fields from the agent's latest report. */
static void from_agent(struct hostd *d, uint64_t agent_id, uint64_t now_us,
		       struct ms_policy_guest *g)
{
	const struct ms_report *rep = ms_host_guest_report(d->host, agent_id);
	struct guest_extra *x = hostd_extra(d, agent_id, false);
	struct ms_guest_info gi;

	if (!rep || ms_host_guest_info(d->host, agent_id, &gi) < 0)
		return;
	g->report_age_ms = gi.last_report_mono_us ? (now_us - gi.last_report_mono_us) / 1000u : 0;
	if (g->report_age_ms > d->conf.params.report_max_age_ms)
		return;
	ms_policy_guest_from_report(g, &d->conf.params, rep, x && x->has_rates ? &x->rates : NULL,
				    gi.hello.capabilities);
}

#if MS_HAVE_LIBVIRT
/*
 * Host nodes a domain's memory sits on when its XML does not pin it
 * (<numatune>): from the QEMU process's /proc/PID/numa_maps, the nodes
 * holding at least a tenth of it.  The PID is in libvirt's pid file
 * (<pid_dir>/<name>.pid, /run/libvirt/qemu by default); 0 if unknown.
 */
static uint64_t qemu_nodeset(struct hostd *d, const char *name)
{
	char path[512];
	uint64_t bytes[64], total = 0, set = 0;
	FILE *f;
	int pid = 0, n;

	snprintf(path, sizeof(path), "%s/%s.pid",
		 d->conf.pid_dir ? d->conf.pid_dir : "/run/libvirt/qemu", name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0)
		return 0;
	n = ms_numa_maps_read(d->ctx, pid, bytes, 64);
	for (int i = 0; i < n; i++)
		total += bytes[i];
	for (int i = 0; i < n && total; i++)
		if (bytes[i] >= total / 10)
			set |= 1ull << i;
	return set;
}
#endif

static void record_action(struct hostd *d, const struct target *t,
			  const struct ms_policy_action *a, int result)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "round", json_object_new_uint64(d->rounds));
	json_object_object_add(o, "guest", json_object_new_string(t->entry->key));
	json_object_object_add(o, "action", json_object_new_string(
				       a->type == MS_POLICY_RECLAIM ? "reclaim" : "balloon"));
	if (a->type == MS_POLICY_RECLAIM)
		json_object_object_add(o, "bytes", json_object_new_uint64(a->bytes));
	else
		json_object_object_add(o, "target_bytes", json_object_new_uint64(a->target_bytes));
	json_object_object_add(o, "reason", json_object_new_string(a->reason ? a->reason : ""));
	json_object_object_add(o, "result", json_object_new_string(
				       d->conf.dry_run ? "dry-run" : result ? strerror(-result) : "ok"));
	if (json_object_array_length(d->recent_actions) >= HOSTD_RECENT_ACTIONS)
		json_object_array_del_idx(d->recent_actions, 0, 1);
	json_object_array_add(d->recent_actions, o);
}

static int execute(struct hostd *d, const struct target *t, const struct ms_policy_action *a,
		   uint64_t now_ms)
{
	struct policy_entry *e = t->entry;
	int r = 0;

	if (a->type == MS_POLICY_RECLAIM) {
		struct ms_reclaim_request req = {
			.bytes = a->bytes, .kinds = a->kinds, .min_age_ms = a->min_age_ms,
			.deadline_ms = POLICY_RECLAIM_DEADLINE_MS,
		};
		uint64_t rid;

		if (d->conf.dry_run) {
			e->state.reclaim_pending = false;
			return 0;
		}
		r = t->agent_id ? ms_host_reclaim(d->host, t->agent_id, &req, &rid) : -ENOTCONN;
		if (r < 0) {
			ms_policy_note_reclaim(&e->state, &d->conf.params, now_ms, r, a->bytes, 0);
			return r;
		}
		e->reclaim_id = rid;
		e->reclaim_agent = t->agent_id;
		e->reclaim_bytes = a->bytes;
		return 0;
	}
	if (d->conf.dry_run)
		return 0;
#if MS_HAVE_LIBVIRT
	if (d->lv && t->domain[0])
		return ms_libvirt_set_balloon(d->lv, t->domain, a->target_bytes);
#endif
	return -EOPNOTSUPP;
}

void balancer_round(struct hostd *d)
{
	uint64_t now_us = hostd_now_us(), now_ms = now_us / 1000u;
	size_t nagents = ms_host_list_guests(d->host, NULL, 0), ndom = 0, n = 0, na;
	struct ms_policy_action *acts = NULL;
	struct ms_policy_guest *gs = NULL;
	struct ms_policy_state *st = NULL;
	struct target *tg = NULL;
	uint64_t *agents = NULL;
	bool *used = NULL;
	struct ms_policy_host host;
#if MS_HAVE_LIBVIRT
	struct ms_domain_info *doms = NULL;
#endif

	d->rounds++;
	d->last_round_ms = now_ms;
	if (pressure_sample(&d->pressure, now_ms, &host) < 0)
		return;
#if MS_HAVE_LIBVIRT
	if (d->lv) {
		/* Sizes move without events on some drivers (and events can be
		 * late): one refresh per round keeps the table honest. */
		if (ms_libvirt_refresh(d->lv) == -ENOTCONN) {
			/* libvirtd away (the library warned once): balloons
			 * cannot move and the table may be stale, so act on
			 * nobody until it is back.  Channels stay connected:
			 * the VMs run on without libvirtd. */
			d->rounds_skipped++;
			ms_ctx_log(d->ctx, MS_LOG_DEBUG, "policy round skipped: libvirt down");
			return;
		}
		ndom = ms_libvirt_list(d->lv, NULL, 0);
		doms = calloc(ndom ? ndom : 1, sizeof(*doms));
		if (!doms)
			return;
		ndom = ms_libvirt_list(d->lv, doms, ndom);
		hostd_sync_channels(d, doms, ndom);
	}
#endif
	agents = calloc(nagents ? nagents : 1, sizeof(*agents));
	used = calloc(nagents ? nagents : 1, sizeof(*used));
	gs = calloc(nagents + ndom + 1, sizeof(*gs));
	st = calloc(nagents + ndom + 1, sizeof(*st));
	tg = calloc(nagents + ndom + 1, sizeof(*tg));
	acts = calloc(2 * (nagents + ndom) + 2, sizeof(*acts));
	if (!agents || !used || !gs || !st || !tg || !acts)
		goto out;
	nagents = ms_host_list_guests(d->host, agents, nagents);

#if MS_HAVE_LIBVIRT
	for (size_t i = 0; i < ndom; i++) {
		const struct ms_domain_info *dom = &doms[i];
		struct ms_policy_guest *g = &gs[n];
		size_t k;

		if (!dom->active)
			continue;
		k = hostd_domain_agent(d, dom, agents, nagents, used);
		if (k < nagents) {
			tg[n].agent_id = agents[k];
			used[k] = true;
		}
		snprintf(tg[n].domain, sizeof(tg[n].domain), "%s", dom->name);
		g->id = n + 1;
		g->has_balloon = dom->has_balloon;
		g->max_bytes = dom->max_bytes;
		g->current_bytes = dom->current_bytes;
		g->floor_bytes = dom->min_guarantee_bytes == MS_UNKNOWN ? 0 : dom->min_guarantee_bytes;
		g->shares = 1.0;
		g->numa_nodeset = dom->numa_nodeset ? dom->numa_nodeset : qemu_nodeset(d, dom->name);
		if (tg[n].agent_id)
			from_agent(d, tg[n].agent_id, now_us, g);
		tg[n].entry = entry_get(d, dom->name);
		if (!tg[n].entry)
			goto out;
		n++;
	}
#endif
	for (size_t k = 0; k < nagents; k++) {
		struct ms_policy_guest *g = &gs[n];
		struct ms_guest_info gi;
		char key[64];

		if (used[k] || ms_host_guest_info(d->host, agents[k], &gi) < 0)
			continue;
		tg[n].agent_id = agents[k];
		g->id = n + 1;
		g->shares = 1.0;
		from_agent(d, agents[k], now_us, g);
		/* No VMM handle: the guest's own size is all we know. */
		g->max_bytes = g->current_bytes = g->total_bytes ? g->total_bytes
			     : gi.hello.mem_total_bytes == MS_UNKNOWN ? 0 : gi.hello.mem_total_bytes;
		snprintf(key, sizeof(key), "agent:%" PRIu64, agents[k]);
		tg[n].entry = entry_get(d, key);
		if (!tg[n].entry)
			goto out;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		st[i] = tg[i].entry->state;
		tg[i].entry->seen_round = d->rounds;
	}

	na = ms_policy_decide(d->policy, &d->conf.params, &host, gs, st, n, acts,
			      2 * (nagents + ndom) + 2);
	for (size_t i = 0; i < n; i++)
		tg[i].entry->state = st[i];
	for (size_t a = 0; a < na; a++) {
		struct target *t = &tg[acts[a].guest_id - 1];
		int r = execute(d, t, &acts[a], now_ms);

		d->actions++;
		record_action(d, t, &acts[a], r);
		if (acts[a].type == MS_POLICY_RECLAIM)
			ms_ctx_log(d->ctx, r < 0 ? MS_LOG_WARNING : MS_LOG_INFO,
				   "policy %s: %s: reclaim %" PRIu64 " bytes: %s%s%s", d->policy->name,
				   t->entry->key, acts[a].bytes, acts[a].reason,
				   d->conf.dry_run ? " (dry run)" : r < 0 ? ": " : "",
				   r < 0 && !d->conf.dry_run ? strerror(-r) : "");
		else
			ms_ctx_log(d->ctx, r < 0 ? MS_LOG_WARNING : MS_LOG_INFO,
				   "policy %s: %s: balloon to %" PRIu64 " bytes: %s%s%s",
				   d->policy->name, t->entry->key, acts[a].target_bytes,
				   acts[a].reason, d->conf.dry_run ? " (dry run)" : r < 0 ? ": " : "",
				   r < 0 && !d->conf.dry_run ? strerror(-r) : "");
	}
	entries_prune(d);
out:
	free(agents);
	free(used);
	free(gs);
	free(st);
	free(tg);
	free(acts);
#if MS_HAVE_LIBVIRT
	free(doms);
#endif
}

bool balancer_on_reply(struct hostd *d, uint64_t guest_id, const struct ms_reclaim_reply *reply)
{
	for (struct policy_entry *e = d->entries; e; e = e->next) {
		if (e->reclaim_id != reply->id || e->reclaim_agent != guest_id)
			continue;
		ms_policy_note_reclaim(&e->state, &d->conf.params, hostd_now_us() / 1000u,
				       reply->result.status, e->reclaim_bytes,
				       reply->result.freed_bytes);
		e->reclaim_id = 0;
		return true;
	}
	return false;
}

void balancer_on_gone(struct hostd *d, uint64_t guest_id)
{
	for (struct policy_entry *e = d->entries; e; e = e->next) {
		if (!e->reclaim_id || e->reclaim_agent != guest_id)
			continue;
		ms_policy_note_reclaim(&e->state, &d->conf.params, hostd_now_us() / 1000u,
				       -ECONNRESET, e->reclaim_bytes, 0);
		e->reclaim_id = 0;
	}
}

void balancer_free(struct hostd *d)
{
	while (d->entries) {
		struct policy_entry *e = d->entries;

		d->entries = e->next;
		free(e);
	}
}
