//! The ordinary exchanges of each protocol, played by a real client against a real server
//! through the relay, and the judgement of each from both sides. The judgement walks the
//! exchange in the order it happens (the client's request, the server's reply, the client's
//! answer, then each program's output and how it ended) and blames the first departure: a
//! client whose bytes decode as the protocol allows is never blamed for a server that
//! refused them, and the other way round.

use std::time::Duration;

use codec::framed::{FrameBuffer, expected_reply};
use codec::hello::{Hello, Terminator};

mod messages;
mod multiclient;

use super::relay::{Conn, Relay, Way};
use super::{Blame, Cell, Exchange, Finding, from_stop, harness};
use crate::check::Role;
use crate::driver::{Ctx, Finished, Launch, Line, Subject, SubjectCmd, describe_bytes};

/// Plays the suite's exchanges between the cell's server and client.
pub(super) fn play(suite: &str, ctx: &mut Ctx, client: &SubjectCmd, cell: &mut Cell) {
    let mut server = match ctx.server() {
        Ok(s) => s,
        Err(stop) => {
            cell.findings
                .push(from_stop("server start", Blame::Server, stop));
            return;
        }
    };
    let relay = match Relay::start(server.port()) {
        Ok(r) => r,
        Err(e) => {
            cell.findings
                .push(harness("relay", format!("cannot start the relay: {e}")));
            return;
        }
    };
    let mut p = Pair {
        ctx,
        server: &mut server,
        relay: &relay,
        cell,
    };
    match suite {
        "hello" => {
            // Digit roll-over (9 -> 10, 99 -> 100 ...), a 9-digit X, then a short one after
            // the long ones (a reused buffer shows stale digits).
            for x in [0, 9, 99, 999, 123_456_789, 5] {
                if !p.hello(x) {
                    break;
                }
            }
        }
        "framed" => {
            let long: String = "0123456789".repeat(5_000);
            let runs: [(&str, Vec<String>); 4] = [
                ("short payload", vec!["0123456789abc".into()]),
                ("long payload (50000 bytes)", vec![long]),
                (
                    "multibyte payload",
                    vec!["Grüße aus Köln — ünïcødé ✓ déjà vu".into()],
                ),
                (
                    "three back to back",
                    vec![
                        "first frame of three".into(),
                        "second frame of three".into(),
                        "third frame of three".into(),
                    ],
                ),
            ];
            for (name, lines) in runs {
                if !p.framed(name, &lines) {
                    break;
                }
            }
        }
        "messages" => p.messages(),
        "multiclient" => p.multiclient(client),
        other => p
            .cell
            .findings
            .push(harness("setup", format!("no interop scenario for {other}"))),
    }
}

/// One messages run: exchange name, user, the create's receiver and text (None: a read),
/// and the items a read must return.
type Step = (
    &'static str,
    &'static str,
    Option<(&'static str, &'static str)>,
    &'static [(&'static str, &'static str)],
);

struct Pair<'a> {
    ctx: &'a mut Ctx,
    server: &'a mut Subject,
    relay: &'a Relay,
    cell: &'a mut Cell,
}

/// What one client run showed.
struct Seen {
    fin: Finished,
    conn: Option<Conn>,
    server_lines: Vec<Line>,
}

fn term_name(t: Terminator) -> String {
    match t {
        Terminator::None => "no terminator".to_owned(),
        Terminator::Lf => "a \\n terminator".to_owned(),
        Terminator::CrLf => "a \\r\\n terminator".to_owned(),
        Terminator::Nul => "a \\0 terminator".to_owned(),
        Terminator::LfNul => "a \\n\\0 terminator".to_owned(),
        Terminator::NulPad(n) => format!("{n} NUL bytes of padding"),
    }
}

fn quote(lines: &[Line]) -> String {
    if lines.is_empty() {
        return "nothing".to_owned();
    }
    let t: Vec<String> = lines
        .iter()
        .rev()
        .take(6)
        .rev()
        .map(|l| format!("{:?}", l.trimmed()))
        .collect();
    t.join(", ")
}

fn finding(
    ex: &str,
    blame: Blame,
    expected: impl Into<String>,
    actual: impl Into<String>,
) -> Finding {
    Finding {
        exchange: ex.to_owned(),
        blame,
        expected: expected.into(),
        actual: actual.into(),
    }
}

fn says_error(lines: &[Line]) -> bool {
    lines.iter().any(|l| {
        l.trimmed()
            .trim_start()
            .to_ascii_uppercase()
            .starts_with("ERROR")
    })
}

impl Pair<'_> {
    /// Runs the client subject through the relay; None (with a finding) when the suite
    /// could not run it.
    fn run_client(&mut self, ex: &str, launch: Launch) -> Option<Seen> {
        let i = self.relay.count();
        let from = self.server.lines().len();
        let fin = match self.ctx.run(Role::Client, launch.port(self.relay.port())) {
            Ok(f) => f,
            Err(stop) => {
                self.cell.findings.push(from_stop(ex, Blame::Client, stop));
                return None;
            }
        };
        self.relay.sync();
        let conn = if self.relay.count() > i {
            self.relay.wait_done(i, self.ctx.timing().response())
        } else {
            None
        };
        Some(Seen {
            fin,
            conn,
            server_lines: self.server.lines().into_iter().skip(from).collect(),
        })
    }

    /// Records the exchange and its finding; false when the pair cannot go on.
    fn record(&mut self, ex: &str, seen: &Seen, found: Option<Finding>) -> bool {
        let mut t = vec![format!(
            "client: {} ({})",
            seen.fin.command,
            seen.fin.ended()
        )];
        t.extend(
            seen.fin
                .lines()
                .iter()
                .map(|l| format!("  client {}| {}", l.stream.as_str(), l.text)),
        );
        match &seen.conn {
            Some(c) => t.extend(c.describe().into_iter().map(|l| format!("  wire| {l}"))),
            None => t.push("  wire| (the client never connected)".to_owned()),
        }
        t.extend(
            seen.server_lines
                .iter()
                .map(|l| format!("  server {}| {}", l.stream.as_str(), l.text)),
        );
        self.push(ex, t, found)
    }

    fn push(&mut self, ex: &str, transcript: Vec<String>, found: Option<Finding>) -> bool {
        self.cell.exchanges.push(Exchange {
            name: ex.to_owned(),
            passed: found.is_none(),
            transcript,
        });
        let go_on = found.as_ref().is_none_or(|f| f.blame != Blame::Harness);
        if let Some(f) = found {
            self.cell.findings.push(f);
        }
        // A server that died ends the cell: every later exchange would only repeat it.
        go_on && self.server.try_exit().is_none()
    }

    /// The connection and exit facts common to every protocol, judged first.
    fn connected<'c>(&mut self, ex: &str, seen: &'c Seen) -> Result<&'c Conn, Finding> {
        let Some(conn) = &seen.conn else {
            return Err(finding(
                ex,
                Blame::Client,
                format!(
                    "the client connects to the host and port it is given (127.0.0.1:{})",
                    self.relay.port()
                ),
                format!("it never connected; {}", seen.fin.ended()),
            ));
        };
        if let Some(why) = &conn.refused {
            return Err(finding(
                ex,
                Blame::Server,
                "the server accepts the connection",
                format!(
                    "connecting to it failed: {why}{}",
                    self.server.stderr_quote()
                ),
            ));
        }
        Ok(conn)
    }

    fn client_ended_well(&self, ex: &str, seen: &Seen) -> Option<Finding> {
        use std::os::unix::process::ExitStatusExt;
        let fin = &seen.fin;
        if fin.timed_out || fin.flooded || fin.status.is_some_and(|s| s.signal().is_some()) {
            return Some(finding(
                ex,
                Blame::Client,
                "the client exits by itself once the exchange is over",
                format!("{}; its output: {}", fin.ended(), quote(&fin.lines())),
            ));
        }
        None
    }

    fn server_alive(&mut self, ex: &str) -> Option<Finding> {
        let status = self.server.try_exit()?;
        self.server
            .capture()
            .wait_closed(Duration::from_millis(300));
        Some(finding(
            ex,
            Blame::Server,
            "the server keeps serving after the exchange",
            format!(
                "it ended with {}{}",
                crate::driver::subject::describe_status(status),
                self.server.stderr_quote()
            ),
        ))
    }

    // ---------------------------------------------------------------- hello

    fn hello(&mut self, x: i64) -> bool {
        let ex = format!("X = {x}");
        let Some(mut seen) = self.run_client(&ex, Launch::new().var("seq", x)) else {
            return false;
        };
        // The server prints HELLO Z on receipt, after the client's last message.
        let z = format!("HELLO {}", x + 2);
        let from = self.server.lines().len() - seen.server_lines.len();
        let answered = seen
            .conn
            .as_ref()
            .is_some_and(|c| !c.split_at_first_reply(Way::Up).1.is_empty());
        // Without a third message there is no HELLO Z to wait for; a short wait still
        // collects what the server prints about the connection.
        let wait = if answered {
            self.ctx.timing().response()
        } else {
            crate::timing::REPLY_SILENCE
        };
        self.server.wait_line(from, wait, |l| l.trimmed() == z);
        seen.server_lines = self.server.lines().into_iter().skip(from).collect();
        let found = self.judge_hello(&ex, x, &seen);
        self.record(&ex, &seen, found)
    }

    fn judge_hello(&mut self, ex: &str, x: i64, seen: &Seen) -> Option<Finding> {
        let conn = match self.connected(ex, seen) {
            Ok(c) => c,
            Err(f) => return Some(f),
        };
        let (greeting, third) = conn.split_at_first_reply(Way::Up);
        let reply = conn.bytes(Way::Down);
        let want = format!("HELLO {x}");
        let g = match Hello::decode_exact(&greeting) {
            Ok(h) if h.seq == x => h,
            Ok(h) => {
                return Some(finding(
                    ex,
                    Blame::Client,
                    format!("the client sends {want:?} (X from its argument)"),
                    format!("it sent HELLO {}", h.seq),
                ));
            }
            Err(e) => {
                return Some(finding(
                    ex,
                    Blame::Client,
                    format!("the client sends {want:?}"),
                    format!("it sent {} ({e})", describe_bytes(&greeting)),
                ));
            }
        };
        let y = x + 1;
        let valid_greeting = format!(
            "its greeting {} is a valid HELLO {x} ({}, which the text allows)",
            describe_bytes(&greeting),
            term_name(g.terminator)
        );
        let r = match Hello::decode_exact(&reply) {
            Ok(r) if r.seq == y => r,
            Ok(r) => {
                return Some(finding(
                    ex,
                    Blame::Server,
                    format!("the server replies HELLO {y}"),
                    format!("it replied HELLO {} to {valid_greeting}", r.seq),
                ));
            }
            Err(e) => {
                let what = if reply.is_empty() {
                    let end = if conn.reset_by(Way::Down) {
                        "reset the connection"
                    } else {
                        "sent nothing"
                    };
                    let err = if says_error(&seen.server_lines) {
                        " and printed ERROR"
                    } else {
                        ""
                    };
                    format!("it {end}{err}, although {valid_greeting}")
                } else {
                    format!("it replied {} ({e})", describe_bytes(&reply))
                };
                return Some(finding(
                    ex,
                    Blame::Server,
                    format!("the server replies HELLO {y}"),
                    what,
                ));
            }
        };
        let valid_reply = format!(
            "the reply {} is a valid HELLO {y} ({}, which the text allows)",
            describe_bytes(&reply),
            term_name(r.terminator)
        );
        match Hello::decode_exact(&third) {
            Ok(h) if h.seq == x + 2 => {}
            Ok(h) => {
                return Some(finding(
                    ex,
                    Blame::Client,
                    format!("the client answers HELLO {}", x + 2),
                    format!("it sent HELLO {}; {valid_reply}", h.seq),
                ));
            }
            Err(_) => {
                let err = if says_error(&seen.fin.lines()) {
                    " and printed ERROR"
                } else {
                    ""
                };
                let sent = if third.is_empty() {
                    "sent nothing more".to_owned()
                } else {
                    format!("sent {}", describe_bytes(&third))
                };
                return Some(finding(
                    ex,
                    Blame::Client,
                    format!("the client answers HELLO {}", x + 2),
                    format!("it {sent}{err}, although {valid_reply}"),
                ));
            }
        }
        let printed = format!("HELLO {y}");
        let lines = seen.fin.lines();
        if !lines.iter().any(|l| l.trimmed() == printed) || says_error(&lines) {
            return Some(finding(
                ex,
                Blame::Client,
                format!("the client prints {printed:?} and no ERROR"),
                format!("it printed {}", quote(&lines)),
            ));
        }
        if let Some(f) = self.client_ended_well(ex, seen) {
            return Some(f);
        }
        for want in [format!("HELLO {x}"), format!("HELLO {}", x + 2)] {
            if !seen.server_lines.iter().any(|l| l.trimmed() == want) {
                return Some(finding(
                    ex,
                    Blame::Server,
                    format!("the server prints {want:?}"),
                    format!("it printed {}", quote(&seen.server_lines)),
                ));
            }
        }
        if says_error(&seen.server_lines) {
            return Some(finding(
                ex,
                Blame::Server,
                "no ERROR line when Z = X+2",
                format!("it printed {}", quote(&seen.server_lines)),
            ));
        }
        self.server_alive(ex)
    }

    // ---------------------------------------------------------------- framed

    fn framed(&mut self, ex: &str, lines: &[String]) -> bool {
        let mut stdin = lines.join("\n").into_bytes();
        stdin.push(b'\n');
        let launch = Launch::new()
            .stdin(stdin)
            .timeout(self.ctx.timing().within(Duration::from_secs(5)));
        let Some(seen) = self.run_client(ex, launch) else {
            return false;
        };
        let found = self.judge_framed(ex, lines, &seen);
        self.record(ex, &seen, found)
    }

    fn judge_framed(&mut self, ex: &str, lines: &[String], seen: &Seen) -> Option<Finding> {
        let conn = match self.connected(ex, seen) {
            Ok(c) => c,
            Err(f) => return Some(f),
        };
        let frames = |way| {
            let mut fb = FrameBuffer::new(u32::MAX);
            fb.push(&conn.bytes(way));
            let mut out = Vec::new();
            while let Ok(Some(f)) = fb.next_frame() {
                out.push(f.to_vec());
            }
            (out, fb.pending().len())
        };
        let (up, up_rest) = frames(Way::Up);
        let (down, down_rest) = frames(Way::Down);
        for (i, line) in lines.iter().enumerate() {
            let n = i + 1;
            match up.get(i) {
                Some(f) if f == line.as_bytes() => {}
                Some(f) => {
                    return Some(finding(
                        ex,
                        Blame::Client,
                        format!(
                            "frame {n} carries stdin line {n} ({} bytes, the length counted in bytes)",
                            line.len()
                        ),
                        format!("it carried {} ({} bytes)", describe_bytes(f), f.len()),
                    ));
                }
                None => {
                    return Some(finding(
                        ex,
                        Blame::Client,
                        format!(
                            "the client sends stdin line {n} as a frame ({} bytes)",
                            line.len()
                        ),
                        format!(
                            "{} whole frame(s) came, then {up_rest} bytes that do not complete one",
                            up.len()
                        ),
                    ));
                }
            }
            let want = expected_reply(line.as_bytes()).unwrap_or_default();
            match down.get(i) {
                Some(f) if f == want => {}
                Some(f) => {
                    return Some(finding(
                        ex,
                        Blame::Server,
                        format!(
                            "reply {n} is frame {n} without its first 10 characters: {}",
                            describe_bytes(want)
                        ),
                        format!("it replied {}", describe_bytes(f)),
                    ));
                }
                None => {
                    return Some(finding(
                        ex,
                        Blame::Server,
                        format!("the server replies to frame {n}, which was well formed"),
                        format!(
                            "{} whole reply frame(s), then {down_rest} bytes; the connection {}",
                            down.len(),
                            if conn.reset_by(Way::Down) {
                                "was reset by the server"
                            } else {
                                "ended"
                            }
                        ),
                    ));
                }
            }
        }
        // The client prints each reply as a line, in order (empty replies aside).
        let out = seen.fin.lines();
        let mut at = 0;
        for line in lines {
            let want = String::from_utf8_lossy(expected_reply(line.as_bytes()).unwrap_or_default())
                .into_owned();
            if want.is_empty() {
                continue;
            }
            let pos = out[at..].iter().position(|l| {
                l.trimmed() == want || (l.truncated && want.starts_with(l.text.as_str()))
            });
            match pos {
                Some(p) => at += p + 1,
                None => {
                    return Some(finding(
                        ex,
                        Blame::Client,
                        format!(
                            "the client prints the reply {:?} as a line",
                            truncate(&want)
                        ),
                        format!(
                            "the reply arrived whole on the wire; the client printed {}",
                            quote(&out)
                        ),
                    ));
                }
            }
        }
        if says_error(&out) {
            return Some(finding(
                ex,
                Blame::Client,
                "no ERROR line while the server answers",
                format!("it printed {}", quote(&out)),
            ));
        }
        if let Some(f) = self.client_ended_well(ex, seen) {
            return Some(f);
        }
        self.server_alive(ex)
    }
}

fn truncate(s: &str) -> String {
    if s.len() <= 60 {
        return s.to_owned();
    }
    let cut = s.char_indices().nth(50).map_or(s.len(), |(i, _)| i);
    format!("{}... ({} bytes)", &s[..cut], s.len())
}
