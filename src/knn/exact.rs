//! Exact kNN by blocked GEMM: ‖x − y‖² = ‖x‖² + ‖y‖² − 2 x·y, one tile of dot products at a
//! time.
//!
//! The all-pairs search ([`exact_knn`]) computes each tile once for both of its blocks: the
//! rows of the tile go to the first block's items, its columns to the second's. Blocks meet in
//! rounds of disjoint pairs (a round-robin tournament), so every pair of a round runs in
//! parallel with its two blocks' neighbour lists to itself. Against one GEMM per direction this
//! halves the multiply work, which dominates a search in a few dozen dimensions (the projected
//! search's 50 components: there a dot product is only 50 multiply-adds and the tile as big
//! as its inputs).
//!
//! Memory besides the output: the row norms, every item's running neighbour list (up to 2k
//! pairs), one `BLOCK × BLOCK` tile per thread and, for cosine, one normalised copy of the
//! features.

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};
use rayon::prelude::*;

use super::{KnnError, KnnGraph, Metric, check_k};
use crate::numeric::squared_norms;
use crate::progress::Observer;

/// Items per block: a 256 × 256 f32 tile (256 KiB) stays in a core's L2 cache while its rows
/// and then its columns are scanned.
pub(crate) const BLOCK: usize = 256;
/// Reference rows per GEMM call when a few queries are searched against every item
/// ([`block_knn`]): a 256 × 512 f32 tile is 512 KiB.
const REF_BLOCK: usize = 512;

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

    /// A list that keeps only pairs at most `bound` away: a query that already has k
    /// neighbours elsewhere, offered more candidates to merge into them later.
    pub(crate) fn within(k: usize, bound: f32) -> Self {
        Self {
            k,
            pairs: Vec::with_capacity(2 * k),
            worst: bound.is_finite().then_some((bound, u32::MAX)),
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
        if self.pairs.len() >= self.k && self.k > 0 {
            let (_, kth, _) = self.pairs.select_nth_unstable_by(self.k - 1, order);
            self.worst = Some(*kth);
            self.pairs.truncate(self.k);
        } else if self.pairs.len() > self.k {
            self.pairs.clear();
        }
    }

    /// The k-th smallest distance so far (infinite while fewer than k), cutting the list back
    /// to k first so the answer is exact, not the looser bound of the last cut.
    pub(crate) fn kth(&mut self) -> f32 {
        self.cut();
        self.bound()
    }

    /// The indices of the best k so far, unordered, without consuming the list (for a
    /// recall estimate part-way through a search).
    pub(crate) fn best_indices(&self) -> Vec<u32> {
        self.sorted().1
    }

    /// The best k (fewer if fewer were pushed), sorted by (distance, index), leaving the list
    /// as it is.
    pub(crate) fn sorted(&self) -> (Vec<f32>, Vec<u32>) {
        let mut pairs = self.pairs.clone();
        pairs.sort_unstable_by(order);
        pairs.truncate(self.k);
        pairs.into_iter().unzip()
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
    let n_blocks = n.div_ceil(BLOCK);
    let items = |b: usize| b * BLOCK..((b + 1) * BLOCK).min(n);
    let mut tops: Vec<Vec<TopK>> = (0..n_blocks)
        .map(|b| items(b).map(|_| TopK::new(k)).collect())
        .collect();
    let schedule = RoundRobin::new(n_blocks);
    let (mut done, total) = (0u64, (n_blocks * (n_blocks + 1) / 2) as u64);
    // Round 0: every block against itself (disjoint, so all at once); then the tournament.
    let rounds = std::iter::once((0..n_blocks).map(|b| (b, b)).collect::<Vec<_>>())
        .chain((0..schedule.rounds()).map(|r| schedule.round(r)));
    for pairs in rounds {
        if observer.cancelled() {
            return Err(KnnError::Cancelled);
        }
        // Hand each pair its blocks' lists: the pairs of a round are disjoint.
        let mut lists: Vec<Option<&mut Vec<TopK>>> = tops.iter_mut().map(Some).collect();
        let tasks: Vec<_> = pairs
            .iter()
            .map(|&(a, b)| {
                let first = lists[a].take();
                let second = if a == b { None } else { lists[b].take() };
                (a, b, first, second)
            })
            .collect();
        tasks.into_par_iter().for_each_init(
            || vec![0f32; BLOCK * BLOCK],
            |tile, (a, b, first, second)| {
                let first = first.unwrap_or_else(|| unreachable!("a round's pairs are disjoint"));
                pair_knn(
                    data,
                    &norms,
                    dim,
                    items(a),
                    items(b),
                    first,
                    second.map(Vec::as_mut_slice),
                    tile,
                );
            },
        );
        done += pairs.len() as u64;
        observer.progress(done * n as u64 / total.max(1), n as u64);
    }
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0f32; n * k];
    indices
        .par_chunks_mut(BLOCK * k)
        .zip(distances.par_chunks_mut(BLOCK * k))
        .zip(tops)
        .for_each(|((idx_out, dist_out), block)| {
            for ((idx_out, dist_out), top) in idx_out
                .chunks_exact_mut(k)
                .zip(dist_out.chunks_exact_mut(k))
                .zip(block)
            {
                let (d, j) = top.into_parts();
                for (slot, d2) in dist_out.iter_mut().zip(d) {
                    *slot = finish_distance(metric, d2);
                }
                idx_out.copy_from_slice(&j);
            }
        });
    Ok(KnnGraph {
        k,
        metric,
        indices,
        distances,
    })
}

/// One tile of the all-pairs search: the items `a` against the items `b`. Each row goes to
/// `a`'s lists (`first`); each column to `b`'s (`second`), unless `a` and `b` are one block.
#[allow(clippy::too_many_arguments)]
pub(crate) fn pair_knn(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    a: std::ops::Range<usize>,
    b: std::ops::Range<usize>,
    first: &mut [TopK],
    second: Option<&mut [TopK]>,
    tile: &mut [f32],
) {
    let (na, nb) = (a.len(), b.len());
    let rows = |r: &std::ops::Range<usize>| {
        ArrayView2::from_shape((r.len(), dim), &data[r.start * dim..r.end * dim])
            .unwrap_or_else(|_| unreachable!("slice length is rows × dim by construction"))
    };
    let tile = &mut tile[..na * nb];
    let mut dots = ArrayViewMut2::from_shape((na, nb), &mut *tile)
        .unwrap_or_else(|_| unreachable!("the tile holds BLOCK × BLOCK"));
    general_mat_mul(1.0, &rows(&a), &rows(&b).t(), 0.0, &mut dots);
    let (a_norms, b_norms) = (&norms[a.clone()], &norms[b.clone()]);
    for ((top, dot_row), (q, &q_norm)) in first
        .iter_mut()
        .zip(tile.chunks_exact(nb))
        .zip(a.clone().zip(a_norms))
    {
        scan_row(top, dot_row, b_norms, q_norm, b.start, q);
    }
    if let Some(second) = second {
        scan_columns(second, tile, b_norms, a_norms, a.start);
    }
}

/// The column side of a tile: column c holds item `b₀ + c`'s dot products with the items
/// `r0..` of the rows. Read row by row (the tile's order) with one bound per column, eight
/// columns at a time as in [`scan_row`].
fn scan_columns(tops: &mut [TopK], tile: &[f32], col_norms: &[f32], row_norms: &[f32], r0: usize) {
    let nb = tops.len();
    let mut bounds: Vec<f32> = tops.iter().map(TopK::bound).collect();
    let whole = nb / LANES * LANES;
    for (r, (dot_row, &r_norm)) in tile.chunks_exact(nb).zip(row_norms).enumerate() {
        let j = (r0 + r) as u32;
        let offer = |tops: &mut [TopK], bounds: &mut [f32], c: usize| {
            // The same arithmetic as the row side's (the column's item is the query).
            let d2 = from_dot(r_norm, col_norms[c], dot_row[c]);
            if d2 <= bounds[c] {
                tops[c].push(d2, j);
                bounds[c] = tops[c].bound();
            }
        };
        for c0 in (0..whole).step_by(LANES) {
            let lanes = c0..c0 + LANES;
            let b8 = &bounds[lanes.clone()];
            let mut hits = within_mask(&dot_row[lanes.clone()], &col_norms[lanes], r_norm, |l| {
                b8[l]
            });
            while hits != 0 {
                offer(tops, &mut bounds, c0 + hits.trailing_zeros() as usize);
                hits &= hits - 1;
            }
        }
        for c in whole..nb {
            offer(tops, &mut bounds, c);
        }
    }
}

/// A round-robin tournament of `n` blocks (the circle method): in each round every block meets
/// at most one other, and over all rounds every two blocks meet exactly once. An odd count
/// gets a phantom block; its pairs are left out.
struct RoundRobin {
    /// Even: `n` or `n + 1`.
    slots: usize,
    n: usize,
}

impl RoundRobin {
    fn new(n: usize) -> Self {
        Self {
            slots: n + n % 2,
            n,
        }
    }

    fn rounds(&self) -> usize {
        self.slots.saturating_sub(1)
    }

    /// Round `r`'s pairs: slot `slots − 1` stays put and meets `r`; the others pair up
    /// around `r` as (r + i, r − i) modulo `slots − 1`.
    fn round(&self, r: usize) -> Vec<(usize, usize)> {
        let m = self.slots - 1;
        (0..self.slots / 2)
            .map(|i| {
                if i == 0 {
                    (r, m)
                } else {
                    ((r + i) % m, (r + m - i) % m)
                }
            })
            .filter(|&(a, b)| a < self.n && b < self.n)
            .collect()
    }
}

/// Squared distances of the items `queries` to the items `refs`, through GEMM tiles; returns
/// one TopK of squared distances per query (a query is never its own neighbour).
pub(crate) fn block_knn(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    queries: &[usize],
    refs: std::ops::Range<usize>,
    k: usize,
) -> Vec<TopK> {
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
    let mut tile = ndarray::Array2::<f32>::zeros((nq, REF_BLOCK.min(refs.len())));
    for r0 in refs.clone().step_by(REF_BLOCK) {
        let r1 = (r0 + REF_BLOCK).min(refs.end);
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

/// Exact k nearest neighbours of the `sample` items (a few hundred).
///
/// The items are split among the threads, each searching all the queries in its part: the
/// data is read once and every GEMM has the whole sample as its rows. (Splitting the queries
/// instead read a million items' rows once per 32 queries and repacked each block for as few
/// queries: twice the time.)
pub(crate) fn exact_sample(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    sample: &[usize],
    k: usize,
) -> Vec<Vec<u32>> {
    let n = norms.len();
    let part = n.div_ceil(4 * rayon::current_num_threads()).max(REF_BLOCK);
    let merged = (0..n.div_ceil(part))
        .into_par_iter()
        .map(|p| {
            block_knn(
                data,
                norms,
                dim,
                sample,
                p * part..((p + 1) * part).min(n),
                k,
            )
        })
        .reduce_with(|mut a, b| {
            for (into, from) in a.iter_mut().zip(b) {
                let (d, j) = from.into_parts();
                for (d, j) in d.into_iter().zip(j) {
                    into.push(d, j);
                }
            }
            a
        })
        .unwrap_or_default();
    merged.into_iter().map(|top| top.into_parts().1).collect()
}

/// Lanes of the branch-free bound check in the scans.
const LANES: usize = 8;

/// Which of eight squared distances `norm + q_norm − 2·dot` are within their bounds, as bits.
/// A compare-and-OR the compiler turns into packed compares and a mask; the same arithmetic as
/// the exact offers after it (a bound is ≥ 0, so their clamp at 0 changes nothing here).
#[inline]
fn within_mask(dots: &[f32], norms: &[f32], q_norm: f32, bounds: impl Fn(usize) -> f32) -> u32 {
    let mut hits = 0u32;
    for l in 0..LANES {
        hits |= u32::from(norms[l] + q_norm - 2.0 * dots[l] <= bounds(l)) << l;
    }
    hits
}

/// Offer query `q`'s squared distances to items `r0..` (from their dot products and norms) to
/// its top-k. Once a few blocks have been seen most of a row is farther than the current k-th
/// neighbour, so eight at a time are checked against the bound branch-free and only the lanes
/// within it are offered one by one. (A running minimum of the eight, the first version, is a
/// float reduction the compiler must keep scalar, and offering every lane of a group with one
/// candidate cost as much again: the scan then took as long as the GEMM of a 50-component
/// search.)
#[inline]
pub(crate) fn scan_row(
    top: &mut TopK,
    dots: &[f32],
    ref_norms: &[f32],
    q_norm: f32,
    r0: usize,
    q: usize,
) {
    let mut bound = top.bound();
    let offer = |top: &mut TopK, bound: &mut f32, offset: usize| {
        let j = r0 + offset;
        let d2 = from_dot(ref_norms[offset], q_norm, dots[offset]);
        if d2 <= *bound && j != q {
            top.push(d2, j as u32);
            *bound = top.bound();
        }
    };
    let whole = dots.len() / LANES * LANES;
    for c0 in (0..whole).step_by(LANES) {
        let lanes = c0..c0 + LANES;
        let b = bound;
        let mut hits = within_mask(&dots[lanes.clone()], &ref_norms[lanes], q_norm, |_| b);
        while hits != 0 {
            offer(top, &mut bound, c0 + hits.trailing_zeros() as usize);
            hits &= hits - 1;
        }
    }
    for offset in whole..dots.len() {
        offer(top, &mut bound, offset);
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
                    Metric::Euclidean => crate::numeric::simd::squared_distance(row, &q),
                    Metric::Cosine => {
                        let norm = dot(row, row).sqrt();
                        if norm == 0.0 {
                            continue; // an all-zero item has no cosine distance to anything
                        }
                        1.0 - dot(row, &q) / norm
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
    fn the_tournament_pairs_every_two_blocks_once() {
        for n in [1, 2, 3, 4, 7, 10, 11] {
            let schedule = RoundRobin::new(n);
            let mut met = std::collections::HashSet::new();
            for r in 0..schedule.rounds() {
                let pairs = schedule.round(r);
                let mut busy = vec![false; n];
                for (a, b) in pairs {
                    assert!(a != b && !busy[a] && !busy[b], "n={n} round {r}: overlap");
                    (busy[a], busy[b]) = (true, true);
                    assert!(met.insert((a.min(b), a.max(b))), "n={n}: ({a}, {b}) twice");
                }
            }
            assert_eq!(met.len(), n * (n - 1) / 2, "n={n}");
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
