//! Fuzzing figures (a benchmark, not a test): inputs per second against each reference
//! server, and the time to the first finding on each known-bad server of
//! fixtures/fuzz/manifest.toml, at seed 1.
//!
//! ```text
//! cargo run --release --example fuzz_bench [-- SECS]
//! ```
//! SECS (default 20) is the generation time per reference server. The known-bad servers run
//! until their first finding (bounded by 300 inputs); the time excludes minimisation.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use conformance::driver::{CommandSpec, SubjectCmd};
use conformance::fuzz;
use conformance::suites;
use conformance::timing::Timing;

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20.0);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The example is built next to the suite's binary: target/<profile>/examples/..
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.join("conformance")))
        .filter(|p| p.exists())
        .unwrap_or_else(|| {
            eprintln!("build the suite first: cargo build --release");
            std::process::exit(2)
        });
    let timing = Timing::default();
    let opts = |cmd: SubjectCmd, time: Duration, max: Option<u64>, first: bool| fuzz::Options {
        cmd,
        exe: exe.clone(),
        timing,
        seed: 1,
        time,
        max_inputs: max,
        jobs: 1,
        shrink_time: Duration::from_secs(5),
        stop_at_first: first,
        slow: true,
        mode: fuzz::Mode::LongLived,
    };
    println!(
        "inputs per second against the reference servers (seed 1, {secs} s each, one worker):"
    );
    for name in ["hello", "framed", "messages"] {
        let suite = suites::find(name).expect("suite");
        let o = opts(
            SubjectCmd::Reference(exe.clone()),
            Duration::from_secs_f64(secs),
            None,
            false,
        );
        match fuzz::run(suite, &o) {
            Ok((s, f)) => println!(
                "  {name:<9} {:>6} inputs in {:>5.1} s = {:>6.1} inputs/s, {} finding(s)",
                s.inputs,
                s.fuzz_secs,
                s.rate,
                f.len()
            ),
            Err(e) => println!("  {name:<9} could not run: {e:?}"),
        }
    }
    println!("\ntime to the first finding on the known-bad servers (seed 1):");
    let dir = root.join("fixtures/fuzz");
    let tmp = std::env::temp_dir().join(format!("fuzz_bench_{}", std::process::id()));
    let _ = std::fs::create_dir_all(&tmp);
    let bad: [(&str, &str, Option<&str>, &str); 5] = [
        ("hello-nospace-c", "hello", Some("hello_nospace.c"), "{bin}"),
        (
            "hello-stale-buffer-c",
            "hello",
            Some("../impls/hello/tcpserver_iterative.c -DSTALE_BUFFER"),
            "{bin}",
        ),
        (
            "framed-lock-py",
            "framed",
            None,
            "python3 {dir}/framed_lock.py",
        ),
        (
            "messages-short-read-py",
            "messages",
            None,
            "python3 {dir}/messages_short_read.py",
        ),
        (
            "messages-no-magic-py",
            "messages",
            None,
            "python3 {dir}/messages_no_magic.py",
        ),
    ];
    for (name, suite, source, command) in bad {
        let mut line = command.replace("{dir}", &dir.display().to_string());
        if let Some(src) = source {
            let out = tmp.join(name);
            let mut words = src.split(' ');
            let file = words.next().unwrap_or_default();
            let ok = Command::new("gcc")
                .args(["-O2", "-Wall", "-Werror", "-pthread"])
                .args(words)
                .arg("-o")
                .arg(&out)
                .arg(dir.join(file))
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                println!("  {name:<24} gcc failed");
                continue;
            }
            line = line.replace("{bin}", &out.display().to_string());
        }
        let spec = CommandSpec::parse(&line).expect("command");
        let o = opts(
            SubjectCmd::Command(spec),
            Duration::from_secs(120),
            Some(300),
            true,
        );
        let t0 = Instant::now();
        match fuzz::run(suites::find(suite).expect("suite"), &o) {
            Ok((s, f)) => match f.first() {
                Some(r) => println!(
                    "  {name:<24} {:<16} after {:>3} inputs, {:>5.2} s (run incl. minimising: {:.1} s)",
                    r.case.finding.kind.as_str(),
                    r.after_inputs,
                    r.after_secs,
                    t0.elapsed().as_secs_f64()
                ),
                None => println!("  {name:<24} nothing in {} inputs", s.inputs),
            },
            Err(e) => println!("  {name:<24} could not run: {e:?}"),
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
