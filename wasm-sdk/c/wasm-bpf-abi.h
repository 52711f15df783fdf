/* The wasi-bpf host ABI, version 1: the six imports of module "wasm_bpf".
 *
 * This is the raw contract between a wasm32-wasi guest and any wasi-bpf host
 * (this project's Deno host, and the existing WAMR and wasmtime hosts).
 * Most guests use libbpf-wasm.h, which builds a libbpf-like API on top.
 *
 * All pointers are offsets into the guest's linear memory; strings are
 * NUL-terminated. Failures are negative Linux errno values, except
 * wasm_load_bpf_object, which returns 0 on failure.
 */
#ifndef WASM_BPF_ABI_H
#define WASM_BPF_ABI_H

#include <stdint.h>

#define WASM_BPF_IMPORT(name) \
	__attribute__((import_module("wasm_bpf"), import_name(#name)))

/* Map commands for wasm_bpf_map_operate. */
#define WASM_BPF_MAP_LOOKUP_ELEM 1
#define WASM_BPF_MAP_UPDATE_ELEM 2
#define WASM_BPF_MAP_DELETE_ELEM 3
#define WASM_BPF_MAP_GET_NEXT_KEY 4

/* Callback type for wasm_bpf_buffer_poll: called through the guest's
 * exported __indirect_function_table (link with -Wl,--export-table). */
typedef int (*wasm_bpf_sample_fn)(void *ctx, void *data, uint32_t size);

/* Open (with CO-RE against the running kernel), create maps and load all
 * programs of the BPF ELF object in [obj, obj+obj_len). 0 on failure. */
WASM_BPF_IMPORT(wasm_load_bpf_object)
uint64_t wasm_load_bpf_object(const void *obj, int obj_len);

/* Destroy every link, buffer consumer, map and program of the object. */
WASM_BPF_IMPORT(wasm_close_bpf_object)
int wasm_close_bpf_object(uint64_t handle);

/* Attach program `name`; target NULL or "" auto-attaches by ELF section. */
WASM_BPF_IMPORT(wasm_attach_bpf_program)
int wasm_attach_bpf_program(uint64_t handle, const char *name,
			    const char *target);

/* Poll the ring or perf buffer of map `map_fd` for at most timeout_ms. */
WASM_BPF_IMPORT(wasm_bpf_buffer_poll)
int wasm_bpf_buffer_poll(uint64_t handle, int map_fd, wasm_bpf_sample_fn fn,
			 void *ctx, void *data, int max_size, int timeout_ms);

/* File descriptor of map `name` of the object. */
WASM_BPF_IMPORT(wasm_bpf_map_fd_by_name)
int wasm_bpf_map_fd_by_name(uint64_t handle, const char *name);

/* Lookup (1), update (2), delete (3) or get-next-key (4) on map `fd`. */
WASM_BPF_IMPORT(wasm_bpf_map_operate)
int wasm_bpf_map_operate(int fd, int cmd, void *key, void *value,
			 void *next_key, uint64_t flags);

/* ---- module "wasm_bpf_ext": this project's host extension (host/ABI.md) ----
 * Fills buf with as many whole records as fit, each {u32 size; u32 copied;}
 * followed by the data padded to 8 bytes; a first record larger than buf is
 * truncated. Returns the bytes written, 0 on timeout, or a negative errno.
 * Only guests that call it import it, and they need a host that has it. */
__attribute__((import_module("wasm_bpf_ext"),
	       import_name("wasm_bpf_buffer_poll_batch")))
int wasm_bpf_buffer_poll_batch(uint64_t handle, int map_fd, void *buf,
			       int buf_len, int timeout_ms);

#endif /* WASM_BPF_ABI_H */
