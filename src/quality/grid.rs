//! Exact k nearest neighbours in a 2D or 3D layout through the uniform grid of
//! [`crate::numeric::grid`]: each item searches rings of cells around its own until no
//! unvisited cell can hold anything nearer than its k-th neighbour. About O(N·k) for layouts (points spread over an area), where the GEMM
//! search of the original space would compare all pairs.

use rayon::prelude::*;

use crate::knn::exact::TopK;
use crate::numeric::grid::{UniformGrid, point};

/// The `k` nearest items of every item of `coords` (N × `dims`, `dims` 2 or 3), self
/// excluded, nearest first, ties by index: N × k indices (fewer than k items: padded with
/// the nearest found, as there are none left).
pub fn knn(coords: &[f32], dims: usize, k: usize) -> Vec<u32> {
    let dims = dims.clamp(1, 3);
    let n = coords.len() / dims;
    if n == 0 || k == 0 {
        return Vec::new();
    }
    let k_eff = k.min(n.saturating_sub(1));
    let grid = UniformGrid::build(coords, dims);
    let cells = grid.res();
    let min_width = grid.min_cell_width();
    let max_ring = cells.into_iter().max().unwrap_or(1);
    let sq = |i: usize, j: usize| -> f32 {
        (0..dims)
            .map(|a| (coords[i * dims + a] - coords[j * dims + a]).powi(2))
            .sum()
    };
    let mut out = vec![0u32; n * k];
    out.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
        let home = grid.cell_of(point(coords, dims, i));
        let mut top = TopK::new(k_eff);
        for ring in 0..=max_ring {
            for_each_cell_on_ring(home, ring, cells, |c| {
                for &j in grid.cell(c) {
                    if j as usize != i {
                        top.push(sq(i, j as usize), j);
                    }
                }
            });
            // Anything in ring + 1 or beyond is at least ring × the narrowest cell away.
            let reach = ring as f32 * min_width;
            if k_eff == 0 || top.kth() < reach * reach {
                break;
            }
        }
        let (_, found) = top.into_parts();
        for (slot, at) in row.iter_mut().zip(0..) {
            *slot = found.get(at).or(found.last()).copied().unwrap_or(i as u32);
        }
    });
    out
}

/// Every cell of a grid of `cells` per axis at Chebyshev distance `ring` from `home`.
fn for_each_cell_on_ring(
    home: [usize; 3],
    ring: usize,
    cells: [usize; 3],
    mut f: impl FnMut([usize; 3]),
) {
    let span = |a: usize| {
        let lo = home[a].saturating_sub(ring);
        let hi = (home[a] + ring).min(cells[a] - 1);
        lo..=hi
    };
    for z in span(2) {
        for y in span(1) {
            for x in span(0) {
                let c = [x, y, z];
                if (0..3).any(|a| c[a].abs_diff(home[a]) == ring) {
                    f(c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair compared, sorted by (squared distance, index).
    fn brute(coords: &[f32], dims: usize, k: usize) -> Vec<u32> {
        let n = coords.len() / dims;
        let mut out = Vec::new();
        for i in 0..n {
            let mut d: Vec<(f32, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| {
                    let s = (0..dims)
                        .map(|a| (coords[i * dims + a] - coords[j * dims + a]).powi(2))
                        .sum();
                    (s, j as u32)
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            out.extend(d.iter().take(k).map(|p| p.1));
        }
        out
    }

    #[test]
    fn the_grid_finds_the_exact_neighbours_in_2d_and_3d() {
        let mut rng = crate::rng::XorShift::new(5);
        for dims in [2, 3] {
            // Clustered and uneven: most points in a small blob, a few far out.
            let coords: Vec<f32> = (0..3000 * dims)
                .map(|v| {
                    let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                    if v % 97 == 0 { u * 1000.0 } else { u * 10.0 }
                })
                .collect();
            let k = 7;
            let got = knn(&coords, dims, k);
            assert_eq!(got, brute(&coords, dims, k), "{dims}D");
        }
        // Duplicated positions and fewer items than k.
        let same = [1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(knn(&same, 2, 2), [1, 2, 0, 2, 0, 1]);
        assert_eq!(knn(&[0.0, 0.0, 5.0, 5.0], 2, 3), [1, 1, 1, 0, 0, 0]);
    }
}
