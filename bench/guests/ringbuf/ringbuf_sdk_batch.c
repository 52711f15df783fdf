/* Ring-buffer delivery benchmark: ringbuf.c unchanged (the SDK's standard
 * bpf_buffer__open/bpf_buffer__poll), built with LIBBPF_WASM_BATCH so that
 * libbpf-wasm.h polls through this host's batch import
 * (wasm_bpf_ext.wasm_bpf_buffer_poll_batch) and runs the callbacks inside
 * the guest. See wasm-sdk/c/README.md.
 *
 *   ringbuf_sdk_batch.wasm TGID PER_CALL CALLS [drain]
 */
#define LIBBPF_WASM_BATCH 1
#include "ringbuf.c"
