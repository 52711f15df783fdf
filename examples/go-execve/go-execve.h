/* Event shared by go-execve.bpf.c and main.go (type event): fixed-width fields only, so the
 * layout is the same for the BPF target and wasm32. */
#ifndef GO_EXECVE_H
#define GO_EXECVE_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
#endif

#define TASK_COMM_LEN 16
#define ARG_LEN 128

struct event {
	__u32 pid;
	__u32 ppid;
	__u32 uid;
	__u32 pad;
	char comm[TASK_COMM_LEN];
	char filename[ARG_LEN];
	char argv0[ARG_LEN];
};

#endif /* GO_EXECVE_H */
