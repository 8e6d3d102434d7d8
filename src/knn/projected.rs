//! Approximate kNN for high-dimensional features: an exact search among the leading principal
//! components finds a short list of candidates per item, and the full-dimensional distances
//! re-rank them.
//!
//! Why it works: PCA is a rotation followed by dropping the weakest directions, so an item's
//! true neighbours are close in the projection too, only shuffled among a few more. On
//! Fashion-MNIST (784-D, 50 components keep 86% of the variance) the 225 nearest in the
//! projection hold 99% of the 90 true nearest (benches/README.md), and the search costs
//! N² · 50 instead of N² · 784. The projection's distances never reach the output: every
//! neighbour's distance is recomputed in the full space, so only *which* items are found is
//! approximate. A sample of items is checked against an exact search, so the caller knows the
//! recall it got; when it is poor (a flat spectrum: the leading components say little) the
//! search is rerun once with twice the components and candidates.
//!
//! Deterministic: PCA fixes its signs and both searches are exact.

use rayon::prelude::*;

use super::exact::{TopK, dot, exact_knn, exact_sample, finish_distance, from_dot, prepared};
use super::{KnnError, KnnGraph, Metric, check_k};
use crate::numeric::squared_norms;
use crate::progress::Observer;

/// Principal components searched by default.
pub const DEFAULT_COMPONENTS: usize = 50;
/// Items whose exact neighbours are computed to estimate the recall.
pub(super) const RECALL_SAMPLE: usize = 256;
/// Below this estimated recall the search is retried once with twice the effort.
const RETRY_BELOW: f64 = 0.95;

/// How many components to search and how many candidates to re-rank per item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectedParams {
    pub components: usize,
    pub candidates: usize,
}

impl ProjectedParams {
    /// Defaults for `k` neighbours of `dim`-dimensional features: 2.5 k candidates, and at
    /// least k + 60 so a small k still gets a margin.
    pub fn for_k(k: usize, dim: usize) -> Self {
        Self {
            components: DEFAULT_COMPONENTS.min(dim),
            candidates: (k * 5 / 2).max(k + 60),
        }
    }
}

/// How a search through a projection went.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionReport {
    /// The parameters of the run that produced `graph` (after a retry, the bigger ones).
    pub params: ProjectedParams,
    /// Variance the searched components keep.
    pub explained: f64,
    /// Recall@k against an exact search, on a fixed sample of items.
    pub estimated_recall: f64,
}

/// Approximate k nearest neighbours of every row, searched in a PCA projection and re-ranked
/// in the full space.
pub fn projected_knn(
    features: &[f32],
    dim: usize,
    k: usize,
    metric: Metric,
    params: &ProjectedParams,
    observer: &dyn Observer,
) -> Result<(KnnGraph, ProjectionReport), KnnError> {
    let n = features.len() / dim.max(1);
    check_k(k, n)?;
    let data = prepared(features, dim, metric)?;
    let data: &[f32] = &data;
    let norms = squared_norms(data, dim);
    let sample = crate::numeric::sample_items(n, RECALL_SAMPLE, 0);
    let truth = exact_sample(data, &norms, dim, &sample, k);
    let mut params = *params;
    let mut retried = false;
    loop {
        let (graph, explained) = search(data, &norms, dim, k, metric, &params, observer)?;
        let estimated_recall = sample_recall(&graph, &sample, &truth);
        let bigger = ProjectedParams {
            components: (params.components * 2).min(dim),
            candidates: (params.candidates * 2).min(n - 1),
        };
        if estimated_recall >= RETRY_BELOW || retried || bigger == params {
            let report = ProjectionReport {
                params,
                explained,
                estimated_recall,
            };
            return Ok((graph, report));
        }
        params = bigger;
        retried = true;
    }
}

/// One search: candidates in the projection, re-ranked by full distances.
fn search(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    k: usize,
    metric: Metric,
    params: &ProjectedParams,
    observer: &dyn Observer,
) -> Result<(KnnGraph, f64), KnnError> {
    let n = norms.len();
    let components = params.components.clamp(1, dim);
    let candidates = params.candidates.clamp(k, n - 1);
    let pca = crate::numeric::pca::fit(data, dim, components)
        .map_err(|e| KnnError::Pca(e.to_string()))?;
    let reduced = pca.transform(data);
    let shortlist = exact_knn(
        &reduced,
        components,
        candidates,
        Metric::Euclidean,
        observer,
    )?;
    drop(reduced);
    if observer.cancelled() {
        return Err(KnnError::Cancelled);
    }
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0f32; n * k];
    indices
        .par_chunks_mut(k)
        .zip(distances.par_chunks_mut(k))
        .enumerate()
        .for_each(|(i, (idx_out, dist_out))| {
            let row = &data[i * dim..(i + 1) * dim];
            let mut top = TopK::new(k);
            for &j in shortlist.neighbors(i) {
                let j_row = &data[j as usize * dim..(j as usize + 1) * dim];
                top.push(from_dot(norms[i], norms[j as usize], dot(row, j_row)), j);
            }
            let (d, j) = top.into_parts();
            idx_out.copy_from_slice(&j);
            for (slot, d2) in dist_out.iter_mut().zip(d) {
                *slot = finish_distance(metric, d2);
            }
        });
    Ok((
        KnnGraph {
            k,
            metric,
            indices,
            distances,
        },
        pca.explained_ratio(),
    ))
}

/// Mean fraction of each sampled item's true neighbours that `graph` found.
pub(super) fn sample_recall(graph: &KnnGraph, sample: &[usize], truth: &[Vec<u32>]) -> f64 {
    let found: Vec<Vec<u32>> = sample
        .iter()
        .map(|&i| graph.neighbors(i).to_vec())
        .collect();
    super::sampled_overlap(truth, &found, graph.k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::recall;

    /// Points near a low-dimensional subspace of a 240-D space (what image features look
    /// like), plus a little isotropic noise; clustered so neighbours are meaningful.
    fn low_rank(n: usize, seed: u64) -> (Vec<f32>, usize) {
        let (dim, rank) = (240, 12);
        let mut s = crate::rng::XorShift::new(seed);
        let mut uniform = || (s.next_u64() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        let basis: Vec<f32> = (0..rank * dim).map(|_| uniform()).collect();
        let centres: Vec<f32> = (0..8 * rank).map(|_| uniform() * 12.0).collect();
        let mut data = Vec::with_capacity(n * dim);
        for i in 0..n {
            let c = &centres[(i % 8) * rank..(i % 8 + 1) * rank];
            let z: Vec<f32> = c.iter().map(|m| m + uniform() * 3.0).collect();
            for d in 0..dim {
                let v: f32 = (0..rank).map(|r| z[r] * basis[r * dim + d]).sum();
                data.push(v + uniform() * 0.3);
            }
        }
        (data, dim)
    }

    #[test]
    fn finds_nearly_all_true_neighbours_with_exact_distances() {
        let (data, dim) = low_rank(1500, 3);
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let exact = exact_knn(&data, dim, 20, metric, &()).expect("exact");
            let params = ProjectedParams {
                components: 16,
                candidates: 50,
            };
            let (graph, got) =
                projected_knn(&data, dim, 20, metric, &params, &()).expect("projected");
            let r = recall(&graph, &exact);
            assert!(r >= 0.95, "{metric:?} recall {r}");
            // The estimate is a sample of the same quantity.
            assert!(
                (got.estimated_recall - r).abs() < 0.03,
                "{} vs {r}",
                got.estimated_recall
            );
            assert!(got.explained > 0.5 && got.explained <= 1.0);
            // Found neighbours carry their full-space distance, sorted, never the item itself.
            for i in 0..graph.n_items() {
                let (ids, ds) = (graph.neighbors(i), graph.neighbor_distances(i));
                assert!(!ids.contains(&(i as u32)));
                assert!(ds.windows(2).all(|w| w[0] <= w[1]));
                for (&j, &d) in ids.iter().zip(ds) {
                    if let Some(at) = exact.neighbors(i).iter().position(|&e| e == j) {
                        let want = exact.neighbor_distances(i)[at];
                        assert!((d - want).abs() <= 1e-4 * want.max(1.0), "{d} vs {want}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_poor_projection_is_retried_with_more_effort() {
        // Isotropic noise: 4 components of 240 say nothing about the neighbours, so the
        // first try's estimate is poor and the search reruns bigger.
        let mut s = crate::rng::XorShift::new(9);
        let dim = 240;
        let data: Vec<f32> = (0..600 * dim)
            .map(|_| (s.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
            .collect();
        let params = ProjectedParams {
            components: 4,
            candidates: 20,
        };
        let (graph, got) =
            projected_knn(&data, dim, 10, Metric::Euclidean, &params, &()).expect("run");
        assert_eq!(
            got.params,
            ProjectedParams {
                components: 8,
                candidates: 40
            }
        );
        let exact = exact_knn(&data, dim, 10, Metric::Euclidean, &()).expect("exact");
        // 256 of 600 items sampled: close to the whole graph's recall.
        assert!((got.estimated_recall - recall(&graph, &exact)).abs() < 0.05);
    }

    #[test]
    fn deterministic_and_clamped_to_the_data() {
        let (data, dim) = low_rank(120, 5);
        // More candidates than items, more components than... the default: clamped, and
        // with every other item a candidate the result is exact.
        let params = ProjectedParams {
            components: 50,
            candidates: 500,
        };
        let a = projected_knn(&data, dim, 7, Metric::Euclidean, &params, &()).expect("a");
        let b = projected_knn(&data, dim, 7, Metric::Euclidean, &params, &()).expect("b");
        assert_eq!(a, b);
        let exact = exact_knn(&data, dim, 7, Metric::Euclidean, &()).expect("exact");
        assert_eq!(recall(&a.0, &exact), 1.0);
        assert_eq!(a.1.estimated_recall, 1.0);
        assert!(matches!(
            projected_knn(&data, dim, 120, Metric::Euclidean, &params, &()),
            Err(KnnError::KTooLarge { .. })
        ));
    }
}
