/* Shared between contain.bpf.c and contain.c: fixed-width fields only. */
#ifndef CONTAIN_H
#define CONTAIN_H

struct event {
	unsigned int pid;
	unsigned int ppid;
	char comm[16];
};

#endif
