// SPDX-License-Identifier: GPL-2.0
/* BPF side of the host attack tests (tests/host_attack_test.ts):
 *  - exec events of children of cfg[1] to a ring buffer and a perf buffer
 *    (re-entrant polls and closes from inside callbacks);
 *  - maps whose values are fds: a map of maps whose inner map a program
 *    writes on getppid of process cfg[0], a program array, a cgroup array
 *    and a device map with a program per entry (a guest must not smuggle
 *    another guest's fds into them). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "host_attack.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, u32);
	__type(value, u64);
} cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} rb SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} pb SEC(".maps");

struct inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
};

/* what another guest would want to reach */
struct inner_map secret SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, u32);
	__array(values, struct inner_map);
} outer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} jmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} cgroups SEC(".maps");

/* ifindex, then an XDP program fd (struct bpf_devmap_val) */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct bpf_devmap_val);
} devs SEC(".maps");

u64 seq = 0;

SEC("tp/sched/sched_process_exec")
int handle_exec(void *ctx)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	u32 k = 1;
	u64 *parent = bpf_map_lookup_elem(&cfg, &k);
	struct event ev = {};
	struct event *e;

	ev.pid = bpf_get_current_pid_tgid() >> 32;
	ev.ppid = BPF_CORE_READ(task, real_parent, tgid);
	if (!parent || ev.ppid != *parent)
		return 0;
	ev.seq = __sync_fetch_and_add(&seq, 1);
	bpf_perf_event_output(ctx, &pb, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	e = bpf_ringbuf_reserve(&rb, sizeof(*e), 0);
	if (!e)
		return 0;
	*e = ev;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* writes 0xdeadbeef into whatever map outer[0] holds */
SEC("tp/syscalls/sys_enter_getppid")
int poke(void *ctx)
{
	u32 k = 0;
	u64 *pid = bpf_map_lookup_elem(&cfg, &k);
	u64 v = 0xdeadbeef;
	void *inner;

	if (!pid || (bpf_get_current_pid_tgid() >> 32) != *pid)
		return 0;
	inner = bpf_map_lookup_elem(&outer, &k);
	if (!inner)
		return 0;
	bpf_map_update_elem(inner, &k, &v, BPF_ANY);
	return 0;
}

/* a program a device map entry may run */
SEC("xdp/devmap")
int on_devmap(struct xdp_md *ctx)
{
	return XDP_PASS;
}
