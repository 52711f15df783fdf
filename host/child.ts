/**
 * The guest's own process: started by {@link ./spawn.ts} with the least
 * Deno permissions it needs, it reads its {@link ChildConfig} from stdin,
 * runs the guest with {@link ./runner.ts}, reports on stderr in frames
 * ({@link ./protocol.ts}) and exits with the command line's status for
 * the outcome. The end of stdin (the embedder is gone, or disposed of its
 * handle) stops the guest like SIGTERM.
 *
 * Not an API: run only by `spawn()`.
 *
 * @module
 */
import {
  type ChildConfig,
  encodeFrame,
  type Frame,
  fromBase64,
  toBase64,
} from "./protocol.ts";
import { compileGuest, preflight, startGuest } from "./runner.ts";
import { failed, type GuestStatus } from "./status.ts";

function send(frame: Frame): void {
  const bytes = encodeFrame(frame);
  for (let off = 0; off < bytes.length;) {
    off += Deno.stderr.writeSync(bytes.subarray(off));
  }
}

/** Reads the first line of stdin; the rest of the stream is returned to watch. */
async function readConfig(): Promise<
  { config: ChildConfig; rest: ReadableStreamDefaultReader<Uint8Array> }
> {
  const reader = Deno.stdin.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error("no configuration on stdin");
    const nl = value.indexOf(0x0a);
    chunks.push(nl >= 0 ? value.subarray(0, nl) : value);
    total += nl >= 0 ? nl : value.length;
    if (nl >= 0) break;
  }
  const line = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    line.set(c, off);
    off += c.length;
  }
  return {
    config: JSON.parse(new TextDecoder().decode(line)) as ChildConfig,
    rest: reader,
  };
}

async function main(): Promise<GuestStatus> {
  let config: ChildConfig;
  let rest: ReadableStreamDefaultReader<Uint8Array>;
  try {
    ({ config, rest } = await readConfig());
  } catch (e) {
    return failed(`wasm-bpf child: ${(e as Error).message}`);
  }
  const file = "path" in config.wasm ? config.wasm.path : config.name;
  let bytes: Uint8Array;
  try {
    bytes = "path" in config.wasm
      ? await Deno.readFile(config.wasm.path)
      : fromBase64(config.wasm.base64);
  } catch (e) {
    return failed(`cannot read ${file}: ${(e as Error).message}`);
  }
  const module = await compileGuest(
    bytes,
    file,
    config.policy.maxMemoryBytes,
  );
  if (!(module instanceof WebAssembly.Module)) return module;
  const missing = preflight();
  if (missing) return missing;
  let server: import("./metrics/mod.ts").MetricsServer | undefined;
  if (config.serveMetrics) {
    // this process serves /metrics (a Worker of its own), fed like the CLI's
    const m = await import("./metrics/mod.ts");
    const want = config.serveMetrics;
    try {
      server = await m.startMetricsServer({
        listen: want.listen,
        guest: want.guest ?? config.name,
        digest: want.digest ?? await m.sha256Digest(bytes),
        config: want.config as import("./metrics/mod.ts").MetricsConfig,
        configPath: want.configPath,
      });
    } catch (e) {
      return failed(`--metrics: ${(e as Error).message}`);
    }
    server.onLog = (line) => send({ t: "log", line });
    send({
      t: "log",
      line: `wasm-bpf: metrics at http://${server.address}/metrics`,
    });
    config = { ...config, metrics: server.link };
  }
  const guest = startGuest(module, config, {
    log: (line) => send({ t: "log", line }),
    audit: config.audit ? (record) => send({ t: "audit", record }) : undefined,
    stderr: (data) => send({ t: "stderr", data: toBase64(data) }),
    handleSignals: true,
    watchStdin: true,
    forcedExit: (status) =>
      new TextDecoder().decode(encodeFrame({ t: "status", status })),
  });
  // the end of stdin: the embedder is gone or let go of its handle
  (async () => {
    try {
      while (!(await rest.read()).done) {
        /* nothing is sent after the config */
      }
    } catch { /* closed */ }
    guest.stop("SIGTERM");
  })();
  try {
    return await guest.status;
  } finally {
    await server?.close();
  }
}

if (import.meta.main) {
  const status = await main();
  send({ t: "status", status });
  Deno.exit(status.code);
}
