/* Guest for the generator's end-to-end test: sets .rodata/.data/.bss
 * globals before load through the skeleton, turns one program's autoload
 * off (fentry is refused on the test machines), loads, attaches, reads the
 * internal maps back and reads ring-buffer records with the types header.
 * Prints "key value" lines; the test checks them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "libbpf-wasm.h"
#include "gen_basic.skel.h"
#include "gen_basic.wasm.h"

static int events_seen;

static int on_event(void *ctx, void *data, size_t size)
{
	const struct gen_event *e = data;
	(void)ctx;
	if (size < sizeof(*e)) {
		printf("short_record %zu\n", size);
		return 1;
	}
	if (events_seen++ == 0)
		printf("event kind=%d pid=%u comm_len=%zu ts_nonzero=%d\n",
		       (int)e->kind, e->pid, strnlen(e->comm, sizeof(e->comm)),
		       e->ts != 0);
	return 0;
}

int main(void)
{
	struct gen_basic_bpf *skel = gen_basic_bpf__open();
	struct gen_basic_bpf__rodata ro;
	struct gen_basic_bpf__data da;
	struct gen_basic_bpf__bss bs;
	struct bpf_buffer *rb;
	uint32_t zero = 0;
	int err, i;

	if (!skel) {
		printf("open_failed %d\n", errno);
		return 1;
	}
	skel->rodata->min_duration_ns = 123456789;
	skel->rodata->verbose = true;
	memcpy((char *)skel->rodata->prefix, "xyz", 4);
	skel->data->data_counter = 1000;
	skel->bss->bss_total = 5000;
	skel->bss->bss_inner.s = -7;
	bpf_program__set_autoload(skel->progs.on_unlink, false);
	/* SEC("?...") starts with autoload off */
	printf("maybe_autoload %d\n",
	       bpf_program__autoload(skel->progs.maybe_getppid));
	bpf_program__set_autoload(skel->progs.maybe_getppid, true);
	err = gen_basic_bpf__load(skel);
	printf("load %d\n", err);
	if (err)
		goto out;
	printf("autoload_after_load %d\n",
	       bpf_program__set_autoload(skel->progs.handle_exec, false));
	err = gen_basic_bpf__attach(skel);
	printf("attach %d\n", err);
	if (err)
		goto out;

	err = bpf_map_lookup_elem(bpf_map__fd(skel->maps.rodata), &zero, &ro);
	printf("rodata_lookup %d min_duration_ns=%llu verbose=%d prefix=%s\n",
	       err, (unsigned long long)ro.min_duration_ns, ro.verbose,
	       (const char *)ro.prefix);
	err = bpf_map_lookup_elem(bpf_map__fd(skel->maps.bss), &zero, &bs);
	printf("bss_lookup %d bss_total_ge=%d inner_s=%d\n", err,
	       bs.bss_total >= 5000, bs.bss_inner.s);

	{
		struct gen_key missing = { .a = 0xfffffff0, .b = 9 };
		uint64_t val;
		err = bpf_map_lookup_elem(bpf_map__fd(skel->maps.counts),
					  &missing, &val);
		/* the host's Linux ENOENT arrives as this libc's ENOENT */
		printf("missing_key %d\n", err == -ENOENT && errno == ENOENT);
	}

	rb = bpf_buffer__open(skel->maps.events, on_event, NULL);
	printf("buffer %s\n", rb ? "ok" : "failed");
	for (i = 0; rb && i < 50 && !events_seen; i++)
		bpf_buffer__poll(rb, 100);
	printf("events_seen %d\n", events_seen > 0);
	bpf_buffer__free(rb);
	err = bpf_map_lookup_elem(bpf_map__fd(skel->maps.data), &zero, &da);
	printf("data_lookup %d data_counter_ge=%d\n", err,
	       da.data_counter >= 1000);
	err = 0;
out:
	gen_basic_bpf__destroy(skel);
	printf("done\n");
	return err ? 1 : 0;
}
