/* Shared by ringbuf.c and ringbuf_batch.c (a header so the build rule tracks it):
 * argument parsing, setup, the stop test and the result line. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "libbpf-wasm.h"
#include "ringbuf.skel.h"
#include "ringbuf.h"

struct state {
	uint64_t delivered;  /* records that reached the callback / batch */
	uint64_t seq_errors; /* records out of order (seq != delivered) */
	uint64_t t_first;    /* live: when the first record arrived */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void take(struct state *st, const void *data)
{
	const struct rec *r = data;
	if (!st->delivered)
		st->t_first = now_ns();
	if (r->seq != st->delivered)
		st->seq_errors++;
	st->delivered++;
}

/* "drain" as 4th argument: the ring is filled first, then drained */
static int drain_mode;

static struct ringbuf_bpf *setup(int argc, char **argv, uint64_t *expected)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s TGID PER_CALL CALLS [drain]\n",
			argv[0]);
		exit(2);
	}
	drain_mode = argc > 4 && !strcmp(argv[4], "drain");
	struct bench_config cfg = { .tgid = (uint32_t)atol(argv[1]),
			      .per_call = (uint32_t)atol(argv[2]) };
	*expected = (uint64_t)atoll(argv[3]) * cfg.per_call;
	struct ringbuf_bpf *skel = ringbuf_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "ringbuf: cannot load: %s\n",
			wasm_bpf_strerror(-errno));
		exit(1);
	}
	uint32_t zero = 0;
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.cfg_map), &zero, &cfg,
				BPF_ANY) ||
	    ringbuf_bpf__attach(skel)) {
		fprintf(stderr, "ringbuf: cannot configure/attach\n");
		exit(1);
	}
	return skel;
}

static void counts(struct ringbuf_bpf *skel, uint64_t *produced,
		   uint64_t *dropped)
{
	int fd = bpf_map__fd(skel->maps.counts);
	uint32_t k0 = COUNT_PRODUCED, k1 = COUNT_DROPPED;
	*produced = *dropped = 0;
	bpf_map_lookup_elem(fd, &k0, produced);
	bpf_map_lookup_elem(fd, &k1, dropped);
}

/* After a poll that returned nothing: are we done? */
static int finished(struct ringbuf_bpf *skel, struct state *st,
		    uint64_t expected, uint64_t *produced, uint64_t *dropped,
		    uint64_t start)
{
	counts(skel, produced, dropped);
	if (*produced + *dropped >= expected && st->delivered >= *produced)
		return 1;
	return now_ns() - start > 120ull * 1000000000ull; /* give up */
}

/* Drain mode: waits until the generator is done (every record it caused is
 * produced or dropped) without consuming anything. */
static void wait_filled(struct ringbuf_bpf *skel, uint64_t expected)
{
	uint64_t produced, dropped;
	for (;;) {
		counts(skel, &produced, &dropped);
		if (produced + dropped >= expected)
			return;
		usleep(10000);
	}
}

/* Live: the rate from the first record's arrival to the end of the batch
 * holding the last one. Drain: from the start of the drain. */
static void report(struct state *st, uint64_t produced, uint64_t dropped,
		   uint64_t t_first, uint64_t n_first, uint64_t t_last)
{
	if (!drain_mode) {
		t_first = st->t_first;
		n_first = 1;
	}
	double window = (double)(t_last - t_first);
	printf("mode=%s delivered=%llu produced=%llu dropped=%llu seq_errors=%llu "
	       "window_ns=%.0f events_per_s=%.0f\n",
	       drain_mode ? "drain" : "live", (unsigned long long)st->delivered,
	       (unsigned long long)produced, (unsigned long long)dropped,
	       (unsigned long long)st->seq_errors, window,
	       window > 0 ? (double)(st->delivered - n_first) * 1e9 / window
			  : 0.0);
	fflush(stdout);
	usleep(300000); /* lets the runner read our CPU time before exit */
}
