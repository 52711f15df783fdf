/**
 * An OCI distribution client over `fetch`: the registry's scheme (HTTPS;
 * plain HTTP only for localhost/127.0.0.1/::1 or when insecure), credentials
 * (`~/.docker/config.json`, or given), and the Basic and Bearer-token
 * challenges of `WWW-Authenticate`.
 *
 * @module
 */

import { RegistryError } from "./errors.ts";

export { RegistryError };

/** A user name and password for a registry. */
export interface Credentials {
  /** The user name. */
  username: string;
  /** The password or token. */
  password: string;
}

/** How to reach registries ({@link pull}, {@link push}). */
export interface RegistryOptions {
  /** Credentials; default: the registry's entry in `~/.docker/config.json`. */
  credentials?: Credentials;
  /** Allow plain HTTP to registries other than localhost (default false). */
  insecure?: boolean;
  /**
   * The HTTP client to use (kept open). Default: one of the call's own,
   * closed when it ends, so no idle connection outlives a pull or push.
   */
  httpClient?: Deno.HttpClient;
}

/** Whether plain HTTP is allowed to `host` without `insecure`. */
export function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "");
  return name === "localhost" || name === "127.0.0.1" || name === "[::1]";
}

/**
 * The credentials for `registry` in `$DOCKER_CONFIG/config.json` or
 * `~/.docker/config.json` (`auths[registry].auth`, base64 `user:pass`), or
 * undefined. An unreadable or malformed file is a {@link RegistryError}.
 */
export function dockerConfigCredentials(
  registry: string,
): Credentials | undefined {
  const dir = Deno.env.get("DOCKER_CONFIG") ??
    `${Deno.env.get("HOME") ?? ""}/.docker`;
  const file = `${dir}/config.json`;
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new RegistryError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let auths: Record<
    string,
    { auth?: string; username?: string; password?: string }
  >;
  try {
    auths = JSON.parse(text).auths ?? {};
  } catch (e) {
    throw new RegistryError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  const entry = auths[registry] ?? auths[`https://${registry}`] ??
    auths[`http://${registry}`] ?? auths[`https://${registry}/v2/`];
  if (!entry) return undefined;
  if (entry.auth) {
    let plain: string;
    try {
      plain = atob(entry.auth);
    } catch {
      throw new RegistryError(
        `${file}: auths["${registry}"].auth is not base64`,
      );
    }
    const colon = plain.indexOf(":");
    if (colon < 0) {
      throw new RegistryError(
        `${file}: auths["${registry}"].auth is not base64 of user:password`,
      );
    }
    return {
      username: plain.slice(0, colon),
      password: plain.slice(colon + 1),
    };
  }
  if (entry.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (or `Basic realm=...`). */
export function parseChallenge(
  header: string,
): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  const params: Record<string, string> = {};
  if (!m) return { scheme: "", params };
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/g;
  for (const p of m[2].matchAll(re)) {
    params[p[1].toLowerCase()] = p[2] !== undefined
      ? p[2].replace(/\\(.)/g, "$1")
      : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

/** One registry's connection: base URL and the authorization that worked. */
export class RegistryClient {
  /** `host[:port]`. */
  readonly registry: string;
  /** `http(s)://host[:port]`. */
  readonly base: string;
  #credentials: Credentials | undefined;
  #credentialsLoaded = false;
  #options: RegistryOptions;
  #authorization: string | undefined;
  #http: Deno.HttpClient | undefined;

  /** A client for `registry`; throws when plain HTTP would be needed but is not allowed. */
  constructor(registry: string, options: RegistryOptions = {}) {
    this.registry = registry;
    this.#options = options;
    const plain = isLoopback(registry) || options.insecure;
    this.base = `${plain ? "http" : "https"}://${registry}`;
    if (options.credentials) {
      this.#credentials = options.credentials;
      this.#credentialsLoaded = true;
    }
  }

  #creds(): Credentials | undefined {
    if (!this.#credentialsLoaded) {
      this.#credentials = dockerConfigCredentials(this.registry);
      this.#credentialsLoaded = true;
    }
    return this.#credentials;
  }

  /** The HTTP client requests go through. */
  #client(): Deno.HttpClient {
    return this.#options.httpClient ??
      (this.#http ??= Deno.createHttpClient({}));
  }

  /** Closes the client's own connections (not a given `httpClient`). */
  close(): void {
    this.#http?.close();
    this.#http = undefined;
  }

  async #fetch(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, {
        ...init,
        redirect: "follow",
        client: this.#client(),
      });
    } catch (e) {
      throw new RegistryError(
        `registry ${this.registry} cannot be reached (${
          (e as Error).message.split("\n")[0]
        })${
          this.base.startsWith("https:")
            ? "; a registry without TLS needs --insecure"
            : ""
        }`,
      );
    }
  }

  /**
   * Sends a request to `path` (relative to the base URL, or absolute),
   * answering one authentication challenge. Errors for 401/403.
   */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const url = new URL(path, this.base).href;
    const headers = new Headers(init.headers);
    if (this.#authorization) headers.set("authorization", this.#authorization);
    let res = await this.#fetch(url, { ...init, headers });
    if (res.status !== 401) return await this.#denied(res);
    const challenge = res.headers.get("www-authenticate") ?? "";
    await res.body?.cancel();
    const creds = this.#creds();
    const { scheme, params } = parseChallenge(challenge);
    if (scheme === "basic") {
      if (!creds) throw this.#needCreds();
      this.#authorization = `Basic ${
        btoa(`${creds.username}:${creds.password}`)
      }`;
    } else if (scheme === "bearer") {
      this.#authorization = `Bearer ${await this.#token(params, creds)}`;
    } else {
      throw new RegistryError(
        `registry ${this.registry} asks for an unsupported authentication ('${challenge}')`,
        401,
      );
    }
    headers.set("authorization", this.#authorization);
    res = await this.#fetch(url, { ...init, headers });
    if (res.status === 401) {
      await res.body?.cancel();
      throw this.#refused(creds);
    }
    return await this.#denied(res);
  }

  async #denied(res: Response): Promise<Response> {
    if (res.status !== 403) return res;
    await res.body?.cancel();
    throw new RegistryError(
      `registry ${this.registry} denied access to ${
        new URL(res.url).pathname
      } for ${
        this.#credentials
          ? `user '${this.#credentials.username}'`
          : "anonymous access"
      }`,
      403,
    );
  }

  #needCreds(): RegistryError {
    return new RegistryError(
      `registry ${this.registry} needs credentials: give --username and --password-stdin, or add it to ~/.docker/config.json (docker login)`,
      401,
    );
  }

  #refused(creds: Credentials | undefined): RegistryError {
    if (!creds) return this.#needCreds();
    return new RegistryError(
      `registry ${this.registry} refused the credentials of user '${creds.username}' (check --username/--password-stdin or ~/.docker/config.json)`,
      401,
    );
  }

  async #token(
    params: Record<string, string>,
    creds: Credentials | undefined,
  ): Promise<string> {
    if (!params.realm) {
      throw new RegistryError(
        `registry ${this.registry}: a Bearer challenge without a realm`,
        401,
      );
    }
    const realm = new URL(params.realm);
    if (
      realm.protocol !== "https:" && !isLoopback(realm.host) &&
      !this.#options.insecure
    ) {
      throw new RegistryError(
        `registry ${this.registry}: the token service ${realm.origin} is plain HTTP (allowed with --insecure only)`,
      );
    }
    if (params.service) realm.searchParams.set("service", params.service);
    for (const s of (params.scope ?? "").split(" ").filter(Boolean)) {
      realm.searchParams.append("scope", s);
    }
    const headers = new Headers();
    if (creds) {
      headers.set(
        "authorization",
        `Basic ${btoa(`${creds.username}:${creds.password}`)}`,
      );
    }
    let res: Response;
    try {
      res = await fetch(realm, { headers, client: this.#client() });
    } catch (e) {
      throw new RegistryError(
        `the token service ${realm.origin} of registry ${this.registry} cannot be reached (${
          (e as Error).message.split("\n")[0]
        })`,
      );
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw this.#refused(creds);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RegistryError(
        `the token service ${realm.origin} of registry ${this.registry} answered ${res.status}`,
        res.status,
      );
    }
    const body = await res.json().catch(() => ({}));
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || !token) {
      throw new RegistryError(
        `the token service ${realm.origin} of registry ${this.registry} gave no token`,
      );
    }
    return token;
  }
}
