/**
 * The host's counters of one guest: slots of a `Float64Array` (over a
 * `SharedArrayBuffer` when `--metrics` serves them from another thread).
 * The thread running the guest bumps a slot (`stats[STAT_POLLS]++`); the
 * metrics thread reads them. No imports: the host loads this module even
 * without `--metrics`.
 *
 * @module
 */

/** Records handed to the guest (buffer polls) or decoded (bare objects). */
export const STAT_EVENTS = 0;
/** Records the kernel reported lost (perf buffers' lost callback). */
export const STAT_LOST = 1;
/** Buffer polls. */
export const STAT_POLLS = 2;
/** Map lookups. */
export const STAT_MAP_LOOKUP = 3;
/** Map updates. */
export const STAT_MAP_UPDATE = 4;
/** Map deletes. */
export const STAT_MAP_DELETE = 5;
/** Map next-key calls. */
export const STAT_MAP_NEXT_KEY = 6;
/** Calls the policy refused. */
export const STAT_DENIALS = 7;
/** BPF objects loaded. */
export const STAT_LOADS = 8;
/** Number of slots. */
export const STAT_COUNT = 9;

/**
 * A memory for the counters: one shared page, which host/gate.wat bumps
 * from wasm, and whose buffer the metrics thread reads.
 */
export function statsMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
}

/** The counters over `shared`, or fresh unshared ones. */
export function newStats(shared?: SharedArrayBuffer): Float64Array {
  return shared
    ? new Float64Array(shared, 0, STAT_COUNT)
    : new Float64Array(STAT_COUNT);
}
