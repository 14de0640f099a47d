//! The cargo test face of the suite (libtest-mimic):
//! `cargo test -- [--suite S] [--server-cmd CMD] [--client-cmd CMD] [--model M] [--slack S]
//! [--period S] [--strict] [libtest flags]`. Our flags are taken out, the rest goes to
//! libtest-mimic (filters, --list, --exact, --skip, --test-threads, --format); a filter may
//! spell a check either way (`hello.server.handshake` or `hello::server::handshake`).
//! Environment fallbacks for cargo-nextest: the CONFORMANCE_* variables of `args::FLAGS`
//! (SUITE, SERVER_CMD, CLIENT_CMD, MODEL, SLACK, PERIOD, PORT, STRICT). A check that does not
//! apply to the model is an ignored trial, so nextest and libtest both show it skipped.
//!
//! Trials are `suite::role::behaviour` with the level as kind. Against the reference
//! programs (no command given) every model of a suite's server is run, as
//! `hello::server::handshake[threaded]`; with a command or `--model`, plain names.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use conformance::args::{self, HarnessArgs};
use conformance::check::{Check, Level, Model, Outcome, Role};
use conformance::driver::{CommandSpec, RunConfig, SubjectCmd, run_check};
use conformance::report::human;
use conformance::suites::{self, Suite};
use libtest_mimic::{Arguments, Completion, Failed, Trial};

/// Checks wait far more than they compute: run more at once than there are cores.
const DEFAULT_TEST_THREADS: usize = 8;

fn die(msg: &str) -> ! {
    eprintln!("conformance harness: {msg}");
    std::process::exit(2)
}

fn subject(cmd: &Option<String>, exe: &std::path::Path) -> SubjectCmd {
    match cmd {
        None => SubjectCmd::Reference(exe.to_path_buf()),
        Some(line) => {
            let spec = CommandSpec::parse(line).unwrap_or_else(|e| die(&e.to_string()));
            if let Err(e) = spec.resolve() {
                die(&e.to_string());
            }
            SubjectCmd::Command(spec)
        }
    }
}

fn secs(v: &Option<String>, flag: &str) -> Option<Duration> {
    v.as_ref().map(|s| match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=3600.0).contains(&x) => Duration::from_secs_f64(x),
        _ => die(&format!("{flag} takes seconds, not {s:?}")),
    })
}

fn trial_name(c: &Check, model: Option<Model>) -> String {
    let base = format!("{}::{}::{}", c.suite, c.role, c.behaviour());
    match model {
        Some(m) => format!("{base}[{m}]"),
        None => base,
    }
}

fn trial(c: &'static Check, cfg: Arc<RunConfig>, name: String, strict: bool) -> Trial {
    // Known before running: reported as ignored at list time (nextest reads that list).
    let not_applicable = !c.applies_to(cfg.model);
    Trial::ignorable_test(name, move || {
        let r = run_check(c, &cfg);
        let blocking = match c.level {
            Level::Required => true,
            Level::Recommended => strict,
            Level::Informational => false,
        };
        // nextest has no "ignored" after the fact: a failure that does not fail the run passes
        // there, so its text goes to the test's output (nextest's --success-output, JUnit).
        let non_blocking_failure =
            !blocking && !matches!(r.outcome, Outcome::Passed | Outcome::Skipped(_));
        if non_blocking_failure && std::env::var_os("NEXTEST_RUN_ID").is_some() {
            println!(
                "does not fail the run ({} check{}):\n{}",
                c.level,
                if strict {
                    ""
                } else {
                    ", without CONFORMANCE_STRICT=1"
                },
                human::details(&r, false, false)
            );
        }
        match &r.outcome {
            Outcome::Passed => Ok(Completion::Completed),
            Outcome::Skipped(why) => Ok(Completion::ignored_with(why)),
            Outcome::Failed(_) | Outcome::Errored(_) if blocking => {
                Err(Failed::from(human::details(&r, false, false)))
            }
            Outcome::Failed(f) => Ok(Completion::ignored_with(format!(
                "FAILED, but {} (does not fail the run{}): {}",
                c.level,
                if c.level == Level::Recommended {
                    " without --strict"
                } else {
                    ""
                },
                f.text().replace('\n', " ")
            ))),
            Outcome::Blocked { by, .. } if blocking => Err(Failed::from(format!(
                "blocked by {by}: not judged because that check did not pass"
            ))),
            Outcome::Blocked { by, .. } => Ok(Completion::ignored_with(format!("blocked by {by}"))),
            Outcome::Errored(e) => Ok(Completion::ignored_with(format!("errored: {e}"))),
        }
    })
    .with_kind(c.level.as_str())
    .with_ignored_flag(not_applicable)
}

fn main() {
    let ours: HarnessArgs = args::split(std::env::args())
        .unwrap_or_else(|e| die(&e))
        .with_env(|k| std::env::var(k).ok());
    let mut libtest = Arguments::from_iter(ours.libtest_args());
    if libtest.test_threads.is_none() {
        libtest.test_threads = Some(DEFAULT_TEST_THREADS);
    }
    let names: Vec<&str> = suites::SUITES.iter().map(|s| s.name).collect();
    let chosen: Vec<&'static Suite> = match ours.chosen_suite(&names) {
        Some(name) => match suites::find(&name) {
            Some(s) => vec![s],
            None => die(&format!(
                "unknown suite {name:?} (one of {})",
                names.join(", ")
            )),
        },
        None => suites::SUITES.iter().collect(),
    };
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_conformance"));
    let server = subject(&ours.server_cmd, &exe);
    let client = subject(&ours.client_cmd, &exe);
    let model = ours.model.as_deref().map(|m| {
        <Model as clap::ValueEnum>::from_str(m, true).unwrap_or_else(|_| {
            die(&format!(
                "unknown model {m:?} (iterative, threaded, event-driven)"
            ))
        })
    });
    let mut base = RunConfig::reference(exe.clone());
    base.server = server;
    base.client = client;
    base.model = model;
    if let Some(s) = secs(&ours.slack, "--slack") {
        base.timing.slack = s;
    }
    base.fixed_port = ours.port.as_ref().map(|p| {
        p.parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .unwrap_or_else(|| die(&format!("--port takes a port number, not {p:?}")))
    });
    if base.fixed_port.is_some() {
        // The subject's port is fixed: one check at a time, or they collide on it.
        libtest.test_threads = Some(1);
    }
    let given = secs(&ours.period, "--period").filter(|d| !d.is_zero());
    base.timing = base.timing.with_period(given, ours.server_cmd.is_none());
    let references = ours.server_cmd.is_none() && ours.client_cmd.is_none();
    let roles: Vec<Role> = if references {
        vec![Role::Server, Role::Client]
    } else {
        [
            (ours.server_cmd.is_some(), Role::Server),
            (ours.client_cmd.is_some(), Role::Client),
        ]
        .into_iter()
        .filter_map(|(on, r)| on.then_some(r))
        .collect()
    };
    let mut trials = Vec::new();
    for suite in chosen {
        // Against the references without --model: every model of the suite's server.
        let per_model = references && model.is_none() && !suite.models.is_empty();
        for c in suite.checks.iter().filter(|c| roles.contains(&c.role)) {
            if per_model && c.role == Role::Server {
                for &m in suite.models {
                    if !c.applies_to(Some(m)) {
                        continue;
                    }
                    let cfg = Arc::new(RunConfig {
                        model: Some(m),
                        ..base.clone()
                    });
                    trials.push(trial(c, cfg, trial_name(c, Some(m)), ours.strict));
                }
            } else {
                let cfg = Arc::new(base.clone());
                trials.push(trial(c, cfg, trial_name(c, None), ours.strict));
            }
        }
    }
    libtest_mimic::run(&libtest, trials).exit();
}
