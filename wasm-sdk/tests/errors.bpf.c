// SPDX-License-Identifier: GPL-2.0
/* A small object for the error-path, map and batch tests of the Rust, Go and
 * AssemblyScript SDKs (wasm-sdk/{rust,go,assemblyscript}/tests; built by
 * scripts/build-sdk.sh): a hash map, a const global, a ring buffer fed by
 * getppid(). */
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
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

struct record {
	u32 magic;
	u32 pid;
	char comm[16];
};

const volatile u32 magic = 0;

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	struct record *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);

	if (!r)
		return 0;
	r->magic = magic;
	r->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(r->comm, sizeof(r->comm));
	bpf_ringbuf_submit(r, 0);
	return 0;
}
