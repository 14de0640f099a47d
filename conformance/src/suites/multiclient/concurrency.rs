//! Checks that the server serves clients at once: a second client while the first stays,
//! fifty at once, a client stalled in the middle of a message, and the thread model.

use std::collections::BTreeSet;
use std::time::Duration;

use super::events::CONNECT_LINE;
use super::lines::Kind;
use super::session::{HINT_CONCURRENT, Session};
use crate::check::{Check, CheckResult, Level, Model, Stop, fail};
use crate::driver::{Ctx, wait_until};
use crate::suites::common::quote_lines;
use crate::suites::common::threads::{Sample, expect_single_thread, expect_threads};

/// The checks that hold several clients at once need this one: a server that serves one
/// client at a time cannot be judged by them, and they are reported blocked by it.
pub(super) const CONCURRENT_ID: &str = "multiclient.server.concurrent";

pub static CONCURRENT: Check = Check::new(
    CONCURRENT_ID,
    Level::Required,
    "002 goal: ANY number of clients simultaneously",
    "`Client 2 connected` appears while client 1 is still connected",
    concurrent,
)
.needs(&[CONNECT_LINE]);

fn concurrent(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let a = s.join(1, "when client 1 connects")?;
    let (b, _) = s.connect()?;
    let when = "while client 1 is still connected, when client 2 connects";
    if let Err(stop) = s.expect(Kind::Connected, 2, 2, when) {
        return Err(one_at_a_time(&mut s, a, stop));
    }
    drop(b);
    Ok(())
}

/// A second client's line that did not come while client 1 stayed: closes client 1 and,
/// if the line comes then, says that the server serves one client at a time (the evidence).
fn one_at_a_time(s: &mut Session, first: crate::driver::Peer, stop: Stop) -> Stop {
    if s.server.try_exit().is_some() {
        return stop;
    }
    s.close(first, 1);
    let id = s.id(2);
    let later = s.server.wait_line(0, s.response(), |l| {
        super::lines::parse_event(&l.text).is_some_and(|e| e.kind == Kind::Connected && e.id == id)
    });
    let Stop::Fail(mut f) = stop else { return stop };
    if later.is_some() {
        f.actual = format!(
            "client {id}'s connect line came only after client {} left: the server serves one \
             client at a time; it printed: {}",
            s.id(1),
            quote_lines(&s.server.lines())
        );
    }
    Stop::Fail(f.hint(HINT_CONCURRENT))
}

/// Clients of many-clients.
const MANY: u64 = 50;

pub static MANY_CLIENTS: Check = Check::new(
    "multiclient.server.many-clients",
    Level::Required,
    "002 goal: ANY number of clients simultaneously",
    "50 clients at once: 50 connect lines up to count 50, then 50 disconnects down to 0",
    many_clients,
)
.needs(&[CONNECT_LINE, CONCURRENT_ID]);

fn many_clients(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let mut peers = Vec::new();
    for _ in 0..MANY {
        // Staggered by the server's own pace: a listen(10) backlog is not what is judged.
        peers.push(s.connect()?.0);
    }
    let deadline = ctx.timing().within(Duration::from_secs(5));
    // The ID scheme is the server's own: the lowest ID it printed is its first client.
    let tally = |s: &Session, kind: Kind, top: u64| {
        let ev = s.events();
        let ids: BTreeSet<u64> = ev
            .iter()
            .filter(|(_, e)| e.kind == kind)
            .map(|(_, e)| e.id)
            .collect();
        let base = ids.first().copied().unwrap_or(1);
        let in_range = ids.range(base..base + MANY).count();
        let reached = ev
            .iter()
            .any(|(_, e)| e.kind == kind && e.count == Some(top));
        (in_range, reached)
    };
    let all = usize::try_from(MANY).unwrap_or(usize::MAX);
    if !wait_until(deadline, || tally(&s, Kind::Connected, MANY) == (all, true)) {
        let (n, top) = tally(&s, Kind::Connected, MANY);
        if let Some(stop) = dead(&mut s) {
            return Err(stop);
        }
        return Err(fail(
            format!(
                "{MANY} connect lines (one per client, IDs rising by one), the last count {MANY}"
            ),
            format!(
                "{n} distinct connect lines{}; the server printed: {}",
                if top { "" } else { ", no count of 50" },
                quote_lines(&s.server.lines())
            ),
        )
        .hint(HINT_CONCURRENT));
    }
    for (i, p) in (1..).zip(peers) {
        s.close(p, i);
    }
    if !wait_until(deadline, || tally(&s, Kind::Disconnected, 0) == (all, true)) {
        let (n, zero) = tally(&s, Kind::Disconnected, 0);
        if let Some(stop) = dead(&mut s) {
            return Err(stop);
        }
        return Err(fail(
            format!("{MANY} disconnect lines, the last count 0"),
            format!(
                "{n} distinct disconnect lines{}; the server printed: {}",
                if zero { "" } else { ", no count of 0" },
                quote_lines(&s.server.lines())
            ),
        ));
    }
    Ok(())
}

/// The diagnosis of a server that has ended, if it has.
fn dead(s: &mut Session) -> Option<Stop> {
    s.server.try_exit()?;
    Some(s.missing(Kind::Connected, 1, 1, "while clients come and go"))
}

pub static HALF_MESSAGE: Check = Check::new(
    "multiclient.server.half-message",
    Level::Required,
    "002 goal: without blocking any clients",
    "a client that sent half a message does not delay the next connect line",
    half_message,
)
.needs(&[CONNECT_LINE, CONCURRENT_ID]);

fn half_message(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let mut a = s.join(1, "when client 1 connects")?;
    s.note("client 1 sent half a message (no newline)");
    a.send(b"Hello, ser")?;
    // Client 2 connects only once the server has read those bytes: a select() loop that
    // would block on client 1's next recv() is then already blocked, not racing the accept.
    a.wait_consumed(s.response());
    let (b, _) = s.connect()?;
    let when = "while client 1 has sent half a message (no newline), when client 2 connects";
    let r = s.expect(Kind::Connected, 2, 2, when);
    drop(b);
    match r {
        Err(stop) if s.server.try_exit().is_none() => Err(stop.hint(
            "never block on one client's recv(): read only a socket select() reported \
             readable, or read each client in its own thread",
        )),
        other => other,
    }
}

pub static THREAD_MODEL: Check = Check::new(
    "multiclient.server.thread-model",
    Level::Required,
    "002 methods 1 and 2: multi-thread, and one thread with select()",
    "threaded shows more than one thread with clients connected; event-driven exactly one",
    thread_model,
);

fn thread_model(ctx: &mut Ctx) -> CheckResult {
    let Some(model) = ctx.model() else {
        return Err(Stop::Skip(
            "give --model threaded or --model event-driven to check the thread model".into(),
        ));
    };
    let mut s = Session::start(ctx)?;
    let mut samples = Vec::new();
    let mut held = Vec::new();
    // Client 1's line, if the server prints one, tells that it has accepted; the model is
    // judged from /proc alone, so a server whose lines are wrong or missing is judged too.
    held.push(s.connect()?.0);
    let _ = s.learn_scheme("when client 1 connects");
    for _ in 2..=3 {
        held.push(s.connect()?.0);
        samples.push(Sample::of(&s.server));
    }
    match model {
        Model::Threaded => expect_threads(
            &s.server,
            &samples,
            s.response(),
            "while 3 clients are connected",
            "method 1: start a thread per accepted client (threading.Thread / pthread_create)",
        )?,
        Model::EventDriven | Model::Iterative => {
            for (i, p) in (1..).zip(held) {
                s.close(p, i);
                samples.push(Sample::of(&s.server));
            }
            // Sampled again once the server has seen them go.
            let _ = s.server.wait_line(0, s.response(), |l| {
                super::lines::parse_event(&l.text)
                    .is_some_and(|e| e.kind == Kind::Disconnected && e.count == Some(0))
            });
            samples.push(Sample::of(&s.server));
            expect_single_thread(
                &samples,
                "while clients come and go",
                "method 2: one thread watches every socket (and the timer) with select(); no threads, no fork",
            )?;
        }
    }
    Ok(())
}
