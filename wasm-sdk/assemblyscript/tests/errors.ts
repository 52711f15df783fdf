// Error paths, maps and batch polling of the AssemblyScript SDK, run on the
// real host by tests/sdk_as_test.ts. Prints one "name: result" line per
// check; every failure must come back as a value, never a trap. The BPF
// object is wasm-sdk/tests/errors.bpf.c (shared with the Rust and Go tests),
// embedded through bpfobj/object.ts by scripts/build-sdk.sh.
import {
  BPF_ANY,
  BPF_NOEXIST,
  // deno-lint-ignore verbatim-module-syntax
  BpfError,
  BpfObject,
  Errno,
  exit,
  println,
  setGlobal,
} from "../index";
import { BPF_OBJECT, BPF_OBJECT_LEN } from "./bpfobj/object";

function show(name: string, err: BpfError | null, ok: string = ""): void {
  if (err !== null) {
    println(
      name + ": err errno=" + err.errno.toString() + " " + err.toString(),
    );
  } else {
    println(name + ": ok" + (ok.length > 0 ? " " + ok : ""));
  }
}

function main(): i32 {
  const garbage = String.UTF8.encode("definitely not an ELF object");
  show("load-garbage", BpfObject.load(garbage).error);
  show("load-empty", BpfObject.load(new ArrayBuffer(0)).error);

  show(
    "set-global-unknown",
    setGlobal<u32>(BPF_OBJECT, BPF_OBJECT_LEN, "no_such_global", 1),
  );
  show(
    "set-global-size",
    setGlobal<u64>(BPF_OBJECT, BPF_OBJECT_LEN, "magic", 1),
  );
  show(
    "set-global",
    setGlobal<u32>(BPF_OBJECT, BPF_OBJECT_LEN, "magic", 0x5eed),
  );

  const loaded = BpfObject.loadRaw(BPF_OBJECT, <i32> BPF_OBJECT_LEN);
  show("load", loaded.error);
  if (!loaded.ok) return 1;
  const obj = loaded.value!;
  show("map-unknown", obj.map("no_such_map").error);
  show("attach-unknown", obj.attach("no_such_prog"));
  show("buffer-unknown", obj.buffer("no_such_map").error);

  const counts = obj.map("counts").unwrap()!;
  const missing = counts.get<u32, u64>(7);
  show("get-missing", missing.error);
  const del = counts.delete<u32>(7);
  show("delete-missing", del.error, del.value.toString());
  for (let k: u32 = 1; k <= 3; k++) {
    show("set", counts.set<u32, u64>(k, <u64> k * 100));
  }
  show("set-noexist", counts.set<u32, u64>(1, 1, BPF_NOEXIST));
  const two = counts.get<u32, u64>(2);
  show("get", two.error, two.value.toString());
  const keys = counts.keys<u32>();
  const sorted = keys.value.sort((a: u32, b: u32): i32 => <i32> a - <i32> b);
  show("keys", keys.error, sorted.join(","));
  const del2 = counts.delete<u32>(2);
  show("delete", del2.error, del2.value.toString());
  show("set-any", counts.set<u32, u64>(3, 333, BPF_ANY));
  show(
    "get-3",
    counts.get<u32, u64>(3).error,
    counts.get<u32, u64>(3).value.toString(),
  );

  show("buffer-hash-map", obj.buffer("counts", 4096).error);

  // a 16-byte buffer holds one header and 8 of a record's 24 bytes
  const small = obj.buffer("rb", 16).unwrap()!;
  const rb = obj.buffer("rb", 4096).unwrap()!;
  // attached once both consumers exist, so no record waits in either
  show("attach", obj.attach("on_getppid"));
  let truncated = false;
  let whole = false;
  for (let i = 0; i < 100 && !(truncated && whole); i++) {
    const r = truncated ? rb.pollBatch(100) : small.pollBatch(100);
    if (!r.ok) {
      if (r.error!.errno == Errno.EINTR) break;
      show("poll", r.error);
      break;
    }
    for (let j = 0; j < r.value.length; j++) {
      const rec = r.value[j];
      const magic = rec.copied >= 4 ? load<u32>(rec.data) : 0;
      if (
        !truncated && rec.truncated && rec.size == 24 && rec.copied == 8 &&
        magic == 0x5eed
      ) {
        println("poll-truncated: size=24 copied=8 magic=0x5eed");
        truncated = true;
      } else if (
        truncated && !whole && !rec.truncated && rec.size == 24 &&
        magic == 0x5eed
      ) {
        println(
          "poll: size=24 copied=" + rec.copied.toString() + " magic=0x5eed",
        );
        whole = true;
      }
    }
  }
  show("close", obj.close());
  show("close-again", obj.close());
  println("done");
  return 0;
}

exit(main());
