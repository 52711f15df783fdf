/* Shared by metrics.bpf.c and metrics.c: fixed-width fields only. */
#ifndef METRICS_H
#define METRICS_H

#ifndef __VMLINUX_H__
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

#define COMM_LEN 32

/* key of the exec counter: the command's name (a guest may write any) */
struct comm_key {
	char comm[COMM_LEN];
};

enum exec_kind { EXEC_SHORT = 1, EXEC_LONG = 2 };

/* key of the slot-per-key histogram: a label and the log2 slot */
struct slot_key {
	enum exec_kind kind;
	__u32 slot;
};

struct event {
	__u32 pid;
	char comm[16];
};

#endif
