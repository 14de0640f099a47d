//! multiclient-server (seed 002) through the real binary.

mod support;

use support::*;

const MODELS: [&str; 2] = ["threaded", "event-driven"];

fn server(model: &str, period: &str) -> Server {
    let model = model.to_owned();
    let period = period.to_owned();
    Server::start("multiclient-server", move |port| {
        vec![
            port.to_string(),
            "--model".into(),
            model.clone(),
            "--period".into(),
            period.clone(),
        ]
    })
}

fn connected(id: u64, n: usize) -> String {
    format!("Client {id} connected. Number of connected clients = {n}")
}

fn disconnected(id: u64, n: usize) -> String {
    format!("Client {id} disconnected. Number of connected clients = {n}")
}

#[test]
fn ids_count_up_and_are_never_reused() {
    for model in MODELS {
        let srv = server(model, "600");
        let c1 = srv.connect();
        srv.expect_line(&connected(1, 1));
        let c2 = srv.connect();
        srv.expect_line(&connected(2, 2));
        let c3 = srv.connect();
        srv.expect_line(&connected(3, 3));
        drop(c2); // clean close
        srv.expect_line(&disconnected(2, 2));
        let c4 = srv.connect();
        srv.expect_line(&connected(4, 3));
        reset(c3); // a reset is a disconnect too
        srv.expect_line(&disconnected(3, 2));
        let mut c1 = c1;
        send(&mut c1, b"some EasyTCP traffic, read and discarded\n");
        drop(c1);
        srv.expect_line(&disconnected(1, 1));
        drop(c4);
        srv.expect_line(&disconnected(4, 0));
    }
}

#[test]
fn a_client_that_sent_half_a_message_does_not_delay_the_next() {
    for model in MODELS {
        let srv = server(model, "600");
        let mut first = srv.connect();
        send(&mut first, b"half a mess");
        srv.expect_line(&connected(1, 1));
        let _second = srv.connect();
        srv.expect_line(&connected(2, 2));
    }
}

#[test]
fn fifty_clients_at_once() {
    for model in MODELS {
        let srv = server(model, "600");
        let clients: Vec<_> = (0..50).map(|_| srv.connect()).collect();
        srv.wait_output(|l| {
            l.iter()
                .any(|l| l.ends_with("Number of connected clients = 50"))
        });
        drop(clients);
        srv.wait_output(|l| {
            l.iter().filter(|l| l.contains(" disconnected. ")).count() == 50
                && l.last().is_some_and(|l| l.ends_with("= 0"))
        });
    }
}

#[test]
fn the_count_is_printed_every_period_through_events() {
    for model in MODELS {
        let srv = server(model, "1");
        let a = srv.connect();
        srv.expect_line(&connected(1, 1));
        srv.expect_line("Number of connected clients = 1");
        let b = srv.connect();
        srv.expect_line(&connected(2, 2));
        srv.expect_line("Number of connected clients = 2");
        drop((a, b));
        srv.wait_line(|l| l == disconnected(2, 0) || l == disconnected(1, 0));
        srv.expect_line("Number of connected clients = 0");
    }
}

#[test]
fn thread_models_show_in_proc() {
    let threaded = server("threaded", "600");
    let _c = threaded.connect();
    threaded.expect_line(&connected(1, 1));
    assert!(threaded.threads() > 1);
    let event = server("event-driven", "600");
    let _cs: Vec<_> = (0..3).map(|_| event.connect()).collect();
    event.expect_line(&connected(3, 3));
    assert_eq!(event.threads(), 1);
}

#[test]
fn restarts_on_the_same_port_right_after_a_kill() {
    for model in MODELS {
        let mut srv = server(model, "600");
        let port = srv.port;
        let c = srv.connect();
        srv.expect_line(&connected(1, 1));
        srv.kill();
        drop(c);
        let again = Server::spawn(
            "multiclient-server",
            &[port.to_string(), "--model".into(), model.into()],
            port,
        )
        .until_listening()
        .expect("restarts on the same port");
        let _c = again.connect();
        again.expect_line(&connected(1, 1));
    }
}

#[test]
fn bad_arguments_are_refused() {
    for args in [
        &[][..],
        &["x"],
        &["5000", "--model", "iterative"],
        &["5000", "--period", "0"],
        &["5000", "--period", "soon"],
        &["5000", "--bogus", "1"],
    ] {
        program("multiclient-server").args(args).assert().code(2);
    }
}

#[test]
fn the_count_is_not_delayed_by_a_stream_of_events() {
    for model in MODELS {
        let srv = server(model, "1");
        let port = srv.port;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let churn = {
            let stop = std::sync::Arc::clone(&stop);
            // Connects and disconnects far more often than the period: a wait restarted by
            // every event would never reach its end.
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let c = connect(port);
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    drop(c);
                }
            })
        };
        srv.wait_line(|l| l.starts_with("Number of connected clients = "));
        srv.wait_line(|l| l.starts_with("Number of connected clients = "));
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        churn.join().unwrap();
    }
}
