//! What the integration tests share: how a test that cannot run here says so.
//!
//! libtest has no skip at run time: a test that returns early counts as passed, and what it
//! prints is swallowed with the rest of a passing test's output. So a test that cannot run
//! calls [`skip`], which appends its name and reason to `$IVT_SKIPPED_LOG` (set by `./run test`);
//! `./run` lists those lines and counts them as skipped, not passed, in its closing line.

use std::io::Write;

/// Report that the calling test did not run, and why; the caller then returns. `require`
/// names an environment variable that `./run test` sets once it has installed the missing
/// prerequisite: when it is set, not running is a failure instead.
pub fn skip(reason: &str, require: Option<&str>) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    if let Some(var) = require
        && std::env::var_os(var).is_some()
    {
        panic!("{test}: {reason}, but {var} is set: it should be there");
    }
    eprintln!("SKIPPED {test}: {reason}");
    if let Some(log) = std::env::var_os("IVT_SKIPPED_LOG") {
        let line = format!("{test}: {reason}\n");
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .unwrap_or_else(|e| panic!("cannot record the skip in {}: {e}", log.display()));
    }
}
