//go:build wasip1

package wasmbpf

import (
	"bytes"
	"debug/elf"
	"strings"
)

// ObjectFile is a BPF ELF object held in guest memory, editable before
// Load: SetGlobal writes `const volatile` (.rodata) and initialised (.data)
// globals, as libbpf skeletons do with skel->rodata->var = ....
type ObjectFile struct {
	Bytes []byte
}

// NewObjectFile copies obj.
func NewObjectFile(obj []byte) *ObjectFile {
	return &ObjectFile{Bytes: append([]byte(nil), obj...)}
}

// SetGlobal sets global name to value, which must be exactly the
// variable's size. ENOENT if there is no such initialised global, EINVAL
// for a size mismatch or an unreadable object.
func (f *ObjectFile) SetGlobal(name string, value []byte) error {
	ef, err := elf.NewFile(bytes.NewReader(f.Bytes))
	if err != nil {
		return &Error{Op: "set global", Name: name, Errno: EINVAL}
	}
	syms, err := ef.Symbols()
	if err != nil {
		return &Error{Op: "set global", Name: name, Errno: EINVAL}
	}
	for _, s := range syms {
		if s.Name != name || int(s.Section) <= 0 || int(s.Section) >= len(ef.Sections) {
			continue
		}
		sec := ef.Sections[s.Section]
		if sec.Type == elf.SHT_NOBITS ||
			!(strings.HasPrefix(sec.Name, ".rodata") || strings.HasPrefix(sec.Name, ".data")) {
			continue
		}
		if s.Value+s.Size > sec.Size {
			continue
		}
		if uint64(len(value)) != s.Size {
			return &Error{Op: "set global", Name: name, Errno: EINVAL}
		}
		copy(f.Bytes[sec.Offset+s.Value:], value)
		return nil
	}
	return &Error{Op: "set global", Name: name, Errno: ENOENT}
}

// Load loads the (edited) object.
func (f *ObjectFile) Load() (*Object, error) {
	return Load(f.Bytes)
}
