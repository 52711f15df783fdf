// SPDX-License-Identifier: GPL-2.0
/* xdp, written against the upstream wasm-bpf API: open_and_load, then
 * bpf_set_prog_attach_target with the interface from argv[1], then attach.
 * Prints the packet total every 200 ms until interrupted.
 *
 *   xdp IFACE
 */
#include <stdio.h>
#include <unistd.h>
#include "libbpf-wasm.h"
#include "xdp.skel.h"
#include "xdp.wasm.h"

#define MAX_KEYS 257

char iface[32]; /* global: the compiler keeps every store to it */

int main(int argc, char *argv[])
{
	struct xdp_bpf *skel;
	int err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: xdp IFACE\n");
		return 2;
	}
	skel = xdp_bpf__open_and_load();
	if (!skel) {
		printf("Failed to open and load BPF skeleton\n");
		return 1;
	}
	/* the caller's buffer is reused before attach: the target is copied */
	snprintf(iface, sizeof(iface), "%s", argv[1]);
	bpf_set_prog_attach_target(skel->progs.xdp_count, iface);
	snprintf(iface, sizeof(iface), "no-such-if");
	err = xdp_bpf__attach(skel);
	if (err) {
		printf("Failed to attach BPF skeleton\n");
		xdp_bpf__destroy(skel);
		return 1;
	}
	printf("ATTACHED\n");
	for (;;) {
		unsigned long long packets = 0;
		struct counter c;
		unsigned key;

		for (key = 0; key < MAX_KEYS; key++)
			if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.counters),
						&key, &c) == 0)
				packets += c.packets;
		printf("PACKETS %llu\n", packets);
		usleep(200 * 1000);
	}
}
