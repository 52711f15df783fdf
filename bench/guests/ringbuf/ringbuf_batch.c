/* Ring-buffer delivery benchmark, wasm guest with this host's batch import
 * (wasm_bpf_ext.wasm_bpf_buffer_poll_batch, host/ABI.md): one host call
 * per batch, records laid out {u32 size; u32 copied; data padded to 8}.
 *
 *   ringbuf_batch.wasm TGID PER_CALL CALLS [drain]
 *
 * live (default): consumes while the generator runs; drain: waits until
 * the generator is done, then times draining the full ring.
 */
#include "common.h"

__attribute__((import_module("wasm_bpf_ext"),
	       import_name("wasm_bpf_buffer_poll_batch"))) int
wasm_bpf_buffer_poll_batch(uint64_t handle, int fd, void *buf, int buf_len,
			   int timeout_ms);

#define BATCH_BYTES (256 * 1024)
static unsigned char batch[BATCH_BYTES] __attribute__((aligned(8)));

/* Hands every record of a filled batch to take(); returns the count. */
static int walk(struct state *st, int len)
{
	int off = 0, n = 0;
	while (off + 8 <= len) {
		uint32_t size, copied;
		memcpy(&size, batch + off, 4);
		memcpy(&copied, batch + off + 4, 4);
		(void)size;
		take(st, batch + off + 8);
		off += 8 + ((copied + 7) & ~7u);
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	uint64_t expected, produced = 0, dropped = 0;
	uint64_t t_first = 0, n_first = 0, t_last = 0, start;
	struct state st = { 0 };
	struct ringbuf_bpf *skel = setup(argc, argv, &expected);
	uint64_t handle = skel->maps.rb->obj->handle;
	int fd = bpf_map__fd(skel->maps.rb);
	/* the host creates its consumer on the first call */
	int len = wasm_bpf_buffer_poll_batch(handle, fd, batch, BATCH_BYTES, 0);
	if (len < 0) {
		fprintf(stderr, "ringbuf_batch: poll_batch: %d\n", len);
		return 1;
	}
	walk(&st, len);
	printf("ready\n");
	fflush(stdout);
	if (drain_mode) {
		wait_filled(skel, expected);
		counts(skel, &produced, &dropped);
	}
	start = now_ns();
	if (drain_mode)
		t_first = start; /* the drain is timed from its start */
	for (;;) {
		len = wasm_bpf_buffer_poll_batch(handle, fd, batch, BATCH_BYTES,
						 drain_mode ? 0 : 100);
		if (len < 0) {
			fprintf(stderr, "ringbuf_batch: poll_batch: %d\n", len);
			return 1;
		}
		if (len > 0) {
			walk(&st, len);
			t_last = now_ns();
			if (drain_mode && st.delivered >= produced)
				break;
			if (!t_first) {
				t_first = t_last;
				n_first = st.delivered;
			}
		} else if (finished(skel, &st, expected, &produced, &dropped,
				    start)) {
			break;
		}
	}
	report(&st, produced, dropped, t_first, n_first, t_last);
	ringbuf_bpf__destroy(skel);
	return 0;
}
