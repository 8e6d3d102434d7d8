//! `ivt-explore export-projector`: a data set as TensorBoard projector files.

use std::process::ExitCode;

use anyhow::Context;
use ivt::dataset::Images;
use ivt::projector::write::{ExportOptions, export};

use super::ExportProjectorArgs;
use super::knn::Bar;

pub fn run(args: &ExportProjectorArgs) -> anyhow::Result<ExitCode> {
    let cache = args.cache.cache();
    let mut data = super::embed::load(&args.input, &cache)?;
    if args.no_sprite {
        data.images = Images::None;
    }
    let clusters = match args.clusters {
        Some(k) => {
            let bar = Bar::new("clusters");
            let got = ivt::cluster::cached(
                data.features.as_slice(),
                data.features.dim(),
                ivt::cluster::Linkage::Ward,
                &cache,
                &bar,
            )
            .context("cannot cluster")?;
            drop(bar);
            Some(got.dendrogram.cut(k)?)
        }
        None => None,
    };
    let options = ExportOptions {
        tensor_name: args
            .tensor_name
            .clone()
            .unwrap_or_else(|| data.name.clone()),
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
