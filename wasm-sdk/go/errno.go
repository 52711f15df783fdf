package wasmbpf

import "fmt"

// Errno is a Linux errno number as the host reports it (positive here).
// Go's syscall.Errno on wasip1 uses WASI numbers, which differ.
type Errno int32

// The errno values the host reports.
const (
	EPERM      Errno = 1
	ENOENT     Errno = 2
	EINTR      Errno = 4
	E2BIG      Errno = 7
	EBADF      Errno = 9
	ENOMEM     Errno = 12
	EACCES     Errno = 13
	EFAULT     Errno = 14
	EEXIST     Errno = 17
	EINVAL     Errno = 22
	ENOSPC     Errno = 28
	ENOSYS     Errno = 38
	EOPNOTSUPP Errno = 95
)

var errnoNames = map[Errno]string{
	EPERM:      "EPERM (operation not permitted)",
	ENOENT:     "ENOENT (no such file or directory)",
	EINTR:      "EINTR (interrupted system call)",
	E2BIG:      "E2BIG (argument list too long)",
	EBADF:      "EBADF (bad file descriptor)",
	ENOMEM:     "ENOMEM (cannot allocate memory)",
	EACCES:     "EACCES (permission denied)",
	EFAULT:     "EFAULT (bad address)",
	EEXIST:     "EEXIST (file exists)",
	EINVAL:     "EINVAL (invalid argument)",
	ENOSPC:     "ENOSPC (no space left on device)",
	ENOSYS:     "ENOSYS (function not implemented)",
	EOPNOTSUPP: "EOPNOTSUPP (operation not supported)",
}

func (e Errno) Error() string {
	if s, ok := errnoNames[e]; ok {
		return s
	}
	return fmt.Sprintf("errno %d", int32(e))
}

// Error is what every failing call returns: the operation, the program,
// map or variable involved, and the errno (0 for a failed Load, for which
// the host gives no errno; its stderr has the cause).
type Error struct {
	Op    string // "load", "attach", "map", "lookup", "update", "delete", "next key", "buffer", "poll", "set global", "close"
	Name  string // program, map or variable name, if any
	Errno Errno
}

func (e *Error) Error() string {
	msg := e.Op
	if e.Op == "load" {
		msg = "loading the BPF object failed (the host reports the cause on its stderr)"
	} else {
		if e.Name != "" {
			msg += " '" + e.Name + "'"
		}
		msg += " failed"
	}
	if e.Errno != 0 {
		msg += ": " + e.Errno.Error()
	}
	return msg
}

// Unwrap lets errors.Is(err, wasmbpf.ENOENT) work.
func (e *Error) Unwrap() error {
	if e.Errno == 0 {
		return nil
	}
	return e.Errno
}

func check(op, name string, r int32) (int32, error) {
	if r < 0 {
		return r, &Error{Op: op, Name: name, Errno: Errno(-r)}
	}
	return r, nil
}
