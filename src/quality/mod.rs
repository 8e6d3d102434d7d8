//! The data-quality lens: what is wrong with a data set, read off the kNN graph in the
//! original space — near-duplicate groups (exact copies marked), an outlier score, label
//! issues (confident learning on out-of-sample kNN class probabilities) and, given a layout,
//! how faithful the map is around each item. Everything is O(N·k) on all cores: the graph
//! already holds the expensive part.
//!
//! Definitions (the README's audit section says the same in words):
//! - duplicates: items joined by graph edges no longer than the threshold (default a tenth of
//!   the median distance to the first neighbour: copies sit far closer than neighbours do),
//!   grouped by union-find; an item is an exact duplicate when another member has the very
//!   same feature row;
//! - outlier score: distance to the k-th neighbour over the mean of the neighbours' own, a
//!   local density ratio (≈ 1 inside a cluster, large for a point far from its neighbours);
//! - label issues: p(c | item) from the neighbours' labels weighted by inverse distance, the
//!   item's own duplicates left out (a copy's label is no independent evidence); label quality
//!   is p(given); flagged by cleanlab's "prune by noise rate": per-class thresholds (the mean
//!   p(c) of the items labelled c), a confident joint calibrated to the class counts, and per
//!   (given, likely) pair that many items with the largest margin p(likely) − p(given);
//! - fidelity: the share of an item's k original neighbours that are among its k neighbours
//!   on the layout (the per-item part of kNN preservation), and a trustworthiness-style
//!   penalty: for each layout neighbour that is not an original one, its original rank − k
//!   (ranks beyond the graph count as the graph's k + 1: a lower bound).

pub mod cached;
pub mod dismissed;
pub mod grid;

use rayon::prelude::*;
use thiserror::Error;

use crate::knn::KnnGraph;

#[derive(Debug, Error, PartialEq)]
pub enum QualityError {
    #[error("the kNN graph has {graph} items but the data set {data}")]
    GraphSize { graph: usize, data: usize },
    #[error("the kNN graph has {have} neighbours per item; the audit needs k = {want}")]
    GraphK { have: usize, want: usize },
    #[error("{what}: {found} values for {n_items} items")]
    Length {
        what: String,
        found: usize,
        n_items: usize,
    },
    #[error("the duplicate threshold must be a finite number ≥ 0, not {0}")]
    Threshold(f32),
    #[error("k must be at least 1")]
    KZero,
}

/// Class labels for the label-issue scores.
#[derive(Debug, Clone, Copy)]
pub struct Labels<'a> {
    /// One code per item, `< names.len()`.
    pub codes: &'a [u32],
    pub names: &'a [String],
}

/// What to compute, and from what.
#[derive(Debug, Clone, Copy)]
pub struct AuditInput<'a> {
    pub features: &'a [f32],
    pub dim: usize,
    /// The kNN graph in the original space, at least `k` neighbours per item.
    pub graph: &'a KnnGraph,
    /// Neighbours used by every score.
    pub k: usize,
    /// Duplicate threshold; `None`: from the distance distribution.
    pub dup_threshold: Option<f32>,
    pub labels: Option<Labels<'a>>,
    /// A layout (N × `layout_dim`, 2 or 3), for the fidelity scores.
    pub layout: Option<(&'a [f32], usize)>,
    /// A split per item (train/val/test codes), for leaks.
    pub splits: Option<&'a [u32]>,
}

/// Every score, per item.
#[derive(Debug, Clone, PartialEq)]
pub struct Audit {
    pub n_items: usize,
    pub k: usize,
    pub duplicates: Duplicates,
    pub outliers: Outliers,
    pub labels: Option<LabelIssues>,
    pub fidelity: Option<Fidelity>,
    /// Duplicate groups (indices into `duplicates.groups`) whose members lie in more than one
    /// split.
    pub leaks: Option<Vec<usize>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Duplicates {
    pub threshold: f32,
    /// How the threshold was chosen, in words.
    pub threshold_source: String,
    /// Per item: its group (index into `groups`), if any.
    pub group_of: Vec<Option<u32>>,
    /// Groups of two or more items, each ascending, ordered by their first item.
    pub groups: Vec<Vec<u32>>,
    /// Per item: another item of its group has the very same feature row.
    pub exact: Vec<bool>,
    /// The median of the positive first-neighbour distances: the data's scale (the default
    /// threshold and the label vote's softening are relative to it).
    pub median_first_distance: f32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Outliers {
    /// Distance to the k-th neighbour over the neighbours' mean of theirs.
    pub score: Vec<f32>,
    /// Items, most outlying first.
    pub ranking: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabelIssues {
    pub n_classes: usize,
    /// N × classes, row-major: out-of-sample p(class | item) from the neighbours.
    pub probs: Vec<f32>,
    /// p(given label | item).
    pub quality: Vec<f32>,
    /// The most likely class.
    pub suggested: Vec<u32>,
    pub is_issue: Vec<bool>,
    /// Per class, the confident-learning threshold.
    pub thresholds: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fidelity {
    /// Share of the k original neighbours that are layout neighbours too, in [0, 1].
    pub preserved: Vec<f32>,
    /// Sum over false layout neighbours of (original rank − k); ranks beyond the graph count
    /// as the graph's k + 1.
    pub trust_penalty: Vec<u32>,
    /// N × k: each item's k nearest on the layout (the evidence the explorer draws: which
    /// original neighbours the map kept).
    pub on_map: Vec<u32>,
}

/// The input's parts fit together (sizes, k), as [`audit`] requires.
fn check(input: &AuditInput<'_>) -> Result<(), QualityError> {
    let graph = input.graph;
    let n = graph.n_items();
    let data_n = input.features.len() / input.dim.max(1);
    if n != data_n {
        return Err(QualityError::GraphSize {
            graph: n,
            data: data_n,
        });
    }
    if input.k == 0 {
        return Err(QualityError::KZero);
    }
    if graph.k < input.k {
        return Err(QualityError::GraphK {
            have: graph.k,
            want: input.k,
        });
    }
    if let Some(labels) = &input.labels
        && labels.codes.len() != n
    {
        return Err(QualityError::Length {
            what: "labels".into(),
            found: labels.codes.len(),
            n_items: n,
        });
    }
    if let Some(splits) = input.splits
        && splits.len() != n
    {
        return Err(QualityError::Length {
            what: "splits".into(),
            found: splits.len(),
            n_items: n,
        });
    }
    if let Some((layout, dims)) = input.layout
        && layout.len() != n * dims
    {
        return Err(QualityError::Length {
            what: "layout rows".into(),
            found: layout.len() / dims.max(1),
            n_items: n,
        });
    }
    Ok(())
}

/// The graph computed for an audit when none is given: the `knn` command's default size, so
/// its cached graph is reused (the audit takes the first k neighbours); the Python package's
/// `audit` searches the same graph, so its scores are the CLI's.
pub const GRAPH_K: usize = 30;

/// Compute every score the input allows.
pub fn audit(input: &AuditInput<'_>) -> Result<Audit, QualityError> {
    check(input)?;
    let graph = input.graph;
    let n = graph.n_items();
    let duplicates = duplicates(input)?;
    let outliers = outliers(graph, input.k);
    let labels = input
        .labels
        .map(|l| label_issues(graph, input.k, l, &duplicates));
    let fidelity = input
        .layout
        .map(|(coords, dims)| fidelity(graph, input.k, coords, dims));
    let leaks = input.splits.map(|splits| {
        duplicates
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                g.iter()
                    .any(|&i| splits[i as usize] != splits[g[0] as usize])
            })
            .map(|(at, _)| at)
            .collect()
    });
    Ok(Audit {
        n_items: n,
        k: input.k,
        duplicates,
        outliers,
        labels,
        fidelity,
        leaks,
    })
}

/// The median of the positive first-neighbour distances (0 when there is none).
fn median_first_distance(graph: &KnnGraph) -> f32 {
    let mut d1: Vec<f32> = (0..graph.n_items())
        .map(|i| graph.neighbor_distances(i)[0])
        .filter(|&d| d > 0.0 && d.is_finite())
        .collect();
    if d1.is_empty() {
        return 0.0;
    }
    let mid = d1.len() / 2;
    let (_, m, _) = d1.select_nth_unstable_by(mid, f32::total_cmp);
    *m
}

/// Union-find with path halving; the smaller index becomes the root, so groups come out in
/// a fixed order.
struct UnionFind(Vec<u32>);

impl UnionFind {
    fn find(&mut self, mut i: u32) -> u32 {
        while self.0[i as usize] != i {
            let up = self.0[self.0[i as usize] as usize];
            self.0[i as usize] = up;
            i = up;
        }
        i
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi as usize] = lo;
        }
    }
}

fn duplicates(input: &AuditInput<'_>) -> Result<Duplicates, QualityError> {
    let graph = input.graph;
    let n = graph.n_items();
    let median = median_first_distance(graph);
    let (threshold, threshold_source) = match input.dup_threshold {
        Some(t) if t.is_finite() && t >= 0.0 => (t, "given".to_owned()),
        Some(t) => return Err(QualityError::Threshold(t)),
        None => (
            median * DUP_FRACTION,
            format!("{DUP_FRACTION} × the median first-neighbour distance {median:.4}"),
        ),
    };
    let mut uf = UnionFind((0..n as u32).collect());
    for i in 0..n {
        for (&j, &d) in graph
            .neighbors(i)
            .iter()
            .zip(graph.neighbor_distances(i))
            .take(input.k)
        {
            // Identical rows are copies even when rounding made their distance positive.
            if d <= threshold || (d <= threshold.max(f32::EPSILON) * 4.0 && same_row(input, i, j)) {
                uf.union(i as u32, j);
            }
        }
    }
    let roots: Vec<u32> = (0..n as u32).map(|i| uf.find(i)).collect();
    let mut size = vec![0u32; n];
    for &r in &roots {
        size[r as usize] += 1;
    }
    let mut group_at = vec![u32::MAX; n];
    let mut groups: Vec<Vec<u32>> = Vec::new();
    let mut group_of = vec![None; n];
    for i in 0..n {
        let r = roots[i] as usize;
        if size[r] < 2 {
            continue;
        }
        if group_at[r] == u32::MAX {
            group_at[r] = groups.len() as u32;
            groups.push(Vec::new());
        }
        groups[group_at[r] as usize].push(i as u32);
        group_of[i] = Some(group_at[r]);
    }
    let exact = (0..n)
        .into_par_iter()
        .map(|i| {
            group_of[i].is_some_and(|g| {
                groups[g as usize]
                    .iter()
                    .any(|&j| j as usize != i && same_row(input, i, j))
            })
        })
        .collect();
    Ok(Duplicates {
        threshold,
        threshold_source,
        group_of,
        groups,
        exact,
        median_first_distance: median,
    })
}

/// The default duplicate threshold as a fraction of the median first-neighbour distance.
pub const DUP_FRACTION: f32 = 0.1;

fn same_row(input: &AuditInput<'_>, i: usize, j: u32) -> bool {
    let d = input.dim;
    let j = j as usize;
    input.features[i * d..(i + 1) * d] == input.features[j * d..(j + 1) * d]
}

fn outliers(graph: &KnnGraph, k: usize) -> Outliers {
    let n = graph.n_items();
    let kth: Vec<f32> = (0..n).map(|i| graph.neighbor_distances(i)[k - 1]).collect();
    let score: Vec<f32> = (0..n)
        .into_par_iter()
        .map(|i| {
            let near = &graph.neighbors(i)[..k];
            let mean = near.iter().map(|&j| kth[j as usize]).sum::<f32>() / k as f32;
            if mean > 0.0 {
                kth[i] / mean
            } else if kth[i] > 0.0 {
                f32::INFINITY
            } else {
                1.0
            }
        })
        .collect();
    let mut ranking: Vec<u32> = (0..n as u32).collect();
    ranking.par_sort_by(|&a, &b| {
        score[b as usize]
            .total_cmp(&score[a as usize])
            .then(a.cmp(&b))
    });
    Outliers { score, ranking }
}

/// Probability mass spread over every class so none is exactly 0 (cleanlab's advice for kNN
/// probabilities), relative to the neighbours' total weight.
const SMOOTHING: f32 = 1e-3;

fn label_issues(graph: &KnnGraph, k: usize, labels: Labels<'_>, dups: &Duplicates) -> LabelIssues {
    let n = graph.n_items();
    let c = labels.names.len().max(1);
    // Inverse-distance weights, softened relative to the data's scale.
    let eps = (dups.median_first_distance * 1e-3).max(1e-12);
    let mut probs = vec![0f32; n * c];
    probs.par_chunks_mut(c).enumerate().for_each(|(i, row)| {
        let own = dups.group_of[i];
        let near = graph.neighbors(i)[..k]
            .iter()
            .zip(graph.neighbor_distances(i));
        // The item's own copies are no independent evidence; unless they are all there is.
        let independent = |j: u32| own.is_none() || dups.group_of[j as usize] != own;
        let all_copies = !near.clone().any(|(&j, _)| independent(j));
        let mut total = 0.0;
        for (&j, &d) in near.filter(|(j, _)| all_copies || independent(**j)) {
            let w = 1.0 / (d + eps);
            row[labels.codes[j as usize] as usize] += w;
            total += w;
        }
        let spread = SMOOTHING * total / c as f32;
        let norm = total * (1.0 + SMOOTHING);
        for p in row.iter_mut() {
            *p = if norm > 0.0 {
                (*p + spread) / norm
            } else {
                1.0 / c as f32
            };
        }
    });
    let given = |i: usize| labels.codes[i] as usize;
    let quality: Vec<f32> = (0..n).map(|i| probs[i * c + given(i)]).collect();
    let argmax = |row: &[f32]| {
        row.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(at, _)| at)
    };
    let suggested: Vec<u32> = probs.chunks(c).map(|r| argmax(r) as u32).collect();
    // Per-class thresholds: the mean p(class) over the items given that class.
    let mut sum = vec![0f64; c];
    let mut count = vec![0usize; c];
    for i in 0..n {
        sum[given(i)] += f64::from(quality[i]);
        count[given(i)] += 1;
    }
    let thresholds: Vec<f32> = (0..c)
        .map(|j| {
            if count[j] > 0 {
                (sum[j] / count[j] as f64) as f32
            } else {
                1.0
            }
        })
        .collect();
    // The confident joint: per (given, confidently likely) class, how many items.
    let mut joint = vec![0f64; c * c];
    for i in 0..n {
        let row = &probs[i * c..(i + 1) * c];
        // cleanlab's rule: one class above its threshold is the likely one; with several,
        // the most probable class overall.
        let above: Vec<usize> = (0..c).filter(|&j| row[j] >= thresholds[j] - 1e-6).collect();
        let confident = match above.len() {
            0 => None,
            1 => Some(above[0]),
            _ => Some(argmax(row)),
        };
        if let Some(likely) = confident {
            joint[given(i) * c + likely] += 1.0;
        }
    }
    // Calibrated so each given class's row sums to its count.
    for g in 0..c {
        let row_sum: f64 = joint[g * c..(g + 1) * c].iter().sum();
        if row_sum > 0.0 {
            for v in &mut joint[g * c..(g + 1) * c] {
                *v *= count[g] as f64 / row_sum;
            }
        }
    }
    // Prune by noise rate: per off-diagonal (given, likely), that many items of the given
    // class with the largest margin p(likely) − p(given).
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); c];
    for i in 0..n {
        by_class[given(i)].push(i);
    }
    let mut is_issue = vec![false; n];
    for g in 0..c {
        let members = &by_class[g];
        for likely in (0..c).filter(|&l| l != g) {
            // Keep at least one item of the class (cleanlab's min_examples_per_class).
            let remove =
                (joint[g * c + likely].round() as usize).min(members.len().saturating_sub(1));
            if remove == 0 {
                continue;
            }
            let mut ranked: Vec<(f32, usize)> = members
                .iter()
                .map(|&i| (probs[i * c + likely] - probs[i * c + g], i))
                .collect();
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, i) in ranked.iter().take(remove) {
                is_issue[i] = true;
            }
        }
    }
    // An item whose most likely class is its given one is not an issue.
    for i in 0..n {
        if suggested[i] as usize == given(i) {
            is_issue[i] = false;
        }
    }
    LabelIssues {
        n_classes: c,
        probs,
        quality,
        suggested,
        is_issue,
        thresholds,
    }
}

/// The fidelity scores alone: the explorer recomputes them when the layout changes, without
/// the rest of the audit. `coords` holds N × `dims` (2 or 3) values.
pub fn fidelity(graph: &KnnGraph, k: usize, coords: &[f32], dims: usize) -> Fidelity {
    let on_map = grid::knn(coords, dims, k);
    let n = graph.n_items();
    let (preserved, trust_penalty) = (0..n)
        .into_par_iter()
        .map(|i| {
            let original = graph.neighbors(i);
            let mine = &on_map[i * k..(i + 1) * k];
            let mut kept = 0u32;
            let mut penalty = 0u32;
            for &j in mine {
                match original.iter().position(|&o| o == j) {
                    Some(rank) if rank < k => kept += 1,
                    Some(rank) => penalty += (rank + 1 - k) as u32,
                    None => penalty += (graph.k + 1 - k) as u32,
                }
            }
            (kept as f32 / k as f32, penalty)
        })
        .unzip();
    Fidelity {
        preserved,
        trust_penalty,
        on_map,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Metric, exact_knn};

    fn graph(x: &[f32], dim: usize, k: usize) -> KnnGraph {
        exact_knn(x, dim, k, Metric::Euclidean, &()).expect("knn")
    }

    fn input<'a>(x: &'a [f32], dim: usize, g: &'a KnnGraph, k: usize) -> AuditInput<'a> {
        AuditInput {
            features: x,
            dim,
            graph: g,
            k,
            dup_threshold: None,
            labels: None,
            layout: None,
            splits: None,
        }
    }

    #[test]
    fn copies_are_grouped_and_exact_ones_marked() {
        // On a line, 1 apart; item 5 copies item 1 exactly, item 6 is 0.01 from item 3.
        let x = [0.0, 1.0, 2.0, 3.0, 4.0, 1.0, 3.01, 5.0];
        let g = graph(&x, 1, 3);
        let a = audit(&input(&x, 1, &g, 3)).expect("audit");
        let d = &a.duplicates;
        // Median first distance 1 (the copies' 0 and 0.01 aside): threshold 0.1.
        assert!((d.threshold - 0.1).abs() < 1e-6, "{}", d.threshold);
        assert_eq!(d.groups, vec![vec![1, 5], vec![3, 6]]);
        assert_eq!(d.group_of[5], Some(0));
        assert_eq!(d.group_of[0], None);
        let exact: Vec<usize> = (0..8).filter(|&i| d.exact[i]).collect();
        assert_eq!(exact, [1, 5]);
        // A given threshold of 0 keeps the exact copies only; a negative one is refused.
        let only_exact = audit(&AuditInput {
            dup_threshold: Some(0.0),
            ..input(&x, 1, &g, 3)
        })
        .expect("audit");
        assert_eq!(only_exact.duplicates.groups, vec![vec![1, 5]]);
        let bad = audit(&AuditInput {
            dup_threshold: Some(-1.0),
            ..input(&x, 1, &g, 3)
        });
        assert_eq!(bad, Err(QualityError::Threshold(-1.0)));
    }

    #[test]
    fn a_far_point_is_the_top_outlier() {
        // A tight cluster of 10 and one point far away.
        let mut x: Vec<f32> = (0..10).map(|i| i as f32 * 0.1).collect();
        x.push(50.0);
        let g = graph(&x, 1, 3);
        let a = audit(&input(&x, 1, &g, 3)).expect("audit");
        assert_eq!(a.outliers.ranking[0], 10);
        assert!(a.outliers.score[10] > 10.0, "{}", a.outliers.score[10]);
        // Inside the cluster: about as sparse as its neighbours.
        assert!(
            (a.outliers.score[5] - 1.0).abs() < 0.5,
            "{}",
            a.outliers.score[5]
        );
    }

    /// The audit of 1-D features with classes "a" and "b", k = 4.
    fn two_class_audit(x: &[f32], codes: &[u32]) -> Audit {
        let names = vec!["a".to_owned(), "b".to_owned()];
        let g = graph(x, 1, 4);
        audit(&AuditInput {
            labels: Some(Labels {
                codes,
                names: &names,
            }),
            ..input(x, 1, &g, 4)
        })
        .expect("audit")
    }

    #[test]
    fn a_flipped_label_is_flagged_with_its_likely_class() {
        // Two clusters of 8 (class 0 near 0, class 1 near 100); item 3 labelled 1 by mistake.
        let x: Vec<f32> = (0..16)
            .map(|i| if i < 8 { i as f32 } else { 100.0 + i as f32 })
            .collect();
        let mut codes: Vec<u32> = (0..16).map(|i| u32::from(i >= 8)).collect();
        codes[3] = 1;
        let a = two_class_audit(&x, &codes);
        let l = a.labels.expect("labels");
        let flagged: Vec<usize> = (0..16).filter(|&i| l.is_issue[i]).collect();
        assert_eq!(flagged, [3]);
        assert_eq!(l.suggested[3], 0);
        assert!(l.quality[3] < 0.01, "{}", l.quality[3]);
        // Far from the mistake, all neighbours agree; beside it, three of four do.
        assert!(l.quality[12] > 0.99, "{}", l.quality[12]);
        assert!(
            l.quality[0] > 0.75 && l.quality[0] < 0.99,
            "{}",
            l.quality[0]
        );
        // Probabilities are distributions.
        for row in l.probs.chunks(2) {
            assert!((row[0] + row[1] - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn a_mislabelled_item_with_a_copy_is_still_flagged() {
        // Item 3 and its exact copy 16 both carry the wrong label: the copy does not vouch.
        let mut x: Vec<f32> = (0..16)
            .map(|i| if i < 8 { i as f32 } else { 100.0 + i as f32 })
            .collect();
        x.push(3.0);
        let mut codes: Vec<u32> = (0..17).map(|i| u32::from((8..16).contains(&i))).collect();
        codes[3] = 1;
        codes[16] = 1;
        let a = two_class_audit(&x, &codes);
        let l = a.labels.expect("labels");
        assert!(l.is_issue[3] && l.is_issue[16]);
        assert_eq!(a.duplicates.groups, vec![vec![3, 16]]);
    }

    #[test]
    fn fidelity_counts_kept_neighbours_and_penalises_false_ones() {
        // Features on a line; the layout swaps items 0 and 9 (the ends).
        let x: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let mut layout: Vec<f32> = (0..10).flat_map(|i| [i as f32, 0.0]).collect();
        layout.swap(0, 18);
        let g = graph(&x, 1, 4);
        let a = audit(&AuditInput {
            layout: Some((&layout, 2)),
            ..input(&x, 1, &g, 2)
        })
        .expect("audit");
        let f = a.fidelity.expect("fidelity");
        // Item 5 keeps its two neighbours (4 and 6).
        assert_eq!(f.preserved[5], 1.0);
        assert_eq!(f.trust_penalty[5], 0);
        // Item 0 now sits beside 8: both layout neighbours are strangers beyond the graph.
        assert_eq!(f.preserved[0], 0.0);
        assert_eq!(f.trust_penalty[0], 2 * (4 + 1 - 2));
        // Item 1's layout neighbours are 2 (kept) and 9 (a stranger); its original 0 is lost.
        assert_eq!(f.preserved[1], 0.5);
    }

    #[test]
    fn duplicate_groups_across_splits_are_leaks() {
        let x = [0.0, 0.0, 5.0, 5.0, 9.0, 20.0];
        let splits = [0, 1, 0, 0, 1, 1];
        let g = graph(&x, 1, 2);
        let a = audit(&AuditInput {
            splits: Some(&splits),
            ..input(&x, 1, &g, 2)
        })
        .expect("audit");
        assert_eq!(a.duplicates.groups, vec![vec![0, 1], vec![2, 3]]);
        assert_eq!(a.leaks, Some(vec![0]));
    }

    #[test]
    fn mismatched_inputs_are_errors() {
        let x = [0.0, 1.0, 2.0];
        let g = graph(&x, 1, 2);
        assert_eq!(
            audit(&input(&x, 1, &g, 3)),
            Err(QualityError::GraphK { have: 2, want: 3 })
        );
        let codes = [0u32, 1];
        let names = vec!["a".to_owned(), "b".to_owned()];
        let e = audit(&AuditInput {
            labels: Some(Labels {
                codes: &codes,
                names: &names,
            }),
            ..input(&x, 1, &g, 2)
        });
        assert!(matches!(e, Err(QualityError::Length { found: 2, .. })));
    }
}
