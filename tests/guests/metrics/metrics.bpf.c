// SPDX-License-Identifier: GPL-2.0
/* BPF side of the metrics tests: execs counted by command name (a hash map
 * keyed by a struct with a char array), a slot-per-key log2 histogram of
 * command-name lengths (per-CPU, keyed by an enum and the slot), and a ring
 * buffer of exec events. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "metrics.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct comm_key);
	__type(value, u64);
} execs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 128);
	__type(key, struct slot_key);
	__type(value, u64);
} comm_len SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

SEC("tp/sched/sched_process_exec")
int count_exec(void *ctx)
{
	struct comm_key k = {};
	struct slot_key s = {};
	u64 one = 1, *v;
	u32 len = 0;
	struct event *e;

	bpf_get_current_comm(k.comm, 16);
	v = bpf_map_lookup_elem(&execs, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&execs, &k, &one, BPF_NOEXIST);

	for (int i = 0; i < 16; i++) {
		if (!k.comm[i])
			break;
		len++;
	}
	s.kind = len > 4 ? EXEC_LONG : EXEC_SHORT;
	while (s.slot < 31 && (1u << (s.slot + 1)) <= len)
		s.slot++;
	v = bpf_map_lookup_elem(&comm_len, &s);
	if (v)
		*v += 1;
	else
		bpf_map_update_elem(&comm_len, &s, &one, BPF_NOEXIST);

	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return 0;
}
