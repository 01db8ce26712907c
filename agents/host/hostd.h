/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* memshare-hostd's shared state. */
#ifndef MS_HOSTD_H
#define MS_HOSTD_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include <memshare/memshare.h>
#if MS_HAVE_LIBVIRT
#include <memshare/libvirt.h>
#endif

#include "conf.h"
#include "control.h"
#include "loop.h"
#include "pressure.h"

/* What hostd adds to each connected guest agent. */
struct guest_extra {
	struct guest_extra *next;
	uint64_t guest_id;
	struct ms_sample prev, cur;
	int nr_samples;
	struct ms_rates rates;
	bool has_rates;
	json_object *last_reclaim;
	uint64_t psi_trigger_reports;  /* Reports sent because its trigger fired */
	json_object *last_error;       /* the last Error it sent: {code, message} */
	uint64_t errors;               /* Errors it sent */
};

/* A reclaim asked for through the control socket, waiting for its reply. */
struct pending_reclaim {
	struct pending_reclaim *next;
	uint64_t reclaim_id;
	uint64_t guest_id;
	uint64_t client_id;
	uint64_t sent_us;
	uint64_t asked_bytes;         /* what hostd asked, not what the guest says */
};

/* The policy's memory of one guest, kept across rounds (key: the libvirt
 * domain name, or "agent:<id>" for an agent without a domain). */
struct policy_entry {
	struct policy_entry *next;
	char key[272];
	struct ms_policy_state state;
	uint64_t reclaim_id;          /* policy reclaim in flight, or 0 */
	uint64_t reclaim_agent;       /* ... sent to this guest agent */
	uint64_t reclaim_bytes;
	uint64_t seen_round;
};

#define HOSTD_RECENT_ACTIONS 32

struct hostd {
	struct hostd_conf conf;
	struct ms_ctx *ctx;
	struct ms_host *host;
	struct control *ctl;
	struct loop *loop;
	struct host_pressure pressure;
	struct guest_extra *extras;
	struct pending_reclaim *pending;
	const struct ms_policy_ops *policy;
	struct policy_entry *entries;
	uint64_t rounds;
	uint64_t rounds_skipped;      /* libvirt connection down: no action */
	uint64_t actions;
	uint64_t next_round_ms;
	uint64_t last_round_ms;
	json_object *recent_actions;  /* array, newest last */
#if MS_HAVE_LIBVIRT
	struct ms_libvirt *lv;
#endif
	char **channels;              /* "serial:PATH" of domains, kept by hostd */
	size_t nr_channels;
	uint64_t started_us;
	double peer_log_tokens;       /* arrival/departure lines (peer_line_ok) */
	uint64_t peer_log_us;
	uint64_t peer_log_dropped;
	int stop_signal;
};

uint64_t hostd_now_us(void);
struct guest_extra *hostd_extra(struct hostd *d, uint64_t guest_id, bool create);

/* balancer.c: run a policy round now; tell it about replies and departures. */
void balancer_round(struct hostd *d);
/* Returns true if @reply answered a request of the policy. */
bool balancer_on_reply(struct hostd *d, uint64_t guest_id, const struct ms_reclaim_reply *reply);
void balancer_on_gone(struct hostd *d, uint64_t guest_id);
void balancer_free(struct hostd *d);

#if MS_HAVE_LIBVIRT
/* domains.c: the index in @ids of @dom's agent (by vsock CID, by its
 * virtio-serial channel, else by Hello name), skipping used[k]; @n if none. */
size_t hostd_domain_agent(struct hostd *d, const struct ms_domain_info *dom,
			  const uint64_t *ids, size_t n, const bool *used);
/* Keep a connection to the channel of every running domain in @doms that
 * has one (conf.connect_channels), drop those of the others. */
void hostd_sync_channels(struct hostd *d, const struct ms_domain_info *doms, size_t n);
void hostd_channels_free(struct hostd *d);
#endif

/* status.c: the control socket's "status" answer. */
json_object *status_json(struct hostd *d);

#endif
