//! `ivt-explore layout`: a 2D/3D map of a data set (t-SNE, UMAP or PCA), through the cache.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use ivt::knn::{Method, Metric};
use ivt::layout::{self, LayoutInput, LayoutMethod, LayoutParams, cached, tsne, umap};

use super::common::args::{CacheArgs, GraphArgs, InputArgs, choice, npy_output};
use super::common::graph::{Request, graph, imported};
use super::common::load::load;
use super::common::progress::Bar;

/// t-SNE repulsion methods, as the CLI names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TsneGradient {
    Auto,
    Exact,
    BarnesHut,
    Fft,
}

#[derive(Debug, Args)]
pub struct LayoutArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    graph: GraphArgs,
    #[arg(long, default_value = "umap", value_parser = super::common::args::layout_method(["tsne", "umap", "pca"]))]
    method: LayoutMethod,
    /// Distance in the original space, for the kNN graph t-SNE and UMAP start from.
    #[arg(long, value_parser = choice::<Metric>(), default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// 2 or 3.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
    dims: u8,
    /// UMAP: neighbours per item, the item itself included (as umap-learn counts).
    #[arg(long = "n-neighbors", default_value_t = 15, value_parser = clap::value_parser!(u32).range(2..))]
    n_neighbors: u32,
    /// UMAP: minimum distance between points in the layout.
    #[arg(long, default_value_t = 0.1)]
    min_dist: f64,
    /// UMAP: scale of the embedded points.
    #[arg(long, default_value_t = 1.0)]
    spread: f64,
    /// UMAP: optimisation epochs (default 500 up to 10,000 items, 200 above).
    #[arg(long)]
    epochs: Option<usize>,
    /// t-SNE: effective number of neighbours (the kNN graph gets 3 × perplexity).
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    /// t-SNE: iterations in all, early exaggeration included.
    #[arg(long, default_value_t = 750)]
    n_iter: usize,
    /// t-SNE: early exaggeration factor (for the first --exaggeration-iter iterations).
    #[arg(long, default_value_t = 12.0)]
    exaggeration: f64,
    /// t-SNE: iterations of early exaggeration.
    #[arg(long, default_value_t = 250)]
    exaggeration_iter: usize,
    /// t-SNE: learning rate (default: openTSNE's N / exaggeration in each phase).
    #[arg(long)]
    learning_rate: Option<f64>,
    /// t-SNE: degrees of freedom of the output kernel (1: standard; below 1: heavier tails,
    /// finer clusters).
    #[arg(long, default_value_t = 1.0)]
    dof: f64,
    /// t-SNE: how the repulsive forces are computed (auto: exact below 1,000 items, FFT
    /// interpolation in 2D from 10,000, Barnes-Hut otherwise).
    #[arg(long, value_enum, default_value_t = TsneGradient::Auto)]
    tsne_gradient: TsneGradient,
    /// t-SNE: Barnes-Hut opening angle (0: exact; larger: faster, coarser repulsion; default
    /// 0.5 in 2D, 1.0 in 3D).
    #[arg(long)]
    theta: Option<f64>,
    /// Seed: the same seed gives the same t-SNE layout. UMAP's SGD runs on all cores and varies
    /// slightly from run to run; with RAYON_NUM_THREADS=1 it is exactly reproducible too.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output coordinates (.npy, float32, N × dims); written atomically.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

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
    npy_output(&args.output)?;
    let params = params(args)?;
    let data = load(&args.input, &args.cache.cache())?;
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
    let given = imported(&args.graph, f, args.metric)?;
    // Widened once for a float16 matrix; the key and the layout read the same copy.
    let values = f.values();
    // The same key as the explorer's for the same data and settings (`layout::cached`).
    let source = match &given {
        Some(g) => cached::GraphSource::Given(&g.graph),
        None => cached::GraphSource::Shared(args.metric),
    };
    let key = cached::key(&values, f.dim(), &params, source);
    let name = args.method.label();
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
                let request = Request {
                    k: cached::graph_k(&params, n),
                    metric: args.metric,
                    method: Method::Auto {
                        max_exact_work: ivt::knn::DEFAULT_MAX_EXACT_WORK,
                    },
                    pca: None,
                    target_recall: None,
                };
                Some(graph(f, &request, &cache)?)
            }
        };
        let start = Instant::now();
        let input = LayoutInput {
            features: &values,
            dim: f.dim(),
            knn: graph.as_ref(),
            init: None,
        };
        let bar = Bar::new(name);
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
