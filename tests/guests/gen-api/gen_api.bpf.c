// Programs and maps for the libbpf-wasm.h API test (run against a
// recording stand-in host, never loaded into the kernel by that test).
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} kv SEC(".maps");

SEC("tp/syscalls/sys_enter_getpid")
int on_tp(void *ctx)
{
	return 0;
}

SEC("xdp")
int on_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("sockops")
int on_sockops(struct bpf_sock_ops *ops)
{
	return 1;
}

SEC("raw_tp/sys_exit")
int on_raw(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
