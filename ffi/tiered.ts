/**
 * Native symbols bound in two tiers, as V8 tiers JavaScript: a symbol
 * starts on Deno's general call path (`Deno.UnsafeFnPointer`, libffi) and
 * moves to a compiled fast-call trampoline (`Deno.dlopen`) once it has
 * been called {@link HOT_CALLS} times.
 *
 * Why: Deno compiles a trampoline for every `Deno.dlopen` symbol, and the
 * first one in a process brings in its compiler: ~2 ms and ~4 MiB of peak
 * RSS, then ~0.3 ms per symbol. A run that calls each symbol a few times
 * (open, load, attach, a poll a second) never needs it. A general-path
 * call costs ~1.5 µs more, so after ~1000 calls the trampoline has paid
 * for itself: that is where a symbol moves up (polls and writes of a busy
 * guest).
 *
 * Not for symbols called millions of times: a call site that saw the
 * general-path function and then the trampoline is megamorphic for V8 and
 * calls the trampoline the generic way (~400 ns, not ~20 ns). The map
 * operations' fast path is bound compiled at its first use instead.
 *
 * @module
 */

/** Calls after which a symbol gets Deno's compiled fast-call trampoline. */
export const HOT_CALLS = 1024;

// dlopen/dlsym through Deno's general path: a struct result is never a
// fast call, so binding them compiles nothing
const PTR_RESULT = { struct: ["pointer"] } as const;
const DL_SYMBOLS = {
  dlopen: { parameters: ["buffer", "i32"], result: PTR_RESULT },
  dlsym: { parameters: ["pointer", "buffer"], result: PTR_RESULT },
} as const;
let dl: Deno.DynamicLibrary<typeof DL_SYMBOLS>["symbols"] | null | undefined;
const handles = new Map<string, Deno.PointerValue>();
const encoder = new TextEncoder();

function pointerIn(result: Uint8Array): Deno.PointerValue {
  const v = new DataView(result.buffer, result.byteOffset, 8).getBigUint64(
    0,
    true,
  );
  return Deno.UnsafePointer.create(v);
}

/** A NUL-terminated copy of `s` for passing as a C string. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(s + "\0") as Uint8Array<ArrayBuffer>;
}

/**
 * The address of `name` in the library at `path` (dlopen'd once, lazily
 * bound), or null when the library or the symbol cannot be found that way.
 * `libc` is where dlopen and dlsym live.
 */
function address(
  libc: string,
  path: string,
  name: string,
): Deno.PointerObject | null {
  if (dl === undefined) {
    try {
      dl = Deno.dlopen(libc, DL_SYMBOLS).symbols;
    } catch {
      dl = null;
    }
  }
  if (!dl) return null;
  let handle = handles.get(path);
  if (handle === undefined) {
    handle = pointerIn(dl.dlopen(cstr(path), 1 /* RTLD_LAZY */));
    handles.set(path, handle);
  }
  if (!handle) return null;
  return pointerIn(dl.dlsym(handle, cstr(name)));
}

/** What {@link tieredLibrary} needs besides the symbol table. */
export interface TieredOptions {
  /** The C library's path (where dlopen and dlsym are). */
  libc: string;
  /**
   * Binds one symbol the compiled way: `Deno.dlopen(path, { [name]: def })`
   * with the caller's error handling (a missing library or symbol throws
   * from here, with the caller's message).
   */
  open: (table: Deno.ForeignLibraryInterface) => Record<string, unknown>;
  /** A symbol bound at once, so that a missing library fails there. */
  probe?: string;
}

/**
 * The symbols of `table` in the library at `path`, each bound on its first
 * use on the general path and moved to a compiled trampoline after
 * {@link HOT_CALLS} calls (the table's property is replaced by it, so
 * callers that look it up each time call it directly). Nonblocking
 * symbols, and any whose address dlsym cannot give, are bound compiled.
 */
export function tieredLibrary<S extends Deno.ForeignLibraryInterface>(
  path: string,
  table: S,
  options: TieredOptions,
): Deno.DynamicLibrary<S>["symbols"] {
  const out = {} as Record<string, unknown>;
  const compiled = (name: string) => {
    const value = options.open({ [name]: table[name] })[name];
    Object.defineProperty(out, name, { value, enumerable: true });
    return value;
  };
  const bind = (name: string) => {
    const def = table[name] as Deno.ForeignFunction;
    // a table's key may name another symbol (`name: "syscall"`)
    const symbol = (def as { name?: string }).name ?? name;
    const p = def.nonblocking ? null : address(options.libc, path, symbol);
    if (!p) return compiled(name); // the error, if any, is Deno's
    const slow = new Deno.UnsafeFnPointer(
      p as Deno.PointerObject<typeof def>,
      def,
    );
    let left = HOT_CALLS;
    let hot: ((...args: unknown[]) => unknown) | undefined;
    const value = (...args: unknown[]) => {
      // a caller that kept this function itself still gets the fast one
      if (hot) return hot(...args);
      if (--left === 0) hot = compiled(name) as typeof hot;
      return slow.call(...(args as never[]));
    };
    Object.defineProperty(out, name, {
      value,
      enumerable: true,
      configurable: true,
    });
    return value;
  };
  for (const name of Object.keys(table)) {
    Object.defineProperty(out, name, {
      configurable: true,
      enumerable: true,
      get: () => bind(name),
    });
  }
  if (options.probe) bind(options.probe);
  return out as Deno.DynamicLibrary<S>["symbols"];
}
