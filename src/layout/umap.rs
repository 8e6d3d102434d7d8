//! UMAP layout optimisation: umap-learn's stochastic gradient descent with negative sampling
//! over the fuzzy simplicial set, in 2D or 3D.
//!
//! Follows umap-learn's `optimize_layout_euclidean` (edge sampling by weight, `a, b` curve,
//! gradient clipping at 4, linearly decaying learning rate, `move_other`). Sequential, so the
//! result is deterministic for a seed whatever the thread count. Initialisation: PCA of the
//! features scaled to ±10 (umap-learn's spectral initialisation is not built yet).

use super::affinity::{Csr, fit_ab};

/// Validated UMAP parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct UmapParams {
    pub dims: usize,
    pub min_dist: f64,
    pub spread: f64,
    /// `None`: 500 for up to 10,000 items, 200 above (umap-learn's rule).
    pub epochs: Option<usize>,
    pub negative_sample_rate: usize,
    pub learning_rate: f64,
    pub seed: u64,
}

impl Default for UmapParams {
    fn default() -> Self {
        Self {
            dims: 2,
            min_dist: 0.1,
            spread: 1.0,
            epochs: None,
            negative_sample_rate: 5,
            learning_rate: 1.0,
            seed: 0,
        }
    }
}

impl UmapParams {
    /// Epochs for `n_items`: the explicit count, or umap-learn's rule.
    pub fn n_epochs(&self, n_items: usize) -> usize {
        self.epochs
            .unwrap_or(if n_items <= 10_000 { 500 } else { 200 })
    }
}

const CLIP: f32 = 4.0;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Optimise `coords` (N × dims, the initial layout) against the fuzzy set `graph`.
/// `on_epoch(epoch, coords)` is called after each epoch (progress, live display); a
/// `ControlFlow::Break` stops after that epoch, leaving the layout as it is. Returns the epochs run.
pub fn optimize(
    graph: &Csr,
    coords: &mut [f32],
    params: &UmapParams,
    mut on_epoch: impl FnMut(usize, &[f32]) -> std::ops::ControlFlow<()>,
) -> usize {
    let n = graph.n;
    let dims = params.dims;
    let n_epochs = params.n_epochs(n);
    let (a, b) = fit_ab(params.spread, params.min_dist);
    let (a, b) = (a as f32, b as f32);
    // Edges, weakest dropped as umap-learn does (weight < max / epochs never gets sampled).
    let w_max = graph.values.iter().copied().fold(0f32, f32::max);
    let mut head = Vec::new();
    let mut tail = Vec::new();
    let mut epochs_per_sample = Vec::new();
    for i in 0..n {
        let (cols, vals) = graph.row(i);
        for (&j, &w) in cols.iter().zip(vals) {
            if w >= w_max / n_epochs as f32 && w > 0.0 {
                head.push(i);
                tail.push(j as usize);
                epochs_per_sample.push(w_max / w);
            }
        }
    }
    let neg_rate = params.negative_sample_rate as f32;
    let epochs_per_negative: Vec<f32> = epochs_per_sample.iter().map(|e| e / neg_rate).collect();
    let mut next_sample = epochs_per_sample.clone();
    let mut next_negative = epochs_per_negative.clone();
    let mut rng = Rng(params.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut delta = vec![0f32; dims];
    for epoch in 0..n_epochs {
        let alpha = (params.learning_rate * (1.0 - epoch as f64 / n_epochs as f64)) as f32;
        let e = epoch as f32;
        for edge in 0..head.len() {
            if next_sample[edge] > e {
                continue;
            }
            let (i, j) = (head[edge], tail[edge]);
            let d2 = sq_dist(coords, dims, i, j);
            let coeff = if d2 > 0.0 {
                -2.0 * a * b * d2.powf(b - 1.0) / (a * d2.powf(b) + 1.0)
            } else {
                0.0
            };
            for (k, slot) in delta.iter_mut().enumerate() {
                *slot = (coeff * (coords[i * dims + k] - coords[j * dims + k])).clamp(-CLIP, CLIP)
                    * alpha;
            }
            for (k, &g) in delta.iter().enumerate() {
                coords[i * dims + k] += g;
                coords[j * dims + k] -= g;
            }
            next_sample[edge] += epochs_per_sample[edge];

            let n_neg = ((e - next_negative[edge]) / epochs_per_negative[edge]).max(0.0) as usize;
            for _ in 0..n_neg {
                let other = (rng.next() % n as u64) as usize;
                if other == i {
                    continue;
                }
                let d2 = sq_dist(coords, dims, i, other);
                let coeff = if d2 > 0.0 {
                    2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0))
                } else {
                    0.0
                };
                for k in 0..dims {
                    let g = if coeff > 0.0 {
                        (coeff * (coords[i * dims + k] - coords[other * dims + k]))
                            .clamp(-CLIP, CLIP)
                    } else {
                        CLIP
                    };
                    coords[i * dims + k] += g * alpha;
                }
            }
            next_negative[edge] += n_neg as f32 * epochs_per_negative[edge];
        }
        if on_epoch(epoch + 1, coords).is_break() {
            return epoch + 1;
        }
    }
    n_epochs
}

#[inline]
fn sq_dist(coords: &[f32], dims: usize, i: usize, j: usize) -> f32 {
    (0..dims)
        .map(|k| {
            let d = coords[i * dims + k] - coords[j * dims + k];
            d * d
        })
        .sum()
}

/// Scale an initial layout so its largest coordinate magnitude is 10 (umap-learn's range).
pub fn scale_init(coords: &mut [f32]) {
    let max = coords.iter().fold(0f32, |m, v| m.max(v.abs()));
    if max > 0.0 {
        coords.iter_mut().for_each(|v| *v *= 10.0 / max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Metric, exact_knn};
    use crate::layout::{affinity::umap_affinities, pca};

    /// Three well-separated Gaussian-ish blobs in 10-D.
    fn blobs() -> (Vec<f32>, Vec<usize>) {
        let mut s = 7u64;
        let mut uniform = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        let mut data = Vec::new();
        let mut labels = Vec::new();
        for c in 0..3 {
            for _ in 0..100 {
                for d in 0..10 {
                    let centre = if d == c { 20.0 } else { 0.0 };
                    data.push(centre + (0..3).map(|_| uniform()).sum::<f32>() - 1.5);
                }
                labels.push(c);
            }
        }
        (data, labels)
    }

    #[test]
    fn separated_blobs_stay_separated_in_2d_and_3d() {
        let (data, labels) = blobs();
        let g = exact_knn(&data, 10, 14, Metric::Euclidean, &()).expect("knn");
        let w = umap_affinities(&g);
        for dims in [2, 3] {
            let p = pca::fit(&data, 10, dims).expect("pca");
            let mut y = p.transform(&data);
            scale_init(&mut y);
            let params = UmapParams {
                dims,
                epochs: Some(200),
                ..UmapParams::default()
            };
            let mut calls = 0;
            let ran = optimize(&w, &mut y, &params, |_, _| {
                calls += 1;
                std::ops::ControlFlow::Continue(())
            });
            assert_eq!((calls, ran), (200, 200));
            // Every point's nearest layout neighbour is in its own blob.
            let lk = exact_knn(&y, dims, 5, Metric::Euclidean, &()).expect("layout knn");
            let same: usize = (0..300)
                .map(|i| {
                    lk.neighbors(i)
                        .iter()
                        .filter(|&&j| labels[j as usize] == labels[i])
                        .count()
                })
                .sum();
            assert_eq!(same, 300 * 5, "dims {dims}: blobs mixed");
            assert!(y.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let (data, _) = blobs();
        let g = exact_knn(&data, 10, 14, Metric::Euclidean, &()).expect("knn");
        let w = umap_affinities(&g);
        let init: Vec<f32> = (0..600).map(|i| (i % 17) as f32 * 0.5).collect();
        let params = UmapParams {
            epochs: Some(50),
            ..UmapParams::default()
        };
        let go = |_: usize, _: &[f32]| std::ops::ControlFlow::Continue(());
        let (mut y1, mut y2) = (init.clone(), init.clone());
        optimize(&w, &mut y1, &params, go);
        optimize(&w, &mut y2, &params, go);
        assert_eq!(y1, y2);
        // Stopping early: the epochs run so far, and the layout they made.
        let mut y3 = init;
        let ran = optimize(&w, &mut y3, &params, |epoch, _| {
            if epoch == 10 {
                std::ops::ControlFlow::Break(())
            } else {
                std::ops::ControlFlow::Continue(())
            }
        });
        assert_eq!(ran, 10);
        assert_ne!(y3, y1);
    }

    #[test]
    fn a_cancelled_observer_abandons_the_layout() {
        use crate::layout::{LayoutError, LayoutInput, LayoutParams, compute_layout};
        use crate::progress::SharedProgress;
        let (data, _) = blobs();
        let g = exact_knn(&data, 10, 14, Metric::Euclidean, &()).expect("knn");
        let input = LayoutInput {
            features: &data,
            dim: 10,
            knn: Some(&g),
        };
        let params = LayoutParams::Umap {
            params: UmapParams {
                epochs: Some(100),
                ..UmapParams::default()
            },
            n_neighbors: 15,
        };
        let progress = SharedProgress::default();
        let mut epochs = 0;
        let got = compute_layout(&input, &params, &progress, &mut |step| {
            epochs = step.iter;
            if step.iter == 5 {
                progress
                    .cancel
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            std::ops::ControlFlow::Continue(())
        });
        assert!(matches!(got, Err(LayoutError::Cancelled)), "{got:?}");
        assert_eq!(epochs, 5, "stopped at the next epoch");
    }
}
