// A BPF object exercising what the generator must find: programs in
// several sections (one shared, one static subprogram), BTF-defined maps,
// .rodata/.data/.bss globals, and record types for the types header.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

enum gen_kind { GEN_EXEC = 1, GEN_EXIT = 2, GEN_BIG = 0x7fffffff };

struct gen_inner {
	__u8 tag;
	__u64 when;
	short s;
};

struct gen_event {
	__u32 pid;
	__u64 ts;          /* __u64 after __u32 */
	char comm[16];
	void *ptr;         /* pointer: 64-bit on BPF */
	long l;            /* long: 64-bit on BPF */
	struct gen_inner inner;
	union {
		__u32 u32v;
		__u16 pair[2];
		__u64 wide;
	} u;
	enum gen_kind kind;
	unsigned int flag_a : 1;
	unsigned int flag_b : 3;
	int small : 5;
	__u64 big_bits : 40;
	__u8 tail;         /* trailing padding */
};

struct gen_key {
	__u32 a;
	__u16 b;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, struct gen_key);
	__type(value, __u64);
} counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct gen_inner);
} inners SEC(".maps");

const volatile __u64 min_duration_ns = 0;
const volatile bool verbose = false;
const volatile char prefix[5] = "abc";
const volatile pid_t target_pid = 0;
__u32 data_counter = 7;
__u16 data_small = 3;
__u64 bss_total;
__u8 bss_flag;
struct gen_inner bss_inner;
/* keeps struct gen_event in BTF for the types header */
struct gen_event *unused_event __attribute__((unused));

static __noinline int count_it(__u32 pid)
{
	struct gen_key k = { .a = pid, .b = 1 };
	__u64 one = 1, *v = bpf_map_lookup_elem(&counts, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counts, &k, &one, BPF_ANY);
	return 0;
}

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	struct gen_event *e;
	__u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (target_pid && pid != target_pid)
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->ts = bpf_ktime_get_ns() + min_duration_ns;
	e->kind = GEN_EXEC;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	data_counter++;
	bss_total += verbose ? 2 : 1;
	bss_flag = prefix[0];
	return count_it(pid);
}

SEC("tp/sched/sched_process_exit")
int handle_exit(void *ctx)
{
	bss_inner.when++;
	return count_it(0);
}

SEC("tp/sched/sched_process_exit")
int handle_exit2(void *ctx)
{
	data_small++;
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(on_unlink, int dfd, struct filename *name)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	bss_total += BPF_CORE_READ(t, pid);
	return 0;
}

/* off by default ("?"): the guest turns it on */
SEC("?tp/syscalls/sys_enter_getppid")
int maybe_getppid(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	bss_flag = BPF_CORE_READ(t, tgid) != 0;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
