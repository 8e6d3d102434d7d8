//! k-nearest-neighbour graphs in the original feature space.
//!
//! One graph (k at least what any consumer needs) is computed once and shared by t-SNE, UMAP,
//! the neighbour panel and the metrics. Rows are sorted by distance with ties broken by the
//! lower index, and an item is never its own neighbour (an exact duplicate is, at distance 0).
//! Nothing here holds an N × N matrix.

pub mod cached;
pub(crate) mod exact;
pub mod import;
mod ivf;
mod nndescent;
mod projected;

use rayon::prelude::*;
use thiserror::Error;

pub use exact::{exact_knn, query};
pub use ivf::{IvfParams, IvfReport, ivf_knn};
pub use nndescent::{NnDescentParams, nn_descent};
pub use projected::{ProjectedParams, ProjectionReport, projected_knn};

use crate::progress::Observer;

/// Distance between feature vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    Euclidean,
    Cosine,
}

crate::choice::choice!(Metric {
    Euclidean => "euclidean", "‖x − y‖₂";
    Cosine => "cosine", "1 − cos(x, y), on rows normalised once. An all-zero row has no direction: an error";
});

impl Metric {
    /// The name the user types and reads (`Choice::name` without importing the trait).
    pub fn name(self) -> &'static str {
        crate::choice::Choice::name(self)
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum KnnError {
    #[error("k = {k} neighbours asked for, but there are only {n_items} items (k must be below N)")]
    KTooLarge { k: usize, n_items: usize },
    #[error("k must be at least 1")]
    KZero,
    #[error(
        "row {row} (0-based) is all zeros: it has no direction, so its cosine distance is undefined; \
         use {metric} euclidean or drop the row",
        metric = crate::hint::METRIC
    )]
    ZeroRow { row: usize },
    #[error("the query has {found} dimensions, the features {expected}")]
    QueryDim { found: usize, expected: usize },
    #[error("cannot reduce the features with PCA before the search: {0}")]
    Pca(String),
    #[error("cancelled")]
    Cancelled,
}

/// The k nearest neighbours of every item: row-major N × k.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnGraph {
    pub k: usize,
    pub metric: Metric,
    /// `indices[i * k + j]`: the j-th nearest neighbour of item i.
    pub indices: Vec<u32>,
    /// Distances in the metric's own units (euclidean, not squared), matching `indices`.
    pub distances: Vec<f32>,
}

impl KnnGraph {
    pub fn n_items(&self) -> usize {
        self.indices.len() / self.k.max(1)
    }

    pub fn neighbors(&self, item: usize) -> &[u32] {
        &self.indices[item * self.k..(item + 1) * self.k]
    }

    pub fn neighbor_distances(&self, item: usize) -> &[f32] {
        &self.distances[item * self.k..(item + 1) * self.k]
    }

    /// The first `k` neighbours of every item, from a graph with at least that many.
    pub fn truncated(&self, k: usize) -> Self {
        let k = k.min(self.k);
        let (mut indices, mut distances) = (Vec::new(), Vec::new());
        for i in 0..self.n_items() {
            indices.extend_from_slice(&self.neighbors(i)[..k]);
            distances.extend_from_slice(&self.neighbor_distances(i)[..k]);
        }
        Self {
            k,
            metric: self.metric,
            indices,
            distances,
        }
    }
}

/// Bumped whenever the results of the kNN code change, so cached graphs are recomputed.
pub const ALGORITHM_VERSION: u32 = 6;

impl KnnGraph {
    /// Serialise for the cache: n, k (u64), metric (u8), indices (u32), distances (f32), LE.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(17 + self.indices.len() * 8);
        out.extend_from_slice(&(self.n_items() as u64).to_le_bytes());
        out.extend_from_slice(&(self.k as u64).to_le_bytes());
        out.push(match self.metric {
            Metric::Euclidean => 0,
            Metric::Cosine => 1,
        });
        out.extend(self.indices.iter().flat_map(|v| v.to_le_bytes()));
        out.extend(self.distances.iter().flat_map(|v| v.to_le_bytes()));
        out
    }

    /// Inverse of [`to_bytes`](Self::to_bytes); `None` if the bytes do not hold a whole graph.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let word = |at: usize| -> Option<usize> {
            let b: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
            usize::try_from(u64::from_le_bytes(b)).ok()
        };
        let (n, k) = (word(0)?, word(8)?);
        let metric = match bytes.get(16)? {
            0 => Metric::Euclidean,
            1 => Metric::Cosine,
            _ => return None,
        };
        let body = &bytes[17..];
        if body.len() != n.checked_mul(k)?.checked_mul(8)? {
            return None;
        }
        let (idx, dist) = body.split_at(n * k * 4);
        let indices: Vec<u32> = idx
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if indices.iter().any(|&j| j as usize >= n) {
            return None;
        }
        Some(Self {
            k,
            metric,
            indices,
            distances: dist
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        })
    }
}

/// Fraction of the exact graph's neighbours that `approx` also found (recall@k).
pub fn recall(approx: &KnnGraph, exact: &KnnGraph) -> f64 {
    neighbor_overlap(exact, approx, approx.k.min(exact.k))
}

/// Mean over items of |first k neighbours in `a` ∩ first k in `b`| / k (k capped at both
/// graphs' k): recall of an approximate graph, or kNN preservation of a layout.
pub fn neighbor_overlap(a: &KnnGraph, b: &KnnGraph, k: usize) -> f64 {
    let k = k.min(a.k).min(b.k);
    let n = a.n_items().min(b.n_items());
    if k == 0 || n == 0 {
        return 1.0;
    }
    let hits: usize = (0..n)
        .into_par_iter()
        .map(|i| {
            let truth = &a.neighbors(i)[..k];
            b.neighbors(i)[..k]
                .iter()
                .filter(|j| truth.contains(j))
                .count()
        })
        .sum();
    hits as f64 / (n * k) as f64
}

/// Mean fraction of the first `k` of each `truth` list found among the first `k` of the
/// matching `found` list: the recall of a sample's neighbour lists against its exact ones (and
/// kNN preservation on a sample). 1 for an empty sample.
pub fn sampled_overlap(truth: &[Vec<u32>], found: &[Vec<u32>], k: usize) -> f64 {
    let hits: usize = truth
        .iter()
        .zip(found)
        .map(|(t, f)| {
            let t = &t[..k.min(t.len())];
            f.iter().take(k).filter(|j| t.contains(j)).count()
        })
        .sum();
    let total = truth.len() * k;
    if total == 0 {
        1.0
    } else {
        hits as f64 / total as f64
    }
}

/// The exact `k` nearest neighbours (the item itself excluded) of a few `items`, as item
/// lists sorted by distance: what a metric computed on a sample needs, at the cost of
/// |items| · N · D instead of the whole graph's N² · D.
pub fn exact_neighbours_of(
    features: &[f32],
    dim: usize,
    items: &[usize],
    k: usize,
    metric: Metric,
) -> Result<Vec<Vec<u32>>, KnnError> {
    let n = features.len() / dim.max(1);
    check_k(k, n)?;
    let data = exact::prepared(features, dim, metric)?;
    let norms = crate::numeric::squared_norms(&data, dim);
    Ok(exact::exact_sample(&data, &norms, dim, items, k))
}

/// Check `k` against the item count.
fn check_k(k: usize, n_items: usize) -> Result<(), KnnError> {
    if k == 0 {
        return Err(KnnError::KZero);
    }
    if k >= n_items {
        return Err(KnnError::KTooLarge { k, n_items });
    }
    Ok(())
}

/// Exact or approximate search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Exact,
    /// The approximate search: an inverted file ([`IvfParams::default`]). It was the fastest
    /// wherever the exact search is too slow, at equal or better recall, measured on 2 cores
    /// (benches/README.md, "kNN at a million items"): Fashion-MNIST 20k × 784 1.0 s against
    /// the projected search's 1.4 s and NN-descent's 2.3 s, 70k × 784 5.0 s (recall 0.984)
    /// against 6.5 s (0.968); clustered 128-dimensional data at 50k 0.4 s against
    /// NN-descent's 3.6 s, at 125k 0.9 s against 12.6 s. The projected search and NN-descent
    /// stay in the library as the baselines it is measured against (`benches/knn.rs`); no
    /// command runs them.
    Approximate,
    /// Exact while N · N · D (the exact search's work) is at most this, approximate above.
    Auto {
        max_exact_work: u64,
    },
}

/// Exact up to N² · D = 15,000² · 784. Measured on Fashion-MNIST, 2 cores (benches/README.md):
/// at 10,000 items exact and NN-descent both take ~3 s; at 20,000 NN-descent is 1.3–1.6×
/// faster, the projected search (k = 90) 1.7×; at 70,000 NN-descent 3.6×, the projected search
/// (k = 90) 3.8×. Exact is preferred while the difference is a few seconds.
pub const DEFAULT_MAX_EXACT_WORK: u64 = 15_000 * 15_000 * 784;

impl Method {
    /// Whether this method searches exactly for `n` items of `dim` dimensions.
    pub fn is_exact(self, n: usize, dim: usize) -> bool {
        match self {
            Self::Exact => true,
            Self::Approximate => false,
            Self::Auto { max_exact_work } => {
                (n as u64)
                    .saturating_mul(n as u64)
                    .saturating_mul(dim as u64)
                    <= max_exact_work
            }
        }
    }
}

/// Below this estimated recall an approximate graph is reported as poor, to the user.
pub const POOR_RECALL: f64 = 0.90;
/// Items checked against an exact search by [`estimate_recall`] (for searches that do not
/// estimate their own, such as the baselines).
const RECALL_SAMPLE: usize = 512;

/// How close an approximate graph is to the exact one, measured on a sample of items.
#[derive(Debug, Clone, PartialEq)]
pub struct RecallEstimate {
    /// Mean fraction of a sampled item's true k nearest neighbours that the graph holds.
    pub recall: f64,
    /// Items checked.
    pub sample: usize,
    /// What the search did (its final effort), for the report.
    pub search: String,
}

impl RecallEstimate {
    /// One line for the user.
    pub fn summary(&self, k: usize) -> String {
        format!(
            "approximate kNN graph ({}): estimated recall@{k} {:.3} ({} items checked against an \
             exact search)",
            self.search, self.recall, self.sample
        )
    }

    /// A warning when the recall is poor: what it means and what to do.
    pub fn warning(&self, k: usize) -> Option<String> {
        (self.recall < POOR_RECALL).then(|| {
            format!(
                "the approximate kNN graph's estimated recall@{k} is only {:.2}: about {:.0}% of \
                 the neighbours shown, and used by the layouts, are not the true nearest ones. \
                 `knn --exact` is exact but slow at this size; features with fewer dimensions \
                 (PCA, a smaller embedding) are searched better.",
                self.recall,
                100.0 * (1.0 - self.recall)
            )
        })
    }

    /// For the cache: recall (f64), sample (u64), then the search text, little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.recall.to_le_bytes().to_vec();
        out.extend_from_slice(&(self.sample as u64).to_le_bytes());
        out.extend_from_slice(self.search.as_bytes());
        out
    }

    /// Inverse of [`to_bytes`](Self::to_bytes); `None` for anything else.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let recall = f64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
        let sample = u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?);
        let search = std::str::from_utf8(bytes.get(16..)?).ok()?.to_owned();
        ((0.0..=1.0).contains(&recall)).then_some(Self {
            recall,
            sample: usize::try_from(sample).ok()?,
            search,
        })
    }
}

/// Estimate `graph`'s recall@k by an exact search for a seeded sample of its items.
pub fn estimate_recall(
    features: &[f32],
    dim: usize,
    graph: &KnnGraph,
    search: String,
) -> Result<RecallEstimate, KnnError> {
    let n = graph.n_items();
    let data = exact::prepared(features, dim, graph.metric)?;
    let norms = crate::numeric::squared_norms(&data, dim);
    let sample = crate::numeric::sample_items(n, RECALL_SAMPLE, 0x5A3F);
    let truth = exact::exact_sample(&data, &norms, dim, &sample, graph.k);
    Ok(RecallEstimate {
        recall: projected::sample_recall(graph, &sample, &truth),
        sample: sample.len(),
        search,
    })
}

/// A computed graph and, for an approximate search, how good it is.
#[derive(Debug, Clone)]
pub struct Found {
    pub graph: KnnGraph,
    /// Set for every approximate search.
    pub estimate: Option<RecallEstimate>,
}

/// Compute the graph of `features` (N × `dim`, row-major).
pub fn knn(
    features: &[f32],
    dim: usize,
    k: usize,
    metric: Metric,
    method: Method,
    observer: &dyn Observer,
) -> Result<KnnGraph, KnnError> {
    search(
        features,
        dim,
        k,
        metric,
        method,
        &IvfParams::default(),
        observer,
    )
    .map(|found| found.graph)
}

/// [`knn`], keeping how good an approximate search's result is (its recall estimate) for the
/// caller to report; an approximate search runs with `ivf`.
pub fn search(
    features: &[f32],
    dim: usize,
    k: usize,
    metric: Metric,
    method: Method,
    ivf: &IvfParams,
    observer: &dyn Observer,
) -> Result<Found, KnnError> {
    let n = features.len() / dim.max(1);
    if method.is_exact(n, dim) {
        return Ok(Found {
            graph: exact_knn(features, dim, k, metric, observer)?,
            estimate: None,
        });
    }
    let (graph, report) = ivf_knn(features, dim, k, metric, ivf, observer)?;
    let estimate = RecallEstimate {
        recall: report.estimated_recall,
        sample: report.sample,
        search: if report.components > 0 {
            format!(
                "inverted file in {} principal components, {} cells, {} probed per item, \
                 {} candidates re-ranked",
                report.components, report.lists, report.probes, report.candidates
            )
        } else {
            format!(
                "inverted file, {} cells, {} probed per item",
                report.lists, report.probes
            )
        },
    };
    Ok(Found {
        graph,
        estimate: Some(estimate),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_reject_garbage() {
        let f: Vec<f32> = (0..40).map(|i| ((i * 7) % 11) as f32).collect();
        let g = knn(&f, 2, 3, Metric::Cosine, Method::Exact, &()).expect("knn");
        let bytes = g.to_bytes();
        assert_eq!(KnnGraph::from_bytes(&bytes), Some(g.clone()));
        assert_eq!(KnnGraph::from_bytes(&bytes[..bytes.len() - 1]), None);
        assert_eq!(KnnGraph::from_bytes(b"short"), None);
        assert_eq!(g.truncated(2).neighbors(4), &g.neighbors(4)[..2]);
        assert_eq!(recall(&g, &g), 1.0);
    }

    #[test]
    fn a_poor_estimate_warns_and_estimates_round_trip() {
        let good = RecallEstimate {
            recall: 0.97,
            sample: 512,
            search: "ivf".to_owned(),
        };
        assert_eq!(good.warning(15), None);
        assert!(
            good.summary(15).contains("recall@15 0.970"),
            "{}",
            good.summary(15)
        );
        let poor = RecallEstimate {
            recall: 0.46,
            ..good.clone()
        };
        let w = poor.warning(15).expect("a warning");
        assert!(w.contains("0.46") && w.contains("54%"), "{w}");
        assert_eq!(
            RecallEstimate::from_bytes(&good.to_bytes()),
            Some(good.clone())
        );
        assert_eq!(RecallEstimate::from_bytes(&good.to_bytes()[..10]), None);
        let mut bad = good.to_bytes();
        bad[..8].copy_from_slice(&2.0f64.to_le_bytes());
        assert_eq!(RecallEstimate::from_bytes(&bad), None);
    }

    #[test]
    fn the_sampled_estimate_matches_the_true_recall() {
        let spec = crate::synth::ClusteredSpec {
            n: 3000,
            dim: 10,
            clusters: 8,
            seed: 2,
        };
        let (x, _) = crate::synth::clustered(&spec);
        let exact = exact_knn(&x, spec.dim, 10, Metric::Euclidean, &()).expect("exact");
        // A damaged graph: every other row's neighbours replaced by far items.
        let mut damaged = exact.clone();
        for i in (0..spec.n).step_by(2) {
            for (j, slot) in damaged.indices[i * 10..(i + 1) * 10].iter_mut().enumerate() {
                *slot = ((i + 1000 + j) % spec.n) as u32;
            }
        }
        let truth = recall(&damaged, &exact);
        let e = estimate_recall(&x, spec.dim, &damaged, "test".to_owned()).expect("estimate");
        assert!((e.recall - truth).abs() < 0.06, "{} vs {truth}", e.recall);
        assert_eq!(e.sample, 512);
        assert!(e.warning(10).is_some());
    }
}
