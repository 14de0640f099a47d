//! Self-tests of `conformance interop` and `conformance fuzz`: the fixture matrices reach the
//! verdicts of fixtures/interop/manifest.toml (each failing cell blamed on the right side),
//! the known-bad fuzz servers of fixtures/fuzz/manifest.toml are found at a fixed seed within
//! a generous input budget and the good ones give nothing in the same budget, and the pieces
//! (seeded generation, ddmin, case files, replay, reports) do what they say.
//! A module of the self-test binary (selftest.rs): its trials are `interop::fuzz::...` and
//! `interop::matrix::...`, run in the self-test's pool (`cargo test --test selftest -- interop::`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use conformance::driver::{CommandSpec, SubjectCmd};
use conformance::fuzz::{self, Case, Ending, Kind, Script, Step, inputs::Gen, shrink};
use conformance::interop::{self, Blame, Party, report};
use conformance::suites;
use conformance::timing::Timing;
use libtest_mimic::{Failed, Trial};
use serde::Deserialize;

type TestResult = Result<(), Failed>;

fn ensure(cond: bool, msg: impl std::fmt::Display) -> TestResult {
    if cond { Ok(()) } else { Err(Failed::from(msg)) }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_conformance"))
}

fn timing() -> Timing {
    Timing {
        slack: Duration::from_secs(3),
        ..Timing::default()
    }
}

/// Binaries by source and flags.
type Built = HashMap<(PathBuf, Vec<String>), PathBuf>;

/// C sources built once per run, into one temporary folder.
fn build(dir: &Path, source: &str, cflags: &[String]) -> Result<PathBuf, String> {
    static BUILT: OnceLock<(tempfile::TempDir, Mutex<Built>)> = OnceLock::new();
    let (tmp, cache) = BUILT.get_or_init(|| {
        (
            tempfile::tempdir().expect("a temporary folder"),
            Mutex::default(),
        )
    });
    let src = dir.join(source);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    let key = (src.clone(), cflags.to_vec());
    if let Some(b) = cache.get(&key) {
        return Ok(b.clone());
    }
    let out = tmp.path().join(format!("bin{}", cache.len()));
    let st = Command::new("gcc")
        .args(["-O2", "-Wall", "-Werror", "-pthread"])
        .args(cflags)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .map_err(|e| format!("cannot run gcc: {e}"))?;
    if !st.status.success() {
        return Err(format!(
            "gcc {}: {}",
            src.display(),
            String::from_utf8_lossy(&st.stderr)
        ));
    }
    cache.insert(key, out.clone());
    Ok(out)
}

fn command(dir: &Path, source: Option<&str>, command: &str) -> Result<String, String> {
    command_with(dir, source, &[], command)
}

fn command_with(
    dir: &Path,
    source: Option<&str>,
    cflags: &[String],
    command: &str,
) -> Result<String, String> {
    let mut c = command.replace("{dir}", &dir.display().to_string());
    if let Some(s) = source {
        c = c.replace("{bin}", &build(dir, s, cflags)?.display().to_string());
    }
    Ok(c)
}

// ------------------------------------------------------------------ interop matrices

#[derive(Deserialize, Clone)]
struct PartyDef {
    name: String,
    source: Option<String>,
    command: String,
}

#[derive(Deserialize, Clone)]
struct FailDef {
    server: String,
    client: String,
    blame: String,
    #[allow(dead_code)]
    why: String,
}

#[derive(Deserialize, Clone)]
struct MatrixDef {
    suite: String,
    reference: bool,
    servers: Vec<PartyDef>,
    clients: Vec<PartyDef>,
    fail: Vec<FailDef>,
}

#[derive(Deserialize)]
struct InteropManifest {
    matrix: Vec<MatrixDef>,
}

fn interop_dir() -> PathBuf {
    root().join("fixtures/interop")
}

fn parties(defs: &[PartyDef], reference: bool) -> Result<(Vec<Party>, Vec<String>), String> {
    let dir = interop_dir();
    let mut v = Vec::new();
    let mut names = Vec::new();
    for d in defs {
        let line = command(&dir, d.source.as_deref(), &d.command)?;
        let spec = CommandSpec::parse(&line).map_err(|e| e.to_string())?;
        v.push(Party {
            label: d.name.clone(),
            cmd: SubjectCmd::Command(spec),
        });
        names.push(d.name.clone());
    }
    if reference {
        v.push(Party::reference(&exe()));
        names.push("reference".to_owned());
    }
    Ok((v, names))
}

fn matrix_reaches_its_verdicts(def: MatrixDef) -> TestResult {
    let suite = interop::suite(&def.suite).ok_or("unknown suite")?;
    let (servers, snames) = parties(&def.servers, def.reference)?;
    let (clients, cnames) = parties(&def.clients, def.reference)?;
    let opts = interop::Options {
        exe: exe(),
        timing: timing(),
        jobs: 2,
    };
    let m = interop::run(suite, servers, clients, &opts);
    let mut wrong = Vec::new();
    for c in &m.cells {
        let (s, cl) = (&snames[c.server], &cnames[c.client]);
        let want = def
            .fail
            .iter()
            .find(|f| &f.server == s && &f.client == cl)
            .map(|f| f.blame.as_str());
        let got = c.blame().map(Blame::as_str);
        if want != got {
            wrong.push(format!(
                "{s} × {cl}: expected {}, got {}{}",
                want.map_or("pass".to_owned(), |b| format!("{b} blamed")),
                got.map_or("pass".to_owned(), |b| format!("{b} blamed")),
                c.findings
                    .first()
                    .map(|f| format!(" ({}: {})", f.exchange, f.actual))
                    .unwrap_or_default()
            ));
        }
    }
    ensure(
        wrong.is_empty(),
        format!("{}\n\n{}", wrong.join("\n"), report::human(&m)),
    )
}

/// The reports carry every cell: JSON parses with one entry per pair and the blame, JUnit has
/// one testcase per pair and a failure for the failing one, HTML links the failing cell to
/// its transcript.
fn reports_carry_every_cell() -> TestResult {
    let suite = interop::suite("hello").ok_or("no hello")?;
    let dir = interop_dir();
    let s = command(&dir, None, "python3 {dir}/hello/bare_server.py")?;
    let c = command(&dir, None, "python3 {dir}/../impls/hello/client.py")?;
    let servers = vec![Party::command(&s)?, Party::reference(&exe())];
    let clients = vec![Party::command(&c)?];
    let m = interop::run(
        suite,
        servers,
        clients,
        &interop::Options {
            exe: exe(),
            timing: timing(),
            jobs: 2,
        },
    );
    let blames: Vec<Option<Blame>> = m.cells.iter().map(|c| c.blame()).collect();
    ensure(
        blames == [Some(Blame::Server), None],
        format!("{blames:?}\n{}", report::human(&m)),
    )?;
    let json: serde_json::Value =
        serde_json::from_str(&report::json(&m)).map_err(|e| e.to_string())?;
    let cells = json["cells"].as_array().ok_or("no cells array")?;
    ensure(
        cells.len() == 2 && cells[0]["blame"] == "server" && cells[1]["status"] == "passed",
        format!("JSON cells: {cells:?}"),
    )?;
    let junit = report::junit(&m);
    ensure(
        junit.matches("<testcase").count() == 2 && junit.matches("<failure").count() == 1,
        format!("JUnit: {junit}"),
    )?;
    let html = report::html(&m);
    ensure(
        html.contains("href=\"#c0-0\"")
            && html.contains("id=\"c0-0\"")
            && html.contains("printed ERROR"),
        "HTML links the failing cell to its findings and transcript",
    )
}

// ------------------------------------------------------------------ fuzz fixtures

#[derive(Deserialize, Clone)]
struct FuzzDef {
    name: String,
    suite: String,
    source: Option<String>,
    #[serde(default)]
    cflags: Vec<String>,
    command: Option<String>,
    expect: String,
    /// `fresh`: a new server for every input (default: long-lived).
    #[serde(default)]
    mode: Option<String>,
    #[allow(dead_code)]
    why: String,
}

#[derive(Deserialize)]
struct FuzzManifest {
    inputs: u64,
    server: Vec<FuzzDef>,
}

fn fuzz_dir() -> PathBuf {
    root().join("fixtures/fuzz")
}

fn fuzz_opts(def: &FuzzDef, inputs: u64) -> Result<fuzz::Options, String> {
    let cmd = match &def.command {
        None => SubjectCmd::Reference(exe()),
        Some(c) => SubjectCmd::Command(
            CommandSpec::parse(&command_with(
                &fuzz_dir(),
                def.source.as_deref(),
                &def.cflags,
                c,
            )?)
            .map_err(|e| e.to_string())?,
        ),
    };
    Ok(fuzz::Options {
        cmd,
        exe: exe(),
        timing: timing(),
        seed: 1,
        time: Duration::from_secs(600),
        max_inputs: Some(inputs),
        jobs: 1,
        shrink_time: Duration::from_secs(15),
        stop_at_first: true,
        slow: true,
        mode: match def.mode.as_deref() {
            None | Some("long-lived") => fuzz::Mode::LongLived,
            Some("fresh") => fuzz::Mode::Fresh,
            Some(m) => return Err(format!("{}: unknown mode {m:?}", def.name)),
        },
    })
}

fn fuzz_fixture_gives_its_finding(def: FuzzDef, inputs: u64) -> TestResult {
    let suite = suites::find(&def.suite).ok_or("unknown suite")?;
    let opts = fuzz_opts(&def, inputs)?;
    let (stats, found) = fuzz::run(suite, &opts).map_err(|e| format!("{e:?}"))?;
    let kinds: Vec<&str> = found.iter().map(|f| f.case.finding.kind.as_str()).collect();
    // Fresh: a server for every input; long-lived: one, and one more after each finding.
    let servers_ok = match opts.mode {
        fuzz::Mode::Fresh => stats.servers == stats.inputs,
        fuzz::Mode::LongLived => stats.servers <= 1 + found.len() as u64,
    };
    ensure(
        servers_ok,
        format!(
            "{} inputs on {} servers in mode {}",
            stats.inputs,
            stats.servers,
            opts.mode.as_str()
        ),
    )?;
    if def.expect == "none" {
        return ensure(
            found.is_empty(),
            format!(
                "{} inputs: expected no finding, got {:?}",
                stats.inputs,
                found
                    .iter()
                    .map(|f| (
                        &f.case.finding.detail,
                        shrink::describe(&f.case.connections)
                    ))
                    .collect::<Vec<_>>()
            ),
        );
    }
    ensure(
        kinds == [def.expect.as_str()],
        format!(
            "expected one {} within {inputs} inputs, got {kinds:?} after {} inputs",
            def.expect, stats.inputs
        ),
    )?;
    // The minimised case replays to the same finding on a fresh server.
    let case = &found[0].case;
    let again = fuzz::replay(suite, &opts.cmd, &opts.exe, opts.timing, &case.connections)
        .map_err(|e| format!("{e:?}"))?;
    ensure(
        again.as_ref().map(|f| &f.signature) == Some(&case.finding.signature),
        format!(
            "the minimised case did not replay: {again:?}\n{}",
            shrink::describe(&case.connections).join("\n")
        ),
    )
}

// ------------------------------------------------------------------ fuzz pieces

fn same_seed_same_inputs() -> TestResult {
    for suite in ["hello", "framed", "messages"] {
        let (mut a, mut b, mut c) = (Gen::new(7), Gen::new(7), Gen::new(8));
        let xs: Vec<Script> = (0..50).map(|_| a.input(suite)).collect();
        let ys: Vec<Script> = (0..50).map(|_| b.input(suite)).collect();
        let zs: Vec<Script> = (0..50).map(|_| c.input(suite)).collect();
        ensure(xs == ys, format!("{suite}: seed 7 gave two different runs"))?;
        ensure(
            xs != zs,
            format!("{suite}: seeds 7 and 8 gave the same run"),
        )?;
    }
    Ok(())
}

/// The generator covers what the issue lists: invalid records, splits, pauses around the
/// gap, half-closes and resets, valid records too.
fn inputs_cover_the_mutation_space() -> TestResult {
    let mut g = Gen::new(1);
    let all: Vec<Script> = (0..400).map(|_| g.input("messages")).collect();
    let valid = all
        .iter()
        .filter(|s| codec::messages::Request::decode(&s.bytes()).is_ok())
        .count();
    let split = all.iter().filter(|s| s.steps.len() > 1).count();
    let gap = all
        .iter()
        .filter(|s| {
            s.steps
                .iter()
                .any(|st| matches!(st, Step::Pause { ms } if *ms >= 900))
        })
        .count();
    let half = all.iter().filter(|s| s.ending == Ending::HalfClose).count();
    let reset = all.iter().filter(|s| s.ending == Ending::Reset).count();
    let huge = all.iter().filter(|s| s.bytes().len() > 60_000).count();
    let figures =
        format!("valid {valid}, split {split}, gap {gap}, half {half}, reset {reset}, huge {huge}");
    ensure(
        valid > 20 && valid < 380 && split > 20 && gap > 0 && half > 0 && reset > 0 && huge > 0,
        figures,
    )
}

fn ddmin_finds_a_minimal_input() -> TestResult {
    // "Crashes" when both 3 and 7 are present.
    let items: Vec<u8> = (0..40).collect();
    let mut calls = 0;
    let got = shrink::ddmin(items, &mut |s: &[u8]| {
        calls += 1;
        s.contains(&3) && s.contains(&7)
    });
    ensure(got == [3, 7], format!("{got:?} after {calls} calls"))
}

fn case_files_round_trip() -> TestResult {
    let case = Case {
        suite: "framed".to_owned(),
        seed: 9,
        finding: fuzz::Finding {
            kind: Kind::Hang,
            detail: "d".to_owned(),
            signature: "hang".to_owned(),
        },
        connections: vec![Script {
            steps: vec![
                Step::Send {
                    hex: vec![0, 0, 0, 255, b'a'],
                },
                Step::Pause { ms: 1100 },
                Step::Await { ms: 300 },
            ],
            ending: Ending::Reset,
        }],
    };
    let text = serde_json::to_string(&case).map_err(|e| e.to_string())?;
    ensure(
        text.contains("\"000000ff61\""),
        format!("hex bytes: {text}"),
    )?;
    let back: Case = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    ensure(back == case, "round trip")
}

/// A case file written by the CLI replays with `--replay` (exit 1: reproduced).
fn cli_replays_a_case() -> TestResult {
    let bin = build(&fuzz_dir(), "hello_nospace.c", &[])?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let case = dir.path().join("case.json");
    let c = Case {
        suite: "hello".to_owned(),
        seed: 1,
        finding: fuzz::Finding {
            kind: Kind::Crash,
            detail: String::new(),
            signature: "crash: killed by signal 11 (SIGSEGV: invalid memory access)".to_owned(),
        },
        connections: vec![Script {
            steps: vec![Step::Send {
                hex: b"GARBAGE".to_vec(),
            }],
            ending: Ending::Close,
        }],
    };
    std::fs::write(&case, serde_json::to_string(&c).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let out = Command::new(exe())
        .args(["fuzz", "hello", "--replay"])
        .arg(&case)
        .arg("--server-cmd")
        .arg(&bin)
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure(
        out.status.code() == Some(1) && text.contains("reproduced: crash (the recorded finding)"),
        format!("{:?}: {text}", out.status),
    )?;
    // The reference survives the same case: exit 0.
    let out = Command::new(exe())
        .args(["fuzz", "hello", "--replay"])
        .arg(&case)
        .output()
        .map_err(|e| e.to_string())?;
    ensure(
        out.status.code() == Some(0),
        format!(
            "reference: {:?} {}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        ),
    )
}

/// Every interop and fuzz trial.
pub fn trials() -> Vec<Trial> {
    use crate::timed;
    let mut trials = vec![
        timed(
            "interop::fuzz::same_seed_same_inputs",
            same_seed_same_inputs,
        ),
        timed(
            "interop::fuzz::inputs_cover_the_mutation_space",
            inputs_cover_the_mutation_space,
        ),
        timed(
            "interop::fuzz::ddmin_finds_a_minimal_input",
            ddmin_finds_a_minimal_input,
        ),
        timed(
            "interop::fuzz::case_files_round_trip",
            case_files_round_trip,
        ),
        timed("interop::fuzz::cli_replays_a_case", cli_replays_a_case),
        timed(
            "interop::reports_carry_every_cell",
            reports_carry_every_cell,
        ),
    ];
    let text = std::fs::read_to_string(interop_dir().join("manifest.toml"))
        .expect("fixtures/interop/manifest.toml");
    let m: InteropManifest = toml::from_str(&text).expect("interop manifest parses");
    for def in m.matrix {
        trials.push(timed(
            format!("interop::matrix::{}", def.suite),
            move || matrix_reaches_its_verdicts(def),
        ));
    }
    let text = std::fs::read_to_string(fuzz_dir().join("manifest.toml"))
        .expect("fixtures/fuzz/manifest.toml");
    let m: FuzzManifest = toml::from_str(&text).expect("fuzz manifest parses");
    for def in m.server {
        let inputs = m.inputs;
        trials.push(timed(
            format!("interop::fuzz::fixture::{}", def.name),
            move || fuzz_fixture_gives_its_finding(def, inputs),
        ));
    }
    trials
}
