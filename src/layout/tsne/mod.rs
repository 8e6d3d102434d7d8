//! t-SNE layout optimisation in 2D or 3D: openTSNE's optimiser over the sparse affinities P.
//!
//! Each iteration's gradient is split as openTSNE splits it: attraction Σ_j p_ij w_ij^{1/α}
//! (y_i − y_j) over the non-zeros of P (parallel over rows), and repulsion
//! Σ_j w_ij^{1+1/α} (y_i − y_j) / Z over all pairs, with the heavy-tailed kernel
//! w = (1 + d²/α)^{−α} (α = `dof`; α = 1 is the Cauchy kernel of standard t-SNE). The repulsion
//! is computed exactly (O(N²), small N and tests), by Barnes-Hut (quadtree/octree, [`bh`]) or by
//! FFT-accelerated interpolation on an equispaced grid (FIt-SNE's scheme, 2D only, [`fft`]).
//! Like openTSNE's, the gradient is ¼ of ∂KL/∂y, and the learning rates below assume that scale.
//!
//! The optimiser is openTSNE's: gains (delta-bar-delta, +0.2 on a sign flip, ×0.8 + 0.01
//! otherwise), momentum, each point's step clipped to norm 5, the layout re-centred every
//! iteration; an early-exaggeration phase, then the normal phase, sharing gains and momentum.
//! Every sum over points is reduced in a fixed order over fixed chunks, so a seed gives the same
//! layout whatever the thread count.

mod bh;
mod fft;

use std::ops::ControlFlow;

use rayon::prelude::*;

use super::LayoutError;
use super::affinity::Csr;
use crate::progress::Observer;

pub use bh::BarnesHut;
pub use fft::FftGrid;

/// How the repulsive forces are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gradient {
    /// Exact below [`EXACT_MAX_ITEMS`]; FFT interpolation in 2D from [`FFT_MIN_ITEMS`];
    /// Barnes-Hut otherwise.
    Auto,
    /// All pairs, O(N²): for small data and tests.
    Exact,
    /// Barnes-Hut tree with opening angle `theta`.
    BarnesHut,
    /// FFT-accelerated interpolation (2D only).
    Fft,
}

/// Below this many items `Gradient::Auto` uses the exact O(N²) repulsion.
pub const EXACT_MAX_ITEMS: usize = 1_000;
/// From this many items `Gradient::Auto` uses FFT interpolation in 2D (openTSNE's threshold;
/// on digits, 1,797 items, Barnes-Hut is 4× faster; see benches/README.md).
pub const FFT_MIN_ITEMS: usize = 10_000;

/// Barnes-Hut opening angle in 2D (openTSNE's and scikit-learn's default).
pub const DEFAULT_THETA_2D: f64 = 0.5;
/// Barnes-Hut opening angle in 3D: wider, because an octree walk at 0.5 visits several times
/// the cells a quadtree walk does. Measured (benches/README.md) with the grouped walk: MNIST
/// 10k optimisation 16.7 s at θ 0.5, 10.0 s at 0.8; Fashion-MNIST 70k 147 s at 0.8, 106 s at
/// 1.0 (same run). Trustworthiness, kNN preservation and kNN accuracy at 1.0 stay within
/// ±0.001 of 0.8's on both data sets (trustworthiness slightly higher), though the gradient
/// on the unit test's small layout is off by 5.6% (2.1% at 0.8): t-SNE's layout depends on
/// the repulsion's overall shape, not on each far-field term.
pub const DEFAULT_THETA_3D: f64 = 1.0;

/// Bumped whenever the results of the t-SNE code change, so cached layouts are recomputed.
pub const ALGORITHM_VERSION: u32 = 2;

/// t-SNE parameters as given: validate with [`TsneParams::check`] (linfa style).
#[derive(Debug, Clone, PartialEq)]
pub struct TsneParams(ValidTsneParams);

/// Checked t-SNE parameters: the only kind [`optimize`] accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTsneParams {
    dims: usize,
    perplexity: f64,
    n_iter: usize,
    early_exaggeration: f64,
    early_exaggeration_iter: usize,
    exaggeration: f64,
    learning_rate: Option<f64>,
    initial_momentum: f64,
    final_momentum: f64,
    dof: f64,
    /// `None`: [`DEFAULT_THETA_2D`] or [`DEFAULT_THETA_3D`].
    theta: Option<f64>,
    gradient: Gradient,
    seed: u64,
    max_step_norm: f64,
    kl_every: usize,
}

/// Default t-SNE parameters; set fields with the builder methods, then [`TsneParams::check`].
pub fn params() -> TsneParams {
    TsneParams::default()
}

impl Default for TsneParams {
    fn default() -> Self {
        Self(ValidTsneParams {
            dims: 2,
            perplexity: 30.0,
            n_iter: 750,
            early_exaggeration: 12.0,
            early_exaggeration_iter: 250,
            exaggeration: 1.0,
            learning_rate: None,
            initial_momentum: 0.5,
            final_momentum: 0.8,
            dof: 1.0,
            theta: None,
            gradient: Gradient::Auto,
            seed: 0,
            max_step_norm: 5.0,
            kl_every: 50,
        })
    }
}

impl TsneParams {
    /// Layout dimensions: 2 or 3.
    pub fn dims(mut self, dims: usize) -> Self {
        self.0.dims = dims;
        self
    }
    /// Effective number of neighbours; the kNN graph needs k ≥ 3·perplexity.
    pub fn perplexity(mut self, perplexity: f64) -> Self {
        self.0.perplexity = perplexity;
        self
    }
    /// Total iterations, early exaggeration included.
    pub fn n_iter(mut self, n_iter: usize) -> Self {
        self.0.n_iter = n_iter;
        self
    }
    /// Factor on the attraction during the first `iterations` iterations.
    pub fn early_exaggeration(mut self, factor: f64, iterations: usize) -> Self {
        self.0.early_exaggeration = factor;
        self.0.early_exaggeration_iter = iterations;
        self
    }
    /// Factor on the attraction after early exaggeration (1: plain t-SNE; >1 tighter clusters).
    pub fn exaggeration(mut self, factor: f64) -> Self {
        self.0.exaggeration = factor;
        self
    }
    /// `None`: openTSNE's rule, N / exaggeration in each phase (at least 1).
    pub fn learning_rate(mut self, rate: Option<f64>) -> Self {
        self.0.learning_rate = rate;
        self
    }
    /// Momentum during early exaggeration, then after it.
    pub fn momentum(mut self, initial: f64, last: f64) -> Self {
        self.0.initial_momentum = initial;
        self.0.final_momentum = last;
        self
    }
    /// Degrees of freedom of the output kernel: 1 is standard t-SNE, below 1 heavier tails.
    pub fn dof(mut self, dof: f64) -> Self {
        self.0.dof = dof;
        self
    }
    /// Barnes-Hut opening angle (`None`: the default for the layout's dimensions).
    pub fn theta(mut self, theta: Option<f64>) -> Self {
        self.0.theta = theta;
        self
    }
    pub fn gradient(mut self, gradient: Gradient) -> Self {
        self.0.gradient = gradient;
        self
    }
    /// Seed of the random initialisation (used when PCA cannot initialise).
    pub fn seed(mut self, seed: u64) -> Self {
        self.0.seed = seed;
        self
    }
    /// KL divergence is evaluated every this many iterations (0: only at the end).
    pub fn kl_every(mut self, iterations: usize) -> Self {
        self.0.kl_every = iterations;
        self
    }

    pub fn check(self) -> Result<ValidTsneParams, LayoutError> {
        let p = self.0;
        let bad = |name: &'static str, value: f64, expected: &'static str| {
            Err(LayoutError::InvalidParam {
                name,
                value,
                expected,
            })
        };
        if !(p.dims == 2 || p.dims == 3) {
            return bad("dims", p.dims as f64, "2 or 3");
        }
        if !(p.perplexity.is_finite() && p.perplexity >= 1.0) {
            return bad("perplexity", p.perplexity, "at least 1");
        }
        if p.early_exaggeration_iter > p.n_iter {
            return bad(
                "early exaggeration iterations",
                p.early_exaggeration_iter as f64,
                "at most the total iterations",
            );
        }
        for (name, v) in [
            ("early exaggeration", p.early_exaggeration),
            ("exaggeration", p.exaggeration),
            ("dof", p.dof),
            ("max step norm", p.max_step_norm),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, v, "positive");
            }
        }
        if let Some(rate) = p.learning_rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return bad("learning rate", rate, "positive");
        }
        for (name, v) in [
            ("initial momentum", p.initial_momentum),
            ("final momentum", p.final_momentum),
        ] {
            if !(0.0..1.0).contains(&v) {
                return bad(name, v, "in [0, 1)");
            }
        }
        if let Some(theta) = p.theta
            && !(theta.is_finite() && theta >= 0.0)
        {
            return bad("theta", theta, "non-negative");
        }
        if p.gradient == Gradient::Fft && p.dims != 2 {
            return bad("dims", p.dims as f64, "2 for the FFT gradient");
        }
        Ok(p)
    }
}

impl ValidTsneParams {
    pub fn dims(&self) -> usize {
        self.dims
    }
    pub fn perplexity(&self) -> f64 {
        self.perplexity
    }
    pub fn n_iter(&self) -> usize {
        self.n_iter
    }
    pub fn seed(&self) -> u64 {
        self.seed
    }
    pub fn dof(&self) -> f64 {
        self.dof
    }

    /// The Barnes-Hut opening angle: as given, or the default for the dimensions.
    pub fn theta(&self) -> f64 {
        self.theta.unwrap_or(if self.dims == 3 {
            DEFAULT_THETA_3D
        } else {
            DEFAULT_THETA_2D
        })
    }

    /// The repulsion method for `n_items` (resolves `Auto`).
    pub fn gradient_for(&self, n_items: usize) -> Gradient {
        match self.gradient {
            Gradient::Auto if n_items < EXACT_MAX_ITEMS => Gradient::Exact,
            Gradient::Auto if self.dims == 2 && n_items >= FFT_MIN_ITEMS => Gradient::Fft,
            Gradient::Auto => Gradient::BarnesHut,
            g => g,
        }
    }

    /// A stable text of every parameter that changes the result, for cache keys.
    pub fn cache_text(&self, n_items: usize) -> String {
        format!(
            "tsne dims={} perplexity={} n_iter={} ee={}x{} exaggeration={} lr={:?} momentum={}/{} \
             dof={} theta={} gradient={:?} seed={} step={} v{}",
            self.dims,
            self.perplexity,
            self.n_iter,
            self.early_exaggeration,
            self.early_exaggeration_iter,
            self.exaggeration,
            self.learning_rate,
            self.initial_momentum,
            self.final_momentum,
            self.dof,
            self.theta(),
            self.gradient_for(n_items),
            self.seed,
            self.max_step_norm,
            ALGORITHM_VERSION
        )
    }
}

/// What the caller sees after each iteration.
#[derive(Debug)]
pub struct Step<'a> {
    /// Iterations done (1-based).
    pub iter: usize,
    pub n_iter: usize,
    /// KL(P‖Q) of the current layout, on the iterations where it was evaluated.
    pub kl: Option<f64>,
    /// The current layout, N × dims.
    pub coords: &'a [f32],
}

/// The finished optimisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Optimized {
    /// N × dims.
    pub coords: Vec<f32>,
    /// KL(P‖Q) of `coords`.
    pub kl: f64,
    /// Iterations run (fewer than asked when `on_step` stopped early).
    pub iterations: usize,
}

/// Scale an initial layout so its first coordinate has standard deviation 1e-4 (openTSNE's
/// PCA initialisation): a tiny start lets early exaggeration form the clusters.
pub fn scale_init(coords: &mut [f32], dims: usize) {
    let n = coords.len() / dims.max(1);
    if n == 0 {
        return;
    }
    let mean = coords
        .iter()
        .step_by(dims)
        .map(|&v| f64::from(v))
        .sum::<f64>()
        / n as f64;
    let var = coords
        .iter()
        .step_by(dims)
        .map(|&v| (f64::from(v) - mean).powi(2))
        .sum::<f64>()
        / n as f64;
    if var > 0.0 {
        let scale = (1e-4 / var.sqrt()) as f32;
        coords.iter_mut().for_each(|v| *v *= scale);
    }
}

/// A random initial layout with standard deviation 1e-4 (for data PCA cannot initialise).
pub fn random_init(n_items: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n_items * dims)
        .map(|_| {
            // Sum of four uniforms: close enough to a Gaussian for a starting cloud.
            let mut sum = 0.0f32;
            for _ in 0..4 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                sum += (s >> 40) as f32 / (1u64 << 24) as f32;
            }
            (sum - 2.0) * 1e-4 / (1.0f32 / 3.0).sqrt()
        })
        .collect()
}

/// Rows of P per parallel task in the attraction pass.
const ROWS_PER_TASK: usize = 256;

/// The repulsion back end, holding its buffers between iterations.
enum Repulsion {
    Exact,
    BarnesHut(BarnesHut),
    Fft(Box<FftGrid>),
}

impl Repulsion {
    fn new(gradient: Gradient, n: usize, dims: usize, theta: f64) -> Self {
        match gradient {
            Gradient::Fft => Self::Fft(Box::new(FftGrid::new(n))),
            Gradient::BarnesHut => Self::BarnesHut(BarnesHut::new(n, dims, theta)),
            Gradient::Exact | Gradient::Auto => Self::Exact,
        }
    }

    /// Fill `rep` with Σ_j w_ij^{1+1/α} (y_i − y_j) (unnormalised) and return Z = Σ_{i≠j} w_ij.
    fn compute(&mut self, y: &[f32], dims: usize, dof: f64, rep: &mut [f32]) -> f64 {
        match self {
            Self::Exact => exact_repulsion(y, dims, dof, rep),
            Self::BarnesHut(tree) => tree.repulsion(y, dof, rep),
            Self::Fft(grid) => grid.repulsion(y, dof, rep),
        }
    }
}

/// The heavy-tailed kernel w = (1 + d²/α)^{−α} and w^{1/α} = 1 / (1 + d²/α).
#[inline]
fn kernel(d2: f32, dof: f32) -> (f32, f32) {
    let base = 1.0 / (1.0 + d2 / dof);
    if dof == 1.0 {
        (base, base)
    } else {
        (base.powf(dof), base)
    }
}

/// All-pairs repulsion: O(N²), parallel over rows.
pub fn exact_repulsion(y: &[f32], dims: usize, dof: f64, rep: &mut [f32]) -> f64 {
    let dof = dof as f32;
    let partial: Vec<f64> = rep
        .par_chunks_mut(dims)
        .enumerate()
        .map(|(i, out)| {
            let yi = &y[i * dims..(i + 1) * dims];
            out.fill(0.0);
            let mut z = 0f64;
            for (j, yj) in y.chunks_exact(dims).enumerate() {
                if i == j {
                    continue;
                }
                let d2: f32 = yi.iter().zip(yj).map(|(a, b)| (a - b) * (a - b)).sum();
                let (w, w_root) = kernel(d2, dof);
                z += f64::from(w);
                let f = w * w_root;
                for ((o, a), b) in out.iter_mut().zip(yi).zip(yj) {
                    *o += f * (a - b);
                }
            }
            z
        })
        .collect();
    // Summed in row order: the same Z whatever the thread count.
    partial.iter().sum()
}

/// Attraction Σ_j p_ij w_ij^{1/α} (y_i − y_j) into `attr`; with `kl_parts`, also each task's
/// Σ p_ij ln(p_ij / w_ij).
fn attraction(
    p: &Csr,
    y: &[f32],
    dims: usize,
    dof: f64,
    attr: &mut [f32],
    kl_parts: Option<&mut [f64]>,
) {
    match dims {
        2 => attraction_d::<2>(p, y, dof as f32, attr, kl_parts),
        _ => attraction_d::<3>(p, y, dof as f32, attr, kl_parts),
    }
}

/// [`attraction`] for `D` dimensions: the axis loops unroll.
#[allow(
    clippy::needless_range_loop,
    reason = "axis loops index the point, its neighbour and the force at once"
)]
fn attraction_d<const D: usize>(
    p: &Csr,
    y: &[f32],
    dof: f32,
    attr: &mut [f32],
    kl_parts: Option<&mut [f64]>,
) {
    let task = |(t, out): (usize, &mut [f32]), with_kl: bool| -> f64 {
        let mut kl = 0f64;
        let first = t * ROWS_PER_TASK;
        for (r, o) in out.chunks_exact_mut(D).enumerate() {
            let i = first + r;
            let mut yi = [0f32; D];
            yi.copy_from_slice(&y[i * D..(i + 1) * D]);
            let mut force = [0f32; D];
            let (cols, vals) = p.row(i);
            for (&j, &pij) in cols.iter().zip(vals) {
                let j = j as usize;
                let mut diff = [0f32; D];
                let mut d2 = 0f32;
                for a in 0..D {
                    diff[a] = yi[a] - y[j * D + a];
                    d2 += diff[a] * diff[a];
                }
                let (w, w_root) = kernel(d2, dof);
                let f = pij * w_root;
                for a in 0..D {
                    force[a] += f * diff[a];
                }
                if with_kl && pij > 0.0 {
                    kl += f64::from(pij) * (f64::from(pij) / f64::from(w)).ln();
                }
            }
            o.copy_from_slice(&force);
        }
        kl
    };
    let chunks = attr.par_chunks_mut(ROWS_PER_TASK * D).enumerate();
    match kl_parts {
        Some(parts) => chunks
            .zip(parts.par_iter_mut())
            .for_each(|(c, slot)| *slot = task(c, true)),
        None => chunks.for_each(|c| {
            task(c, false);
        }),
    }
}

/// The t-SNE gradient (openTSNE's scale: ¼ ∂KL/∂y) and KL(P‖Q) of layout `y` by the exact
/// method. For tests and small data.
pub fn exact_gradient(p: &Csr, y: &[f32], dims: usize, dof: f64) -> (Vec<f32>, f64) {
    let n = p.n;
    let mut attr = vec![0f32; n * dims];
    let mut rep = vec![0f32; n * dims];
    let mut parts = vec![0f64; n.div_ceil(ROWS_PER_TASK)];
    attraction(p, y, dims, dof, &mut attr, Some(&mut parts));
    let z = exact_repulsion(y, dims, dof, &mut rep);
    let grad = attr
        .iter()
        .zip(&rep)
        .map(|(a, r)| a - (f64::from(*r) / z) as f32)
        .collect();
    (grad, kl_from(&parts, p.sum(), z))
}

fn kl_from(parts: &[f64], sum_p: f64, z: f64) -> f64 {
    parts.iter().sum::<f64>() + sum_p * z.ln()
}

/// Optimise the layout `init` (N × dims, e.g. PCA scaled by [`scale_init`]) against the
/// affinities `p` (symmetric, summing to 1). `observer` gets the iteration count and can cancel
/// (→ `LayoutError::Cancelled`); `on_step` sees every iteration's layout and may stop early
/// with `ControlFlow::Break`.
pub fn optimize(
    p: &Csr,
    init: Vec<f32>,
    params: &ValidTsneParams,
    observer: &dyn Observer,
    mut on_step: impl FnMut(&Step<'_>) -> ControlFlow<()>,
) -> Result<Optimized, LayoutError> {
    let dims = params.dims;
    let n = p.n;
    if init.len() != n * dims {
        return Err(LayoutError::InitShape {
            found: init.len(),
            expected: n * dims,
        });
    }
    if n < 2 {
        return Err(LayoutError::TooFewItems { n_items: n, min: 2 });
    }
    let mut y = init;
    let mut repulsion = Repulsion::new(params.gradient_for(n), n, dims, params.theta());
    let mut attr = vec![0f32; n * dims];
    let mut rep = vec![0f32; n * dims];
    let mut update = vec![0f32; n * dims];
    let mut gains = vec![1f32; n * dims];
    let mut kl_parts = vec![0f64; n.div_ceil(ROWS_PER_TASK)];
    let sum_p = p.sum();
    let total = params.n_iter;
    let mut iterations = 0;
    for iter in 0..total {
        if observer.cancelled() {
            return Err(LayoutError::Cancelled);
        }
        let early = iter < params.early_exaggeration_iter;
        let (exaggeration, momentum) = if early {
            (params.early_exaggeration, params.initial_momentum)
        } else {
            (params.exaggeration, params.final_momentum)
        };
        let rate = params
            .learning_rate
            .unwrap_or_else(|| (n as f64 / exaggeration).max(1.0));
        let want_kl = params.kl_every > 0 && (iter + 1) % params.kl_every == 0;
        attraction(
            p,
            &y,
            dims,
            params.dof,
            &mut attr,
            want_kl.then_some(kl_parts.as_mut_slice()),
        );
        let z = repulsion.compute(&y, dims, params.dof, &mut rep);
        step(
            &mut y,
            &attr,
            &rep,
            &mut update,
            &mut gains,
            Phase {
                dims,
                exaggeration: exaggeration as f32,
                inv_z: (1.0 / z) as f32,
                rate: rate as f32,
                momentum: momentum as f32,
                max_step: params.max_step_norm as f32,
            },
        );
        iterations = iter + 1;
        observer.progress(iterations as u64, total as u64);
        let kl = want_kl.then(|| kl_from(&kl_parts, sum_p, z));
        let view = Step {
            iter: iterations,
            n_iter: total,
            kl,
            coords: &y,
        };
        if on_step(&view).is_break() {
            break;
        }
    }
    attraction(p, &y, dims, params.dof, &mut attr, Some(&mut kl_parts));
    let z = repulsion.compute(&y, dims, params.dof, &mut rep);
    Ok(Optimized {
        coords: y,
        kl: kl_from(&kl_parts, sum_p, z),
        iterations,
    })
}

#[derive(Debug, Clone, Copy)]
struct Phase {
    dims: usize,
    exaggeration: f32,
    inv_z: f32,
    rate: f32,
    momentum: f32,
    max_step: f32,
}

/// openTSNE's update: gains, momentum, per-point step clipping, re-centring.
fn step(
    y: &mut [f32],
    attr: &[f32],
    rep: &[f32],
    update: &mut [f32],
    gains: &mut [f32],
    ph: Phase,
) {
    const MIN_GAIN: f32 = 0.01;
    let dims = ph.dims;
    y.par_chunks_mut(dims)
        .zip(update.par_chunks_mut(dims))
        .zip(gains.par_chunks_mut(dims))
        .zip(attr.par_chunks(dims).zip(rep.par_chunks(dims)))
        .with_min_len(1024)
        .for_each(|(((yi, ui), gi), (ai, ri))| {
            let mut norm2 = 0f32;
            for k in 0..dims {
                let grad = ph.exaggeration * ai[k] - ri[k] * ph.inv_z;
                // np.sign semantics: a zero update (the first iteration) counts as a flip.
                if sign(ui[k]) != sign(grad) {
                    gi[k] += 0.2;
                } else {
                    gi[k] = gi[k] * 0.8 + MIN_GAIN;
                }
                ui[k] = ph.momentum * ui[k] - ph.rate * gi[k] * grad;
                norm2 += ui[k] * ui[k];
            }
            if norm2 > ph.max_step * ph.max_step {
                let s = ph.max_step / norm2.sqrt();
                ui.iter_mut().for_each(|u| *u *= s);
            }
            for k in 0..dims {
                yi[k] += ui[k];
            }
        });
    let n = y.len() / dims;
    let mut mean = [0f64; 3];
    for yi in y.chunks_exact(dims) {
        for k in 0..dims {
            mean[k] += f64::from(yi[k]);
        }
    }
    for yi in y.chunks_exact_mut(dims) {
        for k in 0..dims {
            yi[k] -= (mean[k] / n as f64) as f32;
        }
    }
}

#[inline]
fn sign(v: f32) -> i8 {
    if v > 0.0 {
        1
    } else if v < 0.0 {
        -1
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
