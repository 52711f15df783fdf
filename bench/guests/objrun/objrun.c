// SPDX-License-Identifier: GPL-2.0
/* The C guest of bench/objrun.ts: the same events as the bare object's
 * JSON lines, printed by the guest with printf.
 *
 *   objrun.wasm TGID
 */
#include <stdio.h>
#include <stdlib.h>
#include "libbpf-wasm.h"
#include "objrun.skel.h"
#include "objrun.h"

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;
	(void)ctx;
	(void)size;
	printf("{\"pid\":%u,\"ppid\":%u,\"seq\":%llu,\"comm\":\"%s\",\"filename\":\"%s\"}\n",
	       e->pid, e->ppid, (unsigned long long)e->seq, e->comm,
	       e->filename);
	return 0;
}

int main(int argc, char **argv)
{
	struct objrun_bpf *skel;
	struct bpf_buffer *rb;
	int err;

	if (argc < 2) {
		fprintf(stderr, "usage: objrun TGID\n");
		return 2;
	}
	skel = objrun_bpf__open();
	if (!skel)
		return 1;
	skel->rodata->targ_tgid = (unsigned)atoi(argv[1]);
	err = objrun_bpf__load(skel);
	if (!err)
		err = objrun_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err, "objrun: load/attach");
		return 1;
	}
	rb = bpf_buffer__open(skel->maps.rb, handle_event, NULL);
	if (!rb)
		return 1;
	fprintf(stderr, "ready\n");
	err = bpf_buffer__poll_until_interrupted(rb, 100);
	fflush(stdout);
	bpf_buffer__free(rb);
	objrun_bpf__destroy(skel);
	return 0;
}
