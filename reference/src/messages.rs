//! TODO
use std::ffi::OsString;
/// Entry point.
pub fn server_main(_args: &[OsString]) -> i32 {
    2
}
/// Entry point.
pub fn client_main(_args: &[OsString]) -> i32 {
    2
}
