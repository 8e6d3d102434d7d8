//! How two embeddings of the same items differ, item by item (`ivt-explore compare`): the share
//! of each item's k nearest neighbours in A that are also among its k nearest in B, which items
//! changed most, and with classes how well each space's neighbours vote for an item's own class.
//!
//! Everything is read off the two kNN graphs, so it costs two searches and a pass over the
//! lists; the overlap is exact when both graphs are.

use rayon::prelude::*;
use thiserror::Error;

use crate::knn::KnnGraph;

/// Overlap quantiles the summary reports.
pub const QUANTILES: [f64; 5] = [0.1, 0.25, 0.5, 0.75, 0.9];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CompareError {
    #[error(
        "the embeddings hold {a} and {b} items; a comparison needs two embeddings of the same \
         items, row for row"
    )]
    Items { a: usize, b: usize },
    #[error("k = {k}: the graphs hold {a} and {b} neighbours per item")]
    TooFewNeighbours { k: usize, a: usize, b: usize },
    #[error("k must be at least 1")]
    ZeroK,
    #[error("{labels} class labels for {n} items")]
    Labels { labels: usize, n: usize },
}

/// Item by item, what changed between the spaces.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub k: usize,
    /// Per item: |kNN_A(i) ∩ kNN_B(i)| / k.
    pub overlap: Vec<f32>,
    /// Items by overlap, lowest (changed most) first; ties by item index.
    pub order: Vec<u32>,
    /// Per item, its place in `order` counted from 1.
    pub rank: Vec<u32>,
    /// With classes: the majority class of each item's neighbours in A and in B (ties to the
    /// smaller class code).
    pub votes: Option<(Vec<u32>, Vec<u32>)>,
}

/// One class's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassChange {
    pub class: u32,
    pub items: usize,
    pub mean_overlap: f64,
    /// Share of the class's items whose neighbours' majority is their own class, in A and B.
    pub accuracy_a: Option<f64>,
    pub accuracy_b: Option<f64>,
}

/// The comparison in a few numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub mean_overlap: f64,
    /// (q, the overlap below which a share q of the items lie), for each of [`QUANTILES`].
    pub quantiles: Vec<(f64, f64)>,
    /// kNN classification accuracy of each space (with classes).
    pub knn_accuracy_a: Option<f64>,
    pub knn_accuracy_b: Option<f64>,
    /// Per class (empty without classes), by class code.
    pub classes: Vec<ClassChange>,
}

/// Compare the first `k` neighbours of every item in graphs `a` and `b`; `labels` (a class
/// code per item) adds the votes.
pub fn compare(
    a: &KnnGraph,
    b: &KnnGraph,
    k: usize,
    labels: Option<&[u32]>,
) -> Result<Comparison, CompareError> {
    let n = a.n_items();
    if b.n_items() != n {
        return Err(CompareError::Items {
            a: n,
            b: b.n_items(),
        });
    }
    if k == 0 {
        return Err(CompareError::ZeroK);
    }
    if a.k < k || b.k < k {
        return Err(CompareError::TooFewNeighbours { k, a: a.k, b: b.k });
    }
    if let Some(l) = labels
        && l.len() != n
    {
        return Err(CompareError::Labels { labels: l.len(), n });
    }
    let overlap: Vec<f32> = (0..n)
        .into_par_iter()
        .map_init(
            || (Vec::with_capacity(k), Vec::with_capacity(k)),
            |(x, y), i| {
                // Sorted copies and a merge: O(k log k) where comparing every pair is O(k²).
                x.clear();
                x.extend_from_slice(&a.neighbors(i)[..k]);
                x.sort_unstable();
                y.clear();
                y.extend_from_slice(&b.neighbors(i)[..k]);
                y.sort_unstable();
                shared(x, y) as f32 / k as f32
            },
        )
        .collect();
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.par_sort_unstable_by(|&p, &q| {
        overlap[p as usize]
            .total_cmp(&overlap[q as usize])
            .then(p.cmp(&q))
    });
    let mut rank = vec![0u32; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32 + 1;
    }
    let votes = labels.map(|l| {
        let classes = l.iter().max().map_or(0, |&m| m as usize + 1);
        let vote_in = |g: &KnnGraph| -> Vec<u32> {
            (0..n)
                .into_par_iter()
                .map(|i| super::vote(&g.neighbors(i)[..k], l, classes) as u32)
                .collect()
        };
        (vote_in(a), vote_in(b))
    });
    Ok(Comparison {
        k,
        overlap,
        order,
        rank,
        votes,
    })
}

/// How many values two sorted lists share (each list without repeats).
fn shared(x: &[u32], y: &[u32]) -> usize {
    let (mut i, mut j, mut count) = (0, 0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                count += 1;
                i += 1;
                j += 1;
            }
        }
    }
    count
}

impl Comparison {
    pub fn n_items(&self) -> usize {
        self.overlap.len()
    }

    /// Whether item i's neighbours vote for its own class in A and in B (with classes).
    pub fn correct(&self, labels: &[u32], i: usize) -> Option<(bool, bool)> {
        self.votes
            .as_ref()
            .map(|(a, b)| (a[i] == labels[i], b[i] == labels[i]))
    }

    /// Means, quantiles and per-class figures; `labels` as given to [`compare`].
    pub fn summary(&self, labels: Option<&[u32]>) -> Summary {
        let n = self.n_items();
        let mean = |items: &mut dyn Iterator<Item = usize>| -> (usize, f64) {
            let (count, sum) = items.fold((0usize, 0f64), |(c, s), i| {
                (c + 1, s + f64::from(self.overlap[i]))
            });
            (count, if count == 0 { 0.0 } else { sum / count as f64 })
        };
        let (_, mean_overlap) = mean(&mut (0..n));
        // `order` is the overlaps sorted: the quantile q is the value at rank ⌊q · (n − 1)⌋
        // ("lower", numpy's method="lower").
        let quantiles = QUANTILES
            .iter()
            .map(|&q| {
                let at = ((n.saturating_sub(1)) as f64 * q).floor() as usize;
                let value = self
                    .order
                    .get(at)
                    .map_or(0.0, |&i| f64::from(self.overlap[i as usize]));
                (q, value)
            })
            .collect();
        let share = |hits: usize, of: usize| (of > 0).then(|| hits as f64 / of as f64);
        let (mut knn_accuracy_a, mut knn_accuracy_b) = (None, None);
        let mut classes = Vec::new();
        if let (Some(labels), Some((va, vb))) = (labels, &self.votes) {
            let right_a = (0..n).filter(|&i| va[i] == labels[i]).count();
            let right_b = (0..n).filter(|&i| vb[i] == labels[i]).count();
            knn_accuracy_a = share(right_a, n);
            knn_accuracy_b = share(right_b, n);
            let count = labels.iter().max().map_or(0, |&m| m as usize + 1);
            let mut members: Vec<Vec<usize>> = vec![Vec::new(); count];
            for (i, &c) in labels.iter().enumerate() {
                members[c as usize].push(i);
            }
            for (c, own) in members.iter().enumerate() {
                let (items, mean_overlap) = mean(&mut own.iter().copied());
                let right = |v: &[u32]| own.iter().filter(|&&i| v[i] == c as u32).count();
                classes.push(ClassChange {
                    class: c as u32,
                    items,
                    mean_overlap,
                    accuracy_a: share(right(va), items),
                    accuracy_b: share(right(vb), items),
                });
            }
        }
        Summary {
            mean_overlap,
            quantiles,
            knn_accuracy_a,
            knn_accuracy_b,
            classes,
        }
    }
}

impl Summary {
    /// Classes with items, by how much B's accuracy gains over A's, most first (ties by class).
    pub fn by_gain(&self) -> Vec<&ClassChange> {
        let gain = |c: &ClassChange| c.accuracy_b.unwrap_or(0.0) - c.accuracy_a.unwrap_or(0.0);
        let mut out: Vec<&ClassChange> = self.classes.iter().filter(|c| c.items > 0).collect();
        out.sort_by(|p, q| gain(q).total_cmp(&gain(p)).then(p.class.cmp(&q.class)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::Metric;

    fn graph(lists: &[&[u32]]) -> KnnGraph {
        let k = lists[0].len();
        KnnGraph {
            k,
            metric: Metric::Euclidean,
            indices: lists.iter().flat_map(|l| l.iter().copied()).collect(),
            distances: (0..lists.len() * k).map(|at| (at % k) as f32).collect(),
        }
    }

    #[test]
    fn overlaps_ranks_and_votes_by_hand() {
        // Five items, two neighbours each; classes 0, 0, 1, 1, 1.
        let a = graph(&[&[1, 2], &[0, 2], &[3, 4], &[2, 4], &[3, 2]]);
        let b = graph(&[&[2, 1], &[3, 4], &[4, 3], &[2, 1], &[0, 1]]);
        let labels = [0, 0, 1, 1, 1];
        let c = compare(&a, &b, 2, Some(&labels)).expect("compare");
        assert_eq!(c.overlap, vec![1.0, 0.0, 1.0, 0.5, 0.0]);
        // Lowest first, ties by item.
        assert_eq!(c.order, vec![1, 4, 3, 0, 2]);
        assert_eq!(c.rank, vec![4, 1, 5, 3, 2]);
        // Votes: item 0 in A sees classes {0, 1}: a tie, to the smaller class 0.
        let (va, vb) = c.votes.clone().expect("votes");
        assert_eq!(va, vec![0, 0, 1, 1, 1]);
        assert_eq!(vb, vec![0, 1, 1, 0, 0]);
        let s = c.summary(Some(&labels));
        assert!((s.mean_overlap - 2.5 / 5.0).abs() < 1e-12);
        assert_eq!(s.knn_accuracy_a, Some(1.0));
        assert_eq!(s.knn_accuracy_b, Some(2.0 / 5.0));
        assert_eq!(s.quantiles[2], (0.5, 0.5));
        assert_eq!(s.classes[0].items, 2);
        assert_eq!(s.classes[0].accuracy_b, Some(0.5));
        assert!((s.classes[1].mean_overlap - 1.5 / 3.0).abs() < 1e-12);
        assert_eq!(s.classes[1].accuracy_b, Some(1.0 / 3.0));
        // Class 0 lost half, class 1 two thirds: class 0 first.
        let gains: Vec<u32> = s.by_gain().iter().map(|c| c.class).collect();
        assert_eq!(gains, vec![0, 1]);
        assert_eq!(c.correct(&labels, 1), Some((true, false)));
    }

    #[test]
    fn mismatched_inputs_are_refused() {
        let a = graph(&[&[1], &[0]]);
        let b = graph(&[&[1], &[0], &[1]]);
        assert_eq!(
            compare(&a, &b, 1, None),
            Err(CompareError::Items { a: 2, b: 3 })
        );
        assert_eq!(
            compare(&a, &a, 2, None),
            Err(CompareError::TooFewNeighbours { k: 2, a: 1, b: 1 })
        );
        assert_eq!(compare(&a, &a, 0, None), Err(CompareError::ZeroK));
        assert_eq!(
            compare(&a, &a, 1, Some(&[0])),
            Err(CompareError::Labels { labels: 1, n: 2 })
        );
        let same = compare(&a, &a, 1, None).expect("same");
        assert_eq!(same.overlap, vec![1.0, 1.0]);
        assert_eq!(same.summary(None).classes, vec![]);
    }
}
