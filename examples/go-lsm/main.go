// go-lsm: a BPF LSM program (lsm/bprm_check_security) that reports every
// program about to be executed, read with the batch extension.
//
//	go-lsm [-h]
//
// Kernels without BPF LSM (CONFIG_BPF_LSM, "bpf" in the active LSM list) or
// that forbid it refuse to load the program: go-lsm then prints one line
// naming that cause and exits 1. It tells that case from BPF failing in
// general by loading a control object with an ordinary tracepoint program.
package main

import (
	"bufio"
	_ "embed"
	"errors"
	"fmt"
	"os"

	"wasmbpf.local/sdk"
)

//go:embed bpfobj/go-lsm.bpf.o
var lsmObject []byte

//go:embed bpfobj/control.bpf.o
var controlObject []byte

const usage = `usage: go-lsm [-h]

Report every program about to be executed (PID UID COMM FILENAME), from a
BPF LSM hook (lsm/bprm_check_security). Needs a kernel with BPF LSM enabled.
`

type event struct {
	Pid      uint32
	Uid      uint32
	Comm     [16]byte
	Filename [128]byte
}

// explainLoadFailure names why go-lsm.bpf.o did not load.
func explainLoadFailure() string {
	ctl, err := wasmbpf.Load(controlObject)
	if err != nil {
		return "go-lsm: cannot load BPF programs at all (an ordinary tracepoint program fails too): check privileges (CAP_BPF/root) and the host's stderr"
	}
	ctl.Close()
	return "go-lsm: the kernel refused the BPF LSM program check_exec (lsm/bprm_check_security) while ordinary BPF programs load: BPF LSM needs CONFIG_BPF_LSM=y, 'bpf' in the kernel's lsm= list and BPF trampolines allowed (the host's message has the kernel's answer)"
}

func run() int {
	for _, a := range os.Args[1:] {
		if a == "-h" || a == "--help" {
			fmt.Print(usage)
			return 0
		}
		fmt.Fprintf(os.Stderr, "go-lsm: unexpected argument '%s'\n%s", a, usage)
		return 2
	}
	obj, err := wasmbpf.Load(lsmObject)
	if err != nil {
		fmt.Fprintln(os.Stderr, explainLoadFailure())
		return 1
	}
	defer obj.Close()
	if err := obj.Attach("check_exec"); err != nil {
		if errors.Is(err, wasmbpf.EPERM) || errors.Is(err, wasmbpf.EOPNOTSUPP) {
			fmt.Fprintf(os.Stderr, "go-lsm: the kernel refused to attach the BPF LSM program: %v (BPF LSM is not enabled: it needs \"bpf\" in the lsm= boot list)\n", err)
		} else {
			fmt.Fprintf(os.Stderr, "go-lsm: %v\n", err)
		}
		return 1
	}
	events, err := obj.Buffer("events", 64*1024)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-lsm: %v\n", err)
		return 1
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "%-7s %-5s %-16s %s\n", "PID", "UID", "COMM", "FILENAME")
	out.Flush()
	for {
		_, err := events.Poll(100, func(r wasmbpf.Record) {
			if e, ok := wasmbpf.Read[event](r); ok {
				fmt.Fprintf(out, "%-7d %-5d %-16s %s\n", e.Pid, e.Uid, wasmbpf.CString(e.Comm[:]), wasmbpf.CString(e.Filename[:]))
			}
		})
		out.Flush()
		if errors.Is(err, wasmbpf.EINTR) {
			return 0
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "go-lsm: %v\n", err)
			return 1
		}
	}
}

func main() { os.Exit(run()) }
