/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest: the guest side of the protocol.  A struct ms_guest connects to
 * the host, says Hello, sends a Report every interval (PSI, meminfo,
 * vmstat, LRU summary of this machine) and executes reclaim requests with
 * the reclaim/ executors.  It reconnects with exponential backoff when the
 * host goes away.  Embeds in any event loop like struct ms_host.
 *
 * Not thread-safe: one handle per thread, or lock outside.
 */
#ifndef MEMSHARE_GUEST_H
#define MEMSHARE_GUEST_H

#include <memshare/message.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ms_guest;

enum ms_guest_event_type {
	MS_GUEST_EVENT_CONNECTED = 1,   /* Welcome received */
	MS_GUEST_EVENT_REPORT_SENT,     /* ev->report */
	MS_GUEST_EVENT_RECLAIM_DONE,    /* ev->request, ev->reply */
	MS_GUEST_EVENT_HOST_ERROR,      /* the host sent Error */
	MS_GUEST_EVENT_DISCONNECTED,    /* ev->reason, ev->err; will reconnect */
};

struct ms_guest_event {
	enum ms_guest_event_type type;
	const struct ms_welcome *welcome;         /* CONNECTED */
	const struct ms_report *report;           /* REPORT_SENT */
	const struct ms_reclaim_request *request; /* RECLAIM_DONE */
	const struct ms_reclaim_reply *reply;     /* RECLAIM_DONE */
	const struct ms_error *error;             /* HOST_ERROR */
	const char *reason;                       /* DISCONNECTED */
	int err;                                  /* DISCONNECTED */
};

typedef void (*ms_guest_event_fn)(struct ms_guest *guest, const struct ms_guest_event *ev,
				  void *userdata);

struct ms_guest_opts {
	size_t sz;
	/* Where to measure and reclaim (sysroot), and logging.  Required. */
	struct ms_ctx *ctx;
	/*
	 * Where the host is (one of connect and listen):
	 *   connect: "unix:/path", "vsock:2:PORT" (2: VMADDR_CID_HOST),
	 *            "serial:/dev/virtio-ports/NAME" (a virtio-serial port;
	 *            a tty is switched to raw mode)
	 *   listen:  "vsock:-1:PORT", "unix:/path": wait for the host to
	 *            connect (hybrid vsock, host-initiated); one host at a time.
	 */
	const char *connect;
	/* Name in Hello: 1..63 bytes of UTF-8 without control characters
	 * (else -EINVAL); NULL = gethostname(). */
	const char *name;
	/* Report interval in ms unless the host's Welcome sets one; 0 = 1000. */
	uint32_t report_interval_ms;
	/* LRU summary source; AUTO by default. */
	enum ms_lru_source lru_source;
	/* cgroup v2 path that memory.reclaim targets; NULL = root. */
	const char *reclaim_memcg;
	/* Reconnect backoff: first and largest delay, ms; 0 = 100 / 30000. */
	uint32_t reconnect_min_ms;
	uint32_t reconnect_max_ms;
	/* Largest frame accepted from the host; 0 = default. */
	uint32_t max_frame_bytes;
	ms_guest_event_fn event_fn;
	void *userdata;
	/* Give up on a connection (and retry with backoff) when no Welcome
	 * arrived this many ms after the connect started; 0 = 5000. */
	uint32_t welcome_timeout_ms;
	/* With MGLRU, run an aging pass (ms_lru_mglru_age) this often, so that
	 * generation ages mean "idle for" (an unpressured kernel never ages on
	 * its own); 0 = 40000 (ages good to about 80 s, enough for a 120 s
	 * cold age), MS_GUEST_NO_AGING = never. */
	uint32_t mglru_aging_ms;
	const char *listen;
	/* Only the host may command: over vsock a listening guest accepts only
	 * host_cid (0 = VMADDR_CID_HOST, 2); over unix only the uid policy
	 * below (default: this process's uid). */
	uint32_t host_cid;
	enum ms_unix_peer host_unix_peer;
	uint32_t host_unix_uid;
	/* Keep at least this much page cache (bytes): a file-only reclaim
	 * request is capped so as not to go below it, and its result says how
	 * much was capped (ms_reclaim_result.capped_bytes); see
	 * ms_reclaim_opts.floor_bytes for requests with anon too.  0: no floor. */
	uint64_t reclaim_floor_bytes;
	size_t :0;
};

#define MS_GUEST_NO_AGING UINT32_MAX

/*
 * ms_guest_new - create a guest and start connecting (non-blocking; the
 * first connect attempt happens in ms_guest_process()), or listening.
 * Returns 0, -EINVAL (missing ctx, none or both of connect and listen, bad
 * syntax, a name that is not 1..63 bytes of text), the errno of listening,
 * -ENOMEM.
 */
int ms_guest_new(struct ms_guest **out, const struct ms_guest_opts *opts);

/* ms_guest_free - send Goodbye if connected and close.  NULL is a no-op. */
void ms_guest_free(struct ms_guest *guest);

int ms_guest_get_fd(struct ms_guest *guest);
int64_t ms_guest_get_timeout_us(struct ms_guest *guest);

/*
 * ms_guest_process - connect/reconnect, read, execute reclaim requests
 * (synchronously: memory.reclaim blocks while the kernel works), run the
 * due MGLRU aging pass, send due reports.  Connection failures schedule a reconnect and are not errors.
 * Returns 0, or a negative errno if the guest itself failed (epoll).
 */
int ms_guest_process(struct ms_guest *guest);

/* ms_guest_is_connected - true once Welcome arrived on this connection. */
bool ms_guest_is_connected(struct ms_guest *guest);

/*
 * ms_guest_build_report - measure this machine into @out as a Report
 * (what the guest sends).  Free with ms_report_clear().
 * Returns 0 or the errors of ms_meminfo_read()/ms_vmstat_read(); missing
 * PSI or LRU support is not an error (has_psi false / lru NULL).
 */
int ms_guest_build_report(struct ms_ctx *ctx, const struct ms_lru_opts *lru_opts,
			  struct ms_report *out);

/* ms_report_clear - free what a Report owns (its LRU summary). */
void ms_report_clear(struct ms_report *report);

/*
 * ms_guest_capabilities - MS_CAP_* bits this machine (sysroot) supports:
 * PSI (/proc/pressure/memory reads) and PSI triggers, MGLRU (lru_gen
 * enabled, debugfs lru_gen readable), classic LRU (always),
 * memory.reclaim (/sys/fs/cgroup/memory.reclaim) and its "swappiness="
 * argument (kernel 6.10+ by /proc/sys/kernel/osrelease), slab reclaim
 * (/proc/sys/vm/drop_caches), NUMA (more than one node), free page
 * reporting (a virtio balloon in /sys/bus/virtio/devices, device 0x0005,
 * whose "features" string has bit 5, VIRTIO_BALLOON_F_REPORTING).
 * 0 for a NULL @ctx.
 */
uint64_t ms_guest_capabilities(struct ms_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
