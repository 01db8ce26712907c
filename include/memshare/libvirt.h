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
 * ms_libvirt_refresh() periodically instead (ms_libvirt_events_enabled()
 * says which).  An event only makes the handle re-read that domain
 * (virDomainGetInfo, virDomainGetXMLDesc), so a missed or late event costs
 * nothing that the next refresh does not repair.
 *
 * Errors: every libvirt failure becomes a negative errno, and libvirt's own
 * message (virGetLastErrorMessage()) goes to the context's log.  On a
 * connection the handle opens itself it installs a virConnSetErrorFunc()
 * handler that drops libvirt's default printing to stderr.  A connection
 * passed in opts.conn keeps the caller's handlers, and a failure to open
 * a URI goes through libvirt's process-wide handler (virSetErrorFunc()),
 * which by default prints: an application that wants silence there sets
 * that handler itself.
 *
 * Connection loss: when libvirtd stops or restarts (or the keepalive times
 * out) the handle keeps its domain table as last seen, answers -ENOTCONN
 * to the balloon calls, and ms_libvirt_refresh() reopens a connection it
 * opened itself (from a URI), subscribes again and diffs the new listing
 * against the table: domains that did not survive are REMOVED, unchanged
 * ones raise nothing.  A borrowed connection (opts.conn) is never reopened:
 * the caller makes a new handle on a new connection.  As with any libvirt
 * remote connection, the process must ignore SIGPIPE: libvirt writes to
 * its socket without MSG_NOSIGNAL, and a write after the daemon went away
 * would kill the process.
 *
 * Not thread-safe: one handle per thread, or lock outside.  Events are
 * dispatched by whichever thread runs the libvirt event loop, so that must
 * be the thread that uses the handle.
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
	uint32_t vsock_cid;          /* <devices><vsock><cid address=...>; 0: none
				      * (also for the reserved CIDs 0..2) */
	char channel_path[108];      /* <channel type='unix'> <source path=...> of
				      * the first channel whose <target type='virtio'
				      * name=MS_LIBVIRT_CHANNEL_NAME> and whose
				      * source mode is 'bind' (qemu listens, the
				      * host agent connects); "" if none, or if the
				      * path does not fit a sockaddr_un */
	/* Balloon device: <devices><memballoon model=... autodeflate=...
	 * freePageReporting=...><stats period=.../>. */
	bool has_balloon;            /* element present and model != 'none' */
	char balloon_model[32];      /* "virtio", "none", ... ("" if no element) */
	bool autodeflate;            /* autodeflate='on' */
	bool free_page_reporting;    /* freePageReporting='on' */
	uint32_t stats_period_s;     /* <stats period=...>; 0 if not set */
	/* Sizes in bytes: virDomainGetInfo() maxMem and memory (libvirt's KiB
	 * x 1024); memory is the balloon's current size. */
	uint64_t max_bytes;
	uint64_t current_bytes;
	/* <memtune><min_guarantee unit=...> in bytes (libvirt's scaled
	 * integers: no unit is KiB); MS_UNKNOWN if not set. */
	uint64_t min_guarantee_bytes;
	/* <numatune><memory nodeset=...> ("0-1,3", "0-3,^2"): bit n = host
	 * NUMA node n; 0 if the domain has no nodeset (any node).  Nodes
	 * above 63 are left out (the log says so). */
	uint64_t numa_nodeset;
	uint32_t warnings;           /* MS_DOMAIN_WARN_*; the balloon warnings
				      * other than NO_BALLOON only when there is
				      * a balloon */
};

/*
 * Balloon statistics (virDomainMemoryStats), in bytes (libvirt reports KiB)
 * or counts; MS_UNKNOWN where the domain did not report the tag.  A domain
 * without a balloon reports only rss (qemu) or nothing at all (the test
 * driver).  Mind libvirt's names:
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
	uint64_t hugetlb_pgalloc;    /* HUGETLB_PGALLOC, count */
	uint64_t hugetlb_pgfail;     /* HUGETLB_PGFAIL, count */
};

/*
 * The domain table holds the active domains that are not crashed.  A domain
 * whose id or UUID changes under the same name (destroyed and started
 * again between two looks) is REMOVED, then ADDED.
 */
enum ms_libvirt_event_type {
	MS_LIBVIRT_EVENT_DOMAIN_ADDED = 1,   /* started (or first seen running,
					      * including by ms_libvirt_new()) */
	MS_LIBVIRT_EVENT_DOMAIN_REMOVED,     /* stopped, crashed or undefined */
	MS_LIBVIRT_EVENT_DOMAIN_CHANGED,     /* any field of its info changed:
					      * XML, or balloon size */
};

struct ms_libvirt;

/*
 * Event callback.  @domain is the new info (for REMOVED the last one known),
 * valid only during the call; the table already holds the change.  The
 * callback may call any ms_libvirt_* function on @lv except ms_libvirt_free().
 */
typedef void (*ms_libvirt_event_fn)(struct ms_libvirt *lv, enum ms_libvirt_event_type type,
				    const struct ms_domain_info *domain, void *userdata);

struct ms_libvirt_opts {
	size_t sz;
	/* Logging; NULL: none.  Borrowed: must outlive the handle. */
	struct ms_ctx *ctx;
	/* Either an open connection (borrowed: a reference is taken and
	 * dropped in ms_libvirt_free) or a URI to open read-write
	 * ("qemu:///system", "test:///default"), not both.  Both NULL:
	 * libvirt's default URI. */
	virConnectPtr conn;
	const char *uri;
	/* When a domain's stats period is 0 (or its stats are older than
	 * 3 periods), set it to this many seconds with
	 * virDomainSetMemoryStatsPeriod(LIVE); 0 = 5, -1 = never touch. */
	int32_t stats_period_s;
	/* Called for every change of the domain table; NULL: none. */
	ms_libvirt_event_fn event_fn;
	void *userdata;
	size_t :0;
};

/*
 * ms_libvirt_new - connect, subscribe to events (lifecycle, balloon change,
 * device added/removed: if an event implementation is registered), then
 * list the active domains as ms_libvirt_refresh() does, raising ADDED for
 * each through opts.event_fn before this returns.
 * @opts: may be NULL (default URI, no log, no events callback).
 * Returns 0, -EINVAL (@out NULL, unknown non-zero trailing opts fields,
 * both conn and uri, stats_period_s below -1), -ECONNREFUSED (cannot open
 * the URI; the log has libvirt's message), -EIO (cannot list the domains),
 * -ENOMEM.
 */
int ms_libvirt_new(struct ms_libvirt **out, const struct ms_libvirt_opts *opts);

/* ms_libvirt_free - unsubscribe, drop the connection reference, free.
 * NULL is a no-op. */
void ms_libvirt_free(struct ms_libvirt *lv);

/*
 * ms_libvirt_events_enabled - whether the handle receives libvirt's domain
 * events.  False when no event implementation was registered before
 * ms_libvirt_new() (or subscribing failed: the log says why); then only
 * ms_libvirt_refresh() updates the table.
 */
bool ms_libvirt_events_enabled(struct ms_libvirt *lv);

/* The connection (borrowed; a reopen replaces it: do not keep it). */
virConnectPtr ms_libvirt_get_conn(struct ms_libvirt *lv);

/*
 * ms_libvirt_connected - whether the connection is up.  False from the
 * moment libvirt reports it closed (virConnectRegisterCloseCallback, on a
 * connection the handle opened and with an event loop implementation
 * registered) or a call finds it dead (virConnectIsAlive() 0), until
 * ms_libvirt_refresh() reopens it.  False for NULL.
 */
bool ms_libvirt_connected(struct ms_libvirt *lv);

/* ms_libvirt_reconnects - how many times ms_libvirt_refresh() reopened the
 * connection since ms_libvirt_new(); 0 for NULL. */
uint64_t ms_libvirt_reconnects(struct ms_libvirt *lv);

/*
 * ms_libvirt_refresh - re-list active domains (virConnectListAllDomains
 * ACTIVE) and re-read their info and XML, raising ADDED / REMOVED / CHANGED
 * events for the differences.  A domain that vanishes while being read is
 * left out; one whose XML does not parse is left out with a warning; a
 * known one that cannot be read for another reason (a busy driver) keeps
 * its last info, so that it does not flap.
 * When the connection is down (ms_libvirt_connected() false, or listing
 * fails on a closed connection), first opens the URI again (the first
 * failure of an outage is a warning in the log, later ones debug) and
 * subscribes to events on the new connection; the table is kept meanwhile.
 * Returns 0, -ENOTCONN (down and not reopened: libvirtd still away, or a
 * borrowed connection), -EIO (libvirt failed; the log has its message),
 * -ENOMEM.
 */
int ms_libvirt_refresh(struct ms_libvirt *lv);

/*
 * ms_libvirt_list - the active domains known now, sorted by name (strcmp).
 * Writes at most @max entries (@out may be NULL when @max is 0); returns
 * how many there are.
 */
size_t ms_libvirt_list(struct ms_libvirt *lv, struct ms_domain_info *out, size_t max);

/* ms_libvirt_domain - one domain by name: 0, -ENOENT, or -EINVAL (NULL). */
int ms_libvirt_domain(struct ms_libvirt *lv, const char *name, struct ms_domain_info *out);

/* ms_libvirt_find_by_cid / _by_channel - name of the domain whose vsock
 * CID / channel path matches, or NULL (also for CID 0 or an empty path).
 * The name stays valid until that domain leaves the table (a refresh or an
 * event that raises REMOVED for it). */
const char *ms_libvirt_find_by_cid(struct ms_libvirt *lv, uint32_t cid);
const char *ms_libvirt_find_by_channel(struct ms_libvirt *lv, const char *path);

/*
 * ms_libvirt_balloon_stats - virDomainMemoryStats of a running domain.
 * Then, if the domain has a balloon and its stats period (from the XML) is
 * 0, or LAST_UPDATE is missing or older than 3 periods, sets the period to
 * opts.stats_period_s with virDomainSetMemoryStatsPeriod(LIVE), at most
 * once per 3 periods per domain; a failure there is only logged.  The
 * figures returned are those read before, so check last_update_s.
 * Returns 0, -EINVAL (NULL), -ENOENT (no such active domain, or it stopped),
 * -ENOTCONN (the libvirt connection is down), -EOPNOTSUPP (the driver has
 * no memory stats), -EACCES (denied by libvirt's access control),
 * -ETIMEDOUT, -ENOMEM, -EIO.
 */
int ms_libvirt_balloon_stats(struct ms_libvirt *lv, const char *name,
			     struct ms_balloon_stats *out);

/*
 * ms_libvirt_set_balloon - set the balloon target of a running domain to
 * @target_bytes (rounded down to KiB) with
 * virDomainSetMemoryFlags(VIR_DOMAIN_AFFECT_LIVE).  The balloon device is
 * checked in the domain XML (drivers accept the call without one); the
 * maximum is virDomainGetInfo() maxMem, read now.  current_bytes is
 * re-read (virDomainGetInfo) right after; where the guest moves the
 * balloon later, it follows in a CHANGED event or the next refresh.
 * Returns 0, -EINVAL (NULL), -ENOENT (no such active domain, or it
 * stopped), -ENOTCONN (the libvirt connection is down), -ERANGE (0 after rounding, above the domain's maximum, or below
 * its min_guarantee, or refused as out of range by the driver), -EOPNOTSUPP
 * (no balloon device), -EACCES (read-only connection, access control),
 * -ETIMEDOUT, -ENOMEM, -EIO.
 */
int ms_libvirt_set_balloon(struct ms_libvirt *lv, const char *name, uint64_t target_bytes);

/*
 * ms_libvirt_parse_domain_xml - fill the XML-derived fields of @out
 * (name, uuid, vsock_cid, channel_path, balloon, min_guarantee, numatune,
 * warnings) from a domain's XML description (virDomainGetXMLDesc), parsed
 * with libxml2 (no network, no DTD accepted).  id, active and the sizes
 * are left as they are; on error nothing is written.
 * Returns 0, -EINVAL (NULL argument), -EBADMSG (not well-formed, root not
 * <domain>, no <name>, or a value that does not parse: the log says
 * which), -ENOMEM.
 */
int ms_libvirt_parse_domain_xml(struct ms_ctx *ctx, const char *xml,
				struct ms_domain_info *out);

#ifdef __cplusplus
}
#endif
#endif
