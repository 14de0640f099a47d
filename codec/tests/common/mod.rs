//! Helpers shared by the codec's integration tests: the fixture vectors' byte-string syntax
//! (see fixtures/vectors/README.md) and paths.
#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;

/// The repository root (codec's parent folder).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("codec has a parent folder")
        .to_path_buf()
}

/// Parses the vectors' byte-string syntax: hex (`ae73`), repeats (`61*255`), quoted UTF-8
/// text (`'HELLO 5'`), groups (`[ ... ]*N`).
pub fn parse_bytes(src: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let rest = parse_seq(src, &mut out);
    assert!(rest.trim().is_empty(), "unbalanced ']' in {src:?}");
    out
}

fn parse_seq<'a>(mut s: &'a str, out: &mut Vec<u8>) -> &'a str {
    loop {
        s = s.trim_start();
        if s.is_empty() || s.starts_with(']') {
            return s;
        }
        let start = out.len();
        if let Some(q) = s.strip_prefix('\'') {
            let end = q
                .find('\'')
                .unwrap_or_else(|| panic!("unclosed quote in {s:?}"));
            out.extend_from_slice(&q.as_bytes()[..end]);
            s = &q[end + 1..];
        } else if let Some(g) = s.strip_prefix('[') {
            let after = parse_seq(g, out);
            s = after
                .strip_prefix(']')
                .unwrap_or_else(|| panic!("unclosed '[' in {g:?}"));
        } else {
            let end = s
                .find(|c: char| c.is_whitespace() || c == '*' || c == ']')
                .unwrap_or(s.len());
            let hex = &s[..end];
            assert!(hex.len() % 2 == 0, "odd number of hex digits: {hex:?}");
            for i in (0..hex.len()).step_by(2) {
                out.push(
                    u8::from_str_radix(&hex[i..i + 2], 16)
                        .unwrap_or_else(|_| panic!("bad hex {hex:?}")),
                );
            }
            s = &s[end..];
        }
        // A repeat applies to the token just read.
        if let Some(r) = s.strip_prefix('*') {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            let n: usize = r[..end]
                .parse()
                .unwrap_or_else(|_| panic!("bad repeat count in {r:?}"));
            assert!(n >= 1, "repeat count 0");
            let unit = out[start..].to_vec();
            for _ in 1..n {
                out.extend_from_slice(&unit);
            }
            s = &r[end..];
        }
    }
}
