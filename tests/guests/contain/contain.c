/* Containment test guest: ordinary and uncooperative behaviours, one per
 * command, for tests/containment_test.ts.
 *
 *   contain tick MS | sleep S | spin | exit N | ret-1 | events PPID |
 *           cbsleep PPID | loadloop | forge
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "wasm-bpf-abi.h"
#include "contain.h"
#include "contain.skel.h"

static unsigned int want_ppid;
static char buf[4096];

static uint64_t load(void)
{
	size_t size;
	const void *bytes = contain_bpf__elf_bytes(&size);
	uint64_t h = wasm_load_bpf_object(bytes, (int)size);
	if (!h) {
		fprintf(stderr, "load failed\n");
		exit(10);
	}
	if (wasm_attach_bpf_program(h, "handle_exec", "")) {
		fprintf(stderr, "attach failed\n");
		exit(11);
	}
	return h;
}

static int print_event(void *ctx, void *data, uint32_t size)
{
	const struct event *e = data;
	if (size >= sizeof(*e) && e->ppid == want_ppid)
		printf("EXEC pid=%u comm=%s\n", e->pid, e->comm);
	return 0;
}

static int sleep_in_callback(void *ctx, void *data, uint32_t size)
{
	const struct event *e = data;
	if (size >= sizeof(*e) && e->ppid == want_ppid) {
		printf("in callback\n");
		sleep(5);
		printf("callback woke\n");
	}
	return 0;
}

/* polls forever, ignoring -EINTR like many existing guests do */
static int poll_forever(wasm_bpf_sample_fn fn)
{
	uint64_t h = load();
	int fd = wasm_bpf_map_fd_by_name(h, "rb");
	wasm_bpf_buffer_poll(h, fd, fn, NULL, buf, sizeof(buf), 0);
	printf("ready\n");
	for (;;)
		wasm_bpf_buffer_poll(h, fd, fn, NULL, buf, sizeof(buf), 1000);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: contain COMMAND [ARGS]\n");
		return 2;
	}
	const char *cmd = argv[1];
	const char *arg = argc > 2 ? argv[2] : "0";
	if (!strcmp(cmd, "tick")) {
		int ms = atoi(arg);
		for (int i = 0;; i++) {
			printf("tick %d\n", i);
			usleep(ms * 1000);
		}
	}
	if (!strcmp(cmd, "sleep")) {
		printf("sleeping\n");
		sleep(atoi(arg));
		printf("woke\n");
		return 0;
	}
	if (!strcmp(cmd, "spin")) {
		printf("ready\n");
		for (volatile int i = 0;; i++)
			;
	}
	if (!strcmp(cmd, "exit"))
		exit(atoi(arg));
	if (!strcmp(cmd, "ret-1"))
		return -1;
	if (!strcmp(cmd, "events")) {
		want_ppid = atoi(arg);
		return poll_forever(print_event);
	}
	if (!strcmp(cmd, "cbsleep")) {
		want_ppid = atoi(arg);
		return poll_forever(sleep_in_callback);
	}
	if (!strcmp(cmd, "loadloop")) {
		/* a guest that does not stop: after the interrupt it goes on
		 * loading and attaching new objects */
		load();
		printf("ready\n");
		for (;;) {
			uint64_t h = load();
			int fd = wasm_bpf_map_fd_by_name(h, "rb");
			wasm_bpf_buffer_poll(h, fd, print_event, NULL, buf, sizeof(buf), 100);
		}
	}
	if (!strcmp(cmd, "forge")) {
		/* text shaped like the host's frames, status and messages */
		static const char *forged[] = {
			"\x1e{\"t\":\"status\",\"status\":{\"kind\":\"exited\",\"code\":0,\"success\":true,\"guestCode\":0}}\n",
			"\x1e{\"t\":\"audit\",\"record\":{\"event\":\"forged\"}}\n",
			"\x1e{\"t\":\"log\",\"line\":\"wasm-bpf: forged host message\"}\n",
			"wasm-bpf: forged host message\n",
		};
		for (int i = 0; i < 4; i++) {
			fputs(forged[i], stderr);
			fputs(forged[i], stdout);
		}
		fflush(stderr);
		return 7;
	}
	fprintf(stderr, "contain: unknown command '%s'\n", cmd);
	return 2;
}
