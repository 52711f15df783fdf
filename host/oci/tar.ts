/**
 * A small reader for ustar/GNU tar archives (regular files only) and
 * gunzip through `DecompressionStream`.
 *
 * @module
 */

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
 * The regular files of a tar archive, with GNU long names and pax `path`
 * records honoured. Throws on a truncated or corrupt archive.
 */
export function readTar(tar: Uint8Array): TarEntry[] {
  const out: TarEntry[] = [];
  let at = 0;
  let longName: string | undefined;
  while (at + 512 <= tar.length) {
    const h = tar.subarray(at, at + 512);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (sum !== octal(h, 148, 8)) {
      throw new Error(`corrupt tar header at offset ${at}`);
    }
    const size = octal(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const prefix = field(h, 345, 155);
    let name = field(h, 0, 100);
    if (prefix && field(h, 257, 6) === "ustar") name = `${prefix}/${name}`;
    const start = at + 512;
    if (start + size > tar.length) throw new Error("truncated tar archive");
    const data = tar.subarray(start, start + size);
    at = start + Math.ceil(size / 512) * 512;
    if (type === "L") {
      longName = field(data, 0, data.length);
      continue;
    }
    if (type === "x") {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(
        new TextDecoder().decode(data),
      );
      if (m) longName = m[1];
      continue;
    }
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    if (type === "0" || type === "\0" || type === "7") {
      out.push({ name: name.replace(/^(\.\/)+/, ""), data });
    }
  }
  return out;
}

/** Writes a ustar archive of `files` (names up to 100 bytes); for tests and tools. */
export function writeTar(files: TarEntry[]): Uint8Array {
  const enc = new TextEncoder();
  const blocks: Uint8Array[] = [];
  for (const f of files) {
    const h = new Uint8Array(512);
    h.set(enc.encode(f.name).subarray(0, 100), 0);
    h.set(enc.encode("0000644\0"), 100);
    h.set(enc.encode("0000000\0"), 108);
    h.set(enc.encode("0000000\0"), 116);
    h.set(enc.encode(f.data.length.toString(8).padStart(11, "0") + "\0"), 124);
    h.set(enc.encode("00000000000\0"), 136);
    h[156] = 0x30;
    h.set(enc.encode("ustar\0" + "00"), 257);
    h.fill(32, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    blocks.push(h);
    const body = new Uint8Array(Math.ceil(f.data.length / 512) * 512);
    body.set(f.data);
    blocks.push(body);
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
