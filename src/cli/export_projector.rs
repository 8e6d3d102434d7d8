//! `ivt-explore export-projector`: a data set as TensorBoard projector files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ivt::dataset::Images;
use ivt::projector::write::{ExportOptions, export};

use super::common::args::{CacheArgs, InputArgs, choice};
use super::common::load::load;
use super::common::progress::Bar;

#[derive(Debug, Args)]
pub struct ExportProjectorArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Output log folder for TensorBoard's projector (`tensorboard --logdir LOGDIR`). Files go to
    /// LOGDIR/<name>/; an existing projector_config.pbtxt keeps its other embeddings.
    #[arg(short, long, value_name = "LOGDIR")]
    output: PathBuf,
    /// The embedding's name in TensorBoard (its tensor name in projector_config.pbtxt and the
    /// folder LOGDIR/<NAME>/). Default: the features file's stem (X.npy → X), or the data set
    /// folder's name.
    #[arg(long, value_name = "NAME")]
    tensor_name: Option<String>,
    /// How the tensor is stored: tsv (what every TensorBoard reads) or bytes (raw float32, smaller).
    #[arg(long, value_parser = choice::<ivt::projector::write::TensorFormat>(), default_value_t = ivt::projector::write::TensorFormat::Tsv)]
    tensor_format: ivt::projector::write::TensorFormat,
    /// Add a `cluster` metadata column: ward clusters of the features cut into K.
    #[arg(long, value_name = "K")]
    clusters: Option<usize>,
    /// Leave out the sprite sheet (the images).
    #[arg(long)]
    no_sprite: bool,
}

/// The embedding's name when `--tensor-name` is not given: a features file's stem (`X.npy` →
/// `X`, as TensorBoard users name tensors), else the data set's name (its folder, the demo).
fn default_tensor_name(data: Option<&Path>, dataset_name: &str) -> String {
    data.filter(|p| p.is_file())
        .and_then(Path::file_stem)
        .map_or_else(
            || dataset_name.to_owned(),
            |s| s.to_string_lossy().into_owned(),
        )
}

pub fn run(args: &ExportProjectorArgs) -> anyhow::Result<ExitCode> {
    let cache = args.cache.cache();
    let mut data = load(&args.input, &cache)?;
    if args.no_sprite {
        data.images = Images::None;
    }
    let clusters = match args.clusters {
        Some(k) => {
            let bar = Bar::new("clusters");
            let got = ivt::cluster::cached(
                &data.features.values(),
                data.features.dim(),
                ivt::cluster::Linkage::Ward,
                &cache,
                &bar,
            )
            .context("cannot cluster")?;
            drop(bar);
            Some(
                got.dendrogram
                    .cut(k)
                    .with_context(|| format!("--clusters {k}"))?,
            )
        }
        None => None,
    };
    let options = ExportOptions {
        tensor_name: args
            .tensor_name
            .clone()
            .unwrap_or_else(|| default_tensor_name(args.input.data.as_deref(), &data.name)),
        format: args.tensor_format,
        max_sprite_px: ivt::projector::MAX_SPRITE_PX,
        clusters,
    };
    let started = std::time::Instant::now();
    let report = export(&data, &args.output, &options)
        .with_context(|| format!("cannot export to {}", args.output.display()))?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for f in &report.files {
        eprintln!("wrote {}", f.display());
    }
    eprintln!(
        "exported {} points × {} dims as {:?}{} in {:.2} s; view with `tensorboard --logdir {}` (Projector tab) or `ivt-explore open {}`",
        data.n_items(),
        data.features.dim(),
        options.tensor_name,
        report
            .cell_px
            .map_or_else(String::new, |c| format!(" with a sprite of {c} px cells")),
        started.elapsed().as_secs_f64(),
        args.output.display(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_features_file_names_the_tensor_by_its_stem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("X.npy");
        std::fs::write(&file, b"").expect("write");
        assert_eq!(default_tensor_name(Some(&file), "X.npy"), "X");
        // A folder keeps its whole name, dots included; no path: the data set's name.
        let folder = dir.path().join("run.v2");
        std::fs::create_dir(&folder).expect("mkdir");
        assert_eq!(default_tensor_name(Some(&folder), "run.v2"), "run.v2");
        assert_eq!(default_tensor_name(None, "demo"), "demo");
    }
}
