// as-bootstrap: print process exec and exit events (user-space half in
// AssemblyScript, wasm32-wasi), the AssemblyScript twin of
// examples/bootstrap. Records arrive through the exported table callback.
//
//   as-bootstrap [-d MIN_DURATION_MS] [-h]
//
// Built by scripts/build-sdk.sh as, which compiles the C example's BPF
// source (examples/bootstrap/bootstrap.bpf.c) and generates
// bpfobj/object.ts (the BPF object as a static data segment).
import {
  args,
  BpfObject,
  cString,
  eprintln,
  Errno,
  errnoName,
  exit,
  nowNs,
  println,
  setGlobal,
} from "../../wasm-sdk/assemblyscript/index";
import { BPF_OBJECT, BPF_OBJECT_LEN } from "./bpfobj/object";

const USAGE = `usage: as-bootstrap [-d MIN_DURATION_MS] [-h]

Trace process start and exit: one line per exec (EXEC comm pid ppid
filename) and per exit (EXIT comm pid ppid [exit code] (duration)).

  -d MS   only report processes that lived at least MS milliseconds
          (exec events are then not reported)
  -h      show this help`;

/**
 * struct event of examples/bootstrap/bootstrap.h, read in place from guest
 * memory.
 */
@unmanaged
// deno-lint-ignore no-unused-vars
class Event {
  pid: u32;
  ppid: u32;
  exit_code: u32;
  exit_event: u32;
  duration_ns: u64;
  // char comm[16] at 24, char filename[128] at 40
}
const EVENT_SIZE = 168;
const COMM_OFFSET: usize = 24;
const FILENAME_OFFSET: usize = 40;

function pad(s: string, width: i32): string {
  return s.padEnd(width, " ");
}

function two(n: u64): string {
  return n < 10 ? "0" + n.toString() : n.toString();
}

function hms(): string {
  const s = (nowNs() / 1_000_000_000) % 86400;
  return two(s / 3600) + ":" + two((s / 60) % 60) + ":" + two(s % 60);
}

function handleEvent(_ctx: i32, data: usize, size: i32): i32 {
  if (size < EVENT_SIZE) {
    eprintln("as-bootstrap: short record (" + size.toString() + " bytes)");
    return 0;
  }
  const e = changetype<Event>(data);
  const head = pad(hms(), 8) + " " + pad(e.exit_event ? "EXIT" : "EXEC", 5) +
    " " +
    pad(cString(data + COMM_OFFSET, 16), 16) + " " +
    pad(e.pid.toString(), 7) + " " + pad(e.ppid.toString(), 7) + " ";
  if (e.exit_event) {
    let line = head + "[" + e.exit_code.toString() + "]";
    if (e.duration_ns != 0) {
      line += " (" + (e.duration_ns / 1_000_000).toString() + "ms)";
    }
    println(line);
  } else {
    println(head + cString(data + FILENAME_OFFSET, 128));
  }
  return 0;
}

function parseMs(s: string): i64 {
  if (s.length == 0 || s.length > 15) return -1;
  let v: i64 = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + <i64> (c - 48);
  }
  return v;
}

function main(): i32 {
  const argv = args();
  let minMs: i64 = 0;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i];
    if (a == "-h" || a == "--help") {
      println(USAGE);
      return 0;
    } else if (a == "-d" || a.startsWith("-d")) {
      let v: string;
      if (a == "-d") {
        if (i + 1 >= argv.length) {
          eprintln("as-bootstrap: option -d needs a value");
          return 2;
        }
        v = argv[++i];
      } else {
        v = a.substring(2);
      }
      minMs = parseMs(v);
      if (minMs < 0) {
        eprintln(
          "as-bootstrap: invalid duration '" + v + "' (milliseconds expected)",
        );
        return 2;
      }
    } else {
      eprintln("as-bootstrap: unexpected argument '" + a + "'");
      eprintln(USAGE);
      return 2;
    }
  }

  let err = setGlobal<u64>(
    BPF_OBJECT,
    BPF_OBJECT_LEN,
    "min_duration_ns",
    <u64> minMs * 1_000_000,
  );
  if (err !== null) {
    eprintln("as-bootstrap: " + err.toString());
    return 1;
  }
  const loaded = BpfObject.loadRaw(BPF_OBJECT, <i32> BPF_OBJECT_LEN);
  if (!loaded.ok) {
    eprintln("as-bootstrap: " + loaded.error!.toString());
    return 1;
  }
  const obj = loaded.value!;
  err = obj.attach("handle_exec");
  if (err === null) err = obj.attach("handle_exit");
  if (err !== null) {
    eprintln("as-bootstrap: " + err.toString());
    obj.close();
    return 1;
  }
  const opened = obj.buffer("rb", 4096);
  if (!opened.ok) {
    eprintln("as-bootstrap: " + opened.error!.toString());
    obj.close();
    return 1;
  }
  const rb = opened.value!;
  println(
    pad("TIME", 8) + " " + pad("EVENT", 5) + " " + pad("COMM", 16) + " " +
      pad("PID", 7) + " " + pad("PPID", 7) + " FILENAME/EXIT CODE",
  );
  let code = 0;
  for (;;) {
    const r = rb.poll(100, handleEvent);
    if (r == -Errno.EINTR) break;
    if (r < 0) {
      eprintln("as-bootstrap: polling ring buffer: " + errnoName(-r));
      code = 1;
      break;
    }
  }
  obj.close();
  return code;
}

exit(main());
