import assert from "node:assert/strict";
import { Errno } from "./errno.ts";
import {
  FdFlags,
  FileType,
  fileTypeOfDirent,
  fileTypeOfMode,
  FstFlags,
  LOOKUP_SYMLINK_FOLLOW,
  O,
  OFlags,
  openFlags,
  Rights,
  splitFinal,
  timesFor,
} from "./fs.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) =>
  b === null ? null : new TextDecoder().decode(b);

Deno.test("openFlags: access mode from the rights, never following unless asked", () => {
  const always = O.CLOEXEC | O.NOCTTY | O.NONBLOCK;
  assert.deepEqual(openFlags(0, 0, Rights.FD_READ, 0), {
    flags: always | O.RDONLY | O.NOFOLLOW,
    writes: false,
  });
  // wasi-libc's O_RDONLY asks for every right but the writing ones
  const readOnlyLibc = Rights.ALL & ~Rights.FD_WRITE;
  assert.equal(openFlags(1, 0, readOnlyLibc, 0).writes, false);
  assert.deepEqual(openFlags(LOOKUP_SYMLINK_FOLLOW, 0, Rights.FD_WRITE, 0), {
    flags: always | O.WRONLY,
    writes: true,
  });
  assert.equal(
    openFlags(1, 0, Rights.FD_WRITE | Rights.FD_READ, 0).flags & 3,
    O.RDWR,
  );
  // no FD_WRITE, but APPEND, CREAT or TRUNC still change the filesystem
  assert.equal(openFlags(1, 0, 0n, FdFlags.APPEND).writes, true);
  assert.equal(openFlags(1, 0, 0n, FdFlags.APPEND).flags & O.APPEND, O.APPEND);
  assert.equal(openFlags(1, OFlags.CREAT, Rights.FD_READ, 0).writes, true);
  assert.equal(openFlags(1, OFlags.TRUNC, Rights.FD_READ, 0).writes, true);
  const all = openFlags(
    0,
    OFlags.CREAT | OFlags.DIRECTORY | OFlags.EXCL | OFlags.TRUNC,
    0n,
    FdFlags.DSYNC | FdFlags.SYNC,
  ).flags;
  for (const f of [O.CREAT, O.DIRECTORY, O.EXCL, O.TRUNC, O.DSYNC, O.SYNC]) {
    assert.equal(all & f, f);
  }
});

Deno.test("splitFinal: one final component, never '', '.', '..' or absolute", () => {
  const ok = (p: string) => {
    const s = splitFinal(bytes(p), Errno.INVAL);
    assert.ok(typeof s !== "number", p);
    return [text(s.dir), text(s.name), s.trailingSlash];
  };
  assert.deepEqual(ok("a"), [null, "a", false]);
  assert.deepEqual(ok("a/b/c"), ["a/b", "c", false]);
  assert.deepEqual(ok("a//b//"), ["a/", "b", true]);
  assert.deepEqual(ok("../x"), ["..", "x", false]);
  assert.deepEqual(ok("..."), [null, "...", false]);
  assert.equal(splitFinal(bytes(""), Errno.INVAL), Errno.NOENT);
  assert.equal(splitFinal(bytes("/etc/passwd"), Errno.INVAL), Errno.NOTCAPABLE);
  for (const p of [".", "..", "a/..", "a/./", "../..//"]) {
    assert.equal(splitFinal(bytes(p), Errno.EXIST), Errno.EXIST, p);
  }
});

Deno.test("file types from st_mode and d_type", () => {
  assert.equal(fileTypeOfMode(0o100644), FileType.REGULAR_FILE);
  assert.equal(fileTypeOfMode(0o040755), FileType.DIRECTORY);
  assert.equal(fileTypeOfMode(0o120777), FileType.SYMBOLIC_LINK);
  assert.equal(fileTypeOfMode(0o020620), FileType.CHARACTER_DEVICE);
  assert.equal(fileTypeOfMode(0o060660), FileType.BLOCK_DEVICE);
  assert.equal(fileTypeOfMode(0o140777), FileType.SOCKET_STREAM);
  assert.equal(fileTypeOfMode(0o010644), FileType.UNKNOWN); // FIFO
  assert.equal(fileTypeOfDirent(8), FileType.REGULAR_FILE);
  assert.equal(fileTypeOfDirent(4), FileType.DIRECTORY);
  assert.equal(fileTypeOfDirent(10), FileType.SYMBOLIC_LINK);
  assert.equal(fileTypeOfDirent(1), FileType.UNKNOWN);
  assert.equal(fileTypeOfDirent(0), FileType.UNKNOWN);
});

Deno.test("timesFor: set, now and omit; contradictory flags are INVAL", () => {
  const NOW = (1n << 30n) - 1n, OMIT = (1n << 30n) - 2n;
  assert.deepEqual(
    [...timesFor(
      3_000_000_007n,
      0n,
      FstFlags.ATIM | FstFlags.MTIM_NOW,
    ) as BigInt64Array],
    [3n, 7n, 0n, NOW],
  );
  assert.deepEqual([...timesFor(1n, 2n, 0) as BigInt64Array], [
    0n,
    OMIT,
    0n,
    OMIT,
  ]);
  assert.equal(
    timesFor(0n, 0n, FstFlags.ATIM | FstFlags.ATIM_NOW),
    Errno.INVAL,
  );
  assert.equal(
    timesFor(0n, 0n, FstFlags.MTIM | FstFlags.MTIM_NOW),
    Errno.INVAL,
  );
  assert.equal(timesFor(0n, 0n, 0x10), Errno.INVAL);
});
