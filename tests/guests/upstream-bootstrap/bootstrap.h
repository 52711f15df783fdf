/* Event shared by bootstrap.bpf.c and bootstrap.c: fixed-width fields only,
 * so the layout is the same for the BPF target and wasm32. */
#ifndef BOOTSTRAP_H
#define BOOTSTRAP_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

#define TASK_COMM_LEN 16
#define MAX_FILENAME_LEN 127

struct event {
	__u32 pid;
	__u32 ppid;
	__u32 exit_code;
	__u32 exit_event; /* 0: exec, 1: exit */
	__u64 duration_ns;
	char comm[TASK_COMM_LEN];
	char filename[MAX_FILENAME_LEN + 1];
};

#endif /* BOOTSTRAP_H */
