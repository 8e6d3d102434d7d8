//! Input affinities of the layout methods, computed from the shared kNN graph:
//! t-SNE's perplexity-calibrated conditional probabilities (symmetrised), UMAP's fuzzy
//! simplicial set (umap-learn's `smooth_knn_dist` + fuzzy union), and UMAP's `a, b` curve
//! parameters fitted from `min_dist` and `spread`.
//!
//! Groundwork for the layout engine (issue #4): the optimisers consume the sparse matrices here.

use rayon::prelude::*;

use crate::knn::KnnGraph;

/// A sparse N × N matrix, rows sorted by column.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    pub n: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Csr {
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    pub fn sum(&self) -> f64 {
        self.values.iter().map(|&v| f64::from(v)).sum()
    }

    /// Build from per-row (column, value) lists, combining `M` and `Mᵀ` entry by entry with
    /// `combine(m_ij, m_ji)` (a missing entry counts as 0).
    ///
    /// Mᵀ is built by a counting sort into flat arrays, each output row merged from row i of M
    /// and of Mᵀ (both sorted by column), its length counted in a first pass so the output is
    /// written in place. Per-row lists of tagged triplets (the first version) took 12 bytes per
    /// entry of M and of Mᵀ plus growth slack: t-SNE's affinities at a million items and
    /// k = 90 peaked at 6.7 GB; this holds Mᵀ (8 bytes an entry) and the output.
    fn symmetrised(rows: &[Vec<(u32, f32)>], combine: impl Fn(f32, f32) -> f32 + Sync) -> Self {
        let n = rows.len();
        let mut t_ptr = vec![0usize; n + 1];
        for row in rows {
            for &(j, _) in row {
                t_ptr[j as usize + 1] += 1;
            }
        }
        for j in 0..n {
            t_ptr[j + 1] += t_ptr[j];
        }
        let mut t_idx = vec![0u32; t_ptr[n]];
        let mut t_val = vec![0f32; t_ptr[n]];
        let mut next = t_ptr.clone();
        for (i, row) in rows.iter().enumerate() {
            for &(j, v) in row {
                let at = &mut next[j as usize];
                t_idx[*at] = i as u32;
                t_val[*at] = v;
                *at += 1;
            }
        }
        drop(next);
        // Row i of M sorted by column; row i of Mᵀ is sorted already (filled in row order).
        let merge = |i: usize, emit: &mut dyn FnMut(u32, f32)| {
            let mut forward = rows[i].clone();
            forward.sort_unstable_by_key(|e| e.0);
            let (bi, bv) = (
                &t_idx[t_ptr[i]..t_ptr[i + 1]],
                &t_val[t_ptr[i]..t_ptr[i + 1]],
            );
            let (mut p, mut q) = (0, 0);
            while p < forward.len() || q < bi.len() {
                let j = match (forward.get(p), bi.get(q)) {
                    (Some(a), Some(&b)) => a.0.min(b),
                    (Some(a), None) => a.0,
                    (None, Some(&b)) => b,
                    (None, None) => break,
                };
                let (mut f, mut g) = (0f32, 0f32);
                while p < forward.len() && forward[p].0 == j {
                    f += forward[p].1;
                    p += 1;
                }
                while q < bi.len() && bi[q] == j {
                    g += bv[q];
                    q += 1;
                }
                emit(j, combine(f, g));
            }
        };
        let lengths: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| {
                let mut count = 0;
                merge(i, &mut |_, _| count += 1);
                count
            })
            .collect();
        let mut indptr = Vec::with_capacity(n + 1);
        indptr.push(0);
        for len in &lengths {
            indptr.push(indptr[indptr.len() - 1] + len);
        }
        let mut indices = vec![0u32; indptr[n]];
        let mut values = vec![0f32; indptr[n]];
        let mut parts: Vec<(&mut [u32], &mut [f32])> = Vec::with_capacity(n);
        let (mut rest_i, mut rest_v) = (&mut indices[..], &mut values[..]);
        for len in &lengths {
            let (head_i, tail_i) = rest_i.split_at_mut(*len);
            let (head_v, tail_v) = rest_v.split_at_mut(*len);
            parts.push((head_i, head_v));
            (rest_i, rest_v) = (tail_i, tail_v);
        }
        parts
            .into_par_iter()
            .enumerate()
            .for_each(|(i, (out_i, out_v))| {
                let mut at = 0;
                merge(i, &mut |j, v| {
                    out_i[at] = j;
                    out_v[at] = v;
                    at += 1;
                });
            });
        Self {
            n,
            indptr,
            indices,
            values,
        }
    }
}

/// Conditional probabilities p_{j|i} ∝ exp(−β_i d_ij²) over item i's neighbours, with β_i found
/// by bisection so the row's perplexity (2^entropy in bits, e^entropy in nats) equals
/// `perplexity`. Returns one row per item, as (neighbour, probability), each summing to 1.
pub fn conditional_probabilities(graph: &KnnGraph, perplexity: f64) -> Vec<Vec<(u32, f32)>> {
    let target_entropy = perplexity.ln();
    (0..graph.n_items())
        .into_par_iter()
        .map(|i| {
            let d2: Vec<f64> = graph
                .neighbor_distances(i)
                .iter()
                .map(|&d| f64::from(d) * f64::from(d))
                .collect();
            // Shift by the smallest distance: the same probabilities, no underflow.
            let d_min = d2.iter().copied().fold(f64::INFINITY, f64::min);
            let probs_for = |beta: f64| -> (Vec<f64>, f64) {
                let w: Vec<f64> = d2.iter().map(|&d| (-(d - d_min) * beta).exp()).collect();
                let sum: f64 = w.iter().sum();
                let p: Vec<f64> = w.iter().map(|x| x / sum).collect();
                let entropy = -p
                    .iter()
                    .filter(|&&x| x > 0.0)
                    .map(|&x| x * x.ln())
                    .sum::<f64>();
                (p, entropy)
            };
            let (mut lo, mut hi, mut beta) = (0.0f64, f64::INFINITY, 1.0f64);
            let mut p = Vec::new();
            for _ in 0..200 {
                let (probs, entropy) = probs_for(beta);
                p = probs;
                let gap = entropy - target_entropy;
                if gap.abs() < 1e-10 {
                    break;
                }
                // Too much entropy: the distribution is too flat, so sharpen (raise β).
                if gap > 0.0 {
                    lo = beta;
                    beta = if hi.is_finite() {
                        (beta + hi) / 2.0
                    } else {
                        beta * 2.0
                    };
                } else {
                    hi = beta;
                    beta = (beta + lo) / 2.0;
                }
            }
            graph
                .neighbors(i)
                .iter()
                .zip(p)
                .map(|(&j, pj)| (j, pj as f32))
                .collect()
        })
        .collect()
}

/// t-SNE's joint probabilities P = (P_cond + P_condᵀ) / 2N, summing to 1.
pub fn tsne_affinities(graph: &KnnGraph, perplexity: f64) -> Csr {
    let rows = conditional_probabilities(graph, perplexity);
    let scale = 1.0 / (2.0 * rows.len() as f32);
    Csr::symmetrised(&rows, |a, b| (a + b) * scale)
}

/// umap-learn's `smooth_knn_dist`: per item, ρ (distance to the nearest neighbour) and σ such
/// that Σ_j exp(−max(0, d_ij − ρ)/σ) = log2(k + 1), where k + 1 counts the item itself as
/// umap-learn's neighbour lists do.
pub fn smooth_knn_dist(graph: &KnnGraph) -> (Vec<f32>, Vec<f32>) {
    const TOLERANCE: f64 = 1e-5;
    const MIN_K_DIST_SCALE: f64 = 1e-3;
    let k = graph.k;
    let target = ((k + 1) as f64).log2();
    let mean_all: f64 = graph.distances.iter().map(|&d| f64::from(d)).sum::<f64>()
        / graph.distances.len().max(1) as f64;
    let (rho, sigma): (Vec<f32>, Vec<f32>) = (0..graph.n_items())
        .into_par_iter()
        .map(|i| {
            let d: Vec<f64> = graph
                .neighbor_distances(i)
                .iter()
                .map(|&x| f64::from(x))
                .collect();
            let rho = d.iter().copied().find(|&x| x > 0.0).unwrap_or(0.0);
            let (mut lo, mut hi, mut mid) = (0.0f64, f64::INFINITY, 1.0f64);
            for _ in 0..64 {
                // The item itself (distance 0, umap-learn's first entry) is left out of the sum.
                let psum: f64 = d
                    .iter()
                    .map(|&x| {
                        let r = x - rho;
                        if r > 0.0 { (-r / mid).exp() } else { 1.0 }
                    })
                    .sum();
                if (psum - target).abs() < TOLERANCE {
                    break;
                }
                if psum > target {
                    hi = mid;
                    mid = (lo + hi) / 2.0;
                } else {
                    lo = mid;
                    mid = if hi.is_finite() {
                        (lo + hi) / 2.0
                    } else {
                        mid * 2.0
                    };
                }
            }
            let mean_i = d.iter().sum::<f64>() / d.len().max(1) as f64;
            let floor = MIN_K_DIST_SCALE * if rho > 0.0 { mean_i } else { mean_all };
            (rho as f32, mid.max(floor) as f32)
        })
        .unzip();
    (rho, sigma)
}

/// UMAP's fuzzy simplicial set: memberships exp(−max(0, d − ρ_i)/σ_i), combined by fuzzy union
/// w + wᵀ − w∘wᵀ.
pub fn umap_affinities(graph: &KnnGraph) -> Csr {
    let (rho, sigma) = smooth_knn_dist(graph);
    let rows: Vec<Vec<(u32, f32)>> = (0..graph.n_items())
        .map(|i| {
            graph
                .neighbors(i)
                .iter()
                .zip(graph.neighbor_distances(i))
                .map(|(&j, &d)| {
                    let r = d - rho[i];
                    (j, if r <= 0.0 { 1.0 } else { (-r / sigma[i]).exp() })
                })
                .collect()
        })
        .collect();
    Csr::symmetrised(&rows, |a, b| a + b - a * b)
}

/// umap-learn's `find_ab_params`: least-squares fit of 1 / (1 + a x^{2b}) to the target curve
/// (1 below `min_dist`, exp(−(x − min_dist)/spread) above) on 300 points of [0, 3·spread],
/// by Levenberg–Marquardt from (1, 1) as scipy's `curve_fit` does.
pub fn fit_ab(spread: f64, min_dist: f64) -> (f64, f64) {
    let xs: Vec<f64> = (0..300).map(|i| spread * 3.0 * i as f64 / 299.0).collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist {
                1.0
            } else {
                (-(x - min_dist) / spread).exp()
            }
        })
        .collect();
    let sse = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&ys)
            .map(|(&x, &y)| (1.0 / (1.0 + a * x.powf(2.0 * b)) - y).powi(2))
            .sum()
    };
    let (mut a, mut b, mut lambda) = (1.0f64, 1.0f64, 1e-3f64);
    let mut err = sse(a, b);
    for _ in 0..500 {
        // Normal equations J^T J δ = −J^T r for the two parameters.
        let (mut jaa, mut jab, mut jbb, mut ga, mut gb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for (&x, &y) in xs.iter().zip(&ys) {
            let xp = x.powf(2.0 * b);
            let f = 1.0 / (1.0 + a * xp);
            let r = f - y;
            let da = -xp * f * f;
            // d/db x^{2b} = 2 ln(x) x^{2b}; zero at x = 0.
            let db = if x > 0.0 {
                -a * 2.0 * x.ln() * xp * f * f
            } else {
                0.0
            };
            jaa += da * da;
            jab += da * db;
            jbb += db * db;
            ga += da * r;
            gb += db * r;
        }
        let (maa, mbb) = (jaa * (1.0 + lambda), jbb * (1.0 + lambda));
        let det = maa * mbb - jab * jab;
        if det.abs() < 1e-300 {
            break;
        }
        let step_a = -(mbb * ga - jab * gb) / det;
        let step_b = -(maa * gb - jab * ga) / det;
        let trial = sse(a + step_a, b + step_b);
        if trial < err {
            let improvement = err - trial;
            a += step_a;
            b += step_b;
            err = trial;
            lambda *= 0.3;
            if improvement < 1e-15 {
                break;
            }
        } else {
            lambda *= 10.0;
            if lambda > 1e12 {
                break;
            }
        }
    }
    (a, b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Metric, exact_knn};

    fn graph(n: usize, k: usize) -> KnnGraph {
        let mut s = 42u64;
        let data: Vec<f32> = (0..n * 5)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32
            })
            .collect();
        exact_knn(&data, 5, k, Metric::Euclidean, &()).expect("knn")
    }

    #[test]
    fn rows_sum_to_one_and_hit_the_perplexity() {
        let g = graph(300, 90);
        for row in conditional_probabilities(&g, 30.0) {
            let sum: f64 = row.iter().map(|&(_, p)| f64::from(p)).sum();
            assert!((sum - 1.0).abs() < 1e-5, "{sum}");
            let entropy: f64 = -row
                .iter()
                .map(|&(_, p)| f64::from(p))
                .filter(|&p| p > 0.0)
                .map(|p| p * p.ln())
                .sum::<f64>();
            assert!(
                (entropy.exp() - 30.0).abs() < 1e-3,
                "perplexity {}",
                entropy.exp()
            );
        }
        let p = tsne_affinities(&g, 30.0);
        assert!((p.sum() - 1.0).abs() < 1e-4);
        // Symmetric: p_ij == p_ji.
        for i in 0..p.n {
            let (cols, vals) = p.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                let (back_cols, back_vals) = p.row(j as usize);
                let at = back_cols
                    .binary_search(&(i as u32))
                    .expect("symmetric entry");
                assert_eq!(back_vals[at], v);
            }
        }
    }

    #[test]
    fn symmetrised_equals_a_dense_combination() {
        // Rows in any column order, a repeated column and a self-loop: each side's entries for
        // one column are summed, then combined with the other side's.
        let n = 7;
        let mut s = 11u64;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut rows: Vec<Vec<(u32, f32)>> = (0..n)
            .map(|_| {
                (0..3)
                    .map(|_| ((next() % n as u64) as u32, (1 + next() % 100) as f32 / 10.0))
                    .collect()
            })
            .collect();
        rows[2].push((2, 0.5));
        let repeated = rows[4][0];
        rows[4].push(repeated);
        let mut dense = vec![vec![0f32; n]; n];
        for (i, row) in rows.iter().enumerate() {
            for &(j, v) in row {
                dense[i][j as usize] += v;
            }
        }
        let combine = |a: f32, b: f32| 2.0 * a + b;
        let csr = Csr::symmetrised(&rows, combine);
        for (i, forward) in dense.iter().enumerate() {
            let (cols, vals) = csr.row(i);
            assert!(
                cols.windows(2).all(|w| w[0] < w[1]),
                "row {i} sorted: {cols:?}"
            );
            let expected: Vec<(u32, f32)> = (0..n)
                .filter(|&j| forward[j] != 0.0 || dense[j][i] != 0.0)
                .map(|j| (j as u32, combine(forward[j], dense[j][i])))
                .collect();
            let got: Vec<(u32, f32)> = cols.iter().copied().zip(vals.iter().copied()).collect();
            assert_eq!(
                got.len(),
                expected.len(),
                "row {i}: {got:?} vs {expected:?}"
            );
            for ((gj, gv), (ej, ev)) in got.iter().zip(&expected) {
                assert_eq!(gj, ej);
                assert!((gv - ev).abs() < 1e-5, "row {i} col {gj}: {gv} vs {ev}");
            }
        }
    }

    #[test]
    fn umap_memberships_are_fuzzy_unions() {
        let g = graph(200, 14);
        let (rho, sigma) = smooth_knn_dist(&g);
        let target = 15f64.log2();
        for i in 0..g.n_items() {
            let psum: f64 = g
                .neighbor_distances(i)
                .iter()
                .map(|&d| {
                    (-(f64::from(d) - f64::from(rho[i])).max(0.0) / f64::from(sigma[i])).exp()
                })
                .sum();
            assert!((psum - target).abs() < 1e-3, "row {i}: {psum} vs {target}");
        }
        let w = umap_affinities(&g);
        assert!(w.values.iter().all(|&v| v > 0.0 && v <= 1.0));
    }

    #[test]
    fn ab_match_umap_learn_defaults() {
        // scipy.optimize.curve_fit on umap-learn's curve gives 1.57694346, 0.89506088.
        let (a, b) = fit_ab(1.0, 0.1);
        assert!(
            (a - 1.576_943_46).abs() < 1e-5 && (b - 0.895_060_88).abs() < 1e-5,
            "a={a} b={b}"
        );
    }
}
