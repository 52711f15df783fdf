// Root-free: the command-line parser (no guest runs, no I/O).
import * as assert from "node:assert/strict";
import { parseCommandLine, UsageError } from "./cli.ts";

const parse = parseCommandLine;

function usage(args: string[], re: RegExp) {
  assert.throws(() => parse(args), (e: unknown) => {
    assert.ok(e instanceof UsageError, `${args.join(" ")}: ${e}`);
    assert.match((e as Error).message, re);
    return true;
  });
}

Deno.test("cli: --dir HOST, HOST:GUEST, :ro, :rw; other modes refused", () => {
  assert.deepEqual(parse(["--dir", "/data", "a.wasm"]).dirs, [
    { host: "/data", guest: "/data", writable: false },
  ]);
  assert.deepEqual(parse(["--dir=/data:/in", "a.wasm"]).dirs, [
    { host: "/data", guest: "/in", writable: false },
  ]);
  assert.deepEqual(
    parse(["--dir", "/a:/x:ro", "--dir", "/b:/y:rw", "--dir", "/c::rw", "g"])
      .dirs,
    [
      { host: "/a", guest: "/x", writable: false },
      { host: "/b", guest: "/y", writable: true },
      { host: "/c", guest: "/c", writable: true },
    ],
  );
  usage(
    ["--dir", "/a:/x:wr", "g"],
    /--dir needs HOST\[:GUEST\[:ro\|rw\]\], got '\/a:\/x:wr'/,
  );
  usage(["--dir", "/a:/x:rw:extra", "g"], /--dir needs/);
  usage(["--dir", ":/x", "g"], /--dir needs/);
  usage(["--dir="], /--dir needs/);
  usage(["--dir"], /--dir needs a value/);
});

Deno.test("cli: --env NAME=VALUE (the value may hold '='), NAME needed", () => {
  assert.deepEqual(
    parse(["--env", "A=1", "--env=B=x=y", "--env", "C=", "g"]).env,
    { A: "1", B: "x=y", C: "" },
  );
  usage(["--env", "NOVALUE", "g"], /--env needs NAME=VALUE, got 'NOVALUE'/);
  usage(["--env", "=1", "g"], /--env needs NAME=VALUE/);
});

Deno.test("cli: --allow-kind takes known kinds, comma-separated and repeated", () => {
  const p = parse([
    "--allow-kind",
    "tracing,uprobe",
    "--allow-kind=networking",
    "g",
  ]);
  assert.deepEqual(p.policy.programKinds, ["tracing", "uprobe", "networking"]);
  usage(["--allow-kind", "tracing,bogus", "g"], /unknown kind 'bogus'/);
});

Deno.test("cli: repeated --allow-* flags add up", () => {
  const p = parse([
    "--allow-cgroup",
    "/sys/fs/cgroup/a",
    "--allow-cgroup=/sys/fs/cgroup/b",
    "--allow-interface",
    "lo",
    "--allow-interface",
    "eth0",
    "--allow-binary",
    "/bin/true",
    "--allow-helper",
    "bpf_send_signal,bpf_probe_write_user",
    "--allow-helper",
    "bpf_override_return",
    "--allow-pin",
    "/sys/fs/bpf/x",
    "--allow-pin",
    "/sys/fs/bpf/y",
    "--restricted",
    "--allow-map-writes",
    "g",
  ]);
  assert.deepEqual(p.policy.cgroups, ["/sys/fs/cgroup/a", "/sys/fs/cgroup/b"]);
  assert.deepEqual(p.policy.interfaces, ["lo", "eth0"]);
  assert.deepEqual(p.policy.binaries, ["/bin/true"]);
  assert.deepEqual(p.policy.helpers, [
    "bpf_send_signal",
    "bpf_probe_write_user",
    "bpf_override_return",
  ]);
  assert.deepEqual(p.policy.pinDirs, ["/sys/fs/bpf/x", "/sys/fs/bpf/y"]);
  assert.equal(p.restricted, true);
  assert.equal(p.policy.mapWrites, true);
  assert.equal(parse(["--read-only-maps", "g"]).policy.mapWrites, false);
});

Deno.test("cli: --timeout, --max-memory, --max-map-memory, --max-objects validate their numbers", () => {
  const p = parse([
    "--timeout",
    "1.5",
    "--max-memory=64",
    "--max-map-memory",
    "0.5",
    "--max-objects",
    "0",
    "g",
  ]);
  assert.equal(p.policy.timeoutMs, 1500);
  assert.equal(p.policy.maxMemoryBytes, 64 * 2 ** 20);
  assert.equal(p.policy.maxMapMemoryBytes, 2 ** 19);
  assert.equal(p.policy.maxObjects, 0);
  for (const bad of ["0", "-1", "abc", "", "NaN"]) {
    usage(
      ["--timeout", bad, "g"],
      /--timeout needs a positive number of seconds/,
    );
    usage(
      ["--max-memory", bad, "g"],
      /--max-memory needs a positive number of MiB/,
    );
    usage(["--max-map-memory", bad, "g"], /--max-map-memory needs a positive/);
  }
  for (const bad of ["-1", "1.5", "x"]) {
    usage(["--max-objects", bad, "g"], /--max-objects needs a whole number/);
  }
});

Deno.test("cli: the first non-option is the guest; everything after it is the guest's", () => {
  const p = parse(["-v", "app.wasm", "--timeout", "x", "--", "-h"]);
  assert.equal(p.verbose, true);
  assert.equal(p.wasm, "app.wasm");
  assert.deepEqual(p.guestArgs, ["--timeout", "x", "--", "-h"]);
  assert.equal(p.policy.timeoutMs, undefined);
  // "--" ends the options: a guest path may start with "-"
  const q = parse(["--env", "A=1", "--", "-weird.wasm", "--help"]);
  assert.equal(q.wasm, "-weird.wasm");
  assert.deepEqual(q.guestArgs, ["--help"]);
  assert.equal(q.help, false);
  // "-" is a path (stdin-like name), not an option
  assert.equal(parse(["-", "x"]).wasm, "-");
  // no guest at all
  const none = parse(["--help"]);
  assert.equal(none.help, true);
  assert.equal(none.wasm, undefined);
  assert.equal(parse(["--"]).wasm, undefined);
  assert.deepEqual(parse(["-V"]).version, true);
});

Deno.test("cli: --audit needs =FILE (a separate word is not taken as its file)", () => {
  assert.equal(parse(["--audit=/dev/fd/3", "g"]).audit, "/dev/fd/3");
  usage(["--audit", "g"], /--audit needs =FILE/);
  usage(["--audit="], /--audit needs =FILE/);
});

Deno.test("cli: unknown options are named; --imports becomes a URL; --policy kept", () => {
  usage(["--allow-everything", "g"], /unknown option '--allow-everything'/);
  usage(["-x", "g"], /unknown option '-x'/);
  usage(["--bogus=1", "g"], /unknown option '--bogus=1'/);
  // a flag without a value does not swallow one given with "="
  usage(["--restricted=no", "g"], /--restricted takes no value/);
  usage(["--allow-map-writes=false", "g"], /--allow-map-writes takes no value/);
  usage(["--verbose=1", "g"], /--verbose takes no value/);
  const p = parse(["--imports", "/abs/mod.ts", "--policy", "p.json", "g"]);
  assert.equal(p.imports, "file:///abs/mod.ts");
  assert.equal(p.policyFile, "p.json");
  assert.equal(
    parse(["--imports=rel/mod.ts", "g"]).imports,
    new URL("rel/mod.ts", `file://${Deno.cwd()}/`).href,
  );
});
