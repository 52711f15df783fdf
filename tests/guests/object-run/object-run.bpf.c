// SPDX-License-Identifier: GPL-2.0
/* A bare object for tests/object_run_test.ts: its ring buffer's record type
 * is nowhere in BTF (a local struct, no __type(value), no 'unused' pointer,
 * no struct named event), so its records print as hex. Each exec sends the
 * exec'ing pid, a marker and the values of the settable globals. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

enum run_mode { MODE_OFF = 0, MODE_ON = 7 };

const volatile int level = 0;
const volatile bool flag = 0;
const volatile enum run_mode mode = MODE_OFF;
const volatile char tag[8] = {};
const volatile unsigned long long big = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} out SEC(".maps");

SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx)
{
	struct {
		__u32 pid;
		__u32 marker;
		__s32 level;
		__u32 mode;
		char tag[8];
		__u64 big;
		__u8 flag;
		__u8 pad[7];
	} r = {};

	r.pid = bpf_get_current_pid_tgid() >> 32;
	r.marker = 0xfeedbeef;
	r.level = level;
	r.mode = mode;
	/* volatile reads, element by element (a memcpy would fold the zeros) */
#pragma unroll
	for (int i = 0; i < 8; i++)
		r.tag[i] = tag[i];
	r.big = big;
	r.flag = flag;
	bpf_ringbuf_output(&out, &r, sizeof(r), 0);
	return 0;
}
