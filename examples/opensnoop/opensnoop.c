// SPDX-License-Identifier: GPL-2.0
/* opensnoop: print openat() calls (user-space half, wasm32-wasi).
 *
 *   opensnoop [-p PID] [-h]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "libbpf-wasm.h"
#include "opensnoop.skel.h"
#include "opensnoop.h"

static const char usage[] =
	"usage: opensnoop [-p PID] [-h]\n"
	"\n"
	"Trace openat() calls: one line per call with pid, comm, the file\n"
	"descriptor returned (or -1), errno, the open flags (octal) and the path.\n"
	"\n"
	"  -p PID  only trace the process PID\n"
	"  -h      show this help\n";

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;
	int fd, err;

	if (size < sizeof(*e)) {
		fprintf(stderr, "opensnoop: short record (%zu bytes)\n", size);
		return 0;
	}
	if (e->ret >= 0) {
		fd = e->ret;
		err = 0;
	} else {
		fd = -1;
		err = -e->ret;
	}
	printf("%-7u %-16s %4d %3d %08o %s\n", e->pid, e->comm, fd, err,
	       (unsigned)e->flags, e->fname);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_buffer *rb = NULL;
	struct opensnoop_bpf *skel;
	unsigned long pid = 0;
	char *end;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "p:h")) != -1) {
		switch (opt) {
		case 'p':
			errno = 0;
			pid = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || pid == 0 ||
			    pid > 0x7fffffff || optarg[0] == '-') {
				fprintf(stderr,
					"opensnoop: invalid PID '%s' (a positive number expected)\n",
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
		fprintf(stderr, "opensnoop: unexpected argument '%s'\n",
			argv[optind]);
		fputs(usage, stderr);
		return 2;
	}

	skel = opensnoop_bpf__open();
	if (!skel) {
		wasm_bpf_perror(-errno, "opensnoop: failed to open BPF object");
		return 1;
	}
	skel->rodata->targ_tgid = (__u32)pid;

	err = opensnoop_bpf__load(skel);
	if (err) {
		wasm_bpf_perror(err, "opensnoop: failed to load BPF object");
		goto cleanup;
	}
	err = opensnoop_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err,
			"opensnoop: failed to attach BPF programs");
		goto cleanup;
	}
	/* attached: from here on the ring buffer keeps every event */
	printf("%-7s %-16s %4s %3s %-8s %s\n", "PID", "COMM", "FD", "ERR",
	       "FLAGS", "PATH");
	rb = bpf_buffer__open(skel->maps.events, handle_event, NULL);
	if (!rb) {
		err = wasm_bpf_perror(-errno,
			"opensnoop: failed to open ring buffer");
		goto cleanup;
	}

	/* until Ctrl-C */
	err = bpf_buffer__poll_until_interrupted(rb, 100);
	if (err)
		wasm_bpf_perror(err, "opensnoop: polling ring buffer");

cleanup:
	bpf_buffer__free(rb);
	opensnoop_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
