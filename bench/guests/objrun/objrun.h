/* Shared by objrun.bpf.c and objrun.c (bench/objrun.ts). */
#ifndef BENCH_OBJRUN_H
#define BENCH_OBJRUN_H

#ifndef __VMLINUX_H__
typedef unsigned int __u32;
typedef unsigned long long __u64;
#endif

#define PER_CALL 4

/* a bootstrap-like event: numbers and strings */
struct event {
	__u32 pid;
	__u32 ppid;
	__u64 seq;
	char comm[16];
	char filename[64];
};

#endif
