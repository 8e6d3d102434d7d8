//! The `ivt-explore` binary: parses arguments and dispatches to `cli/`; errors are printed
//! here, once, with their cause chain.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
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
