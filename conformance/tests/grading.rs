//! Grading tests: `conformance grade` on fixtures/submissions (in shards, merged, re-run
//! without grading again) into a gradebook whose rows, scores and verdicts are asserted; the
//! Gradescope bundle run end to end in a simulated /autograder (AUTOGRADER_ROOT); the GitHub
//! Classroom workflow of docs/ci parsed as YAML. A module of the self-test binary
//! (selftest.rs): its trials are `grading::...`, run in the self-test's pool
//! (`cargo test --test selftest -- grading::`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Failed, Trial};
use serde_json::Value;

type TestResult = Result<(), Failed>;

/// A test's name and body.
type Test = (&'static str, fn() -> TestResult);

const CONFORMANCE: &str = env!("CARGO_BIN_EXE_conformance");

fn ensure(cond: bool, msg: impl std::fmt::Display) -> TestResult {
    if cond { Ok(()) } else { Err(Failed::from(msg)) }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn io<T>(r: std::io::Result<T>, what: &str) -> Result<T, Failed> {
    r.map_err(|e| Failed::from(format!("{what}: {e}")))
}

/// Copies a folder, following symlinks (the fixtures link to fixtures/impls sources), so
/// that builds write into a temporary folder, never into the repository.
fn copy_tree(from: &Path, to: &Path) -> TestResult {
    io(std::fs::create_dir_all(to), "mkdir")?;
    for e in io(std::fs::read_dir(from), "read_dir")? {
        let e = io(e, "entry")?;
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            io(std::fs::copy(&src, &dst), "copy")?;
        }
    }
    Ok(())
}

/// The assignment's fixture submissions, copied to `dir`: (config, submission folders).
fn submissions(suite: &str, dir: &Path) -> Result<(PathBuf, Vec<PathBuf>), Failed> {
    let to = dir.join(suite);
    copy_tree(&root().join("fixtures/submissions").join(suite), &to)?;
    let mut subs: Vec<PathBuf> = io(std::fs::read_dir(&to), "read_dir")?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subs.sort();
    Ok((to.join("grade.toml"), subs))
}

fn grade(args: &[&str], dirs: &[PathBuf]) -> Result<String, Failed> {
    grade_in(&std::env::temp_dir(), args, dirs)
}

/// `conformance grade` run in `cwd` (relative --out and folders are taken from there).
fn grade_in(cwd: &Path, args: &[&str], dirs: &[PathBuf]) -> Result<String, Failed> {
    let out = io(
        Command::new(CONFORMANCE)
            .arg("grade")
            .args(args)
            .args(dirs)
            .current_dir(cwd)
            .output(),
        "conformance grade",
    )?;
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    ensure(
        out.status.success(),
        format!("grade {args:?}: {}\n{err}", out.status),
    )?;
    Ok(err)
}

/// grades.csv as submission -> (score, max, verdict, build, failed).
fn gradebook(out: &Path) -> Result<BTreeMap<String, [String; 5]>, Failed> {
    let mut r = csv::Reader::from_path(out.join("grades.csv"))
        .map_err(|e| Failed::from(format!("grades.csv: {e}")))?;
    let mut rows = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.map_err(|e| Failed::from(e.to_string()))?;
        let f = |i: usize| rec.get(i).unwrap_or("").to_owned();
        rows.insert(f(0), [f(1), f(2), f(3), f(4), f(6)]);
    }
    Ok(rows)
}

fn row(score: &str, max: &str, verdict: &str, build: &str, failed: &[&str]) -> [String; 5] {
    [
        score.to_owned(),
        max.to_owned(),
        verdict.to_owned(),
        build.to_owned(),
        failed.join(" "),
    ]
}

fn hello_expected() -> BTreeMap<String, [String; 5]> {
    let all = [
        "hello.server.handshake",
        "hello.server.prints-lines",
        "hello.server.sequence-values",
        "hello.server.wrong-z-error",
        "hello.server.no-error-on-correct-z",
    ];
    BTreeMap::from([
        ("good-c".to_owned(), row("7", "7", "pass", "ok", &[])),
        ("good-py".to_owned(), row("7", "7", "pass", "ok", &[])),
        (
            "missing-program".to_owned(),
            row("0", "7", "fail", "missing-program", &[]),
        ),
        (
            "no-compile".to_owned(),
            row("0", "7", "fail", "failed", &[]),
        ),
        // The lines sit in the stdio buffer: prints-lines fails, and the checks that read the
        // ERROR line are blocked by it (0 points each); the replies are right.
        (
            "no-fflush".to_owned(),
            row("4", "7", "fail", "ok", &[all[1], all[3], all[4]]),
        ),
        // No handshake is right: handshake fails, every other check is blocked by it.
        (
            "wrong-increment".to_owned(),
            row("0", "7", "fail", "ok", &all),
        ),
    ])
}

fn hello_gradebook_in_shards_merged_and_not_graded_twice() -> TestResult {
    let tmp = io(tempfile::tempdir(), "tempdir")?;
    let (config, subs) = submissions("hello", tmp.path())?;
    let config = config.display().to_string();
    let (a, b, merged) = (
        tmp.path().join("shard1"),
        tmp.path().join("shard2"),
        tmp.path().join("grades"),
    );
    for (k, out) in [("1/2", &a), ("2/2", &b)] {
        let o = out.display().to_string();
        grade(
            &["--config", &config, "--out", &o, "--shard", k, "-j", "4"],
            &subs,
        )?;
    }
    let (ra, rb) = (gradebook(&a)?, gradebook(&b)?);
    ensure(
        ra.len() == 3 && rb.len() == 3 && ra.keys().all(|k| !rb.contains_key(k)),
        format!("shards: {:?} / {:?}", ra.keys(), rb.keys()),
    )?;
    grade(
        &["--merge", "--out", &merged.display().to_string()],
        &[a.clone(), b.clone()],
    )?;
    let rows = gradebook(&merged)?;
    ensure(
        rows == hello_expected(),
        format!("gradebook:\n{rows:#?}\nexpected:\n{:#?}", hello_expected()),
    )?;
    // Reasons are told, and every submission has its files.
    let csv = io(std::fs::read_to_string(merged.join("grades.csv")), "csv")?;
    ensure(
        csv.contains("build failed") && csv.contains("missing program: ./tcpserver"),
        format!("reasons missing:\n{csv}"),
    )?;
    for name in rows.keys() {
        for f in [
            "grade.json",
            "results.json",
            "junit.xml",
            "report.html",
            "build.log",
        ] {
            ensure(
                merged.join(name).join(f).is_file(),
                format!("{name}/{f} missing"),
            )?;
        }
    }
    let index = io(std::fs::read_to_string(merged.join("index.html")), "index")?;
    ensure(
        index.contains("no-fflush/report.html") && index.contains("hello.server.prints-lines"),
        "index.html lacks submissions or checks",
    )?;
    let json: Value = serde_json::from_str(&io(
        std::fs::read_to_string(merged.join("grades.json")),
        "grades.json",
    )?)
    .map_err(|e| Failed::from(e.to_string()))?;
    ensure(
        json.as_array().is_some_and(|r| r.len() == 6),
        "grades.json rows",
    )?;
    // Again without --force: nothing is graded twice, the gradebook stays.
    let log = grade(
        &[
            "--config",
            &config,
            "--out",
            &a.display().to_string(),
            "--shard",
            "1/2",
        ],
        &subs,
    )?;
    ensure(
        log.matches("graded before").count() == 3,
        format!("re-run log:\n{log}"),
    )?;
    ensure(gradebook(&a)? == ra, "the re-run changed the gradebook")?;
    // Under another config (here: one more comment) the same folders are graded anew.
    let other = tmp.path().join("other.toml");
    let text = io(std::fs::read_to_string(&config), "config")?;
    io(std::fs::write(&other, text + "# changed\n"), "config")?;
    let log = grade(
        &[
            "--config",
            &other.display().to_string(),
            "--out",
            &a.display().to_string(),
            "--shard",
            "1/2",
        ],
        &subs,
    )?;
    ensure(
        !log.contains("graded before") && gradebook(&a)? == ra,
        format!("another config's re-run:\n{log}"),
    )
}

/// Grades an assignment's fixture submissions in one run and compares the gradebook.
fn assignment_gradebook(suite: &str, want: BTreeMap<String, [String; 5]>) -> TestResult {
    let tmp = io(tempfile::tempdir(), "tempdir")?;
    let (config, subs) = submissions(suite, tmp.path())?;
    let out = tmp.path().join("grades");
    grade(
        &[
            "--config",
            &config.display().to_string(),
            "--out",
            &out.display().to_string(),
            "-j",
            "4",
        ],
        &subs,
    )?;
    let rows = gradebook(&out)?;
    ensure(
        rows == want,
        format!("{suite} gradebook:\n{rows:#?}\nexpected:\n{want:#?}"),
    )
}

fn framed_gradebook() -> TestResult {
    let all = [
        "framed.server.echo-small",
        "framed.server.echo-large",
        "framed.server.pieces",
        "framed.server.next-client-after-close",
    ];
    assignment_gradebook(
        "framed",
        BTreeMap::from([
            ("good-c".to_owned(), row("8", "8", "pass", "ok", &[])),
            ("good-py".to_owned(), row("8", "8", "pass", "ok", &[])),
            // Lengths read in host byte order: no frame is ever right.
            ("no-ntohl".to_owned(), row("0", "8", "fail", "ok", &all)),
            // One recv() per frame: large or split frames are cut.
            (
                "single-recv".to_owned(),
                row("4", "8", "fail", "ok", &all[1..3]),
            ),
        ]),
    )
}

fn messages_gradebook() -> TestResult {
    assignment_gradebook(
        "messages",
        BTreeMap::from([
            ("good-c".to_owned(), row("9", "9", "pass", "ok", &[])),
            ("good-py".to_owned(), row("9", "9", "pass", "ok", &[])),
            // Stores a create with a wrong MagicNo: one server check, 1 point.
            (
                "no-magic-check".to_owned(),
                row("8", "9", "fail", "ok", &["messages.server.bad-magic"]),
            ),
            // The client's read request is little-endian: two client checks at 2 points.
            (
                "client-magic-le".to_owned(),
                row(
                    "5",
                    "9",
                    "fail",
                    "ok",
                    &["messages.client.read-record", "messages.client.utf8"],
                ),
            ),
        ]),
    )
}

fn multiclient_gradebook() -> TestResult {
    assignment_gradebook(
        "multiclient",
        BTreeMap::from([
            ("good-c".to_owned(), row("3", "3", "pass", "ok", &[])),
            ("good-py".to_owned(), row("3", "3", "pass", "ok", &[])),
            // The count is printed before it is decremented on a disconnect.
            (
                "count-before-decrement".to_owned(),
                row(
                    "1",
                    "3",
                    "fail",
                    "ok",
                    &[
                        "multiclient.server.disconnect-line",
                        "multiclient.server.ids-never-reused",
                    ],
                ),
            ),
        ]),
    )
}

/// Unpacks the bundle as Gradescope does (into /autograder/source), puts a submission in
/// /autograder/submission and runs run_autograder; returns results.json.
fn autograde(zip_path: &Path, submission: &Path) -> Result<Value, Failed> {
    let tmp = io(tempfile::tempdir(), "tempdir")?;
    let root = tmp.path().join("autograder");
    let file = io(std::fs::File::open(zip_path), "open zip")?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| Failed::from(e.to_string()))?;
    archive
        .extract(root.join("source"))
        .map_err(|e| Failed::from(e.to_string()))?;
    copy_tree(submission, &root.join("submission"))?;
    let out = io(
        Command::new("bash")
            .arg(root.join("source/run_autograder"))
            .env("AUTOGRADER_ROOT", &root)
            .current_dir(&root)
            .output(),
        "run_autograder",
    )?;
    let text = std::fs::read_to_string(root.join("results/results.json")).map_err(|e| {
        Failed::from(format!(
            "no results.json ({e}); run_autograder: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    serde_json::from_str(&text).map_err(|e| Failed::from(format!("results.json: {e}")))
}

fn gradescope_bundle_runs_in_a_simulated_autograder() -> TestResult {
    let tmp = io(tempfile::tempdir(), "tempdir")?;
    let (config, subs) = submissions("hello", tmp.path())?;
    let zip_path = tmp.path().join("autograder.zip");
    let out = io(
        Command::new(CONFORMANCE)
            .args(["gradescope-bundle", "--config"])
            .arg(&config)
            .arg("-o")
            .arg(&zip_path)
            .output(),
        "gradescope-bundle",
    )?;
    ensure(out.status.success(), format!("bundle: {}", out.status))?;
    let archive = zip::ZipArchive::new(io(std::fs::File::open(&zip_path), "zip")?)
        .map_err(|e| Failed::from(e.to_string()))?;
    let names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.into_owned())
        .collect();
    for want in ["setup.sh", "run_autograder", "grade.toml", "conformance"] {
        ensure(
            names.iter().any(|n| n == want),
            format!("{want} not in the zip: {names:?}"),
        )?;
    }
    let schema_text = io(
        std::fs::read_to_string(root().join("docs/gradescope-results.schema.json")),
        "schema",
    )?;
    let schema: Value =
        serde_json::from_str(&schema_text).map_err(|e| Failed::from(e.to_string()))?;
    let validator = jsonschema::validator_for(&schema).map_err(|e| Failed::from(e.to_string()))?;
    let by_name = |n: &str| subs.iter().find(|p| p.ends_with(n)).cloned();
    let good = autograde(&zip_path, &by_name("good-c").ok_or("no good-c")?)?;
    ensure(validator.is_valid(&good), format!("invalid: {good}"))?;
    ensure(
        good["score"] == 7.0 && good["tests"].as_array().is_some_and(|t| t.len() == 5),
        format!("good-c results: {good}"),
    )?;
    let broken = autograde(&zip_path, &by_name("no-compile").ok_or("no no-compile")?)?;
    ensure(validator.is_valid(&broken), format!("invalid: {broken}"))?;
    ensure(
        broken["score"] == 0.0
            && broken["output"]
                .as_str()
                .is_some_and(|o| o.contains("build failed")),
        format!("no-compile results: {broken}"),
    )
}

fn classroom_workflow_is_valid_yaml_with_its_steps() -> TestResult {
    let path = root().join("docs/ci/github-classroom.yml");
    let text = io(std::fs::read_to_string(&path), "workflow")?;
    let y: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| Failed::from(format!("not YAML: {e}")))?;
    let on = &y["on"];
    ensure(
        !on["push"].is_null() || on.get("push").is_some(),
        "runs on push",
    )?;
    let steps = y["jobs"]["conformance"]["steps"]
        .as_sequence()
        .ok_or("no jobs.conformance.steps")?;
    let uses = |prefix: &str| {
        steps
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(prefix)))
    };
    ensure(uses("actions/checkout@").is_some(), "no checkout step")?;
    let run = steps
        .iter()
        .filter_map(|s| s["run"].as_str())
        .find(|r| r.contains("conformance run"))
        .ok_or("no step runs the suite")?;
    ensure(
        run.contains("--report junit=conformance-junit.xml"),
        "the suite step writes no JUnit",
    )?;
    let publish = uses("mikepenz/action-junit-report@").ok_or("no JUnit publishing step")?;
    ensure(
        publish["with"]["report_paths"].as_str() == Some("conformance-junit.xml")
            && publish["if"].as_str() == Some("always()"),
        "the publishing step must read the JUnit file even when the suite failed",
    )
}

/// Gradescope's image is Ubuntu 22.04: the bundled binary may need no glibc symbol newer
/// than 2.35 (this build's profile links like the release one). Without objdump there is
/// nothing to read, and the test says so by passing with a note on stderr.
fn binary_needs_no_glibc_newer_than_ubuntu_22_04() -> TestResult {
    let Ok(out) = Command::new("objdump").arg("-T").arg(CONFORMANCE).output() else {
        eprintln!("objdump not installed (binutils): glibc versions not checked");
        return Ok(());
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut newest = (0u32, 0u32);
    for word in text.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        if let Some(v) = word.strip_prefix("GLIBC_")
            && let Some((major, minor)) = v.split_once('.')
        {
            let minor = minor.split('.').next().unwrap_or(minor);
            if let (Ok(a), Ok(b)) = (major.parse(), minor.parse()) {
                newest = newest.max((a, b));
            }
        }
    }
    ensure(
        newest > (2, 0),
        format!("no GLIBC symbol versions read:\n{text:.400}"),
    )?;
    ensure(
        newest <= (2, 35),
        format!(
            "the binary needs GLIBC_{}.{}: it would not start on Gradescope's Ubuntu 22.04 (2.35)",
            newest.0, newest.1
        ),
    )
}

fn config_refuses_typos_and_maps_limits() -> TestResult {
    use conformance::grade::Config;
    let base = "suite = \"hello\"\n[run]\nserver = \"./tcpserver\"\n";
    let ok = Config::parse(&format!(
        "{base}limits = {{ memory = \"256M\", cpu-time = 10 }}\n[points]\n\"hello.server.*\" = 2\n"
    ))
    .map_err(Failed::from)?;
    ensure(
        ok.run.limit_flags() == ["--cpu-time", "10", "--memory", "256M"],
        format!("{:?}", ok.run.limit_flags()),
    )?;
    ensure(
        ok.max_score() > 0.0 && ok.checks().iter().all(|c| c.suite == "hello"),
        "max score",
    )?;
    for (bad, why) in [
        (
            format!("{base}[points]\n\"hello.server.handshak\" = 2\n"),
            "match no check",
        ),
        (format!("{base}slak = 3\n"), "unknown field"),
        (
            "suite = \"helo\"\n[run]\nserver = \"./s\"\n".to_owned(),
            "unknown suite",
        ),
        (
            "suite = \"hello\"\n[run]\n".to_owned(),
            "neither a server nor a client",
        ),
        (format!("{base}only = [\"nomatch\"]\n"), "no check selected"),
    ] {
        match Config::parse(&bad) {
            Ok(_) => return Err(format!("accepted:\n{bad}").into()),
            Err(e) => ensure(e.contains(why), format!("{bad}\n-> {e}"))?,
        }
    }
    Ok(())
}

/// Every grading trial.
pub fn trials() -> Vec<Trial> {
    let tests: Vec<Test> = vec![
        (
            "grade::hello_gradebook_in_shards_merged_and_not_graded_twice",
            hello_gradebook_in_shards_merged_and_not_graded_twice,
        ),
        (
            "grade::config_refuses_typos_and_maps_limits",
            config_refuses_typos_and_maps_limits,
        ),
        ("grade::framed_gradebook", framed_gradebook),
        ("grade::messages_gradebook", messages_gradebook),
        ("grade::multiclient_gradebook", multiclient_gradebook),
        (
            "bundle::gradescope_bundle_runs_in_a_simulated_autograder",
            gradescope_bundle_runs_in_a_simulated_autograder,
        ),
        (
            "bundle::binary_needs_no_glibc_newer_than_ubuntu_22_04",
            binary_needs_no_glibc_newer_than_ubuntu_22_04,
        ),
        (
            "ci::classroom_workflow_is_valid_yaml_with_its_steps",
            classroom_workflow_is_valid_yaml_with_its_steps,
        ),
    ];
    tests
        .into_iter()
        .map(|(name, f)| crate::timed(format!("grading::{name}"), f))
        .collect()
}
