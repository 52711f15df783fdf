// SPDX-License-Identifier: GPL-2.0
/* go-lsm's control object: an ordinary tracepoint program. When go-lsm.bpf.o
 * fails to load and this one loads, the kernel refused the LSM program
 * itself rather than BPF in general. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp/syscalls/sys_enter_getppid")
int control(void *ctx)
{
	return 0;
}
