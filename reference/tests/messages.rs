//! messages-server and messages-client (seed 004) through the real binary.

mod support;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

fn server() -> Server {
    let srv = Server::start("messages-server", |port| vec![port.to_string()]);
    srv.wait_line(|l| l.contains("listening"));
    srv
}

fn create(user: &[u8], receiver: &[u8], text: &[u8]) -> Vec<u8> {
    let mut r = vec![
        0xAE,
        0x73,
        2,
        u8::try_from(user.len()).unwrap(),
        u8::try_from(receiver.len()).unwrap(),
    ];
    r.extend_from_slice(&u16::try_from(text.len()).unwrap().to_be_bytes());
    r.extend_from_slice(user);
    r.extend_from_slice(receiver);
    r.extend_from_slice(text);
    r
}

fn read_req(user: &[u8]) -> Vec<u8> {
    let mut r = vec![0xAE, 0x73, 1, u8::try_from(user.len()).unwrap(), 0, 0, 0];
    r.extend_from_slice(user);
    r
}

/// Store a message through a raw connection; the server closes without a response.
fn store(srv: &Server, user: &[u8], receiver: &[u8], text: &[u8]) {
    let mut s = srv.connect();
    send(&mut s, &create(user, receiver, text));
    assert_eq!(read_to_close(&mut s), b"");
    srv.wait_line(|l| l.starts_with("Stored"));
}

/// (sender, text) of one message.
type Msg = (Vec<u8>, Vec<u8>);

/// A parsed MessageResponse: (more, messages).
fn read_response(srv: &Server, user: &[u8]) -> (bool, Vec<Msg>) {
    let mut s = srv.connect();
    send(&mut s, &read_req(user));
    let all = read_to_close(&mut s);
    assert!(all.len() >= 5 && all[..3] == [0xAE, 0x73, 3], "{all:?}");
    let (n, more) = (all[3], all[4]);
    let mut items = Vec::new();
    let mut at = 5;
    for _ in 0..n {
        let sl = usize::from(all[at]);
        let tl = usize::from(u16::from_be_bytes([all[at + 1], all[at + 2]]));
        at += 3;
        items.push((
            all[at..at + sl].to_vec(),
            all[at + sl..at + sl + tl].to_vec(),
        ));
        at += sl + tl;
    }
    assert_eq!(at, all.len(), "bytes after the items");
    assert!(more <= 1);
    (more == 1, items)
}

#[test]
fn server_argument_errors() {
    for args in [
        &[][..],
        &["5000", "6000"],
        &["abc"],
        &["1023"],
        &["0"],
        &["64001"],
        &["65535"],
    ] {
        let start = Instant::now();
        program("messages-server")
            .args(args)
            .timeout(Duration::from_secs(2))
            .assert()
            .failure()
            .stderr(predicates::str::is_empty().not());
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

#[test]
fn server_accepts_the_port_bounds() {
    for port in [1024u16, 64000] {
        // Either port may be taken on this machine; then the failure must say so.
        let srv = Server::spawn("messages-server", &[port.to_string()], port);
        match srv.until_listening() {
            Some(srv) => srv.expect_line(&format!("messages-server: listening on port {port}")),
            None => eprintln!("port {port} busy; bound check skipped"),
        }
    }
}

#[test]
fn create_then_read_in_fifo_order_and_removed_after_reading() {
    let srv = server();
    store(&srv, b"alice", b"bob", b"first");
    store(&srv, "zoë".as_bytes(), b"bob", "secönd ✓".as_bytes());
    store(&srv, b"alice", b"carol", b"for carol");
    assert!(
        srv.stdout()
            .iter()
            .any(|l| l.starts_with("Connection from 127.0.0.1:"))
    );
    let (more, items) = read_response(&srv, b"bob");
    assert!(!more);
    assert_eq!(
        items,
        vec![
            (b"alice".to_vec(), b"first".to_vec()),
            ("zoë".as_bytes().to_vec(), "secönd ✓".as_bytes().to_vec())
        ]
    );
    assert_eq!(read_response(&srv, b"bob"), (false, vec![]));
    assert_eq!(read_response(&srv, b"carol").1.len(), 1);
}

#[test]
fn more_than_255_messages_come_in_turns() {
    let srv = server();
    for i in 0..300 {
        store(&srv, b"s", b"r", format!("m{i}").as_bytes());
    }
    let (more, items) = read_response(&srv, b"r");
    assert!(more);
    assert_eq!(items.len(), 255);
    assert_eq!(items[0].1, b"m0");
    let (more, items) = read_response(&srv, b"r");
    assert!(!more);
    assert_eq!(items.len(), 45);
    assert_eq!(items[44].1, b"m299");
}

#[test]
fn largest_fields_are_stored_and_returned() {
    let srv = server();
    let name = vec![b'n'; 255];
    let text = vec![b't'; 65535];
    store(&srv, &name, &name, &text);
    assert_eq!(read_response(&srv, &name).1, vec![(name.clone(), text)]);
}

#[test]
fn invalid_requests_are_refused_and_nothing_is_stored() {
    let srv = server();
    let good = create(b"alice", b"bob", b"hi");
    let mut bad_magic = good.clone();
    bad_magic[0] = 0xAF;
    let mut bad_id = good.clone();
    bad_id[2] = 7;
    let empty_name = create(b"", b"bob", b"hi");
    let mut read_with_receiver = read_req(b"bob");
    read_with_receiver[4] = 1;
    read_with_receiver.push(b'x');
    let mut read_with_message = read_req(b"bob");
    read_with_message[6] = 1;
    read_with_message.push(b'x');
    let empty_receiver = create(b"alice", b"", b"hi");
    let empty_message = create(b"alice", b"bob", b"");
    let truncated = good[..good.len() - 1].to_vec();
    let mut extra = good.clone();
    extra.extend_from_slice(b"junk");
    for record in [
        bad_magic,
        bad_id,
        empty_name,
        read_with_receiver,
        read_with_message,
        empty_receiver,
        empty_message,
        truncated,
        extra,
    ] {
        let mut s = srv.connect();
        send(&mut s, &record);
        half_close(&s);
        assert_eq!(read_to_close(&mut s), b"", "{record:?}");
        srv.wait_line(|l| l.starts_with("error:"));
    }
    assert_eq!(read_response(&srv, b"bob"), (false, vec![]));
}

#[test]
fn stalls_over_a_second_end_the_connection_and_store_nothing() {
    let srv = server();
    let record = create(b"alice", b"bob", b"hi");
    for cut in [3, 9] {
        let mut s = srv.connect();
        send(&mut s, &record[..cut]);
        // The server gives up on its own; then the rest arrives too late.
        assert_eq!(read_to_close(&mut s), b"");
        srv.wait_line(|l| l.starts_with("error:") && l.contains("gap"));
        let _ = std::io::Write::write_all(&mut s, &record[cut..]);
    }
    assert_eq!(read_response(&srv, b"bob"), (false, vec![]));
}

#[test]
fn a_record_in_pieces_under_a_second_apart_succeeds() {
    let srv = server();
    let record = create(b"alice", b"bob", b"slow but steady");
    let mut s = srv.connect();
    for piece in record.chunks(8) {
        send(&mut s, piece);
        std::thread::sleep(Duration::from_millis(300)); // the scenario's pace
    }
    assert_eq!(read_to_close(&mut s), b"");
    srv.wait_line(|l| l.starts_with("Stored"));
    assert_eq!(read_response(&srv, b"bob").1.len(), 1);
}

#[test]
fn a_stalled_client_holds_the_next_only_for_the_gap() {
    let srv = server();
    let staller = srv.connect();
    // Served right after the staller is dropped (about 1 s): well within the read timeout.
    store(&srv, b"alice", b"bob", b"after the staller");
    drop(staller);
    assert!(srv.stdout().iter().any(|l| l.contains("gap")));
}

// ---- client ---------------------------------------------------------------------------

fn client_against(
    args: &[&str],
    stdin: &[u8],
    script: impl FnOnce(TcpStream) + Send + 'static,
) -> assert_cmd::assert::Assert {
    let fake = FakeServer::new();
    let port = fake.port.to_string();
    let server = std::thread::spawn(move || script(fake.accept()));
    let mut full = vec!["127.0.0.1", port.as_str()];
    full.extend_from_slice(args);
    let assert = program("messages-client")
        .args(&full)
        .write_stdin(stdin.to_vec())
        .assert();
    server.join().expect("the fake server's script failed");
    assert
}

fn response(more: u8, items: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut r = vec![0xAE, 0x73, 3, u8::try_from(items.len()).unwrap(), more];
    for (s, t) in items {
        r.push(u8::try_from(s.len()).unwrap());
        r.extend_from_slice(&u16::try_from(t.len()).unwrap().to_be_bytes());
        r.extend_from_slice(s);
        r.extend_from_slice(t);
    }
    r
}

#[test]
fn client_argument_errors_make_no_connection() {
    let fake = FakeServer::new();
    let port = fake.port.to_string();
    let long = "x".repeat(256);
    for args in [
        vec![],
        vec!["127.0.0.1", &port, "alice"],
        vec!["127.0.0.1", &port, "alice", "read", "extra"],
        vec!["no.such.host.invalid", &port, "alice", "read"],
        vec!["127.0.0.1", "abc", "alice", "read"],
        vec!["127.0.0.1", "1023", "alice", "read"],
        vec!["127.0.0.1", "64001", "alice", "read"],
        vec!["127.0.0.1", &port, &long, "read"],
        vec!["127.0.0.1", &port, "", "read"],
        vec!["127.0.0.1", &port, "alice", "delete"],
    ] {
        program("messages-client")
            .args(&args)
            .timeout(Duration::from_secs(5))
            .assert()
            .code(2)
            .stderr(predicates::str::contains("error"));
    }
    assert!(fake.try_accept(Duration::from_millis(100)).is_none());
}

#[test]
fn client_read_sends_the_exact_record_and_prints_messages() {
    client_against(&["alice", "read"], b"", |mut s| {
        assert_eq!(read_n(&mut s, 12), read_req(b"alice"));
        send(
            &mut s,
            &response(
                0,
                &[
                    (b"bob", b"hi alice"),
                    ("zoë".as_bytes(), "ça va ✓".as_bytes()),
                ],
            ),
        );
    })
    .success()
    .stdout(
        predicates::str::contains("bob: hi alice").and(predicates::str::contains("zoë: ça va ✓")),
    );
}

#[test]
fn client_reports_an_empty_response_and_more_msgs() {
    client_against(&["alice", "read"], b"", |mut s| {
        read_n(&mut s, 12);
        send(&mut s, &response(0, &[]));
    })
    .success()
    .stdout(predicates::str::contains("No messages"));
    client_against(&["alice", "read"], b"", |mut s| {
        read_n(&mut s, 12);
        send(&mut s, &response(1, &[(b"bob", b"one")]));
    })
    .success()
    .stdout(predicates::str::contains("more messages"));
}

#[test]
fn client_create_reprompts_then_sends_the_exact_record() {
    let long = vec![b'r'; 300];
    let mut stdin = b"\n".to_vec();
    stdin.extend_from_slice(&long);
    stdin.extend_from_slice("\nbøb\n\nhello bob\n".as_bytes());
    client_against(&["alice", "create"], &stdin, |mut s| {
        let want = create(b"alice", "bøb".as_bytes(), b"hello bob");
        assert_eq!(read_n(&mut s, want.len()), want);
        assert_eq!(read_to_close(&mut s), b"");
    })
    .success()
    .stdout(
        predicates::str::contains("must not be empty")
            .and(predicates::str::contains("less than 255")),
    );
}

#[test]
fn client_create_without_answers_is_an_error_before_connecting() {
    let fake = FakeServer::new();
    program("messages-client")
        .args(["127.0.0.1", &fake.port.to_string(), "alice", "create"])
        .write_stdin(b"bob\n".to_vec())
        .assert()
        .code(1);
    assert!(fake.try_accept(Duration::from_millis(100)).is_none());
}

#[test]
fn client_refuses_bad_responses() {
    let mut bad_magic = response(0, &[]);
    bad_magic[1] = 0;
    let mut bad_id = response(0, &[]);
    bad_id[2] = 1;
    let bad_more = response(2, &[]);
    let empty_sender = response(0, &[(b"", b"x")]);
    let empty_text = response(0, &[(b"bob", b"")]);
    for bad in [bad_magic, bad_id, bad_more, empty_sender, empty_text] {
        client_against(&["alice", "read"], b"", move |mut s| {
            read_n(&mut s, 12);
            send(&mut s, &bad);
            let _ = read_to_close(&mut s);
        })
        .code(1)
        .stderr(predicates::str::contains("invalid"));
    }
}

#[test]
fn client_gives_up_on_a_stalled_response() {
    client_against(&["alice", "read"], b"", |mut s| {
        read_n(&mut s, 12);
        send(&mut s, &response(0, &[(b"bob", b"hi")])[..6]);
        // Hold the connection until the client gives up and closes.
        let _ = read_to_close(&mut s);
    })
    .code(1)
    .stderr(predicates::str::contains("gap"));
}

use predicates::prelude::*;

#[test]
fn a_reset_in_the_middle_of_a_record_stores_nothing() {
    let srv = server();
    let record = create(b"alice", b"bob", b"never stored");
    let mut s = srv.connect();
    send(&mut s, &record[..10]);
    reset(s);
    srv.wait_line(|l| l.starts_with("error:"));
    assert_eq!(read_response(&srv, b"bob"), (false, vec![]));
}

#[test]
fn client_reports_a_reset_by_the_server() {
    client_against(&["alice", "read"], b"", |mut s| {
        read_n(&mut s, 12);
        send(&mut s, &response(0, &[(b"bob", b"hello")])[..7]);
        reset(s);
    })
    .code(1)
    .stderr(predicates::str::contains("error"));
}
