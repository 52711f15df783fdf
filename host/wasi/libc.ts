/**
 * The C library calls the WASI layer makes, through `Deno.dlopen`: each
 * symbol is bound on its first use (module load opens nothing).
 *
 * One symbol table; each parameter is commented with its C name. Set
 * `WASM_BPF_LIBC` to load another file than `libc.so.6`. Linux x86-64 only:
 * `openat2` has no libc wrapper in glibc 2.36 and goes through `syscall`
 * with number 437.
 *
 * @module
 */
import { tieredLibrary } from "../../ffi/tiered.ts";

/** The libc functions the WASI layer uses. */
export const LIBC_SYMBOLS = {
  // int *__errno_location(void)
  __errno_location: {
    parameters: [],
    result: "pointer",
  },
  // long syscall(long number = 437 (SYS_openat2), int dirfd,
  //   const char *pathname, struct open_how *how, size_t size)
  openat2: {
    name: "syscall",
    parameters: [
      "i64", // number
      "i64", // dirfd
      "buffer", // pathname
      "buffer", // how
      "i64", // size
    ],
    result: "i64",
  },
  // long syscall(long number = 321 (SYS_bpf), int cmd,
  //   union bpf_attr *attr, unsigned int size): the host's pins
  //   (host/pins.ts) made and removed beneath a directory fd
  bpf: {
    name: "syscall",
    parameters: [
      "i64", // number
      "i64", // cmd
      "buffer", // attr
      "i64", // size
    ],
    result: "i64",
  },
  // int close(int fd)
  close: {
    parameters: [
      "i32", // fd
    ],
    result: "i32",
  },
  // ssize_t read(int fd, void *buf, size_t count)
  read: {
    parameters: [
      "i32", // fd
      "buffer", // buf
      "usize", // count
    ],
    result: "isize",
  },
  // ssize_t write(int fd, const void *buf, size_t count)
  write: {
    parameters: [
      "i32", // fd
      "buffer", // buf
      "usize", // count
    ],
    result: "isize",
  },
  // ssize_t pread(int fd, void *buf, size_t count, off_t offset)
  pread: {
    parameters: [
      "i32", // fd
      "buffer", // buf
      "usize", // count
      "i64", // offset
    ],
    result: "isize",
  },
  // ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
  pwrite: {
    parameters: [
      "i32", // fd
      "buffer", // buf
      "usize", // count
      "i64", // offset
    ],
    result: "isize",
  },
  // off_t lseek(int fd, off_t offset, int whence)
  lseek: {
    parameters: [
      "i32", // fd
      "i64", // offset
      "i32", // whence
    ],
    result: "i64",
  },
  // int fstat(int fd, struct stat *statbuf)
  fstat: {
    parameters: [
      "i32", // fd
      "buffer", // statbuf
    ],
    result: "i32",
  },
  // int fcntl(int fd, int cmd, int arg)
  fcntl: {
    parameters: [
      "i32", // fd
      "i32", // cmd
      "i32", // arg
    ],
    result: "i32",
  },
  // int ftruncate(int fd, off_t length)
  ftruncate: {
    parameters: [
      "i32", // fd
      "i64", // length
    ],
    result: "i32",
  },
  // int fsync(int fd)
  fsync: {
    parameters: [
      "i32", // fd
    ],
    result: "i32",
  },
  // int fdatasync(int fd)
  fdatasync: {
    parameters: [
      "i32", // fd
    ],
    result: "i32",
  },
  // int posix_fadvise(int fd, off_t offset, off_t len, int advice)
  posix_fadvise: {
    parameters: [
      "i32", // fd
      "i64", // offset
      "i64", // len
      "i32", // advice
    ],
    result: "i32",
  },
  // int posix_fallocate(int fd, off_t offset, off_t len)
  posix_fallocate: {
    parameters: [
      "i32", // fd
      "i64", // offset
      "i64", // len
    ],
    result: "i32",
  },
  // int futimens(int fd, const struct timespec times[2])
  futimens: {
    parameters: [
      "i32", // fd
      "buffer", // times
    ],
    result: "i32",
  },
  // int utimensat(int dirfd, const char *pathname,
  //   const struct timespec times[2], int flags)
  utimensat: {
    parameters: [
      "i32", // dirfd
      "buffer", // pathname
      "buffer", // times
      "i32", // flags
    ],
    result: "i32",
  },
  // ssize_t getdents64(int fd, void *dirp, size_t count)
  getdents64: {
    parameters: [
      "i32", // fd
      "buffer", // dirp
      "usize", // count
    ],
    result: "isize",
  },
  // int mkdirat(int dirfd, const char *pathname, mode_t mode)
  mkdirat: {
    parameters: [
      "i32", // dirfd
      "buffer", // pathname
      "u32", // mode
    ],
    result: "i32",
  },
  // int unlinkat(int dirfd, const char *pathname, int flags)
  unlinkat: {
    parameters: [
      "i32", // dirfd
      "buffer", // pathname
      "i32", // flags
    ],
    result: "i32",
  },
  // int renameat(int olddirfd, const char *oldpath, int newdirfd,
  //   const char *newpath)
  renameat: {
    parameters: [
      "i32", // olddirfd
      "buffer", // oldpath
      "i32", // newdirfd
      "buffer", // newpath
    ],
    result: "i32",
  },
  // int symlinkat(const char *target, int newdirfd, const char *linkpath)
  symlinkat: {
    parameters: [
      "buffer", // target
      "i32", // newdirfd
      "buffer", // linkpath
    ],
    result: "i32",
  },
  // int linkat(int olddirfd, const char *oldpath, int newdirfd,
  //   const char *newpath, int flags)
  linkat: {
    parameters: [
      "i32", // olddirfd
      "buffer", // oldpath
      "i32", // newdirfd
      "buffer", // newpath
      "i32", // flags
    ],
    result: "i32",
  },
  // ssize_t readlinkat(int dirfd, const char *pathname, char *buf,
  //   size_t bufsiz)
  readlinkat: {
    parameters: [
      "i32", // dirfd
      "buffer", // pathname
      "buffer", // buf
      "usize", // bufsiz
    ],
    result: "isize",
  },
  // int ppoll(struct pollfd *fds, nfds_t nfds,
  //   const struct timespec *tmo_p, const sigset_t *sigmask)
  ppoll: {
    parameters: [
      "buffer", // fds
      "u64", // nfds
      "buffer", // tmo_p
      "pointer", // sigmask
    ],
    result: "i32",
  },
  // int clock_gettime(clockid_t clockid, struct timespec *tp)
  clock_gettime: {
    parameters: [
      "i32", // clockid
      "buffer", // tp
    ],
    result: "i32",
  },
  // int clock_getres(clockid_t clockid, struct timespec *res)
  clock_getres: {
    parameters: [
      "i32", // clockid
      "buffer", // res
    ],
    result: "i32",
  },
  // ssize_t getrandom(void *buf, size_t buflen, unsigned int flags)
  getrandom: {
    parameters: [
      "buffer", // buf
      "usize", // buflen
      "u32", // flags
    ],
    result: "isize",
  },
} as const satisfies Deno.ForeignLibraryInterface;

// Deno takes a number where a 64-bit integer is expected (offsets and sizes
// fit in 53 bits); the table says bigint, the calls may pass either.
/** A function type whose bigint parameters also take a number. */
export type Loosen<F> = F extends (...args: infer A) => infer R ? (
    ...args: { [K in keyof A]: A[K] extends bigint ? number | bigint : A[K] }
  ) => R
  : F;
/** The opened symbols (64-bit parameters take a number or a bigint). */
export type Libc = {
  [K in keyof Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"]]: Loosen<
    Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"][K]
  >;
};

/** The system call number of `openat2` on x86-64. */
export const SYS_OPENAT2 = 437;
/** The system call number of `bpf` on x86-64. */
export const SYS_BPF = 321;

let lib: Libc | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

function libraryPath(): string {
  try {
    return Deno.env.get("WASM_BPF_LIBC") || "libc.so.6";
  } catch {
    return "libc.so.6"; // no --allow-env: the default
  }
}

function bind(path: string, one: Deno.ForeignLibraryInterface) {
  try {
    return Deno.dlopen(path, one).symbols;
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) throw e;
    throw new Error(
      `WASI: cannot load the C library ${path}: ${
        (e as Error).message
      } (run deno with --allow-ffi, or set WASM_BPF_LIBC to libc's path)`,
      { cause: e },
    );
  }
}

/**
 * libc's symbols. Each is bound on its first use, through Deno's general
 * call path until it is hot (ffi/tiered.ts): a guest that only prints a
 * few lines compiles no trampoline.
 */
export function libc(): Libc {
  if (lib) return lib;
  const path = libraryPath();
  lib = tieredLibrary(path, LIBC_SYMBOLS, {
    libc: path,
    open: (one) => bind(path, one),
  }) as unknown as Libc;
  // errno's address before any call can fail: binding a symbol later
  // (dlsym, Deno's own checks) could change errno between a failure and
  // its read
  errnoView = new Deno.UnsafePointerView(lib.__errno_location()!);
  return lib;
}

/** The calling thread's errno, read right after a failed call. */
export function errno(): number {
  if (!errnoView) libc();
  return errnoView!.getInt32();
}
