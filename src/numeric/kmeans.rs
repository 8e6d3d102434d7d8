//! The two steps of Lloyd's k-means, shared by the clustering's micro-clusters and the inverted
//! file's cells: every row to its nearest centre (one GEMM per block of rows), then every centre
//! to the mean of its rows. The callers choose the seeds and the number of passes.

use ndarray::ArrayView2;
use rayon::prelude::*;

/// Rows per GEMM against the centres: a 512 × M tile of dot products per task.
const ROW_BLOCK: usize = 512;

/// Index of the nearest centre of every row (squared euclidean), by GEMM tiles.
pub fn assign(features: &[f32], dim: usize, centres: &[f32]) -> Vec<u32> {
    let m = centres.len() / dim;
    let centre_norms = super::squared_norms(centres, dim);
    let cview = ArrayView2::from_shape((m, dim), centres)
        .unwrap_or_else(|_| unreachable!("centres are m × dim by construction"));
    features
        .par_chunks(ROW_BLOCK * dim)
        .map_init(Vec::new, |tile, block| {
            let rows = block.len() / dim;
            let bview = ArrayView2::from_shape((rows, dim), block)
                .unwrap_or_else(|_| unreachable!("a block is rows × dim by construction"));
            super::gemm_tile(tile, &bview, &cview)
                .chunks_exact(m)
                .map(|row| {
                    // ‖x‖² is the same for every centre: compare ‖c‖² − 2 x·c.
                    let mut best = (f32::INFINITY, 0u32);
                    for (j, &dot) in row.iter().enumerate() {
                        let d = centre_norms[j] - 2.0 * dot;
                        if d < best.0 {
                            best = (d, j as u32);
                        }
                    }
                    best.1
                })
                .collect::<Vec<u32>>()
        })
        .flatten_iter()
        .collect()
}

/// Centres as the means of their rows; a centre that lost every row keeps its place.
pub fn update(features: &[f32], dim: usize, labels: &[u32], centres: &mut [f32]) -> Vec<u32> {
    let m = centres.len() / dim;
    let mut sums = vec![0f64; m * dim];
    let mut sizes = vec![0u32; m];
    for (row, &l) in features.chunks_exact(dim).zip(labels) {
        let l = l as usize;
        sizes[l] += 1;
        for (s, &v) in sums[l * dim..(l + 1) * dim].iter_mut().zip(row) {
            *s += f64::from(v);
        }
    }
    for (j, &size) in sizes.iter().enumerate() {
        if size > 0 {
            for (c, s) in centres[j * dim..(j + 1) * dim]
                .iter_mut()
                .zip(&sums[j * dim..(j + 1) * dim])
            {
                *c = (s / f64::from(size)) as f32;
            }
        }
    }
    sizes
}
