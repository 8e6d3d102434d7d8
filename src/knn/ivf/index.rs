//! The inverted file's index: the items packed cell by cell, and the searches over it (a cell
//! against itself, the probe passes grouped by probed cell, the exact sample through the
//! cells' bounds, neighbour-of-neighbour joins).

use ndarray::{ArrayView2, ArrayViewMut2, linalg::general_mat_mul};
use rayon::prelude::*;

use super::{FIRST_FILING, MERGE_BATCHES, QUERY_CHUNK};
use crate::knn::KnnError;
use crate::knn::exact::{BLOCK, TopK, dot, exact_sample, from_dot, pair_knn, scan_row};
use crate::numeric::simd::squared_distance;
use crate::progress::Observer;

/// The items packed cell by cell, so a cell's rows are one contiguous block for the GEMM.
/// The space distances are finally measured in when the search ran in a projection: the full
/// rows (N × dim) and their squared norms, in the original order.
pub(super) struct FullSpace<'a> {
    pub(super) rows: &'a [f32],
    pub(super) norms: &'a [f32],
    pub(super) dim: usize,
}

/// How [`Index::exact_sample`] found its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Searched {
    /// Only the cells the bound could not rule out were read.
    ThroughCells,
    /// The bound ruled out too few: every row was read.
    AllRows,
}

/// One worker's buffers for [`Index::probe_cell`], reused from cell to cell.
#[derive(Default)]
struct Scratch {
    /// The queries' rows, gathered.
    queries: Vec<f32>,
    /// The probed cell's rows and norms, when gathered from the full space.
    refs: Vec<f32>,
    ref_norms: Vec<f32>,
    /// Queries × cell dot products.
    tile: Vec<f32>,
}

pub(super) struct Index {
    pub(super) dim: usize,
    /// The cells' centres, lists × dim.
    pub(super) centres: Vec<f32>,
    /// Packed rows, N × dim, cell by cell.
    pub(super) rows: Vec<f32>,
    pub(super) norms: Vec<f32>,
    /// `item[pos]`: the original index of the item at packed position `pos`.
    pub(super) item: Vec<u32>,
    /// `position[i]`: where item i sits in the packed order.
    pub(super) position: Vec<u32>,
    /// Cell c holds the packed positions `offsets[c]..offsets[c + 1]`.
    pub(super) offsets: Vec<usize>,
}

impl Index {
    pub(super) fn build(
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

    pub(super) fn largest(&self) -> usize {
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
    pub(super) fn search(
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
                .map_init(Scratch::default, |scratch, group| {
                    if observer.cancelled() {
                        return Err(KnnError::Cancelled);
                    }
                    let found = self.probe_cell(group, k, scratch, None);
                    let finished = done
                        .fetch_add(group.len() as u64, std::sync::atomic::Ordering::Relaxed)
                        + group.len() as u64;
                    observer.progress(finished, total);
                    Ok(found)
                })
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
                        if kth.is_finite()
                            && beyond_bisector(
                                squared_distance(x, centre) - to_home,
                                squared_distance(centre, home_centre),
                                kth,
                            )
                        {
                            continue;
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
    /// Distances are measured among the packed rows, or in `full` (gathered rows) when given.
    fn probe_cell(
        &self,
        group: &[(u32, u32, f32)],
        k: usize,
        scratch: &mut Scratch,
        full: Option<&FullSpace>,
    ) -> Vec<(u32, f32, u32)> {
        let target = self.cell(group[0].0 as usize);
        let mut found = Vec::new();
        if target.is_empty() {
            return found;
        }
        let Scratch {
            queries: gathered,
            refs,
            ref_norms,
            tile,
        } = scratch;
        // The rows of the space distances are measured in, and how to find a packed item's.
        let (dim, rows, norms, item): (usize, &[f32], &[f32], &dyn Fn(usize) -> usize) = match full
        {
            None => (self.dim, &self.rows, &self.norms, &|p| p),
            Some(f) => (f.dim, f.rows, f.norms, &|p| self.item[p] as usize),
        };
        let (refs, ref_norms): (&[f32], &[f32]) = if full.is_none() {
            (
                &rows[target.start * dim..target.end * dim],
                &norms[target.clone()],
            )
        } else {
            refs.clear();
            ref_norms.clear();
            for p in target.clone() {
                let i = item(p);
                refs.extend_from_slice(&rows[i * dim..(i + 1) * dim]);
                ref_norms.push(norms[i]);
            }
            (refs, ref_norms)
        };
        let refs = ArrayView2::from_shape((target.len(), dim), refs)
            .unwrap_or_else(|_| unreachable!("a cell is rows × dim"));
        for chunk in group.chunks(QUERY_CHUNK) {
            gathered.clear();
            for &(_, pos, _) in chunk {
                let i = item(pos as usize);
                gathered.extend_from_slice(&rows[i * dim..(i + 1) * dim]);
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
                    ref_norms,
                    norms[item(pos as usize)],
                    target.start,
                    pos as usize,
                );
                let (d, j) = top.into_parts();
                found.extend(j.into_iter().zip(d).map(|(j, d)| (pos, d, j)));
            }
        }
        found
    }

    /// The best `k` of `candidates` (packed positions) for the item at `pos` by their squared
    /// distances in `full`. (Stopping at the first candidate whose projected distance passes
    /// the k-th full one — a projection never lengthens a distance — read fewer rows but cost
    /// more than it saved on Fashion-MNIST: 0.41 → 0.6 s, the bound is loose in 128 of 784
    /// dims.)
    pub(super) fn reranked(
        &self,
        full: &FullSpace,
        pos: usize,
        candidates: &[u32],
        k: usize,
    ) -> TopK {
        let dim = full.dim;
        let i = self.item[pos] as usize;
        let x = &full.rows[i * dim..(i + 1) * dim];
        let mut top = TopK::new(k);
        for &p in candidates {
            let j = self.item[p as usize] as usize;
            let d = from_dot(
                full.norms[i],
                full.norms[j],
                crate::numeric::simd::dot(x, &full.rows[j * dim..(j + 1) * dim]),
            );
            top.push(d, p);
        }
        top
    }

    /// How many probes a search needs to reach `target` recall@k on the `sample` items (their
    /// exact neighbours `truth`), read off ahead of the search, for each number of candidates
    /// kept per item in `options` (ascending): (probes, the recall they give) per option —
    /// `depth` and its recall where the target is out of reach.
    ///
    /// A search of an item's first p probes keeps the best k' (by distance in the index's
    /// space) among its home cell and those p − 1 cells — the bisector skip is exact — and a
    /// true neighbour there is among them whenever it is among that best k' (in a projection,
    /// the re-rank then puts it in the top k). So the recall of every p and k' follows from
    /// each sampled item's distances to the rows of its first cells, without searching the
    /// rest. Searching pass after pass and measuring after each cost Fashion-MNIST 70k × 784 a
    /// merge and an estimate per pass (7 passes to 13 probes) and searched every pass against a
    /// bound that only the next pass tightened.
    ///
    /// `ranks`: each sampled item's nearest centres, nearest first, `depth` per item.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn probes_for(
        &self,
        sample: &[usize],
        truth: &[Vec<u32>],
        ranks: &[u16],
        depth: usize,
        k: usize,
        options: &[usize],
        target: f64,
    ) -> Vec<(usize, f64)> {
        let dim = self.dim;
        let widest = options.iter().copied().max().unwrap_or(k);
        // Per sampled item, per probe count p = 1..=depth, per option: true neighbours found.
        let found: Vec<Vec<Vec<usize>>> = sample
            .par_iter()
            .zip(truth)
            .enumerate()
            .map(|(s, (&i, want))| {
                let pos = self.position[i] as usize;
                let x = &self.rows[pos * dim..(pos + 1) * dim];
                let home = self.cell_of(pos);
                let later = ranks[s * depth..(s + 1) * depth]
                    .iter()
                    .map(|&c| usize::from(c))
                    .filter(|&c| c != home);
                let mut top = TopK::new(widest);
                let mut counts: Vec<Vec<usize>> = Vec::with_capacity(depth);
                for c in std::iter::once(home).chain(later).take(depth) {
                    // Every option already holds every true neighbour: so will the rest.
                    if let Some(last) = counts.last()
                        && last.first() == Some(&want.len())
                    {
                        counts.push(last.clone());
                        continue;
                    }
                    for p in self.cell(c).filter(|&p| p != pos) {
                        let y = &self.rows[p * dim..(p + 1) * dim];
                        top.push(
                            from_dot(self.norms[pos], self.norms[p], dot(x, y)),
                            p as u32,
                        );
                    }
                    // Nearest first: the best k' of the widest list are the best k' kept.
                    let best = top.best_indices();
                    let hits = |kept: usize| {
                        best[..kept.min(best.len())]
                            .iter()
                            .filter(|&&p| want.contains(&self.item[p as usize]))
                            .count()
                    };
                    counts.push(options.iter().map(|&o| hits(o)).collect());
                }
                counts
            })
            .collect();
        let wanted = (sample.len() * k).max(1) as f64;
        (0..options.len())
            .map(|o| {
                let mut last = (depth, 0.0);
                for p in 1..=depth {
                    let hits: usize = found
                        .iter()
                        .filter_map(|c| c.get(p - 1).map(|per| per[o]))
                        .sum();
                    last = (p, hits as f64 / wanted);
                    if last.1 >= target {
                        break;
                    }
                }
                last
            })
            .collect()
    }

    /// The cell holding packed position `pos`.
    fn cell_of(&self, pos: usize) -> usize {
        self.offsets.partition_point(|&o| o <= pos) - 1
    }

    /// The exact k nearest neighbours of the `sample` items (original indices, self excluded),
    /// as item lists, searched through the cells: the same Voronoi bound that lets a probe be
    /// skipped proves which cells cannot hold a nearer neighbour, so only the others are read.
    ///
    /// Two steps, each grouped by cell into GEMMs like the probe passes: the home cell and the
    /// [`FIRST_FILING`] nearest centres' cells give every item a k-th distance; then every cell
    /// whose bound is within it. A brute-force search read all N rows per item (2.4 s of a
    /// million × 128 search for 1,024 items); clustered data needs a few dozen cells.
    pub(super) fn exact_sample(
        &self,
        sample: &[usize],
        probes_of: &[u16],
        stride: usize,
        k: usize,
        full: Option<&FullSpace>,
        observer: &dyn Observer,
    ) -> Result<(Vec<Vec<u32>>, Searched), KnnError> {
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
        self.offer_sample(asks, sample, k, &mut tops, full, observer)?;
        // Step two: every other cell the bound cannot rule out.
        let mut asks = Vec::new();
        for (s, &i) in sample.iter().enumerate() {
            let (d, home) = &to_centres[s];
            let kth = tops[s].kth();
            let home_centre = &self.centres[home * dim..(home + 1) * dim];
            for c in (0..lists).filter(|c| !read[s].contains(c)) {
                let apart = squared_distance(&self.centres[c * dim..(c + 1) * dim], home_centre);
                if beyond_bisector(d[c] - d[*home], apart, kth) {
                    continue;
                }
                asks.push((c as u32, self.position[i], kth));
            }
        }
        // Where the bound rules out few cells (crowded clusters: at 10⁷ × 128 nearly none),
        // reading them cell by cell costs more than one pass over all the rows.
        let asked: usize = asks
            .iter()
            .map(|&(c, _, _)| self.cell(c as usize).len())
            .sum();
        if asked > self.item.len() * sample.len() / 2 {
            return Ok((self.brute_sample(sample, k, full), Searched::AllRows));
        }
        self.offer_sample(asks, sample, k, &mut tops, full, observer)?;
        let lists = tops
            .into_iter()
            .map(|t| {
                t.into_parts()
                    .1
                    .into_iter()
                    .map(|p| self.item[p as usize])
                    .collect()
            })
            .collect();
        Ok((lists, Searched::ThroughCells))
    }

    /// [`Index::exact_sample`] by the exact search over all rows (in `full` when given).
    fn brute_sample(&self, sample: &[usize], k: usize, full: Option<&FullSpace>) -> Vec<Vec<u32>> {
        if let Some(f) = full {
            return exact_sample(f.rows, f.norms, f.dim, sample, k);
        }
        let positions: Vec<usize> = sample.iter().map(|&i| self.position[i] as usize).collect();
        exact_sample(&self.rows, &self.norms, self.dim, &positions, k)
            .into_iter()
            .map(|list| list.into_iter().map(|p| self.item[p as usize]).collect())
            .collect()
    }

    /// Search the sample's `asks` (cell, packed position, bound), grouped by cell, and offer
    /// what is found to the sample's lists.
    fn offer_sample(
        &self,
        mut asks: Vec<(u32, u32, f32)>,
        sample: &[usize],
        k: usize,
        tops: &mut [TopK],
        full: Option<&FullSpace>,
        observer: &dyn Observer,
    ) -> Result<(), KnnError> {
        asks.par_sort_unstable_by_key(|&(c, pos, _)| (c, pos));
        let found: Vec<Vec<(u32, f32, u32)>> = asks
            .chunk_by(|a, b| a.0 == b.0)
            .collect::<Vec<_>>()
            .par_iter()
            .map_init(Scratch::default, |scratch, group| {
                if observer.cancelled() {
                    return Err(KnnError::Cancelled);
                }
                Ok(self.probe_cell(group, k, scratch, full))
            })
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
    pub(super) fn join(
        &self,
        tops: &mut [TopK],
        k: usize,
        observer: &dyn Observer,
    ) -> Result<(), KnnError> {
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

/// Whether a whole Voronoi cell lies farther from an item than its k-th neighbour (squared
/// distance `kth`): the cell's centre is `gap` farther (squared) from the item than its home
/// centre, which is `apart` (squared) from the cell's. The cell lies beyond their bisecting
/// hyperplane, at gap / (2 √apart) from the item; squares compared, with a margin for
/// rounding. (gap ≥ 0: the home is the item's nearest centre.)
fn beyond_bisector(gap: f32, apart: f32, kth: f32) -> bool {
    gap > 0.0 && gap * gap > 4.0 * apart * kth * (1.0 + 1e-3)
}

/// Recall@k of the current lists on the sampled items, against their exact neighbours (lists
/// found in a projection re-ranked in `full` first).
pub(super) fn sample_recall(
    index: &Index,
    tops: &[TopK],
    sample: &[usize],
    truth: &[Vec<u32>],
    k: usize,
    full: Option<&FullSpace>,
) -> f64 {
    let found: Vec<Vec<u32>> = sample
        .iter()
        .map(|&i| {
            let pos = index.position[i] as usize;
            let best = tops[pos].best_indices();
            let best = match full {
                Some(f) => index.reranked(f, pos, &best, k).best_indices(),
                None => best,
            };
            best.into_iter().map(|p| index.item[p as usize]).collect()
        })
        .collect();
    crate::knn::sampled_overlap(truth, &found, k)
}
