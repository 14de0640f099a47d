//! Server checks of the concurrent models (001 parts B and C): a silent client does not
//! hold up another, 20 clients at once, and the thread model itself.

use std::time::Duration;

use crate::check::{Check, CheckResult, Level::*, Model, Stop, fail, harness_error};
use crate::driver::{Ctx, wait_until, watch};
use crate::suites::common::threads::{Sample, expect_single_thread, expect_threads};
use crate::suites::common::{describe_received, quote_lines};

use super::session::Server;
use super::{HANDSHAKE_ID, HINT_CONCURRENT, msg, parse_hello};

const TE: &[Model] = Model::CONCURRENT;

pub static SILENT_CLIENT_NO_BLOCK: Check = Check::new(
    "hello.server.silent-client-no-block",
    Required,
    "001 parts B and C (concurrency)",
    "a connection that says nothing does not delay another client's handshake",
    silent_client_no_block,
)
.models(TE)
.needs(&[HANDSHAKE_ID]);

fn silent_client_no_block(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    let silent = server.connect()?;
    // The real client starts only once the silent one is accepted and the server has done
    // all it can with it (every thread asleep): a server that serialises its clients (one
    // lock around the whole handshake, a join right after create) is then waiting on the
    // silent one, whatever the scheduling. A server that never accepts it is judged by
    // the handshake below all the same.
    // Asleep is judged of the listening process (not a wrapper shell above it).
    let port = server.sub.port();
    let mut pids = server.sub.listener_pids();
    if pids.is_empty() {
        pids.push(server.sub.pid());
    }
    if let Some(local) = silent.peer.local_port() {
        let _ = wait_until(server.timing().response(), || {
            watch::accepted(port, local) && pids.iter().all(|&p| watch::all_asleep(p))
        });
    }
    server.handshake(5).map_err(|e| match e {
        Stop::Fail(mut f) => {
            f.expected = format!("{} while another connection stays silent", f.expected);
            if f.cause.is_none() {
                f = f.hint(HINT_CONCURRENT);
            }
            Stop::Fail(f)
        }
        other => other,
    })?;
    silent.peer.close();
    Ok(())
}

/// Clients of concurrent-load.
pub const LOAD_CLIENTS: usize = 20;

/// Client `i`'s X in concurrent-load.
fn load_x(i: usize) -> i64 {
    1000 + i64::try_from(i).unwrap_or(0) * 10
}

pub static CONCURRENT_LOAD: Check = Check::new(
    "hello.server.concurrent-load",
    Required,
    "001 parts B and C (concurrency)",
    "20 clients at once with pauses before their third message all complete",
    concurrent_load,
)
.models(TE)
.needs(&[HANDSHAKE_ID]);

fn concurrent_load(ctx: &mut Ctx) -> CheckResult {
    let mut server = Server::start(ctx)?;
    let mut conns = Vec::with_capacity(LOAD_CLIENTS);
    for _ in 0..LOAD_CLIENTS {
        conns.push(server.connect()?);
    }
    let response = server.timing().response();
    // Every client is connected before any speaks, and every greeting must be answered
    // before any client sends its third message: a server that serves one client at a time
    // cannot answer the second while the first holds its handshake open, whatever the slack.
    for (i, conn) in conns.iter_mut().enumerate() {
        conn.hello(load_x(i))?;
    }
    for (i, conn) in conns.iter_mut().enumerate() {
        let x = load_x(i);
        let r = conn.peer.recv_reply(msg(x + 1).len(), response);
        if parse_hello(&r.bytes) != Some(x + 1) {
            let stop = fail(
                format!(
                    "all {LOAD_CLIENTS} clients get their reply while every one of them is \
                     still in its handshake"
                ),
                format!(
                    "{} sent `HELLO {x}` and {}",
                    conn.label(),
                    describe_received(&r, "server")
                ),
            )
            .hint(HINT_CONCURRENT);
            return Err(server.explain(stop, Some(conn)));
        }
    }
    // Then each finishes on its own thread, pausing 0..475 ms (fixed, spread) first.
    let results: Vec<Result<(), Stop>> = std::thread::scope(|s| {
        let handles: Vec<_> = conns
            .into_iter()
            .enumerate()
            .map(|(i, mut conn)| {
                s.spawn(move || {
                    conn.peer
                        .pause(Duration::from_millis(((i * 7) % 20) as u64 * 25));
                    conn.z(load_x(i) + 2)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(harness_error("a client thread panicked")))
            })
            .collect()
    });
    for r in results {
        r.map_err(|e| e.hint(HINT_CONCURRENT))?;
    }
    // Every Z must be printed too where stdout comes through at all: the server handled
    // each client to the end.
    if server.stdout_live() {
        for i in 0..LOAD_CLIENTS {
            let z = load_x(i) + 2;
            if server.wait_printed(0, z).is_none() {
                return Err(fail(
                    format!("a stdout line `HELLO {z}` for each of the {LOAD_CLIENTS} clients"),
                    format!("no `HELLO {z}`; {}", quote_lines(&server.sub.lines())),
                ));
            }
        }
    }
    server.alive("20 concurrent clients")
}

pub static THREAD_MODEL: Check = Check::new(
    "hello.server.thread-model",
    Required,
    "001 parts B and C",
    "threaded shows more than one thread while serving; event-driven exactly one throughout",
    thread_model,
)
.models(TE)
.needs(&[HANDSHAKE_ID, "hello.server.concurrent-load"]);

fn thread_model(ctx: &mut Ctx) -> CheckResult {
    let model = ctx.model().unwrap_or(Model::Iterative);
    if model == Model::Iterative {
        return Err(Stop::Skip(
            "no thread model is required of an iterative server".into(),
        ));
    }
    let mut server = Server::start(ctx)?;
    // Connections held open mid-handshake (greeting answered, no Z yet): a threaded server
    // has a thread per client now; an event-driven one still has one thread.
    let mut held = Vec::new();
    let mut samples = Vec::new();
    for i in 0..3 {
        held.push(server.greet(100 + i)?);
        samples.push(Sample::of(&server.sub));
    }
    if model == Model::Threaded {
        return expect_threads(
            &server.sub,
            &samples,
            server.timing().response(),
            "while 3 clients are being served",
            "part B: create a thread per accepted client (pthread_create / threading.Thread)",
        );
    }
    // Sample a few more times, spread over the ends of the held clients.
    for (i, conn) in held.iter_mut().enumerate() {
        conn.z(102 + i64::try_from(i).unwrap_or(0))?;
        samples.push(Sample::of(&server.sub));
    }
    expect_single_thread(
        &samples,
        "while clients are served",
        "part C: one thread serves every client with select()/poll()/epoll on non-blocking \
         sockets; no threads, no fork",
    )
}
