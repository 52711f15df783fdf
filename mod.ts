/**
 * wasm-bpf for Deno: run eBPF applications whose user-space half is
 * WebAssembly, inside Deno.
 *
 * @module
 */
