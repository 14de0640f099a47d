//! The conformance engine: a registry of checks ([`check`], [`suites`]), the driver that
//! runs subjects and plays their peers ([`driver`]), timing ([`timing`]), reports
//! ([`report`]) and the flags shared by the CLI and the cargo test harness ([`args`]).
//! See docs/checks.md for every check and conformance/src/suites/README.md for writing one.

pub mod args;
pub mod check;
pub mod driver;
pub mod fuzz;
pub mod grade;
pub mod interop;
pub mod report;
pub mod suites;
pub mod timing;

pub use check::{
    Check, CheckResult, Failure, Level, Model, Outcome, Role, Stop, fail, harness_error,
};
