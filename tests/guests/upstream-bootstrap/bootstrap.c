// SPDX-License-Identifier: GPL-2.0
/* bootstrap, written the upstream wasm-bpf way: the user program includes
 * only the generated bootstrap.wasm.h (types from bootstrap.h) and
 * bootstrap.skel.h, never bootstrap.h itself.
 *
 *   bootstrap [min-duration-ms]
 */
#include <stdio.h>
#include <time.h>
#include "bootstrap.wasm.h"
#include "bootstrap.skel.h"

static int on_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;

	(void)ctx;
	if (size < sizeof(*e))
		return 0;
	if (e->exit_event)
		printf("EXIT %s %u %u [%u]\n", e->comm, e->pid, e->ppid,
		       e->exit_code);
	else
		printf("EXEC %s %u %u %s\n", e->comm, e->pid, e->ppid,
		       e->filename);
	return 0;
}

int main(int argc, char **argv)
{
	struct bootstrap_bpf *skel;
	struct bpf_buffer *rb = NULL;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	skel = bootstrap_bpf__open();
	if (!skel) {
		fprintf(stderr, "bootstrap: open failed\n");
		return 1;
	}
	if (argc > 1)
		skel->rodata->min_duration_ns = strtoull(argv[1], NULL, 10) *
						1000000ULL;
	err = bootstrap_bpf__load(skel);
	if (!err)
		err = bootstrap_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "bootstrap: load/attach failed: %d\n", err);
		goto cleanup;
	}
	/* upstream's bpf_buffer__new: a buffer without a callback refuses to
	 * poll instead of calling through a null pointer */
	rb = bpf_buffer__new(skel->maps.rb);
	if (!rb || bpf_buffer__poll(rb, 0) != -EINVAL) {
		err = -1;
		fprintf(stderr, "bootstrap: bpf_buffer__new misbehaves\n");
		goto cleanup;
	}
	bpf_buffer__free(rb);
	rb = bpf_buffer__open(skel->maps.rb, on_event, NULL);
	if (!rb) {
		err = -1;
		fprintf(stderr, "bootstrap: no ring buffer\n");
		goto cleanup;
	}
	printf("READY\n");
	for (;;) {
		err = bpf_buffer__poll(rb, 100);
		if (err == -EINTR) {
			err = 0;
			break;
		}
		if (err < 0) {
			fprintf(stderr, "bootstrap: poll: %d\n", err);
			break;
		}
	}
cleanup:
	bpf_buffer__free(rb);
	bootstrap_bpf__destroy(skel);
	return err < 0 ? -err : 0;
}
