//! `conformance`: run a suite against a student's programs (or the references), list the
//! checks, or run a reference program. See DESIGN.md "Command line".

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use conformance::check::{Check, Model, Role};
use conformance::driver::{CommandSpec, RunConfig, SubjectCmd, run_checks};
use conformance::report::{self, human, json, list};
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
    /// hello, framed, messages, multiclient, or all.
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
    model: Option<ModelArg>,
    /// Run only checks whose ID matches (substring, or a glob with *). Repeatable.
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
    format: RunFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Checks run at once (each with its own processes and ports).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 8)]
    jobs: usize,
    /// List the checks that would run, and exit.
    #[arg(long)]
    list: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ModelArg {
    Iterative,
    Threaded,
    EventDriven,
}

impl From<ModelArg> for Model {
    fn from(m: ModelArg) -> Model {
        match m {
            ModelArg::Iterative => Model::Iterative,
            ModelArg::Threaded => Model::Threaded,
            ModelArg::EventDriven => Model::EventDriven,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum RunFormat {
    Human,
    Json,
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

fn pick_suites(name: &str) -> Option<Vec<&'static Suite>> {
    if name == "all" {
        return Some(suites::SUITES.iter().collect());
    }
    suites::find(name).map(|s| vec![s])
}

/// `*` matches any run of characters; without `*` the pattern matches as a substring.
fn matches(pattern: &str, id: &str) -> bool {
    if !pattern.contains('*') {
        return id.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !id.starts_with(first) || id.len() < first.len() + last.len() || !id.ends_with(last) {
        return false;
    }
    let mut rest = &id[first.len()..id.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
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

fn run(a: RunArgs) -> ExitCode {
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
    let model = a
        .model
        .map(Model::from)
        .or(references.then_some(Model::Threaded));
    let cfg = Arc::new(RunConfig {
        server,
        client,
        model,
        timing,
        fixed_port: a.port,
        limits: Default::default(),
    });
    let checks: Vec<&'static Check> = chosen
        .iter()
        .flat_map(|s| s.checks.iter())
        .filter(|c| roles.contains(&c.role))
        .filter(|c| a.only.is_empty() || a.only.iter().any(|p| matches(p, c.id)))
        .filter(|c| !a.skip.iter().any(|p| matches(p, c.id)))
        .collect();
    let suite_names: Vec<String> = chosen
        .iter()
        .filter(|s| !s.checks.is_empty())
        .map(|s| s.name.to_owned())
        .collect();
    if a.list {
        for c in &checks {
            println!("{}", c.id);
        }
        return ExitCode::SUCCESS;
    }
    if checks.is_empty() {
        eprintln!(
            "conformance: no checks selected (suite {}, roles {roles:?})",
            a.suite
        );
    }
    // On a terminal, each check's line appears as it completes (a multiclient run lasts
    // minutes); the report then adds the failures in detail and the summary.
    let live =
        a.format == RunFormat::Human && a.output.is_none() && std::io::stdout().is_terminal();
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
    let progress = |r: &conformance::driver::CheckReport| {
        if live {
            println!("{}", human::line(r, color, false));
        }
    };
    let reports = run_checks(&checks, &cfg, a.jobs, &progress);
    let text = match a.format {
        RunFormat::Human => {
            let mut t = String::new();
            if !live && let Some(h) = &header {
                t.push_str(h);
                t.push('\n');
            }
            t.push_str(&human::render(&suite_names, &reports, color, false, !live));
            t
        }
        RunFormat::Json => {
            let subjects = json::Subjects {
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
            };
            let r = json::build(
                suite_names,
                subjects,
                model.map(|m| m.as_str().to_owned()),
                &reports,
                a.strict,
            );
            let mut s = serde_json::to_string_pretty(&r).unwrap_or_else(|_| "{}".to_owned());
            s.push('\n');
            s
        }
    };
    let written = match &a.output {
        Some(path) => std::fs::write(path, &text),
        None => std::io::stdout().write_all(text.as_bytes()),
    };
    if let Err(e) = written {
        return usage_error(format!("cannot write the report: {e}"));
    }
    // Every check errored: the suite could not run at all (no ports, no processes), which
    // is no verdict on the program.
    let all_errored = !reports.is_empty()
        && reports
            .iter()
            .all(|r| matches!(r.outcome, conformance::check::Outcome::Errored(_)));
    if all_errored {
        eprintln!("conformance: the suite could not run any check (see the errors above)");
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
