//! The library's ground floor: numeric kernels that every algorithm may use and that use
//! nothing above them (only `rng` beside them). Seeded sampling of items, squared row norms,
//! the k-means steps (`kmeans`), principal component analysis (`pca`, as a layout and as a
//! pre-reduction before kNN), the uniform grid over a layout's points (`grid`), dot products
//! in the CPU's widest SIMD (`simd`) and GEMM tiles in reused buffers.

pub mod grid;
pub mod kmeans;
pub mod pca;
pub mod procrustes;
pub mod simd;

use rayon::prelude::*;

/// `m` distinct items out of `n`, sorted, from a fixed seed (splitmix64 + partial
/// Fisher-Yates), so repeated evaluations score the same points.
pub fn sample_items(n: usize, m: usize, seed: u64) -> Vec<usize> {
    let mut stream = crate::rng::SplitMix::new(seed);
    let mut all: Vec<usize> = (0..n).collect();
    let m = m.min(n);
    for i in 0..m {
        let j = i + (stream.next_u64() % (n - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(m);
    all.sort_unstable();
    all
}

/// The squared euclidean norm of every row of `features` (N × `dim`).
pub fn squared_norms(features: &[f32], dim: usize) -> Vec<f32> {
    features
        .par_chunks(dim)
        .map(|r| r.iter().map(|x| x * x).sum())
        .collect()
}

/// The dot products of every row of `a` with every row of `b` (a.rows × b.rows, row-major)
/// in `tile`, a buffer each worker reuses from block to block. A fresh zeroed tile per block
/// is a new allocation the kernel zeroes page by page: filing 10⁷ rows under 4,143 centres
/// made 10⁴ tiles of 17 MB. (The GEMM overwrites the tile: nothing needs zeroing.)
pub(crate) fn gemm_tile<'t>(
    tile: &'t mut Vec<f32>,
    a: &ndarray::ArrayView2<f32>,
    b: &ndarray::ArrayView2<f32>,
) -> &'t [f32] {
    let (rows, m) = (a.nrows(), b.nrows());
    tile.resize(rows * m, 0.0);
    let mut out = ndarray::ArrayViewMut2::from_shape((rows, m), &mut tile[..])
        .unwrap_or_else(|_| unreachable!("the tile was resized to rows × m"));
    ndarray::linalg::general_mat_mul(1.0, a, &b.t(), 0.0, &mut out);
    tile
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_distinct_sorted_and_repeatable() {
        let s = sample_items(1000, 50, 0);
        assert_eq!(s.len(), 50);
        assert!(s.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(s, sample_items(1000, 50, 0));
        assert_ne!(s, sample_items(1000, 50, 1));
    }
}
