//! Evidence-first hints of the framed suite: each rule takes what was observed (how a
//! process ended, the last frame of its traceback, the length a reply declared) and returns
//! the hint for it, so a hint the evidence contradicts is never chosen. Pure functions over
//! data, public so that the engine tests call each rule.

use codec::framed::DROPPED_CHARS;

use super::frames::{FrameFault, swapped};
use crate::check::Cause;
use crate::driver::End;

/// A frame was read as if one recv() returned it whole.
pub const HINT_PARTIAL: &str = "TCP is a byte stream: one recv() may return only part \
    of a frame (or of its 4-byte length); keep calling recv() until the 4 header bytes, then \
    all the payload bytes they announce, are in";
/// No reply at all to a frame: the server waits for bytes that are not coming.
pub const HINT_SILENT: &str = "no reply came: the server is still waiting for bytes. Read the \
    length as 4 big-endian bytes (struct.unpack('!I', ...), ntohl()) and call recv() until \
    exactly that many payload bytes are in, not until some other count or a close";
/// The bytes after a frame were thrown away.
pub const HINT_KEEP_REST: &str = "one recv() may return the end of a frame and the \
    start of the next: keep the bytes beyond the current frame for the next one, never throw \
    them away";
/// The length is in host order.
pub const HINT_BYTE_ORDER: &str = "the length is a 4-byte unsigned integer in network \
    (big-endian) order: htonl()/ntohl() in C, struct.pack('!I', n) in Python";
/// The whole payload came back.
pub const HINT_DROP: &str =
    "the reply is the payload without its first 10 characters (payload[10:] on the decoded string)";
/// An empty reply was not sent.
pub const HINT_EMPTY: &str = "a payload of 10 characters or fewer leaves nothing, and the reply \
    is still a frame: the 4-byte length 0 with no payload";
/// Bytes were printed with their Python repr.
pub const HINT_BYTES_REPR: &str = "print(payload) on bytes shows b'...': decode the \
    payload first (print(payload.decode())), or write the bytes to sys.stdout.buffer";
/// 10 bytes were dropped instead of 10 characters.
pub const HINT_CHARS: &str = "drop 10 characters, not 10 bytes: decode the payload as UTF-8 \
    first (payload.decode()[10:]), then encode the rest";
/// The length counts characters.
pub const HINT_CHAR_LENGTH: &str = "the length counts the bytes of the encoded payload: \
    len(text.encode()), not len(text) (a multibyte character is several bytes)";
/// A reply of some other length.
pub const HINT_OTHER_LENGTH: &str = "the reply's length must count exactly the bytes of \
    payload[10:]; is an old buffer or a terminator sent along?";
/// The frame was not sent whole.
pub const HINT_SEND_ALL: &str =
    "send the whole frame: loop until send() has taken every byte, or use sendall()";
/// The server ended with no more precise evidence.
pub const HINT_SERVE_ON: &str = "a server serves clients until it is killed: loop around \
    accept(), and when a client leaves or fails close its socket and accept the next, do not exit";

/// The hint that what arrived instead of the right reply proves (the length's byte order,
/// the whole payload echoed, characters counted or dropped as bytes, a frame cut short);
/// None when it proves no particular mistake. `sent` is the payload sent, `want` the reply.
pub fn reply_evidence(fault: FrameFault, sent: &[u8], want: &[u8]) -> Option<&'static str> {
    match fault {
        FrameFault::WrongLength { declared, want: n } => wrong_length(declared, n, sent, want),
        FrameFault::NoHeader {
            got: 0,
            end: End::Deadline,
        } if want.is_empty() => Some(HINT_EMPTY),
        FrameFault::NoHeader { .. } => None,
        FrameFault::ShortPayload { .. } => Some(HINT_SEND_ALL),
    }
}

/// The usual reason for a symptom that proves nothing more precise (used when neither the
/// evidence nor the check's scenario names the mistake).
pub fn reply_symptom(fault: FrameFault) -> Option<&'static str> {
    match fault {
        // Nothing at all in time: the server is still waiting for bytes it thinks are due.
        FrameFault::NoHeader {
            got: 0,
            end: End::Deadline,
        } => Some(HINT_SILENT),
        FrameFault::WrongLength { declared, want } if declared < want => Some(HINT_PARTIAL),
        FrameFault::WrongLength { .. } => Some(HINT_OTHER_LENGTH),
        _ => None,
    }
}

/// The hint for a frame that declared `declared` bytes where `n` (= `want.len()`) were right.
fn wrong_length(declared: usize, n: usize, sent: &[u8], want: &[u8]) -> Option<&'static str> {
    let chars = |b: &[u8]| std::str::from_utf8(b).ok().map(|s| s.chars().count());
    if swapped(declared, n) {
        Some(HINT_BYTE_ORDER)
    } else if declared == sent.len() && !sent.is_empty() {
        Some(HINT_DROP)
    } else if chars(want).is_some_and(|c| c != n && c == declared) {
        Some(HINT_CHAR_LENGTH)
    } else if declared == sent.len().saturating_sub(DROPPED_CHARS) && declared != n {
        Some(HINT_CHARS)
    } else {
        None
    }
}

/// The hint for a client's frame that was not the right one (the suite plays the server).
pub fn client_frame_fault(fault: FrameFault, line: &[u8]) -> &'static str {
    match fault {
        FrameFault::WrongLength { declared, want } => {
            let chars = std::str::from_utf8(line).ok().map(|s| s.chars().count());
            if swapped(declared, want) {
                HINT_BYTE_ORDER
            } else if chars.is_some_and(|c| c != want && c == declared) {
                HINT_CHAR_LENGTH
            } else {
                "send the length (struct.pack('!I', len(data))) and then the encoded line; \
                 drop the newline, nothing else"
            }
        }
        FrameFault::ShortPayload { .. } => HINT_SEND_ALL,
        FrameFault::NoHeader { .. } => {
            "send the length (struct.pack('!I', len(data))) and then the encoded line; drop \
             the newline, nothing else"
        }
    }
}

pub use crate::suites::common::exit::Traceback;

/// The last traceback in `stderr` (lines as printed), if the program printed one.
pub fn traceback<'a>(stderr: impl IntoIterator<Item = &'a str>) -> Option<Traceback> {
    crate::suites::common::exit::parse_traceback(stderr)
}

/// How a subject ended by itself, as observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Death {
    /// Its exit code, when it exited.
    pub code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// The traceback it printed, if any.
    pub traceback: Option<Traceback>,
}

impl Death {
    /// What a failure records of it.
    pub fn cause(&self) -> Cause {
        match (&self.traceback, self.signal, self.code) {
            (Some(tb), _, _) => tb.cause(),
            (None, Some(signal), _) => Cause::Signal { signal },
            (None, None, Some(code)) => Cause::Exited { code },
            (None, None, None) => Cause::Other {
                text: "ended".to_owned(),
            },
        }
    }
}

/// The hint for a server that ended during a check: its traceback's exception or its signal
/// name the mistake; without either, `fallback` (the check's own hint, which fits the
/// scenario that killed it) or [`HINT_SERVE_ON`].
pub fn server_death(death: &Death, fallback: Option<&'static str>) -> &'static str {
    if let Some(tb) = &death.traceback {
        if let Some(h) = server_exception(&tb.exception) {
            return h;
        }
    }
    match death.signal {
        Some(11) => {
            "the server crashed with SIGSEGV (invalid memory access): check every index and \
             copy against the buffer's size; a length read from the network can be anything"
        }
        Some(13) => {
            "SIGPIPE killed the server when it wrote to a client that had left: \
             signal(SIGPIPE, SIG_IGN) or send(..., MSG_NOSIGNAL), then close that client's \
             socket and accept the next"
        }
        Some(6) => {
            "the server aborted (SIGABRT: a failed assert, or a double free / heap corruption \
             detected by malloc): check the buffer handling of the connection it died after"
        }
        _ if death.code == Some(0) => {
            "the server returned from its accept loop and exited with status 0: serve client \
             after client until killed"
        }
        _ => fallback.unwrap_or(HINT_SERVE_ON),
    }
}

/// A Python server's exception, by name.
fn server_exception(name: &str) -> Option<&'static str> {
    Some(match name {
        "ConnectionResetError"
        | "BrokenPipeError"
        | "ConnectionAbortedError"
        | "ConnectionError" => {
            "a client that resets or leaves makes recv()/send() raise (ConnectionResetError, \
             BrokenPipeError): catch OSError around them, close that client's socket and \
             accept() the next"
        }
        "UnicodeDecodeError" => {
            "payload.decode() raised on bytes that are not UTF-8: decode with error handling \
             (payload.decode('utf-8', 'replace')) or catch UnicodeDecodeError, and serve on"
        }
        "MemoryError" | "OverflowError" => {
            "a length read from the network can be anything: do not allocate the declared \
             length up front; grow the buffer with the bytes that actually arrive"
        }
        "struct.error" => {
            "struct.unpack('!I', ...) needs exactly 4 bytes: buffer recv() results until the \
             4 header bytes are in (recv() may return fewer, and b'' when the client left)"
        }
        _ => return None,
    })
}

/// The hint for a client that did not print ERROR when the server went, from how it ended.
pub fn client_lost_server(death: &Death) -> &'static str {
    if let Some(tb) = &death.traceback {
        return match tb.exception.as_str() {
            "ConnectionResetError"
            | "BrokenPipeError"
            | "ConnectionAbortedError"
            | "ConnectionError" => {
                "an exception ended the client: a server's reset makes send()/recv() raise \
                 (ConnectionResetError, BrokenPipeError): catch OSError around them, then \
                 print ERROR and exit(1)"
            }
            "struct.error" => {
                "struct.unpack() got fewer than 4 bytes: recv() returns b'' when the server \
                 closes; check for it before unpacking, then print ERROR and exit(1)"
            }
            _ => {
                "an exception ended the client before it printed ERROR: catch the server's \
                 loss (b'' from recv(), OSError), print a line starting ERROR and exit(1)"
            }
        };
    }
    match death.signal {
        Some(13) => {
            "SIGPIPE killed the client when it wrote to the closed connection: \
             signal(SIGPIPE, SIG_IGN) or send(..., MSG_NOSIGNAL), then treat the error as the \
             server's loss"
        }
        Some(11) => {
            "the client crashed with SIGSEGV (invalid memory access) when the server went: \
             check recv()'s return value (0 or -1) before using the buffer"
        }
        _ => {
            "when recv() returns 0 or fails (receive_message() returns success False), print \
             a line starting ERROR"
        }
    }
}

/// One thing a suite's client did to a server under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The connection ("client 1").
    pub client: String,
    /// What it did ("reset its connection").
    pub what: String,
    /// When.
    pub at: std::time::Instant,
}

/// Which step a server's death is blamed on, from the order of events: the connection it
/// died on is the last one it sent bytes to (`last_reply`: that connection and when), or the
/// first connection when it answered none; the blame is that connection's last action after
/// its last reply, before the server ended that connection itself (`server_ended`: when the
/// suite saw it close or reset each connection) and before the server was first seen dead
/// (`seen_dead_at`: the number of steps done by then). A server that serves one client at a
/// time dies on the client it was serving, even when the suite had connected the next one
/// (or closed this one) before the death showed.
pub fn blame(
    steps: &[Step],
    seen_dead_at: Option<usize>,
    last_reply: Option<(&str, std::time::Instant)>,
    server_ended: &[(String, std::time::Instant)],
) -> Option<usize> {
    let before = seen_dead_at.unwrap_or(steps.len()).min(steps.len());
    let conn = match last_reply {
        Some((c, _)) => c,
        None => steps.first()?.client.as_str(),
    };
    let since = last_reply.map(|(_, at)| at);
    let until = server_ended
        .iter()
        .filter(|(c, _)| c == conn)
        .map(|(_, at)| *at)
        .min();
    let of_conn = |i: &usize| steps[*i].client == conn;
    (0..before)
        .rev()
        .filter(of_conn)
        .find(|i| {
            since.is_none_or(|t| steps[*i].at >= t) && until.is_none_or(|t| steps[*i].at <= t)
        })
        .or_else(|| (0..before).rev().find(of_conn))
        .or_else(|| before.checked_sub(1))
}

/// The hint for a client that ended with a traceback or a signal before printing a reply,
/// from that evidence (None when it exited by itself with no traceback: the symptom speaks).
pub fn client_crash(death: &Death) -> Option<&'static str> {
    if let Some(tb) = &death.traceback {
        return Some(match tb.exception.as_str() {
            "UnicodeDecodeError" | "UnicodeEncodeError" => {
                "the client died converting a reply's text: replies are UTF-8 (not ASCII): \
                 payload.decode('utf-8'), and print it, or write the bytes to sys.stdout.buffer"
            }
            _ => {
                "an exception ended the client before it printed this reply: its traceback's \
                 last frame (above) is where to look"
            }
        });
    }
    match death.signal {
        Some(11) => Some(
            "the client crashed with SIGSEGV (invalid memory access) before printing this \
             reply: check the reply buffer's size against the declared length",
        ),
        Some(_) => Some("a signal ended the client before it printed this reply"),
        None => None,
    }
}
