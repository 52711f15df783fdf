// SPDX-License-Identifier: GPL-2.0
/* Per-CPU log2 histograms for tests/object_run_test.ts: each exec of a
 * child of targ_ppid counts 1 in slot 3 of a PERCPU_ARRAY (u64 slots) and
 * of a PERCPU_HASH keyed by a struct (u32 slots, plus the exec'ing comm),
 * on the CPU it ran on; the host must sum the CPUs. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_ppid = 0;

struct hist64 {
	__u64 slots[8];
};

struct hkey {
	__u32 kind;
};

struct hist32 {
	char comm[16];
	__u32 slots[5]; /* 36 bytes: each CPU's value starts 8-aligned (every 40) */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hist64);
} execs_arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4);
	__type(key, struct hkey);
	__type(value, struct hist32);
} execs_hash SEC(".maps");

SEC("tp/sched/sched_process_exec")
int count_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct hkey k = { .kind = 7 };
	struct hist32 zero = {}, *h32;
	struct hist64 *h64;
	__u32 idx = 0;

	if (BPF_CORE_READ(task, real_parent, tgid) != targ_ppid)
		return 0;
	h64 = bpf_map_lookup_elem(&execs_arr, &idx);
	if (h64)
		h64->slots[3]++;
	h32 = bpf_map_lookup_elem(&execs_hash, &k);
	if (!h32) {
		bpf_map_update_elem(&execs_hash, &k, &zero, BPF_NOEXIST);
		h32 = bpf_map_lookup_elem(&execs_hash, &k);
	}
	if (h32) {
		bpf_get_current_comm(&h32->comm, sizeof(h32->comm));
		h32->slots[3]++;
	}
	return 0;
}
