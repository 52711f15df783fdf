// SPDX-License-Identifier: GPL-2.0
/* The kernel side is the example's own: this folder tests the user side,
 * written against the upstream wasm-bpf C API (and xdp.h, for --header). */
#include "../../../examples/xdp/xdp.bpf.c"
