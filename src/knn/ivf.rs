//! Approximate kNN at scale with an inverted file: k-means cuts the space into about √N cells
//! (lists), every item is filed under its nearest centre, and each item is compared only with
//! the items of the few cells whose centres are nearest to it (its probes). The work is
//! N · probes · N/lists · D ≈ N^1.5 · probes · D instead of N² · D, and it is dense: each cell's
//! queries are gathered and multiplied against a probed cell's rows in one GEMM, so the
//! arithmetic runs at the speed of the exact search's tiles.
//!
//! Three things keep the work near that count (each measured at 1 M × 128, benches/README.md):
//! cells over twice the mean size are split (clustered data left the largest at 13.6× the mean,
//! and items probe the big cells most); a cell against itself is computed as the exact search
//! does, each tile once for both its blocks; and a probe is skipped when the cell cannot hold a
//! nearer neighbour than the item's current k-th — the cells are Voronoi cells, so the
//! hyperplane between the two centres bounds every distance into the probed cell. The skip is
//! exact: it changes the time, not the result.
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

use super::exact::{BLOCK, TopK, dot, finish_distance, from_dot, pair_knn, prepared, scan_row};
use super::{KnnError, KnnGraph, Metric, check_k};
use crate::numeric::squared_norms;
use crate::progress::Observer;

/// Items whose exact neighbours are computed to estimate the recall.
const RECALL_SAMPLE: usize = 512;
/// Training rows per cell for k-means (faiss warns below 39).
const TRAIN_PER_LIST: usize = 40;
/// Lloyd iterations on the training sample.
const KMEANS_ITERATIONS: usize = 8;
/// Cells holding more than this many times the mean share of the training sample are split.
const SPLIT_ABOVE: f64 = 2.0;
/// Queries per GEMM against a probed cell: bounds the tile (256 × cell size).
const QUERY_CHUNK: usize = 256;
/// Probes ranked per item at first; deeper only when the passes go past them.
const FIRST_FILING: usize = 4;
/// A pass's finds are merged into the lists in this many batches of probed cells.
const MERGE_BATCHES: usize = 4;
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
    /// Rounds of neighbour-of-neighbour joins after the probes.
    pub join_rounds: usize,
    pub seed: u64,
}

impl Default for IvfParams {
    /// The parameters every command runs with (they do not depend on k: the search measures
    /// its recall and probes more cells until it reaches the target).
    fn default() -> Self {
        Self {
            lists: 0,
            // One cell first: on clustered data it often reaches the target already, and the
            // passes are incremental, so starting small costs only an estimate.
            probes: 1,
            target_recall: 0.95,
            max_probes: 32,
            join_rounds: 0,
            seed: 0,
        }
    }
}

impl IvfParams {
    /// For logs and cache keys: everything the result depends on.
    pub fn describe(&self) -> String {
        format!(
            "ivf lists={} probes={}..{} target={} joins={} seed={}",
            self.lists,
            self.probes,
            self.max_probes,
            self.target_recall,
            self.join_rounds,
            self.seed
        )
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
    /// Recall@k against an exact search on a fixed sample of items that did not steer the
    /// search.
    pub estimated_recall: f64,
    /// The recall of the items that steered it (how many probes), before any joins.
    pub steered_recall: f64,
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
    observer.stage("k-means");
    let centres = train(data, dim, params.lists_for(n), params.seed, observer)?;
    let lists = centres.len() / dim;
    let max_probes = params.max_probes.clamp(1, lists);

    observer.stage("filing");
    // Most data reaches the target within a few probes, and ranking 32 centres per item costs
    // half as much again as the GEMM that scores them: file to a few first, deeper if needed.
    let mut filed = max_probes.min(FIRST_FILING);
    let mut probes_of = nearest_centres(data, &norms, dim, &centres, filed);
    if observer.cancelled() {
        return Err(KnnError::Cancelled);
    }
    let index = Index::build(data, &norms, dim, &centres, &probes_of, filed);

    observer.stage("recall sample");
    // Half the sampled items steer the search (how many probes); the other half only measure
    // the result: an estimate read from the items that decided when to stop is biased upward
    // (at 1 M patches it read 0.955 where 1,000 other items measured 0.948). One exact search
    // for both halves reads the data once.
    let drawn = crate::numeric::sample_items(n, 2 * RECALL_SAMPLE, params.seed ^ 0x5A3F);
    let drawn_truth = index.exact_sample(&drawn, &probes_of, filed, k, observer)?;
    let (mut sample, mut truth, mut held, mut held_truth) = (vec![], vec![], vec![], vec![]);
    for (at, (i, t)) in drawn.into_iter().zip(drawn_truth).enumerate() {
        if at % 2 == 0 {
            sample.push(i);
            truth.push(t);
        } else {
            held.push(i);
            held_truth.push(t);
        }
    }
    // The neighbour lists, by position in the packed (cell) order.
    let mut tops: Vec<TopK> = (0..n).map(|_| TopK::new(k)).collect();
    let (mut from, mut to) = (0, params.probes.clamp(1, max_probes));
    let estimated_recall = loop {
        if to > filed {
            observer.stage("filing deeper");
            // The same scores and order as the first filing, so the home cells stay.
            filed = max_probes;
            probes_of = nearest_centres(data, &norms, dim, &centres, filed);
            if observer.cancelled() {
                return Err(KnnError::Cancelled);
            }
        }
        observer.stage(&format!("probes {}..{to}", from + 1));
        index.search(&probes_of, filed, from..to, k, &mut tops, observer)?;

        let estimate = sample_recall(&index, &tops, &sample, &truth, k);
        if estimate >= params.target_recall || to >= max_probes {
            break estimate;
        }
        // Half again each pass: a pass searches only its new cells, so a finer step costs
        // little and stops nearer the target (Fashion-MNIST 70k: 6 probes, not 8).
        (from, to) = (to, (to + (to / 2).max(1)).min(max_probes));
    };
    for round in 0..params.join_rounds {
        observer.stage(&format!("join {}", round + 1));
        index.join(&mut tops, k, observer)?;
    }
    let steered_recall = estimated_recall;
    let estimated_recall = if held.is_empty() {
        steered_recall
    } else {
        sample_recall(&index, &tops, &held, &held_truth, k)
    };
    observer.stage("output");
    let largest_list = index.largest();
    // The packed copy of the features is not needed for the output: freed before the output
    // is allocated, so the peak stays features + packed copy + lists.
    let Index { item, position, .. } = index;
    drop(probes_of);
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0f32; n * k];
    indices
        .par_chunks_mut(k)
        .zip(distances.par_chunks_mut(k))
        .zip(&position)
        .for_each(|((idx_out, dist_out), &pos)| {
            let (d, j) = tops[pos as usize].sorted();
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
        steered_recall,
        sample: held.len(),
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

/// k-means centres from a seeded sample of the rows, with every cell cut down to about the
/// mean size.
///
/// Plain k-means on clustered data leaves cells of very different sizes (at 1 M items of the
/// generator's data the largest held 13.6× the mean), and the cost of a probe is the size of
/// the probed cell: dense regions are where items sit and where they probe, so a probe pass
/// cost 5.5× what balanced cells would. So every cell whose share of the sample is over
/// [`SPLIT_ABOVE`] × the mean is split by k-means on its own sample rows into parts of about
/// the mean size. The cells grow in number, each stays about as cheap to probe.
fn train(
    data: &[f32],
    dim: usize,
    lists: usize,
    seed: u64,
    observer: &dyn Observer,
) -> Result<Vec<f32>, KnnError> {
    let n = data.len() / dim;
    let sample = crate::numeric::sample_items(n, lists * TRAIN_PER_LIST, seed);
    let rows: Vec<f32> = sample
        .iter()
        .flat_map(|&i| &data[i * dim..(i + 1) * dim])
        .copied()
        .collect();
    let centres = lloyd(&rows, dim, lists, seed, observer)?;
    let nearest = crate::numeric::kmeans::assign(&rows, dim, &centres);
    let mean = (sample.len() as f64 / lists as f64).max(1.0);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); lists];
    for (r, &c) in nearest.iter().enumerate() {
        members[c as usize].push(r);
    }
    let mut out = Vec::with_capacity(centres.len());
    for (c, own) in members.iter().enumerate() {
        let parts = (own.len() as f64 / mean).round() as usize;
        // Cell numbers are u16: stop splitting rather than overflow.
        let room = usize::from(u16::MAX) - (out.len() / dim) - (lists - c);
        if (own.len() as f64) <= SPLIT_ABOVE * mean || room == 0 {
            out.extend_from_slice(&centres[c * dim..(c + 1) * dim]);
            continue;
        }
        let own_rows: Vec<f32> = own
            .iter()
            .flat_map(|&r| &rows[r * dim..(r + 1) * dim])
            .copied()
            .collect();
        let parts = parts.min(room + 1);
        out.extend(lloyd(&own_rows, dim, parts, seed ^ c as u64, observer)?);
    }
    Ok(out)
}

/// `m` centres by Lloyd's iterations on `rows`, started from `m` of them picked by a seeded
/// shuffle.
fn lloyd(
    rows: &[f32],
    dim: usize,
    m: usize,
    seed: u64,
    observer: &dyn Observer,
) -> Result<Vec<f32>, KnnError> {
    let starts = crate::numeric::sample_items(rows.len() / dim, m, seed ^ 0xC3);
    let mut centres: Vec<f32> = starts
        .iter()
        .flat_map(|&i| &rows[i * dim..(i + 1) * dim])
        .copied()
        .collect();
    for _ in 0..KMEANS_ITERATIONS {
        if observer.cancelled() {
            return Err(KnnError::Cancelled);
        }
        let nearest = crate::numeric::kmeans::assign(rows, dim, &centres);
        // An empty cell keeps its centre: it may win rows back, and an empty cell costs
        // nothing at search time.
        crate::numeric::kmeans::update(rows, dim, &nearest, &mut centres);
    }
    Ok(centres)
}

/// The `probes` nearest centres of every row, nearest first, row-major N × probes (fewer than
/// 2¹⁶ centres). `norms` are the rows' squared norms.
fn nearest_centres(
    data: &[f32],
    norms: &[f32],
    dim: usize,
    centres: &[f32],
    probes: usize,
) -> Vec<u16> {
    let m = centres.len() / dim;
    let centre_norms = squared_norms(centres, dim);
    let cview = ArrayView2::from_shape((m, dim), centres)
        .unwrap_or_else(|_| unreachable!("centres are m × dim by construction"));
    data.par_chunks(ASSIGN_BLOCK * dim)
        .zip(norms.par_chunks(ASSIGN_BLOCK))
        .flat_map_iter(|(block, block_norms)| {
            let rows = block.len() / dim;
            let bview = ArrayView2::from_shape((rows, dim), block)
                .unwrap_or_else(|_| unreachable!("a block is rows × dim by construction"));
            let mut dots = ndarray::Array2::<f32>::zeros((rows, m));
            general_mat_mul(1.0, &bview, &cview.t(), 0.0, &mut dots);
            let mut out = Vec::with_capacity(rows * probes);
            for (row, &norm) in dots.rows().into_iter().zip(block_norms) {
                // The bound-checked scan of the search: most centres are farther than the
                // `probes`-th nearest so far and cost one packed compare.
                let mut top = TopK::new(probes);
                let row = row
                    .to_slice()
                    .unwrap_or_else(|| unreachable!("an owned row-major array"));
                scan_row(&mut top, row, &centre_norms, norm, 0, usize::MAX);
                out.extend(top.into_parts().1.into_iter().map(|c| c as u16));
            }
            out
        })
        .collect()
}

/// The items packed cell by cell, so a cell's rows are one contiguous block for the GEMM.
struct Index {
    dim: usize,
    /// The cells' centres, lists × dim.
    centres: Vec<f32>,
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
        centres: &[f32],
        probes_of: &[u16],
        stride: usize,
    ) -> Self {
        let n = norms.len();
        let lists = centres.len() / dim;
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
            centres: centres.to_vec(),
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

    /// Every item of the cell `home` against every other, by the exact search's blocks: a
    /// tile of two different blocks feeds the lists of both, so a cell costs a bit over half
    /// of its square.
    fn home_pass(&self, home: std::ops::Range<usize>, tops: &mut [TopK], tile: &mut Vec<f32>) {
        tile.resize(BLOCK * BLOCK, 0.0);
        let blocks: Vec<std::ops::Range<usize>> = (home.start..home.end)
            .step_by(BLOCK)
            .map(|b| b..(b + BLOCK).min(home.end))
            .collect();
        for (i, a) in blocks.iter().enumerate() {
            for b in &blocks[i..] {
                let local = |r: &std::ops::Range<usize>| r.start - home.start..r.end - home.start;
                let (la, lb) = (local(a), local(b));
                let (first, second) = if la == lb {
                    (&mut tops[la], None)
                } else {
                    let (head, tail) = tops.split_at_mut(lb.start);
                    (&mut head[la], Some(&mut tail[..lb.len()]))
                };
                pair_knn(
                    &self.rows,
                    &self.norms,
                    self.dim,
                    a.clone(),
                    b.clone(),
                    first,
                    second,
                    tile,
                );
            }
        }
    }

    /// Offer every item the items of its probes `probes` (ranks into its nearest centres).
    ///
    /// In two steps, so the GEMMs are large. First, per home cell (one task owns its items'
    /// lists): the cell against itself when the pass starts at probe 0, and which probed cell
    /// each item asks. Then per *probed* cell: every item of the pass that asks it, from all
    /// home cells, against its rows in chunks of [`QUERY_CHUNK`] — each query keeps what beats
    /// its k-th distance at the start of the pass, and what is found is merged into the owners'
    /// lists at the end. (Asking per home cell gave a probed cell a handful of queries at a
    /// time, each GEMM re-reading its rows: 18 GMAC/s on Fashion-MNIST where large ones run
    /// at 57.) Every list ends as the best k of the same candidates in either order.
    fn search(
        &self,
        probes_of: &[u16],
        stride: usize,
        probes: std::ops::Range<usize>,
        k: usize,
        tops: &mut [TopK],
        observer: &dyn Observer,
    ) -> Result<(), KnnError> {
        let mut asks = self.asks(probes_of, stride, probes, tops, observer)?;
        asks.par_sort_unstable_by_key(|&(c, pos, _)| (c, pos));
        let groups: Vec<&[(u32, u32, f32)]> = asks.chunk_by(|a, b| a.0 == b.0).collect();
        let done = std::sync::atomic::AtomicU64::new(0);
        let total = asks.len() as u64;
        // The finds are merged a share of the probed cells at a time, so what waits between
        // the GEMMs and the merge stays a fraction of the lists themselves.
        for batch in groups.chunks(groups.len().div_ceil(MERGE_BATCHES).max(1)) {
            let found: Vec<Vec<(u32, f32, u32)>> = batch
                .par_iter()
                .map_init(
                    || (Vec::<f32>::new(), Vec::<f32>::new()),
                    |(gathered, tile), group| {
                        if observer.cancelled() {
                            return Err(KnnError::Cancelled);
                        }
                        let found = self.probe_cell(group, k, gathered, tile);
                        let finished = done
                            .fetch_add(group.len() as u64, std::sync::atomic::Ordering::Relaxed)
                            + group.len() as u64;
                        observer.progress(finished, total);
                        Ok(found)
                    },
                )
                .collect::<Result<_, _>>()?;
            merge(found, tops);
        }
        Ok(())
    }

    /// Per home cell: the cell against itself (probe 0 in `probes`), then which cells its items
    /// ask, as (probed cell, packed position, the item's k-th distance now).
    fn asks(
        &self,
        probes_of: &[u16],
        stride: usize,
        probes: std::ops::Range<usize>,
        tops: &mut [TopK],
        observer: &dyn Observer,
    ) -> Result<Vec<(u32, u32, f32)>, KnnError> {
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
        let asks: Vec<Vec<(u32, u32, f32)>> = per_cell
            .into_par_iter()
            .enumerate()
            .map_init(Vec::<f32>::new, |tile, (home, cell_tops)| {
                if observer.cancelled() {
                    return Err(KnnError::Cancelled);
                }
                let home_range = self.cell(home);
                let mut first_probe = probes.start;
                if first_probe == 0 {
                    self.home_pass(home_range.clone(), cell_tops, tile);
                    first_probe = 1;
                }
                // Cells are Voronoi cells (every item is filed under its nearest centre), so
                // all of cell c lies beyond the hyperplane halfway between the home centre h
                // and c, at distance (‖x − c‖² − ‖x − h‖²) / (2 ‖c − h‖) from x: an item whose
                // k-th neighbour is already nearer than that has nothing to gain from c and
                // does not ask.
                let mut asks = Vec::new();
                let home_centre = &self.centres[home * dim..(home + 1) * dim];
                for (local, pos) in home_range.clone().enumerate() {
                    let i = self.item[pos] as usize;
                    let x = &self.rows[pos * dim..(pos + 1) * dim];
                    let kth = cell_tops[local].kth();
                    let to_home = squared_distance(x, home_centre);
                    for &c in &probes_of[i * stride + first_probe..i * stride + probes.end] {
                        let centre =
                            &self.centres[usize::from(c) * dim..(usize::from(c) + 1) * dim];
                        if kth.is_finite() {
                            let gap = squared_distance(x, centre) - to_home;
                            let apart = squared_distance(centre, home_centre);
                            // gap ≥ 0 (h is x's nearest centre); compare squares, with a
                            // margin for rounding.
                            if gap > 0.0 && gap * gap > 4.0 * apart * kth * (1.0 + 1e-3) {
                                continue;
                            }
                        }
                        asks.push((u32::from(c), pos as u32, kth));
                    }
                }
                Ok(asks)
            })
            .collect::<Result<_, _>>()?;
        Ok(asks.concat())
    }

    /// The queries of `group` (all asking one cell) against that cell's rows: for each, what
    /// beats its k-th distance, as (packed position, squared distance, packed position found).
    fn probe_cell(
        &self,
        group: &[(u32, u32, f32)],
        k: usize,
        gathered: &mut Vec<f32>,
        tile: &mut Vec<f32>,
    ) -> Vec<(u32, f32, u32)> {
        let dim = self.dim;
        let target = self.cell(group[0].0 as usize);
        let mut found = Vec::new();
        if target.is_empty() {
            return found;
        }
        let refs = ArrayView2::from_shape(
            (target.len(), dim),
            &self.rows[target.start * dim..target.end * dim],
        )
        .unwrap_or_else(|_| unreachable!("a cell is rows × dim"));
        for chunk in group.chunks(QUERY_CHUNK) {
            gathered.clear();
            for &(_, pos, _) in chunk {
                let pos = pos as usize;
                gathered.extend_from_slice(&self.rows[pos * dim..(pos + 1) * dim]);
            }
            let queries = ArrayView2::from_shape((chunk.len(), dim), &gathered[..])
                .unwrap_or_else(|_| unreachable!("gathered rows × dim"));
            tile.resize(chunk.len() * target.len(), 0.0);
            let mut dots = ArrayViewMut2::from_shape((chunk.len(), target.len()), &mut tile[..])
                .unwrap_or_else(|_| unreachable!("tile resized to fit"));
            general_mat_mul(1.0, &queries, &refs.t(), 0.0, &mut dots);
            for (&(_, pos, kth), dot_row) in chunk.iter().zip(tile.chunks_exact(target.len())) {
                let mut top = TopK::within(k, kth);
                scan_row(
                    &mut top,
                    dot_row,
                    &self.norms[target.clone()],
                    self.norms[pos as usize],
                    target.start,
                    pos as usize,
                );
                let (d, j) = top.into_parts();
                found.extend(j.into_iter().zip(d).map(|(j, d)| (pos, d, j)));
            }
        }
        found
    }

    /// The exact k nearest neighbours of the `sample` items (original indices, self excluded),
    /// as item lists, searched through the cells: the same Voronoi bound that lets a probe be
    /// skipped proves which cells cannot hold a nearer neighbour, so only the others are read.
    ///
    /// Two steps, each grouped by cell into GEMMs like the probe passes: the home cell and the
    /// [`FIRST_FILING`] nearest centres' cells give every item a k-th distance; then every cell
    /// whose bound is within it. A brute-force search read all N rows per item (2.4 s of a
    /// million × 128 search for 1,024 items); clustered data needs a few dozen cells.
    fn exact_sample(
        &self,
        sample: &[usize],
        probes_of: &[u16],
        stride: usize,
        k: usize,
        observer: &dyn Observer,
    ) -> Result<Vec<Vec<u32>>, KnnError> {
        let dim = self.dim;
        let lists = self.offsets.len() - 1;
        // Per item: (squared distance to every centre, its home cell).
        let to_centres: Vec<(Vec<f32>, usize)> = sample
            .par_iter()
            .map(|&i| {
                let pos = self.position[i] as usize;
                let x = &self.rows[pos * dim..(pos + 1) * dim];
                let d = self
                    .centres
                    .chunks_exact(dim)
                    .map(|c| squared_distance(x, c))
                    .collect();
                (d, usize::from(probes_of[i * stride]))
            })
            .collect();
        let mut tops: Vec<TopK> = sample.iter().map(|_| TopK::new(k)).collect();
        let first = FIRST_FILING.min(lists);
        let mut read = vec![Vec::new(); sample.len()];
        // Step one: the home cell and the nearest few, unbounded.
        let mut asks = Vec::new();
        for (s, &i) in sample.iter().enumerate() {
            let (d, home) = &to_centres[s];
            let mut order: Vec<usize> = (0..lists).collect();
            order.select_nth_unstable_by(first - 1, |&a, &b| d[a].total_cmp(&d[b]).then(a.cmp(&b)));
            let mut cells: Vec<usize> = order[..first].to_vec();
            if !cells.contains(home) {
                cells.push(*home);
            }
            for &c in &cells {
                asks.push((c as u32, self.position[i], f32::INFINITY));
            }
            read[s] = cells;
        }
        self.offer_sample(asks, sample, k, &mut tops, observer)?;
        // Step two: every other cell the bound cannot rule out.
        let mut asks = Vec::new();
        for (s, &i) in sample.iter().enumerate() {
            let (d, home) = &to_centres[s];
            let kth = tops[s].kth();
            let home_centre = &self.centres[home * dim..(home + 1) * dim];
            for c in (0..lists).filter(|c| !read[s].contains(c)) {
                let gap = d[c] - d[*home];
                let apart = squared_distance(&self.centres[c * dim..(c + 1) * dim], home_centre);
                if gap > 0.0 && gap * gap > 4.0 * apart * kth * (1.0 + 1e-3) {
                    continue;
                }
                asks.push((c as u32, self.position[i], kth));
            }
        }
        self.offer_sample(asks, sample, k, &mut tops, observer)?;
        Ok(tops
            .into_iter()
            .map(|t| {
                t.into_parts()
                    .1
                    .into_iter()
                    .map(|p| self.item[p as usize])
                    .collect()
            })
            .collect())
    }

    /// Search the sample's `asks` (cell, packed position, bound), grouped by cell, and offer
    /// what is found to the sample's lists.
    fn offer_sample(
        &self,
        mut asks: Vec<(u32, u32, f32)>,
        sample: &[usize],
        k: usize,
        tops: &mut [TopK],
        observer: &dyn Observer,
    ) -> Result<(), KnnError> {
        asks.par_sort_unstable_by_key(|&(c, pos, _)| (c, pos));
        let found: Vec<Vec<(u32, f32, u32)>> = asks
            .chunk_by(|a, b| a.0 == b.0)
            .collect::<Vec<_>>()
            .par_iter()
            .map_init(
                || (Vec::<f32>::new(), Vec::<f32>::new()),
                |(gathered, tile), group| {
                    if observer.cancelled() {
                        return Err(KnnError::Cancelled);
                    }
                    Ok(self.probe_cell(group, k, gathered, tile))
                },
            )
            .collect::<Result<_, _>>()?;
        let slot: std::collections::HashMap<u32, usize> = sample
            .iter()
            .enumerate()
            .map(|(s, &i)| (self.position[i], s))
            .collect();
        for (pos, d, j) in found.into_iter().flatten() {
            if let Some(&s) = slot.get(&pos) {
                tops[s].push(d, j);
            }
        }
        Ok(())
    }

    /// One round of neighbour-of-neighbour joins: every item is offered the neighbours of its
    /// neighbours (a neighbour of a neighbour is likely a neighbour). The lists are read from a
    /// copy taken first, so each item's task writes only its own list: no locks, and the result
    /// does not depend on the order tasks run in. Packed order keeps a cell's items, whose
    /// candidates overlap, on one thread.
    fn join(&self, tops: &mut [TopK], k: usize, observer: &dyn Observer) -> Result<(), KnnError> {
        let dim = self.dim;
        let lists: Vec<u32> = tops
            .par_iter()
            .flat_map_iter(|t| {
                let mut best = t.best_indices();
                best.resize(k, u32::MAX);
                best
            })
            .collect();
        let neighbours = |pos: usize| lists[pos * k..(pos + 1) * k].iter().copied();
        tops.par_iter_mut()
            .enumerate()
            .with_min_len(1024)
            .try_for_each_init(Vec::<u32>::new, |candidates, (pos, top)| {
                if pos % 65_536 == 0 && observer.cancelled() {
                    return Err(KnnError::Cancelled);
                }
                candidates.clear();
                for j in neighbours(pos).filter(|&j| j != u32::MAX) {
                    candidates.extend(neighbours(j as usize).filter(|&c| c != u32::MAX));
                }
                candidates.sort_unstable();
                candidates.dedup();
                let x = &self.rows[pos * dim..(pos + 1) * dim];
                for &c in candidates.iter() {
                    if c as usize == pos || neighbours(pos).any(|own| own == c) {
                        continue;
                    }
                    let c_at = c as usize;
                    let y = &self.rows[c_at * dim..(c_at + 1) * dim];
                    let d = from_dot(self.norms[pos], self.norms[c_at], dot(x, y));
                    top.push(d, c);
                }
                Ok(())
            })
    }
}

/// Offer each list its finds, `(list, squared distance, found)`: scattered into one array by
/// list (a counting sort), each cell's finds freed as they are moved, never two copies.
fn merge(found: Vec<Vec<(u32, f32, u32)>>, tops: &mut [TopK]) {
    let mut starts = vec![0usize; tops.len() + 1];
    for &(pos, _, _) in found.iter().flatten() {
        starts[pos as usize + 1] += 1;
    }
    for pos in 0..tops.len() {
        starts[pos + 1] += starts[pos];
    }
    let mut fill = starts.clone();
    let mut merged = vec![(0f32, 0u32); starts[tops.len()]];
    for cell in found {
        for (pos, d, j) in cell {
            merged[fill[pos as usize]] = (d, j);
            fill[pos as usize] += 1;
        }
    }
    drop(fill);
    tops.par_iter_mut().enumerate().for_each(|(pos, top)| {
        for &(d, j) in &merged[starts[pos]..starts[pos + 1]] {
            top.push(d, j);
        }
    });
}

fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Recall@k of the current lists on the sampled items, against their exact neighbours.
fn sample_recall(
    index: &Index,
    tops: &[TopK],
    sample: &[usize],
    truth: &[Vec<u32>],
    k: usize,
) -> f64 {
    let found: Vec<Vec<u32>> = sample
        .iter()
        .map(|&i| {
            tops[index.position[i] as usize]
                .best_indices()
                .into_iter()
                .map(|p| index.item[p as usize])
                .collect()
        })
        .collect();
    super::sampled_overlap(truth, &found, k)
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
    fn the_sample_searched_through_the_cells_is_exact() {
        // Clustered data and isotropic noise (where the bound rules out few cells).
        let (clustered_x, dim) = data(3000);
        let mut noise = vec![0f32; 2000 * 16];
        let mut state = 7u64;
        for v in &mut noise {
            state = crate::rng::mix(state);
            *v = (state >> 40) as f32 / (1u64 << 24) as f32;
        }
        for (x, dim) in [(clustered_x, dim), (noise, 16)] {
            let n = x.len() / dim;
            let norms = squared_norms(&x, dim);
            let centres = train(&x, dim, 40, 0, &()).expect("train");
            let probes_of = nearest_centres(&x, &norms, dim, &centres, FIRST_FILING);
            let index = Index::build(&x, &norms, dim, &centres, &probes_of, FIRST_FILING);
            let sample = crate::numeric::sample_items(n, 200, 3);
            let through = index
                .exact_sample(&sample, &probes_of, FIRST_FILING, 10, &())
                .expect("sample");
            let brute = super::super::exact::exact_sample(&x, &norms, dim, &sample, 10);
            let mut differ = 0;
            for (a, b) in through.iter().zip(&brute) {
                assert_eq!(a.len(), 10);
                let (mut a, mut b) = (a.clone(), b.clone());
                a.sort_unstable();
                b.sort_unstable();
                differ += usize::from(a != b);
            }
            assert_eq!(differ, 0, "{differ} of {} lists differ", sample.len());
        }
    }

    #[test]
    fn finds_the_exact_neighbours_nearly_all_and_says_how_many() {
        let (x, dim) = data(4000);
        for metric in [Metric::Euclidean, Metric::Cosine] {
            let exact = exact_knn(&x, dim, 10, metric, &()).expect("exact");
            let params = IvfParams::default();
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
    fn no_cell_is_far_above_the_mean_size() {
        // Clusters of log-normal sizes: plain k-means leaves a few cells many times the mean.
        let spec = ClusteredSpec {
            n: 20_000,
            dim: 16,
            clusters: 100,
            seed: 3,
        };
        let (x, _) = clustered(&spec);
        let params = IvfParams {
            target_recall: 0.0,
            ..IvfParams::default()
        };
        let (_, report) = ivf_knn(&x, spec.dim, 5, Metric::Euclidean, &params, &()).expect("ivf");
        let mean = spec.n as f64 / report.lists as f64;
        assert!(
            report.lists > 141 && (report.largest_list as f64) < 3.5 * mean,
            "{report:?}, mean {mean}"
        );
    }

    #[test]
    fn probing_every_cell_is_exact_and_a_low_target_stops_early() {
        let (x, dim) = data(1500);
        let exact = exact_knn(&x, dim, 5, Metric::Euclidean, &()).expect("exact");
        let all = IvfParams {
            lists: 12,
            probes: 12,
            max_probes: 12,
            ..IvfParams::default()
        };
        let (graph, report) = ivf_knn(&x, dim, 5, Metric::Euclidean, &all, &()).expect("ivf");
        // Every cell searched: exact (up to the order of near-ties in float rounding).
        assert!(recall(&graph, &exact) > 0.999);
        assert_eq!(report.estimated_recall, 1.0);
        let one = IvfParams {
            lists: 12,
            probes: 1,
            target_recall: 0.0,
            ..IvfParams::default()
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
            ..IvfParams::default()
        };
        let a = ivf_knn(&x, dim, 8, Metric::Euclidean, &params, &()).expect("a");
        let b = ivf_knn(&x, dim, 8, Metric::Euclidean, &params, &()).expect("b");
        assert_eq!(a, b);
        assert!(a.1.probes > 1, "{:?}", a.1);
        // The items that steered stop at the target; the estimate is read from others.
        assert!(a.1.steered_recall >= 0.99 || a.1.probes == params.max_probes.min(a.1.lists));
        assert_ne!(a.1.estimated_recall, a.1.steered_recall);
        assert!(matches!(
            ivf_knn(&x[..8 * dim], dim, 8, Metric::Euclidean, &params, &()),
            Err(KnnError::KTooLarge { .. })
        ));
    }

    #[test]
    fn a_join_round_finds_more_and_keeps_the_lists_valid() {
        let (x, dim) = data(4000);
        let exact = exact_knn(&x, dim, 10, Metric::Euclidean, &()).expect("exact");
        // Two probes: after one, every list lies in its item's own cell, and so do its
        // neighbours' lists — a join has nothing new to offer.
        let two_probes = IvfParams {
            probes: 2,
            target_recall: 0.0,
            ..IvfParams::default()
        };
        let joined = IvfParams {
            join_rounds: 1,
            ..two_probes
        };
        let (plain, plain_report) =
            ivf_knn(&x, dim, 10, Metric::Euclidean, &two_probes, &()).expect("plain");
        let (graph, report) = ivf_knn(&x, dim, 10, Metric::Euclidean, &joined, &()).expect("join");
        let (before, after) = (recall(&plain, &exact), recall(&graph, &exact));
        assert!(after > before + 0.02, "{before} → {after}");
        // The estimate follows the joins; the steering figure is the probes' alone.
        assert!(report.estimated_recall > plain_report.estimated_recall);
        assert_eq!(report.steered_recall, plain_report.steered_recall);
        assert!(
            (report.estimated_recall - after).abs() < 0.03,
            "{report:?} vs {after}"
        );
        for i in 0..graph.n_items() {
            let mut ids = graph.neighbors(i).to_vec();
            assert!(!ids.contains(&(i as u32)));
            assert!(graph.neighbor_distances(i).windows(2).all(|w| w[0] <= w[1]));
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), 10, "item {i}: a neighbour listed twice");
        }
    }
}
