// SPDX-License-Identifier: GPL-2.0
/* An XDP program redirecting through device maps: whatever ifindex the
 * guest writes into them is where packets go. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32); /* ifindex */
} wbgap_tx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct bpf_devmap_val); /* ifindex, XDP program fd */
} wbgap_txh SEC(".maps");

SEC("xdp")
int redirect(struct xdp_md *ctx)
{
	__u32 key = ctx->rx_queue_index & 3;
	if (key == 3)
		return bpf_redirect_map(&wbgap_txh, 0, XDP_PASS);
	return bpf_redirect_map(&wbgap_tx, key, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
