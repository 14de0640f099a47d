//! The `conformance fuzz` subcommand: flags, case files, and the report (human, JSON,
//! JUnit) with each finding's minimised input as hex and text. Exit status: 0 no finding,
//! 1 findings (or, with --replay, the case reproduced), 2 usage or the suite could not run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum;
use serde::Serialize;

use super::{Case, Mode, Options, Reported, Stats, shrink};
use crate::driver::{CommandSpec, SubjectCmd};
use crate::timing::Timing;

/// `conformance fuzz <hello|framed|messages> --server-cmd CMD [...]`
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each input is a valid record or stream built with the codec, mutated \
    (lengths off by one or huge, magic and IDs changed, fields cut, bytes appended, floods), \
    split at field boundaries with pauses (some around the 1 s gap), and ended by a close, a \
    half-close or a reset. After each input: is the server alive, did it print a traceback, \
    did it answer an invalid record (messages) or answer wrongly, does a valid client still get \
    served within its deadline. Each finding is minimised (delta debugging over the connections, \
    steps, schedule and bytes, on fresh servers) and saved as a JSON case file; --replay CASE \
    plays one again. Same seed, same inputs (with --jobs 1, the same run).\n\nExit status: 0 \
    no finding (with --replay: it did not reproduce), 1 findings (it reproduced), 2 usage error \
    or the suite could not run the server."
)]
pub struct Args {
    /// hello, framed or messages.
    pub suite: String,
    /// Your server, e.g. "./tcpserver" or "python3 server.py" (the port is appended, or use
    /// {port}). Without it: the reference server.
    #[arg(long, value_name = "CMD")]
    pub server_cmd: Option<String>,
    /// How long to generate inputs (e.g. 60s, 2m, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub time: Duration,
    /// Seed of the input generator.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many inputs per worker.
    #[arg(long, value_name = "N")]
    pub inputs: Option<u64>,
    /// Workers, each with its own server and its own stream of inputs.
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 1)]
    pub jobs: usize,
    /// Where case files are written.
    #[arg(long, value_name = "DIR", default_value = "fuzz-cases")]
    pub out: PathBuf,
    /// Replay this case file instead of fuzzing.
    #[arg(long, value_name = "CASE")]
    pub replay: Option<PathBuf>,
    /// Time allowed to minimise each finding.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub shrink_time: Duration,
    /// Stop at the first finding.
    #[arg(long)]
    pub stop_at_first: bool,
    /// long-lived: one server per worker, kept across inputs (finds what accumulates);
    /// fresh: a new server for every input (each finding is one input's alone).
    #[arg(long, value_enum, default_value_t = Mode::LongLived)]
    pub mode: Mode,
    /// Extra seconds added to every deadline, for loaded machines.
    #[arg(long, value_name = "SECS", default_value = "2")]
    pub slack: f64,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Report formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Findings with their minimised input.
    Human,
    /// Machine-readable.
    Json,
    /// One testcase per finding (a passing one when there is none).
    Junit,
}

/// `60s`, `2m`, `500ms`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let v: f64 = num.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" | "min" => v * 60.0,
        "h" => v * 3600.0,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m, h)")),
    };
    if !(secs.is_finite() && (0.0..=86_400.0).contains(&secs)) {
        return Err(format!("{s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("conformance fuzz: {msg}");
    ExitCode::from(2)
}

/// What a report shows.
#[derive(Debug, Serialize)]
pub struct Report {
    tool: serde_json::Value,
    kind: &'static str,
    /// The protocol.
    pub suite: String,
    /// The server command (None: the reference).
    pub server: Option<String>,
    /// The seed.
    pub seed: u64,
    /// A server per worker (`long-lived`) or per input (`fresh`).
    pub mode: Mode,
    /// Run figures.
    pub stats: Stats,
    /// Findings.
    pub findings: Vec<Reported>,
}

/// Runs the subcommand.
pub fn main(a: Args) -> ExitCode {
    let Some(suite) = crate::suites::find(&a.suite).filter(|s| s.name != "multiclient") else {
        return usage(format!(
            "unknown suite {:?} (hello, framed, messages)",
            a.suite
        ));
    };
    let (exe, timing) = match crate::interop::cli::exe_and_timing(a.slack) {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    let cmd = match &a.server_cmd {
        None => SubjectCmd::Reference(exe.clone()),
        Some(line) => match CommandSpec::parse(line).and_then(|s| s.resolve().map(|_| s)) {
            Ok(spec) => SubjectCmd::Command(spec),
            Err(e) => return usage(e),
        },
    };
    if let Some(path) = &a.replay {
        return replay(suite, &cmd, &exe, timing, path, a.format);
    }
    let opts = Options {
        cmd,
        exe,
        timing,
        seed: a.seed,
        time: a.time,
        max_inputs: a.inputs,
        jobs: a.jobs,
        shrink_time: a.shrink_time,
        stop_at_first: a.stop_at_first,
        slow: true,
        mode: a.mode,
    };
    let (stats, mut findings) = match super::run(suite, &opts) {
        Ok(r) => r,
        Err(e) => return usage(format!("could not run the server: {e:?}")),
    };
    if !findings.is_empty() {
        if let Err(e) = std::fs::create_dir_all(&a.out) {
            return usage(format!("cannot create {}: {e}", a.out.display()));
        }
        for (i, f) in findings.iter_mut().enumerate() {
            let name = format!(
                "{}-{}-seed{}-{}.json",
                suite.name,
                f.case.finding.kind.as_str(),
                a.seed,
                i + 1
            );
            let path = a.out.join(name);
            let text = match serde_json::to_string_pretty(&f.case) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("conformance fuzz: cannot encode the case: {e}");
                    continue;
                }
            };
            match std::fs::write(&path, text + "\n") {
                Ok(()) => f.path = Some(path.display().to_string()),
                Err(e) => eprintln!("conformance fuzz: cannot write {}: {e}", path.display()),
            }
        }
    }
    let report = Report {
        tool: serde_json::json!({"name": "conformance", "version": env!("CARGO_PKG_VERSION")}),
        kind: "fuzz",
        suite: suite.name.to_owned(),
        server: a.server_cmd.clone(),
        seed: a.seed,
        mode: a.mode,
        stats,
        findings,
    };
    print!("{}", render(&report, a.format));
    if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn replay(
    suite: &'static crate::suites::Suite,
    cmd: &SubjectCmd,
    exe: &std::path::Path,
    timing: Timing,
    path: &std::path::Path,
    format: Format,
) -> ExitCode {
    let case: Case = match std::fs::read_to_string(path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => return usage(format!("cannot read the case {}: {e}", path.display())),
    };
    if case.suite != suite.name {
        return usage(format!(
            "the case is for {}, not {}",
            case.suite, suite.name
        ));
    }
    match super::replay(suite, cmd, exe, timing, &case.connections) {
        Ok(Some(f)) => {
            let same = f.signature == case.finding.signature;
            if format == Format::Json {
                println!(
                    "{}",
                    serde_json::json!({"reproduced": true, "same": same, "finding": f})
                );
            } else {
                println!(
                    "reproduced: {} ({})\n  {}\ninput:\n{}",
                    f.kind.as_str(),
                    if same {
                        "the recorded finding"
                    } else {
                        "a different finding"
                    },
                    f.detail,
                    shrink::describe(&case.connections).join("\n")
                );
            }
            ExitCode::from(1)
        }
        Ok(None) => {
            if format == Format::Json {
                println!("{}", serde_json::json!({"reproduced": false}));
            } else {
                println!("not reproduced: the server handled the case");
            }
            ExitCode::SUCCESS
        }
        Err(e) => usage(format!("could not run the server: {e:?}")),
    }
}

/// The report in `format`.
pub fn render(r: &Report, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(r).unwrap_or_default() + "\n",
        Format::Junit => junit(r),
        Format::Human => human(r),
    }
}

fn human(r: &Report) -> String {
    let mut s = format!(
        "fuzz {} against {} (seed {}, {}): {} inputs on {} server(s) in {:.1} s ({:.1} inputs/s), \
         {} finding(s)\n",
        r.suite,
        r.server.as_deref().unwrap_or("the reference server"),
        r.seed,
        r.mode.as_str(),
        r.stats.inputs,
        r.stats.servers,
        r.stats.fuzz_secs,
        r.stats.rate,
        r.findings.len()
    );
    for (i, f) in r.findings.iter().enumerate() {
        s.push_str(&format!(
            "\n{}. {}: {}\n   found after {} inputs, {:.1} s{}\n",
            i + 1,
            f.case.finding.kind.as_str(),
            f.case.finding.detail,
            f.after_inputs,
            f.after_secs,
            if f.reproduced {
                ""
            } else {
                " (did not reproduce on a fresh server: kept as found)"
            }
        ));
        s.push_str("   minimised input:\n");
        for l in shrink::describe(&f.case.connections) {
            s.push_str(&format!("     {l}\n"));
        }
        if let Some(p) = &f.path {
            s.push_str(&format!(
                "   case: {p}\n   replay: conformance fuzz {} --replay {p}{}\n",
                r.suite,
                r.server
                    .as_ref()
                    .map(|c| format!(" --server-cmd {}", shlex::try_quote(c).unwrap_or_default()))
                    .unwrap_or_default()
            ));
        }
    }
    s
}

fn junit(r: &Report) -> String {
    use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("fuzz.{}", r.suite));
    if r.findings.is_empty() {
        let mut tc = TestCase::new(
            format!("fuzz.{}: {} inputs, no finding", r.suite, r.stats.inputs),
            TestCaseStatus::success(),
        );
        tc.set_classname(format!("fuzz.{}", r.suite));
        suite.add_test_case(tc);
    }
    for f in &r.findings {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
        st.set_message(f.case.finding.detail.clone());
        st.set_type(f.case.finding.kind.as_str());
        st.set_description(shrink::describe(&f.case.connections).join("\n"));
        let mut tc = TestCase::new(format!("fuzz.{}.{}", r.suite, f.case.finding.signature), st);
        tc.set_classname(format!("fuzz.{}", r.suite));
        suite.add_test_case(tc);
    }
    let mut rep = JReport::new("conformance fuzz");
    rep.add_test_suite(suite);
    rep.to_string().unwrap_or_default()
}
