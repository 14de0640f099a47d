//! A check's own network namespace, as the suite's threads see it: /proc read from the
//! check's thread shows the check's connections, and the namespace has its own small TCP
//! table. Root only (elsewhere checks share the machine's network and these say so).

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use conformance_driver::contain::{self, CHECK_EHASH_BUCKETS};
use conformance_driver::watch;

/// Runs `f` on a new thread inside a fresh check namespace; None where there is none.
fn in_fresh_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    std::thread::spawn(move || contain::enter_fresh_netns().then(f))
        .join()
        .expect("test thread")
}

fn port(l: &TcpListener) -> u16 {
    l.local_addr().expect("local addr").port()
}

/// Polls `cond` for up to 10 s (a busy machine), never a fixed sleep.
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

#[test]
fn accepted_sees_the_checks_own_connections() {
    let seen = in_fresh_netns(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind in the check's namespace");
        let server = port(&listener);
        let waiting = TcpStream::connect(("127.0.0.1", server)).expect("connect");
        let waiting_port = waiting.local_addr().expect("addr").port();
        // In the listen queue: no socket file yet.
        let before = watch::accepted(server, waiting_port);
        let (_taken, _) = listener.accept().expect("accept");
        let after = eventually(|| watch::accepted(server, waiting_port));
        (before, after)
    });
    match seen {
        Some((before, after)) => {
            assert!(
                !before,
                "a connection still in the listen queue was taken as accepted"
            );
            assert!(
                after,
                "an accepted connection in the check's namespace was not seen as accepted \
                 (read from the main thread's namespace?)"
            );
        }
        None => eprintln!("no network namespaces here: nothing to prove"),
    }
}

#[test]
fn a_checks_namespace_has_a_small_tcp_table_of_its_own() {
    if !std::path::Path::new("/proc/sys/net/ipv4/tcp_child_ehash_entries").exists() {
        eprintln!("kernel without tcp_child_ehash_entries (before 6.1): nothing to prove");
        return;
    }
    // The kernel allows half a namespace's buckets in TIME_WAIT: that is how its table's
    // size shows.
    let tw = in_fresh_netns(|| {
        std::fs::read_to_string("/proc/sys/net/ipv4/tcp_max_tw_buckets")
            .map(|s| s.trim().to_owned())
    });
    let Some(tw) = tw else {
        eprintln!("no network namespaces here: nothing to prove");
        return;
    };
    assert!(
        contain::small_hash_parent().is_some(),
        "no small-table parent namespace"
    );
    let tw = tw.expect("read tcp_max_tw_buckets");
    assert_eq!(
        tw,
        (CHECK_EHASH_BUCKETS / 2).to_string(),
        "the namespace's table is not the small one"
    );
    // The machine's own setting is left alone.
    let machine = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_child_ehash_entries")
        .expect("read the machine's setting");
    let machine_before = machine.trim();
    assert_ne!(
        machine_before,
        CHECK_EHASH_BUCKETS.to_string(),
        "the machine's tcp_child_ehash_entries was changed"
    );
}
