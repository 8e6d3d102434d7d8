//! The kNN graph through the artefact cache: what `knn`, `layout` and the explorer share.
//!
//! The key covers the features, the search (exact, or an approximate search with its
//! parameters), an optional PCA pre-reduction, k, the metric and the algorithm version, so a
//! graph is reused exactly when recomputing it would give the same result. An approximate
//! graph's recall estimate is kept beside it, so a relaunch reports it as the first run did.

use std::time::Instant;

use crate::cache::{Cache, CacheKey, Lookup};
use crate::dataset::Features;
use crate::progress::Observer;

use super::{ALGORITHM_VERSION, IvfParams, KnnError, KnnGraph, Method, Metric, RecallEstimate};

/// Cache kind of a graph's recall estimate (derived from the graph's key).
const ESTIMATE_KIND: &str = "knn-recall";

/// What graph to build.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request {
    pub k: usize,
    pub metric: Metric,
    pub method: Method,
    /// Reduce to this many principal components first (an approximation).
    pub pca: Option<usize>,
    /// The recall an approximate search aims for (`None`: [`IvfParams::default`]'s).
    pub target_recall: Option<f64>,
}

impl Request {
    /// The default search (exact while cheap, the inverted file above) for `k` neighbours.
    pub fn auto(k: usize, metric: Metric) -> Self {
        Self {
            k,
            metric,
            method: Method::Auto {
                max_exact_work: super::DEFAULT_MAX_EXACT_WORK,
            },
            pca: None,
            target_recall: None,
        }
    }

    /// How an approximate search runs for this request.
    pub fn ivf(&self) -> IvfParams {
        let default = IvfParams::default();
        IvfParams {
            target_recall: self.target_recall.unwrap_or(default.target_recall),
            ..default
        }
    }
}

/// A graph and how it was obtained, for the caller to report.
#[derive(Debug, Clone)]
pub struct Cached {
    pub graph: KnnGraph,
    /// Human-readable parameters (`exact k=10 metric=euclidean v2`).
    pub params: String,
    /// `None`: read from the cache; otherwise the seconds the search took.
    pub computed_secs: Option<f64>,
    /// Variance kept by the PCA pre-reduction, when one was asked for and run.
    pub pca_explained: Option<f64>,
    /// How good an approximate graph is (computed now, or kept from when it was).
    pub estimate: Option<RecallEstimate>,
    /// Problems that cost time but not correctness (a corrupt or unwritable cache entry), and
    /// a poor recall estimate.
    pub warnings: Vec<String>,
}

/// The graph for these features and parameters: from the cache, or computed and stored.
pub fn graph(
    features: &Features,
    req: &Request,
    cache: &Cache,
    observer: &dyn Observer,
) -> Result<Cached, KnnError> {
    let Request {
        k,
        metric,
        method,
        pca,
        target_recall: _,
    } = *req;
    let searched_dim = pca.unwrap_or(features.dim());
    let search = if method.is_exact(features.n_items(), searched_dim) {
        "exact".to_owned()
    } else {
        req.ivf().describe()
    };
    let reduction = pca.map_or(String::new(), |p| format!(" pca={p}"));
    let params = format!(
        "{search}{reduction} k={k} metric={} v{ALGORITHM_VERSION}",
        metric.name()
    );
    // Widened once for a float16 matrix: the key, the PCA and the search read the same copy.
    let values = features.values();
    let key = CacheKey::new("knn", &values, features.dim(), &params);
    let mut warnings = Vec::new();
    match cache.load(&key) {
        Lookup::Hit(bytes) => match KnnGraph::from_bytes(&bytes) {
            Some(graph)
                if graph.n_items() == features.n_items()
                    && graph.k == k
                    && graph.metric == metric =>
            {
                let estimate = match cache.load(&key.derived(ESTIMATE_KIND)) {
                    Lookup::Hit(bytes) => RecallEstimate::from_bytes(&bytes),
                    _ => None,
                };
                warnings.extend(estimate.as_ref().and_then(|e| e.warning(k)));
                return Ok(Cached {
                    graph,
                    params,
                    computed_secs: None,
                    pca_explained: None,
                    estimate,
                    warnings,
                });
            }
            _ => warnings.push(format!(
                "cached kNN graph {key} does not fit this data; recomputing"
            )),
        },
        Lookup::Corrupt { path, reason } => warnings.push(format!(
            "ignoring cache entry {}: {reason}; recomputing",
            path.display()
        )),
        Lookup::Miss => {}
    }
    let start = Instant::now();
    let mut pca_explained = None;
    let reduced;
    let (data, dim) = match pca {
        Some(p) => {
            let fitted = crate::numeric::pca::fit(&values, features.dim(), p)
                .map_err(|e| KnnError::Pca(e.to_string()))?;
            pca_explained = Some(fitted.explained_ratio());
            reduced = fitted.transform(&values);
            (reduced.as_slice(), p)
        }
        None => (&values[..], features.dim()),
    };
    // `knn` decides exact or not from the searched dimension, as `search` above did.
    let found = super::search(data, dim, k, metric, method, &req.ivf(), observer)?;
    let computed_secs = Some(start.elapsed().as_secs_f64());
    // The estimate first: a graph in the cache without its estimate would be reported as
    // if it were exact.
    // A cache that cannot be written costs time next run, not this result; the failure is
    // the cache's to report, once per process.
    let estimate_kept = match &found.estimate {
        Some(e) => cache
            .store(&key.derived(ESTIMATE_KIND), &e.to_bytes())
            .is_ok(),
        None => true,
    };
    if estimate_kept {
        let _ = cache.store(&key, &found.graph.to_bytes());
    }
    warnings.extend(found.estimate.as_ref().and_then(|e| e.warning(k)));
    Ok(Cached {
        graph: found.graph,
        params,
        computed_secs,
        pca_explained,
        estimate: found.estimate,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;
    use crate::synth::{ClusteredSpec, clustered};

    #[test]
    fn an_approximate_graph_keeps_its_recall_estimate_through_the_cache() {
        let spec = ClusteredSpec {
            n: 1500,
            dim: 12,
            clusters: 10,
            seed: 4,
        };
        let (x, _) = clustered(&spec);
        let features =
            Features::new(spec.n, spec.dim, x, "float32", "synth", "synth").expect("features");
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::at(dir.path());
        let req = Request {
            method: Method::Approximate,
            ..Request::auto(8, Metric::Euclidean)
        };
        let first = graph(&features, &req, &cache, &()).expect("computed");
        let estimate = first
            .estimate
            .clone()
            .expect("an approximate graph has an estimate");
        assert!(
            estimate.recall > 0.9 && estimate.recall <= 1.0,
            "{estimate:?}"
        );
        assert!(estimate.search.starts_with("inverted file"), "{estimate:?}");
        let again = graph(&features, &req, &cache, &()).expect("cached");
        assert!(again.computed_secs.is_none());
        assert_eq!(again.estimate, Some(estimate));
        // An exact graph has none.
        let exact = Request {
            method: Method::Exact,
            ..req
        };
        assert_eq!(
            graph(&features, &exact, &cache, &())
                .expect("exact")
                .estimate,
            None
        );
    }
}
