/**
 * A TypeScript layer over libbpf: BPF objects, their programs and maps,
 * and the links that attach programs. Every resource is released by
 * `close()` (or `using`), and an object's `close()` releases everything it
 * owns, links and buffer readers included.
 *
 * ```ts
 * using obj = BpfObject.openFile("bootstrap.bpf.o");
 * obj.load();
 * obj.program("handle_exec").attach();
 * const counts = obj.map("counts");
 * ```
 *
 * @module
 */
import { BpfError } from "./errors.ts";
import { MapCommand, MapType } from "./constants.ts";
import { type LibbpfLogger, withLibbpfLog } from "./log.ts";
import { addr, bpf, c, cstr, errno, fastPath, readCString } from "./native.ts";
import { ElfFile } from "../objfile/elf.ts";

export { MapCommand, MapType, UpdateFlags } from "./constants.ts";

const PERCPU_TYPES: ReadonlySet<number> = new Set([
  MapType.PERCPU_HASH,
  MapType.PERCPU_ARRAY,
  MapType.LRU_PERCPU_HASH,
  MapType.PERCPU_CGROUP_STORAGE,
]);

let possibleCpus = 0;
/** The number of possible CPUs (the slot count of per-CPU map values). */
export function numPossibleCpus(): number {
  if (!possibleCpus) {
    const n = bpf().libbpf_num_possible_cpus();
    if (n <= 0) throw new BpfError("cannot count possible CPUs", -n);
    possibleCpus = n;
  }
  return possibleCpus;
}

/** Options for opening an object. */
export interface OpenOptions {
  /** Object name (libbpf prefixes internal map names with it). */
  name?: string;
  /** Where libbpf's log lines go (level 0 warn, 1 info, 2 debug). */
  logger?: LibbpfLogger;
  /**
   * The directory under which maps declared with `pinning` are pinned
   * (libbpf's `pin_root_path`; default `/sys/fs/bpf`).
   */
  pinRoot?: string;
  /**
   * A BTF file libbpf resolves CO-RE relocations against instead of the
   * kernel's (libbpf's `btf_custom_path`); read during load().
   */
  btfCustomPath?: string;
}

// Module-private construction and state checks: Program and BpfMap exist
// only as parts of a BpfObject (set in the classes' static blocks).
let newProgram: (obj: BpfObject, ptr: Deno.PointerObject) => Program;
let newMap: (
  obj: BpfObject,
  ptr: Deno.PointerObject,
  realName: string,
) => BpfMap;
let assertOpen: (obj: BpfObject) => void;

/** Something that must be released with the object. */
export interface Resource {
  /** Releases it; a second call does nothing. */
  close(): void;
}

/** An attachment of a program; closing it detaches the program. */
export class Link implements Resource {
  #close: (() => void) | undefined;
  /** What was attached where, for messages: `prog 'x' → lo`. */
  readonly description: string;
  /** The fd that keeps the attachment alive (a link or socket fd). */
  readonly fd: number;
  /**
   * A link known by `fd`, released by `close` (run once). Made by
   * {@link Program.attach}; public for attachments made by other means.
   */
  constructor(description: string, fd: number, close: () => void) {
    this.description = description;
    this.fd = fd;
    this.#close = close;
  }
  /** Whether the link is still attached. */
  get closed(): boolean {
    return !this.#close;
  }
  /** Detaches; closing twice is harmless. */
  close(): void {
    const f = this.#close;
    this.#close = undefined;
    f?.();
  }
  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** A program of a {@link BpfObject}. */
export class Program {
  readonly #obj: BpfObject;
  readonly #ptr: Deno.PointerObject;
  /** The program's function name. */
  readonly name: string;
  /** Its ELF section, e.g. `tp/sched/sched_process_exec`. */
  readonly section: string;
  static {
    newProgram = (obj, ptr) => new Program(obj, ptr);
  }
  private constructor(obj: BpfObject, ptr: Deno.PointerObject) {
    this.#obj = obj;
    this.#ptr = ptr;
    this.name = readCString(bpf().bpf_program__name(ptr));
    this.section = readCString(bpf().bpf_program__section_name(ptr));
  }
  /** The kernel's fd of the loaded program (negative before load). */
  get fd(): number {
    assertOpen(this.#obj);
    return bpf().bpf_program__fd(this.#ptr);
  }
  /** The program type (`enum bpf_prog_type`). */
  get type(): number {
    assertOpen(this.#obj);
    return bpf().bpf_program__type(this.#ptr);
  }
  /** Whether load() loads it. Settable before load. */
  get autoload(): boolean {
    assertOpen(this.#obj);
    return bpf().bpf_program__autoload(this.#ptr);
  }
  set autoload(on: boolean) {
    assertOpen(this.#obj);
    const err = bpf().bpf_program__set_autoload(this.#ptr, on);
    if (err) {
      throw new BpfError(`cannot set autoload of program '${this.name}'`, err);
    }
  }

  /**
   * Attaches the program. Without a target, by its section (as libbpf's
   * auto-attach). With one, the target is read by section:
   * - `sockops`, `cgroup*`: a cgroup v2 directory;
   * - `xdp`: an interface name;
   * - `socket`: an interface name (a raw packet socket is opened, bound to
   *   it and kept as the link);
   * - `tc`/`tcx`/`classifier`: `ifname[:ingress|egress]` (tcx links);
   * - `uprobe*`/`uretprobe*`: `binary:function[:pid]`.
   * The link is also owned by the object and closed with it.
   */
  attach(target = "", logger?: LibbpfLogger): Link {
    assertOpen(this.#obj);
    if (this.fd < 0) {
      throw new BpfError(
        `cannot attach program '${this.name}': it is not loaded`,
        22,
      );
    }
    const link = withLibbpfLog(logger, () => this.#attach(target)).value;
    this.#obj.own(link);
    return link;
  }

  #what(target: string): string {
    return `program '${this.name}' (section '${this.section}')${
      target ? ` to '${target}'` : ""
    }`;
  }

  #fail(target: string, err: number, why = ""): never {
    throw new BpfError(
      `cannot attach ${this.#what(target)}${why ? `: ${why}` : ""}`,
      err,
    );
  }

  #libbpfLink(
    target: string,
    ptr: Deno.PointerValue,
  ): Link {
    if (!ptr) this.#fail(target, errno());
    const fd = bpf().bpf_link__fd(ptr);
    return new Link(`${this.name} → ${target || this.section}`, fd, () => {
      bpf().bpf_link__destroy(ptr);
    });
  }

  #ifindex(target: string, ifname: string): number {
    const idx = c().if_nametoindex(cstr(ifname));
    if (!idx) this.#fail(target, 19, `no network interface '${ifname}'`);
    return idx;
  }

  #attach(target: string): Link {
    const sec = this.section.replace(/^\?/, "");
    const kind = sec.split(/[/.]/)[0];
    const needs = (what: string) =>
      this.#fail(target, 22, `this section needs a target: ${what}`);
    if (kind === "sockops" || kind.startsWith("cgroup")) {
      if (!target) needs("a cgroup v2 directory");
      const fd = c().open(cstr(target), 0x10000, /* O_DIRECTORY */ 0);
      if (fd < 0) {
        this.#fail(target, errno(), "cannot open the cgroup directory");
      }
      try {
        return this.#libbpfLink(
          target,
          bpf().bpf_program__attach_cgroup(this.#ptr, fd),
        );
      } finally {
        c().close(fd);
      }
    }
    if (kind === "xdp") {
      if (!target) needs("an interface name");
      return this.#libbpfLink(
        target,
        bpf().bpf_program__attach_xdp(this.#ptr, this.#ifindex(target, target)),
      );
    }
    if (kind === "socket") {
      if (!target) needs("an interface name");
      return this.#attachSocket(target);
    }
    if (kind === "tc" || kind === "tcx" || kind === "classifier") {
      if (!target) needs("'ifname:ingress' or 'ifname:egress'");
      const [ifname, dir = "ingress"] = target.split(":");
      if (dir !== "ingress" && dir !== "egress") {
        this.#fail(
          target,
          22,
          `direction must be 'ingress' or 'egress', not '${dir}'`,
        );
      }
      const ifindex = this.#ifindex(target, ifname);
      const type = dir === "ingress" ? 46 : 47; // BPF_TCX_INGRESS/EGRESS
      const fd = bpf().bpf_link_create(this.fd, ifindex, type, null);
      if (fd < 0) this.#fail(target, -fd);
      return new Link(`${this.name} → ${target}`, fd, () => c().close(fd));
    }
    if ((kind === "uprobe" || kind === "uretprobe") && target) {
      const m = /^([^:]+):([^:]+)(?::(-?\d+))?$/.exec(target);
      if (!m) this.#fail(target, 22, "expected 'binary:function[:pid]'");
      const [, binary, func, pid] = m;
      const opts = new Uint8Array(40);
      const dv = new DataView(opts.buffer);
      const funcName = cstr(func);
      dv.setBigUint64(0, 40n, true); // sz
      dv.setUint8(24, kind === "uretprobe" ? 1 : 0); // retprobe
      dv.setBigUint64(32, BigInt(addr(Deno.UnsafePointer.of(funcName))), true);
      const ptr = bpf().bpf_program__attach_uprobe_opts(
        this.#ptr,
        pid === undefined ? -1 : Number(pid),
        cstr(binary),
        0,
        opts,
      );
      void funcName; // kept alive through the call
      return this.#libbpfLink(target, ptr);
    }
    if (target) {
      this.#fail(target, 22, "this section takes no attach target");
    }
    return this.#libbpfLink(target, bpf().bpf_program__attach(this.#ptr));
  }

  #attachSocket(ifname: string): Link {
    const ifindex = this.#ifindex(ifname, ifname);
    // AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL)
    const fd = c().socket(17, 3 | 0x800 | 0x80000, 0x0300);
    if (fd < 0) this.#fail(ifname, errno(), "cannot open a packet socket");
    try {
      const sll = new Uint8Array(20);
      const dv = new DataView(sll.buffer);
      dv.setUint16(0, 17, true); // sll_family
      dv.setUint16(2, 0x0003, false); // sll_protocol, network order
      dv.setInt32(4, ifindex, true); // sll_ifindex
      if (c().bind(fd, sll, 20) < 0) {
        this.#fail(ifname, errno(), "cannot bind the packet socket");
      }
      const progFd = new Int32Array([this.fd]);
      // SOL_SOCKET, SO_ATTACH_BPF
      if (c().setsockopt(fd, 1, 50, new Uint8Array(progFd.buffer), 4) < 0) {
        this.#fail(ifname, errno());
      }
    } catch (e) {
      c().close(fd);
      throw e;
    }
    return new Link(`${this.name} → ${ifname}`, fd, () => c().close(fd));
  }
}

/** A map of a {@link BpfObject}. Raw operations return 0 or -errno. */
export class BpfMap {
  readonly #obj: BpfObject;
  /** The map's name (internal maps: `.rodata`, `.bss`, ... as in ELF). */
  readonly name: string;
  /** libbpf's name (internal maps carry the object name prefix). */
  readonly libbpfName: string;
  /** `enum bpf_map_type`. */
  readonly type: number;
  /** Key size in bytes (the kernel's, once loaded). */
  keySize: number;
  /**
   * Value size in bytes (per CPU for per-CPU maps); once loaded, the
   * kernel's, which can differ from the declaration (struct_ops values
   * carry a kernel header): every bounds check uses this.
   */
  valueSize: number;
  /** The most entries the map holds (ring buffers: its size in bytes). */
  readonly maxEntries: number;
  #fd = -1;
  readonly #ptr: Deno.PointerObject;
  static {
    newMap = (obj, ptr, realName) => new BpfMap(obj, ptr, realName);
  }
  private constructor(
    obj: BpfObject,
    ptr: Deno.PointerObject,
    realName: string,
  ) {
    this.#obj = obj;
    this.#ptr = ptr;
    this.libbpfName = readCString(bpf().bpf_map__name(ptr));
    this.name = realName;
    this.type = bpf().bpf_map__type(ptr);
    this.keySize = bpf().bpf_map__key_size(ptr);
    this.valueSize = bpf().bpf_map__value_size(ptr);
    this.maxEntries = bpf().bpf_map__max_entries(ptr);
  }
  /** Takes the key and value sizes from the kernel's own record of the map. */
  adoptKernelSizes(): void {
    const info = new Uint8Array(80); // struct bpf_map_info, up to btf ids
    const len = new Uint32Array([info.length]);
    const err = bpf().bpf_obj_get_info_by_fd(
      this.fd,
      info,
      new Uint8Array(len.buffer),
    );
    if (err) {
      throw new BpfError(`cannot read map '${this.name}' from the kernel`, err);
    }
    const v = new DataView(info.buffer);
    this.keySize = v.getUint32(8, true);
    this.valueSize = v.getUint32(12, true);
  }
  /** The map's fd (valid after load). */
  get fd(): number {
    assertOpen(this.#obj);
    if (this.#fd < 0) this.#fd = bpf().bpf_map__fd(this.#ptr);
    return this.#fd;
  }
  /**
   * Where the map is pinned or will be at load (maps declared with
   * `pinning`: the object's pin root and the map's name), else undefined.
   */
  get pinPath(): string | undefined {
    assertOpen(this.#obj);
    return readCString(bpf().bpf_map__pin_path(this.#ptr)) || undefined;
  }
  /** Whether libbpf pinned the map (or reused a pinned one) at load. */
  get pinned(): boolean {
    assertOpen(this.#obj);
    return bpf().bpf_map__is_pinned(this.#ptr);
  }
  /**
   * Forgets the pin path (before load): libbpf then neither pins the map
   * nor reuses a pin by path; the caller pins it itself (host/pins.ts).
   */
  clearPinPath(): void {
    assertOpen(this.#obj);
    bpf().bpf_map__set_pin_path(this.#ptr, null);
  }
  /** Removes the map's pin at {@link pinPath}; 0 or -errno. */
  unpin(): number {
    assertOpen(this.#obj);
    return bpf().bpf_map__unpin(this.#ptr, null) || 0;
  }
  /** Whether values are per-CPU (one 8-byte-aligned slot per CPU). */
  get perCpu(): boolean {
    return PERCPU_TYPES.has(this.type);
  }
  /** Size of the buffer a lookup writes: per-CPU maps need a slot per CPU. */
  get valueBufferSize(): number {
    // the host asks on every map operation: computed once per value size
    if (this.#bufferFor !== this.valueSize) {
      this.#bufferSize = this.perCpu
        ? Math.ceil(this.valueSize / 8) * 8 * numPossibleCpus()
        : this.valueSize;
      this.#bufferFor = this.valueSize;
    }
    return this.#bufferSize;
  }
  #bufferFor = -1;
  #bufferSize = 0;

  /**
   * A raw operation ({@link MapCommand}) on addresses inside one block of
   * memory (a guest's): `key`, `value` and `next` are byte offsets from
   * the block's address, given as its low and high 32 bits (offset 0:
   * NULL), which the caller has checked against the block's size. 0 or
   * -errno. With the fast path every argument is a 32-bit integer (V8's
   * fast FFI call, no address arithmetic here).
   */
  operateIn(
    cmd: number,
    baseLo: number,
    baseHi: number,
    key: number,
    value: number,
    next: number,
    flags: number,
  ): number {
    const fd = this.fd;
    const fast = fastPath();
    if (fast && flags >= 0 && flags < 4294967296) {
      return fast.wasm_bpf_fast_map_op(
        fd,
        cmd,
        baseLo,
        baseHi,
        key,
        value,
        next,
        flags,
      );
    }
    const base = baseHi * 4294967296 + baseLo;
    return this.#raw(
      cmd,
      key ? base + key : 0,
      value ? base + value : 0,
      next ? base + next : 0,
      flags,
    );
  }

  /** Lookup at raw addresses; 0 or -errno. */
  lookupRaw(key: number, value: number, flags = 0): number {
    return this.#raw(MapCommand.LOOKUP_ELEM, key, value, 0, flags);
  }
  /** Update at raw addresses; 0 or -errno. */
  updateRaw(key: number, value: number, flags = 0): number {
    return this.#raw(MapCommand.UPDATE_ELEM, key, value, 0, flags);
  }
  /** Delete at a raw address; 0 or -errno. */
  deleteRaw(key: number, flags = 0): number {
    return this.#raw(MapCommand.DELETE_ELEM, key, 0, 0, flags);
  }
  /** Next key at raw addresses (key 0: the first); 0, -ENOENT at the end. */
  nextKeyRaw(key: number, next: number): number {
    return this.#raw(MapCommand.GET_NEXT_KEY, key, 0, next, 0);
  }

  #raw(
    cmd: number,
    key: number,
    value: number,
    next: number,
    flags: number,
  ): number {
    const fd = this.fd;
    const fast = fastPath();
    if (fast && flags >= 0 && flags < 4294967296) {
      // all-i32 arguments: V8's fast FFI calls (see native/fastpath.c)
      return fast.wasm_bpf_fast_map_op_abs(
        fd,
        cmd,
        key % 4294967296,
        Math.floor(key / 4294967296),
        value % 4294967296,
        Math.floor(value / 4294967296),
        next % 4294967296,
        Math.floor(next / 4294967296),
        flags,
      );
    }
    const b = bpf();
    switch (cmd) {
      case MapCommand.LOOKUP_ELEM:
        return b.bpf_map_lookup_elem_flags(fd, key, value, flags) || 0;
      case MapCommand.UPDATE_ELEM:
        return b.bpf_map_update_elem(fd, key, value, flags) || 0;
      case MapCommand.DELETE_ELEM:
        return b.bpf_map_delete_elem_flags(fd, key, flags) || 0;
      default:
        return b.bpf_map_get_next_key(fd, key, next) || 0;
    }
  }

  #check(what: string, bytes: Uint8Array, size: number) {
    if (bytes.length !== size) {
      throw new BpfError(
        `map '${this.name}': ${what} is ${bytes.length} bytes, the map's is ${size}`,
        22,
      );
    }
  }

  /** The value for `key`, or undefined if absent. */
  lookup(key: Uint8Array, flags = 0): Uint8Array | undefined {
    this.#check("key", key, this.keySize);
    const value = new Uint8Array(this.valueBufferSize);
    const err = this.lookupRaw(ptrOf(key), ptrOf(value), flags);
    if (err === -2) return undefined;
    if (err) throw new BpfError(`lookup in map '${this.name}' failed`, err);
    return value;
  }
  /** Sets `key` to `value` (flags: {@link UpdateFlags}). */
  update(key: Uint8Array, value: Uint8Array, flags = 0): void {
    this.#check("key", key, this.keySize);
    this.#check("value", value, this.valueBufferSize);
    const err = this.updateRaw(ptrOf(key), ptrOf(value), flags);
    if (err) throw new BpfError(`update of map '${this.name}' failed`, err);
  }
  /** Deletes `key`; false if it was absent. */
  delete(key: Uint8Array): boolean {
    this.#check("key", key, this.keySize);
    const err = this.deleteRaw(ptrOf(key));
    if (err === -2) return false;
    if (err) throw new BpfError(`delete from map '${this.name}' failed`, err);
    return true;
  }
  /** Every key, in the kernel's order. */
  *keys(): Generator<Uint8Array> {
    let prev: Uint8Array | undefined;
    for (;;) {
      const next = new Uint8Array(this.keySize);
      const err = this.nextKeyRaw(prev ? ptrOf(prev) : 0, ptrOf(next));
      if (err === -2) return;
      if (err) throw new BpfError(`iterating map '${this.name}' failed`, err);
      yield next;
      prev = next;
    }
  }
}

function ptrOf(bytes: Uint8Array): number {
  return bytes.length ? addr(Deno.UnsafePointer.of(bytes)) : 0;
}

/** A BPF ELF object: opened, then loaded into the kernel. */
export class BpfObject {
  #ptr: Deno.PointerObject | null;
  #bytes: Uint8Array | null;
  #programs: Program[] = [];
  #maps: BpfMap[] = [];
  #owned = new Set<Resource>();
  #loaded = false;
  readonly #logger?: LibbpfLogger;
  /** The name used in messages (file name or the given name). */
  readonly name: string;

  private constructor(
    ptr: Deno.PointerObject,
    bytes: Uint8Array,
    name: string,
    logger?: LibbpfLogger,
  ) {
    this.#ptr = ptr;
    this.#bytes = bytes;
    this.name = name;
    this.#logger = logger;
    const b = bpf();
    for (
      let p = b.bpf_object__next_program(ptr, null);
      p;
      p = b.bpf_object__next_program(ptr, p)
    ) {
      this.#programs.push(newProgram(this, p));
    }
    // internal maps (.rodata, .bss, ...) are known by their ELF section name
    const sections = internalMapSections(bytes);
    for (
      let p = b.bpf_object__next_map(ptr, null);
      p;
      p = b.bpf_object__next_map(ptr, p)
    ) {
      const libbpfName = readCString(b.bpf_map__name(p));
      const dot = libbpfName.indexOf(".");
      const real = dot >= 0
        ? sections.find((s) =>
          libbpfName.endsWith(s) || s.startsWith(libbpfName.slice(dot))
        ) ?? libbpfName.slice(dot)
        : libbpfName;
      this.#maps.push(newMap(this, p, real));
    }
  }

  /** Opens an object from its ELF bytes (copied). */
  static open(bytes: Uint8Array, options: OpenOptions = {}): BpfObject {
    const name = options.name ?? "bpf_object";
    const copy = new Uint8Array(bytes); // libbpf reads it until load ends
    const objName = cstr(
      name.replace(/\.bpf\.o$|\.o$/, "").replace(/[^A-Za-z0-9_]/g, "_"),
    );
    const pinRoot = options.pinRoot ? cstr(options.pinRoot) : null;
    const btfPath = options.btfCustomPath ? cstr(options.btfCustomPath) : null;
    // struct bpf_object_open_opts (libbpf 1.x): sz, object_name at 8,
    // relaxed_maps, pin_root_path at 24, kconfig at 40, btf_custom_path at 48
    const opts = new Uint8Array(56);
    const dv = new DataView(opts.buffer);
    dv.setBigUint64(0, 56n, true);
    dv.setBigUint64(8, BigInt(addr(Deno.UnsafePointer.of(objName))), true);
    if (pinRoot) {
      dv.setBigUint64(24, BigInt(addr(Deno.UnsafePointer.of(pinRoot))), true);
    }
    if (btfPath) {
      dv.setBigUint64(48, BigInt(addr(Deno.UnsafePointer.of(btfPath))), true);
    }
    const { value: ptr, tail } = withLibbpfLog(options.logger, () => {
      if (copy.length === 0) return null;
      return bpf().bpf_object__open_mem(copy, copy.length, opts);
    });
    void objName, pinRoot, btfPath; // kept alive through the call
    if (!ptr) {
      const err = copy.length === 0 ? 22 : errno();
      const why = tail.map((l) => l.trim()).filter(Boolean).slice(-3).join(
        "; ",
      );
      throw new BpfError(
        `cannot open BPF object '${name}'${why ? ` (${why})` : ""}`,
        err || 22,
      );
    }
    return new BpfObject(ptr, copy, name, options.logger);
  }

  /** Opens an object file. */
  static openFile(path: string, options: OpenOptions = {}): BpfObject {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      throw new BpfError(
        `cannot read BPF object '${path}': ${(e as Error).message}`,
        e instanceof Deno.errors.NotFound ? 2 : 13,
      );
    }
    return BpfObject.open(bytes, { name: path.split("/").pop(), ...options });
  }

  static {
    assertOpen = (obj) => {
      if (!obj.#ptr) {
        throw new BpfError(`BPF object '${obj.name}' is closed`, 9);
      }
    };
  }

  /** Whether close() has run. */
  get closed(): boolean {
    return !this.#ptr;
  }
  /** Whether load() succeeded. */
  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * Creates the maps and loads the programs. A failure names the program
   * and carries the verifier's last lines.
   */
  load(): void {
    assertOpen(this);
    const { value: err, tail } = withLibbpfLog(
      this.#logger,
      () => bpf().bpf_object__load(this.#ptr),
    );
    this.#bytes = null;
    if (err) {
      const prog = tail.map((l) => /prog '([^']+)'/.exec(l)?.[1]).find(Boolean);
      const map = tail.map((l) => /map '([^']+)'/.exec(l)?.[1]).find(Boolean);
      const what = prog ? `program '${prog}'` : map ? `map '${map}'` : "";
      const detail = tail.filter((l) =>
        l.trim() &&
        !/^libbpf: prog '[^']+': -- (BEGIN|END) PROG LOAD LOG --/.test(l)
      )
        .slice(-6).map((l) => `\n  ${l.trim()}`).join("");
      throw new BpfError(
        `cannot load BPF object '${this.name}'${what ? `: ${what}` : ""}${
          detail ? ` (libbpf said:${detail}\n )` : ""
        }`,
        -err,
      );
    }
    this.#loaded = true;
    // bounds checks must use what the kernel copies, not what was declared
    try {
      for (const m of this.#maps) m.adoptKernelSizes();
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Every program, in ELF order. */
  get programs(): readonly Program[] {
    return this.#programs;
  }
  /** Every map. */
  get maps(): readonly BpfMap[] {
    return this.#maps;
  }
  /** The program named `name`, or a BpfError (ENOENT) listing the names. */
  program(name: string): Program {
    const p = this.#programs.find((p) => p.name === name);
    if (!p) {
      throw new BpfError(
        `no program '${name}' in BPF object '${this.name}' (it has: ${
          this.#programs.map((p) => p.name).join(", ") || "none"
        })`,
        2,
        { plain: true },
      );
    }
    return p;
  }
  /** The map named `name` (its libbpf name or ELF section name). */
  map(name: string): BpfMap {
    const m = this.findMap(name);
    if (!m) {
      throw new BpfError(
        `no map '${name}' in BPF object '${this.name}' (it has: ${
          this.#maps.map((m) => m.name).join(", ") || "none"
        })`,
        2,
        { plain: true },
      );
    }
    return m;
  }
  /** The map named `name`, or undefined. */
  findMap(name: string): BpfMap | undefined {
    return this.#maps.find((m) => m.name === name) ??
      this.#maps.find((m) => m.libbpfName === name);
  }
  /**
   * Ties `r` to this object: `close()` closes it (links and buffer
   * readers are tied this way).
   */
  own(r: Resource): void {
    this.#owned.add(r);
  }

  /** Releases links, readers, maps and programs. Idempotent. */
  close(): void {
    const ptr = this.#ptr;
    if (!ptr) return;
    for (const r of [...this.#owned].reverse()) {
      try {
        r.close();
      } catch { /* release the rest regardless */ }
    }
    this.#owned.clear();
    this.#ptr = null;
    this.#bytes = null;
    bpf().bpf_object__close(ptr);
  }
  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Names of sections that become internal maps (.rodata*, .data*, .bss*, .kconfig). */
function internalMapSections(bytes: Uint8Array): string[] {
  try {
    return new ElfFile("object", bytes).sections.map((s) => s.name)
      .filter((n) => /^\.(rodata|data|bss|kconfig)/.test(n));
  } catch {
    return []; // libbpf opened it, so this does not happen; names fall back
  }
}
