//! The flags the cargo test harnesses take out of argv before libtest-mimic sees the rest
//! (`cargo test -- --server-cmd ./tcpserver hello::server`), with the environment
//! fallbacks cargo-nextest needs (it passes no custom flags). [`FLAGS`] is the one table of
//! them: the suite's harness, the engine tests and the self-test all split argv with it.

/// One flag of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// `--server-cmd`.
    pub name: &'static str,
    /// The environment variable read when the flag is absent (nextest).
    pub env: &'static str,
    /// Whether a value follows (`--slack 5`, `--slack=5`); else a switch (`--strict`).
    pub takes_value: bool,
    /// What it does.
    pub help: &'static str,
}

/// Every flag the harnesses take, in the order `--help` texts list them.
pub const FLAGS: &[Flag] = &[
    Flag {
        name: "--suite",
        env: "CONFORMANCE_SUITE",
        takes_value: true,
        help: "the suite to run (default: the one a filter names, else hello with a command)",
    },
    Flag {
        name: "--server-cmd",
        env: "CONFORMANCE_SERVER_CMD",
        takes_value: true,
        help: "your server's command line",
    },
    Flag {
        name: "--client-cmd",
        env: "CONFORMANCE_CLIENT_CMD",
        takes_value: true,
        help: "your client's command line",
    },
    Flag {
        name: "--model",
        env: "CONFORMANCE_MODEL",
        takes_value: true,
        help: "iterative, threaded or event-driven",
    },
    Flag {
        name: "--slack",
        env: "CONFORMANCE_SLACK",
        takes_value: true,
        help: "extra seconds on every deadline",
    },
    Flag {
        name: "--period",
        env: "CONFORMANCE_PERIOD",
        takes_value: true,
        help: "the periodic interval the server was built with (multiclient)",
    },
    Flag {
        name: "--port",
        env: "CONFORMANCE_PORT",
        takes_value: true,
        help: "the port a server hard-codes (checks then run one at a time)",
    },
    Flag {
        name: "--strict",
        env: "CONFORMANCE_STRICT",
        takes_value: false,
        help: "recommended checks fail the run too",
    },
];

/// The flag named `name` (`--slack`), if it is ours.
pub fn flag(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.name == name)
}

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
    /// `--slack SECS` / CONFORMANCE_SLACK.
    pub slack: Option<String>,
    /// `--period SECS` / CONFORMANCE_PERIOD.
    pub period: Option<String>,
    /// `--port N` / CONFORMANCE_PORT.
    pub port: Option<String>,
    /// `--strict` / CONFORMANCE_STRICT (any value but empty, 0, false, no).
    pub strict: bool,
    /// Everything else, for libtest-mimic (argv[0] first).
    pub rest: Vec<String>,
}

/// libtest flags that take a value (so that value is no filter).
const LIBTEST_VALUED: &[&str] = &[
    "--skip",
    "--test-threads",
    "--format",
    "--color",
    "--logfile",
    "-Z",
];

impl HarnessArgs {
    fn slot(&mut self, name: &str) -> Option<&mut Option<String>> {
        Some(match name {
            "--suite" => &mut self.suite,
            "--server-cmd" => &mut self.server_cmd,
            "--client-cmd" => &mut self.client_cmd,
            "--model" => &mut self.model,
            "--slack" => &mut self.slack,
            "--period" => &mut self.period,
            "--port" => &mut self.port,
            _ => return None,
        })
    }
}

/// Splits argv into our flags and libtest's (`--flag value` and `--flag=value` both work).
/// A flag of ours without its value is an error.
pub fn split(argv: impl IntoIterator<Item = String>) -> Result<HarnessArgs, String> {
    let mut out = HarnessArgs::default();
    let mut it = argv.into_iter();
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if flag(n).is_some() => (n.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        let Some(f) = flag(&name) else {
            out.rest.push(a);
            continue;
        };
        if !f.takes_value {
            out.strict = inline.as_deref().is_none_or(truthy);
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => it.next().ok_or_else(|| format!("{name} needs a value"))?,
        };
        if let Some(slot) = out.slot(f.name) {
            *slot = Some(value);
        }
    }
    Ok(out)
}

fn truthy(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "" | "0" | "false" | "no" | "off"
    )
}

/// A check name in the harness's spelling: `hello.server.x` becomes `hello::server::x`
/// (check IDs hold no other dots), so either spelling selects the same trials.
pub fn trial_spelling(filter: &str) -> String {
    filter.replace('.', "::")
}

/// A check pattern in the ID's spelling: `hello::server::x` becomes `hello.server.x`.
pub fn id_spelling(pattern: &str) -> String {
    pattern.replace("::", ".")
}

impl HarnessArgs {
    /// Fills what the flags left unset from the CONFORMANCE_* variables of [`FLAGS`].
    pub fn with_env(mut self, get: impl Fn(&str) -> Option<String>) -> HarnessArgs {
        for f in FLAGS {
            let Some(v) = get(f.env).filter(|s| !s.trim().is_empty()) else {
                continue;
            };
            if !f.takes_value {
                self.strict = self.strict || truthy(&v);
            } else if let Some(slot) = self.slot(f.name)
                && slot.is_none()
            {
                *slot = Some(v);
            }
        }
        self
    }

    /// Whether a student's program was given: then only the suite's harness has work,
    /// and the engine tests and the self-test run nothing.
    pub fn subject_given(&self) -> bool {
        self.server_cmd.is_some() || self.client_cmd.is_some()
    }

    /// libtest's part with check names in the trials' spelling (filters and `--skip`
    /// values), so `cargo test -- hello.server.handshake` works like `hello::server::handshake`.
    pub fn libtest_args(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.rest.len());
        let mut it = self.rest.iter();
        if let Some(program) = it.next() {
            out.push(program.clone());
        }
        while let Some(a) = it.next() {
            if a == "--skip" {
                out.push(a.clone());
                if let Some(v) = it.next() {
                    out.push(trial_spelling(v));
                }
            } else if let Some(v) = a.strip_prefix("--skip=") {
                out.push(format!("--skip={}", trial_spelling(v)));
            } else if LIBTEST_VALUED.contains(&a.as_str()) {
                out.push(a.clone());
                out.extend(it.next().cloned());
            } else if a.starts_with('-') {
                out.push(a.clone());
            } else {
                out.push(trial_spelling(a));
            }
        }
        out
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

    /// The suite to run: `--suite`, else the one a filter names (`framed::`, `framed.`),
    /// else `hello` when a command is given, else None (every suite, against the references).
    pub fn chosen_suite(&self, suites: &[&str]) -> Option<String> {
        if let Some(s) = &self.suite {
            return Some(s.clone());
        }
        for f in self.filters() {
            let head = f.split([':', '.']).next().unwrap_or(f);
            if suites.contains(&head) {
                return Some(head.to_owned());
            }
        }
        if self.subject_given() {
            return Some("hello".to_owned());
        }
        None
    }
}
