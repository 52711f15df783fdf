/* A libbpf-like API for wasm32-wasi guests, header-only, over the six
 * standard wasi-bpf imports (wasm-bpf-abi.h): it runs on any wasi-bpf host.
 * Generated skeletons (NAME.skel.h, `gen skeleton`) build on it.
 * Documentation: wasm-sdk/c/README.md.
 *
 * Conventions as libbpf 1.x: functions that can fail return 0 or a negative
 * errno and also set errno; constructors return NULL and set errno.
 * Errors are in the guest libc's numbering (compare with -ENOENT, print with
 * strerror or wasm_bpf_strerror): the host reports Linux numbers (ABI.md),
 * which this header translates (wasi-libc numbers them differently).
 */
#ifndef LIBBPF_WASM_H
#define LIBBPF_WASM_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm-bpf-abi.h"

#ifndef BPF_ANY
#define BPF_ANY 0 /* create new element or update existing */
#define BPF_NOEXIST 1 /* create new element if it didn't exist */
#define BPF_EXIST 2 /* update existing element */
#define BPF_F_LOCK 4 /* spin_lock-ed map_lookup/map_update */
#endif

/* Default size of the record buffer of bpf_buffer__open. */
#ifndef BPF_BUFFER_DEFAULT_MAX_RECORD
#define BPF_BUFFER_DEFAULT_MAX_RECORD (64 * 1024)
#endif

struct bpf_object_skeleton;

/* A program of a skeleton (`skel->progs.NAME`). */
struct bpf_program {
	const char *name;          /* function name */
	const char *section;       /* ELF section, e.g. "tp/sched/sched_process_exec" */
	const char *attach_target; /* NULL: attach by section */
	bool autoload, autoattach;
	struct bpf_object_skeleton *obj;
	uint32_t sh_name_field;    /* offset of the section's sh_name in the ELF copy */
	uint32_t sh_name;          /* sh_name with autoload on ("?name" + 1) */
};

/* A map of a skeleton (`skel->maps.NAME`); internal maps are named by
 * section (".rodata", ".data", ".bss", ".kconfig"). */
struct bpf_map {
	const char *name;
	struct bpf_object_skeleton *obj;
	int fd; /* resolved after load, -1 before */
};

/* A global-variable section (`skel->rodata` ...). */
struct bpf_global_section {
	const char *name;
	void *mem;     /* into the ELF copy, or a zeroed buffer for .bss */
	uint32_t size; /* bytes of the section */
	bool bss;
};

/* What a generated skeleton knows about a program / global section. */
struct bpf_program_spec {
	const char *name;
	const char *section;
	uint32_t sh_name_field;
	uint32_t sh_name;
	bool autoload; /* false for SEC("?...") programs */
};

struct bpf_global_spec {
	const char *name;
	uint32_t file_offset; /* of the section data in the ELF (0 for .bss) */
	uint32_t size;
	uint32_t alloc_size; /* sizeof the C struct (>= size) */
	int bss;
};

/* The state of one object, shared by all generated skeletons. */
struct bpf_object_skeleton {
	const char *name;
	unsigned char *elf; /* malloc'd copy of the embedded object */
	size_t elf_size;
	uint64_t handle; /* 0 until loaded */
	struct bpf_program *progs;
	int prog_cnt;
	struct bpf_map *maps;
	int map_cnt;
	struct bpf_global_section *globals;
	int global_cnt;
};

static inline int libbpf_wasm_err(int err)
{
	if (err < 0)
		errno = -err;
	return err;
}

/* A Linux errno (positive) as the guest libc's errno. */
static inline int libbpf_wasm_linux_errno(int e)
{
#ifdef __wasi__
	switch (e) {
	case 1: return EPERM;
	case 2: return ENOENT;
	case 3: return ESRCH;
	case 4: return EINTR;
	case 5: return EIO;
	case 6: return ENXIO;
	case 7: return E2BIG;
	case 8: return ENOEXEC;
	case 9: return EBADF;
	case 10: return ECHILD;
	case 11: return EAGAIN;
	case 12: return ENOMEM;
	case 13: return EACCES;
	case 14: return EFAULT;
	case 16: return EBUSY;
	case 17: return EEXIST;
	case 18: return EXDEV;
	case 19: return ENODEV;
	case 20: return ENOTDIR;
	case 21: return EISDIR;
	case 22: return EINVAL;
	case 23: return ENFILE;
	case 24: return EMFILE;
	case 25: return ENOTTY;
	case 26: return ETXTBSY;
	case 27: return EFBIG;
	case 28: return ENOSPC;
	case 29: return ESPIPE;
	case 30: return EROFS;
	case 31: return EMLINK;
	case 32: return EPIPE;
	case 33: return EDOM;
	case 34: return ERANGE;
	case 35: return EDEADLK;
	case 36: return ENAMETOOLONG;
	case 37: return ENOLCK;
	case 38: return ENOSYS;
	case 39: return ENOTEMPTY;
	case 40: return ELOOP;
	case 42: return ENOMSG;
	case 43: return EIDRM;
	case 71: return EPROTO;
	case 74: return EBADMSG;
	case 75: return EOVERFLOW;
	case 84: return EILSEQ;
	case 88: return ENOTSOCK;
	case 90: return EMSGSIZE;
	case 93: return EPROTONOSUPPORT;
	case 95: return EOPNOTSUPP;
	case 97: return EAFNOSUPPORT;
	case 98: return EADDRINUSE;
	case 99: return EADDRNOTAVAIL;
	case 100: return ENETDOWN;
	case 101: return ENETUNREACH;
	case 104: return ECONNRESET;
	case 105: return ENOBUFS;
	case 106: return EISCONN;
	case 107: return ENOTCONN;
	case 110: return ETIMEDOUT;
	case 111: return ECONNREFUSED;
	case 114: return EALREADY;
	case 115: return EINPROGRESS;
	case 125: return ECANCELED;
	case 524: return EOPNOTSUPP; /* the kernel's ENOTSUPP */
	default: return EIO;
	}
#else
	return e;
#endif
}

/* A host result: negative Linux errno → negative guest errno (errno set). */
static inline int libbpf_wasm_host_err(int ret)
{
	if (ret >= 0)
		return ret;
	return libbpf_wasm_err(-libbpf_wasm_linux_errno(-ret));
}

/* A readable message for a negative errno from this API. */
static inline const char *wasm_bpf_strerror(int err)
{
	return strerror(err < 0 ? -err : err);
}

/* Reports a failure as perror(3) does, for this API's negative errnos:
 * prints the printf-formatted message, ": ", wasm_bpf_strerror(err) and a
 * newline on stderr, and returns err, so a caller can write
 *	err = wasm_bpf_perror(err, "%s: failed to load BPF object", tool);
 * A positive err is taken as its negative. */
static inline int wasm_bpf_perror(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline int wasm_bpf_perror(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", wasm_bpf_strerror(err));
	return err > 0 ? -err : err;
}

/* ---- programs ---- */

static inline const char *bpf_program__name(const struct bpf_program *prog)
{
	return prog->name;
}

static inline const char *
bpf_program__section_name(const struct bpf_program *prog)
{
	return prog->section;
}

static inline bool bpf_program__autoload(const struct bpf_program *prog)
{
	return prog->autoload;
}

/* Before load only (-EBUSY after). Programs sharing an ELF section are
 * loaded unless all of them have autoload off. */
static inline int bpf_program__set_autoload(struct bpf_program *prog,
					    bool autoload)
{
	if (prog->obj && prog->obj->handle)
		return libbpf_wasm_err(-EBUSY);
	prog->autoload = autoload;
	return 0;
}

static inline bool bpf_program__autoattach(const struct bpf_program *prog)
{
	return prog->autoattach;
}

static inline void bpf_program__set_autoattach(struct bpf_program *prog,
					       bool autoattach)
{
	prog->autoattach = autoattach;
}

/* The target string handed to the host on attach: an interface name for
 * xdp, a cgroup path for sockops/cgroup, a function for fentry... The
 * attach_prog_fd argument exists for libbpf compatibility; it must be 0. */
static inline int bpf_program__set_attach_target(struct bpf_program *prog,
						 int attach_prog_fd,
						 const char *attach_func_name)
{
	if (attach_prog_fd != 0)
		return libbpf_wasm_err(-EOPNOTSUPP);
	prog->attach_target = attach_func_name;
	return 0;
}

/* Attaches one program of a loaded object (its target, or by section). */
static inline int bpf_program__attach(struct bpf_program *prog)
{
	if (!prog->obj || !prog->obj->handle)
		return libbpf_wasm_err(-EINVAL);
	return libbpf_wasm_host_err(wasm_attach_bpf_program(
		prog->obj->handle, prog->name,
		prog->attach_target ? prog->attach_target : ""));
}

/* ---- maps ---- */

static inline const char *bpf_map__name(const struct bpf_map *map)
{
	return map->name;
}

/* The map's fd: valid after load (negative errno before). */
static inline int bpf_map__fd(const struct bpf_map *map)
{
	struct bpf_map *m = (struct bpf_map *)map;
	if (!m->obj || !m->obj->handle)
		return libbpf_wasm_err(-EINVAL);
	if (m->fd < 0) {
		int fd = wasm_bpf_map_fd_by_name(m->obj->handle, m->name);
		if (fd < 0)
			return libbpf_wasm_host_err(fd);
		m->fd = fd;
	}
	return m->fd;
}

static inline int bpf_map_lookup_elem_flags(int fd, const void *key,
					    void *value, uint64_t flags)
{
	return libbpf_wasm_host_err(wasm_bpf_map_operate(
		fd, WASM_BPF_MAP_LOOKUP_ELEM, (void *)key, value, NULL, flags));
}

static inline int bpf_map_lookup_elem(int fd, const void *key, void *value)
{
	return bpf_map_lookup_elem_flags(fd, key, value, 0);
}

static inline int bpf_map_update_elem(int fd, const void *key,
				      const void *value, uint64_t flags)
{
	return libbpf_wasm_host_err(wasm_bpf_map_operate(fd, WASM_BPF_MAP_UPDATE_ELEM,
						    (void *)key, (void *)value,
						    NULL, flags));
}

static inline int bpf_map_delete_elem_flags(int fd, const void *key,
					    uint64_t flags)
{
	return libbpf_wasm_host_err(wasm_bpf_map_operate(
		fd, WASM_BPF_MAP_DELETE_ELEM, (void *)key, NULL, NULL, flags));
}

static inline int bpf_map_delete_elem(int fd, const void *key)
{
	return bpf_map_delete_elem_flags(fd, key, 0);
}

/* key NULL: the first key. -ENOENT after the last one. */
static inline int bpf_map_get_next_key(int fd, const void *key,
				       void *next_key)
{
	return libbpf_wasm_host_err(wasm_bpf_map_operate(fd,
						    WASM_BPF_MAP_GET_NEXT_KEY,
						    (void *)key, NULL, next_key,
						    0));
}

/* ---- ring and perf buffers ---- */

/* Called for each record; return 0 to go on, non-zero to stop the batch. */
typedef int (*bpf_buffer_sample_fn)(void *ctx, void *data, size_t size);

struct bpf_buffer {
	uint64_t handle;
	int fd;
	bpf_buffer_sample_fn fn;
	void *ctx;
	void *data;
	size_t max_size;
	int stop; /* the callback's non-zero return, which ended a batch */
	/* bpf_buffer__poll_batch: records fetched but not yet handed over */
	unsigned char *batch;
	size_t batch_size, batch_off, batch_len;
};

/* The table entry the host calls: runs the user's callback and remembers a
 * non-zero return, so bpf_buffer__poll can tell it from a host errno. */
static inline int libbpf_wasm_sample(void *ctx, void *data, uint32_t size)
{
	struct bpf_buffer *b = (struct bpf_buffer *)ctx;
	int ret = b->fn(b->ctx, data, size);
	if (ret)
		b->stop = ret;
	return ret;
}

/* A consumer of a BPF_MAP_TYPE_RINGBUF or PERF_EVENT_ARRAY map of a loaded
 * object; records longer than max_record_size are cut to it. It starts
 * consuming at once: fn may already run inside this call. */
static inline struct bpf_buffer *bpf_buffer__open_sized(struct bpf_map *map,
							bpf_buffer_sample_fn fn,
							void *ctx,
							size_t max_record_size)
{
	struct bpf_buffer *b;
	int ret, fd = bpf_map__fd(map);
	if (fd < 0)
		return NULL;
	if (!fn || max_record_size == 0 || max_record_size > INT32_MAX) {
		errno = EINVAL;
		return NULL;
	}
	b = (struct bpf_buffer *)calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->data = malloc(max_record_size);
	if (!b->data) {
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	b->handle = map->obj->handle;
	b->fd = fd;
	b->fn = fn;
	b->ctx = ctx;
	b->max_size = max_record_size;
	/* The host creates the consumer on the first poll: start it now, as
	 * libbpf's ring_buffer__new/perf_buffer__new do, so a perf buffer
	 * loses nothing written between open and the first poll (records
	 * already there are handed to fn right away). */
	b->stop = 0;
	ret = wasm_bpf_buffer_poll(b->handle, b->fd, libbpf_wasm_sample, b,
				   b->data, (int)b->max_size, 0);
	if (ret < 0 && !(b->stop && ret == b->stop)) {
		ret = libbpf_wasm_host_err(ret);
		free(b->data);
		free(b);
		errno = -ret;
		return NULL;
	}
	return b;
}

static inline struct bpf_buffer *bpf_buffer__open(struct bpf_map *map,
						  bpf_buffer_sample_fn fn,
						  void *ctx)
{
	return bpf_buffer__open_sized(map, fn, ctx,
				      BPF_BUFFER_DEFAULT_MAX_RECORD);
}

/* Waits at most timeout_ms; returns the records handled, a negative errno,
 * or the callback's non-zero return (which ends the batch). */
static inline int bpf_buffer__poll(struct bpf_buffer *b, int timeout_ms)
{
	int ret;
	if (!b)
		return libbpf_wasm_err(-EINVAL);
	b->stop = 0;
	ret = wasm_bpf_buffer_poll(b->handle, b->fd, libbpf_wasm_sample, b,
				   b->data, (int)b->max_size, timeout_ms);
	if (b->stop && ret == b->stop)
		return ret;
	return libbpf_wasm_host_err(ret);
}

/* Polls until the program is interrupted (Ctrl-C: the host ends a wait
 * with -EINTR) and returns 0 then; or returns the first failure, a negative
 * errno, or the callback's non-zero return (which ends the batch, as with
 * bpf_buffer__poll). Each wait lasts at most timeout_ms. The usual main loop:
 *	err = bpf_buffer__poll_until_interrupted(rb, 100);
 *	if (err)
 *		wasm_bpf_perror(err, "tool: polling ring buffer"); */
static inline int bpf_buffer__poll_until_interrupted(struct bpf_buffer *b,
						     int timeout_ms)
{
	int ret;

	for (;;) {
		ret = bpf_buffer__poll(b, timeout_ms);
		if (ret == -EINTR)
			return 0;
		if (ret < 0 || (b && b->stop && ret == b->stop))
			return ret;
	}
}

/* As bpf_buffer__poll, but the records arrive many per host call through
 * this project's extension import wasm_bpf_ext.wasm_bpf_buffer_poll_batch
 * (host/ABI.md): several times faster for busy buffers, and the callback
 * runs without a host round trip per record. Records after one whose
 * callback returned non-zero are kept for the next call, so none is lost.
 * A guest that calls it runs only on hosts that provide the extension. */
static inline int bpf_buffer__poll_batch(struct bpf_buffer *b, int timeout_ms)
{
	int n = 0, ret;

	if (!b)
		return libbpf_wasm_err(-EINVAL);
	if (!b->batch) {
		b->batch_size = b->max_size + 8 > 65536 ?
					((b->max_size + 15) & ~(size_t)7) :
					65536;
		b->batch = (unsigned char *)malloc(b->batch_size);
		if (!b->batch)
			return libbpf_wasm_err(-ENOMEM);
	}
	b->stop = 0;
	if (b->batch_off >= b->batch_len) {
		ret = wasm_bpf_buffer_poll_batch(b->handle, b->fd, b->batch,
						 (int)b->batch_size, timeout_ms);
		if (ret < 0)
			return libbpf_wasm_host_err(ret);
		b->batch_off = 0;
		b->batch_len = (size_t)ret;
	}
	while (b->batch_off + 8 <= b->batch_len) {
		uint32_t copied;
		unsigned char *rec = b->batch + b->batch_off;

		memcpy(&copied, rec + 4, sizeof(copied));
		b->batch_off += 8 + ((copied + 7) & ~(uint32_t)7);
		n++;
		ret = b->fn(b->ctx, rec + 8,
			    copied < b->max_size ? copied : b->max_size);
		if (ret) {
			b->stop = ret;
			return ret;
		}
	}
	return n;
}

static inline void bpf_buffer__free(struct bpf_buffer *b)
{
	if (!b)
		return;
	free(b->batch);
	free(b->data);
	free(b);
}

/* ---- objects (used by generated skeletons) ---- */

static inline int bpf_object_skeleton__setup(
	struct bpf_object_skeleton *obj, const char *name, const void *elf,
	size_t elf_size, const struct bpf_program_spec *prog_specs,
	int prog_cnt, struct bpf_program *progs, const char *const *map_names,
	int map_cnt, struct bpf_map *maps,
	const struct bpf_global_spec *global_specs, int global_cnt,
	struct bpf_global_section *globals)
{
	int i;
	obj->name = name;
	obj->handle = 0;
	obj->progs = progs;
	obj->prog_cnt = prog_cnt;
	obj->maps = maps;
	obj->map_cnt = map_cnt;
	obj->globals = globals;
	obj->global_cnt = 0;
	obj->elf = (unsigned char *)malloc(elf_size);
	if (!obj->elf)
		return libbpf_wasm_err(-ENOMEM);
	memcpy(obj->elf, elf, elf_size);
	obj->elf_size = elf_size;
	for (i = 0; i < prog_cnt; i++) {
		progs[i].name = prog_specs[i].name;
		progs[i].section = prog_specs[i].section;
		progs[i].attach_target = NULL;
		progs[i].autoload = prog_specs[i].autoload;
		progs[i].autoattach = true;
		progs[i].obj = obj;
		progs[i].sh_name_field = prog_specs[i].sh_name_field;
		progs[i].sh_name = prog_specs[i].sh_name;
	}
	for (i = 0; i < map_cnt; i++) {
		maps[i].name = map_names[i];
		maps[i].obj = obj;
		maps[i].fd = -1;
	}
	for (i = 0; i < global_cnt; i++) {
		const struct bpf_global_spec *g = &global_specs[i];
		globals[i].name = g->name;
		globals[i].size = g->size;
		globals[i].bss = g->bss != 0;
		if (g->bss) {
			globals[i].mem = calloc(1, g->alloc_size);
			if (!globals[i].mem)
				return libbpf_wasm_err(-ENOMEM);
		} else {
			if ((size_t)g->file_offset + g->size > elf_size)
				return libbpf_wasm_err(-EINVAL);
			globals[i].mem = obj->elf + g->file_offset;
		}
		obj->global_cnt = i + 1;
	}
	return 0;
}

static inline void libbpf_wasm_put_u32(unsigned char *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = (v >> 24) & 0xff;
}

static inline int bpf_object_skeleton__load(struct bpf_object_skeleton *obj)
{
	int i, j;
	if (obj->handle)
		return libbpf_wasm_err(-EBUSY);
	/* autoload: a section is named "?name" (not loaded) when none of its
	 * programs is to be loaded */
	for (i = 0; i < obj->prog_cnt; i++) {
		struct bpf_program *p = &obj->progs[i];
		bool load = false;
		for (j = 0; j < obj->prog_cnt; j++) {
			if (obj->progs[j].sh_name_field == p->sh_name_field &&
			    obj->progs[j].autoload)
				load = true;
		}
		if (p->sh_name_field + 4 > obj->elf_size || p->sh_name == 0)
			return libbpf_wasm_err(-EINVAL);
		libbpf_wasm_put_u32(obj->elf + p->sh_name_field,
				    load ? p->sh_name : p->sh_name - 1);
	}
	obj->handle = wasm_load_bpf_object(obj->elf, (int)obj->elf_size);
	if (!obj->handle)
		return libbpf_wasm_err(-EINVAL);
	/* .bss is not in the ELF: write it into its map if anything is set */
	for (i = 0; i < obj->global_cnt; i++) {
		struct bpf_global_section *g = &obj->globals[i];
		const unsigned char *m = (const unsigned char *)g->mem;
		uint32_t k, key = 0;
		int fd, err;
		if (!g->bss)
			continue;
		for (k = 0; k < g->size && !m[k]; k++)
			;
		if (k == g->size)
			continue;
		fd = wasm_bpf_map_fd_by_name(obj->handle, g->name);
		if (fd < 0)
			return libbpf_wasm_host_err(fd);
		err = wasm_bpf_map_operate(fd, WASM_BPF_MAP_UPDATE_ELEM, &key,
					   g->mem, NULL, BPF_ANY);
		if (err < 0)
			return libbpf_wasm_host_err(err);
	}
	return 0;
}

/* Attaches every loaded program with autoattach on. Like libbpf, programs
 * whose section cannot be attached without a target (xdp, sockops,
 * cgroup/..., socket, tc, perf_event, uprobe without a full spec...) are
 * skipped unless bpf_program__set_attach_target gave one. */
static inline bool libbpf_wasm_needs_target(const char *sec)
{
	static const char *const prefixes[] = {
		"xdp", "socket", "sockops", "cgroup", "tc", "classifier",
		"action", "perf_event", "sk_skb", "sk_msg", "sk_lookup",
		"sk_reuseport", "flow_dissector", "lwt_", "netfilter",
		"struct_ops", "syscall", "freplace", NULL,
	};
	int i;
	if (sec[0] == '?')
		sec++;
	if (!strcmp(sec, "uprobe") || !strcmp(sec, "uretprobe") ||
	    !strcmp(sec, "uprobe.s") || !strcmp(sec, "uretprobe.s") ||
	    !strcmp(sec, "usdt") || !strcmp(sec, "kprobe") ||
	    !strcmp(sec, "kretprobe") || !strcmp(sec, "tp") ||
	    !strcmp(sec, "tracepoint") || !strcmp(sec, "raw_tp") ||
	    !strcmp(sec, "raw_tracepoint"))
		return true;
	for (i = 0; prefixes[i]; i++) {
		size_t n = strlen(prefixes[i]);
		if (!strncmp(sec, prefixes[i], n) &&
		    (sec[n] == '\0' || sec[n] == '/' || sec[n] == '.' ||
		     sec[n] == '_' || prefixes[i][n - 1] == '_'))
			return true;
	}
	return false;
}

static inline int bpf_object_skeleton__attach(struct bpf_object_skeleton *obj)
{
	int i, err;
	if (!obj->handle)
		return libbpf_wasm_err(-EINVAL);
	for (i = 0; i < obj->prog_cnt; i++) {
		struct bpf_program *p = &obj->progs[i];
		if (!p->autoload || !p->autoattach)
			continue;
		if ((!p->attach_target || !p->attach_target[0]) &&
		    libbpf_wasm_needs_target(p->section))
			continue;
		err = wasm_attach_bpf_program(
			obj->handle, p->name,
			p->attach_target ? p->attach_target : "");
		if (err < 0)
			return libbpf_wasm_host_err(err);
	}
	return 0;
}

/* Links live as long as the object (the host has no detach): a no-op. */
static inline void bpf_object_skeleton__detach(struct bpf_object_skeleton *obj)
{
	(void)obj;
}

static inline void bpf_object_skeleton__destroy(struct bpf_object_skeleton *obj)
{
	int i;
	if (obj->handle)
		wasm_close_bpf_object(obj->handle);
	obj->handle = 0;
	for (i = 0; i < obj->global_cnt; i++) {
		if (obj->globals[i].bss)
			free(obj->globals[i].mem);
		obj->globals[i].mem = NULL;
	}
	obj->global_cnt = 0;
	free(obj->elf);
	obj->elf = NULL;
}

#endif /* LIBBPF_WASM_H */
