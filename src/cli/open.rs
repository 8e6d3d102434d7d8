//! `ivt-explore open` (and no subcommand: the demo): load, check, and hand over to the viewer.

use std::process::ExitCode;

use ivt::dataset::{self, DataSource, InputSpec};

use super::OpenArgs;

pub fn run_demo() -> anyhow::Result<ExitCode> {
    open(&InputSpec::new(DataSource::Demo))
}

pub fn run(args: &OpenArgs) -> anyhow::Result<ExitCode> {
    open(&args.input.spec())
}

fn open(spec: &InputSpec) -> anyhow::Result<ExitCode> {
    let data = super::info::load_timed(spec)?;
    super::info::print_summary(&data);
    view(data)
}

#[cfg(feature = "viewer")]
fn view(data: dataset::Dataset) -> anyhow::Result<ExitCode> {
    match ivt::viewer::run(data) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ ivt::viewer::ViewerError::NotYet) => {
            eprintln!("\n{e}");
            Ok(ExitCode::from(super::EXIT_NOT_YET))
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot open the explorer")),
    }
}

#[cfg(not(feature = "viewer"))]
fn view(_data: dataset::Dataset) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "this ivt-explore was built without the explorer (cargo feature `viewer`); \
         the headless subcommands (info, knn, layout, ...) work"
    )
}
