//! The `ivt-explore` binary: the command line of `ivt::cli`, which prints its own errors.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(ivt::cli::main(std::env::args_os()))
}
