// SPDX-License-Identifier: GPL-2.0
/* A bare XDP object for tests/object_run_test.ts: SEC("xdp") names no
 * interface, so it runs only with --attach count_packets=IFNAME. Each
 * packet is sent as a record (struct event: its length and interface) and
 * counted in a log2 histogram of packet lengths. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct event {
	__u32 len;
	__u32 ifindex;
};

struct hist {
	__u32 slots[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} packets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist);
} sizes SEC(".maps");

const struct event *unused_event __attribute__((unused));

SEC("xdp")
int count_packets(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data, slot = 0, zero = 0;
	struct event e = { .len = len, .ifindex = ctx->ingress_ifindex };
	struct hist *h;

	bpf_ringbuf_output(&packets, &e, sizeof(e), 0);
	while (slot < 15 && (len >> (slot + 1)))
		slot++;
	h = bpf_map_lookup_elem(&sizes, &zero);
	if (h && slot < 16)
		__sync_fetch_and_add(&h->slots[slot], 1);
	return XDP_PASS;
}
