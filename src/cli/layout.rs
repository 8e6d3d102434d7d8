//! `ivt-explore layout`: a 2D/3D map of a data set (t-SNE, UMAP or PCA), through the cache.

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use ivt::cache::{CacheKey, Lookup};
use ivt::knn::{Method, Metric};
use ivt::layout::{self, Layout, LayoutInput, LayoutParams, tsne, umap};

use super::{LayoutArgs, LayoutMethod, TsneGradient};

/// Bumped whenever what this command stores changes (the algorithms carry their own versions).
const CACHE_FORMAT: u32 = 1;

fn params(args: &LayoutArgs) -> anyhow::Result<LayoutParams> {
    let dims = usize::from(args.dims);
    Ok(match args.method {
        LayoutMethod::Pca => LayoutParams::Pca { dims },
        LayoutMethod::Umap => {
            if !(args.min_dist >= 0.0 && args.spread > 0.0 && args.min_dist <= args.spread) {
                bail!(
                    "--min-dist must be in [0, --spread] and --spread positive (got {} and {})",
                    args.min_dist,
                    args.spread
                );
            }
            LayoutParams::Umap {
                params: umap::UmapParams {
                    dims,
                    min_dist: args.min_dist,
                    spread: args.spread,
                    epochs: args.epochs,
                    seed: args.seed,
                    ..umap::UmapParams::default()
                },
                n_neighbors: args.n_neighbors as usize,
            }
        }
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
    let given = super::knn::imported(&args.graph, f, Metric::Euclidean)?;
    // A layout from a given graph depends on that graph: its hash joins the key.
    let graph_text = given.as_ref().map_or(String::new(), |g| {
        format!(
            " knn-file={}",
            CacheKey::from_parts("graph", &[&g.to_bytes()])
        )
    });
    // Widened once for a float16 matrix; the key and the layout read the same copy.
    let values = f.values();
    let key = CacheKey::new(
        "layout",
        &values,
        f.dim(),
        &format!("{}{graph_text} f{CACHE_FORMAT}", params.cache_text(n)),
    );
    let name = match args.method {
        LayoutMethod::Tsne => "t-SNE",
        LayoutMethod::Umap => "UMAP",
        LayoutMethod::Pca => "PCA",
    };
    let cached = match cache.load(&key) {
        Lookup::Hit(bytes) => match Layout::from_bytes(&bytes) {
            Some(l) if l.dims == dims && l.coords.len() == n * dims => Some(l),
            _ => {
                eprintln!("warning: cached layout {key} does not fit this data; recomputing");
                None
            }
        },
        Lookup::Corrupt { path, reason } => {
            eprintln!(
                "warning: ignoring cache entry {}: {reason}; recomputing",
                path.display()
            );
            None
        }
        Lookup::Miss => None,
    };
    let layout = if let Some(l) = cached {
        eprintln!("{name} {dims}D layout from the cache");
        l
    } else {
        let graph = match params.knn_k(n) {
            Some(k) if given.is_some() => {
                let what = match args.method {
                    LayoutMethod::Tsne => "t-SNE at this --perplexity (3 × perplexity)",
                    _ => "UMAP at this --n-neighbors (n_neighbors − 1)",
                };
                given
                    .as_ref()
                    .map(|g| super::knn::enough(g, k, what))
                    .transpose()?
            }
            Some(k) => {
                let request = super::knn::Request {
                    k,
                    metric: Metric::Euclidean,
                    method: Method::Auto {
                        max_exact_work: ivt::knn::DEFAULT_MAX_EXACT_WORK,
                    },
                    pca: None,
                };
                Some(super::knn::graph(f, &request, &cache)?)
            }
            None => None,
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
        let kl = last_kl.map_or(String::new(), |kl| format!(" (KL {kl:.4})"));
        eprintln!(
            "{name} {dims}D layout of {n} items in {:.2} s{kl}",
            start.elapsed().as_secs_f64()
        );
        // A cache that cannot be written costs time next run, not this result; the failure
        // is reported once for the whole run (`ivt::cache::take_notices`).
        let _ = cache.store(&key, &layout.to_bytes());
        layout
    };
    ivt::npy::write(&args.output, &[n, dims], &layout.coords)?;
    eprintln!("wrote {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}
