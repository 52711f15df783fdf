/**
 * The native libraries behind the eBPF layer, opened lazily with
 * `Deno.dlopen`: libbpf (`libbpf.so.1`) and libc (`libc.so.6`).
 *
 * Set `WASM_BPF_LIBBPF` or `WASM_BPF_LIBC` to load another file. Pointers
 * are passed as `usize` numbers where the caller already has an address, so
 * the hot paths allocate no pointer objects.
 *
 * @module
 */
import { cstr, tieredLibrary } from "./tiered.ts";

/** The library could not be opened: says which file and how to install it. */
export class LibraryLoadError extends Error {
  /**
   * A failure to open `library`.
   *
   * @param library the file that could not be opened.
   * @param cause what `Deno.dlopen` threw.
   * @param hint what to do about it.
   */
  constructor(
    /** The file that could not be opened. */
    readonly library: string,
    /** What `Deno.dlopen` threw. */
    override readonly cause: unknown,
    hint: string,
  ) {
    super(
      `cannot load ${library}: ${
        cause instanceof Error ? cause.message : String(cause)
      }\n  ${hint}`,
    );
    this.name = "LibraryLoadError";
  }
}

const LIBBPF_SYMBOLS = {
  libbpf_set_print: { parameters: ["function"], result: "pointer" },
  libbpf_num_possible_cpus: { parameters: [], result: "i32" },
  bpf_object__open_mem: {
    parameters: ["buffer", "usize", "buffer"],
    result: "pointer",
  },
  bpf_object__load: { parameters: ["pointer"], result: "i32" },
  bpf_object__close: { parameters: ["pointer"], result: "void" },
  bpf_object__next_program: {
    parameters: ["pointer", "pointer"],
    result: "pointer",
  },
  bpf_object__next_map: {
    parameters: ["pointer", "pointer"],
    result: "pointer",
  },
  bpf_program__name: { parameters: ["pointer"], result: "pointer" },
  bpf_program__section_name: { parameters: ["pointer"], result: "pointer" },
  bpf_program__fd: { parameters: ["pointer"], result: "i32" },
  bpf_program__type: { parameters: ["pointer"], result: "i32" },
  bpf_program__autoload: { parameters: ["pointer"], result: "bool" },
  bpf_program__set_autoload: {
    parameters: ["pointer", "bool"],
    result: "i32",
  },
  bpf_program__attach: { parameters: ["pointer"], result: "pointer" },
  bpf_program__attach_cgroup: {
    parameters: ["pointer", "i32"],
    result: "pointer",
  },
  bpf_program__attach_xdp: {
    parameters: ["pointer", "i32"],
    result: "pointer",
  },
  bpf_program__attach_uprobe_opts: {
    parameters: ["pointer", "i32", "buffer", "usize", "buffer"],
    result: "pointer",
  },
  bpf_link__destroy: { parameters: ["pointer"], result: "i32" },
  bpf_link__fd: { parameters: ["pointer"], result: "i32" },
  bpf_link_create: {
    parameters: ["i32", "i32", "i32", "pointer"],
    result: "i32",
  },
  bpf_map__name: { parameters: ["pointer"], result: "pointer" },
  bpf_map__fd: { parameters: ["pointer"], result: "i32" },
  bpf_map__type: { parameters: ["pointer"], result: "i32" },
  bpf_map__key_size: { parameters: ["pointer"], result: "u32" },
  bpf_map__value_size: { parameters: ["pointer"], result: "u32" },
  bpf_obj_get_info_by_fd: {
    parameters: [
      "i32", // int bpf_fd
      "buffer", // void *info
      "buffer", // __u32 *info_len
    ],
    result: "i32",
  },
  bpf_map__max_entries: { parameters: ["pointer"], result: "u32" },
  bpf_map__pin_path: { parameters: ["pointer"], result: "pointer" },
  bpf_map__is_pinned: { parameters: ["pointer"], result: "bool" },
  bpf_map__unpin: { parameters: ["pointer", "pointer"], result: "i32" },
  bpf_map__set_pin_path: { parameters: ["pointer", "pointer"], result: "i32" },
  bpf_map_lookup_elem_flags: {
    parameters: ["i32", "usize", "usize", "u64"],
    result: "i32",
  },
  bpf_map_update_elem: {
    parameters: ["i32", "usize", "usize", "u64"],
    result: "i32",
  },
  bpf_map_delete_elem_flags: {
    parameters: ["i32", "usize", "u64"],
    result: "i32",
  },
  bpf_map_get_next_key: {
    parameters: ["i32", "usize", "usize"],
    result: "i32",
  },
  perf_buffer__new: {
    parameters: ["i32", "usize", "function", "function", "pointer", "pointer"],
    result: "pointer",
  },
  perf_buffer__consume: { parameters: ["pointer"], result: "i32" },
  perf_buffer__epoll_fd: { parameters: ["pointer"], result: "i32" },
  perf_buffer__free: { parameters: ["pointer"], result: "void" },
} as const;

const LIBC_SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  vsnprintf: {
    parameters: ["buffer", "usize", "pointer", "pointer"],
    result: "i32",
  },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  mmap: {
    parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"],
    result: "pointer",
  },
  munmap: { parameters: ["pointer", "usize"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: {
    parameters: ["i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  if_nametoindex: { parameters: ["buffer"], result: "u32" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  // the policy's identity checks (Deno's fs API needs --allow-all for /sys)
  realpath: { parameters: ["buffer", "buffer"], result: "pointer" },
  stat: { parameters: ["buffer", "buffer"], result: "i32" },
  getpagesize: { parameters: [], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  geteuid: { parameters: [], result: "u32" },
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
} as const;

// Deno accepts a number where a 64-bit integer is expected (addresses and
// sizes fit in 53 bits), which saves a BigInt per call on hot paths.
type Loosen<F> = F extends (...args: infer A) => infer R ? (
    ...args: { [K in keyof A]: A[K] extends bigint ? number | bigint : A[K] }
  ) => R
  : F;
type Loose<T> = { [K in keyof T]: Loosen<T[K]> };
type Libbpf = Loose<Deno.DynamicLibrary<typeof LIBBPF_SYMBOLS>["symbols"]>;
type Libc = Loose<Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"]>;

let libbpf: Libbpf | undefined;
let libc: Libc | undefined;

function envPath(name: string, fallback: string): string {
  try {
    return Deno.env.get(name) || fallback;
  } catch {
    // --allow-env not granted: the default path
    return fallback;
  }
}

/** Opens `path` with `symbols`, or a LibraryLoadError with `hint`. */
function open<S extends Deno.ForeignLibraryInterface>(
  path: string,
  symbols: S,
  hint: string,
): Deno.DynamicLibrary<S>["symbols"] {
  try {
    return Deno.dlopen(path, symbols).symbols;
  } catch (e) {
    throw new LibraryLoadError(
      path,
      e,
      e instanceof Deno.errors.NotCapable || String(e).includes("--allow-ffi")
        ? "run deno with --allow-ffi"
        : hint,
    );
  }
}

/**
 * The symbols of `table` from `path`, each bound on its first use and
 * moved to a compiled trampoline once hot (ffi/tiered.ts). `probe` is bound
 * at once, so that a missing library fails here with `hint`.
 */
function lazy<S extends Deno.ForeignLibraryInterface>(
  path: string,
  table: S,
  probe: keyof S & string,
  hint: string,
): Deno.DynamicLibrary<S>["symbols"] {
  return tieredLibrary(path, table, {
    libc: envPath("WASM_BPF_LIBC", "libc.so.6"),
    open: (one) => open(path, one, hint),
    probe,
  });
}

/** libbpf's symbols, opening the library on first use. */
export function bpf(): Libbpf {
  if (!libbpf) {
    libbpf = lazy(
      envPath("WASM_BPF_LIBBPF", "libbpf.so.1"),
      LIBBPF_SYMBOLS,
      "libbpf_num_possible_cpus",
      "install it with 'apt-get install libbpf1' (Debian/Ubuntu), or point WASM_BPF_LIBBPF at a libbpf.so.1 (version 1.x)",
    ) as Libbpf;
    c(); // errno's address, before any libbpf call can fail
  }
  return libbpf;
}

/**
 * libc's symbols, opening the library on first use. errno's address is
 * taken here, before any call can fail: binding a symbol later (dlsym,
 * Deno's own checks) could change errno between a failure and its read.
 */
export function c(): Libc {
  if (!libc) {
    libc = lazy(
      envPath("WASM_BPF_LIBC", "libc.so.6"),
      LIBC_SYMBOLS,
      "__errno_location",
      "set WASM_BPF_LIBC to the C library's path if it is not libc.so.6",
    ) as Libc;
    errnoView = new Deno.UnsafePointerView(libc.__errno_location()!);
  }
  return libc;
}

let errnoView: Deno.UnsafePointerView | undefined;

/** The calling thread's errno, read right after a failed libc/libbpf call. */
export function errno(): number {
  if (!errnoView) c();
  return errnoView!.getInt32();
}

// the one C-string helper (ffi/tiered.ts needs it below this module)
export { cstr };

/** The C string at `p`, or "" for NULL. */
export function readCString(p: Deno.PointerValue): string {
  return p ? Deno.UnsafePointerView.getCString(p) : "";
}

/** The address of a pointer value as a number (0 for NULL). */
export function addr(p: Deno.PointerValue): number {
  return p ? Number(Deno.UnsafePointer.value(p)) : 0;
}

const FAST_SYMBOLS = {
  wasm_bpf_fast_version: { parameters: [], result: "i32" },
  wasm_bpf_fast_map_op: {
    parameters: ["i32", "i32", "u32", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
  // the same function for host/gate.wat, which passes wasm i32 values: an
  // address half or offset of 2 GiB or more is negative there, which a u32
  // parameter refuses (TypeError) on V8's generic call
  wasm_bpf_fast_map_op_i32: {
    name: "wasm_bpf_fast_map_op",
    parameters: ["i32", "i32", "i32", "i32", "i32", "i32", "i32", "i32"],
    result: "i32",
  },
  wasm_bpf_fast_map_op_abs: {
    parameters: ["i32", "i32", "u32", "u32", "u32", "u32", "u32", "u32", "u32"],
    result: "i32",
  },
} as const;

/** The optional native fast path (native/fastpath.c). */
export type FastPath = Deno.DynamicLibrary<typeof FAST_SYMBOLS>["symbols"];

let fast: FastPath | null | undefined;

/**
 * One of the host's native helpers built by scripts/setup.sh
 * (`build/native/<file>`), or the file the variable `env` names; "" when
 * it says `off` (or the module is not on the file system).
 */
function nativeFile(file: string, env: string): string {
  let path = "";
  try {
    const url = new URL(`../build/native/${file}`, import.meta.url);
    if (url.protocol === "file:") path = url.pathname;
  } catch { /* not a file URL: no default */ }
  path = envPath(env, path);
  return path === "off" ? "" : path;
}

/** native/fastpath.c's library (`WASM_BPF_FAST`). */
const fastPathFile = () => nativeFile("libwasm_bpf_fast.so", "WASM_BPF_FAST");

/**
 * The map-operation fast path built from native/fastpath.c by
 * scripts/setup.sh, or null when it is absent (then libbpf is used).
 * `WASM_BPF_FAST` names another file, or `off` disables it.
 */
export function fastPath(): FastPath | null {
  if (fast === undefined) {
    fast = null;
    const path = fastPathFile();
    if (path) {
      try {
        // compiled at once: a call site that saw a symbol's general-path
        // function and then its trampoline stays on V8's generic call
        // (~400 ns instead of ~20 ns), and map operations come in millions
        const lib = Deno.dlopen(path, FAST_SYMBOLS).symbols;
        if (lib.wasm_bpf_fast_version() >= 2) fast = lib;
      } catch { /* absent or not built: libbpf it is */ }
    }
  }
  return fast;
}

const RING_SYMBOLS = {
  wasm_bpf_fast_version: { parameters: [], result: "i32" },
  // the batch poll's ring copy: consumer, producer, data (lo, hi each),
  // mask, out (lo, hi), out's length, the record count's address (lo, hi)
  wasm_bpf_fast_ring_consume: {
    parameters: [
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
      "u32",
    ],
    result: "i32",
  },
} as const;

/** native/fastpath.c's ring-buffer copy (see {@link fastRing}). */
export type FastRing = Deno.DynamicLibrary<typeof RING_SYMBOLS>["symbols"];

let ring: FastRing | null | undefined;

/**
 * The batch poll's ring-buffer copy from native/fastpath.c (version 3 and
 * later), or null (then TypeScript copies). Bound on Deno's general call
 * path first (ffi/tiered.ts): a call copies up to thousands of records, so
 * its own ~1.5 µs hardly counts, and a run that polls a few times a second
 * never brings in Deno's trampoline compiler (~2 MiB of peak RSS).
 */
export function fastRing(): FastRing | null {
  if (ring === undefined) {
    ring = null;
    const path = fastPathFile();
    if (path) {
      try {
        const lib = lazy(path, RING_SYMBOLS, "wasm_bpf_fast_version", "");
        if (lib.wasm_bpf_fast_version() >= 3) ring = lib;
      } catch { /* absent or not built: TypeScript it is */ }
    }
  }
  return ring;
}

const WATCHDOG_SYMBOLS = {
  wasm_bpf_watchdog_version: { parameters: [], result: "i32" },
  wasm_bpf_watchdog_start: {
    parameters: [
      "i32", // int wake: eventfd made readable at a stop
      "i32", // int grace: ms before a forced exit
      "i32", // int timeout: ms of the time limit, 0 none
      "i32", // int watch_pipe: fd whose hang-up stops the guest, -1 none
      "buffer", // const char *msg_int
      "buffer", // const char *msg_term
      "buffer", // const char *msg_timeout
    ],
    result: "i32",
  },
  wasm_bpf_watchdog_reason: { parameters: [], result: "i32" },
  wasm_bpf_watchdog_reason_word: { parameters: [], result: "pointer" },
  wasm_bpf_watchdog_done: { parameters: [], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The stop watchdog (native/watchdog.c). */
export type Watchdog = Deno.DynamicLibrary<typeof WATCHDOG_SYMBOLS>["symbols"];

let watchdogLib: Watchdog | null | undefined;

/**
 * The stop watchdog built from native/watchdog.c by scripts/setup.sh, or
 * null when it is absent (then guests run in a Worker). `WASM_BPF_WATCHDOG`
 * names another file, or `off` disables it.
 */
export function watchdog(): Watchdog | null {
  if (watchdogLib === undefined) {
    watchdogLib = null;
    const path = nativeFile("libwasm_bpf_watchdog.so", "WASM_BPF_WATCHDOG");
    if (path) {
      try {
        const lib = lazy(
          path,
          WATCHDOG_SYMBOLS,
          "wasm_bpf_watchdog_version",
          "",
        );
        if (lib.wasm_bpf_watchdog_version() === 2) watchdogLib = lib;
      } catch { /* absent or not built: a Worker it is */ }
    }
  }
  return watchdogLib;
}
