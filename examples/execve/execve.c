// SPDX-License-Identifier: GPL-2.0
/* execve: print every execve() call (user-space half, wasm32-wasi).
 * Events come through a perf buffer.
 *
 *   execve [-h]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "libbpf-wasm.h"
#include "execve.skel.h"
#include "execve.h"

static const char usage[] =
	"usage: execve [-h]\n"
	"\n"
	"Trace execve() calls: one line per call with the caller's pid, ppid,\n"
	"uid and comm (the program that calls execve), the file executed and\n"
	"argv[0].\n"
	"\n"
	"  -h      show this help\n";

/* The header goes out once the perf buffer exists (events before it are
 * lost), or before the first event if one is delivered while opening it. */
static void print_header(void)
{
	static int printed;

	if (printed)
		return;
	printed = 1;
	printf("%-7s %-7s %-5s %-16s %s %s\n", "PID", "PPID", "UID", "COMM",
	       "FILENAME", "ARGV0");
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;

	if (size < sizeof(*e)) {
		fprintf(stderr, "execve: short record (%zu bytes)\n", size);
		return 0;
	}
	print_header();
	printf("%-7u %-7u %-5u %-16s %s %s\n", e->pid, e->ppid, e->uid, e->comm,
	       e->filename, e->argv0);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_buffer *pb = NULL;
	struct execve_bpf *skel;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "h")) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "execve: unexpected argument '%s'\n", argv[optind]);
		fputs(usage, stderr);
		return 2;
	}

	skel = execve_bpf__open_and_load();
	if (!skel) {
		wasm_bpf_perror(-errno,
			"execve: failed to open and load BPF object");
		return 1;
	}
	err = execve_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err, "execve: failed to attach BPF program");
		goto cleanup;
	}
	pb = bpf_buffer__open(skel->maps.events, handle_event, NULL);
	if (!pb) {
		err = wasm_bpf_perror(-errno,
			"execve: failed to open perf buffer");
		goto cleanup;
	}

	print_header();
	/* until Ctrl-C */
	err = bpf_buffer__poll_until_interrupted(pb, 100);
	if (err)
		wasm_bpf_perror(err, "execve: polling perf buffer");

cleanup:
	bpf_buffer__free(pb);
	execve_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
