//! `conformance`: run a suite against a student's programs (or the references), grade a
//! class, bundle a Gradescope autograder, list the checks, or run a reference program. See
//! DESIGN.md "Command line". Each subcommand dispatches to one function (most live in the
//! library), so adding one is a variant and a match arm.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clap::{Parser, Subcommand, ValueEnum};

use conformance::check::{Check, Model, Role};
use conformance::driver::{CommandSpec, RunConfig, SubjectCmd, run_checks};
use conformance::grade;
use conformance::report::progress::{Mode, Progress};
use conformance::report::{self, Format, Rubric, RunInfo, human, list, points};
use conformance::suites::{self, Suite};
use conformance::timing::Timing;

#[derive(Parser, Debug)]
#[command(
    name = "conformance",
    version,
    about = "Conformance suite for four socket-programming assignments"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run a suite against your programs (or, with neither command, the references).
    Run(RunArgs),
    /// Every client against every server of one protocol (`conformance interop --help`).
    Interop(conformance::interop::cli::Args),
    /// Live fuzzing of a server (`conformance fuzz --help`).
    Fuzz(conformance::fuzz::cli::Args),
    /// List the checks.
    List {
        /// One suite (default: all).
        suite: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: ListFormat,
    },
    /// Grade a class: build and run every submission, write a gradebook.
    Grade(grade::GradeArgs),
    /// Write a Gradescope autograder (setup.sh, run_autograder, this binary, the config).
    GradescopeBundle(grade::bundle::BundleArgs),
    /// Run a reference program: `conformance ref tcpserver 5000`. Without a program, list them.
    Ref {
        /// Program name.
        program: Option<String>,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// hello, framed, messages, multiclient, several joined by commas, or all.
    suite: String,
    /// Your server, e.g. "./tcpserver" or "python3 server.py" (the port is appended, or
    /// use placeholders {host} {port}).
    #[arg(long, value_name = "CMD")]
    server_cmd: Option<String>,
    /// Your client, e.g. "./tcpclient" ({host} {port} {seq} appended unless placeholders are used).
    #[arg(long, value_name = "CMD")]
    client_cmd: Option<String>,
    /// The server's model (hello: part A iterative, B threaded, C event-driven).
    #[arg(long, value_enum)]
    model: Option<Model>,
    /// Run only checks whose ID matches (substring, or a glob with *; `hello.server.x` or
    /// `hello::server::x`). Repeatable.
    #[arg(long, value_name = "PATTERN")]
    only: Vec<String>,
    /// Skip checks whose ID matches (substring, or a glob with *). Repeatable.
    #[arg(long, value_name = "PATTERN")]
    skip: Vec<String>,
    /// Recommended checks fail the run too.
    #[arg(long)]
    strict: bool,
    /// Extra seconds added to every deadline, for loaded machines.
    #[arg(long, value_name = "SECS", default_value = "2")]
    slack: f64,
    /// The periodic interval the server was built with (multiclient; default 60).
    #[arg(long, value_name = "SECS")]
    period: Option<f64>,
    /// Force this port for servers (for programs that hard-code it); checks then run one at a time.
    #[arg(long, value_name = "N")]
    port: Option<u16>,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Also write a report: FORMAT=FILE (human, json, junit, gradescope, html). Repeatable.
    #[arg(long = "report", value_name = "FORMAT=FILE", value_parser = parse_report)]
    reports: Vec<(Format, PathBuf)>,
    /// Points per check: a TOML file with a [points] table (e.g. grade.toml).
    #[arg(long, value_name = "FILE")]
    points: Option<PathBuf>,
    /// Checks run at once (each with its own processes and ports).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 8)]
    jobs: usize,
    /// Memory of each subject, in MiB (cgroup limit; address-space limit where there is none).
    #[arg(long = "memory", value_name = "MIB", default_value_t = conformance::driver::command::DEFAULT_MEMORY >> 20)]
    memory: u64,
    /// CPU seconds of each subject process.
    #[arg(long = "cpu-time", value_name = "SECS", default_value_t = conformance::driver::command::DEFAULT_CPU_SECS)]
    cpu_time: u64,
    /// Processes and threads of each subject at once (cgroup pids.max, where available).
    #[arg(long = "max-procs", value_name = "N", default_value_t = conformance::driver::command::DEFAULT_MAX_PROCS)]
    max_procs: u64,
    /// List the checks that would run, and exit.
    #[arg(long)]
    list: bool,
}

fn parse_report(v: &str) -> Result<(Format, PathBuf), String> {
    let (f, path) = v
        .split_once('=')
        .ok_or_else(|| format!("--report takes FORMAT=FILE, not {v:?}"))?;
    let f = Format::from_str(f, true).map_err(|_| {
        format!("unknown report format {f:?} (human, json, junit, gradescope, html)")
    })?;
    if path.is_empty() {
        return Err(format!("--report {v}: no file name"));
    }
    Ok((f, PathBuf::from(path)))
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ListFormat {
    Human,
    Json,
    Markdown,
}

fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("conformance: {msg}");
    ExitCode::from(2)
}

/// `hello`, `hello,framed` or `all`.
fn pick_suites(name: &str) -> Option<Vec<&'static Suite>> {
    if name == "all" {
        return Some(suites::SUITES.iter().collect());
    }
    name.split(',').map(|n| suites::find(n.trim())).collect()
}

fn parse_secs(flag: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && (0.0..=3600.0).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{flag} takes seconds between 0 and 3600, not {v}"))
    }
}

fn subject(cmd: &Option<String>, exe: &std::path::Path) -> Result<SubjectCmd, String> {
    match cmd {
        None => Ok(SubjectCmd::Reference(exe.to_path_buf())),
        Some(line) => {
            let spec = CommandSpec::parse(line).map_err(|e| e.to_string())?;
            spec.resolve().map_err(|e| e.to_string())?;
            Ok(SubjectCmd::Command(spec))
        }
    }
}

/// Every file a report goes to, checked before any check runs (a report lost after a
/// two-minute run is the worst moment to learn of a typo in a folder name).
fn check_outputs(outputs: &[(Format, PathBuf)]) -> Result<(), String> {
    for (i, (_, path)) in outputs.iter().enumerate() {
        if outputs[..i].iter().any(|(_, p)| p == path) {
            return Err(format!("two reports go to {}", path.display()));
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        if !parent.is_dir() {
            return Err(format!(
                "cannot write the report {}: folder {} does not exist",
                path.display(),
                parent.display()
            ));
        }
        if path.is_dir() {
            return Err(format!(
                "cannot write the report {}: it is a folder",
                path.display()
            ));
        }
        // Opened for writing now (an existing file stays as it is until the run ends; a new
        // one is removed again), so a read-only folder is found before the run too.
        let existed = path.exists();
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| format!("cannot write the report {}: {e}", path.display()))?;
        if !existed {
            let _ = std::fs::remove_file(path);
        }
    }
    Ok(())
}

fn read_rubric(path: &Option<PathBuf>) -> Result<Rubric, String> {
    let Some(path) = path else {
        return Ok(Rubric::default());
    };
    grade::config::Config::load(path).map(|c| c.points)
}

/// Why a run selected no check, in words that say what to change.
fn nothing_selected(a: &RunArgs, chosen: &[&'static Suite], roles: &[Role]) -> String {
    let in_roles = chosen
        .iter()
        .flat_map(|s| s.checks.iter())
        .filter(|c| roles.contains(&c.role))
        .count();
    let roles_text: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    if in_roles == 0 {
        return format!(
            "no check selected: suite {} has no {} checks (give --server-cmd or --client-cmd for a \
             role it has)",
            a.suite,
            roles_text.join(" or ")
        );
    }
    format!(
        "no check selected: --only {:?} --skip {:?} leave none of the {in_roles} {} checks of {} \
         (IDs look like {}; see `conformance list`)",
        a.only,
        a.skip,
        roles_text.join("/"),
        a.suite,
        chosen
            .iter()
            .flat_map(|s| s.checks.first())
            .map(|c| c.id)
            .next()
            .unwrap_or("hello.server.handshake")
    )
}

fn run(a: RunArgs) -> ExitCode {
    let started = SystemTime::now();
    let clock = Instant::now();
    let Some(chosen) = pick_suites(&a.suite) else {
        let names: Vec<&str> = suites::SUITES.iter().map(|s| s.name).collect();
        return usage_error(format!(
            "unknown suite {:?} (one of {}, all)",
            a.suite,
            names.join(", ")
        ));
    };
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => return usage_error(format!("cannot find my own executable: {e}")),
    };
    let (server, client) = match (subject(&a.server_cmd, &exe), subject(&a.client_cmd, &exe)) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return usage_error(e),
    };
    let slack = match parse_secs("--slack", a.slack) {
        Ok(d) => d,
        Err(e) => return usage_error(e),
    };
    let mut timing = Timing {
        slack,
        ..Timing::default()
    };
    let given = match a.period.map(|p| parse_secs("--period", p)) {
        None => None,
        Some(Ok(d)) if !d.is_zero() => Some(d),
        Some(Ok(_)) => return usage_error("--period must be more than 0"),
        Some(Err(e)) => return usage_error(e),
    };
    timing = timing.with_period(given, a.server_cmd.is_none());
    let rubric = match read_rubric(&a.points) {
        Ok(r) => r,
        Err(e) => return usage_error(e),
    };
    let mut outputs = a.reports.clone();
    if let Some(path) = &a.output {
        outputs.insert(0, (a.format, path.clone()));
    }
    let references = a.server_cmd.is_none() && a.client_cmd.is_none();
    let roles: Vec<Role> = if references {
        vec![Role::Server, Role::Client]
    } else {
        let mut r = Vec::new();
        if a.server_cmd.is_some() {
            r.push(Role::Server);
        }
        if a.client_cmd.is_some() {
            r.push(Role::Client);
        }
        r
    };
    // Against the references the default model is threaded: every hello check applies.
    let model = a.model.or(references.then_some(Model::Threaded));
    let cfg = Arc::new(RunConfig {
        server,
        client,
        model,
        timing,
        fixed_port: a.port,
        limits: conformance::driver::Limits {
            cpu_secs: a.cpu_time,
            max_procs: a.max_procs,
            ..Default::default()
        }
        .with_memory(a.memory << 20),
    });
    let checks: Vec<&'static Check> = chosen
        .iter()
        .flat_map(|s| s.checks.iter())
        .filter(|c| roles.contains(&c.role))
        .filter(|c| a.only.is_empty() || a.only.iter().any(|p| points::matches(p, c.id)))
        .filter(|c| !a.skip.iter().any(|p| points::matches(p, c.id)))
        .collect();
    let suite_names: Vec<String> = chosen
        .iter()
        .filter(|s| checks.iter().any(|c| c.suite == s.name))
        .map(|s| s.name.to_owned())
        .collect();
    if a.list {
        for c in &checks {
            println!("{}", c.id);
        }
        return ExitCode::SUCCESS;
    }
    if checks.is_empty() {
        return usage_error(nothing_selected(&a, &chosen, &roles));
    }
    if let Err(e) = check_outputs(&outputs) {
        return usage_error(e);
    }
    // On a terminal, each check's line appears as it completes (a multiclient run lasts
    // minutes); the report then adds the failures in detail and the summary.
    let human_stdout = a.format == Format::Human && a.output.is_none();
    let live = human_stdout && std::io::stdout().is_terminal();
    let color = live && std::env::var_os("NO_COLOR").is_none();
    let header = match model {
        Some(m) => Some(format!(
            "model: {m}{}",
            if references { " (reference programs)" } else { "" }
        )),
        None if roles.contains(&Role::Server) && chosen.iter().any(|s| !s.models.is_empty()) => Some(
            "model: not given, iterative assumed (use --model threaded or event-driven for parts B and C)"
                .to_owned(),
        ),
        None => None,
    };
    if live && let Some(h) = &header {
        println!("{h}");
    }
    let progress = Progress::start(&checks, &cfg.timing, Mode::for_stderr());
    let done = |r: &conformance::driver::CheckReport| {
        progress.done(r, live.then(|| human::line(r, color, false)));
    };
    let mut info = RunInfo {
        suites: suite_names,
        server: cfg
            .server
            .user_display()
            .map(str::to_owned)
            .filter(|_| roles.contains(&Role::Server)),
        client: cfg
            .client
            .user_display()
            .map(str::to_owned)
            .filter(|_| roles.contains(&Role::Client)),
        model: model.map(|m| m.as_str().to_owned()),
        strict: a.strict,
        slack,
        period: cfg.timing.period,
        started,
        duration: Duration::ZERO,
        rubric,
    };
    {
        // SIGINT/SIGTERM: subjects end at once, the finished checks are reported (marked
        // incomplete on stderr), exit 130/143.
        let (info, format) = (info.clone(), a.format);
        conformance::driver::signals::install(move |sig, done| {
            eprintln!(
                "conformance: interrupted by signal {sig}: INCOMPLETE report of the {} \
                 checks that finished",
                done.len()
            );
            let info = RunInfo {
                duration: clock.elapsed(),
                ..info.clone()
            };
            let text = if format == Format::Human {
                human::render(&info.suites, done, false, false, true)
            } else {
                report::render(format, &info, done)
            };
            let _ = std::io::stdout().write_all(text.as_bytes());
        });
    }
    let reports = run_checks(&checks, &cfg, a.jobs, &done);
    progress.finish();
    info.duration = clock.elapsed();
    for (format, path) in &outputs {
        if let Err(e) = std::fs::write(path, report::render(*format, &info, &reports)) {
            return usage_error(format!("cannot write the report {}: {e}", path.display()));
        }
    }
    let last = human::final_line(&info, &reports);
    if a.output.is_none() {
        let text = if a.format == Format::Human {
            let mut t = String::new();
            if !live && let Some(h) = &header {
                t.push_str(h);
                t.push('\n');
            }
            t.push_str(&human::render(&info.suites, &reports, color, false, !live));
            t.push_str(&last);
            t.push('\n');
            t
        } else {
            report::render(a.format, &info, &reports)
        };
        if let Err(e) = std::io::stdout().write_all(text.as_bytes()) {
            return usage_error(format!("cannot write the report: {e}"));
        }
    }
    if !human_stdout {
        // The report went to a file or is machine-read: the verdict line is for the log.
        eprintln!("conformance: {last}");
    }
    // Every check errored: the suite could not run at all (no ports, no processes), which
    // is no verdict on the program.
    let all_errored = reports
        .iter()
        .all(|r| matches!(r.outcome, conformance::check::Outcome::Errored(_)));
    // An errored check is the machine's problem: never a verdict of 1 on the program.
    let any_errored = reports
        .iter()
        .any(|r| matches!(r.outcome, conformance::check::Outcome::Errored(_)));
    if all_errored {
        eprintln!("conformance: the suite could not run any check (see the errors above)");
        ExitCode::from(2)
    } else if any_errored {
        eprintln!("conformance: the suite could not run some checks (errored above): exit 2");
        ExitCode::from(2)
    } else if report::passes(&reports, a.strict) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Run(a) => run(a),
        Cmd::Grade(a) => grade::grade(a),
        Cmd::GradescopeBundle(a) => grade::bundle::bundle(a),
        Cmd::Interop(a) => conformance::interop::cli::main(a),
        Cmd::Fuzz(a) => conformance::fuzz::cli::main(a),
        Cmd::List { suite, format } => {
            let chosen = match suite
                .as_deref()
                .map_or(Some(suites::SUITES.iter().collect()), pick_suites)
            {
                Some(c) => c,
                None => {
                    return usage_error(format!("unknown suite {:?}", suite.unwrap_or_default()));
                }
            };
            let text = match format {
                ListFormat::Human => list::human(&chosen),
                ListFormat::Json => list::json(&chosen) + "\n",
                ListFormat::Markdown => list::markdown(&chosen),
            };
            print!("{text}");
            ExitCode::SUCCESS
        }
        Cmd::Ref { program: None, .. } => {
            for p in reference::PROGRAMS {
                println!("{p}");
            }
            ExitCode::SUCCESS
        }
        Cmd::Ref {
            program: Some(p),
            args,
        } => {
            let code = reference::run(&p, &args);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}
