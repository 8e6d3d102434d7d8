//! The `ivt-explore` binary: parses arguments and dispatches to `cli/`; errors are printed
//! here, once, with their cause chain.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let result = cli::run();
    // What the cache had to say (a write that failed, entries removed to stay within its
    // limit): once, whatever the command's outcome.
    for notice in ivt::cache::take_notices() {
        match notice {
            ivt::cache::Notice::Info(text) => eprintln!("note: {text}"),
            ivt::cache::Notice::Warning(text) => eprintln!("warning: {text}"),
        }
    }
    match result {
        Ok(code) => code,
        Err(_) if cli::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) => {
            // The computation stopped because it was asked to, not because anything failed.
            eprintln!("cancelled (Ctrl+C): no file was left half-written");
            ExitCode::from(cli::INTERRUPTED_EXIT)
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
