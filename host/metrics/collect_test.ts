import assert from "node:assert/strict";
import { collectHost, collectMetric, type MapSource } from "./collect.ts";
import { btfMaps, compileMetric, parseMetricsConfig } from "./config.ts";
import { Exposition } from "./format.ts";
import { sampleLines, testBtf } from "./_test_util.ts";
import { STAT_COUNT, STAT_MAP_LOOKUP } from "./stats.ts";

const btf = testBtf();
const compile = (e: Record<string, unknown>) => {
  const spec = parseMetricsConfig(
    JSON.stringify({ metrics: [{ name: "m", kind: "counter", ...e }] }),
    "m.json",
  ).metrics[0];
  return compileMetric(spec, 0, btf, btfMaps(btf).get(spec.map)!, "m.json");
};

/** A map source over `entries` (values already laid out per CPU). */
function source(
  entries: [Uint8Array, Uint8Array][],
  stride: number,
  cpus = 1,
): MapSource & { visited: number } {
  const src = {
    stride,
    cpus,
    visited: 0,
    forEach(fn: (k: Uint8Array, v: Uint8Array) => boolean) {
      for (const [k, v] of entries) {
        src.visited++;
        if (!fn(k, v)) return;
      }
    },
  };
  return src;
}

function execKey(comm: string, kind = 1, pid = 0): Uint8Array {
  const k = new Uint8Array(40);
  k.set(new TextEncoder().encode(comm).subarray(0, 31));
  new DataView(k.buffer).setUint32(32, kind, true);
  new DataView(k.buffer).setUint32(36, pid, true);
  return k;
}
function u64(...per: number[]): Uint8Array {
  const v = new Uint8Array(8 * per.length);
  per.forEach((x, i) =>
    new DataView(v.buffer).setBigUint64(i * 8, BigInt(x), true)
  );
  return v;
}

Deno.test("collect: a counter per label set, keys sharing labels summed", () => {
  const m = compile({ map: "execs", labels: ["comm"] });
  const out = new Exposition();
  const left = collectMetric(
    m,
    source([
      [execKey("bash", 1, 1), u64(2)],
      [execKey("bash", 2, 2), u64(3)],
      [execKey("true", 1, 3), u64(7)],
    ], 8),
    100,
    out,
  );
  assert.equal(left, 0);
  assert.deepEqual(sampleLines(out.text()), [
    'm{comm="bash"} 5',
    'm{comm="true"} 7',
  ]);
});

Deno.test("collect: a guest-written key cannot inject a series", () => {
  const m = compile({ map: "execs", labels: ["comm"] });
  const out = new Exposition();
  collectMetric(
    m,
    source([[execKey('"} 1\nfake_metric 1'), u64(7)]], 8),
    100,
    out,
  );
  const lines = sampleLines(out.text());
  assert.equal(lines.length, 1);
  assert.ok(!out.text().split("\n").some((l) => l.startsWith("fake_metric")));
});

Deno.test("collect: series past maxSeries are counted, not kept", () => {
  const m = compile({ map: "execs", labels: ["comm"] });
  const entries: [Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < 1000; i++) entries.push([execKey(`k${i}`), u64(1)]);
  // a key whose labels are already a series still counts
  entries.push([execKey("k0", 2), u64(5)]);
  const out = new Exposition();
  const left = collectMetric(m, source(entries, 8), 10, out);
  const lines = sampleLines(out.text());
  assert.equal(lines.length, 10);
  assert.equal(left, 990);
  assert.ok(lines.includes('m{comm="k0"} 6'));
});

Deno.test("collect: per-CPU values are summed over CPUs", () => {
  const m = compile({ map: "totals", value: "bytes", kind: "gauge" });
  // key u32 0; value struct { count; bytes } per CPU, 3 CPUs
  const v = new Uint8Array(48);
  const dv = new DataView(v.buffer);
  for (let c = 0; c < 3; c++) {
    dv.setBigUint64(c * 16 + 8, BigInt(10 * (c + 1)), true);
  }
  const out = new Exposition();
  collectMetric(m, source([[new Uint8Array(4), v]], 16, 3), 100, out);
  assert.deepEqual(sampleLines(out.text()), ['m{key="0"} 60']);
});

Deno.test("collect: a log2 histogram of slots in the value", () => {
  const m = compile({ map: "hists", kind: "histogram", labels: [] });
  const v = new Uint8Array(32);
  const dv = new DataView(v.buffer);
  [1, 0, 2, 3].forEach((n, i) => dv.setUint32(i * 4, n, true));
  const out = new Exposition();
  // two keys, summed (no labels)
  collectMetric(
    m,
    source([[new Uint8Array(4), v], [new Uint8Array(4), v]], 32),
    100,
    out,
  );
  assert.deepEqual(
    sampleLines(out.text()),
    [
      'm_bucket{le="2"} 2',
      'm_bucket{le="4"} 2',
      'm_bucket{le="8"} 6',
      'm_bucket{le="16"} 12',
      'm_bucket{le="+Inf"} 12',
      // approximate: each count at its bucket's middle (1, 3, 6, 12)
      "m_sum 2",
      "m_count 12",
    ].map((l) => l === "m_sum 2" ? `m_sum ${2 * 1 + 4 * 6 + 6 * 12}` : l),
  );
});

Deno.test("collect: a slot-per-key histogram (exp2), per CPU, past bucketMax only in +Inf", () => {
  const m = compile({
    map: "slots",
    kind: "histogram",
    bucketField: "slot",
    buckets: "exp2",
    bucketMax: 2,
  });
  const key = (cpu: number, slot: number) => {
    const k = new Uint8Array(8);
    new DataView(k.buffer).setUint32(0, cpu, true);
    new DataView(k.buffer).setUint32(4, slot, true);
    return k;
  };
  const out = new Exposition();
  collectMetric(
    m,
    source(
      [
        [key(0, 0), u64(1, 1)],
        [key(0, 2), u64(2, 0)],
        [key(0, 9), u64(0, 4)],
      ],
      8,
      2,
    ),
    100,
    out,
  );
  assert.deepEqual(sampleLines(out.text()), [
    'm_bucket{cpu="0",le="1"} 2',
    'm_bucket{cpu="0",le="2"} 2',
    'm_bucket{cpu="0",le="4"} 4',
    'm_bucket{cpu="0",le="+Inf"} 8',
    `m_sum{cpu="0"} ${2 * 0.5 + 2 * 3 + 4 * 4}`,
    'm_count{cpu="0"} 8',
  ]);
});

Deno.test("host counters carry the guest's name and digest, escaped", () => {
  const stats = new Float64Array(STAT_COUNT);
  stats[STAT_MAP_LOOKUP] = 5;
  const out = new Exposition();
  collectHost(stats, 'a"b', "sha256:00", out);
  const lines = sampleLines(out.text());
  assert.ok(
    lines.includes(
      'wasm_bpf_map_operations_total{guest="a\\"b",digest="sha256:00",op="lookup"} 5',
    ),
  );
});
