//! Hierarchical clustering in the original feature space, kept as the whole dendrogram so the
//! explorer can cut it into any number of clusters instantly.
//!
//! Exact agglomerative clustering (`kodama`: nearest-neighbour chain, or the minimum spanning
//! tree for single linkage) on a condensed matrix of euclidean distances computed with GEMM
//! tiles, up to [`EXACT_MAX_ITEMS`] items (the f64 matrix then stays under 2 GB); above that,
//! k-means micro-clusters and linkage on their centroids (`micro`). Cutting to K clusters
//! replays the first N − K merges through a union-find: O(N).

mod micro;

#[cfg(test)]
mod tests;

pub use micro::MICRO_CLUSTERS;

use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::ArrayView2;
use ndarray::linalg::general_mat_mul;
use rayon::prelude::*;
use thiserror::Error;

use crate::cache::{Cache, CacheKey, Lookup};
use crate::progress::Observer;

/// Above this many items the exact algorithm would need more than 2 GB for its distance matrix
/// (N² / 2 f64 values: 1.6 GB at 20,000).
pub const EXACT_MAX_ITEMS: usize = 20_000;
/// Bump when the output of `cluster` changes for the same input.
const ALGORITHM_VERSION: u32 = 2;
/// Rows per GEMM tile when filling the distance matrix.
const ROW_BLOCK: usize = 256;

/// How the distance between two clusters is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Linkage {
    #[default]
    Ward,
    Average,
    Complete,
    Single,
    Centroid,
}

crate::choice::choice!(Linkage {
    Ward => "ward", "Merge the pair that least increases the total within-cluster variance (scikit-learn's default)";
    Average => "average", "Mean distance between members";
    Complete => "complete", "Largest distance between members";
    Single => "single", "Smallest distance between members (chains through bridges)";
    Centroid => "centroid", "Distance between centroids";
});

impl Linkage {
    /// The name the user types and reads (`Choice::name` without importing the trait).
    pub fn name(self) -> &'static str {
        crate::choice::Choice::name(self)
    }

    fn method(self) -> kodama::Method {
        match self {
            Self::Ward => kodama::Method::Ward,
            Self::Average => kodama::Method::Average,
            Self::Complete => kodama::Method::Complete,
            Self::Single => kodama::Method::Single,
            Self::Centroid => kodama::Method::Centroid,
        }
    }
}

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("clustering needs at least 2 items, the data set has {0}")]
    TooFew(usize),
    #[error(
        "the number of clusters must be between 1 and the number of items ({n_items}), not {k}"
    )]
    BadK { k: usize, n_items: usize },
    #[error("cancelled")]
    Cancelled,
}

/// One merge: clusters `a` and `b` (ids below `n_items` are items; id `n_items + i` is the
/// cluster made by merge `i`) joined at `height`, giving a cluster of `size` items.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Merge {
    pub a: u32,
    pub b: u32,
    pub height: f32,
    pub size: u32,
}

fn nodes_clusters(nodes: &[TopNode], i: usize) -> Vec<u32> {
    nodes.get(i).map_or_else(Vec::new, |n| n.clusters.clone())
}

/// The full merge tree of `n_items` items, merges in order of height (scipy's convention).
#[derive(Debug, Clone, PartialEq)]
pub struct Dendrogram {
    pub n_items: usize,
    pub merges: Vec<Merge>,
}

/// The top of a dendrogram above a cut into `k` clusters: its last k − 1 merges, with the k
/// clusters as leaves (ids as [`Dendrogram::cut`] numbers them). Small: what a dendrogram view
/// draws.
#[derive(Debug, Clone, PartialEq)]
pub struct TopTree {
    /// Children before parents; the root is last.
    pub nodes: Vec<TopNode>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TopNode {
    /// `None` for a leaf (one cluster of the cut); else the indices of its two children.
    pub children: Option<(usize, usize)>,
    /// Merge height (a leaf: the height at which its cluster formed; 0 for one item).
    pub height: f32,
    /// Items under the node.
    pub size: usize,
    /// Cluster ids under the node, left to right.
    pub clusters: Vec<u32>,
}

impl Dendrogram {
    /// The top tree above the cut into `k` clusters; `labels` is `self.cut(k)`.
    pub fn top(&self, k: usize, labels: &[u32]) -> Result<TopTree, ClusterError> {
        let n = self.n_items;
        if k == 0 || k > n || labels.len() != n || self.merges.len() + 1 != n {
            return Err(ClusterError::BadK { k, n_items: n });
        }
        // Smallest item under each node: the cut names a cluster by its first item.
        let mut first: Vec<u32> = (0..n as u32).collect();
        first.reserve(self.merges.len());
        for m in &self.merges {
            let f = first[m.a as usize].min(first[m.b as usize]);
            first.push(f);
        }
        let top_start = n + (n - k);
        let mut nodes = Vec::with_capacity(2 * k - 1);
        // Iterative post-order from the root: (node id, children done).
        let root = 2 * n - 2;
        let mut stack = vec![(root, false)];
        let mut built: Vec<usize> = Vec::new();
        while let Some((id, expanded)) = stack.pop() {
            if id >= top_start && !expanded {
                let m = &self.merges[id - n];
                stack.push((id, true));
                stack.push((m.b as usize, false));
                stack.push((m.a as usize, false));
                continue;
            }
            let node = if id >= top_start {
                let right = built.pop().unwrap_or_default();
                let left = built.pop().unwrap_or_default();
                let m = &self.merges[id - n];
                let mut clusters = nodes_clusters(&nodes, left);
                clusters.extend(nodes_clusters(&nodes, right));
                TopNode {
                    children: Some((left, right)),
                    height: m.height,
                    size: m.size as usize,
                    clusters,
                }
            } else {
                let (height, size) = if id < n {
                    (0.0, 1)
                } else {
                    let m = &self.merges[id - n];
                    (m.height, m.size as usize)
                };
                TopNode {
                    children: None,
                    height,
                    size,
                    clusters: vec![labels[first[id] as usize]],
                }
            };
            nodes.push(node);
            built.push(nodes.len() - 1);
        }
        Ok(TopTree { nodes })
    }
    /// Cluster id per item for `k` clusters (1 ≤ k ≤ N): ids 0..k numbered by each cluster's
    /// first item, so cutting the same tree again gives the same ids. O(N).
    pub fn cut(&self, k: usize) -> Result<Vec<u32>, ClusterError> {
        let n = self.n_items;
        if k == 0 || k > n {
            return Err(ClusterError::BadK { k, n_items: n });
        }
        // Union-find over every node id (items, then merges), joined by the first n − k merges.
        let mut parent: Vec<u32> = (0..(2 * n) as u32).collect();
        fn root(parent: &mut [u32], mut x: u32) -> u32 {
            while parent[x as usize] != x {
                let up = parent[parent[x as usize] as usize];
                parent[x as usize] = up;
                x = up;
            }
            x
        }
        for (i, m) in self.merges.iter().take(n - k).enumerate() {
            let node = (n + i) as u32;
            let ra = root(&mut parent, m.a);
            let rb = root(&mut parent, m.b);
            parent[ra as usize] = node;
            parent[rb as usize] = node;
        }
        let mut id_of_root = vec![u32::MAX; 2 * n];
        let mut next = 0u32;
        let mut labels = Vec::with_capacity(n);
        for item in 0..n as u32 {
            let r = root(&mut parent, item) as usize;
            if id_of_root[r] == u32::MAX {
                id_of_root[r] = next;
                next += 1;
            }
            labels.push(id_of_root[r]);
        }
        Ok(labels)
    }

    /// Bytes for the cache.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.merges.len() * 16);
        out.extend_from_slice(&(self.n_items as u64).to_le_bytes());
        for m in &self.merges {
            out.extend_from_slice(&m.a.to_le_bytes());
            out.extend_from_slice(&m.b.to_le_bytes());
            out.extend_from_slice(&m.height.to_le_bytes());
            out.extend_from_slice(&m.size.to_le_bytes());
        }
        out
    }

    /// The inverse of [`Self::to_bytes`]; `None` if the bytes are not a dendrogram.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (head, rest) = bytes.split_at_checked(8)?;
        let n_items = u64::from_le_bytes(head.try_into().ok()?) as usize;
        if n_items < 2 || rest.len() != (n_items - 1) * 16 {
            return None;
        }
        let word = |c: &[u8], i: usize| -> [u8; 4] { [c[i], c[i + 1], c[i + 2], c[i + 3]] };
        let merges: Vec<Merge> = rest
            .chunks_exact(16)
            .map(|c| Merge {
                a: u32::from_le_bytes(word(c, 0)),
                b: u32::from_le_bytes(word(c, 4)),
                height: f32::from_le_bytes(word(c, 8)),
                size: u32::from_le_bytes(word(c, 12)),
            })
            .collect();
        // Every merge joins existing clusters: ids below the node it creates.
        let valid = merges
            .iter()
            .enumerate()
            .all(|(i, m)| (m.a as usize) < n_items + i && (m.b as usize) < n_items + i);
        valid.then_some(Self { n_items, merges })
    }
}

/// The condensed upper triangle (row-major, i < j) of euclidean distances between rows.
fn condensed_distances(features: &[f32], dim: usize, observer: &dyn Observer) -> Vec<f64> {
    let n = features.len() / dim.max(1);
    let norms = crate::numeric::squared_norms(features, dim);
    let mut condensed = vec![0f64; n * (n - 1) / 2];
    // Split the output into one slice per block of rows (row i holds n − 1 − i entries).
    let mut slices = Vec::new();
    let mut rest: &mut [f64] = &mut condensed;
    for start in (0..n).step_by(ROW_BLOCK) {
        let end = (start + ROW_BLOCK).min(n);
        let len: usize = (start..end).map(|i| n - 1 - i).sum();
        let (mine, tail) = rest.split_at_mut(len);
        slices.push((start..end, mine));
        rest = tail;
    }
    let done = AtomicU64::new(0);
    slices.into_par_iter().for_each(|(rows, out)| {
        let a = ArrayView2::from_shape(
            (rows.len(), dim),
            &features[rows.start * dim..rows.end * dim],
        )
        .unwrap_or_else(|_| unreachable!("slice length is rows × dim by construction"));
        // Only columns from the block's first row on are needed (the upper triangle).
        let cols = rows.start..n;
        let b = ArrayView2::from_shape((cols.len(), dim), &features[cols.start * dim..n * dim])
            .unwrap_or_else(|_| unreachable!("slice length is rows × dim by construction"));
        let mut dots = ndarray::Array2::<f32>::zeros((rows.len(), cols.len()));
        general_mat_mul(1.0, &a, &b.t(), 0.0, &mut dots);
        let mut at = 0;
        for (r, i) in rows.clone().enumerate() {
            for j in i + 1..n {
                let d2 = norms[i] + norms[j] - 2.0 * dots[[r, j - cols.start]];
                out[at] = f64::from(d2.max(0.0)).sqrt();
                at += 1;
            }
        }
        let finished = done.fetch_add(rows.len() as u64, Ordering::Relaxed) + rows.len() as u64;
        observer.progress(finished, n as u64);
    });
    condensed
}

/// The dendrogram of `features` (N × `dim`, row-major) under `linkage`, in euclidean distance.
pub fn cluster(
    features: &[f32],
    dim: usize,
    linkage: Linkage,
    observer: &dyn Observer,
) -> Result<Dendrogram, ClusterError> {
    let n = features.len() / dim.max(1);
    if n < 2 {
        return Err(ClusterError::TooFew(n));
    }
    if n > EXACT_MAX_ITEMS {
        return micro::cluster_micro(features, dim, linkage, MICRO_CLUSTERS, observer);
    }
    let mut condensed = condensed_distances(features, dim, observer);
    if observer.cancelled() {
        return Err(ClusterError::Cancelled);
    }
    let tree = kodama::linkage(&mut condensed, n, linkage.method());
    let merges = tree
        .steps()
        .iter()
        .map(|s| Merge {
            a: s.cluster1 as u32,
            b: s.cluster2 as u32,
            height: s.dissimilarity as f32,
            size: s.size as u32,
        })
        .collect();
    Ok(Dendrogram { n_items: n, merges })
}

/// What [`cached`] found or did.
#[derive(Debug)]
pub struct Cached {
    pub dendrogram: Dendrogram,
    /// `None` when read from the cache.
    pub computed_secs: Option<f64>,
    pub warnings: Vec<String>,
}

/// [`cluster`] through the cache: a second call with the same features and linkage reads the
/// dendrogram back.
pub fn cached(
    features: &[f32],
    dim: usize,
    linkage: Linkage,
    cache: &Cache,
    observer: &dyn Observer,
) -> Result<Cached, ClusterError> {
    let params = format!(
        "linkage={};metric=euclidean;v={ALGORITHM_VERSION}",
        linkage.name()
    );
    let key = CacheKey::new("clusters", features, dim, &params);
    let mut warnings = Vec::new();
    match cache.load(&key) {
        Lookup::Hit(bytes) => match Dendrogram::from_bytes(&bytes) {
            Some(d) if d.n_items == features.len() / dim.max(1) => {
                return Ok(Cached {
                    dendrogram: d,
                    computed_secs: None,
                    warnings,
                });
            }
            _ => warnings.push(format!("cache entry {key} is not a dendrogram; recomputed")),
        },
        Lookup::Corrupt { path, reason } => warnings.push(format!(
            "cache entry {} ignored ({reason}); recomputed",
            path.display()
        )),
        Lookup::Miss => {}
    }
    let started = std::time::Instant::now();
    let dendrogram = cluster(features, dim, linkage, observer)?;
    let computed_secs = Some(started.elapsed().as_secs_f64());
    // A cache that cannot be written (a full disk) costs time next run, not this result; the
    // failure is the cache's to report, once per process.
    let _ = cache.store(&key, &dendrogram.to_bytes());
    Ok(Cached {
        dendrogram,
        computed_secs,
        warnings,
    })
}

/// Adjusted Rand index of two labelings of the same items (1: identical up to renaming).
pub fn adjusted_rand_index(a: &[u32], b: &[u32]) -> f64 {
    let n = a.len().min(b.len());
    let mut pairs = std::collections::HashMap::<(u32, u32), u64>::new();
    let mut rows = std::collections::HashMap::<u32, u64>::new();
    let mut cols = std::collections::HashMap::<u32, u64>::new();
    for (&x, &y) in a.iter().zip(b).take(n) {
        *pairs.entry((x, y)).or_default() += 1;
        *rows.entry(x).or_default() += 1;
        *cols.entry(y).or_default() += 1;
    }
    let c2 = |v: u64| (v * v.saturating_sub(1)) as f64 / 2.0;
    let index: f64 = pairs.values().map(|&v| c2(v)).sum();
    let sum_a: f64 = rows.values().map(|&v| c2(v)).sum();
    let sum_b: f64 = cols.values().map(|&v| c2(v)).sum();
    let expected = sum_a * sum_b / c2(n as u64).max(1.0);
    let max = (sum_a + sum_b) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

/// A representative per cluster: the member nearest its cluster's mean (for `k` clusters
/// labelled `0..k`); O(N·D). A cluster without members gets `u32::MAX`.
pub fn medoids(features: &[f32], dim: usize, labels: &[u32], k: usize) -> Vec<u32> {
    let mut sums = vec![0f64; k * dim];
    let mut sizes = vec![0u32; k];
    for (row, &l) in features.chunks_exact(dim.max(1)).zip(labels) {
        let l = l as usize;
        if l >= k {
            continue;
        }
        sizes[l] += 1;
        for (s, &v) in sums[l * dim..(l + 1) * dim].iter_mut().zip(row) {
            *s += f64::from(v);
        }
    }
    let mut best = vec![(f64::INFINITY, u32::MAX); k];
    for (item, (row, &l)) in features.chunks_exact(dim.max(1)).zip(labels).enumerate() {
        let l = l as usize;
        if l >= k {
            continue;
        }
        let n = f64::from(sizes[l].max(1));
        let d: f64 = row
            .iter()
            .zip(&sums[l * dim..(l + 1) * dim])
            .map(|(&v, &s)| (f64::from(v) - s / n).powi(2))
            .sum();
        if d < best[l].0 {
            best[l] = (d, item as u32);
        }
    }
    best.into_iter().map(|(_, item)| item).collect()
}
