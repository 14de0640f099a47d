//! `multiclient-server <port> [--model threaded|event-driven] [--period SECS]` (seed 002).
//!
//! The seed: "Give each client a unique ID such as {client 1, client 2, client 3, ...} when
//! they connect. This ID should not change even if a client disconnects", "Whenever a new
//! client connects, or an existing client disconnects, print out ... "Client X connected.
//! Number of connected clients = N"", and "the server MUST print out the number of clients
//! every 1 minute ... regardless of whether there are other event or not".
//!
//! - IDs start at 1 and are never reused. A clean close and a reset are both disconnects.
//! - The base protocol (EasyTCP) is unspecified: whatever a client sends is read and discarded.
//! - The count line `Number of connected clients = N` is printed every period (60 s by
//!   default) counted from the moment the server listens. The timer is deadline-driven:
//!   `next_tick += period`, never a wait restarted by events, so connects and disconnects
//!   cannot delay it.
//! - `threaded`: a thread per client (small stacks) plus a timer thread; the lines are printed
//!   under the lock that guards the count, so the counts printed are always in order.
//!   `event-driven`: one thread, mio, poll timeout = time to the next tick.
//! - Clients are never timed out: an idle client stays connected as long as it likes.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{ErrorKind, Read};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::common::{
    self, ACCEPT_BACKOFF, FAIL_EXIT, USAGE_EXIT, accept_error_is_transient, err_line, out_line,
};

const USAGE: &str =
    "usage: multiclient-server <port> [--model threaded|event-driven] [--period SECS]";

/// The period of the count line when `--period` is not given (the seed's "every 1 minute").
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(60);

/// Stack of a client thread: it only reads into a 4 KiB buffer and prints a line.
const CLIENT_STACK: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Model {
    Threaded,
    EventDriven,
}

/// Entry point of `multiclient-server`.
pub fn server_main(args: &[OsString]) -> i32 {
    let parsed = (|| {
        let (pos, flags) = common::split_flags(args, &["--model", "--period"])?;
        let [port] = pos.as_slice() else {
            return Err("expected exactly one port argument".to_owned());
        };
        let port = common::parse_port(port, 1, u16::MAX)?;
        let model = match common::flag(&flags, "--model").map(|m| m.to_str()) {
            None | Some(Some("threaded")) => Model::Threaded,
            Some(Some("event-driven")) => Model::EventDriven,
            Some(other) => {
                return Err(format!(
                    "unknown model {other:?}: expected threaded or event-driven"
                ));
            }
        };
        let period = match common::flag(&flags, "--period") {
            Some(p) => common::parse_secs(p, "period")?,
            None => DEFAULT_PERIOD,
        };
        Ok((port, model, period))
    })();
    let (port, model, period) = match parsed {
        Ok(p) => p,
        Err(msg) => {
            err_line(&format!("multiclient-server: {msg}"));
            err_line(USAGE);
            return USAGE_EXIT;
        }
    };
    common::raise_nofile_limit();
    let listener = match common::listen(port) {
        Ok(l) => l,
        Err(msg) => {
            err_line(&format!("multiclient-server: {msg}"));
            return FAIL_EXIT;
        }
    };
    let first_tick = Instant::now() + period;
    let result = match model {
        Model::Threaded => threaded(listener, first_tick, period),
        Model::EventDriven => event_driven(listener, first_tick, period),
    };
    match result {
        Ok(never) => match never {},
        Err(msg) => {
            err_line(&format!("multiclient-server: {msg}"));
            FAIL_EXIT
        }
    }
}

/// Uninhabited: the servers run until killed.
enum Never {}

fn connected_line(id: u64, n: usize) -> String {
    format!("Client {id} connected. Number of connected clients = {n}")
}

fn disconnected_line(id: u64, n: usize) -> String {
    format!("Client {id} disconnected. Number of connected clients = {n}")
}

fn count_line(n: usize) -> String {
    format!("Number of connected clients = {n}")
}

/// Advance a deadline-driven tick past `now`. Ticks missed while the process was stopped are
/// skipped rather than printed in a burst.
fn next_tick_after(mut tick: Instant, period: Duration, now: Instant) -> Instant {
    tick += period;
    if tick <= now {
        let behind = now.duration_since(tick).as_nanos() / period.as_nanos().max(1);
        let skip = u32::try_from(behind + 1).unwrap_or(u32::MAX);
        tick += period.saturating_mul(skip);
    }
    tick
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    connected: usize,
}

fn threaded(listener: TcpListener, first_tick: Instant, period: Duration) -> Result<Never, String> {
    let registry = Arc::new(Mutex::new(Registry {
        next_id: 1,
        connected: 0,
    }));
    let timer_registry = Arc::clone(&registry);
    std::thread::Builder::new()
        .name("count-timer".into())
        .stack_size(CLIENT_STACK)
        .spawn(move || {
            let mut tick = first_tick;
            loop {
                let now = Instant::now();
                if tick > now {
                    std::thread::sleep(tick - now);
                    continue; // sleep may return early; re-check against the deadline
                }
                let reg = timer_registry
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                out_line(&count_line(reg.connected));
                drop(reg);
                tick = next_tick_after(tick, period, Instant::now());
            }
        })
        .map_err(|e| format!("cannot start the timer thread: {e}"))?;

    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if accept_error_is_transient(&e) => continue,
            Err(e) => {
                err_line(&format!("multiclient-server: accept failed: {e}"));
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        let id = {
            let mut reg = registry.lock().unwrap_or_else(PoisonError::into_inner);
            let id = reg.next_id;
            reg.next_id += 1;
            reg.connected += 1;
            out_line(&connected_line(id, reg.connected));
            id
        };
        let client_registry = Arc::clone(&registry);
        let spawned = std::thread::Builder::new()
            .stack_size(CLIENT_STACK)
            .spawn(move || {
                drain(stream);
                let mut reg = client_registry
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                reg.connected -= 1;
                out_line(&disconnected_line(id, reg.connected));
            });
        if let Err(e) = spawned {
            // The stream was moved into the closure and dropped with it: the client is gone.
            err_line(&format!(
                "multiclient-server: cannot start a thread for client {id}: {e}"
            ));
            let mut reg = registry.lock().unwrap_or_else(PoisonError::into_inner);
            reg.connected -= 1;
            out_line(&disconnected_line(id, reg.connected));
        }
    }
}

/// Read and discard until the client closes or resets the connection.
fn drain(mut stream: TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

fn event_driven(
    listener: TcpListener,
    first_tick: Instant,
    period: Duration,
) -> Result<Never, String> {
    use mio::net::TcpListener as MioListener;
    use mio::{Events, Interest, Poll, Token};

    const LISTENER: Token = Token(usize::MAX);
    /// Reads of one client per wake-up before others get their turn.
    const READ_BUDGET: usize = 16;
    /// Connections accepted per wake-up before the clock is looked at again.
    const ACCEPT_BUDGET: usize = 256;

    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot make the listener non-blocking: {e}"))?;
    let mut listener = MioListener::from_std(listener);
    let mut poll = Poll::new().map_err(|e| format!("cannot create the poller: {e}"))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| format!("cannot register the listener: {e}"))?;

    let mut events = Events::with_capacity(1024);
    let mut clients: HashMap<usize, (mio::net::TcpStream, u64)> = HashMap::new();
    let mut next_id: u64 = 1;
    let mut tick = first_tick;
    let mut scratch = vec![0u8; 64 * 1024];
    // Clients whose read budget ran out with data possibly left: revisited without waiting,
    // because edge-triggered readiness will not report them again.
    let mut again: Vec<usize> = Vec::new();
    let mut accept_retry: Option<Instant> = None;
    // The accept budget ran out with connections possibly still queued.
    let mut accept_more = false;

    loop {
        let now = Instant::now();
        if now >= tick {
            out_line(&count_line(clients.len()));
            tick = next_tick_after(tick, period, now);
        }
        let mut timeout = tick.saturating_duration_since(now);
        if !again.is_empty() || accept_more {
            timeout = Duration::ZERO;
        }
        if let Some(at) = accept_retry {
            timeout = timeout.min(at.saturating_duration_since(now));
        }
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll failed: {e}"));
        }
        let mut ready: Vec<usize> = std::mem::take(&mut again);
        let mut accept_now =
            std::mem::take(&mut accept_more) || accept_retry.is_some_and(|at| Instant::now() >= at);
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_now = true;
            } else {
                ready.push(event.token().0);
            }
        }
        if accept_now {
            accept_retry = None;
            // Bounded, so that a storm of connects cannot hold back the count line.
            let mut budget = ACCEPT_BUDGET;
            loop {
                if budget == 0 {
                    accept_more = true;
                    break;
                }
                budget -= 1;
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let key = usize::try_from(next_id).unwrap_or(usize::MAX - 1);
                        if let Err(e) =
                            poll.registry()
                                .register(&mut stream, Token(key), Interest::READABLE)
                        {
                            err_line(&format!("multiclient-server: cannot register: {e}"));
                            continue;
                        }
                        let id = next_id;
                        next_id += 1;
                        clients.insert(key, (stream, id));
                        out_line(&connected_line(id, clients.len()));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if accept_error_is_transient(&e) => {}
                    Err(e) => {
                        err_line(&format!("multiclient-server: accept failed: {e}"));
                        accept_retry = Some(Instant::now() + ACCEPT_BACKOFF);
                        break;
                    }
                }
            }
        }
        ready.sort_unstable();
        ready.dedup();
        for key in ready {
            let Some((stream, _)) = clients.get_mut(&key) else {
                continue;
            };
            let mut gone = false;
            let mut budget = READ_BUDGET;
            loop {
                if budget == 0 {
                    again.push(key);
                    break;
                }
                budget -= 1;
                match stream.read(&mut scratch) {
                    Ok(0) => {
                        gone = true;
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        gone = true;
                        break;
                    }
                }
            }
            if gone && let Some((mut stream, id)) = clients.remove(&key) {
                let _ = poll.registry().deregister(&mut stream);
                out_line(&disconnected_line(id, clients.len()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_advances_by_one_period_when_on_time() {
        let start = Instant::now();
        let p = Duration::from_secs(2);
        assert_eq!(next_tick_after(start, p, start), start + p);
    }

    #[test]
    fn tick_skips_missed_periods_instead_of_bursting() {
        let start = Instant::now();
        let p = Duration::from_secs(2);
        let late = start + Duration::from_secs(7);
        let next = next_tick_after(start, p, late);
        assert!(next > late && next <= late + p, "{next:?}");
        assert_eq!((next - start).as_secs() % 2, 0);
    }

    #[test]
    fn lines_have_the_seed_wording() {
        assert_eq!(
            connected_line(1, 1),
            "Client 1 connected. Number of connected clients = 1"
        );
        assert_eq!(
            disconnected_line(3, 0),
            "Client 3 disconnected. Number of connected clients = 0"
        );
        assert_eq!(count_line(5), "Number of connected clients = 5");
    }
}
