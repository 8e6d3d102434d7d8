//! The `ivt-explore` binary as a test runs it, and its output as text.

use std::process::{Command, Output};

/// Run `ivt-explore ARGS`: never with a display, whatever the developer's session has (a test
/// must not open a window).
pub fn ivt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ivt-explore"))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
