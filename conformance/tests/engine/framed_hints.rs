//! The framed suite's evidence-first hint rules: each rule on data, and each run end to end
//! on the known-bad Python fixture that triggers it (fixtures/impls/framed/manifest.toml),
//! asserting the hint and the cause the failure carries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use conformance::check::{Cause, Failure, Role, Stop};
use conformance::driver::command::CommandSpec;
use conformance::driver::{Ctx, End, RunConfig, SubjectCmd};
use conformance::suites::framed::hints::{self, Death, Step, Traceback};
use conformance::suites::framed::{self, FrameFault};
use libtest_mimic::Failed;

use super::{TestResult, ensure};

const RESET_TRACEBACK: &[&str] = &[
    "Traceback (most recent call last):",
    "  File \"/x/server.py\", line 96, in main",
    "    serve(sock, args.defect)",
    "  File \"/x/server.py\", line 41, in _fill",
    "    data = self.sock.recv(BUFFER_SIZE)",
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    "ConnectionResetError: [Errno 104] Connection reset by peer",
];

/// Runs one framed check with `cmd` as the subject of its role; its failure.
fn fails(id: &str, cmd: &str) -> Result<Failure, Failed> {
    let check = framed::CHECKS
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| Failed::from(format!("no check {id}")))?;
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_conformance"));
    let mut cfg = RunConfig::reference(exe);
    let root = env!("CARGO_MANIFEST_DIR");
    let spec = CommandSpec::parse(&cmd.replace("{dir}", &format!("{root}/fixtures/impls/framed")))
        .map_err(|e| e.to_string())?;
    match check.role {
        Role::Server => cfg.server = SubjectCmd::Command(spec),
        Role::Client => cfg.client = SubjectCmd::Command(spec),
    }
    let mut ctx = Ctx::new(check, &framed::SUITE, Arc::new(cfg));
    match (check.run)(&mut ctx) {
        Err(Stop::Fail(f)) => Ok(f),
        other => Err(Failed::from(format!(
            "{id} on `{cmd}`: expected a failure, got {other:?}"
        ))),
    }
}

fn has_hint(f: &Failure, hint: &str) -> TestResult {
    ensure(
        f.hint.as_deref() == Some(hint),
        format!("hint {:?} for {}", f.hint, f.text()),
    )
}

pub fn traceback_names_last_frame_and_exception() -> TestResult {
    let tb = hints::traceback(RESET_TRACEBACK.iter().copied()).ok_or("no traceback found")?;
    ensure(tb.exception == "ConnectionResetError", &tb.exception)?;
    ensure(
        tb.frame == "File \"/x/server.py\", line 41, in _fill",
        &tb.frame,
    )?;
    let dotted = [
        "Traceback (most recent call last):",
        "  File \"c.py\", line 3, in f",
        "struct.error: unpack requires a buffer of 4 bytes",
    ];
    ensure(
        hints::traceback(dotted).is_some_and(|t| t.exception == "struct.error"),
        "dotted exception name",
    )?;
    ensure(
        hints::traceback(["ERROR: the server is gone"]).is_none(),
        "no traceback in plain text",
    )
}

pub fn reply_length_evidence_names_the_mistake() -> TestResult {
    let sent = "ÄÖÜäöüßéèê€🎉 and the rest".as_bytes();
    let want = &sent[20..];
    let chars = std::str::from_utf8(want)
        .map_err(|e| e.to_string())?
        .chars()
        .count();
    let wrong = |declared| FrameFault::WrongLength {
        declared,
        want: want.len(),
    };
    let swapped = u32::try_from(want.len())
        .map_err(|e| e.to_string())?
        .swap_bytes() as usize;
    ensure(
        hints::reply_evidence(wrong(swapped), sent, want) == Some(hints::HINT_BYTE_ORDER),
        "byte order",
    )?;
    ensure(
        hints::reply_evidence(wrong(sent.len()), sent, want) == Some(hints::HINT_DROP),
        "whole payload",
    )?;
    ensure(
        hints::reply_evidence(wrong(chars), sent, want) == Some(hints::HINT_CHAR_LENGTH),
        "characters counted",
    )?;
    ensure(
        hints::reply_evidence(wrong(sent.len() - 10), sent, want) == Some(hints::HINT_CHARS),
        "10 bytes dropped",
    )?;
    // A shorter length proves nothing precise: the check's scenario or the symptom speaks.
    ensure(
        hints::reply_evidence(wrong(3), sent, want).is_none(),
        "no evidence",
    )?;
    ensure(
        hints::reply_symptom(wrong(3)) == Some(hints::HINT_PARTIAL),
        "symptom",
    )?;
    let silent = FrameFault::NoHeader {
        got: 0,
        end: End::Deadline,
    };
    ensure(
        hints::reply_evidence(silent, b"0123456789", b"") == Some(hints::HINT_EMPTY),
        "empty reply missing",
    )?;
    // A server that closed without a frame is not told to buffer or send empty frames.
    let closed = FrameFault::NoHeader {
        got: 0,
        end: End::Closed,
    };
    ensure(
        hints::reply_evidence(closed, sent, want).is_none()
            && hints::reply_symptom(closed).is_none(),
        "closed",
    )
}

pub fn server_death_hint_follows_the_evidence() -> TestResult {
    let tb = hints::traceback(RESET_TRACEBACK.iter().copied());
    let by_tb = Death {
        code: Some(1),
        signal: None,
        traceback: tb,
    };
    ensure(
        hints::server_death(&by_tb, Some(hints::HINT_PARTIAL)).contains("ConnectionResetError"),
        "traceback beats the scenario",
    )?;
    ensure(
        matches!(by_tb.cause(), Cause::Traceback { .. }),
        "traceback cause",
    )?;
    let segv = Death {
        code: None,
        signal: Some(11),
        traceback: None,
    };
    ensure(
        hints::server_death(&segv, None).contains("SIGSEGV"),
        "signal named",
    )?;
    ensure(segv.cause() == Cause::Signal { signal: 11 }, "signal cause")?;
    let zero = Death {
        code: Some(0),
        signal: None,
        traceback: None,
    };
    ensure(
        hints::server_death(&zero, Some(hints::HINT_PARTIAL)).contains("status 0"),
        "exit 0 is a return, not a crash",
    )?;
    let one = Death {
        code: Some(1),
        signal: None,
        traceback: None,
    };
    ensure(
        hints::server_death(&one, Some(hints::HINT_PARTIAL)) == hints::HINT_PARTIAL,
        "no evidence: the scenario's hint",
    )?;
    ensure(one.cause() == Cause::Exited { code: 1 }, "exit cause")
}

pub fn death_is_blamed_on_the_connection_served() -> TestResult {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let step = |c: &str, w: &str, ms| Step {
        client: c.to_owned(),
        what: w.to_owned(),
        at: at(ms),
    };
    let steps = [
        step("client 1", "connected", 0),
        step("client 1", "sent a frame", 1),
        step("client 1", "reset its connection", 3),
        step("client 2", "connected", 4),
        step("client 2", "sent a frame", 5),
    ];
    // The server replied to client 1 at 2 ms and was found dead only after client 2's
    // steps: client 1's reset is blamed, not client 2.
    ensure(
        hints::blame(&steps, None, Some(("client 1", at(2))), &[]) == Some(2),
        "reset blamed",
    )?;
    // No reply to anyone, seen dead before the third step: the first client's last step.
    ensure(
        hints::blame(&steps, Some(2), None, &[]) == Some(1),
        "bracketed by the look",
    )?;
    // The server closed client 1 at 2 ms: what client 1 did later did not kill it.
    let ended = [("client 1".to_owned(), at(2))];
    ensure(
        hints::blame(&steps, None, None, &ended) == Some(1),
        "bounded by the server's close",
    )
}

pub fn client_hint_follows_its_end() -> TestResult {
    let tb = hints::traceback(RESET_TRACEBACK.iter().copied());
    let raised = Death {
        code: Some(1),
        signal: None,
        traceback: tb,
    };
    ensure(
        hints::client_lost_server(&raised).contains("ConnectionResetError"),
        "traceback",
    )?;
    let pipe = Death {
        code: None,
        signal: Some(13),
        traceback: None,
    };
    ensure(
        hints::client_lost_server(&pipe).contains("SIGPIPE"),
        "sigpipe",
    )?;
    let line = "ÄÖÜ".as_bytes();
    let fault = FrameFault::WrongLength {
        declared: 3,
        want: 6,
    };
    ensure(
        hints::client_frame_fault(fault, line) == hints::HINT_CHAR_LENGTH,
        "client counts characters",
    )
}

pub fn reset_crash_server_blames_the_reset() -> TestResult {
    let f = fails(
        "framed.server.next-client-after-reset",
        "python3 {dir}/server.py --defect reset-crash",
    )?;
    ensure(
        f.actual.contains("after client 1 reset its connection"),
        f.text(),
    )?;
    ensure(
        matches!(&f.cause, Some(Cause::Traceback { last_frame }) if last_frame.contains("ConnectionResetError")),
        format!("{:?}", f.cause),
    )?;
    ensure(
        f.hint
            .as_deref()
            .is_some_and(|h| h.contains("ConnectionResetError")),
        f.text(),
    )
}

pub fn strict_decode_server_is_told_about_decoding() -> TestResult {
    let f = fails(
        "framed.server.invalid-utf8",
        "python3 {dir}/server.py --defect strict-decode",
    )?;
    ensure(
        matches!(&f.cause, Some(Cause::Traceback { last_frame }) if last_frame.contains("UnicodeDecodeError")),
        format!("{:?}", f.cause),
    )?;
    ensure(
        f.actual
            .contains("after client 1 sent a frame whose payload is not UTF-8"),
        f.text(),
    )?;
    ensure(
        f.hint
            .as_deref()
            .is_some_and(|h| h.contains("payload.decode() raised")),
        f.text(),
    )
}

pub fn exit_zero_server_is_told_it_returned() -> TestResult {
    let f = fails(
        "framed.server.next-client-after-close",
        "python3 {dir}/server.py --defect exit-on-disconnect",
    )?;
    ensure(
        f.cause == Some(Cause::Exited { code: 0 }),
        format!("{:?}", f.cause),
    )?;
    ensure(
        f.actual.contains("after client 1 closed its connection"),
        f.text(),
    )?;
    ensure(
        f.hint
            .as_deref()
            .is_some_and(|h| h.contains("exited with status 0")),
        f.text(),
    )
}

pub fn char_length_server_is_told_to_count_bytes() -> TestResult {
    let f = fails(
        "framed.server.multibyte",
        "python3 {dir}/server.py --defect char-length",
    )?;
    has_hint(&f, hints::HINT_CHAR_LENGTH)
}

pub fn silent_first_reply_is_not_blamed_on_the_rest() -> TestResult {
    // `pipelined` names "keep the bytes after a frame" for replies 2 and 3; a server that
    // answers not even the first (it reads the length in host order and waits for 3 GiB)
    // gets the hint for silence, not the scenario's.
    let f = fails(
        "framed.server.pipelined",
        "python3 {dir}/server.py --defect native-order",
    )?;
    has_hint(&f, hints::HINT_SILENT)
}

pub fn lost_rest_is_named_by_the_scenario() -> TestResult {
    let f = fails(
        "framed.server.pipelined",
        "python3 {dir}/server.py --defect one-frame-per-read",
    )?;
    has_hint(&f, hints::HINT_KEEP_REST)
}

pub fn echoing_server_is_told_to_drop() -> TestResult {
    let f = fails(
        "framed.server.echo-small",
        "python3 {dir}/server.py --defect no-drop",
    )?;
    has_hint(&f, hints::HINT_DROP)
}

pub fn reset_crash_client_is_told_to_catch() -> TestResult {
    let f = fails(
        "framed.client.server-reset",
        "python3 {dir}/client.py --defect reset-crash",
    )?;
    ensure(
        matches!(&f.cause, Some(Cause::Traceback { .. })),
        format!("{:?}", f.cause),
    )?;
    ensure(
        f.hint
            .as_deref()
            .is_some_and(|h| h.contains("ConnectionResetError")),
        f.text(),
    )
}

pub fn char_length_client_is_told_to_count_bytes() -> TestResult {
    let f = fails(
        "framed.client.multibyte",
        "python3 {dir}/client.py --defect char-length",
    )?;
    has_hint(&f, hints::HINT_CHAR_LENGTH)
}

/// Traceback is public for callers that build evidence by hand.
pub fn traceback_cause_carries_frame_and_line() -> TestResult {
    let tb = Traceback {
        frame: "File \"a.py\", line 1, in f".into(),
        exception: "E".into(),
        line: "E: x".into(),
    };
    ensure(
        tb.cause()
            == Cause::Traceback {
                last_frame: "File \"a.py\", line 1, in f: E: x".into(),
            },
        "cause text",
    )
}

pub fn adapter_contract_mark_matches_the_suite() -> TestResult {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/adapters/framed.py");
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let line = format!("CONTRACT_MARK = {:?}", framed::ADAPTER_CONTRACT_MARK);
    ensure(
        text.lines().any(|l| l == line),
        format!("{path} has no line {line}"),
    )
}

pub fn spinning_client_is_told_about_mid_frame_close() -> TestResult {
    let f = fails(
        "framed.client.server-close-mid-reply",
        "python3 {dir}/client.py --defect spin-mid-frame",
    )?;
    ensure(
        f.hint
            .as_deref()
            .is_some_and(|h| h.contains("inside a frame")),
        f.text(),
    )
}

pub fn crashed_client_is_told_its_exception() -> TestResult {
    let f = fails(
        "framed.client.multibyte",
        "python3 {dir}/client.py --defect ascii-decode",
    )?;
    ensure(
        matches!(&f.cause, Some(Cause::Traceback { last_frame }) if last_frame.contains("UnicodeDecodeError")),
        format!("{:?}", f.cause),
    )?;
    ensure(
        f.hint
            .as_deref()
            .is_some_and(|h| h.contains("UTF-8 (not ASCII)")),
        f.text(),
    )
}
