//! Report and grading tests: every report format validates against its schema (JSON and
//! Gradescope with jsonschema, JUnit with xmllint, HTML in headless chromium), points,
//! the run gate (no check selected, report paths), the gradebook of fixtures/submissions,
//! the Gradescope bundle end to end in a simulated /autograder, and the GitHub Classroom
//! workflow. A module of the self-test binary (selftest.rs): its trials are `reports::...`,
//! run in the self-test's pool (`cargo test --test selftest -- reports::`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use conformance::check::{Cause, Failure, HarnessError, Level, Outcome};
use conformance::driver::peer::{Dir, Event};
use conformance::driver::{CheckReport, Details, Marks};
use conformance::report::{self, Format, Rubric, RunInfo};
use conformance::suites::hello;
use libtest_mimic::{Completion, Failed, Trial};
use serde_json::Value;

type TestResult = Result<Completion, Failed>;

/// A test's name and body.
type Test = (&'static str, fn() -> TestResult);

const CONFORMANCE: &str = env!("CARGO_BIN_EXE_conformance");

fn ensure(cond: bool, msg: impl std::fmt::Display) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(Failed::from(msg)) }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema(name: &str) -> Result<jsonschema::Validator, Failed> {
    let text = std::fs::read_to_string(root().join("docs").join(name))
        .map_err(|e| format!("docs/{name}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("docs/{name}: {e}"))?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&v)
        .map_err(|e| Failed::from(format!("docs/{name} is no valid schema: {e}")))
}

fn validate(validator: &jsonschema::Validator, what: &str, text: &str) -> Result<(), Failed> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("{what}: not JSON: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    ensure(
        errors.is_empty(),
        format!("{what} does not validate:\n{}", errors.join("\n")),
    )
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn xmllint(xml: &Path) -> Result<(), Failed> {
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(root().join("docs/junit.xsd"))
        .arg(xml)
        .output()
        .map_err(|e| format!("xmllint: {e}"))?;
    ensure(
        out.status.success(),
        format!(
            "{} does not validate against docs/junit.xsd:\n{}",
            xml.display(),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// One report of every outcome, with a transcript, output lines, notes and causes.
fn synthetic() -> (RunInfo, Vec<CheckReport>) {
    let t0 = Instant::now();
    let ev = |ms: u64, dir: Dir, b: &[u8]| Event {
        at: t0 + Duration::from_millis(ms),
        peer: "client 1".to_owned(),
        dir,
        bytes: b.to_vec(),
        len: b.len(),
    };
    let details = Details {
        transcript: vec![
            ev(0, Dir::Note, b"connected"),
            ev(5, Dir::Sent, b"HELLO 5\n"),
            ev(9, Dir::Received, b"HELLO 7\xff<&>"),
        ],
        outputs: vec![(
            "./tcpserver 5000".to_owned(),
            vec![conformance::driver::Line {
                at: t0 + Duration::from_millis(7),
                stream: conformance::driver::Stream::Stdout,
                text: "HELLO 5 <b>".to_owned(),
                truncated: false,
            }],
        )],
        notes: vec!["a note & more".to_owned()],
        started: Some(t0),
        marks: {
            let m = Marks::new(t0);
            m.window(
                "tick 1 window",
                t0 + Duration::from_millis(2),
                t0 + Duration::from_millis(8),
            );
            m.deadline("closed by", t0 + Duration::from_millis(11));
            m.seen("tick 1 (count 1)", t0 + Duration::from_millis(7));
            m.list()
        },
    };
    let c = &hello::CHECKS;
    let outcomes = [
        Outcome::Passed,
        Outcome::Failed(
            Failure::new("reply `HELLO 6`", "got `HELLO 7` \"quoted\" ]]> <x>")
                .hint("y = x + 1, not x + 2")
                .cause(Cause::Exited { code: 3 }),
        ),
        Outcome::Failed(Failure::new("a", "b").cause(Cause::Other {
            text: "text".to_owned(),
        })),
        Outcome::Skipped("only for threaded servers".to_owned()),
        Outcome::Blocked {
            by: c[0].id,
            why: "no handshake".to_owned(),
        },
        Outcome::Errored(HarnessError::PortBusy {
            port: 5000,
            holder: Some("pid 1: init".to_owned()),
        }),
        Outcome::Errored(HarnessError::Other {
            what: "the check panicked".to_owned(),
        }),
        Outcome::Errored(HarnessError::Survivors {
            what: "pid 9".to_owned(),
        }),
    ];
    let reports = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| CheckReport {
            check: &c[i % c.len()],
            model: Some(conformance::check::Model::Threaded),
            outcome,
            duration: Duration::from_millis(120 * i as u64),
            details: details.clone(),
        })
        .collect();
    let info = RunInfo {
        suites: vec!["hello".to_owned()],
        server: Some("./tcpserver".to_owned()),
        client: None,
        model: Some("threaded".to_owned()),
        strict: false,
        slack: Duration::from_secs(2),
        period: Duration::from_secs(60),
        started: SystemTime::now(),
        duration: Duration::from_millis(1500),
        rubric: Rubric::default(),
    };
    (info, reports)
}

/// The variants that hold only text serialise through their derive (a tagged enum cannot
/// tag a bare string: `Other(String)` was a runtime error), in the shape the schema names.
fn text_variants_serialise_by_derive() -> TestResult {
    let other = Cause::Other {
        text: "text".to_owned(),
    };
    let got = serde_json::to_value(&other).map_err(|e| e.to_string())?;
    ensure(
        got == serde_json::json!({"kind": "other", "text": "text"}),
        format!("Cause::Other as {got}"),
    )?;
    for (e, kind) in [
        (
            HarnessError::Survivors {
                what: "pid 9".to_owned(),
            },
            "survivors",
        ),
        (
            HarnessError::Other {
                what: "no /proc".to_owned(),
            },
            "other",
        ),
    ] {
        let got = report::json::error_value(&e);
        let want = serde_json::json!({"kind": kind, "message": e.to_string()});
        ensure(got == want, format!("{e:?} as {got}, not {want}"))?;
    }
    Ok(Completion::Completed)
}

fn every_format_validates_for_every_outcome() -> TestResult {
    let (info, reports) = synthetic();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let json = report::render(Format::Json, &info, &reports);
    validate(&schema("report.schema.json")?, "JSON report", &json)?;
    // The schema can fail: a report without its version or with a merged message does not pass.
    let mut broken: Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    if let Some(o) = broken.as_object_mut() {
        o.remove("schema_version");
    }
    broken["checks"][1]["expected"] = Value::Null;
    // Marks are on the transcript's clock (its first event is at 0 here).
    let mark = &broken["checks"][0]["marks"][0];
    ensure(
        mark["kind"] == "window" && mark["from_ms"] == 2 && mark["to_ms"] == 8,
        format!("the first timing mark in JSON is {mark}"),
    )?;
    broken["checks"][0]["marks"][1]["kind"] = Value::from("sometime");
    let errors = schema("report.schema.json")?.iter_errors(&broken).count();
    ensure(
        errors >= 3,
        format!("a broken report gave {errors} schema errors"),
    )?;
    validate(
        &schema("gradescope-results.schema.json")?,
        "Gradescope results",
        &report::render(Format::Gradescope, &info, &reports),
    )?;
    let zero = conformance::report::gradescope::zero("build failed", 18.0, 3);
    validate(
        &schema("gradescope-results.schema.json")?,
        "zero-score Gradescope results",
        &serde_json::to_string(&zero).map_err(|e| e.to_string())?,
    )?;
    let html = report::render(Format::Html, &info, &reports);
    self_contained(&html)?;
    ensure(
        !html.contains("<b>") && html.contains("&lt;b&gt;"),
        "HTML does not escape subject output",
    )?;
    let human = report::render(Format::Human, &info, &reports);
    ensure(
        human.lines().filter(|l| l.contains("1 blocked")).count() == 2
            && human.contains("BLOCK hello."),
        format!("blocked is not shown in the human report:\n{human}"),
    )?;
    ensure(
        human.trim_end().lines().last().is_some_and(|l| {
            l.starts_with("FAIL (") && l.contains("1 passed") && l.contains("1.5 s")
        }),
        format!("last human line: {:?}", human.lines().last()),
    )?;
    if !have("xmllint") {
        return Ok(Completion::ignored_with(
            "xmllint not installed (Debian: apt-get install libxml2-utils): JSON checked, JUnit not",
        ));
    }
    let xml = dir.path().join("junit.xml");
    std::fs::write(&xml, report::render(Format::Junit, &info, &reports))
        .map_err(|e| e.to_string())?;
    xmllint(&xml)?;
    let text = std::fs::read_to_string(&xml).map_err(|e| e.to_string())?;
    // Failed and blocked checks that fail the run: failures; errored ones: errors; skipped:
    // skipped; the rest (informational failures) passed, with the failure in system-out.
    let count = |f: &dyn Fn(&CheckReport) -> bool| reports.iter().filter(|r| f(r)).count();
    let failures = count(&|r| {
        report::fails_run(r, false)
            && matches!(r.outcome, Outcome::Failed(_) | Outcome::Blocked { .. })
    });
    let errors =
        count(&|r| report::fails_run(r, false) && matches!(r.outcome, Outcome::Errored(_)));
    let skipped = count(&|r| matches!(r.outcome, Outcome::Skipped(_)));
    ensure(
        failures > 0 && errors > 0 && skipped > 0,
        "the synthetic run covers every kind",
    )?;
    for (needle, n) in [
        ("<failure", failures),
        ("<error", errors),
        ("<skipped", skipped),
    ] {
        ensure(
            text.matches(needle).count() == n,
            format!("{needle}: {} in\n{text}", text.matches(needle).count()),
        )?;
    }
    Ok(Completion::Completed)
}

/// No script, no external reference: the page opens offline from any folder.
fn self_contained(html: &str) -> Result<(), Failed> {
    let lower = html.to_ascii_lowercase();
    for bad in ["<script", "src=", "<link", "@import", "url("] {
        ensure(!lower.contains(bad), format!("the HTML page holds {bad:?}"))?;
    }
    let external = lower
        .match_indices("href='")
        .any(|(i, _)| !lower[i + 6..].starts_with('#') && !lower[i + 6..].contains("report.html"));
    ensure(!external, "the HTML page links outside itself")
}

/// The `x`, then `width` (or `x2`) attribute of the first SVG element of `class`.
fn svg_shape<'a>(html: &'a str, class: &str) -> Option<(f64, f64, &'a str)> {
    let at = html.find(&format!("class='{class}'"))?;
    let el = &html[at..at + html[at..].find('>')?];
    let attr = |name: &str| -> Option<f64> {
        let i = el.find(&format!(" {name}='"))? + name.len() + 3;
        el[i..i + el[i..].find('\'')?].parse().ok()
    };
    let second = attr("width").or_else(|| attr("x2"))?;
    Some((attr("x").or_else(|| attr("x1"))?, second, el))
}

/// Timing marks are drawn where they belong: a window as a band over its span, a deadline
/// and a judged moment as lines at their offsets, each labelled; a check without marks has
/// no such shapes.
fn html_draws_timing_marks() -> TestResult {
    let (info, mut reports) = synthetic();
    reports[0].details.marks.clear();
    let bare = report::render(Format::Html, &info, &reports[..1]);
    ensure(
        !bare.contains("mark-window") && !bare.contains("mark-deadline"),
        "a check without marks has bands or deadline lines",
    )?;
    let r = &mut reports[0];
    let t0 = r.details.transcript[0].at;
    let marks = Marks::new(t0);
    marks.window(
        "tick 1 window",
        t0 + Duration::from_millis(200),
        t0 + Duration::from_millis(600),
    );
    marks.deadline("closed by (gap + slack)", t0 + Duration::from_millis(800));
    marks.seen("tick 1: 3", t0 + Duration::from_millis(400));
    r.details.started = Some(t0);
    r.details.marks = marks.list();
    r.duration = Duration::from_millis(1000);
    let html = report::render(Format::Html, &info, &reports[..1]);
    self_contained(&html)?;
    // The picture's axis: 70 px of lane names, then 560 px over the check's 1000 ms.
    let px = |ms: f64| 70.0 + ms * 560.0 / 1000.0;
    let near = |a: f64, b: f64| (a - b).abs() < 0.6;
    let (x, width, el) = svg_shape(&html, "mark-window").ok_or("no window band in the SVG")?;
    ensure(
        near(x, px(200.0)) && near(width, px(600.0) - px(200.0)),
        format!("the band is at x {x}, width {width}: {el}"),
    )?;
    let (x, x2, _) = svg_shape(&html, "mark-deadline").ok_or("no deadline line in the SVG")?;
    ensure(
        near(x, px(800.0)) && near(x2, x),
        format!("the deadline line is at {x}..{x2}"),
    )?;
    let (x, _, _) = svg_shape(&html, "mark-seen").ok_or("no line for the tick seen")?;
    ensure(near(x, px(400.0)), format!("the tick seen is at {x}"))?;
    for label in [
        "tick 1 window: 0.20 to 0.60 s",
        "closed by (gap + slack): 0.80 s",
        "tick 1: 3: 0.40 s",
    ] {
        ensure(
            html.contains(&format!(">{label}</text>")),
            format!("no label {label:?} on the picture"),
        )?;
    }
    Ok(Completion::Completed)
}

fn rubric_scores_by_id_glob_and_default() -> TestResult {
    let (_, reports) = synthetic();
    let c = &hello::CHECKS;
    let rubric: Rubric = toml::from_str(&format!(
        "\"{}\" = 5\n\"hello.server.*\" = 2\n\"hello::client::*\" = 0.5\n",
        c[0].id
    ))
    .map_err(|e| e.to_string())?;
    ensure(rubric.max_points(&c[0]) == 5.0, "exact ID wins")?;
    let other_server = c
        .iter()
        .find(|x| x.id != c[0].id && x.role == conformance::check::Role::Server)
        .ok_or("no second server check")?;
    ensure(rubric.max_points(other_server) == 2.0, "glob")?;
    let client = c
        .iter()
        .find(|x| x.role == conformance::check::Role::Client)
        .ok_or("no client check")?;
    ensure(rubric.max_points(client) == 0.5, "glob in the :: spelling")?;
    let default = Rubric::default();
    for x in c.iter() {
        let want = if x.level == Level::Required { 1.0 } else { 0.0 };
        ensure(
            default.max_points(x) == want,
            format!("default for {}", x.id),
        )?;
    }
    for r in &reports {
        let (score, max) = rubric.score(r);
        match r.outcome {
            Outcome::Passed => ensure(score == max && max > 0.0, "passed earns its points")?,
            Outcome::Skipped(_) => ensure(max == 0.0, "skipped is out of the total")?,
            _ => ensure(score == 0.0, format!("{} scores 0", r.outcome.status()))?,
        }
    }
    Ok(Completion::Completed)
}

fn run(args: &[&str], cwd: &Path) -> Result<std::process::Output, Failed> {
    Command::new(CONFORMANCE)
        .args(args)
        .current_dir(cwd)
        .output()
        .map_err(|e| Failed::from(format!("conformance {args:?}: {e}")))
}

fn gate_refuses_empty_selections_and_bad_paths_before_running() -> TestResult {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let marker = dir.path().join("ran");
    // A subject that leaves a mark if the suite ever starts it.
    let script = dir.path().join("server.sh");
    std::fs::write(&script, format!("#!/bin/sh\ntouch {}\n", marker.display()))
        .map_err(|e| e.to_string())?;
    let chmod = Command::new("chmod").arg("+x").arg(&script).status();
    ensure(chmod.is_ok_and(|s| s.success()), "chmod")?;
    let server = script.display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "hello", "--server-cmd", &server, "--only", "nomatch"],
            "no check selected",
        ),
        (
            &["run", "multiclient", "--client-cmd", &server],
            "no check selected",
        ),
        (
            &[
                "run",
                "hello",
                "--server-cmd",
                &server,
                "--output",
                "/nonexistent/x.json",
            ],
            "does not exist",
        ),
        (
            &[
                "run",
                "hello",
                "--server-cmd",
                &server,
                "--report",
                "junit=/nonexistent/j.xml",
            ],
            "does not exist",
        ),
        (
            &["run", "hello", "--report", "yaml=x.yaml"],
            "unknown report format",
        ),
    ];
    for (args, why) in cases {
        let out = run(args, dir.path())?;
        let err = String::from_utf8_lossy(&out.stderr);
        ensure(
            out.status.code() == Some(2) && err.contains(why),
            format!("{args:?}: exit {:?}, stderr {err}", out.status.code()),
        )?;
        ensure(!marker.exists(), format!("{args:?} started the subject"))?;
    }
    // Both spellings select the same check.
    for spelling in ["hello.server.handshake", "hello::server::handshake"] {
        let out = run(
            &[
                "run",
                "hello",
                "--server-cmd",
                &server,
                "--only",
                spelling,
                "--list",
            ],
            dir.path(),
        )?;
        ensure(
            String::from_utf8_lossy(&out.stdout).trim() == "hello.server.handshake",
            format!(
                "--only {spelling} --list: {}",
                String::from_utf8_lossy(&out.stdout)
            ),
        )?;
    }
    Ok(Completion::Completed)
}

/// A real run with failures and skips: all four files validate; the human report on
/// stdout ends with the verdict line.
fn real_run_reports_validate() -> TestResult {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let bin = dir.path().join("server");
    let cc = Command::new("cc")
        .args(["-O2", "-DNO_FFLUSH", "-o"])
        .arg(&bin)
        .arg(root().join("fixtures/impls/hello/tcpserver_iterative.c"))
        .status()
        .map_err(|e| e.to_string())?;
    ensure(cc.success(), "cc")?;
    let p = |n: &str| dir.path().join(n).display().to_string();
    let out = run(
        &[
            "run",
            "hello",
            "--server-cmd",
            &bin.display().to_string(),
            "--model",
            "iterative",
            "--only",
            "hello.server.handshake",
            "--only",
            "hello.server.prints-lines",
            "--only",
            "hello.server.thread-model",
            "--report",
            &format!("json={}", p("r.json")),
            "--report",
            &format!("gradescope={}", p("results.json")),
            "--report",
            &format!("junit={}", p("junit.xml")),
            "--report",
            &format!("html={}", p("report.html")),
        ],
        dir.path(),
    )?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    ensure(
        out.status.code() == Some(1)
            && stdout.trim_end().lines().last().is_some_and(|l| {
                l.starts_with("FAIL (1 required check did not pass): 1 passed, 1 failed, 1 skipped")
            }),
        format!("exit {:?}, stdout:\n{stdout}", out.status.code()),
    )?;
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).map_err(|e| e.to_string());
    let json = read("r.json")?;
    validate(&schema("report.schema.json")?, "r.json", &json)?;
    let v: Value = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    ensure(
        v["score"] == 1.0 && v["max_score"] == 2.0 && v["verdict"] == "fail",
        format!("score {} of {}", v["score"], v["max_score"]),
    )?;
    validate(
        &schema("gradescope-results.schema.json")?,
        "results.json",
        &read("results.json")?,
    )?;
    self_contained(&read("report.html")?)?;
    if have("xmllint") {
        xmllint(&dir.path().join("junit.xml"))?;
    }
    Ok(Completion::Completed)
}

/// Loads an HTML report in headless chromium and takes a screenshot (skips without
/// chromium; `docs/ci/screenshot-report.sh` is the same by hand).
fn html_renders_in_headless_chromium() -> TestResult {
    let Some(browser) = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|b| have(b))
    else {
        return Ok(Completion::ignored_with(
            "chromium not installed (Debian: apt-get install chromium): HTML not rendered",
        ));
    };
    let (info, reports) = synthetic();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let page = dir.path().join("report.html");
    std::fs::write(&page, report::render(Format::Html, &info, &reports))
        .map_err(|e| e.to_string())?;
    let shot = dir.path().join("report.png");
    let profile = dir.path().join("profile");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1000,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut status = None;
    conformance::driver::wait_until(Duration::from_secs(120), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        return Err("chromium did not finish within 120 s".into());
    }
    let png = std::fs::read(&shot).map_err(|e| format!("no screenshot: {e}"))?;
    ensure(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        format!("screenshot of {} bytes", png.len()),
    )?;
    Ok(Completion::Completed)
}

/// Every report trial.
pub fn trials() -> Vec<Trial> {
    let tests: Vec<Test> = vec![
        (
            "formats::every_format_validates_for_every_outcome",
            every_format_validates_for_every_outcome,
        ),
        (
            "formats::text_variants_serialise_by_derive",
            text_variants_serialise_by_derive,
        ),
        (
            "formats::real_run_reports_validate",
            real_run_reports_validate,
        ),
        (
            "formats::html_renders_in_headless_chromium",
            html_renders_in_headless_chromium,
        ),
        ("formats::html_draws_timing_marks", html_draws_timing_marks),
        (
            "points::rubric_scores_by_id_glob_and_default",
            rubric_scores_by_id_glob_and_default,
        ),
        (
            "gate::refuses_empty_selections_and_bad_paths_before_running",
            gate_refuses_empty_selections_and_bad_paths_before_running,
        ),
    ];
    tests
        .into_iter()
        .map(|(name, f)| crate::timed_ignorable(format!("reports::{name}"), f))
        .collect()
}
