/* The C SDK's bpf_buffer__poll_batch on the real host: batch PID N STOP_AT
 * receives N records for PID's getppid() calls; the callback stops the
 * batch at record STOP_AT, and the records after it must still arrive, once
 * and in order. */
#include <stdio.h>
#include <stdlib.h>
#include "libbpf-wasm.h"
#include "batch.h"
#include "batch.skel.h"

static unsigned long long expected, got, stop_at;
static int out_of_order;

static int on_record(void *ctx, void *data, size_t size)
{
	const struct rec *r = data;

	(void)ctx;
	if (size < sizeof(*r))
		return -1;
	if (got > 0 && r->seq != expected)
		out_of_order++;
	expected = r->seq + 1;
	got++;
	return got == stop_at ? 42 : 0;
}

int main(int argc, char **argv)
{
	struct batch_bpf *skel;
	struct bpf_buffer *b;
	unsigned long long want;
	int stops = 0, calls = 0, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4) {
		fprintf(stderr, "usage: batch PID N STOP_AT\n");
		return 2;
	}
	want = strtoull(argv[2], NULL, 10);
	stop_at = strtoull(argv[3], NULL, 10);
	skel = batch_bpf__open();
	if (!skel)
		return wasm_bpf_perror(-errno, "batch: open"), 1;
	skel->rodata->target_pid = (unsigned int)atoi(argv[1]);
	err = batch_bpf__load(skel);
	if (!err)
		err = batch_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err, "batch: load/attach");
		batch_bpf__destroy(skel);
		return 1;
	}
	b = bpf_buffer__open(skel->maps.records, on_record, NULL);
	if (!b) {
		wasm_bpf_perror(-errno, "batch: open buffer");
		batch_bpf__destroy(skel);
		return 1;
	}
	printf("ready\n");
	while (got < want) {
		err = bpf_buffer__poll_batch(b, 1000);
		calls++;
		if (err == 42) {
			stops++;
			continue;
		}
		if (err < 0) {
			wasm_bpf_perror(err, "batch: poll");
			break;
		}
	}
	printf("got=%llu out_of_order=%d stops=%d fewer_calls=%d\n", got,
	       out_of_order, stops, calls < (int)want);
	bpf_buffer__free(b);
	batch_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
