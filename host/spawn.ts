/**
 * One guest, one process: `spawn()` starts a guest in a Deno process of its
 * own and returns a handle shaped like `Deno.ChildProcess`; `run()` is
 * `spawn()` plus waiting for the status.
 *
 * Whatever the guest does (spin, block in a host call, crash the runtime
 * with a crafted object, exhaust memory), it does it in its own process: the
 * embedder's process, its fds and its memory are never touched, and when
 * the guest's process ends the kernel releases every BPF program, link, map
 * and socket it held. A stop is asked for politely first (SIGTERM: the
 * guest's poll returns -EINTR and it may clean up), and enforced after a
 * grace period (SIGKILL).
 *
 * ```ts
 * import { spawn } from "@wasm-bpf/run";
 *
 * await using guest = spawn("bootstrap.wasm", { stdout: "piped" });
 * for await (const chunk of guest.stdout!) {
 *   console.log(new TextDecoder().decode(chunk));
 *   break;
 * }
 * guest.kill();
 * console.log(await guest.status); // { kind: "interrupted", signal: "SIGTERM", ... }
 * ```
 *
 * @module
 */
import {
  type ChildConfig,
  FrameReader,
  fromBase64,
  type PreopenSpec,
  toBase64,
} from "./protocol.ts";
import { coreBtfDir } from "./core_btf.ts";
import type { Policy } from "./policy.ts";
import type { Credentials } from "./oci/client.ts";
import { looksLikeReference } from "./oci/ref.ts";
import { parseListen } from "./metrics/listen.ts";
import { crashed, failed, type GuestStatus, isGuestStatus } from "./status.ts";

/** Options of {@link spawn} and {@link run}. */
export interface SpawnOptions {
  /** Guest argv after argv[0] (argv[0] is `name`). */
  args?: string[];
  /** argv[0] and the guest's name in messages (default: the file name). */
  name?: string;
  /** The guest's environment (WASI): nothing unless given. */
  env?: Record<string, string>;
  /**
   * Directories the guest may use: guest path → host path (read-only), or
   * a list of {@link PreopenSpec} to grant write access.
   */
  preopens?: Record<string, string> | PreopenSpec[];
  /** Log host decisions and libbpf's info lines. */
  verbose?: boolean;
  /** What the guest may do; see {@link Policy}. */
  policy?: Policy;
  /** Receives one JSON-able record per load, attach, map write, denial. */
  audit?: (record: Record<string, unknown>) => void;
  /**
   * Host messages: errors, denials, a failed load with the verifier's
   * reason, and more when `verbose`. Default: this process's stderr.
   */
  log?: (line: string) => void;
  /** The guest's stdout: `"inherit"` (default), `"piped"` or `"null"`. */
  stdout?: "inherit" | "piped" | "null";
  /** The guest's stderr: `"inherit"` (default), `"piped"` or `"null"`. */
  stderr?: "inherit" | "piped" | "null";
  /** Stops the guest (as `kill("SIGINT")`) when aborted. */
  signal?: AbortSignal;
  /** How long a stopped guest may take to unwind before it is killed (default 2000 ms). */
  graceMs?: number;
  /**
   * A module of the embedder's whose default export is an import object
   * (`{ module: { name: function } }`), or a function of a
   * {@link HostFunctionContext} returning one. It is loaded in the guest's
   * process, and its modules become imports of the guest.
   */
  imports?: string | URL;
  /** Module name of the TinyGo-style callback import (default `callback-wrapper`). */
  callbackModule?: string;
  /** Guest export called by that import (default `go-callback`). */
  callbackExport?: string;
  /**
   * For a guest given as an OCI reference ({@link run}): the registry's
   * user name and password (default: its entry in `~/.docker/config.json`).
   */
  credentials?: Credentials;
  /**
   * For a guest given as an OCI reference ({@link run}): allow plain HTTP
   * to a registry other than localhost/127.0.0.1 (default false).
   */
  insecure?: boolean;
  /**
   * Serve Prometheus metrics from the guest's process while it runs (as the
   * CLI's `--metrics`): `listen` is `HOST:PORT` (`:PORT` is every
   * interface, port 0 a free one; the address is reported through `log`),
   * `config` the parsed `--metrics-config` (maps to export). The guest's
   * process gets `--allow-net` for that host only.
   */
  metrics?: SpawnMetrics;
}

/** The `metrics` option of {@link spawn}. */
export interface SpawnMetrics {
  /** `HOST:PORT` to listen on. */
  listen: string;
  /** Maps to export, as `--metrics-config` reads them. */
  config?: unknown;
  /** Where the config came from, for messages. */
  configPath?: string;
  /** The `guest` label (default: the guest's name). */
  guest?: string;
  /** The `digest` label (default: the sha256 of the guest's bytes). */
  digest?: string;
}

/** `--allow-net` for the host of `listen` (checked: one clear line if bad). */
function allowNetFor(listen: string): string {
  const { hostname } = parseListen(listen);
  return `--allow-net=${hostname.includes(":") ? `[${hostname}]` : hostname}`;
}

export type { HostFunctionContext } from "./guest.ts";
export type { PreopenSpec } from "./protocol.ts";

/** A guest running in a process of its own; see {@link spawn}. */
export class GuestProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #graceMs: number;
  #paused = false;
  #killTimer: ReturnType<typeof setTimeout> | undefined;
  #exited = false;
  #failure: string | undefined;
  /**
   * @internal The guest's name while this process pulls its image; unset
   * when the pull ends or {@link kill} ends the process first.
   */
  pulling: string | undefined;
  /** Settles when the guest's process is gone, with how the guest ended. */
  readonly status: Promise<GuestStatus>;
  /** The guest's stdout when spawned with `stdout: "piped"`, else null. */
  readonly stdout: ReadableStream<Uint8Array> | null;
  /** The guest's stderr when spawned with `stderr: "piped"`, else null. */
  readonly stderr: ReadableStream<Uint8Array> | null;

  /** @internal Use {@link spawn}. */
  constructor(
    child: Deno.ChildProcess,
    config: ChildConfig,
    options: SpawnOptions,
  ) {
    this.#child = child;
    this.#graceMs = config.graceMs;
    this.stdout = options.stdout === "piped" ? child.stdout : null;
    const log = options.log ?? ((l: string) => console.error(l));
    let stderrCtl: ReadableStreamDefaultController<Uint8Array> | undefined;
    this.stderr = options.stderr === "piped"
      ? new ReadableStream({ start: (c) => void (stderrCtl = c) })
      : null;
    const writeStderr = options.stderr === "null"
      ? () => {}
      : stderrCtl
      ? (b: Uint8Array) => stderrCtl!.enqueue(b)
      : (b: Uint8Array) => void Deno.stderr.writeSync(b);

    const reported = Promise.withResolvers<GuestStatus | undefined>();
    const runtimeText: string[] = [];
    let runtimeLines = 0;
    const reader = new FrameReader();
    const handle = (events: ReturnType<FrameReader["push"]>) => {
      for (const ev of events) {
        if ("text" in ev) {
          // the runtime's own words (a panic, a fatal error): keep the last
          runtimeText.push(ev.text);
          if (runtimeText.length > 20) runtimeText.shift();
          // a fatal error's backtrace can run long: its head is enough
          if (++runtimeLines <= 12) log(ev.text);
          continue;
        }
        const f = ev.frame;
        if (f.t === "log") log(f.line);
        else if (f.t === "audit") options.audit?.(f.record);
        else if (f.t === "stderr") writeStderr(fromBase64(f.data));
        else if (f.t === "status" && isGuestStatus(f.status)) {
          reported.resolve(f.status);
        }
      }
    };
    const pump = (async () => {
      try {
        for await (const chunk of child.stderr) handle(reader.push(chunk));
      } catch { /* the pipe broke: the process is gone */ }
      handle(reader.end());
      try {
        stderrCtl?.close();
      } catch { /* cancelled by the reader */ }
      reported.resolve(undefined);
    })();
    this.status = (async () => {
      const st = await child.status;
      this.#exited = true;
      clearTimeout(this.#killTimer);
      await pump;
      if (this.#failure !== undefined) return failed(this.#failure);
      const frame = await reported.promise;
      if (frame && st.signal === null) return frame;
      if (st.signal !== null) {
        const limit = config.policy.maxMemoryBytes;
        const oom = runtimeText.some((l) =>
          /out of memory|heap limit/i.test(l)
        );
        const why = oom
          ? `it ran out of memory${
            limit !== undefined
              ? ` (the limit is ${
                Math.round(limit / 2 ** 20)
              } MiB, --max-memory)`
              : ""
          }`
          : runtimeText.filter((l) => l.trim()).slice(-3).join("; ");
        return crashed(
          st.signal,
          `${config.name}: the guest's process died by ${st.signal}${
            why ? `: ${why}` : ""
          }`,
        );
      }
      return frame ?? failed(
        `${config.name}: the guest's process exited with ${st.code} without a status${
          runtimeText.length ? `: ${runtimeText.slice(-3).join("; ")}` : ""
        }`,
      );
    })();
    options.signal?.addEventListener("abort", () => this.kill("SIGINT"), {
      once: true,
    });
    if (options.signal?.aborted) this.kill("SIGINT");
  }

  /**
   * @internal Ends the guest's process before it got a guest (a pull that
   * failed): the status is `failed` with `message`.
   */
  failWith(message: string): void {
    this.#failure = message;
    try {
      this.#child.kill("SIGKILL");
    } catch { /* gone */ }
  }

  /** Process id of the guest's process. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the guest is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * Stops the guest's process where it stands (SIGSTOP): it runs no code and
   * prints nothing until {@link resume}. Its BPF programs stay attached and
   * their events wait in the buffers (a full ring buffer drops new ones).
   */
  pause(): void {
    if (this.#exited || this.#paused) return;
    this.#child.kill("SIGSTOP");
    this.#paused = true;
  }

  /** Lets a paused guest go on (SIGCONT). */
  resume(): void {
    if (this.#exited || !this.#paused) return;
    this.#child.kill("SIGCONT");
    this.#paused = false;
  }

  /**
   * Asks the guest to stop (`SIGTERM` by default; `SIGINT` is Ctrl-C): its
   * poll returns -EINTR once, then it is unwound. If its process has not
   * ended after the grace period, it is killed (SIGKILL). `SIGKILL` kills
   * at once. Safe to call more than once and after the end.
   */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#exited) return;
    if (this.pulling !== undefined) {
      // no guest yet: nothing to unwind
      this.failWith(
        `${this.pulling}: stopped while its image was being pulled`,
      );
      this.pulling = undefined;
      return;
    }
    try {
      this.#child.kill(signal);
      if (this.#paused) {
        this.#child.kill("SIGCONT");
        this.#paused = false;
      }
    } catch { /* already gone */ }
    if (signal !== "SIGKILL" && this.#killTimer === undefined) {
      // the guest's process ends a stuck guest itself after graceMs; this
      // is the backstop for a process that cannot even do that
      this.#killTimer = setTimeout(() => {
        try {
          this.#child.kill("SIGKILL");
        } catch { /* gone */ }
      }, this.#graceMs + 2000);
    }
  }

  /** Stops the guest if it still runs, and waits for its process to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (!this.#exited) this.kill();
    try {
      await this.status;
    } finally {
      try {
        await this.stdout?.cancel();
      } catch { /* locked by a reader, or closed */ }
    }
  }
}

function preopenList(p: SpawnOptions["preopens"]): PreopenSpec[] {
  if (!p) return [];
  if (Array.isArray(p)) return p;
  return Object.entries(p).map(([guest, host]) => ({ guest, host }));
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function wasmSource(
  wasm: string | URL | Uint8Array,
): { config: ChildConfig["wasm"]; file: string; ref?: string } {
  if (wasm instanceof Uint8Array) {
    return { config: { base64: toBase64(wasm) }, file: "guest.wasm" };
  }
  const path = wasm instanceof URL ? decodeURIComponent(wasm.pathname) : wasm;
  if (wasm instanceof URL && wasm.protocol !== "file:") {
    throw new TypeError(
      `spawn: only file: URLs, paths and bytes are guests (got ${wasm.href})`,
    );
  }
  if (typeof wasm === "string" && looksLikeReference(wasm) && !exists(wasm)) {
    // pulled by this process (its permissions, its cache) after the start
    return { config: { path: "" }, file: wasm, ref: wasm };
  }
  return { config: { path }, file: path };
}

/** `--allow-write` for the kernel BTF cache, when this process has it. */
function coreBtfWrite(): string[] {
  // core-btf/ itself: the cache makes it and this kernel's directory
  const dir = coreBtfDir()?.replace(/\/[^/]+$/, "");
  if (!dir) return [];
  try {
    const { state } = Deno.permissions.querySync({ name: "write", path: dir });
    return state === "granted" ? [`--allow-write=${dir}`] : [];
  } catch {
    return [];
  }
}

/**
 * Starts the guest at `wasm` (a path, a `file:` URL, or the bytes) in a
 * process of its own and returns its handle. `wasm` may also be an OCI
 * reference (not a path on disk): the process starts at once and gets its
 * guest when this process has pulled and verified the image (as {@link run}
 * does); a pull that fails settles `status` as `failed` with the reason.
 * Needs Deno's `--allow-run`
 * (for `Deno.execPath()`); the guest's process gets `--allow-ffi`,
 * `--allow-read`, the library-path variables and the cache's location
 * (HOME, XDG_CACHE_HOME) of `--allow-env`, and `--allow-write` for the
 * kernel BTF cache (host/core_btf.ts) if this process may write there.
 */
export function spawn(
  wasm: string | URL | Uint8Array,
  options: SpawnOptions = {},
): GuestProcess {
  const { config: source, file, ref } = wasmSource(wasm);
  const name = options.name ?? (ref ?? file.split("/").pop()!);
  const config: ChildConfig = {
    wasm: source,
    name,
    args: options.args ?? [],
    env: options.env ?? {},
    preopens: preopenList(options.preopens),
    verbose: options.verbose ?? false,
    policy: options.policy ?? {},
    audit: !!options.audit,
    imports: options.imports === undefined
      ? undefined
      : new URL(options.imports, `file://${Deno.cwd()}/`).href,
    callbackModule: options.callbackModule,
    callbackExport: options.callbackExport,
    graceMs: options.graceMs ?? 2000,
    serveMetrics: options.metrics && {
      listen: options.metrics.listen,
      guest: options.metrics.guest,
      digest: options.metrics.digest,
      config: options.metrics.config,
      configPath: options.metrics.configPath,
    },
  };
  const limit = config.policy.maxMemoryBytes;
  const args = [
    "run",
    "--quiet",
    "--no-prompt",
    "--allow-ffi",
    "--allow-read",
    "--allow-env=WASM_BPF_LIBBPF,WASM_BPF_LIBC,WASM_BPF_FAST,WASM_BPF_WATCHDOG,HOME,XDG_CACHE_HOME",
    ...(options.metrics ? [allowNetFor(options.metrics.listen)] : []),
    // the kernel BTF cache (host/core_btf.ts), where this process may write it
    ...coreBtfWrite(),
    // map operations through the wasm gate (host/gate.ts); the memory
    // ceiling covers the JavaScript heap too (WasmGC objects live there)
    `--v8-flags=--wasm-fast-api${
      limit !== undefined
        ? `,--max-old-space-size=${
          Math.max(64, Math.ceil(limit / 2 ** 20) + 64)
        }`
        : ""
    }`,
    new URL("./child.ts", import.meta.url).href,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "piped",
    stdout: options.stdout ?? "inherit",
    stderr: "piped",
    env: { DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  const send = (c: ChildConfig) =>
    writer.write(new TextEncoder().encode(JSON.stringify(c) + "\n")).catch(
      () => {/* the process is already gone: its status says why */},
    );
  // the pipe stays open: its end tells the guest's process to stop
  const handle = new GuestProcess(child, config, options);
  handle.status.finally(() => writer.close().catch(() => {}));
  if (ref === undefined) {
    send(config);
    return handle;
  }
  // the guest's process waits for its config while this one pulls the
  // image (verified, checked against allowImages, its digest audited); a
  // pull that fails, or a stop meanwhile, ends the process with no guest run
  handle.pulling = name;
  (async () => {
    const image = await pullGuest(ref, options)
      .catch((e: Error) => `${ref}: ${e.message}`);
    if (handle.pulling === undefined) return; // kill() ended it already
    handle.pulling = undefined;
    if (image && typeof image !== "string") {
      send({
        ...config,
        wasm: { base64: toBase64(image.bytes) },
        serveMetrics: config.serveMetrics &&
          {
            ...config.serveMetrics,
            digest: config.serveMetrics.digest ?? image.digest,
          },
      });
    } else {
      handle.failWith(image ?? `${ref}: not a file and not a reference`);
    }
  })();
  return handle;
}

/**
 * Pulls the guest at `ref` as `options` say (verified, checked against the
 * policy's `allowImages`, audited): its bytes and the image's digest, the
 * reason it cannot run, or undefined when `ref` is a file or no reference.
 */
async function pullGuest(
  ref: string,
  options: SpawnOptions,
): Promise<{ bytes: Uint8Array; digest?: string } | string | undefined> {
  const { resolveGuest } = await import("./oci/guest.ts");
  let digest: string | undefined;
  const bytes = await resolveGuest(
    ref,
    options.policy?.allowImages,
    (record) => {
      if (record.event === "image") digest = String(record.digest);
      options.audit?.(record);
    },
    { credentials: options.credentials, insecure: options.insecure },
  );
  return bytes instanceof Uint8Array ? { bytes, digest } : bytes;
}

/**
 * Runs the guest to its end in a process of its own: {@link spawn} plus its
 * status. `wasm` may also be an OCI reference (`host[:port]/repo:tag` or
 * `...@sha256:...`, not a path on disk): pulled and verified first (see
 * `pull`; `credentials` and `insecure` say how to reach the registry),
 * checked against the policy's `allowImages`, its digest sent to `audit` as
 * `{ event: "image", ref, digest }`; the guest is then named by the
 * reference in messages (and argv[0]) unless `name` is given.
 */
export async function run(
  wasm: string | URL | Uint8Array,
  options: SpawnOptions = {},
): Promise<GuestStatus> {
  if (typeof wasm === "string") {
    // an OCI reference (a path that exists is a file): pulled before the
    // guest's process starts
    const image = await pullGuest(wasm, options);
    if (typeof image === "string") return failed(image);
    if (image) {
      options = { ...options, name: options.name ?? wasm };
      wasm = image.bytes;
    }
  }
  let guest: GuestProcess;
  try {
    guest = spawn(wasm, options);
  } catch (e) {
    return failed((e as Error).message);
  }
  return await guest.status;
}
