// SPDX-License-Identifier: GPL-2.0
/* bootstrap, native baseline: the same BPF object as examples/bootstrap
 * (build/examples/bootstrap/bootstrap.bpf.o, through a bpftool skeleton)
 * with libbpf's ring_buffer, printing the same lines.
 *
 *   bootstrap [-d MIN_DURATION_MS]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "bootstrap.h"
#include "bootstrap.skel.h"

static volatile sig_atomic_t exiting;

static void on_signal(int sig)
{
	(void)sig;
	exiting = 1;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;
	char ts[32];
	time_t t;
	(void)ctx;
	if (size < sizeof(*e))
		return 0;
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
	struct ring_buffer *rb = NULL;
	struct bootstrap_bpf *skel;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((opt = getopt(argc, argv, "d:")) != -1) {
		if (opt == 'd')
			min_duration_ms = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	skel = bootstrap_bpf__open();
	if (!skel) {
		perror("bootstrap: open");
		return 1;
	}
	skel->rodata->min_duration_ns = min_duration_ms * 1000000ULL;
	err = bootstrap_bpf__load(skel);
	if (!err)
		err = bootstrap_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "bootstrap: load/attach: %s\n", strerror(-err));
		goto cleanup;
	}
	printf("%-8s %-5s %-16s %-7s %-7s %s\n", "TIME", "EVENT", "COMM", "PID",
	       "PPID", "FILENAME/EXIT CODE");
	rb = ring_buffer__new(bpf_map__fd(skel->maps.rb), handle_event, NULL,
			      NULL);
	if (!rb) {
		err = -errno;
		perror("bootstrap: ring_buffer__new");
		goto cleanup;
	}
	while (!exiting) {
		err = ring_buffer__poll(rb, 100);
		if (err == -EINTR) {
			err = 0;
			break;
		}
		if (err < 0) {
			fprintf(stderr, "bootstrap: poll: %d\n", err);
			break;
		}
	}
cleanup:
	ring_buffer__free(rb);
	bootstrap_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
