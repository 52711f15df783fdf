/* Map-operation benchmark: N updates then N lookups of one existing key of
 * a hash map, each loop timed with clock_gettime. The same source is the
 * wasm guest (libbpf-wasm.h, built by scripts/build.ts) and the native
 * baseline (libbpf, built by bench/bench.ts with gcc against a bpftool
 * skeleton), so both run exactly the same loops.
 *
 *   maps[.wasm] [N]     prints update_ns_per_op=... lookup_ns_per_op=...
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __wasm__
#include "libbpf-wasm.h"
#else
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#endif
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
		fprintf(stderr, "maps: cannot load: %s\n", strerror(errno));
		return 1;
	}
	int fd = bpf_map__fd(skel->maps.hmap);
	uint32_t key = 42;
	uint64_t value = 1, sum = 0;
	long errors = 0;
	if (bpf_map_update_elem(fd, &key, &value, BPF_ANY)) {
		fprintf(stderr, "maps: first update failed\n");
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
