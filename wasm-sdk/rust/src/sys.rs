//! The raw host ABI: the six imports of module `wasm_bpf` (ABI version 1)
//! and the batch extension of module `wasm_bpf_ext`.
//!
//! Everything here is `unsafe`; the rest of the crate wraps it. A guest only
//! imports the functions it actually calls (the linker drops the others), so
//! a guest that never polls in batches runs on hosts without the extension.

/// Map command: look up the value of a key.
pub const MAP_LOOKUP_ELEM: i32 = 1;
/// Map command: create or update an element.
pub const MAP_UPDATE_ELEM: i32 = 2;
/// Map command: delete an element.
pub const MAP_DELETE_ELEM: i32 = 3;
/// Map command: the key after `key` (a null `key` asks for the first key).
pub const MAP_GET_NEXT_KEY: i32 = 4;

#[link(wasm_import_module = "wasm_bpf")]
extern "C" {
    /// Loads a BPF ELF object; 0 on failure.
    pub fn wasm_load_bpf_object(obj: *const u8, obj_len: i32) -> u64;
    /// Destroys every link, consumer, map and program of the object.
    pub fn wasm_close_bpf_object(handle: u64) -> i32;
    /// Attaches program `name` (NUL-terminated); `target` null or "" attaches
    /// by its ELF section.
    pub fn wasm_attach_bpf_program(handle: u64, name: *const u8, target: *const u8) -> i32;
    /// Polls a ring/perf buffer map; each record is copied to `data` and
    /// delivered to table entry `sample_fn` as `(ctx, data, len)`.
    pub fn wasm_bpf_buffer_poll(
        handle: u64,
        map_fd: i32,
        sample_fn: i32,
        ctx: i32,
        data: *mut u8,
        data_max: i32,
        timeout_ms: i32,
    ) -> i32;
    /// The fd of map `name` (NUL-terminated) of the object.
    pub fn wasm_bpf_map_fd_by_name(handle: u64, name: *const u8) -> i32;
    /// Lookup/update/delete/get-next-key on map `fd`.
    pub fn wasm_bpf_map_operate(
        fd: i32,
        cmd: i32,
        key: *const u8,
        value: *mut u8,
        next_key: *mut u8,
        flags: u64,
    ) -> i32;
}

#[link(wasm_import_module = "wasm_bpf_ext")]
extern "C" {
    /// Fills `buf` with whole records, each an 8-byte header
    /// `{u32 size; u32 copied}` then `copied` bytes padded to 8. Returns the
    /// bytes written, 0 on timeout, or a negative errno.
    pub fn wasm_bpf_buffer_poll_batch(
        handle: u64,
        map_fd: i32,
        buf: *mut u8,
        buf_len: i32,
        timeout_ms: i32,
    ) -> i32;
}
