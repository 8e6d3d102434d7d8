//! The scalable path for data sets too large for an exact distance matrix: k-means to a few
//! thousand micro-clusters, then linkage on their centroids (ward weighted by the
//! micro-clusters' sizes, so it approximates ward on the items), spliced into one dendrogram
//! over the items.
//!
//! The items of a micro-cluster are chained at height 0, so any cut into at most
//! [`MICRO_CLUSTERS`] clusters is exactly a cut of the centroid tree; finer cuts split
//! micro-clusters arbitrarily.

use rayon::prelude::*;

use super::{ClusterError, Dendrogram, Linkage, Merge};
use crate::numeric::kmeans::{assign, update};
use crate::progress::Observer;

/// Micro-clusters (k-means centres) above the exact limit.
pub const MICRO_CLUSTERS: usize = 2048;
/// Lloyd passes after the seeding: each is one GEMM of N × M × D.
const LLOYD_PASSES: usize = 3;

/// `m` distinct rows, spread by a fixed shuffle (deterministic).
fn seeds(n: usize, m: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in (1..n).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(i, (state % (i as u64 + 1)) as usize);
    }
    order.truncate(m);
    order.sort_unstable();
    order
}

/// Ward on weighted points by the nearest-neighbour chain, with the Lance–Williams update on
/// squared distances; merges as (representative a, representative b, height, size), unsorted.
fn weighted_ward(centres: &[f32], dim: usize, sizes: &[u32]) -> Vec<(usize, usize, f64, u32)> {
    let m = sizes.len();
    let mut size: Vec<f64> = sizes.iter().map(|&s| f64::from(s)).collect();
    // Full matrix of ward merge costs: 2·nᵢnⱼ/(nᵢ+nⱼ)·‖cᵢ − cⱼ‖² (‖xᵢ − xⱼ‖² for single items).
    let mut d = vec![0f64; m * m];
    d.par_chunks_mut(m).enumerate().for_each(|(i, row)| {
        let ci = &centres[i * dim..(i + 1) * dim];
        for (j, out) in row.iter_mut().enumerate() {
            let cj = &centres[j * dim..(j + 1) * dim];
            let sq: f64 = ci
                .iter()
                .zip(cj)
                .map(|(a, b)| f64::from(a - b) * f64::from(a - b))
                .sum();
            let (ni, nj) = (f64::from(sizes[i]), f64::from(sizes[j]));
            *out = 2.0 * ni * nj / (ni + nj) * sq;
        }
    });
    let mut active = vec![true; m];
    let mut merges = Vec::with_capacity(m - 1);
    let mut chain: Vec<usize> = Vec::new();
    let mut remaining = m;
    while remaining > 1 {
        if chain.is_empty() {
            chain.push(active.iter().position(|&a| a).unwrap_or(0));
        }
        loop {
            let a = chain[chain.len() - 1];
            let prev = chain.len().checked_sub(2).map(|i| chain[i]);
            // Nearest active neighbour of a; ties prefer the previous chain element.
            let mut best = (f64::INFINITY, usize::MAX);
            for b in 0..m {
                if b == a || !active[b] {
                    continue;
                }
                let v = d[a * m + b];
                if v < best.0 || (v == best.0 && Some(b) == prev) {
                    best = (v, b);
                }
            }
            let b = best.1;
            if Some(b) == prev {
                chain.pop();
                chain.pop();
                let (i, j) = (a.min(b), a.max(b));
                let (ni, nj) = (size[i], size[j]);
                for k in 0..m {
                    if !active[k] || k == i || k == j {
                        continue;
                    }
                    let nk = size[k];
                    let v = ((ni + nk) * d[i * m + k] + (nj + nk) * d[j * m + k]
                        - nk * d[i * m + j])
                        / (ni + nj + nk);
                    d[i * m + k] = v;
                    d[k * m + i] = v;
                }
                merges.push((i, j, best.0.max(0.0).sqrt(), (ni + nj) as u32));
                size[i] = ni + nj;
                active[j] = false;
                remaining -= 1;
                break;
            }
            chain.push(b);
        }
    }
    merges
}

/// The dendrogram of a large data set: see the module comment.
pub fn cluster_micro(
    features: &[f32],
    dim: usize,
    linkage: Linkage,
    micro: usize,
    observer: &dyn Observer,
) -> Result<Dendrogram, ClusterError> {
    let n = features.len() / dim.max(1);
    let m = micro.min(n);
    let mut centres: Vec<f32> = seeds(n, m)
        .iter()
        .flat_map(|&i| features[i * dim..(i + 1) * dim].iter().copied())
        .collect();
    let mut labels = assign(features, dim, &centres);
    let mut sizes = update(features, dim, &labels, &mut centres);
    for pass in 0..LLOYD_PASSES {
        if observer.cancelled() {
            return Err(ClusterError::Cancelled);
        }
        observer.progress(pass as u64 + 1, LLOYD_PASSES as u64 + 1);
        labels = assign(features, dim, &centres);
        sizes = update(features, dim, &labels, &mut centres);
    }
    // Drop empty micro-clusters.
    let kept: Vec<usize> = (0..m).filter(|&j| sizes[j] > 0).collect();
    let mut new_index = vec![u32::MAX; m];
    for (k, &j) in kept.iter().enumerate() {
        new_index[j] = k as u32;
    }
    let centres: Vec<f32> = kept
        .iter()
        .flat_map(|&j| centres[j * dim..(j + 1) * dim].iter().copied())
        .collect();
    let sizes: Vec<u32> = kept.iter().map(|&j| sizes[j]).collect();
    let labels: Vec<u32> = labels.iter().map(|&l| new_index[l as usize]).collect();
    let m = kept.len();

    // The centroid tree, as (rep a, rep b, height, size) in height order.
    let mut top: Vec<(usize, usize, f64, u32)> = match linkage {
        Linkage::Ward => weighted_ward(&centres, dim, &sizes),
        other => {
            // Unweighted linkage between the centres: an approximation of `other` on items.
            let tree = super::cluster(&centres, dim, other, &())?;
            let mut rep: Vec<usize> = (0..2 * m).collect();
            tree.merges
                .iter()
                .enumerate()
                .map(|(t, mg)| {
                    let (a, b) = (rep[mg.a as usize], rep[mg.b as usize]);
                    rep[m + t] = a.min(b);
                    (a.min(b), a.max(b), f64::from(mg.height), mg.size)
                })
                .collect()
        }
    };
    top.sort_by(|x, y| x.2.total_cmp(&y.2));
    if m > 1 && top.len() != m - 1 {
        return Err(ClusterError::Cancelled);
    }

    // Items of each micro-cluster, chained at height 0, then the centroid merges.
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); m];
    for (item, &l) in labels.iter().enumerate() {
        members[l as usize].push(item as u32);
    }
    let mut merges = Vec::with_capacity(n - 1);
    let mut id_of_rep = vec![0u32; m];
    for (j, items) in members.iter().enumerate() {
        let mut current = items[0];
        for (s, &item) in items.iter().enumerate().skip(1) {
            merges.push(Merge {
                a: current.min(item),
                b: current.max(item),
                height: 0.0,
                size: s as u32 + 1,
            });
            current = (n + merges.len() - 1) as u32;
        }
        id_of_rep[j] = current;
    }
    for (a, b, height, size) in top {
        let (ia, ib) = (id_of_rep[a], id_of_rep[b]);
        merges.push(Merge {
            a: ia.min(ib),
            b: ia.max(ib),
            height: height as f32,
            size,
        });
        let id = (n + merges.len() - 1) as u32;
        id_of_rep[a] = id;
        id_of_rep[b] = id;
    }
    observer.progress(LLOYD_PASSES as u64 + 1, LLOYD_PASSES as u64 + 1);
    Ok(Dendrogram { n_items: n, merges })
}
