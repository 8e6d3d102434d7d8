//! Label spreading over the kNN graph: every item takes the mean of its neighbours' label
//! scores, pulled back towards its own label where it has one (Zhou et al. 2004, with the
//! graph's rows as the normalised affinity). It follows the data's shape where a linear model
//! cannot, and needs no features at all — only the graph every other view already has.

use rayon::prelude::*;

use crate::knn::KnnGraph;

/// How much of an item's score comes from its neighbours (the rest from its own label).
pub const ALPHA: f32 = 0.9;
/// Rounds of spreading: 0.9²⁰ ≈ 0.12 of the start is left, and labels reach 20 hops.
pub const ROUNDS: usize = 20;
/// Neighbours per item spread over (the graph's first ones).
pub const NEIGHBOURS: usize = 15;

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
        next.par_chunks_mut(c).enumerate().for_each(|(i, out)| {
            out.iter_mut().for_each(|v| *v = 0.0);
            for &j in &graph.neighbors(i)[..k] {
                let row = &f[j as usize * c..][..c];
                for (o, v) in out.iter_mut().zip(row) {
                    *o += v;
                }
            }
            let own = &start[i * c..][..c];
            for (o, s) in out.iter_mut().zip(own) {
                *o = ALPHA * *o / k.max(1) as f32 + (1.0 - ALPHA) * s;
            }
        });
        std::mem::swap(&mut f, &mut next);
    }
    f.par_chunks_mut(c).for_each(|row| {
        let sum: f32 = row.iter().sum();
        if sum > 0.0 {
            row.iter_mut().for_each(|v| *v /= sum);
        } else {
            row.iter_mut().for_each(|v| *v = 1.0 / c as f32);
        }
    });
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Metric, exact_knn};

    #[test]
    fn labels_spread_along_each_chain_not_across_the_gap() {
        // Two chains of 30 points, far apart; one label at the end of each.
        let x: Vec<f32> = (0..60)
            .map(|i| if i < 30 { i as f32 } else { 1000.0 + i as f32 })
            .collect();
        let graph = exact_knn(&x, 1, 4, Metric::Euclidean, &()).expect("knn");
        let p = spread(&graph, &[0, 59], &[0, 1], 2);
        for i in 0..60 {
            let want = usize::from(i >= 30);
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
