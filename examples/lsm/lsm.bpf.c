// SPDX-License-Identifier: GPL-2.0
/* lsm: a BPF LSM program on the path_rmdir hook that denies (EPERM) the
 * removal of every directory with a chosen name and reports each denial. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lsm.h"

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct config);
} settings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

SEC("lsm/path_rmdir")
int BPF_PROG(deny_rmdir, const struct path *dir, struct dentry *dentry,
	     int ret)
{
	char name[NAME_LEN] = {};
	struct config *cfg;
	struct event *e;
	u32 zero = 0;
	int i;

	if (ret)
		return ret; /* an earlier LSM already decided */
	cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg || !cfg->name[0])
		return 0;
	bpf_probe_read_kernel_str(name, sizeof(name),
				  BPF_CORE_READ(dentry, d_name.name));
	for (i = 0; i < NAME_LEN; i++) {
		if (name[i] != cfg->name[i])
			return 0;
		if (!name[i])
			break;
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		e->uid = (u32)bpf_get_current_uid_gid();
		bpf_get_current_comm(&e->comm, sizeof(e->comm));
		__builtin_memcpy(e->name, name, sizeof(e->name));
		bpf_ringbuf_submit(e, 0);
	}
	return -EPERM;
}
