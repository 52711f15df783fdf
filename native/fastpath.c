// SPDX-License-Identifier: MIT
/*
 * The map-operation fast path of the Deno host: one bpf(2) call per guest
 * map operation, with every argument a 32-bit integer, so Deno's FFI can
 * use V8's fast calls (64-bit arguments and pointers fall back to a slower
 * path that costs as much as the system call itself).
 *
 * The guest's memory base address arrives split in two halves; key, value
 * and next-key are offsets into it that the host has already bounds-checked.
 * Built by scripts/setup.sh into build/native/libwasm_bpf_fast.so; the host
 * uses libbpf when it is absent.
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

/* Version check for the loader: 2 has wasm_bpf_fast_map_op_abs. */
int wasm_bpf_fast_version(void)
{
	return 2;
}
