//! Error paths and map operations of the Rust SDK, run on the real host by
//! tests/sdk_rust_test.ts. Prints one `name: result` line per check; every
//! failure must come back as an Err value, never a trap. The BPF object is
//! wasm-sdk/tests/errors.bpf.c, shared with the Go and AssemblyScript tests.
use wasm_bpf::{errno, Object, ObjectFile, Polled, BPF_ANY, BPF_NOEXIST};

static BPF_OBJECT: &[u8] = include_bytes!(env!("ERRORS_BPF_O"));

fn show<T: std::fmt::Debug>(name: &str, r: Result<T, wasm_bpf::Error>) {
    match r {
        Ok(v) => println!("{}: ok {:?}", name, v),
        Err(e) => println!("{}: err errno={} {}", name, e.errno(), e),
    }
}

fn main() {
    show("load-garbage", Object::load(b"definitely not an ELF object").map(|_| ()));
    show("load-empty", Object::load(&[]).map(|_| ()));

    let mut file = ObjectFile::new(BPF_OBJECT);
    show("set-global-unknown", file.set_global("no_such_global", &1u32));
    show("set-global-size", file.set_global("magic", &1u64));
    show("set-global", file.set_global("magic", &0x5eedu32));

    let obj = match file.load() {
        Ok(o) => o,
        Err(e) => {
            println!("load: err errno={} {}", e.errno(), e);
            std::process::exit(1);
        }
    };
    println!("load: ok");
    show("map-unknown", obj.map("no_such_map").map(|_| ()));
    show("attach-unknown", obj.attach("no_such_prog"));
    show("buffer-unknown", obj.buffer("no_such_map").map(|_| ()));

    let counts = obj.map("counts").expect("counts");
    show("get-missing", counts.get::<u32, u64>(&7));
    show("remove-missing", counts.remove(&7u32));
    for k in 1u32..=3 {
        show("set", counts.set(&k, &(k as u64 * 100), BPF_ANY));
    }
    show("set-noexist", counts.set(&1u32, &1u64, BPF_NOEXIST));
    show("get", counts.get::<u32, u64>(&2));
    let mut keys: Vec<u32> = counts.keys::<u32>().map(|k| k.unwrap()).collect();
    keys.sort_unstable();
    println!("keys: {:?}", keys);
    let mut entries: Vec<(u32, u64)> = counts.iter::<u32, u64>().map(|e| e.unwrap()).collect();
    entries.sort_unstable();
    println!("entries: {:?}", entries);
    show("remove", counts.remove(&2u32));
    let mut v = [0u8; 8];
    show("lookup-bytes", counts.lookup_bytes(&3u32.to_le_bytes(), &mut v).map(|f| (f, u64::from_le_bytes(v))));

    // a map that is not a ring/perf buffer cannot be consumed
    show("buffer-hash-map", obj.buffer("counts").map(|_| ()));

    show("attach", obj.attach("on_getppid"));
    let mut rb = obj.buffer("rb").expect("rb");
    // the test pokes getppid() from outside; wait for our own marker records
    let mut seen = 0;
    for _ in 0..50 {
        let r = rb.poll(100, |d: &[u8]| {
            if d.len() >= 8 {
                let magic = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
                if magic == 0x5eed {
                    seen += 1;
                }
            }
            if seen >= 1 { 1 } else { 0 }
        });
        match r {
            Ok(Polled::Stopped(v)) => {
                println!("poll: stopped {} magic=0x5eed", v);
                break;
            }
            Ok(Polled::Records(_)) => {}
            Err(e) if e.errno() == errno::EINTR => break,
            Err(e) => {
                println!("poll: err errno={} {}", e.errno(), e);
                break;
            }
        }
    }
    show("close", obj.close());
    println!("done");
}
