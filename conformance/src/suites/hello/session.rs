//! The hello server session: the suite plays clients of a server subject, and a check body
//! reads like the exchange (`server.greet(5)?`, `conn.z(7)?`, `server.printed(..)`).
//! A session remembers the last connection it finished, so a server that dies is blamed on
//! the connection after which it died, with its exit status and a hint drawn from it.

use crate::check::{Stop, fail};
use crate::driver::{Ctx, Line, Peer, Stream, Subject, describe_bytes, wait_until, watch};
use crate::suites::common::{self, quote_lines};
use crate::timing::{REPLY_SILENCE, Timing};

use super::{HINT_SERVE_ON, msg, parse_hello, printed_is, printing_hint, reply_hint};

/// A running hello server and the clients the suite plays against it.
#[derive(Debug)]
pub struct Server {
    /// The subject (for what the session does not wrap: threads, kill, lines).
    pub sub: Subject,
    t: Timing,
    /// The last connection that finished: "client 3 (it sent `HELLO 0`, `HELLO 2`)".
    last: Option<String>,
    /// Printed lines were missing and nothing came at the kill either: lost in a buffer,
    /// or never printed (a pty re-run tells which).
    lost: bool,
}

/// One connection of the suite to the server.
#[derive(Debug)]
pub struct Conn {
    /// The driver's peer (for pieces, pauses, resets).
    pub peer: Peer,
    t: Timing,
    server_port: u16,
    sent: Vec<String>,
}

impl Server {
    /// Starts the server subject on a fresh port and waits until it listens.
    pub fn start(ctx: &mut Ctx) -> Result<Server, Stop> {
        let sub = common::start_server(ctx)?;
        Ok(Server::of(ctx, sub))
    }

    /// A session over a server already started.
    pub fn of(ctx: &Ctx, sub: Subject) -> Server {
        Server {
            sub,
            t: *ctx.timing(),
            last: None,
            lost: false,
        }
    }

    /// Deadlines.
    pub fn timing(&self) -> &Timing {
        &self.t
    }

    /// Connects a client. A server that has ended is blamed on the connection after which
    /// it was seen ended.
    pub fn connect(&mut self) -> Result<Conn, Stop> {
        match self.sub.connect(self.t.response()) {
            Ok(peer) => Ok(Conn {
                peer,
                t: self.t,
                server_port: self.sub.port(),
                sent: Vec::new(),
            }),
            Err(e) => Err(self.blame(
                fail(
                    "the server keeps running and accepts client after client",
                    "a new client could not connect",
                ),
                None,
                e,
            )),
        }
    }

    /// Connects, sends `HELLO x` and takes the reply `HELLO x+1`.
    pub fn greet(&mut self, x: i64) -> Result<Conn, Stop> {
        let mut conn = self.connect()?;
        match conn.hello(x).and_then(|()| conn.reply(x + 1)) {
            Ok(()) => Ok(conn),
            Err(e) => Err(self.explain(e, Some(&conn))),
        }
    }

    /// One full handshake: greeting, reply, Z, then our FIN and what the server still sends.
    pub fn handshake(&mut self, x: i64) -> Result<(), Stop> {
        self.handshake_with(x, &msg(x), &msg(x + 2))
    }

    /// A handshake with the greeting and Z given as bytes (terminators, padding).
    pub fn handshake_with(&mut self, x: i64, greeting: &[u8], z: &[u8]) -> Result<(), Stop> {
        let mut conn = self.connect()?;
        let r = conn
            .say(greeting)
            .and_then(|()| {
                conn.reply_to(
                    x + 1,
                    &format!("`{}`", describe_bytes(greeting).trim_matches('"')),
                )
            })
            .and_then(|()| conn.say(z));
        match r {
            Ok(()) => {
                conn.finish();
                self.done(&conn);
                Ok(())
            }
            Err(e) => Err(self.explain(e, Some(&conn))),
        }
    }

    /// A handshake that does not wait for the server's close at all (many connections: a
    /// server that keeps its sockets must reach its descriptor limit in seconds, not minutes).
    pub fn quick(&mut self, x: i64) -> Result<(), Stop> {
        let mut conn = self.greet(x)?;
        match conn.say(&msg(x + 2)) {
            Ok(()) => {
                conn.peer.shutdown_write();
                self.done(&conn);
                Ok(())
            }
            Err(e) => Err(self.explain(e, Some(&conn))),
        }
    }

    /// Closes `conn` (FIN) and waits (response deadline) until the server has taken the
    /// close: its end of the connection is gone from /proc, or it has ended. A server that
    /// dies of this close is then seen dead before the next connection, which is not blamed.
    pub fn close(&mut self, conn: Conn) {
        self.done(&conn);
        let local = conn.peer.local_port();
        conn.peer.close();
        if let Some(local) = local {
            let port = self.sub.port();
            let sub = &mut self.sub;
            let _ = wait_until(self.t.response(), || {
                sub.try_exit().is_some() || !watch::accepted(port, local)
            });
        }
    }

    /// Records `conn` as the last connection finished (for blame).
    pub fn done(&mut self, conn: &Conn) {
        self.last = Some(conn.describe());
    }

    /// Explains a failure by the server's end when it has ended: its status, and the
    /// connection after which it died (`during`, the one that was being served, else the
    /// last one finished).
    pub fn explain(&mut self, stop: Stop, during: Option<&Conn>) -> Stop {
        let after = during.map(Conn::describe).or_else(|| self.last.clone());
        common::explain_exit_after(&mut self.sub, stop, after.as_deref(), HINT_SERVE_ON)
    }

    /// `replacement` (with the server's end and blame) if the server has ended, else `stop`.
    fn blame(&mut self, replacement: Stop, during: Option<&Conn>, stop: Stop) -> Stop {
        if self.sub.try_exit().is_some() || self.sub.wait_exit(REPLY_SILENCE).is_some() {
            self.explain(replacement, during)
        } else {
            stop
        }
    }

    /// Fails unless the server still runs after `what`.
    pub fn alive(&mut self, what: &str) -> Result<(), Stop> {
        common::alive(&mut self.sub, what, HINT_SERVE_ON)
    }

    /// Waits for a stdout line `HELLO want` at index >= `from`.
    pub fn wait_printed(&self, from: usize, want: i64) -> Option<usize> {
        self.sub
            .wait_line(from, self.t.response(), |l| {
                l.stream == Stream::Stdout && printed_is(&l.text, want)
            })
            .map(|(i, _)| i)
    }

    /// Waits for an ERROR line on either stream.
    pub fn wait_error(&self) -> Option<Line> {
        self.sub
            .wait_line(0, self.t.response(), |l| super::is_error_line(&l.text))
            .map(|(_, l)| l)
    }

    /// Whether anything at all has come through the stdout pipe while the server runs: if
    /// not, its stdout is buffered (or it prints nothing), and what it printed cannot be
    /// judged here; `prints-lines` judges that, once.
    pub fn stdout_live(&self) -> bool {
        !self.sub.lines_of(Stream::Stdout).is_empty()
    }

    /// Lines `HELLO x` then `HELLO z` on stdout after index `from`, when the server's stdout
    /// is live: `Ok(Some(next index))`, or `Ok(None)` when nothing comes through the pipe at
    /// all (the printing check's failure, not this one's).
    pub fn printed(&mut self, from: usize, x: i64, z: i64) -> Result<Option<usize>, Stop> {
        if let Some(i) = self
            .wait_printed(from, x)
            .and_then(|i| self.wait_printed(i + 1, z))
        {
            return Ok(Some(i + 1));
        }
        if !self.stdout_live() {
            return Ok(None);
        }
        self.expect_printed(from, x, z).map(Some)
    }

    /// Lines `HELLO x` then `HELLO z` on stdout after index `from` while the server runs; on
    /// failure the evidence picks the hint (stderr instead, stale digits, a line without
    /// newline, output lost in the stdio buffer).
    pub fn expect_printed(&mut self, from: usize, x: i64, z: i64) -> Result<usize, Stop> {
        if let Some(i) = self
            .wait_printed(from, x)
            .and_then(|i| self.wait_printed(i + 1, z))
        {
            return Ok(i + 1);
        }
        let (first, second) = (format!("HELLO {x}"), format!("HELLO {z}"));
        let lines = self.sub.lines();
        let expected = format!("stdout lines `{first}` then `{second}` while the server runs");
        if lines.iter().any(|l| {
            l.stream == Stream::Stderr && (printed_is(&l.text, x) || printed_is(&l.text, z))
        }) {
            return Err(fail(
                expected,
                format!("they are on stderr: {}", quote_lines(&lines)),
            )
            .hint("print the HELLO lines to stdout (printf/print), not stderr"));
        }
        // Kill it and look again: stdio buffers are lost on SIGKILL, so a line that arrives
        // now was in the pipe all along, only without its newline.
        self.sub.kill();
        let after = self.sub.lines();
        let hint = printing_hint(x, &lines, &after);
        let actual = if after.len() > lines.len() {
            format!(
                "within {:?}: {}; only once it was killed: {}",
                self.t.response(),
                quote_lines(&lines),
                quote_lines(&after[lines.len()..])
            )
        } else {
            format!("within {:?}: {}", self.t.response(), quote_lines(&lines))
        };
        self.lost = hint == super::HINT_FLUSH;
        Err(fail(expected, actual).hint(hint))
    }

    /// Whether the last [`Server::expect_printed`] failure found nothing at all, not even at
    /// the kill (so a pty re-run can tell a buffer from no printing).
    pub fn output_lost(&self) -> bool {
        self.lost
    }
}

impl Conn {
    /// The driver's name of this connection ("client 3").
    pub fn label(&self) -> &str {
        self.peer.label()
    }

    /// "client 3 (it sent `HELLO 0`, `HELLO 2`)", for blame.
    pub fn describe(&self) -> String {
        if self.sent.is_empty() {
            format!("{} (it sent nothing)", self.label())
        } else {
            format!("{} (it sent {})", self.label(), self.sent.join(", "))
        }
    }

    /// Sends bytes in one write.
    pub fn say(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        self.sent.push(describe_bytes(bytes));
        self.peer.send(bytes)
    }

    /// Sends `HELLO x` (bare).
    pub fn hello(&mut self, x: i64) -> Result<(), Stop> {
        self.say(&msg(x))
    }

    /// Takes the reply `HELLO want` to the last message sent.
    pub fn reply(&mut self, want: i64) -> Result<(), Stop> {
        let after = self.sent.last().cloned().unwrap_or_default();
        self.reply_to(want, &format!("`{}`", after.trim_matches('"')))
    }

    /// Takes the reply `HELLO want`; `after` names what it answers, for the message.
    pub fn reply_to(&mut self, want: i64, after: &str) -> Result<(), Stop> {
        let r = self.peer.recv_reply(msg(want).len(), self.t.response());
        if parse_hello(&r.bytes) == Some(want) {
            return Ok(());
        }
        let accepted = self
            .peer
            .local_port()
            .is_none_or(|p| watch::accepted(self.server_port, p));
        let stop = fail(
            format!("the reply `HELLO {want}` to {after}"),
            common::describe_received(&r, "server"),
        );
        Err(match reply_hint(want, &r, accepted) {
            Some(h) => stop.hint(h),
            None => stop,
        })
    }

    /// Sends Z and ends the connection as a client does.
    pub fn z(&mut self, z: i64) -> Result<(), Stop> {
        self.hello(z)?;
        self.finish();
        Ok(())
    }

    /// Ends a connection after the client's last message: our FIN lets a server that reads
    /// once more see the end, and taking what it still sends until its close avoids an RST
    /// (unread bytes at our close) that could discard Z. The server's close is not awaited
    /// past a short silence: a server that keeps the socket would cost seconds per handshake.
    pub fn finish(&mut self) {
        self.peer.shutdown_write();
        let _ = self.peer.recv_until_closed(REPLY_SILENCE);
    }
}
