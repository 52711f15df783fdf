/* ABI test guest: drives each wasm_bpf import directly (no SDK), one
 * scenario per command, printing results for tests/abi_test.ts to check.
 *
 *   abi ring PPID N | perf PPID N | two PPID N | maps NCPUS | reload |
 *       errors | trap PPID | wait | spin | exit CODE | grow PPID N | oom |
 *       spincb PPID N | cat PATH | getenv NAME
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "wasm-bpf-abi.h"
#include "abi.h"
#include "abi.skel.h"

static unsigned int want_ppid;
static int seen, want;
static char buf[4096];

static uint64_t load(void)
{
	size_t size;
	const void *bytes = abi_bpf__elf_bytes(&size);
	uint64_t h = wasm_load_bpf_object(bytes, (int)size);
	if (!h) {
		fprintf(stderr, "load failed\n");
		exit(10);
	}
	return h;
}

static void attach(uint64_t h, const char *prog)
{
	int err = wasm_attach_bpf_program(h, prog, "");
	if (err) {
		fprintf(stderr, "attach %s failed: %d\n", prog, err);
		exit(11);
	}
}

static int on_event(void *ctx, void *data, uint32_t size)
{
	const struct event *e = data;
	const char *tag = ctx;
	if (size < sizeof(*e) || e->ppid != want_ppid)
		return 0;
	if (e->kind == 2)
		printf("%s EXIT pid=%u ppid=%u code=%d comm=%s\n", tag, e->pid,
		       e->ppid, e->exit_code, e->comm);
	else
		printf("%s EXEC pid=%u ppid=%u comm=%s\n", tag, e->pid, e->ppid,
		       e->comm);
	seen++;
	return 0;
}

static int on_event_grow(void *ctx, void *data, uint32_t size)
{
	/* grow memory inside the callback: the host must re-take its views */
	void *p = malloc(1 << 20);
	memset(p, 1, 1 << 20);
	return on_event(ctx, data, size);
}

static int on_event_trap(void *ctx, void *data, uint32_t size)
{
	const struct event *e = data;
	if (e->ppid == want_ppid)
		__builtin_trap();
	return 0;
}

static int on_event_spin(void *ctx, void *data, uint32_t size)
{
	const struct event *e = data;
	if (e->ppid == want_ppid) {
		printf("spinning\n");
		fflush(stdout);
		for (volatile int i = 0;; i++)
			;
	}
	return 0;
}

static int poll_until(uint64_t h, int fd, wasm_bpf_sample_fn fn, char *tag)
{
	while (seen < want) {
		int n = wasm_bpf_buffer_poll(h, fd, fn, tag, buf, sizeof(buf), 1000);
		if (n < 0) {
			printf("poll error %d\n", n);
			return n;
		}
	}
	return 0;
}

static int cmd_ring(const char *tag, const char *map, int argc, char **argv,
		    wasm_bpf_sample_fn fn)
{
	if (argc < 2)
		return 2;
	want_ppid = atoi(argv[0]);
	want = atoi(argv[1]);
	uint64_t h = load();
	attach(h, "handle_exec");
	int fd = wasm_bpf_map_fd_by_name(h, map);
	if (fd < 0) {
		printf("map_fd_by_name %s = %d\n", map, fd);
		return 12;
	}
	/* create the consumer before announcing readiness */
	wasm_bpf_buffer_poll(h, fd, fn, (void *)tag, buf, sizeof(buf), 0);
	printf("ready\n");
	fflush(stdout);
	int err = poll_until(h, fd, fn, (char *)tag);
	printf("close=%d\n", wasm_close_bpf_object(h));
	return err ? 1 : 0;
}

static int cmd_two(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	want_ppid = atoi(argv[0]);
	want = 2 * atoi(argv[1]);
	uint64_t h = load();
	attach(h, "handle_exec");
	attach(h, "handle_exit");
	int fd1 = wasm_bpf_map_fd_by_name(h, "rb");
	int fd2 = wasm_bpf_map_fd_by_name(h, "rb2");
	wasm_bpf_buffer_poll(h, fd1, on_event, "rb", buf, sizeof(buf), 0);
	wasm_bpf_buffer_poll(h, fd2, on_event, "rb2", buf, sizeof(buf), 0);
	printf("ready fds=%d,%d\n", fd1, fd2);
	fflush(stdout);
	while (seen < want) {
		int a = wasm_bpf_buffer_poll(h, fd1, on_event, "rb", buf, sizeof(buf), 50);
		int b = wasm_bpf_buffer_poll(h, fd2, on_event, "rb2", buf, sizeof(buf), 50);
		if (a < 0 || b < 0) {
			printf("poll error %d %d\n", a, b);
			return 1;
		}
	}
	printf("close=%d\n", wasm_close_bpf_object(h));
	return 0;
}

static int cmd_maps(int argc, char **argv)
{
	int ncpus = argc > 0 ? atoi(argv[0]) : 1;
	uint64_t h = load();
	int fd = wasm_bpf_map_fd_by_name(h, "kv");
	uint32_t key, next;
	uint64_t val;
	int err, count = 0;

	for (key = 1; key <= 10; key++) {
		val = key * 1000ull;
		err = wasm_bpf_map_operate(fd, WASM_BPF_MAP_UPDATE_ELEM, &key, &val, 0, 0);
		if (err) {
			printf("update %u = %d\n", key, err);
			return 1;
		}
	}
	/* BPF_NOEXIST on an existing key */
	key = 3;
	printf("update_noexist=%d\n",
	       wasm_bpf_map_operate(fd, WASM_BPF_MAP_UPDATE_ELEM, &key, &val, 0, 1));
	key = 7;
	val = 0;
	err = wasm_bpf_map_operate(fd, WASM_BPF_MAP_LOOKUP_ELEM, &key, &val, 0, 0);
	printf("lookup7=%d val=%llu\n", err, (unsigned long long)val);
	err = wasm_bpf_map_operate(fd, WASM_BPF_MAP_GET_NEXT_KEY, 0, 0, &next, 0);
	uint64_t sum = 0;
	while (!err) {
		count++;
		sum += next;
		key = next;
		err = wasm_bpf_map_operate(fd, WASM_BPF_MAP_GET_NEXT_KEY, &key, 0, &next, 0);
	}
	printf("iterated=%d keysum=%llu end=%d\n", count, (unsigned long long)sum, err);
	key = 7;
	printf("delete7=%d\n", wasm_bpf_map_operate(fd, WASM_BPF_MAP_DELETE_ELEM, &key, 0, 0, 0));
	printf("lookup7_after=%d\n", wasm_bpf_map_operate(fd, WASM_BPF_MAP_LOOKUP_ELEM, &key, &val, 0, 0));
	printf("delete7_again=%d\n", wasm_bpf_map_operate(fd, WASM_BPF_MAP_DELETE_ELEM, &key, 0, 0, 0));

	/* per-CPU: one 8-byte slot per possible CPU */
	int pfd = wasm_bpf_map_fd_by_name(h, "percpu");
	uint64_t slots[512];
	memset(slots, 0, sizeof(slots));
	for (int i = 0; i < ncpus; i++)
		slots[i] = 100 + i;
	key = 2;
	err = wasm_bpf_map_operate(pfd, WASM_BPF_MAP_UPDATE_ELEM, &key, slots, 0, 0);
	memset(slots, 0, sizeof(slots));
	int err2 = wasm_bpf_map_operate(pfd, WASM_BPF_MAP_LOOKUP_ELEM, &key, slots, 0, 0);
	uint64_t psum = 0;
	for (int i = 0; i < ncpus; i++)
		psum += (uint32_t)slots[i];
	printf("percpu update=%d lookup=%d sum=%llu\n", err, err2, (unsigned long long)psum);
	printf("close=%d\n", wasm_close_bpf_object(h));
	/* the fd is not ours any more */
	printf("after_close=%d\n", wasm_bpf_map_operate(fd, WASM_BPF_MAP_LOOKUP_ELEM, &key, &val, 0, 0));
	return 0;
}

static int cmd_reload(void)
{
	for (int i = 0; i < 3; i++) {
		uint64_t h = load();
		attach(h, "handle_exec");
		attach(h, "handle_exit");
		int fd = wasm_bpf_map_fd_by_name(h, "rb");
		printf("round %d handle=%llu fd_ok=%d close=%d\n", i,
		       (unsigned long long)h, fd >= 0, wasm_close_bpf_object(h));
	}
	/* two objects at once */
	uint64_t a = load(), b = load();
	int fa = wasm_bpf_map_fd_by_name(a, "kv"), fb = wasm_bpf_map_fd_by_name(b, "kv");
	uint32_t key = 1;
	uint64_t va = 11, vb = 22, out = 0;
	wasm_bpf_map_operate(fa, WASM_BPF_MAP_UPDATE_ELEM, &key, &va, 0, 0);
	wasm_bpf_map_operate(fb, WASM_BPF_MAP_UPDATE_ELEM, &key, &vb, 0, 0);
	wasm_bpf_map_operate(fa, WASM_BPF_MAP_LOOKUP_ELEM, &key, &out, 0, 0);
	printf("two objects: a=%llu", (unsigned long long)out);
	wasm_bpf_map_operate(fb, WASM_BPF_MAP_LOOKUP_ELEM, &key, &out, 0, 0);
	printf(" b=%llu\n", (unsigned long long)out);
	/* a ring buffer fd of object b polled through handle a */
	int rbb = wasm_bpf_map_fd_by_name(b, "rb");
	printf("cross_poll=%d\n", wasm_bpf_buffer_poll(a, rbb, on_event, "x", buf, sizeof(buf), 0));
	printf("close=%d,%d\n", wasm_close_bpf_object(a), wasm_close_bpf_object(b));
	printf("close_again=%d\n", wasm_close_bpf_object(a));
	return 0;
}

static int cmd_errors(void)
{
	uint32_t mem_end = __builtin_wasm_memory_size(0) * 65536;
	uint64_t h = load();
	int fd = wasm_bpf_map_fd_by_name(h, "kv");
	uint32_t key = 1;
	uint64_t val = 0;

	printf("load_out_of_range=%llu\n",
	       (unsigned long long)wasm_load_bpf_object((void *)(mem_end - 16), 64));
	printf("load_null=%llu\n", (unsigned long long)wasm_load_bpf_object(0, 64));
	static const char junk[] = "this is not an ELF file at all, sorry";
	printf("load_malformed=%llu\n",
	       (unsigned long long)wasm_load_bpf_object(junk, sizeof(junk)));
	size_t size;
	const char *bytes = abi_bpf__elf_bytes(&size);
	printf("load_truncated=%llu\n",
	       (unsigned long long)wasm_load_bpf_object(bytes, (int)size / 2));
	/* an unterminated name at the very end of memory */
	char *end = (char *)(mem_end - 4);
	memcpy(end, "kvkv", 4);
	printf("name_unterminated=%d\n", wasm_bpf_map_fd_by_name(h, end));
	printf("name_out_of_range=%d\n", wasm_bpf_map_fd_by_name(h, (char *)(mem_end + 100)));
	printf("key_out_of_range=%d\n",
	       wasm_bpf_map_operate(fd, WASM_BPF_MAP_LOOKUP_ELEM, (void *)(mem_end - 2), &val, 0, 0));
	printf("value_out_of_range=%d\n",
	       wasm_bpf_map_operate(fd, WASM_BPF_MAP_LOOKUP_ELEM, &key, (void *)(mem_end - 4), 0, 0));
	printf("value_null=%d\n", wasm_bpf_map_operate(fd, WASM_BPF_MAP_LOOKUP_ELEM, &key, 0, 0, 0));
	printf("fd_stdout=%d\n", wasm_bpf_map_operate(1, WASM_BPF_MAP_LOOKUP_ELEM, &key, &val, 0, 0));
	printf("fd_negative=%d\n", wasm_bpf_map_operate(-5, WASM_BPF_MAP_LOOKUP_ELEM, &key, &val, 0, 0));
	printf("bad_cmd=%d\n", wasm_bpf_map_operate(fd, 99, &key, &val, 0, 0));
	printf("poll_stdout=%d\n", wasm_bpf_buffer_poll(h, 1, on_event, 0, buf, sizeof(buf), 0));
	printf("poll_not_buffer=%d\n", wasm_bpf_buffer_poll(h, fd, on_event, 0, buf, sizeof(buf), 0));
	int rb = wasm_bpf_map_fd_by_name(h, "rb");
	printf("poll_bad_callback=%d\n",
	       wasm_bpf_buffer_poll(h, rb, (wasm_bpf_sample_fn)(uintptr_t)100000, 0, buf, sizeof(buf), 0));
	printf("poll_bad_data=%d\n",
	       wasm_bpf_buffer_poll(h, rb, on_event, 0, (void *)(mem_end - 8), 64, 0));
	printf("handle_unknown=%d\n", wasm_close_bpf_object(h + 1000));
	printf("attach_unknown_handle=%d\n", wasm_attach_bpf_program(h + 1000, "handle_exec", ""));
	printf("attach_unknown_program=%d\n", wasm_attach_bpf_program(h, "no_such_prog", ""));
	printf("attach_bad_target=%d\n", wasm_attach_bpf_program(h, "handle_exec", "eth0"));
	printf("map_unknown=%d\n", wasm_bpf_map_fd_by_name(h, "no_such_map"));
	printf("close=%d\n", wasm_close_bpf_object(h));
	printf("close_closed=%d\n", wasm_close_bpf_object(h));
	printf("fd_after_close=%d\n", wasm_bpf_map_operate(fd, WASM_BPF_MAP_LOOKUP_ELEM, &key, &val, 0, 0));
	return 0;
}

static int cmd_wait(void)
{
	uint64_t h = load();
	attach(h, "handle_exec");
	int fd = wasm_bpf_map_fd_by_name(h, "rb");
	printf("ready\n");
	fflush(stdout);
	/* ignores -EINTR like many existing guests: the host must unwind it */
	for (;;) {
		int n = wasm_bpf_buffer_poll(h, fd, on_event, "w", buf, sizeof(buf), 1000);
		if (n == -4 /* Linux EINTR: the ABI speaks Linux errnos */) {
			printf("got EINTR\n");
			fflush(stdout);
		}
	}
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: abi COMMAND [ARGS]\n");
		return 2;
	}
	const char *cmd = argv[1];
	argc -= 2;
	argv += 2;
	if (!strcmp(cmd, "ring"))
		return cmd_ring("rb", "rb", argc, argv, on_event);
	if (!strcmp(cmd, "perf"))
		return cmd_ring("pb", "pb", argc, argv, on_event);
	if (!strcmp(cmd, "grow"))
		return cmd_ring("rb", "rb", argc, argv, on_event_grow);
	if (!strcmp(cmd, "two"))
		return cmd_two(argc, argv);
	if (!strcmp(cmd, "maps"))
		return cmd_maps(argc, argv);
	if (!strcmp(cmd, "reload"))
		return cmd_reload();
	if (!strcmp(cmd, "errors"))
		return cmd_errors();
	if (!strcmp(cmd, "trap"))
		return cmd_ring("rb", "rb", argc, argv, on_event_trap);
	if (!strcmp(cmd, "spincb"))
		return cmd_ring("rb", "rb", argc, argv, on_event_spin);
	if (!strcmp(cmd, "wait"))
		return cmd_wait();
	if (!strcmp(cmd, "spin")) {
		uint64_t h = load();
		attach(h, "handle_exec");
		printf("ready\n");
		fflush(stdout);
		for (volatile int i = 0;; i++)
			;
	}
	if (!strcmp(cmd, "cat") && argc > 0) {
		/* WASI sandbox: only directories granted with --dir are visible */
		FILE *f = fopen(argv[0], "r");
		if (!f) {
			printf("open %s failed: %s\n", argv[0], strerror(errno));
			return 1;
		}
		char line[256];
		while (fgets(line, sizeof(line), f))
			fputs(line, stdout);
		fclose(f);
		return 0;
	}
	if (!strcmp(cmd, "getenv") && argc > 0) {
		const char *v = getenv(argv[0]);
		printf("%s=%s\n", argv[0], v ? v : "(unset)");
		return 0;
	}
	if (!strcmp(cmd, "oom")) {
		/* allocate until the memory ceiling says no */
		int mib = 0;
		char *volatile p;
		while ((p = malloc(1 << 20)) != NULL) {
			p[0] = 1; /* used, so the allocation is not elided */
			mib++;
		}
		printf("allocated %d MiB\n", mib);
		return 3;
	}
	if (!strcmp(cmd, "exit")) {
		uint64_t h = load();
		attach(h, "handle_exec");
		exit(argc > 0 ? atoi(argv[0]) : 0);
	}
	fprintf(stderr, "abi: unknown command '%s'\n", cmd);
	return 2;
}
