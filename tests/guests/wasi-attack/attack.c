/*
 * A WASI guest that tries to leave its preopened directory, and does the
 * ordinary things a guest does, one subcommand after another:
 *
 *   attack.wasm CMD ARGS... [CMD ARGS...]...
 *
 * Every command prints one line "CMD: ok [DATA]" or "CMD: err N" (N the
 * WASI errno). Paths are relative to fd 3, the first preopen, and go
 * straight to the WASI calls (no libc path resolution in between), so the
 * host sees exactly the flags written here. The test judges on the host
 * side: whether the secret's bytes were printed, whether files outside
 * the box changed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#define DIR 3
#define R_READ (__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_GET | __WASI_RIGHTS_FD_READDIR)
#define R_WRITE (__WASI_RIGHTS_FD_WRITE | __WASI_RIGHTS_FD_SEEK | __WASI_RIGHTS_FD_TELL | __WASI_RIGHTS_FD_FILESTAT_SET_SIZE)

/* raw imports, for pointers and lengths no libc wrapper would pass */
#define RAW(name) __attribute__((import_module("wasi_snapshot_preview1"), import_name(#name)))
RAW(fd_write) int32_t raw_fd_write(int32_t, int32_t, int32_t, int32_t);
RAW(fd_read) int32_t raw_fd_read(int32_t, int32_t, int32_t, int32_t);
RAW(path_open) int32_t raw_path_open(int32_t, int32_t, int32_t, int32_t, int32_t, int64_t, int64_t, int32_t, int32_t);
RAW(args_get) int32_t raw_args_get(int32_t, int32_t);
RAW(environ_sizes_get) int32_t raw_environ_sizes_get(int32_t, int32_t);
RAW(clock_time_get) int32_t raw_clock_time_get(int32_t, int64_t, int32_t);
RAW(random_get) int32_t raw_random_get(int32_t, int32_t);
RAW(poll_oneoff) int32_t raw_poll_oneoff(int32_t, int32_t, int32_t, int32_t);
RAW(fd_prestat_dir_name) int32_t raw_fd_prestat_dir_name(int32_t, int32_t, int32_t);
RAW(fd_readdir) int32_t raw_fd_readdir(int32_t, int32_t, int32_t, int64_t, int32_t);
RAW(path_filestat_get) int32_t raw_path_filestat_get(int32_t, int32_t, int32_t, int32_t, int32_t);
RAW(sock_accept) int32_t raw_sock_accept(int32_t, int32_t, int32_t);
RAW(no_such_function) int32_t raw_no_such_function(int32_t);

static int result(const char *cmd, __wasi_errno_t e) {
	if (e) printf("%s: err %d\n", cmd, e);
	else printf("%s: ok\n", cmd);
	return e;
}

static __wasi_errno_t open_at(const char *path, int follow, __wasi_oflags_t oflags,
                              __wasi_rights_t rights, __wasi_fdflags_t fdflags, __wasi_fd_t *fd) {
	return __wasi_path_open(DIR, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path,
	                        oflags, rights, rights, fdflags, fd);
}

/* read PATH FOLLOW: prints "read: ok <contents>" */
static void cmd_read(const char *path, int follow) {
	__wasi_fd_t fd;
	__wasi_errno_t e = open_at(path, follow, 0, R_READ, 0, &fd);
	if (e) { result("read", e); return; }
	char buf[4096];
	__wasi_iovec_t iov = { (uint8_t *)buf, sizeof buf - 1 };
	__wasi_size_t n = 0;
	e = __wasi_fd_read(fd, &iov, 1, &n);
	__wasi_fd_close(fd);
	if (e) { result("read", e); return; }
	buf[n] = 0;
	printf("read: ok %s\n", buf);
}

/* write PATH FOLLOW DATA: creates/truncates PATH and writes DATA */
static void cmd_write(const char *path, int follow, const char *data, __wasi_oflags_t oflags) {
	__wasi_fd_t fd;
	__wasi_errno_t e = open_at(path, follow, oflags, R_WRITE, 0, &fd);
	if (e) { result("write", e); return; }
	__wasi_ciovec_t iov = { (const uint8_t *)data, strlen(data) };
	__wasi_size_t n;
	e = __wasi_fd_write(fd, &iov, 1, &n);
	__wasi_fd_close(fd);
	result("write", e);
}

static void cmd_readdir(const char *path) {
	__wasi_fd_t fd;
	__wasi_errno_t e = open_at(path, 1, __WASI_OFLAGS_DIRECTORY, R_READ, 0, &fd);
	if (e) { result("readdir", e); return; }
	/* a small buffer, so the listing takes several calls */
	static uint8_t buf[64];
	static char names[65536];
	names[0] = 0;
	__wasi_dircookie_t cookie = 0;
	for (;;) {
		__wasi_size_t used;
		e = __wasi_fd_readdir(fd, buf, sizeof buf, cookie, &used);
		if (e) break;
		size_t o = 0;
		int progressed = 0;
		while (o + sizeof(__wasi_dirent_t) <= used) {
			__wasi_dirent_t d;
			memcpy(&d, buf + o, sizeof d);
			if (o + sizeof d + d.d_namlen > used) break;
			char name[256];
			memcpy(name, buf + o + sizeof d, d.d_namlen);
			name[d.d_namlen] = 0;
			if (strcmp(name, ".") && strcmp(name, "..")) {
				strcat(names, name);
				strcat(names, d.d_type == __WASI_FILETYPE_DIRECTORY ? "/ " : " ");
			}
			cookie = d.d_next;
			o += sizeof d + d.d_namlen;
			progressed = 1;
		}
		if (used < sizeof buf) break;
		if (!progressed) { e = __WASI_ERRNO_NAMETOOLONG; break; }
	}
	__wasi_fd_close(fd);
	if (e) { result("readdir", e); return; }
	printf("readdir: ok %s\n", names);
}

static void cmd_stat(const char *path, int follow) {
	__wasi_filestat_t st;
	__wasi_errno_t e = __wasi_path_filestat_get(DIR, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, path, &st);
	if (e) { result("stat", e); return; }
	printf("stat: ok type=%d size=%llu nlink=%llu\n", st.filetype,
	       (unsigned long long)st.size, (unsigned long long)st.nlink);
}

static void cmd_readlink(const char *path) {
	char buf[256];
	__wasi_size_t n;
	__wasi_errno_t e = __wasi_path_readlink(DIR, path, (uint8_t *)buf, sizeof buf - 1, &n);
	if (e) { result("readlink", e); return; }
	buf[n] = 0;
	printf("readlink: ok %s\n", buf);
}

/* seek PATH: writes, seeks, tells, reads back through one fd */
static void cmd_seek(const char *path) {
	__wasi_fd_t fd;
	__wasi_errno_t e = open_at(path, 0, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, R_READ | R_WRITE, 0, &fd);
	if (e) { result("seek", e); return; }
	__wasi_ciovec_t iov = { (const uint8_t *)"0123456789", 10 };
	__wasi_size_t n;
	__wasi_filesize_t pos, tell;
	char buf[8] = { 0 };
	__wasi_iovec_t riov = { (uint8_t *)buf, 3 };
	__wasi_filestat_t st;
	if (!(e = __wasi_fd_write(fd, &iov, 1, &n)) &&
	    !(e = __wasi_fd_seek(fd, 4, __WASI_WHENCE_SET, &pos)) &&
	    !(e = __wasi_fd_read(fd, &riov, 1, &n)) &&
	    !(e = __wasi_fd_tell(fd, &tell)) &&
	    !(e = __wasi_fd_filestat_set_size(fd, 5)) &&
	    !(e = __wasi_fd_filestat_get(fd, &st)))
		printf("seek: ok pos=%llu read=%s tell=%llu size=%llu\n", (unsigned long long)pos, buf,
		       (unsigned long long)tell, (unsigned long long)st.size);
	else
		result("seek", e);
	__wasi_fd_close(fd);
}

static void cmd_sleep(long ms) {
	__wasi_subscription_t sub = { 0 };
	sub.userdata = 42;
	sub.u.tag = __WASI_EVENTTYPE_CLOCK;
	sub.u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
	sub.u.u.clock.timeout = (uint64_t)ms * 1000000ull;
	__wasi_event_t ev;
	__wasi_size_t n;
	__wasi_timestamp_t t0, t1;
	__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t0);
	__wasi_errno_t e = __wasi_poll_oneoff(&sub, &ev, 1, &n);
	__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &t1);
	if (e) { result("sleep", e); return; }
	printf("sleep: ok events=%u userdata=%llu type=%d ms=%llu\n", n, (unsigned long long)ev.userdata,
	       ev.type, (unsigned long long)((t1 - t0) / 1000000));
}

/* pollfd: fd_read on stdin, fd_write on stdout, fd_read on a bad fd and a
 * 1 s clock: prints the events that come back (userdata:type:error:flags) */
static void cmd_pollfd(void) {
	__wasi_subscription_t subs[4] = { 0 };
	for (int k = 0; k < 4; k++) subs[k].userdata = 10 + k;
	subs[0].u.tag = __WASI_EVENTTYPE_FD_READ;
	subs[0].u.u.fd_read.file_descriptor = 0;
	subs[1].u.tag = __WASI_EVENTTYPE_FD_WRITE;
	subs[1].u.u.fd_write.file_descriptor = 1;
	subs[2].u.tag = __WASI_EVENTTYPE_FD_READ;
	subs[2].u.u.fd_read.file_descriptor = 99;
	subs[3].u.tag = __WASI_EVENTTYPE_CLOCK;
	subs[3].u.u.clock.id = __WASI_CLOCKID_MONOTONIC;
	subs[3].u.u.clock.timeout = 1000000000ull;
	__wasi_event_t ev[4];
	__wasi_size_t n = 0;
	__wasi_errno_t e = __wasi_poll_oneoff(subs, ev, 4, &n);
	if (e) { result("pollfd", e); return; }
	printf("pollfd: ok");
	for (__wasi_size_t k = 0; k < n; k++)
		printf(" %llu:%d:%d:%d", (unsigned long long)ev[k].userdata, ev[k].type, ev[k].error,
		       ev[k].fd_readwrite.flags);
	printf("\n");
}

/* nbread: sets stdin non-blocking, then one read */
static void cmd_nbread(void) {
	__wasi_errno_t e = __wasi_fd_fdstat_set_flags(0, __WASI_FDFLAGS_NONBLOCK);
	if (e) { result("nbread", e); return; }
	__wasi_fdstat_t st;
	__wasi_fd_fdstat_get(0, &st);
	char buf[8];
	__wasi_iovec_t iov = { (uint8_t *)buf, sizeof buf };
	__wasi_size_t n;
	e = __wasi_fd_read(0, &iov, 1, &n);
	printf("nbread: flags=%d read=%d\n", st.fs_flags, e);
}

/* fdwrite PATH: opens PATH for reading, then tries to change it through
 * the fd: write, pwrite, set size, set times, allocate, append flag+write */
static void cmd_fdwrite(const char *path) {
	__wasi_fd_t fd;
	__wasi_errno_t e = open_at(path, 0, 0, R_READ, 0, &fd);
	if (e) { result("fdwrite", e); return; }
	__wasi_ciovec_t iov = { (const uint8_t *)"PWNED", 5 };
	__wasi_size_t n;
	int w = __wasi_fd_write(fd, &iov, 1, &n);
	int pw = __wasi_fd_pwrite(fd, &iov, 1, 0, &n);
	int sz = __wasi_fd_filestat_set_size(fd, 0);
	int tm = __wasi_fd_filestat_set_times(fd, 0, 0, __WASI_FSTFLAGS_MTIM);
	int al = __wasi_fd_allocate(fd, 0, 4096);
	__wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND);
	int ap = __wasi_fd_write(fd, &iov, 1, &n);
	__wasi_fd_close(fd);
	printf("fdwrite: %d %d %d %d %d %d\n", w, pw, sz, tm, al, ap);
}

/* fdmisc PATH: allocate, advise, sync, datasync, flags and renumber on a
 * file opened read-write */
static void cmd_fdmisc(const char *path) {
	__wasi_fd_t fd;
	__wasi_errno_t e = open_at(path, 0, __WASI_OFLAGS_CREAT, R_READ | R_WRITE, 0, &fd);
	if (e) { result("fdmisc", e); return; }
	__wasi_filestat_t st;
	__wasi_fdstat_t fs;
	int al = __wasi_fd_allocate(fd, 0, 100);
	__wasi_fd_filestat_get(fd, &st);
	int ad = __wasi_fd_advise(fd, 0, 0, __WASI_ADVICE_SEQUENTIAL);
	int sy = __wasi_fd_sync(fd);
	int ds = __wasi_fd_datasync(fd);
	int sf = __wasi_fd_fdstat_set_flags(fd, __WASI_FDFLAGS_APPEND);
	__wasi_fd_fdstat_get(fd, &fs);
	/* fd 2 becomes this file: what stderr prints lands in it */
	int rn = __wasi_fd_renumber(fd, 2);
	int gone = __wasi_fd_close(fd);
	__wasi_ciovec_t iov = { (const uint8_t *)"via2", 4 };
	__wasi_size_t n;
	int w2 = __wasi_fd_write(2, &iov, 1, &n);
	printf("fdmisc: %d size=%llu %d %d %d %d flags=%d type=%d %d %d %d\n", al,
	       (unsigned long long)st.size, ad, sy, ds, sf, fs.fs_flags, fs.fs_filetype, rn, gone, w2);
}

/* efault: every call gets a pointer past the end of memory */
static void cmd_efault(void) {
	int32_t bad = -16; /* 0xfffffff0 */
	int32_t end = (int32_t)(__builtin_wasm_memory_size(0) * 65536);
	char ok[16];
	__wasi_ciovec_t iov = { (const uint8_t *)ok, 1 << 30 }; /* runs off the end */
	printf("efault: %d %d %d %d %d %d %d %d %d %d %d\n",
	       raw_fd_write(1, bad, 1, (int32_t)(intptr_t)ok),
	       raw_fd_write(1, (int32_t)(intptr_t)&iov, 1, (int32_t)(intptr_t)ok),
	       raw_fd_read(0, (int32_t)(intptr_t)&iov, 1, end - 2),
	       raw_path_open(DIR, 0, bad, 5, 0, 0, 0, 0, (int32_t)(intptr_t)ok),
	       raw_args_get(bad, bad),
	       raw_environ_sizes_get(end, 0),
	       raw_clock_time_get(1, 0, end - 4),
	       raw_random_get(end - 10, 11),
	       raw_poll_oneoff(bad, bad, 1, (int32_t)(intptr_t)ok),
	       raw_fd_prestat_dir_name(DIR, end, 4),
	       raw_path_filestat_get(DIR, 0, (int32_t)(intptr_t)"x", 1, end - 8));
}

/* race PATH N: opens and reads PATH N times; prints what was read if any */
static void cmd_race(const char *path, int times) {
	int reads = 0, fails = 0;
	for (int i = 0; i < times; i++) {
		__wasi_fd_t fd;
		if (open_at(path, 1, 0, R_READ, 0, &fd)) { fails++; continue; }
		char buf[256];
		__wasi_iovec_t iov = { (uint8_t *)buf, sizeof buf - 1 };
		__wasi_size_t n = 0;
		if (!__wasi_fd_read(fd, &iov, 1, &n) && n > 0) {
			buf[n] = 0;
			reads++;
			printf("race-read: %s\n", buf);
		}
		__wasi_fd_close(fd);
	}
	printf("race: ok reads=%d fails=%d\n", reads, fails);
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc;) {
		const char *c = argv[i++];
#define ARG (i < argc ? argv[i++] : "")
		if (!strcmp(c, "read")) { const char *p = ARG; cmd_read(p, atoi(ARG)); }
		else if (!strcmp(c, "write")) { const char *p = ARG; int f = atoi(ARG); cmd_write(p, f, ARG, __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC); }
		else if (!strcmp(c, "overwrite")) { const char *p = ARG; int f = atoi(ARG); cmd_write(p, f, ARG, 0); }
		else if (!strcmp(c, "append")) {
			const char *p = ARG; const char *d = ARG;
			__wasi_fd_t fd;
			__wasi_errno_t e = open_at(p, 0, 0, R_READ, __WASI_FDFLAGS_APPEND, &fd);
			if (!e) {
				__wasi_ciovec_t iov = { (const uint8_t *)d, strlen(d) };
				__wasi_size_t n;
				e = __wasi_fd_write(fd, &iov, 1, &n);
				__wasi_fd_close(fd);
			}
			result("append", e);
		}
		else if (!strcmp(c, "symlink")) { const char *t = ARG; result("symlink", __wasi_path_symlink(t, DIR, ARG)); }
		else if (!strcmp(c, "link")) { const char *o = ARG; const char *n = ARG; result("link", __wasi_path_link(DIR, atoi(ARG), o, DIR, n)); }
		else if (!strcmp(c, "rename")) { const char *o = ARG; result("rename", __wasi_path_rename(DIR, o, DIR, ARG)); }
		else if (!strcmp(c, "mkdir")) result("mkdir", __wasi_path_create_directory(DIR, ARG));
		else if (!strcmp(c, "rmdir")) result("rmdir", __wasi_path_remove_directory(DIR, ARG));
		else if (!strcmp(c, "unlink")) result("unlink", __wasi_path_unlink_file(DIR, ARG));
		else if (!strcmp(c, "settimes")) {
			const char *p = ARG;
			result("settimes", __wasi_path_filestat_set_times(DIR, atoi(ARG), p, 0, 1000000000ull * 86400, __WASI_FSTFLAGS_MTIM));
		}
		else if (!strcmp(c, "readdir")) cmd_readdir(ARG);
		else if (!strcmp(c, "stat")) { const char *p = ARG; cmd_stat(p, atoi(ARG)); }
		else if (!strcmp(c, "readlink")) cmd_readlink(ARG);
		else if (!strcmp(c, "seek")) cmd_seek(ARG);
		else if (!strcmp(c, "sleep")) cmd_sleep(atol(ARG));
		else if (!strcmp(c, "race")) { const char *p = ARG; cmd_race(p, atoi(ARG)); }
		else if (!strcmp(c, "efault")) cmd_efault();
		else if (!strcmp(c, "pollfd")) cmd_pollfd();
		else if (!strcmp(c, "fdwrite")) cmd_fdwrite(ARG);
		else if (!strcmp(c, "fdmisc")) cmd_fdmisc(ARG);
		else if (!strcmp(c, "probefds")) {
			/* every fd number up to 1024: which ones answer? */
			int open_fds = 0, first = -1;
			for (int fd = 0; fd < 1024; fd++) {
				__wasi_fdstat_t st;
				if (__wasi_fd_fdstat_get(fd, &st) == 0) {
					open_fds++;
					if (fd > 3 && first < 0) first = fd;
				}
			}
			printf("probefds: %d open, first beyond 3: %d\n", open_fds, first);
		}
		else if (!strcmp(c, "nbread")) cmd_nbread();
		else if (!strcmp(c, "args")) { for (int k = 0; k < argc; k++) printf("arg: %s\n", argv[k]); }
		else if (!strcmp(c, "env")) {
			const char *name = ARG;
			const char *v = getenv(name);
			printf("env: %s=%s\n", name, v ? v : "(unset)");
		}
		else if (!strcmp(c, "clock")) {
			__wasi_timestamp_t r, m1, m2, cpu, res;
			__wasi_clock_time_get(__WASI_CLOCKID_REALTIME, 1, &r);
			__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &m1);
			__wasi_clock_time_get(__WASI_CLOCKID_PROCESS_CPUTIME_ID, 1, &cpu);
			__wasi_clock_time_get(__WASI_CLOCKID_MONOTONIC, 1, &m2);
			__wasi_clock_res_get(__WASI_CLOCKID_MONOTONIC, &res);
			printf("clock: ok realtime_s=%llu mono_ordered=%d cpu_positive=%d res_ns=%llu\n",
			       (unsigned long long)(r / 1000000000ull), m2 >= m1, cpu > 0, (unsigned long long)res);
		}
		else if (!strcmp(c, "stdin")) {
			char buf[64];
			size_t n = fread(buf, 1, sizeof buf - 1, stdin);
			buf[n] = 0;
			printf("stdin: ok %zu [%s]\n", n, buf);
		}
		else if (!strcmp(c, "misc")) {
			/* an unknown import links and answers ENOSYS; sockets are not there */
			int32_t fd;
			printf("misc: nosys=%d sock=%d sock_badf=%d\n", raw_no_such_function(0),
			       raw_sock_accept(1, 0, (int32_t)(intptr_t)&fd), raw_sock_accept(99, 0, (int32_t)(intptr_t)&fd));
		}
		else if (!strcmp(c, "exit")) { fflush(stdout); return atoi(ARG); }
		else { printf("unknown command %s\n", c); return 2; }
		fflush(stdout);
	}
	return 0;
}
