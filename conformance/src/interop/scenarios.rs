//! The ordinary exchanges of each protocol, played by a real client against a real server
//! through the relay, and the judgement of each from both sides. The judgement walks the
//! exchange in the order it happens (the client's request, the server's reply, the client's
//! answer, then each program's output and how it ended) and blames the first departure: a
//! client whose bytes decode as the protocol allows is never blamed for a server that
//! refused them, and the other way round.

use std::time::Duration;

use codec::framed::{FrameBuffer, expected_reply};
use codec::hello::{Hello, Terminator};
use codec::messages::{Request, RequestKind, Response};

use super::relay::{Conn, Relay, Way};
use super::{Blame, Cell, Exchange, Finding, from_stop, harness};
use crate::check::Role;
use crate::driver::{Ctx, Finished, Launch, Line, Peer, Subject, SubjectCmd, describe_bytes};

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

    // ---------------------------------------------------------------- messages

    fn messages(&mut self) {
        let steps: [Step; 5] = [
            ("create, then", "alice", Some(("dave", "hi dave")), &[]),
            ("read it", "dave", None, &[("alice", "hi dave")]),
            (
                "several messages (1)",
                "carol",
                Some(("bob", "first of two")),
                &[],
            ),
            (
                "several messages (2)",
                "émile",
                Some(("bob", "deuxième — ünïcødé ✓")),
                &[],
            ),
            (
                "read both",
                "bob",
                None,
                &[("carol", "first of two"), ("émile", "deuxième — ünïcødé ✓")],
            ),
        ];
        for (name, user, create, expect) in steps {
            if !self.message_step(name, user, create, expect) {
                return;
            }
        }
        self.message_step("an empty read", "bob", None, &[]);
    }

    fn message_step(
        &mut self,
        ex: &str,
        user: &str,
        create: Option<(&str, &str)>,
        expect: &[(&str, &str)],
    ) -> bool {
        let mut launch = Launch::new()
            .var("user", user)
            .var("request", if create.is_some() { "create" } else { "read" });
        if let Some((to, text)) = create {
            launch = launch.stdin(format!("{to}\n{text}\n"));
        }
        let Some(mut seen) = self.run_client(ex, launch) else {
            return false;
        };
        let from = self.server.lines().len() - seen.server_lines.len();
        // The server prints its informational line once it has closed the connection.
        self.server
            .wait_line(from, self.ctx.timing().response(), |_| true);
        seen.server_lines = self.server.lines().into_iter().skip(from).collect();
        let found = self.judge_message(ex, user, create, expect, &seen);
        self.record(ex, &seen, found)
    }

    fn judge_message(
        &mut self,
        ex: &str,
        user: &str,
        create: Option<(&str, &str)>,
        expect: &[(&str, &str)],
        seen: &Seen,
    ) -> Option<Finding> {
        let conn = match self.connected(ex, seen) {
            Ok(c) => c,
            Err(f) => return Some(f),
        };
        let up = conn.bytes(Way::Up);
        let down = conn.bytes(Way::Down);
        let what = match create {
            Some((to, text)) => {
                format!("a create request from {user:?} to {to:?} carrying {text:?}")
            }
            None => format!("a read request for {user:?}"),
        };
        match Request::decode(&up) {
            Ok((rest, r)) => {
                let ok = match create {
                    Some((to, text)) => {
                        r.kind() == RequestKind::Create
                            && r.user() == user.as_bytes()
                            && r.receiver() == to.as_bytes()
                            && r.message() == text.as_bytes()
                    }
                    None => r.kind() == RequestKind::Read && r.user() == user.as_bytes(),
                };
                if !ok || !rest.is_empty() {
                    return Some(finding(
                        ex,
                        Blame::Client,
                        format!("the client sends {what}"),
                        format!(
                            "it sent {} (kind {:?}, user {}, receiver {}, message {}, {} bytes after the record)",
                            describe_bytes(&up),
                            r.kind(),
                            describe_bytes(r.user()),
                            describe_bytes(r.receiver()),
                            describe_bytes(r.message()),
                            rest.len()
                        ),
                    ));
                }
            }
            Err(e) => {
                return Some(finding(
                    ex,
                    Blame::Client,
                    format!("the client sends {what} as one MessageRequest record"),
                    format!("it sent {} ({e})", describe_bytes(&up)),
                ));
            }
        }
        let out = seen.fin.lines();
        if create.is_some() {
            if !down.is_empty() {
                return Some(finding(
                    ex,
                    Blame::Server,
                    "no response to a create request (004: \"No response is sent back to the client in this case\")",
                    format!("it sent {}", describe_bytes(&down)),
                ));
            }
        } else {
            match Response::decode(&down) {
                Ok((_, resp)) => {
                    let items: Vec<(Vec<u8>, Vec<u8>)> = resp
                        .items()
                        .map(|i| (i.sender.to_vec(), i.text.to_vec()))
                        .collect();
                    let want: Vec<(Vec<u8>, Vec<u8>)> = expect
                        .iter()
                        .map(|(s, t)| (s.as_bytes().to_vec(), t.as_bytes().to_vec()))
                        .collect();
                    if items != want || resp.more() {
                        return Some(finding(
                            ex,
                            Blame::Server,
                            format!(
                                "the response carries {} item(s): {expect:?}, MoreMsgs 0",
                                expect.len()
                            ),
                            format!(
                                "it carried {} item(s){}: {}",
                                items.len(),
                                if resp.more() { " with MoreMsgs 1" } else { "" },
                                items
                                    .iter()
                                    .map(|(s, t)| format!(
                                        "{} {}",
                                        describe_bytes(s),
                                        describe_bytes(t)
                                    ))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                }
                Err(e) => {
                    return Some(finding(
                        ex,
                        Blame::Server,
                        "the server answers a valid read request with one MessageResponse record",
                        format!("it sent {} ({e})", describe_bytes(&down)),
                    ));
                }
            }
            // Each sender and text appears in the client's output, in order.
            let text: String = out.iter().map(|l| format!("{}\n", l.text)).collect();
            let mut at = 0;
            for (s, t) in expect {
                for w in [s, t] {
                    match text[at..].find(w) {
                        Some(p) => at += p + w.len(),
                        None => {
                            return Some(finding(
                                ex,
                                Blame::Client,
                                format!(
                                    "the client prints each sender and text in order ({w:?} next)"
                                ),
                                format!(
                                    "the response was valid on the wire; the client printed {}",
                                    quote(&out)
                                ),
                            ));
                        }
                    }
                }
            }
        }
        if let Some(f) = self.client_ended_well(ex, seen) {
            return Some(f);
        }
        if seen.server_lines.is_empty() {
            return Some(finding(
                ex,
                Blame::Server,
                "the server prints an informational message for each request it served",
                "it printed nothing",
            ));
        }
        self.server_alive(ex)
    }

    // ---------------------------------------------------------------- multiclient

    /// Three clients connect one after another and leave in another order; judged on the
    /// server's event lines (ID and count) only, as the base protocol's traffic is not
    /// specified.
    fn multiclient(&mut self, client: &SubjectCmd) {
        let reference_client = matches!(client, SubjectCmd::Reference(_));
        let placeholders = matches!(client, SubjectCmd::Command(c) if c.has_placeholders());
        let ex = "three clients connect and leave";
        let deadline = self.ctx.timing().within(Duration::from_secs(2));
        let mut clients: Vec<Client> = Vec::new();
        let mut t = Vec::new();
        let mut found = None;
        let mut ids = Vec::new();
        for n in 1..=3usize {
            let from = self.server.lines().len();
            let c = if reference_client {
                match Peer::connect(
                    self.relay.port(),
                    &format!("client {n}"),
                    self.ctx.transcript(),
                    deadline,
                ) {
                    Ok(p) => Client::Peer(p),
                    Err(stop) => {
                        found = Some(from_stop(ex, Blame::Server, stop));
                        break;
                    }
                }
            } else {
                // The base protocol's client takes the host and port; the suite has no
                // standard arguments for it, so they are given unless placeholders are used.
                let mut launch = Launch::new().port(self.relay.port());
                if !placeholders {
                    launch = launch.args(["127.0.0.1".to_owned(), self.relay.port().to_string()]);
                }
                match self.ctx.spawn(Role::Client, launch) {
                    Ok(s) => Client::Subject(Box::new(s)),
                    Err(stop) => {
                        found = Some(from_stop(ex, Blame::Client, stop));
                        break;
                    }
                }
            };
            clients.push(c);
            if !crate::driver::wait_until(deadline, || self.relay.count() >= n) {
                found = Some(finding(
                    ex,
                    Blame::Client,
                    format!("client {n} connects to the port it is given"),
                    "it never connected",
                ));
                break;
            }
            let got = self.server.wait_line(from, deadline, |l| {
                matches!(event(l.trimmed()), Some((Ev::Connected, _, _)))
            });
            match got.as_ref().and_then(|(_, l)| event(l.trimmed())) {
                Some((_, Some(id), count))
                    if count == Some(n) && ids.last().is_none_or(|&p| id == p + 1) =>
                {
                    ids.push(id)
                }
                _ => {
                    let lines = self
                        .server
                        .lines()
                        .into_iter()
                        .skip(from)
                        .collect::<Vec<_>>();
                    found = Some(finding(
                        ex,
                        Blame::Server,
                        format!(
                            "a line \"Client <ID> connected. Number of connected clients = {n}\" (IDs rising by one)"
                        ),
                        format!("it printed {}", quote(&lines)),
                    ));
                    break;
                }
            }
        }
        // Leave in the order 2, 1, 3: the counts fall 2, 1, 0.
        if found.is_none() {
            for (k, i) in [1usize, 0, 2].into_iter().enumerate() {
                let left = 2 - k;
                let from = self.server.lines().len();
                if let Client::Subject(s) = &mut clients[i]
                    && s.try_exit().is_some()
                {
                    found = Some(finding(
                        ex,
                        Blame::Client,
                        "the client stays connected until it is closed",
                        format!(
                            "client {} ended by itself before the scenario closed it",
                            i + 1
                        ),
                    ));
                    break;
                }
                clients[i].close();
                let got = self.server.wait_line(from, deadline, |l| {
                    matches!(event(l.trimmed()), Some((Ev::Disconnected, _, _)))
                });
                match got.as_ref().and_then(|(_, l)| event(l.trimmed())) {
                    Some((_, Some(id), count))
                        if Some(id) == ids.get(i).copied() && count == Some(left) => {}
                    _ => {
                        let lines = self
                            .server
                            .lines()
                            .into_iter()
                            .skip(from)
                            .collect::<Vec<_>>();
                        found = Some(finding(
                            ex,
                            Blame::Server,
                            format!(
                                "a line \"Client {} disconnected. Number of connected clients = {left}\"",
                                ids.get(i).map_or("?".to_owned(), |d| d.to_string())
                            ),
                            format!("it printed {}", quote(&lines)),
                        ));
                        break;
                    }
                }
            }
        }
        for c in &mut clients {
            c.close();
        }
        if found.is_none() {
            found = self.server_alive(ex);
        }
        for i in 0..self.relay.count() {
            if let Some(c) = self.relay.conn(i) {
                t.push(format!("connection {}:", i + 1));
                t.extend(c.describe().into_iter().map(|l| format!("  wire| {l}")));
            }
        }
        t.extend(
            self.server
                .lines()
                .iter()
                .map(|l| format!("  server {}| {}", l.stream.as_str(), l.text)),
        );
        self.push(ex, t, found);
    }
}

enum Client {
    Peer(Peer),
    Subject(Box<Subject>),
    Gone,
}

impl Client {
    fn close(&mut self) {
        match std::mem::replace(self, Client::Gone) {
            Client::Peer(p) => p.close(),
            Client::Subject(mut s) => {
                s.kill();
            }
            Client::Gone => {}
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Connected,
    Disconnected,
}

/// A multiclient event line, read leniently: the event word, the first number (the ID) and
/// the last one (the count).
fn event(line: &str) -> Option<(Ev, Option<usize>, Option<usize>)> {
    let low = line.to_ascii_lowercase();
    let ev = if low.contains("disconnected") {
        Ev::Disconnected
    } else if low.contains("connected") && low.contains("client") {
        Ev::Connected
    } else {
        return None;
    };
    let nums: Vec<usize> = low
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    if nums.len() < 2 {
        return None;
    }
    Some((ev, nums.first().copied(), nums.last().copied()))
}

fn truncate(s: &str) -> String {
    if s.len() <= 60 {
        return s.to_owned();
    }
    let cut = s.char_indices().nth(50).map_or(s.len(), |(i, _)| i);
    format!("{}... ({} bytes)", &s[..cut], s.len())
}
