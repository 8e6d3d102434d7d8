//! UMAP layout optimisation: umap-learn's stochastic gradient descent with negative sampling
//! over the fuzzy simplicial set, in 2D or 3D.
//!
//! Follows umap-learn's `optimize_layout_euclidean` (edge sampling by weight, `a, b` curve,
//! gradient clipping at 4, linearly decaying learning rate, `move_other`) with one change: an
//! edge's attraction and its negative samples are computed from the same position of the head
//! item and applied together, which lets them run side by side (2.4× faster epochs, same
//! quality). In parallel like umap-learn's unseeded mode: exactly reproducible on one thread,
//! slightly varying between runs on more (see [`optimize`]). Initialisation
//! ([`super::compute_layout`]): spectral
//! ([`super::spectral`]) or, on a disconnected graph, PCA of the features; each axis stretched
//! to [0, 10] ([`scale_init`]).

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;

use super::affinity::{Csr, fit_ab};
use crate::rng::{XorShift, mix};

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

/// Bumped whenever UMAP results change, so cached layouts are recomputed.
pub const ALGORITHM_VERSION: u32 = 4;

const CLIP: f32 = 4.0;

/// Edges per parallel task in an epoch. Each task has its own random stream, derived from the
/// seed, the epoch and the task, so one thread reproduces a layout exactly.
const EDGE_CHUNK: usize = 4096;

/// Random items drawn ahead of their use, so that their points are already being fetched
/// when the sampler reaches them (a power of two).
const RING: usize = 16;

/// How many edges ahead the attraction's far end is fetched.
const AHEAD: usize = 8;

/// The layout while it is optimised: f32 bits in relaxed atomics, so that parallel tasks can
/// update it Hogwild-style (umap-learn's parallel mode) in safe Rust. On x86-64 and AArch64 a
/// relaxed load or store is a plain move.
struct SharedCoords(Vec<AtomicU32>);

impl SharedCoords {
    #[inline]
    fn get(&self, at: usize) -> f32 {
        f32::from_bits(self.0[at].load(Ordering::Relaxed))
    }

    #[inline]
    fn add(&self, at: usize, delta: f32) {
        self.0[at].store((self.get(at) + delta).to_bits(), Ordering::Relaxed);
    }

    /// The whole layout as plain floats.
    fn copy_to(&self, out: &mut [f32]) {
        for (at, slot) in out.iter_mut().enumerate() {
            *slot = self.get(at);
        }
    }

    /// Item `i`'s coordinates.
    #[inline]
    fn point<const D: usize>(&self, i: usize) -> [f32; D] {
        std::array::from_fn(|k| self.get(i * D + k))
    }

    /// Start bringing item `i`'s coordinates into the cache. The sampler reads random items:
    /// with two threads writing the layout most reads miss, and waiting for them was a third
    /// of an epoch (Fashion-MNIST 70k: epochs 8.4 s → 6.6 s).
    #[inline]
    fn prefetch<const D: usize>(&self, i: usize) {
        crate::numeric::simd::prefetch(&self.0, i * D);
    }
}

/// The sampled edges of the fuzzy set, in head order, with umap-learn's sampling periods.
struct Edges {
    head: Vec<u32>,
    tail: Vec<u32>,
    epochs_per_sample: Vec<f32>,
    epochs_per_negative: Vec<f32>,
}

/// What one epoch's tasks share.
struct Epoch<'a> {
    edges: &'a Edges,
    shared: &'a SharedCoords,
    n: usize,
    a: f32,
    b: f32,
    /// The epoch number, as umap-learn's sampling schedule compares it.
    e: f32,
    alpha: f32,
}

impl Epoch<'_> {
    /// Run the edges `first..` whose schedules are `next_sample`/`next_negative`, drawing
    /// negatives from `rng`.
    fn run<const D: usize>(
        &self,
        first: usize,
        next_sample: &mut [f32],
        next_negative: &mut [f32],
        mut rng: XorShift,
    ) {
        let Self {
            edges,
            shared,
            n,
            a,
            b,
            e,
            alpha,
        } = *self;
        let mut ring = [0usize; RING];
        for slot in &mut ring {
            *slot = rng.below(n);
            shared.prefetch::<D>(*slot);
        }
        let mut drawn = 0usize;
        for (edge, (next_s, next_n)) in (first..).zip(next_sample.iter_mut().zip(next_negative)) {
            if let Some(&ahead) = edges.tail.get(edge + AHEAD) {
                shared.prefetch::<D>(ahead as usize);
            }
            if *next_s > e {
                continue;
            }
            let (i, j) = (edges.head[edge] as usize, edges.tail[edge] as usize);
            let (pi, pj) = (shared.point::<D>(i), shared.point::<D>(j));
            let d2 = sq_dist(&pi, &pj);
            // d^(2b) computed once: the attraction needs it and d^(2(b−1)) = it / d².
            let coeff = if d2 > 0.0 {
                let pb = d2.powf(b);
                -2.0 * a * b * (pb / d2) / (a * pb + 1.0)
            } else {
                0.0
            };
            // Item i's move (attraction and repulsion) is summed and stored once.
            let mut push = [0f32; D];
            for k in 0..D {
                let g = (coeff * (pi[k] - pj[k])).clamp(-CLIP, CLIP) * alpha;
                push[k] = g;
                shared.add(j * D + k, -g);
            }
            *next_s += edges.epochs_per_sample[edge];

            // The negatives push item i from the same position the attraction saw, all their
            // moves summed with it. umap-learn moves i after each sample, which chains every
            // sample of the epoch into one long dependency (load, power, divide, store, load…)
            // that the processor runs one step at a time; from one position the samples run
            // side by side (Fashion-MNIST 70k: 1.7× faster on one thread, same quality).
            let period = edges.epochs_per_negative[edge];
            let n_neg = ((e - *next_n) / period).max(0.0) as usize;
            for _ in 0..n_neg {
                let slot = &mut ring[drawn % RING];
                drawn += 1;
                let other = std::mem::replace(slot, rng.below(n));
                shared.prefetch::<D>(*slot);
                if other == i {
                    continue;
                }
                let po = shared.point::<D>(other);
                let d2 = sq_dist(&pi, &po);
                let coeff = if d2 > 0.0 {
                    2.0 * b / ((0.001 + d2) * (a * d2.powf(b) + 1.0))
                } else {
                    0.0
                };
                for k in 0..D {
                    let g = if coeff > 0.0 {
                        (coeff * (pi[k] - po[k])).clamp(-CLIP, CLIP)
                    } else {
                        CLIP
                    };
                    push[k] += g * alpha;
                }
            }
            for (k, &g) in push.iter().enumerate() {
                shared.add(i * D + k, g);
            }
            *next_n += n_neg as f32 * period;
        }
    }
}

/// Optimise `coords` (N × dims, the initial layout) against the fuzzy set `graph`.
/// `on_epoch(epoch, coords)` is called after each epoch (progress, live display); a
/// `ControlFlow::Break` stops after that epoch, leaving the layout as it is. Returns the epochs run.
///
/// Each epoch's edges are split into fixed chunks run in parallel on the current rayon pool,
/// all updating one shared layout without locks, as umap-learn does when it runs in parallel.
/// On a one-thread pool the result is the same for the same seed, bit for bit; with more
/// threads the order in which the tasks' updates land varies, so two runs differ slightly
/// (the layout's quality does not).
pub fn optimize(
    graph: &Csr,
    coords: &mut [f32],
    params: &UmapParams,
    mut on_epoch: impl FnMut(usize, &[f32]) -> std::ops::ControlFlow<()>,
) -> usize {
    let n = graph.n;
    let dims = params.dims;
    debug_assert!(
        (1..=3).contains(&dims),
        "UMAP lays out in 1 to 3 dimensions"
    );
    let n_epochs = params.n_epochs(n);
    let (a, b) = fit_ab(params.spread, params.min_dist);
    let (a, b) = (a as f32, b as f32);
    // Edges, weakest dropped as umap-learn does (weight < max / epochs never gets sampled).
    let w_max = graph.values.iter().copied().fold(0f32, f32::max);
    let mut edges = Edges {
        head: Vec::new(),
        tail: Vec::new(),
        epochs_per_sample: Vec::new(),
        epochs_per_negative: Vec::new(),
    };
    let neg_rate = params.negative_sample_rate as f32;
    for i in 0..n {
        let (cols, vals) = graph.row(i);
        for (&j, &w) in cols.iter().zip(vals) {
            if w >= w_max / n_epochs as f32 && w > 0.0 {
                edges.head.push(i as u32);
                edges.tail.push(j);
                edges.epochs_per_sample.push(w_max / w);
                edges.epochs_per_negative.push(w_max / w / neg_rate);
            }
        }
    }
    let mut next_sample = edges.epochs_per_sample.clone();
    let mut next_negative = edges.epochs_per_negative.clone();
    let shared = SharedCoords(coords.iter().map(|v| AtomicU32::new(v.to_bits())).collect());
    for epoch in 0..n_epochs {
        let step = Epoch {
            edges: &edges,
            shared: &shared,
            n,
            a,
            b,
            e: epoch as f32,
            alpha: (params.learning_rate * (1.0 - epoch as f64 / n_epochs as f64)) as f32,
        };
        let epoch_seed = mix(params.seed ^ mix(epoch as u64));
        next_sample
            .par_chunks_mut(EDGE_CHUNK)
            .zip(next_negative.par_chunks_mut(EDGE_CHUNK))
            .enumerate()
            .for_each(|(chunk, (next_sample, next_negative))| {
                // Each task has its own stream: one thread reproduces a layout exactly.
                let rng = XorShift::new(epoch_seed ^ chunk as u64);
                let first = chunk * EDGE_CHUNK;
                match dims {
                    1 => step.run::<1>(first, next_sample, next_negative, rng),
                    2 => step.run::<2>(first, next_sample, next_negative, rng),
                    _ => step.run::<3>(first, next_sample, next_negative, rng),
                }
            });
        shared.copy_to(coords);
        if on_epoch(epoch + 1, coords).is_break() {
            return epoch + 1;
        }
    }
    n_epochs
}

#[inline]
fn sq_dist<const D: usize>(p: &[f32; D], q: &[f32; D]) -> f32 {
    p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// Prepare an initial layout (N × `dims`) as umap-learn does before its SGD: every axis
/// stretched to [0, 10] on its own, plus a little seeded noise (standard deviation 10⁻⁴,
/// umap-learn's figure) so duplicate items can move apart. A spectral start's second axis is
/// often much narrower than its first; one common scale (the earlier version) kept it so.
/// Over seeds 1–4 on MNIST 10k the two start the SGD equally well (kNN accuracy 0.928–0.944
/// either way): this follows umap-learn so that the same start means the same layout, not for
/// a measured gain.
pub fn scale_init(coords: &mut [f32], dims: usize, seed: u64) {
    let mut rng = XorShift::new(mix(seed ^ 0x5CA1E));
    for k in 0..dims {
        let axis = || coords.iter().skip(k).step_by(dims);
        let lo = axis().fold(f32::INFINITY, |m, &v| m.min(v));
        let hi = axis().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let range = hi - lo;
        let scale = if range > 0.0 && range.is_finite() {
            10.0 / range
        } else {
            0.0
        };
        for v in coords.iter_mut().skip(k).step_by(dims) {
            // Uniform in ±1.7·10⁻⁴: standard deviation 10⁻⁴.
            let noise = ((rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.46e-4;
            *v = (*v - lo) * scale + noise;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Metric, exact_knn};
    use crate::layout::affinity::umap_affinities;
    use crate::numeric::pca;

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
            scale_init(&mut y, dims, 0);
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
    fn the_start_spans_zero_to_ten_on_every_axis() {
        // A wide first axis, a narrow second one, a constant third.
        let mut y: Vec<f32> = (0..100)
            .flat_map(|i| [i as f32 * 3.0 - 50.0, (i % 7) as f32 * 0.01, 4.0])
            .collect();
        scale_init(&mut y, 3, 0);
        for k in 0..3 {
            let axis: Vec<f32> = y.iter().skip(k).step_by(3).copied().collect();
            let lo = axis.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = axis.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let want = if k == 2 { 0.0 } else { 10.0 };
            assert!(
                (lo - 0.0).abs() < 1e-3 && (hi - want).abs() < 1e-3,
                "axis {k}: {lo}..{hi}"
            );
        }
        // The noise separates duplicates, the same way for a seed.
        let dup = |seed| {
            let mut d = vec![1.0f32, 2.0, 1.0, 2.0, 3.0, 0.0];
            scale_init(&mut d, 2, seed);
            d
        };
        let d = dup(5);
        assert_ne!(d[..2], d[2..4]);
        assert_eq!(d, dup(5));
        assert_ne!(d, dup(6));
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
        // Reproducible on one thread (more threads race, by design).
        let one_thread = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .expect("pool");
        let (mut y1, mut y2) = (init.clone(), init.clone());
        one_thread.install(|| optimize(&w, &mut y1, &params, go));
        one_thread.install(|| optimize(&w, &mut y2, &params, go));
        assert_eq!(y1, y2);
        let mut other_seed = init.clone();
        let reseeded = UmapParams {
            seed: 1,
            ..params.clone()
        };
        one_thread.install(|| optimize(&w, &mut other_seed, &reseeded, go));
        assert_ne!(other_seed, y1, "the seed drives the negative samples");
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
    fn parallel_tasks_share_one_layout() {
        // Enough edges for many chunks on a multi-thread pool: the blobs must still separate,
        // and the callback sees every epoch's layout.
        let (data, labels) = blobs();
        let g = exact_knn(&data, 10, 14, Metric::Euclidean, &()).expect("knn");
        let w = umap_affinities(&g);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .expect("pool");
        let p = pca::fit(&data, 10, 2).expect("pca");
        let mut y = p.transform(&data);
        scale_init(&mut y, 2, 0);
        let start = y.clone();
        let mut moved = 0;
        let mut last = y.clone();
        pool.install(|| {
            optimize(&w, &mut y, &UmapParams::default(), |_, now| {
                moved += usize::from(now != last.as_slice());
                last = now.to_vec();
                std::ops::ControlFlow::Continue(())
            })
        });
        // Epoch 0 samples nothing (as in umap-learn: the first samples are due at epoch 1).
        assert_eq!(moved, 499);
        assert_ne!(y, start);
        let lk = exact_knn(&y, 2, 5, Metric::Euclidean, &()).expect("layout knn");
        let mixed = (0..300)
            .flat_map(|i| lk.neighbors(i).iter().map(move |&j| (i, j as usize)))
            .filter(|&(i, j)| labels[i] != labels[j])
            .count();
        assert_eq!(mixed, 0);
    }

    #[test]
    fn a_given_start_decides_where_the_groups_end() {
        use crate::layout::{LayoutError, LayoutInput, LayoutParams, compute_layout};
        let (data, labels) = blobs();
        let g = exact_knn(&data, 10, 14, Metric::Euclidean, &()).expect("knn");
        let params = LayoutParams::Umap {
            params: UmapParams {
                epochs: Some(60),
                ..UmapParams::default()
            },
            n_neighbors: 15,
        };
        // The three blobs started along x in one order, then in the reverse order: each run
        // keeps its start's order (an ignored start would give both the same).
        let mean_x = |coords: &[f32], c: usize| -> f32 {
            let xs: Vec<f32> = (0..300)
                .filter(|&i| labels[i] == c)
                .map(|i| coords[i * 2])
                .collect();
            xs.iter().sum::<f32>() / xs.len() as f32
        };
        for order in [[0.0f32, 1.0, 2.0], [2.0, 1.0, 0.0]] {
            let start: Vec<f32> = (0..300)
                .flat_map(|i| {
                    [
                        order[labels[i]] * 10.0 + (i % 10) as f32 * 0.1,
                        (i % 7) as f32 * 0.1,
                    ]
                })
                .collect();
            let input = LayoutInput {
                features: &data,
                dim: 10,
                knn: Some(&g),
                init: Some(&start),
            };
            let y = compute_layout(&input, &params, &(), &mut |_| {
                std::ops::ControlFlow::Continue(())
            })
            .expect("layout")
            .coords;
            let xs: Vec<f32> = (0..3).map(|c| mean_x(&y, c)).collect();
            let ascending = xs[0] < xs[1] && xs[1] < xs[2];
            let descending = xs[0] > xs[1] && xs[1] > xs[2];
            assert!(
                if order[0] == 0.0 {
                    ascending
                } else {
                    descending
                },
                "{order:?}: {xs:?}"
            );
        }
        // A start of the wrong shape, or not finite, is refused.
        let short = vec![0f32; 10];
        let mut nan = vec![0f32; 600];
        nan[7] = f32::NAN;
        for (bad, want) in [(&short, "InitShape"), (&nan, "InitNotFinite")] {
            let input = LayoutInput {
                features: &data,
                dim: 10,
                knn: Some(&g),
                init: Some(bad),
            };
            let got = compute_layout(&input, &params, &(), &mut |_| {
                std::ops::ControlFlow::Continue(())
            });
            assert!(format!("{got:?}").contains(want), "{got:?}");
            assert!(matches!(
                got,
                Err(LayoutError::InitShape { .. } | LayoutError::InitNotFinite { item: 3 })
            ));
        }
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
            init: None,
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
