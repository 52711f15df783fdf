// SPDX-License-Identifier: GPL-2.0
/* uprobe: report the calls (integer arguments) and returns (return value) of
 * one function of a user-space binary. Both programs are attached by user
 * space with the target "BINARY:FUNCTION[:PID]". */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "uprobe.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

static __always_inline struct event *new_event(u32 kind)
{
	u64 id = bpf_get_current_pid_tgid();
	struct event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return NULL;
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->pid = id >> 32;
	e->tid = (u32)id;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	return e;
}

SEC("uprobe")
int BPF_KPROBE(uprobe_entry)
{
	struct event *e = new_event(UPROBE_ENTRY);

	if (!e)
		return 0;
	e->args[0] = PT_REGS_PARM1(ctx);
	e->args[1] = PT_REGS_PARM2(ctx);
	e->args[2] = PT_REGS_PARM3(ctx);
	e->args[3] = PT_REGS_PARM4(ctx);
	e->args[4] = PT_REGS_PARM5(ctx);
#if defined(PT_REGS_PARM6)
	e->args[5] = PT_REGS_PARM6(ctx);
#elif defined(__TARGET_ARCH_x86) /* older bpf_tracing.h: sixth is r9 */
	e->args[5] = ctx->r9;
#endif
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(uprobe_return, long ret)
{
	struct event *e = new_event(UPROBE_RETURN);

	if (!e)
		return 0;
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
