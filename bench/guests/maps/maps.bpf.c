// SPDX-License-Identifier: GPL-2.0
/* Map-operation benchmark: one hash map, read and written from user space.
 * The program is never loaded (SEC("?...")): the object is only its map. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u64);
} hmap SEC(".maps");

SEC("?tp/syscalls/sys_enter_getpgid")
int unused_prog(void *ctx)
{
	return 0;
}
