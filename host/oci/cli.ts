/**
 * The CLI's registry commands, `wasm-bpf push FILE REF` and
 * `wasm-bpf pull REF [-o FILE]`, and the step that turns a reference given
 * where `app.wasm` is expected into a verified file in the cache.
 *
 * @module
 */
import { type Credentials, RegistryError } from "./client.ts";
import { imageAllowed, InvalidReference } from "./ref.ts";
import { ContentError, push, resolve } from "./mod.ts";
import { REGISTRY_USAGE, type RegistryFlags } from "./usage.ts";

export { REGISTRY_USAGE, type RegistryFlags };

async function readStdin(): Promise<string> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.replace(/\r?\n$/, "");
}

/** The credentials the flags give (reads stdin for `--password-stdin`). */
export async function flagCredentials(
  f: RegistryFlags,
): Promise<Credentials | undefined> {
  if (f.passwordStdin && !f.username) {
    throw new InvalidReference("--password-stdin needs --username");
  }
  if (f.username && !f.passwordStdin) {
    throw new InvalidReference(
      "--username needs --password-stdin (the password is never an argument)",
    );
  }
  if (!f.username) return undefined;
  return { username: f.username, password: await readStdin() };
}

/** One line for a registry/content/reference failure, else undefined. */
export function describe(e: unknown): string | undefined {
  if (
    e instanceof RegistryError || e instanceof ContentError ||
    e instanceof InvalidReference
  ) return e.message;
  if (e instanceof Deno.errors.NotCapable) {
    return `${e.message} (registry use needs deno --allow-net --allow-env --allow-read --allow-write)`;
  }
  return undefined;
}

/**
 * Resolves `ref` for a run: checks `--require-digest` and the policy's
 * `allowImages`, pulls (verified, cached) and returns the cached file and
 * the manifest digest. Throws with a one-line message.
 */
export async function resolveForRun(
  ref: string,
  flags: RegistryFlags,
  allowImages: string[] | undefined,
): Promise<{ path: string; digest: string }> {
  const { parseReference } = await import("./ref.ts");
  const r = parseReference(ref);
  if (flags.requireDigest && !r.digest) {
    throw new InvalidReference(
      `--require-digest: '${ref}' is not pinned; run ${r.registry}/${r.repository}@sha256:... (wasm-bpf pull prints the digest)`,
    );
  }
  if (allowImages && !imageAllowed(allowImages, r)) {
    // a tag may still match a pattern through its digest: decided after the pull
    const pulled = await resolve(ref, {
      credentials: await flagCredentials(flags),
      insecure: flags.insecure,
    });
    if (!imageAllowed(allowImages, r, pulled.digest)) {
      throw new InvalidReference(
        `the policy's allowImages does not allow '${ref}' (${pulled.digest})`,
      );
    }
    return { path: pulled.path, digest: pulled.digest };
  }
  const pulled = await resolve(ref, {
    credentials: await flagCredentials(flags),
    insecure: flags.insecure,
  });
  return { path: pulled.path, digest: pulled.digest };
}

/** `push` and `pull`; resolves to the exit status. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  const flags: RegistryFlags = {};
  const words: string[] = [];
  let out: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    let a = rest[i];
    let value: string | undefined;
    const eq = a.indexOf("=");
    if (a.startsWith("--") && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const need = () => {
      if (value !== undefined) return value;
      if (i + 1 >= rest.length) {
        throw new InvalidReference(`${a} needs a value`);
      }
      return rest[++i];
    };
    try {
      if (a === "--username") flags.username = need();
      else if (a === "--password-stdin") flags.passwordStdin = true;
      else if (a === "--insecure") flags.insecure = true;
      else if ((a === "-o" || a === "--output") && cmd === "pull") out = need();
      else if (a === "-h" || a === "--help") {
        console.log(REGISTRY_USAGE);
        return 0;
      } else if (a.startsWith("-") && a !== "-") {
        throw new InvalidReference(`${cmd}: unknown option '${rest[i]}'`);
      } else words.push(rest[i]);
    } catch (e) {
      console.error(
        `wasm-bpf: ${(e as Error).message}\nRun with --help for usage.`,
      );
      return 2;
    }
  }
  const want = cmd === "push" ? 2 : 1;
  if (words.length !== want) {
    console.error(
      `wasm-bpf: ${
        cmd === "push" ? "push needs FILE REF" : "pull needs REF"
      }\nRun with --help for usage.`,
    );
    return 2;
  }
  try {
    const credentials = await flagCredentials(flags);
    if (cmd === "push") {
      const [file, ref] = words;
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(file);
      } catch (e) {
        console.error(
          `wasm-bpf: push: cannot read ${file}: ${(e as Error).message}`,
        );
        return 2;
      }
      const pushed = await push(bytes, ref, {
        credentials,
        insecure: flags.insecure,
        name: file.split("/").pop(),
      });
      console.log(pushed.pinned);
      return 0;
    }
    const pulled = await resolve(words[0], {
      credentials,
      insecure: flags.insecure,
    });
    if (out) await Deno.writeFile(out, pulled.bytes);
    console.log(`${pulled.digest} ${out ?? pulled.path}`);
    return 0;
  } catch (e) {
    const line = describe(e);
    if (line === undefined) throw e;
    console.error(`wasm-bpf: ${line}`);
    return 1;
  }
}

/**
 * For the CLI's run: `arg` (not a file on disk) as a reference, pulled and
 * verified. Undefined when `arg` does not look like a reference; a string
 * is the one-line reason it cannot run.
 */
export async function runTarget(
  arg: string,
  flags: RegistryFlags | undefined,
  allowImages: string[] | undefined,
): Promise<{ path: string; ref: string; digest: string } | string | undefined> {
  const { looksLikeReference } = await import("./ref.ts");
  if (!looksLikeReference(arg)) return undefined;
  try {
    const { path, digest } = await resolveForRun(arg, flags ?? {}, allowImages);
    return { path, ref: arg, digest };
  } catch (e) {
    const line = describe(e);
    if (line === undefined) throw e;
    return line;
  }
}
