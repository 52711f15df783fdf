/**
 * WASI preview 1 for guests, with a filesystem the kernel confines: the
 * door to ./wasi.ts (the {@link Wasi} class) and ./errno.ts.
 *
 * @example
 * ```ts ignore
 * import { Wasi } from "./mod.ts";
 * const wasi = new Wasi({
 *   args: ["guest"],
 *   env: {},
 *   preopens: [{ guest: "/data", host: "/tmp/data", writable: false }],
 *   stdout: 1,
 *   stderr: 2,
 * });
 * const module = await WebAssembly.compile(await Deno.readFile("guest.wasm"));
 * Deno.exitCode = wasi.start(new WebAssembly.Instance(module, wasi.imports));
 * ```
 *
 * @module
 */
export {
  type Preopen,
  Wasi,
  WasiExit,
  WasiInterrupted,
  type WasiOptions,
} from "./wasi.ts";
export { Errno, fromLinuxErrno } from "./errno.ts";
