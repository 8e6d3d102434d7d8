//! How faithful a layout is to the original space: trustworthiness (scikit-learn's definition),
//! kNN preservation and leave-one-out kNN label accuracy in the layout.
//!
//! Definitions follow `scripts/run_anchors.py`, so figures are comparable with the peer
//! tools scored there.

pub mod compare;
pub mod score;

use rayon::prelude::*;

use crate::knn::{KnnGraph, exact::TopK};

/// Trustworthiness of layout `y` (N × `y_dim`) for features `x` (N × `x_dim`), with
/// `n_neighbors` neighbours, over the items `subset` (all when `None`), as
/// `sklearn.manifold.trustworthiness(x[subset], y[subset], n_neighbors)`.
///
/// Cost: O(M² · D) for M items in the subset, without an M × M matrix.
pub fn trustworthiness(
    x: &[f32],
    x_dim: usize,
    y: &[f32],
    y_dim: usize,
    n_neighbors: usize,
    subset: Option<&[usize]>,
) -> f64 {
    let all: Vec<usize>;
    let items: &[usize] = match subset {
        Some(s) => s,
        None => {
            all = (0..x.len() / x_dim).collect();
            &all
        }
    };
    let m = items.len();
    let k = n_neighbors;
    if m < 2 || k == 0 || 2 * m <= 3 * k + 1 {
        return 1.0;
    }
    let row = |data: &'_ [f32], dim: usize, i: usize| -> Vec<f64> {
        data[i * dim..(i + 1) * dim]
            .iter()
            .map(|&v| f64::from(v))
            .collect()
    };
    let sq_dist = |a: &[f64], data: &[f32], dim: usize, j: usize| -> f64 {
        a.iter()
            .zip(&data[j * dim..(j + 1) * dim])
            .map(|(p, &q)| (p - f64::from(q)).powi(2))
            .sum()
    };
    let penalty: f64 = (0..m)
        .into_par_iter()
        .map(|a| {
            let xi = row(x, x_dim, items[a]);
            let yi = row(y, y_dim, items[a]);
            // Neighbours of a in the layout (self excluded, ties by index).
            let mut top = TopK::new(k);
            for b in (0..m).filter(|&b| b != a) {
                top.push(sq_dist(&yi, y, y_dim, items[b]) as f32, b as u32);
            }
            let (_, layout_nn) = top.into_parts();
            let dx: Vec<f64> = (0..m)
                .map(|b| {
                    if b == a {
                        f64::INFINITY
                    } else {
                        sq_dist(&xi, x, x_dim, items[b])
                    }
                })
                .collect();
            layout_nn
                .iter()
                .map(|&b| {
                    let b = b as usize;
                    // 1-based rank of b among a's neighbours in the original space.
                    let rank = 1 + dx
                        .iter()
                        .enumerate()
                        .filter(|&(c, &d)| d < dx[b] || (d == dx[b] && c < b))
                        .count();
                    rank.saturating_sub(k) as f64
                })
                .sum::<f64>()
        })
        .sum();
    let (m, k) = (m as f64, k as f64);
    1.0 - penalty * 2.0 / (m * k * (2.0 * m - 3.0 * k - 1.0))
}

/// Mean over items of |NN_k(X, i) ∩ NN_k(Y, i)| / k.
pub fn knn_preservation(original: &KnnGraph, layout: &KnnGraph, k: usize) -> f64 {
    crate::knn::neighbor_overlap(original, layout, k)
}

/// Leave-one-out accuracy of a majority vote of the `k` layout neighbours' labels (ties go to
/// the lower label code).
pub fn knn_accuracy(layout: &KnnGraph, labels: &[u32], k: usize) -> f64 {
    let k = k.min(layout.k);
    let n = layout.n_items().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    let n_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let correct = (0..n)
        .into_par_iter()
        .filter(|&i| vote(&layout.neighbors(i)[..k], labels, n_classes) == labels[i] as usize)
        .count();
    correct as f64 / n as f64
}

/// The majority label of `neighbours` (ties go to the lower label code).
fn vote(neighbours: &[u32], labels: &[u32], n_classes: usize) -> usize {
    let mut votes = vec![0u32; n_classes];
    for &j in neighbours {
        votes[labels[j as usize] as usize] += 1;
    }
    // max_by_key returns the last maximum; iterate in reverse so ties give the lowest.
    votes
        .iter()
        .enumerate()
        .rev()
        .max_by_key(|&(_, v)| *v)
        .map_or(0, |(c, _)| c)
}

/// [`knn_preservation`] over a sample of items: `original[s]` and `layout[s]` are sample item
/// s's neighbours in the two spaces (sorted, at least `k` each).
pub fn sampled_knn_preservation(original: &[Vec<u32>], layout: &[Vec<u32>], k: usize) -> f64 {
    crate::knn::sampled_overlap(original, layout, k)
}

/// [`knn_accuracy`] over a sample of `items`, `layout[s]` being item `items[s]`'s layout
/// neighbours.
pub fn sampled_knn_accuracy(items: &[usize], layout: &[Vec<u32>], labels: &[u32], k: usize) -> f64 {
    if items.is_empty() {
        return 0.0;
    }
    let n_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let correct = items
        .iter()
        .zip(layout)
        .filter(|(i, got)| {
            vote(&got[..k.min(got.len())], labels, n_classes) == labels[**i] as usize
        })
        .count();
    correct as f64 / items.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Metric, exact_knn};

    fn line(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    #[test]
    fn identity_layout_is_fully_trustworthy() {
        let x: Vec<f32> = (0..40)
            .flat_map(|i| [i as f32, (i * i % 7) as f32])
            .collect();
        assert!((trustworthiness(&x, 2, &x, 2, 5, None) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn swapped_pair_has_the_hand_computed_value() {
        // Items at x = 2^i (all pairwise distances distinct: no ties); the layout swaps items
        // 0 and 9. With k = 1 the layout neighbours that are not X-neighbours are: item 0 → 8
        // (rank 8 in X, penalty 7), item 1 → 9 (rank 9, penalty 8), item 9 → 1 (rank 8,
        // penalty 7). T = 1 − 22 · 2 / (10 · 1 · (20 − 3 − 1)) = 0.725, as scikit-learn gives;
        // for k = 2 scikit-learn gives 0.7230769….
        let x: Vec<f32> = (0..10).map(|i| 2f32.powi(i)).collect();
        let mut y = x.clone();
        y.swap(0, 9);
        let t = trustworthiness(&x, 1, &y, 1, 1, None);
        assert!((t - 0.725).abs() < 1e-12, "{t}");
        let t2 = trustworthiness(&x, 1, &y, 1, 2, None);
        assert!((t2 - 0.723_076_923_076_923_1).abs() < 1e-12, "{t2}");
    }

    #[test]
    fn preservation_and_accuracy_on_a_tiny_example() {
        let x = line(6);
        let g = exact_knn(&x, 1, 2, Metric::Euclidean, &()).expect("knn");
        assert_eq!(knn_preservation(&g, &g, 2), 1.0);
        let mut y = x.clone();
        y.swap(0, 5);
        let h = exact_knn(&y, 1, 2, Metric::Euclidean, &()).expect("knn");
        // X neighbours: 0:{1,2} 1:{0,2} 2:{1,3} 3:{2,4} 4:{3,5} 5:{4,3}
        // Y (0 at 5, 5 at 0): 0:{4,3} 1:{2,5} 2:{1,3} 3:{2,4} 4:{3,0} 5:{1,2}
        // overlaps: 0,1,2,2,1,0 → 6 / 12.
        assert_eq!(knn_preservation(&g, &h, 2), 0.5);
        let labels = [0, 0, 0, 1, 1, 1];
        // In X: item 0 votes {0,0} ✓, 1 {0,0} ✓, 2 {0,1} tie → 0 ✓, 3 {0,1} → 0 ✗, 4 {1,1} ✓, 5 {1,1} ✓.
        assert!((knn_accuracy(&g, &labels, 2) - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn sampled_scores_match_the_whole_graph_ones_on_their_items() {
        let x = line(6);
        let mut y = x.clone();
        y.swap(0, 5);
        let labels = [0, 0, 0, 1, 1, 1];
        let g = exact_knn(&x, 1, 2, Metric::Euclidean, &()).expect("knn");
        let h = exact_knn(&y, 1, 2, Metric::Euclidean, &()).expect("knn");
        let all: Vec<usize> = (0..6).collect();
        let near_x = crate::knn::exact_neighbours_of(&x, 1, &all, 2, Metric::Euclidean).expect("x");
        let near_y = crate::knn::exact_neighbours_of(&y, 1, &all, 2, Metric::Euclidean).expect("y");
        assert_eq!(near_x[4], g.neighbors(4));
        assert_eq!(sampled_knn_preservation(&near_x, &near_y, 2), 0.5);
        assert_eq!(
            sampled_knn_accuracy(&all, &near_x, &labels, 2),
            knn_accuracy(&g, &labels, 2)
        );
        // On items 0 and 5 only: overlaps 0 and 0; in Y item 0 votes {1, 1} ✗, 5 votes {0, 0} ✗.
        let ends = [0, 5];
        let (ex, ey) = (
            crate::knn::exact_neighbours_of(&x, 1, &ends, 2, Metric::Euclidean).expect("x"),
            crate::knn::exact_neighbours_of(&y, 1, &ends, 2, Metric::Euclidean).expect("y"),
        );
        assert_eq!(sampled_knn_preservation(&ex, &ey, 2), 0.0);
        assert_eq!(sampled_knn_accuracy(&ends, &ey, &labels, 2), 0.0);
        assert_eq!(
            knn_preservation(&g, &h, 2),
            sampled_knn_preservation(&near_x, &near_y, 2)
        );
    }
}
