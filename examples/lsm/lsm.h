/* Types shared by lsm.bpf.c and lsm.c: fixed-width fields only, so the
 * layout is the same for the BPF target and wasm32. */
#ifndef LSM_H
#define LSM_H

#ifndef __VMLINUX_H__ /* user side: vmlinux.h defines these for BPF */
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
#endif

#define TASK_COMM_LEN 16
#define NAME_LEN 64

/* the single value of the "settings" array map, written before attach */
struct config {
	char name[NAME_LEN]; /* directory name whose removal is denied */
};

/* one denied rmdir() */
struct event {
	__u32 pid;
	__u32 uid;
	char comm[TASK_COMM_LEN];
	char name[NAME_LEN];
};

#endif /* LSM_H */
