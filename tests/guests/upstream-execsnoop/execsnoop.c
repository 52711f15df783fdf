// SPDX-License-Identifier: GPL-2.0
/* execsnoop, user side written as libbpf-tools writes it (compat.h's
 * buffer API): bpf_buffer__new(events, heap) between open and load,
 * bpf_buffer__open(buf, sample_cb, lost_cb, ctx) after attach, then
 * bpf_buffer__poll(buf, POLL_TIMEOUT_MS) until interrupted. Includes only
 * execsnoop.wasm.h and execsnoop.skel.h.
 *
 *   execsnoop [ppid]
 */
#include <stdio.h>
#include <stdlib.h>
#include "execsnoop.wasm.h"
#include "execsnoop.skel.h"

static unsigned long long lost_total;

static int handle_event(void *ctx, void *data, size_t data_sz)
{
	const struct event *e = data;

	(void)ctx;
	if (data_sz < sizeof(*e))
		return 0;
	printf("EXEC %s %u %u %s\n", e->comm, e->pid, e->ppid, e->filename);
	return 0;
}

static void handle_lost_events(void *ctx, int cpu, __u64 lost_cnt)
{
	(void)ctx;
	lost_total += lost_cnt;
	fprintf(stderr, "lost %llu events on CPU #%d\n", lost_cnt, cpu);
}

int main(int argc, char **argv)
{
	struct bpf_buffer *buf = NULL;
	struct execsnoop_bpf *obj;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	obj = execsnoop_bpf__open();
	if (!obj) {
		fprintf(stderr, "failed to open BPF object\n");
		return 1;
	}
	if (argc > 1)
		obj->rodata->targ_ppid = strtoul(argv[1], NULL, 10);

	buf = bpf_buffer__new(obj->maps.events, obj->maps.heap);
	if (!buf) {
		err = -errno;
		fprintf(stderr, "failed to create ring/perf buffer: %d\n", err);
		goto cleanup;
	}
	/* not open yet: polling is refused, not a call through NULL */
	if (bpf_buffer__poll(buf, 0) != -EINVAL) {
		err = -1;
		fprintf(stderr, "an unopened buffer polled\n");
		goto cleanup;
	}

	err = execsnoop_bpf__load(obj);
	if (err) {
		fprintf(stderr, "failed to load BPF object: %d\n", err);
		goto cleanup;
	}
	err = execsnoop_bpf__attach(obj);
	if (err) {
		fprintf(stderr, "failed to attach BPF programs: %d\n", err);
		goto cleanup;
	}

	err = bpf_buffer__open(buf, handle_event, handle_lost_events, NULL);
	if (err) {
		fprintf(stderr, "failed to open ring/perf buffer: %d\n", err);
		goto cleanup;
	}
	if (bpf_buffer__open(buf, handle_event, handle_lost_events, NULL) !=
	    -EBUSY) {
		err = -1;
		fprintf(stderr, "a buffer opened twice\n");
		goto cleanup;
	}

	printf("READY\n");
	while (1) {
		err = bpf_buffer__poll(buf, POLL_TIMEOUT_MS);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "error polling ring/perf buffer: %d\n",
				err);
			goto cleanup;
		}
		if (err == -EINTR) {
			err = 0;
			break;
		}
	}

cleanup:
	bpf_buffer__free(buf);
	execsnoop_bpf__destroy(obj);
	return err != 0;
}
