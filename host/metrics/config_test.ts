import assert from "node:assert/strict";
import {
  btfMaps,
  checkConfig,
  compileMetric,
  embeddedObjects,
  MetricsConfigError,
  parseMetricsConfig,
  wasmDataImage,
} from "./config.ts";
import { testBtf } from "./_test_util.ts";

const parse = (v: unknown) => parseMetricsConfig(JSON.stringify(v), "m.json");
const entry = (e: Record<string, unknown>) => ({
  metrics: [{ name: "x_total", kind: "counter", map: "execs", ...e }],
});

Deno.test("config: a valid file parses, with the default series cap", () => {
  const c = parse({
    metrics: [
      { name: "execs_total", kind: "counter", map: "execs", labels: ["comm"] },
      {
        name: "lat_seconds",
        kind: "histogram",
        map: "hists",
        multiplier: 1e-6,
      },
    ],
  });
  assert.equal(c.maxSeries, 10_000);
  assert.equal(c.metrics.length, 2);
  assert.equal(parse({ maxSeries: 5, metrics: [] }).maxSeries, 5);
});

Deno.test("config: mistakes name the file and the entry at fault", () => {
  const cases: [unknown, RegExp][] = [
    ['"nope"', /^m\.json: must be a JSON object/],
    ["{", /^m\.json: not valid JSON/],
    [{ metric: [] }, /^m\.json: metric: unknown setting/],
    [{ maxSeries: 0, metrics: [] }, /^m\.json: maxSeries: /],
    [{ metrics: {} }, /^m\.json: metrics: must be an array/],
    [entry({ kind: "summary" }), /metrics\[0\]\.kind: 'summary'/],
    [entry({ name: "bad name" }), /metrics\[0\]\.name: 'bad name' is not/],
    [entry({ name: "wasm_bpf_x" }), /metrics\[0\]\.name: .*host's own/],
    [entry({ colour: 1 }), /metrics\[0\]\.colour: unknown setting/],
    [entry({ labels: ["le"] }), /metrics\[0\]\.labels: 'le'/],
    [entry({ labels: ["a-b"] }), /metrics\[0\]\.labels: 'a-b' is not/],
    [
      entry({ multiplier: 2 }),
      /metrics\[0\]\.multiplier: only for kind histogram/,
    ],
    [entry({ map: "" }), /metrics\[0\]\.map: must be a non-empty string/],
    [
      { metrics: [entry({}).metrics[0], entry({}).metrics[0]] },
      /metrics\[1\]\.name: 'x_total' is used twice/,
    ],
    [
      entry({ kind: "histogram", slots: "s", bucketField: "b" }),
      /metrics\[0\]\.bucketField: give either/,
    ],
    [entry({ kind: "histogram", buckets: "exp10" }), /metrics\[0\]\.buckets:/],
  ];
  for (const [input, re] of cases) {
    const text = typeof input === "string" ? input : JSON.stringify(input);
    assert.throws(
      () => parseMetricsConfig(text, "m.json"),
      (e) => e instanceof MetricsConfigError && re.test(e.message),
      `${text} should fail with ${re}`,
    );
  }
});

Deno.test("config: checked against BTF (unknown map, field, kind)", () => {
  const btf = testBtf();
  const objects = [{ name: "test.bpf.o", btf }];
  const check = (e: Record<string, unknown>) =>
    checkConfig(parse(entry(e)), objects, "m.json");
  check({});
  check({ labels: ["comm", "kind"] });
  check({ map: "totals", value: "count", kind: "gauge" });
  check({ map: "hists", kind: "histogram", labels: [] });
  check({ map: "slots", kind: "histogram", bucketField: "slot" });
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { map: "nope" },
      /metrics\[0\]\.map: no map 'nope' in test\.bpf\.o \(maps: execs, totals, hists, slots, rb\)/,
    ],
    [
      { labels: ["cmd"] },
      /metrics\[0\]\.labels: .*no field 'cmd' \(fields: comm, kind, pid\)/,
    ],
    [{ map: "rb" }, /metrics\[0\]\.map: map 'rb' is of type 27/],
    [
      { map: "totals" },
      /metrics\[0\]\.value: .*is a struct: name its integer field/,
    ],
    [
      { map: "totals", value: "nope" },
      /metrics\[0\]\.value: .*no field 'nope'/,
    ],
    [
      { kind: "histogram" },
      /metrics\[0\]\.kind: .*not an array of 32- or 64-bit counts/,
    ],
    [
      { map: "totals", kind: "histogram" },
      /metrics\[0\]\.kind: .*no array field 'slots'/,
    ],
    [
      { map: "hists", kind: "histogram", slots: "comm" },
      /metrics\[0\]\.slots: .*not an array of 32- or 64-bit counts/,
    ],
    [
      { map: "slots", kind: "histogram", bucketField: "slotz" },
      /metrics\[0\]\.bucketField: .*no field 'slotz'/,
    ],
    [
      { map: "hists", labels: ["pid"] },
      /metrics\[0\]\.labels: .*no field 'pid' \(fields: key\)/,
    ],
  ];
  for (const [e, re] of cases) {
    assert.throws(
      () => check(e),
      (err) => err instanceof MetricsConfigError && re.test(err.message),
      `${JSON.stringify(e)} should fail with ${re}`,
    );
  }
});

Deno.test("config: labels decode by BTF (char arrays, enums by name, integers)", () => {
  const btf = testBtf();
  const def = btfMaps(btf).get("execs")!;
  const m = compileMetric(parse(entry({})).metrics[0], 0, btf, def, "m.json");
  assert.deepEqual(m.labelNames, ["comm", "kind", "pid"]);
  const key = new Uint8Array(40);
  key.set(new TextEncoder().encode("bash"));
  new DataView(key.buffer).setUint32(32, 2, true);
  new DataView(key.buffer).setUint32(36, 42, true);
  assert.deepEqual(m.labels(key), ["bash", "WRITE", "42"]);
  const hist = compileMetric(
    parse(entry({ map: "hists", kind: "histogram", multiplier: 1e-6 }))
      .metrics[0],
    0,
    btf,
    btfMaps(btf).get("hists")!,
    "m.json",
  );
  assert.deepEqual(hist.labelNames, ["key"]);
  assert.deepEqual(hist.slots, { offset: 0, count: 4, size: 4 });
  assert.equal(hist.le!(0), 2e-6); // log2: slot 0 holds values below 2
  assert.equal(hist.le!(3), 16e-6);
});

Deno.test("embedded objects: BPF ELF images inside a wasm file are found", () => {
  const elf = new Uint8Array(128);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
  const v = new DataView(elf.buffer);
  v.setUint16(18, 247, true); // EM_BPF
  v.setBigUint64(40, 64n, true); // section headers at 64
  v.setUint16(58, 64, true);
  v.setUint16(60, 1, true);
  const wasm = new Uint8Array(400);
  wasm.set([0, 0x61, 0x73, 0x6d]);
  wasm.set(elf, 100);
  wasm.set([0x7f, 0x45, 0x4c, 0x46, 2, 1], 300); // not EM_BPF: skipped
  const found = embeddedObjects(wasm);
  assert.equal(found.length, 1);
  assert.equal(found[0].byteOffset, 100);
  assert.equal(found[0].length, 128);
});

Deno.test("embedded objects: a guest's data segments split at zeros are joined first", () => {
  const elf = new Uint8Array(128);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1]);
  const v = new DataView(elf.buffer);
  v.setUint16(18, 247, true);
  v.setBigUint64(40, 64n, true);
  v.setUint16(58, 64, true);
  v.setUint16(60, 1, true);
  elf.fill(9, 100); // section header bytes, not zero
  // two active segments at 1024 and 1024+64 (the zeros between left out)
  const seg = (at: number, data: Uint8Array) => [
    0,
    0x41,
    at & 0x7f | 0x80,
    at >> 7,
    0x0b,
    data.length,
    ...data,
  ];
  const body = [
    2,
    ...seg(1024, elf.subarray(0, 62)),
    ...seg(1088, elf.subarray(64)),
  ];
  const wasm = new Uint8Array([
    0,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    11,
    body.length & 0x7f | 0x80,
    body.length >> 7,
    ...body,
  ]);
  const same = (a: Uint8Array) =>
    a.length === elf.length && a.every((x, i) => x === elf[i]);
  // in the file the object is not whole
  assert.ok(!embeddedObjects(wasm).some(same));
  const image = wasmDataImage(wasm)!;
  assert.equal(image.length, 1024 + 128);
  const found = embeddedObjects(image);
  assert.equal(found.length, 1);
  assert.deepEqual(found[0], elf);
  assert.equal(wasmDataImage(new Uint8Array([1, 2, 3])), undefined);
});
