//! `conformance interop`: every client against every server of one protocol, each pair
//! through the protocol's ordinary exchanges, with the connection relayed through the suite
//! ([`relay`]) so a cell is judged from both sides: what the client printed and how it ended,
//! what the server printed, and the bytes on the wire decoded with the codec. A failed cell
//! names the side that broke the protocol (the first departure from the protocol, in the
//! order the exchange happens) and carries the transcript. Reports: [`report`].

pub mod cli;
pub mod relay;
pub mod report;
mod scenarios;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use crate::check::Stop;
use crate::driver::{CommandSpec, Ctx, RunConfig, SubjectCmd};
use crate::suites::{self, Suite};
use crate::timing::Timing;

/// One program in the matrix: a student's command or the reference.
#[derive(Debug, Clone)]
pub struct Party {
    /// How it is shown (the command line, or `reference`).
    pub label: String,
    /// How it is started.
    pub cmd: SubjectCmd,
}

impl Party {
    /// The reference program of the role, reached through `exe ref`.
    pub fn reference(exe: &Path) -> Party {
        Party {
            label: "reference".to_owned(),
            cmd: SubjectCmd::Reference(exe.to_path_buf()),
        }
    }
    /// A user's command line (split like a shell; the program must exist).
    pub fn command(line: &str) -> Result<Party, String> {
        let spec = CommandSpec::parse(line).map_err(|e| e.to_string())?;
        spec.resolve().map_err(|e| e.to_string())?;
        Ok(Party {
            label: line.to_owned(),
            cmd: SubjectCmd::Command(spec),
        })
    }
}

/// Which side broke the protocol in a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Blame {
    /// The client's bytes, output or exit departed from the protocol.
    Client,
    /// The server's bytes, output or life departed from the protocol.
    Server,
    /// The suite could not run the pair (no port, a command that cannot start): no verdict.
    Harness,
}

impl Blame {
    /// `client`, `server`, `harness`.
    pub fn as_str(self) -> &'static str {
        match self {
            Blame::Client => "client",
            Blame::Server => "server",
            Blame::Harness => "harness",
        }
    }
}

/// The first departure from the protocol in one exchange.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The exchange ("X = 99", "long payload").
    pub exchange: String,
    /// Who departed.
    pub blame: Blame,
    /// What the protocol asks for at that point.
    pub expected: String,
    /// What was seen.
    pub actual: String,
}

/// One exchange of a cell and its transcript.
#[derive(Debug, Clone, Serialize)]
pub struct Exchange {
    /// Its name.
    pub name: String,
    /// Whether it conformed on both sides.
    pub passed: bool,
    /// Client command and output, server output, wire, one line each.
    pub transcript: Vec<String>,
}

/// One client against one server.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Index into [`Matrix::servers`].
    pub server: usize,
    /// Index into [`Matrix::clients`].
    pub client: usize,
    /// Every exchange run, in order.
    pub exchanges: Vec<Exchange>,
    /// At most one per exchange; empty: the pair works.
    pub findings: Vec<Finding>,
    /// Wall time of the cell.
    pub duration_ms: u128,
}

impl Cell {
    /// Whether the pair went through every exchange conforming.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
    /// Whether the suite could not judge it.
    pub fn errored(&self) -> bool {
        self.findings.iter().any(|f| f.blame == Blame::Harness)
    }
    /// The side blamed first (None: passed).
    pub fn blame(&self) -> Option<Blame> {
        self.findings.first().map(|f| f.blame)
    }
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The protocol.
    pub suite: &'static Suite,
    /// Rows.
    pub servers: Vec<Party>,
    /// Columns.
    pub clients: Vec<Party>,
    /// Row-major: server 0 with every client, then server 1, ...
    pub cells: Vec<Cell>,
}

impl Matrix {
    /// The cell of `server` and `client`.
    pub fn cell(&self, server: usize, client: usize) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.server == server && c.client == client)
    }
    /// Whether every cell passed.
    pub fn all_passed(&self) -> bool {
        self.cells.iter().all(Cell::passed)
    }
    /// Whether any cell could not be judged.
    pub fn any_errored(&self) -> bool {
        self.cells.iter().any(Cell::errored)
    }
}

/// What a run needs besides the parties.
#[derive(Debug, Clone)]
pub struct Options {
    /// The suite's binary (the references are `exe ref ...`).
    pub exe: std::path::PathBuf,
    /// Deadlines.
    pub timing: Timing,
    /// Cells run at once (each with its own server, relay and ports).
    pub jobs: usize,
}

/// The suites with an interop scenario (every protocol).
pub fn suite(name: &str) -> Option<&'static Suite> {
    suites::find(name)
}

/// Runs every client against every server.
pub fn run(
    suite: &'static Suite,
    servers: Vec<Party>,
    clients: Vec<Party>,
    opts: &Options,
) -> Matrix {
    let pairs: Vec<(usize, usize)> = (0..servers.len())
        .flat_map(|s| (0..clients.len()).map(move |c| (s, c)))
        .collect();
    let next = AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|sc| {
        for _ in 0..opts.jobs.clamp(1, pairs.len().max(1)) {
            sc.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(s, c)) = pairs.get(i) else { break };
                    let cell = run_cell(suite, &servers[s], &clients[c], s, c, opts);
                    results.lock().unwrap_or_else(|e| e.into_inner()).push(cell);
                }
            });
        }
    });
    let mut cells = results.into_inner().unwrap_or_else(|e| e.into_inner());
    cells.sort_by_key(|c| (c.server, c.client));
    Matrix {
        suite,
        servers,
        clients,
        cells,
    }
}

fn run_cell(
    suite: &'static Suite,
    server: &Party,
    client: &Party,
    si: usize,
    ci: usize,
    opts: &Options,
) -> Cell {
    let started = Instant::now();
    let cfg = Arc::new(RunConfig {
        server: server.cmd.clone(),
        client: client.cmd.clone(),
        timing: opts.timing,
        ..RunConfig::reference(opts.exe.clone())
    });
    let mut cell = Cell {
        server: si,
        client: ci,
        exchanges: Vec::new(),
        findings: Vec::new(),
        duration_ms: 0,
    };
    // A Ctx needs a check to belong to; the pair belongs to the suite, and the first check
    // only names it (nothing of the check runs).
    let Some(anchor) = suite.checks.first() else {
        cell.findings
            .push(harness("setup", "the suite has no checks to anchor a run"));
        return cell;
    };
    let mut ctx = Ctx::new(anchor, suite, cfg);
    scenarios::play(suite.name, &mut ctx, &client.cmd, &mut cell);
    cell.duration_ms = started.elapsed().as_millis();
    cell
}

/// A finding for the machine's trouble.
pub(crate) fn harness(exchange: &str, why: impl Into<String>) -> Finding {
    Finding {
        exchange: exchange.to_owned(),
        blame: Blame::Harness,
        expected: "the suite can run the pair".to_owned(),
        actual: why.into(),
    }
}

/// A server that did not start or stopped, or the machine's trouble, as a finding.
pub(crate) fn from_stop(exchange: &str, blame: Blame, stop: Stop) -> Finding {
    match stop {
        Stop::Fail(f) => Finding {
            exchange: exchange.to_owned(),
            blame,
            expected: f.expected,
            actual: f.actual,
        },
        Stop::Error(e) => harness(exchange, e.to_string()),
        other => harness(exchange, format!("{other:?}")),
    }
}
