//! Safe Rust bindings for wasm-bpf guests (the user-space half of an eBPF
//! application, compiled to `wasm32-wasi`).
//!
//! No dependencies; builds with rustc 1.63 or later. Guests that poll ring or
//! perf buffers with [`Buffer::poll`] must export their function table: link
//! with `-C link-arg=--export-table`.
//!
//! ```ignore
//! use wasm_bpf::{Object, Plain};
//!
//! static BPF: &[u8] = include_bytes!("prog.bpf.o");
//!
//! fn main() -> Result<(), wasm_bpf::Error> {
//!     let obj = Object::load(BPF)?;
//!     obj.attach("handle_exec")?;
//!     let mut rb = obj.buffer("rb")?;
//!     loop {
//!         rb.poll(100, |data: &[u8]| println!("{} bytes", data.len()))?;
//!     }
//! }
//! ```
#![warn(missing_docs)]

use std::ffi::CString;
use std::fmt;
use std::marker::PhantomData;
use std::mem::{size_of, MaybeUninit};

mod elf;
pub mod sys;

pub use elf::ObjectFile;

/// An errno-carrying error from the host, or a failed object load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    op: &'static str,
    name: Option<String>,
    errno: i32,
}

/// `Result<T, wasm_bpf::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Linux errno numbers the host reports (negated in the raw ABI).
pub mod errno {
    /// Operation not permitted.
    pub const EPERM: i32 = 1;
    /// No such file or directory (unknown map, missing key, end of keys).
    pub const ENOENT: i32 = 2;
    /// Interrupted system call (the host is shutting down).
    pub const EINTR: i32 = 4;
    /// Argument list too long.
    pub const E2BIG: i32 = 7;
    /// Bad file descriptor.
    pub const EBADF: i32 = 9;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Permission denied.
    pub const EACCES: i32 = 13;
    /// Bad address.
    pub const EFAULT: i32 = 14;
    /// File exists.
    pub const EEXIST: i32 = 17;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// No space left.
    pub const ENOSPC: i32 = 28;
    /// Function not implemented.
    pub const ENOSYS: i32 = 38;
    /// Operation not supported.
    pub const EOPNOTSUPP: i32 = 95;
}

fn errno_name(e: i32) -> &'static str {
    match e {
        1 => "EPERM (Operation not permitted)",
        2 => "ENOENT (No such file or directory)",
        4 => "EINTR (Interrupted system call)",
        7 => "E2BIG (Argument list too long)",
        9 => "EBADF (Bad file descriptor)",
        12 => "ENOMEM (Cannot allocate memory)",
        13 => "EACCES (Permission denied)",
        14 => "EFAULT (Bad address)",
        17 => "EEXIST (File exists)",
        22 => "EINVAL (Invalid argument)",
        28 => "ENOSPC (No space left on device)",
        38 => "ENOSYS (Function not implemented)",
        95 => "EOPNOTSUPP (Operation not supported)",
        _ => "unknown error",
    }
}

impl Error {
    fn new(op: &'static str, name: Option<&str>, errno: i32) -> Error {
        Error {
            op,
            name: name.map(|s| s.to_string()),
            errno,
        }
    }

    /// The positive Linux errno; 0 when the host gave none (a failed load).
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// What failed: "load", "attach", "map", "lookup", "update", "delete",
    /// "next key", "buffer", "poll", "poll batch", "set global" or "close".
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// The program, map or variable name involved, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Is this `ENOENT` (unknown name, missing key, end of iteration)?
    pub fn is_not_found(&self) -> bool {
        self.errno == errno::ENOENT
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.op, &self.name) {
            ("load", _) => write!(
                f,
                "loading the BPF object failed (the host reports the cause on its stderr)"
            )?,
            (op, Some(n)) => write!(f, "{} '{}' failed", op, n)?,
            (op, None) => write!(f, "{} failed", op)?,
        }
        if self.errno != 0 {
            write!(f, ": {}", errno_name(self.errno))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

fn check(op: &'static str, name: Option<&str>, r: i32) -> Result<i32> {
    if r < 0 {
        Err(Error::new(op, name, -r))
    } else {
        Ok(r)
    }
}

fn cstring(op: &'static str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(op, Some(s), errno::EINVAL))
}

/// Types that are plain bytes: any bit pattern is a valid value, and they
/// have no padding the kernel would be confused by. Used to read and write
/// map keys, map values and events.
///
/// # Safety
/// Implement only for `#[repr(C)]` (or primitive) `Copy` types for which
/// every byte pattern of `size_of::<Self>()` bytes is a valid value.
pub unsafe trait Plain: Copy + 'static {
    /// Reads a value from the start of `bytes`; `None` if too short.
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() < size_of::<Self>() {
            return None;
        }
        // SAFETY: length checked; Plain says any bit pattern is valid.
        Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr() as *const Self) })
    }

    /// The value's bytes.
    fn as_bytes(&self) -> &[u8] {
        // SAFETY: Plain types are plain bytes.
        unsafe { std::slice::from_raw_parts(self as *const Self as *const u8, size_of::<Self>()) }
    }
}

macro_rules! plain {
    ($($t:ty)*) => { $(unsafe impl Plain for $t {})* };
}
plain!(u8 u16 u32 u64 i8 i16 i32 i64 usize isize);
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}

fn zeroed<T: Plain>() -> T {
    // SAFETY: Plain says all-zero bytes are a valid value.
    unsafe { MaybeUninit::<T>::zeroed().assume_init() }
}

/// A loaded BPF object: its programs are loaded and its maps created.
/// Dropping it closes it (detaching its programs).
#[derive(Debug)]
pub struct Object {
    handle: u64,
    // not Send/Sync: handles belong to one guest instance
    _not_send: PhantomData<*const ()>,
}

impl Object {
    /// Loads a BPF ELF object (CO-RE relocated against the running kernel's
    /// BTF by the host), creating its maps and loading its programs.
    pub fn load(bytes: &[u8]) -> Result<Object> {
        if bytes.len() > i32::MAX as usize {
            return Err(Error::new("load", None, errno::E2BIG));
        }
        let handle = unsafe { sys::wasm_load_bpf_object(bytes.as_ptr(), bytes.len() as i32) };
        if handle == 0 {
            return Err(Error::new("load", None, 0));
        }
        Ok(Object {
            handle,
            _not_send: PhantomData,
        })
    }

    /// The host's opaque handle.
    pub fn handle(&self) -> u64 {
        self.handle
    }

    /// Attaches program `name` (its C function name) by its ELF section, as
    /// libbpf's auto-attach does.
    pub fn attach(&self, name: &str) -> Result<()> {
        self.attach_to(name, "")
    }

    /// Attaches program `name` to `target`: a cgroup v2 directory for
    /// `sockops`/`cgroup/...` programs, an interface name for `xdp`; `""`
    /// attaches by ELF section.
    pub fn attach_to(&self, name: &str, target: &str) -> Result<()> {
        let n = cstring("attach", name)?;
        let t = cstring("attach", target)?;
        let r = unsafe {
            sys::wasm_attach_bpf_program(self.handle, n.as_ptr() as *const u8, t.as_ptr() as *const u8)
        };
        check("attach", Some(name), r).map(|_| ())
    }

    /// The file descriptor of map `name`.
    pub fn map_fd(&self, name: &str) -> Result<i32> {
        let n = cstring("map", name)?;
        let r = unsafe { sys::wasm_bpf_map_fd_by_name(self.handle, n.as_ptr() as *const u8) };
        check("map", Some(name), r)
    }

    /// Map `name` of this object.
    pub fn map(&self, name: &str) -> Result<Map<'_>> {
        let fd = self.map_fd(name)?;
        Ok(Map {
            fd,
            name: name.to_string(),
            _obj: PhantomData,
        })
    }

    /// A consumer of ring buffer or perf event array map `name`, with a
    /// 64 KiB record buffer (records are truncated to it).
    pub fn buffer(&self, name: &str) -> Result<Buffer<'_>> {
        self.buffer_with_capacity(name, 64 * 1024)
    }

    /// Like [`Object::buffer`] with a record buffer of `capacity` bytes
    /// (at least 16).
    ///
    /// The host's consumer is started here, with a zero-timeout poll (as
    /// libbpf's `ring_buffer__new`/`perf_buffer__new` do), so a perf buffer
    /// loses nothing written before the first poll; records already there
    /// are kept for it. A map the host cannot consume (not a ring buffer or
    /// perf event array) is an error here.
    pub fn buffer_with_capacity(&self, name: &str, capacity: usize) -> Result<Buffer<'_>> {
        let fd = self.map_fd(name)?;
        let mut b = Buffer {
            handle: self.handle,
            fd,
            name: name.to_string(),
            data: vec![0u8; capacity.max(16).min(i32::MAX as usize)],
            pending: Vec::new(),
            _obj: PhantomData,
        };
        let mut early: Vec<Vec<u8>> = Vec::new();
        let r = b.poll_host(0, &mut |d: &[u8]| {
            early.push(d.to_vec());
            0
        });
        check("buffer", Some(name), r)?;
        b.pending = early;
        Ok(b)
    }

    /// Closes the object now, reporting the host's answer (dropping it also
    /// closes it, ignoring errors).
    pub fn close(self) -> Result<()> {
        let h = self.handle;
        std::mem::forget(self);
        check("close", None, unsafe { sys::wasm_close_bpf_object(h) }).map(|_| ())
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        unsafe {
            sys::wasm_close_bpf_object(self.handle);
        }
    }
}

/// A map of a loaded [`Object`].
///
/// The host reads and writes as many bytes as the map's own key and value
/// sizes: the byte-slice methods require slices of exactly those sizes (for
/// per-CPU maps the value is one 8-byte-aligned slot per possible CPU), and
/// the typed methods require `size_of::<K>()`/`size_of::<V>()` to match.
#[derive(Debug)]
pub struct Map<'a> {
    fd: i32,
    name: String,
    _obj: PhantomData<&'a Object>,
}

/// Flags for [`Map::update`]: create or update.
pub const BPF_ANY: u64 = 0;
/// Flags for [`Map::update`]: create only (`EEXIST` if present).
pub const BPF_NOEXIST: u64 = 1;
/// Flags for [`Map::update`]: update only (`ENOENT` if absent).
pub const BPF_EXIST: u64 = 2;

impl<'a> Map<'a> {
    /// The map's file descriptor (as the host numbers it).
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn op(&self, op: &'static str, cmd: i32, key: *const u8, value: *mut u8, next: *mut u8, flags: u64) -> Result<bool> {
        let r = unsafe { sys::wasm_bpf_map_operate(self.fd, cmd, key, value, next, flags) };
        if r == -errno::ENOENT && cmd != sys::MAP_UPDATE_ELEM {
            return Ok(false);
        }
        check(op, Some(&self.name), r).map(|_| true)
    }

    /// Copies the value of `key` into `value`; `Ok(false)` if absent.
    pub fn lookup_bytes(&self, key: &[u8], value: &mut [u8]) -> Result<bool> {
        self.op("lookup", sys::MAP_LOOKUP_ELEM, key.as_ptr(), value.as_mut_ptr(), std::ptr::null_mut(), 0)
    }

    /// Sets `key` to `value` (`flags`: [`BPF_ANY`], [`BPF_NOEXIST`],
    /// [`BPF_EXIST`]).
    pub fn update_bytes(&self, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
        self.op("update", sys::MAP_UPDATE_ELEM, key.as_ptr(), value.as_ptr() as *mut u8, std::ptr::null_mut(), flags)
            .map(|_| ())
    }

    /// Deletes `key`; `Ok(false)` if it was absent.
    pub fn delete_bytes(&self, key: &[u8]) -> Result<bool> {
        self.op("delete", sys::MAP_DELETE_ELEM, key.as_ptr(), std::ptr::null_mut(), std::ptr::null_mut(), 0)
    }

    /// Writes the key after `key` (or the first key, for `None`) into
    /// `next`; `Ok(false)` at the end.
    pub fn next_key_bytes(&self, key: Option<&[u8]>, next: &mut [u8]) -> Result<bool> {
        let k = key.map_or(std::ptr::null(), |k| k.as_ptr());
        self.op("next key", sys::MAP_GET_NEXT_KEY, k, std::ptr::null_mut(), next.as_mut_ptr(), 0)
    }

    /// The value of `key`, or `None` if absent.
    pub fn get<K: Plain, V: Plain>(&self, key: &K) -> Result<Option<V>> {
        let mut v: V = zeroed();
        let found = self.op(
            "lookup",
            sys::MAP_LOOKUP_ELEM,
            key.as_bytes().as_ptr(),
            &mut v as *mut V as *mut u8,
            std::ptr::null_mut(),
            0,
        )?;
        Ok(if found { Some(v) } else { None })
    }

    /// Sets `key` to `value` ([`BPF_ANY`] and friends as `flags`).
    pub fn set<K: Plain, V: Plain>(&self, key: &K, value: &V, flags: u64) -> Result<()> {
        self.update_bytes(key.as_bytes(), value.as_bytes(), flags)
    }

    /// Deletes `key`; `Ok(false)` if it was absent.
    pub fn remove<K: Plain>(&self, key: &K) -> Result<bool> {
        self.delete_bytes(key.as_bytes())
    }

    /// Iterates over the keys (each step asks the kernel for the key after
    /// the previous one, so concurrent changes are seen as the kernel does).
    pub fn keys<K: Plain>(&self) -> Keys<'_, K> {
        Keys {
            map: self,
            prev: None,
            done: false,
        }
    }

    /// Iterates over `(key, value)` pairs; keys deleted meanwhile are skipped.
    pub fn iter<K: Plain, V: Plain>(&self) -> Entries<'_, K, V> {
        Entries {
            keys: self.keys(),
            _v: PhantomData,
        }
    }
}

/// Iterator over the keys of a map, from [`Map::keys`].
pub struct Keys<'m, K: Plain> {
    map: &'m Map<'m>,
    prev: Option<K>,
    done: bool,
}

impl<'m, K: Plain> Iterator for Keys<'m, K> {
    type Item = Result<K>;
    fn next(&mut self) -> Option<Result<K>> {
        if self.done {
            return None;
        }
        let mut next: K = zeroed();
        let prev_ptr = match &self.prev {
            Some(k) => k.as_bytes().as_ptr(),
            None => std::ptr::null(),
        };
        let r = self.map.op(
            "next key",
            sys::MAP_GET_NEXT_KEY,
            prev_ptr,
            std::ptr::null_mut(),
            &mut next as *mut K as *mut u8,
            0,
        );
        match r {
            Ok(true) => {
                self.prev = Some(next);
                Some(Ok(next))
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Iterator over `(key, value)` pairs, from [`Map::iter`].
pub struct Entries<'m, K: Plain, V: Plain> {
    keys: Keys<'m, K>,
    _v: PhantomData<V>,
}

impl<'m, K: Plain, V: Plain> Iterator for Entries<'m, K, V> {
    type Item = Result<(K, V)>;
    fn next(&mut self) -> Option<Result<(K, V)>> {
        loop {
            let k = match self.keys.next()? {
                Ok(k) => k,
                Err(e) => return Some(Err(e)),
            };
            match self.keys.map.get::<K, V>(&k) {
                Ok(Some(v)) => return Some(Ok((k, v))),
                Ok(None) => continue, // deleted meanwhile
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// What a poll callback returns: `()` (go on) or an `i32` (0 goes on, any
/// other value stops the batch and becomes the poll's result).
pub trait CallbackResult {
    /// The value handed back to the host.
    fn into_i32(self) -> i32;
}
impl CallbackResult for () {
    fn into_i32(self) -> i32 {
        0
    }
}
impl CallbackResult for i32 {
    fn into_i32(self) -> i32 {
        self
    }
}
impl CallbackResult for bool {
    /// `true` goes on, `false` stops (the poll then returns 1).
    fn into_i32(self) -> i32 {
        if self {
            0
        } else {
            1
        }
    }
}

/// One record of a batch, from [`Buffer::poll_batch`].
#[derive(Clone, Copy, Debug)]
pub struct Record<'b> {
    /// The record's full size in the kernel.
    pub size: u32,
    /// The bytes copied (fewer than `size` when the record was truncated).
    pub data: &'b [u8],
}

impl<'b> Record<'b> {
    /// Was the record cut short because it did not fit the batch buffer?
    pub fn truncated(&self) -> bool {
        (self.data.len() as u64) < self.size as u64
    }

    /// The record read as a `T`; `None` if too short.
    pub fn read<T: Plain>(&self) -> Option<T> {
        T::from_bytes(self.data)
    }
}

/// The result of [`Buffer::poll`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Polled {
    /// The number of records delivered (0 on timeout).
    Records(usize),
    /// A callback returned this non-zero value, stopping the batch.
    Stopped(i32),
}

/// A consumer of a ring buffer or perf event array map, from
/// [`Object::buffer`].
#[derive(Debug)]
pub struct Buffer<'a> {
    handle: u64,
    fd: i32,
    name: String,
    data: Vec<u8>,
    // records the starting poll received, for the first poll
    pending: Vec<Vec<u8>>,
    _obj: PhantomData<&'a Object>,
}

struct Trampoline<'f> {
    f: &'f mut dyn FnMut(&[u8]) -> i32,
}

extern "C" fn trampoline(ctx: i32, data: i32, len: i32) -> i32 {
    // SAFETY: ctx is the &mut Trampoline that Buffer::poll handed the host for
    // the duration of the call; data/len describe Buffer::data.
    let t = unsafe { &mut *(ctx as usize as *mut Trampoline<'_>) };
    let bytes = unsafe { std::slice::from_raw_parts(data as usize as *const u8, len.max(0) as usize) };
    (t.f)(bytes)
}

impl<'a> Buffer<'a> {
    /// The map's file descriptor.
    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// Waits at most `timeout_ms` for records and calls `f` with each (the
    /// bytes are valid only during the call). Returns how many records were
    /// delivered, or the value a callback stopped with. `EINTR` means the
    /// host is shutting down: stop polling.
    ///
    /// The guest must export its function table
    /// (`-C link-arg=--export-table`).
    pub fn poll<F, R>(&mut self, timeout_ms: i32, mut f: F) -> Result<Polled>
    where
        F: FnMut(&[u8]) -> R,
        R: CallbackResult,
    {
        let mut g = |b: &[u8]| f(b).into_i32();
        let mut early = 0usize;
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let mut it = pending.into_iter();
            while let Some(rec) = it.next() {
                early += 1;
                let v = g(&rec);
                if v != 0 {
                    self.pending = it.collect();
                    return Ok(Polled::Stopped(v));
                }
            }
            return self.poll_with(0, &mut g, early);
        }
        self.poll_with(timeout_ms, &mut g, 0)
    }

    fn poll_with(&mut self, timeout_ms: i32, g: &mut dyn FnMut(&[u8]) -> i32, early: usize) -> Result<Polled> {
        let mut stopped = None;
        let r = {
            let mut h = |b: &[u8]| {
                let v = g(b);
                if v != 0 {
                    stopped = Some(v);
                }
                v
            };
            self.poll_host(timeout_ms, &mut h)
        };
        if let Some(v) = stopped {
            return Ok(Polled::Stopped(v));
        }
        check("poll", Some(&self.name), r).map(|n| Polled::Records(early + n as usize))
    }

    /// One wasm_bpf_buffer_poll call, records to `g` through the trampoline.
    fn poll_host(&mut self, timeout_ms: i32, g: &mut dyn FnMut(&[u8]) -> i32) -> i32 {
        let mut t = Trampoline { f: g };
        let sample: extern "C" fn(i32, i32, i32) -> i32 = trampoline;
        unsafe {
            sys::wasm_bpf_buffer_poll(
                self.handle,
                self.fd,
                sample as usize as i32,
                &mut t as *mut Trampoline<'_> as usize as i32,
                self.data.as_mut_ptr(),
                self.data.len() as i32,
                timeout_ms,
            )
        }
    }

    /// Like [`Buffer::poll`] through the `wasm_bpf_ext` batch extension: the
    /// host copies as many whole records as fit the buffer in one call
    /// (no callback into the guest per record) and `f` sees
    /// each [`Record`]. Returns the number of records. A host without the
    /// extension refuses to instantiate a guest that calls this.
    pub fn poll_batch<F>(&mut self, mut timeout_ms: i32, mut f: F) -> Result<usize>
    where
        F: FnMut(Record<'_>),
    {
        let mut count = 0;
        if !self.pending.is_empty() {
            for rec in std::mem::take(&mut self.pending) {
                f(Record {
                    size: rec.len() as u32,
                    data: &rec,
                });
                count += 1;
            }
            timeout_ms = 0;
        }
        let n = unsafe {
            sys::wasm_bpf_buffer_poll_batch(
                self.handle,
                self.fd,
                self.data.as_mut_ptr(),
                self.data.len() as i32,
                timeout_ms,
            )
        };
        let n = check("poll batch", Some(&self.name), n)? as usize;
        let buf = &self.data[..n.min(self.data.len())];
        for rec in Records::new(buf) {
            f(rec);
            count += 1;
        }
        Ok(count)
    }
}

/// Walks the records of a batch buffer (`{u32 size; u32 copied}` headers,
/// data padded to 8 bytes).
pub struct Records<'b> {
    buf: &'b [u8],
}

impl<'b> Records<'b> {
    /// Walks `buf`, the bytes a batch poll wrote.
    pub fn new(buf: &'b [u8]) -> Records<'b> {
        Records { buf }
    }
}

impl<'b> Iterator for Records<'b> {
    type Item = Record<'b>;
    fn next(&mut self) -> Option<Record<'b>> {
        if self.buf.len() < 8 {
            return None;
        }
        let size = u32::from_le_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        let copied = u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        let end = (8 + copied).min(self.buf.len());
        let data = &self.buf[8..end];
        let step = (8 + ((copied + 7) & !7)).min(self.buf.len());
        self.buf = &self.buf[step..];
        Some(Record { size, data })
    }
}
