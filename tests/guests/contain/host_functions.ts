/**
 * An embedder's host functions for tests/guests/contain/hostfn.c: the
 * module `host_func_test` with `plus_i32` and a `block_ms` that holds the
 * guest inside the host for that long.
 *
 * @module
 */
const word = new Int32Array(new SharedArrayBuffer(4));

/** The import modules the guest gets. */
export default {
  host_func_test: {
    plus_i32: (a: number, b: number): number => (a + b) | 0,
    block_ms: (ms: number): void => {
      Atomics.wait(word, 0, 0, ms);
    },
  },
};
