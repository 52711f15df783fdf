// SPDX-License-Identifier: GPL-2.0
/* Kills a victim process from a tracepoint: bpf_send_signal(SIGKILL) in the
 * context of any system call the victim makes. An acting helper, which
 * --restricted refuses unless --allow-helper grants it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int target_tgid = 0;

SEC("tp/raw_syscalls/sys_enter")
int kill_victim(void *ctx)
{
	if (target_tgid && (bpf_get_current_pid_tgid() >> 32) == target_tgid)
		bpf_send_signal(9);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
