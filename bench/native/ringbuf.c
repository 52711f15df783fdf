// SPDX-License-Identifier: GPL-2.0
/* Ring-buffer delivery benchmark, native baseline: libbpf's ring_buffer.
 * Same object, stop rule and output as bench/guests/ringbuf/.
 *
 *   ringbuf TGID PER_CALL CALLS [drain]
 *
 * live (default): consumes while the generator runs; drain: waits until
 * the generator is done, then times draining the full ring.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "ringbuf.h"
#include "ringbuf.skel.h"

struct state {
	uint64_t delivered, seq_errors;
	uint64_t t_first; /* live: when the first record arrived */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct state *st = ctx;
	const struct rec *r = data;
	(void)size;
	if (!st->delivered)
		st->t_first = now_ns();
	if (r->seq != st->delivered)
		st->seq_errors++;
	st->delivered++;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s TGID PER_CALL CALLS [drain]\n",
			argv[0]);
		return 2;
	}
	int drain_mode = argc > 4 && !strcmp(argv[4], "drain");
	struct bench_config cfg = { .tgid = (uint32_t)atol(argv[1]),
				    .per_call = (uint32_t)atol(argv[2]) };
	uint64_t expected = (uint64_t)atoll(argv[3]) * cfg.per_call;
	uint64_t produced = 0, dropped = 0, t_first = 0, n_first = 0,
		 t_last = 0, start;
	struct state st = { 0 };
	uint32_t zero = 0, k0 = COUNT_PRODUCED, k1 = COUNT_DROPPED;

	struct ringbuf_bpf *skel = ringbuf_bpf__open_and_load();
	if (!skel) {
		perror("ringbuf: cannot load");
		return 1;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.cfg_map), &zero, &cfg,
				BPF_ANY) ||
	    ringbuf_bpf__attach(skel)) {
		perror("ringbuf: cannot configure/attach");
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(skel->maps.rb),
						  on_record, &st, NULL);
	if (!rb) {
		perror("ringbuf: ring_buffer__new");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	int counts_fd = bpf_map__fd(skel->maps.counts);
	if (drain_mode) {
		for (;;) {
			bpf_map_lookup_elem(counts_fd, &k0, &produced);
			bpf_map_lookup_elem(counts_fd, &k1, &dropped);
			if (produced + dropped >= expected)
				break;
			usleep(10000);
		}
	}
	start = now_ns();
	if (drain_mode)
		t_first = start; /* the drain is timed from its start */
	for (;;) {
		int n = ring_buffer__poll(rb, drain_mode ? 0 : 100);
		if (n < 0) {
			fprintf(stderr, "ringbuf: poll: %d\n", n);
			return 1;
		}
		if (n > 0) {
			t_last = now_ns();
			if (drain_mode && st.delivered >= produced)
				break;
			if (!t_first) {
				t_first = t_last;
				n_first = st.delivered;
			}
			continue;
		}
		bpf_map_lookup_elem(counts_fd, &k0, &produced);
		bpf_map_lookup_elem(counts_fd, &k1, &dropped);
		if (produced + dropped >= expected && st.delivered >= produced)
			break;
		if (now_ns() - start > 120ull * 1000000000ull)
			break;
	}
	/* live: from the first record's arrival to the end of the batch holding
	 * the last one; drain: from the start of the drain */
	if (!drain_mode) {
		t_first = st.t_first;
		n_first = 1;
	}
	double window = (double)(t_last - t_first);
	printf("mode=%s delivered=%llu produced=%llu dropped=%llu seq_errors=%llu "
	       "window_ns=%.0f events_per_s=%.0f\n",
	       drain_mode ? "drain" : "live", (unsigned long long)st.delivered, (unsigned long long)produced,
	       (unsigned long long)dropped, (unsigned long long)st.seq_errors,
	       window,
	       window > 0 ? (double)(st.delivered - n_first) * 1e9 / window
			  : 0.0);
	fflush(stdout);
	usleep(300000); /* lets the runner read our CPU time before exit */
	ring_buffer__free(rb);
	ringbuf_bpf__destroy(skel);
	return 0;
}
