/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Replay driver: runs a fuzz target's LLVMFuzzerTestOneInput() on files
 * without libFuzzer, so that the seed corpora (and any crash input) run in
 * the normal test suite, under ASan and under valgrind.
 *
 *   fuzz-host-replay tests/fuzz/corpus/host [more files or directories]
 *
 * A directory's regular files run in name order.  A failing check aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static size_t nr_inputs;

static void run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n);
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		exit(1);
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	nr_inputs++;
}

static int regular_file(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static void run_path(const char *path)
{
	struct dirent **names;
	struct stat sb;
	int n;

	if (stat(path, &sb) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISDIR(sb.st_mode)) {
		run_file(path);
		return;
	}
	n = scandir(path, &names, regular_file, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];

		snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
		if (stat(sub, &sb) == 0 && S_ISREG(sb.st_mode))
			run_file(sub);
		free(names[i]);
	}
	free(names);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		run_path(argv[i]);
	printf("%zu inputs replayed\n", nr_inputs);
	return nr_inputs ? 0 : 1;
}
