// SPDX-License-Identifier: GPL-2.0
/* Ring-buffer delivery benchmark: every getppid() of the generator emits
 * per_call records as fast as the kernel can, counting produced and
 * dropped records in an array map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "ringbuf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct bench_config);
} cfg_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 k0 = COUNT_PRODUCED, k1 = COUNT_DROPPED;
	struct bench_config *cfg = bpf_map_lookup_elem(&cfg_map, &k0);
	u64 *produced, *dropped;

	if (!cfg || !cfg->tgid || (bpf_get_current_pid_tgid() >> 32) != cfg->tgid)
		return 0;
	produced = bpf_map_lookup_elem(&counts, &k0);
	dropped = bpf_map_lookup_elem(&counts, &k1);
	if (!produced || !dropped)
		return 0;
	/* one generator thread: plain increments are enough */
	for (int i = 0; i < MAX_PER_CALL; i++) {
		struct rec *r;
		if (i >= cfg->per_call)
			break;
		r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
		if (!r) {
			*dropped += 1;
			continue;
		}
		r->seq = *produced;
		*produced += 1;
		bpf_ringbuf_submit(r, 0);
	}
	return 0;
}
