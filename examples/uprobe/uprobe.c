// SPDX-License-Identifier: GPL-2.0
/* uprobe: trace the calls and returns of a function of a user-space binary
 * (user-space half, wasm32-wasi). Both BPF programs get the attach target
 * "BINARY:FUNCTION[:PID]", which the host resolves and attaches.
 *
 *   uprobe -b BINARY -f FUNCTION [-p PID] [-a NARGS]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "libbpf-wasm.h"
#include "uprobe.skel.h"
#include "uprobe.h"

static const char usage[] =
	"usage: uprobe -b BINARY -f FUNCTION [-p PID] [-a NARGS] [-h]\n"
	"\n"
	"Trace the calls of FUNCTION in BINARY (an executable or a shared\n"
	"library, by absolute path): one line per call with its first NARGS\n"
	"arguments as ints ('->'), one per return with the return value as an\n"
	"int ('<-').\n"
	"\n"
	"  -b BINARY    path of the binary holding the function\n"
	"  -f FUNCTION  the function's symbol name\n"
	"  -p PID       only trace process PID (default: every process)\n"
	"  -a NARGS     how many arguments to print, 0 to 6 (default 3)\n"
	"  -h           show this help\n"
	"\n"
	"example: uprobe -b /lib/x86_64-linux-gnu/libc.so.6 -f abs -a 1\n";

static const char *func;
static int nargs = 3;

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;
	char ts[32];
	time_t t;
	int i;

	if (size < sizeof(*e)) {
		fprintf(stderr, "uprobe: short record (%zu bytes)\n", size);
		return 0;
	}
	time(&t);
	strftime(ts, sizeof(ts), "%H:%M:%S", gmtime(&t));
	printf("%-8s %-7u %-16s ", ts, e->pid, e->comm);
	if (e->kind == UPROBE_ENTRY) {
		printf("-> %s(", func);
		for (i = 0; i < nargs; i++)
			printf("%s%d", i ? ", " : "", (int)e->args[i]);
		printf(")\n");
	} else {
		printf("<- %s = %d\n", func, (int)e->ret);
	}
	return 0;
}

static int valid_name(const char *s)
{
	return s[0] && !strchr(s, ':');
}

int main(int argc, char **argv)
{
	const char *binary = NULL;
	struct bpf_buffer *rb = NULL;
	struct uprobe_bpf *skel;
	unsigned long pid = 0, n;
	char target[4096];
	char *end;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "b:f:p:a:h")) != -1) {
		switch (opt) {
		case 'b':
			if (optarg[0] != '/' || !valid_name(optarg)) {
				fprintf(stderr,
					"uprobe: invalid binary '%s' (an absolute path without ':' expected)\n",
					optarg);
				return 2;
			}
			binary = optarg;
			break;
		case 'f':
			if (!valid_name(optarg)) {
				fprintf(stderr, "uprobe: invalid function '%s'\n",
					optarg);
				return 2;
			}
			func = optarg;
			break;
		case 'p':
			errno = 0;
			pid = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || pid == 0 ||
			    pid > 0x7fffffff || optarg[0] == '-') {
				fprintf(stderr,
					"uprobe: invalid PID '%s' (a positive number expected)\n",
					optarg);
				return 2;
			}
			break;
		case 'a':
			errno = 0;
			n = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || n > MAX_ARGS ||
			    optarg[0] == '-') {
				fprintf(stderr,
					"uprobe: invalid NARGS '%s' (0 to %d expected)\n",
					optarg, MAX_ARGS);
				return 2;
			}
			nargs = (int)n;
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
		fprintf(stderr, "uprobe: unexpected argument '%s'\n", argv[optind]);
		fputs(usage, stderr);
		return 2;
	}
	if (!binary || !func) {
		fprintf(stderr, "uprobe: -b BINARY and -f FUNCTION are required\n");
		fputs(usage, stderr);
		return 2;
	}
	if (pid)
		n = snprintf(target, sizeof(target), "%s:%s:%lu", binary, func, pid);
	else
		n = snprintf(target, sizeof(target), "%s:%s", binary, func);
	if (n >= sizeof(target)) {
		fprintf(stderr, "uprobe: binary path too long\n");
		return 2;
	}

	skel = uprobe_bpf__open();
	if (!skel) {
		wasm_bpf_perror(-errno, "uprobe: failed to open BPF object");
		return 1;
	}
	/* the host attaches both programs to BINARY:FUNCTION[:PID] */
	bpf_program__set_attach_target(skel->progs.uprobe_entry, 0, target);
	bpf_program__set_attach_target(skel->progs.uprobe_return, 0, target);
	err = uprobe_bpf__load(skel);
	if (err) {
		wasm_bpf_perror(err, "uprobe: failed to load BPF object");
		goto cleanup;
	}
	err = uprobe_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err, "uprobe: failed to attach to %s", target);
		goto cleanup;
	}
	/* attached: from here on the ring buffer keeps every event */
	printf("%-8s %-7s %-16s %s\n", "TIME", "PID", "COMM", "CALL/RETURN");
	rb = bpf_buffer__open(skel->maps.events, handle_event, NULL);
	if (!rb) {
		err = wasm_bpf_perror(-errno,
			"uprobe: failed to open ring buffer");
		goto cleanup;
	}

	/* until Ctrl-C */
	err = bpf_buffer__poll_until_interrupted(rb, 100);
	if (err)
		wasm_bpf_perror(err, "uprobe: polling ring buffer");

cleanup:
	bpf_buffer__free(rb);
	uprobe_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
