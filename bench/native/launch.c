// SPDX-License-Identifier: GPL-2.0
/* Start-up and memory harness for the bootstrap benchmark.
 *
 *   launch TRIGGER SECONDS [LOAD_MS] -- CMD [ARGS...]
 *
 * Starts CMD with its stdout on a pipe, then executes TRIGGER (a copy of
 * /bin/true with a unique path) every ~2 ms until CMD prints an EXEC line
 * naming TRIGGER: the time from just before fork to that line is the
 * start-up time. CMD then runs SECONDS more (its output drained), its peak
 * RSS is read from /proc/PID/status (VmHWM), and it gets SIGINT (SIGKILL
 * after 5 s).
 *
 * With LOAD_MS, TRIGGER is also executed every LOAD_MS ms during those
 * SECONDS (the last 250 ms excepted, for CMD to print what it got): the
 * memory of a tool that is busy, as on a real machine, not idle. Every
 * execution must reach CMD's output: `missed` counts those that did not.
 *
 * Prints one line:
 *   startup_ms=... vmhwm_kb=... exit=... triggers=... missed=...
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long vmhwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Appends what the pipe has to buf; returns 1 once an EXEC line naming
 * match was seen, -1 at EOF. */
static char buf[1 << 16];
static size_t used;
/* The executions under load, by pid, and whether CMD printed each. */
#define MAX_LOAD 8192
static pid_t load_pid[MAX_LOAD];
static char load_seen[MAX_LOAD];
static int loads;

static void mark(const char *line)
{
	int pid;
	/* "HH:MM:SS EXEC  COMM PID PPID FILENAME" */
	if (sscanf(line, "%*s %*s %*s %d", &pid) != 1)
		return;
	for (int i = loads - 1; i >= 0; i--)
		if (load_pid[i] == pid) {
			load_seen[i] = 1;
			return;
		}
}

/* Executes the trigger and waits for it; returns its pid, or -1. */
static pid_t run_trigger(const char *trigger)
{
	char *targv[] = { (char *)trigger, NULL };
	pid_t tp;
	if (posix_spawn(&tp, trigger, NULL, NULL, targv, environ))
		return -1;
	waitpid(tp, NULL, 0);
	return tp;
}

static int drain(int fd, const char *match, int *seen)
{
	for (;;) {
		ssize_t n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN ? 0 : -1;
		used += (size_t)n;
		buf[used] = 0;
		char *nl, *start = buf;
		while ((nl = strchr(start, '\n'))) {
			*nl = 0;
			if (strstr(start, " EXEC ") && strstr(start, match)) {
				*seen = 1;
				mark(start);
			}
			start = nl + 1;
		}
		used -= (size_t)(start - buf);
		memmove(buf, start, used);
		if (used == sizeof(buf) - 1)
			used = 0; /* an overlong line: drop it */
	}
}

int main(int argc, char **argv)
{
	int cmd = 4;
	double load_ms = 0;
	if (argc >= 6 && !strcmp(argv[4], "--")) {
		load_ms = atof(argv[3]);
		cmd = 5;
	}
	if (argc <= cmd || strcmp(argv[cmd - 1], "--") ||
	    (cmd == 5 && load_ms <= 0)) {
		fprintf(stderr, "usage: launch TRIGGER SECONDS [LOAD_MS] -- "
				"CMD [ARGS...]\n");
		return 2;
	}
	const char *trigger = argv[1];
	double seconds = atof(argv[2]);
	int p[2], seen = 0, status = 0;
	if (pipe(p))
		return 1;
	double t0 = now_ms(), t_event = 0;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execvp(argv[cmd], argv + cmd);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	double last_trigger = 0;
	while (!seen) {
		double t = now_ms();
		if (t - last_trigger >= 2.0) {
			last_trigger = t;
			run_trigger(trigger);
		}
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		poll(&pfd, 1, 1);
		if (drain(p[0], trigger, &seen) < 0) {
			waitpid(pid, &status, 0);
			fprintf(stderr, "launch: %s ended before the first event\n",
				argv[cmd]);
			return 1;
		}
		if (seen)
			t_event = now_ms();
		if (t - t0 > 60000) {
			kill(pid, SIGKILL);
			fprintf(stderr, "launch: no event within 60 s\n");
			return 1;
		}
	}
	while (now_ms() - t_event < seconds * 1000) {
		double t = now_ms();
		if (load_ms > 0 && t - last_trigger >= load_ms &&
		    t - t_event < seconds * 1000 - 250) {
			pid_t tp;
			last_trigger = t;
			if (loads < MAX_LOAD && (tp = run_trigger(trigger)) > 0)
				load_pid[loads++] = tp;
		}
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		poll(&pfd, 1, load_ms > 0 ? 1 : 50);
		if (drain(p[0], trigger, &seen) < 0)
			break;
	}
	long hwm = vmhwm_kb(pid);
	kill(pid, SIGINT);
	double deadline = now_ms() + 5000;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		poll(&pfd, 1, 10);
		drain(p[0], trigger, &seen);
	}
	int missed = 0;
	for (int i = 0; i < loads; i++)
		missed += !load_seen[i];
	printf("startup_ms=%.2f vmhwm_kb=%ld exit=%d triggers=%d missed=%d\n",
	       t_event - t0, hwm,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
	       loads, missed);
	return 0;
}
