// SPDX-License-Identifier: GPL-2.0
/* Two ring buffers of 512 MiB each: 1 GiB of kernel memory, over the
 * default map-memory cap of 256 MiB. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 512 << 20);
} big1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 512 << 20);
} big2 SEC(".maps");

SEC("tp/syscalls/sys_enter_getppid")
int fill(void *ctx)
{
	int x = 1;
	bpf_ringbuf_output(&big1, &x, sizeof(x), 0);
	bpf_ringbuf_output(&big2, &x, sizeof(x), 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
