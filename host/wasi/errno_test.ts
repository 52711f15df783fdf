import assert from "node:assert/strict";
import { Errno, fromLinuxErrno } from "./errno.ts";

Deno.test("WASI errno numbers are WASI's (wasi/api.h), not Linux's", () => {
  assert.equal(Errno.SUCCESS, 0);
  assert.equal(Errno.TOOBIG, 1);
  assert.equal(Errno.BADF, 8);
  assert.equal(Errno.FAULT, 21);
  assert.equal(Errno.NOENT, 44);
  assert.equal(Errno.NOSYS, 52);
  assert.equal(Errno.ROFS, 69);
  assert.equal(Errno.NOTCAPABLE, 76);
  assert.equal(Object.keys(Errno).length, 77);
});

Deno.test("fromLinuxErrno translates x86-64 errnos, IO for the unknown", () => {
  assert.equal(fromLinuxErrno(1), Errno.PERM);
  assert.equal(fromLinuxErrno(2), Errno.NOENT);
  assert.equal(fromLinuxErrno(13), Errno.ACCES);
  assert.equal(fromLinuxErrno(18), Errno.XDEV);
  assert.equal(fromLinuxErrno(30), Errno.ROFS);
  assert.equal(fromLinuxErrno(40), Errno.LOOP);
  assert.equal(fromLinuxErrno(95), Errno.NOTSUP);
  assert.equal(fromLinuxErrno(122), Errno.DQUOT);
  assert.equal(fromLinuxErrno(999), Errno.IO);
  assert.equal(fromLinuxErrno(0), Errno.IO);
});
