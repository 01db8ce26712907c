/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * probe: PSI, meminfo, vmstat, NUMA nodes, rates, PSI triggers.
 *
 * Every expected figure below was read by hand from the captures in
 * tests/fixtures (see NOTES.md there): linux-6.1-guest is a Debian 6.1
 * guest with MGLRU and cgroup v2, linux-6.18-host a host without MGLRU and
 * with a cgroup v1 memory controller.  kB figures are multiplied by 1024,
 * page counts by the context's page size.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memshare/probe.h>

#include "probe/probe-internal.h"

#include "testutil.h"

#define G61 MS_FIXTURES_DIR "/linux-6.1-guest"
#define H618 MS_FIXTURES_DIR "/linux-6.18-host"

#define KB(x) ((uint64_t)(x) * 1024u)
#define U MS_UNKNOWN

/* ---- helpers ------------------------------------------------------------ */

/* Field-by-field meminfo comparison, naming the field on mismatch. */
#define MEMINFO_FIELDS(X)                                                        \
	X(total_bytes) X(free_bytes) X(available_bytes) X(used_bytes)            \
	X(buffers_bytes) X(cached_bytes) X(file_pages_bytes) X(swap_cached_bytes) \
	X(active_anon_bytes) X(inactive_anon_bytes) X(active_file_bytes)         \
	X(inactive_file_bytes) X(unevictable_bytes) X(mlocked_bytes)             \
	X(swap_total_bytes) X(swap_free_bytes) X(dirty_bytes) X(writeback_bytes) \
	X(anon_pages_bytes) X(mapped_bytes) X(shmem_bytes) X(kreclaimable_bytes) \
	X(slab_bytes) X(sreclaimable_bytes) X(sunreclaim_bytes) X(page_tables_bytes)

static void expect_meminfo(const struct ms_meminfo *got, const struct ms_meminfo *want)
{
#define X(f) ck_assert_msg(got->f == want->f, #f ": got %llu, want %llu", \
			   (unsigned long long)got->f, (unsigned long long)want->f);
	MEMINFO_FIELDS(X)
#undef X
	/* The X list covers the whole struct. */
	ck_assert_uint_eq(sizeof(*got), 26 * sizeof(uint64_t));
}

/* /proc/meminfo of the 6.1 guest, main capture. */
static void want_meminfo_61(struct ms_meminfo *m)
{
	ms_meminfo_init(m);
	m->total_bytes = 492818432; /* 481268 kB */
	m->free_bytes = KB(254880);
	m->available_bytes = KB(364660);
	m->buffers_bytes = KB(64);
	m->cached_bytes = KB(105624);
	m->swap_cached_bytes = 0;
	m->active_anon_bytes = KB(84500);
	m->inactive_anon_bytes = KB(820);
	m->active_file_bytes = 0;
	m->inactive_file_bytes = KB(102508);
	m->unevictable_bytes = 0;
	m->mlocked_bytes = 0;
	m->swap_total_bytes = 0;
	m->swap_free_bytes = 0;
	m->dirty_bytes = 0;
	m->writeback_bytes = 0;
	m->anon_pages_bytes = KB(82168);
	m->mapped_bytes = KB(22856);
	m->shmem_bytes = KB(3180);
	m->kreclaimable_bytes = KB(19992);
	m->slab_bytes = KB(27584);
	m->sreclaimable_bytes = KB(19992);
	m->sunreclaim_bytes = KB(7592);
	m->page_tables_bytes = KB(308);
}

/* sys/devices/system/node/node0/meminfo of the 6.1 guest. */
static void want_node0_61(struct ms_meminfo *m)
{
	ms_meminfo_init(m);
	m->total_bytes = KB(481268);
	m->free_bytes = KB(254636);
	m->used_bytes = KB(226632);
	m->swap_cached_bytes = 0;
	m->active_anon_bytes = KB(84528);
	m->inactive_anon_bytes = KB(820);
	m->active_file_bytes = 0;
	m->inactive_file_bytes = KB(102508);
	m->unevictable_bytes = 0;
	m->mlocked_bytes = 0;
	m->dirty_bytes = 0;
	m->writeback_bytes = 0;
	m->file_pages_bytes = KB(105716);
	m->mapped_bytes = KB(22856);
	m->anon_pages_bytes = KB(82140);
	m->shmem_bytes = KB(3208);
	m->page_tables_bytes = KB(308);
	m->kreclaimable_bytes = KB(19992);
	m->slab_bytes = KB(27584);
	m->sreclaimable_bytes = KB(19992);
	m->sunreclaim_bytes = KB(7592);
}

/* sys/devices/system/node/node0/meminfo of the 6.18 host. */
static void want_node0_618(struct ms_meminfo *m)
{
	ms_meminfo_init(m);
	m->total_bytes = KB(5203744);
	m->free_bytes = KB(4812388);
	m->used_bytes = KB(391356);
	m->swap_cached_bytes = 0;
	m->active_anon_bytes = KB(1512);
	m->inactive_anon_bytes = KB(3276);
	m->active_file_bytes = KB(52332);
	m->inactive_file_bytes = KB(177272);
	m->unevictable_bytes = KB(10368);
	m->mlocked_bytes = KB(9360);
	m->dirty_bytes = KB(796);
	m->writeback_bytes = 0;
	m->file_pages_bytes = KB(238556);
	m->mapped_bytes = KB(10800);
	m->anon_pages_bytes = KB(6204);
	m->shmem_bytes = KB(8952);
	m->page_tables_bytes = KB(1180);
	m->kreclaimable_bytes = KB(76112);
	m->slab_bytes = KB(98824);
	m->sreclaimable_bytes = KB(76112);
	m->sunreclaim_bytes = KB(22712);
}

static void expect_stat(const struct ms_psi_stat *st, double a10, double a60, double a300,
			uint64_t total)
{
	ck_assert_double_eq_tol(st->avg10, a10, 1e-9);
	ck_assert_double_eq_tol(st->avg60, a60, 1e-9);
	ck_assert_double_eq_tol(st->avg300, a300, 1e-9);
	ck_assert_uint_eq(st->total_us, total);
}

/* ---- PSI ---------------------------------------------------------------- */

START_TEST(psi_parse_fixture_61)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_psi psi;
	size_t len;
	char *buf = tu_slurp("linux-6.1-guest/proc/pressure/memory", &len);

	ck_assert_int_eq(ms_psi_parse(ctx, buf, len, &psi), 0);
	ck_assert_uint_eq(psi.present, MS_PSI_SOME | MS_PSI_FULL);
	expect_stat(&psi.some, 40.11, 10.00, 2.20, 6035076);
	expect_stat(&psi.full, 39.47, 9.87, 2.17, 5962034);
	free(buf);

	/* The .final capture: same totals (no stall since), lower averages. */
	buf = tu_slurp("linux-6.1-guest/proc/pressure/memory.final", &len);
	ck_assert_int_eq(ms_psi_parse(ctx, buf, len, &psi), 0);
	expect_stat(&psi.some, 18.03, 8.75, 2.14, 6035076);
	expect_stat(&psi.full, 17.74, 8.64, 2.11, 5962034);
	free(buf);

	/* cpu pressure has a "full" line on 6.1, all zero. */
	buf = tu_slurp("linux-6.1-guest/proc/pressure/cpu", &len);
	ck_assert_int_eq(ms_psi_parse(ctx, buf, len, &psi), 0);
	ck_assert_uint_eq(psi.present, MS_PSI_SOME | MS_PSI_FULL);
	expect_stat(&psi.full, 0, 0, 0, 0);
	ck_assert_uint_gt(psi.some.total_us, 0);
	free(buf);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(psi_read_system)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_psi psi;

	memset(&psi, 0xa5, sizeof(psi));
	ck_assert_int_eq(ms_psi_read(ctx, NULL, &psi), 0);
	ck_assert_uint_eq(psi.present, MS_PSI_SOME | MS_PSI_FULL);
	expect_stat(&psi.some, 40.11, 10.00, 2.20, 6035076);
	expect_stat(&psi.full, 39.47, 9.87, 2.17, 5962034);
	ms_ctx_free(ctx);

	ctx = tu_new_ctx(H618);
	memset(&psi, 0xa5, sizeof(psi));
	ck_assert_int_eq(ms_psi_read(ctx, NULL, &psi), 0);
	ck_assert_uint_eq(psi.present, MS_PSI_SOME | MS_PSI_FULL);
	expect_stat(&psi.some, 0, 0, 0, 0);
	expect_stat(&psi.full, 0, 0, 0, 0);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(psi_read_cgroup)
{
	static const char *const vmb[] = { "vm-b", "/vm-b", "vm-b/", "//vm-b//" };
	static const char *const root[] = { "/", "", "//" };
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_psi psi;

	for (size_t i = 0; i < sizeof(vmb) / sizeof(vmb[0]); i++) {
		memset(&psi, 0, sizeof(psi));
		ck_assert_msg(ms_psi_read(ctx, vmb[i], &psi) == 0, "cgroup '%s'", vmb[i]);
		ck_assert_uint_eq(psi.present, MS_PSI_SOME | MS_PSI_FULL);
		expect_stat(&psi.some, 38.71, 9.95, 2.20, 6035054);
		expect_stat(&psi.full, 38.71, 9.95, 2.20, 6035054);
	}
	/* The root cgroup's memory.pressure is the system-wide one. */
	for (size_t i = 0; i < sizeof(root) / sizeof(root[0]); i++) {
		memset(&psi, 0, sizeof(psi));
		ck_assert_msg(ms_psi_read(ctx, root[i], &psi) == 0, "cgroup '%s'", root[i]);
		expect_stat(&psi.some, 40.11, 10.00, 2.20, 6035076);
		expect_stat(&psi.full, 39.47, 9.87, 2.17, 5962034);
	}
	/* vm-a never stalled. */
	ck_assert_int_eq(ms_psi_read(ctx, "vm-a", &psi), 0);
	ck_assert_uint_eq(psi.present, MS_PSI_SOME | MS_PSI_FULL);
	expect_stat(&psi.some, 0, 0, 0, 0);
	expect_stat(&psi.full, 0, 0, 0, 0);

	/* Absent cgroups, escapes, bad arguments. */
	ck_assert_int_eq(ms_psi_read(ctx, "vm-c", &psi), -ENOENT);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "vm-c"));
	ck_assert_int_eq(ms_psi_read(ctx, "vm-a/child", &psi), -ENOENT);
	ck_assert_int_eq(ms_psi_read(ctx, "..", &psi), -EINVAL);
	ck_assert_int_eq(ms_psi_read(ctx, "vm-a/../../..", &psi), -EINVAL);
	ck_assert_int_eq(ms_psi_read(ctx, NULL, NULL), -EINVAL);
	ck_assert_int_eq(ms_psi_read(NULL, NULL, &psi), -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(psi_read_cgroup_v1)
{
	struct ms_ctx *ctx = tu_new_ctx(H618);
	struct ms_psi psi;

	/* Hybrid hierarchy: sys/fs/cgroup is a tmpfs of v1 controllers with no
	 * memory.pressure; the v1 memory controller has none either. */
	ck_assert_int_eq(ms_psi_read(ctx, "/", &psi), -EOPNOTSUPP);
	ck_assert_int_eq(ms_psi_read(ctx, "memory", &psi), -EOPNOTSUPP);
	ck_assert_int_eq(ms_psi_read(ctx, "no-such", &psi), -ENOENT);
	/* The cgroup2 mount at unified/ has one, all zero. */
	ck_assert_int_eq(ms_psi_read(ctx, "unified", &psi), 0);
	ck_assert_uint_eq(psi.present, MS_PSI_SOME | MS_PSI_FULL);
	expect_stat(&psi.some, 0, 0, 0, 0);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(psi_read_no_psi)
{
	const char *root = tu_tmp_root("probe");
	struct ms_ctx *ctx;
	struct ms_psi psi;

	/* A kernel booted with psi=0 has no /proc/pressure at all. */
	tu_mkdirs(root, "proc");
	tu_mkdirs(root, "sys/fs/cgroup/vm");
	ctx = tu_new_ctx(root);
	ck_assert_int_eq(ms_psi_read(ctx, NULL, &psi), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "PSI is not available"));
	ck_assert_int_eq(ms_psi_read(ctx, "vm", &psi), -EOPNOTSUPP);
	ck_assert_int_eq(ms_psi_read(ctx, "nope", &psi), -ENOENT);

	/* A malformed file is -EBADMSG, not "no PSI". */
	tu_put_str(root, "proc/pressure/memory", "some avg10=0.00 avg60=0.00 avg300=0.00\n");
	ck_assert_int_eq(ms_psi_read(ctx, NULL, &psi), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "line 1"));
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(psi_parse_variants)
{
	struct ms_psi psi;
	const char *s;

	/* cpu pressure before 5.13: no "full" line, no trailing newline. */
	s = "some avg10=1.50 avg60=0.25 avg300=100.00 total=42";
	memset(&psi, 0xa5, sizeof(psi));
	ck_assert_int_eq(ms_psi_parse(NULL, s, strlen(s), &psi), 0);
	ck_assert_uint_eq(psi.present, MS_PSI_SOME);
	expect_stat(&psi.some, 1.5, 0.25, 100.0, 42);
	expect_stat(&psi.full, 0, 0, 0, 0);

	/* "full" first, blank lines, a key from a newer kernel, tabs. */
	s = "\nfull avg10=0.01 avg60=0.02 avg300=0.03 total=7\n"
	    "some avg10=99.99\tavg60=0.00 avg300=0.00 total=18446744073709551615 new=x1\n\n";
	ck_assert_int_eq(ms_psi_parse(NULL, s, strlen(s), &psi), 0);
	ck_assert_uint_eq(psi.present, MS_PSI_SOME | MS_PSI_FULL);
	expect_stat(&psi.some, 99.99, 0, 0, UINT64_MAX);
	expect_stat(&psi.full, 0.01, 0.02, 0.03, 7);

	/* Only @len bytes are looked at. */
	s = "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345";
	ck_assert_int_eq(ms_psi_parse(NULL, s, strlen(s) - 2, &psi), 0);
	ck_assert_uint_eq(psi.some.total_us, 123);
}
END_TEST

START_TEST(psi_parse_bad)
{
	static const struct {
		const char *text;
		int err;
	} cases[] = {
		{ "", -EBADMSG },
		{ "\n\n", -EBADMSG },
		{ "some", -EBADMSG },
		{ "some ", -EBADMSG },
		{ "some\n", -EBADMSG },
		/* "full" alone: the "some" line is mandatory */
		{ "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", -EBADMSG },
		/* missing fields */
		{ "some avg10=0.00 avg60=0.00 avg300=0.00\n", -EBADMSG },
		{ "some avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		/* truncated lines */
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=", -EBADMSG },
		{ "some avg10=0.00 avg60=0.00 avg3", -EBADMSG },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\nfull avg10=0.0", -EBADMSG },
		{ "some avg10=0. avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		/* garbage numbers */
		{ "some avg10=abc avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		{ "some avg10=-1.00 avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		{ "some avg10=.50 avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		{ "some avg10=1.5x avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=12a\n", -EBADMSG },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=-3\n", -EBADMSG },
		{ "some avg10 avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		/* total beyond 64 bits */
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551616\n", -EBADMSG },
		/* a share above 100 % */
		{ "some avg10=100.01 avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		{ "some avg10=0.00 avg60=250.00 avg300=0.00 total=1\n", -EBADMSG },
		{ "some avg10=0.00 avg60=0.00 avg300=101 total=1\n", -EBADMSG },
		/* repeated lines */
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
		  "some avg10=0.00 avg60=0.00 avg300=0.00 total=2\n", -EBADMSG },
		{ "some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
		  "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n"
		  "full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		/* unknown line kinds, leading blanks */
		{ "partial avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		{ " some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
		{ "Some avg10=0.00 avg60=0.00 avg300=0.00 total=1\n", -EBADMSG },
	};
	struct ms_ctx *ctx = tu_new_ctx(G61);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_psi psi;
		int r;

		memset(&psi, 0x5a, sizeof(psi));
		tu_log.nr = 0;
		r = ms_psi_parse(ctx, cases[i].text, strlen(cases[i].text), &psi);
		ck_assert_msg(r == cases[i].err, "case %zu '%s': got %d, want %d", i,
			      cases[i].text, r, cases[i].err);
		/* Untouched on failure, and the log says why. */
		ck_assert_uint_eq(psi.present, 0x5a5a5a5a);
		ck_assert_msg(tu_log.nr > 0, "case %zu: no log message", i);
	}
	ck_assert_int_eq(ms_psi_parse(ctx, NULL, 0, &(struct ms_psi){ 0 }), -EINVAL);
	ck_assert_int_eq(ms_psi_parse(ctx, "", 0, NULL), -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(psi_trigger_args)
{
	static const struct {
		int kind;
		uint64_t stall, window;
	} bad[] = {
		{ MS_PSI_KIND_SOME, 100000, 499999 },    /* window < 500 ms */
		{ MS_PSI_KIND_SOME, 100000, 0 },
		{ MS_PSI_KIND_FULL, 100000, 10000001 },  /* window > 10 s */
		{ MS_PSI_KIND_SOME, 2000001, 2000000 },  /* stall > window */
		{ MS_PSI_KIND_SOME, 0, 2000000 },        /* no threshold */
		{ MS_PSI_KIND_SOME, UINT64_MAX, UINT64_MAX },
		{ 2, 100000, 2000000 },                  /* no such kind */
		{ -1, 100000, 2000000 },
	};
	struct ms_ctx *ctx = tu_new_ctx("/");

	/* Argument checks happen before any file is opened. */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = ms_psi_trigger_open(ctx, NULL, (enum ms_psi_kind)bad[i].kind,
					     bad[i].stall, bad[i].window);

		ck_assert_msg(fd == -EINVAL, "case %zu: got %d", i, fd);
	}
	ck_assert_ptr_nonnull(strstr(tu_log.last, "window"));
	ck_assert_int_eq(ms_psi_trigger_open(NULL, NULL, MS_PSI_KIND_SOME, 100000, 2000000),
			 -EINVAL);
	/* Bad cgroups. */
	ck_assert_int_eq(ms_psi_trigger_open(ctx, "..", MS_PSI_KIND_SOME, 100000, 2000000),
			 -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(psi_trigger_sysroot)
{
	const char *root = tu_tmp_root("probe");
	struct ms_ctx *ctx;

	/* No PSI under this root: -EOPNOTSUPP; no cgroup: -ENOENT. */
	tu_mkdirs(root, "proc");
	tu_mkdirs(root, "sys/fs/cgroup");
	ctx = tu_new_ctx(root);
	ck_assert_int_eq(ms_psi_trigger_open(ctx, NULL, MS_PSI_KIND_SOME, 150000, 2000000),
			 -EOPNOTSUPP);
	ck_assert_int_eq(ms_psi_trigger_open(ctx, "/", MS_PSI_KIND_FULL, 150000, 2000000),
			 -EOPNOTSUPP);
	ck_assert_int_eq(ms_psi_trigger_open(ctx, "vm-x", MS_PSI_KIND_SOME, 150000, 2000000),
			 -ENOENT);
	ms_ctx_free(ctx);

	/* A captured tree has pressure files, but they are plain files: a
	 * trigger there is refused and the capture is left untouched. */
	tu_copy_fixture(root, "proc/pressure/memory", "linux-6.1-guest/proc/pressure/memory");
	ctx = tu_new_ctx(root);
	ck_assert_int_eq(ms_psi_trigger_open(ctx, NULL, MS_PSI_KIND_SOME, 150000, 2000000),
			 -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "not procfs or cgroup2"));
	ms_ctx_free(ctx);
	{
		struct ms_psi psi;

		ctx = tu_new_ctx(root);
		ck_assert_int_eq(ms_psi_read(ctx, NULL, &psi), 0);
		ck_assert_uint_eq(psi.some.total_us, 6035076);
		ms_ctx_free(ctx);
	}
}
END_TEST

/* CAP_SYS_RESOURCE in our effective set (/proc/self/status CapEff)? */
static bool has_cap_sys_resource(void)
{
	unsigned long long caps = 0;
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps & (1ull << 24);
}

START_TEST(psi_trigger_live)
{
	static const struct {
		enum ms_psi_kind kind;
		uint64_t stall, window;
	} ok[] = {
		{ MS_PSI_KIND_SOME, 150000, 2000000 },
		{ MS_PSI_KIND_FULL, 500000, 2000000 },
		{ MS_PSI_KIND_SOME, 2000000, 2000000 },   /* stall == window */
		{ MS_PSI_KIND_SOME, 1, 10000000 },
	};
	struct ms_ctx *ctx;
	int fd;

	if (access("/proc/pressure/memory", W_OK) != 0 || geteuid() != 0) {
		fprintf(stderr, "psi_trigger_live: skipped (no writable PSI or not root)\n");
		return;
	}
	ctx = tu_new_ctx("/");
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct pollfd pfd;
		int fl, r;

		fd = ms_psi_trigger_open(ctx, NULL, ok[i].kind, ok[i].stall, ok[i].window);
		ck_assert_msg(fd >= 0, "case %zu: %d (%s)", i, fd, tu_log.last);
		fl = fcntl(fd, F_GETFL);
		ck_assert_int_ne(fl, -1);
		ck_assert(fl & O_NONBLOCK);
		ck_assert_int_eq(fl & O_ACCMODE, O_RDWR);
		ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);

		pfd.fd = fd;
		pfd.events = POLLPRI;
		pfd.revents = 0;
		r = poll(&pfd, 1, 0);
		ck_assert_int_ge(r, 0);
		ck_assert_int_le(r, 1);
		ck_assert_int_eq(pfd.revents & (POLLERR | POLLNVAL | POLLHUP), 0);
		if (r == 1)
			ck_assert(pfd.revents & POLLPRI);
		ck_assert_int_eq(close(fd), 0);
	}

	/* A window that is not a multiple of 2 s needs CAP_SYS_RESOURCE (6.5+);
	 * root in a container may well lack it.  Without it the kernel says
	 * EINVAL and the log explains the rule. */
	fd = ms_psi_trigger_open(ctx, NULL, MS_PSI_KIND_SOME, 100000, 500000);
	if (has_cap_sys_resource()) {
		ck_assert_msg(fd >= 0, "%d (%s)", fd, tu_log.last);
		close(fd);
	} else {
		ck_assert_int_eq(fd, -EINVAL);
		ck_assert_ptr_nonnull(strstr(tu_log.last, "multiple of 2 s"));
	}
	ms_ctx_free(ctx);
}
END_TEST

/* ---- meminfo ------------------------------------------------------------ */

START_TEST(meminfo_read_61)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_meminfo mi, want;

	ck_assert_int_eq(ms_meminfo_read(ctx, &mi), 0);
	want_meminfo_61(&want);
	expect_meminfo(&mi, &want);
	ck_assert_uint_eq(mi.total_bytes, 492818432);
	ck_assert_uint_eq(mi.used_bytes, U);       /* per node only */
	ck_assert_uint_eq(mi.file_pages_bytes, U); /* per node only */
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(meminfo_read_618)
{
	struct ms_ctx *ctx = tu_new_ctx(H618);
	struct ms_meminfo mi, want;

	ck_assert_int_eq(ms_meminfo_read(ctx, &mi), 0);
	ms_meminfo_init(&want);
	want.total_bytes = KB(24683620);
	want.free_bytes = KB(24292212);
	want.available_bytes = KB(24350656);
	want.buffers_bytes = KB(1780);
	want.cached_bytes = KB(236776);
	want.swap_cached_bytes = 0;
	want.active_anon_bytes = KB(1512);
	want.inactive_anon_bytes = KB(3176);
	want.active_file_bytes = KB(52332);
	want.inactive_file_bytes = KB(177272);
	want.unevictable_bytes = KB(10368);
	want.mlocked_bytes = KB(9360);
	want.swap_total_bytes = 0;
	want.swap_free_bytes = 0;
	want.dirty_bytes = KB(696);
	want.writeback_bytes = 0;
	want.anon_pages_bytes = KB(6204);
	want.mapped_bytes = KB(10800);
	want.shmem_bytes = KB(8952);
	want.kreclaimable_bytes = KB(76112);
	want.slab_bytes = KB(98824);
	want.sreclaimable_bytes = KB(76112);
	want.sunreclaim_bytes = KB(22712);
	want.page_tables_bytes = KB(1180);
	expect_meminfo(&mi, &want);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(meminfo_parse_node)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_meminfo mi, want;
	size_t len;
	char *buf = tu_slurp("linux-6.1-guest/sys/devices/system/node/node0/meminfo", &len);

	ck_assert_int_eq(ms_meminfo_parse(ctx, buf, len, 0, &mi), 0);
	want_node0_61(&want);
	expect_meminfo(&mi, &want);
	/* Fields the node file does not have stay unknown. */
	ck_assert_uint_eq(mi.available_bytes, U);
	ck_assert_uint_eq(mi.cached_bytes, U);
	ck_assert_uint_eq(mi.buffers_bytes, U);
	ck_assert_uint_eq(mi.swap_total_bytes, U);

	/* The wrong node number, or no node expected: -EBADMSG. */
	memset(&mi, 0x5a, sizeof(mi));
	ck_assert_int_eq(ms_meminfo_parse(ctx, buf, len, 1, &mi), -EBADMSG);
	ck_assert_uint_eq(mi.total_bytes, 0x5a5a5a5a5a5a5a5aull);
	ck_assert_int_eq(ms_meminfo_parse(ctx, buf, len, -1, &mi), -EBADMSG);
	free(buf);

	/* And the other way round: /proc/meminfo read as a node file. */
	buf = tu_slurp("linux-6.1-guest/proc/meminfo", &len);
	ck_assert_int_eq(ms_meminfo_parse(ctx, buf, len, 0, &mi), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "line 1"));
	free(buf);

	buf = tu_slurp("linux-6.18-host/sys/devices/system/node/node0/meminfo", &len);
	ck_assert_int_eq(ms_meminfo_parse(ctx, buf, len, 0, &mi), 0);
	want_node0_618(&want);
	expect_meminfo(&mi, &want);
	free(buf);

	/* Multi-digit node numbers. */
	{
		const char *s = "Node 12 MemTotal:  100 kB\nNode 12 MemFree:   7 kB\n"
				"Node 12 HugePages_Total:     0\n";

		ck_assert_int_eq(ms_meminfo_parse(ctx, s, strlen(s), 12, &mi), 0);
		ck_assert_uint_eq(mi.total_bytes, KB(100));
		ck_assert_uint_eq(mi.free_bytes, KB(7));
		ck_assert_int_eq(ms_meminfo_parse(ctx, s, strlen(s), 1, &mi), -EBADMSG);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(meminfo_parse_edge)
{
	struct ms_meminfo mi;
	const char *s;

	/* Minimal: only MemTotal, no newline at the end, unit-less values. */
	s = "MemTotal:  1 kB";
	ck_assert_int_eq(ms_meminfo_parse(NULL, s, strlen(s), -1, &mi), 0);
	ck_assert_uint_eq(mi.total_bytes, 1024);
	ck_assert_uint_eq(mi.free_bytes, U);
	ck_assert_uint_eq(mi.available_bytes, U);   /* pre-3.14 kernel */

	/* Largest kB value that still fits 64 bits in bytes. */
	s = "MemTotal: 18014398509481983 kB\nHugePages_Total: 18446744073709551615\n"
	    "Dirty:\t0 kB\n";
	ck_assert_int_eq(ms_meminfo_parse(NULL, s, strlen(s), -1, &mi), 0);
	ck_assert_uint_eq(mi.total_bytes, 18446744073709550592ull);
	ck_assert_uint_eq(mi.dirty_bytes, 0);

	/* Unknown keys with huge kB values are ignored, not overflowed. */
	s = "VmallocTotal:   34359738367 kB\nFuture: 18014398509481984 kB\nMemTotal: 2 kB\n";
	ck_assert_int_eq(ms_meminfo_parse(NULL, s, strlen(s), -1, &mi), 0);
	ck_assert_uint_eq(mi.total_bytes, 2048);

	/* A prefix of a known key is not that key. */
	s = "MemTotal: 2 kB\nActive: 5 kB\nInactive: 6 kB\nSlab_x: 7 kB\n";
	ck_assert_int_eq(ms_meminfo_parse(NULL, s, strlen(s), -1, &mi), 0);
	ck_assert_uint_eq(mi.active_anon_bytes, U);
	ck_assert_uint_eq(mi.slab_bytes, U);
}
END_TEST

START_TEST(meminfo_parse_bad)
{
	static const struct {
		const char *text;
		int node;
		int err;
	} cases[] = {
		{ "", -1, -EBADMSG },
		{ "\n", -1, -EBADMSG },
		/* MemTotal missing */
		{ "MemFree: 10 kB\nMemAvailable: 20 kB\n", -1, -EBADMSG },
		/* garbage numbers */
		{ "MemTotal: abc kB\n", -1, -EBADMSG },
		{ "MemTotal: 12abc kB\n", -1, -EBADMSG },
		{ "MemTotal: -1 kB\n", -1, -EBADMSG },
		{ "MemTotal: 1.5 kB\n", -1, -EBADMSG },
		{ "MemTotal: 12 MB\n", -1, -EBADMSG },
		{ "MemTotal: 12 kBytes\n", -1, -EBADMSG },
		{ "MemTotal: 12 kB extra\n", -1, -EBADMSG },
		/* truncated lines */
		{ "MemTotal:", -1, -EBADMSG },
		{ "MemTotal:    ", -1, -EBADMSG },
		{ "MemTotal: 10 kB\nMemFr", -1, -EBADMSG },
		{ "MemTotal: 10 k", -1, -EBADMSG },
		{ "MemTotal 10 kB\n", -1, -EBADMSG },
		{ ": 10 kB\nMemTotal: 10 kB\n", -1, -EBADMSG },
		/* a bad line after a good MemTotal still fails */
		{ "MemTotal: 10 kB\nMemFree: x kB\n", -1, -EBADMSG },
		/* a key twice: which one would be true? */
		{ "MemTotal: 10 kB\nMemTotal: 99 kB\n", -1, -EBADMSG },
		{ "MemTotal: 10 kB\nSReclaimable: 1 kB\nSReclaimable: 1 kB\n", -1, -EBADMSG },
		{ "Node 0 MemTotal: 10 kB\nNode 0 MemTotal: 10 kB\n", 0, -EBADMSG },
		/* huge values: kB that overflow 64 bits in bytes, or digits beyond 64 bits */
		{ "MemTotal: 18014398509481984 kB\n", -1, -ERANGE },
		{ "MemTotal: 10 kB\nSReclaimable: 99999999999999999 kB\n", -1, -ERANGE },
		{ "MemTotal: 18446744073709551616\n", -1, -ERANGE },
		{ "MemTotal: 99999999999999999999999 kB\n", -1, -ERANGE },
		/* per-node prefixes */
		{ "Node 0 MemTotal: 10 kB\n", 1, -EBADMSG },
		{ "Node 0MemTotal: 10 kB\n", 0, -EBADMSG },
		{ "Node x MemTotal: 10 kB\n", 0, -EBADMSG },
		{ "Node  MemTotal: 10 kB\n", 0, -EBADMSG },
		{ "Node 0", 0, -EBADMSG },
		{ "MemTotal: 10 kB\n", 0, -EBADMSG },
		{ "Node 0 MemTotal: 10 kB\nNode 1 MemFree: 1 kB\n", 0, -EBADMSG },
		{ "Node 0 MemTotal: 18014398509481984 kB\n", 0, -ERANGE },
	};
	struct ms_ctx *ctx = tu_new_ctx(G61);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_meminfo mi;
		int r;

		memset(&mi, 0x5a, sizeof(mi));
		tu_log.nr = 0;
		r = ms_meminfo_parse(ctx, cases[i].text, strlen(cases[i].text), cases[i].node, &mi);
		ck_assert_msg(r == cases[i].err, "case %zu '%s': got %d, want %d", i,
			      cases[i].text, r, cases[i].err);
		ck_assert_uint_eq(mi.total_bytes, 0x5a5a5a5a5a5a5a5aull);
		ck_assert_msg(tu_log.nr > 0, "case %zu: no log message", i);
	}
	ck_assert_int_eq(ms_meminfo_parse(ctx, NULL, 0, -1, &(struct ms_meminfo){ 0 }), -EINVAL);
	ck_assert_int_eq(ms_meminfo_parse(ctx, "", 0, -1, NULL), -EINVAL);
	ck_assert_int_eq(ms_meminfo_read(ctx, NULL), -EINVAL);
	ck_assert_int_eq(ms_meminfo_read(NULL, &(struct ms_meminfo){ 0 }), -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(meminfo_read_tree)
{
	const char *root = tu_tmp_root("probe");
	struct ms_meminfo mi;
	struct ms_ctx *ctx;

	ctx = tu_new_ctx(root);
	ck_assert_int_eq(ms_meminfo_read(ctx, &mi), -ENOENT);

	/* The final capture of the guest, after drop_caches and the refaults. */
	tu_copy_fixture(root, "proc/meminfo", "linux-6.1-guest/proc/meminfo.final");
	ck_assert_int_eq(ms_meminfo_read(ctx, &mi), 0);
	ck_assert_uint_eq(mi.total_bytes, KB(481268));
	ck_assert_uint_eq(mi.active_anon_bytes, KB(236));
	ck_assert_uint_eq(mi.inactive_anon_bytes, KB(85472));
	ck_assert_uint_eq(mi.active_file_bytes, KB(20480));
	ck_assert_uint_eq(mi.inactive_file_bytes, KB(87928));
	ck_assert_uint_eq(mi.shmem_bytes, KB(3556));
	ck_assert_uint_eq(mi.sreclaimable_bytes, KB(18616));

	/* drop_caches=2: slab went from 57324 kB to 26312 kB. */
	tu_copy_fixture(root, "proc/meminfo", "linux-6.1-guest/proc/meminfo.before-drop_caches");
	ck_assert_int_eq(ms_meminfo_read(ctx, &mi), 0);
	ck_assert_uint_eq(mi.free_bytes, KB(241368));
	ck_assert_uint_eq(mi.available_bytes, KB(361524));
	ck_assert_uint_eq(mi.slab_bytes, KB(57324));
	ck_assert_uint_eq(mi.sreclaimable_bytes, KB(47532));
	tu_copy_fixture(root, "proc/meminfo", "linux-6.1-guest/proc/meminfo.after-drop_caches");
	ck_assert_int_eq(ms_meminfo_read(ctx, &mi), 0);
	ck_assert_uint_eq(mi.free_bytes, KB(271968));
	ck_assert_uint_eq(mi.available_bytes, KB(363232));
	ck_assert_uint_eq(mi.slab_bytes, KB(26312));
	ck_assert_uint_eq(mi.sreclaimable_bytes, KB(18616));
	ck_assert_uint_eq(mi.sunreclaim_bytes, KB(7696));

	tu_put_str(root, "proc/meminfo", "MemTotal: abc kB\n");
	ck_assert_int_eq(ms_meminfo_read(ctx, &mi), -EBADMSG);
	tu_put_str(root, "proc/meminfo", "MemTotal: 18014398509481984 kB\n");
	ck_assert_int_eq(ms_meminfo_read(ctx, &mi), -ERANGE);
	ms_ctx_free(ctx);
}
END_TEST

/* ---- vmstat ------------------------------------------------------------- */

START_TEST(vmstat_read_61)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_vmstat vs;

	/* Main capture: no reclaim has happened yet, every counter is 0 (and
	 * known: 0 is not MS_UNKNOWN). */
	ck_assert_int_eq(ms_vmstat_read(ctx, &vs), 0);
	ck_assert_uint_eq(vs.refault_anon_bytes, 0);
	ck_assert_uint_eq(vs.refault_file_bytes, 0);
	ck_assert_uint_eq(vs.refault_bytes, 0);
	ck_assert_uint_eq(vs.activate_bytes, 0);
	ck_assert_uint_eq(vs.pgscan_kswapd_bytes, 0);
	ck_assert_uint_eq(vs.pgscan_direct_bytes, 0);
	ck_assert_uint_eq(vs.pgsteal_kswapd_bytes, 0);
	ck_assert_uint_eq(vs.pgsteal_direct_bytes, 0);
	ck_assert_uint_eq(vs.pgscan_bytes, 0);
	ck_assert_uint_eq(vs.pgsteal_bytes, 0);
	ck_assert_uint_eq(vs.pgmajfault, 0);
	ck_assert_uint_eq(vs.pswpin_bytes, 0);
	ck_assert_uint_eq(vs.pswpout_bytes, 0);
	ck_assert_uint_eq(vs.oom_kill, 0);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(vmstat_final_61)
{
	const char *root = tu_tmp_root("probe");
	struct ms_ctx *ctx;
	struct ms_vmstat vs;
	uint64_t ps;

	tu_copy_fixture(root, "proc/vmstat", "linux-6.1-guest/proc/vmstat.final");
	ctx = tu_new_ctx(root);
	ps = ms_ctx_get_page_size(ctx);
	ck_assert_int_eq(ms_vmstat_read(ctx, &vs), 0);
	/* memory.reclaim evicted 5760 file pages from vm-a and they refaulted;
	 * cgroup-targeted reclaim is counted in pgscan_file/pgsteal_file only,
	 * not in pgscan_direct/kswapd. */
	ck_assert_uint_eq(vs.refault_anon_bytes, 0);
	ck_assert_uint_eq(vs.refault_file_bytes, 5760 * ps);
	ck_assert_uint_eq(vs.refault_bytes, 5760 * ps);
	ck_assert_uint_eq(vs.activate_bytes, 0);
	ck_assert_uint_eq(vs.pgscan_kswapd_bytes, 0);
	ck_assert_uint_eq(vs.pgscan_direct_bytes, 0);
	ck_assert_uint_eq(vs.pgsteal_kswapd_bytes, 0);
	ck_assert_uint_eq(vs.pgsteal_direct_bytes, 0);
	ck_assert_uint_eq(vs.pgscan_bytes, 5760 * ps);
	ck_assert_uint_eq(vs.pgsteal_bytes, 5760 * ps);
	ck_assert_uint_eq(vs.pgmajfault, 0);
	ck_assert_uint_eq(vs.oom_kill, 0);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(vmstat_read_618)
{
	struct ms_ctx *ctx = tu_new_ctx(H618);
	struct ms_vmstat vs;
	uint64_t ps = ms_ctx_get_page_size(ctx);

	ck_assert_int_eq(ms_vmstat_read(ctx, &vs), 0);
	ck_assert_uint_eq(vs.refault_anon_bytes, 0);
	ck_assert_uint_eq(vs.refault_file_bytes, 295740 * ps);
	ck_assert_uint_eq(vs.refault_bytes, 295740 * ps);
	ck_assert_uint_eq(vs.activate_bytes, 45057 * ps);
	ck_assert_uint_eq(vs.pgscan_kswapd_bytes, 0);
	ck_assert_uint_eq(vs.pgscan_direct_bytes, 0);
	ck_assert_uint_eq(vs.pgsteal_kswapd_bytes, 0);
	ck_assert_uint_eq(vs.pgsteal_direct_bytes, 0);
	ck_assert_uint_eq(vs.pgscan_bytes, 0);
	ck_assert_uint_eq(vs.pgsteal_bytes, 0);
	ck_assert_uint_eq(vs.pgmajfault, 1759);
	ck_assert_uint_eq(vs.pswpin_bytes, 0);
	ck_assert_uint_eq(vs.pswpout_bytes, 0);
	ck_assert_uint_eq(vs.oom_kill, 0);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(vmstat_parse_old_kernel)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	uint64_t ps = ms_ctx_get_page_size(ctx);
	struct ms_vmstat vs;
	const char *s;

	/* Before 5.8/5.9: one workingset_refault, no pgscan_anon/_file; the
	 * totals are kswapd + direct (+ khugepaged when present). */
	s = "nr_free_pages 100\nworkingset_refault 100\nworkingset_activate 40\n"
	    "pgscan_kswapd 10\npgscan_direct 5\npgsteal_kswapd 7\npgsteal_direct 3\n"
	    "pgmajfault 9";
	ck_assert_int_eq(ms_vmstat_parse(ctx, s, strlen(s), &vs), 0);
	ck_assert_uint_eq(vs.refault_bytes, 100 * ps);
	ck_assert_uint_eq(vs.refault_anon_bytes, U);
	ck_assert_uint_eq(vs.refault_file_bytes, U);
	ck_assert_uint_eq(vs.activate_bytes, 40 * ps);
	ck_assert_uint_eq(vs.pgscan_kswapd_bytes, 10 * ps);
	ck_assert_uint_eq(vs.pgscan_direct_bytes, 5 * ps);
	ck_assert_uint_eq(vs.pgscan_bytes, 15 * ps);
	ck_assert_uint_eq(vs.pgsteal_bytes, 10 * ps);
	ck_assert_uint_eq(vs.pgmajfault, 9);
	ck_assert_uint_eq(vs.pswpin_bytes, U);
	ck_assert_uint_eq(vs.pswpout_bytes, U);
	ck_assert_uint_eq(vs.oom_kill, U);

	s = "pgscan_kswapd 10\npgscan_direct 5\npgscan_khugepaged 2\n"
	    "pgsteal_kswapd 7\npgsteal_direct 3\npgsteal_khugepaged 1\n";
	ck_assert_int_eq(ms_vmstat_parse(ctx, s, strlen(s), &vs), 0);
	ck_assert_uint_eq(vs.pgscan_bytes, 17 * ps);
	ck_assert_uint_eq(vs.pgsteal_bytes, 11 * ps);
	ck_assert_uint_eq(vs.refault_bytes, U);
	ck_assert_uint_eq(vs.activate_bytes, U);
	ck_assert_uint_eq(vs.pgmajfault, U);

	/* 5.8+: pgscan_anon + pgscan_file win over kswapd + direct. */
	s = "pgscan_kswapd 10\npgscan_direct 5\npgscan_anon 1\npgscan_file 30\n"
	    "pgsteal_anon 2\npgsteal_file 20\nworkingset_refault_anon 3\n"
	    "workingset_refault_file 4\nworkingset_activate_anon 5\nworkingset_activate_file 6\n"
	    "workingset_refault 999\n";
	ck_assert_int_eq(ms_vmstat_parse(ctx, s, strlen(s), &vs), 0);
	ck_assert_uint_eq(vs.pgscan_bytes, 31 * ps);
	ck_assert_uint_eq(vs.pgsteal_bytes, 22 * ps);
	ck_assert_uint_eq(vs.refault_anon_bytes, 3 * ps);
	ck_assert_uint_eq(vs.refault_file_bytes, 4 * ps);
	ck_assert_uint_eq(vs.refault_bytes, 7 * ps);
	ck_assert_uint_eq(vs.activate_bytes, 11 * ps);
	ck_assert_uint_eq(vs.pgsteal_kswapd_bytes, U);

	/* Half of a split pair is no sum at all (not a partial one). */
	s = "workingset_refault_anon 3\npgscan_kswapd 10\npgsteal_direct 3\n";
	ck_assert_int_eq(ms_vmstat_parse(ctx, s, strlen(s), &vs), 0);
	ck_assert_uint_eq(vs.refault_anon_bytes, 3 * ps);
	ck_assert_uint_eq(vs.refault_file_bytes, U);
	ck_assert_uint_eq(vs.refault_bytes, U);
	ck_assert_uint_eq(vs.pgscan_kswapd_bytes, 10 * ps);
	ck_assert_uint_eq(vs.pgscan_bytes, U);
	ck_assert_uint_eq(vs.pgsteal_bytes, U);

	/* Counters beyond those of interest do not matter. */
	s = "oom_kill 3\nnr_foo_bar 18446744073709551615\n";
	ck_assert_int_eq(ms_vmstat_parse(ctx, s, strlen(s), &vs), 0);
	ck_assert_uint_eq(vs.oom_kill, 3);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(vmstat_parse_bad)
{
	static const struct {
		const char *text;
		int err;
	} cases[] = {
		{ "", -EBADMSG },
		{ "\n\n", -EBADMSG },
		/* no counter of interest at all */
		{ "nr_free_pages 5\nnr_zone_active_anon 3\n", -EBADMSG },
		/* garbage and truncated lines */
		{ "pgmajfault abc\n", -EBADMSG },
		{ "pgmajfault 12abc\n", -EBADMSG },
		{ "pgmajfault -1\n", -EBADMSG },
		{ "pgmajfault\n", -EBADMSG },
		{ "pgmajfault ", -EBADMSG },
		{ "pgmajfault  5\n", -EBADMSG },
		{ "pgmajfault 5 6\n", -EBADMSG },
		{ "pgmajfault\t5\n", -EBADMSG },
		{ " 5\n", -EBADMSG },
		{ "pgmajfault 12\npgscan_ka", -EBADMSG },
		{ "pgmajfault 12\nnr_free_pages x\n", -EBADMSG },
		/* beyond 64 bits, as a number or in bytes */
		{ "pgmajfault 18446744073709551616\n", -ERANGE },
		{ "nr_free_pages 99999999999999999999999\npgmajfault 1\n", -ERANGE },
		{ "pswpin 18446744073709551614\n", -ERANGE },
		{ "workingset_refault_anon 4611686018427387904\nworkingset_refault_file 1\n", -ERANGE },
	};
	struct ms_ctx *ctx = tu_new_ctx(G61);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_vmstat vs;
		int r;

		memset(&vs, 0x5a, sizeof(vs));
		tu_log.nr = 0;
		r = ms_vmstat_parse(ctx, cases[i].text, strlen(cases[i].text), &vs);
		ck_assert_msg(r == cases[i].err, "case %zu '%s': got %d, want %d", i,
			      cases[i].text, r, cases[i].err);
		ck_assert_uint_eq(vs.pgmajfault, 0x5a5a5a5a5a5a5a5aull);
		ck_assert_msg(tu_log.nr > 0, "case %zu: no log message", i);
	}
	ck_assert_int_eq(ms_vmstat_parse(NULL, "pgmajfault 1", 12, &(struct ms_vmstat){ 0 }),
			 -EINVAL);
	ck_assert_int_eq(ms_vmstat_parse(ctx, NULL, 0, &(struct ms_vmstat){ 0 }), -EINVAL);
	ck_assert_int_eq(ms_vmstat_parse(ctx, "", 0, NULL), -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(vmstat_range_in_bytes)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	uint64_t ps = ms_ctx_get_page_size(ctx), max = UINT64_MAX / ps;
	struct ms_vmstat vs;
	char s[128];

	/* The largest page count that fits in bytes, and one more. */
	snprintf(s, sizeof(s), "pswpout %llu\n", (unsigned long long)max);
	ck_assert_int_eq(ms_vmstat_parse(ctx, s, strlen(s), &vs), 0);
	ck_assert_uint_eq(vs.pswpout_bytes, max * ps);
	snprintf(s, sizeof(s), "pswpout %llu\n", (unsigned long long)max + 1);
	ck_assert_int_eq(ms_vmstat_parse(ctx, s, strlen(s), &vs), -ERANGE);
	/* Event counts are not scaled. */
	snprintf(s, sizeof(s), "pgmajfault %llu\n", (unsigned long long)max + 1);
	ck_assert_int_eq(ms_vmstat_parse(ctx, s, strlen(s), &vs), 0);
	ck_assert_uint_eq(vs.pgmajfault, max + 1);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(vmstat_read_tree)
{
	const char *root = tu_tmp_root("probe");
	struct ms_ctx *ctx = tu_new_ctx(root);
	struct ms_vmstat vs;

	ck_assert_int_eq(ms_vmstat_read(ctx, &vs), -ENOENT);
	tu_put_str(root, "proc/vmstat", "pgmajfault 1\npgscan_kswapd\n");
	ck_assert_int_eq(ms_vmstat_read(ctx, &vs), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "line 2"));
	ck_assert_int_eq(ms_vmstat_read(ctx, NULL), -EINVAL);
	ck_assert_int_eq(ms_vmstat_read(NULL, &vs), -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

/* ---- NUMA --------------------------------------------------------------- */

/* A capture from a 64 KiB-page machine: page counts scale with the option. */
START_TEST(vmstat_page_size_option)
{
	char root[4096];
	struct ms_vmstat vs;
	struct ms_ctx *ctx = NULL;

	snprintf(root, sizeof(root), "%s/linux-6.1-guest", MS_FIXTURES_DIR);
	{
		MS_OPTS(ms_ctx_opts, o, .sysroot = root, .page_size_bytes = 65536);

		ck_assert_int_eq(ms_ctx_new(&ctx, &o), 0);
	}
	ck_assert_uint_eq(ms_ctx_get_page_size(ctx), 65536);
	ck_assert_int_eq(ms_vmstat_read(ctx, &vs), 0);
	/* 6.1 main capture: pgmajfault is an event count, not scaled. */
	ck_assert_uint_eq(vs.pgscan_bytes, 0);
	ms_ctx_free(ctx);
	{
		MS_OPTS(ms_ctx_opts, o, .sysroot = root, .page_size_bytes = 3000);

		ctx = NULL;
		ck_assert_int_eq(ms_ctx_new(&ctx, &o), -EINVAL);
		ck_assert_ptr_null(ctx);
	}
	{
		const char *buf = "workingset_refault_anon 3\nworkingset_refault_file 5\n";
		MS_OPTS(ms_ctx_opts, o, .sysroot = root, .page_size_bytes = 65536);

		ck_assert_int_eq(ms_ctx_new(&ctx, &o), 0);
		ck_assert_int_eq(ms_vmstat_parse(ctx, buf, strlen(buf), &vs), 0);
		ck_assert_uint_eq(vs.refault_bytes, 8 * 65536);
		ck_assert_uint_eq(vs.refault_anon_bytes, 3 * 65536);
		ms_ctx_free(ctx);
	}
}
END_TEST

START_TEST(numa_maps_parse_pages)
{
	static const char text[] =
		"7f0000000000 default file=/usr/bin/qemu mapped=10 N0=6 N1=4 kernelpagesize_kB=4\n"
		"7f0000200000 bind:1 anon=512 dirty=512 N1=512 kernelpagesize_kB=2048\n"
		"7f0000400000 default\n"                       /* nothing resident */
		"7f0000600000 interleave:0-3 anon=3 N3=3 kernelpagesize_kB=4\n";
	struct ms_ctx *ctx = tu_new_ctx(NULL);
	uint64_t b[4];

	ck_assert_int_eq(ms_numa_maps_parse(ctx, text, strlen(text), b, 4), 4);
	ck_assert_uint_eq(b[0], 6 * 4096);
	ck_assert_uint_eq(b[1], 4 * 4096 + 512ull * 2048 * 1024);
	ck_assert_uint_eq(b[2], 0);
	ck_assert_uint_eq(b[3], 3 * 4096);
	/* Fewer slots than nodes: the rest is left out. */
	ck_assert_int_eq(ms_numa_maps_parse(ctx, text, strlen(text), b, 2), 2);
	ck_assert_uint_eq(b[1], 4 * 4096 + 512ull * 2048 * 1024);
	/* Empty: nothing. */
	ck_assert_int_eq(ms_numa_maps_parse(ctx, "", 0, b, 4), 0);
	/* Bad input. */
	{
		static const char *const bad[] = {
			"7f00 default N0=x kernelpagesize_kB=4\n",
			"7f00 default N0 kernelpagesize_kB=4\n",
			"7f00 default N0=3\n",                          /* no page size */
			"7f00 default N0=3 kernelpagesize_kB=four\n",
			"7f00 default N0=99999999999999999999 kernelpagesize_kB=4\n",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			ck_assert_int_eq(ms_numa_maps_parse(ctx, bad[i], strlen(bad[i]), b, 4),
					 -EBADMSG);
	}
	ck_assert_int_eq(ms_numa_maps_parse(ctx, text, strlen(text), b, 0), -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(numa_maps_live)
{
	struct ms_ctx *ctx = tu_new_ctx(NULL);
	uint64_t b[64];
	int n = ms_numa_maps_read(ctx, getpid(), b, 64);

	/* This process has memory, on at least node 0's slot. */
	ck_assert_int_ge(n, 1);
	ck_assert_uint_gt(b[0] + (n > 1 ? b[1] : 0), 1u << 20);
	ck_assert_int_eq(ms_numa_maps_read(ctx, 0, b, 64), -EINVAL);
	ck_assert_int_eq(ms_numa_maps_read(ctx, 1 << 30, b, 64), -ENOENT);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(numa_read_fixtures)
{
	struct ms_numa_node *nodes = NULL;
	struct ms_meminfo want;
	struct ms_ctx *ctx;
	size_t nr = 0;

	/* sysroot != "/": the nodeN directories of the capture, never libnuma. */
	ctx = tu_new_ctx(G61);
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), 0);
	ck_assert_uint_eq(nr, 1);
	ck_assert_int_eq(nodes[0].node, 0);
	want_node0_61(&want);
	expect_meminfo(&nodes[0].meminfo, &want);
	free(nodes);
	ms_ctx_free(ctx);

	/* 6.18 host: deferred struct page init, node 0 holds 5203744 kB of
	 * the 24683620 kB /proc/meminfo counts. */
	ctx = tu_new_ctx(H618);
	nodes = NULL;
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), 0);
	ck_assert_uint_eq(nr, 1);
	ck_assert_int_eq(nodes[0].node, 0);
	want_node0_618(&want);
	expect_meminfo(&nodes[0].meminfo, &want);
	free(nodes);

	ck_assert_int_eq(ms_numa_read(ctx, NULL, &nr), -EINVAL);
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, NULL), -EINVAL);
	ck_assert_int_eq(ms_numa_read(NULL, &nodes, &nr), -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(numa_read_no_sysfs)
{
	const char *root = tu_tmp_root("probe");
	struct ms_numa_node *nodes = NULL;
	struct ms_meminfo want;
	struct ms_ctx *ctx;
	size_t nr = 0;

	/* No NUMA sysfs: one node 0 from /proc/meminfo. */
	tu_copy_fixture(root, "proc/meminfo", "linux-6.1-guest/proc/meminfo");
	ctx = tu_new_ctx(root);
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), 0);
	ck_assert_uint_eq(nr, 1);
	ck_assert_int_eq(nodes[0].node, 0);
	want_meminfo_61(&want);
	expect_meminfo(&nodes[0].meminfo, &want);
	free(nodes);

	/* An empty node directory is the same as none. */
	tu_mkdirs(root, "sys/devices/system/node");
	tu_put_str(root, "sys/devices/system/node/possible", "0\n");
	nodes = NULL;
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), 0);
	ck_assert_uint_eq(nr, 1);
	ck_assert_uint_eq(nodes[0].meminfo.available_bytes, KB(364660));
	free(nodes);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(numa_read_multi)
{
	const char *root = tu_tmp_root("probe");
	struct ms_numa_node *nodes = NULL;
	struct ms_ctx *ctx;
	size_t nr = 0;

	tu_put_str(root, "sys/devices/system/node/node10/meminfo",
		"Node 10 MemTotal:  3000 kB\nNode 10 MemFree:  30 kB\n");
	tu_put_str(root, "sys/devices/system/node/node2/meminfo",
		"Node 2 MemTotal:  2000 kB\nNode 2 MemFree:  20 kB\n");
	tu_put_str(root, "sys/devices/system/node/node0/meminfo",
		"Node 0 MemTotal:  1000 kB\nNode 0 MemFree:  10 kB\nNode 0 Shmem: 1 kB\n");
	/* Not node directories. */
	tu_put_str(root, "sys/devices/system/node/online", "0,2,10\n");
	tu_put_str(root, "sys/devices/system/node/has_memory", "0,2,10\n");
	tu_mkdirs(root, "sys/devices/system/node/node1x");
	tu_mkdirs(root, "sys/devices/system/node/power");
	tu_mkdirs(root, "sys/devices/system/node/node");
	ctx = tu_new_ctx(root);
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), 0);
	ck_assert_uint_eq(nr, 3);
	ck_assert_int_eq(nodes[0].node, 0);
	ck_assert_int_eq(nodes[1].node, 2);
	ck_assert_int_eq(nodes[2].node, 10);
	ck_assert_uint_eq(nodes[0].meminfo.total_bytes, KB(1000));
	ck_assert_uint_eq(nodes[0].meminfo.free_bytes, KB(10));
	ck_assert_uint_eq(nodes[0].meminfo.shmem_bytes, KB(1));
	ck_assert_uint_eq(nodes[1].meminfo.total_bytes, KB(2000));
	ck_assert_uint_eq(nodes[1].meminfo.free_bytes, KB(20));
	ck_assert_uint_eq(nodes[1].meminfo.shmem_bytes, U);
	ck_assert_uint_eq(nodes[2].meminfo.total_bytes, KB(3000));
	ck_assert_uint_eq(nodes[2].meminfo.free_bytes, KB(30));
	free(nodes);

	/* A node whose meminfo names another node is malformed. */
	tu_put_str(root, "sys/devices/system/node/node2/meminfo", "Node 3 MemTotal: 2000 kB\n");
	nodes = NULL;
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), -EBADMSG);
	ck_assert_ptr_null(nodes);
	/* A node without meminfo. */
	tu_put_str(root, "sys/devices/system/node/node2/meminfo", "Node 2 MemTotal: 2000 kB\n");
	tu_mkdirs(root, "sys/devices/system/node/node7");
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), -ENOENT);
	ck_assert_ptr_null(nodes);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(numa_read_empty_root)
{
	const char *root = tu_tmp_root("probe");
	struct ms_numa_node *nodes = NULL;
	struct ms_ctx *ctx = tu_new_ctx(root);
	size_t nr = 0;

	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), -ENOENT);
	ck_assert_ptr_null(nodes);
	tu_put_str(root, "proc/meminfo", "MemFree: 1 kB\n");
	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), -EBADMSG);
	ck_assert_ptr_null(nodes);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(numa_read_live)
{
	struct ms_numa_node *nodes = NULL;
	struct ms_ctx *ctx = tu_new_ctx("/");
	size_t nr = 0;

	ck_assert_int_eq(ms_numa_read(ctx, &nodes, &nr), 0);
	ck_assert_uint_ge(nr, 1);
	for (size_t i = 0; i < nr; i++) {
		ck_assert_uint_gt(nodes[i].meminfo.total_bytes, 0);
		ck_assert_uint_ne(nodes[i].meminfo.total_bytes, U);
		ck_assert_uint_le(nodes[i].meminfo.free_bytes, nodes[i].meminfo.total_bytes);
		if (i)
			ck_assert_int_gt(nodes[i].node, nodes[i - 1].node);
	}
	free(nodes);
	ms_ctx_free(ctx);
}
END_TEST

/* ---- samples and rates -------------------------------------------------- */

static void sample_init(struct ms_sample *s, uint64_t mono_us)
{
	memset(s, 0, sizeof(*s));
	s->mono_us = mono_us;
	s->has_psi = true;
	s->psi.present = MS_PSI_SOME | MS_PSI_FULL;
}

START_TEST(rates_basic)
{
	struct ms_sample a, b;
	struct ms_rates r;

	sample_init(&a, 10000000);
	sample_init(&b, 12000000);  /* 2 s later */
	a.psi.some.total_us = 1000;
	b.psi.some.total_us = 5000;
	a.psi.full.total_us = 500;
	b.psi.full.total_us = 1500;
	a.vmstat.refault_bytes = 4096;
	b.vmstat.refault_bytes = 4096 * 101;
	a.vmstat.refault_anon_bytes = 0;
	b.vmstat.refault_anon_bytes = 4096;
	a.vmstat.refault_file_bytes = 4096;
	b.vmstat.refault_file_bytes = 4096 * 100;
	a.vmstat.pgscan_bytes = 1000000;
	b.vmstat.pgscan_bytes = 3000000;
	a.vmstat.pgsteal_bytes = 7;
	b.vmstat.pgsteal_bytes = 7;
	a.vmstat.pgmajfault = 10;
	b.vmstat.pgmajfault = 30;
	a.vmstat.pswpin_bytes = 0;
	b.vmstat.pswpin_bytes = 8192;
	a.vmstat.pswpout_bytes = 8192;
	b.vmstat.pswpout_bytes = 16384;

	memset(&r, 0xff, sizeof(r));
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), 0);
	ck_assert_double_eq(r.interval_s, 2.0);
	ck_assert_double_eq(r.some_stall_us_per_s, 2000.0);
	ck_assert_double_eq(r.full_stall_us_per_s, 500.0);
	ck_assert_double_eq(r.refault_bytes_per_s, 204800.0);
	ck_assert_double_eq(r.refault_anon_bytes_per_s, 2048.0);
	ck_assert_double_eq(r.refault_file_bytes_per_s, 202752.0);
	ck_assert_double_eq(r.pgscan_bytes_per_s, 1000000.0);
	ck_assert_double_eq(r.pgsteal_bytes_per_s, 0.0);
	ck_assert_double_eq(r.pgmajfault_per_s, 10.0);
	ck_assert_double_eq(r.pswpin_bytes_per_s, 4096.0);
	ck_assert_double_eq(r.pswpout_bytes_per_s, 4096.0);
	ck_assert_uint_eq(r.resets, 0);

	/* 250 ms interval: rates scale up. */
	b.mono_us = a.mono_us + 250000;
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), 0);
	ck_assert_double_eq(r.interval_s, 0.25);
	ck_assert_double_eq(r.some_stall_us_per_s, 16000.0);
	ck_assert_double_eq(r.pgmajfault_per_s, 80.0);

	/* 1 us is the smallest valid interval. */
	b.mono_us = a.mono_us + 1;
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), 0);
	ck_assert_double_eq_tol(r.pgmajfault_per_s, 20e6, 1e-3);
}
END_TEST

START_TEST(rates_reset)
{
	struct ms_sample a, b;
	struct ms_rates r;

	sample_init(&a, 5000000);
	sample_init(&b, 9000000);   /* 4 s */
	/* A guest reboot: the counters start again from zero. */
	a.psi.some.total_us = 900000;
	b.psi.some.total_us = 4000;
	a.psi.full.total_us = 100;
	b.psi.full.total_us = 500;
	a.vmstat.refault_bytes = 1 << 30;
	b.vmstat.refault_bytes = 8192;
	a.vmstat.pgmajfault = 1000;
	b.vmstat.pgmajfault = 40;
	a.vmstat.pgscan_bytes = 4096;
	b.vmstat.pgscan_bytes = 4096;  /* unchanged is not a reset */
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), 0);
	ck_assert_double_eq(r.some_stall_us_per_s, 1000.0);
	ck_assert_double_eq(r.full_stall_us_per_s, 100.0);
	ck_assert_double_eq(r.refault_bytes_per_s, 2048.0);
	ck_assert_double_eq(r.pgmajfault_per_s, 10.0);
	ck_assert_double_eq(r.pgscan_bytes_per_s, 0.0);
	ck_assert_uint_eq(r.resets, 3);
	/* Rates are never negative. */
	ck_assert(r.refault_bytes_per_s >= 0 && r.some_stall_us_per_s >= 0);
}
END_TEST

START_TEST(rates_unknown)
{
	struct ms_sample a, b;
	struct ms_rates r;

	sample_init(&a, 1000000);
	sample_init(&b, 2000000);
	/* An old kernel: no split refaults, no swap counters. */
	a.vmstat.refault_anon_bytes = U;
	b.vmstat.refault_anon_bytes = U;
	a.vmstat.refault_file_bytes = 10;
	b.vmstat.refault_file_bytes = U;  /* unknown in one sample only */
	a.vmstat.pswpin_bytes = U;
	b.vmstat.pswpin_bytes = 5;
	a.vmstat.pgmajfault = U;
	b.vmstat.pgmajfault = U;
	b.vmstat.refault_bytes = 3;
	/* No "full" line in the current sample. */
	b.psi.present = MS_PSI_SOME;
	b.psi.some.total_us = 7;
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), 0);
	ck_assert(isnan(r.refault_anon_bytes_per_s));
	ck_assert(isnan(r.refault_file_bytes_per_s));
	ck_assert(isnan(r.pswpin_bytes_per_s));
	ck_assert(isnan(r.pgmajfault_per_s));
	ck_assert(isnan(r.full_stall_us_per_s));
	ck_assert_double_eq(r.some_stall_us_per_s, 7.0);
	ck_assert_double_eq(r.refault_bytes_per_s, 3.0);
	ck_assert_double_eq(r.pswpout_bytes_per_s, 0.0);
	ck_assert_uint_eq(r.resets, 0);

	/* No PSI in either sample. */
	b.has_psi = false;
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), 0);
	ck_assert(isnan(r.some_stall_us_per_s));
	ck_assert(isnan(r.full_stall_us_per_s));
	a.has_psi = false;
	b.has_psi = true;
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), 0);
	ck_assert(isnan(r.some_stall_us_per_s));
}
END_TEST

START_TEST(rates_einval)
{
	struct ms_sample a, b;
	struct ms_rates r;

	sample_init(&a, 1000000);
	sample_init(&b, 1000000);
	memset(&r, 0x5a, sizeof(r));
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), -EINVAL);   /* same time */
	b.mono_us = 999999;
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), -EINVAL);   /* earlier */
	ck_assert_uint_eq(r.resets, 0x5a5a5a5a);                   /* untouched */
	b.mono_us = 2000000;
	ck_assert_int_eq(ms_rates_compute(&b, &a, &r), -EINVAL);   /* swapped */
	ck_assert_int_eq(ms_rates_compute(NULL, &b, &r), -EINVAL);
	ck_assert_int_eq(ms_rates_compute(&a, NULL, &r), -EINVAL);
	ck_assert_int_eq(ms_rates_compute(&a, &b, NULL), -EINVAL);
	ck_assert_int_eq(ms_rates_compute(&a, &b, &r), 0);
}
END_TEST

START_TEST(sample_take_tree)
{
	const char *root = tu_tmp_root("probe");
	struct ms_sample s1, s2;
	struct ms_rates r;
	struct ms_ctx *ctx;

	ctx = tu_new_ctx(G61);
	ck_assert_int_eq(ms_sample_take(ctx, &s1), 0);
	ck_assert(s1.has_psi);
	ck_assert_uint_eq(s1.psi.some.total_us, 6035076);
	ck_assert_uint_eq(s1.psi.full.total_us, 5962034);
	ck_assert_uint_eq(s1.vmstat.pgscan_bytes, 0);
	ck_assert_uint_gt(s1.mono_us, 0);
	ms_ctx_free(ctx);

	/* A capture without PSI is not an error. */
	tu_copy_fixture(root, "proc/vmstat", "linux-6.1-guest/proc/vmstat.final");
	ctx = tu_new_ctx(root);
	ck_assert_int_eq(ms_sample_take(ctx, &s2), 0);
	ck_assert(!s2.has_psi);
	ck_assert_uint_eq(s2.vmstat.refault_file_bytes, 5760 * ms_ctx_get_page_size(ctx));
	ck_assert_uint_ge(s2.mono_us, s1.mono_us);
	if (s2.mono_us > s1.mono_us) {
		ck_assert_int_eq(ms_rates_compute(&s1, &s2, &r), 0);
		ck_assert(isnan(r.some_stall_us_per_s));
		ck_assert_double_gt(r.refault_file_bytes_per_s, 0);
	}
	/* No vmstat is an error; PSI that is there but malformed too. */
	{
		char path[1024];

		snprintf(path, sizeof(path), "%s/proc/vmstat", root);
		ck_assert_int_eq(unlink(path), 0);
	}
	ck_assert_int_eq(ms_sample_take(ctx, &s2), -ENOENT);
	tu_copy_fixture(root, "proc/vmstat", "linux-6.1-guest/proc/vmstat.final");
	tu_put_str(root, "proc/pressure/memory",
		   "some avg10=1000.00 avg60=0.00 avg300=0.00 total=1\n");
	ck_assert_int_eq(ms_sample_take(ctx, &s2), -EBADMSG);
	ck_assert_int_eq(ms_sample_take(ctx, NULL), -EINVAL);
	ck_assert_int_eq(ms_sample_take(NULL, &s2), -EINVAL);
	ms_ctx_free(ctx);
}
END_TEST

static Suite *probe_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc;

	tc = tcase_create("psi");
	tcase_add_checked_fixture(tc, NULL, tu_tmp_cleanup);
	tcase_add_test(tc, psi_parse_fixture_61);
	tcase_add_test(tc, psi_read_system);
	tcase_add_test(tc, psi_read_cgroup);
	tcase_add_test(tc, psi_read_cgroup_v1);
	tcase_add_test(tc, psi_read_no_psi);
	tcase_add_test(tc, psi_parse_variants);
	tcase_add_test(tc, psi_parse_bad);
	tcase_add_test(tc, psi_trigger_args);
	tcase_add_test(tc, psi_trigger_sysroot);
	tcase_add_test(tc, psi_trigger_live);
	suite_add_tcase(s, tc);

	tc = tcase_create("meminfo");
	tcase_add_checked_fixture(tc, NULL, tu_tmp_cleanup);
	tcase_add_test(tc, meminfo_read_61);
	tcase_add_test(tc, meminfo_read_618);
	tcase_add_test(tc, meminfo_parse_node);
	tcase_add_test(tc, meminfo_parse_edge);
	tcase_add_test(tc, meminfo_parse_bad);
	tcase_add_test(tc, meminfo_read_tree);
	suite_add_tcase(s, tc);

	tc = tcase_create("vmstat");
	tcase_add_checked_fixture(tc, NULL, tu_tmp_cleanup);
	tcase_add_test(tc, vmstat_read_61);
	tcase_add_test(tc, vmstat_final_61);
	tcase_add_test(tc, vmstat_read_618);
	tcase_add_test(tc, vmstat_parse_old_kernel);
	tcase_add_test(tc, vmstat_parse_bad);
	tcase_add_test(tc, vmstat_range_in_bytes);
	tcase_add_test(tc, vmstat_read_tree);
	tcase_add_test(tc, vmstat_page_size_option);
	suite_add_tcase(s, tc);

	tc = tcase_create("numa");
	tcase_add_checked_fixture(tc, NULL, tu_tmp_cleanup);
	tcase_add_test(tc, numa_read_fixtures);
	tcase_add_test(tc, numa_maps_parse_pages);
	tcase_add_test(tc, numa_maps_live);
	tcase_add_test(tc, numa_read_no_sysfs);
	tcase_add_test(tc, numa_read_multi);
	tcase_add_test(tc, numa_read_empty_root);
	tcase_add_test(tc, numa_read_live);
	suite_add_tcase(s, tc);

	tc = tcase_create("rates");
	tcase_add_checked_fixture(tc, NULL, tu_tmp_cleanup);
	tcase_add_test(tc, rates_basic);
	tcase_add_test(tc, rates_reset);
	tcase_add_test(tc, rates_unknown);
	tcase_add_test(tc, rates_einval);
	tcase_add_test(tc, sample_take_tree);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(probe_suite());
}
