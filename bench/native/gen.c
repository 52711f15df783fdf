// SPDX-License-Identifier: GPL-2.0
/* Event generator of the ring-buffer benchmark: waits for one byte on
 * stdin (the consumer is ready), then calls getppid() CALLS times as fast
 * as it can and prints how long that took.
 *
 *   gen CALLS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv)
{
	long calls = argc > 1 ? atol(argv[1]) : 1000000;
	char go;
	struct timespec a, b;
	if (read(0, &go, 1) != 1)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < calls; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("calls=%ld gen_ns=%lld\n", calls,
	       (long long)(b.tv_sec - a.tv_sec) * 1000000000ll +
		       (b.tv_nsec - a.tv_nsec));
	return 0;
}
