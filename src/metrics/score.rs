//! A layout's scores as `ivt-explore eval` reports them (trustworthiness, kNN preservation, kNN
//! label accuracy), for the CLI and the Python package's `evaluate`: one computation, so both
//! give the same figures for the same data.

use crate::knn::{self, KnnError, KnnGraph, Method, Metric};
use crate::numeric::sample_items;

/// The seed of the items sampled when the data is too large to score every item.
pub const SAMPLE_SEED: u64 = 0;
/// Items whose neighbours are compared when the exact graph of all items is too costly.
pub const NEIGHBOUR_SAMPLE: usize = 5000;

/// What to score.
#[derive(Debug, Clone, Copy)]
pub struct ScoreInput<'a> {
    /// The original features, N × `dim`, row-major.
    pub features: &'a [f32],
    pub dim: usize,
    /// The layout, N × `layout_dim`.
    pub layout: &'a [f32],
    pub layout_dim: usize,
    /// One class code per item, for the kNN accuracy.
    pub labels: Option<&'a [u32]>,
    /// Neighbours per item.
    pub k: usize,
    /// Items the trustworthiness is computed over (all when 0 or at least N).
    pub tw_sample: usize,
}

/// The scores, with the number of items each was computed over.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub n_items: usize,
    pub k: usize,
    pub trustworthiness: f64,
    pub tw_points: usize,
    pub knn_preservation: f64,
    pub knn_accuracy: Option<f64>,
    pub neighbour_points: usize,
}

/// Whether the neighbour scores use every item: while the exact graph is cheap (the default
/// search's rule); above, [`NEIGHBOUR_SAMPLE`] sampled items. A caller holding a graph (one
/// given by the user) may pass it whatever this says.
pub fn scores_every_item(n_items: usize, dim: usize) -> bool {
    Method::Auto {
        max_exact_work: knn::DEFAULT_MAX_EXACT_WORK,
    }
    .is_exact(n_items, dim)
}

/// Score `input.layout`. `original` is the exact k-neighbour graph of the features when every
/// item is scored (the caller computes or caches it); `None` scores a sample.
pub fn score(input: &ScoreInput<'_>, original: Option<&KnnGraph>) -> Result<Scores, KnnError> {
    let ScoreInput {
        features,
        dim,
        layout,
        layout_dim,
        labels,
        k,
        tw_sample,
    } = *input;
    let n = features.len() / dim.max(1);
    let (knn_preservation, knn_accuracy, neighbour_points) = match original {
        Some(original) => {
            let in_layout = knn::exact_knn(layout, layout_dim, k, Metric::Euclidean, &())?;
            (
                super::knn_preservation(original, &in_layout, k),
                labels.map(|l| super::knn_accuracy(&in_layout, l, k)),
                n,
            )
        }
        None => {
            let sample = sample_items(n, NEIGHBOUR_SAMPLE, SAMPLE_SEED);
            let original = knn::exact_neighbours_of(features, dim, &sample, k, Metric::Euclidean)?;
            let in_layout =
                knn::exact_neighbours_of(layout, layout_dim, &sample, k, Metric::Euclidean)?;
            (
                super::sampled_knn_preservation(&original, &in_layout, k),
                labels.map(|l| super::sampled_knn_accuracy(&sample, &in_layout, l, k)),
                sample.len(),
            )
        }
    };
    let subset = (tw_sample > 0 && n > tw_sample).then(|| sample_items(n, tw_sample, SAMPLE_SEED));
    let trustworthiness =
        super::trustworthiness(features, dim, layout, layout_dim, k, subset.as_deref());
    Ok(Scores {
        n_items: n,
        k,
        trustworthiness,
        tw_points: subset.as_ref().map_or(n, Vec::len),
        knn_preservation,
        knn_accuracy,
        neighbour_points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_that_is_the_data_scores_one_and_a_shuffled_one_does_not() {
        let (n, dim) = (300, 2);
        let features: Vec<f32> = (0..n * dim)
            .map(|i| ((i * 7919) % 1000) as f32 / 100.0)
            .collect();
        let labels: Vec<u32> = (0..n as u32).map(|i| i % 3).collect();
        let k = 5;
        let original = knn::exact_knn(&features, dim, k, Metric::Euclidean, &()).expect("graph");
        let input = ScoreInput {
            features: &features,
            dim,
            layout: &features,
            layout_dim: dim,
            labels: Some(&labels),
            k,
            tw_sample: 0,
        };
        let same = score(&input, Some(&original)).expect("scores");
        assert!((same.trustworthiness - 1.0).abs() < 1e-9, "{same:?}");
        assert!((same.knn_preservation - 1.0).abs() < 1e-9, "{same:?}");
        assert_eq!((same.neighbour_points, same.tw_points), (n, n));
        // Points that have nothing to do with the data (a multiplicative hash of the index).
        let shuffled: Vec<f32> = (0..n * dim)
            .map(|i| ((i as u64 * 2_654_435_761) % 10_007) as f32)
            .collect();
        let other = score(
            &ScoreInput {
                layout: &shuffled,
                ..input
            },
            Some(&original),
        )
        .expect("scores");
        assert!(other.knn_preservation < 0.5, "{other:?}");
        // Sampled: the same figure for a faithful layout, over the sample's items.
        let sampled = score(&input, None).expect("scores");
        assert!((sampled.knn_preservation - 1.0).abs() < 1e-9);
    }
}
