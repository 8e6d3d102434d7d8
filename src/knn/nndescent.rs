//! Approximate kNN by NN-descent (Dong, Moses & Li 2011): a neighbour of a neighbour is likely
//! a neighbour. Start from random neighbours, then repeatedly compare each item's candidate
//! neighbours with one another, keeping whatever improves anyone's list, until few lists change.
//!
//! Each round has three phases so the parallel part needs no locks: candidates are sampled
//! (sequential, O(N·k)), pairs are compared against read-only bounds (parallel, the cost), and
//! the improvements found are applied (sequential). Deterministic for a seed, whatever the
//! thread count: the parallel phase only produces a list, applied in a fixed order.
//!
//! An item's local join is one small GEMM: its new candidates' rows against all its candidates'
//! rows, distances from ‖x‖² + ‖y‖² − 2 x·y as in the exact search. matrixmultiply picks the
//! widest SIMD the CPU has at run time, which a pairwise loop compiled for baseline x86-64
//! cannot.

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};
use rayon::prelude::*;

use super::exact::{dot, finish_distance, from_dot, insertion_point, prepared};
use super::{KnnError, KnnGraph, Metric, check_k};
use crate::numeric::squared_norms;
use crate::progress::Observer;
use crate::rng::mix;

/// Items whose local joins run between two applications of the improvements found: bounds
/// the memory of the improvement list (about 50 MB per chunk on Fashion-MNIST).
const JOIN_CHUNK: usize = 8192;

/// Tuning, with defaults measured on Fashion-MNIST (see benches/README.md).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NnDescentParams {
    /// Neighbours kept per item while searching (≥ the k returned): a longer list finds more.
    pub search_k: usize,
    /// Candidates sampled per item per round, new and old each.
    pub max_candidates: usize,
    pub max_rounds: usize,
    /// Stop when fewer than `delta · N · k` list entries changed in a round.
    pub delta: f64,
    pub seed: u64,
}

impl NnDescentParams {
    pub fn for_k(k: usize) -> Self {
        Self {
            search_k: k.max(20),
            max_candidates: 30,
            max_rounds: 12,
            delta: 0.001,
            seed: 0,
        }
    }
}

/// One worker's buffers for local joins, reused from item to item.
#[derive(Default)]
struct JoinScratch {
    /// The item's candidates, new ones first.
    ids: Vec<u32>,
    /// Their rows, in the same order, contiguous for the GEMM.
    rows: Vec<f32>,
    /// New × all dot products.
    gram: Vec<f32>,
}

/// Compare an item's new candidates (the first `n_new` of `scratch.ids`) with each other and
/// with its old ones (the rest); return the pairs that would enter either side's list
/// (against the round's start `bounds`).
fn local_join(
    data: &[f32],
    dim: usize,
    norms: &[f32],
    bounds: &[f32],
    n_new: usize,
    scratch: &mut JoinScratch,
) -> Vec<(u32, u32, f32)> {
    let JoinScratch { ids, rows, gram } = scratch;
    let n_all = ids.len();
    let mut out = Vec::new();
    if n_new == 0 {
        return out;
    }
    rows.clear();
    for &c in ids.iter() {
        rows.extend_from_slice(&data[c as usize * dim..(c as usize + 1) * dim]);
    }
    gram.resize(n_new * n_all, 0.0);
    let all = ArrayView2::from_shape((n_all, dim), rows)
        .unwrap_or_else(|_| unreachable!("rows hold n_all × dim values by construction"));
    let new_rows = all.slice(ndarray::s![..n_new, ..]);
    let mut products = ArrayViewMut2::from_shape((n_new, n_all), &mut gram[..])
        .unwrap_or_else(|_| unreachable!("gram was resized to n_new × n_all"));
    general_mat_mul(1.0, &new_rows, &all.t(), 0.0, &mut products);
    for (a_at, &a) in ids[..n_new].iter().enumerate() {
        let g = &gram[a_at * n_all..(a_at + 1) * n_all];
        for (b_at, &b) in ids.iter().enumerate().skip(a_at + 1) {
            if a == b {
                continue;
            }
            let d = from_dot(norms[a as usize], norms[b as usize], g[b_at]);
            if d <= bounds[a as usize] || d <= bounds[b as usize] {
                out.push((a, b, d));
            }
        }
    }
    out
}

/// One item's neighbour list: sorted by (distance, index), with a "new" flag per entry
/// (not yet used as a candidate).
#[derive(Clone)]
struct List {
    dist: Vec<f32>,
    idx: Vec<u32>,
    new: Vec<bool>,
}

impl List {
    fn bound(&self, k: usize) -> f32 {
        if self.dist.len() < k {
            f32::INFINITY
        } else {
            self.dist[k - 1]
        }
    }

    /// Insert unless present or not better than the worst; true if the list changed.
    fn push(&mut self, k: usize, d: f32, j: u32) -> bool {
        if self.dist.len() == k {
            let (wd, wj) = (self.dist[k - 1], self.idx[k - 1]);
            if d > wd || (d == wd && j >= wj) {
                return false;
            }
        }
        if self.idx.contains(&j) {
            return false;
        }
        let pos = insertion_point(&self.dist, &self.idx, d, j);
        self.dist.insert(pos, d);
        self.idx.insert(pos, j);
        self.new.insert(pos, true);
        if self.dist.len() > k {
            self.dist.pop();
            self.idx.pop();
            self.new.pop();
        }
        true
    }
}

/// Candidates of one item, keeping the `max` with the lowest random priority.
#[derive(Clone, Default)]
struct Candidates {
    items: Vec<(u64, u32)>,
}

impl Candidates {
    fn offer(&mut self, max: usize, priority: u64, j: u32) {
        if self.items.iter().any(|&(_, x)| x == j) {
            return;
        }
        if self.items.len() < max {
            self.items.push((priority, j));
        } else if let Some((worst_at, _)) = self
            .items
            .iter()
            .enumerate()
            .max_by_key(|(_, (p, _))| *p)
            .filter(|(_, (p, _))| priority < *p)
        {
            self.items[worst_at] = (priority, j);
        }
    }

    fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.items.iter().map(|&(_, j)| j)
    }
}

/// Approximate k nearest neighbours of every row.
pub fn nn_descent(
    features: &[f32],
    dim: usize,
    k: usize,
    metric: Metric,
    params: &NnDescentParams,
    observer: &dyn Observer,
) -> Result<KnnGraph, KnnError> {
    let n = features.len() / dim.max(1);
    check_k(k, n)?;
    let sk = params.search_k.max(k).min(n - 1);
    let data = prepared(features, dim, metric)?;
    let data: &[f32] = &data;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    let norms = squared_norms(data, dim);

    // Random start: sk distinct random neighbours per item.
    let mut lists: Vec<List> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut l = List {
                dist: Vec::with_capacity(sk + 1),
                idx: Vec::with_capacity(sk + 1),
                new: Vec::with_capacity(sk + 1),
            };
            let mut state = mix(params.seed ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
            while l.idx.len() < sk {
                state = mix(state);
                let j = (state % n as u64) as usize;
                if j != i {
                    // The list is not full yet, so any new index enters; repeats are refused.
                    l.push(
                        sk,
                        from_dot(norms[i], norms[j], dot(row(i), row(j))),
                        j as u32,
                    );
                }
            }
            l
        })
        .collect();

    for round in 0..params.max_rounds {
        if observer.cancelled() {
            return Err(KnnError::Cancelled);
        }
        // 1. Sample candidates, forward and reverse, new and old.
        let mut new_c = vec![Candidates::default(); n];
        let mut old_c = vec![Candidates::default(); n];
        let round_seed = mix(params.seed ^ (round as u64 + 1));
        for (i, l) in lists.iter().enumerate() {
            for (&j, &is_new) in l.idx.iter().zip(&l.new) {
                let p = mix(round_seed ^ ((i as u64) << 32 | u64::from(j)));
                let target = if is_new { &mut new_c } else { &mut old_c };
                target[i].offer(params.max_candidates, p, j);
                target[j as usize].offer(params.max_candidates, p, i as u32);
            }
        }
        // Entries sampled as new candidates of their own item are "old" from now on.
        for (i, l) in lists.iter_mut().enumerate() {
            for (j, flag) in l.idx.iter().zip(l.new.iter_mut()) {
                if *flag && new_c[i].ids().any(|c| c == *j) {
                    *flag = false;
                }
            }
        }
        // 2. Local joins against this round's bounds, in parallel, a chunk of items at a time
        //    so the list of improvements stays small; 3. apply them in item order. The bounds
        //    are the round's start bounds throughout, so chunking does not change the result.
        let bounds: Vec<f32> = lists.iter().map(|l| l.bound(sk)).collect();
        let mut changed = 0usize;
        for chunk_start in (0..n).step_by(JOIN_CHUNK) {
            let chunk = chunk_start..(chunk_start + JOIN_CHUNK).min(n);
            let updates: Vec<(u32, u32, f32)> = chunk
                .into_par_iter()
                .map_init(JoinScratch::default, |scratch, i| {
                    scratch.ids.clear();
                    scratch.ids.extend(new_c[i].ids());
                    let n_new = scratch.ids.len();
                    scratch.ids.extend(old_c[i].ids());
                    local_join(data, dim, &norms, &bounds, n_new, scratch)
                })
                .flatten_iter()
                .collect();
            for (a, b, d) in updates {
                changed += usize::from(lists[a as usize].push(sk, d, b));
                changed += usize::from(lists[b as usize].push(sk, d, a));
            }
        }
        observer.progress(round as u64 + 1, params.max_rounds as u64);
        if (changed as f64) < params.delta * (n * sk) as f64 {
            break;
        }
    }

    let mut indices = Vec::with_capacity(n * k);
    let mut distances = Vec::with_capacity(n * k);
    for l in &lists {
        indices.extend_from_slice(&l.idx[..k]);
        distances.extend(l.dist[..k].iter().map(|&d2| finish_distance(metric, d2)));
    }
    Ok(KnnGraph {
        k,
        metric,
        indices,
        distances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{exact_knn, recall};

    /// Gaussian-ish clusters: 20 centres in 16-D, 150 points each.
    fn clustered(seed: u64) -> (Vec<f32>, usize) {
        let dim = 16;
        let mut s = seed;
        let mut uniform = || {
            s = mix(s);
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        let centres: Vec<f32> = (0..20 * dim).map(|_| uniform() * 20.0).collect();
        let mut data = Vec::new();
        for c in 0..20 {
            for _ in 0..150 {
                for d in 0..dim {
                    let noise: f32 = (0..4).map(|_| uniform()).sum::<f32>() - 2.0;
                    data.push(centres[c * dim + d] + noise);
                }
            }
        }
        (data, dim)
    }

    #[test]
    fn recall_is_high_on_clustered_data() {
        let (data, dim) = clustered(1);
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let exact = exact_knn(&data, dim, 10, metric, &()).expect("exact");
            let approx = nn_descent(&data, dim, 10, metric, &NnDescentParams::for_k(10), &())
                .expect("approx");
            let r = recall(&approx, &exact);
            assert!(r >= 0.9, "{metric:?} recall {r}");
            for i in 0..approx.n_items() {
                assert!(!approx.neighbors(i).contains(&(i as u32)));
                assert!(
                    approx
                        .neighbor_distances(i)
                        .windows(2)
                        .all(|w| w[0] <= w[1])
                );
            }
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let (data, dim) = clustered(2);
        let p = NnDescentParams::for_k(5);
        let a = nn_descent(&data, dim, 5, Metric::Euclidean, &p, &()).expect("a");
        let b = nn_descent(&data, dim, 5, Metric::Euclidean, &p, &()).expect("b");
        assert_eq!(a, b);
    }
}
