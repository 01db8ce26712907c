/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * reclaim/: kinds parsing, memory.reclaim against temporary cgroup trees
 * (the exact text written), drop_caches against a temporary tree and the
 * live system (bytes really freed), and how ms_reclaim_run merges.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <memshare/memshare.h>

#include "testutil.h"

#define MIB (1024ull * 1024ull)

/*
 * Linux before 6.10 answers EINVAL to "N swappiness=...".  Plain files
 * cannot, so this program's write(2) does when fake_old_kernel is set and
 * the target is a memory.reclaim file; everything else goes to the kernel.
 */
static bool fake_old_kernel;
/* And a kernel that takes this long for each memory.reclaim write. */
static unsigned fake_reclaim_us;

static bool is_memory_reclaim(int fd)
{
	char link[64], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	return n > 15 && memcmp(target + n - 15, "/memory.reclaim", 15) == 0;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	if ((fake_old_kernel || fake_reclaim_us) && is_memory_reclaim(fd)) {
		if (fake_old_kernel && memmem(buf, len, "swappiness=", 11)) {
			errno = EINVAL;
			return -1;
		}
		if (fake_reclaim_us)
			usleep(fake_reclaim_us);
	}
	return syscall(SYS_write, fd, buf, len);
}

/* ---- temporary sysroots ---------------------------------------------- */

static const char *tmp_root;
static struct ms_ctx *ctx;

static void open_ctx(void)
{
	ctx = tu_new_ctx(tmp_root);
}

static void setup(void)
{
	tmp_root = tu_tmp_root("reclaim");
	ctx = NULL;
}

static void teardown(void)
{
	fake_old_kernel = false;
	fake_reclaim_us = 0;
	ms_ctx_free(ctx);
	ctx = NULL;
	tu_tmp_cleanup();
	tmp_root = NULL;
}

static const char meminfo_text[] =
	"MemTotal:         481268 kB\n"
	"MemFree:          254880 kB\n"
	"MemAvailable:     364660 kB\n"
	"SwapTotal:             0 kB\n"
	"SwapFree:              0 kB\n"
	"SReclaimable:      19992 kB\n";

static const char memstat_text[] =
	"anon 84144128\n"
	"file 108302336\n"
	"slab_reclaimable 11731136\n"
	"slab 11740440\n";

/* A cgroup v2 tree: root with memory.stat and a plain-file memory.reclaim,
 * child "vm-a" with memory.stat only (like cgroup v1 or an old kernel). */
static void make_cgroup_tree(void)
{
	tu_put_str(tmp_root, "proc/meminfo", meminfo_text);
	tu_put_str(tmp_root, "sys/fs/cgroup/memory.stat", memstat_text);
	tu_put_str(tmp_root, "sys/fs/cgroup/memory.reclaim", "");
	tu_put_str(tmp_root, "sys/fs/cgroup/vm-a/memory.stat", memstat_text);
	tu_put_str(tmp_root, "sys/fs/cgroup/vm-b/memory.stat", memstat_text);
	tu_put_str(tmp_root, "sys/fs/cgroup/vm-b/memory.reclaim", "");
	open_ctx();
}

/* ---- ms_reclaim_kinds_parse ---------------------------------------------- */

START_TEST(kinds_parse)
{
	ck_assert_int_eq(ms_reclaim_kinds_parse("file"), MS_RECLAIM_FILE);
	ck_assert_int_eq(ms_reclaim_kinds_parse("anon"), MS_RECLAIM_ANON);
	ck_assert_int_eq(ms_reclaim_kinds_parse("slab"), MS_RECLAIM_SLAB);
	ck_assert_int_eq(ms_reclaim_kinds_parse("slab,anon"), MS_RECLAIM_SLAB | MS_RECLAIM_ANON);
	ck_assert_int_eq(ms_reclaim_kinds_parse("file,file"), MS_RECLAIM_FILE);
	ck_assert_int_eq(ms_reclaim_kinds_parse("all"), MS_RECLAIM_ALL_KINDS);
	ck_assert_int_eq(ms_reclaim_kinds_parse("file,all"), MS_RECLAIM_ALL_KINDS);

	ck_assert_int_eq(ms_reclaim_kinds_parse(NULL), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse(""), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse("bogus"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse("files"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse("fil"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse("FILE"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse("file, slab"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse("file,bogus"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse(",file"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse("file,,slab"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse("file,"), -EINVAL);
	ck_assert_int_eq(ms_reclaim_kinds_parse(","), -EINVAL);
}
END_TEST

START_TEST(method_names)
{
	ck_assert_str_eq(ms_reclaim_method_name(MS_RECLAIM_METHOD_NONE), "none");
	ck_assert_str_eq(ms_reclaim_method_name(MS_RECLAIM_METHOD_MEMCG), "memory.reclaim");
	ck_assert_str_eq(ms_reclaim_method_name(MS_RECLAIM_METHOD_DROP_SLAB), "drop_caches");
	ck_assert_str_eq(ms_reclaim_method_name((enum ms_reclaim_method)42), "unknown");
}
END_TEST

/* ---- ms_reclaim_memcg ---------------------------------------------------- */

START_TEST(memcg_missing_cgroup)
{
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = 8 * MIB, .kinds = MS_RECLAIM_FILE, .memcg = "nope");

	make_cgroup_tree();
	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -ENOENT);
	ck_assert_int_eq(res.status, -ENOENT);
	ck_assert_uint_eq(res.freed_bytes, 0);
	ck_assert_uint_eq(res.requested_bytes, 8 * MIB);

	/* No cgroup tree at all. */
	ms_ctx_free(ctx);
	ctx = NULL;
	tu_rm_tree(tmp_root);
	ck_assert_int_eq(mkdir(tmp_root, 0700), 0);
	tu_put_str(tmp_root, "proc/meminfo", meminfo_text);
	open_ctx();
	o.memcg = NULL;
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -ENOENT);
	ck_assert_int_eq(res.status, -ENOENT);
}
END_TEST

START_TEST(memcg_no_reclaim_file)
{
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = 8 * MIB, .kinds = MS_RECLAIM_FILE, .memcg = "vm-a");

	make_cgroup_tree();
	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EOPNOTSUPP);
	ck_assert_int_eq(res.status, -EOPNOTSUPP);
	ck_assert_uint_eq(res.freed_bytes, 0);
	ck_assert_uint_eq(res.freed_file_bytes, 0);

	/* Leading and trailing slashes name the same cgroup. */
	o.memcg = "/vm-a/";
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EOPNOTSUPP);
	ck_assert_int_eq(res.status, -EOPNOTSUPP);
}
END_TEST

START_TEST(memcg_bad_options)
{
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = 0, .kinds = MS_RECLAIM_FILE);

	make_cgroup_tree();
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EINVAL);
	ck_assert_int_eq(res.status, -EINVAL);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"), "");

	o.bytes = MIB;
	o.kinds = MS_RECLAIM_SLAB;      /* memory.reclaim needs file or anon */
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EINVAL);
	ck_assert_int_eq(res.status, -EINVAL);
	o.kinds = 1u << 7;              /* unknown kind */
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EINVAL);
	o.kinds = MS_RECLAIM_FILE;
	o.memcg = "../etc";             /* no escaping the cgroup tree */
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EINVAL);
	o.memcg = "vm-a/../..";
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EINVAL);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"), "");

	ck_assert_int_eq(ms_reclaim_memcg(NULL, &o, &res), -EINVAL);
	ck_assert_int_eq(ms_reclaim_memcg(ctx, NULL, &res), -EINVAL);
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, NULL), -EINVAL);
	{
		/* A newer caller's bigger struct with unknown non-zero fields. */
		struct {
			struct ms_reclaim_opts o;
			uint64_t extra;
		} big = { .o = o, .extra = 1 };

		big.o.sz = sizeof(big);
		ck_assert_int_eq(ms_reclaim_memcg(ctx, &big.o, &res), -EINVAL);
		big.extra = 0;
		big.o.memcg = NULL;
		ck_assert_int_eq(ms_reclaim_memcg(ctx, &big.o, &res), 0);
	}
}
END_TEST

static void check_memcg_result(const struct ms_reclaim_result *res, uint64_t bytes)
{
	ck_assert_int_eq(res->status, 0);
	ck_assert_uint_eq(res->method, 1u << MS_RECLAIM_METHOD_MEMCG);
	ck_assert_uint_eq(res->requested_bytes, bytes);
	/* memory.stat did not change: nothing was freed, whatever was asked. */
	ck_assert_uint_eq(res->freed_bytes, 0);
	ck_assert_uint_eq(res->freed_file_bytes, 0);
	ck_assert_uint_eq(res->freed_anon_bytes, 0);
	ck_assert_uint_eq(res->freed_slab_bytes, 0);
}

/* memory.reclaim as a plain file: the last write can be read back. */
START_TEST(memcg_plain_file)
{
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = MIB, .kinds = MS_RECLAIM_FILE);

	make_cgroup_tree();

	/* One chunk (1 MiB < 4 MiB minimum chunk). */
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	check_memcg_result(&res, MIB);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"),
			 "1048576 swappiness=0");

	/* 20 MiB: four chunks of max(20 MiB / 4, 4 MiB) = 5 MiB. */
	tu_put_str(tmp_root, "sys/fs/cgroup/memory.reclaim", "");
	o.bytes = 20 * MIB;
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	check_memcg_result(&res, 20 * MIB);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"),
			 "5242880 swappiness=0");

	/* Anon only asks for swappiness=200. */
	tu_put_str(tmp_root, "sys/fs/cgroup/memory.reclaim", "");
	o.bytes = 3 * MIB;
	o.kinds = MS_RECLAIM_ANON;
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	check_memcg_result(&res, 3 * MIB);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"),
			 "3145728 swappiness=200");

	/* File and anon: no argument. */
	tu_put_str(tmp_root, "sys/fs/cgroup/memory.reclaim", "");
	o.kinds = MS_RECLAIM_FILE | MS_RECLAIM_ANON;
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	check_memcg_result(&res, 3 * MIB);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"), "3145728");

	/* kinds 0 means file; a child cgroup's own file is used. */
	o.kinds = 0;
	o.memcg = "vm-b";
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	check_memcg_result(&res, 3 * MIB);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/vm-b/memory.reclaim"),
			 "3145728 swappiness=0");

	/* FILE|SLAB goes to memory.reclaim as file-only. */
	tu_put_str(tmp_root, "sys/fs/cgroup/vm-b/memory.reclaim", "");
	o.kinds = MS_RECLAIM_FILE | MS_RECLAIM_SLAB;
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	check_memcg_result(&res, 3 * MIB);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/vm-b/memory.reclaim"),
			 "3145728 swappiness=0");
}
END_TEST

/* memory.reclaim as a FIFO: every write, in order. */
static void fifo_run(uint64_t bytes, uint32_t kinds, const char *expect)
{
	char path[PATH_MAX], buf[4096];
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = bytes, .kinds = kinds);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/memory.reclaim", tmp_root);
	unlink(path);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	/* Our read end keeps the writer's open(O_WRONLY) from blocking. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	check_memcg_result(&res, bytes);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_str_eq(buf, expect);
}

START_TEST(memcg_fifo_chunks)
{
	make_cgroup_tree();

	/* 10 MiB + 1: bytes / 4 < 4 MiB, so 4 MiB chunks and the rest. */
	fifo_run(10 * MIB + 1, MS_RECLAIM_FILE,
		 "4194304 swappiness=0"
		 "4194304 swappiness=0"
		 "2097153 swappiness=0");
	/* 4 MiB + 100: a short last chunk. */
	fifo_run(4 * MIB + 100, MS_RECLAIM_FILE,
		 "4194304 swappiness=0"
		 "100 swappiness=0");
	/* Exactly 4 MiB: one write. */
	fifo_run(4 * MIB, MS_RECLAIM_ANON, "4194304 swappiness=200");
	/* 64 MiB: four 16 MiB chunks. */
	fifo_run(64 * MIB, MS_RECLAIM_FILE | MS_RECLAIM_ANON,
		 "16777216" "16777216" "16777216" "16777216");
	/* 1 byte. */
	fifo_run(1, MS_RECLAIM_FILE, "1 swappiness=0");
}
END_TEST

/* A kernel without the swappiness argument (the 6.1 capture: EINVAL). */
START_TEST(memcg_no_swappiness_arg)
{
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = MIB, .kinds = MS_RECLAIM_ANON);

	make_cgroup_tree();
	fake_old_kernel = true;

	/* No swap: a plain write is file-only anyway; it is retried, and the
	 * later chunks are written plain at once. */
	fifo_run(20 * MIB, MS_RECLAIM_FILE, "5242880" "5242880" "5242880" "5242880");
	{
		char path[PATH_MAX];

		/* fifo_run left a FIFO there: a plain file again. */
		snprintf(path, sizeof(path), "%s/sys/fs/cgroup/memory.reclaim", tmp_root);
		ck_assert_int_eq(unlink(path), 0);
	}
	tu_put_str(tmp_root, "sys/fs/cgroup/memory.reclaim", "");

	/* Anon only cannot be asked for. */
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EOPNOTSUPP);
	ck_assert_int_eq(res.status, -EOPNOTSUPP);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"), "");

	/* With swap, file-only is not possible either. */
	tu_put_str(tmp_root, "proc/meminfo",
		   "MemTotal: 481268 kB\nSwapTotal: 1048572 kB\nSwapFree: 1048572 kB\n");
	o.kinds = MS_RECLAIM_FILE;
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EOPNOTSUPP);
	ck_assert_int_eq(res.status, -EOPNOTSUPP);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"), "");
	/* File and anon together need no argument. */
	o.kinds = MS_RECLAIM_FILE | MS_RECLAIM_ANON;
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"), "1048576");
	fake_old_kernel = false;
}
END_TEST

/* The deadline is checked between chunks. */
START_TEST(memcg_deadline)
{
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = 64 * MIB, .kinds = MS_RECLAIM_FILE,
		.deadline_ms = 30);

	make_cgroup_tree();
	fake_reclaim_us = 20000;
	/* Chunks of 16 MiB at 20 ms each: two fit in 30 ms (checked at 0 and
	 * 20 ms), the third check at 40 ms stops. */
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	ck_assert_int_eq(res.status, -ETIMEDOUT);
	ck_assert_uint_eq(res.method, 1u << MS_RECLAIM_METHOD_MEMCG);
	ck_assert_uint_ge(res.duration_us, 40000);
	ck_assert_uint_lt(res.duration_us, 60000 + 200000);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"),
			 "16777216 swappiness=0");

	/* Merged: a deadline miss is a failure, not "less than asked". */
	o.kinds = MS_RECLAIM_FILE | MS_RECLAIM_SLAB;
	tu_put_str(tmp_root, "proc/sys/vm/drop_caches", "");
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), -ETIMEDOUT);
	ck_assert_uint_eq(res.method,
			  (1u << MS_RECLAIM_METHOD_MEMCG) | (1u << MS_RECLAIM_METHOD_DROP_SLAB));

	/* No deadline: all four chunks. */
	o.deadline_ms = 0;
	o.kinds = MS_RECLAIM_FILE;
	fake_reclaim_us = 1000;
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), 0);
	ck_assert_int_eq(res.status, 0);
	ck_assert_uint_ge(res.duration_us, 4000);
}
END_TEST

/* memory.reclaim present but memory.stat unreadable: cannot measure. */
START_TEST(memcg_no_stat)
{
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = MIB, .kinds = MS_RECLAIM_FILE);
	char path[PATH_MAX];

	make_cgroup_tree();
	snprintf(path, sizeof(path), "%s/sys/fs/cgroup/memory.stat", tmp_root);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_lt(ms_reclaim_memcg(ctx, &o, &res), 0);
	ck_assert_int_lt(res.status, 0);
	/* Nothing is written when the effect cannot be measured. */
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"), "");

	/* Malformed memory.stat. */
	tu_put_str(tmp_root, "sys/fs/cgroup/memory.stat", "file lots\n");
	ck_assert_int_eq(ms_reclaim_memcg(ctx, &o, &res), -EBADMSG);
	ck_assert_int_eq(res.status, -EBADMSG);
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"), "");
}
END_TEST

/* ---- ms_reclaim_slab --------------------------------------------------- */

START_TEST(slab_temp_tree)
{
	struct ms_reclaim_result res;

	tu_put_str(tmp_root, "proc/meminfo", meminfo_text);
	tu_put_str(tmp_root, "proc/sys/vm/drop_caches", "");
	open_ctx();
	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(ms_reclaim_slab(ctx, &res), 0);
	ck_assert_int_eq(res.status, 0);
	ck_assert_uint_eq(res.method, 1u << MS_RECLAIM_METHOD_DROP_SLAB);
	ck_assert_uint_eq(res.requested_bytes, 0);
	ck_assert_uint_eq(res.freed_bytes, 0);
	ck_assert_uint_eq(res.freed_slab_bytes, 0);
	ck_assert_uint_eq(res.freed_file_bytes, 0);
	ck_assert_uint_eq(res.freed_anon_bytes, 0);
	ck_assert_str_eq(tu_read_text(tmp_root, "proc/sys/vm/drop_caches"), "2");

	ck_assert_int_eq(ms_reclaim_slab(NULL, &res), -EINVAL);
	ck_assert_int_eq(ms_reclaim_slab(ctx, NULL), -EINVAL);
}
END_TEST

START_TEST(slab_missing_files)
{
	struct ms_reclaim_result res;
	char path[PATH_MAX];

	/* No drop_caches: this machine cannot reclaim slab. */
	tu_put_str(tmp_root, "proc/meminfo", meminfo_text);
	tu_mkdirs(tmp_root, "proc/sys/vm");
	open_ctx();
	ck_assert_int_eq(ms_reclaim_slab(ctx, &res), -EOPNOTSUPP);
	ck_assert_int_eq(res.status, -EOPNOTSUPP);
	ck_assert_uint_eq(res.method, 0);
	ck_assert_uint_eq(res.freed_bytes, 0);

	/* No meminfo: nothing to measure with, nothing written. */
	tu_put_str(tmp_root, "proc/sys/vm/drop_caches", "");
	snprintf(path, sizeof(path), "%s/proc/meminfo", tmp_root);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(ms_reclaim_slab(ctx, &res), -ENOENT);
	ck_assert_int_eq(res.status, -ENOENT);
	ck_assert_str_eq(tu_read_text(tmp_root, "proc/sys/vm/drop_caches"), "");
}
END_TEST

/* Create @n empty files in @dir, sync, and stat them: dentries and inodes
 * in reclaimable slab, clean and unused. */
static void make_slab(const char *dir, int n)
{
	char name[16];
	struct stat st;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_msg(dfd >= 0, "%s: %m", dir);
	for (int i = 0; i < n; i++) {
		int fd;

		snprintf(name, sizeof(name), "f%05d", i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ck_assert_msg(fd >= 0, "%s/%s: %m", dir, name);
		close(fd);
	}
	sync();
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		ck_assert_int_eq(fstatat(dfd, name, &st, 0), 0);
	}
	close(dfd);
}

/* The running kernel, through sysroot "/": drop_caches=2 really frees the
 * dentries and inodes just created, and the figure comes from SReclaimable. */
START_TEST(slab_live)
{
	struct ms_reclaim_result res;
	char dir[PATH_MAX];

	if (geteuid() != 0) {
		fprintf(stderr, "slab_live: not root, skipped\n");
		return;
	}
	/* On the disk, not tmpfs: tmpfs dentries are pinned and never freed. */
	snprintf(dir, sizeof(dir), "%s/many", tmp_root);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ctx = tu_new_ctx("/");

	for (int attempt = 0; attempt < 2; attempt++) {
		make_slab(dir, 5000);
		memset(&res, 0xa5, sizeof(res));
		ck_assert_int_eq(ms_reclaim_slab(ctx, &res), 0);
		ck_assert_int_eq(res.status, 0);
		ck_assert_uint_eq(res.method, 1u << MS_RECLAIM_METHOD_DROP_SLAB);
		ck_assert_uint_eq(res.freed_file_bytes, 0);
		ck_assert_uint_eq(res.freed_anon_bytes, 0);
		ck_assert_uint_eq(res.freed_bytes, res.freed_slab_bytes);
		ck_assert_uint_gt(res.duration_us, 0);
		if (getenv("MS_TEST_VERBOSE"))
			fprintf(stderr, "drop_caches=2 freed %llu bytes of SReclaimable in %llu us\n",
				(unsigned long long)res.freed_slab_bytes,
				(unsigned long long)res.duration_us);
		if (res.freed_slab_bytes > 0)
			break;
		/* Something else allocated slab meanwhile: once more. */
		tu_rm_tree(dir);
		ck_assert_int_eq(mkdir(dir, 0700), 0);
	}
	ck_assert_uint_gt(res.freed_slab_bytes, 0);
	/* Sanity: a few thousand dentries+inodes are kilobytes to megabytes,
	 * not gigabytes. */
	ck_assert_uint_lt(res.freed_slab_bytes, 64ull << 30);
}
END_TEST

/* ---- ms_reclaim_run ---------------------------------------------------- */

START_TEST(run_merges)
{
	struct ms_reclaim_result res;
	MS_OPTS(ms_reclaim_opts, o, .bytes = 8 * MIB,
		.kinds = MS_RECLAIM_SLAB | MS_RECLAIM_FILE, .memcg = "vm-a");

	make_cgroup_tree();
	tu_put_str(tmp_root, "proc/sys/vm/drop_caches", "");

	/* Slab works, memory.reclaim is missing in vm-a: the whole request is
	 * -EOPNOTSUPP, but the slab part is still reported. */
	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), -EOPNOTSUPP);
	ck_assert_int_eq(res.status, -EOPNOTSUPP);
	ck_assert_uint_eq(res.method, 1u << MS_RECLAIM_METHOD_DROP_SLAB);
	ck_assert_uint_eq(res.requested_bytes, 8 * MIB);
	ck_assert_uint_eq(res.freed_bytes, 0);
	ck_assert_str_eq(tu_read_text(tmp_root, "proc/sys/vm/drop_caches"), "2");

	/* Both executors work at the root. */
	tu_put_str(tmp_root, "proc/sys/vm/drop_caches", "");
	o.memcg = NULL;
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), 0);
	ck_assert_int_eq(res.status, 0);
	ck_assert_uint_eq(res.method,
			  (1u << MS_RECLAIM_METHOD_DROP_SLAB) | (1u << MS_RECLAIM_METHOD_MEMCG));
	ck_assert_uint_eq(res.freed_bytes, 0);
	ck_assert_str_eq(tu_read_text(tmp_root, "proc/sys/vm/drop_caches"), "2");
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"),
			 "4194304 swappiness=0");

	/* kinds 0 = FILE | SLAB. */
	tu_put_str(tmp_root, "proc/sys/vm/drop_caches", "");
	tu_put_str(tmp_root, "sys/fs/cgroup/memory.reclaim", "");
	o.kinds = 0;
	o.bytes = MIB;
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), 0);
	ck_assert_uint_eq(res.method,
			  (1u << MS_RECLAIM_METHOD_DROP_SLAB) | (1u << MS_RECLAIM_METHOD_MEMCG));
	ck_assert_str_eq(tu_read_text(tmp_root, "proc/sys/vm/drop_caches"), "2");
	ck_assert_str_eq(tu_read_text(tmp_root, "sys/fs/cgroup/memory.reclaim"),
			 "1048576 swappiness=0");

	/* SLAB alone needs no byte count and no memory.reclaim. */
	tu_put_str(tmp_root, "proc/sys/vm/drop_caches", "");
	o.kinds = MS_RECLAIM_SLAB;
	o.bytes = 0;
	o.memcg = "vm-a";
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), 0);
	ck_assert_int_eq(res.status, 0);
	ck_assert_uint_eq(res.method, 1u << MS_RECLAIM_METHOD_DROP_SLAB);
	ck_assert_str_eq(tu_read_text(tmp_root, "proc/sys/vm/drop_caches"), "2");

	/* FILE alone, where it cannot work. */
	o.kinds = MS_RECLAIM_FILE;
	o.bytes = MIB;
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), -EOPNOTSUPP);
	ck_assert_uint_eq(res.method, 0);

	/* Slab failing (no drop_caches) and memory.reclaim working: the
	 * failure wins. */
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/proc/sys/vm/drop_caches", tmp_root);
		ck_assert_int_eq(unlink(path), 0);
	}
	o.kinds = MS_RECLAIM_SLAB | MS_RECLAIM_FILE;
	o.memcg = NULL;
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), -EOPNOTSUPP);
	ck_assert_int_eq(res.status, -EOPNOTSUPP);
	ck_assert_uint_eq(res.method, 1u << MS_RECLAIM_METHOD_MEMCG);

	/* Bad options. */
	o.kinds = 1u << 9;
	memset(&res, 0xa5, sizeof(res));
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), -EINVAL);
	ck_assert_int_eq(res.status, -EINVAL);
	ck_assert_uint_eq(res.freed_bytes, 0);
	o.kinds = MS_RECLAIM_FILE;
	o.bytes = 0;
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, &res), -EINVAL);
	ck_assert_int_eq(res.status, -EINVAL);
	ck_assert_int_eq(ms_reclaim_run(NULL, &o, &res), -EINVAL);
	ck_assert_int_eq(res.status, -EINVAL);
	ck_assert_int_eq(ms_reclaim_run(ctx, NULL, &res), -EINVAL);
	ck_assert_int_eq(ms_reclaim_run(ctx, &o, NULL), -EINVAL);
}
END_TEST

static Suite *reclaim_suite(void)
{
	Suite *s = suite_create("reclaim");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, kinds_parse);
	tcase_add_test(tc, method_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("memcg");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, memcg_missing_cgroup);
	tcase_add_test(tc, memcg_no_reclaim_file);
	tcase_add_test(tc, memcg_bad_options);
	tcase_add_test(tc, memcg_plain_file);
	tcase_add_test(tc, memcg_fifo_chunks);
	tcase_add_test(tc, memcg_no_swappiness_arg);
	tcase_add_test(tc, memcg_deadline);
	tcase_add_test(tc, memcg_no_stat);
	suite_add_tcase(s, tc);

	tc = tcase_create("slab");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, slab_temp_tree);
	tcase_add_test(tc, slab_missing_files);
	tcase_add_test(tc, slab_live);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);

	tc = tcase_create("run");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, run_merges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return testutil_run(reclaim_suite());
}
