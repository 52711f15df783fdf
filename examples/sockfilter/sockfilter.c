// SPDX-License-Identifier: GPL-2.0
/* sockfilter: print the IPv4 packets of a network interface, seen by a BPF
 * socket filter (user-space half, wasm32-wasi). The host opens the raw
 * AF_PACKET socket on the interface named by the attach target.
 *
 *   sockfilter [-i INTERFACE]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "libbpf-wasm.h"
#include "sockfilter.skel.h"
#include "sockfilter.h"

static const char usage[] =
	"usage: sockfilter [-i INTERFACE] [-h]\n"
	"\n"
	"Print every IPv4 packet of a network interface, one line each:\n"
	"interface, protocol, source and destination (address:port for TCP and\n"
	"UDP), packet type (host, out, ...) and length. A BPF socket filter on a\n"
	"raw AF_PACKET socket sees the packets; the socket itself gets none.\n"
	"\n"
	"  -i IFACE  the interface (default: lo)\n"
	"  -h        show this help\n";

static const char *iface = "lo";

static const char *proto_name(unsigned p, char *buf, size_t len)
{
	switch (p) {
	case 1: return "ICMP";
	case 6: return "TCP";
	case 17: return "UDP";
	case 58: return "ICMPv6";
	}
	snprintf(buf, len, "proto%u", p);
	return buf;
}

static const char *pkt_type_name(unsigned t)
{
	static const char *names[] = { "host", "broadcast", "multicast",
				       "otherhost", "out" };
	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static void addr_str(char *buf, size_t len, __u32 addr_be, __u16 port_be,
		     int with_port)
{
	const unsigned char *a = (const unsigned char *)&addr_be;
	unsigned port = ((port_be & 0xff) << 8) | (port_be >> 8);

	if (with_port)
		snprintf(buf, len, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3], port);
	else
		snprintf(buf, len, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
}

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct so_event *e = data;
	char src[32], dst[32], pbuf[16];
	int ports;

	if (size < sizeof(*e)) {
		fprintf(stderr, "sockfilter: short record (%zu bytes)\n", size);
		return 0;
	}
	ports = e->ip_proto == 6 || e->ip_proto == 17;
	addr_str(src, sizeof(src), e->src_addr, e->src_port, ports);
	addr_str(dst, sizeof(dst), e->dst_addr, e->dst_port, ports);
	printf("%-8s %-6s %-21s -> %-21s %-9s %u\n", iface,
	       proto_name(e->ip_proto, pbuf, sizeof(pbuf)), src, dst,
	       pkt_type_name(e->pkt_type), e->len);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockfilter_bpf *skel;
	struct bpf_buffer *rb = NULL;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "i:h")) != -1) {
		switch (opt) {
		case 'i':
			if (!optarg[0] || strlen(optarg) >= 16 ||
			    strchr(optarg, '/') || strchr(optarg, ' ')) {
				fprintf(stderr,
					"sockfilter: invalid interface name '%s'\n",
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
	if (optind < argc) {
		fprintf(stderr, "sockfilter: unexpected argument '%s'\n",
			argv[optind]);
		fputs(usage, stderr);
		return 2;
	}

	skel = sockfilter_bpf__open();
	if (!skel) {
		wasm_bpf_perror(-errno,
			"sockfilter: failed to open BPF object");
		return 1;
	}
	/* the host opens a raw socket on the interface and attaches to it */
	bpf_program__set_attach_target(skel->progs.socket_handler, 0, iface);
	err = sockfilter_bpf__load(skel);
	if (err) {
		wasm_bpf_perror(err, "sockfilter: failed to load BPF object");
		goto cleanup;
	}
	err = sockfilter_bpf__attach(skel);
	if (err) {
		wasm_bpf_perror(err,
			"sockfilter: failed to attach the socket filter to interface '%s'",
			iface);
		goto cleanup;
	}
	/* attached: from here on the ring buffer keeps every event */
	printf("%-8s %-6s %-21s    %-21s %-9s %s\n", "IFACE", "PROTO", "SOURCE",
	       "DESTINATION", "TYPE", "LEN");
	rb = bpf_buffer__open(skel->maps.rb, handle_event, NULL);
	if (!rb) {
		err = wasm_bpf_perror(-errno,
			"sockfilter: failed to open ring buffer");
		goto cleanup;
	}

	/* until Ctrl-C */
	err = bpf_buffer__poll_until_interrupted(rb, 100);
	if (err)
		wasm_bpf_perror(err, "sockfilter: polling ring buffer");

cleanup:
	bpf_buffer__free(rb);
	sockfilter_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
