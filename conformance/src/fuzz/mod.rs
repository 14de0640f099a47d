//! `conformance fuzz`: live fuzzing of a student's server. Inputs come from [`inputs`]
//! (structure-aware, seeded); each is played on one connection to the subject (started and
//! contained by the driver), and then the oracle asks: is the subject alive, did it print a
//! traceback, did it answer what it must not (an invalid record) or answer wrongly, and does
//! it still serve a valid client within its deadline. A finding is minimised ([`shrink`]) on
//! fresh subjects and saved as a replayable case file (JSON); `--replay` plays one again.

pub mod cli;
pub mod inputs;
pub mod shrink;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use codec::framed::{FrameBuffer, expected_reply};
use codec::hello::Hello;
use codec::messages::{Request, RequestKind, Response};

use crate::check::Stop;
use crate::driver::subject::describe_status;
use crate::driver::{Ctx, Peer, RunConfig, Stream, Subject, SubjectCmd, describe_bytes};
use crate::suites::Suite;
use crate::timing::Timing;

/// One step of an input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Bytes sent in one write.
    Send {
        /// The bytes (hex in case files).
        #[serde(with = "hex")]
        hex: Vec<u8>,
    },
    /// Nothing sent for this long.
    Pause {
        /// Milliseconds.
        ms: u32,
    },
    /// Read what the server sends, for at most this long (hello: wait for the reply).
    Await {
        /// Milliseconds.
        ms: u32,
    },
}

/// How an input's connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ending {
    /// A clean close (FIN).
    Close,
    /// FIN on our side, then reading until the server closes (briefly).
    HalfClose,
    /// RST (SO_LINGER 0).
    Reset,
}

/// One connection's input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Script {
    /// What is sent, with pauses.
    pub steps: Vec<Step>,
    /// How it ends.
    pub ending: Ending,
}

impl Script {
    /// Every byte sent, in order.
    pub fn bytes(&self) -> Vec<u8> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Send { hex: b } => Some(b.as_slice()),
                _ => None,
            })
            .flatten()
            .copied()
            .collect()
    }

    /// The script in words: each step with its bytes as text and hex.
    pub fn describe(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .steps
            .iter()
            .map(|s| match s {
                Step::Send { hex: b } => format!(
                    "send {} B: {} hex {}",
                    b.len(),
                    describe_bytes(b),
                    hex::short(b)
                ),
                Step::Pause { ms } => format!("pause {ms} ms"),
                Step::Await { ms } => format!("read for up to {ms} ms"),
            })
            .collect();
        v.push(
            match self.ending {
                Ending::Close => "close",
                Ending::HalfClose => "half-close (FIN), read until the server closes",
                Ending::Reset => "reset (RST)",
            }
            .to_owned(),
        );
        v
    }
}

/// What the oracle found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The server exited or was killed by a signal.
    Crash,
    /// A Python traceback on its stderr (a handler thread died, or the whole program).
    Traceback,
    /// It stopped serving: a valid client was not answered within the deadline.
    Hang,
    /// It answered a valid input wrongly.
    WrongAnswer,
    /// It answered a record the text says it must refuse (messages: an invalid request).
    AnsweredInvalid,
}

impl Kind {
    /// `crash`, `hang`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Crash => "crash",
            Kind::Traceback => "traceback",
            Kind::Hang => "hang",
            Kind::WrongAnswer => "wrong-answer",
            Kind::AnsweredInvalid => "answered-invalid",
        }
    }
}

/// A finding: what kind, and what exactly was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The kind.
    pub kind: Kind,
    /// The evidence (status, traceback's last lines, the reply).
    pub detail: String,
    /// What tells two findings apart (kind and exit status / signal).
    pub signature: String,
}

/// A replayable case: connections played in order against a fresh server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// The protocol.
    pub suite: String,
    /// The seed of the run that found it.
    pub seed: u64,
    /// The finding it reproduces.
    pub finding: Finding,
    /// The minimised input.
    pub connections: Vec<Script>,
}

/// Hex (de)serialisation of bytes in case files.
pub mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Lower-case hex of all the bytes.
    pub fn encode(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// At most 64 bytes' worth of hex, then the count.
    pub fn short(b: &[u8]) -> String {
        if b.len() <= 64 {
            encode(b)
        } else {
            format!("{}... ({} bytes)", encode(&b[..64]), b.len())
        }
    }

    /// Parses hex (whitespace ignored).
    pub fn decode(s: &str) -> Result<Vec<u8>, String> {
        let digits: Vec<u8> = s.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
        if digits.len() % 2 != 0 {
            return Err("odd number of hex digits".to_owned());
        }
        digits
            .chunks(2)
            .map(|p| {
                std::str::from_utf8(p)
                    .ok()
                    .and_then(|t| u8::from_str_radix(t, 16).ok())
                    .ok_or_else(|| format!("not hex: {:?}", String::from_utf8_lossy(p)))
            })
            .collect()
    }

    /// serde `with`: serialize.
    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(b))
    }

    /// serde `with`: deserialize.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).map_err(serde::de::Error::custom)
    }
}

/// A server subject under fuzzing, with the driver's containment.
pub struct Target {
    suite: &'static Suite,
    ctx: Ctx,
    server: Subject,
    seen_lines: usize,
    timing: Timing,
    probes: u64,
}

/// Whether a probe's answer is complete and right.
type AnswerOk = fn(&[u8]) -> bool;

/// How long a valid client may wait for the server after an input.
fn probe_deadline(t: &Timing) -> Duration {
    t.response()
}

impl Target {
    /// Starts `cmd` as the suite's server and waits until it listens.
    pub fn start(
        suite: &'static Suite,
        cmd: &SubjectCmd,
        exe: &std::path::Path,
        timing: Timing,
    ) -> Result<Target, Stop> {
        let cfg = Arc::new(RunConfig {
            server: cmd.clone(),
            timing,
            ..RunConfig::reference(exe.to_path_buf())
        });
        let anchor = suite
            .checks
            .first()
            .ok_or_else(|| crate::check::harness_error("the suite has no checks"))?;
        let mut ctx = Ctx::new(anchor, suite, cfg);
        let server = ctx.server()?;
        let mut t = Target {
            suite,
            ctx,
            server,
            seen_lines: 0,
            timing,
            probes: 0,
        };
        // A server that fails a valid client before any input has nothing to fuzz: that is
        // the conformance suite's verdict (`conformance run`), not a finding.
        if let Some(f) = t.probe() {
            return Err(crate::check::fail(
                "the server serves a valid client before any fuzz input",
                format!("{} (run `conformance run {}` first)", f.detail, suite.name),
            ));
        }
        Ok(t)
    }

    /// Plays `script` on one connection and asks the oracle; None: nothing found.
    pub fn run(&mut self, script: &Script) -> Option<Finding> {
        let received = match self.play(script) {
            Ok(r) => r,
            Err(f) => return Some(f),
        };
        if let Some(f) = self.dead_or_traceback() {
            return Some(f);
        }
        if let Some(f) = judge_answer(self.suite.name, script, &received) {
            return Some(f);
        }
        self.probe()
    }

    fn connect(&mut self, label: &str) -> Result<Peer, Finding> {
        let log = self.ctx.transcript().clone();
        Peer::connect(
            self.server.port(),
            label,
            &log,
            probe_deadline(&self.timing),
        )
        .map_err(|_| {
            // A refused connection usually means the server is dying: its listening socket
            // closes before it can be reaped. Let it finish before calling this a hang.
            self.server.wait_exit(Duration::from_secs(1));
            self.dead_or_traceback().unwrap_or_else(|| Finding {
                kind: Kind::Hang,
                detail: "the server no longer accepts connections".to_owned(),
                signature: "hang: refuses connections".to_owned(),
            })
        })
    }

    fn play(&mut self, script: &Script) -> Result<Vec<u8>, Finding> {
        let mut peer = self.connect("fuzz")?;
        let mut got = Vec::new();
        for step in &script.steps {
            match step {
                // A server that closed or reset early is no finding by itself.
                Step::Send { hex: b } => {
                    let _ = peer.try_send(b);
                }
                Step::Pause { ms } => peer.pause(Duration::from_millis(u64::from(*ms))),
                Step::Await { ms } => {
                    let r = peer.recv_until_silence(
                        Duration::from_millis(30),
                        Duration::from_millis(u64::from(*ms)),
                    );
                    got.extend_from_slice(&r.bytes);
                }
            }
        }
        // What the server says to the input: at once (a close), or after a short silence.
        let r = peer.recv_until_silence(Duration::from_millis(30), ANSWER_WAIT);
        got.extend_from_slice(&r.bytes);
        match script.ending {
            Ending::Close => peer.close(),
            Ending::HalfClose => {
                peer.shutdown_write();
                let r = peer.recv_until_closed(ANSWER_WAIT);
                got.extend_from_slice(&r.bytes);
                peer.close();
            }
            Ending::Reset => peer.reset(),
        }
        Ok(got)
    }

    /// A crash (exit, signal) or a traceback printed since the last look.
    fn dead_or_traceback(&mut self) -> Option<Finding> {
        if let Some(status) = self.server.try_exit() {
            self.server
                .capture()
                .wait_closed(Duration::from_millis(500));
            let tb = self.traceback();
            let how = describe_status(status);
            return Some(Finding {
                kind: Kind::Crash,
                detail: format!(
                    "the server ended with {how}{}",
                    tb.map(|t| format!("; {t}")).unwrap_or_default()
                ),
                signature: format!("crash: {how}"),
            });
        }
        let tb = self.traceback()?;
        // A traceback that ends the program is a crash: the exit follows the print closely.
        if self.server.wait_exit(Duration::from_millis(500)).is_some() {
            self.seen_lines = 0;
            return self.dead_or_traceback();
        }
        Some(Finding {
            kind: Kind::Traceback,
            detail: format!("the server printed a traceback and lives on: {tb}"),
            signature: "traceback".to_owned(),
        })
    }

    fn traceback(&mut self) -> Option<String> {
        let lines = self.server.lines_of(Stream::Stderr);
        let from = self.seen_lines.min(lines.len());
        self.seen_lines = lines.len();
        let new = &lines[from..];
        let tb = crate::suites::common::exit::parse_traceback(new.iter().map(|l| l.text.as_str()))?;
        Some(format!("traceback: {}", tb.text()))
    }

    /// A valid client's ordinary exchange, within its deadline.
    fn probe(&mut self) -> Option<Finding> {
        self.probes += 1;
        let deadline = probe_deadline(&self.timing);
        let mut peer = match self.connect("probe") {
            Ok(p) => p,
            Err(f) => return Some(f),
        };
        let printed_from = self.server.lines().len();
        let (request, ok): (Vec<u8>, AnswerOk) = match self.suite.name {
            "hello" => (b"HELLO 41".to_vec(), |b| {
                Hello::decode_exact(b).is_ok_and(|h| h.seq == 42)
            }),
            "framed" => {
                let mut v = Vec::new();
                codec::framed::Frame {
                    payload: b"0123456789probe",
                }
                .encode(&mut v);
                (v, |b| b == b"\0\0\0\x05probe")
            }
            _ => {
                let mut v = Vec::new();
                if let Ok(r) = Request::read(b"probe-user") {
                    r.encode(&mut v);
                }
                (v, |b| {
                    Response::decode(b).is_ok_and(|(rest, _)| rest.is_empty())
                })
            }
        };
        let _ = peer.try_send(&request);
        // A right answer ends the wait at once; a wrong one once the server has been quiet
        // for the spec's gap (no answer at all waits for the deadline).
        let r = peer.recv_until(deadline, Some(crate::timing::GAP), ok);
        if self.suite.name == "hello" {
            let _ = peer.try_send(b"HELLO 43");
        }
        peer.close();
        if ok(&r.bytes) {
            return self
                .dead_or_traceback()
                .or_else(|| self.printed_the_probe(printed_from));
        }
        // A server on its way down (printing its traceback) may still accept and reset:
        // give it a moment to show a crash before calling this a hang.
        self.server.wait_exit(Duration::from_secs(1));
        self.server
            .capture()
            .wait_line(0, Duration::from_millis(200), |l| {
                l.stream == Stream::Stderr && l.text.starts_with("Traceback")
            });
        if let Some(f) = self.dead_or_traceback() {
            return Some(f);
        }
        if r.bytes.is_empty() {
            Some(Finding {
                kind: Kind::Hang,
                detail: format!(
                    "after this input a valid client ({}) got no answer within {deadline:?} ({:?})",
                    describe_bytes(&request),
                    r.end
                ),
                signature: "hang: a valid client is not served".to_owned(),
            })
        } else {
            Some(Finding {
                kind: Kind::WrongAnswer,
                detail: format!(
                    "after this input a valid client ({}) got {}",
                    describe_bytes(&request),
                    describe_bytes(&r.bytes)
                ),
                signature: "wrong-answer: to a valid client".to_owned(),
            })
        }
    }
}

impl Target {
    /// hello: the server prints `HELLO 41` and `HELLO 43` for the probe (a server whose
    /// state an earlier input corrupted prints stale digits, or nothing).
    fn printed_the_probe(&mut self, from: usize) -> Option<Finding> {
        // Past the output cap new lines are no longer kept in order: nothing to judge on.
        let (out, err) = self.server.capture().dropped();
        if self.suite.name != "hello" || out + err > 0 {
            return None;
        }
        self.server
            .wait_line(from, probe_deadline(&self.timing), |l| {
                l.trimmed() == "HELLO 43"
            });
        let lines: Vec<String> = self
            .server
            .lines()
            .into_iter()
            .skip(from)
            .map(|l| l.trimmed().to_owned())
            .collect();
        let has = |w: &str| lines.iter().any(|l| l == w);
        if has("HELLO 41") && has("HELLO 43") {
            return None;
        }
        Some(Finding {
            kind: Kind::WrongAnswer,
            detail: format!(
                "after this input the server did not print HELLO 41 and HELLO 43 for a valid \
                 client's exchange; it printed {lines:?}"
            ),
            signature: "wrong-answer: hello lines".to_owned(),
        })
    }
}

/// Whether the server's answer to the input itself is allowed.
fn judge_answer(suite: &str, script: &Script, got: &[u8]) -> Option<Finding> {
    let sent = script.bytes();
    let wrong = |kind: Kind, detail: String| {
        Some(Finding {
            kind,
            signature: format!("{}: {}", kind.as_str(), suite),
            detail,
        })
    };
    match suite {
        "messages" => match Request::decode(&sent) {
            Err(e) if !got.is_empty() => wrong(
                Kind::AnsweredInvalid,
                format!(
                    "it answered an invalid request ({e}) with {}",
                    describe_bytes(got)
                ),
            ),
            Ok((_, r)) if r.kind() == RequestKind::Create && !got.is_empty() => wrong(
                Kind::WrongAnswer,
                format!(
                    "it answered a create request (004: no response) with {}",
                    describe_bytes(got)
                ),
            ),
            Ok((_, r))
                if r.kind() == RequestKind::Read
                    && !got.is_empty()
                    && Response::decode(got).is_err() =>
            {
                wrong(
                    Kind::WrongAnswer,
                    format!(
                        "it answered a valid read with {}, not a MessageResponse",
                        describe_bytes(got)
                    ),
                )
            }
            _ => None,
        },
        "framed" => {
            let frames = |b: &[u8]| {
                let mut fb = FrameBuffer::new(u32::MAX);
                fb.push(b);
                let mut v = Vec::new();
                while let Ok(Some(f)) = fb.next_frame() {
                    v.push(f.to_vec());
                }
                v
            };
            let (asked, replies) = (frames(&sent), frames(got));
            for (i, reply) in replies.iter().enumerate() {
                let Some(frame) = asked.get(i) else {
                    return wrong(
                        Kind::WrongAnswer,
                        format!(
                            "reply {} answers no frame: {}",
                            i + 1,
                            describe_bytes(reply)
                        ),
                    );
                };
                if let Some(want) = expected_reply(frame)
                    && want != reply.as_slice()
                {
                    return wrong(
                        Kind::WrongAnswer,
                        format!(
                            "frame {} {} got the reply {}, not {}",
                            i + 1,
                            describe_bytes(frame),
                            describe_bytes(reply),
                            describe_bytes(want)
                        ),
                    );
                }
            }
            None
        }
        _ => {
            // Only an unsplit greeting is judged: a bare greeting cut inside its digits
            // cannot be told from a shorter one by any reader.
            let mut sends = script
                .steps
                .iter()
                .take_while(|s| !matches!(s, Step::Await { .. }));
            let (Some(Step::Send { hex: greeting }), None) = (sends.next(), sends.next()) else {
                return None;
            };
            let (Ok(h), Ok(r)) = (Hello::decode_exact(greeting), Hello::decode_exact(got)) else {
                return None;
            };
            (r.seq != h.seq.wrapping_add(1)).then(|| Finding {
                kind: Kind::WrongAnswer,
                detail: format!("it replied HELLO {} to HELLO {}", r.seq, h.seq),
                signature: "wrong-answer: hello".to_owned(),
            })
        }
    }
}

/// Replays `case` against a fresh server: the finding if it reproduces.
pub fn replay(
    suite: &'static Suite,
    cmd: &SubjectCmd,
    exe: &std::path::Path,
    timing: Timing,
    conns: &[Script],
) -> Result<Option<Finding>, Stop> {
    let mut t = Target::start(suite, cmd, exe, timing)?;
    for s in conns {
        if let Some(f) = t.run(s) {
            return Ok(Some(f));
        }
    }
    Ok(None)
}

/// Statistics of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Inputs played.
    pub inputs: u64,
    /// Servers started for them (one per worker and per finding long-lived; one per input
    /// fresh), minimisation excluded.
    pub servers: u64,
    /// Wall time of the generation phase (minimisation excluded).
    pub fuzz_secs: f64,
    /// Inputs per second during generation.
    pub rate: f64,
}

/// A finding as reported: the minimised case and when it was found.
#[derive(Debug, Clone, Serialize)]
pub struct Reported {
    /// The case (minimised).
    pub case: Case,
    /// Input number (1-based, per worker) that showed it.
    pub after_inputs: u64,
    /// Seconds from the start of the run to the finding.
    pub after_secs: f64,
    /// Where the case file was written.
    pub path: Option<String>,
    /// Whether the minimised case reproduced on a fresh server.
    pub reproduced: bool,
}

/// Which server each input meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// One server per worker, kept across inputs (restarted only after a finding): finds
    /// what accumulates (leaked descriptors, a handler thread that died, state an earlier
    /// input left), and many inputs per second.
    #[default]
    LongLived,
    /// A fresh server for every input: each finding is caused by one input alone, at the
    /// cost of a start-up per input.
    Fresh,
}

impl Mode {
    /// `long-lived` or `fresh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::LongLived => "long-lived",
            Mode::Fresh => "fresh",
        }
    }
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server.
    pub cmd: SubjectCmd,
    /// The suite binary (references).
    pub exe: std::path::PathBuf,
    /// Deadlines.
    pub timing: Timing,
    /// Seed.
    pub seed: u64,
    /// Generation budget.
    pub time: Duration,
    /// At most this many inputs per worker (None: the time decides).
    pub max_inputs: Option<u64>,
    /// Workers, each with its own server and RNG stream.
    pub jobs: usize,
    /// Minimisation budget per finding.
    pub shrink_time: Duration,
    /// Stop at the first finding.
    pub stop_at_first: bool,
    /// Pauses past the gap allowed.
    pub slow: bool,
    /// A server per worker or per input.
    pub mode: Mode,
}

/// Connections kept before a finding, replayed by the minimiser (a long-lived server's
/// state may come from earlier inputs).
const HISTORY: usize = 4;

/// How long the server is given to answer an input (or close) before the oracle moves on.
/// A loopback answer takes milliseconds; a later one is only missed, never a false finding.
const ANSWER_WAIT: Duration = Duration::from_millis(150);

/// Runs the fuzzer; findings are minimised; case files are written by the caller.
pub fn run(suite: &'static Suite, opts: &Options) -> Result<(Stats, Vec<Reported>), Stop> {
    let started = Instant::now();
    let found: std::sync::Mutex<Vec<Reported>> = std::sync::Mutex::default();
    let inputs = std::sync::atomic::AtomicU64::new(0);
    let servers = std::sync::atomic::AtomicU64::new(0);
    let stop = std::sync::atomic::AtomicBool::new(false);
    let first_error: std::sync::Mutex<Option<Stop>> = std::sync::Mutex::default();
    let shrink_ms = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|sc| {
        for w in 0..opts.jobs.max(1) {
            let (found, inputs, servers, stop, first_error, shrink_ms) =
                (&found, &inputs, &servers, &stop, &first_error, &shrink_ms);
            sc.spawn(move || {
                let seed = opts
                    .seed
                    .wrapping_add((w as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let mut source = inputs::Gen::new(seed);
                source.slow = opts.slow;
                let mut target = None;
                let mut history: Vec<Script> = Vec::new();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed)
                    && started.elapsed() < opts.time
                    && opts.max_inputs.is_none_or(|m| n < m)
                {
                    if opts.mode == Mode::Fresh {
                        // The previous input's server goes (killed and reaped on drop),
                        // and with it anything an earlier input left behind.
                        target = None;
                        history.clear();
                    }
                    if target.is_none() {
                        match Target::start(suite, &opts.cmd, &opts.exe, opts.timing) {
                            Ok(t) => {
                                servers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                target = Some(t);
                            }
                            Err(e) => {
                                first_error
                                    .lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .get_or_insert(e);
                                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                                return;
                            }
                        }
                    }
                    let script = source.input(suite.name);
                    n += 1;
                    inputs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    history.push(script.clone());
                    if history.len() > HISTORY {
                        history.remove(0);
                    }
                    let Some(t) = target.as_mut() else { continue };
                    let Some(f) = t.run(&script) else { continue };
                    let at = started.elapsed();
                    target = None;
                    let known = found
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .iter()
                        .any(|r| r.case.finding.signature == f.signature);
                    if !known {
                        let case = Case {
                            suite: suite.name.to_owned(),
                            seed: opts.seed,
                            finding: f,
                            connections: std::mem::take(&mut history),
                        };
                        let t0 = Instant::now();
                        let (case, reproduced) = shrink::minimise(suite, opts, case);
                        shrink_ms.fetch_add(
                            u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX),
                            std::sync::atomic::Ordering::Relaxed,
                        );
                        found
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(Reported {
                                case,
                                after_inputs: n,
                                after_secs: at.as_secs_f64(),
                                path: None,
                                reproduced,
                            });
                        if opts.stop_at_first {
                            stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    history.clear();
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let n = inputs.into_inner();
    let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    // The rate counts generation only: minimisation time (spread over the workers) is not
    // fuzzing.
    let shrink_secs = shrink_ms.into_inner() as f64 / 1000.0 / opts.jobs.max(1) as f64;
    let secs = (started.elapsed().as_secs_f64() - shrink_secs).max(1e-9);
    Ok((
        Stats {
            inputs: n,
            servers: servers.into_inner(),
            fuzz_secs: secs,
            rate: n as f64 / secs,
        },
        found,
    ))
}
