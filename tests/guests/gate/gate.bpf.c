// SPDX-License-Identifier: GPL-2.0
/* Maps for tests/gate_test.ts: what the map-operation gate (host/gate.wat)
 * passes on itself (a hash, a per-CPU array whose values are one u64 per
 * possible CPU) and what it must leave to the JavaScript path (a program
 * array, whose values are program fds); and a count of the map calls that
 * reached the kernel, to show that refused ones did not. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} h SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, u32);
	__type(value, u64);
} pc SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} jmp SEC(".maps");

/* bpf(2) map-element calls (lookup, update, delete, next key) of the
 * process whose tgid is in who[0]: whether a call reached the kernel */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} who SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} calls SEC(".maps");

SEC("tp/syscalls/sys_enter_bpf")
int count_bpf(struct trace_event_raw_sys_enter *ctx)
{
	u32 k = 0;
	u64 *tgid = bpf_map_lookup_elem(&who, &k);
	u64 *n;
	long cmd = ctx->args[0];

	if (!tgid || *tgid != bpf_get_current_pid_tgid() >> 32)
		return 0;
	if (cmd < BPF_MAP_LOOKUP_ELEM || cmd > BPF_MAP_GET_NEXT_KEY)
		return 0;
	n = bpf_map_lookup_elem(&calls, &k);
	if (n)
		__sync_fetch_and_add(n, 1);
	return 0;
}
