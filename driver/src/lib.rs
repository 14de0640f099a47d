//! The conformance suite's low-level driver: how a subject's command is parsed and
//! started ([`command`]), contained so nothing it starts outlives it ([`contain`]), watched
//! through /proc ([`procfs`], [`watch`]), given a port of its own ([`ports`]) and read
//! through capped buffers ([`output`]). It knows nothing of checks, suites or verdicts;
//! `reference`'s tests and the conformance self-test use it too, so process handling is
//! written once. See README.md for its guarantees.

pub mod command;
pub mod contain;
pub mod output;
pub mod ports;
pub mod procfs;
pub mod watch;

pub use ports::PortBusy;

/// How often the driver polls /proc (or a lock) while waiting for a state that has no
/// event of its own (listening, exited, threads, a port's lock).
pub const POLL: std::time::Duration = std::time::Duration::from_millis(10);
