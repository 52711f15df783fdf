// SPDX-License-Identifier: GPL-2.0
/* sockops: report every TCP connection established by the sockets of a
 * cgroup v2 (and its descendants), from a sock_ops program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "sockops.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

SEC("sockops")
int tcp_established(struct bpf_sock_ops *skops)
{
	struct tcp_event *e;
	u32 kind, family;

	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		kind = SOCKOPS_ACTIVE;
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		kind = SOCKOPS_PASSIVE;
		break;
	default:
		return 1;
	}
	family = skops->family;
	if (family != AF_INET && family != AF_INET6)
		return 1;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 1;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->family = family;
	if (family == AF_INET) {
		u32 l = skops->local_ip4, r = skops->remote_ip4;

		__builtin_memcpy(e->local_addr, &l, 4);
		__builtin_memcpy(e->remote_addr, &r, 4);
	} else {
		u32 l[4], r[4];

		l[0] = skops->local_ip6[0];
		l[1] = skops->local_ip6[1];
		l[2] = skops->local_ip6[2];
		l[3] = skops->local_ip6[3];
		r[0] = skops->remote_ip6[0];
		r[1] = skops->remote_ip6[1];
		r[2] = skops->remote_ip6[2];
		r[3] = skops->remote_ip6[3];
		__builtin_memcpy(e->local_addr, l, 16);
		__builtin_memcpy(e->remote_addr, r, 16);
	}
	e->local_port = skops->local_port;             /* host byte order */
	e->remote_port = bpf_ntohl(skops->remote_port); /* network byte order */
	bpf_ringbuf_submit(e, 0);
	return 1;
}
