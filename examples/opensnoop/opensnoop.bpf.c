// SPDX-License-Identifier: GPL-2.0
/* opensnoop: openat() calls with their result, after bcc's opensnoop. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "opensnoop.h"

char LICENSE[] SEC("license") = "GPL";

/* set by user space before load: 0 traces every process */
const volatile unsigned int targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u32); /* thread id */
	__type(value, struct args_t);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* names the ring buffer's record type in BTF, for runs of the bare object
 * (mod.ts opensnoop.bpf.o, ecli): the convention of host/decode.ts */
const struct event *unused __attribute__((unused));

SEC("tracepoint/syscalls/sys_enter_openat")
int tracepoint__syscalls__sys_enter_openat(struct trace_event_raw_sys_enter *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32, tid = (u32)id;
	struct args_t args = {};

	if (targ_tgid && targ_tgid != tgid)
		return 0;
	args.fname = ctx->args[1];
	args.flags = (int)ctx->args[2];
	args.mode = (u32)ctx->args[3];
	bpf_map_update_elem(&start, &tid, &args, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int tracepoint__syscalls__sys_exit_openat(struct trace_event_raw_sys_exit *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = (u32)id;
	struct args_t *ap;
	struct event *e;

	ap = bpf_map_lookup_elem(&start, &tid);
	if (!ap)
		return 0; /* missed the entry, or filtered out */

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->ts_ns = bpf_ktime_get_ns();
		e->pid = id >> 32;
		e->tid = tid;
		e->uid = (u32)bpf_get_current_uid_gid();
		e->ret = (int)ctx->ret;
		e->flags = ap->flags;
		e->mode = ap->mode;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		if (bpf_probe_read_user_str(e->fname, sizeof(e->fname),
					    (const char *)ap->fname) < 0)
			e->fname[0] = 0;
		bpf_ringbuf_submit(e, 0);
	}
	bpf_map_delete_elem(&start, &tid);
	return 0;
}
