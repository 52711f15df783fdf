// SPDX-License-Identifier: GPL-2.0
/* BPF side of tests/ffi_test.ts (the TypeScript eBPF layer, no Wasm):
 * numbered records to a ring buffer and a perf buffer for every getppid()
 * of the pid in cfg[0], and a tc program counting packets. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, u32);
	__type(value, u64);
} cfg SEC(".maps"); /* [0] pid to follow, [1] packets seen by tc,
		    * [2] non-zero: discard odd-numbered ring records */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(u32));
} perf SEC(".maps");

/* records of three sizes for the batch copy's tests: 8, 40 and 200 bytes
 * by n % 3, each u64 k holding n * 1000 + k (k > 0; word 0 is n), every
 * fourth one discarded, for every getppid() of the pid in cfg[0] */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} vring SEC(".maps");

u64 seq = 0;
u64 vseq = 0;

#define VREC(words)                                                    \
	do {                                                           \
		u64 *r = bpf_ringbuf_reserve(&vring, (words) * 8, 0);  \
		if (!r)                                                \
			return 0;                                      \
		r[0] = n;                                              \
		for (int k = 1; k < (words); k++)                      \
			r[k] = n * 1000 + k;                           \
		if ((n & 3) == 3)                                      \
			bpf_ringbuf_discard(r, 0);                     \
		else                                                   \
			bpf_ringbuf_submit(r, 0);                      \
	} while (0)

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid_var(void *ctx)
{
	u32 zero = 0;
	u64 *pid = bpf_map_lookup_elem(&cfg, &zero);
	u64 n;

	if (!pid || *pid != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	n = __sync_fetch_and_add(&vseq, 1);
	if (n % 3 == 0)
		VREC(1);
	else if (n % 3 == 1)
		VREC(5);
	else
		VREC(25);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int on_getppid(void *ctx)
{
	u32 zero = 0, two = 2;
	u64 *pid = bpf_map_lookup_elem(&cfg, &zero);
	u64 *discard = bpf_map_lookup_elem(&cfg, &two);
	u64 *rec, n;

	if (!pid || *pid != (bpf_get_current_pid_tgid() >> 32))
		return 0;
	n = __sync_fetch_and_add(&seq, 1);
	bpf_perf_event_output(ctx, &perf, BPF_F_CURRENT_CPU, &n, sizeof(n));
	rec = bpf_ringbuf_reserve(&ring, sizeof(*rec), 0);
	if (!rec)
		return 0;
	*rec = n;
	if (discard && *discard && (n & 1))
		bpf_ringbuf_discard(rec, 0);
	else
		bpf_ringbuf_submit(rec, 0);
	return 0;
}

SEC("tc")
int count_tc(struct __sk_buff *skb)
{
	u32 one = 1;
	u64 *count = bpf_map_lookup_elem(&cfg, &one);

	if (count)
		__sync_fetch_and_add(count, 1);
	return 0; /* TC_ACT_OK / TCX_PASS */
}
