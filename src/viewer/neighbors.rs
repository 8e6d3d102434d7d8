//! Which items the neighbour grid shows for a selected item, in the ORIGINAL feature space.
//!
//! The reference tool's four modes: the nearest items overall, the nearest within the selected
//! item's group (its cluster, or its class until clusters exist), a random sample of the group,
//! and the farthest within the group. Distances are always measured between feature vectors,
//! never in the 2D/3D layout, which distorts them. Pure code: the panel and the tests call it.

use crate::dataset::ItemId;
use crate::knn::{KnnGraph, Metric};

/// What the grid lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NeighborMode {
    #[default]
    Nearest,
    NearestInGroup,
    RandomInGroup,
    FarthestInGroup,
}

impl NeighborMode {
    pub const ALL: [Self; 4] = [
        Self::Nearest,
        Self::NearestInGroup,
        Self::RandomInGroup,
        Self::FarthestInGroup,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Nearest => "nearest",
            Self::NearestInGroup => "nearest in group",
            Self::RandomInGroup => "random in group",
            Self::FarthestInGroup => "farthest in group",
        }
    }

    pub fn needs_groups(self) -> bool {
        self != Self::Nearest
    }
}

/// One tile of the grid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbor {
    pub item: ItemId,
    /// Distance to the selected item in the original space (the graph's metric).
    pub distance: f32,
}

/// Everything the modes read.
pub struct NeighborSource<'a> {
    /// N × `dim`, row-major.
    pub features: &'a [f32],
    pub dim: usize,
    pub metric: Metric,
    /// The shared kNN graph, once computed: answers `Nearest` without a scan.
    pub graph: Option<&'a KnnGraph>,
    /// Group code per item (cluster or class), when there is one.
    pub groups: Option<&'a [u32]>,
}

/// The `count` items the grid shows for `selected` in `mode`, in display order (nearest first,
/// except `FarthestInGroup`: farthest first). Fewer when the group is smaller; empty for a
/// group mode without groups. `seed` makes `RandomInGroup` repeatable (the panel changes it on
/// "shuffle").
pub fn neighbor_items(
    src: &NeighborSource<'_>,
    selected: ItemId,
    mode: NeighborMode,
    count: usize,
    seed: u64,
) -> Vec<Neighbor> {
    let n = src.features.len() / src.dim.max(1);
    let s = selected.index();
    if s >= n || count == 0 {
        return Vec::new();
    }
    let candidates: Vec<usize> = match (mode, src.groups) {
        (NeighborMode::Nearest, _) => {
            if let Some(g) = src.graph.filter(|g| g.k >= count && g.n_items() == n) {
                return g
                    .neighbors(s)
                    .iter()
                    .zip(g.neighbor_distances(s))
                    .take(count)
                    .map(|(&j, &d)| Neighbor {
                        item: ItemId(j),
                        distance: d,
                    })
                    .collect();
            }
            (0..n).filter(|&j| j != s).collect()
        }
        (_, None) => return Vec::new(),
        (_, Some(groups)) => {
            let own = groups[s];
            (0..n).filter(|&j| j != s && groups[j] == own).collect()
        }
    };
    let candidates = if mode == NeighborMode::RandomInGroup {
        sample(
            candidates,
            count,
            seed ^ (s as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        )
    } else {
        candidates
    };
    let row = |j: usize| &src.features[j * src.dim..(j + 1) * src.dim];
    let me = row(s);
    let mut scored: Vec<Neighbor> = candidates
        .into_iter()
        .map(|j| Neighbor {
            item: ItemId(j as u32),
            distance: distance(me, row(j), src.metric),
        })
        .collect();
    // Ties by index keep the order stable across runs and platforms.
    let by_distance = |a: &Neighbor, b: &Neighbor| {
        a.distance
            .total_cmp(&b.distance)
            .then(a.item.0.cmp(&b.item.0))
    };
    if mode == NeighborMode::FarthestInGroup {
        scored.sort_by(|a, b| {
            b.distance
                .total_cmp(&a.distance)
                .then(a.item.0.cmp(&b.item.0))
        });
    } else {
        scored.sort_by(by_distance);
    }
    scored.truncate(count);
    scored
}

/// Distance as the kNN graph measures it.
pub fn distance(a: &[f32], b: &[f32], metric: Metric) -> f32 {
    match metric {
        Metric::Euclidean => a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f32>()
            .sqrt(),
        Metric::Cosine => {
            let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
            for (x, y) in a.iter().zip(b) {
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            let denom = (aa * bb).sqrt();
            if denom > 0.0 { 1.0 - ab / denom } else { 1.0 }
        }
    }
}

/// `count` of `items` chosen uniformly: the metrics' seeded sampler, applied to positions.
fn sample(items: Vec<usize>, count: usize, seed: u64) -> Vec<usize> {
    crate::numeric::sample_items(items.len(), count, seed)
        .into_iter()
        .map(|k| items[k])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Method, knn};

    /// Items on a line at x = index; groups: even / odd.
    fn line(n: usize) -> (Vec<f32>, Vec<u32>) {
        let f = (0..n).flat_map(|i| [i as f32, 0.0]).collect();
        let g = (0..n).map(|i| (i % 2) as u32).collect();
        (f, g)
    }

    fn items(v: &[Neighbor]) -> Vec<u32> {
        v.iter().map(|n| n.item.0).collect()
    }

    #[test]
    fn each_mode_lists_the_right_items_in_order() {
        let (f, g) = line(20);
        let graph = knn(&f, 2, 6, Metric::Euclidean, Method::Exact, &()).expect("knn");
        let mut src = NeighborSource {
            features: &f,
            dim: 2,
            metric: Metric::Euclidean,
            graph: Some(&graph),
            groups: Some(&g),
        };
        let sel = ItemId(10);
        // Ties (9 and 11) break by the lower index.
        assert_eq!(
            items(&neighbor_items(&src, sel, NeighborMode::Nearest, 4, 0)),
            [9, 11, 8, 12]
        );
        assert_eq!(
            items(&neighbor_items(
                &src,
                sel,
                NeighborMode::NearestInGroup,
                3,
                0
            )),
            [8, 12, 6]
        );
        assert_eq!(
            items(&neighbor_items(
                &src,
                sel,
                NeighborMode::FarthestInGroup,
                2,
                0
            )),
            [0, 2]
        );
        let random = neighbor_items(&src, sel, NeighborMode::RandomInGroup, 5, 7);
        assert_eq!(random.len(), 5);
        assert!(random.iter().all(|n| n.item.0 % 2 == 0 && n.item.0 != 10));
        assert!(random.windows(2).all(|w| w[0].distance <= w[1].distance));
        assert_eq!(
            random,
            neighbor_items(&src, sel, NeighborMode::RandomInGroup, 5, 7)
        );
        assert_ne!(
            items(&random),
            items(&neighbor_items(
                &src,
                sel,
                NeighborMode::RandomInGroup,
                5,
                8
            ))
        );
        // More tiles than the graph holds: a scan gives the same leading items.
        let wide = neighbor_items(&src, sel, NeighborMode::Nearest, 8, 0);
        assert_eq!(items(&wide)[..4], [9, 11, 8, 12]);
        assert_eq!(wide.len(), 8);
        assert!((wide[0].distance - 1.0).abs() < 1e-6);
        src.groups = None;
        assert!(neighbor_items(&src, sel, NeighborMode::NearestInGroup, 3, 0).is_empty());
        assert!(neighbor_items(&src, ItemId(99), NeighborMode::Nearest, 3, 0).is_empty());
    }

    #[test]
    fn group_smaller_than_the_grid_gives_what_there_is() {
        let (f, _) = line(6);
        let groups = [0, 1, 1, 0, 2, 2];
        let src = NeighborSource {
            features: &f,
            dim: 2,
            metric: Metric::Euclidean,
            graph: None,
            groups: Some(&groups),
        };
        assert_eq!(
            items(&neighbor_items(
                &src,
                ItemId(4),
                NeighborMode::NearestInGroup,
                16,
                0
            )),
            [5]
        );
        assert_eq!(
            items(&neighbor_items(
                &src,
                ItemId(0),
                NeighborMode::RandomInGroup,
                16,
                1
            )),
            [3]
        );
    }

    #[test]
    fn cosine_distance_matches_the_definition() {
        assert!((distance(&[1.0, 0.0], &[0.0, 2.0], Metric::Cosine) - 1.0).abs() < 1e-6);
        assert!(distance(&[1.0, 1.0], &[2.0, 2.0], Metric::Cosine).abs() < 1e-6);
        assert!((distance(&[0.0, 0.0], &[3.0, 4.0], Metric::Euclidean) - 5.0).abs() < 1e-6);
    }
}
