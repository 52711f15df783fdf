// Error paths, maps and batch polling of the Go SDK, run on the real host
// by tests/sdk_go_test.ts. Prints one "name: result" line per check; every
// failure must come back as an error value, never a trap. The BPF object is
// wasm-sdk/tests/errors.bpf.c (shared with the Rust and AssemblyScript tests),
// compiled into bpfobj/ by scripts/build-sdk.sh.
package main

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"slices"

	"wasmbpf.local/sdk"
)

//go:embed bpfobj/errors.bpf.o
var bpfObject []byte

func show(name string, v any, err error) {
	var e *wasmbpf.Error
	switch {
	case errors.As(err, &e):
		fmt.Printf("%s: err errno=%d %v\n", name, int32(e.Errno), err)
	case err != nil:
		fmt.Printf("%s: err %v\n", name, err)
	default:
		fmt.Printf("%s: ok %v\n", name, v)
	}
}

type record struct {
	Magic uint32
	Pid   uint32
	Comm  [16]byte
}

func main() {
	_, err := wasmbpf.Load([]byte("definitely not an ELF object"))
	show("load-garbage", nil, err)
	_, err = wasmbpf.Load(nil)
	show("load-empty", nil, err)

	file := wasmbpf.NewObjectFile(bpfObject)
	one := uint32(1)
	show("set-global-unknown", nil, file.SetGlobal("no_such_global", wasmbpf.Bytes(&one)))
	wide := uint64(1)
	show("set-global-size", nil, file.SetGlobal("magic", wasmbpf.Bytes(&wide)))
	magic := uint32(0x5eed)
	show("set-global", nil, file.SetGlobal("magic", wasmbpf.Bytes(&magic)))

	obj, err := file.Load()
	if err != nil {
		fmt.Printf("load: err %v\n", err)
		os.Exit(1)
	}
	fmt.Println("load: ok")
	_, err = obj.Map("no_such_map")
	show("map-unknown", nil, err)
	show("map-unknown-is-enoent", errors.Is(err, wasmbpf.ENOENT), nil)
	show("attach-unknown", nil, obj.Attach("no_such_prog"))
	_, err = obj.Buffer("no_such_map", 4096)
	show("buffer-unknown", nil, err)

	counts, err := obj.Map("counts")
	if err != nil {
		fmt.Printf("counts: err %v\n", err)
		os.Exit(1)
	}
	v, ok, err := wasmbpf.Get[uint32, uint64](counts, 7)
	show("get-missing", fmt.Sprint(v, ok), err)
	ok, err = wasmbpf.Remove(counts, uint32(7))
	show("remove-missing", ok, err)
	for k := uint32(1); k <= 3; k++ {
		show("set", nil, wasmbpf.Set(counts, k, uint64(k)*100, wasmbpf.Any))
	}
	show("set-noexist", nil, wasmbpf.Set(counts, uint32(1), uint64(1), wasmbpf.NoExist))
	v, ok, err = wasmbpf.Get[uint32, uint64](counts, 2)
	show("get", fmt.Sprint(v, ok), err)
	var keys []uint32
	for k, err := range wasmbpf.Keys[uint32](counts) {
		if err != nil {
			show("keys", nil, err)
			break
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Printf("keys: %v\n", keys)
	ok, err = wasmbpf.Remove(counts, uint32(2))
	show("remove", ok, err)

	_, err = obj.Buffer("counts", 4096)
	show("buffer-hash-map", nil, err)

	// a 16-byte buffer holds one header and 8 of a record's 24 bytes
	small, _ := obj.Buffer("rb", 16)
	rb, _ := obj.Buffer("rb", 4096)
	// attached once both consumers exist, so no record waits in either
	show("attach", nil, obj.Attach("on_getppid"))
	truncated, whole := false, false
	for i := 0; i < 100 && !(truncated && whole); i++ {
		var err error
		if !truncated {
			_, err = small.Poll(100, func(r wasmbpf.Record) {
				if r.Truncated() && r.Size == 24 && len(r.Data) == 8 {
					m, _ := wasmbpf.Read[uint32](r)
					fmt.Printf("poll-truncated: size=%d copied=%d magic=0x%x\n", r.Size, len(r.Data), m)
					truncated = true
				}
			})
		} else {
			_, err = rb.Poll(100, func(r wasmbpf.Record) {
				if rec, ok := wasmbpf.Read[record](r); ok && rec.Magic == 0x5eed && !whole {
					fmt.Printf("poll: size=%d magic=0x%x\n", r.Size, rec.Magic)
					whole = true
				}
			})
		}
		if errors.Is(err, wasmbpf.EINTR) {
			break
		}
		if err != nil {
			show("poll", nil, err)
			break
		}
	}
	show("close", nil, obj.Close())
	show("close-again", nil, obj.Close())
	fmt.Println("done")
}
