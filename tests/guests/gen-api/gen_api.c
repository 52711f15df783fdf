/* Exercises libbpf-wasm.h call by call; the test's stand-in host records
 * what arrives and answers with Linux errnos. Prints "what result" lines. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "libbpf-wasm.h"
#include "gen_api.skel.h"

static int calls;

static int stop_at_second(void *ctx, void *data, size_t size)
{
	calls++;
	printf("record ctx=%s size=%zu first=%u\n", (const char *)ctx, size,
	       ((const unsigned char *)data)[0]);
	return calls == 2 ? 7 : 0;
}

int main(void)
{
	struct gen_api_bpf *skel = gen_api_bpf__open();
	struct bpf_buffer *b;
	uint32_t key = 5, next = 0;
	uint64_t val = 0x1122334455667788ULL;
	int err;

	printf("fd_before_load %d\n", bpf_map__fd(skel->maps.kv) == -EINVAL);
	printf("names %s %s %s\n", bpf_program__name(skel->progs.on_xdp),
	       bpf_program__section_name(skel->progs.on_xdp),
	       bpf_map__name(skel->maps.kv));
	bpf_program__set_autoattach(skel->progs.on_raw, false);
	printf("attach_prog_fd %d\n",
	       bpf_program__set_attach_target(skel->progs.on_tp, 3, "x") ==
		       -EOPNOTSUPP);
	err = gen_api_bpf__load(skel);
	printf("load %d\n", err);
	printf("attach %d\n", gen_api_bpf__attach(skel)); /* on_tp only */
	bpf_program__set_attach_target(skel->progs.on_xdp, 0, "lo");
	printf("attach_xdp %d\n", bpf_program__attach(skel->progs.on_xdp));
	/* the stand-in refuses sockops with Linux EPERM (1) */
	bpf_program__set_attach_target(skel->progs.on_sockops, 0, "/cg");
	err = bpf_program__attach(skel->progs.on_sockops);
	printf("attach_sockops eperm=%d errno=%d\n", err == -EPERM,
	       errno == EPERM);

	printf("update %d\n",
	       bpf_map_update_elem(bpf_map__fd(skel->maps.kv), &key, &val,
				   BPF_NOEXIST));
	printf("lookup_flags %d\n",
	       bpf_map_lookup_elem_flags(bpf_map__fd(skel->maps.kv), &key,
					 &val, BPF_F_LOCK));
	printf("delete %d\n", bpf_map_delete_elem(bpf_map__fd(skel->maps.kv),
						  &key));
	err = bpf_map_get_next_key(bpf_map__fd(skel->maps.kv), NULL, &next);
	printf("first_key %d %u\n", err, next);
	err = bpf_map_get_next_key(bpf_map__fd(skel->maps.kv), &next, &next);
	printf("next_key enoent=%d\n", err == -ENOENT);
	printf("strerror %s\n", wasm_bpf_strerror(-ENOENT));

	b = bpf_buffer__open_sized(skel->maps.rb, stop_at_second, "ctx!", 16);
	err = bpf_buffer__poll(b, 25);
	printf("poll_stop %d calls=%d\n", err, calls);
	err = bpf_buffer__poll(b, 25); /* the stand-in: Linux EINTR (4) */
	printf("poll_eintr %d\n", err == -EINTR);
	bpf_buffer__free(b);
	/* the stand-in refuses a buffer on a hash map (Linux EINVAL) at open */
	printf("buffer_wrong_map %d\n",
	       bpf_buffer__open(skel->maps.kv, stop_at_second, NULL) == NULL &&
		       errno == EINVAL);
	printf("buffer_null %d\n",
	       bpf_buffer__open(skel->maps.rb, NULL, NULL) == NULL &&
		       errno == EINVAL);
	gen_api_bpf__detach(skel);
	gen_api_bpf__destroy(skel);
	printf("done\n");
	return 0;
}
