//! multiclient (assignment 002): servers that serve many clients at once, give each an ID
//! that is never reused, log every connect and disconnect with the count of connected
//! clients, and print that count every minute. Check IDs and levels: docs/contracts.md
//! section 3; readings: DESIGN.md "multiclient (002)".
//!
//! How lines are read:
//! - An event line is `Client X connected. Number of connected clients = N` (or
//!   `disconnected`) with any spacing, anywhere in the line (a timestamp before it is fine).
//!   Only `exact-wording` (recommended) asks for the text's exact spacing.
//! - A tick (the periodic count) is any other line that speaks of `clients` or a `number` and
//!   ends its last number with the count: `Number of connected clients = 2` is the model, but
//!   the text does not fix the wording of the tick, so `Clients connected: 2` passes too.
//! - The base EasyTCP traffic is unspecified; the checks send none except `half-message`.

use std::time::{Duration, Instant};

use crate::check::{Check, CheckResult, Level, Model, Role, Stop, fail};
use crate::driver::{Ctx, Line, Peer, Stopwatch, Subject, wait_until};
use crate::suites::Suite;
use crate::suites::common::quote_lines;
use crate::timing::PERIOD_TOLERANCE;

/// The multiclient suite.
pub const SUITE: Suite = Suite {
    name: "multiclient",
    seed: "002",
    checks: CHECKS,
    models: &[Model::Threaded, Model::EventDriven],
    server_program: "multiclient-server",
    client_program: "",
    server_args: &["{port}"],
    client_args: &[],
    period_flag: true,
};

const fn check(
    id: &'static str,
    level: Level,
    spec: &'static str,
    summary: &'static str,
    run: fn(&mut Ctx) -> CheckResult,
) -> Check {
    let c = Check::new(id, level, spec, summary, run);
    assert!(matches!(c.role, Role::Server), "role of the ID");
    c
}

use Level::{Recommended as C, Required as R};

/// Every multiclient check, in report order.
pub static CHECKS: &[Check] = &[
    check(
        "multiclient.server.connect-line",
        R,
        "002 requirements: print client ID and count on connect",
        "a client's connect prints `Client 1 connected. Number of connected clients = 1`",
        connect_line,
    ),
    check(
        "multiclient.server.disconnect-line",
        R,
        "002 requirements: print client ID and count on disconnect",
        "a clean close prints `Client 1 disconnected. Number of connected clients = 0`",
        disconnect_line,
    ),
    check(
        "multiclient.server.reset-disconnect",
        R,
        "002 requirements: an existing client disconnects",
        "a connection reset (RST) counts as a disconnect",
        reset_disconnect,
    ),
    check(
        "multiclient.server.ids-never-reused",
        R,
        "002 requirements: unique IDs, not changed or reused after a disconnect",
        "clients 1, 2, 3 connect, 2 leaves: the next is client 4, counts right throughout",
        ids_never_reused,
    ),
    check(
        "multiclient.server.exact-wording",
        C,
        "002 requirements: the quoted lines",
        "connect and disconnect lines have the text's exact spacing and punctuation",
        exact_wording,
    ),
    check(
        "multiclient.server.concurrent",
        R,
        "002 goal: ANY number of clients simultaneously",
        "`Client 2 connected` appears while client 1 is still connected",
        concurrent,
    ),
    check(
        "multiclient.server.many-clients",
        R,
        "002 goal: ANY number of clients simultaneously",
        "50 clients at once: 50 connect lines up to count 50, then 50 disconnects down to 0",
        many_clients,
    ),
    check(
        "multiclient.server.half-message",
        R,
        "002 goal: without blocking any clients",
        "a client that sent half a message does not delay the next connect line",
        half_message,
    ),
    check(
        "multiclient.server.periodic-count",
        R,
        "002 requirements: the number of clients every 1 minute (+/-1 sec), regardless of events",
        "the count is printed every period +- 1 s from listening, and is right, while clients come and go",
        periodic_count,
    ),
    check(
        "multiclient.server.restart-after-kill",
        R,
        "002 other requirements: restart immediately after terminating",
        "killed with a client connected, restarted on the same port at once, it serves",
        restart_after_kill,
    ),
    check(
        "multiclient.server.thread-model",
        R,
        "002 methods 1 and 2: multi-thread, and one thread with select()",
        "threaded shows more than one thread with clients connected; event-driven exactly one",
        thread_model,
    ),
];

// ---------------------------------------------------------------------------------------
// Reading the server's lines.

/// Connected or disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Connected,
    Disconnected,
}

impl Event {
    fn word(self) -> &'static str {
        match self {
            Event::Connected => "connected",
            Event::Disconnected => "disconnected",
        }
    }
}

/// A parsed connect or disconnect line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EventLine {
    event: Event,
    id: u64,
    count: u64,
}

/// The text's line, exactly.
fn exact(event: Event, id: u64, count: u64) -> String {
    format!(
        "Client {id} {}. Number of connected clients = {count}",
        event.word()
    )
}

/// Splits a leading run of ASCII digits off `s` (None: no digit, or too many for a u64).
fn leading_number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// An event line with any spacing, starting anywhere in the line.
fn parse_event(text: &str) -> Option<EventLine> {
    let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed.match_indices("Client").find_map(|(at, _)| {
        let (id, rest) = leading_number(&squeezed[at + "Client".len()..])?;
        let (event, rest) = if let Some(r) = rest.strip_prefix("connected.") {
            (Event::Connected, r)
        } else {
            (Event::Disconnected, rest.strip_prefix("disconnected.")?)
        };
        let (count, rest) = leading_number(rest.strip_prefix("Numberofconnectedclients=")?)?;
        matches!(rest, "" | ".").then_some(EventLine { event, id, count })
    })
}

/// A tick's count: a line that is no event line, speaks of clients or a number, and has a
/// last number.
fn parse_tick(text: &str) -> Option<u64> {
    if parse_event(text).is_some() {
        return None;
    }
    let lower = text.to_ascii_lowercase();
    if !lower.contains("clients") && !lower.contains("number") {
        return None;
    }
    let digits: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .collect();
    digits.last()?.parse().ok()
}

/// The event lines printed so far, with when they arrived.
fn events(server: &Subject) -> Vec<(Instant, EventLine)> {
    server
        .lines()
        .iter()
        .filter_map(|l| parse_event(&l.text).map(|e| (l.at, e)))
        .collect()
}

const HINT_FLUSH: &str = "print each line as it happens and flush it: print(..., flush=True) \
     in Python, fflush(stdout) after printf in C (stdout is a pipe here, not a terminal)";
const HINT_CONCURRENT: &str = "accept() must not wait for a client to finish: give each \
     client its own thread (method 1), or watch every socket with select() (method 2)";

/// Waits for the event line `want` (any spacing); on a timeout, fails saying what came.
fn expect_event(ctx: &Ctx, server: &Subject, want: EventLine, when: &str) -> CheckResult {
    let found = server.wait_line(0, ctx.timing().response(), |l| {
        parse_event(&l.text) == Some(want)
    });
    if found.is_some() {
        return Ok(());
    }
    let same_id = events(server)
        .into_iter()
        .map(|(_, e)| e)
        .find(|e| e.id == want.id && e.event == want.event);
    let hint = match same_id {
        Some(e) if e.count != want.count => format!(
            "the count is wrong: it must be the number of clients connected after this {} \
             (update it before printing, and count every open connection)",
            if want.event == Event::Connected {
                "connect"
            } else {
                "disconnect"
            }
        ),
        _ if server.lines().is_empty() => HINT_FLUSH.to_owned(),
        _ => "the line must read `Client X connected. Number of connected clients = N` \
              (or `disconnected`), with the client's ID and the current count"
            .to_owned(),
    };
    Err(fail(
        format!(
            "{when}, a line `{}`",
            exact(want.event, want.id, want.count)
        ),
        format!(
            "none within {:.1} s; the server printed: {}",
            ctx.timing().response().as_secs_f64(),
            quote_lines(&server.lines())
        ),
    )
    .hint(hint))
}

fn connected(id: u64, count: u64) -> EventLine {
    EventLine {
        event: Event::Connected,
        id,
        count,
    }
}

fn disconnected(id: u64, count: u64) -> EventLine {
    EventLine {
        event: Event::Disconnected,
        id,
        count,
    }
}

/// Connects a client and waits for its connect line.
fn join(ctx: &Ctx, server: &mut Subject, id: u64, count: u64, when: &str) -> Result<Peer, Stop> {
    let peer = server.connect(ctx.timing().response())?;
    expect_event(ctx, server, connected(id, count), when)?;
    Ok(peer)
}

// ---------------------------------------------------------------------------------------
// Checks.

fn connect_line(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let _a = join(ctx, &mut server, 1, 1, "when the first client connects")?;
    Ok(())
}

fn disconnect_line(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let a = join(ctx, &mut server, 1, 1, "when the first client connects")?;
    a.close();
    expect_event(
        ctx,
        &server,
        disconnected(1, 0),
        "when that client closes its connection",
    )
}

fn reset_disconnect(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let a = join(ctx, &mut server, 1, 1, "when the first client connects")?;
    a.reset();
    expect_event(
        ctx,
        &server,
        disconnected(1, 0),
        "when that client's connection is reset (RST, as when a client crashes)",
    )
    .map_err(|e| {
        e.hint(
            "a reset makes recv() fail with ECONNRESET (ConnectionResetError in Python) \
             instead of returning 0: treat it as a disconnect too",
        )
    })
}

fn ids_never_reused(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let a = join(ctx, &mut server, 1, 1, "when client 1 connects")?;
    let b = join(ctx, &mut server, 2, 2, "when client 2 connects")?;
    let c = join(ctx, &mut server, 3, 3, "when client 3 connects")?;
    b.close();
    expect_event(ctx, &server, disconnected(2, 2), "when client 2 leaves")?;
    let d = join(
        ctx,
        &mut server,
        4,
        3,
        "when a fourth client connects after client 2 left (IDs are never reused)",
    )
    .map_err(|e| {
        e.hint("keep a counter that only ever grows for IDs; do not reuse a free slot's number")
    })?;
    a.close();
    expect_event(ctx, &server, disconnected(1, 2), "when client 1 leaves")?;
    let e = join(ctx, &mut server, 5, 3, "when a fifth client connects")?;
    drop((c, d, e));
    Ok(())
}

fn exact_wording(ctx: &mut Ctx) -> CheckResult {
    // One client, so that neither a count bug nor a one-at-a-time server shows here: this
    // check judges the form of the lines only.
    let mut server = ctx.server()?;
    let a = server.connect(ctx.timing().response())?;
    let of_client_1 = |ev: Event| {
        move |l: &Line| parse_event(&l.text).is_some_and(|e| e.event == ev && e.id == 1)
    };
    let connect = server.wait_line(0, ctx.timing().response(), of_client_1(Event::Connected));
    a.close();
    let disconnect = server.wait_line(0, ctx.timing().response(), of_client_1(Event::Disconnected));
    let (Some((_, c)), Some((_, d))) = (connect, disconnect) else {
        return Err(fail(
            "a connect and a disconnect line for client 1",
            format!("the server printed: {}", quote_lines(&server.lines())),
        ));
    };
    for line in [c, d] {
        let Some(e) = parse_event(&line.text) else {
            continue;
        };
        let want = exact(e.event, e.id, e.count);
        if line.trimmed() != want {
            return Err(fail(
                format!("the line exactly as the text writes it: `{want}`"),
                format!("`{}`", line.trimmed()),
            )
            .hint("copy the text's format: one space around `=`, a period after `connected`"));
        }
    }
    Ok(())
}

fn concurrent(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let _a = join(ctx, &mut server, 1, 1, "when client 1 connects")?;
    let _b = join(
        ctx,
        &mut server,
        2,
        2,
        "while client 1 is still connected, when client 2 connects",
    )
    .map_err(|e| e.hint(HINT_CONCURRENT))?;
    Ok(())
}

/// Clients of many-clients.
const MANY: u64 = 50;

fn many_clients(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let mut peers = Vec::new();
    for _ in 0..MANY {
        peers.push(server.connect(ctx.timing().response())?);
    }
    let deadline = ctx.timing().within(Duration::from_secs(5));
    let all_in = |server: &Subject| {
        let ev = events(server);
        let ids = ev
            .iter()
            .filter(|(_, e)| e.event == Event::Connected && (1..=MANY).contains(&e.id))
            .map(|(_, e)| e.id)
            .collect::<std::collections::BTreeSet<_>>();
        let top = ev
            .iter()
            .any(|(_, e)| e.event == Event::Connected && e.count == MANY);
        (ids.len(), top)
    };
    if !wait_until(deadline, || {
        all_in(&server) == (usize::try_from(MANY).unwrap_or(0), true)
    }) {
        let (n, top) = all_in(&server);
        return Err(fail(
            format!("{MANY} connect lines (clients 1 to {MANY}), the last count {MANY}"),
            format!(
                "{n} distinct connect lines{}; the server printed: {}",
                if top { "" } else { ", no count of 50" },
                quote_lines(&server.lines())
            ),
        )
        .hint(HINT_CONCURRENT));
    }
    for p in peers {
        p.close();
    }
    let all_out = |server: &Subject| {
        let ev = events(server);
        let ids = ev
            .iter()
            .filter(|(_, e)| e.event == Event::Disconnected)
            .map(|(_, e)| e.id)
            .collect::<std::collections::BTreeSet<_>>();
        let zero = ev
            .iter()
            .any(|(_, e)| e.event == Event::Disconnected && e.count == 0);
        (ids.len(), zero)
    };
    if !wait_until(deadline, || {
        all_out(&server) == (usize::try_from(MANY).unwrap_or(0), true)
    }) {
        let (n, zero) = all_out(&server);
        return Err(fail(
            format!("{MANY} disconnect lines, the last count 0"),
            format!(
                "{n} distinct disconnect lines{}; the server printed: {}",
                if zero { "" } else { ", no count of 0" },
                quote_lines(&server.lines())
            ),
        ));
    }
    Ok(())
}

fn half_message(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let mut a = join(ctx, &mut server, 1, 1, "when client 1 connects")?;
    a.send(b"Hello, ser")?;
    // Client 2 connects only once the server has read those bytes: a select() loop that
    // would block on client 1's next recv() is then already blocked, not racing the accept.
    a.wait_consumed(ctx.timing().response());
    let _b = join(
        ctx,
        &mut server,
        2,
        2,
        "while client 1 has sent half a message (no newline), when client 2 connects",
    )
    .map_err(|e| {
        e.hint(
            "never block on one client's recv(): read only a socket select() reported \
             readable, or read each client in its own thread",
        )
    })?;
    Ok(())
}

/// When a tick is due: `k` periods after the server started (its timer may start before it
/// listens) up to `k` periods after it was seen listening, each widened by the tolerance
/// and a small margin for a loaded machine.
fn tick_window(ctx: &Ctx, started: Instant, listening: Instant, k: u32) -> (Instant, Instant) {
    let t = ctx.timing();
    let margin = t.tick_margin();
    let early = (started + t.period * k)
        .checked_sub(PERIOD_TOLERANCE + margin)
        .unwrap_or(started);
    (early, listening + t.period * k + PERIOD_TOLERANCE + margin)
}

fn periodic_count(ctx: &mut Ctx) -> CheckResult {
    let mut server = ctx.server()?;
    let clock = Stopwatch::start();
    let started = server.started();
    let p = ctx.timing().period;
    let at = |f: f64| p.mul_f64(f);
    // Events all through the first period and into the second: a wait that every event
    // restarts (select() with a whole period as its timeout) then never fires on time.
    // Three clients are connected at the first tick (a one-at-a-time server counts one),
    // one at the second. `truth`: how many the suite has connected after each step, and when.
    let mut truth = vec![(clock.instant(), 0u64)];
    let mut step = |count: u64| truth.push((Instant::now(), count));
    let a = server.connect(ctx.timing().response())?;
    step(1);
    clock.pause_until(at(0.2));
    let b = server.connect(ctx.timing().response())?;
    step(2);
    clock.pause_until(at(0.45));
    a.close();
    step(1);
    clock.pause_until(at(0.7));
    let c = server.connect(ctx.timing().response())?;
    step(2);
    clock.pause_until(at(0.95));
    let d = server.connect(ctx.timing().response())?;
    step(3);
    clock.pause_until(at(1.3));
    b.close();
    step(2);
    clock.pause_until(at(1.6));
    c.close();
    step(1);
    // Watch until the second tick's window has closed; every line is timestamped on arrival.
    let (_, last) = tick_window(ctx, started, clock.instant(), 2);
    clock.pause_until(last.saturating_duration_since(clock.instant()));
    drop(d);

    let lines = server.lines();
    let ticks: Vec<(usize, &Line, u64)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.at <= last)
        .filter_map(|(i, l)| parse_tick(&l.text).map(|n| (i, l, n)))
        .collect();
    let since = |l: &Line| {
        l.at.saturating_duration_since(clock.instant())
            .as_secs_f64()
    };
    let seen = || {
        if ticks.is_empty() {
            "no count line at all".to_owned()
        } else {
            ticks
                .iter()
                .map(|(_, l, _)| format!("`{}` at {:.2} s", l.trimmed(), since(l)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let hint_timer = "print the count from a timer that keeps its own schedule (next += period): \
         a thread that sleeps until the next due time, or select() with the time left until \
         it as its timeout, never a whole period after the last event";
    // The k-th count line must fall in the k-th window. Windows are taken in order, not by
    // position: with a short --period and a slow start they overlap, and a third line that
    // is early only because the timer started before the server listened is no extra line.
    for (k, (_, line, n)) in (1u32..).zip(&ticks) {
        let (early, late) = tick_window(ctx, started, clock.instant(), k);
        let due = p.as_secs_f64() * f64::from(k);
        let expected = format!(
            "count line {k} about {due:.0} s after the server started listening (+- {:.0} s)",
            PERIOD_TOLERANCE.as_secs_f64()
        );
        if line.at < early {
            return Err(fail(
                expected,
                format!("it came at {:.2} s; count lines: {}", since(line), seen()),
            )
            .hint("print the count once per period, from the timer only"));
        }
        if line.at > late {
            return Err(fail(
                expected,
                format!("it came at {:.2} s; count lines: {}", since(line), seen()),
            )
            .hint(hint_timer));
        }
        if k <= 2 {
            check_tick_count(&truth, line, *n, since(line))?;
        }
    }
    if ticks.len() < 2 {
        return Err(fail(
            format!(
                "a count line every {:.0} s (+- {:.0} s): two in the first {:.0} s",
                p.as_secs_f64(),
                PERIOD_TOLERANCE.as_secs_f64(),
                2.0 * p.as_secs_f64() + PERIOD_TOLERANCE.as_secs_f64()
            ),
            format!("count lines: {}", seen()),
        )
        .hint(if lines.is_empty() {
            HINT_FLUSH
        } else {
            hint_timer
        }));
    }
    Ok(())
}

/// How long a server may take to notice a connect or a close before its count shows it.
const NOTICE: Duration = Duration::from_millis(500);

/// A tick's count must be the number of clients connected when it was printed: what the
/// suite's own steps make it at that moment, or shortly before (the server may not have
/// noticed the last step yet).
fn check_tick_count(truth: &[(Instant, u64)], tick: &Line, n: u64, secs: f64) -> CheckResult {
    let from = tick.at.checked_sub(NOTICE).unwrap_or(tick.at);
    let at = |t: Instant| {
        truth
            .iter()
            .rev()
            .find(|(when, _)| *when <= t)
            .map_or(0, |s| s.1)
    };
    let mut valid: Vec<u64> = truth
        .iter()
        .filter(|(when, _)| *when > from && *when <= tick.at)
        .map(|s| s.1)
        .collect();
    valid.push(at(from));
    if valid.contains(&n) {
        return Ok(());
    }
    Err(fail(
        format!(
            "the count line at {secs:.2} s gives the number of clients connected then ({})",
            at(tick.at)
        ),
        format!("`{}`", tick.trimmed()),
    )
    .hint("the timer must read the count that connects and disconnects keep up to date (shared, under a lock)"))
}

fn restart_after_kill(ctx: &mut Ctx) -> CheckResult {
    let port = ctx.port()?;
    let mut first = ctx.server_on(port)?;
    let mut a = join(ctx, &mut first, 1, 1, "when a client connects")?;
    // Killed with a client connected: the server's side closes first, so its port is left in
    // TIME_WAIT, as after a real grader run; only SO_REUSEADDR lets it bind again at once.
    first.kill();
    let _ = a.recv_until_closed(ctx.timing().response());
    a.close();
    drop(first);
    let mut second = ctx.server_on(port).map_err(|e| {
        e.hint(
            "set SO_REUSEADDR on the listening socket before bind(): \
             setsockopt(s, SOL_SOCKET, SO_REUSEADDR, ...) / s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)",
        )
    })?;
    let _b = join(
        ctx,
        &mut second,
        1,
        1,
        "after the restart, when a client connects",
    )?;
    Ok(())
}

fn thread_model(ctx: &mut Ctx) -> CheckResult {
    let Some(model) = ctx.model() else {
        return Err(Stop::Skip(
            "give --model threaded or --model event-driven to check the thread model".into(),
        ));
    };
    let mut server = ctx.server()?;
    let mut samples = Vec::new();
    let mut held = Vec::new();
    // Only client 1's line is awaited: a one-at-a-time server fails `concurrent`, not this.
    held.push(join(ctx, &mut server, 1, 1, "when client 1 connects")?);
    for _ in 2..=3 {
        held.push(server.connect(ctx.timing().response())?);
        samples.push((server.threads().unwrap_or(0), server.processes().len()));
    }
    match model {
        Model::Threaded => {
            let mut seen = samples.iter().map(|s| s.0).max().unwrap_or(0);
            if !wait_until(ctx.timing().response(), || {
                seen = seen.max(server.threads().unwrap_or(0));
                seen > 1
            }) {
                return Err(fail(
                    "more than one thread in the server process while 3 clients are connected",
                    format!("{seen} thread(s) (samples as (threads, processes): {samples:?})"),
                )
                .hint("method 1: start a thread per accepted client (threading.Thread / pthread_create)"));
            }
        }
        Model::EventDriven | Model::Iterative => {
            for p in held {
                p.close();
                samples.push((server.threads().unwrap_or(0), server.processes().len()));
            }
            // Sampled again once the server has seen them go.
            let _ = server.wait_line(0, ctx.timing().response(), |l| {
                parse_event(&l.text).is_some_and(|e| e.event == Event::Disconnected && e.count == 0)
            });
            samples.push((server.threads().unwrap_or(0), server.processes().len()));
            if let Some(bad) = samples.iter().find(|s| s.0 != 1 || s.1 != 1) {
                return Err(fail(
                    "exactly one process with one thread throughout, while clients come and go",
                    format!("{} thread(s) in {} process(es) (samples: {samples:?})", bad.0, bad.1),
                )
                .hint("method 2: one thread watches every socket (and the timer) with select(); no threads, no fork"));
            }
        }
    }
    Ok(())
}
