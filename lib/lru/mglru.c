/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * MGLRU: /sys/kernel/debug/lru_gen (Documentation/admin-guide/mm/
 * multigen_lru.rst; mm/vmscan.c lru_gen_seq_show()):
 *
 *   memcg  memcg_id  memcg_path
 *    node  node_id
 *          min_gen_nr  age_in_ms  nr_anon_pages  nr_file_pages
 *          ...
 *          max_gen_nr  age_in_ms  nr_anon_pages  nr_file_pages
 *
 * The lru_gen_full variant adds per-tier lines (6 or 7 columns) under each
 * generation; they are skipped, so both files give the same summary.
 * Enabled when /sys/kernel/mm/lru_gen/enabled has bit 0x0001 (LRU_GEN_CORE).
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>

#include "../util/fileio.h"
#include "../util/parse.h"
#include "lru-internal.h"

int lru_mglru_available(struct ms_ctx *ctx, bool log)
{
	const char *p, *end;
	char *buf;
	size_t len;
	uint64_t v = 0;
	int r;

	r = ms_read_file(ctx, "sys/kernel/mm/lru_gen/enabled", &buf, &len, 4096);
	if (r < 0) {
		if (log)
			ms_err(ctx, "MGLRU: %s/sys/kernel/mm/lru_gen/enabled: %s (kernel without "
			       "CONFIG_LRU_GEN)", ctx->log_root, strerror(-r));
		return -EOPNOTSUPP;
	}
	p = buf;
	end = buf + len;
	if (end - p > 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		for (p += 2; p < end; p++) {
			int d;

			if (*p >= '0' && *p <= '9')
				d = *p - '0';
			else if (*p >= 'a' && *p <= 'f')
				d = *p - 'a' + 10;
			else if (*p >= 'A' && *p <= 'F')
				d = *p - 'A' + 10;
			else
				break;
			v = (v << 4) | (uint64_t)d;
		}
	} else if (ms_parse_u64(&p, end, &v) < 0) {
		v = 0;
	}
	free(buf);
	if (!(v & 1)) {
		if (log)
			ms_err(ctx, "MGLRU: lru_gen is disabled (echo y > "
			       "/sys/kernel/mm/lru_gen/enabled)");
		return -EOPNOTSUPP;
	}
	if (!ms_path_exists(ctx, "sys/kernel/debug/lru_gen")) {
		if (log)
			ms_err(ctx, "MGLRU: %s/sys/kernel/debug/lru_gen is missing (debugfs not "
			       "mounted, or not readable)", ctx->log_root);
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Split into at most 8 whitespace-separated tokens; returns the count
 * (9 means "more than 8"). */
static int tokenize(const char *line, size_t len, const char **tok, size_t *tlen)
{
	const char *p = line, *end = line + len;
	int n = 0;

	for (;;) {
		const char *s;

		p = ms_skip_blanks(p, end);
		if (p >= end)
			return n;
		if (n == 8)
			return 9;
		s = p;
		while (p < end && *p != ' ' && *p != '\t')
			p++;
		tok[n] = s;
		tlen[n] = (size_t)(p - s);
		n++;
	}
}

static bool tok_u64(const char *t, size_t len, uint64_t *out)
{
	const char *p = t;

	return ms_parse_u64(&p, t + len, out) == 0 && p == t + len;
}

/* Does lru_gen's memcg path @path ([p, p+len)) fall in the filter subtree? */
static bool memcg_match(const char *filter, const char *path, size_t len)
{
	size_t fl;

	if (!filter)
		return true;
	fl = strlen(filter);
	return len >= fl && memcmp(path, filter, fl) == 0 && (len == fl || path[fl] == '/');
}

int lru_mglru_parse(struct lru_builder *b, const char *buf, size_t len)
{
	struct ms_ctx *ctx = b->ctx;
	struct ms_lru_node *node = NULL;
	bool in_memcg = false, in_node = false, want = false, matched = false;
	struct ms_lines it;
	const char *line;
	size_t llen;
	char ex[96];

	ms_lines_init(&it, buf, len);
	while (ms_lines_next(&it, &line, &llen)) {
		const char *tok[8];
		size_t tl[8];
		uint64_t v[4];
		int n = tokenize(line, llen, tok, tl);

		if (n == 0)
			continue;
		if (ms_token_eq(tok[0], tl[0], "memcg")) {
			const char *path;
			size_t plen;

			if (n < 2 || !tok_u64(tok[1], tl[1], &v[0]))
				goto bad;
			/* The path is the rest of the line (it may hold spaces). */
			path = tok[1] + tl[1];
			path = ms_skip_blanks(path, line + llen);
			plen = (size_t)(line + llen - path);
			while (plen && (path[plen - 1] == ' ' || path[plen - 1] == '\t'))
				plen--;
			in_memcg = true;
			want = memcg_match(b->memcg, path, plen);
			matched |= want;
			node = NULL;
			in_node = false;
			continue;
		}
		if (ms_token_eq(tok[0], tl[0], "node")) {
			if (!in_memcg || n != 2 || !tok_u64(tok[1], tl[1], &v[0]) || v[0] > 65535)
				goto bad;
			node = NULL;
			in_node = true;
			if (want) {
				node = lru_builder_node(b, (int)v[0], false);
				if (!node)
					return -ENOMEM;
			}
			continue;
		}
		if (n == 6 || n == 7)
			continue;       /* lru_gen_full per-tier detail */
		if (n != 4)
			goto bad;
		for (int i = 0; i < 4; i++)
			if (!tok_u64(tok[i], tl[i], &v[i]))
				goto bad;
		if (!in_node)
			goto bad;
		if (node) {
			struct ms_lru_bin *bin = &node->bins[lru_bin_index(b, v[1])];
			uint64_t anon, file;

			if (ms_mul_u64(v[2], ctx->page_size, &anon) < 0 ||
			    ms_mul_u64(v[3], ctx->page_size, &file) < 0 ||
			    __builtin_add_overflow(bin->anon_bytes, anon, &bin->anon_bytes) ||
			    __builtin_add_overflow(bin->file_bytes, file, &bin->file_bytes)) {
				ms_err(ctx, "lru_gen: line %u: page count out of range: '%s'",
				       it.lineno, ms_line_excerpt(ex, sizeof(ex), line, llen));
				return -ERANGE;
			}
		}
		continue;
bad:
		ms_err(ctx, "lru_gen: line %u is malformed: '%s'", it.lineno,
		       ms_line_excerpt(ex, sizeof(ex), line, llen));
		return -EBADMSG;
	}
	if (!in_memcg) {
		ms_err(ctx, "lru_gen: no memcg line (empty or truncated file)");
		return -EBADMSG;
	}
	if (b->memcg && !matched) {
		ms_err(ctx, "lru_gen: memcg %s not found", b->memcg);
		return -ENOENT;
	}
	return 0;
}

bool lru_mglru_is_kernel(struct ms_ctx *ctx)
{
	struct statfs sfs;
	int fd = ms_openat(ctx, "sys/kernel/debug/lru_gen", O_RDONLY | O_NONBLOCK);
	bool live;

	if (fd < 0)
		return false;
	live = fstatfs(fd, &sfs) == 0 && sfs.f_type == DEBUGFS_MAGIC;
	close(fd);
	return live;
}

/* One lruvec to age: its memcg id, node and youngest generation. */
struct age_target {
	uint64_t memcg, node, max_gen;
};

MS_EXPORT int ms_lru_mglru_age(struct ms_ctx *ctx, const char *memcg)
{
	MS_OPTS(ms_lru_opts, lo, .memcg = memcg);
	struct age_target *t = NULL;
	struct lru_builder b;
	struct ms_lines it;
	const char *line;
	char filter[512], *buf;
	size_t len, n = 0, cap = 0;
	uint64_t cur_memcg = 0;
	bool want = false;
	int r, aged = 0;

	if (!ctx)
		return -EINVAL;
	r = lru_builder_init(&b, ctx, &lo, filter, sizeof(filter));
	if (r < 0)
		return r;
	r = lru_mglru_available(ctx, true);
	if (r < 0)
		return r;
	r = ms_read_file(ctx, "sys/kernel/debug/lru_gen", &buf, &len, MS_FILE_MAX_BYTES);
	if (r < 0) {
		ms_err(ctx, "%s/sys/kernel/debug/lru_gen: %s", ctx->log_root, strerror(-r));
		return r;
	}
	/* Collect (memcg, node, youngest generation) from the listing. */
	ms_lines_init(&it, buf, len);
	while (r == 0 && ms_lines_next(&it, &line, &len)) {
		const char *tok[8];
		size_t tl[8];
		uint64_t v;
		int k = tokenize(line, len, tok, tl);

		if (k >= 2 && ms_token_eq(tok[0], tl[0], "memcg")) {
			const char *path = ms_skip_blanks(tok[1] + tl[1], line + len);
			size_t plen = (size_t)(line + len - path);

			while (plen && (path[plen - 1] == ' ' || path[plen - 1] == '\t'))
				plen--;
			if (!tok_u64(tok[1], tl[1], &cur_memcg))
				r = -EBADMSG;
			want = memcg_match(b.memcg, path, plen);
		} else if (k == 2 && ms_token_eq(tok[0], tl[0], "node")) {
			struct age_target *nt;

			if (!want || !tok_u64(tok[1], tl[1], &v))
				continue;
			if (n == cap) {
				nt = realloc(t, (cap ? cap * 2 : 16) * sizeof(*t));
				if (!nt) {
					r = -ENOMEM;
					break;
				}
				t = nt;
				cap = cap ? cap * 2 : 16;
			}
			t[n].memcg = cur_memcg;
			t[n].node = v;
			t[n].max_gen = UINT64_MAX;
			n++;
		} else if (k == 4 && want && n && tok_u64(tok[0], tl[0], &v)) {
			t[n - 1].max_gen = v;       /* generations ascend: the last is max_seq */
		}
	}
	free(buf);
	for (size_t i = 0; r == 0 && i < n; i++) {
		char cmd[96];
		int w;

		if (t[i].max_gen == UINT64_MAX)
			continue;
		snprintf(cmd, sizeof(cmd), "+ %llu %llu %llu", (unsigned long long)t[i].memcg,
			 (unsigned long long)t[i].node, (unsigned long long)t[i].max_gen);
		w = ms_write_file(ctx, "sys/kernel/debug/lru_gen", cmd);
		if (w == 0) {
			aged++;
		} else if (w == -EINVAL || w == -ENOENT || w == -ERANGE) {
			/* The generation moved on (reclaim raced us), or the
			 * memcg went away: nothing to do for it this time. */
			ms_dbg(ctx, "lru_gen: '%s': %s (skipped)", cmd, strerror(-w));
		} else {
			ms_err(ctx, "%s/sys/kernel/debug/lru_gen: '%s': %s", ctx->log_root, cmd,
			       strerror(-w));
			r = w;
		}
	}
	free(t);
	return r < 0 ? r : aged;
}
