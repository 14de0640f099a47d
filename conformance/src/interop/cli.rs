//! The `conformance interop` subcommand: flags, the matrix's rows and columns, the report,
//! the exit status (0 every pair works, 1 some does not, 2 usage or the suite could not run).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::ValueEnum;

use super::{Options, Party};
use crate::timing::Timing;

/// `conformance interop SUITE --server CMD... --client CMD... [--reference]`
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Every client is run against every server, through a relay that records \
    the bytes; each pair goes through the protocol's ordinary exchanges (hello: several X with \
    digit roll-over; framed: short, long, multibyte, back-to-back frames; messages: create then \
    read, several messages, an empty read; multiclient: three clients connect and leave, judged \
    on the server's lines). A failing pair names the side that broke the protocol, with the \
    transcript. The references join as a row and a column with --reference, and by default for a \
    role given fewer than two programs.\n\nExit status: 0 every pair works, 1 some pair does not, \
    2 usage error or the suite could not run a pair."
)]
pub struct Args {
    /// hello, framed, messages or multiclient.
    pub suite: String,
    /// A server command (repeatable), e.g. "./tcpserver" or "python3 server.py".
    #[arg(long = "server", value_name = "CMD")]
    pub servers: Vec<String>,
    /// A client command (repeatable). multiclient: a program that connects to {host} {port}
    /// and stays connected until it is killed.
    #[arg(long = "client", value_name = "CMD")]
    pub clients: Vec<String>,
    /// Add the reference server and client as a row and a column.
    #[arg(long)]
    pub reference: bool,
    /// Report format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Extra seconds added to every deadline, for loaded machines.
    #[arg(long, value_name = "SECS", default_value = "2")]
    pub slack: f64,
    /// Pairs run at once (each with its own server, relay and ports).
    #[arg(short = 'j', long = "jobs", value_name = "N", default_value_t = 4)]
    pub jobs: usize,
}

/// Report formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The matrix, then the failures in detail.
    Human,
    /// Machine-readable, every cell with its findings and transcript.
    Json,
    /// One testcase per pair.
    Junit,
    /// A self-contained page: the matrix and each failing cell's transcript.
    Html,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("conformance interop: {msg}");
    ExitCode::from(2)
}

/// This executable (the reference subjects are its hidden subcommands) and the timing of
/// `--slack` (checked: seconds between 0 and 3600), for `interop` and `fuzz` alike.
pub(crate) fn exe_and_timing(slack: f64) -> Result<(PathBuf, Timing), String> {
    if !(slack.is_finite() && (0.0..=3600.0).contains(&slack)) {
        return Err("--slack takes seconds between 0 and 3600".to_owned());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find my own executable: {e}"))?;
    let timing = Timing {
        slack: Duration::from_secs_f64(slack),
        ..Timing::default()
    };
    Ok((exe, timing))
}

/// Runs the subcommand.
pub fn main(a: Args) -> ExitCode {
    let Some(suite) = super::suite(&a.suite) else {
        return usage(format!(
            "unknown suite {:?} (hello, framed, messages, multiclient)",
            a.suite
        ));
    };
    let (exe, timing) = match exe_and_timing(a.slack) {
        Ok(v) => v,
        Err(e) => return usage(e),
    };
    let parties = |cmds: &[String]| -> Result<Vec<Party>, String> {
        let mut v: Vec<Party> = cmds
            .iter()
            .map(|c| Party::command(c))
            .collect::<Result<_, _>>()?;
        if a.reference || v.len() < 2 {
            v.push(Party::reference(&exe));
        }
        Ok(v)
    };
    let (servers, clients) = match (parties(&a.servers), parties(&a.clients)) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => return usage(e),
    };
    let opts = Options {
        exe: exe.clone(),
        timing,
        jobs: a.jobs,
    };
    let m = super::run(suite, servers, clients, &opts);
    let text = match a.format {
        Format::Human => super::report::human(&m),
        Format::Json => super::report::json(&m),
        Format::Junit => super::report::junit(&m),
        Format::Html => super::report::html(&m),
    };
    let written = match &a.output {
        Some(p) => std::fs::write(p, &text),
        None => {
            use std::io::Write;
            std::io::stdout().write_all(text.as_bytes())
        }
    };
    if let Err(e) = written {
        return usage(format!("cannot write the report: {e}"));
    }
    if m.all_passed() {
        ExitCode::SUCCESS
    } else if m.cells.iter().all(super::Cell::errored) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}
