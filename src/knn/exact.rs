//! Exact kNN by blocked GEMM: ‖x − y‖² = ‖x‖² + ‖y‖² − 2 x·y, one block of dot products at a
//! time, query blocks in parallel.
//!
//! Memory besides the output: the row norms, one `QUERY_BLOCK × REF_BLOCK` tile per thread and,
//! for cosine, one normalised copy of the features.

use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayView2, linalg::general_mat_mul};
use rayon::prelude::*;

use super::{KnnError, KnnGraph, Metric, check_k};
use crate::progress::Observer;

/// Queries per parallel task: enough tasks to balance two to many cores, few enough that the
/// GEMM works on tall tiles.
const QUERY_BLOCK: usize = 256;
/// Reference rows per GEMM call: a 256 × 2048 f32 tile is 2 MiB, within L2/L3 reach.
const REF_BLOCK: usize = 2048;

/// The k smallest (distance, index) pairs seen so far; ties by lower index.
///
/// Pairs that beat the bound are appended unsorted; when 2k have gathered they are sorted
/// and cut back to k, which tightens the bound. That costs O(log k) a pair where keeping the
/// list sorted costs O(k): it matters when k is in the hundreds (a projected search's
/// candidate lists).
pub(crate) struct TopK {
    k: usize,
    pairs: Vec<(f32, u32)>,
    /// The k-th best pair at the last cut: a pair must beat it to be kept.
    worst: Option<(f32, u32)>,
}

impl TopK {
    pub(crate) fn new(k: usize) -> Self {
        Self {
            k,
            pairs: Vec::with_capacity(2 * k),
            worst: None,
        }
    }

    /// The distance a candidate must beat (or tie with a lower index) to be kept.
    #[inline]
    pub(crate) fn bound(&self) -> f32 {
        self.worst.map_or(f32::INFINITY, |(d, _)| d)
    }

    #[inline]
    pub(crate) fn push(&mut self, d: f32, j: u32) {
        if let Some((wd, wj)) = self.worst
            && (d > wd || (d == wd && j > wj))
        {
            return;
        }
        self.pairs.push((d, j));
        if self.pairs.len() >= 2 * self.k.max(1) {
            self.cut();
        }
    }

    /// Keep the best k (unordered: a selection, not a sort) and take the k-th as the new
    /// bound once there are k.
    fn cut(&mut self) {
        if self.pairs.len() > self.k && self.k > 0 {
            let (_, kth, _) = self.pairs.select_nth_unstable_by(self.k - 1, order);
            self.worst = Some(*kth);
            self.pairs.truncate(self.k);
        } else if self.pairs.len() > self.k {
            self.pairs.clear();
        }
    }

    /// The best k (fewer if fewer were pushed), sorted by (distance, index).
    pub(crate) fn into_parts(mut self) -> (Vec<f32>, Vec<u32>) {
        self.cut();
        self.pairs.sort_unstable_by(order);
        self.pairs.into_iter().unzip()
    }
}

/// The order of neighbours: by distance, ties by the lower index.
fn order(a: &(f32, u32), b: &(f32, u32)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// Where (d, j) goes in a list sorted by (distance, index).
#[inline]
pub(crate) fn insertion_point(dist: &[f32], idx: &[u32], d: f32, j: u32) -> usize {
    dist.iter()
        .zip(idx)
        .position(|(&od, &oj)| d < od || (d == od && j < oj))
        .unwrap_or(dist.len())
}

/// Rows scaled to unit length, for the cosine metric.
pub(crate) fn normalized(features: &[f32], dim: usize) -> Result<Vec<f32>, KnnError> {
    let mut out = features.to_vec();
    out.par_chunks_mut(dim)
        .enumerate()
        .try_for_each(|(row, v)| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm == 0.0 {
                return Err(KnnError::ZeroRow { row });
            }
            v.iter_mut().for_each(|x| *x /= norm);
            Ok(())
        })?;
    Ok(out)
}

pub(crate) fn squared_norms(features: &[f32], dim: usize) -> Vec<f32> {
    features
        .par_chunks(dim)
        .map(|r| r.iter().map(|x| x * x).sum())
        .collect()
}

/// Dot product of two rows.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent lanes so the loop vectorises.
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// Squared distance from the dot product and the squared norms, clamped at 0 against rounding.
#[inline]
pub(crate) fn from_dot(norm_a: f32, norm_b: f32, dot: f32) -> f32 {
    (norm_a + norm_b - 2.0 * dot).max(0.0)
}

/// The rows the search compares with squared euclidean distance: the features themselves, or
/// (cosine) their normalised copy.
pub(crate) fn prepared(
    features: &[f32],
    dim: usize,
    metric: Metric,
) -> Result<std::borrow::Cow<'_, [f32]>, KnnError> {
    Ok(match metric {
        Metric::Euclidean => std::borrow::Cow::Borrowed(features),
        Metric::Cosine => std::borrow::Cow::Owned(normalized(features, dim)?),
    })
}

/// Convert a squared euclidean distance between prepared rows to the metric's distance.
#[inline]
pub(crate) fn finish_distance(metric: Metric, d2: f32) -> f32 {
    match metric {
        Metric::Euclidean => d2.sqrt(),
        // For unit vectors ‖x − y‖² = 2 − 2 cos.
        Metric::Cosine => d2 * 0.5,
    }
}

/// Exact k nearest neighbours of every row among the others.
pub fn exact_knn(
    features: &[f32],
    dim: usize,
    k: usize,
    metric: Metric,
    observer: &dyn Observer,
) -> Result<KnnGraph, KnnError> {
    let n = features.len() / dim.max(1);
    check_k(k, n)?;
    let data = prepared(features, dim, metric)?;
    let data: &[f32] = &data;
    let norms = squared_norms(data, dim);
    let done = AtomicU64::new(0);
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0f32; n * k];
    indices
        .par_chunks_mut(QUERY_BLOCK * k)
        .zip(distances.par_chunks_mut(QUERY_BLOCK * k))
        .enumerate()
        .try_for_each(|(block, (idx_out, dist_out))| {
            if observer.cancelled() {
                return Err(KnnError::Cancelled);
            }
            let q0 = block * QUERY_BLOCK;
            let q1 = (q0 + QUERY_BLOCK).min(n);
            let queries: Vec<usize> = (q0..q1).collect();
            let tops = block_knn(data, &norms, dim, &queries, k);
            for (qi, top) in tops.into_iter().enumerate() {
                let (d, j) = top.into_parts();
                for (slot, d2) in dist_out[qi * k..(qi + 1) * k].iter_mut().zip(d) {
                    *slot = finish_distance(metric, d2);
                }
                idx_out[qi * k..(qi + 1) * k].copy_from_slice(&j);
            }
            let finished = done.fetch_add((q1 - q0) as u64, Ordering::Relaxed) + (q1 - q0) as u64;
            observer.progress(finished, n as u64);
            Ok(())
        })?;
    Ok(KnnGraph {
        k,
        metric,
        indices,
        distances,
    })
}

/// Squared distances of the items `queries` to every item, through GEMM tiles; returns one
/// TopK of squared distances per query (a query is never its own neighbour).
pub(crate) fn block_knn(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    queries: &[usize],
    k: usize,
) -> Vec<TopK> {
    let n = norms.len();
    let nq = queries.len();
    // The query rows, contiguous for the GEMM (a copy of 256 rows is nothing next to the
    // N × 256 products computed from it).
    let gathered: Vec<f32> = queries
        .iter()
        .flat_map(|&q| &data[q * dim..(q + 1) * dim])
        .copied()
        .collect();
    let query_rows = ArrayView2::from_shape((nq, dim), &gathered)
        .unwrap_or_else(|_| unreachable!("nq rows of dim values by construction"));
    let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
    let mut tile = ndarray::Array2::<f32>::zeros((nq, REF_BLOCK.min(n)));
    for r0 in (0..n).step_by(REF_BLOCK) {
        let r1 = (r0 + REF_BLOCK).min(n);
        let refs = ArrayView2::from_shape((r1 - r0, dim), &data[r0 * dim..r1 * dim])
            .unwrap_or_else(|_| unreachable!("slice length is rows × dim by construction"));
        let mut dots = tile.slice_mut(ndarray::s![.., ..r1 - r0]);
        general_mat_mul(1.0, &query_rows, &refs.t(), 0.0, &mut dots);
        for ((top, dot_row), &q) in tops.iter_mut().zip(dots.rows()).zip(queries) {
            let dot_row = dot_row
                .to_slice()
                .unwrap_or_else(|| unreachable!("a row of a standard-layout tile is contiguous"));
            scan_row(top, dot_row, &norms[r0..r1], norms[q], r0, q);
        }
    }
    tops
}

/// Offer query `q`'s squared distances to items `r0..` (from their dot products and norms) to
/// its top-k. Most of a row is farther than the current k-th neighbour once a few blocks have
/// been seen, so eight at a time are first checked against the bound branch-free (a loop
/// that vectorises); only a group with a candidate is looked at one by one.
#[inline]
fn scan_row(top: &mut TopK, dots: &[f32], ref_norms: &[f32], q_norm: f32, r0: usize, q: usize) {
    const LANES: usize = 8;
    let mut bound = top.bound();
    let offer = |top: &mut TopK, bound: &mut f32, offset: usize, dot: f32| {
        let j = r0 + offset;
        let d2 = (q_norm + ref_norms[offset] - 2.0 * dot).max(0.0);
        if d2 <= *bound && j != q {
            top.push(d2, j as u32);
            *bound = top.bound();
        }
    };
    let whole = dots.len() / LANES * LANES;
    for (at, (d8, n8)) in dots[..whole]
        .chunks_exact(LANES)
        .zip(ref_norms[..whole].chunks_exact(LANES))
        .enumerate()
    {
        let mut nearest = f32::INFINITY;
        for (&dot, &norm) in d8.iter().zip(n8) {
            let d2 = q_norm + norm - 2.0 * dot;
            nearest = if d2 < nearest { d2 } else { nearest };
        }
        if nearest.max(0.0) <= bound {
            for (lane, &dot) in d8.iter().enumerate() {
                offer(top, &mut bound, at * LANES + lane, dot);
            }
        }
    }
    for (offset, &dot) in dots.iter().enumerate().skip(whole) {
        offer(top, &mut bound, offset, dot);
    }
}

/// The `k` items nearest to one new vector (e.g. a dropped-in query image's embedding),
/// nearest first, as (item index, distance).
pub fn query(
    features: &[f32],
    dim: usize,
    vector: &[f32],
    k: usize,
    metric: Metric,
) -> Result<Vec<(u32, f32)>, KnnError> {
    if vector.len() != dim {
        return Err(KnnError::QueryDim {
            found: vector.len(),
            expected: dim,
        });
    }
    let n = features.len() / dim.max(1);
    if k == 0 {
        return Err(KnnError::KZero);
    }
    let k = k.min(n);
    let unit = |v: &[f32]| -> Option<Vec<f32>> {
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        (norm > 0.0).then(|| v.iter().map(|x| x / norm).collect())
    };
    let q: Vec<f32> = match metric {
        Metric::Euclidean => vector.to_vec(),
        Metric::Cosine => unit(vector).ok_or(KnnError::ZeroRow { row: 0 })?,
    };
    let tops: Vec<TopK> = features
        .par_chunks(dim * 4096)
        .enumerate()
        .map(|(block, rows)| {
            let mut top = TopK::new(k);
            for (offset, row) in rows.chunks_exact(dim).enumerate() {
                let d = match metric {
                    Metric::Euclidean => row.iter().zip(&q).map(|(a, b)| (a - b) * (a - b)).sum(),
                    Metric::Cosine => {
                        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
                        if norm == 0.0 {
                            continue; // an all-zero item has no cosine distance to anything
                        }
                        1.0 - row.iter().zip(&q).map(|(a, b)| a * b).sum::<f32>() / norm
                    }
                };
                top.push(d, (block * 4096 + offset) as u32);
            }
            top
        })
        .collect();
    let mut merged = TopK::new(k);
    for top in tops {
        let (d, j) = top.into_parts();
        for (d, j) in d.into_iter().zip(j) {
            merged.push(d, j);
        }
    }
    let (d, j) = merged.into_parts();
    Ok(j.into_iter()
        .zip(d)
        .map(|(j, d)| {
            (
                j,
                if metric == Metric::Euclidean {
                    d.sqrt()
                } else {
                    d.max(0.0)
                },
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// O(N²) reference in f64 with the same tie rule.
    fn naive(features: &[f32], dim: usize, k: usize, metric: Metric) -> Vec<Vec<(f64, u32)>> {
        let n = features.len() / dim;
        let row = |i: usize| &features[i * dim..(i + 1) * dim];
        let dist = |a: &[f32], b: &[f32]| -> f64 {
            match metric {
                Metric::Euclidean => a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
                    .sum::<f64>()
                    .sqrt(),
                Metric::Cosine => {
                    let dot: f64 = a
                        .iter()
                        .zip(b)
                        .map(|(x, y)| f64::from(*x) * f64::from(*y))
                        .sum();
                    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                    1.0 - dot / (na * nb)
                }
            }
        };
        (0..n)
            .map(|i| {
                let mut all: Vec<(f64, u32)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| (dist(row(i), row(j)), j as u32))
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                all.truncate(k);
                all
            })
            .collect()
    }

    /// Deterministic pseudo-random values (xorshift), so the tests need no RNG crate.
    fn values(n: usize, seed: u64, integers: bool) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                if integers {
                    (s % 4) as f32 // few distinct values: many exact ties
                } else {
                    (s % 100_000) as f32 / 50_000.0 - 1.0
                }
            })
            .collect()
    }

    #[test]
    fn equals_naive_reference() {
        for (n, dim, k) in [(50, 3, 5), (300, 17, 10), (2600, 8, 7)] {
            for metric in [Metric::Euclidean, Metric::Cosine] {
                let f = values(n * dim, (n + dim) as u64, false);
                let g = exact_knn(&f, dim, k, metric, &()).expect("knn");
                let truth = naive(&f, dim, k, metric);
                for (i, truth_i) in truth.iter().enumerate() {
                    let got = g.neighbors(i);
                    let want: Vec<u32> = truth_i.iter().map(|p| p.1).collect();
                    if got != want.as_slice() {
                        // Only a near-tie (within f32 rounding) may be ordered differently.
                        for (j, (&gd, w)) in g.neighbor_distances(i).iter().zip(truth_i).enumerate()
                        {
                            assert!(
                                (f64::from(gd) - w.0).abs() < 1e-4,
                                "n={n} {metric:?} row {i} rank {j}: {gd} vs {}",
                                w.0
                            );
                        }
                    }
                    for (gd, w) in g.neighbor_distances(i).iter().zip(truth_i) {
                        assert!((f64::from(*gd) - w.0).abs() < 1e-4);
                    }
                }
            }
        }
    }

    #[test]
    fn ties_break_by_index_exactly() {
        // Small integers: every distance is exact in f32, so the order must match exactly.
        let (n, dim, k) = (400, 3, 12);
        let f = values(n * dim, 7, true);
        let g = exact_knn(&f, dim, k, Metric::Euclidean, &()).expect("knn");
        let truth = naive(&f, dim, k, Metric::Euclidean);
        for (i, truth_i) in truth.iter().enumerate() {
            let want: Vec<u32> = truth_i.iter().map(|p| p.1).collect();
            assert_eq!(g.neighbors(i), want.as_slice(), "row {i}");
            assert!(!g.neighbors(i).contains(&(i as u32)), "self excluded");
        }
    }

    #[test]
    fn errors_are_explicit() {
        let f = vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        assert_eq!(
            exact_knn(&f, 2, 1, Metric::Cosine, &()),
            Err(KnnError::ZeroRow { row: 1 })
        );
        assert_eq!(
            exact_knn(&f, 2, 3, Metric::Euclidean, &()),
            Err(KnnError::KTooLarge { k: 3, n_items: 3 })
        );
    }

    #[test]
    fn query_matches_the_graph() {
        let (n, dim) = (500, 6);
        let f = values(n * dim, 3, false);
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let g = exact_knn(&f, dim, 5, metric, &()).expect("knn");
            // Querying item 10's own vector finds itself first, then its graph neighbours.
            let hits = query(&f, dim, &f[10 * dim..11 * dim], 6, metric).expect("query");
            assert_eq!(hits[0].0, 10);
            let rest: Vec<u32> = hits[1..].iter().map(|h| h.0).collect();
            assert_eq!(rest.as_slice(), g.neighbors(10), "{metric:?}");
        }
        assert!(matches!(
            query(&f, dim, &[0.0; 3], 2, Metric::Euclidean),
            Err(KnnError::QueryDim { .. })
        ));
    }
}
