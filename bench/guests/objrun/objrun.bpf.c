// SPDX-License-Identifier: GPL-2.0
/* Event-delivery benchmark of bare objects (bench/objrun.ts): every
 * getppid() of the generator (targ_tgid) emits PER_CALL bootstrap-like
 * events into a ring buffer. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "objrun.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 targ_tgid = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} rb SEC(".maps");

/* the record type, for bare runs (host/decode.ts) */
const struct event *unused __attribute__((unused));

__u64 seq = 0;

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	if ((id >> 32) != targ_tgid)
		return 0;
	for (int i = 0; i < PER_CALL; i++) {
		struct event *e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
		if (!e)
			continue;
		e->pid = id >> 32;
		e->ppid = 1;
		e->seq = seq++;
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		__builtin_memcpy(e->filename, "/usr/bin/generator", 19);
		bpf_ringbuf_submit(e, 0);
	}
	return 0;
}
