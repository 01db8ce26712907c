/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Print this machine's memory pressure and how old its memory is.
 *
 *   cc pressure.c $(pkg-config --cflags --libs memshare) -o pressure
 *   ./pressure            # the running system
 *   ./pressure /capture   # a captured /proc + /sys tree
 */
#include <stdio.h>
#include <string.h>

#include <memshare/memshare.h>

int main(int argc, char **argv)
{
	MS_OPTS(ms_ctx_opts, opts, .sysroot = argc > 1 ? argv[1] : NULL);
	struct ms_lru_summary *lru;
	struct ms_ctx *ctx;
	struct ms_psi psi;
	int r;

	r = ms_ctx_new(&ctx, &opts);
	if (r < 0) {
		fprintf(stderr, "ms_ctx_new: %s\n", strerror(-r));
		return 1;
	}
	r = ms_psi_read(ctx, NULL, &psi);
	if (r == 0)
		printf("psi some avg10=%.2f total_us=%llu\n", psi.some.avg10,
		       (unsigned long long)psi.some.total_us);
	else
		printf("psi: %s\n", strerror(-r));

	r = ms_lru_summary_read(ctx, NULL, &lru);
	if (r < 0) {
		fprintf(stderr, "ms_lru_summary_read: %s\n", strerror(-r));
		ms_ctx_free(ctx);
		return 1;
	}
	printf("lru source=%s nodes=%u\n", ms_lru_source_name(lru->source), lru->nr_nodes);
	for (uint32_t i = 0; i < lru->nr_nodes; i++) {
		const struct ms_lru_node *n = &lru->nodes[i];

		for (uint32_t j = 0; j < n->nr_bins; j++)
			printf("node %d bin %u anon_bytes=%llu file_bytes=%llu\n", n->node, j,
			       (unsigned long long)n->bins[j].anon_bytes,
			       (unsigned long long)n->bins[j].file_bytes);
	}
	printf("cold (>= 120 s) bytes=%llu\n",
	       (unsigned long long)ms_lru_summary_bytes_older_than(lru, 120000,
								   MS_LRU_ANON | MS_LRU_FILE));
	ms_lru_summary_free(lru);
	ms_ctx_free(ctx);
	return 0;
}
