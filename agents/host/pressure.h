/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The host's own memory state for the policy: MemAvailable, PSI, per-node
 * free memory, and a PSI trigger so that hostd reacts within a second of
 * pressure instead of waiting for its next round.
 */
#ifndef MS_HOSTD_PRESSURE_H
#define MS_HOSTD_PRESSURE_H

#include <stdbool.h>
#include <json-c/json.h>
#include <memshare/memshare.h>

/* Trigger: 100 ms of "some" stall in a 2 s window (2 s: the window an
 * unprivileged trigger may use, and what hostd gets without
 * CAP_SYS_RESOURCE). */
#define PRESSURE_TRIGGER_STALL_US 100000
#define PRESSURE_TRIGGER_WINDOW_US 2000000

struct host_pressure {
	struct ms_ctx *ctx;
	int trigger_fd;          /* the PSI trigger, or -1 */
	int epfd;                /* epoll set holding it for EPOLLPRI, or -1 */
	uint64_t fired;          /* times the trigger fired */
	struct ms_policy_host last;  /* the last sample */
};

/* Arm the trigger (failing to is logged, not fatal). */
void pressure_open(struct host_pressure *hp, struct ms_ctx *ctx);
void pressure_close(struct host_pressure *hp);

/* A pollable (POLLIN) fd that becomes readable when the trigger fires, or -1. */
int pressure_get_fd(struct host_pressure *hp);

/* The fd was readable: account for the event. */
void pressure_ack(struct host_pressure *hp);

/* Read MemTotal/MemAvailable, PSI and per-node memory into hp->last and
 * @out.  0 or -errno (meminfo unreadable). */
int pressure_sample(struct host_pressure *hp, uint64_t now_ms, struct ms_policy_host *out);

json_object *pressure_status(const struct host_pressure *hp);

#endif
