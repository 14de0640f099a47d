//! A client subject run to its end against the suite's fake server, and what the fake
//! server saw it do ([`Seen`]): whether it connected at all, and what the suite's scenario
//! recorded of the exchange.

use std::time::Duration;

use crate::check::{Stop, fail};
use crate::driver::{Ctx, Finished, Launch, Peer};

/// What the fake server saw of one client run: `connected`, and the scenario's record `saw`
/// (left at its default when the client never connected).
#[derive(Debug, Default, Clone)]
pub struct Seen<T> {
    /// The client connected within the accept deadline.
    pub connected: bool,
    /// What the scenario recorded.
    pub saw: T,
}

/// Runs the client (`launch`: its placeholders, stdin, timeout) against a fake server that
/// accepts one connection within `accept_within` and plays `scenario` on it.
pub fn run_client<T: Default + Send>(
    ctx: &mut Ctx,
    launch: Launch,
    accept_within: Duration,
    scenario: impl FnOnce(&mut Peer, &mut T) + Send,
) -> Result<(Finished, Seen<T>), Stop> {
    ctx.run_with_fake_server(launch, move |fake| {
        let mut seen = Seen::<T>::default();
        if let Some(mut peer) = fake.accept(accept_within) {
            seen.connected = true;
            scenario(&mut peer, &mut seen.saw);
        }
        seen
    })
}

/// The failure of a client that never connected: `usage` is its command line's shape.
pub fn no_connection(fin: &Finished, usage: &str) -> Stop {
    fail(
        "the client connects to the host and port of its first two arguments",
        format!(
            "no connection within the deadline; the client {}",
            fin.describe_end()
        ),
    )
    .hint(format!("usage is: {usage}"))
}
