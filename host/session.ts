/**
 * One guest's state as the imports see it: its options, memory, policy,
 * object table, interrupt state and log. Internal to `host/`: the public
 * face is {@link ./host.ts}'s `WasmBpfHost`.
 *
 * @module
 */
import { type LibbpfLogger, MapFd } from "../ffi/mod.ts";
import { GuestMemory } from "./memory.ts";
import { type Policy, resolvePolicy } from "./policy.ts";
import { ObjectTable } from "./objects.ts";
import { newStats, STAT_LOADS, statsMemory } from "./metrics/stats.ts";
import { MapGate } from "./gate.ts";
import { gateBits, type OperateImport } from "./maps.ts";

/** Thrown out of an import to unwind a guest after an interrupt. */
export class GuestInterrupted extends Error {
  /**
   * An interrupt by `signal`.
   *
   * @param signal what stopped the guest: `SIGINT`, `SIGTERM`, `timeout`.
   */
  constructor(readonly signal = "SIGINT") {
    super(`guest interrupted by ${signal}`);
    this.name = "GuestInterrupted";
  }
}

/** `HostOptions.mapGateAfter`'s default. */
const GATE_AFTER = 1024;

/** Options of a `WasmBpfHost`. */
export interface HostOptions {
  /** Name of the guest in messages (e.g. its file name). */
  name?: string;
  /** Where host messages go (errors always; details when `verbose`). */
  log?: (line: string) => void;
  /** Also report libbpf's info/debug lines and every denied pointer/fd. */
  verbose?: boolean;
  /**
   * Map operations that take the JavaScript path before the wasm gate
   * (host/gate.ts) is put in place, if it can be (default 1024; 0: at
   * `bind`). Making the gate costs ~1 ms and ~2 MiB of peak memory (V8
   * compiles its fast-call wrapper), and it pays off only over many
   * operations, so guests that make few never have one.
   */
  mapGateAfter?: number;
  /** Where libbpf's own lines go; default: `log` when verbose. */
  libbpfLogger?: LibbpfLogger;
  /** An fd (eventfd) that becomes readable when the host is interrupted. */
  wakeFd?: number;
  /** Whether the host has been interrupted; checked while polling. */
  interrupted?: () => string | false;
  /** Module name of the TinyGo callback import (default "callback-wrapper"). */
  callbackModule?: string;
  /** Guest export called back by that import (default "go-callback"). */
  callbackExport?: string;
  /** What the guest may do; default: what existing hosts allow. */
  policy?: Policy;
  /** Called with every kernel fd the host holds, after each change. */
  onFds?: (fds: number[]) => void;
  /** One JSON object per load, attach, map write and denial. */
  audit?: (event: Record<string, unknown>) => void;
  /**
   * Feed a metrics server (`--metrics`): the host counters' shared buffer,
   * and where to announce loaded objects with duplicated fds of `maps`.
   */
  metrics?: {
    stats: SharedArrayBuffer;
    /** The memory `stats` is the buffer of (host/metrics/stats.ts). */
    statsMemory?: WebAssembly.Memory;
    port?: MessagePort;
    maps: string[];
  };
}

/** The checks of a resolved policy. */
export type ResolvedPolicy = ReturnType<typeof resolvePolicy>;

/** A guest's state, shared by the import implementations. */
export class Session {
  /** The options the host was made with. */
  readonly options: HostOptions;
  /** The guest's name in messages. */
  readonly name: string;
  /** The checks of the guest's policy. */
  readonly policy: ResolvedPolicy;
  /** The objects, maps and buffers the guest holds. */
  readonly objects: ObjectTable = new ObjectTable();
  /** The guest's function table (table-callback polling), once bound. */
  table: WebAssembly.Table | undefined;
  /** The guest's exports, once bound. */
  exports: WebAssembly.Exports | undefined;
  /** The last exception a guest callback threw: rethrown untouched. */
  fromGuest: unknown = undefined;
  /** Set once an interrupt was reported (-EINTR); later calls unwind. */
  interruptSeen = false;
  /** Set by `WasmBpfHost.close()`: every import fails from then on. */
  closed = false;
  /** Host counters (slots of ./metrics/stats.ts), shared with `--metrics`. */
  readonly stats: Float64Array;
  /** The memory `stats` lies in, when it is one (the gate needs it). */
  readonly statsMemory: WebAssembly.Memory | undefined;
  /** The `wasm_bpf_map_operate` import, once made (host/imports.ts). */
  operateImport: OperateImport | undefined;
  /** The map-operation gate, once bound, if this process can have one. */
  gate: MapGate | null = null;
  #memory: GuestMemory | undefined;

  /** A session for a guest run with `options`. */
  constructor(options: HostOptions) {
    this.options = options;
    this.name = options.name ?? "guest";
    this.policy = resolvePolicy(options.policy);
    const m = options.metrics;
    // the gate counts in wasm: it needs the counters as a memory
    this.statsMemory = m ? m.statsMemory : statsMemory();
    this.stats = newStats(
      (this.statsMemory?.buffer as SharedArrayBuffer | undefined) ?? m?.stats,
    );
  }

  /**
   * After a load: counts it, and tells a metrics server about the object
   * (its bytes at `ptr`, for BTF, and duplicates of the exported maps' fds).
   */
  objectLoaded(handle: bigint, ptr: number, len: number): void {
    this.stats[STAT_LOADS]++;
    const m = this.options.metrics;
    if (!m?.port || !m.maps.length) return;
    try {
      const e = this.objects.entry(handle, "metrics");
      const maps = [];
      for (const map of e.obj.maps) {
        if (m.maps.includes(map.name)) {
          maps.push({ name: map.name, fd: MapFd.dup(map.fd) });
        }
      }
      if (!maps.length) return;
      const at = ptr >>> 0;
      m.port.postMessage({
        type: "load",
        handle: Number(handle),
        name: this.name,
        elf: this.mem.bytes.slice(at, at + (len >>> 0)),
        maps,
      });
    } catch (e) {
      this.log(`metrics: ${(e as Error).message}`);
    }
  }

  /** After a close: a metrics server stops reading the object's maps. */
  objectClosed(handle: bigint): void {
    this.options.metrics?.port?.postMessage({
      type: "unload",
      handle: Number(handle),
    });
  }

  /** Binds the instance's `memory`, table and exports. */
  bind(ex: WebAssembly.Exports): void {
    const memory = ex.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new Error(`${this.name}: the guest exports no 'memory'`);
    }
    this.gate?.off();
    this.gate = null;
    this.objects.onMap = undefined;
    this.#memory = new GuestMemory(memory);
    this.gateCountdown = this.options.mapGateAfter ?? GATE_AFTER;
    if (this.gateCountdown <= 0) this.openGate();
    const table = ex.__indirect_function_table;
    this.table = table instanceof WebAssembly.Table ? table : undefined;
    this.exports = ex;
  }

  /**
   * Map operations left on the JavaScript path before {@link openGate}
   * (`HostOptions.mapGateAfter`); 0 once it was tried.
   */
  gateCountdown = 0;

  /**
   * Puts the gate (host/gate.ts) behind the map import, if it can be had,
   * and keeps its descriptors in step with the guest's maps.
   */
  openGate(): void {
    this.gateCountdown = 0;
    const op = this.operateImport;
    const mem = this.#memory;
    if (!op || !mem || !this.statsMemory || this.closed || this.gate) return;
    const gate = MapGate.open({
      memory: mem.memory,
      stats: this.statsMemory,
      table: op.table,
      slow: op.slow,
      address: () => {
        const size = mem.size;
        return { lo: mem.baseLo, hi: mem.baseHi, size };
      },
    });
    if (!gate) {
      this.debug(
        "map operations take the JavaScript path (the wasm gate needs the fast path built and deno run with --v8-flags=--wasm-fast-api)",
      );
      return;
    }
    this.gate = gate;
    this.objects.onMap = (fd, v) => {
      if (v) {
        gate.set(fd, v.map.keySize, v.map.valueBufferSize, gateBits(this, v));
      } else gate.clear(fd);
    };
    for (const [fd, v] of this.objects.mapSlots()) this.objects.onMap(fd, v);
  }

  /** Every later import call fails (`WasmBpfHost.close()`). */
  close(): void {
    this.closed = true;
    this.gate?.off();
  }

  /** The guest's memory; throws if `bind` was not called. */
  get mem(): GuestMemory {
    if (!this.#memory) {
      throw new Error(
        `${this.name}: WasmBpfHost.bind(instance) was not called`,
      );
    }
    return this.#memory;
  }

  /** A host message (always shown). */
  log(line: string): void {
    (this.options.log ?? ((l: string) => console.error(l)))(
      `wasm-bpf: ${line}`,
    );
  }
  /** A detail shown when verbose. */
  debug(line: string): void {
    if (this.options.verbose) this.log(line);
  }
  /** Whether audit records are wanted (skip building them otherwise). */
  get auditing(): boolean {
    return this.options.audit !== undefined;
  }
  /** One audit record, stamped with the time and the guest's name. */
  audit(event: Record<string, unknown>): void {
    this.options.audit?.({
      time: new Date().toISOString(),
      guest: this.name,
      ...event,
    });
  }
  /** Tells `onFds` the kernel fds held now. */
  fdsChanged(): void {
    this.options.onFds?.(this.objects.fds());
  }

  /** Where libbpf's lines go for this guest (undefined: libbpf's default). */
  libbpfLogger(): LibbpfLogger | undefined {
    if (this.options.libbpfLogger) return this.options.libbpfLogger;
    if (!this.options.verbose) return undefined;
    return (level, line) => this.log(`libbpf(${level}): ${line.trimEnd()}`);
  }

  /** Set by `WasmBpfHost.interrupt()`: the reason, or false. */
  interruptRequested: string | false = false;

  /** The interrupt reason, if any (no side effect). */
  interrupted(): string | false {
    return this.interruptRequested || (this.options.interrupted?.() ?? false);
  }

  /** The interrupt reason; unwinds if it was already reported once. */
  checkInterrupt(): string | false {
    const sig = this.interrupted();
    if (sig && this.interruptSeen) throw new GuestInterrupted(sig);
    return sig;
  }
}
