//! The `ivt-explore` binary: parses arguments and dispatches to `cli/`; errors are printed
//! here, once, with their cause chain.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
