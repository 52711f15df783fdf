/* Ring-buffer delivery benchmark, wasm guest with the standard callback
 * import (bpf_buffer__poll → wasm_bpf_buffer_poll).
 *
 *   ringbuf.wasm TGID PER_CALL CALLS [drain]
 *
 * live (default): consumes while the generator runs; drain: waits until
 * the generator is done, then times draining the full ring.
 */
#include "common.h"

static int on_record(void *ctx, void *data, size_t size)
{
	(void)size;
	take(ctx, data);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t expected, produced = 0, dropped = 0;
	uint64_t t_first = 0, n_first = 0, t_last = 0, start;
	struct state st = { 0 };
	struct ringbuf_bpf *skel = setup(argc, argv, &expected);
	struct bpf_buffer *rb =
		bpf_buffer__open_sized(skel->maps.rb, on_record, &st, 64);
	if (!rb) {
		fprintf(stderr, "ringbuf: bpf_buffer__open failed\n");
		return 1;
	}
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
		int n = bpf_buffer__poll(rb, drain_mode ? 0 : 100);
		if (n < 0) {
			fprintf(stderr, "ringbuf: poll: %s\n", wasm_bpf_strerror(n));
			return 1;
		}
		if (n > 0) {
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
	bpf_buffer__free(rb);
	ringbuf_bpf__destroy(skel);
	return 0;
}
