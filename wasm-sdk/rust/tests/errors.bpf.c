// SPDX-License-Identifier: GPL-2.0
/* A small object for the SDK's error-path and map tests: a hash map, an
 * array with a const global, a ring buffer fed by getppid(). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, u32);
	__type(value, u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

const volatile u32 magic = 0;

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 *e = bpf_ringbuf_reserve(&rb, sizeof(*e) * 2, 0);

	if (!e)
		return 0;
	e[0] = magic;
	e[1] = bpf_get_current_pid_tgid() >> 32;
	bpf_ringbuf_submit(e, 0);
	return 0;
}
