// SPDX-License-Identifier: GPL-2.0
/* xdp: print per-protocol packet counts of an interface (user-space half,
 * wasm32-wasi). The counts live in a BPF array map read every interval.
 *
 *   xdp [-i INTERFACE] [interval [count]]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "libbpf-wasm.h"
#include "xdp.skel.h"
#include "xdp.h"

static const char usage[] =
	"usage: xdp [-i INTERFACE] [-h] [interval [count]]\n"
	"\n"
	"Count the packets an interface receives, per IP protocol, with an XDP\n"
	"program (every packet passes). Every INTERVAL seconds (default 1),\n"
	"COUNT times (default: until interrupted), prints one line per protocol\n"
	"seen so far: time, protocol, packets and bytes since the start.\n"
	"\n"
	"  -i IFACE  the interface (default: lo)\n"
	"  -h        show this help\n";

static const char *key_name(unsigned key, char *buf, size_t len)
{
	switch (key) {
	case 1: return "ICMP";
	case 2: return "IGMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 58: return "ICMPv6";
	case 132: return "SCTP";
	case KEY_NON_IP: return "non-IP";
	}
	snprintf(buf, len, "proto%u", key);
	return buf;
}

static int parse_uint(const char *s, const char *what, unsigned long *out)
{
	char *end;

	errno = 0;
	*out = strtoul(s, &end, 10);
	if (errno || end == s || *end || *out == 0 || s[0] == '-' ||
	    *out > 1000000) {
		fprintf(stderr, "xdp: invalid %s '%s' (a positive number expected)\n",
			what, s);
		return -1;
	}
	return 0;
}

static int print_counters(int fd)
{
	struct counter c;
	char ts[32], buf[16];
	time_t t;
	unsigned key;
	int err;

	time(&t);
	strftime(ts, sizeof(ts), "%H:%M:%S", gmtime(&t));
	for (key = 0; key < MAX_KEYS; key++) {
		err = bpf_map_lookup_elem(fd, &key, &c);
		if (err < 0)
			return wasm_bpf_perror(err, "xdp: reading counters");
		if (c.packets)
			printf("%-8s %-8s %10llu %12llu\n", ts,
			       key_name(key, buf, sizeof(buf)), c.packets,
			       c.bytes);
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long interval = 1, count = 0, i;
	const char *iface = "lo";
	struct xdp_bpf *skel;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "i:h")) != -1) {
		switch (opt) {
		case 'i':
			if (!optarg[0] || strlen(optarg) >= 16 ||
			    strchr(optarg, '/') || strchr(optarg, ' ')) {
				fprintf(stderr, "xdp: invalid interface name '%s'\n",
					optarg);
				return 2;
			}
			iface = optarg;
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
		fprintf(stderr, "xdp: unexpected argument '%s'\n", argv[optind]);
		fputs(usage, stderr);
		return 2;
	}

	skel = xdp_bpf__open();
	if (!skel) {
		wasm_bpf_perror(-errno, "xdp: failed to open BPF object");
		return 1;
	}
	/* the host attaches the XDP program to the interface of this name */
	bpf_program__set_attach_target(skel->progs.xdp_count, 0, iface);
	err = xdp_bpf__load(skel);
	if (err) {
		wasm_bpf_perror(err, "xdp: failed to load BPF object");
		goto cleanup;
	}
	err = xdp_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err,
			"xdp: failed to attach the XDP program to interface '%s'",
			iface);
		goto cleanup;
	}

	printf("Counting packets received on %s... ", iface);
	if (count)
		printf("%lu time(s), every %lu s.\n", count, interval);
	else
		printf("Every %lu s; hit Ctrl-C to end.\n", interval);
	printf("%-8s %-8s %10s %12s\n", "TIME", "PROTO", "PACKETS", "BYTES");

	for (i = 0; !count || i < count; i++) {
		sleep(interval);
		err = print_counters(bpf_map__fd(skel->maps.counters));
		if (err)
			break;
	}

cleanup:
	xdp_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
