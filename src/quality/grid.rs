//! Exact k nearest neighbours in a 2D or 3D layout through a uniform grid: each item searches
//! rings of cells around its own until no unvisited cell can hold anything nearer than its
//! k-th neighbour. About O(N·k) for layouts (points spread over an area), where the GEMM
//! search of the original space would compare all pairs.

use rayon::prelude::*;

use crate::knn::exact::TopK;

/// Points per cell aimed at.
const PER_CELL: f64 = 2.0;

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
    let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
    for p in coords.chunks_exact(dims) {
        for a in 0..dims {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let side = ((n as f64 / PER_CELL).powf(1.0 / dims as f64).ceil() as usize).clamp(1, 4096);
    let mut cells = [1usize; 3];
    let mut width = [1f32; 3];
    for a in 0..dims {
        cells[a] = side;
        width[a] = ((hi[a] - lo[a]) / side as f32).max(f32::MIN_POSITIVE);
    }
    let cell_of = |p: &[f32]| -> [usize; 3] {
        let mut c = [0usize; 3];
        for a in 0..dims {
            c[a] = (((p[a] - lo[a]) / width[a]) as usize).min(cells[a] - 1);
        }
        c
    };
    let flat = |c: [usize; 3]| (c[2] * cells[1] + c[1]) * cells[0] + c[0];
    let n_cells = cells[0] * cells[1] * cells[2];
    // Counting sort of the items by cell.
    let mut starts = vec![0u32; n_cells + 1];
    let item_cell: Vec<usize> = coords
        .chunks_exact(dims)
        .map(|p| flat(cell_of(p)))
        .collect();
    for &c in &item_cell {
        starts[c + 1] += 1;
    }
    for c in 0..n_cells {
        starts[c + 1] += starts[c];
    }
    let mut fill = starts.clone();
    let mut members = vec![0u32; n];
    for (i, &c) in item_cell.iter().enumerate() {
        members[fill[c] as usize] = i as u32;
        fill[c] += 1;
    }
    let min_width = (0..dims).map(|a| width[a]).fold(f32::INFINITY, f32::min);
    let max_ring = (0..dims).map(|a| cells[a]).max().unwrap_or(1);
    let sq = |i: usize, j: usize| -> f32 {
        (0..dims)
            .map(|a| (coords[i * dims + a] - coords[j * dims + a]).powi(2))
            .sum()
    };
    let mut out = vec![0u32; n * k];
    out.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
        let home = cell_of(&coords[i * dims..(i + 1) * dims]);
        let mut top = TopK::new(k_eff);
        for ring in 0..=max_ring {
            // Cells at Chebyshev distance `ring` from home.
            let span = |a: usize| {
                if a < dims {
                    (
                        home[a] as isize - ring as isize,
                        home[a] as isize + ring as isize,
                    )
                } else {
                    (0, 0)
                }
            };
            let ((x0, x1), (y0, y1), (z0, z1)) = (span(0), span(1), span(2));
            for z in z0..=z1 {
                for y in y0..=y1 {
                    for x in x0..=x1 {
                        let on_ring = [
                            x - home[0] as isize,
                            y - home[1] as isize,
                            z - home[2] as isize,
                        ]
                        .iter()
                        .any(|d| d.unsigned_abs() == ring);
                        let inside = x >= 0
                            && y >= 0
                            && z >= 0
                            && (x as usize) < cells[0]
                            && (y as usize) < cells[1]
                            && (z as usize) < cells[2];
                        if !on_ring || !inside {
                            continue;
                        }
                        let c = flat([x as usize, y as usize, z as usize]);
                        for &j in &members[starts[c] as usize..starts[c + 1] as usize] {
                            if j as usize != i {
                                top.push(sq(i, j as usize), j);
                            }
                        }
                    }
                }
            }
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
