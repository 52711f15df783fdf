// go-execve: every execve() call with its filename and argv[0], through a
// perf buffer read with the batch extension. The Go twin of examples/execve.
//
//	go-execve [-h]
//
// Built by scripts/build-sdk.sh go (GOOS=wasip1 GOARCH=wasm, Go 1.23); the
// BPF object, the C example's (examples/execve/execve.bpf.c), is compiled
// into bpfobj/ and embedded.
package main

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"os"

	"wasmbpf.local/sdk"
)

//go:embed bpfobj/execve.bpf.o
var bpfObject []byte

const usage = `usage: go-execve [-h]

Trace execve() calls: one line per call (PID PPID UID COMM FILENAME ARGV0).
`

// event is struct event of examples/execve/execve.h.
type event struct {
	Pid      uint32
	Ppid     uint32
	Uid      uint32
	Pad      uint32
	Comm     [16]byte
	Filename [128]byte
	Argv0    [128]byte
}

func run() int {
	for _, a := range os.Args[1:] {
		if a == "-h" || a == "--help" {
			fmt.Print(usage)
			return 0
		}
		fmt.Fprintf(os.Stderr, "go-execve: unexpected argument '%s'\n%s", a, usage)
		return 2
	}
	obj, err := wasmbpf.Load(bpfObject)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-execve: %v\n", err)
		return 1
	}
	defer obj.Close()
	if err := obj.Attach("tracepoint__syscalls__sys_enter_execve"); err != nil {
		fmt.Fprintf(os.Stderr, "go-execve: %v\n", err)
		return 1
	}
	events, err := obj.Buffer("events", 64*1024)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-execve: %v\n", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "%-7s %-7s %-5s %-16s %s %s\n", "PID", "PPID", "UID", "COMM", "FILENAME", "ARGV0")
	out.Flush()
	for {
		_, err := events.Poll(100, func(r wasmbpf.Record) {
			e, ok := wasmbpf.Read[event](r)
			if !ok {
				fmt.Fprintf(os.Stderr, "go-execve: short record (%d bytes)\n", len(r.Data))
				return
			}
			fmt.Fprintf(out, "%-7d %-7d %-5d %-16s %s %s\n", e.Pid, e.Ppid, e.Uid,
				wasmbpf.CString(e.Comm[:]), wasmbpf.CString(e.Filename[:]), wasmbpf.CString(e.Argv0[:]))
		})
		out.Flush()
		if errors.Is(err, wasmbpf.EINTR) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "go-execve: %v\n", err)
			return 1
		}
	}
}

func main() { os.Exit(run()) }
