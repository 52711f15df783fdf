// SPDX-License-Identifier: GPL-2.0
/* sockops, written against the upstream wasm-bpf API: open_and_load, then
 * bpf_set_prog_attach_target with the cgroup from argv[1], then attach.
 * Prints one line per TCP connection the cgroup establishes.
 *
 *   sockops CGROUP
 */
#include <stdio.h>
#include <unistd.h>
#include "libbpf-wasm.h"
#include "sockops.skel.h"
#include "sockops.wasm.h"

static int on_event(void *ctx, void *data, size_t size)
{
	const struct tcp_event *e = data;

	(void)ctx;
	if (size >= sizeof(*e))
		printf("TCP kind=%u family=%u local_port=%u remote_port=%u\n",
		       e->kind, e->family, e->local_port, e->remote_port);
	return 0;
}

int main(int argc, char *argv[])
{
	struct sockops_bpf *skel;
	struct bpf_buffer *rb;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: sockops CGROUP\n");
		return 2;
	}
	skel = sockops_bpf__open_and_load();
	if (!skel) {
		printf("Failed to open and load BPF skeleton\n");
		return 1;
	}
	bpf_set_prog_attach_target(skel->progs.tcp_established, argv[1]);
	err = sockops_bpf__attach(skel);
	if (err) {
		printf("Failed to attach BPF skeleton\n");
		sockops_bpf__destroy(skel);
		return 1;
	}
	rb = bpf_buffer__open(skel->maps.events, on_event, NULL);
	if (!rb) {
		printf("Failed to open the ring buffer\n");
		sockops_bpf__destroy(skel);
		return 1;
	}
	printf("ATTACHED\n");
	for (;;)
		bpf_buffer__poll(rb, 100);
}
