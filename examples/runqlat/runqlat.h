/* Histogram shared by runqlat.bpf.c and runqlat.c: fixed-width fields only,
 * so the layout is the same for the BPF target and wasm32. */
#ifndef RUNQLAT_H
#define RUNQLAT_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

#define TASK_COMM_LEN 16
#define MAX_SLOTS 26

/* key of the histogram covering every task (without -P) */
#define ALL_TASKS 0xffffffffu

/* slot i counts latencies in [2^i, 2^(i+1)) microseconds (slot 0: [0, 2)) */
struct hist {
	__u32 slots[MAX_SLOTS];
	char comm[TASK_COMM_LEN];
};

#endif /* RUNQLAT_H */
