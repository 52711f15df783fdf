/* Re-entrancy guest for tests/host_attack_test.ts: a buffer callback that
 * closes the object being polled, and one that polls its own buffer again.
 *
 *   host_attack close ring|perf PPID     (then the test execs 3 children)
 *   host_attack nested ring|perf PPID N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasm-bpf-abi.h"
#include "host_attack.h"
#include "host_attack.skel.h"

static uint64_t h;
static int fd, delivered, closed_in_cb = 1, nested_rc = 1;
static char buf[256], inner_buf[256];

static int on_close(void *ctx, void *data, uint32_t size)
{
	const struct event *e = data;
	printf("EXEC pid=%u\n", e->pid);
	delivered++;
	if (delivered == 1)
		closed_in_cb = wasm_close_bpf_object(h);
	return 0;
}

static int on_nested(void *ctx, void *data, uint32_t size)
{
	const struct event *e = data;
	printf("EXEC pid=%u\n", e->pid);
	delivered++;
	if (nested_rc == 1)
		nested_rc = wasm_bpf_buffer_poll(h, fd, on_nested, 0, inner_buf,
						 sizeof(inner_buf), 0);
	return 0;
}

static void setup(const char *map, const char *ppid)
{
	size_t size;
	const void *bytes = host_attack_bpf__elf_bytes(&size);
	h = wasm_load_bpf_object(bytes, (int)size);
	if (!h) {
		fprintf(stderr, "load failed\n");
		exit(10);
	}
	uint32_t k = 1;
	uint64_t v = strtoull(ppid, 0, 10);
	int cfg = wasm_bpf_map_fd_by_name(h, "cfg");
	if (wasm_bpf_map_operate(cfg, WASM_BPF_MAP_UPDATE_ELEM, &k, &v, 0, 0) ||
	    wasm_attach_bpf_program(h, "handle_exec", "")) {
		fprintf(stderr, "setup failed\n");
		exit(11);
	}
	fd = wasm_bpf_map_fd_by_name(h, strcmp(map, "perf") ? "rb" : "pb");
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	setup(argv[2], argv[3]);
	wasm_bpf_sample_fn fn = strcmp(argv[1], "close") ? on_nested : on_close;
	/* the consumer exists before the test makes events */
	wasm_bpf_buffer_poll(h, fd, fn, 0, buf, sizeof(buf), 0);
	printf("ready\n");
	fflush(stdout);
	if (!strcmp(argv[1], "close")) {
		usleep(1500 * 1000); /* the test execs its children meanwhile */
		int n = wasm_bpf_buffer_poll(h, fd, fn, 0, buf, sizeof(buf), 1000);
		printf("close_in_cb=%d poll=%d delivered=%d\n", closed_in_cb, n,
		       delivered);
		uint32_t k = 0;
		uint64_t v;
		printf("after_poll=%d after_map=%d after_close=%d\n",
		       wasm_bpf_buffer_poll(h, fd, fn, 0, buf, sizeof(buf), 0),
		       wasm_bpf_map_operate(fd, WASM_BPF_MAP_LOOKUP_ELEM, &k, &v, 0, 0),
		       wasm_close_bpf_object(h));
		return 0;
	}
	int want = argc > 4 ? atoi(argv[4]) : 3;
	for (int i = 0; i < 100 && delivered < want; i++) {
		int n = wasm_bpf_buffer_poll(h, fd, fn, 0, buf, sizeof(buf), 100);
		if (n < 0) {
			printf("poll error %d\n", n);
			return 1;
		}
	}
	printf("nested=%d delivered=%d close=%d\n", nested_rc, delivered,
	       wasm_close_bpf_object(h));
	return 0;
}
