//! Helpers shared by the suites' failure messages.

use std::time::Duration;

use crate::check::{Failure, Stop};
use crate::driver::subject::describe_status;
use crate::driver::{Line, Subject};

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

/// A failure seen by a client is explained by the server's end when it has ended.
pub fn explain_exit(server: &mut Subject, stop: Stop) -> Stop {
    let Stop::Fail(f) = stop else { return stop };
    if f.actual.contains("the server had ended") {
        return Stop::Fail(f);
    }
    // A process closes its sockets before it becomes a zombie: give it a moment.
    match server.wait_exit(Duration::from_millis(300)) {
        Some(s) => {
            server.capture().wait_closed(Duration::from_millis(300));
            Stop::Fail(Failure {
                expected: f.expected,
                actual: format!(
                    "{}; the server had ended with {}{}",
                    f.actual,
                    describe_status(s),
                    server.stderr_quote()
                ),
                cause: f.cause,
                hint: Some(
                    "a server serves clients until it is killed: loop around accept(), and on \
                     a client's error close that client's socket, do not exit"
                        .to_owned(),
                ),
            })
        }
        None => Stop::Fail(f),
    }
}

/// Fails unless the server is still running after `what` (a server serves client after
/// client until it is killed); `hint` names the usual cause for the suite.
pub fn alive(server: &mut Subject, what: &str, hint: &str) -> Result<(), Stop> {
    if let Some(s) = server.try_exit() {
        server.capture().wait_closed(Duration::from_millis(300));
        return Err(Stop::Fail(
            Failure::new(
                format!("the server keeps running after {what}"),
                format!(
                    "it ended with {}{}",
                    describe_status(s),
                    server.stderr_quote()
                ),
            )
            .hint(hint),
        ));
    }
    Ok(())
}
