/**
 * Errors of the eBPF layer: every failure carries the Linux errno and a
 * message naming the object, program, map or target involved.
 *
 * @module
 */

const NAMES: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  7: ["E2BIG", "argument list too long"],
  9: ["EBADF", "bad file descriptor"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "out of memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  22: ["EINVAL", "invalid argument"],
  24: ["EMFILE", "too many open files"],
  28: ["ENOSPC", "no space left on device"],
  38: ["ENOSYS", "function not implemented"],
  95: ["EOPNOTSUPP", "operation not supported"],
  524: ["ENOTSUPP", "operation not supported by the kernel"],
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
