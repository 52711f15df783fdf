// SPDX-License-Identifier: GPL-2.0
/* The guest of tests/pin_race_test.ts, tests/devmap_policy_test.ts and
 * tests/stdout_block_test.ts:
 *   gaps pinloop N           print "start", wait 1 s, load and close the
 *                            pinning object N times; prints
 *                            "pinned A refused B"
 *   gaps pinhold SECONDS     print "start", wait 1 s, load it once, print
 *                            "pinned" or "refused", hold it SECONDS
 *   gaps devmap IFINDEX SECONDS
 *                            put IFINDEX at key 0 of the DEVMAP and key 0 of
 *                            the DEVMAP_HASH (no program); prints
 *                            "devmap RC devmap_hash RC", holds SECONDS
 *   gaps print               load the pinning-free devmap object, say
 *                            "ready" on stderr, then print forever */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "libbpf-wasm.h"
#include "pin.skel.h"
#include "devmap.skel.h"

static void hold(int seconds)
{
	struct timespec ts = { .tv_sec = seconds };
	nanosleep(&ts, NULL);
}

/* the test changes the pin directory once it reads "start" */
static void start(void)
{
	printf("start\n");
	fflush(stdout);
	hold(1);
}

static int do_pinloop(int n)
{
	int pinned = 0, refused = 0;

	start();
	for (int i = 0; i < n; i++) {
		struct pin_bpf *skel = pin_bpf__open();
		int err = skel ? pin_bpf__load(skel) : -errno;

		if (err)
			refused++;
		else
			pinned++;
		pin_bpf__destroy(skel);
	}
	printf("pinned %d refused %d\n", pinned, refused);
	return 0;
}

static int do_pinhold(int seconds)
{
	start();
	struct pin_bpf *skel = pin_bpf__open();
	int err = skel ? pin_bpf__load(skel) : -errno;

	if (err) {
		wasm_bpf_perror(err, "pinhold: load");
		printf("refused\n");
	} else {
		printf("pinned\n");
	}
	fflush(stdout);
	hold(seconds);
	pin_bpf__destroy(skel);
	return 0;
}

static int do_devmap(unsigned ifindex, int seconds)
{
	struct devmap_bpf *skel = devmap_bpf__open_and_load();
	unsigned key = 0;
	struct { unsigned ifindex; int prog_fd; } val = { ifindex, 0 };

	if (!skel)
		return wasm_bpf_perror(-errno, "devmap: load");
	int a = bpf_map_update_elem(bpf_map__fd(skel->maps.wbgap_tx), &key,
				    &ifindex, 0);
	int b = bpf_map_update_elem(bpf_map__fd(skel->maps.wbgap_txh), &key,
				    &val, 0);
	printf("devmap %d devmap_hash %d\n", a, b);
	fflush(stdout);
	hold(seconds);
	devmap_bpf__destroy(skel);
	return 0;
}

static int do_print(void)
{
	static char line[200];
	struct devmap_bpf *skel = devmap_bpf__open_and_load();

	if (!skel)
		return wasm_bpf_perror(-errno, "print: load");
	memset(line, 'x', sizeof(line) - 2);
	line[sizeof(line) - 2] = '\n';
	fprintf(stderr, "ready\n");
	for (;;)
		if (fputs(line, stdout) == EOF)
			return 1; /* the reader is gone */
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "pinloop"))
		return do_pinloop(atoi(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "pinhold"))
		return do_pinhold(atoi(argv[2]));
	if (argc >= 4 && !strcmp(argv[1], "devmap"))
		return do_devmap(strtoul(argv[2], NULL, 0), atoi(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "print"))
		return do_print();
	fprintf(stderr, "usage: gaps pinloop N | pinhold SECONDS | devmap IFINDEX SECONDS | print\n");
	return 2;
}
