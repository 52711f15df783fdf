/**
 * `--metrics-config FILE.json`: which BPF maps to export and how, checked
 * in full before anything loads (pure: JSON and BTF, no kernel).
 *
 * ```json
 * {
 *   "maxSeries": 10000,
 *   "metrics": [
 *     { "name": "execs_total", "kind": "counter", "map": "execs",
 *       "labels": ["comm"], "help": "execs by command" },
 *     { "name": "runq_latency_seconds", "kind": "histogram", "map": "hists",
 *       "labels": [], "multiplier": 1e-6 }
 *   ]
 * }
 * ```
 *
 * Each entry names a hash or array map (per-CPU ones summed over CPUs):
 * - `kind` `counter` or `gauge`: one series per distinct label set, its
 *   value the map's integer value (or the integer field `value` of a struct
 *   value), summed over the keys that share the labels;
 * - `kind` `histogram`: log2 buckets, either an array of slots in the value
 *   (`slots`: the field, default `slots`, or the value itself when it is an
 *   array) or one slot per key (`bucketField`: the key field holding the
 *   slot index, the value the count; `bucketMax` the last slot, default 63);
 *   `buckets` `log2` (slot i counts values below 2^(i+1), as bcc and
 *   libbpf-tools fill them; default) or `exp2` (slot i counts values up to
 *   2^i, as ebpf_exporter's exp2); bounds are multiplied by `multiplier`.
 * - `labels`: key fields as labels (struct keys; integers as numbers, char
 *   arrays as strings, enums by name), `["key"]` for a scalar key; default:
 *   every field (the whole key as `key`); `[]`: all keys summed.
 *
 * @module
 */
import { type Btf, Kind } from "../../objfile/btf.ts";
import { decodeValue, toJson, type Value } from "../decode.ts";
import { isLabelName, isMetricName, type MetricKind } from "./format.ts";

/** The default cap of series per metric. */
export const DEFAULT_MAX_SERIES = 10_000;

/** One exported map, as the config file names it. */
export interface MetricSpec {
  /** The metric (family) name. */
  name: string;
  /** Its `# HELP` text. */
  help?: string;
  /** counter, gauge or histogram. */
  kind: MetricKind;
  /** The BPF map. */
  map: string;
  /** Key fields exported as labels (default: all). */
  labels?: string[];
  /** counter/gauge: the integer field of a struct value. */
  value?: string;
  /** histogram: `log2` (default) or `exp2`. */
  buckets?: "log2" | "exp2";
  /** histogram: bucket bounds are multiplied by this (default 1). */
  multiplier?: number;
  /** histogram: the value's array of slots (default `slots`, or the value). */
  slots?: string;
  /** histogram: the key field holding the slot index (one slot per key). */
  bucketField?: string;
  /** histogram with `bucketField`: the last slot (default 63). */
  bucketMax?: number;
}

/** A parsed config file. */
export interface MetricsConfig {
  /** Series per metric at most; the rest are counted as truncated. */
  maxSeries: number;
  /** The maps to export. */
  metrics: MetricSpec[];
}

/** A mistake in the config: the message names the file and the entry at fault. */
export class MetricsConfigError extends Error {
  /** A config mistake described by `message`. */
  constructor(message: string) {
    super(message);
    this.name = "MetricsConfigError";
  }
}

const TOP_KEYS = new Set(["maxSeries", "metrics"]);
const ENTRY_KEYS = new Set([
  "name",
  "help",
  "kind",
  "map",
  "labels",
  "value",
  "buckets",
  "multiplier",
  "slots",
  "bucketField",
  "bucketMax",
]);
/** Reserved label names: the host's own and the histogram's `le`. */
const RESERVED_LABELS = new Set(["le", "guest", "digest"]);

/**
 * Parses and checks the config's shape (no BTF yet). Throws
 * {@link MetricsConfigError} naming `path` and the entry at fault.
 */
export function parseMetricsConfig(text: string, path: string): MetricsConfig {
  const bad = (where: string, what: string): never => {
    throw new MetricsConfigError(`${path}: ${where}${what}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    bad("", `not valid JSON (${(e as Error).message})`);
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    bad("", "must be a JSON object with a 'metrics' array");
  }
  const top = raw as Record<string, unknown>;
  for (const k of Object.keys(top)) {
    if (!TOP_KEYS.has(k)) {
      bad(`${k}: `, `unknown setting (settings: ${[...TOP_KEYS].join(", ")})`);
    }
  }
  let maxSeries = DEFAULT_MAX_SERIES;
  if (top.maxSeries !== undefined) {
    const n = top.maxSeries;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      bad(
        "maxSeries: ",
        `must be a whole number of at least 1, got ${JSON.stringify(n)}`,
      );
    }
    maxSeries = n as number;
  }
  if (!Array.isArray(top.metrics)) {
    bad("metrics: ", "must be an array of metric entries");
  }
  const names = new Set<string>();
  const metrics = (top.metrics as unknown[]).map((e, i) => {
    const at = `metrics[${i}]`;
    if (!e || typeof e !== "object" || Array.isArray(e)) {
      bad(`${at}: `, "must be an object");
    }
    const o = e as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (!ENTRY_KEYS.has(k)) {
        bad(
          `${at}.${k}: `,
          `unknown setting (settings: ${[...ENTRY_KEYS].join(", ")})`,
        );
      }
    }
    const str = (k: string, required: boolean): string | undefined => {
      const v = o[k];
      if (v === undefined && !required) return undefined;
      if (typeof v !== "string" || !v) {
        bad(
          `${at}.${k}: `,
          `must be a non-empty string, got ${JSON.stringify(v)}`,
        );
      }
      return v as string;
    };
    const name = str("name", true)!;
    if (!isMetricName(name)) {
      bad(
        `${at}.name: `,
        `'${name}' is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)`,
      );
    }
    if (name.startsWith("wasm_bpf_")) {
      bad(`${at}.name: `, `'${name}': the wasm_bpf_ prefix is the host's own`);
    }
    if (names.has(name)) bad(`${at}.name: `, `'${name}' is used twice`);
    names.add(name);
    const kind = str("kind", true)!;
    if (kind !== "counter" && kind !== "gauge" && kind !== "histogram") {
      bad(`${at}.kind: `, `'${kind}' is not counter, gauge or histogram`);
    }
    const spec: MetricSpec = {
      name,
      kind: kind as MetricKind,
      map: str("map", true)!,
    };
    const help = o.help;
    if (help !== undefined) {
      if (typeof help !== "string") bad(`${at}.help: `, "must be a string");
      spec.help = help as string;
    }
    if (o.labels !== undefined) {
      const l = o.labels;
      if (!Array.isArray(l) || l.some((x) => typeof x !== "string" || !x)) {
        bad(`${at}.labels: `, "must be an array of key field names");
      }
      const seen = new Set<string>();
      for (const x of l as string[]) {
        if (!isLabelName(x)) {
          bad(`${at}.labels: `, `'${x}' is not a Prometheus label name`);
        }
        if (RESERVED_LABELS.has(x)) {
          bad(`${at}.labels: `, `'${x}' is a label name the host uses itself`);
        }
        if (seen.has(x)) bad(`${at}.labels: `, `'${x}' is named twice`);
        seen.add(x);
      }
      spec.labels = l as string[];
    }
    const histOnly = [
      "buckets",
      "multiplier",
      "slots",
      "bucketField",
      "bucketMax",
    ];
    if (kind !== "histogram") {
      for (const k of histOnly) {
        if (o[k] !== undefined) bad(`${at}.${k}: `, `only for kind histogram`);
      }
      spec.value = str("value", false);
    } else {
      if (o.value !== undefined) {
        bad(`${at}.value: `, "not for kind histogram (see slots, bucketField)");
      }
      if (o.buckets !== undefined) {
        if (o.buckets !== "log2" && o.buckets !== "exp2") {
          bad(
            `${at}.buckets: `,
            `must be 'log2' or 'exp2', got ${JSON.stringify(o.buckets)}`,
          );
        }
        spec.buckets = o.buckets as "log2" | "exp2";
      }
      if (o.multiplier !== undefined) {
        const m = o.multiplier;
        if (typeof m !== "number" || !(m > 0) || !Number.isFinite(m)) {
          bad(
            `${at}.multiplier: `,
            `must be a positive number, got ${JSON.stringify(m)}`,
          );
        }
        spec.multiplier = m as number;
      }
      spec.slots = str("slots", false);
      spec.bucketField = str("bucketField", false);
      if (spec.slots && spec.bucketField) {
        bad(
          `${at}.bucketField: `,
          "give either slots (slots in the value) or bucketField (a slot per key)",
        );
      }
      if (o.bucketMax !== undefined) {
        const m = o.bucketMax;
        if (!spec.bucketField) {
          bad(`${at}.bucketMax: `, "only with bucketField");
        }
        if (typeof m !== "number" || !Number.isInteger(m) || m < 0 || m > 255) {
          bad(
            `${at}.bucketMax: `,
            `must be a whole number from 0 to 255, got ${JSON.stringify(m)}`,
          );
        }
        spec.bucketMax = m as number;
      }
    }
    return spec;
  });
  return { maxSeries, metrics };
}

/** A BTF-defined map: its type and key/value type ids (0: none declared). */
export interface BtfMapDef {
  /** `enum bpf_map_type` (0 when not declared). */
  type: number;
  /** Key type id. */
  key: number;
  /** Value type id. */
  value: number;
}

/** Every map defined in `.maps` with its type and key/value types, by name. */
export function btfMaps(btf: Btf): Map<string, BtfMapDef> {
  const out = new Map<string, BtfMapDef>();
  for (const sv of btf.datasec(".maps")?.secVars ?? []) {
    const v = btf.get(sv.type);
    if (v.kind !== Kind.VAR) continue;
    const def = btf.resolve(v.ref);
    if (def.kind !== Kind.STRUCT) continue;
    const d: BtfMapDef = { type: 0, key: 0, value: 0 };
    for (const m of def.members!) {
      const p = btf.resolve(m.type);
      if (p.kind !== Kind.PTR) continue;
      if (m.name === "key" || m.name === "value") d[m.name] = p.ref;
      else if (m.name === "type") {
        const a = btf.resolve(p.ref);
        if (a.kind === Kind.ARRAY) d.type = a.nelems ?? 0;
      }
    }
    out.set(v.name, d);
  }
  return out;
}

/** Map types whose values can be exported, and whether they are per CPU. */
const EXPORTABLE: Record<number, { name: string; perCpu: boolean }> = {
  1: { name: "hash", perCpu: false },
  2: { name: "array", perCpu: false },
  5: { name: "percpu_hash", perCpu: true },
  6: { name: "percpu_array", perCpu: true },
  9: { name: "lru_hash", perCpu: false },
  10: { name: "lru_percpu_hash", perCpu: true },
};

/** Whether maps of `type` hold a value per CPU. */
export function isPerCpu(type: number): boolean {
  return EXPORTABLE[type]?.perCpu ?? false;
}

/** An integer at an offset of a value: how to read it. */
export interface IntField {
  /** Byte offset. */
  offset: number;
  /** 1, 2, 4 or 8. */
  size: number;
  /** Signed or not. */
  signed: boolean;
}

/** A config entry checked against an object's BTF: how to read its map. */
export interface CompiledMetric {
  /** The entry. */
  spec: MetricSpec;
  /** Label names, in order. */
  labelNames: string[];
  /** The label values of a key. */
  labels(key: Uint8Array): string[];
  /** counter/gauge: the integer in the value (per CPU: in each slot). */
  value?: IntField;
  /** histogram with slots in the value. */
  slots?: { offset: number; count: number; size: number };
  /** histogram with a slot per key: the key's slot index, and the count in the value. */
  bucket?: { index(key: Uint8Array): number; count: IntField; max: number };
  /** histogram: the upper bound of slot `i`. */
  le?: (i: number) => number;
}

/** A label value for a decoded field. */
export function labelValue(v: Value | undefined): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (
    typeof v === "number" || typeof v === "bigint" || typeof v === "boolean"
  ) {
    return String(v);
  }
  return toJson(v);
}

function intField(btf: Btf, id: number, offset: number): IntField | undefined {
  const t = btf.resolve(id);
  if (
    (t.kind === Kind.INT || t.kind === Kind.ENUM || t.kind === Kind.ENUM64) &&
    [1, 2, 4, 8].includes(t.size)
  ) {
    const signed = t.kind === Kind.INT
      ? ((t.encoding ?? 0) & 1) !== 0
      : t.kindFlag;
    return { offset, size: t.size, signed };
  }
  return undefined;
}

/** Top-level fields of a struct type (members of anonymous members inline). */
function fieldsOf(
  btf: Btf,
  id: number,
  base = 0,
): { name: string; type: number; offset: number; bits: boolean }[] {
  const t = btf.resolve(id);
  if (t.kind !== Kind.STRUCT && t.kind !== Kind.UNION) return [];
  const out: { name: string; type: number; offset: number; bits: boolean }[] =
    [];
  for (const m of t.members!) {
    const off = base + m.bitOffset / 8;
    if (!m.name) out.push(...fieldsOf(btf, m.type, off));
    else {out.push({
        name: m.name,
        type: m.type,
        offset: off,
        bits: m.bitSize !== 0,
      });}
  }
  return out;
}

/**
 * Checks entry `index` of the config against the object's BTF and map
 * definition, and says how to read the map. Throws
 * {@link MetricsConfigError} naming `path` and the entry.
 */
export function compileMetric(
  spec: MetricSpec,
  index: number,
  btf: Btf,
  def: BtfMapDef,
  path: string,
): CompiledMetric {
  const at = `${path}: metrics[${index}]`;
  const bad = (field: string, what: string): never => {
    throw new MetricsConfigError(`${at}${field ? "." + field : ""}: ${what}`);
  };
  const mapType = EXPORTABLE[def.type];
  if (!mapType) {
    bad(
      "map",
      `map '${spec.map}' is of type ${def.type}; only hash and array maps (per-CPU ones too) hold values to export`,
    );
  }
  if (!def.key || !def.value) {
    bad(
      "map",
      `map '${spec.map}' declares no BTF key and value types (use __type(key, ...) and __type(value, ...))`,
    );
  }
  const keyT = btf.resolve(def.key);
  const keyIsStruct = keyT.kind === Kind.STRUCT || keyT.kind === Kind.UNION;
  const keyFields = keyIsStruct ? fieldsOf(btf, def.key) : [];
  const fieldNames = keyIsStruct ? keyFields.map((f) => f.name) : ["key"];
  // the slot-per-key histogram's bucket field is not a label
  let bucketIndex: ((key: Uint8Array) => number) | undefined;
  if (spec.bucketField) {
    const f = spec.bucketField;
    let int: IntField | undefined;
    if (keyIsStruct) {
      const kf = keyFields.find((x) => x.name === f);
      if (!kf) {
        bad(
          "bucketField",
          `the key of map '${spec.map}' has no field '${f}' (fields: ${
            fieldNames.join(", ")
          })`,
        );
      }
      int = kf!.bits ? undefined : intField(btf, kf!.type, kf!.offset);
    } else if (f === "key") {
      int = intField(btf, def.key, 0);
    } else {
      bad(
        "bucketField",
        `the key of map '${spec.map}' is not a struct: name it 'key'`,
      );
    }
    if (!int) bad("bucketField", `field '${f}' is not an integer`);
    const { offset, size } = int!;
    bucketIndex = (key) => {
      const v = new DataView(key.buffer, key.byteOffset, key.byteLength);
      return size === 1
        ? v.getUint8(offset)
        : size === 2
        ? v.getUint16(offset, true)
        : size === 4
        ? v.getUint32(offset, true)
        : Number(v.getBigUint64(offset, true));
    };
  }
  const available = fieldNames.filter((n) => n !== spec.bucketField);
  const labelNames = spec.labels ?? available;
  for (const l of labelNames) {
    if (!available.includes(l)) {
      bad(
        "labels",
        `the key of map '${spec.map}' has no field '${l}' (${
          available.length ? `fields: ${available.join(", ")}` : "no fields"
        })`,
      );
    }
    if (!isLabelName(l) || RESERVED_LABELS.has(l)) {
      bad(
        "labels",
        `key field '${l}' cannot be a label name; list the fields to use in labels`,
      );
    }
  }
  const keyId = def.key;
  const labels = labelNames.length === 0
    ? () => []
    : keyIsStruct
    ? (key: Uint8Array) => {
      const o = decodeValue(btf, keyId, key) as { [k: string]: Value };
      return labelNames.map((n) => labelValue(o[n]));
    }
    : (key: Uint8Array) => [labelValue(decodeValue(btf, keyId, key))];
  const out: CompiledMetric = { spec, labelNames, labels };
  const valT = btf.resolve(def.value);
  const valIsStruct = valT.kind === Kind.STRUCT || valT.kind === Kind.UNION;
  if (spec.kind !== "histogram") {
    let int: IntField | undefined;
    if (spec.value) {
      const vf = fieldsOf(btf, def.value).find((x) => x.name === spec.value);
      if (!vf) {
        bad(
          "value",
          `the value of map '${spec.map}' has no field '${spec.value}'${
            valIsStruct
              ? ` (fields: ${
                fieldsOf(btf, def.value).map((x) => x.name).join(", ")
              })`
              : " (it is not a struct)"
          }`,
        );
      }
      int = vf!.bits ? undefined : intField(btf, vf!.type, vf!.offset);
      if (!int) bad("value", `field '${spec.value}' is not an integer`);
    } else {
      int = intField(btf, def.value, 0);
      if (!int) {
        bad(
          "value",
          valIsStruct
            ? `the value of map '${spec.map}' is a struct: name its integer field in 'value'`
            : `the value of map '${spec.map}' is not an integer`,
        );
      }
    }
    out.value = int;
    return out;
  }
  const shift = spec.buckets === "exp2" ? 0 : 1;
  const mult = spec.multiplier ?? 1;
  out.le = (i) => Number((2 ** (i + shift) * mult).toPrecision(15));
  if (bucketIndex) {
    const count = intField(btf, def.value, 0);
    if (!count) {
      bad(
        "bucketField",
        `with a slot per key the value of map '${spec.map}' must be an integer count`,
      );
    }
    out.bucket = {
      index: bucketIndex,
      count: count!,
      max: spec.bucketMax ?? 63,
    };
    return out;
  }
  let arr = valT, base = 0;
  if (valIsStruct || spec.slots) {
    const name = spec.slots ?? "slots";
    const f = fieldsOf(btf, def.value).find((x) => x.name === name);
    if (!f) {
      bad(
        spec.slots ? "slots" : "kind",
        `the value of map '${spec.map}' has no array field '${name}' of slots (a log2 histogram map holds an array of counts in its value, or give bucketField for a slot per key)`,
      );
    }
    arr = btf.resolve(f!.type);
    base = f!.offset;
  }
  const e = arr.kind === Kind.ARRAY ? btf.resolve(arr.elemType!) : undefined;
  if (
    !e || e.kind !== Kind.INT || (e.size !== 4 && e.size !== 8) || !arr.nelems
  ) {
    bad(
      spec.slots ? "slots" : "kind",
      `the slots of map '${spec.map}' are not an array of 32- or 64-bit counts`,
    );
  }
  out.slots = { offset: base, count: arr.nelems!, size: e!.size };
  return out;
}

/** A BPF object found in a guest, with its BTF. */
export interface FoundObject {
  /** Where it was found (for messages). */
  name: string;
  /** Its BTF. */
  btf: Btf;
}

/**
 * Checks every entry against the objects' maps (the first object holding
 * the entry's map). Throws {@link MetricsConfigError} naming `path` and the
 * entry: an unknown map lists the maps there are.
 */
export function checkConfig(
  config: MetricsConfig,
  objects: FoundObject[],
  path: string,
): void {
  const defs = objects.map((o) => ({ o, maps: btfMaps(o.btf) }));
  config.metrics.forEach((spec, i) => {
    const hit = defs.find((d) => d.maps.has(spec.map));
    if (!hit) {
      const all = defs.flatMap((d) => [...d.maps.keys()]);
      throw new MetricsConfigError(
        `${path}: metrics[${i}].map: no map '${spec.map}' in ${
          objects.map((o) => o.name).join(", ") || "the guest"
        } (maps: ${all.join(", ") || "none"})`,
      );
    }
    compileMetric(spec, i, hit.o.btf, hit.maps.get(spec.map)!, path);
  });
}

/**
 * The initial memory a wasm module's active data segments lay out (their
 * `i32.const` offsets), or undefined when `bytes` is not such a module.
 * Tools split a segment at runs of zeros, so an object embedded in the
 * guest is whole only here, not in the file.
 */
export function wasmDataImage(bytes: Uint8Array): Uint8Array | undefined {
  if (
    bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0x61 ||
    bytes[2] !== 0x73 || bytes[3] !== 0x6d
  ) return undefined;
  let p = 8;
  const leb = (): number => {
    let r = 0, shift = 0, b: number;
    do {
      if (p >= bytes.length) throw new RangeError("truncated");
      b = bytes[p++];
      r += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return r;
  };
  try {
    while (p < bytes.length) {
      const id = bytes[p++];
      const size = leb();
      const end = p + size;
      if (id !== 11) {
        p = end;
        continue;
      }
      const segs: { at: number; data: Uint8Array }[] = [];
      let top = 0;
      for (let n = leb(); n > 0; n--) {
        const flags = leb();
        let at = -1;
        if (flags === 0 || flags === 2) {
          if (flags === 2) leb(); // memory index
          if (bytes[p++] !== 0x41) throw new RangeError("offset"); // i32.const
          // a signed LEB128, read as unsigned: offsets are below 2^31
          at = leb();
          if (bytes[p++] !== 0x0b) throw new RangeError("offset end");
        }
        const len = leb();
        if (at >= 0 && at < 2 ** 30) {
          segs.push({ at, data: bytes.subarray(p, p + len) });
          top = Math.max(top, at + len);
        }
        p += len;
      }
      if (top > 2 ** 28) return undefined; // not a guest worth scanning
      const image = new Uint8Array(top);
      for (const s of segs) image.set(s.data, s.at);
      return image;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/**
 * The BPF objects (ELF, machine BPF) embedded in `bytes` (a BPF object's
 * bytes, or the initial memory of a guest whose skeleton holds its
 * objects: see {@link wasmDataImage}), each as a slice.
 */
export function embeddedObjects(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = bytes.indexOf(0x7f); i >= 0; i = bytes.indexOf(0x7f, i + 1)) {
    if (i + 64 > bytes.length) break;
    if (
      bytes[i + 1] !== 0x45 || bytes[i + 2] !== 0x4c || bytes[i + 3] !== 0x46 ||
      bytes[i + 4] !== 2 || bytes[i + 5] !== 1 ||
      v.getUint16(i + 18, true) !== 247
    ) continue;
    const shoff = Number(v.getBigUint64(i + 40, true));
    const shentsize = v.getUint16(i + 58, true);
    const shnum = v.getUint16(i + 60, true);
    const end = shoff + shentsize * shnum;
    if (shoff < 64 || i + end > bytes.length) continue;
    out.push(bytes.subarray(i, i + end));
    i += end - 1;
  }
  return out;
}
