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
//! fixed sample of items is searched exactly; from half of it, the number of probes that
//! reaches the target recall is read off before the search (which true neighbours the first p
//! cells hold), up to a limit; the other half measures the result. The caller gets that
//! estimate to print and warn about.
//!
//! Deterministic for a seed: k-means runs on a seeded sample in a fixed order, and every
//! item's neighbour list is owned by one task and keeps the k best by (distance, index), a
//! total order, whatever the order candidates arrive in.

mod index;

use ndarray::ArrayView2;
use rayon::prelude::*;

use super::exact::{TopK, finish_distance, prepared, scan_row};
use super::{KnnError, KnnGraph, Metric, check_k};
use crate::numeric::squared_norms;
use crate::progress::Observer;
use index::{FullSpace, Index, sample_recall};

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
/// Rows a projection is fitted on. Fewer rows and iterations than an exact PCA needs: the
/// search only needs a subspace that keeps most of the variance, and steers its probes by the
/// recall it measures. On Fashion-MNIST 16,384 rows and 8 iterations cost 0.30 s, these 0.13 s,
/// with the same recall at the same probes.
const PROJECTION_FIT_ROWS: usize = 4_096;
/// Subspace iterations of that fit.
const PROJECTION_ITERATIONS: usize = 4;

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
    /// Rows of at least twice this many dimensions are searched in a projection on this many
    /// principal components (0: never), keeping [`IvfParams::candidate_factor`] × k
    /// candidates per item for a re-rank in the full space.
    pub project_to: usize,
    pub candidate_factor: usize,
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
            project_to: 128,
            candidate_factor: 3,
            seed: 0,
        }
    }
}

impl IvfParams {
    /// For logs and cache keys: everything the result depends on.
    pub fn describe(&self) -> String {
        format!(
            "ivf lists={} probes={}..{} target={} joins={} project={}x{} seed={}",
            self.lists,
            self.probes,
            self.max_probes,
            self.target_recall,
            self.join_rounds,
            self.project_to,
            self.candidate_factor,
            self.seed
        )
    }

    /// The numbers of candidates a search in a projection may keep per item: the factor's,
    /// one k more, and twice the factor's (never fewer than k nor more than the others).
    fn candidate_options(&self, k: usize, n: usize) -> Vec<usize> {
        let f = self.candidate_factor.max(1);
        let mut out: Vec<usize> = [f, f + 1, 2 * f]
            .iter()
            .map(|m| (k * m).clamp(k, n - 1))
            .collect();
        out.dedup();
        out
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
    /// Principal components the search ran in (0: the rows as they are).
    pub components: usize,
    /// Candidates kept per item (k unless projected).
    pub candidates: usize,
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
    // High-dimensional rows are searched in a projection (see `project`); the full rows then
    // only re-rank candidates and check the sample.
    let projected = project(data, dim, params, observer);
    let full_space = FullSpace {
        rows: data,
        norms: &norms,
        dim,
    };
    let (rows, rows_dim, full) = match &projected {
        Some((rows, c)) => (&rows[..], *c, Some(&full_space)),
        None => (data, dim, None),
    };
    let rows_norms: std::borrow::Cow<[f32]> = match &projected {
        Some((rows, c)) => squared_norms(rows, *c).into(),
        None => (&norms[..]).into(),
    };
    observer.stage("k-means");
    let centres = train(rows, rows_dim, params.lists_for(n), params.seed, observer)?;
    let lists = centres.len() / rows_dim;
    let max_probes = params.max_probes.clamp(1, lists);

    observer.stage("filing");
    // Most data reaches the target within a few probes, and ranking 32 centres per item costs
    // half as much again as the GEMM that scores them: file to a few first, deeper if needed.
    let mut filed = max_probes.min(FIRST_FILING);
    let mut probes_of = nearest_centres(rows, &rows_norms, rows_dim, &centres, filed);
    if observer.cancelled() {
        return Err(KnnError::Cancelled);
    }
    let index = Index::build(rows, &rows_norms, rows_dim, &centres, &probes_of, filed);

    observer.stage("recall sample");
    // Half the sampled items steer the search (how many probes); the other half only measure
    // the result: an estimate read from the items that decided when to stop is biased upward
    // (at 1 M patches it read 0.955 where 1,000 other items measured 0.948). One exact search
    // for both halves reads the data once.
    let drawn = crate::numeric::sample_items(n, 2 * RECALL_SAMPLE, params.seed ^ 0x5A3F);
    let (drawn_truth, _) = index.exact_sample(&drawn, &probes_of, filed, k, full, observer)?;
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
    observer.stage("steering");
    // How many probes, read off the steering half ahead of the search (`Index::probes_for`).
    let steer_rows: Vec<f32> = sample
        .iter()
        .flat_map(|&i| {
            let pos = index.position[i] as usize;
            &index.rows[pos * rows_dim..(pos + 1) * rows_dim]
        })
        .copied()
        .collect();
    let steer_norms = squared_norms(&steer_rows, rows_dim);
    let ranks = nearest_centres(&steer_rows, &steer_norms, rows_dim, &centres, max_probes);
    // In a projection, how many candidates to keep for the re-rank is read off too: more
    // reach a high target in fewer probes.
    let options = match full {
        Some(_) => params.candidate_options(k, n),
        None => vec![k],
    };
    let reach = index.probes_for(
        &sample,
        &truth,
        &ranks,
        max_probes,
        k,
        &options,
        params.target_recall,
    );
    let mean_cell = n as f64 / lists as f64;
    let (needed, search_k) = cheapest(
        &reach,
        &options,
        params.target_recall,
        mean_cell * rows_dim as f64,
        full.map_or(0.0, |f| f.dim as f64),
    );
    let to = needed.max(params.probes.clamp(1, max_probes));
    if to > filed {
        observer.stage("filing deeper");
        // The same scores and order as the first filing, so the home cells stay.
        filed = to;
        probes_of = nearest_centres(rows, &rows_norms, rows_dim, &centres, filed);
        if observer.cancelled() {
            return Err(KnnError::Cancelled);
        }
    }
    observer.stage("lists");
    // The neighbour lists, by position in the packed (cell) order: one allocation each, made
    // on every core (one by one they took 9.8 s at 10⁷ items).
    let mut tops: Vec<TopK> = (0..n)
        .into_par_iter()
        .map(|_| TopK::new(search_k))
        .collect();
    for pass in passes(to) {
        observer.stage(&format!("probes {}..{}", pass.start + 1, pass.end));
        index.search(&probes_of, filed, pass, search_k, &mut tops, observer)?;
    }
    drop(probes_of);
    // What the steering half reached with the probes alone.
    let steered_recall = sample_recall(&index, &tops, &sample, &truth, k, full);
    for round in 0..params.join_rounds {
        observer.stage(&format!("join {}", round + 1));
        index.join(&mut tops, search_k, observer)?;
    }
    let estimated_recall = if held.is_empty() {
        steered_recall
    } else {
        sample_recall(&index, &tops, &held, &held_truth, k, full)
    };
    if let Some(full) = full {
        observer.stage("re-rank");
        rerank(&index, full, &mut tops, k);
    }
    observer.stage("output");
    let report = IvfReport {
        lists,
        probes: to,
        estimated_recall,
        steered_recall,
        sample: held.len(),
        largest_list: index.largest(),
        components: projected.as_ref().map_or(0, |p| p.1),
        candidates: search_k,
    };
    Ok((output(index, tops, k, metric), report))
}

/// A re-ranked candidate's cost against a probed row's, per dimension: the re-rank reads full
/// rows from all over memory, the probes stream packed cells through GEMMs (Fashion-MNIST:
/// 11 probes of 260-row cells in 128 dims took 0.73 s, 60 candidates in 784 dims 0.41 s).
const RERANK_COST: f64 = 4.0;

/// Of the candidate counts `options` and the probes each needs (`reach`: probes and recall),
/// the cheapest that reaches `target` — per item, probes × `probe_cost` (a cell's rows × their
/// dims) + candidates × `rerank_dims` × [`RERANK_COST`] — or, where none does, the one with
/// the best recall: (probes, candidates).
fn cheapest(
    reach: &[(usize, f64)],
    options: &[usize],
    target: f64,
    probe_cost: f64,
    rerank_dims: f64,
) -> (usize, usize) {
    let cost = |&((probes, _), kept): &((usize, f64), usize)| {
        probes as f64 * probe_cost + kept as f64 * rerank_dims * RERANK_COST
    };
    let pairs: Vec<((usize, f64), usize)> =
        reach.iter().copied().zip(options.iter().copied()).collect();
    let reaching = pairs
        .iter()
        .filter(|((_, recall), _)| *recall >= target)
        .min_by(|a, b| cost(a).total_cmp(&cost(b)));
    let best = reaching.or_else(|| {
        pairs
            .iter()
            .max_by(|a, b| a.0.1.total_cmp(&b.0.1).then(b.1.cmp(&a.1)))
    });
    best.map_or(
        (1, options.first().copied().unwrap_or(1)),
        |&((p, _), kept)| (p, kept),
    )
}

/// The passes a search of `probes` probes runs in: the home cell first, then the rest. A
/// pass's bisector skip uses the k-th distances the passes before it found, so the rest skip
/// more after the home cell; more passes cost a merge each and measured no better:
/// Fashion-MNIST to 11 probes 0.73–0.8 s of passes where seven (1, 2, 3, 4, 6, 9, 11) took
/// 0.92 and one 0.97; 10⁷ × 128 to 2 probes, one pass and two measured alike (153 and 159 s,
/// an evening when the machine ran slow).
fn passes(probes: usize) -> Vec<std::ops::Range<usize>> {
    [0..1, 1..probes]
        .into_iter()
        .filter(|pass| !pass.is_empty())
        .collect()
}

/// The graph in the original order from the lists in packed order. The packed rows are freed
/// before the output is allocated, so the peak stays features + packed copy + lists.
fn output(index: Index, tops: Vec<TopK>, k: usize, metric: Metric) -> KnnGraph {
    let Index { item, position, .. } = index;
    let n = item.len();
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
    KnnGraph {
        k,
        metric,
        indices,
        distances,
    }
}

/// Replace every list of candidates found in a projection by its best `k` in the full space.
/// In packed order: a cell's items share most candidates, so their full rows are read from
/// cache rather than memory.
fn rerank(index: &Index, full: &FullSpace, tops: &mut [TopK], k: usize) {
    tops.par_iter_mut()
        .enumerate()
        .with_min_len(256)
        .for_each(|(pos, top)| *top = index.reranked(full, pos, &top.best_indices(), k));
}

/// The rows of a high-dimensional search projected on their leading principal components
/// (N × components, and the components), or `None` when the rows are searched as they are.
///
/// Why: the inverted file's cost is GEMMs over the rows, linear in the dimension, while the
/// neighbours of data with a few hundred dimensions are nearly all among the nearest few dozen
/// in its leading components. A projection on orthonormal components never lengthens a
/// distance, so the Voronoi bounds of cells cut in the projection still bound the full
/// distances: the exact sample stays exact. Fitted on a sample, with few subspace iterations
/// (any orthonormal basis near the leading subspace serves).
fn project(
    data: &[f32],
    dim: usize,
    params: &IvfParams,
    observer: &dyn Observer,
) -> Option<(Vec<f32>, usize)> {
    let components = params.project_to;
    if components == 0 || dim < 2 * components {
        return None;
    }
    observer.stage("projection");
    let n = data.len() / dim;
    let fit_on = crate::numeric::sample_items(n, PROJECTION_FIT_ROWS.min(n), params.seed ^ 0x9E37);
    let rows: Vec<f32> = fit_on
        .iter()
        .flat_map(|&i| &data[i * dim..(i + 1) * dim])
        .copied()
        .collect();
    // Too few rows to fit (the caller searches the rows themselves).
    let pca =
        crate::numeric::pca::fit_iterations(&rows, dim, components, PROJECTION_ITERATIONS).ok()?;
    Some((pca.transform(data), components))
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
        .map_init(Vec::new, |tile, (block, block_norms)| {
            let rows = block.len() / dim;
            let bview = ArrayView2::from_shape((rows, dim), block)
                .unwrap_or_else(|_| unreachable!("a block is rows × dim by construction"));
            let dots = crate::numeric::gemm_tile(tile, &bview, &cview);
            let mut out = Vec::with_capacity(rows * probes);
            for (row, &norm) in dots.chunks_exact(m).zip(block_norms) {
                // The bound-checked scan of the search: most centres are farther than the
                // `probes`-th nearest so far and cost one packed compare.
                let mut top = TopK::new(probes);
                scan_row(&mut top, row, &centre_norms, norm, 0, usize::MAX);
                out.extend(top.into_parts().1.into_iter().map(|c| c as u16));
            }
            out
        })
        .flatten_iter()
        .collect()
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
    fn high_dimensional_rows_are_searched_in_a_projection_and_re_ranked() {
        // 40-D clusters lifted into 300 dimensions by a fixed mixing, plus a little noise.
        let (low, low_dim) = (
            clustered(&ClusteredSpec {
                n: 3000,
                dim: 40,
                clusters: 20,
                seed: 4,
            })
            .0,
            40,
        );
        let dim = 300;
        let n = low.len() / low_dim;
        let mut x = vec![0f32; n * dim];
        let mut state = 11u64;
        for (i, row) in x.chunks_exact_mut(dim).enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                let mixed: f32 = (0..low_dim)
                    .map(|a| low[i * low_dim + a] * (((a * 31 + c * 17) % 7) as f32 - 3.0))
                    .sum();
                state = crate::rng::mix(state);
                *v = mixed / 10.0 + ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.1;
            }
        }
        let exact = exact_knn(&x, dim, 10, Metric::Euclidean, &()).expect("exact");
        let params = IvfParams {
            project_to: 32,
            ..IvfParams::default()
        };
        let (g, report) = ivf_knn(&x, dim, 10, Metric::Euclidean, &params, &()).expect("ivf");
        assert_eq!((report.components, report.candidates), (32, 30));
        let truth = recall(&g, &exact);
        assert!(truth >= 0.9, "recall {truth}");
        assert!(
            (report.estimated_recall - truth).abs() < 0.05,
            "estimated {} vs {truth}",
            report.estimated_recall
        );
        // The probes read off ahead account for the candidates' cut and the re-rank: they
        // reach the target on the steering items, one fewer does not.
        assert!(report.probes > 1 && report.steered_recall >= params.target_recall);
        let fewer = IvfParams {
            probes: report.probes - 1,
            target_recall: 0.0,
            ..params
        };
        let (_, short) = ivf_knn(&x, dim, 10, Metric::Euclidean, &fewer, &()).expect("fewer");
        assert!(short.steered_recall < params.target_recall, "{short:?}");
        // Distances are full-space distances of the listed neighbours, nearest first.
        for i in [0, 1234, 2999] {
            let row = |j: usize| &x[j * dim..(j + 1) * dim];
            let mut last = 0.0;
            for (&j, &d) in g
                .neighbors(i)
                .iter()
                .zip(&g.distances[i * 10..(i + 1) * 10])
            {
                let want: f32 = row(i)
                    .iter()
                    .zip(row(j as usize))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>()
                    .sqrt();
                assert!((d - want).abs() <= 1e-3 * want.max(1.0), "{d} vs {want}");
                assert!(d >= last);
                last = d;
            }
        }
        // Without a projection the rows are searched as they are.
        let unprojected = IvfParams {
            project_to: 0,
            ..IvfParams::default()
        };
        let (_, plain) = ivf_knn(&x, dim, 10, Metric::Euclidean, &unprojected, &()).expect("ivf");
        assert_eq!((plain.components, plain.candidates), (0, 10));
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
            let (through, searched) = index
                .exact_sample(&sample, &probes_of, FIRST_FILING, 10, None, &())
                .expect("sample");
            // Separated clusters are read through the cells; uniform noise in 16 dimensions
            // rules out too few cells and is read whole.
            let want = if dim == 16 {
                index::Searched::AllRows
            } else {
                index::Searched::ThroughCells
            };
            assert_eq!(searched, want);
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
    fn the_cheapest_candidates_and_probes_that_reach_the_target_are_picked() {
        let options = [45, 60, 90];
        // 45 candidates cannot reach 0.99 in 32 probes; 60 need 11, 90 need 8.
        let reach = [(32, 0.98), (11, 0.991), (8, 0.992)];
        let probe = 260.0 * 128.0;
        // Re-ranking 784 dims: 11 × probe + 60 × 3,136 > 8 × probe + 90 × 3,136.
        assert_eq!(cheapest(&reach, &options, 0.99, probe, 784.0), (8, 90));
        // Re-ranking is dear in 7,840 dims: fewer candidates, more probes.
        assert_eq!(cheapest(&reach, &options, 0.99, probe, 7840.0), (11, 60));
        // A lower target, which each option reaches in a few probes: the fewest candidates.
        let low = [(6, 0.962), (5, 0.965), (4, 0.97)];
        assert_eq!(cheapest(&low, &options, 0.95, probe, 784.0), (6, 45));
        // Out of reach for all: the best recall.
        assert_eq!(cheapest(&reach, &options, 0.999, probe, 784.0), (8, 90));
        // Not projected: one option, re-ranking costs nothing.
        assert_eq!(cheapest(&[(3, 0.96)], &[15], 0.95, probe, 0.0), (3, 15));
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
        // The probes were read off ahead of the search: one fewer, searched, falls short on the
        // same steering items — the fewest that reach the target.
        let fewer = IvfParams {
            probes: a.1.probes - 1,
            target_recall: 0.0,
            ..params
        };
        let (_, short) = ivf_knn(&x, dim, 8, Metric::Euclidean, &fewer, &()).expect("fewer");
        assert_eq!(short.probes, a.1.probes - 1);
        assert!(short.steered_recall < 0.99, "{short:?} vs {:?}", a.1);
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
