/**
 * Where a guest's time goes on the host: runs a wasm guest on this thread
 * (WasmBpfHost, as the README's library example; `run()` uses a Worker,
 * which `--cpu-prof` does not see) under V8's CPU profiler and prints the
 * functions with the most self time.
 *
 *   deno run -A bench/profile.ts app.wasm [args...]
 *
 * @module
 */
import process from "node:process";
import { Wasi } from "../host/wasi/mod.ts";
import { WasmBpfHost } from "../mod.ts";

const [path, ...args] = Deno.args;
if (!path) {
  console.error("usage: deno run -A bench/profile.ts app.wasm [args...]");
  Deno.exit(2);
}
const dir = Deno.makeTempDirSync({ prefix: "bench-prof-" });
if (!Deno.env.get("BENCH_PROFILE_CHILD")) {
  // re-run ourselves under --cpu-prof, then read the profile
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--cpu-prof",
      `--cpu-prof-dir=${dir}`,
      import.meta.filename!,
      path,
      ...args,
    ],
    env: { BENCH_PROFILE_CHILD: "1" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) Deno.exit(out.code);
  const file = [...Deno.readDirSync(dir)].find((e) =>
    e.name.endsWith(".cpuprofile")
  );
  if (!file) throw new Error("no profile written");
  const prof = JSON.parse(Deno.readTextFileSync(`${dir}/${file.name}`)) as {
    nodes: {
      id: number;
      callFrame: { functionName: string; url: string; lineNumber: number };
    }[];
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || "(anonymous)"} ${
      f.url.split("/").pop()
    }:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + prof.timeDeltas[i]);
    total += prof.timeDeltas[i];
  });
  console.log(`\nself time (of ${(total / 1000).toFixed(0)} ms sampled):`);
  for (const [name, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(`${(100 * t / total).toFixed(1).padStart(5)}%  ${name}`);
  }
  Deno.removeSync(dir, { recursive: true });
} else {
  Deno.removeSync(dir, { recursive: true });
  const module = new WebAssembly.Module(Deno.readFileSync(path));
  const host = new WasmBpfHost({ name: path.split("/").pop() });
  const wasi = new Wasi({
    args: [path.split("/").pop()!, ...args],
    env: {},
    preopens: [],
    stdout: 1,
    stderr: 2,
  });
  const instance = new WebAssembly.Instance(module, {
    ...wasi.imports,
    ...host.imports(),
  });
  host.bind(instance);
  try {
    Deno.exitCode = wasi.start(instance);
  } finally {
    host.close();
    const cpu = process.cpuUsage();
    console.error(
      `cpu of the whole run: user ${(cpu.user / 1000).toFixed(0)} ms, system ${
        (cpu.system / 1000).toFixed(0)
      } ms`,
    );
  }
}
