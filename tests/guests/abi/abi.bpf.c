// SPDX-License-Identifier: GPL-2.0
/* BPF side of the ABI test guest: exec/exit events to two ring buffers
 * and a perf buffer, plus plain and per-CPU maps for the map imports. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "abi.h"

char LICENSE[] SEC("license") = "GPL";

/* only events of children of this pid (0: all) */
const volatile unsigned int parent_filter = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rb2 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} pb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} kv SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u32);
} percpu SEC(".maps");

u64 seq = 0;

static __always_inline int fill(struct event *e, unsigned int kind)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->kind = kind;
	e->exit_code = (BPF_CORE_READ(task, exit_code) >> 8) & 0xff;
	e->seq = __sync_fetch_and_add(&seq, 1);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return parent_filter == 0 || e->ppid == parent_filter;
}

SEC("tp/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	struct event ev = {};
	struct event *e;

	if (!fill(&ev, 3))
		return 0;
	bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	fill(e, 1);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tp/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	struct event *e;
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	/* whole processes only, not threads */
	if ((bpf_get_current_pid_tgid() >> 32) != (u32)bpf_get_current_pid_tgid())
		return 0;
	e = bpf_ringbuf_reserve(&rb2, sizeof(*e), 0);
	if (!e)
		return 0;
	if (!fill(e, 2)) {
		bpf_ringbuf_discard(e, 0);
		return 0;
	}
	bpf_ringbuf_submit(e, 0);
	(void)task;
	return 0;
}
