/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libmemshare-libvirt against libvirt's built-in test driver (no daemon):
 * test:///default (one running domain "test", fixed balloon statistics) and
 * test://<MS_FIXTURES_DIR>/libvirt/node.xml (domains covering the XML this
 * library reads).  Only the public API of both libraries is used.
 *
 * Order matters when CK_FORK=no (one process): the cases that need *no*
 * libvirt event loop implementation run before the one that registers the
 * default implementation, which cannot be unregistered.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <memshare/libvirt.h>

#include "testutil.h"

#define NODE_URI "test://" MS_FIXTURES_DIR "/libvirt/node.xml"
#define GiB (1024ull * 1024 * 1024)
#define MiB (1024ull * 1024)
#define KiB 1024ull

/* ---- helpers ---------------------------------------------------------------- */

/* What the event callback saw. */
struct rec {
	unsigned nr;
	enum ms_libvirt_event_type type[64];
	struct ms_domain_info info[64];
};

static struct rec rec;
static struct ms_ctx *ctx;

static void record(struct ms_libvirt *lv, enum ms_libvirt_event_type type,
		   const struct ms_domain_info *domain, void *userdata)
{
	struct rec *r = userdata;

	ck_assert_ptr_nonnull(lv);
	if (r->nr < 64) {
		r->type[r->nr] = type;
		r->info[r->nr] = *domain;
	}
	r->nr++;
}

static void quiet(void *userdata, virErrorPtr err)
{
}

static void setup(void)
{
	ctx = tu_new_ctx(NULL);
	memset(&rec, 0, sizeof(rec));
}

static void teardown(void)
{
	ms_ctx_free(ctx);
	ctx = NULL;
}

/* A handle on @uri (or @conn) logging into tu_log and recording events. */
static struct ms_libvirt *new_lv(const char *uri, virConnectPtr conn, int32_t period)
{
	MS_OPTS(ms_libvirt_opts, opts, .ctx = ctx, .uri = uri, .conn = conn,
		.stats_period_s = period, .event_fn = record, .userdata = &rec);
	struct ms_libvirt *lv = NULL;
	int r;

	r = ms_libvirt_new(&lv, &opts);
	ck_assert_msg(r == 0, "ms_libvirt_new(%s): %s; log: %s", uri ? uri : "conn",
		      strerror(-r), tu_log.all);
	ck_assert_ptr_nonnull(lv);
	return lv;
}

/* The application's own connection, with libvirt's printing silenced. */
static virConnectPtr app_conn(const char *uri)
{
	virConnectPtr c = virConnectOpen(uri);

	ck_assert_msg(c != NULL, "%s: %s", uri, virGetLastErrorMessage());
	virConnSetErrorFunc(c, NULL, quiet);
	return c;
}

static virDomainPtr lookup(virConnectPtr c, const char *name)
{
	virDomainPtr d = virDomainLookupByName(c, name);

	ck_assert_msg(d != NULL, "%s: %s", name, virGetLastErrorMessage());
	return d;
}

static unsigned long dom_memory_kib(virConnectPtr c, const char *name)
{
	virDomainPtr d = lookup(c, name);
	virDomainInfo vi;

	ck_assert_int_eq(virDomainGetInfo(d, &vi), 0);
	virDomainFree(d);
	return vi.memory;
}

/* Whether the live XML of @name contains @needle. */
static bool xml_has(virConnectPtr c, const char *name, const char *needle)
{
	virDomainPtr d = lookup(c, name);
	char *xml = virDomainGetXMLDesc(d, 0);
	bool found;

	ck_assert_ptr_nonnull(xml);
	found = strstr(xml, needle) != NULL;
	free(xml);
	virDomainFree(d);
	return found;
}

static bool log_has(const char *needle)
{
	return strstr(tu_log.all, needle) != NULL;
}

static const char *const EPH_XML =
	"<domain type='test'><name>eph</name><uuid>6d656d73-6861-7265-0000-0000000000ee</uuid>"
	"<memory unit='MiB'>256</memory><os><type>hvm</type></os>"
	"<devices><vsock model='virtio'><cid auto='no' address='77'/></vsock>"
	"<memballoon model='virtio'/></devices></domain>";

/* ---- XML parsing -------------------------------------------------------------- */

/* A domain with @body inside <domain>, after its name. */
static int parse_body(const char *body, struct ms_domain_info *out)
{
	char xml[4096];
	int n = snprintf(xml, sizeof(xml), "<domain type='kvm'><name>d</name>%s</domain>", body);

	ck_assert(n > 0 && (size_t)n < sizeof(xml));
	memset(out, 0, sizeof(*out));
	return ms_libvirt_parse_domain_xml(ctx, xml, out);
}

START_TEST(xml_full_domain)
{
	static const char xml[] =
		"<?xml version='1.0'?>\n"
		"<domain type='kvm' id='7'>\n"
		"  <name>vm-1</name>\n"
		"  <uuid>0a1b2c3d-0000-4000-8000-000000000042</uuid>\n"
		"  <memory unit='KiB'>4194304</memory>\n"
		"  <memtune><min_guarantee unit='MiB'>768</min_guarantee></memtune>\n"
		"  <numatune><memory mode='strict' nodeset='0-3,^2'/></numatune>\n"
		"  <devices>\n"
		"    <channel type='unix'><source mode='bind' path='/run/ga.sock'/>"
		"<target type='virtio' name='org.qemu.guest_agent.0'/></channel>\n"
		"    <channel type='unix'><source mode='connect' path='/run/wrong-mode.sock'/>"
		"<target type='virtio' name='org.memshare.0'/></channel>\n"
		"    <channel type='unix'><source mode='bind' path='/run/ms/vm-1.sock'/>"
		"<target type='virtio' name='org.memshare.0'/></channel>\n"
		"    <channel type='unix'><source mode='bind' path='/run/second.sock'/>"
		"<target type='virtio' name='org.memshare.0'/></channel>\n"
		"    <vsock model='virtio'><cid auto='yes' address='1234'/></vsock>\n"
		"    <memballoon model='virtio' autodeflate='on' freePageReporting='on'>"
		"<stats period='3'/></memballoon>\n"
		"  </devices>\n"
		"</domain>\n";
	struct ms_domain_info info;

	memset(&info, 0, sizeof(info));
	info.id = 77;
	info.max_bytes = 123;
	info.current_bytes = 456;
	ck_assert_int_eq(ms_libvirt_parse_domain_xml(ctx, xml, &info), 0);
	ck_assert_str_eq(info.name, "vm-1");
	ck_assert_str_eq(info.uuid, "0a1b2c3d-0000-4000-8000-000000000042");
	ck_assert_uint_eq(info.vsock_cid, 1234);
	ck_assert_str_eq(info.channel_path, "/run/ms/vm-1.sock");
	ck_assert(info.has_balloon);
	ck_assert_str_eq(info.balloon_model, "virtio");
	ck_assert(info.autodeflate);
	ck_assert(info.free_page_reporting);
	ck_assert_uint_eq(info.stats_period_s, 3);
	ck_assert_uint_eq(info.min_guarantee_bytes, 768 * MiB);
	ck_assert_uint_eq(info.numa_nodeset, 0xb);
	ck_assert_uint_eq(info.warnings, 0);
	/* Not from the XML: left alone. */
	ck_assert_int_eq(info.id, 77);
	ck_assert(!info.active);
	ck_assert_uint_eq(info.max_bytes, 123);
	ck_assert_uint_eq(info.current_bytes, 456);
}
END_TEST

START_TEST(xml_minimal_domain)
{
	struct ms_domain_info info;

	ck_assert_int_eq(parse_body("", &info), 0);
	ck_assert_str_eq(info.name, "d");
	ck_assert_str_eq(info.uuid, "");
	ck_assert_uint_eq(info.vsock_cid, 0);
	ck_assert_str_eq(info.channel_path, "");
	ck_assert(!info.has_balloon);
	ck_assert_str_eq(info.balloon_model, "");
	ck_assert_uint_eq(info.min_guarantee_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(info.numa_nodeset, 0);
	ck_assert_uint_eq(info.warnings, MS_DOMAIN_WARN_NO_BALLOON | MS_DOMAIN_WARN_NO_AGENT_CHANNEL);

	/* A bare virtio balloon: every balloon warning. */
	ck_assert_int_eq(parse_body("<devices><memballoon model='virtio'/></devices>", &info), 0);
	ck_assert(info.has_balloon);
	ck_assert_uint_eq(info.warnings, MS_DOMAIN_WARN_NO_STATS_PERIOD |
				 MS_DOMAIN_WARN_NO_FREE_PAGE_REPORTING |
				 MS_DOMAIN_WARN_NO_AUTODEFLATE | MS_DOMAIN_WARN_NO_AGENT_CHANNEL);
	ck_assert_uint_eq(info.warnings, 30);

	/* model='none' is no balloon, whatever else it says. */
	ck_assert_int_eq(parse_body("<devices><memballoon model='none' autodeflate='on'/>"
				    "<vsock><cid address='3'/></vsock></devices>", &info), 0);
	ck_assert(!info.has_balloon);
	ck_assert_str_eq(info.balloon_model, "none");
	ck_assert_uint_eq(info.vsock_cid, 3);
	ck_assert_uint_eq(info.warnings, MS_DOMAIN_WARN_NO_BALLOON);

	/* numatune placement='auto' has no nodeset: any node. */
	ck_assert_int_eq(parse_body("<numatune><memory mode='strict' placement='auto'/></numatune>",
				    &info), 0);
	ck_assert_uint_eq(info.numa_nodeset, 0);
}
END_TEST

START_TEST(xml_units)
{
	static const struct {
		const char *num, *unit;
		uint64_t bytes;
	} ok[] = {
		{ "1", NULL, 1024 },          /* no unit: KiB */
		{ "3", "", 3072 },
		{ "1", "b", 1 },
		{ "7", "bytes", 7 },
		{ "9", "Byte", 9 },
		{ "1", "k", 1024 },
		{ "2", "KiB", 2048 },
		{ "2", "kib", 2048 },
		{ "1", "KB", 1000 },
		{ "1", "M", MiB },
		{ "512", "MiB", 512 * MiB },
		{ "1", "MB", 1000000 },
		{ "1", "G", GiB },
		{ "2", "GiB", 2 * GiB },
		{ "3", "GB", 3000000000ull },
		{ "1", "T", 1024 * GiB },
		{ "1", "TiB", 1024 * GiB },
		{ "1", "PiB", 1024 * 1024 * GiB },
		{ "1", "PB", 1000000000000000ull },
		{ "15", "EiB", 15ull << 60 },
		{ " 42 ", "MiB", 42 * MiB },
		{ "0", "GiB", 0 },
		{ "18446744073709551615", "b", UINT64_MAX },
	};
	static const struct {
		const char *num, *unit;
	} bad[] = {
		{ "1", "X" }, { "1", "KiBB" }, { "1", "iB" }, { "1", "Kb2" }, { "16", "EiB" },
		{ "18446744073709551616", "b" }, { "-1", "KiB" }, { "1.5", "GiB" },
		{ "", "KiB" }, { "0x10", "KiB" }, { "1 2", "KiB" },
	};
	struct ms_domain_info info;
	char body[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (ok[i].unit)
			snprintf(body, sizeof(body),
				 "<memtune><min_guarantee unit='%s'>%s</min_guarantee></memtune>",
				 ok[i].unit, ok[i].num);
		else
			snprintf(body, sizeof(body),
				 "<memtune><min_guarantee>%s</min_guarantee></memtune>", ok[i].num);
		ck_assert_msg(parse_body(body, &info) == 0, "%s %s: %s", ok[i].num,
			      ok[i].unit ? ok[i].unit : "(none)", tu_log.last);
		ck_assert_msg(info.min_guarantee_bytes == ok[i].bytes, "%s %s: %llu != %llu",
			      ok[i].num, ok[i].unit ? ok[i].unit : "(none)",
			      (unsigned long long)info.min_guarantee_bytes,
			      (unsigned long long)ok[i].bytes);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body),
			 "<memtune><min_guarantee unit='%s'>%s</min_guarantee></memtune>",
			 bad[i].unit, bad[i].num);
		tu_log_reset(&tu_log);
		ck_assert_msg(parse_body(body, &info) == -EBADMSG, "'%s' '%s' accepted", bad[i].num,
			      bad[i].unit);
		ck_assert(log_has("min_guarantee"));
	}
}
END_TEST

START_TEST(xml_nodesets)
{
	static const struct {
		const char *set;
		uint64_t mask;
	} ok[] = {
		{ "0-1,3", 0xb },
		{ "0-3,^2", 0xb },
		{ "^2,0-3", 0xf },            /* exclusions apply in order */
		{ " 5 , 7 - 8 ", 0x1a0 },
		{ "0", 0x1 },
		{ "63", UINT64_C(1) << 63 },
		{ "2,2,2", 0x4 },
		{ "^1", 0 },
	};
	static const char *const bad[] = {
		"", " ", "3-1", "a", "1,", ",1", "^1-2", "1;2", "-1", "1-", "1--2", "+1",
		"99999999999",
	};
	struct ms_domain_info info;
	char body[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(body, sizeof(body), "<numatune><memory nodeset='%s'/></numatune>", ok[i].set);
		ck_assert_msg(parse_body(body, &info) == 0, "'%s': %s", ok[i].set, tu_log.last);
		ck_assert_msg(info.numa_nodeset == ok[i].mask, "'%s': %#llx", ok[i].set,
			      (unsigned long long)info.numa_nodeset);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "<numatune><memory nodeset='%s'/></numatune>", bad[i]);
		ck_assert_msg(parse_body(body, &info) == -EBADMSG, "'%s' accepted", bad[i]);
	}
	/* Nodes above 63 are left out, with a warning. */
	tu_log_reset(&tu_log);
	ck_assert_int_eq(parse_body("<numatune><memory nodeset='62-70,1'/></numatune>", &info), 0);
	ck_assert_uint_eq(info.numa_nodeset, (UINT64_C(3) << 62) | 2);
	ck_assert(log_has("above 63"));
}
END_TEST

START_TEST(xml_agent_identity)
{
	struct ms_domain_info info;
	char body[512], path[200];

	/* Reserved CIDs are no CID; a non-number is an error. */
	ck_assert_int_eq(parse_body("<devices><vsock><cid auto='no' address='2'/></vsock></devices>",
				    &info), 0);
	ck_assert_uint_eq(info.vsock_cid, 0);
	ck_assert(info.warnings & MS_DOMAIN_WARN_NO_AGENT_CHANNEL);
	ck_assert_int_eq(parse_body("<devices><vsock><cid auto='yes'/></vsock></devices>", &info), 0);
	ck_assert_uint_eq(info.vsock_cid, 0);
	ck_assert_int_eq(parse_body("<devices><vsock><cid address='4294967295'/></vsock></devices>",
				    &info), 0);
	ck_assert_uint_eq(info.vsock_cid, 4294967295u);
	ck_assert_int_eq(parse_body("<devices><vsock><cid address='4294967296'/></vsock></devices>",
				    &info), -EBADMSG);
	ck_assert_int_eq(parse_body("<devices><vsock><cid address='three'/></vsock></devices>",
				    &info), -EBADMSG);

	/* Only a unix channel with a virtio target of our name. */
	ck_assert_int_eq(parse_body("<devices>"
				    "<channel type='pty'>"
				    "<target type='virtio' name='org.memshare.0'/></channel>"
				    "<channel type='unix'><source path='/a'/>"
				    "<target type='virtio' name='org.memshare.1'/></channel>"
				    "<channel type='unix'><source path='/b'/>"
				    "<target type='guestfwd' name='org.memshare.0'/></channel>"
				    "</devices>", &info), 0);
	ck_assert_str_eq(info.channel_path, "");
	/* No mode is bind. */
	ck_assert_int_eq(parse_body("<devices><channel type='unix'><source path='/c'/>"
				    "<target type='virtio' name='org.memshare.0'/></channel></devices>",
				    &info), 0);
	ck_assert_str_eq(info.channel_path, "/c");
	ck_assert(!(info.warnings & MS_DOMAIN_WARN_NO_AGENT_CHANNEL));

	/* 107 bytes fit a sun_path, 108 do not. */
	memset(path, 'p', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	snprintf(body, sizeof(body), "<devices><channel type='unix'><source mode='bind' path='%s'/>"
		 "<target type='virtio' name='org.memshare.0'/></channel></devices>", path);
	ck_assert_int_eq(parse_body(body, &info), 0);
	ck_assert_str_eq(info.channel_path, path);
	path[107] = 'p';
	path[108] = '\0';
	snprintf(body, sizeof(body), "<devices><channel type='unix'><source mode='bind' path='%s'/>"
		 "<target type='virtio' name='org.memshare.0'/></channel></devices>", path);
	tu_log_reset(&tu_log);
	ck_assert_int_eq(parse_body(body, &info), 0);
	ck_assert_str_eq(info.channel_path, "");
	ck_assert(info.warnings & MS_DOMAIN_WARN_NO_AGENT_CHANNEL);
	ck_assert(log_has("does not fit"));

	/* Balloon attributes are on/off, the period a number. */
	ck_assert_int_eq(parse_body("<devices><memballoon model='virtio' autodeflate='yes'/></devices>",
				    &info), -EBADMSG);
	ck_assert_int_eq(parse_body("<devices><memballoon model='virtio'><stats period='soon'/>"
				    "</memballoon></devices>", &info), -EBADMSG);
}
END_TEST

START_TEST(xml_not_a_domain)
{
	static const char *const bad[] = {
		"",
		"not xml at all",
		"<domain><name>x</name>",
		"<network><name>default</name></network>",
		"<domain type='kvm'><uuid>0a1b2c3d-0000-4000-8000-000000000042</uuid></domain>",
		"<domain><name></name></domain>",
		"<x:domain xmlns:x='urn:x'><x:name>n</x:name></x:domain>",
		"<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY a 'aaaa'>]>"
		"<domain><name>&a;</name></domain>",
		"<domain><name>n</name><devices><memballoon model='virtio'><stats period='-5'/>"
		"</memballoon></devices></domain>",
	};
	struct ms_domain_info info, before;
	char big[400];

	memset(&before, 0xa5, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		info = before;
		tu_log_reset(&tu_log);
		ck_assert_msg(ms_libvirt_parse_domain_xml(ctx, bad[i], &info) == -EBADMSG,
			      "accepted: %s", bad[i]);
		ck_assert_msg(memcmp(&info, &before, sizeof(info)) == 0, "written on error: %s",
			      bad[i]);
		ck_assert_msg(tu_log.nr > 0, "nothing logged for: %s", bad[i]);
	}
	tu_log_reset(&tu_log);
	ck_assert_int_eq(ms_libvirt_parse_domain_xml(ctx, "<network/>", &info), -EBADMSG);
	ck_assert_str_eq(tu_log.last, "domain XML: root element is <network>, not <domain>");
	ck_assert_int_eq(ms_libvirt_parse_domain_xml(ctx, "garbage", &info), -EBADMSG);
	ck_assert(log_has("domain XML: line 1: "));

	/* A name of 255 bytes fits, one of 256 does not. */
	memset(big, 'n', sizeof(big));
	memcpy(big, "<domain><name>", 14);
	strcpy(big + 14 + 255, "</name></domain>");
	ck_assert_int_eq(ms_libvirt_parse_domain_xml(ctx, big, &info), 0);
	ck_assert_uint_eq(strlen(info.name), 255);
	memset(big, 'n', sizeof(big));
	memcpy(big, "<domain><name>", 14);
	strcpy(big + 14 + 256, "</name></domain>");
	ck_assert_int_eq(ms_libvirt_parse_domain_xml(ctx, big, &info), -EBADMSG);
	ck_assert(log_has("<name> is empty or longer than 255 bytes"));

	ck_assert_int_eq(ms_libvirt_parse_domain_xml(ctx, NULL, &info), -EINVAL);
	ck_assert_int_eq(ms_libvirt_parse_domain_xml(ctx, "<domain><name>n</name></domain>", NULL),
			 -EINVAL);
	/* No context: no log, same answers. */
	ck_assert_int_eq(ms_libvirt_parse_domain_xml(NULL, "garbage", &info), -EBADMSG);
	ck_assert_int_eq(ms_libvirt_parse_domain_xml(NULL, "<domain><name>n</name></domain>", &info),
			 0);
}
END_TEST

START_TEST(warning_names)
{
	ck_assert_str_eq(ms_domain_warning_name(MS_DOMAIN_WARN_NO_BALLOON), "no balloon device");
	ck_assert_str_eq(ms_domain_warning_name(MS_DOMAIN_WARN_NO_STATS_PERIOD),
			 "balloon stats period is 0");
	ck_assert_str_eq(ms_domain_warning_name(MS_DOMAIN_WARN_NO_FREE_PAGE_REPORTING),
			 "free page reporting off");
	ck_assert_str_eq(ms_domain_warning_name(MS_DOMAIN_WARN_NO_AUTODEFLATE), "autodeflate off");
	ck_assert_str_eq(ms_domain_warning_name(MS_DOMAIN_WARN_NO_AGENT_CHANNEL),
			 "no vsock CID and no org.memshare.0 channel");
	ck_assert_ptr_null(ms_domain_warning_name(0));
	ck_assert_ptr_null(ms_domain_warning_name(1u << 5));
	ck_assert_ptr_null(ms_domain_warning_name(MS_DOMAIN_WARN_NO_BALLOON |
						  MS_DOMAIN_WARN_NO_AUTODEFLATE));
}
END_TEST

/* ---- the fixture host (test:///.../node.xml) -------------------------------------- */

struct want {
	const char *name, *uuid;
	int32_t id;
	uint32_t cid;
	const char *channel, *model;
	bool has_balloon, autodeflate, fpr;
	uint32_t period;
	uint64_t max, cur, min_guarantee, nodeset;
	uint32_t warnings;
};

static const struct want node_domains[] = {
	{ "alpha", "6d656d73-6861-7265-0000-000000000001", 1, 3, "", "virtio", true, true, true, 10,
	  4 * GiB, 2 * GiB, 512 * MiB, 0xb, 0 },
	{ "bravo", "6d656d73-6861-7265-0000-000000000002", 2, 0, "/run/memshare/bravo.sock",
	  "virtio", true, false, false, 0, 2048 * MiB, 1536 * MiB, MS_UNKNOWN, 0,
	  MS_DOMAIN_WARN_NO_STATS_PERIOD | MS_DOMAIN_WARN_NO_FREE_PAGE_REPORTING |
		  MS_DOMAIN_WARN_NO_AUTODEFLATE },
	{ "charlie", "6d656d73-6861-7265-0000-000000000003", 3, 0, "", "", false, false, false, 0,
	  1 * GiB, 768 * MiB, MS_UNKNOWN, 0,
	  MS_DOMAIN_WARN_NO_BALLOON | MS_DOMAIN_WARN_NO_AGENT_CHANNEL },
	{ "delta", "6d656d73-6861-7265-0000-000000000004", 4, 42, "", "none", false, false, false, 0,
	  1 * GiB, 1 * GiB, MS_UNKNOWN, 0, MS_DOMAIN_WARN_NO_BALLOON },
	{ "echo", "6d656d73-6861-7265-0000-000000000005", 5, 4, "/run/memshare/echo.sock", "virtio",
	  true, false, true, 5, 3 * GiB, 2560 * MiB, 1 * GiB, 0x2, MS_DOMAIN_WARN_NO_AUTODEFLATE },
};
#define NR_NODE_DOMAINS (sizeof(node_domains) / sizeof(node_domains[0]))

static void check_domain(const struct ms_domain_info *got, const struct want *w)
{
	ck_assert_str_eq(got->name, w->name);
	ck_assert_str_eq(got->uuid, w->uuid);
	ck_assert_int_eq(got->id, w->id);
	ck_assert(got->active);
	ck_assert_uint_eq(got->vsock_cid, w->cid);
	ck_assert_str_eq(got->channel_path, w->channel);
	ck_assert_str_eq(got->balloon_model, w->model);
	ck_assert_int_eq(got->has_balloon, w->has_balloon);
	ck_assert_int_eq(got->autodeflate, w->autodeflate);
	ck_assert_int_eq(got->free_page_reporting, w->fpr);
	ck_assert_uint_eq(got->stats_period_s, w->period);
	ck_assert_uint_eq(got->max_bytes, w->max);
	ck_assert_uint_eq(got->current_bytes, w->cur);
	ck_assert_uint_eq(got->min_guarantee_bytes, w->min_guarantee);
	ck_assert_uint_eq(got->numa_nodeset, w->nodeset);
	ck_assert_msg(got->warnings == w->warnings, "%s: warnings %#x, want %#x", w->name,
		      got->warnings, w->warnings);
}

START_TEST(node_list)
{
	struct ms_domain_info all[8], one;
	struct ms_libvirt *lv = new_lv(NODE_URI, NULL, 0);

	/* Every running domain was ADDED by ms_libvirt_new(), in name order;
	 * foxtrot is shut off. */
	ck_assert_uint_eq(rec.nr, NR_NODE_DOMAINS);
	for (size_t i = 0; i < NR_NODE_DOMAINS; i++) {
		ck_assert_int_eq(rec.type[i], MS_LIBVIRT_EVENT_DOMAIN_ADDED);
		check_domain(&rec.info[i], &node_domains[i]);
	}
	ck_assert_uint_eq(ms_libvirt_list(lv, all, 8), NR_NODE_DOMAINS);
	for (size_t i = 0; i < NR_NODE_DOMAINS; i++)
		check_domain(&all[i], &node_domains[i]);
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), NR_NODE_DOMAINS);
	memset(all, 0, sizeof(all));
	ck_assert_uint_eq(ms_libvirt_list(lv, all, 2), NR_NODE_DOMAINS);
	ck_assert_str_eq(all[1].name, "bravo");
	ck_assert_str_eq(all[2].name, "");

	ck_assert_int_eq(ms_libvirt_domain(lv, "echo", &one), 0);
	check_domain(&one, &node_domains[4]);
	ck_assert_int_eq(ms_libvirt_domain(lv, "foxtrot", &one), -ENOENT);
	ck_assert_int_eq(ms_libvirt_domain(lv, "nope", &one), -ENOENT);
	ck_assert_int_eq(ms_libvirt_domain(lv, NULL, &one), -EINVAL);

	ck_assert_str_eq(ms_libvirt_find_by_cid(lv, 3), "alpha");
	ck_assert_str_eq(ms_libvirt_find_by_cid(lv, 42), "delta");
	ck_assert_str_eq(ms_libvirt_find_by_cid(lv, 4), "echo");
	ck_assert_ptr_null(ms_libvirt_find_by_cid(lv, 6));     /* foxtrot: off */
	ck_assert_ptr_null(ms_libvirt_find_by_cid(lv, 0));
	ck_assert_str_eq(ms_libvirt_find_by_channel(lv, "/run/memshare/bravo.sock"), "bravo");
	ck_assert_str_eq(ms_libvirt_find_by_channel(lv, "/run/memshare/echo.sock"), "echo");
	ck_assert_ptr_null(ms_libvirt_find_by_channel(lv, "/run/memshare/bravo-ga.sock"));
	ck_assert_ptr_null(ms_libvirt_find_by_channel(lv, "/run/memshare/charlie-ga.sock"));
	ck_assert_ptr_null(ms_libvirt_find_by_channel(lv, ""));
	ck_assert_ptr_null(ms_libvirt_find_by_channel(lv, NULL));

	/* Nothing changed: a refresh is silent. */
	rec.nr = 0;
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 0);
	ms_libvirt_free(lv);
}
END_TEST

START_TEST(node_set_balloon)
{
	struct ms_libvirt *lv = new_lv(NODE_URI, NULL, -1);
	virConnectPtr c = ms_libvirt_get_conn(lv);
	struct ms_domain_info info;

	ck_assert_ptr_nonnull(c);
	/* alpha: max 4 GiB, min_guarantee 512 MiB. */
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "alpha", 4 * GiB + KiB), -ERANGE);
	ck_assert(log_has("above") || log_has("outside"));
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "alpha", 512 * MiB - KiB), -ERANGE);
	ck_assert(log_has("below min_guarantee"));
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "alpha", 1023), -ERANGE);   /* 0 KiB */
	ck_assert_uint_eq(dom_memory_kib(c, "alpha"), 2097152);
	/* The edges are allowed. */
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "alpha", 4 * GiB), 0);
	ck_assert_uint_eq(dom_memory_kib(c, "alpha"), 4194304);
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "alpha", 512 * MiB), 0);
	ck_assert_uint_eq(dom_memory_kib(c, "alpha"), 524288);
	/* Rounded down to KiB. */
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "alpha", GiB + 1023), 0);
	ck_assert_uint_eq(dom_memory_kib(c, "alpha"), 1048576);

	/* The table follows at once (re-read after the set), so the next
	 * refresh finds nothing changed. */
	ck_assert_int_eq(ms_libvirt_domain(lv, "alpha", &info), 0);
	ck_assert_uint_eq(info.current_bytes, 1 * GiB);
	rec.nr = 0;
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 0);
	ck_assert_int_eq(ms_libvirt_domain(lv, "alpha", &info), 0);
	ck_assert_uint_eq(info.current_bytes, 1 * GiB);

	/* A change made behind the library's back shows at the next refresh,
	 * as CHANGED. */
	{
		virDomainPtr dom = virDomainLookupByName(c, "alpha");

		ck_assert_ptr_nonnull(dom);
		ck_assert_int_eq(virDomainSetMemoryFlags(dom, 1536 * 1024, VIR_DOMAIN_AFFECT_LIVE), 0);
		virDomainFree(dom);
	}
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 1);
	ck_assert_int_eq(rec.type[0], MS_LIBVIRT_EVENT_DOMAIN_CHANGED);
	ck_assert_str_eq(rec.info[0].name, "alpha");
	ck_assert_uint_eq(rec.info[0].current_bytes, 1536 * MiB);

	/* No balloon: the test driver would take it, the library refuses. */
	tu_log_reset(&tu_log);
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "charlie", 512 * MiB), -EOPNOTSUPP);
	ck_assert_str_eq(tu_log.last, "domain charlie: no balloon device (memballoon model 'absent')");
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "delta", 512 * MiB), -EOPNOTSUPP);
	ck_assert_str_eq(tu_log.last, "domain delta: no balloon device (memballoon model 'none')");
	ck_assert_uint_eq(dom_memory_kib(c, "charlie"), 786432);
	ck_assert_uint_eq(dom_memory_kib(c, "delta"), 1048576);

	/* No min_guarantee: anything from 1 KiB to the maximum. */
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "bravo", KiB), 0);
	ck_assert_uint_eq(dom_memory_kib(c, "bravo"), 1);
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "bravo", 2049 * MiB), -ERANGE);

	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "foxtrot", GiB), -ENOENT);
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "nope", GiB), -ENOENT);
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, NULL, GiB), -EINVAL);
	ck_assert_int_eq(ms_libvirt_set_balloon(NULL, "alpha", GiB), -EINVAL);
	ms_libvirt_free(lv);
}
END_TEST

START_TEST(node_balloon_stats)
{
	struct ms_libvirt *lv = new_lv(NODE_URI, NULL, 0);
	virConnectPtr c = ms_libvirt_get_conn(lv);
	struct ms_balloon_stats st;
	unsigned sets;

	/* echo: 2560 MiB current; the test driver derives its figures from it. */
	tu_log_reset(&tu_log);
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "echo", &st), 0);
	ck_assert_uint_eq(st.actual_bytes, 2560 * MiB);
	ck_assert_uint_eq(st.guest_total_bytes, 2560 * MiB);
	ck_assert_uint_eq(st.guest_free_bytes, 1280 * MiB);
	ck_assert_uint_eq(st.guest_usable_bytes, 1280 * MiB);
	ck_assert_uint_eq(st.rss_bytes, 1280 * MiB);
	ck_assert_uint_eq(st.disk_caches_bytes, 320 * MiB);
	ck_assert_uint_eq(st.last_update_s, 627319920);
	/* Stale (1989) with period 5: re-armed to the default 5 s. */
	ck_assert(log_has("domain echo: balloon stats stale, setting the stats period to 5 s"));
	ck_assert(xml_has(c, "echo", "<stats period='5'/>"));
	sets = tu_log.nr;
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "echo", &st), 0);
	ck_assert_uint_eq(tu_log.nr, sets);          /* once per 3 periods */

	/* bravo: period 0, set to 5; the table says so after a refresh. */
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "bravo", &st), 0);
	ck_assert_uint_eq(st.actual_bytes, 1536 * MiB);
	ck_assert(log_has("domain bravo: balloon stats period is 0, setting the stats period to 5 s"));
	ck_assert(xml_has(c, "bravo", "<stats period='5'/>"));
	rec.nr = 0;
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 1);
	ck_assert_int_eq(rec.type[0], MS_LIBVIRT_EVENT_DOMAIN_CHANGED);
	ck_assert_str_eq(rec.info[0].name, "bravo");
	ck_assert_uint_eq(rec.info[0].stats_period_s, 5);
	ck_assert_uint_eq(rec.info[0].warnings, MS_DOMAIN_WARN_NO_FREE_PAGE_REPORTING |
					       MS_DOMAIN_WARN_NO_AUTODEFLATE);

	/* No balloon: the test driver reports nothing; no period is set. */
	tu_log_reset(&tu_log);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "charlie", &st), 0);
	ck_assert_uint_eq(st.actual_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(st.rss_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(st.last_update_s, MS_UNKNOWN);
	ck_assert_uint_eq(st.hugetlb_pgfail, MS_UNKNOWN);
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "delta", &st), 0);
	ck_assert_uint_eq(st.actual_bytes, MS_UNKNOWN);
	ck_assert_uint_eq(tu_log.nr, 0);

	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "foxtrot", &st), -ENOENT);
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "echo", NULL), -EINVAL);
	ms_libvirt_free(lv);

	/* stats_period_s -1: never touched. */
	lv = new_lv(NODE_URI, NULL, -1);
	c = ms_libvirt_get_conn(lv);
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "bravo", &st), 0);
	ck_assert(!xml_has(c, "bravo", "<stats period="));
	ck_assert(!log_has("setting the stats period"));
	ms_libvirt_free(lv);
}
END_TEST

/* ---- test:///default --------------------------------------------------------- */

START_TEST(default_balloon_stats)
{
	struct ms_libvirt *lv = new_lv("test:///default", NULL, 7);
	struct ms_balloon_stats st;
	struct ms_domain_info info;

	ck_assert_uint_eq(ms_libvirt_list(lv, &info, 1), 1);
	ck_assert_str_eq(info.name, "test");
	ck_assert_str_eq(info.uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
	ck_assert_int_eq(info.id, 1);
	ck_assert_uint_eq(info.max_bytes, 8 * GiB);
	ck_assert_uint_eq(info.current_bytes, 2 * GiB);
	ck_assert(info.has_balloon);
	ck_assert_uint_eq(info.warnings, 30);

	/* The test driver's fixed figures for 2097152 KiB current memory:
	 * ACTUAL and AVAILABLE = current, UNUSED, USABLE and RSS = half,
	 * DISK_CACHES an eighth, LAST_UPDATE 627319920, the rest 0. */
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "test", &st), 0);
	ck_assert_uint_eq(st.actual_bytes, 2097152 * KiB);
	ck_assert_uint_eq(st.guest_total_bytes, 2097152 * KiB);
	ck_assert_uint_eq(st.guest_free_bytes, 1048576 * KiB);
	ck_assert_uint_eq(st.guest_usable_bytes, 1048576 * KiB);
	ck_assert_uint_eq(st.rss_bytes, 1048576 * KiB);
	ck_assert_uint_eq(st.disk_caches_bytes, 262144 * KiB);
	ck_assert_uint_eq(st.swap_in_bytes, 0);
	ck_assert_uint_eq(st.swap_out_bytes, 0);
	ck_assert_uint_eq(st.major_faults, 0);
	ck_assert_uint_eq(st.minor_faults, 0);
	ck_assert_uint_eq(st.last_update_s, 627319920);
	ck_assert_uint_eq(st.hugetlb_pgalloc, 0);
	ck_assert_uint_eq(st.hugetlb_pgfail, 0);
	/* Period 0 in the XML: set to opts.stats_period_s. */
	ck_assert(xml_has(ms_libvirt_get_conn(lv), "test", "<stats period='7'/>"));

	/* The figures follow the balloon. */
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "test", GiB), 0);
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "test", &st), 0);
	ck_assert_uint_eq(st.actual_bytes, GiB);
	ck_assert_uint_eq(st.guest_free_bytes, 512 * MiB);
	ck_assert_uint_eq(st.disk_caches_bytes, 128 * MiB);
	ms_libvirt_free(lv);
}
END_TEST

START_TEST(default_read_only)
{
	virConnectPtr ro = virConnectOpenReadOnly("test:///default");
	struct ms_libvirt *lv;
	struct ms_balloon_stats st;

	ck_assert_ptr_nonnull(ro);
	virConnSetErrorFunc(ro, NULL, quiet);
	lv = new_lv(NULL, ro, 0);
	ck_assert_ptr_eq(ms_libvirt_get_conn(lv), ro);
	/* Our reference keeps it open. */
	ck_assert_int_eq(virConnectClose(ro), 1);

	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "test", GiB), -EACCES);
	ck_assert(log_has("virDomainSetMemoryFlags: operation forbidden: read only access"));
	/* Statistics need no write access; re-arming the period does (logged). */
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "test", &st), 0);
	ck_assert_uint_eq(st.actual_bytes, 2 * GiB);
	ck_assert(log_has("virDomainSetMemoryStatsPeriod: operation forbidden"));
	ms_libvirt_free(lv);
}
END_TEST

/* Run @fn with fd 2 going to a file; returns how many bytes were written. */
static long stderr_bytes_during(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/ms-test-libvirt-stderr-XXXXXX";
	int fd = mkstemp(path), saved;
	long n;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	fflush(stderr);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, 2), 2);
	fn(arg);
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, 2), 2);
	close(saved);
	n = lseek(fd, 0, SEEK_END);
	close(fd);
	return n;
}

struct gone_args {
	struct ms_libvirt *lv;
	int stats, set;
};

static void use_gone_domain(void *arg)
{
	struct gone_args *a = arg;
	struct ms_balloon_stats st;

	a->stats = ms_libvirt_balloon_stats(a->lv, "test", &st);
	a->set = ms_libvirt_set_balloon(a->lv, "test", GiB);
}

START_TEST(default_no_stderr)
{
	struct ms_libvirt *lv = new_lv("test:///default", NULL, 0);
	virConnectPtr app = app_conn("test:///default");
	virDomainPtr d = lookup(app, "test");
	struct gone_args a = { .lv = lv };

	/* Stopped behind the handle's back (test:///default is one state for
	 * every connection of the process). */
	ck_assert_int_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	tu_log_reset(&tu_log);
	ck_assert_int_eq(stderr_bytes_during(use_gone_domain, &a), 0);
	ck_assert_int_eq(a.stats, -ENOENT);
	ck_assert_int_eq(a.set, -ENOENT);
	/* libvirt's message, in the log only. */
	ck_assert(log_has("domain test: virDomainMemoryStats: "));
	ck_assert(log_has("domain is not running"));
	ck_assert(log_has("domain test: not running any more"));

	rec.nr = 0;
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 1);
	ck_assert_int_eq(rec.type[0], MS_LIBVIRT_EVENT_DOMAIN_REMOVED);
	ck_assert_str_eq(rec.info[0].name, "test");
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 0);
	ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "test", &(struct ms_balloon_stats){ 0 }),
			 -ENOENT);
	ms_libvirt_free(lv);
	virConnectClose(app);
}
END_TEST

START_TEST(new_bad_arguments)
{
	virConnectPtr c = app_conn("test:///default");
	struct ms_libvirt *lv = (struct ms_libvirt *)0x1;
	struct {
		struct ms_libvirt_opts opts;
		uint64_t future;
	} big;

	{
		MS_OPTS(ms_libvirt_opts, opts, .conn = c, .uri = "test:///default");
		ck_assert_int_eq(ms_libvirt_new(&lv, &opts), -EINVAL);
	}
	{
		MS_OPTS(ms_libvirt_opts, opts, .uri = "test:///default", .stats_period_s = -2);
		ck_assert_int_eq(ms_libvirt_new(&lv, &opts), -EINVAL);
		ck_assert_int_eq(ms_libvirt_new(NULL, &opts), -EINVAL);
		opts.sz = 1;
		ck_assert_int_eq(ms_libvirt_new(&lv, &opts), -EINVAL);
	}
	ck_assert_ptr_eq(lv, (struct ms_libvirt *)0x1);

	/* A newer caller's bigger struct: fine while the new fields are 0. */
	memset(&big, 0, sizeof(big));
	big.opts.sz = sizeof(big);
	big.opts.uri = "test:///default";
	ck_assert_int_eq(ms_libvirt_new(&lv, &big.opts), 0);
	ms_libvirt_free(lv);
	big.future = 1;
	ck_assert_int_eq(ms_libvirt_new(&lv, &big.opts), -EINVAL);
	/* An older caller's smaller struct: the missing fields are defaults. */
	big.future = 0;
	big.opts.sz = offsetof(struct ms_libvirt_opts, stats_period_s);
	big.opts.stats_period_s = -77;               /* beyond sz: not read */
	ck_assert_int_eq(ms_libvirt_new(&lv, &big.opts), 0);
	ms_libvirt_free(lv);

	/* NULL everywhere. */
	ms_libvirt_free(NULL);
	ck_assert(!ms_libvirt_events_enabled(NULL));
	ck_assert_ptr_null(ms_libvirt_get_conn(NULL));
	ck_assert_int_eq(ms_libvirt_refresh(NULL), -EINVAL);
	ck_assert_uint_eq(ms_libvirt_list(NULL, NULL, 0), 0);
	ck_assert_ptr_null(ms_libvirt_find_by_cid(NULL, 3));
	ck_assert_ptr_null(ms_libvirt_find_by_channel(NULL, "/x"));
	virConnectClose(c);
}
END_TEST

START_TEST(new_cannot_connect)
{
	MS_OPTS(ms_libvirt_opts, opts, .ctx = ctx, .uri = "test:///nonexistent/memshare-node.xml");
	struct ms_libvirt *lv = NULL;

	/* libvirt reports a failed open through its process-wide handler
	 * (there is no connection yet): the application silences it. */
	virSetErrorFunc(NULL, quiet);
	ck_assert_int_eq(ms_libvirt_new(&lv, &opts), -ECONNREFUSED);
	virSetErrorFunc(NULL, NULL);
	ck_assert_ptr_null(lv);
	ck_assert(log_has("cannot open libvirt connection test:///nonexistent/memshare-node.xml: "));
	ck_assert(log_has("failed to parse xml document"));
}
END_TEST

/* ---- no event loop implementation: refresh sees everything ---------------- */

static virDomainPtr create_eph(virConnectPtr c)
{
	virDomainPtr d = virDomainCreateXML(c, EPH_XML, 0);

	ck_assert_msg(d != NULL, "virDomainCreateXML: %s", virGetLastErrorMessage());
	return d;
}

static void check_eph(const struct ms_domain_info *info)
{
	ck_assert_str_eq(info->name, "eph");
	ck_assert_str_eq(info->uuid, "6d656d73-6861-7265-0000-0000000000ee");
	ck_assert_uint_eq(info->vsock_cid, 77);
	ck_assert_uint_eq(info->max_bytes, 256 * MiB);
	ck_assert_uint_eq(info->current_bytes, 256 * MiB);
	ck_assert(info->has_balloon);
}

START_TEST(noevents_refresh)
{
	virConnectPtr c = app_conn("test:///default");
	struct ms_libvirt *lv = new_lv(NULL, c, 0);
	virDomainPtr d;
	int32_t id;

	ck_assert(!ms_libvirt_events_enabled(lv));
	ck_assert(log_has("no libvirt event loop implementation registered"));
	ck_assert_uint_eq(rec.nr, 1);
	ck_assert_str_eq(rec.info[0].name, "test");

	rec.nr = 0;
	d = create_eph(c);
	ck_assert_ptr_null(ms_libvirt_find_by_cid(lv, 77));
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 1);
	ck_assert_int_eq(rec.type[0], MS_LIBVIRT_EVENT_DOMAIN_ADDED);
	check_eph(&rec.info[0]);
	id = rec.info[0].id;
	ck_assert_int_gt(id, 1);
	ck_assert_str_eq(ms_libvirt_find_by_cid(lv, 77), "eph");
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 2);

	/* Destroyed and started again between two refreshes: another
	 * instance, so REMOVED then ADDED. */
	ck_assert_int_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	d = create_eph(c);
	rec.nr = 0;
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 2);
	ck_assert_int_eq(rec.type[0], MS_LIBVIRT_EVENT_DOMAIN_REMOVED);
	ck_assert_int_eq(rec.info[0].id, id);
	ck_assert_int_eq(rec.type[1], MS_LIBVIRT_EVENT_DOMAIN_ADDED);
	check_eph(&rec.info[1]);
	ck_assert_int_ne(rec.info[1].id, id);

	/* Gone. */
	ck_assert_int_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	rec.nr = 0;
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 1);
	ck_assert_int_eq(rec.type[0], MS_LIBVIRT_EVENT_DOMAIN_REMOVED);
	ck_assert_str_eq(rec.info[0].name, "eph");
	ck_assert_ptr_null(ms_libvirt_find_by_cid(lv, 77));
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 1);

	/* Suspended is still in the table; nothing changes for it. */
	d = lookup(c, "test");
	ck_assert_int_eq(virDomainSuspend(d), 0);
	rec.nr = 0;
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 0);
	ck_assert_int_eq(virDomainResume(d), 0);
	virDomainFree(d);
	ms_libvirt_free(lv);
	virConnectClose(c);
}
END_TEST

/* ---- events through libvirt's default event loop ------------------------------ */

static void pump_tick(int timer, void *opaque)
{
}

/* The default event loop, once per process (CK_FORK=no runs every case
 * in one; otherwise each case is a fresh child). */
static void event_impl_once(void)
{
	static bool done;

	if (!done)
		ck_assert_int_eq(virEventRegisterDefaultImpl(), 0);
	done = true;
}

/* Run the event loop until @done(@arg) or @ms pass. */
static void pump(bool (*done)(void *arg), void *arg, int ms)
{
	struct timespec t0, t;
	int timer = virEventAddTimeout(20, pump_tick, NULL, NULL);

	ck_assert_int_ge(timer, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!done(arg)) {
		ck_assert_int_eq(virEventRunDefaultImpl(), 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			break;
	}
	virEventRemoveTimeout(timer);
}

static bool rec_reached(void *nr)
{
	return rec.nr >= *(unsigned *)nr;
}

/* Run the event loop until @rec.nr reaches @nr or @ms pass. */
static void pump_until(unsigned nr, int ms)
{
	pump(rec_reached, &nr, ms);
}

START_TEST(events_lifecycle)
{
	virConnectPtr c;
	struct ms_libvirt *lv;
	virDomainPtr d;
	int32_t id;

	event_impl_once();
	c = app_conn("test:///default");
	lv = new_lv(NULL, c, 0);
	ck_assert(ms_libvirt_events_enabled(lv));
	ck_assert_uint_eq(rec.nr, 1);           /* "test", from the listing */

	rec.nr = 0;
	d = create_eph(c);
	pump_until(1, 5000);
	ck_assert_uint_eq(rec.nr, 1);
	ck_assert_int_eq(rec.type[0], MS_LIBVIRT_EVENT_DOMAIN_ADDED);
	check_eph(&rec.info[0]);
	ck_assert_str_eq(ms_libvirt_find_by_cid(lv, 77), "eph");
	/* The table already agrees: refresh has nothing to add. */
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(rec.nr, 1);

	/* Suspend/resume events re-read the domain: no change, no event. */
	ck_assert_int_eq(virDomainSuspend(d), 0);
	ck_assert_int_eq(virDomainResume(d), 0);
	pump_until(2, 300);
	ck_assert_uint_eq(rec.nr, 1);

	/* Destroyed and started again before the loop runs: the STOPPED
	 * event finds another instance (new id), so REMOVED then ADDED; the
	 * STARTED event that follows changes nothing. */
	ck_assert_int_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	d = create_eph(c);
	id = (int32_t)virDomainGetID(d);
	pump_until(3, 5000);
	pump_until(4, 300);
	ck_assert_uint_eq(rec.nr, 3);
	ck_assert_int_eq(rec.type[1], MS_LIBVIRT_EVENT_DOMAIN_REMOVED);
	ck_assert_str_eq(rec.info[1].name, "eph");
	ck_assert_int_eq(rec.info[1].id, rec.info[0].id);
	ck_assert_int_eq(rec.type[2], MS_LIBVIRT_EVENT_DOMAIN_ADDED);
	check_eph(&rec.info[2]);
	ck_assert_int_eq(rec.info[2].id, id);
	ck_assert_int_ne(id, rec.info[0].id);

	ck_assert_int_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	pump_until(4, 5000);
	ck_assert_uint_eq(rec.nr, 4);
	ck_assert_int_eq(rec.type[3], MS_LIBVIRT_EVENT_DOMAIN_REMOVED);
	ck_assert_str_eq(rec.info[3].name, "eph");
	ck_assert_int_eq(rec.info[3].id, id);
	ck_assert_ptr_null(ms_libvirt_find_by_cid(lv, 77));
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 1);

	/* Started and destroyed before the loop runs: both events find the
	 * domain gone, so nothing shows (and nothing is left behind). */
	rec.nr = 0;
	d = create_eph(c);
	ck_assert_int_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	pump_until(1, 300);
	ck_assert_uint_eq(rec.nr, 0);
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 1);

	ms_libvirt_free(lv);
	/* Unsubscribed: events after free reach nobody. */
	d = create_eph(c);
	ck_assert_int_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	pump_until(1, 200);
	ck_assert_uint_eq(rec.nr, 0);
	virConnectClose(c);
}
END_TEST

/* ---- a libvirtd of our own, serving the test driver --------------------------- */

/*
 * libvirtd run as a private daemon: its sockets, config and log in a
 * temporary directory, no driver modules (LIBVIRT_DRIVER_DIR empty: the
 * test driver is built into libvirt), reached as
 * test+unix:///default?socket=DIR/libvirt-sock.  Each start is a fresh
 * test driver: the domains it had are gone.
 */
#define LIBVIRTD "/usr/sbin/libvirtd"

struct daemon {
	char dir[64];
	char uri[160];
	pid_t pid;
};

static void daemon_start(struct daemon *d)
{
	char path[128], sock[128];

	if (!d->dir[0]) {
		FILE *f;

		strcpy(d->dir, "/tmp/ms-libvirtd.XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(d->dir));
		snprintf(path, sizeof(path), "%s/libvirtd.conf", d->dir);
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fprintf(f, "unix_sock_dir = \"%s\"\nauth_unix_rw = \"none\"\n"
			   "auth_unix_ro = \"none\"\n", d->dir);
		fclose(f);
		snprintf(path, sizeof(path), "%s/drivers", d->dir);
		ck_assert_int_eq(mkdir(path, 0700), 0);
		snprintf(d->uri, sizeof(d->uri), "test+unix:///default?socket=%s/libvirt-sock",
			 d->dir);
	}
	snprintf(sock, sizeof(sock), "%s/libvirt-sock", d->dir);
	unlink(sock);
	d->pid = fork();
	ck_assert_int_ge(d->pid, 0);
	if (d->pid == 0) {
		char conf[128], pidf[128], log[128];
		int fd;

		snprintf(conf, sizeof(conf), "%s/libvirtd.conf", d->dir);
		snprintf(pidf, sizeof(pidf), "%s/libvirtd.pid", d->dir);
		snprintf(log, sizeof(log), "%s/log", d->dir);
		snprintf(path, sizeof(path), "%s/drivers", d->dir);
		setenv("LIBVIRT_DRIVER_DIR", path, 1);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(LIBVIRTD, "libvirtd", "--config", conf, "--pid-file", pidf, (char *)NULL);
		_exit(127);
	}
	/* Up when its socket answers (about 0.2 s here). */
	for (int i = 0; i < 200; i++) {
		virConnectPtr c;

		if (access(sock, F_OK) == 0 && (c = virConnectOpen(d->uri))) {
			virConnectClose(c);
			return;
		}
		usleep(50 * 1000);
	}
	ck_abort_msg("libvirtd did not come up in 10 s (see %s/log)", d->dir);
}

static void daemon_kill(struct daemon *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
	d->pid = 0;
}

static void daemon_cleanup(struct daemon *d)
{
	char cmd[96];

	daemon_kill(d);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
	if (d->dir[0] && system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", d->dir);
}

/* What a remote-driver application does: libvirt writes to its socket
 * without MSG_NOSIGNAL, and failures to open are logged by the handle. */
static void daemon_setup(void)
{
	setup();
	signal(SIGPIPE, SIG_IGN);
	virSetErrorFunc(NULL, quiet);
	event_impl_once();
}

static bool lv_down(void *lv)
{
	return !ms_libvirt_connected(lv);
}

START_TEST(daemon_restart)
{
	struct daemon dmn = { 0 };
	struct ms_domain_info di;
	virConnectPtr c;
	struct ms_libvirt *lv;
	virDomainPtr d;

	daemon_start(&dmn);
	lv = new_lv(dmn.uri, NULL, 0);
	ck_assert(ms_libvirt_connected(lv));
	ck_assert(ms_libvirt_events_enabled(lv));
	ck_assert_uint_eq(ms_libvirt_reconnects(lv), 0);
	ck_assert_uint_eq(rec.nr, 1);                   /* "test" */
	c = app_conn(dmn.uri);
	d = create_eph(c);
	virDomainFree(d);
	virConnectClose(c);
	pump_until(2, 5000);
	ck_assert_uint_eq(rec.nr, 2);
	ck_assert_int_eq(rec.type[1], MS_LIBVIRT_EVENT_DOMAIN_ADDED);
	ck_assert_str_eq(rec.info[1].name, "eph");

	/* Killed: the close callback says so as soon as the loop runs. */
	daemon_kill(&dmn);
	pump(lv_down, lv, 5000);
	ck_assert(!ms_libvirt_connected(lv));
	ck_assert(log_has("lost (end of file: libvirtd stopped); domains kept as last seen"));
	/* The table stays as it was; libvirt calls are refused. */
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 2);
	ck_assert_str_eq(ms_libvirt_find_by_cid(lv, 77), "eph");
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "eph", 128 * MiB), -ENOTCONN);
	{
		struct ms_balloon_stats bs;

		ck_assert_int_eq(ms_libvirt_balloon_stats(lv, "test", &bs), -ENOTCONN);
	}
	/* Still away: refresh fails, warning once per outage. */
	ck_assert_int_eq(ms_libvirt_refresh(lv), -ENOTCONN);
	ck_assert_int_eq(ms_libvirt_refresh(lv), -ENOTCONN);
	ck_assert(log_has("cannot reopen libvirt connection test+unix:///default?socket="));
	ck_assert_ptr_eq(strstr(strstr(tu_log.all, " yet: ") + 1, " yet: "), NULL);
	ck_assert_uint_eq(rec.nr, 2);

	/* Back, as a fresh test driver: "eph" did not survive, "test" is the
	 * same instance (same id and UUID) and raises nothing. */
	daemon_start(&dmn);
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert(ms_libvirt_connected(lv));
	ck_assert_uint_eq(ms_libvirt_reconnects(lv), 1);
	ck_assert(log_has("reopened, "));
	ck_assert_uint_eq(rec.nr, 3);
	ck_assert_int_eq(rec.type[2], MS_LIBVIRT_EVENT_DOMAIN_REMOVED);
	ck_assert_str_eq(rec.info[2].name, "eph");
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 1);
	ck_assert_int_eq(ms_libvirt_domain(lv, "test", &di), 0);
	ck_assert_int_eq(di.id, 1);

	/* Subscribed again on the new connection, and libvirt calls work. */
	c = app_conn(dmn.uri);
	d = create_eph(c);
	pump_until(4, 5000);
	ck_assert_uint_eq(rec.nr, 4);
	ck_assert_int_eq(rec.type[3], MS_LIBVIRT_EVENT_DOMAIN_ADDED);
	ck_assert_int_eq(ms_libvirt_set_balloon(lv, "eph", 128 * MiB), 0);
	ck_assert_uint_eq(dom_memory_kib(c, "eph"), 128 * 1024);
	ck_assert_int_eq(virDomainDestroy(d), 0);
	virDomainFree(d);
	virConnectClose(c);

	/* Killed again and refreshed before the loop ran: the failed listing
	 * finds the connection closed. */
	daemon_kill(&dmn);
	ck_assert_int_eq(ms_libvirt_refresh(lv), -ENOTCONN);
	ck_assert(!ms_libvirt_connected(lv));
	daemon_start(&dmn);
	ck_assert_int_eq(ms_libvirt_refresh(lv), 0);
	ck_assert_uint_eq(ms_libvirt_reconnects(lv), 2);
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 1);

	ms_libvirt_free(lv);
	daemon_cleanup(&dmn);
}
END_TEST

/* A borrowed connection is the application's to reopen. */
START_TEST(daemon_borrowed)
{
	struct daemon dmn = { 0 };
	virConnectPtr c;
	struct ms_libvirt *lv;

	daemon_start(&dmn);
	c = app_conn(dmn.uri);
	lv = new_lv(NULL, c, 0);
	daemon_kill(&dmn);
	daemon_start(&dmn);
	ck_assert_int_eq(ms_libvirt_refresh(lv), -ENOTCONN);
	ck_assert(!ms_libvirt_connected(lv));
	ck_assert(log_has("(a borrowed connection is never reopened)"));
	ck_assert_uint_eq(ms_libvirt_reconnects(lv), 0);
	ck_assert_uint_eq(ms_libvirt_list(lv, NULL, 0), 1);
	ms_libvirt_free(lv);
	virConnectClose(c);
	daemon_cleanup(&dmn);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("libvirt");
	TCase *tc;

	tu_log.name = "libvirt";

	tc = tcase_create("xml");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, xml_full_domain);
	tcase_add_test(tc, xml_minimal_domain);
	tcase_add_test(tc, xml_units);
	tcase_add_test(tc, xml_nodesets);
	tcase_add_test(tc, xml_agent_identity);
	tcase_add_test(tc, xml_not_a_domain);
	tcase_add_test(tc, warning_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("node");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, node_list);
	tcase_add_test(tc, node_set_balloon);
	tcase_add_test(tc, node_balloon_stats);
	suite_add_tcase(s, tc);

	tc = tcase_create("default");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, default_balloon_stats);
	tcase_add_test(tc, default_read_only);
	tcase_add_test(tc, default_no_stderr);
	tcase_add_test(tc, new_bad_arguments);
	tcase_add_test(tc, new_cannot_connect);
	suite_add_tcase(s, tc);

	/* Before "events": needs no event loop implementation registered. */
	tc = tcase_create("noevents");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, noevents_refresh);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, events_lifecycle);
	suite_add_tcase(s, tc);

	/* After "events" (the close callback needs the event loop). */
	if (access(LIBVIRTD, X_OK) == 0) {
		tc = tcase_create("daemon");
		tcase_add_checked_fixture(tc, daemon_setup, teardown);
		tcase_set_timeout(tc, 60);
		tcase_add_test(tc, daemon_restart);
		tcase_add_test(tc, daemon_borrowed);
		suite_add_tcase(s, tc);
	} else {
		fprintf(stderr, "test_libvirt: no %s (Debian package libvirt-daemon): "
			"connection-loss cases not run\n", LIBVIRTD);
	}

	return testutil_run(s);
}
