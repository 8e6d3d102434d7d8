//! The kNN graph a command works on: given with `--knn` (checked against the features), or
//! from the cache, or computed; what happened reported on stderr.

use anyhow::Context;
use ivt::cache::Cache;
use ivt::dataset::Features;
use ivt::knn::{self, KnnGraph};

use super::args::GraphArgs;
use super::progress::Bar;

pub use ivt::knn::cached::Request;

/// what was done to it on the way in reported on stderr; `None` when no graph was given.
pub fn imported(
    args: &GraphArgs,
    features: &Features,
    metric: ivt::knn::Metric,
) -> anyhow::Result<Option<Given>> {
    let Some(path) = &args.knn else {
        return Ok(None);
    };
    let got = ivt::knn::import::read_graph(
        path,
        args.knn_distances.as_deref(),
        &features.values(),
        features.dim(),
        metric,
    )
    .with_context(|| {
        format!(
            "cannot use the kNN graph given with --knn {}",
            path.display()
        )
    })?;
    for note in &got.notes {
        eprintln!("note: {note}");
    }
    eprintln!(
        "kNN graph from {}: {} items × {} neighbours",
        path.display(),
        got.graph.n_items(),
        got.graph.k
    );
    Ok(Some(Given {
        graph: got.graph,
        path: path.clone(),
    }))
}

/// A graph given with `--knn`, with the file it came from (for errors about it).
pub struct Given {
    pub graph: KnnGraph,
    pub path: std::path::PathBuf,
}

impl Given {
    /// The graph cut to the `k` a computation needs, or an error naming the file and saying
    /// what to change when it holds fewer (`what` names the consumer and its option).
    pub fn enough(&self, k: usize, what: &str) -> anyhow::Result<KnnGraph> {
        anyhow::ensure!(
            self.graph.k >= k,
            "{}: the graph given with --knn has {} neighbours per item; {what} needs {k}: give a \
             graph with more neighbours, or ask for fewer",
            self.path.display(),
            self.graph.k
        );
        Ok(self.graph.truncated(k))
    }
}

/// The graph for these features and parameters: from the cache, or computed and stored, with
/// what happened reported on stderr.
pub fn graph(features: &Features, req: &Request, cache: &Cache) -> anyhow::Result<KnnGraph> {
    graph_reported(features, req, cache).map(|(g, _)| g)
}

/// [`graph`], with the recall estimate of an approximate search (`None`: exact).
pub fn graph_reported(
    features: &Features,
    req: &Request,
    cache: &Cache,
) -> anyhow::Result<(KnnGraph, Option<knn::RecallEstimate>)> {
    let bar = Bar::new("kNN");
    let got =
        knn::cached::graph(features, req, cache, &bar).context("cannot compute the kNN graph")?;
    drop(bar);
    if let Some(ratio) = got.pca_explained {
        eprintln!(
            "PCA to {} dimensions keeps {:.1}% of the variance (neighbours are approximate)",
            req.pca.unwrap_or_default(),
            100.0 * ratio
        );
    }
    if let Some(e) = &got.estimate {
        eprintln!("{}", e.summary(req.k));
    }
    match got.computed_secs {
        None => eprintln!("kNN graph ({}) from the cache", got.params),
        Some(secs) => eprintln!(
            "kNN graph ({}) of {} items in {secs:.2} s",
            got.params,
            features.n_items()
        ),
    }
    // Last, where it is seen: a poor recall matters more than how long it took.
    for w in &got.warnings {
        eprintln!("warning: {w}");
    }
    Ok((got.graph, got.estimate))
}
