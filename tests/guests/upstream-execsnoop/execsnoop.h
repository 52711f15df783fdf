/* Event shared by execsnoop.bpf.c and execsnoop.c (libbpf-tools style):
 * fixed-width fields only, the same layout for the BPF target and wasm32. */
#ifndef EXECSNOOP_H
#define EXECSNOOP_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

#define TASK_COMM_LEN 16
#define FILENAME_LEN 128

struct event {
	__u32 pid;
	__u32 ppid;
	__u64 ts_ns;
	char comm[TASK_COMM_LEN];
	char filename[FILENAME_LEN];
};

#endif /* EXECSNOOP_H */
