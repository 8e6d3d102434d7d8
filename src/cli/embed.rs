//! `ivt-explore embed`: an image folder's features computed by an ONNX encoder (cached, as
//! `--model` on every command computes them: `common::load`), written as .npy.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ivt::dataset;

use super::common::args::{CacheArgs, InputArgs, npy_output};
use super::common::load::load;

#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Output features (.npy, float32, one row per image in the order `open FEATURES --images DIR`
    /// pairs them).
    #[arg(short, long, value_name = "FILE.npy")]
    output: PathBuf,
}

pub fn run(args: &EmbedArgs) -> anyhow::Result<ExitCode> {
    if args.input.model.model.is_none() {
        anyhow::bail!("embed needs an encoder: --model ENCODER.onnx");
    }
    npy_output(&args.output)?;
    let data = load(&args.input, &args.cache.cache())?;
    let f = &data.features;
    ivt::npy::write(&args.output, &[f.n_items(), f.dim()], &f.values())
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    eprintln!(
        "wrote {} ({} × {} float32); open it with `ivt-explore open {} --images {}`",
        args.output.display(),
        f.n_items(),
        f.dim(),
        args.output.display(),
        match &data.images {
            dataset::Images::Files(files) => files.root.display().to_string(),
            _ => "DIR".to_owned(),
        }
    );
    Ok(ExitCode::SUCCESS)
}
