// SPDX-License-Identifier: GPL-2.0
/* Runs a command and reports its CPU time, as getrusage(2) sees it for the
 * command's process (all its threads) once it has ended.
 *
 *   rusage CMD [ARGS...]
 *
 * The command's stdout and stderr are inherited; after it exits one line
 * is printed on stdout:
 *   user_us=... sys_us=... maxrss_kb=... wall_ms=... exit=...
 * (wall_ms: from just before fork to the end of wait4).
 * and rusage exits with the command's status.
 */
#include <stdio.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	struct timespec t0, t1;
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: rusage CMD [ARGS...]\n");
		return 2;
	}
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 1;
	}
	if (pid == 0) {
		execvp(argv[1], argv + 1);
		perror("rusage: exec");
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("rusage: wait4");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("user_us=%ld sys_us=%ld maxrss_kb=%ld wall_ms=%.2f exit=%d\n",
	       ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec,
	       ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec,
	       ru.ru_maxrss,
	       (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
