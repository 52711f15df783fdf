/**
 * How an import answers a failure: one error type for the ABI's own
 * refusals ({@link AbiError}, carrying the errno), and the mapping of every
 * error an import body can raise to the negative errno it returns.
 *
 * @module
 */
import { BpfError, Errno } from "../ffi/mod.ts";
import { GuestFault } from "./memory.ts";
import { PolicyDenied } from "./policy.ts";
import { GuestInterrupted, type Session } from "./session.ts";

/** A request the ABI refuses: the import returns `-errno`. */
export class AbiError extends Error {
  /**
   * A refusal described by `message`, returned to the guest as `-errno`.
   *
   * @param message names the import, the argument at fault and what to do.
   * @param errno the positive Linux errno (see {@link Errno}).
   */
  constructor(message: string, readonly errno: number) {
    super(message);
    this.name = "AbiError";
  }
}

/**
 * The import's answer to `e`: `-errno` (or 0n for the load import, whose
 * failure value is `fallback`), after logging why. The guest's own traps,
 * exits and interrupts are rethrown to unwind it.
 */
export function failure<T extends number | bigint>(
  s: Session,
  what: string,
  fallback: T,
  e: unknown,
): T {
  if (
    e === s.fromGuest || e instanceof GuestInterrupted ||
    e instanceof WebAssembly.RuntimeError
  ) {
    throw e; // the guest's own trap or exit: unwind it
  }
  const answer = (errno: number) =>
    (typeof fallback === "bigint" ? 0n : -errno) as T;
  if (e instanceof GuestFault) {
    s.debug(`${what}: ${e.message}`);
    return answer(Errno.EFAULT);
  }
  if (e instanceof PolicyDenied) {
    s.log(e.message);
    s.audit({ event: "denied", call: what, detail: e.message });
    return answer(Errno.EPERM);
  }
  if (e instanceof AbiError || e instanceof BpfError) {
    s.log(e.message);
    return answer(e.errno);
  }
  // a host bug must not kill the guest or leak: report and fail the call
  s.log(`${what}: internal error: ${(e as Error)?.stack ?? e}`);
  return fallback;
}
