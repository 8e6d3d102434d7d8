//! Approximate kNN at scale with an inverted file: k-means cuts the space into about √N cells
//! (lists), every item is filed under its nearest centre, and each item is compared only with
//! the items of the few cells whose centres are nearest to it (its probes). The work is
//! N · probes · N/lists · D ≈ N^1.5 · probes · D instead of N² · D, and it is dense: each cell's
//! queries are gathered and multiplied against a probed cell's rows in one GEMM, so the
//! arithmetic runs at the speed of the exact search's tiles.
//!
//! How good a result is depends on the data (cells cut through clusters; high intrinsic
//! dimension spreads an item's neighbours over many cells), so the search measures itself: a
//! fixed sample of items is searched exactly, and while the sample's recall is below the
//! target the next probes are searched — only the new cells, adding to the lists already
//! found — up to a limit. The caller gets the final estimate to print and warn about.
//!
//! Deterministic for a seed: k-means runs on a seeded sample in a fixed order, and every
//! item's neighbour list is owned by one task and keeps the k best by (distance, index), a
//! total order, whatever the order candidates arrive in.

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};
use rayon::prelude::*;

use super::exact::{TopK, exact_sample, finish_distance, prepared, scan_row, squared_norms};
use super::{KnnError, KnnGraph, Metric, check_k};
use crate::progress::Observer;

/// Items whose exact neighbours are computed to estimate the recall.
const RECALL_SAMPLE: usize = 512;
/// Training rows per cell for k-means (faiss warns below 39).
const TRAIN_PER_LIST: usize = 40;
/// Lloyd iterations on the training sample.
const KMEANS_ITERATIONS: usize = 8;
/// Queries per GEMM against a probed cell: bounds the tile (256 × cell size).
const QUERY_CHUNK: usize = 256;
/// Rows per GEMM when filing items under their nearest centres.
const ASSIGN_BLOCK: usize = 1024;

/// How an inverted-file search runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IvfParams {
    /// Cells; 0 picks about √N.
    pub lists: usize,
    /// Cells searched per item in the first pass.
    pub probes: usize,
    /// Searching stops once the sampled recall reaches this...
    pub target_recall: f64,
    /// ...or the probes reach this many cells.
    pub max_probes: usize,
    pub seed: u64,
}

impl IvfParams {
    pub fn for_k(_k: usize) -> Self {
        Self {
            lists: 0,
            // One cell first: on clustered data it often reaches the target already, and the
            // passes are incremental, so starting small costs only an estimate.
            probes: 1,
            target_recall: 0.95,
            max_probes: 32,
            seed: 0,
        }
    }

    /// The number of cells for `n` items: about √N. Measured at 1 M × 128 against N / 512
    /// cells (benches/README.md): smaller cells need twice the probes for the same recall and
    /// filing items under 2,000 centres costs more than the smaller cells save.
    fn lists_for(&self, n: usize) -> usize {
        let auto = (n as f64).sqrt().round() as usize;
        let lists = if self.lists == 0 { auto } else { self.lists };
        // Cell numbers are stored as u16 (a million items' probes in 64 MB).
        lists.clamp(1, n.clamp(1, usize::from(u16::MAX)))
    }
}

/// How an inverted-file search went.
#[derive(Debug, Clone, PartialEq)]
pub struct IvfReport {
    pub lists: usize,
    /// Cells searched per item in the end.
    pub probes: usize,
    /// Recall@k against an exact search on a fixed sample of items.
    pub estimated_recall: f64,
    /// Items the estimate checked.
    pub sample: usize,
    /// Items in the largest cell (balance: the mean is N / lists).
    pub largest_list: usize,
}

/// Approximate k nearest neighbours of every row by an inverted file.
pub fn ivf_knn(
    features: &[f32],
    dim: usize,
    k: usize,
    metric: Metric,
    params: &IvfParams,
    observer: &dyn Observer,
) -> Result<(KnnGraph, IvfReport), KnnError> {
    let n = features.len() / dim.max(1);
    check_k(k, n)?;
    let data = prepared(features, dim, metric)?;
    let data: &[f32] = &data;
    let norms = squared_norms(data, dim);
    let lists = params.lists_for(n);
    let max_probes = params.max_probes.clamp(1, lists);
    let centres = train(data, dim, lists, params.seed, observer)?;

    let probes_of = nearest_centres(data, dim, &centres, max_probes);
    if observer.cancelled() {
        return Err(KnnError::Cancelled);
    }
    let index = Index::build(data, &norms, dim, lists, &probes_of, max_probes);

    let sample = crate::metrics::sample_items(n, RECALL_SAMPLE, params.seed ^ 0x5A3F);
    let truth = exact_sample(data, &norms, dim, &sample, k);
    // The neighbour lists, by position in the packed (cell) order.
    let mut tops: Vec<TopK> = (0..n).map(|_| TopK::new(k)).collect();
    let (mut from, mut to) = (0, params.probes.clamp(1, max_probes));
    let estimated_recall = loop {
        index.search(&probes_of, max_probes, from..to, &mut tops, observer)?;

        let estimate = sample_recall(&index, &tops, &sample, &truth, k);
        if estimate >= params.target_recall || to >= max_probes {
            break estimate;
        }
        (from, to) = (to, (to * 2).min(max_probes));
    };
    let largest_list = index.largest();
    // The packed copy of the features is not needed for the output: freed before the output
    // is allocated, so the peak stays features + packed copy + lists.
    let Index { item, .. } = index;
    drop(probes_of);
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0f32; n * k];
    let mut by_item: Vec<Option<TopK>> = (0..n).map(|_| None).collect();
    for (pos, top) in tops.into_iter().enumerate() {
        by_item[item[pos] as usize] = Some(top);
    }
    indices
        .par_chunks_mut(k)
        .zip(distances.par_chunks_mut(k))
        .zip(by_item)
        .for_each(|((idx_out, dist_out), top)| {
            let top = top.unwrap_or_else(|| unreachable!("every item has one position"));
            let (d, j) = top.into_parts();
            for ((slot_i, slot_d), (p, d2)) in idx_out
                .iter_mut()
                .zip(dist_out.iter_mut())
                .zip(j.iter().zip(d))
            {
                *slot_i = item[*p as usize];
                *slot_d = finish_distance(metric, d2);
            }
        });
    let report = IvfReport {
        lists,
        probes: to,
        estimated_recall,
        sample: sample.len(),
        largest_list,
    };
    Ok((
        KnnGraph {
            k,
            metric,
            indices,
            distances,
        },
        report,
    ))
}

/// k-means centres from a seeded sample of the rows.
fn train(
    data: &[f32],
    dim: usize,
    lists: usize,
    seed: u64,
    observer: &dyn Observer,
) -> Result<Vec<f32>, KnnError> {
    let n = data.len() / dim;
    let sample = crate::metrics::sample_items(n, lists * TRAIN_PER_LIST, seed);
    let rows: Vec<f32> = sample
        .iter()
        .flat_map(|&i| &data[i * dim..(i + 1) * dim])
        .copied()
        .collect();
    // Start from `lists` of the sampled rows, spread by a seeded pick.
    let starts = crate::metrics::sample_items(sample.len(), lists, seed ^ 0xC3);
    let mut centres: Vec<f32> = starts
        .iter()
        .flat_map(|&i| &rows[i * dim..(i + 1) * dim])
        .copied()
        .collect();
    for _ in 0..KMEANS_ITERATIONS {
        if observer.cancelled() {
            return Err(KnnError::Cancelled);
        }
        let nearest: Vec<u32> = nearest_centres(&rows, dim, &centres, 1)
            .into_iter()
            .map(u32::from)
            .collect();
        // An empty cell keeps its centre: it may win rows back, and an empty cell costs
        // nothing at search time.
        crate::cluster::centre_update(&rows, dim, &nearest, &mut centres);
    }
    Ok(centres)
}

/// The `probes` nearest centres of every row, nearest first, row-major N × probes (fewer than
/// 2¹⁶ centres).
fn nearest_centres(data: &[f32], dim: usize, centres: &[f32], probes: usize) -> Vec<u16> {
    let m = centres.len() / dim;
    let centre_norms = squared_norms(centres, dim);
    let cview = ArrayView2::from_shape((m, dim), centres)
        .unwrap_or_else(|_| unreachable!("centres are m × dim by construction"));
    data.par_chunks(ASSIGN_BLOCK * dim)
        .flat_map_iter(|block| {
            let rows = block.len() / dim;
            let bview = ArrayView2::from_shape((rows, dim), block)
                .unwrap_or_else(|_| unreachable!("a block is rows × dim by construction"));
            let mut dots = ndarray::Array2::<f32>::zeros((rows, m));
            general_mat_mul(1.0, &bview, &cview.t(), 0.0, &mut dots);
            let mut out = Vec::with_capacity(rows * probes);
            for row in dots.rows() {
                // ‖x‖² is the same for every centre: rank by ‖c‖² − 2 x·c.
                let mut top = TopK::new(probes);
                for (j, (&dot, &norm)) in row.iter().zip(&centre_norms).enumerate() {
                    top.push(norm - 2.0 * dot, j as u32);
                }
                out.extend(top.into_parts().1.into_iter().map(|c| c as u16));
            }
            out
        })
        .collect()
}

/// The items packed cell by cell, so a cell's rows are one contiguous block for the GEMM.
struct Index {
    dim: usize,
    /// Packed rows, N × dim, cell by cell.
    rows: Vec<f32>,
    norms: Vec<f32>,
    /// `item[pos]`: the original index of the item at packed position `pos`.
    item: Vec<u32>,
    /// `position[i]`: where item i sits in the packed order.
    position: Vec<u32>,
    /// Cell c holds the packed positions `offsets[c]..offsets[c + 1]`.
    offsets: Vec<usize>,
}

impl Index {
    fn build(
        data: &[f32],
        norms: &[f32],
        dim: usize,
        lists: usize,
        probes_of: &[u16],
        stride: usize,
    ) -> Self {
        let n = norms.len();
        let home = |i: usize| probes_of[i * stride] as usize;
        let mut offsets = vec![0usize; lists + 1];
        for i in 0..n {
            offsets[home(i) + 1] += 1;
        }
        for c in 0..lists {
            offsets[c + 1] += offsets[c];
        }
        let mut next = offsets.clone();
        let mut item = vec![0u32; n];
        let mut position = vec![0u32; n];
        for (i, at) in position.iter_mut().enumerate() {
            let c = home(i);
            item[next[c]] = i as u32;
            *at = next[c] as u32;
            next[c] += 1;
        }
        let mut rows = vec![0f32; n * dim];
        rows.par_chunks_mut(dim).zip(&item).for_each(|(row, &i)| {
            row.copy_from_slice(&data[i as usize * dim..(i as usize + 1) * dim])
        });
        let norms = item.iter().map(|&i| norms[i as usize]).collect();
        Self {
            dim,
            rows,
            norms,
            item,
            position,
            offsets,
        }
    }

    fn cell(&self, c: usize) -> std::ops::Range<usize> {
        self.offsets[c]..self.offsets[c + 1]
    }

    fn largest(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
    }

    /// Offer every item the items of its probes `probes` (ranks into its nearest centres).
    /// One task per home cell: it owns its items' lists, so no locks.
    fn search(
        &self,
        probes_of: &[u16],
        stride: usize,
        probes: std::ops::Range<usize>,
        tops: &mut [TopK],
        observer: &dyn Observer,
    ) -> Result<(), KnnError> {
        let dim = self.dim;
        let lists = self.offsets.len() - 1;
        // Split the lists by home cell (packed order is cell order).
        let mut per_cell: Vec<&mut [TopK]> = Vec::with_capacity(lists);
        let mut rest = tops;
        for c in 0..lists {
            let (head, tail) = rest.split_at_mut(self.cell(c).len());
            per_cell.push(head);
            rest = tail;
        }
        let done = std::sync::atomic::AtomicU64::new(0);
        let n = self.item.len() as u64;
        per_cell.into_par_iter().enumerate().try_for_each_init(
            || (Vec::<f32>::new(), Vec::<f32>::new()),
            |(gathered, tile), (home, cell_tops)| {
                if observer.cancelled() {
                    return Err(KnnError::Cancelled);
                }
                let home_range = self.cell(home);
                // Which of this cell's items probe each cell.
                let mut askers: Vec<(u32, u32)> = Vec::new();
                for (local, pos) in home_range.clone().enumerate() {
                    let i = self.item[pos] as usize;
                    for &c in &probes_of[i * stride + probes.start..i * stride + probes.end] {
                        askers.push((u32::from(c), local as u32));
                    }
                }
                askers.sort_unstable();
                for group in askers.chunk_by(|a, b| a.0 == b.0) {
                    let target = self.cell(group[0].0 as usize);
                    if target.is_empty() {
                        continue;
                    }
                    let refs = ArrayView2::from_shape(
                        (target.len(), dim),
                        &self.rows[target.start * dim..target.end * dim],
                    )
                    .unwrap_or_else(|_| unreachable!("a cell is rows × dim"));
                    for chunk in group.chunks(QUERY_CHUNK) {
                        gathered.clear();
                        for &(_, local) in chunk {
                            let pos = home_range.start + local as usize;
                            gathered.extend_from_slice(&self.rows[pos * dim..(pos + 1) * dim]);
                        }
                        let queries = ArrayView2::from_shape((chunk.len(), dim), &gathered[..])
                            .unwrap_or_else(|_| unreachable!("gathered rows × dim"));
                        tile.resize(chunk.len() * target.len(), 0.0);
                        let mut dots =
                            ArrayViewMut2::from_shape((chunk.len(), target.len()), &mut tile[..])
                                .unwrap_or_else(|_| unreachable!("tile resized to fit"));
                        general_mat_mul(1.0, &queries, &refs.t(), 0.0, &mut dots);
                        for (&(_, local), dot_row) in
                            chunk.iter().zip(tile.chunks_exact(target.len()))
                        {
                            let pos = home_range.start + local as usize;
                            scan_row(
                                &mut cell_tops[local as usize],
                                dot_row,
                                &self.norms[target.clone()],
                                self.norms[pos],
                                target.start,
                                pos,
                            );
                        }
                    }
                }
                let finished = done.fetch_add(
                    home_range.len() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                ) + home_range.len() as u64;
                observer.progress(finished, n);
                Ok(())
            },
        )
    }
}

/// Recall@k of the current lists on the sampled items, against their exact neighbours.
fn sample_recall(
    index: &Index,
    tops: &[TopK],
    sample: &[usize],
    truth: &[Vec<u32>],
    k: usize,
) -> f64 {
    if sample.is_empty() {
        return 1.0;
    }
    let hits: usize = sample
        .iter()
        .zip(truth)
        .map(|(&i, t)| {
            tops[index.position[i] as usize]
                .best_indices()
                .into_iter()
                .filter(|&p| t.contains(&index.item[p as usize]))
                .count()
        })
        .sum();
    hits as f64 / (sample.len() * k) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{exact_knn, recall};
    use crate::synth::{ClusteredSpec, clustered};

    fn data(n: usize) -> (Vec<f32>, usize) {
        let spec = ClusteredSpec {
            n,
            dim: 24,
            clusters: 30,
            seed: 1,
        };
        (clustered(&spec).0, spec.dim)
    }

    #[test]
    fn finds_the_exact_neighbours_nearly_all_and_says_how_many() {
        let (x, dim) = data(4000);
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let exact = exact_knn(&x, dim, 10, metric, &()).expect("exact");
            let params = IvfParams::for_k(10);
            let (graph, report) = ivf_knn(&x, dim, 10, metric, &params, &()).expect("ivf");
            let r = recall(&graph, &exact);
            assert!(r >= 0.93, "{metric:?}: recall {r}");
            assert!(
                (report.estimated_recall - r).abs() < 0.03,
                "{report:?} vs {r}"
            );
            for i in 0..graph.n_items() {
                let (ids, ds) = (graph.neighbors(i), graph.neighbor_distances(i));
                assert!(!ids.contains(&(i as u32)));
                assert!(ds.windows(2).all(|w| w[0] <= w[1]));
            }
            // Where both found the same neighbour, the distance is the exact one.
            let (i, j) = (7, exact.neighbors(7)[0]);
            if let Some(at) = graph.neighbors(i).iter().position(|&g| g == j) {
                let (got, want) = (
                    graph.neighbor_distances(i)[at],
                    exact.neighbor_distances(i)[0],
                );
                assert!(
                    (got - want).abs() <= 1e-4 * want.max(1.0),
                    "{got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn probing_every_cell_is_exact_and_a_low_target_stops_early() {
        let (x, dim) = data(1500);
        let exact = exact_knn(&x, dim, 5, Metric::Euclidean, &()).expect("exact");
        let all = IvfParams {
            lists: 12,
            probes: 12,
            max_probes: 12,
            ..IvfParams::for_k(5)
        };
        let (graph, report) = ivf_knn(&x, dim, 5, Metric::Euclidean, &all, &()).expect("ivf");
        // Every cell searched: exact (up to the order of near-ties in float rounding).
        assert!(recall(&graph, &exact) > 0.999);
        assert_eq!(report.estimated_recall, 1.0);
        let one = IvfParams {
            lists: 12,
            probes: 1,
            target_recall: 0.0,
            ..IvfParams::for_k(5)
        };
        let (_, report) = ivf_knn(&x, dim, 5, Metric::Euclidean, &one, &()).expect("ivf");
        assert_eq!(report.probes, 1);
        assert!(report.estimated_recall < 1.0);
    }

    #[test]
    fn deterministic_and_growing_probes_until_the_target() {
        let (x, dim) = data(3000);
        let params = IvfParams {
            probes: 1,
            target_recall: 0.99,
            ..IvfParams::for_k(8)
        };
        let a = ivf_knn(&x, dim, 8, Metric::Euclidean, &params, &()).expect("a");
        let b = ivf_knn(&x, dim, 8, Metric::Euclidean, &params, &()).expect("b");
        assert_eq!(a, b);
        assert!(a.1.probes > 1, "{:?}", a.1);
        assert!(a.1.estimated_recall >= 0.99 || a.1.probes == params.max_probes.min(a.1.lists));
        assert!(matches!(
            ivf_knn(&x[..8 * dim], dim, 8, Metric::Euclidean, &params, &()),
            Err(KnnError::KTooLarge { .. })
        ));
    }
}
