//! Scenario helpers shared by the suites: how a received end and a subject's output read in
//! a failure message, why a subject ended ([`exit`]), thread-model sampling ([`threads`]),
//! starting a server and restart-after-kill ([`restart`]), and a client run against a fake
//! server ([`client`]).
//! Decisions here are made on data (`Cause`, exit status, `End`), never on a sentence.

pub mod client;
pub mod exit;
pub mod restart;
pub mod threads;

pub use client::{Seen, no_connection, run_client};
pub use exit::{
    Death, alive, exit_cause, exit_hint, explain_exit, explain_exit_after, is_addr_in_use,
    start_failure, start_hint, traceback,
};
pub use restart::start_server;

use crate::driver::{End, Line, Received, describe_bytes};

/// The last lines a subject printed, quoted for a failure message.
pub fn quote_lines(lines: &[Line]) -> String {
    if lines.is_empty() {
        return "no output at all".to_owned();
    }
    let start = lines.len().saturating_sub(6);
    let shown: Vec<String> = lines[start..]
        .iter()
        .map(|l| format!("{}: {:?}", l.stream.as_str(), l.text))
        .collect();
    let more = if start > 0 {
        format!("... {start} earlier lines, then ")
    } else {
        String::new()
    };
    format!("{more}{}", shown.join(", "))
}

/// How a receive ended, as the tail of a sentence (", then the server closed the
/// connection"); `who` is the other side ("server", "client").
pub fn describe_end(end: End, who: &str) -> String {
    match end {
        End::Done | End::Silence => String::new(),
        End::Closed => format!(", then the {who} closed the connection"),
        End::Reset => format!(", then the {who} reset the connection"),
        End::Deadline => ", then nothing more before the deadline".to_owned(),
        End::Overflow => " (far too much)".to_owned(),
    }
}

/// What a receive got and how it ended: "received \"HELLO 6\", then the server closed the
/// connection".
pub fn describe_received(r: &Received, who: &str) -> String {
    format!(
        "received {}{}",
        describe_bytes(&r.bytes),
        describe_end(r.end, who)
    )
}
