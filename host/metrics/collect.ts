/**
 * Turns map entries and host counters into an exposition (pure: the
 * entries come from a {@link MapSource}). Every metric keeps at most
 * `maxSeries` series; keys beyond that are counted, not kept, so a guest
 * that fills a map cannot make the exporter allocate without bound.
 *
 * @module
 */
import type { CompiledMetric, IntField } from "./config.ts";
import type { Exposition } from "./format.ts";
import {
  STAT_DENIALS,
  STAT_EVENTS,
  STAT_LOADS,
  STAT_LOST,
  STAT_MAP_DELETE,
  STAT_MAP_LOOKUP,
  STAT_MAP_NEXT_KEY,
  STAT_MAP_UPDATE,
  STAT_POLLS,
} from "./stats.ts";

/** A map's entries: `visit` is called per key with the key and its value (all CPUs). */
export interface MapSource {
  /** Bytes per CPU in the value (8-aligned); the value's size when not per CPU. */
  stride: number;
  /** CPUs in the value (1 when not per CPU). */
  cpus: number;
  /** Calls `fn` for each entry until it returns false. The arrays are reused. */
  forEach(fn: (key: Uint8Array, value: Uint8Array) => boolean): void;
}

function readInt(v: DataView, off: number, f: IntField): number {
  const o = off + f.offset;
  switch (f.size) {
    case 1:
      return f.signed ? v.getInt8(o) : v.getUint8(o);
    case 2:
      return f.signed ? v.getInt16(o, true) : v.getUint16(o, true);
    case 4:
      return f.signed ? v.getInt32(o, true) : v.getUint32(o, true);
    default:
      return Number(
        f.signed ? v.getBigInt64(o, true) : v.getBigUint64(o, true),
      );
  }
}

function sumCpus(
  v: DataView,
  src: MapSource,
  read: (v: DataView, off: number) => number,
): number {
  let s = 0;
  for (let c = 0; c < src.cpus; c++) s += read(v, c * src.stride);
  return s;
}

/** The help of a metric without one. */
function defaultHelp(m: CompiledMetric): string {
  return `BPF map '${m.spec.map}' (${m.spec.kind})`;
}

/**
 * Writes metric `m` from `src` into `out`; returns the series left out
 * (keys whose label set would have been a series past `maxSeries`).
 */
export function collectMetric(
  m: CompiledMetric,
  src: MapSource,
  maxSeries: number,
  out: Exposition,
): number {
  const { spec } = m;
  let truncated = 0;
  type Series = { labels: string[]; value: number; counts?: Float64Array };
  const series = new Map<string, Series>();
  const nslots = m.slots ? m.slots.count : m.bucket ? m.bucket.max + 1 : 0;
  src.forEach((key, value) => {
    const labels = m.labels(key);
    const id = labels.length === 1 ? labels[0] : JSON.stringify(labels);
    let s = series.get(id);
    if (!s) {
      if (series.size >= maxSeries) {
        truncated++;
        return true;
      }
      s = { labels, value: 0 };
      if (nslots) s.counts = new Float64Array(nslots + 1); // + past the last
      series.set(id, s);
    }
    const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
    if (m.value) {
      const f = m.value;
      s.value += sumCpus(v, src, (v, o) => readInt(v, o, f));
    } else if (m.slots) {
      const { offset, count, size } = m.slots;
      for (let i = 0; i < count; i++) {
        const o = offset + i * size;
        s.counts![i] += sumCpus(
          v,
          src,
          size === 4
            ? (v, b) => v.getUint32(b + o, true)
            : (v, b) => Number(v.getBigUint64(b + o, true)),
        );
      }
    } else if (m.bucket) {
      const b = m.bucket;
      const i = b.index(key);
      const n = sumCpus(v, src, (v, o) => readInt(v, o, b.count));
      if (i > b.max) {
        s.counts![nslots] += n; // past bucketMax: only in +Inf
      } else s.counts![i] += n;
    }
    return true;
  });
  out.family(spec.name, spec.kind, spec.help ?? defaultHelp(m));
  const names = m.labelNames;
  for (const s of series.values()) {
    if (!s.counts) {
      out.sample(spec.name, names, s.labels, s.value);
      continue;
    }
    const le = m.le!;
    const bnames = [...names, "le"];
    let cum = 0, sum = 0;
    for (let i = 0; i < nslots; i++) {
      const c = s.counts[i];
      cum += c;
      // _sum is approximate: each count at the middle of its bucket
      const lower = i === 0 ? 0 : le(i - 1);
      sum += c * (lower + le(i)) / 2;
      out.sample(
        `${spec.name}_bucket`,
        bnames,
        [...s.labels, String(le(i))],
        cum,
      );
    }
    const past = s.counts[nslots];
    cum += past;
    sum += past * le(nslots - 1);
    out.sample(`${spec.name}_bucket`, bnames, [...s.labels, "+Inf"], cum);
    out.sample(
      `${spec.name}_sum`,
      names,
      s.labels,
      Number(sum.toPrecision(15)),
    );
    out.sample(`${spec.name}_count`, names, s.labels, cum);
  }
  return truncated;
}

/** The host counters of one guest, as families (labels `guest`, `digest`). */
export function collectHost(
  stats: Float64Array,
  guest: string,
  digest: string,
  out: Exposition,
): void {
  const names = ["guest", "digest"];
  const values = [guest, digest];
  const one = (name: string, help: string, slot: number) => {
    out.family(name, "counter", help);
    out.sample(name, names, values, stats[slot]);
  };
  one(
    "wasm_bpf_events_delivered_total",
    "Records of ring buffers and perf buffers the host handed to the guest (bare objects: decoded).",
    STAT_EVENTS,
  );
  one(
    "wasm_bpf_records_lost_total",
    "Records the kernel reported lost before the host read them (perf buffers; a full ring buffer fails the BPF program's reserve, which the host does not see).",
    STAT_LOST,
  );
  one("wasm_bpf_polls_total", "Buffer polls.", STAT_POLLS);
  out.family(
    "wasm_bpf_map_operations_total",
    "counter",
    "Map operations the guest asked for, by kind.",
  );
  const opNames = [...names, "op"];
  for (
    const [op, slot] of [
      ["lookup", STAT_MAP_LOOKUP],
      ["update", STAT_MAP_UPDATE],
      ["delete", STAT_MAP_DELETE],
      ["next_key", STAT_MAP_NEXT_KEY],
    ] as const
  ) {
    out.sample(
      "wasm_bpf_map_operations_total",
      opNames,
      [...values, op],
      stats[slot],
    );
  }
  one(
    "wasm_bpf_policy_denials_total",
    "Calls the policy refused.",
    STAT_DENIALS,
  );
  one("wasm_bpf_objects_loaded_total", "BPF objects loaded.", STAT_LOADS);
}
