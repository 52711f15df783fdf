/**
 * The `--metrics` address, parsed: shared by the server and by `spawn()`,
 * which grants the guest's process `--allow-net` for its host only. No
 * imports, so `spawn()` pays nothing for it.
 *
 * @module
 */

/** Where to listen: `HOST:PORT`, `:PORT` (every interface), `[v6]:PORT`. */
export function parseListen(s: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `--metrics needs HOST:PORT (':9464' for every interface, '127.0.0.1:0' for a free port), got '${s}'`,
    );
  }
  return { hostname: m[1] ?? (m[2] || "0.0.0.0"), port };
}
