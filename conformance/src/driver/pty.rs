//! The buffering diagnosis: when required output is missing through the pipe, the server
//! is run once more with its stdout on a pseudo-terminal, where C stdio and Python flush
//! every line. Lines that show there but not through the pipe are output left in a stdio
//! buffer (a missing fflush), said exactly so instead of guessed.

use std::io::Read;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};

use super::peer::Transcript;
use super::subject::kill_group;
use super::{Ctx, Launch, procfs, wait_until};
use crate::check::{Role, Stop, harness_error};

impl Ctx {
    /// Runs the server subject once more on a fresh port with its stdout on a pseudo-
    /// terminal (stderr discarded, stdin empty), plays `scenario` against it once it
    /// listens, then waits (response deadline) until `enough` holds for the stdout lines it
    /// showed there, and kills it. None when it did not listen in time.
    pub fn server_on_pty(
        &mut self,
        scenario: impl FnOnce(u16, &Transcript),
        enough: impl Fn(&[String]) -> bool,
    ) -> Result<Option<Vec<String>>, Stop> {
        let port = self.port()?;
        let (mut cmd, display, marker) = self.command(Role::Server, &Launch::new(), port)?;
        let pty_error = |e: std::io::Error| harness_error(format!("cannot open a pty: {e}"));
        let master =
            openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).map_err(|e| pty_error(e.into()))?;
        grantpt(&master).map_err(|e| pty_error(e.into()))?;
        unlockpt(&master).map_err(|e| pty_error(e.into()))?;
        let name = ptsname(&master, Vec::new()).map_err(|e| pty_error(e.into()))?;
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(name.to_string_lossy().as_ref())
            .map_err(pty_error)?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(slave))
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .map_err(|e| harness_error(format!("cannot start `{display}` on a pty: {e}")))?;
        // `cmd` holds the parent's copy of the slave: dropped, the master reads EOF (EIO)
        // once the subject is gone.
        drop(cmd);
        let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        let seen = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&seen);
        let mut reader = std::fs::File::from(master);
        // Detached: it ends when the terminal's last writer is gone (after the kill below).
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().unwrap_or_else(|e| e.into_inner());
                if s.len() < super::output::MAX_STREAM_BYTES {
                    s.extend_from_slice(&buf[..n]);
                }
            }
        });
        let lines = || -> Vec<String> {
            let s = seen.lock().unwrap_or_else(|e| e.into_inner());
            String::from_utf8_lossy(&s)
                .split('\n')
                .map(|l| l.trim_end_matches(['\r', '\0']).to_owned())
                .filter(|l| !l.is_empty())
                .collect()
        };
        let listening = wait_until(self.timing().startup(), || {
            procfs::group_listens_on(pgid, port)
        });
        let result = if listening {
            scenario(port, self.transcript());
            let _ = wait_until(self.timing().response(), || enough(&lines()));
            Some(lines())
        } else {
            None
        };
        let _ = kill_group(pgid, &marker);
        let _ = child.kill();
        let _ = child.wait();
        Ok(result)
    }
}
