/**
 * Memory ceilings for guests: the module's own memory declaration is
 * rewritten before compilation so that `memory.grow` fails past the
 * ceiling, exactly as on a machine with that much memory (malloc returns
 * NULL; the guest decides what to do).
 *
 * @module
 */

const PAGE = 65536;

function readLeb(bytes: Uint8Array, off: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (off >= bytes.length) throw new Error("truncated LEB128");
    const b = bytes[off++];
    result += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [result, off];
    shift += 7;
    if (shift > 35) throw new Error("LEB128 too long");
  }
}

/** The unsigned LEB128 encoding of `n` (a wasm section size or limit). */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/**
 * A copy of the module `wasm` whose defined memories may grow to at most
 * `maxBytes`. Throws if the module needs more than that to start.
 */
export function capMemory(wasm: Uint8Array, maxBytes: number): Uint8Array {
  const cap = Math.max(1, Math.floor(maxBytes / PAGE));
  if (wasm.length < 8) throw new Error("not a WebAssembly module");
  let off = 8;
  while (off < wasm.length) {
    const id = wasm[off];
    const [size, contentStart] = readLeb(wasm, off + 1);
    const end = contentStart + size;
    if (end > wasm.length) throw new Error("truncated section");
    if (id === 5) {
      let p = contentStart;
      const [count, p1] = readLeb(wasm, p);
      p = p1;
      const content: number[] = leb(count);
      for (let i = 0; i < count; i++) {
        const flags = wasm[p++];
        if (flags & ~0x01) {
          throw new Error(
            `memory ${i} is shared or 64-bit (flags ${flags}): cannot cap it`,
          );
        }
        const [min, p2] = readLeb(wasm, p);
        p = p2;
        let max = Infinity;
        if (flags & 1) {
          const [m, p3] = readLeb(wasm, p);
          max = m;
          p = p3;
        }
        if (min > cap) {
          throw new Error(
            `the guest needs ${
              min * 64
            } KiB of memory to start, more than the ${
              cap * 64
            } KiB allowed (--max-memory)`,
          );
        }
        content.push(0x01, ...leb(min), ...leb(Math.min(max, cap)));
      }
      const section = [5, ...leb(content.length), ...content];
      const out = new Uint8Array(wasm.length - (end - off) + section.length);
      out.set(wasm.subarray(0, off));
      out.set(section, off);
      out.set(wasm.subarray(end), off + section.length);
      return out;
    }
    off = end;
  }
  return wasm; // no memory of its own (imported or none): nothing to cap
}
