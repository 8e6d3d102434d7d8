//! Spectral initialisation for UMAP (umap-learn's default): the layout starts from the
//! eigenvectors of the fuzzy graph's normalised Laplacian with the smallest non-trivial
//! eigenvalues, which place strongly connected items together before any SGD.
//!
//! The eigenvectors of L = I − D^-½ W D^-½ with the smallest eigenvalues are those of
//! A = (I + D^-½ W D^-½) / 2 with the largest, so plain subspace iteration (sparse products,
//! parallel over rows) followed by a Rayleigh-Ritz step finds them; the trivial one, D^½·1, is
//! in the start block and dropped at the end. The iteration runs a fixed number of steps rather
//! than to a tolerance: directions with eigenvalues well below the top ones are damped away
//! either way, and what remains — smooth functions on the graph's clusters — is what a starting
//! layout needs. A disconnected graph has one trivial eigenvector per component and no useful
//! ordering across them, so it gets no spectral layout (`None`; the caller falls back to PCA).

use ndarray::Array2;
use rayon::prelude::*;

use super::affinity::Csr;
use crate::numeric::pca::{jacobi_eigen, orthonormalize};
use crate::rng::XorShift;

/// Directions iterated at once: the trivial one, the `dims` kept and the rest as oversampling
/// (extra directions make the kept ones converge faster). Eight f64 are one cache line, so
/// each neighbour's block row costs one memory access in the sparse product — the random
/// reads into an N × 8 block that outgrows the core's cache are what the product waits on.
const WIDTH: usize = 8;
/// Products with A between re-orthonormalisations. A's eigenvalues lie in [0, 1], those of the
/// block's directions near 1 (a kNN graph's eight smoothest directions are all well above ½),
/// so ten products shrink one against the top one by far less than 2¹⁰ — nowhere near losing
/// it in f64 — while the (column-wise, cache-unfriendly) orthonormalisation runs half as often
/// as at five.
const STEPS_PER_ORTHO: usize = 10;
/// Subspace iteration steps.
const ITERATIONS: usize = 100;

/// Spectral coordinates (N × `dims`, row-major) of the graph, or `None` when the graph has
/// isolated items or more than one connected component.
pub fn spectral_init(graph: &Csr, dims: usize, seed: u64) -> Option<Vec<f32>> {
    let n = graph.n;
    let m = WIDTH;
    debug_assert!(dims + 1 < m, "spectral layouts are 1 to 3 dimensional");
    if n <= m || !connected(graph) {
        return None;
    }
    let degree: Vec<f64> = (0..n)
        .map(|i| graph.row(i).1.iter().map(|&w| f64::from(w)).sum())
        .collect();
    if degree.iter().any(|&d| d <= 0.0 || !d.is_finite()) {
        return None;
    }
    let inv_sqrt: Vec<f64> = degree.iter().map(|d| 1.0 / d.sqrt()).collect();
    // The normalised weights D^-½ W D^-½, once: every product reuses them.
    let normalised: Vec<f64> = (0..n)
        .flat_map(|i| {
            let (cols, vals) = graph.row(i);
            let inv_sqrt = &inv_sqrt;
            cols.iter()
                .zip(vals)
                .map(move |(&j, &w)| f64::from(w) * inv_sqrt[i] * inv_sqrt[j as usize])
        })
        .collect();
    // Start: the trivial eigenvector and pseudo-random columns.
    let mut rng = XorShift::new(seed);
    let mut x = Array2::<f64>::from_shape_fn((n, m), |(i, c)| {
        if c == 0 {
            degree[i].sqrt()
        } else {
            (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        }
    });
    orthonormalize(&mut x);
    let mut y = Array2::<f64>::zeros((n, m));
    for step in 1..=ITERATIONS {
        apply(graph, &normalised, &x, &mut y);
        std::mem::swap(&mut x, &mut y);
        if step % STEPS_PER_ORTHO == 0 {
            orthonormalize(&mut x);
        }
    }
    orthonormalize(&mut x);
    // Rayleigh-Ritz: the best eigenvector estimates within the block.
    apply(graph, &normalised, &x, &mut y);
    let (values, vectors) = jacobi_eigen(x.t().dot(&y));
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let ritz = x.dot(&vectors);
    // Skip the top (trivial, eigenvalue 1) direction; keep the next `dims`.
    let mut coords = Vec::with_capacity(n * dims);
    for i in 0..n {
        for &c in &order[1..=dims] {
            coords.push(ritz[[i, c]] as f32);
        }
    }
    coords.iter().all(|v| v.is_finite()).then_some(coords)
}

/// y = A x with A = (I + D^-½ W D^-½) / 2 (`normalised`: the weights of D^-½ W D^-½ in the
/// graph's order), rows in parallel.
fn apply(graph: &Csr, normalised: &[f64], x: &Array2<f64>, y: &mut Array2<f64>) {
    let xs = x
        .as_slice()
        .unwrap_or_else(|| unreachable!("blocks are created in standard layout"));
    let ys = y
        .as_slice_mut()
        .unwrap_or_else(|| unreachable!("blocks are created in standard layout"));
    let row = |j: usize| -> [f64; WIDTH] {
        let mut r = [0.0; WIDTH];
        r.copy_from_slice(&xs[j * WIDTH..(j + 1) * WIDTH]);
        r
    };
    ys.par_chunks_mut(WIDTH)
        .with_min_len(1024)
        .enumerate()
        .for_each(|(i, out)| {
            let mut acc = row(i);
            let (start, end) = (graph.indptr[i], graph.indptr[i + 1]);
            for (&j, &a) in graph.indices[start..end]
                .iter()
                .zip(&normalised[start..end])
            {
                let v = row(j as usize);
                for (s, v) in acc.iter_mut().zip(v) {
                    *s += a * v;
                }
            }
            for (o, s) in out.iter_mut().zip(acc) {
                *o = 0.5 * s;
            }
        });
}

/// Whether every item is reachable from item 0 along edges of positive weight.
fn connected(graph: &Csr) -> bool {
    let n = graph.n;
    let mut seen = vec![false; n];
    let mut stack = vec![0usize];
    seen[0] = true;
    let mut reached = 1;
    while let Some(i) = stack.pop() {
        let (cols, vals) = graph.row(i);
        for (&j, &w) in cols.iter().zip(vals) {
            let j = j as usize;
            if w > 0.0 && !seen[j] {
                seen[j] = true;
                reached += 1;
                stack.push(j);
            }
        }
    }
    reached == n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric graph from undirected weighted edges.
    fn graph(n: usize, edges: &[(usize, usize, f32)]) -> Csr {
        let mut rows: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
        for &(a, b, w) in edges {
            rows[a].push((b as u32, w));
            rows[b].push((a as u32, w));
        }
        let mut indptr = vec![0];
        let (mut indices, mut values) = (Vec::new(), Vec::new());
        for mut r in rows {
            r.sort_by_key(|e| e.0);
            indices.extend(r.iter().map(|e| e.0));
            values.extend(r.iter().map(|e| e.1));
            indptr.push(indices.len());
        }
        Csr {
            n,
            indptr,
            indices,
            values,
        }
    }

    #[test]
    fn two_communities_get_opposite_signs() {
        // Two dense groups of 30 joined by one weak edge: the first non-trivial eigenvector
        // (the Fiedler vector) separates them.
        let mut edges = Vec::new();
        for g in 0..2 {
            for a in 0..30 {
                for b in a + 1..30 {
                    edges.push((g * 30 + a, g * 30 + b, 1.0));
                }
            }
        }
        edges.push((0, 30, 0.05));
        let g = graph(60, &edges);
        let y = spectral_init(&g, 2, 0).expect("connected");
        let first: Vec<f32> = (0..60).map(|i| y[i * 2]).collect();
        let side = first[0].signum();
        assert!(first[..30].iter().all(|v| v.signum() == side), "{first:?}");
        assert!(first[30..].iter().all(|v| v.signum() == -side), "{first:?}");
        // Deterministic for a seed.
        assert_eq!(spectral_init(&g, 2, 0), Some(y));
    }

    #[test]
    fn a_path_is_laid_out_in_order() {
        // A chain: the Fiedler vector, scaled back by D^-½ (the ends have degree 1, the
        // rest 2), is monotone along it.
        let edges: Vec<(usize, usize, f32)> = (0..39).map(|i| (i, i + 1, 1.0)).collect();
        let g = graph(40, &edges);
        let y = spectral_init(&g, 2, 3).expect("connected");
        let degree = |i: usize| if i == 0 || i == 39 { 1f32 } else { 2.0 };
        let first: Vec<f32> = (0..40).map(|i| y[i * 2] / degree(i).sqrt()).collect();
        let increasing = first.windows(2).all(|w| w[0] < w[1]);
        let decreasing = first.windows(2).all(|w| w[0] > w[1]);
        assert!(increasing || decreasing, "{first:?}");
    }

    #[test]
    fn disconnected_or_tiny_graphs_get_none() {
        let mut edges: Vec<(usize, usize, f32)> = (0..19).map(|i| (i, i + 1, 1.0)).collect();
        edges.extend((20..39).map(|i| (i, i + 1, 1.0)));
        assert_eq!(spectral_init(&graph(40, &edges), 2, 0), None);
        assert_eq!(
            spectral_init(
                &graph(5, &[(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (3, 4, 1.0)]),
                2,
                0
            ),
            None
        );
    }
}
