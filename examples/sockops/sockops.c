// SPDX-License-Identifier: GPL-2.0
/* sockops: print the TCP connections established in a cgroup v2
 * (user-space half, wasm32-wasi). The host attaches the sock_ops program to
 * the cgroup directory named by the attach target.
 *
 *   sockops [-c CGROUP_DIR]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "libbpf-wasm.h"
#include "sockops.skel.h"
#include "sockops.h"

#define DEFAULT_CGROUP "/sys/fs/cgroup/unified"

static const char usage[] =
	"usage: sockops [-c CGROUP_DIR] [-h]\n"
	"\n"
	"Print every TCP connection established by a socket of a cgroup v2 or\n"
	"its descendants, one line each: time, direction (active: connected,\n"
	"passive: accepted), family, local and remote address:port.\n"
	"\n"
	"  -c DIR  the cgroup v2 directory (default: " DEFAULT_CGROUP ")\n"
	"  -h      show this help\n";

static void addr_str(char *buf, size_t len, unsigned family,
		     const __u8 *a, unsigned port)
{
	if (family == 2) {
		snprintf(buf, len, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
			 port);
		return;
	}
	/* IPv6, uncompressed */
	snprintf(buf, len,
		 "[%x:%x:%x:%x:%x:%x:%x:%x]:%u", a[0] << 8 | a[1],
		 a[2] << 8 | a[3], a[4] << 8 | a[5], a[6] << 8 | a[7],
		 a[8] << 8 | a[9], a[10] << 8 | a[11], a[12] << 8 | a[13],
		 a[14] << 8 | a[15], port);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct tcp_event *e = data;
	char local[64], remote[64], ts[32];
	time_t t;

	if (size < sizeof(*e)) {
		fprintf(stderr, "sockops: short record (%zu bytes)\n", size);
		return 0;
	}
	time(&t);
	strftime(ts, sizeof(ts), "%H:%M:%S", gmtime(&t));
	addr_str(local, sizeof(local), e->family, e->local_addr, e->local_port);
	addr_str(remote, sizeof(remote), e->family, e->remote_addr,
		 e->remote_port);
	printf("%-8s %-7s %-4s %s -> %s\n", ts,
	       e->kind == SOCKOPS_ACTIVE ? "active" : "passive",
	       e->family == 2 ? "IPv4" : "IPv6", local, remote);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cgroup = DEFAULT_CGROUP;
	struct bpf_buffer *rb = NULL;
	struct sockops_bpf *skel;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c':
			if (optarg[0] != '/') {
				fprintf(stderr,
					"sockops: invalid cgroup '%s' (an absolute directory path expected)\n",
					optarg);
				return 2;
			}
			cgroup = optarg;
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
		fprintf(stderr, "sockops: unexpected argument '%s'\n",
			argv[optind]);
		fputs(usage, stderr);
		return 2;
	}

	skel = sockops_bpf__open();
	if (!skel) {
		wasm_bpf_perror(-errno, "sockops: failed to open BPF object");
		return 1;
	}
	/* the host attaches the sock_ops program to this cgroup directory */
	bpf_program__set_attach_target(skel->progs.tcp_established, 0, cgroup);
	err = sockops_bpf__load(skel);
	if (err) {
		wasm_bpf_perror(err, "sockops: failed to load BPF object");
		goto cleanup;
	}
	err = sockops_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err,
			"sockops: failed to attach to cgroup '%s'", cgroup);
		goto cleanup;
	}
	/* attached: from here on the ring buffer keeps every event */
	printf("%-8s %-7s %-4s %s -> %s\n", "TIME", "DIR", "FAM", "LOCAL",
	       "REMOTE");
	rb = bpf_buffer__open(skel->maps.events, handle_event, NULL);
	if (!rb) {
		err = wasm_bpf_perror(-errno,
			"sockops: failed to open ring buffer");
		goto cleanup;
	}

	/* until Ctrl-C */
	err = bpf_buffer__poll_until_interrupted(rb, 100);
	if (err)
		wasm_bpf_perror(err, "sockops: polling ring buffer");

cleanup:
	bpf_buffer__free(rb);
	sockops_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
