// SPDX-License-Identifier: GPL-2.0
/* Map-operation benchmark, native baseline: libbpf directly.
 * Same object and loops as bench/guests/maps/maps.c.
 *
 *   maps [N]     prints update_ns_per_op=... lookup_ns_per_op=...
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <time.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include "maps.skel.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000000;
	struct maps_bpf *skel = maps_bpf__open_and_load();
	if (!skel) {
		perror("maps: cannot load");
		return 1;
	}
	int fd = bpf_map__fd(skel->maps.hmap);
	uint32_t key = 42;
	uint64_t value = 1, sum = 0;
	long errors = 0;
	if (bpf_map_update_elem(fd, &key, &value, BPF_ANY)) {
		perror("maps: first update");
		return 1;
	}
	uint64_t t0 = now_ns();
	for (long i = 0; i < n; i++) {
		value = (uint64_t)i;
		errors += bpf_map_update_elem(fd, &key, &value, BPF_ANY) != 0;
	}
	uint64_t t1 = now_ns();
	for (long i = 0; i < n; i++) {
		errors += bpf_map_lookup_elem(fd, &key, &value) != 0;
		sum += value;
	}
	uint64_t t2 = now_ns();
	printf("update_ns_per_op=%.2f\n", (double)(t1 - t0) / n);
	printf("lookup_ns_per_op=%.2f\n", (double)(t2 - t1) / n);
	printf("errors=%ld checksum=%llu\n", errors, (unsigned long long)sum);
	maps_bpf__destroy(skel);
	return errors ? 1 : 0;
}
