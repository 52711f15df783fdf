/**
 * `--metrics HOST:PORT`: a Prometheus endpoint for one guest or bare
 * object, served by a Worker ({@link ./server.ts}) so that it answers while
 * the guest runs on the main thread. The guest's thread bumps the host
 * counters in a shared buffer ({@link ./stats.ts}) and announces each
 * object it loads with duplicated fds of the maps the config exports.
 *
 * @module
 */
import { MapFd } from "../../ffi/mod.ts";
import type { ObjectMetricsHook } from "../object_run.ts";
import type { MetricsConfig } from "./config.ts";
import { parseListen } from "./listen.ts";
import type { ObjectMessage, ServerReport, ServerStart } from "./server.ts";
import {
  newStats,
  STAT_EVENTS,
  STAT_LOADS,
  STAT_LOST,
  STAT_POLLS,
  statsMemory,
} from "./stats.ts";

/** `sha256:<hex>` of `bytes`: the `digest` label of a guest run from a file. */
export { sha256 as sha256Digest } from "../oci/cache.ts";

export {
  checkConfig,
  embeddedObjects,
  type MetricsConfig,
  MetricsConfigError,
  parseMetricsConfig,
  wasmDataImage,
} from "./config.ts";
export { parseListen } from "./listen.ts";

/** What a guest's host needs to feed the server (in-process, or transferred to a guest Worker). */
export interface MetricsLink {
  /** The host counters' buffer. */
  stats: SharedArrayBuffer;
  /** The shared memory `stats` is the buffer of (the map gate counts in it). */
  statsMemory: WebAssembly.Memory;
  /** Where loads and closes are announced. */
  port: MessagePort;
  /** The maps the config exports (only these fds are duplicated). */
  maps: string[];
}

/** A running metrics server. */
export interface MetricsServer {
  /** The bound address, `HOST:PORT`. */
  readonly address: string;
  /** The host counters (bump them on the guest's thread). */
  readonly stats: Float64Array;
  /** For a guest's host ({@link MetricsLink}); hand it to one guest. */
  readonly link: MetricsLink;
  /** Messages of the server (config entries that do not fit a loaded object). */
  onLog?: (line: string) => void;
  /** Closes the server (the port is free when it settles) and the fds it holds. */
  close(): Promise<void>;
}

/** Options of {@link startMetricsServer}. */
export interface MetricsOptions {
  /** `HOST:PORT` ({@link parseListen}). */
  listen: string;
  /** The guest's name (label `guest`). */
  guest: string;
  /** Its digest, `sha256:...` (label `digest`). */
  digest: string;
  /** Maps to export. */
  config?: MetricsConfig;
  /** The config's path, for messages. */
  configPath?: string;
}

/**
 * Announces a loaded object on `port`: its ELF bytes (for BTF) and a
 * duplicate fd of each map in `wanted` (the server owns and closes them).
 */
export function announceObject(
  port: MessagePort,
  handle: number,
  name: string,
  elf: Uint8Array,
  maps: readonly { name: string; fd: number }[],
  wanted: readonly string[],
): void {
  const out: { name: string; fd: number }[] = [];
  for (const m of maps) {
    if (wanted.includes(m.name) && m.fd >= 0) {
      out.push({ name: m.name, fd: MapFd.dup(m.fd) });
    }
  }
  if (!out.length) return;
  const msg: ObjectMessage = { type: "load", handle, name, elf, maps: out };
  port.postMessage(msg);
}

/**
 * Starts the server; resolves once it listens. Throws Error with one line
 * (the address cannot be bound, ...).
 */
export async function startMetricsServer(
  opts: MetricsOptions,
): Promise<MetricsServer> {
  const { hostname, port } = parseListen(opts.listen);
  const memory = statsMemory(); // host/gate.wat counts in it too
  const shared = memory.buffer as SharedArrayBuffer;
  const channel = new MessageChannel();
  const worker = new Worker(new URL("./server.ts", import.meta.url), {
    type: "module",
  });
  const listening = Promise.withResolvers<string>();
  const closed = Promise.withResolvers<void>();
  const made: { server?: MetricsServer } = {};
  worker.onmessage = (ev: MessageEvent<ServerReport>) => {
    const r = ev.data;
    if (r.type === "listening") listening.resolve(r.address);
    else if (r.type === "error") listening.reject(new Error(r.message));
    else if (r.type === "log") (made.server?.onLog ?? console.error)(r.line);
    else if (r.type === "closed") closed.resolve();
  };
  worker.onerror = (ev) => {
    ev.preventDefault();
    listening.reject(new Error(`metrics server failed: ${ev.message}`));
    closed.resolve();
  };
  const start: ServerStart = {
    type: "start",
    hostname,
    port,
    guest: opts.guest,
    digest: opts.digest,
    stats: shared,
    config: opts.config,
    configPath: opts.configPath,
    objects: channel.port2,
  };
  worker.postMessage(start, [channel.port2]);
  let address: string;
  try {
    address = await listening.promise;
  } catch (e) {
    worker.terminate();
    channel.port1.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  const server: MetricsServer = made.server = {
    address,
    stats: newStats(shared),
    link: {
      stats: shared,
      statsMemory: memory,
      port: channel.port1,
      maps: [...new Set(opts.config?.metrics.map((m) => m.map) ?? [])],
    },
    close() {
      return closing ??= (async () => {
        worker.postMessage({ type: "close" });
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          closed.promise,
          new Promise<void>((r) => timer = setTimeout(r, 2000)),
        ]);
        clearTimeout(timer);
        worker.terminate();
        channel.port1.close();
      })();
    },
  };
  return server;
}

/** What a bare object's run tells the server ({@link ../object_run.ts}). */
export function objectHook(
  server: MetricsServer,
  name: string,
): ObjectMetricsHook {
  const stats = server.stats;
  return {
    loaded(elf, maps) {
      stats[STAT_LOADS]++;
      announceObject(server.link.port, 1, name, elf, maps, server.link.maps);
    },
    polled(events, buffers) {
      stats[STAT_POLLS]++;
      stats[STAT_EVENTS] += events;
      let lost = 0;
      for (const b of buffers) lost += b.reader.lost;
      stats[STAT_LOST] = lost;
    },
  };
}
