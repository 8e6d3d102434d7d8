//! `ivt-explore thumbs`: build (or bring up to date) the thumbnail cache of a data set's images,
//! so the explorer opens with every thumbnail ready; `--threads` measures the speed-up.

use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ivt::dataset::Images;

use super::common::args::{CacheArgs, InputArgs, check_thumbnail_px};
use super::common::load::load_probing;
use super::common::progress::Bar;

#[derive(Debug, Args)]
pub struct ThumbsArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Largest thumbnail cell side in pixels (a power of two, 8–256); never above the images'
    /// own size.
    #[arg(long, default_value_t = 128)]
    thumbnail_px: u32,
    /// Decoding threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

pub fn run(args: &ThumbsArgs) -> anyhow::Result<ExitCode> {
    check_thumbnail_px(args.thumbnail_px)?;
    let cache = args.cache.cache();
    // A sample of headers, as the explorer reads: the build reads every image anyway (and
    // lists those it cannot), and the cell size then comes from the same sample, so the
    // explorer finds the cache this built.
    let data = load_probing(&args.input, &cache, ivt::dataset::ProbeScope::Sample)?;
    if matches!(data.images, Images::None) {
        anyhow::bail!("this data set has no images: give --images DIR");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start the decoding threads")?;
    let cell_px = ivt::thumbs::cell_px_for(&data.images, args.thumbnail_px);
    let bar = Bar::new("thumbnails");
    let (store, report) = pool
        .install(|| ivt::thumbs::open_or_build(&data.images, cell_px, &cache, &bar))
        .context("cannot build the thumbnail cache")?;
    drop(bar);
    print_report(&data.images, &store, &report);
    if let Some(reason) = &report.not_kept {
        // Building the cache is this command's whole result.
        anyhow::bail!("the thumbnail cache could not be written ({reason}); nothing was kept");
    }
    eprintln!(
        "{} thumbnails ({} px cells, tiers {:?}) in {:.2} s with {} threads: {} decoded, {} from the cache",
        store.n_items(),
        cell_px,
        store.tiers(),
        report.elapsed_secs,
        pool.current_num_threads(),
        report.decoded,
        report.reused
    );
    if let Some(path) = store.path().filter(|_| cache.dir().is_some()) {
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        eprintln!(
            "cache file {} ({:.1} MB, {} bytes an image)",
            path.display(),
            bytes as f64 / 1e6,
            bytes / store.n_items().max(1) as u64
        );
    }
    for large in store.large_caches() {
        let (slots, used) = large.occupancy();
        eprintln!(
            "{} px cells are made when the explorer zooms in to them: up to {slots} kept in {} ({used} now)",
            large.side(),
            large.path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Warnings, and images that could not be decoded (listed once: the first few, then a count).
pub fn print_report(
    images: &Images,
    store: &ivt::thumbs::ThumbStore,
    report: &ivt::thumbs::BuildReport,
) {
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    for line in ivt::thumbs::failure_lines(images, store, report) {
        eprintln!("warning: {line}");
    }
}
