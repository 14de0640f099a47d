//! `conformance gradescope-bundle`: a Gradescope autograder zip (their layout:
//! <https://gradescope-autograders.readthedocs.io/en/latest/specs/>) holding `setup.sh`,
//! `run_autograder`, this very binary and the grading config. `run_autograder` grades
//! `/autograder/submission` with `conformance grade` and copies its results.json to
//! `/autograder/results/results.json`; a build failure or missing program gives the
//! zero-score results.json with the reason that `grade` writes. `AUTOGRADER_ROOT` moves
//! `/autograder` (the end-to-end test runs the bundle in a temporary folder).
//!
//! The binary must run on Gradescope's Ubuntu 22.04 image (glibc 2.35): see docs/grading.md
//! for the symbol-version check of the release build.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use zip::write::SimpleFileOptions;

/// `conformance gradescope-bundle`.
#[derive(clap::Args, Debug)]
pub struct BundleArgs {
    /// The grading config (grade.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The zip to write.
    #[arg(
        short = 'o',
        long,
        value_name = "FILE",
        default_value = "autograder.zip"
    )]
    pub output: PathBuf,
    /// The conformance binary to bundle (default: this one).
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
}

/// setup.sh: runs once, as root, when Gradescope builds the image.
pub const SETUP_SH: &str = r#"#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04).
# The compilers and interpreters student submissions need; the grader is the bundled
# binary (built for glibc <= 2.35, see docs/grading.md), so no Rust toolchain is needed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends gcc make libc6-dev python3
chmod +x /autograder/source/conformance /autograder/source/run_autograder
"#;

/// run_autograder: runs for every submission.
pub const RUN_AUTOGRADER: &str = r#"#!/usr/bin/env bash
# Gradescope runs this for every submission: grade /autograder/submission with the bundled
# suite and leave /autograder/results/results.json. AUTOGRADER_ROOT replaces /autograder
# (tests run the bundle in a temporary folder).
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SRC="$ROOT/source"
RESULTS="$ROOT/results"
mkdir -p "$RESULTS"
OUT="$(mktemp -d)"
"$SRC/conformance" grade --config "$SRC/grade.toml" --out "$OUT" --force --jobs 4 \
    "$ROOT/submission" 2>&1 | tee "$RESULTS/grade.log"
if [ -s "$OUT/submission/results.json" ]; then
    cp "$OUT/submission/results.json" "$RESULTS/results.json"
    cp "$OUT/submission/report.txt" "$RESULTS/report.txt" 2>/dev/null || true
else
    # The grader itself failed (never the student's fault): zero with the reason, for staff.
    printf '%s\n' '{"score": 0, "output": "The autograder could not grade this submission (a problem of the grader, not of your program); course staff will look at it.", "stdout_visibility": "hidden", "tests": []}' \
        > "$RESULTS/results.json"
fi
rm -rf "$OUT"
"#;

/// Writes the bundle.
pub fn bundle(a: BundleArgs) -> ExitCode {
    match write_bundle(&a) {
        Ok(()) => {
            eprintln!("conformance: wrote {}", a.output.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("conformance gradescope-bundle: {e}");
            ExitCode::from(2)
        }
    }
}

fn write_bundle(a: &BundleArgs) -> Result<(), String> {
    // A config that does not load here would fail on every submission there.
    super::Config::load(&a.config)?;
    let config = std::fs::read(&a.config).map_err(|e| format!("{}: {e}", a.config.display()))?;
    let binary = match &a.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe().map_err(|e| e.to_string())?,
    };
    let exe = std::fs::read(&binary).map_err(|e| format!("{}: {e}", binary.display()))?;
    let file = std::fs::File::create(&a.output)
        .map_err(|e| format!("cannot write {}: {e}", a.output.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    // Fast deflate: the binary is most of the zip, and level 1 is within a few percent of 9.
    let exec = SimpleFileOptions::default()
        .compression_level(Some(1))
        .unix_permissions(0o755);
    let plain = SimpleFileOptions::default().unix_permissions(0o644);
    let entries: [(&str, &[u8], SimpleFileOptions); 4] = [
        ("setup.sh", SETUP_SH.as_bytes(), exec),
        ("run_autograder", RUN_AUTOGRADER.as_bytes(), exec),
        ("grade.toml", &config, plain),
        ("conformance", &exe, exec),
    ];
    for (name, bytes, opts) in entries {
        zip.start_file(name, opts).map_err(|e| e.to_string())?;
        zip.write_all(bytes).map_err(|e| e.to_string())?;
    }
    zip.finish().map_err(|e| e.to_string())?;
    Ok(())
}
