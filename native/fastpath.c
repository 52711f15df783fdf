// SPDX-License-Identifier: MIT
/*
 * The map-operation fast path of the Deno host: one bpf(2) call per guest
 * map operation, with every argument a 32-bit integer, so Deno's FFI can
 * use V8's fast calls (64-bit arguments and pointers fall back to a slower
 * path that costs as much as the system call itself).
 *
 * The guest's memory base address arrives split in two halves; key, value
 * and next-key are offsets into it that the host has already bounds-checked.
 * Also the batch poll's ring-buffer copy (wasm_bpf_fast_ring_consume).
 * Built by scripts/setup.sh into build/native/libwasm_bpf_fast.so; the host
 * uses libbpf and TypeScript when it is absent.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <stddef.h>
#include <unistd.h>

/* The map-element commands read map_fd, key, value/next_key and flags:
 * only those bytes are zeroed and passed (as libbpf does), so the kernel
 * copies 32 bytes per call instead of the whole union. */
#define ELEM_ATTR_SZ (offsetof(union bpf_attr, flags) + sizeof(__u64))

/* 1 lookup, 2 update, 3 delete, 4 get-next-key (the ABI's numbering) */
int wasm_bpf_fast_map_op(int fd, int cmd, uint32_t base_lo, uint32_t base_hi,
			 uint32_t key, uint32_t value, uint32_t next,
			 uint32_t flags)
{
	static const int cmds[] = { -1, BPF_MAP_LOOKUP_ELEM,
				    BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM,
				    BPF_MAP_GET_NEXT_KEY };
	uint64_t base = ((uint64_t)base_hi << 32) | base_lo;
	union bpf_attr attr;

	if (cmd < 1 || cmd > 4)
		return -EINVAL;
	memset(&attr, 0, ELEM_ATTR_SZ);
	attr.map_fd = fd;
	attr.key = key ? base + key : 0;
	if (cmd == 4)
		attr.next_key = base + next;
	else if (cmd != 3)
		attr.value = base + value;
	attr.flags = flags;
	if (syscall(__NR_bpf, cmds[cmd], &attr, ELEM_ATTR_SZ) < 0)
		return -errno;
	return 0;
}

/* The same with absolute addresses, each split in two halves (0: NULL),
 * for the TypeScript API's raw map operations. */
int wasm_bpf_fast_map_op_abs(int fd, int cmd, uint32_t key_lo, uint32_t key_hi,
			     uint32_t value_lo, uint32_t value_hi,
			     uint32_t next_lo, uint32_t next_hi, uint32_t flags)
{
	uint64_t key = ((uint64_t)key_hi << 32) | key_lo;
	uint64_t value = ((uint64_t)value_hi << 32) | value_lo;
	uint64_t next = ((uint64_t)next_hi << 32) | next_lo;
	static const int cmds[] = { -1, BPF_MAP_LOOKUP_ELEM,
				    BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM,
				    BPF_MAP_GET_NEXT_KEY };
	union bpf_attr attr;

	if (cmd < 1 || cmd > 4)
		return -EINVAL;
	memset(&attr, 0, ELEM_ATTR_SZ);
	attr.map_fd = fd;
	attr.key = key;
	if (cmd == 4)
		attr.next_key = next;
	else if (cmd != 3)
		attr.value = value;
	attr.flags = flags;
	if (syscall(__NR_bpf, cmds[cmd], &attr, ELEM_ATTR_SZ) < 0)
		return -errno;
	return 0;
}

#define RINGBUF_BUSY 0x80000000u
#define RINGBUF_DISCARD 0x40000000u
#define RINGBUF_HDR 8u

static inline void *addr_of(uint32_t lo, uint32_t hi)
{
	return (void *)(uintptr_t)(((uint64_t)hi << 32) | lo);
}

/* The records of run [from, from + n) of a ring's data, copied to out + off:
 * each header's second word (the kernel's page offset) becomes the copied
 * length, which is the size (host/ABI.md's batch layout). */
static void ring_flush(uint8_t *out, uint32_t off, const uint8_t *data,
		       uint64_t from, uint32_t n)
{
	uint32_t p, len;

	memcpy(out + off, data + from, n);
	for (p = off; p + RINGBUF_HDR <= off + n;) {
		memcpy(&len, out + p, sizeof(len));
		memcpy(out + p + 4, &len, sizeof(len));
		p += (len + RINGBUF_HDR + 7) & ~7u;
	}
}

/*
 * ffi/buffers.ts's RingBufReader.consumeInto in C, for guests' batch polls:
 * copies the committed records of a BPF ring buffer into out (out_len
 * bytes, at least 16) in the batch layout, advances the consumer position
 * past them and returns the bytes written; *records gets their number.
 * A first record larger than out is truncated; others that do not fit stay.
 * Each record's header is read (acquire) before its data is copied, as
 * libbpf's consumer does. Addresses arrive as 32-bit halves: the consumer
 * page, the producer page, the data (mapped twice in a row, mask + 1 bytes
 * each), out, and records. The caller has checked out against the guest's
 * memory; nothing is written outside [out, out + out_len).
 */
int wasm_bpf_fast_ring_consume(uint32_t cons_lo, uint32_t cons_hi,
			       uint32_t prod_lo, uint32_t prod_hi,
			       uint32_t data_lo, uint32_t data_hi,
			       uint32_t mask, uint32_t out_lo, uint32_t out_hi,
			       uint32_t out_len, uint32_t rec_lo,
			       uint32_t rec_hi)
{
	unsigned long *consumer = addr_of(cons_lo, cons_hi);
	const unsigned long *producer = addr_of(prod_lo, prod_hi);
	const uint8_t *data = addr_of(data_lo, data_hi);
	uint8_t *out = addr_of(out_lo, out_hi);
	uint32_t *records = addr_of(rec_lo, rec_hi);
	uint64_t size = (uint64_t)mask + 1;
	uint64_t cons, prod, run;
	uint32_t off = 0, count = 0;

	if (out_len < 16)
		return -EINVAL;
	cons = __atomic_load_n(consumer, __ATOMIC_RELAXED);
	prod = __atomic_load_n(producer, __ATOMIC_ACQUIRE);
	if (prod - cons > size) /* never from a sane kernel */
		prod = cons + size;
	run = cons;
	while (cons < prod) {
		uint32_t hdr = __atomic_load_n(
			(const uint32_t *)(data + (cons & mask)),
			__ATOMIC_ACQUIRE);
		uint32_t len = hdr & ~(RINGBUF_BUSY | RINGBUF_DISCARD);
		uint64_t total = ((uint64_t)len + RINGBUF_HDR + 7) & ~7ull;

		if (hdr & RINGBUF_BUSY)
			break;
		if (total > prod - cons) /* a record past the producer: stop */
			break;
		if (hdr & RINGBUF_DISCARD) {
			if (cons > run) {
				ring_flush(out, off, data, run & mask,
					   (uint32_t)(cons - run));
				off += (uint32_t)(cons - run);
			}
			cons += total;
			run = cons;
			continue;
		}
		if (off + (cons - run) + total > out_len) {
			if (off == 0 && cons == run) {
				/* larger than all of out: truncated */
				uint32_t n = out_len - RINGBUF_HDR;

				memcpy(out, &len, sizeof(len));
				memcpy(out + 4, &n, sizeof(n));
				memcpy(out + RINGBUF_HDR,
				       data + (cons & mask) + RINGBUF_HDR, n);
				off = out_len;
				cons += total;
				run = cons;
				count = 1;
			}
			break;
		}
		cons += total;
		count++;
	}
	if (cons > run) {
		ring_flush(out, off, data, run & mask, (uint32_t)(cons - run));
		off += (uint32_t)(cons - run);
	}
	__atomic_store_n(consumer, cons, __ATOMIC_RELEASE);
	*records = count;
	return (int)off;
}

/* Version check for the loader: 2 has wasm_bpf_fast_map_op_abs, 3
 * wasm_bpf_fast_ring_consume. */
int wasm_bpf_fast_version(void)
{
	return 3;
}
