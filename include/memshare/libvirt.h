/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemshare-libvirt: the host's VMs as libvirt sees them.  Domain
 * discovery and lifecycle, the identity of each domain's guest agent
 * (vsock CID, or the host side of its virtio-serial channel), and the
 * balloon: size, target and statistics.
 *
 * A separate library (pkg-config memshare-libvirt, libmemshare-libvirt.so.0)
 * so that a guest never pulls libvirt in.
 *
 * Events: lifecycle events arrive through libvirt's event loop, which the
 * caller owns.  Register an implementation before ms_libvirt_new()
 * (virEventRegisterDefaultImpl() and run virEventRunDefaultImpl() in your
 * loop, or your own via virEventRegisterImpl()); without one, call
 * ms_libvirt_refresh() periodically instead.
 *
 * Not thread-safe: one handle per thread, or lock outside.
 */
#ifndef MEMSHARE_LIBVIRT_H
#define MEMSHARE_LIBVIRT_H

#include <stdbool.h>
#include <libvirt/libvirt.h>
#include <memshare/ctx.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the virtio-serial channel the guest agent uses (target name). */
#define MS_LIBVIRT_CHANNEL_NAME "org.memshare.0"

/* Reasons balancing a domain would not work well (ms_domain_info.warnings). */
#define MS_DOMAIN_WARN_NO_BALLOON        (1u << 0) /* no <memballoon>, or model='none' */
#define MS_DOMAIN_WARN_NO_STATS_PERIOD   (1u << 1) /* balloon stats period is 0 */
#define MS_DOMAIN_WARN_NO_FREE_PAGE_REPORTING (1u << 2) /* freePageReporting off */
#define MS_DOMAIN_WARN_NO_AUTODEFLATE    (1u << 3) /* autodeflate off: no deflate on guest OOM */
#define MS_DOMAIN_WARN_NO_AGENT_CHANNEL  (1u << 4) /* neither a vsock CID nor the channel */

/* "no balloon device", ... for bit @warning (one bit), or NULL. */
const char *ms_domain_warning_name(unsigned warning);

struct ms_domain_info {
	char name[256];
	char uuid[VIR_UUID_STRING_BUFLEN];
	int32_t id;                  /* libvirt domain id, -1 when inactive */
	bool active;
	/* Guest agent identity, from the domain XML. */
	uint32_t vsock_cid;          /* <devices><vsock><cid address=...>; 0: none */
	char channel_path[108];      /* <channel type='unix'> source path of the
				      * virtio target named MS_LIBVIRT_CHANNEL_NAME */
	/* Balloon device: <devices><memballoon model=... autodeflate=...
	 * freePageReporting=...><stats period=.../>. */
	bool has_balloon;
	char balloon_model[32];      /* "virtio", "none", ... ("" if no element) */
	bool autodeflate;
	bool free_page_reporting;
	uint32_t stats_period_s;     /* from the XML; 0 if not set */
	/* Sizes in bytes: virDomainGetInfo() maxMem and memory (libvirt's KiB
	 * x 1024); memory is the balloon's current size. */
	uint64_t max_bytes;
	uint64_t current_bytes;
	/* <memtune><min_guarantee> in bytes; MS_UNKNOWN if not set. */
	uint64_t min_guarantee_bytes;
	/* <numatune><memory nodeset=...>: bit n = host NUMA node n (nodes
	 * 0..63); 0 if the domain has no numatune (any node). */
	uint64_t numa_nodeset;
	uint32_t warnings;           /* MS_DOMAIN_WARN_* */
};

/*
 * Balloon statistics (virDomainMemoryStats), in bytes (libvirt reports KiB)
 * or counts; MS_UNKNOWN where the domain did not report the tag.  A domain
 * without a balloon reports only rss.  Mind libvirt's names:
 * VIR_DOMAIN_MEMORY_STAT_UNUSED is the guest's *free* memory,
 * _AVAILABLE the guest's *total* memory, _USABLE its MemAvailable.
 */
struct ms_balloon_stats {
	uint64_t actual_bytes;       /* ACTUAL_BALLOON: current balloon size */
	uint64_t guest_free_bytes;   /* UNUSED */
	uint64_t guest_total_bytes;  /* AVAILABLE */
	uint64_t guest_usable_bytes; /* USABLE (MemAvailable) */
	uint64_t disk_caches_bytes;  /* DISK_CACHES */
	uint64_t rss_bytes;          /* RSS of the VM process on the host */
	uint64_t swap_in_bytes;      /* SWAP_IN */
	uint64_t swap_out_bytes;     /* SWAP_OUT */
	uint64_t major_faults;       /* MAJOR_FAULT, count */
	uint64_t minor_faults;       /* MINOR_FAULT, count */
	uint64_t last_update_s;      /* LAST_UPDATE, seconds since the epoch */
};

enum ms_libvirt_event_type {
	MS_LIBVIRT_EVENT_DOMAIN_ADDED = 1,   /* started (or first seen running) */
	MS_LIBVIRT_EVENT_DOMAIN_REMOVED,     /* stopped, crashed or undefined */
	MS_LIBVIRT_EVENT_DOMAIN_CHANGED,     /* XML or balloon changed */
};

struct ms_libvirt;

typedef void (*ms_libvirt_event_fn)(struct ms_libvirt *lv, enum ms_libvirt_event_type type,
				    const struct ms_domain_info *domain, void *userdata);

struct ms_libvirt_opts {
	size_t sz;
	/* Logging; NULL: none. */
	struct ms_ctx *ctx;
	/* Either an open connection (borrowed: a reference is taken and
	 * dropped in ms_libvirt_free) or a URI to open ("qemu:///system",
	 * "test:///default").  Both NULL: libvirt's default URI. */
	virConnectPtr conn;
	const char *uri;
	/* When a domain's stats period is 0 (or its stats are older than
	 * 3 periods), set it to this many seconds with
	 * virDomainSetMemoryStatsPeriod(LIVE); 0 = 5, -1 = never touch. */
	int32_t stats_period_s;
	ms_libvirt_event_fn event_fn;
	void *userdata;
	size_t :0;
};

/*
 * ms_libvirt_new - connect, list the active domains, and subscribe to
 * lifecycle events (if an event implementation is registered).
 * Returns 0, -EINVAL, -ECONNREFUSED (cannot open the URI; the log has
 * libvirt's message), -ENOMEM.
 */
int ms_libvirt_new(struct ms_libvirt **out, const struct ms_libvirt_opts *opts);
void ms_libvirt_free(struct ms_libvirt *lv);

/* The connection (borrowed). */
virConnectPtr ms_libvirt_get_conn(struct ms_libvirt *lv);

/*
 * ms_libvirt_refresh - re-list active domains and re-read their XML and
 * info, raising ADDED / REMOVED / CHANGED events for the differences.
 * Returns 0 or -EIO (libvirt failed; the log has its message).
 */
int ms_libvirt_refresh(struct ms_libvirt *lv);

/*
 * ms_libvirt_list - the active domains known now, sorted by name.
 * Writes at most @max entries; returns how many there are.
 */
size_t ms_libvirt_list(struct ms_libvirt *lv, struct ms_domain_info *out, size_t max);

/* ms_libvirt_domain - one domain by name: 0, or -ENOENT. */
int ms_libvirt_domain(struct ms_libvirt *lv, const char *name, struct ms_domain_info *out);

/* ms_libvirt_find_by_cid / _by_channel - name of the domain whose vsock
 * CID / channel path matches, or NULL.  Valid until the next refresh. */
const char *ms_libvirt_find_by_cid(struct ms_libvirt *lv, uint32_t cid);
const char *ms_libvirt_find_by_channel(struct ms_libvirt *lv, const char *path);

/*
 * ms_libvirt_balloon_stats - virDomainMemoryStats of a running domain.
 * Sets the stats period first if it is 0 or the stats are stale (see
 * opts.stats_period_s).
 * Returns 0, -ENOENT (no such active domain), -EOPNOTSUPP (the driver has
 * no memory stats), -EIO.
 */
int ms_libvirt_balloon_stats(struct ms_libvirt *lv, const char *name,
			     struct ms_balloon_stats *out);

/*
 * ms_libvirt_set_balloon - set the balloon target of a running domain to
 * @target_bytes (rounded down to KiB) with
 * virDomainSetMemoryFlags(VIR_DOMAIN_AFFECT_LIVE).
 * Returns 0, -ENOENT, -ERANGE (above the domain's maximum, or below its
 * min_guarantee), -EOPNOTSUPP (no balloon device), -EIO.
 */
int ms_libvirt_set_balloon(struct ms_libvirt *lv, const char *name, uint64_t target_bytes);

/*
 * ms_libvirt_parse_domain_xml - fill the XML-derived fields of @out
 * (name, uuid, vsock_cid, channel_path, balloon, min_guarantee, numatune,
 * warnings) from a domain's XML description.  Sizes are left as they are.
 * Returns 0, or -EBADMSG (not a domain XML; the log says why).
 */
int ms_libvirt_parse_domain_xml(struct ms_ctx *ctx, const char *xml,
				struct ms_domain_info *out);

#ifdef __cplusplus
}
#endif
#endif
