/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * memshare-e2e-workload: the memory workloads the QEMU end-to-end harness
 * (tests/e2e/qemu/) runs inside its guest.  One program, several modes; each
 * prints one summary line per phase on stdout ("WL <mode> ...") so that the
 * workload plug-ins can log what really happened, and each stops cleanly
 * (exit 0) on SIGTERM/SIGINT.
 *
 *   write DIR MIB [--file-mib M]
 *       write MIB MiB of non-zero data as files DIR/fNNNN of M MiB (default
 *       4), fsync each one: page cache that is clean once written.
 *   hot --every S --for T [--read] FILE...
 *       every S seconds touch every page of FILE... for T seconds (T = 0:
 *       until SIGTERM).  Default: through a shared read-only mapping kept for
 *       the whole run (the accessed bits in the page tables are what MGLRU
 *       aging sees); --read: with read(2) instead (only the folio's
 *       referenced bit/tier changes: MGLRU does not move such pages to a
 *       younger generation).
 *   anon MIB --for T [--grow-s G] [--touch-every S]
 *       grow an anonymous working set to MIB MiB over G seconds (default 0:
 *       at once), rewrite one byte per page every S seconds (default 5) and
 *       free it (munmap) after T seconds from the start.
 *   reread [--mmap] FILE...
 *       read every FILE once from start to end (read(2) by default).
 *   age --every S [--for T] [--no-force]
 *       MGLRU aging: at once and then every S seconds, for each memcg and
 *       node listed in /sys/kernel/debug/lru_gen, write
 *       "+ MEMCG NODE MAX_SEQ" to create a new generation (if the kernel
 *       refuses, retry with "... 0 1": can_swap 0, force_scan 1).
 *   wr PATH STRING
 *       write STRING to PATH with one write(2); print rc, errno, duration.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ul * 1024ul)
#define PAGE 4096ul

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep until monotonic time @t or a signal; false if stopped. */
static bool sleep_until(double t)
{
	while (!stop) {
		double d = t - now_s();
		struct timespec ts;

		if (d <= 0)
			return true;
		if (d > 0.5)
			d = 0.5;
		ts.tv_sec = (time_t)d;
		ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
	return false;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: memshare-e2e-workload write DIR MIB [--file-mib M]\n"
		"       memshare-e2e-workload hot --every S --for T [--read] FILE...\n"
		"       memshare-e2e-workload anon MIB --for T [--grow-s G] [--touch-every S]\n"
		"       memshare-e2e-workload reread [--mmap] FILE...\n"
		"       memshare-e2e-workload age --every S [--for T] [--no-force]\n"
		"       memshare-e2e-workload wr PATH STRING\n");
	return 2;
}

static bool parse_num(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && *out >= 0;
}

/* Options "--name VALUE" and "--flag" shared by the modes. */
struct opts {
	double every, dur, file_mib, grow_s, touch_every;
	bool read, mmap, no_force;
	int first_arg;          /* index of the first positional argument */
};

static int parse_opts(int argc, char **argv, int start, struct opts *o)
{
	int i;

	for (i = start; i < argc; i++) {
		double *num = NULL;

		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strncmp(argv[i], "--", 2) != 0)
			break;
		if (strcmp(argv[i], "--every") == 0)
			num = &o->every;
		else if (strcmp(argv[i], "--for") == 0)
			num = &o->dur;
		else if (strcmp(argv[i], "--file-mib") == 0)
			num = &o->file_mib;
		else if (strcmp(argv[i], "--grow-s") == 0)
			num = &o->grow_s;
		else if (strcmp(argv[i], "--touch-every") == 0)
			num = &o->touch_every;
		else if (strcmp(argv[i], "--read") == 0)
			o->read = true;
		else if (strcmp(argv[i], "--mmap") == 0)
			o->mmap = true;
		else if (strcmp(argv[i], "--no-force") == 0)
			o->no_force = true;
		else {
			fprintf(stderr, "memshare-e2e-workload: unknown option %s\n", argv[i]);
			return -1;
		}
		if (num) {
			if (i + 1 >= argc || !parse_num(argv[i + 1], num)) {
				fprintf(stderr, "memshare-e2e-workload: %s wants a number\n", argv[i]);
				return -1;
			}
			i++;
		}
	}
	o->first_arg = i;
	return 0;
}

/* Positional arguments may also follow the options: move them to the front. */
static int collect_positional(int argc, char **argv, int start, struct opts *o, char ***pos)
{
	char **p = calloc((size_t)argc, sizeof(*p));
	int n = 0, i = start;

	if (!p)
		return -1;
	while (i < argc) {
		if (strncmp(argv[i], "--", 2) == 0) {
			struct opts tmp = *o;

			if (parse_opts(argc, argv, i, &tmp) < 0) {
				free(p);
				return -1;
			}
			*o = tmp;
			i = tmp.first_arg;
			continue;
		}
		p[n++] = argv[i++];
	}
	*pos = p;
	return n;
}

static int do_write(int npos, char **pos, const struct opts *o)
{
	double mib, t0 = now_s();
	size_t file_bytes = (size_t)((o->file_mib > 0 ? o->file_mib : 4) * (double)MIB);
	size_t total, done = 0;
	unsigned int nfiles = 0;
	char *buf;

	if (npos != 2 || !parse_num(pos[1], &mib) || mib <= 0 || file_bytes < PAGE)
		return usage();
	total = (size_t)(mib * (double)MIB);
	if (mkdir(pos[0], 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "write: mkdir %s: %s\n", pos[0], strerror(errno));
		return 1;
	}
	buf = malloc(MIB);
	if (!buf)
		return 1;
	while (done < total && !stop) {
		size_t want = total - done < file_bytes ? total - done : file_bytes, off = 0;
		char path[4096];
		int fd;

		snprintf(path, sizeof(path), "%s/f%04u", pos[0], nfiles);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			fprintf(stderr, "write: %s: %s\n", path, strerror(errno));
			free(buf);
			return 1;
		}
		while (off < want) {
			size_t n = want - off < MIB ? want - off : MIB;
			ssize_t w;

			/* Distinct, non-zero contents per MiB. */
			for (size_t k = 0; k < n; k += PAGE)
				memset(buf + k, (int)(((done + off + k) / PAGE) % 251) + 1,
				       n - k < PAGE ? n - k : PAGE);
			w = write(fd, buf, n);
			if (w < 0) {
				fprintf(stderr, "write: %s: %s\n", path, strerror(errno));
				close(fd);
				free(buf);
				return 1;
			}
			off += (size_t)w;
		}
		if (fsync(fd) < 0 || close(fd) < 0) {
			fprintf(stderr, "write: fsync %s: %s\n", path, strerror(errno));
			free(buf);
			return 1;
		}
		done += want;
		nfiles++;
	}
	free(buf);
	printf("WL write files=%u bytes=%zu seconds=%.2f\n", nfiles, done, now_s() - t0);
	return 0;
}

struct mapped {
	const char *path;
	int fd;
	size_t len;
	const volatile unsigned char *p;
};

static int open_files(int n, char **paths, bool map, struct mapped **out)
{
	struct mapped *m = calloc((size_t)n, sizeof(*m));

	if (!m)
		return -1;
	for (int i = 0; i < n; i++) {
		struct stat st;

		m[i].path = paths[i];
		m[i].fd = open(paths[i], O_RDONLY);
		if (m[i].fd < 0 || fstat(m[i].fd, &st) < 0) {
			fprintf(stderr, "%s: %s\n", paths[i], strerror(errno));
			return -1;
		}
		m[i].len = (size_t)st.st_size;
		if (map && m[i].len) {
			void *p = mmap(NULL, m[i].len, PROT_READ, MAP_SHARED, m[i].fd, 0);

			if (p == MAP_FAILED) {
				fprintf(stderr, "%s: mmap: %s\n", paths[i], strerror(errno));
				return -1;
			}
			m[i].p = p;
		}
	}
	*out = m;
	return 0;
}

/* Touch every page of every file once; returns bytes touched. */
static size_t touch_files(struct mapped *m, int n, bool map, unsigned long *sum)
{
	static char buf[1 << 20];
	size_t bytes = 0;

	for (int i = 0; i < n && !stop; i++) {
		if (map) {
			for (size_t off = 0; off < m[i].len; off += PAGE)
				*sum += m[i].p[off];
			bytes += m[i].len;
			continue;
		}
		for (off_t off = 0; !stop;) {
			ssize_t r = pread(m[i].fd, buf, sizeof(buf), off);

			if (r <= 0)
				break;
			*sum += (unsigned char)buf[0];
			off += r;
			bytes += (size_t)r;
		}
	}
	return bytes;
}

static int do_hot(int npos, char **pos, const struct opts *o)
{
	bool map = !o->read;
	double t0 = now_s(), next = t0, worst = 0;
	unsigned long sum = 0, rounds = 0;
	size_t bytes = 0;
	struct mapped *m;

	if (npos < 1 || o->every <= 0)
		return usage();
	if (open_files(npos, pos, map, &m) < 0)
		return 1;
	for (size_t i = 0; i < (size_t)npos; i++)
		bytes += m[i].len;
	printf("WL hot start files=%d bytes=%zu via=%s every_s=%g for_s=%g\n", npos, bytes,
	       map ? "mmap" : "read", o->every, o->dur);
	fflush(stdout);
	while (!stop && (o->dur <= 0 || now_s() - t0 < o->dur)) {
		double ts = now_s();

		touch_files(m, npos, map, &sum);
		rounds++;
		if (now_s() - ts > worst)
			worst = now_s() - ts;
		next += o->every;
		if (o->dur > 0 && next > t0 + o->dur)
			next = t0 + o->dur;
		sleep_until(next);
	}
	printf("WL hot done rounds=%lu seconds=%.2f worst_round_s=%.3f checksum=%lu\n", rounds,
	       now_s() - t0, worst, sum);
	return 0;
}

static int do_anon(int npos, char **pos, const struct opts *o)
{
	double mib, t0 = now_s(), touch_every = o->touch_every > 0 ? o->touch_every : 5;
	double next_touch = t0 + touch_every;
	size_t total, filled = 0;
	bool announced = false;
	unsigned char *p;

	if (npos != 1 || !parse_num(pos[0], &mib) || mib <= 0 || o->dur <= 0)
		return usage();
	total = (size_t)(mib * (double)MIB) / PAGE * PAGE;
	p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "anon: mmap %zu bytes: %s\n", total, strerror(errno));
		return 1;
	}
	printf("WL anon start target_bytes=%zu grow_s=%g for_s=%g\n", total, o->grow_s, o->dur);
	fflush(stdout);
	while (!stop && now_s() - t0 < o->dur) {
		double t = now_s() - t0;
		size_t want = o->grow_s > 0 && t < o->grow_s
			? (size_t)((double)total * (t / o->grow_s)) / PAGE * PAGE : total;

		/* Grow by faulting new pages in. */
		for (; filled < want && !stop; filled += PAGE)
			p[filled] = (unsigned char)((filled / PAGE) | 1);
		if (filled == total && !announced) {
			printf("WL anon full bytes=%zu at_s=%.2f\n", filled, now_s() - t0);
			announced = true;
		}
		if (now_s() >= next_touch) {
			for (size_t off = 0; off < filled; off += PAGE)
				p[off]++;
			next_touch += touch_every;
		}
		sleep_until(now_s() + (filled < total ? 0.1 : 0.5));
	}
	munmap(p, total);
	printf("WL anon freed bytes=%zu at_s=%.2f\n", filled, now_s() - t0);
	return 0;
}

static int do_reread(int npos, char **pos, const struct opts *o)
{
	double t0 = now_s();
	unsigned long sum = 0;
	struct mapped *m;
	size_t bytes;

	if (npos < 1)
		return usage();
	if (open_files(npos, pos, o->mmap, &m) < 0)
		return 1;
	bytes = touch_files(m, npos, o->mmap, &sum);
	printf("WL reread files=%d bytes=%zu via=%s seconds=%.2f checksum=%lu\n", npos, bytes,
	       o->mmap ? "mmap" : "read", now_s() - t0, sum);
	return 0;
}

static const char *wr_path(const char *path, const char *s, int *err, double *ms)
{
	double t0 = now_s();
	int fd = open(path, O_WRONLY);
	ssize_t r;

	*err = 0;
	if (fd < 0) {
		*err = errno;
		*ms = 0;
		return "open";
	}
	r = write(fd, s, strlen(s));
	if (r < 0)
		*err = errno;
	close(fd);
	*ms = (now_s() - t0) * 1e3;
	return "write";
}

/* One aging pass over every (memcg, node) of lru_gen; returns failures. */
static int age_once(bool force, unsigned int *ok, unsigned int *forced)
{
	const char *lg = "/sys/kernel/debug/lru_gen";
	char line[512];
	long memcg = -1;
	int fails = 0;
	struct target { long memcg, node; long long seq; } t[256];
	unsigned int nt = 0;
	FILE *f = fopen(lg, "r");

	if (!f) {
		fprintf(stderr, "age: %s: %s\n", lg, strerror(errno));
		return 1;
	}
	/* "memcg ID PATH", " node NID", then "  SEQ AGE_MS NR_ANON NR_FILE" lines */
	while (fgets(line, sizeof(line), f)) {
		long a;
		long long seq;

		if (sscanf(line, " memcg %ld", &a) == 1) {
			memcg = a;
			continue;
		}
		if (sscanf(line, " node %ld", &a) == 1) {
			if (nt < 256 && memcg >= 0) {
				t[nt].memcg = memcg;
				t[nt].node = a;
				t[nt].seq = -1;
				nt++;
			}
			continue;
		}
		if (sscanf(line, " %lld", &seq) == 1 && nt > 0)
			t[nt - 1].seq = seq > t[nt - 1].seq ? seq : t[nt - 1].seq;
	}
	fclose(f);
	for (unsigned int i = 0; i < nt; i++) {
		char cmd[128];
		const char *what;
		double ms;
		int err;

		if (t[i].seq < 0)
			continue;
		snprintf(cmd, sizeof(cmd), "+ %ld %ld %lld", t[i].memcg, t[i].node, t[i].seq);
		what = wr_path(lg, cmd, &err, &ms);
		if (err && force) {
			snprintf(cmd, sizeof(cmd), "+ %ld %ld %lld 0 1", t[i].memcg, t[i].node,
				 t[i].seq);
			what = wr_path(lg, cmd, &err, &ms);
			if (!err)
				(*forced)++;
		}
		if (err) {
			fprintf(stderr, "age: %s \"%s\" -> %s: %s\n", what, cmd, lg, strerror(err));
			fails++;
		} else {
			(*ok)++;
		}
	}
	return fails;
}

static int do_age(const struct opts *o)
{
	double t0 = now_s(), next = t0;
	unsigned int ok = 0, forced = 0, passes = 0, fails = 0;

	if (o->every <= 0)
		return usage();
	printf("WL age start every_s=%g for_s=%g force=%d\n", o->every, o->dur, !o->no_force);
	fflush(stdout);
	/* First pass at once: right after lru_gen is enabled every generation
	 * has the same birth time, and nothing can look younger than that. */
	while (sleep_until(next) && (o->dur <= 0 || now_s() - t0 < o->dur + 0.01)) {
		fails += (unsigned int)age_once(!o->no_force, &ok, &forced);
		passes++;
		next += o->every;
	}
	printf("WL age done passes=%u writes_ok=%u forced=%u failures=%u\n", passes, ok, forced,
	       fails);
	return 0;
}

static int do_wr(int npos, char **pos)
{
	const char *what;
	double ms;
	int err;

	if (npos != 2)
		return usage();
	what = wr_path(pos[0], pos[1], &err, &ms);
	if (err)
		printf("WL wr \"%s\" -> %s: %s failed: errno=%d (%s) ms=%.1f\n", pos[1], pos[0],
		       what, err, strerror(err), ms);
	else
		printf("WL wr \"%s\" -> %s: ok ms=%.1f\n", pos[1], pos[0], ms);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct opts o = { 0 };
	char **pos = NULL;
	int npos, r;

	if (argc < 2)
		return usage();
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	npos = collect_positional(argc, argv, 2, &o, &pos);
	if (npos < 0)
		return usage();
	if (strcmp(argv[1], "write") == 0)
		r = do_write(npos, pos, &o);
	else if (strcmp(argv[1], "hot") == 0)
		r = do_hot(npos, pos, &o);
	else if (strcmp(argv[1], "anon") == 0)
		r = do_anon(npos, pos, &o);
	else if (strcmp(argv[1], "reread") == 0)
		r = do_reread(npos, pos, &o);
	else if (strcmp(argv[1], "age") == 0)
		r = npos == 0 ? do_age(&o) : usage();
	else if (strcmp(argv[1], "wr") == 0)
		r = do_wr(npos, pos);
	else
		r = usage();
	free(pos);
	return r;
}
