/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the Check unit tests; see testutil.h.
 */
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- log capture ---------------------------------------------------------- */

struct tu_log tu_log;

void tu_capture_log(enum ms_log_level level, const char *msg, void *userdata)
{
	struct tu_log *log = userdata ? userdata : &tu_log;
	size_t room;
	int n;

	if (getenv("MS_TEST_VERBOSE"))
		fprintf(stderr, "%s <%d> %s\n", log->name ? log->name : "log", level, msg);
	snprintf(log->last, sizeof(log->last), "%s", msg);
	log->nr++;
	if (log->all_len + strlen(msg) + 2 > sizeof(log->all))
		log->all_len = 0;       /* full: start over, keep the newest */
	room = sizeof(log->all) - log->all_len;
	n = snprintf(log->all + log->all_len, room, "%s\n", msg);
	if (n > 0 && (size_t)n < room)
		log->all_len += (size_t)n;
}

void tu_log_reset(struct tu_log *log)
{
	log->last[0] = '\0';
	log->nr = 0;
	log->all[0] = '\0';
	log->all_len = 0;
}

/* ---- contexts ------------------------------------------------------------- */

struct ms_ctx *tu_new_ctx_log(const char *sysroot, struct tu_log *log)
{
	MS_OPTS(ms_ctx_opts, opts, .sysroot = sysroot, .log_fn = tu_capture_log,
		.log_userdata = log, .log_level = MS_LOG_DEBUG);
	struct ms_ctx *ctx = NULL;

	ck_assert_ptr_nonnull(log);
	ck_assert_int_eq(ms_ctx_new(&ctx, &opts), 0);
	ck_assert_ptr_nonnull(ctx);
	tu_log_reset(log);
	return ctx;
}

struct ms_ctx *tu_new_ctx(const char *sysroot)
{
	return tu_new_ctx_log(sysroot, &tu_log);
}

/* ---- files ---------------------------------------------------------------- */

/* @root/@rel, or @rel alone if @root is NULL, into @path. */
static void join(char *path, size_t size, const char *root, const char *rel)
{
	int n = root ? snprintf(path, size, "%s/%s", root, rel) : snprintf(path, size, "%s", rel);

	ck_assert_msg(n >= 0 && (size_t)n < size, "path too long: %s/%s", root ? root : "",
		      rel);
}

char *tu_read_file(const char *root, const char *rel, size_t *len)
{
	char path[PATH_MAX];
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	FILE *f;

	join(path, sizeof(path), root, rel);
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		size_t got;

		if (cap - n < 1024) {
			cap *= 2;
			buf = realloc(buf, cap);
			ck_assert_ptr_nonnull(buf);
		}
		got = fread(buf + n, 1, cap - n - 1, f);
		if (!got)
			break;
		n += got;
	}
	ck_assert_msg(!ferror(f), "read %s", path);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

char *tu_slurp(const char *rel, size_t *len)
{
	return tu_read_file(MS_FIXTURES_DIR, rel, len);
}

const char *tu_read_text(const char *root, const char *rel)
{
	static char text[4096];
	size_t len;
	char *buf = tu_read_file(root, rel, &len);

	ck_assert_msg(len < sizeof(text), "%s: %zu bytes, more than the %zu expected", rel, len,
		      sizeof(text) - 1);
	memcpy(text, buf, len + 1);
	free(buf);
	return text;
}

/* ---- temporary trees ------------------------------------------------------ */

static char *tmp_root;

const char *tu_tmp_root(const char *tag)
{
	char tmpl[PATH_MAX];
	int n = snprintf(tmpl, sizeof(tmpl), "/tmp/ms-test-%s-XXXXXX", tag);

	ck_assert_ptr_null(tmp_root);
	ck_assert(n > 0 && (size_t)n < sizeof(tmpl));
	tmp_root = strdup(tmpl);
	ck_assert_ptr_nonnull(tmp_root);
	ck_assert_msg(mkdtemp(tmp_root) != NULL, "mkdtemp %s: %s", tmpl, strerror(errno));
	return tmp_root;
}

void tu_tmp_cleanup(void)
{
	char *root = tmp_root;

	if (!root)
		return;
	tmp_root = NULL;        /* forgotten even if the removal fails */
	tu_rm_tree(root);
	free(root);
}

void tu_mkdirs(const char *root, const char *rel)
{
	char path[PATH_MAX];

	join(path, sizeof(path), root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
			      strerror(errno));
		*p = '/';
	}
	ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path,
		      strerror(errno));
}

void tu_put_file(const char *root, const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX], *slash;
	FILE *f;

	join(path, sizeof(path), NULL, rel);
	slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		tu_mkdirs(root, path);
	}
	join(path, sizeof(path), root, rel);
	f = fopen(path, "we");
	ck_assert_msg(f != NULL, "create %s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

void tu_put_str(const char *root, const char *rel, const char *data)
{
	tu_put_file(root, rel, data, strlen(data));
}

void tu_copy_fixture(const char *root, const char *rel, const char *fixture)
{
	size_t len;
	char *buf = tu_slurp(fixture, &len);

	tu_put_file(root, rel, buf, len);
	free(buf);
}

/* nftw() has no userdata: the copy in progress. */
static const char *copy_src;
static const char *copy_dst;

static int copy_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	const char *rel = path + strlen(copy_src);
	char dst[PATH_MAX];
	size_t len;
	char *buf;

	(void)ftw;
	ck_assert_msg(type != FTW_DNR && type != FTW_NS, "cannot read %s", path);
	if (*rel == '/')
		rel++;
	if (type == FTW_D) {
		join(dst, sizeof(dst), copy_dst, rel);
		ck_assert_msg(mkdir(dst, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", dst,
			      strerror(errno));
		return 0;
	}
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;       /* symbolic links, devices...: not copied */
	buf = tu_read_file(NULL, path, &len);
	tu_put_file(copy_dst, rel, buf, len);
	free(buf);
	return 0;
}

void tu_copy_fixture_tree(const char *root, const char *rel, const char *fixture)
{
	char src[PATH_MAX], dst[PATH_MAX];

	join(src, sizeof(src), MS_FIXTURES_DIR, fixture);
	join(dst, sizeof(dst), root, rel);
	tu_mkdirs(root, rel);
	copy_src = src;
	copy_dst = dst;
	ck_assert_int_eq(nftw(src, copy_one, 16, FTW_PHYS), 0);
	copy_src = copy_dst = NULL;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

void tu_rm_tree(const char *path)
{
	ck_assert_msg(nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "rm -r %s: %s", path,
		      strerror(errno));
}

/* ---- main() --------------------------------------------------------------- */

int testutil_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
