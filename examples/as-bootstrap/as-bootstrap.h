/* Event shared by as-bootstrap.bpf.c and main.ts (class Event): fixed-width fields only,
 * so the layout is the same for the BPF target and wasm32. */
#ifndef AS_BOOTSTRAP_H
#define AS_BOOTSTRAP_H

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

#endif /* AS_BOOTSTRAP_H */
