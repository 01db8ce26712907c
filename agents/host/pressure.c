/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "msjson.h"
#include "pressure.h"

void pressure_open(struct host_pressure *hp, struct ms_ctx *ctx)
{
	struct epoll_event ev = { .events = EPOLLPRI };
	int fd;

	memset(hp, 0, sizeof(*hp));
	hp->ctx = ctx;
	hp->trigger_fd = hp->epfd = -1;
	/* Unknown until the first policy round samples them. */
	hp->last.total_bytes = hp->last.available_bytes = MS_UNKNOWN;
	hp->last.psi_some_avg10 = NAN;
	fd = ms_psi_trigger_open(ctx, NULL, MS_PSI_KIND_SOME, PRESSURE_TRIGGER_STALL_US,
				 PRESSURE_TRIGGER_WINDOW_US);
	if (fd < 0) {
		ms_ctx_log(ctx, MS_LOG_WARNING, "no host PSI trigger (%s): pressure is seen at "
			   "the next policy round only", strerror(-fd));
		return;
	}
	/* The loop polls for POLLIN; PSI signals POLLPRI: an epoll set
	 * watching EPOLLPRI turns it into a readable fd. */
	hp->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev.data.fd = fd;
	if (hp->epfd < 0 || epoll_ctl(hp->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ms_ctx_log(ctx, MS_LOG_WARNING, "PSI trigger: epoll: %s", strerror(errno));
		if (hp->epfd >= 0)
			close(hp->epfd);
		close(fd);
		hp->epfd = -1;
		return;
	}
	hp->trigger_fd = fd;
	ms_ctx_log(ctx, MS_LOG_INFO, "host PSI trigger armed: some %d us per %d us",
		   PRESSURE_TRIGGER_STALL_US, PRESSURE_TRIGGER_WINDOW_US);
}

void pressure_close(struct host_pressure *hp)
{
	if (hp->epfd >= 0)
		close(hp->epfd);
	if (hp->trigger_fd >= 0)
		close(hp->trigger_fd);
	hp->epfd = hp->trigger_fd = -1;
}

int pressure_get_fd(struct host_pressure *hp)
{
	return hp->epfd;
}

void pressure_ack(struct host_pressure *hp)
{
	struct epoll_event ev;

	/* Polling the set consumed the kernel's event already; drain. */
	while (epoll_wait(hp->epfd, &ev, 1, 0) > 0)
		;
	hp->fired++;
}

int pressure_sample(struct host_pressure *hp, uint64_t now_ms, struct ms_policy_host *out)
{
	struct ms_policy_host h;
	struct ms_numa_node *nodes;
	struct ms_meminfo mi;
	struct ms_psi psi;
	size_t nr;
	int r;

	memset(&h, 0, sizeof(h));
	h.now_ms = now_ms;
	h.psi_some_avg10 = NAN;
	r = ms_meminfo_read(hp->ctx, &mi);
	if (r < 0)
		return r;
	h.total_bytes = mi.total_bytes;
	h.available_bytes = mi.available_bytes != MS_UNKNOWN ? mi.available_bytes : mi.free_bytes;
	if (ms_psi_read(hp->ctx, NULL, &psi) == 0)
		h.psi_some_avg10 = psi.some.avg10;
	if (ms_numa_read(hp->ctx, &nodes, &nr) == 0) {
		for (size_t i = 0; i < nr && i < MS_POLICY_MAX_NODES; i++) {
			h.nodes[i].node = nodes[i].node;
			h.nodes[i].total_bytes = nodes[i].meminfo.total_bytes == MS_UNKNOWN
				? 0 : nodes[i].meminfo.total_bytes;
			h.nodes[i].free_bytes = nodes[i].meminfo.free_bytes == MS_UNKNOWN
				? 0 : nodes[i].meminfo.free_bytes;
			h.nr_nodes++;
		}
		free(nodes);
	}
	hp->last = h;
	*out = h;
	return 0;
}

json_object *pressure_status(const struct host_pressure *hp)
{
	json_object *o = json_object_new_object(), *nodes = json_object_new_array();

	json_object_object_add(o, "total_bytes", msj_u64(hp->last.total_bytes));
	json_object_object_add(o, "available_bytes", msj_u64(hp->last.available_bytes));
	json_object_object_add(o, "psi_some_avg10", msj_double(hp->last.psi_some_avg10));
	json_object_object_add(o, "psi_trigger", json_object_new_boolean(hp->trigger_fd >= 0));
	json_object_object_add(o, "psi_trigger_fired", json_object_new_uint64(hp->fired));
	for (uint32_t i = 0; i < hp->last.nr_nodes; i++) {
		json_object *n = json_object_new_object();

		json_object_object_add(n, "node", json_object_new_int(hp->last.nodes[i].node));
		json_object_object_add(n, "total_bytes", json_object_new_uint64(hp->last.nodes[i].total_bytes));
		json_object_object_add(n, "free_bytes", json_object_new_uint64(hp->last.nodes[i].free_bytes));
		json_object_array_add(nodes, n);
	}
	json_object_object_add(o, "nodes", nodes);
	return o;
}
