/**
 * Errors of the eBPF layer: every failure carries the Linux errno and a
 * message naming the object, program, map or target involved.
 *
 * @module
 */

import { LIBBPF_ERRNOS, LINUX_ERRNOS } from "./constants.ts";

/**
 * The Linux errno values this project names (positive): those of
 * {@link LINUX_ERRNOS} marked `sdk`. The imports of the Wasm host return
 * them negated.
 */
export const Errno: {
  readonly [
    E in Extract<(typeof LINUX_ERRNOS)[number], { sdk: true }> as E["name"]
  ]: E["errno"];
} = Object.fromEntries(
  LINUX_ERRNOS.filter((e) => "sdk" in e && e.sdk).map((e) => [
    e.name,
    e.errno,
  ]),
) as never;

const NAMES: Record<number, [string, string]> = {};
for (const e of [...LINUX_ERRNOS, ...LIBBPF_ERRNOS]) {
  NAMES[e.errno] = [e.name, e.text];
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
