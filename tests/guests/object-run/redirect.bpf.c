// SPDX-License-Identifier: GPL-2.0
/* A tc program that sends UDP packets for one port out of any interface it
 * is told (bpf_redirect by ifindex): an interface grant on its attach target
 * cannot see where the packets go, so a restricted policy must grant the
 * helper itself. Only packets to `port` are touched. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

const volatile __u32 target_ifindex = 0;
const volatile __u16 port = 0;

SEC("tc")
int redirect_out(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);

	if ((void *)(udp + 1) > end || !target_ifindex || !port)
		return 0; /* TC_ACT_OK */
	if (eth->h_proto != bpf_htons(0x0800) || ip->ihl != 5 || ip->protocol != 17)
		return 0;
	if (udp->dest != bpf_htons(port))
		return 0;
	return bpf_redirect(target_ifindex, 0);
}

char LICENSE[] SEC("license") = "GPL";
