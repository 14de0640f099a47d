//! Checks of the connect and disconnect lines: that they come, with the ID and the count,
//! whatever the case and spacing; the ID scheme (from 1, never reused); the exact wording.

use super::lines::{Fault, Kind, exact, parse_event, wording_faults};
use super::session::Session;
use crate::check::{Check, CheckResult, Level, fail};
use crate::driver::{Ctx, Line};
use crate::suites::common::quote_lines;

/// The check every line-reading check needs: without a readable connect line they cannot
/// be judged, and are reported blocked by it.
pub(super) const CONNECT_LINE: &str = "multiclient.server.connect-line";

pub static CONNECT_LINE_CHECK: Check = Check::new(
    CONNECT_LINE,
    Level::Required,
    "002 requirements: print client ID and count on connect",
    "a client's connect prints its ID and the count 1 (`Client 1 connected. Number of connected clients = 1`), any case and spacing",
    connect_line,
);

fn connect_line(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let _a = s.join(1, "when the first client connects")?;
    Ok(())
}

pub static IDS_START_AT_1: Check = Check::new(
    "multiclient.server.ids-start-at-1",
    Level::Required,
    "002 requirements: a unique ID such as {client 1, client 2, client 3, ...}",
    "the first client is client 1",
    ids_start_at_1,
)
.needs(&[CONNECT_LINE]);

fn ids_start_at_1(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let (_a, _) = s.connect()?;
    let e = s.learn_scheme("when the first client connects")?;
    if e.id == 1 {
        return Ok(());
    }
    Err(fail(
        "the first client's connect line names client 1",
        format!(
            "it names client {} (the server numbers its clients from {})",
            e.id, e.id
        ),
    )
    .hint("start the ID counter at 1 (next_id = 1, incremented after each accept): the text's clients are {client 1, client 2, client 3, ...}"))
}

pub static DISCONNECT_LINE: Check = Check::new(
    "multiclient.server.disconnect-line",
    Level::Required,
    "002 requirements: print client ID and count on disconnect",
    "a clean close prints the client's ID and the count 0 (`Client 1 disconnected. Number of connected clients = 0`)",
    disconnect_line,
)
.needs(&[CONNECT_LINE]);

fn disconnect_line(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let a = s.join(1, "when the first client connects")?;
    s.close(a, 1);
    s.expect(
        Kind::Disconnected,
        1,
        0,
        "when that client closes its connection",
    )
}

pub static RESET_DISCONNECT: Check = Check::new(
    "multiclient.server.reset-disconnect",
    Level::Required,
    "002 requirements: an existing client disconnects",
    "a connection reset (RST) counts as a disconnect",
    reset_disconnect,
)
.needs(&[CONNECT_LINE]);

fn reset_disconnect(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let a = s.join(1, "when the first client connects")?;
    s.reset(a, 1);
    let r = s.expect(
        Kind::Disconnected,
        1,
        0,
        "when that client's connection is reset (RST, as when a client crashes)",
    );
    // The recv() hint fits only a server that lives on and said nothing: one that died
    // was already told so, with its status, by the diagnosis.
    match r {
        Err(stop) if s.server.try_exit().is_none() && !saw_disconnect(&s, 1) => Err(stop.hint(
            "a reset makes recv() fail with ECONNRESET (ConnectionResetError in Python) \
             instead of returning 0: treat it as a disconnect too",
        )),
        other => other,
    }
}

/// Whether any disconnect line for the suite's client `n` was printed.
fn saw_disconnect(s: &Session, n: u64) -> bool {
    let id = s.id(n);
    s.events()
        .iter()
        .any(|(_, e)| e.kind == Kind::Disconnected && e.id == id)
}

pub static IDS_NEVER_REUSED: Check = Check::new(
    "multiclient.server.ids-never-reused",
    Level::Required,
    "002 requirements: unique IDs, not changed or reused after a disconnect",
    "clients 1, 2, 3 connect, 2 leaves: the next is client 4, counts right throughout",
    ids_never_reused,
)
.needs(&[CONNECT_LINE, super::concurrency::CONCURRENT_ID]);

fn ids_never_reused(ctx: &mut Ctx) -> CheckResult {
    let mut s = Session::start(ctx)?;
    let a = s.join(1, "when client 1 connects")?;
    let b = s.join(2, "when client 2 connects")?;
    let c = s.join(3, "when client 3 connects")?;
    s.close(b, 2);
    s.expect(Kind::Disconnected, 2, 2, "when client 2 leaves")?;
    let when = format!(
        "when a fourth client connects after client {} left (IDs are never reused)",
        s.id(2)
    );
    let d = s.join(3, &when).map_err(|e| {
        e.hint("keep a counter that only ever grows for IDs; do not reuse a free slot's number")
    })?;
    s.close(a, 1);
    s.expect(Kind::Disconnected, 1, 2, "when client 1 leaves")?;
    let e = s.join(3, "when a fifth client connects")?;
    drop((c, d, e));
    Ok(())
}

pub static EXACT_WORDING: Check = Check::new(
    "multiclient.server.exact-wording",
    Level::Recommended,
    "002 requirements: the quoted lines",
    "connect and disconnect lines have the text's exact spacing and punctuation",
    exact_wording,
)
.needs(&[CONNECT_LINE]);

fn exact_wording(ctx: &mut Ctx) -> CheckResult {
    // One client, so that neither a count bug nor a one-at-a-time server shows here: this
    // check judges the form of the lines only, whatever ID the server gives.
    let mut s = Session::start(ctx)?;
    let (a, _) = s.connect()?;
    let first = s.learn_scheme("when the first client connects")?;
    s.close(a, 1);
    let of_client = |kind: Kind| {
        move |l: &Line| parse_event(&l.text).is_some_and(|e| e.kind == kind && e.id == first.id)
    };
    let response = s.response();
    let connect = s.server.wait_line(0, response, of_client(Kind::Connected));
    let disconnect = s
        .server
        .wait_line(0, response, of_client(Kind::Disconnected));
    let (Some((_, c)), Some((_, d))) = (connect, disconnect) else {
        return Err(fail(
            format!("a connect and a disconnect line for client {}", first.id),
            format!("the server printed: {}", quote_lines(&s.server.lines())),
        ));
    };
    for line in [c, d] {
        let Some(e) = parse_event(&line.text) else {
            continue;
        };
        let faults = wording_faults(&line.text, &e);
        if faults.is_empty() {
            continue;
        }
        let want = exact(
            e.kind,
            e.id,
            e.count.unwrap_or(u64::from(e.kind == Kind::Connected)),
        );
        let said: Vec<String> = faults.iter().map(Fault::to_string).collect();
        return Err(fail(
            format!("the line exactly as the text writes it: `{want}`"),
            format!("`{}`", line.trimmed()),
        )
        .hint(format!("{} (copy the text's line)", said.join("; "))));
    }
    Ok(())
}
