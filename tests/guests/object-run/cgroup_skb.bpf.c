// SPDX-License-Identifier: GPL-2.0
/* A bare cgroup object for tests/object_run_test.ts: SEC("cgroup_skb/
 * egress") names no cgroup, so it runs only with --attach
 * count_egress=CGROUP_DIR (and the policy's --allow-cgroup decides where).
 * It lets every packet through and counts them. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} egress_packets SEC(".maps");

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&egress_packets, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return 1;
}
