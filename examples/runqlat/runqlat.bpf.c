// SPDX-License-Identifier: GPL-2.0
/* runqlat: run queue (scheduler) latency as log2 histograms, after bcc's
 * runqlat: the time from a task being woken (or preempted while runnable)
 * until it runs on a CPU. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "runqlat.h"

char LICENSE[] SEC("license") = "GPL";

#define TASK_RUNNING 0
#define MAX_ENTRIES 10240

/* set by user space before load: one histogram per process instead of one */
const volatile unsigned int targ_per_process = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, u32); /* thread id */
	__type(value, u64); /* enqueue time */
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_ENTRIES);
	__type(key, u32); /* process id, or ALL_TASKS */
	__type(value, struct hist);
} hists SEC(".maps");

static __always_inline void trace_enqueue(u32 tid)
{
	u64 ts;

	if (!tid)
		return; /* idle */
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &ts, BPF_ANY);
}

static __always_inline u32 log2l(u64 v)
{
	u32 r = 0;

	/* bounded loop: at most 64 iterations */
	for (int i = 0; i < 64 && v > 1; i++) {
		v >>= 1;
		r++;
	}
	return r;
}

static __always_inline int handle_switch(struct task_struct *prev,
					 struct task_struct *next)
{
	u64 *tsp, delta;
	struct hist *h, zero = {};
	u32 tid, key, slot;

	/* a task preempted while runnable goes back to the run queue */
	if (BPF_CORE_READ(prev, __state) == TASK_RUNNING)
		trace_enqueue(BPF_CORE_READ(prev, pid));

	tid = BPF_CORE_READ(next, pid);
	tsp = bpf_map_lookup_elem(&start, &tid);
	if (!tsp)
		return 0;
	delta = bpf_ktime_get_ns() - *tsp;
	bpf_map_delete_elem(&start, &tid);
	if ((s64)delta < 0)
		return 0;

	key = targ_per_process ? BPF_CORE_READ(next, tgid) : ALL_TASKS;
	h = bpf_map_lookup_elem(&hists, &key);
	if (!h) {
		bpf_map_update_elem(&hists, &key, &zero, BPF_NOEXIST);
		h = bpf_map_lookup_elem(&hists, &key);
		if (!h)
			return 0;
		if (targ_per_process)
			BPF_CORE_READ_STR_INTO(&h->comm, next, group_leader, comm);
	}
	slot = log2l(delta / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&h->slots[slot], 1);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p)
{
	trace_enqueue(p->pid);
	return 0;
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(sched_wakeup_new, struct task_struct *p)
{
	trace_enqueue(p->pid);
	return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next)
{
	return handle_switch(prev, next);
}
