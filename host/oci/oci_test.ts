// Root-free unit tests of the pure parts of host/oci: references, policy
// patterns, challenges, the tar reader and gunzip.
import assert from "node:assert/strict";
import {
  imageAllowed,
  InvalidReference,
  looksLikeReference,
  parseReference,
} from "./ref.ts";
import { isLoopback, parseChallenge } from "./client.ts";
import { gunzip, readTar, writeTar } from "./tar.ts";

Deno.test("oci: references parse into registry, repository, tag and digest", () => {
  const d = "sha256:" + "ab".repeat(32);
  assert.deepEqual(parseReference("localhost:5000/tools/bootstrap:v1"), {
    registry: "localhost:5000",
    repository: "tools/bootstrap",
    tag: "v1",
    digest: undefined,
  });
  assert.deepEqual(parseReference(`127.0.0.1:5000/a@${d}`), {
    registry: "127.0.0.1:5000",
    repository: "a",
    tag: undefined,
    digest: d,
  });
  assert.equal(parseReference("ghcr.io/x/y").tag, "latest");
  assert.equal(parseReference(`ghcr.io/x/y:v2@${d}`).tag, "v2");
  for (
    const bad of [
      "bootstrap:v1", // no registry
      "localhost:5000/Tools:v1", // uppercase
      "localhost:5000/a/../b:v1",
      "localhost:5000/a:v1@sha256:abc",
      "localhost:5000/a:-x",
      "localhost:5000/",
    ]
  ) {
    assert.throws(() => parseReference(bad), InvalidReference, bad);
  }
});

Deno.test("oci: only registry-shaped arguments look like references", () => {
  assert.ok(looksLikeReference("localhost:5000/tools/x:v1"));
  assert.ok(looksLikeReference("ghcr.io/x/y"));
  assert.ok(!looksLikeReference("build/examples/bootstrap/bootstrap.wasm"));
  assert.ok(!looksLikeReference("app.wasm"));
  assert.ok(!looksLikeReference("/abs/app.wasm"));
  assert.ok(!looksLikeReference("./x.y/app.wasm"));
  assert.ok(!looksLikeReference("out.v2/app.wasm"));
  assert.ok(!looksLikeReference("out.v2/app.bpf.o"));
  assert.ok(looksLikeReference("localhost:5000/tools/app.wasm:v1"));
});

Deno.test("oci: allowImages patterns match the reference or its resolved digest", () => {
  const d = "sha256:" + "cd".repeat(32);
  const tagged = parseReference("localhost:5000/tools/x:v1");
  const pinned = parseReference(`localhost:5000/tools/x@${d}`);
  assert.ok(imageAllowed(["localhost:5000/tools/*"], tagged));
  assert.ok(!imageAllowed(["localhost:5000/other/*"], tagged));
  // digests only
  const digestsOnly = ["localhost:5000/tools/*@sha256:*"];
  assert.ok(!imageAllowed(digestsOnly, tagged));
  assert.ok(imageAllowed(digestsOnly, pinned));
  assert.ok(!imageAllowed(digestsOnly, tagged, d));
  // one exact digest, reached through a tag once resolved
  assert.ok(imageAllowed([`localhost:5000/tools/x@${d}`], tagged, d));
  assert.ok(!imageAllowed([`localhost:5000/tools/x@${d}`], tagged));
  // regex characters are literal
  assert.ok(
    !imageAllowed(
      ["localhost:5000/tools/x.v1"],
      parseReference("localhost:5000/tools/x:v1"),
    ),
  );
  assert.ok(!imageAllowed([], tagged));
});

Deno.test("oci: WWW-Authenticate challenges and loopback hosts", () => {
  assert.deepEqual(
    parseChallenge(
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"',
    ),
    {
      scheme: "bearer",
      params: {
        realm: "https://auth.example/token",
        service: "registry.example",
        scope: "repository:a/b:pull,push",
      },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="basic-realm"'), {
    scheme: "basic",
    params: { realm: "basic-realm" },
  });
  assert.ok(isLoopback("localhost:5000"));
  assert.ok(isLoopback("127.0.0.1"));
  assert.ok(!isLoopback("127.0.0.1.example.com:5000"));
  assert.ok(!isLoopback("registry.example"));
});

Deno.test("oci: tar reader finds regular files; gunzip round-trips; corruption is an error", async () => {
  const a = new TextEncoder().encode("x".repeat(700));
  const tar = writeTar([{ name: "dir/app.wasm", data: a }, {
    name: "README",
    data: new Uint8Array([1, 2, 3]),
  }]);
  const entries = readTar(tar);
  assert.deepEqual(entries.map((e) => e.name), ["dir/app.wasm", "README"]);
  assert.deepEqual(entries[0].data, a);
  const gz = new Uint8Array(
    await new Response(
      new Blob([tar as BlobPart]).stream().pipeThrough(
        new CompressionStream("gzip"),
      ),
    ).arrayBuffer(),
  );
  assert.deepEqual(await gunzip(gz), tar);
  await assert.rejects(gunzip(gz, 100), /more than 100/);
  await assert.rejects(gunzip(gz.subarray(0, gz.length - 10)));
  const broken = tar.slice();
  broken[10] ^= 1;
  assert.throws(() => readTar(broken), /corrupt tar header/);
  assert.throws(() => readTar(tar.subarray(0, 1000)), /truncated/);
});
