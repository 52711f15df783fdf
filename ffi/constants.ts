/**
 * The one table of the numbers the host, the guest ABI and the guest SDKs
 * share: Linux errno values (number, name, text), the map commands of
 * `wasm_bpf_map_operate`, the BPF map types and the map update flags.
 *
 * `scripts/gen-constants.ts` writes the SDKs' copies (C, Rust, Go,
 * AssemblyScript) from this file; `tests/constants_test.ts` checks that they
 * are current and that the values match the kernel headers.
 *
 * @module
 */

/** One Linux errno. */
export interface ErrnoInfo {
  /** The positive Linux value (the ABI returns it negated). */
  readonly errno: number;
  /** The `<errno.h>` name, e.g. `"EPERM"`. */
  readonly name: string;
  /** Lower-case text, e.g. `"operation not permitted"`. */
  readonly text: string;
  /**
   * Named in the guest SDKs (Rust `errno::*`, Go `wasmbpf.E*`,
   * AssemblyScript `Errno`) and in the host's `Errno`: the values the host
   * itself reports, plus the common kernel ones.
   */
  readonly sdk?: boolean;
  /**
   * The wasi-libc macro a C guest sees this errno as (wasi-libc numbers
   * them differently from Linux); absent: the guest sees `EIO`.
   */
  readonly guestLibc?: string;
  /** What the host means by it, where it says more than `text`. */
  readonly note?: string;
}

/**
 * Every Linux errno (asm-generic/errno-base.h, asm-generic/errno.h, without
 * the aliases EWOULDBLOCK and EDEADLOCK), plus the kernel-internal ENOTSUPP
 * that BPF syscalls can return.
 */
// deno-fmt-ignore
export const LINUX_ERRNOS = [
  { errno: 1, name: "EPERM", text: "operation not permitted", sdk: true, guestLibc: "EPERM" },
  { errno: 2, name: "ENOENT", text: "no such file or directory", sdk: true, guestLibc: "ENOENT", note: "unknown map or program, missing key, end of keys" },
  { errno: 3, name: "ESRCH", text: "no such process", sdk: true, guestLibc: "ESRCH" },
  { errno: 4, name: "EINTR", text: "interrupted system call", sdk: true, guestLibc: "EINTR", note: "after Ctrl-C: the host is stopping the guest" },
  { errno: 5, name: "EIO", text: "input/output error", sdk: true, guestLibc: "EIO" },
  { errno: 6, name: "ENXIO", text: "no such device or address", guestLibc: "ENXIO" },
  { errno: 7, name: "E2BIG", text: "argument list too long", sdk: true, guestLibc: "E2BIG" },
  { errno: 8, name: "ENOEXEC", text: "exec format error", guestLibc: "ENOEXEC" },
  { errno: 9, name: "EBADF", text: "bad file descriptor", sdk: true, guestLibc: "EBADF", note: "not a map or object of this guest" },
  { errno: 10, name: "ECHILD", text: "no child processes", guestLibc: "ECHILD" },
  { errno: 11, name: "EAGAIN", text: "resource temporarily unavailable", sdk: true, guestLibc: "EAGAIN" },
  { errno: 12, name: "ENOMEM", text: "out of memory", sdk: true, guestLibc: "ENOMEM" },
  { errno: 13, name: "EACCES", text: "permission denied", sdk: true, guestLibc: "EACCES" },
  { errno: 14, name: "EFAULT", text: "bad address", sdk: true, guestLibc: "EFAULT", note: "a pointer and length reach outside the guest's memory" },
  { errno: 15, name: "ENOTBLK", text: "block device required" },
  { errno: 16, name: "EBUSY", text: "device or resource busy", sdk: true, guestLibc: "EBUSY" },
  { errno: 17, name: "EEXIST", text: "file exists", sdk: true, guestLibc: "EEXIST" },
  { errno: 18, name: "EXDEV", text: "cross-device link", guestLibc: "EXDEV" },
  { errno: 19, name: "ENODEV", text: "no such device", sdk: true, guestLibc: "ENODEV" },
  { errno: 20, name: "ENOTDIR", text: "not a directory", sdk: true, guestLibc: "ENOTDIR" },
  { errno: 21, name: "EISDIR", text: "is a directory", guestLibc: "EISDIR" },
  { errno: 22, name: "EINVAL", text: "invalid argument", sdk: true, guestLibc: "EINVAL" },
  { errno: 23, name: "ENFILE", text: "too many open files in system", guestLibc: "ENFILE" },
  { errno: 24, name: "EMFILE", text: "too many open files", sdk: true, guestLibc: "EMFILE" },
  { errno: 25, name: "ENOTTY", text: "inappropriate ioctl for device", guestLibc: "ENOTTY" },
  { errno: 26, name: "ETXTBSY", text: "text file busy", guestLibc: "ETXTBSY" },
  { errno: 27, name: "EFBIG", text: "file too large", guestLibc: "EFBIG" },
  { errno: 28, name: "ENOSPC", text: "no space left on device", sdk: true, guestLibc: "ENOSPC" },
  { errno: 29, name: "ESPIPE", text: "illegal seek", guestLibc: "ESPIPE" },
  { errno: 30, name: "EROFS", text: "read-only file system", guestLibc: "EROFS" },
  { errno: 31, name: "EMLINK", text: "too many links", guestLibc: "EMLINK" },
  { errno: 32, name: "EPIPE", text: "broken pipe", guestLibc: "EPIPE" },
  { errno: 33, name: "EDOM", text: "math argument out of domain of func", guestLibc: "EDOM" },
  { errno: 34, name: "ERANGE", text: "math result not representable", guestLibc: "ERANGE" },
  { errno: 35, name: "EDEADLK", text: "resource deadlock would occur", guestLibc: "EDEADLK" },
  { errno: 36, name: "ENAMETOOLONG", text: "file name too long", guestLibc: "ENAMETOOLONG" },
  { errno: 37, name: "ENOLCK", text: "no record locks available", guestLibc: "ENOLCK" },
  { errno: 38, name: "ENOSYS", text: "function not implemented", sdk: true, guestLibc: "ENOSYS" },
  { errno: 39, name: "ENOTEMPTY", text: "directory not empty", guestLibc: "ENOTEMPTY" },
  { errno: 40, name: "ELOOP", text: "too many symbolic links encountered", guestLibc: "ELOOP" },
  { errno: 42, name: "ENOMSG", text: "no message of desired type", guestLibc: "ENOMSG" },
  { errno: 43, name: "EIDRM", text: "identifier removed", guestLibc: "EIDRM" },
  { errno: 44, name: "ECHRNG", text: "channel number out of range" },
  { errno: 45, name: "EL2NSYNC", text: "level 2 not synchronized" },
  { errno: 46, name: "EL3HLT", text: "level 3 halted" },
  { errno: 47, name: "EL3RST", text: "level 3 reset" },
  { errno: 48, name: "ELNRNG", text: "link number out of range" },
  { errno: 49, name: "EUNATCH", text: "protocol driver not attached" },
  { errno: 50, name: "ENOCSI", text: "no CSI structure available" },
  { errno: 51, name: "EL2HLT", text: "level 2 halted" },
  { errno: 52, name: "EBADE", text: "invalid exchange" },
  { errno: 53, name: "EBADR", text: "invalid request descriptor" },
  { errno: 54, name: "EXFULL", text: "exchange full" },
  { errno: 55, name: "ENOANO", text: "no anode" },
  { errno: 56, name: "EBADRQC", text: "invalid request code" },
  { errno: 57, name: "EBADSLT", text: "invalid slot" },
  { errno: 59, name: "EBFONT", text: "bad font file format" },
  { errno: 60, name: "ENOSTR", text: "device not a stream" },
  { errno: 61, name: "ENODATA", text: "no data available" },
  { errno: 62, name: "ETIME", text: "timer expired" },
  { errno: 63, name: "ENOSR", text: "out of streams resources" },
  { errno: 64, name: "ENONET", text: "machine is not on the network" },
  { errno: 65, name: "ENOPKG", text: "package not installed" },
  { errno: 66, name: "EREMOTE", text: "object is remote" },
  { errno: 67, name: "ENOLINK", text: "link has been severed", guestLibc: "ENOLINK" },
  { errno: 68, name: "EADV", text: "advertise error" },
  { errno: 69, name: "ESRMNT", text: "srmount error" },
  { errno: 70, name: "ECOMM", text: "communication error on send" },
  { errno: 71, name: "EPROTO", text: "protocol error", guestLibc: "EPROTO" },
  { errno: 72, name: "EMULTIHOP", text: "multihop attempted", guestLibc: "EMULTIHOP" },
  { errno: 73, name: "EDOTDOT", text: "RFS specific error" },
  { errno: 74, name: "EBADMSG", text: "not a data message", guestLibc: "EBADMSG" },
  { errno: 75, name: "EOVERFLOW", text: "value too large for defined data type", guestLibc: "EOVERFLOW" },
  { errno: 76, name: "ENOTUNIQ", text: "name not unique on network" },
  { errno: 77, name: "EBADFD", text: "file descriptor in bad state" },
  { errno: 78, name: "EREMCHG", text: "remote address changed" },
  { errno: 79, name: "ELIBACC", text: "can not access a needed shared library" },
  { errno: 80, name: "ELIBBAD", text: "accessing a corrupted shared library" },
  { errno: 81, name: "ELIBSCN", text: ".lib section in a.out corrupted" },
  { errno: 82, name: "ELIBMAX", text: "attempting to link in too many shared libraries" },
  { errno: 83, name: "ELIBEXEC", text: "cannot exec a shared library directly" },
  { errno: 84, name: "EILSEQ", text: "illegal byte sequence", guestLibc: "EILSEQ" },
  { errno: 85, name: "ERESTART", text: "interrupted system call should be restarted" },
  { errno: 86, name: "ESTRPIPE", text: "streams pipe error" },
  { errno: 87, name: "EUSERS", text: "too many users" },
  { errno: 88, name: "ENOTSOCK", text: "socket operation on non-socket", guestLibc: "ENOTSOCK" },
  { errno: 89, name: "EDESTADDRREQ", text: "destination address required", guestLibc: "EDESTADDRREQ" },
  { errno: 90, name: "EMSGSIZE", text: "message too long", guestLibc: "EMSGSIZE" },
  { errno: 91, name: "EPROTOTYPE", text: "protocol wrong type for socket", guestLibc: "EPROTOTYPE" },
  { errno: 92, name: "ENOPROTOOPT", text: "protocol not available", guestLibc: "ENOPROTOOPT" },
  { errno: 93, name: "EPROTONOSUPPORT", text: "protocol not supported", guestLibc: "EPROTONOSUPPORT" },
  { errno: 94, name: "ESOCKTNOSUPPORT", text: "socket type not supported" },
  { errno: 95, name: "EOPNOTSUPP", text: "operation not supported", sdk: true, guestLibc: "EOPNOTSUPP" },
  { errno: 96, name: "EPFNOSUPPORT", text: "protocol family not supported" },
  { errno: 97, name: "EAFNOSUPPORT", text: "address family not supported by protocol", guestLibc: "EAFNOSUPPORT" },
  { errno: 98, name: "EADDRINUSE", text: "address already in use", guestLibc: "EADDRINUSE" },
  { errno: 99, name: "EADDRNOTAVAIL", text: "cannot assign requested address", guestLibc: "EADDRNOTAVAIL" },
  { errno: 100, name: "ENETDOWN", text: "network is down", guestLibc: "ENETDOWN" },
  { errno: 101, name: "ENETUNREACH", text: "network is unreachable", guestLibc: "ENETUNREACH" },
  { errno: 102, name: "ENETRESET", text: "network dropped connection because of reset", guestLibc: "ENETRESET" },
  { errno: 103, name: "ECONNABORTED", text: "software caused connection abort", guestLibc: "ECONNABORTED" },
  { errno: 104, name: "ECONNRESET", text: "connection reset by peer", guestLibc: "ECONNRESET" },
  { errno: 105, name: "ENOBUFS", text: "no buffer space available", guestLibc: "ENOBUFS" },
  { errno: 106, name: "EISCONN", text: "transport endpoint is already connected", guestLibc: "EISCONN" },
  { errno: 107, name: "ENOTCONN", text: "transport endpoint is not connected", guestLibc: "ENOTCONN" },
  { errno: 108, name: "ESHUTDOWN", text: "cannot send after transport endpoint shutdown" },
  { errno: 109, name: "ETOOMANYREFS", text: "too many references: cannot splice" },
  { errno: 110, name: "ETIMEDOUT", text: "connection timed out", guestLibc: "ETIMEDOUT" },
  { errno: 111, name: "ECONNREFUSED", text: "connection refused", guestLibc: "ECONNREFUSED" },
  { errno: 112, name: "EHOSTDOWN", text: "host is down" },
  { errno: 113, name: "EHOSTUNREACH", text: "no route to host", guestLibc: "EHOSTUNREACH" },
  { errno: 114, name: "EALREADY", text: "operation already in progress", guestLibc: "EALREADY" },
  { errno: 115, name: "EINPROGRESS", text: "operation now in progress", guestLibc: "EINPROGRESS" },
  { errno: 116, name: "ESTALE", text: "stale file handle", guestLibc: "ESTALE" },
  { errno: 117, name: "EUCLEAN", text: "structure needs cleaning" },
  { errno: 118, name: "ENOTNAM", text: "not a XENIX named type file" },
  { errno: 119, name: "ENAVAIL", text: "no XENIX semaphores available" },
  { errno: 120, name: "EISNAM", text: "is a named type file" },
  { errno: 121, name: "EREMOTEIO", text: "remote I/O error" },
  { errno: 122, name: "EDQUOT", text: "quota exceeded", guestLibc: "EDQUOT" },
  { errno: 123, name: "ENOMEDIUM", text: "no medium found" },
  { errno: 124, name: "EMEDIUMTYPE", text: "wrong medium type" },
  { errno: 125, name: "ECANCELED", text: "operation canceled", guestLibc: "ECANCELED" },
  { errno: 126, name: "ENOKEY", text: "required key not available" },
  { errno: 127, name: "EKEYEXPIRED", text: "key has expired" },
  { errno: 128, name: "EKEYREVOKED", text: "key has been revoked" },
  { errno: 129, name: "EKEYREJECTED", text: "key was rejected by service" },
  { errno: 130, name: "EOWNERDEAD", text: "owner died", guestLibc: "EOWNERDEAD" },
  { errno: 131, name: "ENOTRECOVERABLE", text: "state not recoverable", guestLibc: "ENOTRECOVERABLE" },
  { errno: 132, name: "ERFKILL", text: "operation not possible due to RF-kill" },
  { errno: 133, name: "EHWPOISON", text: "memory page has hardware error" },
  { errno: 524, name: "ENOTSUPP", text: "operation not supported by the kernel", sdk: true, guestLibc: "EOPNOTSUPP" },
] as const satisfies readonly ErrnoInfo[];

/** libbpf's own error codes (above 4000), as libbpf names them. */
// deno-fmt-ignore
export const LIBBPF_ERRNOS = [
  { errno: 4000, name: "LIBBPF_ERRNO__LIBELF", text: "libelf could not read the ELF data" },
  { errno: 4001, name: "LIBBPF_ERRNO__FORMAT", text: "not a valid BPF ELF object" },
  { errno: 4002, name: "LIBBPF_ERRNO__KVERSION", text: "kernel version missing or wrong" },
  { errno: 4003, name: "LIBBPF_ERRNO__ENDIAN", text: "ELF endianness does not match the host" },
  { errno: 4004, name: "LIBBPF_ERRNO__INTERNAL", text: "libbpf internal error" },
  { errno: 4005, name: "LIBBPF_ERRNO__RELOC", text: "relocation failed" },
  { errno: 4006, name: "LIBBPF_ERRNO__LOAD", text: "program load failed" },
  { errno: 4007, name: "LIBBPF_ERRNO__VERIFY", text: "the kernel verifier rejected the program" },
  { errno: 4008, name: "LIBBPF_ERRNO__PROG2BIG", text: "program too big" },
  { errno: 4010, name: "LIBBPF_ERRNO__PROGTYPE", text: "program type not supported by the kernel" },
] as const satisfies readonly ErrnoInfo[];

/**
 * The `cmd` values of `wasm_bpf_map_operate` (ABI.md). They equal the
 * kernel's `BPF_MAP_LOOKUP_ELEM` .. `BPF_MAP_GET_NEXT_KEY` (enum bpf_cmd).
 */
export const MapCommand = {
  /** Copy the value of `key` to `value`. */
  LOOKUP_ELEM: 1,
  /** Create or update the element `key` (see {@link UpdateFlags}). */
  UPDATE_ELEM: 2,
  /** Delete the element `key`. */
  DELETE_ELEM: 3,
  /** Write the key after `key` to `next_key` (`key` 0: the first key). */
  GET_NEXT_KEY: 4,
} as const;

/** `BPF_ANY` .. `BPF_F_LOCK`: the `flags` of a map update (linux/bpf.h). */
export const UpdateFlags = {
  /** Create a new element or update an existing one. */
  ANY: 0,
  /** Create a new element only (`EEXIST` if present). */
  NOEXIST: 1,
  /** Update an existing element only (`ENOENT` if absent). */
  EXIST: 2,
  /** Lookup/update under the value's `bpf_spin_lock`. */
  F_LOCK: 4,
} as const;

/** `BPF_MAP_TYPE_*` (enum bpf_map_type of linux/bpf.h), without the prefix. */
export const MapType = {
  /** Invalid (0). */
  UNSPEC: 0,
  /** Hash table. */
  HASH: 1,
  /** Array indexed by u32. */
  ARRAY: 2,
  /** Tail-call program array. */
  PROG_ARRAY: 3,
  /** Per-CPU perf event ring buffers. */
  PERF_EVENT_ARRAY: 4,
  /** Hash table with one value per possible CPU. */
  PERCPU_HASH: 5,
  /** Array with one value per possible CPU. */
  PERCPU_ARRAY: 6,
  /** Stack traces of bpf_get_stackid. */
  STACK_TRACE: 7,
  /** Cgroup fds. */
  CGROUP_ARRAY: 8,
  /** Hash table with LRU eviction. */
  LRU_HASH: 9,
  /** Per-CPU hash table with LRU eviction. */
  LRU_PERCPU_HASH: 10,
  /** Longest-prefix-match trie. */
  LPM_TRIE: 11,
  /** Array of inner maps. */
  ARRAY_OF_MAPS: 12,
  /** Hash of inner maps. */
  HASH_OF_MAPS: 13,
  /** Network devices (XDP redirect). */
  DEVMAP: 14,
  /** Sockets (sk_msg/sk_skb redirect). */
  SOCKMAP: 15,
  /** CPUs (XDP redirect). */
  CPUMAP: 16,
  /** AF_XDP sockets. */
  XSKMAP: 17,
  /** Sockets, hashed. */
  SOCKHASH: 18,
  /** Cgroup storage (deprecated). */
  CGROUP_STORAGE: 19,
  /** SO_REUSEPORT socket arrays. */
  REUSEPORT_SOCKARRAY: 20,
  /** Per-CPU cgroup storage (deprecated). */
  PERCPU_CGROUP_STORAGE: 21,
  /** FIFO queue. */
  QUEUE: 22,
  /** LIFO stack. */
  STACK: 23,
  /** Socket-local storage. */
  SK_STORAGE: 24,
  /** Network devices, hashed. */
  DEVMAP_HASH: 25,
  /** struct_ops. */
  STRUCT_OPS: 26,
  /** Ring buffer shared by all CPUs. */
  RINGBUF: 27,
  /** Inode-local storage. */
  INODE_STORAGE: 28,
  /** Task-local storage. */
  TASK_STORAGE: 29,
  /** Bloom filter. */
  BLOOM_FILTER: 30,
  /** Ring buffer written by user space. */
  USER_RINGBUF: 31,
  /** Cgroup-local storage. */
  CGRP_STORAGE: 32,
  /** Memory shared by programs and user space. */
  ARENA: 33,
} as const;
