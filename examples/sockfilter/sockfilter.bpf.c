// SPDX-License-Identifier: GPL-2.0
/* sockfilter: a socket filter on a raw AF_PACKET socket that reports every
 * IPv4 packet of an interface (protocol, addresses, ports) through a ring
 * buffer, after libbpf-bootstrap's sockfilter. It returns 0: the socket
 * itself receives nothing, user space reads the ring buffer instead. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sockfilter.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define ETH_HLEN 14
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

static __always_inline int ip_is_fragment(struct __sk_buff *skb, u32 nhoff)
{
	u16 frag_off;

	bpf_skb_load_bytes(skb, nhoff + offsetof(struct iphdr, frag_off),
			   &frag_off, sizeof(frag_off));
	frag_off = bpf_ntohs(frag_off);
	return frag_off & (IP_MF | IP_OFFSET);
}

SEC("socket")
int socket_handler(struct __sk_buff *skb)
{
	struct so_event *e;
	u8 verlen;
	u16 proto;
	u32 nhoff = ETH_HLEN;

	bpf_skb_load_bytes(skb, 12, &proto, 2);
	proto = bpf_ntohs(proto);
	if (proto != ETH_P_IP)
		return 0;
	if (ip_is_fragment(skb, nhoff))
		return 0;

	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;

	bpf_skb_load_bytes(skb, nhoff + offsetof(struct iphdr, protocol),
			   &e->ip_proto, 1);
	if (e->ip_proto != IPPROTO_GRE) {
		bpf_skb_load_bytes(skb, nhoff + offsetof(struct iphdr, saddr),
				   &e->src_addr, 4);
		bpf_skb_load_bytes(skb, nhoff + offsetof(struct iphdr, daddr),
				   &e->dst_addr, 4);
	}
	e->src_port = 0;
	e->dst_port = 0;
	if (e->ip_proto == IPPROTO_TCP || e->ip_proto == IPPROTO_UDP) {
		bpf_skb_load_bytes(skb, nhoff, &verlen, 1);
		/* source and destination ports: the first 4 bytes of TCP/UDP */
		bpf_skb_load_bytes(skb, nhoff + ((verlen & 0xF) << 2),
				   &e->src_port, 4);
	}
	e->pkt_type = skb->pkt_type;
	e->ifindex = skb->ifindex;
	e->len = skb->len;
	e->pad[0] = e->pad[1] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
