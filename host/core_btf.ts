/**
 * The kernel BTF libbpf resolves an object's CO-RE relocations against:
 * instead of `/sys/kernel/btf/vmlinux` (5 MB that libbpf reads, copies and
 * indexes on every load: ~15 ms and ~10 MiB of peak RSS), the minimal BTF
 * those relocations need (objfile/core_btf.ts), a few hundred bytes.
 *
 * It is made once per kernel build and set of relocations and kept in
 * `$XDG_CACHE_HOME/wasm-bpf/core-btf/<kernel build id>/` (needs deno
 * `--allow-write` there; without it, or without `--allow-env` for the
 * cache's location, libbpf reads the kernel's BTF as usual). An entry
 * holds the question with the answer and is used only when the question
 * matches, the file and its directories belong to this user and nobody
 * else may write them; libbpf then reads a copy in a memory file, so what
 * it reads is what was checked.
 *
 * @module
 */
import {
  effectiveUid,
  mapSystemFile,
  type MemoryFile,
  memoryFile,
  readSystemFile,
} from "../ffi/mod.ts";
import { coreNeeds, minimalCoreBtf } from "../objfile/core_btf.ts";
import type { ElfFile } from "../objfile/elf.ts";
import { checkBtf } from "../objfile/validate.ts";
import { cacheDir } from "./oci/cache.ts";

const MAGIC = [0x57, 0x42, 0x43, 0x42]; // "WBCB"
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Where the cache and the kernel's BTF are; tests point them elsewhere. */
export interface CoreBtfPaths {
  /** The cache's directory for this kernel (default: see the module). */
  dir?: string;
  /** The kernel's BTF (default `/sys/kernel/btf/vmlinux`). */
  kernelBtf?: string;
}

let buildId: string | null | undefined;

/**
 * The running kernel's GNU build id, from `/sys/kernel/notes` (hex), or
 * undefined when it cannot be read. Two kernels with one build id have one
 * BTF.
 */
export function kernelBuildId(): string | undefined {
  if (buildId === undefined) {
    buildId = null;
    const b = readSystemFile("/sys/kernel/notes");
    if (b) {
      const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const pad = (n: number) => (n + 3) & ~3;
      for (let p = 0; p + 12 <= b.length;) {
        const namesz = v.getUint32(p, true);
        const descsz = v.getUint32(p + 4, true);
        const type = v.getUint32(p + 8, true);
        const name = decoder.decode(b.subarray(p + 12, p + 12 + namesz));
        const desc = p + 12 + pad(namesz);
        if (type === 3 && name === "GNU\0" && desc + descsz <= b.length) {
          buildId = Array.from(
            b.subarray(desc, desc + descsz),
            (x) => x.toString(16).padStart(2, "0"),
          ).join("");
          break;
        }
        p = desc + pad(descsz);
      }
    }
  }
  return buildId ?? undefined;
}

/** The cache's base, the OCI cache's ({@link cacheDir}); undefined without --allow-env. */
function cacheBase(): string | undefined {
  try {
    return cacheDir();
  } catch {
    return undefined;
  }
}

/** This kernel's cache directory, or undefined (no build id, no location). */
export function coreBtfDir(): string | undefined {
  const base = cacheBase();
  const id = kernelBuildId();
  return base && id ? `${base}/core-btf/${id}` : undefined;
}

/** Whether `path` is ours alone: owned by this user, not writable by others. */
function ours(path: string, directory: boolean): boolean {
  try {
    const st = Deno.lstatSync(path);
    return (directory ? st.isDirectory : st.isFile) &&
      st.uid === effectiveUid() && ((st.mode ?? 0o777) & 0o022) === 0;
  } catch {
    return false;
  }
}

/** 64-bit FNV-1a of `s` as hex (an entry's name; its content is checked). */
function fnv64(s: string): string {
  let h1 = 0x811c9dc5, h2 = 0xcbf29ce4;
  for (const b of encoder.encode(s)) {
    h1 = Math.imul(h1 ^ b, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ b, 0x01000193) >>> 0;
    h2 = (h2 ^ (h1 >>> 7)) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

/** Where the entry answering `needs` is in `dir`. */
export function entryPath(dir: string, needs: string): string {
  return `${dir}/${fnv64(needs)}.btf`;
}

/** An entry: magic, u32 question length, question, u32 answer length, answer. */
function encodeEntry(needs: string, btf: Uint8Array | null): Uint8Array {
  const q = encoder.encode(needs);
  const a = btf ?? new Uint8Array(0);
  const out = new Uint8Array(12 + q.length + a.length);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(4, q.length, true);
  out.set(q, 8);
  v.setUint32(8 + q.length, a.length, true);
  out.set(a, 12 + q.length);
  return out;
}

/** The answer of an entry for `needs`: BTF, null (use the kernel's), or undefined. */
function decodeEntry(
  bytes: Uint8Array,
  needs: string,
): Uint8Array | null | undefined {
  if (bytes.length < 12 || MAGIC.some((m, i) => bytes[i] !== m)) return;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const qLen = v.getUint32(4, true);
  if (8 + qLen + 4 > bytes.length) return;
  if (decoder.decode(bytes.subarray(8, 8 + qLen)) !== needs) return;
  const aLen = v.getUint32(8 + qLen, true);
  if (12 + qLen + aLen !== bytes.length) return;
  if (aLen === 0) return null;
  const btf = bytes.slice(12 + qLen);
  try {
    checkBtf("cached CO-RE BTF", btf);
  } catch {
    return;
  }
  return btf;
}

function writable(dir: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "write", path: dir }).state ===
      "granted";
  } catch {
    return false;
  }
}

/**
 * The minimal kernel BTF for `elf`'s CO-RE relocations, in a memory file
 * whose path goes to libbpf's `btf_custom_path` (close it after load), or
 * undefined: no relocations, an answer only the kernel's BTF gives, or no
 * usable cache (then libbpf reads the kernel's BTF itself). Never throws.
 */
export function coreBtfFor(
  elf: ElfFile,
  paths: CoreBtfPaths = {},
): MemoryFile | undefined {
  try {
    const btfSec = elf.section(".BTF");
    const extSec = elf.section(".BTF.ext");
    if (!btfSec || !extSec) return undefined;
    const needs = coreNeeds(elf.data(btfSec), elf.data(extSec));
    if (!needs) return undefined;
    const dir = paths.dir ?? coreBtfDir();
    if (!dir) return undefined;
    const file = entryPath(dir, needs);
    let answer: Uint8Array | null | undefined;
    // the directory, core-btf/ and the cache's base: each ours alone
    const up = (d: string) => d.slice(0, d.lastIndexOf("/"));
    const chain = [dir, up(dir), up(up(dir))];
    if (chain.every((d) => ours(d, true)) && ours(file, false)) {
      try {
        answer = decodeEntry(Deno.readFileSync(file), needs);
      } catch { /* unreadable: made again below */ }
    }
    if (answer === undefined) {
      if (!writable(up(dir))) return undefined; // store() makes core-btf/
      const kernelPath = paths.kernelBtf ?? "/sys/kernel/btf/vmlinux";
      answer = fromKernel(kernelPath, needs);
      if (answer === undefined) return undefined;
      store(dir, chain, file, encodeEntry(needs, answer));
    }
    return answer ? memoryFile("wasm-bpf-core-btf", answer) : undefined;
  } catch {
    return undefined; // the kernel's BTF, as without the cache
  }
}

/**
 * The answer from the kernel's BTF, mapped (no copy; Linux 6.16 and later)
 * or else read; undefined when it cannot be read.
 */
function fromKernel(
  path: string,
  needs: string,
): Uint8Array | null | undefined {
  const mapped = mapSystemFile(path);
  if (mapped) {
    try {
      return minimalCoreBtf(needs, mapped.bytes);
    } finally {
      mapped.close(); // the answer is a copy
    }
  }
  const bytes = readSystemFile(path, 8 << 20);
  return bytes && minimalCoreBtf(needs, bytes);
}

/** Writes an entry (temporary file, then rename) where the chain is ours. */
function store(dir: string, chain: string[], file: string, bytes: Uint8Array) {
  try {
    Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // this kernel's and core-btf/ are the cache's own (the base is shared)
    for (const d of chain.slice(0, 2)) Deno.chmodSync(d, 0o700);
    if (!chain.every((d) => ours(d, true))) return;
    const tmp = `${file}.${crypto.randomUUID()}.tmp`;
    Deno.writeFileSync(tmp, bytes, { mode: 0o600, createNew: true });
    Deno.renameSync(tmp, file);
  } catch { /* a cache that cannot be written is no cache */ }
}
