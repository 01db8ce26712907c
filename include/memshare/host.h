/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host: the host side of the protocol.  One struct ms_host accepts guest
 * agents on one or more listening endpoints, keeps each guest's latest
 * Report, and sends reclaim requests.  It embeds in any event loop:
 *
 *   for (;;) {
 *       struct pollfd p = { ms_host_get_fd(h), POLLIN };
 *       int64_t t = ms_host_get_timeout_us(h);
 *       poll(&p, 1, t < 0 ? -1 : (int)((t + 999) / 1000));
 *       ms_host_process(h);
 *   }
 *
 * Not thread-safe: one handle per thread, or lock outside.
 */
#ifndef MEMSHARE_HOST_H
#define MEMSHARE_HOST_H

#include <memshare/message.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ms_host;

enum ms_host_event_type {
	MS_HOST_EVENT_GUEST_READY = 1,    /* Hello accepted, Welcome sent */
	MS_HOST_EVENT_REPORT,             /* a Report arrived (ev->report) */
	MS_HOST_EVENT_RECLAIM_REPLY,      /* ev->reply */
	MS_HOST_EVENT_GUEST_ERROR,        /* the guest sent Error (ev->error) */
	MS_HOST_EVENT_GUEST_GONE,         /* connection closed (ev->reason) */
};

struct ms_host_event {
	enum ms_host_event_type type;
	uint64_t guest_id;                      /* unique for the host's life */
	const struct ms_hello *hello;           /* always set */
	const struct ms_report *report;         /* REPORT */
	const struct ms_reclaim_reply *reply;   /* RECLAIM_REPLY */
	const struct ms_error *error;           /* GUEST_ERROR */
	const char *reason;                     /* GUEST_GONE: why */
	int err;                                /* GUEST_GONE: negative errno or 0 */
};

/*
 * Event callback; pointers in @ev are valid only during the call.  Events
 * come from ms_host_process(), except GUEST_GONE, which ms_host_reclaim()
 * (the guest's queue overflowed) and ms_host_disconnect() may also raise
 * before they return.
 */
typedef void (*ms_host_event_fn)(struct ms_host *host, const struct ms_host_event *ev,
				 void *userdata);

/* Why a guest's connection ended (ms_host_stats.dropped, and the err of
 * MS_HOST_EVENT_GUEST_GONE says the errno). */
enum ms_host_drop {
	MS_DROP_CLOSED = 0,        /* the guest closed or said Goodbye */
	MS_DROP_PROTOCOL,          /* undecodable frame, message out of order */
	MS_DROP_OVERSIZE,          /* a frame over max_frame_bytes */
	MS_DROP_HELLO_TIMEOUT,     /* no Hello within hello_timeout_ms */
	MS_DROP_FRAME_TIMEOUT,     /* a frame begun, unfinished for frame_timeout_ms */
	MS_DROP_SILENT,            /* nothing for 3 x keepalive_ms */
	MS_DROP_NOT_READING,       /* its output queue filled up */
	MS_DROP_VERSION,           /* no common protocol version */
	MS_DROP_REJECTS,           /* too many invalid reports */
	MS_DROP_HOST,              /* ms_host_disconnect(), host shutting down */
	MS_DROP_IO,                /* a read or write error */
	MS_DROP__COUNT
};

/* ms_host_drop_name - the snake_case name of @reason ("closed",
 * "protocol", "oversize", "hello_timeout", ...; the JSON keys of hostd's
 * status), static storage; "unknown" for a value out of range. */
const char *ms_host_drop_name(enum ms_host_drop reason);

/* Why a Report was rejected (answered with Error, counted, not kept). */
enum ms_report_reject {
	MS_REJECT_MEMTOTAL = 0,    /* MemTotal 0, or over twice the Hello's */
	MS_REJECT_MEMINFO,         /* a meminfo figure above MemTotal */
	MS_REJECT_TIME,            /* mono_us went backwards */
	MS_REJECT_BINS,            /* LRU bins other than the configured edges */
	MS_REJECT_AGE,             /* an LRU age over a century */
	MS_REJECT_LRU_BYTES,       /* more LRU memory than MemTotal */
	MS_REJECT_NODE,            /* a node's slab/shmem/unevictable over MemTotal */
	MS_REJECT__COUNT
};

/* ms_report_reject_name - "memtotal", "meminfo", "time", "bins", "age",
 * "lru_bytes" or "node" for @reason, static storage; "unknown" for a value
 * out of range. */
const char *ms_report_reject_name(enum ms_report_reject reason);

struct ms_host_opts {
	size_t sz;
	/* Logging (the context's sysroot is not used).  NULL: no logs. */
	struct ms_ctx *ctx;
	/* Endpoint to listen on ("unix:/run/memshare.sock", "vsock:-1:5252");
	 * NULL to add listeners later with ms_host_listen(). */
	const char *listen;
	/* Report interval asked of guests in Welcome, ms; 0 = guest's own.
	 * At least 10 (what guests accept), and must leave room under
	 * max_reports_per_s (interval x max >= 1000 ms), else -EINVAL: the
	 * host would drop the reports it asks for. */
	uint32_t report_interval_ms;
	/* Bin edges asked of guests; NULL = guest's default. */
	const uint64_t *bin_edges_ms;
	size_t nr_bin_edges;
	/* Largest frame accepted from a guest; 0 = MS_FRAME_DEFAULT_MAX_BYTES. */
	uint32_t max_frame_bytes;
	/* A guest must send Hello within this many ms; 0 = 5000. */
	uint32_t hello_timeout_ms;
	/* Maximum number of guests connected at once; 0 = 1024. */
	uint32_t max_guests;
	ms_host_event_fn event_fn;
	void *userdata;
	/* A reclaim request unanswered this many ms after its own deadline
	 * (deadline_ms, 0 if none) completes with status -ETIMEDOUT; the
	 * guest's late answer is then dropped.  0 = 60000. */
	uint32_t reclaim_timeout_ms;
	/* Record every frame from and to guests into this file (created or
	 * truncated; format in memshare/trace.h); NULL: no recording.  A
	 * write error stops the recording (logged), not the host. */
	const char *record_path;
	/* Reports accepted per second per guest; more are dropped and
	 * counted (the connection stays).  The Report a guest sends after a
	 * ReclaimResult is not counted.  A guest over 10 times this (at least
	 * 100) within a second is not read for the rest of that second.
	 * 0 = 10. */
	uint32_t max_reports_per_s;
	/* A frame begun must be complete within this many ms (a guest that
	 * drips bytes is cut off); 0 = 10000. */
	uint32_t frame_timeout_ms;
	/* Sent to guests in Config: either side pings after this much silence
	 * and drops the other after 3 times it; 0 = 15000, else at least 100
	 * (-EINVAL below: guests refuse a shorter one). */
	uint32_t keepalive_ms;
	/* A PSI trigger every guest arms (it then also reports when it
	 * fires); NULL: none. */
	const struct ms_psi_trigger_spec *psi_trigger;
	/* Unix peers allowed to be guests (unix and hvsock listeners). */
	enum ms_unix_peer unix_peer;
	uint32_t unix_peer_uid;
	size_t :0;
};

/*
 * ms_host_new - create a host.
 * Returns 0, or -EINVAL (bad options or endpoint syntax, a
 * report_interval_ms the rate limit would cut), the errors of
 * ms_host_listen(), the errno of creating record_path, -ENOMEM.
 */
int ms_host_new(struct ms_host **out, const struct ms_host_opts *opts);

/* ms_host_free - close every connection and listener.  NULL is a no-op. */
void ms_host_free(struct ms_host *host);

/*
 * ms_host_listen - listen on another endpoint: "unix:/path" (a stale
 * socket file is replaced), "unix:@name" (abstract) or "vsock:CID:PORT"
 * (CID -1 = any).
 * Returns 0, -EINVAL (syntax), -EADDRINUSE (someone listens there),
 * -EEXIST (the path exists and is not a socket), -EAFNOSUPPORT (no vsock
 * in this kernel), or another socket errno.
 */
int ms_host_listen(struct ms_host *host, const char *endpoint);

/* ms_host_get_fd - one pollable (POLLIN) fd for the whole host. */
int ms_host_get_fd(struct ms_host *host);

/* ms_host_get_timeout_us - us until ms_host_process() must run even if
 * the fd is quiet (0 = now), or -1 for no deadline. */
int64_t ms_host_get_timeout_us(struct ms_host *host);

/*
 * ms_host_process - accept, read, write and time out without blocking;
 * calls the event callback.  A guest that breaks the protocol is
 * disconnected (GUEST_GONE with the reason); that is not an error here.
 * Returns 0, or a negative errno if the host itself failed (epoll).
 */
int ms_host_process(struct ms_host *host);

/* Basic facts about a connected guest. */
struct ms_guest_info {
	uint64_t guest_id;
	struct ms_hello hello;
	char peer[96];           /* "unix:pid=42,uid=1000", "vsock:cid=3,port=1025",
				  * or the endpoint the host connected to */
	uint32_t vsock_cid;      /* the peer's CID (from the kernel) for vsock
				  * connections: the guest's identity; 0 else */
	uint64_t connected_mono_us;
	uint64_t reports;        /* Reports accepted */
	uint64_t last_report_mono_us; /* host CLOCK_MONOTONIC; 0 if none yet */
	bool reclaim_pending;
	/* Traffic on this connection. */
	uint64_t frames_in;
	uint64_t bytes_in;
	uint64_t frames_out;
	uint64_t bytes_out;
	uint64_t reports_rate_dropped; /* over max_reports_per_s */
	uint64_t reports_invalid;      /* rejected: values out of bounds */
	uint64_t reports_rejected[MS_REJECT__COUNT]; /* ... by reason */
	uint64_t unknown_messages;     /* answered with Error */
	uint64_t sync_bytes_dropped;   /* serial: stale bytes before a marker */
	/* Earlier connections of the same guest (same vsock CID, same
	 * ms_host_connect() endpoint, else same Hello name) in this host's
	 * life: 0 on the first.  Remembered for the last 4096 identities. */
	uint64_t reconnects;
};

/* The host's own counters since ms_host_new(), all guests together; all
 * counts (no units). */
struct ms_host_stats {
	uint64_t accepted;           /* connections accepted or made */
	uint64_t refused_full;       /* max_guests reached */
	uint64_t refused_peer;       /* unix peer not allowed */
	uint64_t dropped[MS_DROP__COUNT]; /* connections closed, by reason */
	uint64_t reports;            /* Reports accepted */
	uint64_t reports_rate_dropped; /* over max_reports_per_s, not read */
	uint64_t reports_invalid;    /* answered with Error, not used ... */
	uint64_t reports_rejected[MS_REJECT__COUNT]; /* ... by reason */
	uint32_t links;              /* ms_host_connect() endpoints */
	uint32_t links_up;           /* ... with a connection now */
};

/* ms_host_get_stats - copy the host's counters (struct ms_host_stats) into
 * @out.  Returns 0, or -EINVAL (@host or @out NULL). */
int ms_host_get_stats(struct ms_host *host, struct ms_host_stats *out);

/*
 * ms_host_connect - keep a connection to a guest that the host reaches
 * (rather than the guest reaching the host):
 *   "serial:/path/chardev.sock"  the host side of a virtio-serial port (the
 *                                QEMU chardev socket, libvirt <channel>);
 *                                sync markers resynchronise the stream
 *   "hvsock:/path/vm.vsock:PORT" Firecracker / Cloud Hypervisor hybrid
 *                                vsock: "CONNECT PORT" to a guest agent
 *                                listening on vsock PORT
 *   "unix:/path", "vsock:CID:PORT" a guest agent listening there
 * The guest still speaks first (Hello).  Closed connections are made again
 * with exponential backoff (100 ms to 30 s, with jitter).
 * Returns 0, -EINVAL (syntax), -EEXIST (already there), -ENOSPC.
 */
int ms_host_connect(struct ms_host *host, const char *endpoint);

/* ms_host_unconnect - stop keeping @endpoint: its guest, if any, is told
 * Goodbye and dropped (MS_DROP_HOST).  0 or -ENOENT. */
int ms_host_unconnect(struct ms_host *host, const char *endpoint);

/*
 * ms_host_list_guests - ids of the guests that completed Hello, oldest
 * first.  Writes at most @max ids; returns how many guests there are
 * (may exceed @max).
 */
size_t ms_host_list_guests(struct ms_host *host, uint64_t *ids, size_t max);

/* ms_host_guest_info - 0, or -ENOENT if no such (ready) guest. */
int ms_host_guest_info(struct ms_host *host, uint64_t guest_id, struct ms_guest_info *out);

/*
 * ms_host_guest_report - the guest's latest Report, or NULL if none yet
 * or no such guest.  Owned by the host; valid until the next
 * ms_host_process() or ms_host_free().
 */
const struct ms_report *ms_host_guest_report(struct ms_host *host, uint64_t guest_id);

/* ms_host_find_guest - id of the ready guest whose Hello name is @name
 * (the newest if several), or 0. */
uint64_t ms_host_find_guest(struct ms_host *host, const char *name);

/*
 * ms_host_reclaim - send a ReclaimRequest.  @req->id is ignored; the
 * host assigns one, returned in @id_out (if not NULL).  The reply arrives
 * as MS_HOST_EVENT_RECLAIM_REPLY: the guest's, or one with status
 * -ETIMEDOUT made by the host after deadline_ms + reclaim_timeout_ms.  A
 * guest that goes away first gives GUEST_GONE instead.
 * Returns 0, -ENOENT (no such guest), -EBUSY (a request is pending on
 * this guest: one at a time), -EINVAL (no kinds, unknown kinds, or FILE /
 * ANON with 0 bytes), -ENOBUFS (guest not reading: it is dropped).
 */
int ms_host_reclaim(struct ms_host *host, uint64_t guest_id,
		    const struct ms_reclaim_request *req, uint64_t *id_out);

/* ms_host_disconnect - say Goodbye and drop a guest.  0 or -ENOENT. */
int ms_host_disconnect(struct ms_host *host, uint64_t guest_id, const char *reason);

#ifdef __cplusplus
}
#endif
#endif
