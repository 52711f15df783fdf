/**
 * For `run()` in host/spawn.ts: a string that is not a path on disk but
 * looks like an OCI reference is pulled (verified, cached), checked against
 * the policy's `allowImages`, and given back as bytes.
 *
 * @module
 */
import type { RegistryOptions } from "./client.ts";
import { looksLikeReference } from "./ref.ts";

/**
 * `wasm` resolved for a run: the bytes when it is a reference (and an
 * `{ event: "image", ref, digest }` record to `audit`), undefined when it
 * is not one, or a one-line reason it cannot run. `registry` gives the
 * credentials and whether plain HTTP is allowed beyond localhost.
 */
export async function resolveGuest(
  wasm: string,
  allowImages: string[] | undefined,
  audit?: (record: Record<string, unknown>) => void,
  registry: RegistryOptions = {},
): Promise<Uint8Array | string | undefined> {
  if (!looksLikeReference(wasm)) return undefined;
  try {
    await Deno.stat(wasm);
    return undefined; // a path that exists is a file
  } catch { /* not a file */ }
  const { imageAllowed, parseReference } = await import("./ref.ts");
  const { describe } = await import("./cli.ts");
  const { pull } = await import("./mod.ts");
  try {
    const pulled = await pull(wasm, registry);
    if (
      allowImages &&
      !imageAllowed(allowImages, parseReference(wasm), pulled.digest)
    ) {
      return `the policy's allowImages does not allow '${wasm}' (${pulled.digest})`;
    }
    audit?.({
      time: new Date().toISOString(),
      event: "image",
      ref: wasm,
      digest: pulled.digest,
    });
    return pulled.bytes;
  } catch (e) {
    const line = describe(e);
    if (line === undefined) throw e;
    return line;
  }
}
