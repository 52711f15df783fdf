/**
 * Host functions that crash the guest's process (a read through a null
 * pointer), for the containment test: the embedder must survive it.
 *
 * @module
 */

/** The import modules the guest gets; `plus_i32` segfaults. */
export default {
  host_func_test: {
    plus_i32: (): number =>
      new Deno.UnsafePointerView(Deno.UnsafePointer.create(8n)!).getInt32(),
    block_ms: (): void => {},
  },
};
