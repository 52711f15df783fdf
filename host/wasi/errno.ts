/**
 * WASI preview 1 error numbers (`__wasi_errno_t`), which are not Linux's,
 * and the translation of a Linux errno into one.
 *
 * @module
 */

/**
 * The WASI errno values, named as in `wasi/api.h` without the `ERRNO_`
 * prefix (`2BIG` is `TOOBIG`).
 *
 * @example
 * ```ts
 * import { Errno } from "./errno.ts";
 * console.assert(Errno.NOTCAPABLE === 76);
 * ```
 */
export const Errno = {
  SUCCESS: 0,
  TOOBIG: 1,
  ACCES: 2,
  ADDRINUSE: 3,
  ADDRNOTAVAIL: 4,
  AFNOSUPPORT: 5,
  AGAIN: 6,
  ALREADY: 7,
  BADF: 8,
  BADMSG: 9,
  BUSY: 10,
  CANCELED: 11,
  CHILD: 12,
  CONNABORTED: 13,
  CONNREFUSED: 14,
  CONNRESET: 15,
  DEADLK: 16,
  DESTADDRREQ: 17,
  DOM: 18,
  DQUOT: 19,
  EXIST: 20,
  FAULT: 21,
  FBIG: 22,
  HOSTUNREACH: 23,
  IDRM: 24,
  ILSEQ: 25,
  INPROGRESS: 26,
  INTR: 27,
  INVAL: 28,
  IO: 29,
  ISCONN: 30,
  ISDIR: 31,
  LOOP: 32,
  MFILE: 33,
  MLINK: 34,
  MSGSIZE: 35,
  MULTIHOP: 36,
  NAMETOOLONG: 37,
  NETDOWN: 38,
  NETRESET: 39,
  NETUNREACH: 40,
  NFILE: 41,
  NOBUFS: 42,
  NODEV: 43,
  NOENT: 44,
  NOEXEC: 45,
  NOLCK: 46,
  NOLINK: 47,
  NOMEM: 48,
  NOMSG: 49,
  NOPROTOOPT: 50,
  NOSPC: 51,
  NOSYS: 52,
  NOTCONN: 53,
  NOTDIR: 54,
  NOTEMPTY: 55,
  NOTRECOVERABLE: 56,
  NOTSOCK: 57,
  NOTSUP: 58,
  NOTTY: 59,
  NXIO: 60,
  OVERFLOW: 61,
  OWNERDEAD: 62,
  PERM: 63,
  PIPE: 64,
  PROTO: 65,
  PROTONOSUPPORT: 66,
  PROTOTYPE: 67,
  RANGE: 68,
  ROFS: 69,
  SPIPE: 70,
  SRCH: 71,
  STALE: 72,
  TIMEDOUT: 73,
  TXTBSY: 74,
  XDEV: 75,
  NOTCAPABLE: 76,
} as const;

/** A WASI errno value. */
export type Errno = (typeof Errno)[keyof typeof Errno];

const FROM_LINUX: Readonly<Record<number, Errno>> = {
  1: Errno.PERM, // EPERM
  2: Errno.NOENT, // ENOENT
  3: Errno.SRCH, // ESRCH
  4: Errno.INTR, // EINTR
  5: Errno.IO, // EIO
  6: Errno.NXIO, // ENXIO
  7: Errno.TOOBIG, // E2BIG
  8: Errno.NOEXEC, // ENOEXEC
  9: Errno.BADF, // EBADF
  10: Errno.CHILD, // ECHILD
  11: Errno.AGAIN, // EAGAIN
  12: Errno.NOMEM, // ENOMEM
  13: Errno.ACCES, // EACCES
  14: Errno.FAULT, // EFAULT
  16: Errno.BUSY, // EBUSY
  17: Errno.EXIST, // EEXIST
  18: Errno.XDEV, // EXDEV
  19: Errno.NODEV, // ENODEV
  20: Errno.NOTDIR, // ENOTDIR
  21: Errno.ISDIR, // EISDIR
  22: Errno.INVAL, // EINVAL
  23: Errno.NFILE, // ENFILE
  24: Errno.MFILE, // EMFILE
  25: Errno.NOTTY, // ENOTTY
  26: Errno.TXTBSY, // ETXTBSY
  27: Errno.FBIG, // EFBIG
  28: Errno.NOSPC, // ENOSPC
  29: Errno.SPIPE, // ESPIPE
  30: Errno.ROFS, // EROFS
  31: Errno.MLINK, // EMLINK
  32: Errno.PIPE, // EPIPE
  33: Errno.DOM, // EDOM
  34: Errno.RANGE, // ERANGE
  35: Errno.DEADLK, // EDEADLK
  36: Errno.NAMETOOLONG, // ENAMETOOLONG
  37: Errno.NOLCK, // ENOLCK
  38: Errno.NOSYS, // ENOSYS
  39: Errno.NOTEMPTY, // ENOTEMPTY
  40: Errno.LOOP, // ELOOP
  42: Errno.NOMSG, // ENOMSG
  43: Errno.IDRM, // EIDRM
  67: Errno.NOLINK, // ENOLINK
  71: Errno.PROTO, // EPROTO
  72: Errno.MULTIHOP, // EMULTIHOP
  74: Errno.BADMSG, // EBADMSG
  75: Errno.OVERFLOW, // EOVERFLOW
  84: Errno.ILSEQ, // EILSEQ
  88: Errno.NOTSOCK, // ENOTSOCK
  89: Errno.DESTADDRREQ, // EDESTADDRREQ
  90: Errno.MSGSIZE, // EMSGSIZE
  91: Errno.PROTOTYPE, // EPROTOTYPE
  92: Errno.NOPROTOOPT, // ENOPROTOOPT
  93: Errno.PROTONOSUPPORT, // EPROTONOSUPPORT
  95: Errno.NOTSUP, // EOPNOTSUPP
  97: Errno.AFNOSUPPORT, // EAFNOSUPPORT
  98: Errno.ADDRINUSE, // EADDRINUSE
  99: Errno.ADDRNOTAVAIL, // EADDRNOTAVAIL
  100: Errno.NETDOWN, // ENETDOWN
  101: Errno.NETUNREACH, // ENETUNREACH
  102: Errno.NETRESET, // ENETRESET
  103: Errno.CONNABORTED, // ECONNABORTED
  104: Errno.CONNRESET, // ECONNRESET
  105: Errno.NOBUFS, // ENOBUFS
  106: Errno.ISCONN, // EISCONN
  107: Errno.NOTCONN, // ENOTCONN
  110: Errno.TIMEDOUT, // ETIMEDOUT
  111: Errno.CONNREFUSED, // ECONNREFUSED
  113: Errno.HOSTUNREACH, // EHOSTUNREACH
  114: Errno.ALREADY, // EALREADY
  115: Errno.INPROGRESS, // EINPROGRESS
  116: Errno.STALE, // ESTALE
  122: Errno.DQUOT, // EDQUOT
  125: Errno.CANCELED, // ECANCELED
  130: Errno.OWNERDEAD, // EOWNERDEAD
  131: Errno.NOTRECOVERABLE, // ENOTRECOVERABLE
  524: Errno.NOTSUP, // ENOTSUPP (kernel-internal), as the C SDK maps it
};

/**
 * The WASI errno for a Linux errno (x86-64 numbering); `IO` for one WASI
 * has no name for.
 *
 * @example
 * ```ts
 * import { Errno, fromLinuxErrno } from "./errno.ts";
 * console.assert(fromLinuxErrno(2) === Errno.NOENT);
 * ```
 */
export function fromLinuxErrno(linux: number): Errno {
  return FROM_LINUX[linux] ?? Errno.IO;
}
