// SPDX-License-Identifier: GPL-2.0
/* lsm: deny the removal of directories with a chosen name through a BPF LSM
 * program on the path_rmdir hook (user-space half, wasm32-wasi).
 *
 *   lsm DIR
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "libbpf-wasm.h"
#include "lsm.skel.h"
#include "lsm.h"

static const char usage[] =
	"usage: lsm [-h] DIR\n"
	"\n"
	"Deny rmdir() of every directory named like the last component of DIR\n"
	"(matched by name, wherever it is), with a BPF LSM program on the\n"
	"path_rmdir hook; print one line per denial. Needs a kernel with BPF LSM\n"
	"enabled (CONFIG_BPF_LSM=y and 'bpf' in its lsm= list).\n"
	"\n"
	"  -h      show this help\n";

static int handle_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;
	char ts[32];
	time_t t;

	if (size < sizeof(*e)) {
		fprintf(stderr, "lsm: short record (%zu bytes)\n", size);
		return 0;
	}
	time(&t);
	strftime(ts, sizeof(ts), "%H:%M:%S", gmtime(&t));
	printf("%-8s DENIED rmdir %s pid %u uid %u comm %s\n", ts, e->name,
	       e->pid, e->uid, e->comm);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_buffer *rb = NULL;
	struct config cfg = {};
	struct lsm_bpf *skel;
	const char *name, *slash;
	size_t len;
	__u32 zero = 0;
	int opt, err;

	setvbuf(stdout, NULL, _IOLBF, 0);

	while ((opt = getopt(argc, argv, "h")) != -1) {
		switch (opt) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, optind < argc ?
			"lsm: exactly one DIR expected\n" :
			"lsm: missing DIR\n");
		fputs(usage, stderr);
		return 2;
	}
	/* the last non-empty path component */
	len = strlen(argv[optind]);
	while (len > 1 && argv[optind][len - 1] == '/')
		argv[optind][--len] = 0;
	slash = strrchr(argv[optind], '/');
	name = slash ? slash + 1 : argv[optind];
	len = strlen(name);
	if (len == 0 || len >= NAME_LEN || !strcmp(name, ".") ||
	    !strcmp(name, "..")) {
		fprintf(stderr, "lsm: invalid DIR '%s' (a directory name of 1 to %d bytes expected)\n",
			argv[optind], NAME_LEN - 1);
		return 2;
	}
	memcpy(cfg.name, name, len);

	skel = lsm_bpf__open();
	if (!skel) {
		wasm_bpf_perror(-errno, "lsm: failed to open BPF object");
		return 1;
	}
	err = lsm_bpf__load(skel);
	if (err) {
		fprintf(stderr,
			"lsm: the kernel refused to load the BPF LSM program deny_rmdir (lsm/path_rmdir): BPF LSM needs CONFIG_BPF_LSM=y, 'bpf' in the kernel's lsm= list and BPF trampolines allowed (the host's message has the kernel's answer)\n");
		goto cleanup;
	}
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.settings), &zero, &cfg,
				  BPF_ANY);
	if (err) {
		wasm_bpf_perror(err,
			"lsm: failed to configure the directory name");
		goto cleanup;
	}
	err = lsm_bpf__attach(skel);
	if (err) {
		fprintf(stderr,
			"lsm: the kernel refused to attach the BPF LSM program deny_rmdir (lsm/path_rmdir): %s, and BPF LSM needs CONFIG_BPF_LSM=y, 'bpf' in the kernel's lsm= list and BPF trampolines allowed\n",
			wasm_bpf_strerror(err));
		goto cleanup;
	}
	/* attached: from here on the ring buffer keeps every event */
	printf("Denying rmdir of directories named '%s'; hit Ctrl-C to end.\n",
	       cfg.name);
	rb = bpf_buffer__open(skel->maps.events, handle_event, NULL);
	if (!rb) {
		err = wasm_bpf_perror(-errno,
			"lsm: failed to open ring buffer");
		goto cleanup;
	}

	/* until Ctrl-C */
	err = bpf_buffer__poll_until_interrupted(rb, 100);
	if (err)
		wasm_bpf_perror(err, "lsm: polling ring buffer");

cleanup:
	bpf_buffer__free(rb);
	lsm_bpf__destroy(skel);
	return err < 0 ? 1 : 0;
}
