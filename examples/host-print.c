/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A minimal host: listen for guest agents and print every report.
 *
 *   cc host-print.c $(pkg-config --cflags --libs memshare) -o host-print
 *   ./host-print unix:/tmp/memshare.sock [COUNT]
 *   memshare-guestd --connect unix:/tmp/memshare.sock     # elsewhere
 *
 * Exits after COUNT reports (default: never).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memshare/memshare.h>

static long remaining = -1;

static void on_event(struct ms_host *host, const struct ms_host_event *ev, void *userdata)
{
	(void)host;
	(void)userdata;
	switch (ev->type) {
	case MS_HOST_EVENT_GUEST_READY:
		printf("guest %llu '%s' connected\n", (unsigned long long)ev->guest_id,
		       ev->hello->guest_name);
		break;
	case MS_HOST_EVENT_REPORT:
		printf("report from '%s': total_bytes=%llu available_bytes=%llu psi_some_total_us=%llu"
		       " lru=%s cold_bytes=%llu\n",
		       ev->hello->guest_name, (unsigned long long)ev->report->meminfo.total_bytes,
		       (unsigned long long)ev->report->meminfo.available_bytes,
		       ev->report->has_psi ? (unsigned long long)ev->report->psi.some.total_us : 0ull,
		       ev->report->lru ? ms_lru_source_name(ev->report->lru->source) : "none",
		       (unsigned long long)ms_lru_summary_bytes_older_than(ev->report->lru, 120000,
									   MS_LRU_ANON | MS_LRU_FILE));
		fflush(stdout);
		if (remaining > 0)
			remaining--;
		break;
	case MS_HOST_EVENT_GUEST_GONE:
		printf("guest '%s' gone: %s\n", ev->hello->guest_name, ev->reason);
		break;
	default:
		break;
	}
}

int main(int argc, char **argv)
{
	struct ms_host *host;
	int r;

	if (argc < 2) {
		fprintf(stderr, "usage: %s ENDPOINT [COUNT]\n", argv[0]);
		return 2;
	}
	if (argc > 2)
		remaining = strtol(argv[2], NULL, 10);
	MS_OPTS(ms_host_opts, opts, .listen = argv[1], .event_fn = on_event);
	r = ms_host_new(&host, &opts);
	if (r < 0) {
		fprintf(stderr, "ms_host_new(%s): %s\n", argv[1], strerror(-r));
		return 1;
	}
	printf("listening on %s\n", argv[1]);
	fflush(stdout);
	while (remaining != 0) {
		struct pollfd p = { .fd = ms_host_get_fd(host), .events = POLLIN };
		int64_t t = ms_host_get_timeout_us(host);

		poll(&p, 1, t < 0 ? -1 : (int)((t + 999) / 1000));
		r = ms_host_process(host);
		if (r < 0) {
			fprintf(stderr, "ms_host_process: %s\n", strerror(-r));
			break;
		}
	}
	ms_host_free(host);
	return r < 0 ? 1 : 0;
}
