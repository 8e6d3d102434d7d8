//! The library's ground floor: numeric kernels that every algorithm may use and that use
//! nothing above them (only `rng` beside them). Seeded sampling of items, squared row norms,
//! the k-means steps (`kmeans`), principal component analysis (`pca`, as a layout and as a
//! pre-reduction before kNN), the uniform grid over a layout's points (`grid`) and dot products
//! in the CPU's widest SIMD (`simd`).

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
