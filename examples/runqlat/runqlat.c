// SPDX-License-Identifier: GPL-2.0
/* runqlat: summarize run queue latency as log2 histograms (user-space half,
 * wasm32-wasi). The histograms live in a BPF hash map that this program
 * walks with bpf_map_get_next_key and bpf_map_lookup_elem, then clears.
 *
 *   runqlat [-P] [interval [count]]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "libbpf-wasm.h"
#include "runqlat.skel.h"
#include "runqlat.h"

static const char usage[] =
	"usage: runqlat [-P] [-h] [interval [count]]\n"
	"\n"
	"Summarize run queue (scheduler) latency as a histogram of microseconds:\n"
	"how long runnable tasks waited for a CPU. Prints a histogram every\n"
	"INTERVAL seconds (default 1), COUNT times (default: until interrupted).\n"
	"\n"
	"  -P      one histogram per process (pid and command name)\n"
	"  -h      show this help\n"
	"\n"
	"examples:\n"
	"  runqlat          # a histogram every second\n"
	"  runqlat 5 3      # 3 histograms, 5 seconds apart\n"
	"  runqlat -P 1 1   # one second, one histogram per process\n";

static void print_stars(unsigned int val, unsigned int max, int width)
{
	int n = max ? (int)((unsigned long long)val * width / max) : 0;
	int i;

	if (val > 0 && n == 0)
		n = 1; /* a non-zero count always shows */
	for (i = 0; i < width; i++)
		putchar(i < n ? '*' : ' ');
}

static void print_log2_hist(const unsigned int *vals, int n)
{
	unsigned int max = 0;
	int i, last = -1;

	for (i = 0; i < n; i++) {
		if (vals[i] > 0)
			last = i;
		if (vals[i] > max)
			max = vals[i];
	}
	printf("%*s%-*s : count    distribution\n", 10, "", 14, "usecs");
	for (i = 0; i <= last; i++) {
		unsigned long long low = i == 0 ? 0 : 1ULL << i;
		unsigned long long high = (1ULL << (i + 1)) - 1;

		printf("%10llu -> %-10llu : %-8u |", low, high, vals[i]);
		print_stars(vals[i], max, 40);
		printf("|\n");
	}
}

/* Prints every histogram in the map, then deletes them all. The walk ends
 * when bpf_map_get_next_key finds no further key (-ENOENT). */
static int print_hists(int fd, int per_process)
{
	unsigned int key, next;
	unsigned int *prev = NULL;
	struct hist h;
	int err, printed = 0;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		err = bpf_map_lookup_elem(fd, &key, &h);
		if (err < 0)
			return wasm_bpf_perror(err,
				"runqlat: reading histogram");
		if (per_process)
			printf("\npid = %u %.*s\n", key, TASK_COMM_LEN, h.comm);
		print_log2_hist(h.slots, MAX_SLOTS);
		printed++;
	}
	if (!printed)
		printf("%*s%-*s : count    distribution\n", 10, "", 14, "usecs");

	/* clear for the next interval */
	while (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		err = bpf_map_delete_elem(fd, &next);
		if (err < 0)
			return wasm_bpf_perror(err,
				"runqlat: clearing histogram");
	}
	return 0;
}

static int parse_uint(const char *s, const char *what, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || end == s || *end || *out == 0 || s[0] == '-' ||
	    *out > 1000000) {
		fprintf(stderr,
			"runqlat: invalid %s '%s' (a positive number expected)\n",
			what, s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long interval = 1, count = 0, i;
	struct runqlat_bpf *skel;
	int per_process = 0;
	char ts[32];
	time_t t;
	int opt, err, fd;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "Ph")) != -1) {
		switch (opt) {
		case 'P':
			per_process = 1;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc &&
	    parse_uint(argv[optind++], "interval", &interval) < 0)
		return 2;
	if (optind < argc && parse_uint(argv[optind++], "count", &count) < 0)
		return 2;
	if (optind < argc) {
		fprintf(stderr, "runqlat: unexpected argument '%s'\n",
			argv[optind]);
		fputs(usage, stderr);
		return 2;
	}

	skel = runqlat_bpf__open();
	if (!skel) {
		wasm_bpf_perror(-errno, "runqlat: failed to open BPF object");
		return 1;
	}
	skel->rodata->targ_per_process = per_process;

	err = runqlat_bpf__load(skel);
	if (err) {
		wasm_bpf_perror(err, "runqlat: failed to load BPF object");
		goto cleanup;
	}
	err = runqlat_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err, "runqlat: failed to attach BPF programs");
		goto cleanup;
	}
	fd = bpf_map__fd(skel->maps.hists);

	printf("Tracing run queue latency... ");
	if (count)
		printf("%lu histogram(s), every %lu s.\n", count, interval);
	else
		printf("Every %lu s; hit Ctrl-C to end.\n", interval);

	for (i = 0; !count || i < count; i++) {
		sleep(interval);
		time(&t);
		strftime(ts, sizeof(ts), "%H:%M:%S", gmtime(&t));
		printf("\n%s\n", ts);
		err = print_hists(fd, per_process);
		if (err)
			break;
	}

cleanup:
	runqlat_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
