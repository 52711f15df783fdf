// SPDX-License-Identifier: GPL-2.0
/* A TCP congestion control as struct_ops, for the map-size test: the
 * kernel's value of a struct_ops map is larger than the declared struct
 * (it carries a header), and the host must bound copies by the former. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/ssthresh")
__u32 BPF_PROG(wbpf_ssthresh, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/undo_cwnd")
__u32 BPF_PROG(wbpf_undo_cwnd, struct sock *sk)
{
	return 10;
}

SEC("struct_ops/cong_avoid")
void BPF_PROG(wbpf_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC(".struct_ops")
struct tcp_congestion_ops wbpf_cc = {
	.ssthresh = (void *)wbpf_ssthresh,
	.undo_cwnd = (void *)wbpf_undo_cwnd,
	.cong_avoid = (void *)wbpf_cong_avoid,
	.name = "wbpf_cc",
};
