/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the Check unit tests in tests/unit: log capture, contexts
 * on a sysroot, fixture files, temporary sysroot trees and the suite runner.
 *
 * Every helper asserts with ck_assert*, so it may only be called from a test,
 * a checked fixture or a function one of them calls.
 */
#ifndef MS_TESTUTIL_H
#define MS_TESTUTIL_H

#include <check.h>
#include <stddef.h>

#include <memshare/memshare.h>

/* ---- log capture ---------------------------------------------------------- */

/*
 * What a context logged: the last message, how many there were, and as many
 * of the newest ones (one a line) as fit in @all.  @name, if set, tags the
 * messages echoed to stderr when MS_TEST_VERBOSE is set.
 */
struct tu_log {
	const char *name;
	char last[512];
	unsigned nr;
	char all[8192];
	size_t all_len;
};

/* The log of the contexts made by tu_new_ctx(). */
extern struct tu_log tu_log;

/* ms_log_fn: records @msg in the struct tu_log @userdata (NULL: tu_log). */
void tu_capture_log(enum ms_log_level level, const char *msg, void *userdata);

/* Forget every message (the name stays). */
void tu_log_reset(struct tu_log *log);

/* ---- contexts ------------------------------------------------------------- */

/*
 * A context on @sysroot (NULL: the real /) logging everything down to
 * MS_LOG_DEBUG into @log, which is reset.  Asserts that it was made.
 */
struct ms_ctx *tu_new_ctx_log(const char *sysroot, struct tu_log *log);

/* tu_new_ctx_log(@sysroot, &tu_log). */
struct ms_ctx *tu_new_ctx(const char *sysroot);

/* ---- files ---------------------------------------------------------------- */

/*
 * The whole file @rel under @root (NULL: @rel is a path) into a malloc'd,
 * NUL-terminated buffer; its length without the NUL in *@len.
 */
char *tu_read_file(const char *root, const char *rel, size_t *len);

/* tu_read_file() relative to MS_FIXTURES_DIR. */
char *tu_slurp(const char *rel, size_t *len);

/*
 * The text of @rel under @root (NULL: @rel is a path), in a static buffer
 * that the next call overwrites; asserts that it fits (4 KiB).
 */
const char *tu_read_text(const char *root, const char *rel);

/* ---- temporary trees ------------------------------------------------------ */

/*
 * Create the temporary directory /tmp/ms-test-@tag-XXXXXX and return its
 * path.  One at a time: asserts that none is open; tu_tmp_cleanup() (the
 * teardown of the test cases that use one) removes it.
 */
const char *tu_tmp_root(const char *tag);

/* Remove the tree of tu_tmp_root(), if there is one, and forget it. */
void tu_tmp_cleanup(void);

/* mkdir -p @root/@rel (@root itself must exist). */
void tu_mkdirs(const char *root, const char *rel);

/* Create @root/@rel (and its parent directories) holding @len bytes of @data. */
void tu_put_file(const char *root, const char *rel, const void *data, size_t len);

/* tu_put_file() of the string @data without its NUL. */
void tu_put_str(const char *root, const char *rel, const char *data);

/* Copy the fixture file @fixture (relative to MS_FIXTURES_DIR) to @root/@rel. */
void tu_copy_fixture(const char *root, const char *rel, const char *fixture);

/*
 * Copy the directories and regular files below the fixture directory
 * @fixture (relative to MS_FIXTURES_DIR) to @root/@rel, which is created.
 */
void tu_copy_fixture_tree(const char *root, const char *rel, const char *fixture);

/* rm -rf @path; asserts that everything went. */
void tu_rm_tree(const char *path);

/* ---- main() --------------------------------------------------------------- */

/* Run every test of @s, free it; EXIT_SUCCESS if none failed. */
int testutil_run(Suite *s);

#endif /* MS_TESTUTIL_H */
