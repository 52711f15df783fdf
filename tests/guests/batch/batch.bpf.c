// SPDX-License-Identifier: GPL-2.0
/* BPF side of the C SDK's batch-polling test: a numbered record per
 * getppid() of the process the guest names. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "batch.h"

char LICENSE[] SEC("license") = "GPL";

const volatile unsigned int target_pid = 0;
unsigned long long seq = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} records SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct rec *r;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r)
		return 0;
	r->seq = __sync_fetch_and_add(&seq, 1);
	r->pid = target_pid;
	r->pad = 0;
	bpf_ringbuf_submit(r, 0);
	return 0;
}
