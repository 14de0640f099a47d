//! Replays every file under fuzz/corpus/<target>/ and fuzz/artifacts/<target>/ (when present)
//! through the fuzz targets' own checks (codec::fuzzing), on stable: a fuzz finding becomes a
//! regression test as soon as its file is committed.

mod common;

use codec::fuzzing;
use std::path::Path;

fn replay(dir: &Path, target: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for entry in entries {
        let path = entry.expect("read_dir entry").path();
        if !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).expect("read corpus file");
        let ok = std::panic::catch_unwind(|| fuzzing::run(target, &data));
        match ok {
            Ok(true) => n += 1,
            Ok(false) => panic!("unknown fuzz target {target}"),
            Err(_) => panic!(
                "{} fails the {target} check (its panic is printed above)",
                path.display()
            ),
        }
    }
    n
}

#[test]
fn corpus_and_artifacts_pass_the_fuzz_checks() {
    let fuzz = common::repo_root().join("fuzz");
    for target in fuzzing::TARGETS {
        let seeds = replay(&fuzz.join("corpus").join(target), target);
        replay(&fuzz.join("artifacts").join(target), target);
        assert!(
            seeds > 0,
            "fuzz/corpus/{target}/ has no seed (regenerate: see fuzz/README.md)"
        );
    }
}

#[test]
fn every_target_has_a_fuzz_binary() {
    let fuzz = common::repo_root().join("fuzz");
    for target in fuzzing::TARGETS {
        let src = fuzz.join("fuzz_targets").join(format!("{target}.rs"));
        let text =
            std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        assert!(
            text.contains(&format!("codec::fuzzing::{target}(")),
            "{} does not call its check",
            src.display()
        );
    }
    assert!(!fuzzing::run("no-such-target", b""));
}
