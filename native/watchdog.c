// SPDX-License-Identifier: MIT
/*
 * The stop watchdog of a guest's process (the CLI, or the process spawn()
 * starts): lets the guest run on the main thread, with no Worker, and
 * still guarantees that a stop stops.
 *
 * SIGINT and SIGTERM (and the time limit, and the end of a watched pipe:
 * the embedder is gone) set a flag the host reads between records and
 * make an eventfd readable, so a guest waiting in a poll or a sleep
 * returns -EINTR and may clean up. If the process is still running
 * grace_ms later, the watchdog thread writes the message given for that
 * reason and ends the process with its status: the kernel then releases
 * every BPF object the guest held.
 *
 * Built by scripts/setup.sh into build/native/libwasm_bpf_watchdog.so; the
 * host runs guests in a Worker when it is absent.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* why the guest is stopped: 0, a signal number, or 124 (time limit) */
static _Atomic int32_t reason;
static _Atomic int done;
static int wake_fd = -1, watch_fd = -1, ctl[2] = { -1, -1 };
static int grace_ms, timeout_ms;
static char *messages[3]; /* SIGINT, SIGTERM, time limit */
static int started;

static void stop(int why)
{
	int32_t none = 0;
	uint64_t one = 1;
	char c = (char)why;

	/* after the guest ended, its wake fd may be closed and reused */
	if (atomic_load(&done) ||
	    !atomic_compare_exchange_strong(&reason, &none, why))
		return;
	/* async-signal-safe: write(2) only */
	if (write(wake_fd, &one, sizeof(one)) < 0) { /* the flag still holds */ }
	if (write(ctl[1], &c, 1) < 0) { /* the thread polls the flag too */ }
}

static void on_signal(int sig)
{
	stop(sig);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *watch(void *arg)
{
	(void)arg;
	double deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	char buf[16];

	/* until a reason to stop */
	while (!atomic_load(&reason)) {
		struct pollfd p[2] = { { .fd = ctl[0], .events = POLLIN },
				       { .fd = watch_fd, .events = 0 } };
		int wait = 1000;
		if (deadline) {
			double left = deadline - now_ms();
			if (left <= 0) {
				stop(124);
				break;
			}
			wait = left < wait ? (int)left + 1 : wait;
		}
		if (poll(p, watch_fd >= 0 ? 2 : 1, wait) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN)
			if (read(ctl[0], buf, sizeof(buf)) < 0) { /* again */ }
		if (watch_fd >= 0 && (p[1].revents & (POLLHUP | POLLERR)))
			stop(SIGTERM); /* the embedder let go of the guest */
		if (atomic_load(&done))
			return NULL;
	}
	/* the grace period */
	double end = now_ms() + grace_ms;
	while (!atomic_load(&done)) {
		double left = end - now_ms();
		if (left <= 0) {
			int why = atomic_load(&reason);
			int i = why == SIGINT ? 0 : why == SIGTERM ? 1 : 2;
			int code = why == 124 ? 124 : 128 + why;
			const char *m = messages[i];
			if (m && write(2, m, strlen(m)) < 0) { /* exiting anyway */ }
			_exit(code);
		}
		struct pollfd p = { .fd = ctl[0], .events = POLLIN };
		if (poll(&p, 1, (int)left + 1) > 0)
			if (read(ctl[0], buf, sizeof(buf)) < 0) { /* again */ }
	}
	return NULL;
}

/* 2: the ABI version of this library */
int wasm_bpf_watchdog_version(void)
{
	return 2;
}

/*
 * Starts watching: signals, the time limit (0: none), the pipe watch (-1:
 * none). The messages are written to stderr before a forced exit for a
 * stop by SIGINT, SIGTERM, the time limit. 0, or -errno.
 */
int wasm_bpf_watchdog_start(int wake, int grace, int timeout, int watch_pipe,
			    const char *msg_int, const char *msg_term,
			    const char *msg_timeout)
{
	struct sigaction sa;
	pthread_t th;

	if (started)
		return -EBUSY;
	wake_fd = wake;
	grace_ms = grace;
	timeout_ms = timeout;
	watch_fd = watch_pipe;
	messages[0] = strdup(msg_int);
	messages[1] = strdup(msg_term);
	messages[2] = strdup(msg_timeout);
	if (pipe(ctl))
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL))
		return -errno;
	if (pthread_create(&th, NULL, watch, NULL))
		return -EAGAIN;
	pthread_detach(th);
	started = 1;
	return 0;
}

/* Why the guest is being stopped: 0, SIGINT, SIGTERM or 124. */
int wasm_bpf_watchdog_reason(void)
{
	return atomic_load(&reason);
}

/* Where that reason is kept: the host reads it between records without a
 * call (an aligned 32-bit word: a plain read sees the whole value). */
const int32_t *wasm_bpf_watchdog_reason_word(void)
{
	return (const int32_t *)&reason;
}

/* The guest has ended: no forced exit from now on. */
void wasm_bpf_watchdog_done(void)
{
	char c = 0;
	atomic_store(&done, 1);
	if (ctl[1] >= 0 && write(ctl[1], &c, 1) < 0) { /* it polls */ }
}
