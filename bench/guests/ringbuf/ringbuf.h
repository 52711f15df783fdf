/* Shared by ringbuf.bpf.c, the wasm guests, native/ringbuf.c and
 * bench/ts_ringbuf.ts (which hard-codes the same layout). */
#ifndef BENCH_RINGBUF_H
#define BENCH_RINGBUF_H

#ifndef __VMLINUX_H__
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

/* cfg_map[0], written by the consumer after load */
struct bench_config {
	__u32 tgid;     /* the generator's pid: only its getppid calls count */
	__u32 per_call; /* records emitted per getppid call (1..MAX_PER_CALL) */
};

/* counts[0] produced, counts[1] dropped (reserve failed: ring full) */
#define COUNT_PRODUCED 0
#define COUNT_DROPPED 1

#define MAX_PER_CALL 16

/* one ring-buffer record: 8 bytes of data (16 with the header) */
struct rec {
	__u64 seq; /* 0, 1, 2, ... in production order */
};

#endif
