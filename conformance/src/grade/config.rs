//! grade.toml: what to build, what to run, with which options, for how many points.
//!
//! ```toml
//! suite = "hello"                 # or ["hello", "framed"]
//! model = "iterative"
//! [build]
//! commands = ["make"]             # run in each submission folder (sh -c)
//! timeout = 120                   # seconds for all of them
//! [run]
//! server = "./tcpserver"          # omit a role to skip it
//! client = "./tcpclient"
//! only = ["hello.server.*"]       # optional selection, as `conformance run --only/--skip`
//! skip = []
//! slack = 2
//! strict = false
//! period = 60
//! port = 5000                     # for programs that hard-code it
//! timeout = 900                   # seconds for the whole run of one submission
//! limits = { memory = "256M", cpu-time = 10 }   # `--memory 256M --cpu-time 10` for the run
//! args = []                       # more `conformance run` flags, verbatim
//! [points]
//! "hello.server.handshake" = 3
//! "hello.server.*" = 1
//! ```

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::check::{Check, Model, Role};
use crate::report::Rubric;
use crate::report::points::matches;
use crate::suites;

/// One suite or several.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Suites {
    /// `suite = "hello"`.
    One(String),
    /// `suite = ["hello", "framed"]`.
    Many(Vec<String>),
}

/// `[build]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// Shell commands run in order inside the submission folder.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Seconds for all of them.
    #[serde(default = "default_build_timeout")]
    pub timeout: f64,
}

impl Default for Build {
    fn default() -> Build {
        Build {
            commands: Vec::new(),
            timeout: default_build_timeout(),
        }
    }
}

fn default_build_timeout() -> f64 {
    120.0
}

fn default_run_timeout() -> f64 {
    900.0
}

/// `[run]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Run {
    /// The server command, relative to the submission folder.
    pub server: Option<String>,
    /// The client command.
    pub client: Option<String>,
    /// `--only` patterns.
    #[serde(default)]
    pub only: Vec<String>,
    /// `--skip` patterns.
    #[serde(default)]
    pub skip: Vec<String>,
    /// `--slack` seconds.
    pub slack: Option<f64>,
    /// `--strict`.
    #[serde(default)]
    pub strict: bool,
    /// `--period` seconds.
    pub period: Option<f64>,
    /// `--port`.
    pub port: Option<u16>,
    /// Checks at once per submission (the grader caps it by its own budget).
    pub jobs: Option<usize>,
    /// Seconds for the whole run of one submission.
    #[serde(default = "default_run_timeout")]
    pub timeout: f64,
    /// Resource limits: each `name = value` becomes `--name value` of `conformance run`
    /// (whatever limits it has: `conformance run --help`).
    #[serde(default)]
    pub limits: std::collections::BTreeMap<String, toml::Value>,
    /// More flags for `conformance run`, verbatim.
    #[serde(default)]
    pub args: Vec<String>,
}

impl Run {
    /// `limits` as `conformance run` flags.
    pub fn limit_flags(&self) -> Vec<String> {
        self.limits
            .iter()
            .flat_map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                [format!("--{k}"), v]
            })
            .collect()
    }
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The suite(s).
    pub suite: Suites,
    /// The server model.
    pub model: Option<String>,
    /// How to build a submission.
    #[serde(default)]
    pub build: Build,
    /// How to run it.
    pub run: Run,
    /// Points.
    #[serde(default)]
    pub points: Rubric,
}

fn secs(what: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && v > 0.0 && v <= 86_400.0 {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{what} takes seconds (more than 0), not {v}"))
    }
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Config::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks a config's text.
    pub fn parse(text: &str) -> Result<Config, String> {
        let c: Config = toml::from_str(text).map_err(|e| e.to_string())?;
        for s in c.suite_names() {
            if suites::find(&s).is_none() {
                return Err(format!("unknown suite {s:?}"));
            }
        }
        if let Some(m) = &c.model
            && Model::parse(m).is_none()
        {
            return Err(format!(
                "unknown model {m:?} (iterative, threaded, event-driven)"
            ));
        }
        if c.run.server.is_none() && c.run.client.is_none() {
            return Err("[run] names neither a server nor a client".to_owned());
        }
        secs("[build] timeout", c.build.timeout)?;
        secs("[run] timeout", c.run.timeout)?;
        let all: Vec<&Check> = c
            .suite_names()
            .iter()
            .filter_map(|s| suites::find(s))
            .flat_map(|s| s.checks.iter())
            .collect();
        let unknown = c.points.unknown_entries(&all);
        if !unknown.is_empty() {
            return Err(format!(
                "[points] entries match no check of the suite: {}",
                unknown.join(", ")
            ));
        }
        if c.checks().is_empty() {
            return Err("no check selected by suite, roles, model and [run] only/skip".to_owned());
        }
        Ok(c)
    }

    /// The suites by name.
    pub fn suite_names(&self) -> Vec<String> {
        match &self.suite {
            Suites::One(s) => vec![s.clone()],
            Suites::Many(v) => v.clone(),
        }
    }

    /// The model.
    pub fn model(&self) -> Option<Model> {
        self.model.as_deref().and_then(Model::parse)
    }

    /// The build timeout.
    pub fn build_timeout(&self) -> Duration {
        secs("", self.build.timeout).unwrap_or(Duration::from_secs(120))
    }

    /// The run timeout.
    pub fn run_timeout(&self) -> Duration {
        secs("", self.run.timeout).unwrap_or(Duration::from_secs(900))
    }

    /// The checks a run selects and that apply to the model (what points are possible).
    pub fn checks(&self) -> Vec<&'static Check> {
        let mut roles = Vec::new();
        if self.run.server.is_some() {
            roles.push(Role::Server);
        }
        if self.run.client.is_some() {
            roles.push(Role::Client);
        }
        let model = self.model();
        self.suite_names()
            .iter()
            .filter_map(|s| suites::find(s))
            .flat_map(|s| s.checks.iter())
            .filter(|c| roles.contains(&c.role))
            .filter(|c| self.run.only.is_empty() || self.run.only.iter().any(|p| matches(p, c.id)))
            .filter(|c| !self.run.skip.iter().any(|p| matches(p, c.id)))
            .filter(|c| c.applies_to(model))
            .collect()
    }

    /// The points possible.
    pub fn max_score(&self) -> f64 {
        self.checks()
            .iter()
            .map(|c| self.points.max_points(c))
            .sum()
    }
}
