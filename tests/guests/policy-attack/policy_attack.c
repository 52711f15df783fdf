// SPDX-License-Identifier: GPL-2.0
/* The guest of tests/policy_attack_test.ts:
 *   policy_attack signal PID SECONDS   kill PID from a tracepoint, stay SECONDS
 *   policy_attack bigmaps              load 1 GiB of ring buffers
 *   policy_attack many N               load the tiny object N times, keep all
 * Prints what it managed ("loaded", "attached", "objects N"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "libbpf-wasm.h"
#include "signal.skel.h"
#include "bigmaps.skel.h"
#include "tiny.skel.h"

static int do_signal(int pid, int seconds)
{
	struct signal_bpf *skel = signal_bpf__open();
	int err;

	if (!skel)
		return wasm_bpf_perror(-errno, "signal: open");
	skel->rodata->target_tgid = pid;
	err = signal_bpf__load(skel);
	if (err) {
		wasm_bpf_perror(err, "signal: load");
		goto out;
	}
	printf("loaded\n");
	err = signal_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err, "signal: attach");
		goto out;
	}
	printf("attached\n");
	fflush(stdout);
	struct timespec ts = { .tv_sec = seconds };
	nanosleep(&ts, NULL);
out:
	signal_bpf__destroy(skel);
	return err ? 1 : 0;
}

static int do_bigmaps(void)
{
	struct bigmaps_bpf *skel = bigmaps_bpf__open();
	int err;

	if (!skel)
		return wasm_bpf_perror(-errno, "bigmaps: open");
	err = bigmaps_bpf__load(skel);
	if (err)
		wasm_bpf_perror(err, "bigmaps: load");
	else
		printf("loaded\n");
	bigmaps_bpf__destroy(skel);
	return err ? 1 : 0;
}

static int do_many(int n)
{
	int i;

	for (i = 0; i < n; i++) {
		struct tiny_bpf *skel = tiny_bpf__open();
		int err = skel ? tiny_bpf__load(skel) : -errno;

		if (err) {
			wasm_bpf_perror(err, "many: object %d", i + 1);
			break;
		}
		/* kept open on purpose: the host closes them at exit */
	}
	printf("objects %d\n", i);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "signal"))
		return do_signal(atoi(argv[2]), atoi(argv[3]));
	if (argc >= 2 && !strcmp(argv[1], "bigmaps"))
		return do_bigmaps();
	if (argc >= 3 && !strcmp(argv[1], "many"))
		return do_many(atoi(argv[2]));
	fprintf(stderr, "usage: policy_attack signal PID SECONDS | bigmaps | many N\n");
	return 2;
}
