/* Shared between abi.bpf.c and abi.c: fixed-width fields only, so the
 * layout is the same on the BPF target and on wasm32. */
#ifndef ABI_TEST_H
#define ABI_TEST_H

#define TASK_COMM_LEN 16

struct event {
	unsigned int pid;
	unsigned int ppid;
	unsigned int kind; /* 1 exec (ring rb), 2 exit (ring rb2), 3 exec (perf pb) */
	int exit_code;
	unsigned long long seq;
	char comm[TASK_COMM_LEN];
};

#endif
