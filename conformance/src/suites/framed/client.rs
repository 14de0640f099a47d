//! Client checks: the suite plays the server of a client fed lines on stdin. It checks the
//! frames the client sends, the reply payloads it prints, and what it does when the server
//! goes (the lost-server family, [`LOST_SERVER`]).

use std::time::Duration;

use codec::framed::{DROPPED_CHARS, HEADER_LEN};

use super::frames::{
    BadFrame, LARGE, MULTIBYTE, SEED_EXAMPLE, describe_payload, first_difference, frame,
    read_frame, reply_of, text,
};
use super::hints::{self, Death, HINT_BYTES_REPR, HINT_PARTIAL};
use super::{bulk, case_of};
use crate::check::{Check, CheckResult, Level, Stop, fail};
use crate::driver::{Ctx, FakeServer, Finished, Launch, Peer, Stopwatch, Stream};
use crate::suites::common::client::no_connection;
use crate::suites::common::quote_lines;
use crate::timing::{EXIT, RESPONSE};

use Level::{Recommended as C, Required as R};

/// A client whose frames are misread cannot be judged on anything else: every other client
/// check begins with exchanges, and is reported blocked by this one when it fails.
const NEEDS: &[&str] = &["framed.client.sends-frames"];

/// What the fake server saw of one client run.
#[derive(Default)]
struct Seen {
    connected: bool,
    /// The payloads of the frames received and answered, in order.
    frames: Vec<Vec<u8>>,
    /// The first frame that was not the expected one (then the scenario stopped).
    bad: Option<(usize, BadFrame)>,
    /// Started when the fake server closed or reset (After::Close, After::Reset).
    gone: Option<Stopwatch>,
}

/// How the fake server behaves after its scripted replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// Answers every line, then waits for the client to leave.
    Serve,
    /// Answers the first line only, then closes its sending side (FIN) and keeps reading, so
    /// the client's next frame is taken and its next receive sees the close.
    Close,
    /// Answers the first line, waits for the second frame (the first reply was consumed by
    /// then), then resets the connection (RST).
    Reset,
    /// Answers the first line; to the second, sends the header and half the payload, then
    /// closes its sending side (FIN): the client's receive sees the end inside a frame.
    CloseMidReply,
}

/// The stdin given to a client: each line followed by `\n`.
fn stdin_of(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut v = Vec::new();
    for l in lines {
        v.extend_from_slice(l);
        v.push(b'\n');
    }
    v
}

/// Runs the client with `lines` on stdin against a fake server that checks each frame and
/// answers it, the reply of `split` (index) in pieces with pauses; `after` says how it ends.
fn run_client(
    ctx: &mut Ctx,
    lines: &[Vec<u8>],
    split: Option<usize>,
    after: After,
    transfer: Duration,
) -> Result<(Finished, Seen), Stop> {
    let t = *ctx.timing();
    let launch = Launch::new()
        .stdin(stdin_of(lines))
        .timeout(t.startup() + t.response() * 2 + t.exit() + transfer * 2);
    let lines = lines.to_vec();
    ctx.run_with_fake_server(launch, move |fake: &mut FakeServer| {
        let mut seen = Seen::default();
        let Some(mut peer) = fake.accept(t.startup()) else {
            return seen;
        };
        seen.connected = true;
        for (i, line) in lines.iter().enumerate() {
            if after != After::Serve && i == 1 {
                if after == After::CloseMidReply {
                    close_mid_reply(&mut peer, line, transfer, &mut seen);
                }
                break;
            }
            match read_frame(&mut peer, line, transfer, "client") {
                Ok(p) => seen.frames.push(p),
                Err(bad) => {
                    seen.bad = Some((i, bad));
                    return seen;
                }
            }
            let reply = frame(reply_of(line));
            let sent = if split == Some(i) {
                send_split(&mut peer, &reply)
            } else {
                peer.send_within(&reply, transfer)
            };
            if sent.is_err() {
                return seen;
            }
        }
        match after {
            After::Serve => {
                let _ = peer.recv_until_closed(t.response() + t.exit());
            }
            After::CloseMidReply => {
                let _ = peer.recv_until_closed(t.response() + t.exit());
            }
            After::Close => {
                peer.shutdown_write();
                seen.gone = Some(Stopwatch::start());
                let _ = peer.recv_until_closed(t.response() + t.exit());
            }
            After::Reset => {
                // The second frame shows the client took the first reply (a client that
                // sends every line before reading may lose it to the reset: also fine).
                let _ = peer.recv_until(t.response(), None, |b| b.len() >= HEADER_LEN);
                peer.reset();
                seen.gone = Some(Stopwatch::start());
            }
        }
        seen
    })
}

/// Reads the second frame, then sends its reply cut in the middle of the payload and closes
/// the sending side (the header announces bytes that never come).
fn close_mid_reply(peer: &mut Peer, line: &[u8], transfer: Duration, seen: &mut Seen) {
    match read_frame(peer, line, transfer, "client") {
        Ok(p) => seen.frames.push(p),
        Err(bad) => {
            seen.bad = Some((1, bad));
            return;
        }
    }
    let reply = frame(reply_of(line));
    let cut = HEADER_LEN + (reply.len() - HEADER_LEN) / 2;
    let _ = peer.send_within(&reply[..cut], transfer);
    peer.shutdown_write();
    seen.gone = Some(Stopwatch::start());
}

/// The reply header in two pieces, then the payload in two, 150 ms apart.
fn send_split(peer: &mut Peer, reply: &[u8]) -> Result<(), Stop> {
    let (head, body) = reply.split_at(HEADER_LEN.min(reply.len()));
    let mid = body.len() / 2;
    let (b1, b2) = body.split_at(mid);
    peer.send_pieces(
        &[&head[..2], &head[2..], b1, b2],
        Duration::from_millis(150),
    )
}

/// The frames the client sent were those of its stdin lines.
fn check_frames(fin: &Finished, seen: &mut Seen, lines: &[Vec<u8>]) -> Result<(), Stop> {
    if !seen.connected {
        return Err(no_connection(
            fin,
            "PROG <host> <port>; the lines to send come on stdin",
        ));
    }
    if let Some((i, bad)) = seen.bad.take() {
        let line = lines.get(i).map(Vec::as_slice).unwrap_or_default();
        return Err(fail(
            format!(
                "stdin line {} ({}) sent as one frame: the 4-byte big-endian length {}, then the line without its newline",
                i + 1,
                describe_payload(line),
                line.len()
            ),
            bad.actual,
        )
        .hint(hints::client_frame_fault(bad.fault, line)));
    }
    if let Some((i, (got, want))) = seen
        .frames
        .iter()
        .zip(lines)
        .enumerate()
        .find(|(_, (g, w))| g != w)
    {
        return Err(fail(
            format!(
                "stdin line {} sent as the payload {}",
                i + 1,
                describe_payload(want)
            ),
            format!("the payload was {}", describe_payload(got)),
        )
        .hint("send the line exactly as read, without its newline"));
    }
    Ok(())
}

/// The stdout lines, trimmed on both sides (what a line holds is the check, not its margins).
fn stdout_texts(fin: &Finished) -> Vec<String> {
    fin.lines_of(Stream::Stdout)
        .iter()
        .map(|l| l.trimmed().trim_start().to_owned())
        .collect()
}

/// Every reply in `wants` appears as a stdout line, in order (other lines may come between).
fn check_printed(fin: &Finished, wants: &[&[u8]]) -> Result<(), Stop> {
    let texts = stdout_texts(fin);
    let mut from = 0;
    for (i, want) in wants.iter().enumerate() {
        let w = String::from_utf8_lossy(want);
        let w = w.trim();
        match texts.iter().skip(from).position(|t| t == w) {
            Some(k) => from += k + 1,
            None => {
                let earlier = texts.iter().take(from).any(|t| t == w);
                let stop = fail(
                    format!(
                        "stdout line {:?} (the payload of reply {}), after the lines of the replies before it",
                        String::from_utf8_lossy(want),
                        i + 1
                    ),
                    quote_lines(&fin.lines()),
                );
                let repr = texts.iter().any(|t| {
                    t.strip_prefix("b'")
                        .or_else(|| t.strip_prefix("b\""))
                        .is_some_and(|rest| rest.contains(w.trim_start()))
                });
                let death = death_of(fin);
                let crash = if fin.timed_out || fin.flooded {
                    None
                } else {
                    hints::client_crash(&death)
                };
                return Err(if let Some(h) = crash {
                    let stop = stop.hint(h);
                    match &death.traceback {
                        Some(tb) => stop.cause(tb.cause()),
                        None => stop.cause(death.cause()),
                    }
                } else if earlier {
                    stop.hint("print each reply once, in the order received")
                } else if repr {
                    stop.hint(HINT_BYTES_REPR)
                } else if fin.timed_out {
                    stop.hint("the client was killed at the deadline: flush stdout after each line (fflush(stdout), print(..., flush=True)), and exit at the end of stdin")
                } else {
                    stop.hint("print the payload of each reply (without its 4-byte length) on its own line, to stdout")
                });
            }
        }
    }
    Ok(())
}

fn lines_of(items: &[&[u8]]) -> Vec<Vec<u8>> {
    items.iter().map(|l| l.to_vec()).collect()
}

pub static SENDS_FRAMES: Check = Check::new(
    "framed.client.sends-frames",
    R,
    "003 §1 send_message(); §1.1 message format",
    "each stdin line arrives as one frame with the right length",
    sends_frames,
);

fn sends_frames(ctx: &mut Ctx) -> CheckResult {
    let lines = lines_of(&[
        SEED_EXAMPLE,
        b"a second line, a little longer than the first one",
        b"#3: short",
    ]);
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Serve, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    if seen.frames.len() < lines.len() {
        return Err(fail(
            format!("{} frames, one per stdin line", lines.len()),
            format!("{} frame(s), then {}", seen.frames.len(), fin.ended()),
        ));
    }
    Ok(())
}

pub static PRINTS_REPLIES: Check = Check::new(
    "framed.client.prints-replies",
    R,
    "003 §1 receive_message()",
    "each reply payload is printed as a line, in order",
    prints_replies,
)
.needs(NEEDS);

fn prints_replies(ctx: &mut Ctx) -> CheckResult {
    let lines = lines_of(&[
        SEED_EXAMPLE,
        b"0123456789the second reply",
        b"0123456789and the third one",
    ]);
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Serve, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    let wants: Vec<&[u8]> = lines.iter().map(|l| reply_of(l)).collect();
    check_printed(&fin, &wants)
}

pub static SPLIT_REPLY: Check = Check::new(
    "framed.client.split-reply",
    R,
    "003 §1 receive_message() (buffer incoming messages)",
    "a reply delivered in small pieces with pauses is printed whole",
    split_reply,
)
.needs(NEEDS);

fn split_reply(ctx: &mut Ctx) -> CheckResult {
    let lines = lines_of(&[SEED_EXAMPLE, b"0123456789then a reply in one piece"]);
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, Some(0), After::Serve, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    let wants: Vec<&[u8]> = lines.iter().map(|l| reply_of(l)).collect();
    check_printed(&fin, &wants).map_err(|e| match e {
        Stop::Fail(mut f) => {
            f.expected = format!(
                "{} (the first reply arrived as 2 + 2 header bytes, then its payload in 2 pieces, 150 ms apart)",
                f.expected
            );
            // A cut reply is the likely cause, unless a more precise hint was found.
            if f.hint.as_deref() != Some(HINT_BYTES_REPR) {
                f.hint = Some(HINT_PARTIAL.to_owned());
            }
            Stop::Fail(f)
        }
        other => other,
    })
}

pub static LARGE_REPLY: Check = Check::new(
    "framed.client.large-reply",
    R,
    "003 §1 receive_message(); §3 test 1 (long message)",
    "a 650000-byte reply is printed whole",
    large_reply,
)
.needs(NEEDS);

fn large_reply(ctx: &mut Ctx) -> CheckResult {
    let line = text("a line of 650010 characters", LARGE + DROPPED_CHARS);
    let lines = vec![line];
    let transfer = bulk(ctx.timing());
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Serve, transfer)?;
    check_frames(&fin, &mut seen, &lines)?;
    let want = reply_of(&lines[0]);
    // The captured lines are cut at 4 KiB: compare with the raw stdout.
    let printed: Vec<&[u8]> = fin
        .stdout
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .collect();
    if printed.contains(&want) {
        return Ok(());
    }
    let longest = printed.iter().map(|l| l.len()).max().unwrap_or(0);
    let prefix = printed
        .iter()
        .filter(|l| !l.is_empty())
        .map(|l| first_difference(l, want))
        .max()
        .unwrap_or(0);
    let stop = fail(
        format!(
            "a stdout line of {} characters: the reply's whole payload",
            want.len()
        ),
        format!(
            "the longest stdout line has {longest} characters (it matches the reply for {prefix} characters); {}",
            fin.ended()
        ),
    );
    Err(if printed.iter().any(|l| l.starts_with(b"b'")) {
        stop.hint(HINT_BYTES_REPR)
    } else if longest < want.len() {
        stop.hint(HINT_PARTIAL)
    } else {
        stop
    })
}

/// One case of the lost-server family: after the first exchange the server goes.
#[derive(Debug, Clone, Copy)]
pub(super) struct LostServer {
    pub check: Check,
    after: After,
    /// What the server did, for the failure ("closed the connection").
    how: &'static str,
}

impl LostServer {
    const fn new(check: Check, after: After, how: &'static str) -> LostServer {
        LostServer { check, after, how }
    }
}

/// The lost-server family, one line per case (the runner finds its case by the check's ID).
#[rustfmt::skip]
pub(super) const LOST_SERVER: &[LostServer] = &[
    LostServer::new(Check::new("framed.client.server-close", R, "003 §3 test 2 (server shuts down); §2.5", "the server closes: a line starting `ERROR`, a non-zero exit, in time", lost_server).needs(NEEDS), After::Close, "closed the connection"),
    LostServer::new(Check::new("framed.client.server-reset", R, "003 §2.5 (Connection Reset by Peer); §3 test 2", "the server resets: a line starting `ERROR`, a non-zero exit, in time", lost_server).needs(NEEDS), After::Reset, "reset the connection"),
    LostServer::new(Check::new("framed.client.server-close-mid-reply", R, "003 §2.5 (a 0-byte recv() means the connection closed); §1 receive_message()", "the server closes in the middle of a reply frame: a line starting `ERROR`, a non-zero exit, in time", lost_server).needs(NEEDS), After::CloseMidReply, "closed the connection in the middle of the second reply (its header announced more bytes than came)"),
];

/// How a finished run ended, as evidence for hints.
fn death_of(fin: &Finished) -> Death {
    use std::os::unix::process::ExitStatusExt;
    let stderr: Vec<String> = fin
        .lines_of(Stream::Stderr)
        .into_iter()
        .map(|l| l.text)
        .collect();
    Death {
        code: fin.code(),
        signal: fin.status.and_then(|s| s.signal()),
        traceback: hints::traceback(stderr.iter().map(String::as_str)),
    }
}

/// The runner of [`LOST_SERVER`]: the client must print a line starting ERROR and exit
/// non-zero, in time.
fn lost_server(ctx: &mut Ctx) -> CheckResult {
    let case = case_of(LOST_SERVER, ctx, |c| &c.check)?;
    let how = case.how;
    // One good exchange, then five more lines, as the course's own test sends them.
    let lines: Vec<Vec<u8>> = (1..=6)
        .map(|i| format!("0123456789message {i} of 6").into_bytes())
        .collect();
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, case.after, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    let expected = format!(
        "after the first reply the server {how}: at its next send or receive the client prints a line starting `ERROR` and exits with a non-zero status"
    );
    if fin.timed_out || fin.flooded {
        let hint = if case.after == After::CloseMidReply {
            "recv() returning 0 (b'' in Python) inside a frame, before the bytes its length \
             announced, means the server is gone too: the loop that gathers a payload must stop \
             on it, print ERROR and exit(1), not call recv() again"
        } else {
            "recv() returning 0 (b'' in Python) or failing means the server is gone: print \
             ERROR and exit(1); do not wait or retry"
        };
        return Err(fail(expected, fin.describe_end()).hint(hint));
    }
    let error_line = fin
        .lines()
        .iter()
        .any(|l| l.trimmed().trim_start().starts_with("ERROR"));
    if !error_line {
        let death = death_of(&fin);
        let stop = fail(
            expected,
            format!("{}; {}", quote_lines(&fin.lines()), fin.ended()),
        )
        .hint(hints::client_lost_server(&death));
        return Err(match &death.traceback {
            Some(tb) => stop.cause(tb.cause()),
            None => stop,
        });
    }
    // The ERROR is due at the client's next send or receive after the server went.
    let limit = ctx.timing().within(RESPONSE + EXIT);
    if let Some(took) = seen.gone.map(|g| g.elapsed()).filter(|d| *d > limit) {
        return Err(fail(
            expected,
            format!("it printed ERROR but exited only {took:?} after the server {how} (allowed: {limit:?})"),
        )
        .hint("do not wait or retry when the server is gone: report it and exit at once"));
    }
    if fin.code() == Some(0) {
        return Err(fail(
            expected,
            "it printed the ERROR line but exited with status 0",
        )
        .hint("exit(1) / sys.exit(1) after printing ERROR: scripts and graders read the status"));
    }
    Ok(())
}

// The client side of `server.multibyte`: 003 §1.1 says the length stores the number of
// bytes, so a length in characters is a recommended failure (ASCII traffic is unaffected).
pub static MULTIBYTE_LINE: Check = Check::new(
    "framed.client.multibyte",
    C,
    "003 §1.1 ([payload length] stores the number of bytes)",
    "a multibyte UTF-8 line is sent with its length in bytes, and its reply printed",
    multibyte,
)
.needs(NEEDS);

fn multibyte(ctx: &mut Ctx) -> CheckResult {
    let lines = vec![MULTIBYTE.as_bytes().to_vec()];
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Serve, response)?;
    // A length in characters is named by the evidence (hints::client_frame_fault).
    check_frames(&fin, &mut seen, &lines)?;
    check_printed(&fin, &[reply_of(&lines[0])])
}

/// The line fixtures/adapters/framed.py writes to stderr (and exits 3) when a class-based
/// client breaks its class's contract: a protocol between the adapter and the suite, read as
/// data (keep in step with the adapter's `CONTRACT_MARK`).
pub const ADAPTER_CONTRACT_MARK: &str = "framed-adapter: contract violation: ";

pub static RECEIVE_CONTRACT: Check = Check::new(
    "framed.client.receive-contract",
    C,
    "003 §1 receive_message() (a failed receive returns an empty payload and False); §3 test 2",
    "class-based clients (through the adapter): a server's reset makes receive_message() return (\"\", False); no method raises",
    receive_contract,
)
.needs(NEEDS);

fn receive_contract(ctx: &mut Ctx) -> CheckResult {
    let lines: Vec<Vec<u8>> = (1..=3)
        .map(|i| format!("0123456789message {i} of 3").into_bytes())
        .collect();
    let response = ctx.timing().response();
    let (fin, mut seen) = run_client(ctx, &lines, None, After::Reset, response)?;
    check_frames(&fin, &mut seen, &lines)?;
    let breach = fin.lines_of(Stream::Stderr).into_iter().find_map(|l| {
        l.text
            .strip_prefix(ADAPTER_CONTRACT_MARK)
            .map(str::to_owned)
    });
    let Some(what) = breach else { return Ok(()) };
    let death = death_of(&fin);
    let actual = match &death.traceback {
        Some(tb) => format!("the adapter reports: {what} (traceback: {})", tb.text()),
        None => format!("the adapter reports: {what}"),
    };
    let stop = fail(
        "after the server resets the connection, receive_message() returns (\"\", False) (the course's autograder calls it and reads the pair; an exception ends its test)",
        actual,
    )
    .hint(
        "catch the reset inside the class: wrap recv() (and sendall()) in try/except \
         ConnectionResetError / OSError and return (\"\", False), as for b'' from recv()",
    );
    Err(match &death.traceback {
        Some(tb) => stop.cause(tb.cause()),
        None => stop,
    })
}
