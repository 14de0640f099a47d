//! `messages-server <port>` and `messages-client <host> <port> <user> <read|create>`
//! (seed 004), to the letter.
//!
//! The seed: "The port number should be between 1,024 and 64,000 (inclusive). If it is not,
//! then the server should print an appropriate error message and exit", "If the
//! MessageRequest record is not valid, or if the required number of bytes for the complete
//! request cannot be read from the socket within a maximum of one second ... the server prints
//! an appropriate error message, closes the socket obtained from accept(), and goes back to
//! the start of the loop", "up to 255, on a first-in, first-out basis ... The sent messages
//! should be removed from the server's storage", and (3.5) "you must detect gaps of one second
//! or more and abort operation should this occur ... a socket timeout can be set on each socket
//! ... immediately after creating the socket (i.e. after a socket() or accept() call)".
//!
//! # Timing
//! Both programs set 1-second read and write timeouts right after accept/connect, so a gap
//! of more than [`GAP`] anywhere in a record ends the connection, while a record sent in
//! pieces less than a second apart succeeds (DESIGN.md's reading). The server also bounds a
//! whole request by [`RECORD_DEADLINE`], so a peer trickling a byte every 0.9 s cannot hold
//! it for long.
//!
//! # Server
//! Iterative: one connection at a time. Logs (the client's address on accept, what was
//! stored or sent, every error) go to stdout, flushed. A request is validated with
//! [`codec::messages`] in full, including "no more bytes than declared" (bytes already
//! waiting after the record), before anything is stored. Messages are kept per receiver in
//! FIFO order; a read sends up to 255 with MoreMsgs set when more remain, and removes them
//! only once the response was written. Storage is bounded by [`MAX_STORED_BYTES`]: a create
//! beyond it is refused with an error message.
//!
//! # Client
//! Checks every argument before connecting (exactly 4; host resolved with getaddrinfo through
//! std's `ToSocketAddrs`; port a number in 1024..=64000; user name 1..=255 bytes; type `read`
//! or `create`). A create prompts for the receiver (1..=254 bytes) and the message
//! (1..=65534 bytes) before connecting, asking again after each refused answer; the end of
//! stdin is an error. A read prints every sender and text, `No messages` for an empty
//! response, and a note when MoreMsgs is 1. Every error prints a message, closes the socket
//! and exits 1 (argument errors exit 2).

use std::collections::{HashMap, VecDeque};
use std::ffi::OsString;
use std::io::{BufRead, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

use codec::messages::{
    ITEM_HEADER_LEN, Item, ItemHeader, REQUEST_HEADER_LEN, RESPONSE_HEADER_LEN, Request,
    RequestHeader, RequestKind, Response, ResponseHeader,
};

use crate::common::{
    self, ACCEPT_BACKOFF, FAIL_EXIT, USAGE_EXIT, accept_error_is_transient, err_line, out_line,
    out_prompt,
};

/// Longest gap allowed while a record is read or written.
pub const GAP: Duration = Duration::from_secs(1);
/// Longest time a whole request may take to arrive.
pub const RECORD_DEADLINE: Duration = Duration::from_secs(10);
/// Lowest port the programs accept.
pub const MIN_PORT: u16 = 1024;
/// Highest port the programs accept.
pub const MAX_PORT: u16 = 64000;
/// Most message bytes (senders and texts) the server stores at once.
pub const MAX_STORED_BYTES: usize = 256 * 1024 * 1024;
/// Longest receiver name the client accepts ("less than 255 bytes").
pub const MAX_RECEIVER: usize = 254;
/// Longest message the client accepts ("less than 65,535 bytes").
pub const MAX_TEXT: usize = 65_534;

/// How reading part of a record failed.
enum ReadFail {
    /// A gap over [`GAP`] (or the record deadline passed).
    Stall,
    /// The peer closed after `got` of the bytes.
    Closed { got: usize },
    /// A reset or another socket error.
    Io(std::io::Error),
}

impl ReadFail {
    fn describe(&self, what: &str, want: usize) -> String {
        match self {
            ReadFail::Stall => format!(
                "gap of more than {} s while reading the {what}",
                GAP.as_secs()
            ),
            ReadFail::Closed { got } => {
                format!("the connection closed after {got} of the {want} bytes of the {what}")
            }
            ReadFail::Io(e) => format!("reading the {what} failed: {e}"),
        }
    }
}

/// Fill `buf` from `stream`; each read may wait at most [`GAP`] (the socket timeout) and
/// none past `deadline`.
fn read_full(stream: &mut TcpStream, buf: &mut [u8], deadline: Instant) -> Result<(), ReadFail> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadFail::Stall);
        }
        stream
            .set_read_timeout(Some(left.min(GAP)))
            .map_err(ReadFail::Io)?;
        match stream.read(buf.get_mut(got..).unwrap_or_default()) {
            Ok(0) => return Err(ReadFail::Closed { got }),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(ReadFail::Stall);
            }
            Err(e) => return Err(ReadFail::Io(e)),
        }
    }
    Ok(())
}

fn set_gap_timeouts(stream: &TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(GAP))?;
    stream.set_write_timeout(Some(GAP))
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

struct Stored {
    sender: Vec<u8>,
    text: Vec<u8>,
}

/// The messages waiting for each receiver, oldest first.
#[derive(Default)]
struct Store {
    queues: HashMap<Vec<u8>, VecDeque<Stored>>,
    bytes: usize,
}

/// Entry point of `messages-server`.
pub fn server_main(args: &[OsString]) -> i32 {
    let port = match args {
        [port] => common::parse_port(port, MIN_PORT, MAX_PORT),
        _ => Err(format!(
            "expected exactly 1 argument (the port), got {}",
            args.len()
        )),
    };
    let port = match port {
        Ok(p) => p,
        Err(msg) => {
            err_line(&format!("messages-server: {msg}"));
            err_line("usage: messages-server <port>   (port between 1024 and 64000)");
            return USAGE_EXIT;
        }
    };
    let listener = match common::listen(port) {
        Ok(l) => l,
        Err(msg) => {
            err_line(&format!("messages-server: {msg}"));
            return FAIL_EXIT;
        }
    };
    out_line(&format!("messages-server: listening on port {port}"));
    serve(&listener)
}

fn serve(listener: &TcpListener) -> ! {
    let mut store = Store::default();
    loop {
        let (mut stream, peer) = match listener.accept() {
            Ok(pair) => pair,
            Err(e) if accept_error_is_transient(&e) => continue,
            Err(e) => {
                out_line(&format!("messages-server: error: accept failed: {e}"));
                std::thread::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        let accepted = Instant::now();
        out_line(&format!("Connection from {}:{}", peer.ip(), peer.port()));
        match handle(&mut stream, accepted, &mut store) {
            Ok(info) => out_line(&info),
            Err(msg) => out_line(&format!(
                "error: request from {peer}: {msg}; connection closed"
            )),
        }
        // The socket from accept() is closed here, on every path.
    }
}

fn handle(stream: &mut TcpStream, accepted: Instant, store: &mut Store) -> Result<String, String> {
    set_gap_timeouts(stream).map_err(|e| format!("cannot set timeouts: {e}"))?;
    let deadline = accepted + RECORD_DEADLINE;
    let mut record = vec![0u8; REQUEST_HEADER_LEN];
    read_full(stream, &mut record, deadline)
        .map_err(|f| f.describe("fixed header", REQUEST_HEADER_LEN))?;
    let (_, header) =
        RequestHeader::decode(&record).map_err(|e| format!("invalid fixed header: {e}"))?;
    // At most 255 + 255 + 65535 bytes: the header's fields bound it.
    let body_len = header.body_len();
    record.resize(REQUEST_HEADER_LEN + body_len, 0);
    read_full(
        stream,
        record.get_mut(REQUEST_HEADER_LEN..).unwrap_or_default(),
        deadline,
    )
    .map_err(|f| f.describe("request body", body_len))?;
    if let Some(extra) = bytes_waiting(stream) {
        return Err(format!(
            "{extra} byte(s) more than the {} the record declares",
            record.len()
        ));
    }
    let (rest, request) = Request::decode(&record).map_err(|e| format!("invalid request: {e}"))?;
    if !rest.is_empty() {
        return Err("bytes beyond the declared lengths".into());
    }
    let user = request.user();
    match request.kind() {
        RequestKind::Create => {
            let (receiver, text) = (request.receiver(), request.message());
            let size = user.len() + text.len();
            if store.bytes.saturating_add(size) > MAX_STORED_BYTES {
                return Err(format!(
                    "storage full ({MAX_STORED_BYTES} bytes); message from {} to {} not stored",
                    show(user),
                    show(receiver)
                ));
            }
            store.bytes += size;
            store
                .queues
                .entry(receiver.to_vec())
                .or_default()
                .push_back(Stored {
                    sender: user.to_vec(),
                    text: text.to_vec(),
                });
            Ok(format!(
                "Stored a message from {} to {} ({} bytes)",
                show(user),
                show(receiver),
                text.len()
            ))
        }
        RequestKind::Read => {
            let queue = store.queues.get(user);
            let waiting = queue.map_or(0, VecDeque::len);
            let count = waiting.min(codec::messages::MAX_ITEMS);
            let items: Vec<Item<'_>> = queue
                .into_iter()
                .flatten()
                .take(count)
                .map(|m| Item {
                    sender: &m.sender,
                    text: &m.text,
                })
                .collect();
            let more = waiting > count;
            let mut out = Vec::new();
            Response::encode_items(&items, more, &mut out)
                .map_err(|e| format!("cannot encode the response: {e}"))?;
            stream
                .write_all(&out)
                .map_err(|e| format!("sending the response failed: {e}; nothing removed"))?;
            // Sent: now the messages leave the store.
            if let Some(queue) = store.queues.get_mut(user) {
                for m in queue.drain(..count) {
                    store.bytes -= m.sender.len() + m.text.len();
                }
                if queue.is_empty() {
                    store.queues.remove(user);
                }
            }
            Ok(format!(
                "Sent {count} message(s) to {}{}",
                show(user),
                if more {
                    " (more remain: MoreMsgs = 1)"
                } else {
                    ""
                }
            ))
        }
    }
}

/// How many bytes are already waiting after the record, if any ("reads ... more than the
/// expected number of bytes" is an error). Only what has arrived counts: the check does not
/// wait.
fn bytes_waiting(stream: &mut TcpStream) -> Option<usize> {
    let mut probe = [0u8; 64];
    stream.set_nonblocking(true).ok()?;
    let extra = match stream.peek(&mut probe) {
        Ok(n) if n > 0 => Some(n),
        _ => None,
    };
    let _ = stream.set_nonblocking(false);
    extra
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

const CLIENT_USAGE: &str = "usage: messages-client <host> <port> <user> <read|create>";

struct ClientArgs {
    addrs: Vec<SocketAddr>,
    user: Vec<u8>,
    create: bool,
}

fn client_args(args: &[OsString]) -> Result<ClientArgs, String> {
    let [host, port, user, kind] = args else {
        return Err(format!("expected exactly 4 arguments, got {}", args.len()));
    };
    let port = common::parse_port(port, MIN_PORT, MAX_PORT)?;
    let user = user.as_bytes();
    if user.is_empty() || user.len() > codec::messages::MAX_NAME_LEN {
        return Err(format!(
            "the user name must be 1 to 255 bytes long, it is {} bytes",
            user.len()
        ));
    }
    let create = match kind.to_str() {
        Some("read") => false,
        Some("create") => true,
        _ => {
            return Err(format!(
                "the request type {kind:?} is neither `read` nor `create`"
            ));
        }
    };
    let host = common::arg_str(host, "host")?;
    // getaddrinfo, through std.
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve the host `{host}`: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("the host `{host}` has no address"));
    }
    Ok(ClientArgs {
        addrs,
        user: user.to_vec(),
        create,
    })
}

/// Entry point of `messages-client`.
pub fn client_main(args: &[OsString]) -> i32 {
    let parsed = match client_args(args) {
        Ok(p) => p,
        Err(msg) => {
            err_line(&format!("messages-client: error: {msg}"));
            err_line(CLIENT_USAGE);
            return USAGE_EXIT;
        }
    };
    match client(&parsed) {
        Ok(()) => 0,
        Err(msg) => {
            err_line(&format!("messages-client: error: {msg}"));
            FAIL_EXIT
        }
    }
}

/// Read one line of stdin, without its line ending, keeping at most `max + 1` bytes of it
/// (enough to tell it is too long). `None` at the end of stdin.
fn read_answer(input: &mut impl BufRead, max: usize) -> Result<Option<Vec<u8>>, String> {
    let mut line = Vec::new();
    let mut total = 0usize;
    loop {
        let chunk = input
            .fill_buf()
            .map_err(|e| format!("reading stdin failed: {e}"))?;
        if chunk.is_empty() {
            return Ok((total > 0).then_some(line));
        }
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (chunk.get(..i).unwrap_or_default(), i + 1),
            None => (chunk, chunk.len()),
        };
        let found_end = done > part.len();
        let keep = part.len().min((max + 2).saturating_sub(line.len()));
        line.extend_from_slice(part.get(..keep).unwrap_or_default());
        total += done;
        input.consume(done);
        if found_end {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(Some(line));
        }
    }
}

/// Ask until the answer has 1..=max bytes.
fn prompt(
    input: &mut impl BufRead,
    question: &str,
    what: &str,
    max: usize,
) -> Result<Vec<u8>, String> {
    loop {
        out_prompt(question);
        let Some(answer) = read_answer(input, max)? else {
            out_line("");
            return Err(format!("stdin ended before a {what} was given"));
        };
        if answer.is_empty() {
            out_line(&format!("The {what} must not be empty; please try again."));
        } else if answer.len() > max {
            out_line(&format!(
                "The {what} must be less than {} bytes; please try again.",
                max + 1
            ));
        } else {
            return Ok(answer);
        }
    }
}

fn client(args: &ClientArgs) -> Result<(), String> {
    let user = args.user.as_slice();
    let (receiver, text) = if args.create {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let receiver = prompt(&mut input, "Receiver name: ", "receiver name", MAX_RECEIVER)?;
        let text = prompt(&mut input, "Message: ", "message", MAX_TEXT)?;
        (receiver, text)
    } else {
        (Vec::new(), Vec::new())
    };
    let request = if args.create {
        Request::create(user, &receiver, &text)
    } else {
        Request::read(user)
    }
    .map_err(|e| format!("cannot build the request: {e}"))?;
    let mut record = Vec::new();
    request.encode(&mut record);

    let mut stream = connect(&args.addrs)?;
    set_gap_timeouts(&stream).map_err(|e| format!("cannot set timeouts: {e}"))?;
    stream
        .write_all(&record)
        .map_err(|e| format!("sending the request failed: {e}"))?;
    if args.create {
        out_line(&format!(
            "Sent a message from {} to {} ({} bytes).",
            show(user),
            show(&receiver),
            text.len()
        ));
        return Ok(());
    }
    out_line(&format!("Sent a read request for {}.", show(user)));
    read_response(&mut stream, user)
}

fn connect(addrs: &[SocketAddr]) -> Result<TcpStream, String> {
    let mut last = String::from("no address to connect to");
    for addr in addrs {
        match TcpStream::connect_timeout(addr, Duration::from_secs(5)) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// Read, check and print a MessageResponse, each part with the 1-second gap rule.
fn read_response(stream: &mut TcpStream, user: &[u8]) -> Result<(), String> {
    // Gaps are what the seed bounds; the whole response (up to ~16 MiB) gets a generous cap.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut header = [0u8; RESPONSE_HEADER_LEN];
    read_full(stream, &mut header, deadline)
        .map_err(|f| f.describe("response header", RESPONSE_HEADER_LEN))?;
    let (_, header) = ResponseHeader::decode(&header)
        .map_err(|e| format!("invalid response from the server: {e}"))?;
    if header.num_items == 0 {
        out_line(&format!("No messages for {}.", show(user)));
    }
    let mut body = Vec::new();
    for index in 1..=header.num_items {
        let mut item_header = [0u8; ITEM_HEADER_LEN];
        read_full(stream, &mut item_header, deadline)
            .map_err(|f| f.describe(&format!("header of message {index}"), ITEM_HEADER_LEN))?;
        let (_, item) = ItemHeader::decode(&item_header)
            .map_err(|e| format!("invalid message {index} from the server: {e}"))?;
        body.resize(item.body_len(), 0);
        read_full(stream, &mut body, deadline)
            .map_err(|f| f.describe(&format!("message {index}"), item.body_len()))?;
        let (sender, text) = body.split_at(usize::from(item.sender_len).min(body.len()));
        out_line(&format!("Message from {}: {}", show(sender), show(text)));
    }
    if header.more {
        out_line(&format!(
            "The server has more messages for {}: send another read request to get them.",
            show(user)
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(input: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut reader = std::io::BufReader::with_capacity(4, input);
        let mut all = Vec::new();
        loop {
            let a = read_answer(&mut reader, max).unwrap();
            let end = a.is_none();
            all.push(a);
            if end {
                return all;
            }
        }
    }

    #[test]
    fn answers_lose_their_line_endings() {
        assert_eq!(
            answers(b"bob\r\n\nalice", 10),
            vec![
                Some(b"bob".to_vec()),
                Some(vec![]),
                Some(b"alice".to_vec()),
                None
            ]
        );
    }

    #[test]
    fn long_answers_are_cut_but_still_too_long() {
        let got = answers(&[b'x'; 100], 10);
        let first = got[0].as_ref().unwrap();
        assert!(first.len() > 10 && first.len() < 100);
    }
}
