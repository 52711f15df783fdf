/**
 * Errors of the eBPF layer: every failure carries the Linux errno and a
 * message naming the object, program, map or target involved.
 *
 * @module
 */

/**
 * The Linux errno values this project names (positive). The imports of the
 * Wasm host return them negated.
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
  ENOTSUPP: 524,
} as const;

const TEXT: Record<keyof typeof Errno, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ESRCH: "no such process",
  EINTR: "interrupted system call",
  EIO: "input/output error",
  E2BIG: "argument list too long",
  EBADF: "bad file descriptor",
  EAGAIN: "resource temporarily unavailable",
  ENOMEM: "out of memory",
  EACCES: "permission denied",
  EFAULT: "bad address",
  EBUSY: "device or resource busy",
  EEXIST: "file exists",
  ENODEV: "no such device",
  ENOTDIR: "not a directory",
  EINVAL: "invalid argument",
  EMFILE: "too many open files",
  ENOSPC: "no space left on device",
  ENOSYS: "function not implemented",
  EOPNOTSUPP: "operation not supported",
  ENOTSUPP: "operation not supported by the kernel",
};

const NAMES: Record<number, [string, string]> = {
  4000: ["LIBBPF_ERRNO__LIBELF", "libelf could not read the ELF data"],
  4001: ["LIBBPF_ERRNO__FORMAT", "not a valid BPF ELF object"],
  4002: ["LIBBPF_ERRNO__KVERSION", "kernel version missing or wrong"],
  4003: ["LIBBPF_ERRNO__ENDIAN", "ELF endianness does not match the host"],
  4004: ["LIBBPF_ERRNO__INTERNAL", "libbpf internal error"],
  4005: ["LIBBPF_ERRNO__RELOC", "relocation failed"],
  4006: ["LIBBPF_ERRNO__LOAD", "program load failed"],
  4007: ["LIBBPF_ERRNO__VERIFY", "the kernel verifier rejected the program"],
  4008: ["LIBBPF_ERRNO__PROG2BIG", "program too big"],
  4010: ["LIBBPF_ERRNO__PROGTYPE", "program type not supported by the kernel"],
};
for (const [name, n] of Object.entries(Errno)) {
  NAMES[n] = [name, TEXT[name as keyof typeof Errno]];
}

/** `EPERM`-style name of an errno value (positive or negative). */
export function errnoName(err: number): string {
  return NAMES[Math.abs(err)]?.[0] ?? `errno ${Math.abs(err)}`;
}

/** Human text for an errno value (positive or negative). */
export function errnoText(err: number): string {
  const e = NAMES[Math.abs(err)];
  return e ? `${e[1]} (${e[0]})` : `errno ${Math.abs(err)}`;
}

/** A failed libbpf or kernel operation. `errno` is positive. */
export class BpfError extends Error {
  /** The positive Linux errno. */
  readonly errno: number;
  /** `EPERM`-style name of the errno. */
  readonly code: string;
  /**
   * `message` names what failed; the errno's text is appended unless
   * `plain` is set (for messages that already say everything).
   */
  constructor(
    message: string,
    err: number,
    options?: ErrorOptions & { plain?: boolean },
  ) {
    const n = Math.abs(err) || 22;
    super(
      options?.plain ? message : `${message}: ${errnoText(n)}`,
      options,
    );
    this.name = "BpfError";
    this.errno = n;
    this.code = errnoName(n);
  }
}
