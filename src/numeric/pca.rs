//! Principal component analysis, as a layout (2D/3D) and as a pre-reduction before kNN.
//!
//! The covariance matrix (D × D) is accumulated by blocked GEMM over centred row blocks, then
//! its leading eigenvectors are found by subspace iteration with a Rayleigh-Ritz step (a small
//! Jacobi eigensolve). Cost O(N·D² + D²·l·iterations), memory O(D²): fine for D ≤ a few
//! thousand, whatever N. Signs are fixed (largest-magnitude entry positive) so results are
//! deterministic.

use ndarray::{Array2, ArrayView1, ArrayView2, linalg::general_mat_mul};
use rayon::prelude::*;
use thiserror::Error;

/// Rows per covariance block: a 4096 × D centred copy per task (fewer when that would leave
/// fewer than [`MIN_BLOCKS`]: a fit on a few thousand rows, as the kNN's projection is, then
/// still spreads over the cores).
const ROWS_PER_BLOCK: usize = 4096;
const MIN_BLOCKS: usize = 4;
/// Rows per block of a projection: its centred copy stays in the cache for the GEMM.
const ROWS_PER_TRANSFORM: usize = 256;
/// Extra subspace dimensions beyond those asked for: they make the leading ones converge fast.
const OVERSAMPLE: usize = 10;
const ITERATIONS: usize = 40;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PcaError {
    #[error("{asked} principal components asked for, but the data has {dim} dimensions")]
    TooManyComponents { asked: usize, dim: usize },
    #[error("PCA needs at least 2 items and 1 component")]
    TooSmall,
}

/// A fitted projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    pub dim: usize,
    pub mean: Vec<f32>,
    /// `n_components × dim`, row-major, orthonormal rows, by decreasing variance.
    pub components: Vec<f32>,
    /// Variance along each component.
    pub explained_variance: Vec<f64>,
    /// Sum of the variances of all input dimensions.
    pub total_variance: f64,
}

impl Pca {
    pub fn n_components(&self) -> usize {
        self.explained_variance.len()
    }

    /// Fraction of the total variance the components keep.
    pub fn explained_ratio(&self) -> f64 {
        if self.total_variance > 0.0 {
            self.explained_variance.iter().sum::<f64>() / self.total_variance
        } else {
            1.0
        }
    }

    /// Project rows (N × dim) onto the components: N × n_components, one GEMM per block of
    /// centred rows.
    pub fn transform(&self, features: &[f32]) -> Vec<f32> {
        let p = self.n_components();
        let mut out = vec![0f32; features.len() / self.dim * p];
        let components = ArrayView2::from_shape((p, self.dim), &self.components)
            .unwrap_or_else(|_| unreachable!("components hold p × dim values"));
        out.par_chunks_mut(ROWS_PER_TRANSFORM * p)
            .zip(features.par_chunks(ROWS_PER_TRANSFORM * self.dim))
            .for_each_init(Vec::new, |centred, (o, block)| {
                let rows = block.len() / self.dim;
                centred_into(centred, block, &self.mean);
                let centred = ArrayView2::from_shape((rows, self.dim), &centred[..])
                    .unwrap_or_else(|_| unreachable!("rows × dim values by construction"));
                let mut o = ndarray::ArrayViewMut2::from_shape((rows, p), o)
                    .unwrap_or_else(|_| unreachable!("the output block is rows × p"));
                general_mat_mul(1.0, &centred, &components.t(), 0.0, &mut o);
            });
        out
    }
}

/// Fit `n_components` principal components of `features` (N × `dim`).
pub fn fit(features: &[f32], dim: usize, n_components: usize) -> Result<Pca, PcaError> {
    fit_iterations(features, dim, n_components, ITERATIONS)
}

/// [`fit`] with a given number of subspace iterations: fewer give components nearer the
/// leading subspace than its exact axes, always orthonormal (enough for a projection that
/// only has to keep most of the variance).
pub fn fit_iterations(
    features: &[f32],
    dim: usize,
    n_components: usize,
    iterations: usize,
) -> Result<Pca, PcaError> {
    let n = features.len() / dim.max(1);
    if n < 2 || n_components == 0 {
        return Err(PcaError::TooSmall);
    }
    if n_components > dim {
        return Err(PcaError::TooManyComponents {
            asked: n_components,
            dim,
        });
    }
    let mean: Vec<f32> = {
        let sums = features
            .par_chunks(ROWS_PER_BLOCK * dim)
            .map(|block| {
                let mut s = vec![0f64; dim];
                for row in block.chunks_exact(dim) {
                    for (a, &v) in s.iter_mut().zip(row) {
                        *a += f64::from(v);
                    }
                }
                s
            })
            .reduce(
                || vec![0f64; dim],
                |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
            );
        sums.iter().map(|s| (s / n as f64) as f32).collect()
    };
    let cov = covariance(features, dim, &mean);
    let total_variance = (0..dim).map(|i| cov[[i, i]]).sum();
    let l = (n_components + OVERSAMPLE).min(dim);
    let (values, vectors) = leading_eigen(&cov, l, iterations);
    let mut components = Vec::with_capacity(n_components * dim);
    for c in 0..n_components {
        let mut v: Vec<f64> = vectors.column(c).to_vec();
        // Deterministic sign: the largest-magnitude entry is positive.
        let biggest = v
            .iter()
            .copied()
            .fold(0f64, |m, x| if x.abs() > m.abs() { x } else { m });
        if biggest < 0.0 {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        components.extend(v.iter().map(|&x| x as f32));
    }
    Ok(Pca {
        dim,
        mean,
        components,
        explained_variance: values[..n_components].to_vec(),
        total_variance,
    })
}

/// A block of rows (row-major, `mean.len()` wide) minus the mean, as a new buffer for a GEMM.
fn centred_copy(block: &[f32], mean: &[f32]) -> Vec<f32> {
    let mut out = Vec::new();
    centred_into(&mut out, block, mean);
    out
}

/// [`centred_copy`] into a buffer reused from block to block. Row by row over a slice (a
/// loop the compiler vectorises: collecting a flat iterator checked the capacity per value,
/// a third of a Fashion-MNIST projection's time).
fn centred_into(out: &mut Vec<f32>, block: &[f32], mean: &[f32]) {
    out.clear();
    out.resize(block.len(), 0.0);
    for (o, row) in out
        .chunks_exact_mut(mean.len())
        .zip(block.chunks_exact(mean.len()))
    {
        for ((o, &v), &m) in o.iter_mut().zip(row).zip(mean) {
            *o = v - m;
        }
    }
}

/// Sample covariance (divided by N − 1, as scikit-learn's explained_variance_), in f64.
fn covariance(features: &[f32], dim: usize, mean: &[f32]) -> Array2<f64> {
    let n = features.len() / dim;
    let block_rows = n.div_ceil(MIN_BLOCKS).clamp(256, ROWS_PER_BLOCK);
    let partial = features
        .par_chunks(block_rows * dim)
        .map(|block| {
            let rows = block.len() / dim;
            let centred = centred_copy(block, mean);
            let x = ArrayView2::from_shape((rows, dim), &centred)
                .unwrap_or_else(|_| unreachable!("rows × dim values by construction"));
            let mut c = Array2::<f32>::zeros((dim, dim));
            general_mat_mul(1.0, &x.t(), &x, 0.0, &mut c);
            c.mapv(f64::from)
        })
        .reduce(|| Array2::<f64>::zeros((dim, dim)), |a, b| a + b);
    partial / (n - 1) as f64
}

/// The `l` largest eigenpairs of symmetric `c`, by subspace iteration and Rayleigh-Ritz.
/// Returns eigenvalues (descending) and eigenvectors as columns of a D × l matrix.
fn leading_eigen(c: &Array2<f64>, l: usize, iterations: usize) -> (Vec<f64>, Array2<f64>) {
    let d = c.nrows();
    // A fixed, deterministic, well-spread start (no RNG needed for a symmetric PSD matrix).
    let mut q = Array2::<f64>::from_shape_fn((d, l), |(i, j)| {
        let x = ((i * 7919 + j * 104_729 + 1) % 1_000_003) as f64;
        (x * 0.618_033_988_749_895).fract() - 0.5
    });
    orthonormalize(&mut q);
    for _ in 0..iterations {
        q = c.dot(&q);
        orthonormalize(&mut q);
    }
    let t = q.t().dot(c).dot(&q);
    let (values, vectors) = jacobi_eigen(t);
    let mut order: Vec<usize> = (0..l).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let ritz = q.dot(&vectors);
    let sorted_values = order.iter().map(|&i| values[i].max(0.0)).collect();
    let sorted_vectors = Array2::from_shape_fn((d, l), |(i, j)| ritz[[i, order[j]]]);
    (sorted_values, sorted_vectors)
}

/// Modified Gram-Schmidt on the columns, twice ("twice is enough" for orthogonality).
///
/// A column that (nearly) lies in the span of the previous ones — the subspace iteration makes
/// such columns once the data has fewer directions than asked for — is replaced by the first
/// unit basis vector that is not: normalising the rounding-error remainder would otherwise
/// produce a copy of an earlier column.
pub(crate) fn orthonormalize(q: &mut Array2<f64>) {
    let dot = |a: &[f64], b: &[f64]| ArrayView1::from(a).dot(&ArrayView1::from(b));
    let d = q.nrows();
    // The columns as contiguous vectors: the projections read each of them many times, and a
    // column of the row-major matrix is a strided walk (it was most of a PCA fit's time).
    let mut cols: Vec<Vec<f64>> = q.columns().into_iter().map(|c| c.to_vec()).collect();
    for j in 0..cols.len() {
        let (done, rest) = cols.split_at_mut(j);
        let col = &mut rest[0];
        let mut candidate = 0usize;
        loop {
            let before = dot(col, col).sqrt();
            for _ in 0..2 {
                for prev in done.iter() {
                    let proj = dot(prev, col);
                    col.iter_mut().zip(prev).for_each(|(c, p)| *c -= proj * p);
                }
            }
            let norm = dot(col, col).sqrt();
            if norm > 1e-8 * before && norm > 0.0 {
                col.iter_mut().for_each(|x| *x /= norm);
                break;
            }
            col.fill(0.0);
            if candidate == d {
                break; // cannot happen while ncols ≤ nrows
            }
            col[candidate] = 1.0;
            candidate += 1;
        }
    }
    for (mut out, col) in q.columns_mut().into_iter().zip(&cols) {
        out.iter_mut().zip(col).for_each(|(o, &c)| *o = c);
    }
}

/// Cyclic Jacobi eigendecomposition of a small symmetric matrix.
pub(crate) fn jacobi_eigen(mut a: Array2<f64>) -> (Vec<f64>, Array2<f64>) {
    let n = a.nrows();
    let mut v = Array2::<f64>::eye(n);
    for _ in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[[i, j]] * a[[i, j]])
            .sum();
        if off < 1e-22 * (1.0 + a.diag().iter().map(|x| x * x).sum::<f64>()) {
            break;
        }
        for p in 0..n {
            for r in p + 1..n {
                if a[[p, r]].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[[r, r]] - a[[p, p]]) / (2.0 * a[[p, r]]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (cos, sin) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..n {
                    let (akp, akr) = (a[[k, p]], a[[k, r]]);
                    a[[k, p]] = cos * akp - sin * akr;
                    a[[k, r]] = sin * akp + cos * akr;
                }
                for k in 0..n {
                    let (apk, ark) = (a[[p, k]], a[[r, k]]);
                    a[[p, k]] = cos * apk - sin * ark;
                    a[[r, k]] = sin * apk + cos * ark;
                }
                for k in 0..n {
                    let (vkp, vkr) = (v[[k, p]], v[[k, r]]);
                    v[[k, p]] = cos * vkp - sin * vkr;
                    v[[k, r]] = sin * vkp + cos * vkr;
                }
            }
        }
    }
    (a.diag().to_vec(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points spread along two known orthogonal directions in 5-D, plus tiny noise.
    fn planar() -> (Vec<f32>, [f32; 5], [f32; 5]) {
        let u = [0.6f32, 0.8, 0.0, 0.0, 0.0];
        let v = [0.0f32, 0.0, 0.0, 1.0, 0.0];
        let mut data = Vec::new();
        for i in 0..400 {
            let a = ((i * 37) % 101) as f32 - 50.0; // wide spread
            let b = ((i * 11) % 23) as f32 - 11.0; // narrower
            let noise = ((i * 13) % 7) as f32 * 1e-3;
            for d in 0..5 {
                data.push(3.0 + a * u[d] + b * v[d] + if d == 2 { noise } else { 0.0 });
            }
        }
        (data, u, v)
    }

    #[test]
    fn finds_the_known_axes_with_fixed_signs() {
        let (data, u, v) = planar();
        let pca = fit(&data, 5, 2).expect("fit");
        let c0 = &pca.components[..5];
        let c1 = &pca.components[5..];
        for (got, want) in [(c0, u), (c1, v)] {
            let dot: f32 = got.iter().zip(&want).map(|(a, b)| a * b).sum();
            assert!(dot > 0.9999, "{got:?} vs {want:?}");
        }
        assert!(pca.explained_variance[0] > pca.explained_variance[1]);
        assert!(pca.explained_ratio() > 0.9999);
        // Variance along u equals the sample variance of a (divided by N − 1).
        let a: Vec<f64> = (0..400).map(|i| ((i * 37) % 101) as f64 - 50.0).collect();
        let mean = a.iter().sum::<f64>() / 400.0;
        let var = a.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 399.0;
        assert!((pca.explained_variance[0] - var).abs() / var < 1e-4);
    }

    #[test]
    fn transform_preserves_distances_within_the_plane() {
        let (data, _, _) = planar();
        let pca = fit(&data, 5, 2).expect("fit");
        let y = pca.transform(&data);
        assert_eq!(y.len(), 400 * 2);
        let d_x: f32 = data[..5]
            .iter()
            .zip(&data[5..10])
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        let d_y: f32 = y[..2]
            .iter()
            .zip(&y[2..4])
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        assert!((d_x - d_y).abs() < 1e-2 * d_x.max(1.0), "{d_x} vs {d_y}");
    }

    #[test]
    fn more_components_than_directions_stay_orthonormal() {
        let (data, _, _) = planar();
        let pca = fit(&data, 5, 5).expect("fit");
        for a in 0..5 {
            for b in 0..5 {
                let dot: f32 = pca.components[a * 5..a * 5 + 5]
                    .iter()
                    .zip(&pca.components[b * 5..b * 5 + 5])
                    .map(|(x, y)| x * y)
                    .sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-5, "components {a}, {b}: {dot}");
            }
        }
        assert!(pca.explained_variance[2] < 1e-3);
    }

    #[test]
    fn rejects_impossible_requests() {
        assert_eq!(
            fit(&[0.0; 10], 5, 6),
            Err(PcaError::TooManyComponents { asked: 6, dim: 5 })
        );
        assert_eq!(fit(&[0.0; 5], 5, 1), Err(PcaError::TooSmall));
    }
}
