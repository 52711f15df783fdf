// SPDX-License-Identifier: GPL-2.0
/* Every kind of CO-RE relocation the minimal kernel BTF (objfile/core_btf.ts)
 * answers: field offset, size, existence and signedness, bitfield shifts,
 * a flavor (task_struct___flavor), an array index, members inside
 * anonymous structs and unions (sk_buff.next, sk_buff.len), type
 * existence and size, enum values. (Type matching needs clang 15.) tests/core_btf_test.ts
 * compares the answer with bpftool's and libbpf's relocations with both. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

struct task_struct___flavor {
	int pid;
	int tgid;
} __attribute__((preserve_access_index));

long out[12];

SEC("tp/sched/sched_process_exec")
int kinds(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct task_struct___flavor *f = (void *)t;
	struct sk_buff *skb = 0;

	out[0] = bpf_core_type_exists(struct task_struct);
	out[1] = bpf_core_type_size(struct task_struct);
	out[2] = bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_map_lookup_elem);
	out[3] = bpf_core_enum_value(enum bpf_func_id, BPF_FUNC_ringbuf_output);
	out[4] = __builtin_preserve_field_info(t->prio, BPF_FIELD_SIGNED);
	out[5] = BPF_CORE_READ(f, tgid);
	out[6] = BPF_CORE_READ(t, comm[1]);
	out[7] = BPF_CORE_READ_BITFIELD_PROBED(t, sched_reset_on_fork);
	out[8] = bpf_core_field_exists(t->mm);
	out[9] = bpf_core_field_size(t->comm);
	out[10] = bpf_core_field_offset(skb->next);
	out[11] = bpf_core_field_offset(skb->len);
	return 0;
}
