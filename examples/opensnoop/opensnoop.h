/* Event shared by opensnoop.bpf.c and opensnoop.c: fixed-width fields only,
 * so the layout is the same for the BPF target and wasm32. */
#ifndef OPENSNOOP_H
#define OPENSNOOP_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
#endif

#define TASK_COMM_LEN 16
#define NAME_MAX 255

/* what sys_enter_openat saw, kept until sys_exit_openat */
struct args_t {
	__u64 fname; /* user pointer */
	__s32 flags;
	__u32 mode;
};

struct event {
	__u64 ts_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__s32 ret; /* fd, or -errno */
	__s32 flags;
	__u32 mode;
	char comm[TASK_COMM_LEN];
	char fname[NAME_MAX + 1];
};

#endif /* OPENSNOOP_H */
