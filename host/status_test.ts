// Root-free: the status constructors, their exit codes, isGuestStatus.
import * as assert from "node:assert/strict";
import {
  crashed,
  ExitCode,
  exited,
  failed,
  interrupted,
  isGuestStatus,
  signalNumber,
  timedOut,
  trapped,
} from "./status.ts";

Deno.test("exited: the guest's own code, reduced to 0-255 as a process exit", () => {
  assert.deepEqual(exited(0), {
    kind: "exited",
    code: 0,
    success: true,
    guestCode: 0,
  });
  assert.equal(exited(3).code, 3);
  assert.equal(exited(3).success, false);
  assert.equal(exited(255).code, 255);
  assert.equal(exited(256).code, 0); // as a Linux process exit status
  assert.equal(exited(300).guestCode, 44);
  assert.equal(exited(-1).code, 255); // a WASI u32 read as i32
  assert.equal(exited(0xffffffff).code, 255);
  // a guest code that equals a host code stays the guest's
  assert.equal(exited(ExitCode.TIMEOUT).kind, "exited");
});

Deno.test("host outcomes map to their own exit codes", () => {
  assert.equal(interrupted("SIGINT", "m").code, 130);
  assert.equal(interrupted("abort", "m").code, 130);
  assert.equal(interrupted("SIGTERM", "m").code, 143);
  assert.equal(timedOut("m").code, 124);
  assert.equal(trapped("m").code, 134);
  assert.equal(failed("m").code, 125);
  assert.equal(crashed("SIGSEGV", "m").code, 139);
  assert.equal(crashed("SIGKILL", "m").code, 137);
  assert.equal(crashed("SIGWHAT", "m").code, 128); // unknown signal name
  for (
    const s of [
      interrupted("SIGINT", "m"),
      timedOut("m"),
      trapped("m"),
      failed("m"),
      crashed("SIGABRT", "m"),
    ]
  ) {
    assert.equal(s.success, false);
    assert.equal(s.message, "m");
    assert.equal(s.guestCode, undefined);
  }
  assert.equal(interrupted("SIGTERM", "m").signal, "SIGTERM");
  assert.equal(crashed("SIGBUS", "m").signal, "SIGBUS");
});

Deno.test("forced is set only when the guest had to be killed", () => {
  assert.equal("forced" in interrupted("SIGINT", "m"), false);
  assert.equal("forced" in timedOut("m"), false);
  assert.equal(interrupted("SIGINT", "m", true).forced, true);
  assert.equal(timedOut("m", true).forced, true);
});

Deno.test("signalNumber", () => {
  assert.equal(signalNumber("SIGINT"), 2);
  assert.equal(signalNumber("SIGSEGV"), 11);
  assert.equal(signalNumber("SIGSYS"), 31);
  assert.equal(signalNumber("sigint"), 0);
  assert.equal(signalNumber("toString"), 0); // not an Object.prototype key
});

Deno.test("isGuestStatus accepts every constructed status and rejects other shapes", () => {
  for (
    const s of [
      exited(0),
      exited(7),
      interrupted("SIGTERM", "m", true),
      timedOut("m"),
      trapped("m"),
      failed("m"),
      crashed("SIGSEGV", "m"),
    ]
  ) {
    assert.equal(isGuestStatus(s), true, s.kind);
    assert.equal(isGuestStatus(JSON.parse(JSON.stringify(s))), true);
  }
  for (
    const v of [
      null,
      undefined,
      0,
      "exited",
      [],
      {},
      { kind: "exited", code: 0 },
      { kind: "exited", code: "0", success: true },
      { kind: "exited", code: 0, success: "true" },
      { kind: "done", code: 0, success: true },
      { kind: 1, code: 0, success: true },
    ]
  ) assert.equal(isGuestStatus(v), false, JSON.stringify(v));
});
