/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * message: the protocol's messages as plain C structs.  The wire format
 * (protobuf-c, docs/protocol.md) stays private; the codec converts.
 */
#ifndef MEMSHARE_MESSAGE_H
#define MEMSHARE_MESSAGE_H

#include <stdbool.h>
#include <memshare/probe.h>
#include <memshare/lru.h>
#include <memshare/reclaim.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Protocol versions this library speaks. */
#define MS_PROTO_VERSION_MIN 1
#define MS_PROTO_VERSION_MAX 1

/* Default and hard limits of one frame (4-byte length + envelope). */
#define MS_FRAME_DEFAULT_MAX_BYTES (64u * 1024u)
#define MS_FRAME_HARD_MAX_BYTES (16u * 1024u * 1024u)

#define MS_NAME_MAX 64         /* guest name, including the NUL */
#define MS_VERSION_STR_MAX 32
#define MS_BOOT_ID_MAX 40
#define MS_ERROR_MESSAGE_MAX 256

/* Capability bits (Hello from the guest, Welcome from the host). */
#define MS_CAP_PSI                      (1ull << 0)
#define MS_CAP_PSI_TRIGGER              (1ull << 1)
#define MS_CAP_MGLRU                    (1ull << 2)
#define MS_CAP_CLASSIC_LRU              (1ull << 3)
#define MS_CAP_MEMCG_RECLAIM            (1ull << 4)
#define MS_CAP_MEMCG_RECLAIM_SWAPPINESS (1ull << 5)
#define MS_CAP_SLAB_RECLAIM             (1ull << 6)
#define MS_CAP_NUMA                     (1ull << 7)
#define MS_CAP_FREE_PAGE_REPORTING      (1ull << 8)

/* Which unix peers are trusted (SO_PEERCRED): by a host for its guests'
 * connections, by a guest for its host. */
enum ms_unix_peer {
	MS_UNIX_PEER_SAME_UID = 0,   /* this process's effective uid (default) */
	MS_UNIX_PEER_ANY,            /* anyone who can reach the socket */
	MS_UNIX_PEER_UID,            /* the configured uid only */
};

/* Guest -> host, first message on every connection. */
struct ms_hello {
	uint32_t proto_min;
	uint32_t proto_max;
	uint64_t capabilities;                /* MS_CAP_* */
	char agent_version[MS_VERSION_STR_MAX];
	char guest_name[MS_NAME_MAX];         /* self-declared; not trusted */
	char boot_id[MS_BOOT_ID_MAX];         /* /proc/sys/kernel/random/boot_id */
	uint64_t page_size_bytes;
	uint64_t mem_total_bytes;             /* /proc/meminfo MemTotal */
};

/* The shortest report interval and keepalive a host may ask for (Welcome,
 * Config), ms: a guest reads its /proc and /sys files for every Report, and
 * the peers ping each other every keepalive.  Shorter is a protocol error. */
#define MS_REPORT_INTERVAL_MIN_MS 10
#define MS_KEEPALIVE_MIN_MS 100

/* Host -> guest, answer to Hello. */
struct ms_welcome {
	uint32_t proto_version;               /* chosen version */
	uint64_t capabilities;                /* host's MS_CAP_* */
	uint32_t report_interval_ms;          /* 0: the guest's own setting;
					       * else >= MS_REPORT_INTERVAL_MIN_MS */
	uint32_t nr_bin_edges;                /* 0: the guest's default */
	uint64_t bin_edges_ms[MS_LRU_MAX_BINS - 1];
};

enum ms_report_reason {
	MS_REPORT_PERIODIC = 0,
	MS_REPORT_PSI_TRIGGER = 1,
	MS_REPORT_AFTER_RECLAIM = 2,
};

/* A PSI trigger the host asks the guest to arm (ms_psi_trigger_open). */
struct ms_psi_trigger_spec {
	uint32_t kind;                        /* enum ms_psi_kind */
	uint64_t stall_us;
	uint64_t window_us;
};

/* Host -> guest, right after Welcome and whenever the host's settings
 * change.  Replaces what Welcome said. */
struct ms_config {
	uint32_t report_interval_ms;          /* 0: the guest's own */
	uint32_t nr_bin_edges;                /* 0: the guest's default */
	uint64_t bin_edges_ms[MS_LRU_MAX_BINS - 1];
	bool has_psi_trigger;
	struct ms_psi_trigger_spec psi_trigger; /* report at once when it fires */
	uint32_t keepalive_ms;                /* ping after this much silence; 0 never;
					       * else >= MS_KEEPALIVE_MIN_MS */
};

/* Guest -> host, every report interval. */
struct ms_report {
	uint64_t mono_us;                     /* guest CLOCK_MONOTONIC, us */
	uint32_t reason;                      /* enum ms_report_reason */
	bool has_psi;
	struct ms_psi psi;                    /* /proc/pressure/memory */
	struct ms_meminfo meminfo;            /* /proc/meminfo */
	struct ms_vmstat vmstat;              /* /proc/vmstat */
	struct ms_lru_summary *lru;           /* NULL if none was built */
};

/* Host -> guest. */
struct ms_reclaim_request {
	uint64_t id;                          /* host-chosen, echoed back */
	uint64_t bytes;
	uint32_t kinds;                       /* MS_RECLAIM_* */
	uint64_t min_age_ms;                  /* only memory idle this long */
	uint32_t deadline_ms;                 /* 0: none */
};

/* Guest -> host. */
struct ms_reclaim_reply {
	uint64_t id;                          /* the request's id */
	struct ms_reclaim_result result;
};

/* Either way: a request or frame the peer could not handle. */
struct ms_error {
	int32_t code;                         /* positive errno, e.g. EPROTO */
	char message[MS_ERROR_MESSAGE_MAX];
};

#ifdef __cplusplus
}
#endif
#endif
