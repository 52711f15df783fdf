//! rust-bootstrap: print process exec and exit events (user-space half in
//! Rust, wasm32-wasi), the Rust twin of examples/bootstrap.
//!
//!   rust-bootstrap [-d MIN_DURATION_MS] [-h]
//!
//! Built by scripts/build-sdk.sh: the BPF object is the C example's
//! (examples/bootstrap/bootstrap.bpf.c), embedded with include_bytes! from
//! the path in $RUST_BOOTSTRAP_BPF_O.
use std::io::Write;
use std::process::exit;
use std::time::{SystemTime, UNIX_EPOCH};

use wasm_bpf::{errno, ObjectFile, Plain, Polled};

static BPF_OBJECT: &[u8] = include_bytes!(env!("RUST_BOOTSTRAP_BPF_O"));

const USAGE: &str = "usage: rust-bootstrap [-d MIN_DURATION_MS] [-h]

Trace process start and exit: one line per exec (EXEC comm pid ppid
filename) and per exit (EXIT comm pid ppid [exit code] (duration)).

  -d MS   only report processes that lived at least MS milliseconds
          (exec events are then not reported)
  -h      show this help
";

/// struct event of examples/bootstrap/bootstrap.h
#[repr(C)]
#[derive(Clone, Copy)]
struct Event {
    pid: u32,
    ppid: u32,
    exit_code: u32,
    exit_event: u32,
    duration_ns: u64,
    comm: [u8; 16],
    filename: [u8; 128],
}
unsafe impl Plain for Event {}

fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn now_hms() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        % 86400;
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

fn print_event(out: &mut impl Write, data: &[u8]) {
    let e = match Event::from_bytes(data) {
        Some(e) => e,
        None => {
            eprintln!("rust-bootstrap: short record ({} bytes)", data.len());
            return;
        }
    };
    let ts = now_hms();
    let comm = c_str(&e.comm);
    let r = if e.exit_event != 0 {
        let dur = if e.duration_ns != 0 {
            format!(" ({}ms)", e.duration_ns / 1_000_000)
        } else {
            String::new()
        };
        writeln!(
            out,
            "{:<8} {:<5} {:<16} {:<7} {:<7} [{}]{}",
            ts, "EXIT", comm, e.pid, e.ppid, e.exit_code, dur
        )
    } else {
        writeln!(
            out,
            "{:<8} {:<5} {:<16} {:<7} {:<7} {}",
            ts,
            "EXEC",
            comm,
            e.pid,
            e.ppid,
            c_str(&e.filename)
        )
    };
    // stdout is line-oriented for whoever reads it
    let _ = r.and_then(|_| out.flush());
}

fn parse_args() -> u64 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut min_ms = 0u64;
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let val = if a == "-d" {
            i += 1;
            match args.get(i) {
                Some(v) => v.clone(),
                None => {
                    eprintln!("rust-bootstrap: option -d needs a value");
                    eprint!("{}", USAGE);
                    exit(2);
                }
            }
        } else if let Some(v) = a.strip_prefix("-d") {
            v.to_string()
        } else if a == "-h" || a == "--help" {
            print!("{}", USAGE);
            exit(0);
        } else {
            eprintln!("rust-bootstrap: unexpected argument '{}'", a);
            eprint!("{}", USAGE);
            exit(2);
        };
        min_ms = match val.parse::<u64>() {
            Ok(v) => v,
            Err(_) => {
                eprintln!(
                    "rust-bootstrap: invalid duration '{}' (milliseconds expected)",
                    val
                );
                exit(2);
            }
        };
        i += 1;
    }
    min_ms
}

fn run(min_duration_ms: u64) -> Result<(), wasm_bpf::Error> {
    let mut file = ObjectFile::new(BPF_OBJECT);
    file.set_global("min_duration_ns", &(min_duration_ms * 1_000_000))?;
    let obj = file.load()?;
    obj.attach("handle_exec")?;
    obj.attach("handle_exit")?;
    let mut rb = obj.buffer("rb")?;

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(
        out,
        "{:<8} {:<5} {:<16} {:<7} {:<7} {}",
        "TIME", "EVENT", "COMM", "PID", "PPID", "FILENAME/EXIT CODE"
    );
    let _ = out.flush();
    loop {
        match rb.poll(100, |data: &[u8]| print_event(&mut out, data)) {
            Ok(Polled::Records(_)) | Ok(Polled::Stopped(_)) => {}
            Err(e) if e.errno() == errno::EINTR => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

fn main() {
    let min_ms = parse_args();
    if let Err(e) = run(min_ms) {
        eprintln!("rust-bootstrap: {}", e);
        exit(1);
    }
}
