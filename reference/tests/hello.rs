//! tcpserver and tcpclient (seed 001) through the real binary.

mod support;

use std::io::Write;
use std::time::Duration;

use support::*;

const MODELS: [&str; 3] = ["iterative", "threaded", "event-driven"];

fn server(model: &str, extra: &[&str]) -> Server {
    let model = model.to_owned();
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    Server::start("tcpserver", move |port| {
        let mut args = vec![port.to_string(), "--model".into(), model.clone()];
        args.extend(extra.iter().cloned());
        args
    })
}

/// Read a reply until it has as many bytes as `want`, then compare.
fn expect_reply(stream: &mut std::net::TcpStream, want: &str) {
    let got = read_until(stream, |b| b.len() >= want.len());
    assert_eq!(String::from_utf8_lossy(&got), want);
}

/// One full, correct handshake by a raw client.
fn handshake(port: u16, x: i64, greeting_suffix: &[u8]) {
    let mut s = connect(port);
    let mut greeting = format!("HELLO {x}").into_bytes();
    greeting.extend_from_slice(greeting_suffix);
    send(&mut s, &greeting);
    expect_reply(&mut s, &format!("HELLO {}", x + 1));
    send(&mut s, format!("HELLO {}", x + 2).as_bytes());
    drop(s);
}

#[test]
fn handshake_prints_both_lines_in_every_model() {
    for model in MODELS {
        let srv = server(model, &[]);
        for x in [5, 0, 9, 99, 999, 123_456_789, 7] {
            handshake(srv.port, x, b"");
            srv.expect_line(&format!("HELLO {x}"));
            srv.expect_line(&format!("HELLO {}", x + 2));
        }
        assert!(
            !srv.stdout().iter().any(|l| l == "ERROR"),
            "{model}: {:?}",
            srv.stdout()
        );
    }
}

#[test]
fn wrong_z_prints_error_on_stdout() {
    let srv = server("iterative", &[]);
    let mut s = srv.connect();
    send(&mut s, b"HELLO 10");
    expect_reply(&mut s, "HELLO 11");
    send(&mut s, b"HELLO 17");
    drop(s);
    srv.expect_line("HELLO 10");
    srv.expect_line("HELLO 17");
    srv.expect_line("ERROR");
}

#[test]
fn malformed_greetings_get_error_and_the_server_serves_on() {
    for model in MODELS {
        let srv = server(model, &[]);
        for bad in [&b"GARBAGE"[..], b"HELLO", b"HELLO abc", b"HELLO "] {
            let mut s = srv.connect();
            send(&mut s, bad);
            // Closing our side says the message is whole (a prefix is otherwise waited on).
            half_close(&s);
            assert_eq!(read_to_close(&mut s), b"", "{model}: {bad:?}");
            srv.expect_line("ERROR");
        }
        handshake(srv.port, 41, b"");
        srv.expect_line("HELLO 41");
        srv.expect_line("HELLO 43");
    }
}

#[test]
fn every_terminator_is_accepted() {
    for model in MODELS {
        let srv = server(model, &[]);
        let pad = [0u8; 64];
        for (i, suffix) in [&b"\n"[..], b"\r\n", b"\0", b"\n\0", &pad]
            .iter()
            .enumerate()
        {
            let x = 100 + i64::try_from(i).unwrap() * 10;
            handshake(srv.port, x, suffix);
            srv.expect_line(&format!("HELLO {x}"));
            srv.expect_line(&format!("HELLO {}", x + 2));
        }
    }
}

#[test]
fn split_greeting_is_read_whole() {
    for model in MODELS {
        let srv = server(model, &[]);
        // A split inside the digits (`HELLO 4` + `1`) is not here: without a terminator no
        // reader can tell it from `HELLO 4`, and the server takes a whole bare message at once.
        for (first, second) in [("HEL", "LO 41"), ("HELLO ", "41")] {
            let mut s = srv.connect();
            send(&mut s, first.as_bytes());
            // The pause is the scenario (two separate segments), not a wait for an event.
            std::thread::sleep(Duration::from_millis(300));
            send(&mut s, second.as_bytes());
            expect_reply(&mut s, "HELLO 42");
            send(&mut s, b"HELLO 43");
            drop(s);
            srv.expect_line("HELLO 41");
            srv.expect_line("HELLO 43");
        }
    }
}

#[test]
fn early_close_and_reset_do_not_stop_the_server() {
    for model in MODELS {
        let srv = server(model, &[]);
        drop(srv.connect()); // closed with no data
        let mut s = srv.connect();
        send(&mut s, b"HELLO 1");
        expect_reply(&mut s, "HELLO 2");
        drop(s); // closed before HELLO Z
        let mut s = srv.connect();
        send(&mut s, b"HELLO 3\n");
        expect_reply(&mut s, "HELLO 4");
        reset(s);
        reset(srv.connect());
        let mut s = srv.connect();
        send(&mut s, b"GARB");
        reset(s);
        handshake(srv.port, 50, b"");
        srv.expect_line("HELLO 50");
        srv.expect_line("HELLO 52");
    }
}

#[test]
fn a_prefix_left_waiting_is_judged_at_the_deadline() {
    for model in MODELS {
        let srv = server(model, &["--timeout", "1"]);
        let mut s = srv.connect();
        send(&mut s, b"HELLO ");
        assert_eq!(read_to_close(&mut s), b"", "{model}");
        srv.expect_line("ERROR");
    }
}

#[test]
fn a_split_greeting_survives_a_long_pause() {
    for model in MODELS {
        let srv = server(model, &[]);
        let mut s = srv.connect();
        send(&mut s, b"HEL");
        // Longer than a pause on a quiet machine, as seen under load.
        std::thread::sleep(Duration::from_millis(1500));
        send(&mut s, b"LO 5");
        expect_reply(&mut s, "HELLO 6");
    }
}

#[test]
fn a_silent_client_is_dropped_after_the_timeout() {
    let srv = server("iterative", &["--timeout", "1"]);
    let mut silent = srv.connect();
    assert_eq!(read_to_close(&mut silent), b"");
    handshake(srv.port, 8, b"");
    srv.expect_line("HELLO 8");
}

#[test]
fn a_silent_client_does_not_delay_others_when_concurrent() {
    for model in ["threaded", "event-driven"] {
        // A long timeout: if the silent client held the server, the handshake below would
        // fail on its 10 s read timeout.
        let srv = server(model, &["--timeout", "120"]);
        let silent = srv.connect();
        let half = {
            let mut s = srv.connect();
            send(&mut s, b"HELLO 7");
            expect_reply(&mut s, "HELLO 8");
            s // holds its HELLO Z back
        };
        handshake(srv.port, 20, b"\n");
        srv.expect_line("HELLO 22");
        drop((silent, half));
    }
}

#[test]
fn twenty_clients_at_once_with_pauses_all_complete() {
    for model in ["threaded", "event-driven"] {
        let srv = server(model, &[]);
        let port = srv.port;
        let clients: Vec<_> = (0..20)
            .map(|i| {
                std::thread::spawn(move || {
                    let x = 1000 * i;
                    let mut s = connect(port);
                    send(&mut s, format!("HELLO {x}").as_bytes());
                    expect_reply(&mut s, &format!("HELLO {}", x + 1));
                    // Pauses before the third message, as the course's load test does.
                    std::thread::sleep(Duration::from_millis(u64::try_from(i * 37 % 500).unwrap()));
                    send(&mut s, format!("HELLO {}", x + 2).as_bytes());
                })
            })
            .collect();
        for c in clients {
            c.join().expect("a client failed");
        }
        srv.wait_output(|lines| {
            (0..20).all(|i| lines.contains(&format!("HELLO {}", 1000 * i + 2)))
        });
        assert!(!srv.stdout().iter().any(|l| l == "ERROR"));
    }
}

#[test]
fn thread_models_show_in_proc() {
    let threaded = server("threaded", &[]);
    let held = threaded.connect();
    let mut probe = threaded.connect();
    send(&mut probe, b"HELLO 1");
    expect_reply(&mut probe, "HELLO 2"); // both connections accepted and being served
    assert!(
        threaded.threads() > 1,
        "threaded: {} threads",
        threaded.threads()
    );
    drop((held, probe));

    let event = server("event-driven", &[]);
    let conns: Vec<_> = (0..5).map(|_| event.connect()).collect();
    let mut probe = event.connect();
    send(&mut probe, b"HELLO 1");
    expect_reply(&mut probe, "HELLO 2");
    assert_eq!(event.threads(), 1);
    drop(conns);
}

#[test]
fn many_connections_in_a_row_are_all_served() {
    let srv = server("iterative", &[]);
    for x in 0..1100 {
        let mut s = srv.connect();
        send(&mut s, format!("HELLO {x}\n").as_bytes());
        expect_reply(&mut s, &format!("HELLO {}", x + 1));
        send(&mut s, format!("HELLO {}\n", x + 2).as_bytes());
    }
    srv.expect_line("HELLO 1101");
}

#[test]
fn restarts_on_the_same_port_right_after_a_kill() {
    for model in MODELS {
        let mut srv = server(model, &[]);
        let port = srv.port;
        // A connection still open when the server dies leaves the port in TIME_WAIT on the
        // server's side: only SO_REUSEADDR lets the new server bind.
        let mut s = srv.connect();
        send(&mut s, b"HELLO 1");
        expect_reply(&mut s, "HELLO 2");
        srv.kill();
        drop(s);
        let again = Server::spawn(
            "tcpserver",
            &[port.to_string(), "--model".into(), model.into()],
            port,
        )
        .until_listening()
        .expect("the server restarts on the same port");
        handshake(port, 60, b"");
        again.expect_line("HELLO 62");
    }
}

#[test]
fn bad_server_arguments_are_refused() {
    for args in [
        &[][..],
        &["abc"],
        &["0"],
        &["70000"],
        &["5000", "--model", "forked"],
        &["5000", "--model"],
        &["5000", "6000"],
        &["5000", "--timeout", "-1"],
    ] {
        program("tcpserver")
            .args(args)
            .assert()
            .code(2)
            .stderr(predicates::str::contains("usage"));
    }
}

// ---- client ---------------------------------------------------------------------------

/// Run tcpclient against a fake server scripted by `script`, returning the client's output.
fn client_against(
    x: &str,
    script: impl FnOnce(std::net::TcpStream) + Send + 'static,
) -> assert_cmd::assert::Assert {
    let fake = FakeServer::new();
    let port = fake.port;
    let server = std::thread::spawn(move || script(fake.accept()));
    let assert = program("tcpclient")
        .args(["127.0.0.1", &port.to_string(), x])
        .assert();
    server.join().expect("the fake server's script failed");
    assert
}

/// What the client sent after our reply, until it closed.
fn rest_after_reply(mut s: std::net::TcpStream, reply: &[u8]) -> Vec<u8> {
    s.write_all(reply).unwrap();
    read_to_close(&mut s)
}

#[test]
fn client_completes_the_handshake() {
    for (x, reply) in [
        ("5", &b"HELLO 6"[..]),
        ("0", b"HELLO 1\n"),
        ("9", b"HELLO 10\r\n"),
        ("999", b"HELLO 1000\0"),
    ] {
        let want_z = format!("HELLO {}", x.parse::<i64>().unwrap() + 2);
        let want_x = format!("HELLO {x}");
        client_against(x, move |mut s| {
            let greeting = read_until(&mut s, |b| b.len() >= want_x.len());
            assert_eq!(greeting, want_x.as_bytes());
            assert_eq!(rest_after_reply(s, reply), want_z.as_bytes());
        })
        .success()
        .stdout(format!("HELLO {}\n", x.parse::<i64>().unwrap() + 1));
    }
}

#[test]
fn client_wrong_reply_prints_error_and_sends_nothing() {
    client_against("5", |mut s| {
        read_until(&mut s, |b| b.len() >= 7);
        assert_eq!(rest_after_reply(s, b"HELLO 9"), b"");
    })
    .code(1)
    .stdout("HELLO 9\nERROR\n");
}

#[test]
fn client_garbage_reply_prints_error_and_sends_nothing() {
    client_against("5", |mut s| {
        read_until(&mut s, |b| b.len() >= 7);
        assert_eq!(rest_after_reply(s, b"NOPE"), b"");
    })
    .code(1)
    .stdout("ERROR\n");
}

#[test]
fn client_server_closing_without_reply_is_an_error() {
    client_against("5", |mut s| {
        read_until(&mut s, |b| b.len() >= 7);
        drop(s);
    })
    .code(1)
    .stdout("ERROR\n");
}

#[test]
fn client_bad_arguments_are_refused() {
    for args in [
        &[][..],
        &["127.0.0.1", "5000"],
        &["127.0.0.1", "x", "1"],
        &["127.0.0.1", "5000", "abc"],
    ] {
        program("tcpclient").args(args).assert().code(2);
    }
}

#[test]
fn client_without_a_server_prints_error() {
    program("tcpclient")
        .args(["127.0.0.1", &free_port().to_string(), "5"])
        .assert()
        .code(1)
        .stdout("ERROR\n");
}

#[test]
fn a_greeting_without_a_64_bit_successor_is_an_error() {
    for model in MODELS {
        let srv = server(model, &[]);
        let mut s = srv.connect();
        send(&mut s, format!("HELLO {}\n", i64::MAX).as_bytes());
        assert_eq!(read_to_close(&mut s), b"", "{model}");
        srv.expect_line(&format!("HELLO {}", i64::MAX));
        srv.expect_line("ERROR");
        handshake(srv.port, 1, b"");
        srv.expect_line("HELLO 3");
    }
}
