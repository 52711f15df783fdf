// SPDX-License-Identifier: GPL-2.0
/* Two 1 GiB ring buffers (tests/host_attack_test.ts): more kernel memory
 * than the default policy lets one guest hold. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 30);
} big1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 30);
} big2 SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int emit(void *ctx)
{
	bpf_ringbuf_output(&big1, &ctx, sizeof(ctx), 0);
	bpf_ringbuf_output(&big2, &ctx, sizeof(ctx), 0);
	return 0;
}
