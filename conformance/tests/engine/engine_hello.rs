//! Engine tests of the hello suite's line readers and hint rules (public functions only):
//! every reader that decides a verdict, and every rule that picks a hint from evidence.

use std::time::{Duration, Instant};

use codec::DecodeError;
use codec::hello::Hello;
use conformance::check::Cause;
use conformance::driver::{End, Line, Received, Stream, watch};
use conformance::suites::common::{exit_hint, is_addr_in_use, start_hint, traceback};
use conformance::suites::hello::{
    client::z_hint, is_error_line, parse_hello, printed_is, printed_stale, printing_hint,
    reply_hint,
};
use libtest_mimic::Failed;

type TestResult = Result<(), Failed>;

fn ensure(cond: bool, msg: impl std::fmt::Display) -> TestResult {
    if cond { Ok(()) } else { Err(Failed::from(msg)) }
}

fn line(stream: Stream, text: &str) -> Line {
    Line {
        at: Instant::now(),
        stream,
        text: text.to_owned(),
        truncated: false,
    }
}

fn got(bytes: &[u8], end: End) -> Received {
    Received {
        bytes: bytes.to_vec(),
        end,
    }
}

pub fn lenient_decode_drops_any_trailing_whitespace_and_nul() -> TestResult {
    for input in [
        &b"HELLO 6"[..],
        b"HELLO 6\n",
        b"HELLO 6\r\n",
        b"HELLO 6\0",
        b"HELLO 6\n\0",
        b"HELLO 6\0\0\0\0",
        b"HELLO 6 \t\r\n\0",
    ] {
        ensure(
            Hello::decode_lenient(input) == Ok(Hello::new(6)),
            format!("{input:?}"),
        )?;
    }
    ensure(
        Hello::decode_lenient(b"HELLO 6x") == Err(DecodeError::TrailingJunk),
        "junk after the digits",
    )?;
    ensure(
        Hello::decode_lenient(b"  \0").is_err_and(|e| e.is_incomplete()),
        "nothing but padding is incomplete",
    )
}

pub fn parse_hello_reads_only_a_whole_hello_message() -> TestResult {
    ensure(parse_hello(b"HELLO 6\n") == Some(6), "terminated")?;
    ensure(parse_hello(b"HELLO 123456790") == Some(123_456_790), "long")?;
    for bad in [
        &b"GARBAGE"[..],
        b"HELLO",
        b"HELLO ",
        b"HELLO abc",
        b"HELLO6",
        b"hello 6",
        b"",
    ] {
        ensure(parse_hello(bad).is_none(), format!("{bad:?} taken"))?;
    }
    Ok(())
}

pub fn printed_lines_are_compared_after_trimming() -> TestResult {
    ensure(printed_is("HELLO 5", 5), "exact")?;
    ensure(printed_is("HELLO 5 \r\0", 5), "trailing whitespace and NUL")?;
    ensure(!printed_is("HELLO 50", 5), "a longer number")?;
    ensure(!printed_is("Received: HELLO 5", 5), "a prefix")?;
    ensure(printed_stale("HELLO 723456789", 7), "stale digits")?;
    ensure(!printed_stale("HELLO 7", 7), "not stale")
}

pub fn error_lines_start_or_end_with_error() -> TestResult {
    ensure(is_error_line("ERROR"), "bare")?;
    ensure(is_error_line("  ERROR: wrong Z\n"), "with text")?;
    ensure(
        is_error_line("HELLO 5HELLO 12ERROR"),
        "glued after lines without newline",
    )?;
    ensure(!is_error_line("no error here"), "lower case word")?;
    ensure(!is_error_line("HELLO 7"), "a HELLO line")
}

pub fn reply_hint_never_blames_the_increment_for_a_cut_or_stale_reply() -> TestResult {
    let wrong = reply_hint(6, &got(b"HELLO 5", End::Silence), true);
    ensure(
        wrong.is_some_and(|h| h.contains("X+1")),
        format!("{wrong:?}"),
    )?;
    let cut = reply_hint(1000, &got(b"HELLO 10", End::Silence), true);
    ensure(
        cut.is_some_and(|h| h.contains("cut short")),
        format!("{cut:?}"),
    )?;
    let stale = reply_hint(8, &got(b"HELLO 723456790", End::Silence), true);
    ensure(
        stale.is_some_and(|h| h.contains("buffer")),
        format!("{stale:?}"),
    )?;
    let partial = reply_hint(6, &got(b"HELL", End::Closed), true);
    ensure(
        partial.is_some_and(|h| h.contains("cut short")),
        format!("{partial:?}"),
    )
}

pub fn reply_hint_for_silence_depends_on_whether_the_connection_was_accepted() -> TestResult {
    let queued = reply_hint(6, &got(b"", End::Deadline), false);
    ensure(
        queued.is_some_and(|h| h.contains("never accepted")),
        format!("{queued:?}"),
    )?;
    let accepted = reply_hint(6, &got(b"", End::Deadline), true);
    ensure(
        accepted.is_some_and(|h| h.contains("whole greeting")),
        format!("{accepted:?}"),
    )?;
    ensure(
        reply_hint(6, &got(b"", End::Closed), true).is_none(),
        "a close is told as is",
    )
}

pub fn printing_hint_names_the_newline_for_a_line_that_came_only_at_the_kill() -> TestResult {
    let before = vec![];
    let after = vec![line(Stream::Stdout, "HELLO 5HELLO 7")];
    let h = printing_hint(5, &before, &after);
    ensure(
        h.contains("newline") && !h.contains("fflush(stdout) after"),
        h,
    )?;
    let lost = printing_hint(5, &before, &before);
    ensure(lost.contains("fflush"), lost)?;
    let stale = printing_hint(7, &[line(Stream::Stdout, "HELLO 723456789")], &[]);
    ensure(stale.contains("buffer"), stale)?;
    let sloppy = printing_hint(5, &[line(Stream::Stdout, "got HELLO 5 from client")], &[]);
    ensure(sloppy.contains("exact text"), sloppy)
}

pub fn exit_hint_names_the_signal_the_exit_and_the_connection() -> TestResult {
    let after = Some("client 2 (it sent \"GARBAGE\")");
    let segv = exit_hint(&Cause::Signal { signal: 11 }, after, "serve on");
    ensure(segv.contains("SIGSEGV") && segv.contains("client 2"), &segv)?;
    let exit = exit_hint(&Cause::Exited { code: 1 }, after, "serve on");
    ensure(
        exit.contains("status 1") && exit.contains("client 2"),
        &exit,
    )?;
    let tb = exit_hint(
        &Cause::Traceback {
            last_frame: "File \"s.py\", line 3, in serve: IndexError".into(),
        },
        None,
        "serve on",
    );
    ensure(tb.contains("IndexError") && !tb.contains("SIGSEGV"), tb)
}

pub fn traceback_gives_the_last_frame_and_exception() -> TestResult {
    let lines = [
        line(Stream::Stdout, "HELLO 5"),
        line(Stream::Stderr, "Traceback (most recent call last):"),
        line(Stream::Stderr, "  File \"server.py\", line 40, in <module>"),
        line(Stream::Stderr, "  File \"server.py\", line 12, in serve"),
        line(Stream::Stderr, "    x = int(text.split(' ')[1])"),
        line(Stream::Stderr, "IndexError: list index out of range"),
    ];
    let tb = traceback(&lines);
    ensure(
        tb.as_ref().map(|t| t.text()).as_deref()
            == Some("File \"server.py\", line 12, in serve: IndexError: list index out of range"),
        format!("{tb:?}"),
    )?;
    ensure(traceback(&lines[..1]).is_none(), "no traceback")
}

pub fn bind_error_is_read_from_the_subject_output() -> TestResult {
    ensure(
        is_addr_in_use(&[line(Stream::Stderr, "bind: Address already in use")]),
        "perror",
    )?;
    ensure(
        is_addr_in_use(&[line(Stream::Stderr, "OSError: [Errno 98] Address in use")]),
        "python",
    )?;
    ensure(
        !is_addr_in_use(&[line(
            Stream::Stderr,
            "getaddrinfo: Name or service not known",
        )]),
        "a start that failed otherwise is no bind error",
    )
}

pub fn z_hint_names_a_small_buffer_for_a_cut_z() -> TestResult {
    let cut = z_hint(123_456_791, b"HELLO 12345");
    ensure(cut.contains("cut short"), cut)?;
    let wrong = z_hint(7, b"HELLO 6");
    ensure(wrong.contains("Y + 1"), wrong)
}

pub fn start_hint_never_blames_the_port_for_a_program_that_could_not_start() -> TestResult {
    for cause in [
        Cause::Exited { code: 1 },
        Cause::Signal { signal: 11 },
        Cause::Traceback {
            last_frame: "File \"s.py\", line 9, in main: socket.gaierror".into(),
        },
    ] {
        let h = start_hint(&cause);
        ensure(
            !h.contains("SO_REUSEADDR") && h.contains("could not start"),
            &h,
        )?;
    }
    ensure(
        start_hint(&Cause::Exited { code: 3 }).contains("status 3"),
        "names the status",
    )
}

pub fn proc_readers_parse_connections_and_cpu_time() -> TestResult {
    let line = "   3: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 123456 1 0000000000000000 20 4 30 10 -1";
    let c = watch::parse_conn(line);
    ensure(
        c == Some(watch::Conn {
            local: 0x1F90,
            remote: 0xD431,
            inode: 123_456,
        }),
        format!("{c:?}"),
    )?;
    let stat = "42 (tcp server) S 1 42 42 0 -1 4194560 100 0 0 0 150 50 0 0 20 0 1 0";
    let t = watch::cpu_time_of(stat);
    ensure(t == Some(Duration::from_secs(2)), format!("{t:?}"))
}
