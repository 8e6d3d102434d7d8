//! Label spreading over the kNN graph: every item takes the mean of its neighbours' label
//! scores, pulled back towards its own label where it has one (Zhou et al. 2004, with the
//! graph's rows as the normalised affinity). It follows the data's shape where a linear model
//! cannot, and needs no features at all — only the graph every other view already has.

use rayon::prelude::*;

use crate::knn::KnnGraph;

/// How much of an item's score comes from its neighbours (the rest from its own label).
pub const ALPHA: f32 = 0.9;
/// Rounds of spreading: labels reach 10 hops. 20 rounds over 15 neighbours cost three times
/// as much (1.0 s at 10⁶ items, two labels) for the same simulated-labelling scores on
/// Fashion-MNIST (benches/README.md).
pub const ROUNDS: usize = 10;
/// Neighbours per item spread over (the graph's first ones).
pub const NEIGHBOURS: usize = 10;

/// Scores per item and class (N × `classes`), each row summing to 1; items no label reaches
/// get the uniform row.
pub fn spread(graph: &KnnGraph, items: &[u32], classes: &[u32], n_classes: usize) -> Vec<f32> {
    let n = graph.n_items();
    let c = n_classes;
    let k = graph.k.min(NEIGHBOURS);
    let mut start = vec![0f32; n * c];
    for (&i, &y) in items.iter().zip(classes) {
        start[i as usize * c + y as usize] = 1.0;
    }
    let mut f = start.clone();
    let mut next = vec![0f32; n * c];
    for _ in 0..ROUNDS {
        next.par_chunks_mut(c * BLOCK)
            .enumerate()
            .for_each(|(b, block)| {
                for (r, out) in block.chunks_exact_mut(c).enumerate() {
                    let i = b * BLOCK + r;
                    // The rows read a few items on: random reads, each waited for otherwise.
                    if i + AHEAD < n {
                        for &j in &graph.neighbors(i + AHEAD)[..k] {
                            crate::numeric::simd::prefetch(&f, j as usize * c);
                        }
                    }
                    spread_row(graph, (&f, &start), i, k, out);
                }
            });
        std::mem::swap(&mut f, &mut next);
    }
    normalise(&mut f, c);
    f
}

/// Items per parallel task.
const BLOCK: usize = 4096;
/// How many items ahead the rows are prefetched.
const AHEAD: usize = 4;

/// Item `i`'s next scores (`out`): the mean of its neighbours' in `f`, pulled towards its own
/// label in `start`.
fn spread_row(graph: &KnnGraph, (f, start): (&[f32], &[f32]), i: usize, k: usize, out: &mut [f32]) {
    let c = out.len();
    out.iter_mut().for_each(|v| *v = 0.0);
    for &j in &graph.neighbors(i)[..k] {
        for (o, v) in out.iter_mut().zip(&f[j as usize * c..][..c]) {
            *o += v;
        }
    }
    for (o, s) in out.iter_mut().zip(&start[i * c..][..c]) {
        *o = ALPHA * *o / k.max(1) as f32 + (1.0 - ALPHA) * s;
    }
}

/// Rows to probabilities; a row no label reached is uniform.
fn normalise(f: &mut [f32], c: usize) {
    f.par_chunks_mut(c).for_each(|row| {
        let sum: f32 = row.iter().sum();
        if sum > 0.0 {
            row.iter_mut().for_each(|v| *v /= sum);
        } else {
            row.iter_mut().for_each(|v| *v = 1.0 / c as f32);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Metric, exact_knn};

    #[test]
    fn labels_spread_along_each_chain_not_across_the_gap() {
        // Two chains of 15 points, far apart; one label at the end of each (ten rounds over
        // four neighbours reach 20 places along a chain).
        let x: Vec<f32> = (0..30)
            .map(|i| if i < 15 { i as f32 } else { 1000.0 + i as f32 })
            .collect();
        let graph = exact_knn(&x, 1, 4, Metric::Euclidean, &()).expect("knn");
        let p = spread(&graph, &[0, 29], &[0, 1], 2);
        for i in 0..30 {
            let want = usize::from(i >= 15);
            assert!(
                p[i * 2 + want] > 0.99,
                "item {i}: {:?}",
                &p[i * 2..i * 2 + 2]
            );
        }
        // No label reaches a third chain: uniform there.
        let x: Vec<f32> = (0..9)
            .map(|i| (i / 3) as f32 * 1000.0 + (i % 3) as f32)
            .collect();
        let graph = exact_knn(&x, 1, 2, Metric::Euclidean, &()).expect("knn");
        let p = spread(&graph, &[0, 3], &[0, 1], 2);
        assert_eq!(&p[12..14], &[0.5, 0.5]);
    }
}
