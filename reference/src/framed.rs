//! `framed-server <port>` and `framed-client <host> <port>` (seed 003), under DESIGN.md's
//! process contracts (the seed's interface is a Python class).
//!
//! The seed: "Messages should be packed using the format `[payload length][payload]`, where
//! `[payload length]` is a 4-byte unsigned integer", "Upon receiving a message, the server
//! unpacks it and removes the first 10 characters from the payload ... This is truncated
//! message is then sent back to the client", "When a client disconnects, the server should
//! begin listening for a new connection request", and "The client may send a message that
//! exceeds the buffer length, so you must buffer incoming messages until you have received
//! all of a given message".
//!
//! # Server
//! Serves one client at a time until killed; a second client waits in the backlog. Bytes are
//! reassembled with [`codec::framed::FrameBuffer`], so frames may arrive in any pieces or
//! several in one read. Each reply is the payload without its first 10 characters
//! ([`codec::framed::expected_reply`]); a payload that is not UTF-8 has its first 10 *bytes*
//! dropped instead (the seed's Python server would fail to decode it; we serve on and say so
//! on stderr). A frame may hold at most [`MAX_FRAME`] bytes: a larger declared length ends
//! that connection with a message on stderr, before any of its payload is awaited, and
//! nothing of that size is allocated (the buffer grows only with bytes received). A client
//! silent for [`IDLE_TIMEOUT`], or not reading its replies for as long, is dropped, so a
//! vanished peer cannot hold the server forever.
//!
//! # Client
//! Sends each stdin line (without its `\n` or `\r\n`) as one frame, waits for the reply and
//! prints its payload as a line. When the server closes or resets the connection, or sends no
//! reply within [`IDLE_TIMEOUT`], it prints a line starting `ERROR` and exits 1. At the end
//! of stdin it closes the connection and exits 0.

use std::ffi::OsString;
use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use codec::DecodeError;
use codec::framed::{DROPPED_CHARS, Frame, FrameBuffer, expected_reply};

use crate::common::{
    self, ACCEPT_BACKOFF, FAIL_EXIT, USAGE_EXIT, accept_error_is_transient, err_line,
    out_bytes_line, out_line,
};

/// Largest payload accepted, in either direction (16 MiB).
pub const MAX_FRAME: u32 = 16 * 1024 * 1024;
/// Longest silence of a peer in the middle of an exchange.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes asked for by one read.
const CHUNK: usize = 64 * 1024;

/// The reply to `payload`: without its first 10 characters, or its first 10 bytes when it is
/// not UTF-8.
pub fn reply_to(payload: &[u8]) -> &[u8] {
    expected_reply(payload).unwrap_or_else(|| {
        payload
            .get(DROPPED_CHARS.min(payload.len())..)
            .unwrap_or_default()
    })
}

/// Entry point of `framed-server`.
pub fn server_main(args: &[OsString]) -> i32 {
    let port = match args {
        [port] => common::parse_port(port, 1, u16::MAX),
        _ => Err(format!("expected 1 argument, got {}", args.len())),
    };
    let port = match port {
        Ok(p) => p,
        Err(msg) => {
            err_line(&format!("framed-server: {msg}"));
            err_line("usage: framed-server <port>");
            return USAGE_EXIT;
        }
    };
    let listener = match common::listen(port) {
        Ok(l) => l,
        Err(msg) => {
            err_line(&format!("framed-server: {msg}"));
            return FAIL_EXIT;
        }
    };
    serve(&listener)
}

fn serve(listener: &TcpListener) -> ! {
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if accept_error_is_transient(&e) => continue,
            Err(e) => {
                err_line(&format!("framed-server: accept failed: {e}"));
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        match serve_connection(stream) {
            Ok(()) => err_line(&format!("framed-server: {peer} closed the connection")),
            Err(msg) => err_line(&format!("framed-server: {peer}: {msg}; connection closed")),
        }
    }
}

/// Answer every frame of one client until it leaves. The stream is closed on return.
fn serve_connection(mut stream: TcpStream) -> Result<(), String> {
    stream
        .set_read_timeout(Some(IDLE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IDLE_TIMEOUT)))
        .map_err(|e| format!("cannot set timeouts: {e}"))?;
    let mut frames = FrameBuffer::new(MAX_FRAME);
    let mut chunk = vec![0u8; CHUNK];
    let mut out = Vec::new();
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) if frames.buffered() == 0 => return Ok(()),
            Ok(0) => {
                return Err(format!(
                    "the client left in the middle of a frame ({} bytes unanswered)",
                    frames.buffered()
                ));
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("no data for {} s", IDLE_TIMEOUT.as_secs()));
            }
            Err(e) => return Err(format!("reading failed: {e}")),
        };
        frames.push(chunk.get(..n).unwrap_or_default());
        loop {
            let payload = match frames.next_frame() {
                Ok(Some(payload)) => payload,
                Ok(None) => break,
                Err(e) => return Err(too_large(e)),
            };
            if expected_reply(payload).is_none() {
                err_line(&format!(
                    "framed-server: a payload of {} bytes is not UTF-8; dropping its first {DROPPED_CHARS} bytes",
                    payload.len()
                ));
            }
            out.clear();
            Frame {
                payload: reply_to(payload),
            }
            .encode(&mut out);
            stream
                .write_all(&out)
                .map_err(|e| format!("sending a reply failed: {e}"))?;
        }
    }
}

fn too_large(e: DecodeError) -> String {
    match e {
        DecodeError::TooLarge { len, max } => {
            format!("a frame declares {len} bytes, more than the limit of {max}")
        }
        other => other.to_string(),
    }
}

/// Entry point of `framed-client`.
pub fn client_main(args: &[OsString]) -> i32 {
    let parsed = match args {
        [host, port] => common::arg_str(host, "host")
            .and_then(|h| Ok((h.to_owned(), common::parse_port(port, 1, u16::MAX)?))),
        _ => Err(format!("expected 2 arguments, got {}", args.len())),
    };
    let (host, port) = match parsed {
        Ok(p) => p,
        Err(msg) => {
            err_line(&format!("framed-client: {msg}"));
            err_line("usage: framed-client <host> <port>");
            return USAGE_EXIT;
        }
    };
    match client(&host, port) {
        Ok(()) => 0,
        Err(msg) => {
            out_line(&format!("ERROR: {msg}"));
            FAIL_EXIT
        }
    }
}

fn client(host: &str, port: u16) -> Result<(), String> {
    let mut stream = crate::hello::connect(host, port, Duration::from_secs(5))?;
    stream
        .set_read_timeout(Some(IDLE_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IDLE_TIMEOUT)))
        .map_err(|e| format!("cannot set timeouts: {e}"))?;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    let mut frames = FrameBuffer::new(MAX_FRAME);
    let mut chunk = vec![0u8; CHUNK];
    let mut out = Vec::new();
    loop {
        line.clear();
        // One byte more than the limit (plus `\r\n`) tells an over-long line from one at it.
        let limit = u64::from(MAX_FRAME) + 3;
        let n = (&mut input)
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("reading stdin failed: {e}"))?;
        if n == 0 {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        if line.last() == Some(&b'\n') {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        if line.len() > MAX_FRAME as usize {
            return Err(format!("a line is longer than {MAX_FRAME} bytes"));
        }
        out.clear();
        Frame { payload: &line }.encode(&mut out);
        stream
            .write_all(&out)
            .map_err(|e| format!("sending failed: {e}"))?;
        loop {
            match frames.next_frame() {
                Ok(Some(payload)) => {
                    out_bytes_line(payload);
                    break;
                }
                Ok(None) => {}
                Err(e) => return Err(too_large(e)),
            }
            match stream.read(&mut chunk) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(n) => frames.push(chunk.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(format!("no reply within {} s", IDLE_TIMEOUT.as_secs()));
                }
                Err(e) => return Err(format!("receiving failed: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_drops_ten_characters() {
        assert_eq!(
            reply_to(b"Four score and seven years ago"),
            b" and seven years ago"
        );
        assert_eq!(reply_to(b"short"), b"");
        assert_eq!(reply_to("ééééééééééxy".as_bytes()), b"xy");
    }

    #[test]
    fn invalid_utf8_drops_ten_bytes() {
        assert_eq!(reply_to(b"\xff123456789abc"), b"abc");
        assert_eq!(reply_to(b"\xff"), b"");
    }
}
