//! Batch polling (module wasm_bpf_ext) of the Rust SDK, run on the real host
//! by tests/sdk_rust_test.ts with the wasm-sdk/tests/errors.bpf.c object: a record cut
//! short by a small buffer, then whole records. Needs a host with the
//! extension.
use wasm_bpf::{errno, ObjectFile, Plain, Record};

static BPF_OBJECT: &[u8] = include_bytes!(env!("ERRORS_BPF_O"));

#[repr(C)]
#[derive(Clone, Copy)]
struct Sample {
    magic: u32,
    pid: u32,
}
unsafe impl Plain for Sample {}

fn main() {
    let mut file = ObjectFile::new(BPF_OBJECT);
    file.set_global("magic", &0xba7cu32).expect("set magic");
    let obj = file.load().expect("load");
    // 16 bytes: one 8-byte header and 8 of the record's 24 bytes
    let mut small = obj.buffer_with_capacity("rb", 16).expect("rb");
    let mut rb = obj.buffer_with_capacity("rb", 4096).expect("rb");
    // attached once both consumers exist, so no record waits in either
    obj.attach("on_getppid").expect("attach");
    println!("attached");
    // the extension's contract on bad arguments: errors, not traps
    let fd = obj.map_fd("rb").expect("fd");
    let mut tiny = [0u8; 8];
    let r = unsafe { wasm_bpf::sys::wasm_bpf_buffer_poll_batch(obj.handle(), fd, tiny.as_mut_ptr(), 8, 0) };
    println!("raw-short-buffer: {}", r);
    let r = unsafe { wasm_bpf::sys::wasm_bpf_buffer_poll_batch(obj.handle(), fd, 0xffff_ff00usize as *mut u8, 4096, 0) };
    println!("raw-bad-pointer: {}", r);
    let (mut first, mut batch) = (false, false);
    for _ in 0..100 {
        let step = if !first {
            small.poll_batch(100, |r: Record| {
                if let Some(s) = r.read::<Sample>() {
                    if s.magic == 0xba7c && !first {
                        println!("small: size={} copied={} truncated={}", r.size, r.data.len(), r.truncated());
                        first = true;
                    }
                }
            })
        } else {
            rb.poll_batch(100, |r: Record| {
                if let Some(s) = r.read::<Sample>() {
                    if s.magic == 0xba7c && !batch {
                        println!("batch: size={} copied={}", r.size, r.data.len());
                        batch = true;
                    }
                }
            })
        };
        match step {
            Ok(_) if first && batch => break,
            Ok(_) => {}
            Err(e) if e.errno() == errno::EINTR => break,
            Err(e) => {
                println!("poll: err errno={} {}", e.errno(), e);
                break;
            }
        }
    }
    obj.close().expect("close");
    println!("done");
}
