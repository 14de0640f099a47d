//! The flags the cargo test harnesses take out of argv before libtest-mimic sees the rest
//! (`cargo test -- --server-cmd ./tcpserver hello::server`), with the environment
//! fallbacks cargo-nextest needs (it passes no custom flags).

/// Our flags, found in a harness's argv.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HarnessArgs {
    /// `--suite S` / CONFORMANCE_SUITE.
    pub suite: Option<String>,
    /// `--server-cmd CMD` / CONFORMANCE_SERVER_CMD.
    pub server_cmd: Option<String>,
    /// `--client-cmd CMD` / CONFORMANCE_CLIENT_CMD.
    pub client_cmd: Option<String>,
    /// `--model M` / CONFORMANCE_MODEL.
    pub model: Option<String>,
    /// `--slack SECS`.
    pub slack: Option<String>,
    /// `--period SECS`.
    pub period: Option<String>,
    /// `--strict`: recommended checks fail too.
    pub strict: bool,
    /// Everything else, for libtest-mimic (argv[0] first).
    pub rest: Vec<String>,
}

/// Flags with a value that we take.
const OURS: &[&str] = &[
    "--suite",
    "--server-cmd",
    "--client-cmd",
    "--model",
    "--slack",
    "--period",
];

/// libtest flags that take a value (so that value is no filter).
const LIBTEST_VALUED: &[&str] = &[
    "--skip",
    "--test-threads",
    "--format",
    "--color",
    "--logfile",
    "-Z",
];

/// Splits argv into our flags and libtest's (`--flag value` and `--flag=value` both work).
/// A flag of ours without its value is an error.
pub fn split(argv: impl IntoIterator<Item = String>) -> Result<HarnessArgs, String> {
    let mut out = HarnessArgs::default();
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if OURS.contains(&n) => (n.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        if name == "--strict" {
            out.strict = true;
            continue;
        }
        if !OURS.contains(&name.as_str()) {
            out.rest.push(a);
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        let slot = match name.as_str() {
            "--suite" => &mut out.suite,
            "--server-cmd" => &mut out.server_cmd,
            "--client-cmd" => &mut out.client_cmd,
            "--model" => &mut out.model,
            "--slack" => &mut out.slack,
            _ => &mut out.period,
        };
        *slot = Some(value);
    }
    Ok(out)
}

impl HarnessArgs {
    /// Fills what the flags left unset from CONFORMANCE_* variables.
    pub fn with_env(mut self, get: impl Fn(&str) -> Option<String>) -> HarnessArgs {
        let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        self.suite = self.suite.or_else(|| non_empty(get("CONFORMANCE_SUITE")));
        self.server_cmd = self
            .server_cmd
            .or_else(|| non_empty(get("CONFORMANCE_SERVER_CMD")));
        self.client_cmd = self
            .client_cmd
            .or_else(|| non_empty(get("CONFORMANCE_CLIENT_CMD")));
        self.model = self.model.or_else(|| non_empty(get("CONFORMANCE_MODEL")));
        self
    }

    /// The positional arguments of libtest's part: the name filters.
    pub fn filters(&self) -> Vec<&str> {
        let mut out = Vec::new();
        let mut it = self.rest.iter().skip(1);
        while let Some(a) = it.next() {
            if LIBTEST_VALUED.contains(&a.as_str()) {
                it.next();
            } else if !a.starts_with('-') {
                out.push(a.as_str());
            }
        }
        out
    }

    /// The suite to run: `--suite`, else the one a filter names (`framed::`), else
    /// `hello` when a command is given, else None (every suite, against the references).
    pub fn chosen_suite(&self, suites: &[&str]) -> Option<String> {
        if let Some(s) = &self.suite {
            return Some(s.clone());
        }
        for f in self.filters() {
            let head = f.split("::").next().unwrap_or(f);
            if suites.contains(&head) {
                return Some(head.to_owned());
            }
        }
        if self.server_cmd.is_some() || self.client_cmd.is_some() {
            return Some("hello".to_owned());
        }
        None
    }
}
