//! `ivt-explore layout`: a 2D/3D map of a data set (PCA or UMAP; t-SNE arrives with issue #4).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use ivt::knn::{Method, Metric};
use ivt::layout::{affinity, pca, umap};
use ivt::progress::Observer;

use super::{LayoutArgs, LayoutMethod};

pub fn run(args: &LayoutArgs) -> anyhow::Result<ExitCode> {
    if args.method == LayoutMethod::Tsne {
        eprintln!(
            "error: t-SNE layouts are not built yet (issue #4); use --method umap or --method pca"
        );
        return Ok(ExitCode::from(super::EXIT_NOT_YET));
    }
    if !(args.min_dist >= 0.0 && args.spread > 0.0 && args.min_dist <= args.spread) {
        bail!(
            "--min-dist must be in [0, --spread] and --spread positive (got {} and {})",
            args.min_dist,
            args.spread
        );
    }
    let data = super::info::load_timed(&args.input.spec())?;
    let dims = usize::from(args.dims);
    let f = &data.features;
    if f.dim() < dims {
        bail!(
            "the features have {} dimension(s); a {dims}D layout needs at least {dims}",
            f.dim()
        );
    }
    let start = Instant::now();
    let mut coords = pca::fit(f.as_slice(), f.dim(), dims)
        .context("cannot compute the PCA initialisation")?
        .transform(f.as_slice());
    if args.method == LayoutMethod::Umap {
        let k = args.n_neighbors as usize - 1;
        let request = super::knn::Request {
            k,
            metric: Metric::Euclidean,
            method: Method::Auto {
                max_exact_work: ivt::knn::DEFAULT_MAX_EXACT_WORK,
            },
            pca: None,
        };
        let graph = super::knn::graph(f, &request, &args.cache.cache())?;
        let weights = affinity::umap_affinities(&graph);
        umap::scale_init(&mut coords);
        let params = umap::UmapParams {
            dims,
            min_dist: args.min_dist,
            spread: args.spread,
            epochs: args.epochs,
            seed: args.seed,
            ..umap::UmapParams::default()
        };
        let total = params.n_epochs(f.n_items()) as u64;
        let bar = super::knn::Bar::new("UMAP epochs");
        umap::optimize(&weights, &mut coords, &params, |epoch, _| {
            bar.progress(epoch as u64, total);
        });
    }
    eprintln!(
        "{:?} {dims}D layout of {} items in {:.2} s",
        args.method,
        f.n_items(),
        start.elapsed().as_secs_f64()
    );
    ivt::npy::write(&args.output, &[f.n_items(), dims], &coords)?;
    eprintln!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
