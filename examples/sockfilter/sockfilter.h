/* Event shared by sockfilter.bpf.c and sockfilter.c: fixed-width fields only,
 * so the layout is the same for the BPF target and wasm32. */
#ifndef SOCKFILTER_H
#define SOCKFILTER_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

/* one IPv4 packet seen on the interface; addresses and ports in network
 * byte order, as on the wire */
struct so_event {
	__u32 src_addr;
	__u32 dst_addr;
	__u16 src_port;
	__u16 dst_port;
	__u32 ifindex;
	__u32 len;
	__u8 ip_proto;
	__u8 pkt_type;
	__u8 pad[2];
};

#endif /* SOCKFILTER_H */
