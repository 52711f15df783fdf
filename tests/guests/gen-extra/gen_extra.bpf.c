// Less common shapes for the generator: custom .rodata.*/.data.* sections,
// string literals (.rodata.str1.1), a __kconfig extern (.kconfig map),
// static variables, a float, BTF decl/type tags, several programs in one
// section, and the layout shapes the types test checks.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define __tag(x) __attribute__((btf_decl_tag(x)))
#define __ttag(x) __attribute__((btf_type_tag(x)))

extern int LINUX_KERNEL_VERSION __kconfig;

struct ex_packed {
	__u8 a;
	__u32 b;
	__u16 c;
} __attribute__((packed));

typedef struct {
	__u16 x;
	__u64 y;
} ex_pair_t;

enum ex_small { EX_A, EX_B = 3 } __attribute__((packed));

struct ex_shapes {
	char c;
	void (*fn)(int);
	const char *str;
	unsigned long ul;
	long arr2[2][3];
	ex_pair_t pair;
	struct ex_packed pk;
	enum ex_small small;
	union {
		int i;
		float f;
	};
	struct {
		__u8 lo : 4, hi : 4;
	} nib;
	__u32 after_nib : 17;
	__u64 wide : 33;
	_Bool flag;
	int __ttag("user") *tagged;
	__u32 flex[];
} __tag("shapes");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ex_shapes);
} shapes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, ex_pair_t);
	__type(value, struct ex_packed);
} pairs SEC(".maps");

const volatile __u32 cfg_a SEC(".rodata.cfg") = 1;
const volatile __u64 cfg_b SEC(".rodata.cfg") = 2;
__u32 custom_x SEC(".data.custom") = 3;
float ratio = 1.5f;
static __u32 hidden_counter;
__u64 hits __tag("counter");

SEC("tp/syscalls/sys_enter_getpid")
int on_getpid(void *ctx)
{
	hidden_counter++;
	hits += cfg_a + cfg_b + custom_x + (LINUX_KERNEL_VERSION > 0);
	bpf_printk("getpid %d", hidden_counter);
	return 0;
}

SEC("tp/syscalls/sys_enter_getpid")
int on_getpid_too(void *ctx)
{
	hits += sizeof(ratio);
	return 0;
}

SEC("raw_tp/sys_enter")
int on_raw(void *ctx)
{
	return 0;
}

/* a struct_ops map (never loaded here: the object is only inspected) */
SEC("struct_ops/ex_ssthresh")
__u32 BPF_PROG(ex_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/ex_undo_cwnd")
__u32 BPF_PROG(ex_undo_cwnd, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/ex_cong_avoid")
void BPF_PROG(ex_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC(".struct_ops")
struct tcp_congestion_ops ex_cc = {
	.ssthresh = (void *)ex_ssthresh,
	.undo_cwnd = (void *)ex_undo_cwnd,
	.cong_avoid = (void *)ex_cong_avoid,
	.name = "ex_cc",
};

char LICENSE[] SEC("license") = "GPL";
