/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lru: MGLRU (lru_gen) and classic LRU age summaries.
 *
 * Expected figures were summed by hand from the captures in tests/fixtures
 * (see NOTES.md there).  The 6.1 guest's sys/kernel/debug/lru_gen is a copy
 * of lru_gen.before-aging:
 *
 *   memcg 1 /      gens 1-3 age 35332: anon 0+203+668, file 23+1+0
 *                  gen  4   age 24192: anon 11
 *   memcg 2 /vm-a  gens 1-3 age 32864: anon 0+0+2,     file 25603+0+0
 *                  gen  4   age 24172: anon 13
 *   memcg 3 /vm-b  gens 1-3 age 32856: anon 0+2+20492
 *                  gen  4   age 24148: nothing
 *
 * so with the default edges {5000, 30000, 120000, 600000} bin [5000, 30000)
 * holds 11+13 = 24 anon pages and bin [30000, 120000) 871+2+20494 = 21367
 * anon and 24+25603 = 25627 file pages.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memshare/lru.h>

#include "testutil.h"

#define G61 MS_FIXTURES_DIR "/linux-6.1-guest"

/*
 * Aging writes commands to lru_gen; in a copied tree that is a plain file
 * each write replaces.  This program's write(2) records every command
 * written to a file named lru_gen (and can fail some, as the kernel does).
 */
static char aged_cmds[16][64];
static unsigned nr_aged;
static const char *age_fail_cmd;       /* this command fails ... */
static int age_fail_errno;             /* ... with this errno */

static bool is_lru_gen(int fd)
{
	char link[64], target[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 8)
		return false;
	target[n] = '\0';
	return strcmp(target + n - 8, "/lru_gen") == 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	if (is_lru_gen(fd)) {
		if (nr_aged < 16) {
			snprintf(aged_cmds[nr_aged], sizeof(aged_cmds[0]), "%.*s", (int)len,
				 (const char *)buf);
			nr_aged++;
		}
		if (age_fail_cmd && len == strlen(age_fail_cmd) &&
		    memcmp(buf, age_fail_cmd, len) == 0) {
			errno = age_fail_errno;
			return -1;
		}
	}
	return syscall(SYS_write, fd, buf, len);
}
#define H618 MS_FIXTURES_DIR "/linux-6.18-host"
#define DEBUGFS "linux-6.1-guest/sys/kernel/debug/"

#define KB(x) ((uint64_t)(x) * 1024u)
#define U MS_UNKNOWN
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

static const uint64_t dflt_edges[] = { 5000, 30000, 120000, 600000 };

/*
 * Check a node's bins against edges and expected page counts
 * (pages[i] = { anon, file }; bins beyond @nr_pages must be empty).
 */
static void expect_bins(const struct ms_lru_node *n, const uint64_t *edges, size_t nr_edges,
			const uint64_t (*pages)[2], size_t nr_pages, uint64_t ps)
{
	ck_assert_uint_eq(n->nr_bins, nr_edges + 1);
	for (size_t i = 0; i <= nr_edges; i++) {
		uint64_t anon = i < nr_pages ? pages[i][0] : 0;
		uint64_t file = i < nr_pages ? pages[i][1] : 0;

		ck_assert_uint_eq(n->bins[i].min_age_ms, i ? edges[i - 1] : 0);
		ck_assert_uint_eq(n->bins[i].max_age_ms, i < nr_edges ? edges[i] : MS_AGE_INFINITE);
		ck_assert_msg(n->bins[i].anon_bytes == anon * ps,
			      "node %d bin %zu anon: got %llu pages, want %llu", n->node, i,
			      (unsigned long long)(n->bins[i].anon_bytes / ps),
			      (unsigned long long)anon);
		ck_assert_msg(n->bins[i].file_bytes == file * ps,
			      "node %d bin %zu file: got %llu pages, want %llu", n->node, i,
			      (unsigned long long)(n->bins[i].file_bytes / ps),
			      (unsigned long long)file);
	}
}

static void expect_extras(const struct ms_lru_node *n, uint64_t slab, uint64_t shmem,
			  uint64_t unevictable)
{
	ck_assert_uint_eq(n->slab_reclaimable_bytes, slab);
	ck_assert_uint_eq(n->shmem_bytes, shmem);
	ck_assert_uint_eq(n->unevictable_bytes, unevictable);
}

/* The 6.1 guest's main capture, whole machine, default edges (pages). */
static const uint64_t before_aging_pages[][2] = {
	{ 0, 0 }, { 24, 0 }, { 21367, 25627 }, { 0, 0 }, { 0, 0 },
};

static void expect_61_default(const struct ms_lru_summary *s, uint64_t ps)
{
	ck_assert_int_eq(s->source, MS_LRU_SOURCE_MGLRU);
	ck_assert_uint_eq(s->nr_nodes, 1);
	ck_assert_int_eq(s->nodes[0].node, 0);
	expect_bins(&s->nodes[0], dflt_edges, 4, before_aging_pages, 5, ps);
	/* bin [30000, 120000): anon 203+668+2+2+20492, file 23+1+25603 */
	ck_assert_uint_eq(s->nodes[0].bins[2].anon_bytes, (203 + 668 + 2 + 2 + 20492) * ps);
	ck_assert_uint_eq(s->nodes[0].bins[2].file_bytes, (23 + 1 + 25603) * ps);
	/* node0/meminfo: SReclaimable 19992 kB, Shmem 3208 kB, Unevictable 0 */
	expect_extras(&s->nodes[0], KB(19992), KB(3208), 0);
}

/* ---- ms_lru_summary_read ------------------------------------------------ */

START_TEST(summary_61_auto)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	uint64_t ps = ms_ctx_get_page_size(ctx);
	struct ms_lru_summary *s = NULL;

	/* NULL options: AUTO, default edges, whole machine. */
	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
	expect_61_default(s, ps);
	ms_lru_summary_free(s);

	{
		MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_AUTO);

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		expect_61_default(s, ps);
		ms_lru_summary_free(s);
	}
	{
		MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_MGLRU, .memcg = "/");

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		expect_61_default(s, ps);
		ms_lru_summary_free(s);
	}
	{
		/* Explicit default edges are the same thing. */
		MS_OPTS(ms_lru_opts, opts, .bin_edges_ms = ms_lru_default_bin_edges_ms,
			.nr_bin_edges = MS_LRU_DEFAULT_NR_BIN_EDGES, .memcg = "");

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		expect_61_default(s, ps);
		ms_lru_summary_free(s);
	}
	ck_assert_uint_eq(ms_lru_default_bin_edges_ms[0], 5000);
	ck_assert_uint_eq(ms_lru_default_bin_edges_ms[1], 30000);
	ck_assert_uint_eq(ms_lru_default_bin_edges_ms[2], 120000);
	ck_assert_uint_eq(ms_lru_default_bin_edges_ms[3], 600000);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_61_custom_edges)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	uint64_t ps = ms_ctx_get_page_size(ctx);
	struct ms_lru_summary *s = NULL;

	{
		/* Edges on the exact ages: min is inclusive, max exclusive.
		 *  [0, 24172):      vm-b gen 4 (24148): nothing
		 *  [24172, 32864):  vm-a gen 4 (13 anon), root gen 4 (11 anon),
		 *                   vm-b gens 1-3 (32856: 2+20492 anon)
		 *  [32864, 35332):  vm-a gens 1-3 (2 anon, 25603 file)
		 *  [35332, inf):    root gens 1-3 (871 anon, 24 file) */
		static const uint64_t edges[] = { 24172, 32864, 35332 };
		static const uint64_t pages[][2] = {
			{ 0, 0 }, { 20518, 0 }, { 2, 25603 }, { 871, 24 },
		};
		MS_OPTS(ms_lru_opts, opts, .bin_edges_ms = edges, .nr_bin_edges = 3);

		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		ck_assert_int_eq(s->source, MS_LRU_SOURCE_MGLRU);
		ck_assert_uint_eq(s->nr_nodes, 1);
		expect_bins(&s->nodes[0], edges, 3, pages, 4, ps);
		expect_extras(&s->nodes[0], KB(19992), KB(3208), 0);
		ms_lru_summary_free(s);
	}
	{
		/* One edge: everything is older than 1 ms. */
		static const uint64_t edges[] = { 1 };
		static const uint64_t pages[][2] = { { 0, 0 }, { 21391, 25627 } };
		MS_OPTS(ms_lru_opts, opts, .bin_edges_ms = edges, .nr_bin_edges = 1);

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		expect_bins(&s->nodes[0], edges, 1, pages, 2, ps);
		ms_lru_summary_free(s);
	}
	{
		/* No edge at all: one open-ended bin. */
		static const uint64_t edges[] = { 7 };
		static const uint64_t pages[][2] = { { 21391, 25627 } };
		MS_OPTS(ms_lru_opts, opts, .bin_edges_ms = edges, .nr_bin_edges = 0);

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		expect_bins(&s->nodes[0], edges, 0, pages, 1, ps);
		ms_lru_summary_free(s);
	}
	{
		/* The most edges allowed: 15 edges, 16 bins, 2.5 s apart.
		 * 24148..24192 fall in [22500, 25000) (bin 9), 32856/32864 in
		 * [32500, 35000) (bin 13), 35332 in [35000, 37500) (bin 14). */
		uint64_t edges[MS_LRU_MAX_BINS - 1];
		uint64_t pages[MS_LRU_MAX_BINS][2];
		MS_OPTS(ms_lru_opts, opts, .bin_edges_ms = edges,
			.nr_bin_edges = MS_LRU_MAX_BINS - 1);

		memset(pages, 0, sizeof(pages));
		for (size_t i = 0; i < NELEM(edges); i++)
			edges[i] = (i + 1) * 2500;
		pages[9][0] = 24;
		pages[13][0] = 20496;
		pages[13][1] = 25603;
		pages[14][0] = 871;
		pages[14][1] = 24;
		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		expect_bins(&s->nodes[0], edges, NELEM(edges), (const uint64_t (*)[2])pages,
			    MS_LRU_MAX_BINS, ps);
		ms_lru_summary_free(s);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_61_memcg)
{
	static const uint64_t vma[][2] = { { 0, 0 }, { 13, 0 }, { 2, 25603 } };
	static const uint64_t vmb[][2] = { { 0, 0 }, { 0, 0 }, { 20494, 0 } };
	static const char *const vma_names[] = { "vm-a", "/vm-a", "vm-a/", "//vm-a//" };
	static const char *const vmb_names[] = { "/vm-b", "vm-b", "/vm-b/" };
	struct ms_ctx *ctx = tu_new_ctx(G61);
	uint64_t ps = ms_ctx_get_page_size(ctx);
	struct ms_lru_summary *s;

	for (size_t i = 0; i < NELEM(vma_names); i++) {
		MS_OPTS(ms_lru_opts, opts, .memcg = vma_names[i]);

		s = NULL;
		ck_assert_msg(ms_lru_summary_read(ctx, &opts, &s) == 0, "memcg '%s'", vma_names[i]);
		ck_assert_int_eq(s->source, MS_LRU_SOURCE_MGLRU);
		ck_assert_uint_eq(s->nr_nodes, 1);
		ck_assert_int_eq(s->nodes[0].node, 0);
		expect_bins(&s->nodes[0], dflt_edges, 4, vma, 3, ps);
		/* vm-a/memory.numa_stat: slab_reclaimable, shmem, unevictable */
		expect_extras(&s->nodes[0], 11729296, 4096, 0);
		ms_lru_summary_free(s);
	}
	for (size_t i = 0; i < NELEM(vmb_names); i++) {
		MS_OPTS(ms_lru_opts, opts, .memcg = vmb_names[i], .source = MS_LRU_SOURCE_MGLRU);

		s = NULL;
		ck_assert_msg(ms_lru_summary_read(ctx, &opts, &s) == 0, "memcg '%s'", vmb_names[i]);
		ck_assert_uint_eq(s->nr_nodes, 1);
		expect_bins(&s->nodes[0], dflt_edges, 4, vmb, 3, ps);
		expect_extras(&s->nodes[0], 1840, 4096, 0);
		ms_lru_summary_free(s);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_61_memcg_bad)
{
	static const struct {
		const char *memcg;
		int err;
	} cases[] = {
		{ "vm-c", -ENOENT },
		{ "/vm-a/child", -ENOENT },
		{ "vm", -ENOENT },          /* a prefix of vm-a is not vm-a */
		{ "x", -ENOENT },
		{ "/y/", -ENOENT },
		{ "..", -EINVAL },
		{ "/../", -EINVAL },
		{ "../vm-a", -EINVAL },
		{ "vm-a/..", -EINVAL },
		{ "vm-a/../vm-b", -EINVAL },
		{ ".", -EINVAL },             /* lru_gen prints canonical paths only */
		{ "./vm-a", -EINVAL },
		{ "vm-a/.", -EINVAL },
		{ "vm-a//x", -EINVAL },
	};
	struct ms_ctx *ctx = tu_new_ctx(G61);

	for (int src = MS_LRU_SOURCE_AUTO; src <= MS_LRU_SOURCE_CLASSIC; src++) {
		for (size_t i = 0; i < NELEM(cases); i++) {
			MS_OPTS(ms_lru_opts, opts, .memcg = cases[i].memcg,
				.source = (enum ms_lru_source)src);
			struct ms_lru_summary *s = NULL;
			int r = ms_lru_summary_read(ctx, &opts, &s);

			ck_assert_msg(r == cases[i].err, "source %d memcg '%s': got %d, want %d",
				      src, cases[i].memcg, r, cases[i].err);
			ck_assert_ptr_null(s);
		}
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_61_classic)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_lru_summary *s = NULL;

	{
		MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_CLASSIC);

		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		ck_assert_int_eq(s->source, MS_LRU_SOURCE_CLASSIC);
		ck_assert_uint_eq(s->nr_nodes, 1);
		ck_assert_int_eq(s->nodes[0].node, 0);
		ck_assert_uint_eq(s->nodes[0].nr_bins, 2);
		for (int i = 0; i < 2; i++) {
			ck_assert_uint_eq(s->nodes[0].bins[i].min_age_ms, U);
			ck_assert_uint_eq(s->nodes[0].bins[i].max_age_ms, U);
		}
		/* node0/meminfo: Active(anon) 84528, Active(file) 0,
		 * Inactive(anon) 820, Inactive(file) 102508 kB */
		ck_assert_uint_eq(s->nodes[0].bins[0].anon_bytes, KB(84528));
		ck_assert_uint_eq(s->nodes[0].bins[0].file_bytes, 0);
		ck_assert_uint_eq(s->nodes[0].bins[1].anon_bytes, KB(820));
		ck_assert_uint_eq(s->nodes[0].bins[1].file_bytes, KB(102508));
		expect_extras(&s->nodes[0], KB(19992), KB(3208), 0);
		ms_lru_summary_free(s);
	}
	{
		/* Edges do not matter to the classic source. */
		static const uint64_t edges[] = { 1, 2, 3 };
		MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_CLASSIC, .memcg = "vm-a",
			.bin_edges_ms = edges, .nr_bin_edges = 3);

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		ck_assert_int_eq(s->source, MS_LRU_SOURCE_CLASSIC);
		ck_assert_uint_eq(s->nr_nodes, 1);
		ck_assert_uint_eq(s->nodes[0].nr_bins, 2);
		/* vm-a/memory.numa_stat, bytes */
		ck_assert_uint_eq(s->nodes[0].bins[0].anon_bytes, 61440);
		ck_assert_uint_eq(s->nodes[0].bins[0].file_bytes, 0);
		ck_assert_uint_eq(s->nodes[0].bins[1].anon_bytes, 0);
		ck_assert_uint_eq(s->nodes[0].bins[1].file_bytes, 104869888);
		ck_assert_uint_eq(s->nodes[0].bins[0].min_age_ms, U);
		expect_extras(&s->nodes[0], 11729296, 4096, 0);
		ms_lru_summary_free(s);
	}
	{
		MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_CLASSIC, .memcg = "/vm-b/");

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		ck_assert_uint_eq(s->nodes[0].bins[0].anon_bytes, 83935232);
		ck_assert_uint_eq(s->nodes[0].bins[0].file_bytes, 0);
		ck_assert_uint_eq(s->nodes[0].bins[1].anon_bytes, 8192);
		ck_assert_uint_eq(s->nodes[0].bins[1].file_bytes, 0);
		expect_extras(&s->nodes[0], 1840, 4096, 0);
		ms_lru_summary_free(s);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_618)
{
	struct ms_ctx *ctx = tu_new_ctx(H618);
	struct ms_lru_summary *s = NULL;

	/* No MGLRU on this kernel: AUTO falls back to the classic lists. */
	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
	ck_assert_int_eq(s->source, MS_LRU_SOURCE_CLASSIC);
	ck_assert_uint_eq(s->nr_nodes, 1);
	ck_assert_int_eq(s->nodes[0].node, 0);
	ck_assert_uint_eq(s->nodes[0].nr_bins, 2);
	ck_assert_uint_eq(s->nodes[0].bins[0].min_age_ms, U);
	ck_assert_uint_eq(s->nodes[0].bins[1].max_age_ms, U);
	/* node0/meminfo (not /proc/meminfo: Inactive(anon) 3276 vs 3176 kB) */
	ck_assert_uint_eq(s->nodes[0].bins[0].anon_bytes, KB(1512));
	ck_assert_uint_eq(s->nodes[0].bins[0].file_bytes, KB(52332));
	ck_assert_uint_eq(s->nodes[0].bins[1].anon_bytes, KB(3276));
	ck_assert_uint_eq(s->nodes[0].bins[1].file_bytes, KB(177272));
	expect_extras(&s->nodes[0], KB(76112), KB(8952), KB(10368));
	ms_lru_summary_free(s);

	{
		MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_CLASSIC);

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		ck_assert_int_eq(s->source, MS_LRU_SOURCE_CLASSIC);
		ck_assert_uint_eq(s->nodes[0].bins[1].file_bytes, KB(177272));
		ms_lru_summary_free(s);
	}
	{
		MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_MGLRU);

		s = NULL;
		tu_log.nr = 0;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -EOPNOTSUPP);
		ck_assert_ptr_null(s);
		ck_assert_ptr_nonnull(strstr(tu_log.last, "CONFIG_LRU_GEN"));
	}
	{
		/* cgroup v1: the memory controller's directory exists but has no
		 * memory.numa_stat of the v2 kind. */
		MS_OPTS(ms_lru_opts, opts, .memcg = "memory");

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -EOPNOTSUPP);
		ck_assert_ptr_null(s);
		opts.source = MS_LRU_SOURCE_CLASSIC;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -EOPNOTSUPP);
		opts.memcg = "no-such";
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -ENOENT);
		opts.source = MS_LRU_SOURCE_MGLRU;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -ENOENT);
		ck_assert_ptr_null(s);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_tree_final)
{
	const char *root = tu_tmp_root("lru");
	static const uint64_t pages[][2] = { { 0, 0 }, { 11, 0 }, { 21467, 27102 } };
	struct ms_lru_summary *s = NULL;
	struct ms_ctx *ctx;
	uint64_t ps;

	/* The final capture as a sysroot of its own. */
	tu_copy_fixture(root, "sys/kernel/mm/lru_gen/enabled",
		     "linux-6.1-guest/sys/kernel/mm/lru_gen/enabled");
	tu_copy_fixture(root, "sys/kernel/debug/lru_gen", DEBUGFS "lru_gen.final");
	tu_copy_fixture(root, "sys/devices/system/node/node0/meminfo",
		     "linux-6.1-guest/sys/devices/system/node/node0/meminfo.final");
	ctx = tu_new_ctx(root);
	ps = ms_ctx_get_page_size(ctx);
	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
	ck_assert_int_eq(s->source, MS_LRU_SOURCE_MGLRU);
	ck_assert_uint_eq(s->nr_nodes, 1);
	expect_bins(&s->nodes[0], dflt_edges, 4, pages, 3, ps);
	/* node0/meminfo.final: SReclaimable 18616 kB, Shmem 3556 kB */
	expect_extras(&s->nodes[0], KB(18616), KB(3556), 0);
	ms_lru_summary_free(s);

	/* A memcg filter needs the cgroup directory. */
	{
		MS_OPTS(ms_lru_opts, opts, .memcg = "vm-a");

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -ENOENT);
		tu_mkdirs(root, "sys/fs/cgroup/vm-a");
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
		/* vm-a final: gens 2-4 at 39916/31224 ms: 0+2+14 anon,
		 * 14723+7128+5120 file; no numa_stat here, so no extras. */
		ck_assert_uint_eq(s->nodes[0].bins[2].anon_bytes, 16 * ps);
		ck_assert_uint_eq(s->nodes[0].bins[2].file_bytes, 26971 * ps);
		expect_extras(&s->nodes[0], U, U, U);
		ms_lru_summary_free(s);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_lru_gen_off)
{
	const char *root = tu_tmp_root("lru");
	struct ms_lru_summary *s = NULL;
	struct ms_ctx *ctx;
	MS_OPTS(ms_lru_opts, mglru, .source = MS_LRU_SOURCE_MGLRU);

	tu_copy_fixture(root, "sys/kernel/debug/lru_gen", DEBUGFS "lru_gen.before-aging");
	tu_copy_fixture(root, "sys/devices/system/node/node0/meminfo",
		     "linux-6.1-guest/sys/devices/system/node/node0/meminfo");
	ctx = tu_new_ctx(root);

	/* Core bit (0x0001) off: disabled. */
	static const char *const off[] = { "0x0000\n", "0x0006\n", "0\n", "junk\n", "" };
	for (size_t i = 0; i < NELEM(off); i++) {
		tu_put_str(root, "sys/kernel/mm/lru_gen/enabled", off[i]);
		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
		ck_assert_msg(s->source == MS_LRU_SOURCE_CLASSIC, "enabled '%s'", off[i]);
		ck_assert_uint_eq(s->nodes[0].bins[1].file_bytes, KB(102508));
		ms_lru_summary_free(s);
		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &mglru, &s), -EOPNOTSUPP);
		ck_assert_ptr_null(s);
		ck_assert_ptr_nonnull(strstr(tu_log.last, "disabled"));
	}

	/* Enabled, in hex or decimal. */
	static const char *const on[] = { "0x0007\n", "0x0001", "0X000F\n", "7\n", "1" };
	for (size_t i = 0; i < NELEM(on); i++) {
		tu_put_str(root, "sys/kernel/mm/lru_gen/enabled", on[i]);
		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
		ck_assert_msg(s->source == MS_LRU_SOURCE_MGLRU, "enabled '%s'", on[i]);
		ck_assert_uint_eq(s->nodes[0].bins[2].file_bytes,
				  25627 * ms_ctx_get_page_size(ctx));
		ms_lru_summary_free(s);
	}

	/* Enabled but debugfs not mounted. */
	{
		char path[1024];

		snprintf(path, sizeof(path), "%s/sys/kernel/debug/lru_gen", root);
		ck_assert_int_eq(unlink(path), 0);
	}
	s = NULL;
	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
	ck_assert_int_eq(s->source, MS_LRU_SOURCE_CLASSIC);
	ms_lru_summary_free(s);
	s = NULL;
	ck_assert_int_eq(ms_lru_summary_read(ctx, &mglru, &s), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "debugfs"));

	/* Malformed or empty lru_gen: -EBADMSG, whichever way MGLRU was chosen. */
	tu_put_str(root, "sys/kernel/debug/lru_gen", "memcg 1 /\n node 0\n 1 100 2 3 4\n");
	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), -EBADMSG);
	ck_assert_int_eq(ms_lru_summary_read(ctx, &mglru, &s), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "line 3"));
	tu_put_str(root, "sys/kernel/debug/lru_gen", "");
	ck_assert_int_eq(ms_lru_summary_read(ctx, &mglru, &s), -EBADMSG);
	ck_assert_ptr_null(s);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_no_numa_sysfs)
{
	const char *root = tu_tmp_root("lru");
	struct ms_lru_summary *s = NULL;
	struct ms_ctx *ctx;

	/* Classic source without node sysfs: node 0 from /proc/meminfo. */
	tu_copy_fixture(root, "proc/meminfo", "linux-6.1-guest/proc/meminfo");
	ctx = tu_new_ctx(root);
	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
	ck_assert_int_eq(s->source, MS_LRU_SOURCE_CLASSIC);
	ck_assert_uint_eq(s->nr_nodes, 1);
	ck_assert_int_eq(s->nodes[0].node, 0);
	ck_assert_uint_eq(s->nodes[0].bins[0].anon_bytes, KB(84500));
	ck_assert_uint_eq(s->nodes[0].bins[0].file_bytes, 0);
	ck_assert_uint_eq(s->nodes[0].bins[1].anon_bytes, KB(820));
	ck_assert_uint_eq(s->nodes[0].bins[1].file_bytes, KB(102508));
	expect_extras(&s->nodes[0], KB(19992), KB(3180), 0);
	ms_lru_summary_free(s);

	/* And MGLRU there: extras of node 0 from /proc/meminfo too. */
	tu_copy_fixture(root, "sys/kernel/mm/lru_gen/enabled",
		     "linux-6.1-guest/sys/kernel/mm/lru_gen/enabled");
	tu_copy_fixture(root, "sys/kernel/debug/lru_gen", DEBUGFS "lru_gen.before-aging");
	s = NULL;
	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
	ck_assert_int_eq(s->source, MS_LRU_SOURCE_MGLRU);
	expect_extras(&s->nodes[0], KB(19992), KB(3180), 0);
	ms_lru_summary_free(s);

	/* Nothing at all. */
	{
		char path[1024];

		snprintf(path, sizeof(path), "%s/proc/meminfo", root);
		ck_assert_int_eq(unlink(path), 0);
	}
	{
		MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_CLASSIC);

		s = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -ENOENT);
		ck_assert_ptr_null(s);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_bad_args)
{
	static const uint64_t descending[] = { 30000, 5000 };
	static const uint64_t equal[] = { 5000, 5000 };
	static const uint64_t zero[] = { 0, 5000 };
	static const uint64_t infinite[] = { 5000, MS_AGE_INFINITE };
	static const struct {
		const uint64_t *edges;
		size_t nr;
	} bad[] = {
		{ descending, 2 }, { equal, 2 }, { zero, 2 }, { zero, 1 }, { infinite, 2 },
		{ dflt_edges, MS_LRU_MAX_BINS },      /* too many (and past the array) */
		{ dflt_edges, (size_t)-1 },
	};
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_lru_summary *s = NULL;
	size_t len;
	char *buf = tu_slurp(DEBUGFS "lru_gen.before-aging", &len);

	for (size_t i = 0; i < NELEM(bad); i++) {
		MS_OPTS(ms_lru_opts, opts, .bin_edges_ms = bad[i].edges,
			.nr_bin_edges = bad[i].nr);

		ck_assert_msg(ms_lru_summary_read(ctx, &opts, &s) == -EINVAL, "case %zu", i);
		ck_assert_msg(ms_lru_parse_mglru(ctx, buf, len, &opts, &s) == -EINVAL, "case %zu", i);
		ck_assert_ptr_null(s);
		opts.source = MS_LRU_SOURCE_CLASSIC;
		ck_assert_msg(ms_lru_summary_read(ctx, &opts, &s) == -EINVAL, "case %zu", i);
	}
	{
		/* 16 ascending edges: one too many. */
		uint64_t edges[MS_LRU_MAX_BINS];
		MS_OPTS(ms_lru_opts, opts, .bin_edges_ms = edges, .nr_bin_edges = MS_LRU_MAX_BINS);

		for (size_t i = 0; i < NELEM(edges); i++)
			edges[i] = (i + 1) * 1000;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -EINVAL);
		ck_assert_ptr_nonnull(strstr(tu_log.last, "at most 15"));
		ck_assert_int_eq(ms_lru_parse_mglru(ctx, buf, len, &opts, &s), -EINVAL);
	}
	{
		/* Unknown source, bad sz, non-zero bytes past the known struct. */
		MS_OPTS(ms_lru_opts, opts, .source = (enum ms_lru_source)3);

		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -EINVAL);
		opts.source = MS_LRU_SOURCE_AUTO;
		opts.sz = 0;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), -EINVAL);
		ck_assert_int_eq(ms_lru_parse_mglru(ctx, buf, len, &opts, &s), -EINVAL);
	}
	{
		struct {
			struct ms_lru_opts o;
			uint64_t future;
		} big;

		memset(&big, 0, sizeof(big));
		big.o.sz = sizeof(big);
		ck_assert_int_eq(ms_lru_summary_read(ctx, &big.o, &s), 0);  /* zero tail: fine */
		ms_lru_summary_free(s);
		s = NULL;
		big.future = 1;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &big.o, &s), -EINVAL);
		ck_assert_int_eq(ms_lru_parse_mglru(ctx, buf, len, &big.o, &s), -EINVAL);
	}
	{
		/* An old caller's smaller struct: only what it knows is read. */
		struct ms_lru_opts old;

		memset(&old, 0xff, sizeof(old));
		old.sz = offsetof(struct ms_lru_opts, nr_bin_edges);
		old.bin_edges_ms = NULL;
		ck_assert_int_eq(ms_lru_summary_read(ctx, &old, &s), 0);
		ck_assert_int_eq(s->source, MS_LRU_SOURCE_MGLRU);
		ck_assert_uint_eq(s->nodes[0].nr_bins, 5);
		ms_lru_summary_free(s);
		s = NULL;
	}
	ck_assert_int_eq(ms_lru_summary_read(NULL, NULL, &s), -EINVAL);
	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, NULL), -EINVAL);
	ck_assert_int_eq(ms_lru_parse_mglru(NULL, buf, len, NULL, &s), -EINVAL);
	ck_assert_int_eq(ms_lru_parse_mglru(ctx, NULL, 0, NULL, &s), -EINVAL);
	ck_assert_int_eq(ms_lru_parse_mglru(ctx, buf, len, NULL, NULL), -EINVAL);
	ck_assert_ptr_null(s);
	free(buf);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(source_names)
{
	ck_assert_str_eq(ms_lru_source_name(MS_LRU_SOURCE_AUTO), "auto");
	ck_assert_str_eq(ms_lru_source_name(MS_LRU_SOURCE_MGLRU), "mglru");
	ck_assert_str_eq(ms_lru_source_name(MS_LRU_SOURCE_CLASSIC), "classic");
	ck_assert_str_eq(ms_lru_source_name((enum ms_lru_source)3), "unknown");
	ck_assert_str_eq(ms_lru_source_name((enum ms_lru_source)-1), "unknown");
}
END_TEST

/* ---- ms_lru_parse_mglru on every snapshot -------------------------------- */

static const struct snapshot {
	const char *name;
	/* Whole machine, default edges, lru_gen.<name>, pages {anon, file}. */
	uint64_t all[5][2];
	/* lru_gen_full.<name> was read a few ms later: the root memcg then
	 * had one more anon page, in this bin.  Nothing else differs. */
	unsigned full_extra_anon_bin;
	uint64_t vma[5][2];
	uint64_t vmb[5][2];
} snapshots[] = {
	{ "boot", { { 805, 3 } }, 0, { { 0 } }, { { 0 } } },
	{ "after-write", { { 0, 0 }, { 808, 25626 } }, 1,
	  { { 0, 0 }, { 0, 25603 } }, { { 0 } } },
	{ "after-aging-1", { { 7, 0 }, { 21299, 25626 } }, 1,
	  { { 0, 0 }, { 0, 25603 } }, { { 0, 0 }, { 20494, 0 } } },
	{ "before-aging", { { 0, 0 }, { 24, 0 }, { 21367, 25627 } }, 2,
	  { { 0, 0 }, { 13, 0 }, { 2, 25603 } }, { { 0, 0 }, { 0, 0 }, { 20494, 0 } } },
	{ "after-aging", { { 6, 0 }, { 20, 5120 }, { 21368, 20507 } }, 0,
	  { { 0, 0 }, { 13, 5120 }, { 2, 20483 } }, { { 0, 0 }, { 0, 0 }, { 20494, 0 } } },
	{ "after-reclaim-20M", { { 7, 0 }, { 25, 5120 }, { 21368, 14747 } }, 1,
	  { { 0, 0 }, { 13, 5120 }, { 2, 14723 } }, { { 0, 0 }, { 0, 0 }, { 20494, 0 } } },
	{ "final", { { 0, 0 }, { 11, 0 }, { 21467, 27102 } }, 2,
	  { { 0, 0 }, { 0, 0 }, { 16, 26971 } }, { { 0, 0 }, { 0, 0 }, { 20494, 0 } } },
};

static struct ms_lru_summary *parse_file(struct ms_ctx *ctx, const char *file, const char *memcg,
					 const uint64_t *edges, size_t nr_edges)
{
	MS_OPTS(ms_lru_opts, opts, .memcg = memcg, .bin_edges_ms = edges,
		.nr_bin_edges = nr_edges);
	struct ms_lru_summary *s = NULL;
	char rel[256];
	size_t len;
	char *buf;
	int r;

	snprintf(rel, sizeof(rel), DEBUGFS "%s", file);
	buf = tu_slurp(rel, &len);
	r = ms_lru_parse_mglru(ctx, buf, len, &opts, &s);
	ck_assert_msg(r == 0, "%s (memcg %s): %d %s", file, memcg ? memcg : "-", r, tu_log.last);
	free(buf);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(s->source, MS_LRU_SOURCE_MGLRU);
	ck_assert_uint_eq(s->nr_nodes, 1);
	ck_assert_int_eq(s->nodes[0].node, 0);
	return s;
}

/* The two summaries have the same bins; anon differs by @anon_pages in @bin. */
static void expect_twins(const struct ms_lru_summary *a, const struct ms_lru_summary *b,
			 unsigned bin, uint64_t anon_pages, uint64_t ps, const char *what)
{
	const struct ms_lru_node *x = &a->nodes[0], *y = &b->nodes[0];

	ck_assert_uint_eq(x->nr_bins, y->nr_bins);
	for (unsigned i = 0; i < x->nr_bins; i++) {
		uint64_t extra = i == bin ? anon_pages * ps : 0;

		ck_assert_uint_eq(x->bins[i].min_age_ms, y->bins[i].min_age_ms);
		ck_assert_uint_eq(x->bins[i].max_age_ms, y->bins[i].max_age_ms);
		ck_assert_msg(x->bins[i].anon_bytes + extra == y->bins[i].anon_bytes,
			      "%s bin %u anon: %llu vs %llu bytes", what, i,
			      (unsigned long long)x->bins[i].anon_bytes,
			      (unsigned long long)y->bins[i].anon_bytes);
		ck_assert_msg(x->bins[i].file_bytes == y->bins[i].file_bytes,
			      "%s bin %u file: %llu vs %llu bytes", what, i,
			      (unsigned long long)x->bins[i].file_bytes,
			      (unsigned long long)y->bins[i].file_bytes);
	}
	expect_extras(y, x->slab_reclaimable_bytes, x->shmem_bytes, x->unevictable_bytes);
}

START_TEST(parse_snapshot)
{
	/* Everything is younger than 60 s in every snapshot (at most 42388 ms):
	 * one edge there puts it all in bin 0 whatever the few ms of skew
	 * between the plain and the full read. */
	static const uint64_t wide[] = { 60000 };
	const struct snapshot *snap = &snapshots[_i];
	struct ms_ctx *ctx = tu_new_ctx(G61);
	uint64_t ps = ms_ctx_get_page_size(ctx), sum[2] = { 0, 0 };
	struct ms_lru_summary *plain, *full;
	char pname[64], fname[64];

	snprintf(pname, sizeof(pname), "lru_gen.%s", snap->name);
	snprintf(fname, sizeof(fname), "lru_gen_full.%s", snap->name);

	/* Whole machine, default edges: pinned, then the full twin. */
	plain = parse_file(ctx, pname, NULL, NULL, 0);
	expect_bins(&plain->nodes[0], dflt_edges, 4, snap->all, 5, ps);
	/* The extras come from the context's node0/meminfo. */
	expect_extras(&plain->nodes[0], KB(19992), KB(3208), 0);
	full = parse_file(ctx, fname, NULL, NULL, 0);
	expect_twins(plain, full, snap->full_extra_anon_bin, 1, ps, fname);
	ms_lru_summary_free(plain);
	ms_lru_summary_free(full);

	/* Whole machine, one wide edge. */
	for (int i = 0; i < 5; i++) {
		sum[0] += snap->all[i][0];
		sum[1] += snap->all[i][1];
	}
	plain = parse_file(ctx, pname, NULL, wide, 1);
	full = parse_file(ctx, fname, NULL, wide, 1);
	expect_bins(&plain->nodes[0], wide, 1, (const uint64_t (*)[2])&sum, 1, ps);
	expect_twins(plain, full, 0, 1, ps, fname);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(plain, 0, MS_LRU_ANON | MS_LRU_FILE),
			  (sum[0] + sum[1]) * ps);
	ms_lru_summary_free(plain);
	ms_lru_summary_free(full);

	/* vm-a and vm-b: no difference at all between the two reads. */
	for (int m = 0; m < 2; m++) {
		const char *memcg = m ? "/vm-b" : "vm-a";
		const uint64_t (*want)[2] = m ? snap->vmb : snap->vma;

		plain = parse_file(ctx, pname, memcg, NULL, 0);
		expect_bins(&plain->nodes[0], dflt_edges, 4, want, 5, ps);
		full = parse_file(ctx, fname, memcg, NULL, 0);
		expect_twins(plain, full, 0, 0, ps, fname);
		ms_lru_summary_free(plain);
		ms_lru_summary_free(full);

		plain = parse_file(ctx, pname, memcg, wide, 1);
		full = parse_file(ctx, fname, memcg, wide, 1);
		expect_twins(plain, full, 0, 0, ps, fname);
		ms_lru_summary_free(plain);
		ms_lru_summary_free(full);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(parse_twin_file_equals_sysroot)
{
	/* sys/kernel/debug/lru_gen is lru_gen.before-aging: reading the
	 * sysroot and parsing the snapshot give the very same summary. */
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_lru_summary *a = NULL, *b;

	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &a), 0);
	b = parse_file(ctx, "lru_gen.before-aging", NULL, NULL, 0);
	ck_assert_uint_eq(a->nr_nodes, b->nr_nodes);
	ck_assert_int_eq(memcmp(a, b, sizeof(*a) + a->nr_nodes * sizeof(a->nodes[0])), 0);
	ms_lru_summary_free(a);
	ms_lru_summary_free(b);
	ms_ctx_free(ctx);
}
END_TEST

/* ---- ms_lru_parse_mglru on hand-made text -------------------------------- */

static struct ms_lru_summary *parse_text(struct ms_ctx *ctx, const char *text, const char *memcg,
					 int *err)
{
	MS_OPTS(ms_lru_opts, opts, .memcg = memcg);
	struct ms_lru_summary *s = NULL;

	*err = ms_lru_parse_mglru(ctx, text, strlen(text), &opts, &s);
	if (*err)
		ck_assert_ptr_null(s);
	return s;
}

START_TEST(parse_synthetic)
{
	const char *root = tu_tmp_root("lru");
	struct ms_ctx *ctx = tu_new_ctx(root);   /* empty: no extras */
	uint64_t ps = ms_ctx_get_page_size(ctx);
	struct ms_lru_summary *s;
	int r;

	/* Two nodes, out of order; a memcg path with a space; tabs. */
	static const char multi[] =
		"memcg     1 /\n"
		" node     1\n"
		"          0         10          1           2\n"
		" node     0\n"
		"          0      20000          3           4\n"
		"\t1\t5000\t100\t0\n"
		"memcg     7 /a b  \n"
		" node     1\n"
		"          1     700000          5           6\n";
	s = parse_text(ctx, multi, NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(s->nr_nodes, 2);
	ck_assert_int_eq(s->nodes[0].node, 0);
	ck_assert_int_eq(s->nodes[1].node, 1);
	{
		static const uint64_t n0[][2] = { { 0, 0 }, { 103, 4 } };
		static const uint64_t n1[][2] = { { 1, 2 }, { 0, 0 }, { 0, 0 }, { 0, 0 }, { 5, 6 } };

		expect_bins(&s->nodes[0], dflt_edges, 4, n0, 2, ps);
		expect_bins(&s->nodes[1], dflt_edges, 4, n1, 5, ps);
	}
	expect_extras(&s->nodes[0], U, U, U);
	expect_extras(&s->nodes[1], U, U, U);
	ms_lru_summary_free(s);

	s = parse_text(ctx, multi, "a b", &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(s->nr_nodes, 1);
	ck_assert_int_eq(s->nodes[0].node, 1);
	ck_assert_uint_eq(s->nodes[0].bins[4].anon_bytes, 5 * ps);
	ck_assert_uint_eq(s->nodes[0].bins[4].file_bytes, 6 * ps);
	ms_lru_summary_free(s);
	s = parse_text(ctx, multi, "a", &r);
	ck_assert_int_eq(r, -ENOENT);

	/* Subtrees: /vm holds /vm/child, not /vm-x. */
	static const char tree[] =
		"memcg 2 /vm\n node 0\n 0 1 1 0\n"
		"memcg 3 /vm/child\n node 0\n 0 1 2 0\n"
		"memcg 4 /vm-x\n node 0\n 0 1 4 0\n"
		"memcg 5 /\n node 0\n 0 1 8 0\n";
	static const struct {
		const char *memcg;
		uint64_t anon;
	} sub[] = {
		{ NULL, 15 }, { "/", 15 }, { "vm", 3 }, { "/vm/", 3 }, { "vm/child", 2 },
		{ "vm-x", 4 },
	};
	for (size_t i = 0; i < NELEM(sub); i++) {
		s = parse_text(ctx, tree, sub[i].memcg, &r);
		ck_assert_int_eq(r, 0);
		ck_assert_msg(s->nodes[0].bins[0].anon_bytes == sub[i].anon * ps, "memcg %s",
			      sub[i].memcg ? sub[i].memcg : "NULL");
		ms_lru_summary_free(s);
	}
	s = parse_text(ctx, tree, "vm/chi", &r);
	ck_assert_int_eq(r, -ENOENT);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "/vm/chi"));

	/* Ages on the edges, zero and the largest. */
	static const char ages[] =
		"memcg 1 /\n node 0\n"
		" 1 0 1 0\n 2 4999 2 0\n 3 5000 4 0\n 4 599999 8 0\n 5 600000 16 0\n"
		" 6 18446744073709551615 32 0\n";
	s = parse_text(ctx, ages, NULL, &r);
	ck_assert_int_eq(r, 0);
	{
		static const uint64_t want[][2] = { { 3, 0 }, { 4, 0 }, { 0, 0 }, { 8, 0 }, { 48, 0 } };

		expect_bins(&s->nodes[0], dflt_edges, 4, want, 5, ps);
	}
	ms_lru_summary_free(s);

	/* A memcg without nodes, a node without generations, the full
	 * format's per-tier lines. */
	s = parse_text(ctx, "memcg 1 /\n", NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(s->nr_nodes, 0);
	ms_lru_summary_free(s);
	s = parse_text(ctx, "memcg 1 /\n node 3\n", NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(s->nr_nodes, 1);
	ck_assert_int_eq(s->nodes[0].node, 3);
	expect_bins(&s->nodes[0], dflt_edges, 4, NULL, 0, ps);
	ms_lru_summary_free(s);
	s = parse_text(ctx,
		       "memcg 1 /\n node 0\n 1 100 2 3\n"
		       "   0 0r 0e 0p 0r 0e 0p\n"
		       "     0L 0O 0Y 0N 0F 0A\n"
		       "   1 0 0 0 0 0 0\n"
		       " 2 200 4 5",
		       NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(s->nodes[0].bins[0].anon_bytes, 6 * ps);
	ck_assert_uint_eq(s->nodes[0].bins[0].file_bytes, 8 * ps);
	ms_lru_summary_free(s);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(parse_bad)
{
	static const struct {
		const char *text;
		int err;
	} cases[] = {
		/* empty or truncated files */
		{ "", -EBADMSG },
		{ "\n  \n\t\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100 2", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1", -EBADMSG },
		{ "memcg 1 /\n no", -EBADMSG },
		{ "memc", -EBADMSG },
		/* generation lines outside a node */
		{ " 1 100 2 3\n", -EBADMSG },
		{ "memcg 1 /\n 1 100 2 3\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100 2 3\nmemcg 2 /a\n 1 100 2 3\n", -EBADMSG },
		/* node lines outside a memcg, or malformed */
		{ " node 0\n", -EBADMSG },
		{ " node 0\nmemcg 1 /\n node 0\n 1 100 2 3\n", -EBADMSG },
		{ "memcg 1 /\n node\n", -EBADMSG },
		{ "memcg 1 /\n node x\n", -EBADMSG },
		{ "memcg 1 /\n node -1\n", -EBADMSG },
		{ "memcg 1 /\n node 0 1\n", -EBADMSG },
		{ "memcg 1 /\n node 65536\n", -EBADMSG },
		{ "memcg 1 /\n nodes 0\n", -EBADMSG },
		/* malformed memcg lines */
		{ "memcg\n", -EBADMSG },
		{ "memcg x /\n node 0\n", -EBADMSG },
		{ "memcg -1 /\n", -EBADMSG },
		{ "memcg 1x /\n", -EBADMSG },
		/* wrong number of columns */
		{ "memcg 1 /\n node 0\n 1 100 2 3 4\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100 2 3 4 5 6 7\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100 2 3 4 5 6 7 8\n", -EBADMSG },
		/* garbage numbers */
		{ "memcg 1 /\n node 0\n 1 1x0 2 3\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n -1 100 2 3\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100 2 0x3\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100 +2 3\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n a b c d\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100 99999999999999999999 3\n", -EBADMSG },
		{ "memcg 1 /\n node 0\n 1 100000000000000000000 2 3\n", -EBADMSG },
		/* page counts that overflow 64 bits in bytes */
		{ "memcg 1 /\n node 0\n 1 100 18446744073709551615 0\n", -ERANGE },
		{ "memcg 1 /\n node 0\n 1 100 0 9223372036854775808\n", -ERANGE },
	};
	struct ms_ctx *ctx = tu_new_ctx(G61);

	for (size_t i = 0; i < NELEM(cases); i++) {
		int r;

		tu_log.nr = 0;
		ms_lru_summary_free(parse_text(ctx, cases[i].text, NULL, &r));
		ck_assert_msg(r == cases[i].err, "case %zu '%s': got %d, want %d", i,
			      cases[i].text, r, cases[i].err);
		ck_assert_msg(tu_log.nr > 0, "case %zu: no log message", i);
	}
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(parse_sum_overflow)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	uint64_t ps = ms_ctx_get_page_size(ctx), half = UINT64_MAX / ps / 2 + 1;
	struct ms_lru_summary *s;
	char text[256];
	int r;

	/* Each generation fits, their sum in one bin does not. */
	snprintf(text, sizeof(text), "memcg 1 /\n node 0\n 1 100 %llu 0\n 2 100 %llu 0\n",
		 (unsigned long long)half, (unsigned long long)half);
	s = parse_text(ctx, text, NULL, &r);
	ck_assert_int_eq(r, -ERANGE);
	ck_assert_ptr_nonnull(strstr(tu_log.last, "line 4"));
	/* In different bins they do. */
	snprintf(text, sizeof(text), "memcg 1 /\n node 0\n 1 100 %llu 0\n 2 700000 %llu 0\n",
		 (unsigned long long)half, (unsigned long long)half);
	s = parse_text(ctx, text, NULL, &r);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(s->nodes[0].bins[0].anon_bytes, half * ps);
	ck_assert_uint_eq(s->nodes[0].bins[4].anon_bytes, half * ps);
	/* ... and bytes_older_than saturates instead of wrapping, below
	 * MS_UNKNOWN. */
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 0, MS_LRU_ANON), UINT64_MAX - 1);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 1, MS_LRU_ANON), half * ps);
	ms_lru_summary_free(s);
	ms_ctx_free(ctx);
}
END_TEST

/* ---- bytes_older_than, dup ---------------------------------------------- */

START_TEST(older_than_mglru)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	uint64_t ps = ms_ctx_get_page_size(ctx);
	struct ms_lru_summary *s = NULL;
	const unsigned both = MS_LRU_ANON | MS_LRU_FILE;

	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
	/* bins: [5000, 30000) 24 anon; [30000, 120000) 21367 anon, 25627 file */
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 0, both), (24 + 21367 + 25627) * ps);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 0, MS_LRU_ANON), (24 + 21367) * ps);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 0, MS_LRU_FILE), 25627 * ps);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 1, both), (24 + 21367 + 25627) * ps);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 5000, both), (24 + 21367 + 25627) * ps);
	/* A bin counts only if it starts at or above the age: a lower bound. */
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 5001, both), (21367 + 25627) * ps);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 30000, MS_LRU_FILE), 25627 * ps);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 30001, both), 0);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 120000, both), 0);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, UINT64_MAX, both), 0);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 0, 0), 0);
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(NULL, 0, both), 0);
	ms_lru_summary_free(s);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(older_than_classic)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_lru_summary *s = NULL;
	const unsigned both = MS_LRU_ANON | MS_LRU_FILE;
	MS_OPTS(ms_lru_opts, opts, .source = MS_LRU_SOURCE_CLASSIC);

	ck_assert_int_eq(ms_lru_summary_read(ctx, &opts, &s), 0);
	/* Everything for age 0, the inactive lists for any later age. */
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 0, both),
			  KB(84528 + 0 + 820 + 102508));
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 1, both), KB(820 + 102508));
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 120000, MS_LRU_ANON), KB(820));
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, UINT64_MAX, MS_LRU_FILE),
			  KB(102508));
	/* Unknown figures are skipped, not added as UINT64_MAX. */
	s->nodes[0].bins[1].anon_bytes = U;
	ck_assert_uint_eq(ms_lru_summary_bytes_older_than(s, 1, both), KB(102508));
	ms_lru_summary_free(s);
	ms_ctx_free(ctx);
}
END_TEST

START_TEST(summary_dup)
{
	struct ms_ctx *ctx = tu_new_ctx(G61);
	struct ms_lru_summary *s = NULL, *d, *e;
	size_t sz;

	ck_assert_int_eq(ms_lru_summary_read(ctx, NULL, &s), 0);
	sz = sizeof(*s) + s->nr_nodes * sizeof(s->nodes[0]);
	d = ms_lru_summary_dup(s);
	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_ne(d, s);
	ck_assert_int_eq(memcmp(d, s, sz), 0);
	/* A deep copy: changing one leaves the other alone. */
	d->nodes[0].bins[2].anon_bytes = 1;
	ck_assert_uint_eq(s->nodes[0].bins[2].anon_bytes, 21367 * ms_ctx_get_page_size(ctx));
	ms_lru_summary_free(s);
	e = ms_lru_summary_dup(d);
	ms_lru_summary_free(d);
	ck_assert_uint_eq(e->nodes[0].bins[2].anon_bytes, 1);
	ck_assert_uint_eq(e->nodes[0].bins[2].file_bytes, 25627 * ms_ctx_get_page_size(ctx));
	ms_lru_summary_free(e);

	/* Zero nodes. */
	{
		int r;

		s = parse_text(ctx, "memcg 1 /\n", NULL, &r);
		ck_assert_int_eq(r, 0);
		d = ms_lru_summary_dup(s);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(d->nr_nodes, 0);
		ck_assert_int_eq(d->source, MS_LRU_SOURCE_MGLRU);
		ms_lru_summary_free(s);
		ms_lru_summary_free(d);
	}
	ck_assert_ptr_null(ms_lru_summary_dup(NULL));
	ms_lru_summary_free(NULL);
	ms_ctx_free(ctx);
}
END_TEST

/* One aging pass writes "+ memcg node max_gen" for every lruvec. */
START_TEST(age_fixture)
{
	const char *root = tu_tmp_root("age");
	struct ms_ctx *ctx;

	tu_copy_fixture_tree(root, "", "linux-6.1-guest");
	ctx = tu_new_ctx(root);
	nr_aged = 0;
	/* lru_gen (before-aging): memcgs 1, 2, 3, node 0, generations 1..4. */
	ck_assert_int_eq(ms_lru_mglru_age(ctx, NULL), 3);
	ck_assert_uint_eq(nr_aged, 3);
	ck_assert_str_eq(aged_cmds[0], "+ 1 0 4");
	ck_assert_str_eq(aged_cmds[1], "+ 2 0 4");
	ck_assert_str_eq(aged_cmds[2], "+ 3 0 4");
	ms_ctx_free(ctx);

	/* A subtree only; the listing has to be put back (writes replace it). */
	tu_copy_fixture(root, "sys/kernel/debug/lru_gen", "linux-6.1-guest/sys/kernel/debug/lru_gen");
	ctx = tu_new_ctx(root);
	nr_aged = 0;
	ck_assert_int_eq(ms_lru_mglru_age(ctx, "vm-a"), 1);
	ck_assert_str_eq(aged_cmds[0], "+ 2 0 4");
	/* No such memcg: nothing to age. */
	tu_copy_fixture(root, "sys/kernel/debug/lru_gen", "linux-6.1-guest/sys/kernel/debug/lru_gen");
	nr_aged = 0;
	ck_assert_int_eq(ms_lru_mglru_age(ctx, "vm-z"), 0);
	ck_assert_uint_eq(nr_aged, 0);
	ck_assert_int_eq(ms_lru_mglru_age(ctx, "../etc"), -EINVAL);
	/* The kernel refusing one (the generation moved on): skipped. */
	tu_copy_fixture(root, "sys/kernel/debug/lru_gen", "linux-6.1-guest/sys/kernel/debug/lru_gen");
	age_fail_cmd = "+ 2 0 4";
	age_fail_errno = EINVAL;
	nr_aged = 0;
	ck_assert_int_eq(ms_lru_mglru_age(ctx, NULL), 2);
	ck_assert_uint_eq(nr_aged, 3);
	/* Not allowed: an error. */
	tu_copy_fixture(root, "sys/kernel/debug/lru_gen", "linux-6.1-guest/sys/kernel/debug/lru_gen");
	age_fail_errno = EACCES;
	ck_assert_int_eq(ms_lru_mglru_age(ctx, NULL), -EACCES);
	ck_assert(strstr(tu_log.last, "'+ 2 0 4': Permission denied") != NULL);
	age_fail_cmd = NULL;
	ms_ctx_free(ctx);
}
END_TEST

/* Several nodes: one command per node, each with its own youngest gen. */
START_TEST(age_multi_node)
{
	const char *root = tu_tmp_root("age2");
	struct ms_ctx *ctx;

	tu_put_str(root, "sys/kernel/mm/lru_gen/enabled", "0x0007\n");
	tu_put_str(root, "sys/kernel/debug/lru_gen",
		   "memcg     1 /\n"
		   " node     0\n"
		   "          3      10000          0          1\n"
		   "          6       2000          5          0\n"
		   " node     1\n"
		   "          5      10000          0          1\n"
		   "          8       2000          5          0\n"
		   "memcg     7 /machine.slice/vm one\n"
		   " node     1\n"
		   "         11       3000          1          2\n");
	ctx = tu_new_ctx(root);
	nr_aged = 0;
	ck_assert_int_eq(ms_lru_mglru_age(ctx, NULL), 3);
	ck_assert_str_eq(aged_cmds[0], "+ 1 0 6");
	ck_assert_str_eq(aged_cmds[1], "+ 1 1 8");
	ck_assert_str_eq(aged_cmds[2], "+ 7 1 11");
	ms_ctx_free(ctx);
	/* No MGLRU: refused, nothing written. */
	tu_put_str(root, "sys/kernel/mm/lru_gen/enabled", "0x0000\n");
	ctx = tu_new_ctx(root);
	nr_aged = 0;
	ck_assert_int_eq(ms_lru_mglru_age(ctx, NULL), -EOPNOTSUPP);
	ck_assert_uint_eq(nr_aged, 0);
	ms_ctx_free(ctx);
	ctx = tu_new_ctx(MS_FIXTURES_DIR "/linux-6.18-host");
	ck_assert_int_eq(ms_lru_mglru_age(ctx, NULL), -EOPNOTSUPP);
	ms_ctx_free(ctx);
}
END_TEST

static Suite *lru_suite(void)
{
	Suite *s = suite_create("lru");
	TCase *tc;

	tc = tcase_create("summary");
	tcase_add_checked_fixture(tc, NULL, tu_tmp_cleanup);
	tcase_add_test(tc, summary_61_auto);
	tcase_add_test(tc, summary_61_custom_edges);
	tcase_add_test(tc, summary_61_memcg);
	tcase_add_test(tc, summary_61_memcg_bad);
	tcase_add_test(tc, summary_61_classic);
	tcase_add_test(tc, summary_618);
	tcase_add_test(tc, summary_tree_final);
	tcase_add_test(tc, summary_lru_gen_off);
	tcase_add_test(tc, summary_no_numa_sysfs);
	tcase_add_test(tc, summary_bad_args);
	tcase_add_test(tc, source_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("mglru");
	tcase_add_checked_fixture(tc, NULL, tu_tmp_cleanup);
	tcase_add_loop_test(tc, parse_snapshot, 0, (int)NELEM(snapshots));
	tcase_add_test(tc, parse_twin_file_equals_sysroot);
	tcase_add_test(tc, parse_synthetic);
	tcase_add_test(tc, parse_bad);
	tcase_add_test(tc, parse_sum_overflow);
	tcase_add_test(tc, age_fixture);
	tcase_add_test(tc, age_multi_node);
	suite_add_tcase(s, tc);

	tc = tcase_create("query");
	tcase_add_checked_fixture(tc, NULL, tu_tmp_cleanup);
	tcase_add_test(tc, older_than_mglru);
	tcase_add_test(tc, older_than_classic);
	tcase_add_test(tc, summary_dup);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(lru_suite());
}
