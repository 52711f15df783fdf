/**
 * Tar archives: a reader for ustar/GNU/pax archives (every entry, or the
 * regular files a pulled layer holds), a writer of reproducible layers
 * (files, directories, symlinks; pax records for long names: the image
 * script builds the host's container image with it), and gunzip through
 * `DecompressionStream`.
 *
 * @module
 */

/** One entry of a layer. */
export type LayerEntry =
  | { type: "file"; path: string; data: Uint8Array; mode: number }
  | { type: "dir"; path: string; mode: number }
  | { type: "symlink"; path: string; target: string };

/** An entry as read back from a layer by {@link listTar}. */
export interface ListedEntry {
  /** The path without a leading `/` or `./`; directories without a trailing `/`. */
  path: string;
  /** `file`, `dir`, `symlink`, `hardlink` or the tar type flag for others. */
  type: string;
  /** Permission bits. */
  mode: number;
  /** Size in bytes (0 for all but files). */
  size: number;
  /** A symlink's or hard link's target. */
  target?: string;
  /** A file's content. */
  data?: Uint8Array;
}

/** A regular file in a tar archive. */
export interface TarEntry {
  /** The path inside the archive (`./` stripped). */
  name: string;
  /** The file's bytes. */
  data: Uint8Array;
}

/** Gunzips `bytes`; throws on corrupt input or when the result passes `limit` bytes. */
export async function gunzip(
  bytes: Uint8Array,
  limit = 512 * 2 ** 20,
): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new DecompressionStream("gzip"),
  );
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) {
      throw new Error(`the gzip layer unpacks to more than ${limit} bytes`);
    }
    parts.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function field(h: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && h[end] !== 0) end++;
  return new TextDecoder().decode(h.subarray(at, end));
}

function octal(h: Uint8Array, at: number, len: number): number {
  if (h[at] & 0x80) {
    // GNU base-256
    let n = 0;
    for (let i = at + 1; i < at + len; i++) n = n * 256 + h[i];
    return n;
  }
  const s = field(h, at, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/**
 * Every entry of a tar archive (pax `path`/`linkpath` and GNU long names
 * honoured). Throws on a corrupt or truncated archive.
 */
export function listTar(tar: Uint8Array): ListedEntry[] {
  const out: ListedEntry[] = [];
  let at = 0;
  let long: { path?: string; linkpath?: string } = {};
  while (at + 512 <= tar.length) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== octal(h, 148, 8)) {
      throw new Error(`corrupt tar header at offset ${at}`);
    }
    const size = octal(h, 124, 12);
    const flag = String.fromCharCode(h[156] || 0x30);
    let name = field(h, 0, 100);
    const prefix = field(h, 345, 155);
    if (prefix && field(h, 257, 5) === "ustar") name = `${prefix}/${name}`;
    const start = at + 512;
    if (start + size > tar.length) throw new Error("truncated tar archive");
    const data = tar.subarray(start, start + size);
    at = start + Math.ceil(size / 512) * 512;
    if (flag === "x") {
      for (
        const m of new TextDecoder().decode(data).matchAll(
          /\d+ (path|linkpath)=([^\n]*)\n/g,
        )
      ) {
        long[m[1] as "path" | "linkpath"] = m[2];
      }
      continue;
    }
    if (flag === "L" || flag === "K") {
      long[flag === "L" ? "path" : "linkpath"] = field(data, 0, data.length);
      continue;
    }
    const path = (long.path ?? name).replace(/^(\.\/|\/)+/, "").replace(
      /\/$/,
      "",
    );
    const target = long.linkpath ?? field(h, 157, 100);
    long = {};
    const type = flag === "0" || flag === "7"
      ? "file"
      : flag === "5"
      ? "dir"
      : flag === "2"
      ? "symlink"
      : flag === "1"
      ? "hardlink"
      : flag;
    out.push({
      path,
      type,
      mode: octal(h, 100, 8),
      size: type === "file" ? size : 0,
      ...(type === "symlink" || type === "hardlink" ? { target } : {}),
      ...(type === "file" ? { data } : {}),
    });
  }
  return out;
}

/**
 * The regular files of a tar archive, with GNU long names and pax `path`
 * records honoured. Throws on a truncated or corrupt archive.
 */
export function readTar(tar: Uint8Array): TarEntry[] {
  return listTar(tar).filter((e) => e.type === "file").map((e) => ({
    name: e.path,
    data: e.data!,
  }));
}

const enc = new TextEncoder();

function put(h: Uint8Array, at: number, len: number, s: string): void {
  h.set(enc.encode(s).subarray(0, len), at);
}

function octalField(n: number, len: number): string {
  return n.toString(8).padStart(len - 1, "0") + "\0";
}

function header(
  name: string,
  type: string,
  mode: number,
  size: number,
  mtime: number,
  link = "",
): Uint8Array {
  const h = new Uint8Array(512);
  put(h, 0, 100, name);
  put(h, 100, 8, octalField(mode & 0o7777, 8));
  put(h, 108, 8, octalField(0, 8));
  put(h, 116, 8, octalField(0, 8));
  put(h, 124, 12, octalField(size, 12));
  put(h, 136, 12, octalField(mtime, 12));
  h[156] = type.charCodeAt(0);
  put(h, 157, 100, link);
  put(h, 257, 8, "ustar\u000000");
  h.fill(32, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

/** A pax record `LEN key=value\n` (LEN counts the whole record). */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = enc.encode(body).length;
  let digits = String(len).length;
  while (String(len + digits).length !== digits) digits++;
  len += digits;
  return `${len}${body}`;
}

function padded(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.length / 512) * 512);
  out.set(data);
  return out;
}

/**
 * A reproducible tar of `entries` (sorted by path unless `sort` is false; owner root, mtime
 * `mtime`); names longer than the ustar field get a pax `path` (and
 * `linkpath`) record, as every tar reader and container runtime reads.
 * Paths are written without a leading `/`.
 */
export function writeLayer(
  entries: LayerEntry[],
  mtime = 0,
  sort = true,
): Uint8Array {
  const sorted = !sort
    ? entries
    : [...entries].sort((a, b) =>
      a.path < b.path ? -1 : a.path > b.path ? 1 : 0
    );
  const seen = new Set<string>();
  const blocks: Uint8Array[] = [];
  for (const e of sorted) {
    const rel = e.path.replace(/^\/+/, "");
    if (!rel || rel.split("/").some((p) => p === ".." || p === ".")) {
      throw new Error(`layer entry with a bad path: '${e.path}'`);
    }
    if (seen.has(rel)) throw new Error(`layer entry twice: '${e.path}'`);
    seen.add(rel);
    const name = e.type === "dir" ? `${rel}/` : rel;
    const target = e.type === "symlink" ? e.target : "";
    const pax: string[] = [];
    if (enc.encode(name).length > 100) pax.push(paxRecord("path", name));
    if (enc.encode(target).length > 100) {
      pax.push(paxRecord("linkpath", target));
    }
    if (pax.length) {
      const body = enc.encode(pax.join(""));
      blocks.push(
        header("PaxHeader", "x", 0o644, body.length, mtime),
        padded(body),
      );
    }
    if (e.type === "file") {
      blocks.push(
        header(name, "0", e.mode, e.data.length, mtime),
        padded(e.data),
      );
    } else if (e.type === "dir") {
      blocks.push(header(name, "5", e.mode, 0, mtime));
    } else {
      blocks.push(header(name, "2", 0o777, 0, mtime, target));
    }
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Writes a ustar archive of `files`, in their order; for tests and tools. */
export function writeTar(files: TarEntry[]): Uint8Array {
  return writeLayer(
    files.map((f) => ({
      type: "file",
      path: f.name,
      data: f.data,
      mode: 0o644,
    })),
    0,
    false,
  );
}
