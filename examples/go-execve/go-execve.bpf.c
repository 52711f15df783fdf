// SPDX-License-Identifier: GPL-2.0
/* go-execve: every execve() call with its filename and argv[0], through a perf
 * buffer (BPF_MAP_TYPE_PERF_EVENT_ARRAY). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "go-execve.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} events SEC(".maps");

/* the event is too big for the BPF stack: build it in a per-CPU slot */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct event);
} heap SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int tracepoint__syscalls__sys_enter_execve(struct trace_event_raw_sys_enter *ctx)
{
	const char *filename = (const char *)ctx->args[0];
	const char *const *argv = (const char *const *)ctx->args[1];
	const char *arg0 = NULL;
	struct task_struct *task;
	struct event *e;
	u32 zero = 0;

	e = bpf_map_lookup_elem(&heap, &zero);
	if (!e)
		return 0;

	task = (struct task_struct *)bpf_get_current_task();
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (u32)bpf_get_current_uid_gid();
	e->pad = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	if (bpf_probe_read_user_str(e->filename, sizeof(e->filename), filename) < 0)
		e->filename[0] = 0;
	e->argv0[0] = 0;
	if (argv && bpf_probe_read_user(&arg0, sizeof(arg0), &argv[0]) == 0 && arg0)
		bpf_probe_read_user_str(e->argv0, sizeof(e->argv0), arg0);

	bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e, sizeof(*e));
	return 0;
}
