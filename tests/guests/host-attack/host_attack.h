/* Shared between host_attack.bpf.c and host_attack.c (wasm32 and BPF
 * layouts are the same: fixed-width fields only). */
#ifndef HOST_ATTACK_H
#define HOST_ATTACK_H

struct event {
	unsigned int pid;
	unsigned int ppid;
	unsigned long long seq;
};

#endif
