// SPDX-License-Identifier: GPL-2.0
/* bootstrap: print process exec and exit events (user-space half, wasm32-wasi).
 *
 *   bootstrap [-d MIN_DURATION_MS] [-v]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "libbpf-wasm.h"
#include "bootstrap.skel.h"
#include "bootstrap.h"

static const char usage[] =
	"usage: bootstrap [-d MIN_DURATION_MS] [-h]\n"
	"\n"
	"Trace process start and exit: one line per exec (EXEC comm pid ppid\n"
	"filename) and per exit (EXIT comm pid ppid [exit code] (duration)).\n"
	"\n"
	"  -d MS   only report processes that lived at least MS milliseconds\n"
	"          (exec events are then not reported)\n"
	"  -h      show this help\n";

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;
	char ts[32];
	time_t t;

	if (size < sizeof(*e)) {
		fprintf(stderr, "bootstrap: short record (%zu bytes)\n", size);
		return 0;
	}
	time(&t);
	strftime(ts, sizeof(ts), "%H:%M:%S", gmtime(&t));

	if (e->exit_event) {
		printf("%-8s %-5s %-16s %-7u %-7u [%u]", ts, "EXIT", e->comm,
		       e->pid, e->ppid, e->exit_code);
		if (e->duration_ns)
			printf(" (%llums)",
			       (unsigned long long)(e->duration_ns / 1000000));
		printf("\n");
	} else {
		printf("%-8s %-5s %-16s %-7u %-7u %s\n", ts, "EXEC", e->comm,
		       e->pid, e->ppid, e->filename);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long min_duration_ms = 0;
	struct bootstrap_bpf *skel;
	struct bpf_buffer *rb = NULL;
	char *end;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "d:h")) != -1) {
		switch (opt) {
		case 'd':
			errno = 0;
			min_duration_ms = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				fprintf(stderr,
					"bootstrap: invalid duration '%s' (milliseconds expected)\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bootstrap: unexpected argument '%s'\n", argv[optind]);
		fputs(usage, stderr);
		return 2;
	}

	skel = bootstrap_bpf__open();
	if (!skel) {
		wasm_bpf_perror(-errno, "bootstrap: failed to open BPF object");
		return 1;
	}
	skel->rodata->min_duration_ns = min_duration_ms * 1000000ULL;

	err = bootstrap_bpf__load(skel);
	if (err) {
		wasm_bpf_perror(err, "bootstrap: failed to load BPF object");
		goto cleanup;
	}
	err = bootstrap_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err,
			"bootstrap: failed to attach BPF programs");
		goto cleanup;
	}
	/* attached: from here on the ring buffer keeps every event */
	printf("%-8s %-5s %-16s %-7s %-7s %s\n", "TIME", "EVENT", "COMM", "PID",
	       "PPID", "FILENAME/EXIT CODE");
	rb = bpf_buffer__open(skel->maps.rb, handle_event, NULL);
	if (!rb) {
		err = wasm_bpf_perror(-errno,
			"bootstrap: failed to open ring buffer");
		goto cleanup;
	}

	/* until Ctrl-C */
	err = bpf_buffer__poll_until_interrupted(rb, 100);
	if (err)
		wasm_bpf_perror(err, "bootstrap: polling ring buffer");

cleanup:
	bpf_buffer__free(rb);
	bootstrap_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
