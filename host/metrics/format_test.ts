import assert from "node:assert/strict";
import {
  escapeHelp,
  escapeLabelValue,
  Exposition,
  formatValue,
  isLabelName,
  isMetricName,
  labelSet,
} from "./format.ts";
import { sampleLines } from "./_test_util.ts";

Deno.test("label values are escaped: a key cannot end its label, line or sample", () => {
  const hostile = '"} 1\nfake_metric 1';
  assert.equal(escapeLabelValue(hostile), '\\"} 1\\nfake_metric 1');
  assert.equal(escapeLabelValue("a\\b"), "a\\\\b");
  assert.equal(escapeLabelValue("plain"), "plain");
  const e = new Exposition();
  e.family("execs_total", "counter", "execs");
  e.sample("execs_total", ["comm"], [hostile], 7);
  e.sample("execs_total", ["comm"], ['a\\"b\n'], 3);
  const text = e.text();
  const samples = sampleLines(text);
  assert.equal(samples.length, 2);
  assert.ok(!text.split("\n").some((l) => l.startsWith("fake_metric")));
  assert.equal(samples[0], 'execs_total{comm="\\"} 1\\nfake_metric 1"} 7');
});

Deno.test("help text is escaped", () => {
  assert.equal(escapeHelp("a\\b\nc"), "a\\\\b\\nc");
  const e = new Exposition();
  e.family("x", "gauge", "line one\nline two");
  assert.equal(e.text(), "# HELP x line one\\nline two\n# TYPE x gauge\n");
});

Deno.test("values: integers, floats, infinities, NaN, bigints", () => {
  assert.equal(formatValue(3), "3");
  assert.equal(formatValue(2 ** 60), "1152921504606846976");
  assert.equal(formatValue(0.5), "0.5");
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(NaN), "NaN");
  assert.equal(formatValue(2n ** 64n - 1n), "18446744073709551615");
});

Deno.test("names: metric and label names are checked; a family is written once", () => {
  assert.ok(isMetricName("a_b:c"));
  assert.ok(!isMetricName("1abc"));
  assert.ok(!isMetricName('x"} 1'));
  assert.ok(isLabelName("comm"));
  assert.ok(!isLabelName("__name__"));
  assert.ok(!isLabelName("a-b"));
  assert.equal(labelSet([], []), "");
  assert.equal(labelSet(["a", "b"], ["1", "2"]), '{a="1",b="2"}');
  const e = new Exposition();
  e.family("x", "counter", "h");
  assert.throws(() => e.family("x", "counter", "h"), /twice/);
  assert.throws(() => e.family("bad name", "counter", "h"), /invalid/);
});
