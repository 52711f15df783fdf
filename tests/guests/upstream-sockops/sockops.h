/* Event shared by sockops.bpf.c and sockops.c: fixed-width fields only, so
 * the layout is the same for the BPF target and wasm32. */
#ifndef SOCKOPS_H
#define SOCKOPS_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

#define SOCKOPS_ACTIVE 1  /* this side connected */
#define SOCKOPS_PASSIVE 2 /* this side accepted */

/* a TCP connection established in the cgroup; IPv4 addresses are in the
 * first 4 bytes of the address arrays, all in network byte order; ports
 * in host byte order */
struct tcp_event {
	__u64 ts_ns;
	__u32 kind;
	__u32 family; /* AF_INET 2, AF_INET6 10 */
	__u8 local_addr[16];
	__u8 remote_addr[16];
	__u32 local_port;
	__u32 remote_port;
};

#endif /* SOCKOPS_H */
