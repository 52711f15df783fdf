// SPDX-License-Identifier: GPL-2.0
/* A small object: a counter, a 1 MiB ring buffer and two programs
 * (tests/host_attack_test.ts loads it until the host refuses). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} counter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} events SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int count(void *ctx)
{
	u32 k = 0;
	u64 *v = bpf_map_lookup_elem(&counter, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	bpf_ringbuf_output(&events, &k, sizeof(k), 0);
	return 0;
}

/* never attached: only there for the audit record's acting helpers */
SEC("tp/syscalls/sys_enter_getpgid")
int nudge(void *ctx)
{
	bpf_send_signal(0);
	return 0;
}
