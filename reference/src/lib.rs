//! Reference programs for the four socket-programming assignments (texts in
//! `../shared/seeds/`), one module per program family:
//!
//! | program | module | seed |
//! | --- | --- | --- |
//! | `tcpserver`, `tcpclient` | [`hello`] | 001 |
//! | `multiclient-server` | [`multiclient`] | 002 |
//! | `framed-server`, `framed-client` | [`framed`] | 003 |
//! | `messages-server`, `messages-client` | [`messages`] | 004 |
//!
//! The library knows nothing of the conformance suite: the one binary reaches it as
//! `conformance ref <program> [args]` through [`run`] (docs/contracts.md section 2).
//!
//! Common rules, kept by every program: servers bind `0.0.0.0` with `SO_REUSEADDR` (std's and
//! mio's `TcpListener::bind` set it on Unix; a test checks it), every line printed is flushed at
//! once, nothing read from a peer or the command line can make a program panic, hang without
//! a deadline, or allocate without a bound.

#![deny(missing_docs)]

use std::ffi::OsString;

mod common;
pub mod framed;
pub mod hello;
pub mod messages;
pub mod multiclient;

/// Program names, as `conformance ref` takes them.
pub const PROGRAMS: &[&str] = &[
    "tcpserver",
    "tcpclient",
    "framed-server",
    "framed-client",
    "messages-server",
    "messages-client",
    "multiclient-server",
];

/// Run one program with its arguments (argv without the program name); returns the exit
/// status. Prints usage errors itself. Never panics on any input.
pub fn run(program: &str, args: &[OsString]) -> i32 {
    match program {
        "tcpserver" => hello::server_main(args),
        "tcpclient" => hello::client_main(args),
        "framed-server" => framed::server_main(args),
        "framed-client" => framed::client_main(args),
        "messages-server" => messages::server_main(args),
        "messages-client" => messages::client_main(args),
        "multiclient-server" => multiclient::server_main(args),
        _ => {
            common::err_line(&format!(
                "unknown program `{program}`; the programs are: {}",
                PROGRAMS.join(", ")
            ));
            common::USAGE_EXIT
        }
    }
}
