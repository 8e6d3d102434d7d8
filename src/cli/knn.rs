//! `ivt-explore knn`: the k-nearest-neighbour graph of a data set, through the cache.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ivt::cache::{Cache, CacheKey, Lookup};
use ivt::dataset::Features;
use ivt::knn::{self, KnnGraph, Method, Metric, NnDescentParams};
use ivt::progress::Observer;

use super::KnnArgs;

pub fn run(args: &KnnArgs) -> anyhow::Result<ExitCode> {
    let method = match (args.exact, args.approx) {
        (true, _) => Method::Exact,
        (_, true) => Method::Approximate,
        _ => Method::Auto {
            max_exact_work: knn::DEFAULT_MAX_EXACT_WORK,
        },
    };
    let cache = args.cache.cache();
    let keeps_nothing = args.output.is_none() && args.distances_out.is_none() && !args.check_recall;
    if keeps_nothing && cache.dir().is_none() {
        anyhow::bail!(
            "nothing would keep the graph: give -o FILE (and/or --distances-out FILE), or drop --no-cache"
        );
    }
    let data = super::info::load_timed(&args.input.spec())?;
    let request = Request {
        k: args.k,
        metric: args.metric,
        method,
        pca: args.pca,
    };
    let graph = graph(&data.features, &request, &cache)?;
    if args.check_recall {
        let exact = if request.pca.is_none() && method.is_exact(data.n_items(), data.features.dim())
        {
            graph.clone()
        } else {
            let truth = Request {
                method: Method::Exact,
                pca: None,
                ..request
            };
            self::graph(&data.features, &truth, &cache)?
        };
        println!("recall@{} {:.4}", args.k, knn::recall(&graph, &exact));
    }
    if let Some(out) = &args.output {
        let indices: Vec<i64> = graph.indices.iter().map(|&j| i64::from(j)).collect();
        ivt::npy::write(out, &[graph.n_items(), graph.k], &indices)?;
        eprintln!("wrote {}", out.display());
    }
    if let Some(out) = &args.distances_out {
        ivt::npy::write(out, &[graph.n_items(), graph.k], &graph.distances)?;
        eprintln!("wrote {}", out.display());
    }
    if args.output.is_none() && args.distances_out.is_none() {
        eprintln!("(no -o given: the graph is in the cache only)");
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on stderr when it is a terminal; silent otherwise (logs, tests).
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(what: &str) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta} left)")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_owned());
        Self(bar)
    }

    /// Replace the text before the bar (e.g. the current loss).
    pub fn set_message(&self, what: String) {
        self.0.set_message(what);
    }
}

impl Observer for Bar {
    fn progress(&self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// What graph to build.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub k: usize,
    pub metric: Metric,
    pub method: Method,
    /// Reduce to this many principal components first (an approximation).
    pub pca: Option<usize>,
}

/// The graph for these features and parameters: from the cache, or computed and stored.
pub fn graph(features: &Features, req: &Request, cache: &Cache) -> anyhow::Result<KnnGraph> {
    let Request {
        k,
        metric,
        method,
        pca,
    } = *req;
    let searched_dim = pca.unwrap_or(features.dim());
    let exact = method.is_exact(features.n_items(), searched_dim);
    let search = if exact {
        "exact".to_owned()
    } else {
        format!("nn-descent {:?}", NnDescentParams::for_k(k))
    };
    let reduction = pca.map_or(String::new(), |p| format!(" pca={p}"));
    let params = format!(
        "{search}{reduction} k={k} metric={} v{}",
        metric.name(),
        knn::ALGORITHM_VERSION
    );
    let key = CacheKey::new("knn", features.as_slice(), features.dim(), &params);
    match cache.load(&key) {
        Lookup::Hit(bytes) => match KnnGraph::from_bytes(&bytes) {
            Some(g) if g.n_items() == features.n_items() && g.k == k && g.metric == metric => {
                eprintln!("kNN graph ({params}) from the cache");
                return Ok(g);
            }
            _ => eprintln!("warning: cached kNN graph {key} does not fit this data; recomputing"),
        },
        Lookup::Corrupt { path, reason } => {
            eprintln!(
                "warning: ignoring cache entry {}: {reason}; recomputing",
                path.display()
            );
        }
        Lookup::Miss => {}
    }
    let start = Instant::now();
    let reduced;
    let (data, dim) = match pca {
        Some(p) => {
            let fitted = ivt::layout::pca::fit(features.as_slice(), features.dim(), p)
                .context("cannot reduce the features with PCA")?;
            eprintln!(
                "PCA to {p} dimensions keeps {:.1}% of the variance (neighbours are approximate)",
                100.0 * fitted.explained_ratio()
            );
            reduced = fitted.transform(features.as_slice());
            (reduced.as_slice(), p)
        }
        None => (features.as_slice(), features.dim()),
    };
    let g = {
        let bar = Bar::new("kNN");
        // `knn` decides exact or not from the searched dimension, as `exact` above did.
        knn::knn(data, dim, k, metric, method, &bar).context("cannot compute the kNN graph")?
    };
    eprintln!(
        "kNN graph ({params}) of {} items in {:.2} s",
        features.n_items(),
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = cache.store(&key, &g.to_bytes()) {
        // A cache that cannot be written costs time next run, not this result.
        eprintln!("warning: {:#}", anyhow::Error::new(e));
    }
    Ok(g)
}
