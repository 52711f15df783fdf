// deno-fmt-ignore-file
// (AssemblyScript, not Deno TypeScript: deno fmt would drop the @external
// decorators on the import declarations.)
// Minimal WASI preview 1 for wasm-bpf guests in AssemblyScript: stdout and
// stderr, arguments, the clock, exit. (AssemblyScript has no WASI layer of
// its own; this avoids another npm dependency.)

@external("wasi_snapshot_preview1", "fd_write")
declare function fd_write(fd: u32, iovs: usize, iovsLen: u32, nwritten: usize): u16;

@external("wasi_snapshot_preview1", "proc_exit")
declare function proc_exit(code: u32): void;

@external("wasi_snapshot_preview1", "args_sizes_get")
declare function args_sizes_get(argc: usize, bufSize: usize): u16;

@external("wasi_snapshot_preview1", "args_get")
declare function args_get(argv: usize, buf: usize): u16;

@external("wasi_snapshot_preview1", "clock_time_get")
declare function clock_time_get(clock: u32, precision: u64, time: usize): u16;

const scratch = memory.data(16);

/** Writes `len` bytes at `ptr` to file descriptor `fd` (1 stdout, 2 stderr). */
export function writeBytes(fd: u32, ptr: usize, len: usize): void {
  while (len > 0) {
    store<u32>(scratch, <u32>ptr);
    store<u32>(scratch, <u32>len, 4);
    if (fd_write(fd, scratch, 1, scratch + 8) != 0) return;
    const n = <usize>load<u32>(scratch, 8);
    if (n == 0) return;
    ptr += n;
    len -= n;
  }
}

/** Writes a string (UTF-8) to `fd`. */
export function writeString(fd: u32, s: string): void {
  const buf = String.UTF8.encode(s);
  writeBytes(fd, changetype<usize>(buf), <usize>buf.byteLength);
}

/** Prints `s` and a newline on stdout. */
export function println(s: string): void {
  writeString(1, s + "\n");
}

/** Prints `s` and a newline on stderr. */
export function eprintln(s: string): void {
  writeString(2, s + "\n");
}

/** Ends the process with `code`. */
export function exit(code: i32): void {
  proc_exit(<u32>code);
}

/** The command line, program name first. */
export function args(): string[] {
  const out = new Array<string>();
  if (args_sizes_get(scratch, scratch + 4) != 0) return out;
  const argc = <i32>load<u32>(scratch);
  const size = <i32>load<u32>(scratch, 4);
  const argv = new ArrayBuffer(argc * 4);
  const buf = new ArrayBuffer(size);
  if (args_get(changetype<usize>(argv), changetype<usize>(buf)) != 0) return out;
  for (let i = 0; i < argc; i++) {
    const p = <usize>load<u32>(changetype<usize>(argv) + <usize>(i * 4));
    out.push(cString(p, changetype<usize>(buf) + <usize>size - p));
  }
  return out;
}

/** Nanoseconds since the epoch (realtime clock). */
export function nowNs(): u64 {
  if (clock_time_get(0, 1000, scratch) != 0) return 0;
  return load<u64>(scratch);
}

/** The NUL-terminated string at `ptr`, at most `max` bytes, as UTF-8. */
export function cString(ptr: usize, max: usize): string {
  let n: usize = 0;
  while (n < max && load<u8>(ptr + n) != 0) n++;
  return String.UTF8.decodeUnsafe(ptr, n);
}

/** The runtime's abort (`--use abort=...`): message on stderr, exit 134. */
export function wasiAbort(
  message: string | null,
  fileName: string | null,
  line: u32,
  column: u32,
): void {
  let s = "abort";
  if (message !== null) s += ": " + message;
  if (fileName !== null) {
    s += " at " + fileName + ":" + line.toString() + ":" + column.toString();
  }
  eprintln(s);
  proc_exit(134);
}
