//! `ivt-explore layout`: a 2D/3D map of a data set (t-SNE, UMAP or PCA), through the cache.

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use ivt::knn::Method;
use ivt::layout::{self, LayoutInput, LayoutParams, cached, tsne, umap};

use super::{LayoutArgs, LayoutMethod, TsneGradient};

fn params(args: &LayoutArgs) -> anyhow::Result<LayoutParams> {
    let dims = usize::from(args.dims);
    Ok(match args.method {
        LayoutMethod::Pca => LayoutParams::Pca { dims },
        LayoutMethod::Umap => LayoutParams::umap(
            umap::UmapParams {
                dims,
                min_dist: args.min_dist,
                spread: args.spread,
                epochs: args.epochs,
                seed: args.seed,
                ..umap::UmapParams::default()
            },
            args.n_neighbors as usize,
        )
        .context("invalid UMAP parameters (--min-dist, --spread, --n-neighbors, --epochs)")?,
        LayoutMethod::Tsne => LayoutParams::Tsne(
            tsne::params()
                .dims(dims)
                .perplexity(args.perplexity)
                .n_iter(args.n_iter)
                .early_exaggeration(args.exaggeration, args.exaggeration_iter)
                .learning_rate(args.learning_rate)
                .dof(args.dof)
                .theta(args.theta)
                .seed(args.seed)
                .gradient(match args.tsne_gradient {
                    TsneGradient::Auto => tsne::Gradient::Auto,
                    TsneGradient::Exact => tsne::Gradient::Exact,
                    TsneGradient::BarnesHut => tsne::Gradient::BarnesHut,
                    TsneGradient::Fft => tsne::Gradient::Fft,
                })
                .check()
                .context("invalid t-SNE parameters")?,
        ),
    })
}

pub fn run(args: &LayoutArgs) -> anyhow::Result<ExitCode> {
    super::npy_output(&args.output)?;
    let params = params(args)?;
    let data = super::embed::load(&args.input, &args.cache.cache())?;
    let dims = params.dims();
    let f = &data.features;
    let n = f.n_items();
    if f.dim() < dims && !matches!(params, LayoutParams::Tsne(_)) {
        bail!(
            "the features have {} dimension(s); a {dims}D layout needs at least {dims}",
            f.dim()
        );
    }
    let cache = args.cache.cache();
    let given = super::knn::imported(&args.graph, f, args.metric)?;
    // Widened once for a float16 matrix; the key and the layout read the same copy.
    let values = f.values();
    // The same key as the explorer's for the same data and settings (`layout::cached`).
    let source = match &given {
        Some(g) => cached::GraphSource::Given(&g.graph),
        None => cached::GraphSource::Shared(args.metric),
    };
    let key = cached::key(&values, f.dim(), &params, source);
    let name = match args.method {
        LayoutMethod::Tsne => "t-SNE",
        LayoutMethod::Umap => "UMAP",
        LayoutMethod::Pca => "PCA",
    };
    let label = format!("{name} {dims}D");
    let (found, warning) = cached::load(&cache, &key, n, dims);
    if let Some(w) = warning {
        eprintln!("warning: {w}");
    }
    let layout = if let Some(l) = found {
        eprintln!("{}", cached::Origin::Cache.describe(&label));
        l
    } else {
        let graph = match (params.knn_k(n), &given) {
            (None, _) => None,
            (Some(k), Some(g)) => {
                let what = match args.method {
                    LayoutMethod::Tsne => "t-SNE at this --perplexity (3 × perplexity)",
                    _ => "UMAP at this --n-neighbors (n_neighbors − 1)",
                };
                Some(g.enough(k, what)?)
            }
            // The shared graph, as the explorer computes it: one kNN cache entry for both.
            (Some(_), None) => {
                let request = super::knn::Request {
                    k: cached::graph_k(&params, n),
                    metric: args.metric,
                    method: Method::Auto {
                        max_exact_work: ivt::knn::DEFAULT_MAX_EXACT_WORK,
                    },
                    pca: None,
                };
                Some(super::knn::graph(f, &request, &cache)?)
            }
        };
        let start = Instant::now();
        let input = LayoutInput {
            features: &values,
            dim: f.dim(),
            knn: graph.as_ref(),
        };
        let bar = super::knn::Bar::new(name);
        let mut last_kl = None;
        let layout = layout::compute_layout(&input, &params, &bar, &mut |step| {
            if let Some(kl) = step.loss {
                bar.set_message(format!("{name}: iterations, KL {kl:.4}"));
                last_kl = Some(kl);
            }
            ControlFlow::Continue(())
        })
        .with_context(|| format!("cannot compute the {name} layout"))?;
        drop(bar);
        let secs = start.elapsed().as_secs_f64();
        let kl = last_kl.map_or(String::new(), |kl| format!(" (KL {kl:.4})"));
        eprintln!(
            "{} ({n} items){kl}",
            cached::Origin::Computed { secs }.describe(&label)
        );
        // A cache that cannot be written costs time next run, not this result; the failure
        // is reported once for the whole run (`ivt::cache::take_notices`).
        let _ = cached::store(&cache, &key, &layout);
        layout
    };
    ivt::npy::write(&args.output, &[n, dims], &layout.coords)?;
    eprintln!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
