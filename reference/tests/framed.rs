//! framed-server and framed-client (seed 003) through the real binary.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use support::*;

fn server() -> Server {
    Server::start("framed-server", |port| vec![port.to_string()])
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let header = read_n(s, 4);
    let len = u32::from_be_bytes(header.try_into().unwrap());
    read_n(s, usize::try_from(len).unwrap())
}

fn text(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b'a' + u8::try_from(i % 26).unwrap())
        .collect()
}

#[test]
fn echoes_without_the_first_ten_characters() {
    let srv = server();
    let mut s = srv.connect();
    send(&mut s, &frame(b"Four score and seven years ago"));
    assert_eq!(read_frame(&mut s), b" and seven years ago");
    for len in [32, 1245, 650_000] {
        let payload = text(len);
        send(&mut s, &frame(&payload));
        assert_eq!(read_frame(&mut s), &payload[10..], "{len} bytes");
    }
    for short in [&b""[..], b"x", b"0123456789"] {
        send(&mut s, &frame(short));
        assert_eq!(read_frame(&mut s), b"");
    }
    let multibyte = "ééééééééééçà";
    send(&mut s, &frame(multibyte.as_bytes()));
    assert_eq!(read_frame(&mut s), "çà".as_bytes());
}

#[test]
fn pipelined_coalesced_and_piecewise_frames() {
    let srv = server();
    let mut s = srv.connect();
    let payload = text(1500);
    // Three back to back before any read.
    for _ in 0..3 {
        send(&mut s, &frame(&payload));
    }
    for _ in 0..3 {
        assert_eq!(read_frame(&mut s), &payload[10..]);
    }
    // Two in one write.
    let mut both = frame(b"0123456789first");
    both.extend(frame(b"0123456789second"));
    send(&mut s, &both);
    assert_eq!(read_frame(&mut s), b"first");
    assert_eq!(read_frame(&mut s), b"second");
    // In pieces with pauses (the pauses are the scenario).
    let bytes = frame(b"0123456789pieces");
    for piece in bytes.chunks(3) {
        send(&mut s, piece);
        s.flush().unwrap();
        std::thread::sleep(Duration::from_millis(30));
    }
    assert_eq!(read_frame(&mut s), b"pieces");
}

#[test]
fn next_client_is_served_after_close_reset_and_bad_frames() {
    let srv = server();
    let mut a = srv.connect();
    send(&mut a, &frame(b"0123456789a"));
    assert_eq!(read_frame(&mut a), b"a");
    drop(a);
    let mut b = srv.connect();
    send(&mut b, &frame(b"0123456789b"));
    assert_eq!(read_frame(&mut b), b"b");
    reset(b);
    // A declared length over the limit ends that connection: nothing of it is allocated.
    let mut c = srv.connect();
    send(&mut c, &[0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(read_to_close(&mut c), b"");
    srv.wait_stderr("4294967295");
    // Invalid UTF-8: answered (first 10 bytes dropped), and the server serves on.
    let mut d = srv.connect();
    send(&mut d, &frame(b"\xff\xfe0123456789"));
    assert_eq!(read_frame(&mut d), b"89");
    drop(d);
    let mut e = srv.connect();
    send(&mut e, &frame(b"0123456789e"));
    assert_eq!(read_frame(&mut e), b"e");
}

#[test]
fn a_second_client_waits_in_the_backlog() {
    let srv = server();
    let mut first = srv.connect();
    send(&mut first, &frame(b"0123456789one"));
    assert_eq!(read_frame(&mut first), b"one");
    let mut second = srv.connect(); // connects (backlog), not yet served
    send(&mut second, &frame(b"0123456789two"));
    drop(first);
    assert_eq!(read_frame(&mut second), b"two");
}

// ---- client ---------------------------------------------------------------------------

fn client_against(
    stdin: &[u8],
    script: impl FnOnce(TcpStream) + Send + 'static,
) -> assert_cmd::assert::Assert {
    let fake = FakeServer::new();
    let port = fake.port;
    let server = std::thread::spawn(move || script(fake.accept()));
    let assert = program("framed-client")
        .args(["127.0.0.1", &port.to_string()])
        .write_stdin(stdin.to_vec())
        .assert();
    server.join().expect("the fake server's script failed");
    assert
}

#[test]
fn client_sends_a_frame_per_line_and_prints_replies() {
    client_against(b"0123456789hello\n\nabc\r\n", |mut s| {
        assert_eq!(read_frame(&mut s), b"0123456789hello");
        send(&mut s, &frame(b"hello"));
        assert_eq!(read_frame(&mut s), b"");
        send(&mut s, &frame(b""));
        assert_eq!(read_frame(&mut s), b"abc");
        // The reply in pieces with pauses.
        for piece in frame(b"split reply").chunks(2) {
            send(&mut s, piece);
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(read_to_close(&mut s), b"");
    })
    .success()
    .stdout("hello\n\nsplit reply\n");
}

#[test]
fn client_prints_a_large_reply_whole() {
    let big = text(650_000);
    let expected = {
        let mut e = big.clone();
        e.push(b'\n');
        e
    };
    client_against(b"x\n", move |mut s| {
        read_frame(&mut s);
        send(&mut s, &frame(&big));
        read_to_close(&mut s);
    })
    .success()
    .stdout(expected);
}

#[test]
fn client_reports_a_server_close_or_reset() {
    client_against(b"one\ntwo\n", |mut s| {
        read_frame(&mut s);
        drop(s);
    })
    .code(1)
    .stdout(predicates::str::starts_with("ERROR"));
    client_against(b"one\ntwo\n", |mut s| {
        read_frame(&mut s);
        reset(s);
    })
    .code(1)
    .stdout(predicates::str::starts_with("ERROR"));
}

#[test]
fn client_bad_arguments_are_refused() {
    for args in [
        &[][..],
        &["127.0.0.1"],
        &["127.0.0.1", "port"],
        &["a", "1", "2"],
    ] {
        program("framed-client").args(args).assert().code(2);
    }
    program("framed-server").args(["x"]).assert().code(2);
}
