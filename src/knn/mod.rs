//! k-nearest-neighbour graphs in the original feature space.
//!
//! One graph (k at least what any consumer needs) is computed once and shared by t-SNE, UMAP,
//! the neighbour panel and the metrics. Rows are sorted by distance with ties broken by the
//! lower index, and an item is never its own neighbour (an exact duplicate is, at distance 0).
//! Nothing here holds an N × N matrix.

pub mod cached;
pub(crate) mod exact;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Metric {
    /// ‖x − y‖₂.
    Euclidean,
    /// 1 − cos(x, y), on rows normalised once. An all-zero row has no direction: an error.
    Cosine,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Self::Euclidean => "euclidean",
            Self::Cosine => "cosine",
        }
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
         use --metric euclidean or drop the row"
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
pub const ALGORITHM_VERSION: u32 = 2;

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
    /// The approximate search that suits the data ([`Approximation::for_data`]).
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

/// The approximate searches, each best on its own kind of data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Approximation {
    /// Many dimensions (image features): exact search in a PCA projection, re-ranked.
    Projected(ProjectedParams),
    /// Few dimensions, where a projection saves little: NN-descent.
    NnDescent(NnDescentParams),
}

impl Approximation {
    /// The search for `k` neighbours among `dim`-dimensional features.
    pub fn for_data(k: usize, dim: usize) -> Self {
        if ProjectedParams::pays_off(dim) {
            Self::Projected(ProjectedParams::for_k(k, dim))
        } else {
            Self::NnDescent(NnDescentParams::for_k(k))
        }
    }

    /// For logs and cache keys: everything the result depends on.
    pub fn describe(&self) -> String {
        match self {
            Self::Projected(p) => format!(
                "pca-rerank components={} candidates={}",
                p.components, p.candidates
            ),
            Self::NnDescent(p) => format!("nn-descent {p:?}"),
        }
    }
}

/// A computed graph and, for a projected search, how it went.
#[derive(Debug, Clone)]
pub struct Found {
    pub graph: KnnGraph,
    /// Set when the graph came from a projected search.
    pub projection: Option<ProjectionReport>,
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
    search(features, dim, k, metric, method, observer).map(|found| found.graph)
}

/// [`knn`], keeping what a projected search learnt (its recall estimate) for the caller.
pub fn search(
    features: &[f32],
    dim: usize,
    k: usize,
    metric: Metric,
    method: Method,
    observer: &dyn Observer,
) -> Result<Found, KnnError> {
    if method.is_exact(features.len() / dim.max(1), dim) {
        return Ok(Found {
            graph: exact_knn(features, dim, k, metric, observer)?,
            projection: None,
        });
    }
    match Approximation::for_data(k, dim) {
        Approximation::NnDescent(p) => Ok(Found {
            graph: nn_descent(features, dim, k, metric, &p, observer)?,
            projection: None,
        }),
        Approximation::Projected(p) => {
            let (graph, report) = projected_knn(features, dim, k, metric, &p, observer)?;
            Ok(Found {
                graph,
                projection: Some(report),
            })
        }
    }
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
}
