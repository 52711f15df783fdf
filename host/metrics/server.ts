/**
 * The metrics server's Worker: serves `GET /metrics` on its own thread, so
 * a guest that runs synchronously on the main thread (or spins there) is
 * still scraped. It reads the host counters from the shared buffer the
 * guest's thread bumps, and the configured BPF maps itself, by duplicated
 * fds the guest's thread sends when an object loads (see ./mod.ts).
 *
 * @module
 */
import { Btf } from "../../objfile/btf.ts";
import { ElfFile } from "../../objfile/elf.ts";
import { MapFd, numPossibleCpus } from "../../ffi/mod.ts";
import { collectHost, collectMetric, type MapSource } from "./collect.ts";
import {
  btfMaps,
  type CompiledMetric,
  compileMetric,
  isPerCpu,
  type MetricsConfig,
} from "./config.ts";
import { CONTENT_TYPE, Exposition } from "./format.ts";
import { newStats } from "./stats.ts";

/** What starts the server. */
export interface ServerStart {
  type: "start";
  /** Where to listen. */
  hostname: string;
  /** The port (0: any free one). */
  port: number;
  /** The guest's name (label `guest`). */
  guest: string;
  /** Its digest (label `digest`). */
  digest: string;
  /** The host counters. */
  stats: SharedArrayBuffer;
  /** Maps to export, if any. */
  config?: MetricsConfig;
  /** The config's path, for messages. */
  configPath?: string;
  /** Where the guest's thread announces objects ({@link ObjectMessage}). */
  objects: MessagePort;
}

/** From the guest's thread: an object loaded (its maps' fds are ours to close) or closed. */
export type ObjectMessage =
  | {
    type: "load";
    handle: number;
    name: string;
    elf: Uint8Array;
    maps: { name: string; fd: number }[];
  }
  | { type: "unload"; handle: number };

/** What the server reports. */
export type ServerReport =
  | { type: "listening"; address: string }
  | { type: "error"; message: string }
  | { type: "log"; line: string }
  | { type: "closed" };

const scope = globalThis as unknown as {
  postMessage(message: unknown): void;
  onmessage: ((ev: MessageEvent) => void) | null;
  close(): void;
};

function post(r: ServerReport) {
  scope.postMessage(r);
}

/** One exported map of a loaded object. */
interface Exported {
  metric: CompiledMetric;
  map: MapFd;
}

/** Loaded objects by handle, in load order. */
const objects = new Map<number, Exported[]>();
/** Series left out, per metric, summed over scrapes. */
const truncated = new Map<string, number>();
let scrapeErrors = 0;
let start: ServerStart;
let stats: Float64Array;
let server: Deno.HttpServer | undefined;

function onObject(m: ObjectMessage) {
  if (m.type === "unload") {
    for (const e of objects.get(m.handle) ?? []) e.map.close();
    objects.delete(m.handle);
    return;
  }
  const held: { name: string; map: MapFd }[] = [];
  for (const x of m.maps) {
    try {
      held.push({ name: x.name, map: new MapFd(x.fd) }); // closes fd if not a map
    } catch { /* not a map: nothing to export */ }
  }
  const out: Exported[] = [];
  try {
    const btf = Btf.fromElf(new ElfFile(m.name, m.elf));
    const defs = btfMaps(btf);
    start.config?.metrics.forEach((spec, i) => {
      const h = held.find((x) => x.name === spec.map);
      const def = defs.get(spec.map);
      if (!h || !def) return;
      try {
        out.push({
          metric: compileMetric(spec, i, btf, def, start.configPath ?? ""),
          map: h.map,
        });
      } catch (e) {
        post({
          type: "log",
          line: `wasm-bpf: --metrics-config: ${(e as Error).message}`,
        });
      }
    });
  } catch (e) {
    post({
      type: "log",
      line: `wasm-bpf: metrics: cannot read the BTF of ${m.name}: ${
        (e as Error).message
      }`,
    });
  }
  for (const h of held) {
    if (!out.some((x) => x.map === h.map)) h.map.close();
  }
  objects.set(m.handle, out);
}

/** The entries of `map`, at most `maxEntries + 1` keys (a hash map changing under us may restart). */
function source(map: MapFd): MapSource {
  const perCpu = isPerCpu(map.type);
  const cpus = perCpu ? numPossibleCpus() : 1;
  const stride = perCpu ? Math.ceil(map.valueSize / 8) * 8 : map.valueSize;
  return {
    cpus,
    stride,
    forEach(fn) {
      let a = new Uint8Array(map.keySize), b = new Uint8Array(map.keySize);
      const value = new Uint8Array(stride * cpus);
      let prev: Uint8Array | null = null;
      for (let n = 0; n <= map.maxEntries; n++) {
        if (!map.nextKey(prev, a)) return;
        if (map.lookup(a, value) && !fn(a, value)) return;
        prev = a;
        [a, b] = [b, a];
      }
    },
  };
}

function scrape(): string {
  const out = new Exposition();
  collectHost(stats, start.guest, start.digest, out);
  const maxSeries = start.config?.maxSeries ?? 10_000;
  // the latest object holding a metric's map exports it
  const chosen = new Map<string, Exported>();
  for (const list of objects.values()) {
    for (const e of list) chosen.set(e.metric.spec.name, e);
  }
  for (const spec of start.config?.metrics ?? []) {
    const e = chosen.get(spec.name);
    if (!e) continue;
    try {
      const left = collectMetric(e.metric, source(e.map), maxSeries, out);
      if (left) {
        truncated.set(spec.name, (truncated.get(spec.name) ?? 0) + left);
      }
    } catch {
      scrapeErrors++;
    }
  }
  out.family(
    "wasm_bpf_metrics_series_truncated_total",
    "counter",
    `Map keys left out of a scrape because their metric already had maxSeries (${maxSeries}) series, summed over scrapes.`,
  );
  for (const spec of start.config?.metrics ?? []) {
    out.sample(
      "wasm_bpf_metrics_series_truncated_total",
      ["metric"],
      [spec.name],
      truncated.get(spec.name) ?? 0,
    );
  }
  out.family(
    "wasm_bpf_metrics_scrape_errors_total",
    "counter",
    "Maps that could not be read during a scrape.",
  );
  out.sample("wasm_bpf_metrics_scrape_errors_total", [], [], scrapeErrors);
  return out.text();
}

function handler(req: Request): Response {
  const path = new URL(req.url).pathname;
  if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
    return new Response("not found: try GET /metrics\n", { status: 404 });
  }
  return new Response(req.method === "HEAD" ? null : scrape(), {
    headers: { "content-type": CONTENT_TYPE },
  });
}

async function close() {
  await server?.shutdown();
  for (const list of objects.values()) for (const e of list) e.map.close();
  objects.clear();
  start.objects.close();
  post({ type: "closed" });
}

scope.onmessage = (ev: MessageEvent<ServerStart | { type: "close" }>) => {
  const m = ev.data;
  if (m.type === "close") {
    void close();
    return;
  }
  start = m;
  stats = newStats(m.stats);
  m.objects.onmessage = (e: MessageEvent<ObjectMessage>) => {
    try {
      onObject(e.data);
    } catch (err) {
      post({
        type: "log",
        line: `wasm-bpf: metrics: ${(err as Error).message}`,
      });
    }
  };
  try {
    server = Deno.serve({
      hostname: m.hostname,
      port: m.port,
      onListen: (addr) => {
        const host = addr.hostname.includes(":")
          ? `[${addr.hostname}]`
          : addr.hostname;
        post({ type: "listening", address: `${host}:${addr.port}` });
      },
      onError: () => new Response("internal error\n", { status: 500 }),
    }, handler);
  } catch (e) {
    post({
      type: "error",
      message: `cannot listen on ${m.hostname}:${m.port}: ${
        (e as Error).message
      }`,
    });
  }
};
