/**
 * Readers of BPF object files: ELF sections, symbols and relocations, and
 * BTF types. Pure TypeScript with no system calls, shared by the runtime
 * (`ffi/`, `host/`) and the guest toolchain (`wasm-sdk/gen/`). Every
 * malformed input raises an {@link ObjectFileError} naming the file.
 *
 * @module
 */
export * from "./elf.ts";
export * from "./btf.ts";
