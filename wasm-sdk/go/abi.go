//go:build wasip1

package wasmbpf

import "unsafe"

// The raw host ABI. Go 1.23 guests cannot export functions, so records are
// read through the wasm_bpf_ext batch extension instead of the table
// callback of wasm_bpf_buffer_poll. The Go linker imports only the
// functions a program reaches.

//go:wasmimport wasm_bpf wasm_load_bpf_object
func wasmLoadBpfObject(obj unsafe.Pointer, objLen int32) uint64

//go:wasmimport wasm_bpf wasm_close_bpf_object
func wasmCloseBpfObject(handle uint64) int32

//go:wasmimport wasm_bpf wasm_attach_bpf_program
func wasmAttachBpfProgram(handle uint64, name unsafe.Pointer, target unsafe.Pointer) int32

//go:wasmimport wasm_bpf wasm_bpf_map_fd_by_name
func wasmBpfMapFdByName(handle uint64, name unsafe.Pointer) int32

//go:wasmimport wasm_bpf wasm_bpf_map_operate
func wasmBpfMapOperate(fd int32, cmd int32, key unsafe.Pointer, value unsafe.Pointer, nextKey unsafe.Pointer, flags uint64) int32

//go:wasmimport wasm_bpf_ext wasm_bpf_buffer_poll_batch
func wasmBpfBufferPollBatch(handle uint64, mapFd int32, buf unsafe.Pointer, bufLen int32, timeoutMs int32) int32
