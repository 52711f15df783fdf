// SPDX-License-Identifier: GPL-2.0
/* The kernel side is the example's own, without the global that names
 * struct event in BTF: as in most upstream BPF code, the record type is used
 * only through local pointers, so it is not in this object's BTF and
 * bootstrap.wasm.h must get it from bootstrap.h (this folder's, picked up by
 * the build rule). This folder tests the user side. */
#define BOOTSTRAP_NO_EVENT_BTF
#include "../../../examples/bootstrap/bootstrap.bpf.c"
