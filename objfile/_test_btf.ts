/**
 * A tiny BTF writer for unit tests: each call appends a type and returns
 * its id; {@link BtfBuilder.bytes} gives the `.BTF` section.
 *
 * @module
 */
const enc = new TextEncoder();

/** Each call appends a type and returns its id. */
export class BtfBuilder {
  #strs: number[] = [0];
  #offs = new Map<string, number>();
  #types: number[] = [];
  #n = 0;
  /** The offset of `s` in the string section. */
  str(s: string): number {
    if (!s) return 0;
    if (!this.#offs.has(s)) {
      this.#offs.set(s, this.#strs.length);
      this.#strs.push(...enc.encode(s), 0);
    }
    return this.#offs.get(s)!;
  }
  #add(
    name: string,
    kind: number,
    vlen: number,
    st: number,
    ...rest: number[]
  ) {
    this.#types.push(this.str(name), (kind << 24) | vlen, st, ...rest);
    return ++this.#n;
  }
  /** An integer type (`enc` 1: signed, 2: char). */
  int(name: string, size: number, enc = 0): number {
    return this.#add(name, 1, 0, size, (enc << 24) | (size * 8));
  }
  /** A pointer. */
  ptr(to: number): number {
    return this.#add("", 2, 0, to);
  }
  /** An array. */
  array(elem: number, n: number, index: number): number {
    return this.#add("", 3, 0, 0, elem, index, n);
  }
  /** A struct of `[name, type, byte offset]` members. */
  struct(
    name: string,
    size: number,
    members: [string, number, number][],
  ): number {
    return this.#add(
      name,
      4,
      members.length,
      size,
      ...members.flatMap(([n, t, off]) => [this.str(n), t, off * 8]),
    );
  }
  /** An enum. */
  enum(name: string, size: number, vals: [string, number][]): number {
    return this.#add(
      name,
      6,
      vals.length,
      size,
      ...vals.flatMap(([n, v]) => [this.str(n), v >>> 0]),
    );
  }
  /** A const of `t`. */
  const(t: number): number {
    return this.#add("", 10, 0, t);
  }
  /** A volatile of `t`. */
  volatile(t: number): number {
    return this.#add("", 9, 0, t);
  }
  /** A global variable. */
  variable(name: string, t: number): number {
    return this.#add(name, 14, 0, t, 1);
  }
  /** A DATASEC of `[var, offset, size]`. */
  datasec(
    name: string,
    size: number,
    vars: [number, number, number][],
  ): number {
    return this.#add(name, 15, vars.length, size, ...vars.flat());
  }
  /** The .BTF section's bytes. */
  bytes(): Uint8Array {
    const t = new Uint8Array(new Uint32Array(this.#types).buffer);
    const s = new Uint8Array(this.#strs);
    const out = new Uint8Array(24 + t.length + s.length);
    const hdr = new DataView(out.buffer);
    hdr.setUint16(0, 0xeb9f, true);
    hdr.setUint8(2, 1);
    hdr.setUint32(4, 24, true);
    hdr.setUint32(12, t.length, true);
    hdr.setUint32(16, t.length, true);
    hdr.setUint32(20, s.length, true);
    out.set(t, 24);
    out.set(s, 24 + t.length);
    return out;
  }
}
