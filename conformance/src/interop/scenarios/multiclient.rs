//! multiclient (002): three clients connect one after another and leave in another order,
//! judged on the server's event lines (the base protocol's traffic is not specified).

use std::time::Duration;

use super::super::{Blame, from_stop};
use super::{Pair, finding, quote};
use crate::check::Role;
use crate::driver::{Launch, Peer, Subject, SubjectCmd};
use crate::suites::multiclient::lines::{self, Kind};

impl Pair<'_> {
    /// Three clients connect one after another and leave in another order; judged on the
    /// server's event lines (ID and count) only, as the base protocol's traffic is not
    /// specified.
    pub(super) fn multiclient(&mut self, client: &SubjectCmd) {
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
            match wait_event(self.server, from, deadline, Kind::Connected) {
                Some((id, count))
                    if count == u64::try_from(n).ok()
                        && ids.last().is_none_or(|&p| id == p + 1) =>
                {
                    ids.push(id)
                }
                _ => {
                    found = Some(finding(
                        ex,
                        Blame::Server,
                        format!(
                            "a line \"Client <ID> connected. Number of connected clients = {n}\" (IDs rising by one)"
                        ),
                        self.printed_since(from),
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
                match wait_event(self.server, from, deadline, Kind::Disconnected) {
                    Some((id, count))
                        if Some(id) == ids.get(i).copied() && count == u64::try_from(left).ok() => {
                    }
                    _ => {
                        found = Some(finding(
                            ex,
                            Blame::Server,
                            format!(
                                "a line \"Client {} disconnected. Number of connected clients = {left}\"",
                                ids.get(i).map_or("?".to_owned(), |d| d.to_string())
                            ),
                            self.printed_since(from),
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

impl Pair<'_> {
    /// "it printed ..." with the server's lines from `from` on.
    fn printed_since(&self, from: usize) -> String {
        let lines: Vec<_> = self.server.lines().into_iter().skip(from).collect();
        format!("it printed {}", quote(&lines))
    }
}

/// The first event line of `kind` the server prints from line `from` on, within `deadline`:
/// its ID and count.
fn wait_event(
    server: &mut Subject,
    from: usize,
    deadline: Duration,
    kind: Kind,
) -> Option<(u64, Option<u64>)> {
    let got = server.wait_line(from, deadline, |l| {
        event(l.trimmed()).is_some_and(|(k, _, _)| k == kind)
    });
    got.and_then(|(_, l)| event(l.trimmed()))
        .map(|(_, id, count)| (id, count))
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

/// A multiclient event line, read by the suite's own tested reader
/// ([`lines::parse_event`]): its kind, the client's ID and the count it gives.
fn event(line: &str) -> Option<(Kind, u64, Option<u64>)> {
    lines::parse_event(line).map(|e| (e.kind, e.id, e.count))
}
