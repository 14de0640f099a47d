//! messages (004): create then read, two messages to one user read together, an empty read;
//! each request and response judged on the wire, the client's output and the server's lines.

use codec::messages::{Request, RequestKind, Response};

use super::super::relay::Way;
use super::super::{Blame, Finding};
use super::{Pair, Seen, Step, finding, quote};
use crate::driver::{Launch, describe_bytes};

impl Pair<'_> {
    pub(super) fn messages(&mut self) {
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
}
