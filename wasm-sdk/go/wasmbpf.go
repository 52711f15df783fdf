//go:build wasip1

// Package wasmbpf is the Go SDK for wasm-bpf guests: the user-space half of
// an eBPF application, built with GOOS=wasip1 GOARCH=wasm (Go 1.23) and run
// by a wasm-bpf host. It wraps the host ABI (module "wasm_bpf") and reads
// ring and perf buffers through the batch extension (module
// "wasm_bpf_ext"), since Go 1.23 cannot export a callback.
//
//	obj, err := wasmbpf.Load(bpfObject)
//	if err != nil { ... }
//	defer obj.Close()
//	if err := obj.Attach("handle_exec"); err != nil { ... }
//	rb, err := obj.Buffer("rb", 64*1024)
//	for {
//		_, err := rb.Poll(100, func(r wasmbpf.Record) { ... r.Data ... })
//		if errors.Is(err, wasmbpf.EINTR) { break }
//	}
package wasmbpf

import (
	"unsafe"
)

// Map commands of wasm_bpf_map_operate.
const (
	cmdLookup  = 1
	cmdUpdate  = 2
	cmdDelete  = 3
	cmdNextKey = 4
)

// Update flags.
const (
	Any     uint64 = 0 // create or update
	NoExist uint64 = 1 // create only (EEXIST if present)
	Exist   uint64 = 2 // update only (ENOENT if absent)
)

func cstr(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// CString returns the NUL-terminated string at the start of b (a char
// array of an event struct), or all of b when it holds no NUL.
func CString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// Object is a loaded BPF object: programs loaded, maps created.
type Object struct {
	handle uint64
}

// Load loads a BPF ELF object (built with clang -target bpf; CO-RE
// relocated by the host). A failure is an *Error with Op "load" and Errno 0.
func Load(obj []byte) (*Object, error) {
	h := wasmLoadBpfObject(ptr(obj), int32(len(obj)))
	if h == 0 {
		return nil, &Error{Op: "load"}
	}
	return &Object{handle: h}, nil
}

// Handle is the host's handle of the object.
func (o *Object) Handle() uint64 { return o.handle }

// Close destroys the object's links, consumers, maps and programs. Closing
// twice is a no-op.
func (o *Object) Close() error {
	if o.handle == 0 {
		return nil
	}
	h := o.handle
	o.handle = 0
	_, err := check("close", "", wasmCloseBpfObject(h))
	return err
}

// Attach attaches program prog (its C function name) by its ELF section.
func (o *Object) Attach(prog string) error { return o.AttachTo(prog, "") }

// AttachTo attaches prog to target: a cgroup v2 directory for sockops and
// cgroup programs, an interface name for xdp; "" attaches by section.
func (o *Object) AttachTo(prog, target string) error {
	n, t := cstr(prog), cstr(target)
	_, err := check("attach", prog, wasmAttachBpfProgram(o.handle, ptr(n), ptr(t)))
	return err
}

// MapFD is the file descriptor of map name.
func (o *Object) MapFD(name string) (int32, error) {
	n := cstr(name)
	return check("map", name, wasmBpfMapFdByName(o.handle, ptr(n)))
}

// Map is map name of the object.
func (o *Object) Map(name string) (*Map, error) {
	fd, err := o.MapFD(name)
	if err != nil {
		return nil, err
	}
	return &Map{fd: fd, name: name}, nil
}

// Buffer is a consumer of ring buffer or perf event array map name that
// reads up to size bytes of records per poll (at least 16; an oversize
// record is truncated, see Record.Truncated).
//
// The host's consumer starts here, with a zero-timeout poll (as libbpf's
// ring_buffer__new/perf_buffer__new do), so a perf buffer loses nothing
// written before the first Poll; records already there are kept for it. A
// map the host cannot consume is an error (EINVAL) here.
func (o *Object) Buffer(name string, size int) (*Buffer, error) {
	fd, err := o.MapFD(name)
	if err != nil {
		return nil, err
	}
	if size < 16 {
		size = 16
	}
	b := &Buffer{obj: o, fd: fd, name: name, buf: make([]byte, size)}
	n, err := check("buffer", name, wasmBpfBufferPollBatch(o.handle, fd, ptr(b.buf), int32(len(b.buf)), 0))
	if err != nil {
		return nil, err
	}
	b.pending = int(n)
	return b, nil
}

// Map is a map of a loaded Object. The host reads and writes the map's own
// key and value sizes: byte slices must have exactly those lengths (per-CPU
// values: one 8-byte-aligned slot per possible CPU), and the generic
// helpers need K and V of those sizes, without pointers.
type Map struct {
	fd   int32
	name string
}

// FD is the map's file descriptor.
func (m *Map) FD() int32 { return m.fd }

// Name is the map's name.
func (m *Map) Name() string { return m.name }

func (m *Map) op(op string, cmd int32, key, value, next unsafe.Pointer, flags uint64) (bool, error) {
	r := wasmBpfMapOperate(m.fd, cmd, key, value, next, flags)
	if r == -int32(ENOENT) && cmd != cmdUpdate {
		return false, nil
	}
	_, err := check(op, m.name, r)
	return err == nil, err
}

// Lookup copies the value of key into value; false if absent.
func (m *Map) Lookup(key, value []byte) (bool, error) {
	return m.op("lookup", cmdLookup, ptr(key), ptr(value), nil, 0)
}

// Update sets key to value (flags: Any, NoExist, Exist).
func (m *Map) Update(key, value []byte, flags uint64) error {
	_, err := m.op("update", cmdUpdate, ptr(key), ptr(value), nil, flags)
	return err
}

// Delete deletes key; false if it was absent.
func (m *Map) Delete(key []byte) (bool, error) {
	return m.op("delete", cmdDelete, ptr(key), nil, nil, 0)
}

// NextKey writes the key after key (the first key when key is nil) into
// next; false at the end.
func (m *Map) NextKey(key, next []byte) (bool, error) {
	return m.op("next key", cmdNextKey, ptr(key), nil, ptr(next), 0)
}

// Bytes is the memory of *v (a fixed-size value without pointers).
func Bytes[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}

// Get is the value of key in m, and whether it was there.
func Get[K, V any](m *Map, key K) (V, bool, error) {
	var v V
	ok, err := m.Lookup(Bytes(&key), Bytes(&v))
	return v, ok, err
}

// Set sets key to value in m (flags: Any, NoExist, Exist).
func Set[K, V any](m *Map, key K, value V, flags uint64) error {
	return m.Update(Bytes(&key), Bytes(&value), flags)
}

// Remove deletes key from m; false if it was absent.
func Remove[K any](m *Map, key K) (bool, error) {
	return m.Delete(Bytes(&key))
}

// Keys iterates over the keys of m (range-over-func):
//
//	for k, err := range wasmbpf.Keys[uint32](m) { ... }
func Keys[K any](m *Map) func(yield func(K, error) bool) {
	return func(yield func(K, error) bool) {
		var prev K
		first := true
		for {
			var next K
			var key []byte
			if !first {
				key = Bytes(&prev)
			}
			ok, err := m.NextKey(key, Bytes(&next))
			if err != nil {
				yield(next, err)
				return
			}
			if !ok || !yield(next, nil) {
				return
			}
			prev, first = next, false
		}
	}
}

// Record is one ring/perf buffer record.
type Record struct {
	Size uint32 // the record's full size
	Data []byte // the bytes copied: valid until the next Poll
}

// Truncated reports whether the record did not fit the buffer whole.
func (r Record) Truncated() bool { return uint32(len(r.Data)) < r.Size }

// Read decodes the start of r.Data as a T (fixed-size, no pointers);
// false if the record is too short.
func Read[T any](r Record) (T, bool) {
	var v T
	b := Bytes(&v)
	if len(r.Data) < len(b) {
		return v, false
	}
	copy(b, r.Data)
	return v, true
}

// Buffer consumes a ring buffer or perf event array map; the host creates
// its side on the first poll.
type Buffer struct {
	obj     *Object
	fd      int32
	name    string
	buf     []byte
	pending int // bytes of records the starting poll left in buf
}

// FD is the map's file descriptor.
func (b *Buffer) FD() int32 { return b.fd }

// Poll waits at most timeoutMs for records, then calls fn with every record
// the host copied (as many whole records as fit the buffer; the rest stay
// for the next Poll). Returns the number of records. An error wrapping
// EINTR means the host is shutting down.
func (b *Buffer) Poll(timeoutMs int, fn func(Record)) (int, error) {
	count := 0
	each := func(r Record) {
		fn(r)
		count++
	}
	if b.pending > 0 {
		ForEachRecord(b.buf[:min(b.pending, len(b.buf))], each)
		b.pending = 0
		timeoutMs = 0
	}
	n, err := check("poll", b.name, wasmBpfBufferPollBatch(b.obj.handle, b.fd, ptr(b.buf), int32(len(b.buf)), int32(timeoutMs)))
	if err != nil {
		return count, err
	}
	ForEachRecord(b.buf[:min(int(n), len(b.buf))], each)
	return count, nil
}

// ForEachRecord walks a batch buffer: records with an 8-byte header
// {u32 size; u32 copied} and data padded to 8 bytes.
func ForEachRecord(buf []byte, fn func(Record)) {
	for len(buf) >= 8 {
		size := le32(buf[0:])
		copied := int(le32(buf[4:]))
		end := min(8+copied, len(buf))
		fn(Record{Size: size, Data: buf[8:end]})
		step := min(8+(copied+7)&^7, len(buf))
		buf = buf[step:]
	}
}

func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
