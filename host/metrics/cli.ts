/**
 * The command line's side of `--metrics` and `--metrics-config`, loaded
 * only when `--metrics` is given: checks first (Deno's net permission, the
 * address, the config against the guest's BTF), then the server.
 *
 * @module
 */
import { Btf } from "../../objfile/btf.ts";
import { validateBpfObject } from "../../objfile/validate.ts";
import { ExitCode } from "../status.ts";
import {
  checkConfig,
  embeddedObjects,
  type MetricsConfig,
  MetricsConfigError,
  type MetricsServer,
  objectHook,
  parseListen,
  parseMetricsConfig,
  sha256Digest,
  startMetricsServer,
  wasmDataImage,
} from "./mod.ts";
import type { FoundObject } from "./config.ts";
import type { ObjectMetricsHook } from "../object_run.ts";

/** The flags, checked and read. */
export interface MetricsPlan {
  /** `--metrics HOST:PORT`. */
  listen: string;
  /** `--metrics-config FILE`, parsed. */
  config?: MetricsConfig;
  /** Its path. */
  configPath?: string;
}

const fail = (line: string, code: number = ExitCode.USAGE) => {
  console.error(`wasm-bpf: ${line}`);
  return code;
};

/**
 * Checks the flags before anything is resolved or loaded: the address,
 * Deno's `--allow-net`, the config file's shape. An exit status (after one
 * line on stderr) when something is wrong.
 */
export async function planMetrics(
  listen: string,
  configPath: string | undefined,
): Promise<MetricsPlan | number> {
  let where: { hostname: string; port: number };
  try {
    where = parseListen(listen);
  } catch (e) {
    return fail(`${(e as Error).message}\nRun with --help for usage.`);
  }
  const host = where.port ? `${where.hostname}:${where.port}` : where.hostname;
  const net = await Deno.permissions.query({ name: "net", host });
  if (net.state !== "granted") {
    return fail(
      `--metrics serves HTTP on ${listen}: deno needs --allow-net (or --allow-net=${host})`,
    );
  }
  if (configPath === undefined) return { listen };
  let text: string;
  try {
    text = await Deno.readTextFile(configPath);
  } catch (e) {
    return fail(
      `--metrics-config: cannot read '${configPath}': ${(e as Error).message}`,
    );
  }
  try {
    return { listen, configPath, config: parseMetricsConfig(text, configPath) };
  } catch (e) {
    if (!(e instanceof MetricsConfigError)) throw e;
    return fail(`--metrics-config: ${e.message}`);
  }
}

/** A started server, and what to hand the guest. */
export interface CliMetrics {
  /** The server. */
  server: MetricsServer;
  /** For a bare object's run. */
  objectHook: ObjectMetricsHook;
}

/** What {@link checkForCli} found: the labels the server will use. */
export interface CheckedMetrics {
  /** The guest's name (label `guest`). */
  name: string;
  /** Its digest (label `digest`). */
  digest: string;
}

/**
 * Checks the config against the BPF objects of `file` (a bare object, or
 * those a wasm guest embeds) and works out the labels. `image`: the
 * reference it was pulled by.
 */
export async function checkForCli(
  plan: MetricsPlan,
  file: string,
  isObject: boolean,
  image: { ref: string; digest: string } | undefined,
): Promise<CheckedMetrics | number> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    return fail(`cannot read ${file}: ${(e as Error).message}`, ExitCode.ERROR);
  }
  const name = image
    ? image.ref.split("/").pop()!.split(/[:@]/)[0]
    : file.split("/").pop()!;
  if (plan.config && plan.configPath) {
    const found: FoundObject[] = [];
    const candidates = isObject
      ? [bytes]
      : embeddedObjects(wasmDataImage(bytes) ?? bytes);
    for (const [i, obj] of candidates.entries()) {
      const where = isObject ? name : `${name} (object ${i + 1})`;
      try {
        found.push({
          name: where,
          btf: Btf.fromElf(validateBpfObject(where, obj)),
        });
      } catch { /* not a usable object: its load will say why */ }
    }
    // a guest that reads its objects from files is checked when it loads them
    if (found.length || isObject) {
      try {
        checkConfig(plan.config, found, plan.configPath);
      } catch (e) {
        if (!(e instanceof MetricsConfigError)) throw e;
        return fail(`--metrics-config: ${e.message}`);
      }
    }
  }
  return { name, digest: image?.digest ?? await sha256Digest(bytes) };
}

/**
 * {@link checkForCli}, then starts the server in this process and prints
 * its address on stderr.
 */
export async function startForCli(
  plan: MetricsPlan,
  file: string,
  isObject: boolean,
  image: { ref: string; digest: string } | undefined,
): Promise<CliMetrics | number> {
  const checked = await checkForCli(plan, file, isObject, image);
  if (typeof checked === "number") return checked;
  const { name, digest } = checked;
  let server: MetricsServer;
  try {
    server = await startMetricsServer({
      listen: plan.listen,
      guest: name,
      digest,
      config: plan.config,
      configPath: plan.configPath,
    });
  } catch (e) {
    return fail(`--metrics: ${(e as Error).message}`, ExitCode.ERROR);
  }
  console.error(`wasm-bpf: metrics at http://${server.address}/metrics`);
  return { server, objectHook: objectHook(server, name) };
}
