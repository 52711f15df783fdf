/* Metrics test guest, one behaviour per command (tests/metrics_test.ts):
 *
 *   metrics poll          load, attach, poll the ring buffer forever
 *   metrics inject        write keys shaped like exposition lines, then wait
 *   metrics fill N        write N distinct keys, then wait
 *   metrics spin          load, attach, a few map ops, then spin forever
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasm-bpf-abi.h"
#include "metrics.h"
#include "metrics.skel.h"

static char buf[4096];

static uint64_t load(void)
{
	size_t size;
	const void *bytes = metrics_bpf__elf_bytes(&size);
	uint64_t h = wasm_load_bpf_object(bytes, (int)size);
	if (!h) {
		fprintf(stderr, "load failed\n");
		exit(10);
	}
	if (wasm_attach_bpf_program(h, "count_exec", "")) {
		fprintf(stderr, "attach failed\n");
		exit(11);
	}
	return h;
}

static int on_event(void *ctx, void *data, uint32_t size)
{
	return 0;
}

static void put(int fd, const char *comm, uint64_t n)
{
	struct comm_key k;
	memset(&k, 0, sizeof(k));
	strncpy(k.comm, comm, sizeof(k.comm) - 1);
	if (wasm_bpf_map_operate(fd, 2 /* UPDATE */, &k, &n, NULL, 0)) {
		fprintf(stderr, "update failed\n");
		exit(12);
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: metrics poll|inject|fill N|spin\n");
		return 2;
	}
	const char *cmd = argv[1];
	uint64_t h = load();
	int execs = wasm_bpf_map_fd_by_name(h, "execs");
	if (!strcmp(cmd, "poll")) {
		int rb = wasm_bpf_map_fd_by_name(h, "rb");
		printf("ready\n");
		for (;;)
			wasm_bpf_buffer_poll(h, rb, on_event, NULL, buf, sizeof(buf), 200);
	}
	if (!strcmp(cmd, "inject")) {
		put(execs, "\"} 1\nfake_metric 1", 7);
		put(execs, "a\\\"b", 3);
		printf("ready\n");
		for (;;)
			sleep(1);
	}
	if (!strcmp(cmd, "fill")) {
		int n = argc > 2 ? atoi(argv[2]) : 100;
		char name[32];
		for (int i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "k%d", i);
			put(execs, name, 1);
		}
		printf("ready\n");
		for (;;)
			sleep(1);
	}
	if (!strcmp(cmd, "spin")) {
		struct comm_key k;
		uint64_t v;
		memset(&k, 0, sizeof(k));
		for (int i = 0; i < 5; i++)
			wasm_bpf_map_operate(execs, 1 /* LOOKUP */, &k, &v, NULL, 0);
		printf("ready\n");
		for (volatile int i = 0;; i++)
			;
	}
	fprintf(stderr, "unknown command %s\n", cmd);
	return 2;
}
