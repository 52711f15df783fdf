// SPDX-License-Identifier: GPL-2.0
/* bpf_core_type_id_kernel(): its answer is a type id in the BTF it was
 * resolved against, so only the kernel's own BTF gives it (coreNeeds()
 * returns null for this object). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

long out[2];

SEC("tp/sched/sched_process_exec")
int target(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();

	out[0] = bpf_core_type_id_kernel(struct task_struct);
	out[1] = BPF_CORE_READ(t, tgid);
	return 0;
}
