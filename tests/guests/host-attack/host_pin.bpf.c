// SPDX-License-Identifier: GPL-2.0
/* A map pinned by name (tests/host_attack_test.ts): a guest loading this
 * must not get another program's map pinned at the same path, and must not
 * leave its own pin behind. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} wbpf_pin_test SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int touch(void *ctx)
{
	u32 k = 0;
	u64 *v = bpf_map_lookup_elem(&wbpf_pin_test, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}
