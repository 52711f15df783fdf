/**
 * The Prometheus text exposition format (version 0.0.4), pure: metric
 * families with `# HELP` / `# TYPE` lines and samples whose label values
 * are escaped, so that a value taken from a guest-written map key cannot
 * end a label, a line or a sample.
 *
 * @module
 */

/** The `Content-Type` of the format. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The kinds of metric family this host writes. */
export type MetricKind = "counter" | "gauge" | "histogram";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Whether `name` is a valid metric name. */
export function isMetricName(name: string): boolean {
  return METRIC_NAME.test(name);
}

/** Whether `name` is a valid label name (`__` prefixes are Prometheus's own). */
export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith("__");
}

/** A label value escaped for the format: `\` → `\\`, `"` → `\"`, newline → `\n`. */
export function escapeLabelValue(v: string): string {
  if (!/[\\"\n]/.test(v)) return v;
  let out = "";
  for (const ch of v) {
    out += ch === "\\" ? "\\\\" : ch === '"' ? '\\"' : ch === "\n" ? "\\n" : ch;
  }
  return out;
}

/** A `# HELP` text escaped for the format: `\` → `\\`, newline → `\n`. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

/** A sample value: integers as digits, `+Inf`, `-Inf`, `NaN`. */
export function formatValue(v: number | bigint): string {
  if (typeof v === "bigint") return v.toString();
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isInteger(v) && Math.abs(v) < 1e21 ? v.toFixed(0) : String(v);
}

/** `{a="x",b="y"}`, or "" without labels. Names must be valid; values are escaped. */
export function labelSet(
  names: readonly string[],
  values: readonly string[],
): string {
  if (!names.length) return "";
  let s = "{";
  for (let i = 0; i < names.length; i++) {
    if (i) s += ",";
    s += `${names[i]}="${escapeLabelValue(values[i])}"`;
  }
  return s + "}";
}

/** Builds one exposition: families in order, each with its samples. */
export class Exposition {
  #lines: string[] = [];
  #families = new Set<string>();

  /**
   * Starts family `name` (its `# HELP` and `# TYPE` lines). Throws if the
   * name is invalid or already used in this exposition.
   */
  family(name: string, kind: MetricKind, help: string): void {
    if (!isMetricName(name)) throw new Error(`invalid metric name '${name}'`);
    if (this.#families.has(name)) {
      throw new Error(`metric family '${name}' written twice`);
    }
    this.#families.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`);
    this.#lines.push(`# TYPE ${name} ${kind}`);
  }

  /** One sample line: `name{labels} value`. */
  sample(
    name: string,
    names: readonly string[],
    values: readonly string[],
    value: number | bigint,
  ): void {
    this.#lines.push(`${name}${labelSet(names, values)} ${formatValue(value)}`);
  }

  /** The text, ending with a newline. */
  text(): string {
    return this.#lines.length ? this.#lines.join("\n") + "\n" : "";
  }
}
