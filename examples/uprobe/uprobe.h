/* Event shared by uprobe.bpf.c and uprobe.c: fixed-width fields only, so the
 * layout is the same for the BPF target and wasm32. */
#ifndef UPROBE_H
#define UPROBE_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

#define TASK_COMM_LEN 16
#define MAX_ARGS 6

#define UPROBE_ENTRY 1
#define UPROBE_RETURN 2

struct event {
	__u32 kind;
	__u32 pid;
	__u32 tid;
	__u32 pad;
	__u64 args[MAX_ARGS]; /* entry: the first six integer arguments */
	__u64 ret;            /* return: the return value register */
	char comm[TASK_COMM_LEN];
};

#endif /* UPROBE_H */
