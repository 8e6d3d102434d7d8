//! Multinomial logistic regression with an L2 penalty, fitted by L-BFGS on the labelled rows of
//! the standardised features, predicting every item in one parallel pass.
//!
//! The penalty is scikit-learn's default (`C = 1`: ½‖W‖² + Σ cross-entropy), so a user who
//! checks the probe against `LogisticRegression()` finds the same model. Standardising (per
//! column mean and spread over all items) makes that penalty mean the same on every column;
//! the prediction folds it into the weights, so the features are read once and never copied.

use rayon::prelude::*;

/// Per-column mean and 1/spread over all items: computed once per data set, reused by every
/// refit.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
}

impl Scaler {
    /// Of `features` (N × `dim`, row-major). A constant column gets spread 1 (it carries
    /// nothing, and must not divide by zero).
    pub fn of(features: &[f32], dim: usize) -> Self {
        let n = features.len() / dim.max(1);
        let sums = features
            .par_chunks(dim.max(1) * 4096)
            .map(|block| {
                let mut s = vec![0f64; 2 * dim];
                for row in block.chunks_exact(dim) {
                    for (j, &v) in row.iter().enumerate() {
                        s[j] += f64::from(v);
                        s[dim + j] += f64::from(v) * f64::from(v);
                    }
                }
                s
            })
            .reduce(
                || vec![0f64; 2 * dim],
                |mut a, b| {
                    a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let n_f = (n.max(1)) as f64;
        let mean: Vec<f64> = sums[..dim].iter().map(|s| s / n_f).collect();
        let inv_std = (0..dim)
            .map(|j| {
                let var = (sums[dim + j] / n_f - mean[j] * mean[j]).max(0.0);
                if var > 1e-12 {
                    (1.0 / var.sqrt()) as f32
                } else {
                    1.0
                }
            })
            .collect();
        Self {
            mean: mean.into_iter().map(|m| m as f32).collect(),
            inv_std,
        }
    }
}

/// A fitted model: weights on the raw (unstandardised) features, one row of `dim` per class
/// (so a prediction is one SIMD dot product per class), and one bias per class.
#[derive(Debug, Clone, PartialEq)]
pub struct Logistic {
    pub dim: usize,
    pub classes: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
}

/// Iterations of L-BFGS at most; it stops earlier when the gradient is flat.
const MAX_ITERATIONS: usize = 200;
/// Pairs of L-BFGS's memory.
const MEMORY: usize = 8;

impl Logistic {
    /// Fit on the rows `items` of `features` with classes `classes` (codes below `n_classes`).
    pub fn fit(
        features: &[f32],
        dim: usize,
        scaler: &Scaler,
        items: &[u32],
        classes: &[u32],
        n_classes: usize,
    ) -> Self {
        let m = items.len();
        // The labelled rows standardised: small (labels, not items).
        let x: Vec<f64> = items
            .iter()
            .flat_map(|&i| {
                let row = &features[i as usize * dim..][..dim];
                row.iter()
                    .zip(&scaler.mean)
                    .zip(&scaler.inv_std)
                    .map(|((&v, &mu), &s)| f64::from((v - mu) * s))
            })
            .collect();
        let c = n_classes;
        let params = (dim + 1) * c;
        // ½‖W‖² + Σ CE, divided by m: the same minimum, gradients of a steady size.
        let objective = |theta: &[f64], grad: &mut [f64]| -> f64 {
            grad.iter_mut().for_each(|g| *g = 0.0);
            let (w, b) = theta.split_at(dim * c);
            let mut loss = 0.0;
            let mut z = vec![0f64; c];
            for r in 0..m {
                let row = &x[r * dim..][..dim];
                for (k, zk) in z.iter_mut().enumerate() {
                    *zk = b[k];
                }
                for (j, &v) in row.iter().enumerate() {
                    let wj = &w[j * c..][..c];
                    for k in 0..c {
                        z[k] += v * wj[k];
                    }
                }
                let top = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let sum: f64 = z.iter().map(|v| (v - top).exp()).sum();
                let y = classes[r] as usize;
                loss += top + sum.ln() - z[y];
                // d/dz = softmax − one-hot.
                for (k, zk) in z.iter_mut().enumerate() {
                    *zk = (*zk - top).exp() / sum - if k == y { 1.0 } else { 0.0 };
                }
                let (gw, gb) = grad.split_at_mut(dim * c);
                for (j, &v) in row.iter().enumerate() {
                    for (g, zk) in gw[j * c..][..c].iter_mut().zip(&z) {
                        *g += v * zk;
                    }
                }
                for (g, zk) in gb.iter_mut().zip(&z) {
                    *g += zk;
                }
            }
            let scale = 1.0 / m.max(1) as f64;
            let mut penalty = 0.0;
            for (g, &t) in grad[..dim * c].iter_mut().zip(w) {
                *g = *g * scale + t * scale;
                penalty += t * t;
            }
            for g in &mut grad[dim * c..] {
                *g *= scale;
            }
            (loss + 0.5 * penalty) * scale
        };
        let theta = lbfgs(vec![0f64; params], objective);
        // Fold the standardisation in: w·((x − μ)·s) + b = (w·s)·x + (b − Σ w·s·μ).
        let mut weights = vec![0f32; dim * c];
        let mut bias: Vec<f32> = theta[dim * c..].iter().map(|&v| v as f32).collect();
        for j in 0..dim {
            for k in 0..c {
                let ws = theta[j * c + k] * f64::from(scaler.inv_std[j]);
                weights[k * dim + j] = ws as f32;
                bias[k] -= (ws * f64::from(scaler.mean[j])) as f32;
            }
        }
        Self {
            dim,
            classes: c,
            weights,
            bias,
        }
    }

    /// Class probabilities of one row of raw features into `out` (`classes` long).
    pub fn predict_row(&self, row: &[f32], out: &mut [f32]) {
        for ((o, w), b) in out
            .iter_mut()
            .zip(self.weights.chunks_exact(self.dim))
            .zip(&self.bias)
        {
            *o = b + crate::numeric::simd::dot(row, w);
        }
        softmax(out);
    }

    /// Class probabilities of every row of `features`, N × `classes`.
    pub fn predict(&self, features: &[f32]) -> Vec<f32> {
        let mut out = vec![0f32; features.len() / self.dim.max(1) * self.classes];
        out.par_chunks_mut(self.classes * 1024)
            .zip(features.par_chunks(self.dim * 1024))
            .for_each(|(o, f)| {
                for (p, row) in o
                    .chunks_exact_mut(self.classes)
                    .zip(f.chunks_exact(self.dim))
                {
                    self.predict_row(row, p);
                }
            });
        out
    }
}

fn softmax(z: &mut [f32]) {
    let top = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = (*v - top).exp();
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

/// Minimise a smooth convex `f` (value, gradient written into the slice) from `x` by L-BFGS
/// with a backtracking (Armijo) line search.
fn lbfgs(mut x: Vec<f64>, mut f: impl FnMut(&[f64], &mut [f64]) -> f64) -> Vec<f64> {
    let n = x.len();
    let mut g = vec![0f64; n];
    let mut fx = f(&x, &mut g);
    let (mut s_hist, mut y_hist): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), Vec::new());
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let mut x_new = vec![0f64; n];
    let mut g_new = vec![0f64; n];
    for _ in 0..MAX_ITERATIONS {
        if dot(&g, &g).sqrt() < 1e-6 {
            break;
        }
        // Two-loop recursion: d = −H·g.
        let mut d: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alphas = Vec::with_capacity(s_hist.len());
        for (s, y) in s_hist.iter().zip(&y_hist).rev() {
            let a = dot(s, &d) / dot(y, s);
            d.iter_mut().zip(y).for_each(|(di, yi)| *di -= a * yi);
            alphas.push(a);
        }
        if let (Some(s), Some(y)) = (s_hist.last(), y_hist.last()) {
            let gamma = dot(s, y) / dot(y, y);
            d.iter_mut().for_each(|v| *v *= gamma);
        }
        for ((s, y), a) in s_hist.iter().zip(&y_hist).zip(alphas.iter().rev()) {
            let b = dot(y, &d) / dot(y, s);
            d.iter_mut().zip(s).for_each(|(di, si)| *di += (a - b) * si);
        }
        let mut slope = dot(&g, &d);
        if slope >= 0.0 {
            // Not a descent direction (curvature lost): start again from the gradient.
            s_hist.clear();
            y_hist.clear();
            d = g.iter().map(|v| -v).collect();
            slope = -dot(&g, &g);
        }
        let mut step = 1.0;
        let mut accepted = false;
        for _ in 0..30 {
            for i in 0..n {
                x_new[i] = x[i] + step * d[i];
            }
            let f_new = f(&x_new, &mut g_new);
            if f_new <= fx + 1e-4 * step * slope {
                let s: Vec<f64> = x_new.iter().zip(&x).map(|(a, b)| a - b).collect();
                let y: Vec<f64> = g_new.iter().zip(&g).map(|(a, b)| a - b).collect();
                if dot(&s, &y) > 1e-12 {
                    if s_hist.len() == MEMORY {
                        s_hist.remove(0);
                        y_hist.remove(0);
                    }
                    s_hist.push(s);
                    y_hist.push(y);
                }
                std::mem::swap(&mut x, &mut x_new);
                std::mem::swap(&mut g, &mut g_new);
                let gain = fx - f_new;
                fx = f_new;
                accepted = true;
                if gain < 1e-10 * fx.abs().max(1.0) {
                    return x;
                }
                break;
            }
            step *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_separable_blobs_are_told_apart_and_probabilities_sum_to_one() {
        // Class 0 around (0, 0), class 1 around (10, 10), with a constant third column.
        let mut features = Vec::new();
        for i in 0..40 {
            let (base, jitter) = (if i < 20 { 0.0 } else { 10.0 }, (i % 5) as f32 * 0.3);
            features.extend([base + jitter, base - jitter, 7.0]);
        }
        let scaler = Scaler::of(&features, 3);
        assert_eq!(scaler.inv_std[2], 1.0, "a constant column is left as it is");
        let items = [0u32, 1, 2, 20, 21, 22];
        let classes = [0u32, 0, 0, 1, 1, 1];
        let model = Logistic::fit(&features, 3, &scaler, &items, &classes, 2);
        let p = model.predict(&features);
        for i in 0..40 {
            let (p0, p1) = (p[2 * i], p[2 * i + 1]);
            assert!((p0 + p1 - 1.0).abs() < 1e-5);
            let want_one = i >= 20;
            assert_eq!(p1 > 0.5, want_one, "item {i}: {p0} {p1}");
        }
    }

    #[test]
    fn the_fit_matches_the_penalised_optimum_of_a_small_case() {
        // One feature, two labels at −1 and +1 (standardised already: mean 0, spread 1).
        // Minimum of ½w² + 2·log(1 + e^{−w}) (b = 0 by symmetry): w ≈ 0.9575 (w = 2σ(−w)).
        let features = [-1.0f32, 1.0];
        let scaler = Scaler::of(&features, 1);
        let model = Logistic::fit(&features, 1, &scaler, &[0, 1], &[0, 1], 2);
        // Multinomial with two classes: the difference of the two weight columns is w,
        // each column carrying half of it (the penalty splits it evenly): w/2 each.
        let mut p = [0f32; 2];
        model.predict_row(&[1.0], &mut p);
        // p1 = σ(w_1 − w_0) = σ(w) with w − found as the logit.
        let w = (p[1] / p[0]).ln();
        let expected = {
            // Solve ½·(w/2)²·2 + 2·log(1+e^{−w}) … by Newton on the 2-class multinomial:
            // columns ±u, logit 2u; minimise u² + 2·log(1 + e^{−2u}).
            let mut u = 0.5f64;
            for _ in 0..50 {
                let s = 1.0 / (1.0 + (2.0 * u).exp());
                let grad = 2.0 * u - 4.0 * s;
                let hess = 2.0 + 8.0 * s * (1.0 - s);
                u -= grad / hess;
            }
            2.0 * u
        };
        assert!(
            (f64::from(w) - expected).abs() < 1e-3,
            "logit {w} vs the optimum's {expected}"
        );
    }
}
