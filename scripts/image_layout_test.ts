// The image's tar layers and OCI layout, root-free: what writeLayer writes
// listTar and GNU tar read back the same way; digests are the content's.
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import {
  imageLayout,
  type LayerEntry,
  listTar,
  sha256,
  writeLayer,
} from "./image_layout.ts";

const long = "app/" + "deep/".repeat(30) + "module.ts";
const entries: LayerEntry[] = [
  { type: "dir", path: "/app", mode: 0o755 },
  {
    type: "file",
    path: "/app/mod.ts",
    data: new TextEncoder().encode("export {};\n"),
    mode: 0o644,
  },
  { type: "file", path: `/${long}`, data: new Uint8Array(700), mode: 0o600 },
  { type: "symlink", path: "/lib", target: "usr/lib" },
  { type: "symlink", path: "/l2", target: "/" + "t/".repeat(60) + "x" },
  { type: "dir", path: "/tmp", mode: 0o1777 },
];

Deno.test("writeLayer: listTar reads back paths, types, modes, targets and contents (pax for long names)", () => {
  const tar = writeLayer(entries, 1234);
  assert.equal(tar.length % 512, 0);
  const got = listTar(tar);
  assert.deepEqual(got.map((e) => e.path), [
    "app",
    long,
    "app/mod.ts",
    "l2",
    "lib",
    "tmp",
  ]);
  const by = new Map(got.map((e) => [e.path, e]));
  assert.equal(by.get("app")!.type, "dir");
  assert.equal(by.get("tmp")!.mode, 0o1777);
  assert.equal(by.get(long)!.size, 700);
  assert.equal(by.get(long)!.mode, 0o600);
  assert.equal(
    new TextDecoder().decode(by.get("app/mod.ts")!.data),
    "export {};\n",
  );
  assert.equal(by.get("lib")!.target, "usr/lib");
  assert.equal(by.get("l2")!.target, "/" + "t/".repeat(60) + "x");
  // reproducible: the same entries in another order give the same bytes
  assert.deepEqual(writeLayer([...entries].reverse(), 1234), tar);
});

Deno.test("writeLayer: GNU tar lists the same entries", async () => {
  const file = await Deno.makeTempFile({ suffix: ".tar" });
  try {
    await Deno.writeFile(file, writeLayer(entries));
    const out = await new Deno.Command("tar", {
      args: ["-tvf", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.equal(lines.length, entries.length);
    assert.ok(lines.some((l) => l.endsWith(` ${long}`)), lines.join("\n"));
    assert.ok(
      lines.some((l) =>
        l.startsWith("lrwxrwxrwx") && l.endsWith("lib -> usr/lib")
      ),
    );
    assert.ok(
      lines.some((l) => l.startsWith("drwxrwxrwt") && l.endsWith(" tmp/")),
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("writeLayer: refuses paths that climb out or repeat", () => {
  for (const path of ["/a/../etc/passwd", "./x/./y", "/"]) {
    assert.throws(
      () => writeLayer([{ type: "dir", path, mode: 0o755 }]),
      /bad path/,
    );
  }
  assert.throws(
    () =>
      writeLayer([
        { type: "dir", path: "/a", mode: 0o755 },
        { type: "symlink", path: "a", target: "b" },
      ]),
    /twice/,
  );
});

Deno.test("imageLayout: digests and diff_ids are the content's; index.json names the manifest", async () => {
  const tar = writeLayer(entries);
  const l = await imageLayout([{ tar, comment: "test" }], {
    env: ["A=1"],
    entrypoint: ["/x"],
  }, "v1");
  for (const [digest, bytes] of l.blobs) {
    assert.equal(await sha256(bytes), digest);
  }
  assert.equal(l.diffIds[0], await sha256(tar));
  assert.deepEqual(
    new Uint8Array(gunzipSync(l.blobs.get(l.layers[0].digest)!)),
    tar,
  );
  const config = JSON.parse(
    new TextDecoder().decode(l.blobs.get(l.config.digest)),
  );
  assert.deepEqual(config.rootfs.diff_ids, l.diffIds);
  assert.deepEqual(config.config.Entrypoint, ["/x"]);
  const manifest = JSON.parse(
    new TextDecoder().decode(l.blobs.get(l.manifest.digest)),
  );
  assert.deepEqual(manifest.config, l.config);
  assert.deepEqual(manifest.layers, l.layers);
  const index = JSON.parse(new TextDecoder().decode(l.index));
  assert.equal(index.manifests[0].digest, l.manifest.digest);
  assert.equal(
    index.manifests[0].annotations["org.opencontainers.image.ref.name"],
    "v1",
  );
  // the same input, the same image
  const again = await imageLayout([{ tar, comment: "test" }], {
    env: ["A=1"],
    entrypoint: ["/x"],
  }, "v1");
  assert.equal(again.manifest.digest, l.manifest.digest);
});
