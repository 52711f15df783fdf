// SPDX-License-Identifier: GPL-2.0
/* The BPF half of the TinyGo-shape guest: one record per exec. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct record {
	u32 magic; /* 0x60C0FFEE */
	u32 pid;
	char comm[16];
};

SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);

	if (!r)
		return 0;
	r->magic = 0x60C0FFEE;
	r->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
	return 0;
}
