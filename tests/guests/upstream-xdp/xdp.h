/* Counter shared by xdp.bpf.c and xdp.c: fixed-width fields only, so the
 * layout is the same for the BPF target and wasm32. */
#ifndef XDP_H
#define XDP_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

/* the counters map is an array indexed by this key */
#define KEY_NON_IP 256 /* not IPv4 or IPv6 */
#define MAX_KEYS 257   /* 0..255: IP protocol number (IPv4 or IPv6) */

struct counter {
	__u64 packets;
	__u64 bytes;
};

#endif /* XDP_H */
