//! `ivt-explore export-labels`: the labels journal as an ImageFolder tree and a CSV.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use ivt::dataset::Images;
use ivt::labels::{export, journal};

use super::common::args::{InputArgs, choice, configure};
use super::common::load::load;

#[derive(Debug, Args)]
pub struct ExportLabelsArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// The labels folder the explorer wrote (default: ./ivt-labels/<data set name>).
    #[arg(long, value_name = "DIR")]
    labels_out: Option<PathBuf>,
    /// Export folder.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// How exported files refer to the images.
    #[arg(long, value_parser = choice::<ivt::labels::export::ExportMode>(), default_value_t = ivt::labels::export::ExportMode::Copy)]
    mode: ivt::labels::export::ExportMode,
}

pub fn run(args: &ExportLabelsArgs) -> anyhow::Result<ExitCode> {
    let data = load(
        &args.input,
        &configure(ivt::cache::Cache::default_location()),
    )?;
    let dir = args
        .labels_out
        .clone()
        .unwrap_or_else(|| ivt::labels::default_dir(&data.name));
    let (state, warnings) =
        journal::read(&dir, data.n_items()).context("cannot read the labels")?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let Images::Files(files) = &data.images else {
        bail!(
            "{} has no image files to export (its images are {}); labels.csv alone is not written \
             either — give the data set with --images DIR",
            data.name,
            match data.images {
                Images::None => "missing",
                _ => "built into the program",
            }
        );
    };
    if state.is_empty() {
        eprintln!("{}: no labelled items; nothing to export", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let report = export::export(&args.output, &state, &files.paths, args.mode)
        .with_context(|| format!("cannot export to {}", args.output.display()))?;
    for r in &report.refused {
        eprintln!("warning: {r}");
    }
    let counts: Vec<String> = state
        .counts()
        .iter()
        .map(|(l, n)| format!("{l} {n}"))
        .collect();
    eprintln!(
        "exported {} labelled items ({}) to {}: {} added, {} moved, {} removed, {} unchanged{}",
        state.len(),
        counts.join(", "),
        args.output.display(),
        report.added,
        report.moved,
        report.removed,
        report.unchanged,
        if report.renamed > 0 {
            format!(", {} renamed to avoid a name clash", report.renamed)
        } else {
            String::new()
        }
    );
    if !report.refused.is_empty() {
        eprintln!(
            "{} row(s) of the old {} named files outside {} and were left alone (above)",
            report.refused.len(),
            export::MANIFEST,
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
