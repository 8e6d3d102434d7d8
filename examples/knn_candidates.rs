//! Compare approximate kNN searches on the first N rows of a features file: wall time and
//! recall@k on a sample checked against an exact search (the same sample for every method).
//!
//! `cargo run --release --no-default-features --example knn_candidates -- FEATURES.npy N K METHOD...`
//! with METHOD one of `ivf`, `ivf:PROBES:LISTS:TARGET[:JOIN_ROUNDS[:PROJECT_TO[:CANDIDATE_FACTOR]]]`, `nn-descent`, `projected`, or
//! `file:GRAPH.npy` (N × k' indices from another tool, e.g. pynndescent; the item itself is
//! skipped where listed; the time shown is only the reading). `METRIC=cosine` in the
//! environment scores (and searches) by cosine distance instead of euclidean.

use std::time::Instant;

use anyhow::Context;
use ivt::knn::{self, IvfParams, Metric, NnDescentParams, ProjectedParams};

/// Prints when each stage of a search starts (`STAGES=1`), to see where its time goes.
struct Stages(Instant);

impl ivt::progress::Observer for Stages {
    fn stage(&self, name: &str) {
        if std::env::var_os("STAGES").is_some() {
            eprintln!("  {:6.2} s  {name}", self.0.elapsed().as_secs_f64());
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(
        args.len() >= 4,
        "usage: knn_candidates FEATURES.npy N K METHOD..."
    );
    let features = ivt::dataset::load_features(args[0].as_ref(), None)?;
    let dim = features.dim();
    let n: usize = args[1].parse().context("N")?;
    let k: usize = args[2].parse().context("K")?;
    let n = n.min(features.n_items());
    let values = features.values();
    let x = &values[..n * dim];
    let metric = match std::env::var("METRIC").as_deref() {
        Ok("cosine") => Metric::Cosine,
        Ok("euclidean") | Err(_) => Metric::Euclidean,
        Ok(other) => anyhow::bail!("METRIC={other}: euclidean or cosine"),
    };
    let sample = ivt::numeric::sample_items(n, 1000, 99);
    let t = Instant::now();
    let truth: Vec<Vec<(u32, f32)>> = sample
        .iter()
        .map(|&i| knn::query(x, dim, &x[i * dim..(i + 1) * dim], k + 1, metric))
        .collect::<Result<_, _>>()?;
    eprintln!(
        "truth for {} items in {:.1} s",
        sample.len(),
        t.elapsed().as_secs_f64()
    );
    for method in &args[3..] {
        let t = Instant::now();
        let mut parts = method.split(':');
        let (graph, note) = match parts.next() {
            Some("ivf") => {
                let mut p = IvfParams::default();
                if let Some(v) = parts.next() {
                    p.probes = v.parse()?;
                }
                if let Some(v) = parts.next() {
                    p.lists = v.parse()?;
                }
                if let Some(v) = parts.next() {
                    p.target_recall = v.parse()?;
                }
                if let Some(v) = parts.next() {
                    p.join_rounds = v.parse()?;
                }
                if let Some(v) = parts.next() {
                    p.project_to = v.parse()?;
                }
                if let Some(v) = parts.next() {
                    p.candidate_factor = v.parse()?;
                }
                let (g, r) = knn::ivf_knn(x, dim, k, metric, &p, &Stages(Instant::now()))?;
                (g, format!("{r:?}"))
            }
            Some("nn-descent") => (
                knn::nn_descent(
                    x,
                    dim,
                    k,
                    Metric::Euclidean,
                    &NnDescentParams::for_k(k),
                    &(),
                )?,
                String::new(),
            ),
            Some("pivf") => {
                // The inverted file in a PCA projection, k' candidates re-ranked in full.
                let components: usize = parts.next().unwrap_or("64").parse()?;
                let candidates: usize = parts.next().unwrap_or("45").parse()?;
                let target: f64 = parts.next().unwrap_or("0.95").parse()?;
                let t0 = Instant::now();
                let pca = ivt::numeric::pca::fit(x, dim, components)?;
                let reduced = pca.transform(x);
                let t1 = t0.elapsed().as_secs_f64();
                let p = IvfParams {
                    target_recall: target,
                    ..IvfParams::default()
                };
                let (short, r) =
                    knn::ivf_knn(&reduced, components, candidates, Metric::Euclidean, &p, &())?;
                drop(reduced);
                let t2 = t0.elapsed().as_secs_f64();
                let mut indices = vec![0u32; n * k];
                use rayon::prelude::*;
                indices.par_chunks_mut(k).enumerate().for_each(|(i, out)| {
                    let row = &x[i * dim..(i + 1) * dim];
                    let mut d: Vec<(f32, u32)> = short
                        .neighbors(i)
                        .iter()
                        .map(|&j| {
                            let o = &x[j as usize * dim..(j as usize + 1) * dim];
                            let s: f32 = row.iter().zip(o).map(|(a, b)| (a - b) * (a - b)).sum();
                            (s, j)
                        })
                        .collect();
                    d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                    for (slot, p) in out.iter_mut().zip(d) {
                        *slot = p.1;
                    }
                });
                let graph = knn::KnnGraph {
                    k,
                    metric: Metric::Euclidean,
                    distances: vec![0.0; n * k],
                    indices,
                };
                let note = format!(
                    "pca {t1:.1} s ({:.3} kept), ivf {:.1} s (probes {}), rerank {:.1} s",
                    pca.explained_ratio(),
                    t2 - t1,
                    r.probes,
                    t0.elapsed().as_secs_f64() - t2
                );
                (graph, note)
            }
            Some("projected") => {
                let (g, r) = knn::projected_knn(
                    x,
                    dim,
                    k,
                    Metric::Euclidean,
                    &ProjectedParams::for_k(k, dim),
                    &(),
                )?;
                (g, format!("{r:?}"))
            }
            Some("file") => {
                let path = parts.next().context("file:PATH")?;
                let (rows, cols, raw) = ivt::npy::read_index_matrix_file(path.as_ref())?;
                anyhow::ensure!(rows == n, "{path}: {rows} rows, expected {n}");
                let mut indices = Vec::with_capacity(n * k);
                for (i, row) in raw.chunks_exact(cols).enumerate() {
                    let others: Vec<u32> = row
                        .iter()
                        .filter(|&&j| j != i as i64)
                        .take(k)
                        .map(|&j| j as u32)
                        .collect();
                    anyhow::ensure!(
                        others.len() == k,
                        "{path}: row {i} has fewer than {k} others"
                    );
                    indices.extend(others);
                }
                let graph = knn::KnnGraph {
                    k,
                    metric: Metric::Euclidean,
                    distances: vec![0.0; indices.len()],
                    indices,
                };
                (graph, String::new())
            }
            _ => anyhow::bail!("unknown method {method}"),
        };
        let secs = t.elapsed().as_secs_f64();
        let mut hits = 0;
        for (&i, t) in sample.iter().zip(&truth) {
            let want: Vec<u32> = t
                .iter()
                .map(|&(j, _)| j)
                .filter(|&j| j as usize != i)
                .take(k)
                .collect();
            hits += graph
                .neighbors(i)
                .iter()
                .filter(|j| want.contains(j))
                .count();
        }
        let recall = hits as f64 / (sample.len() * k) as f64;
        println!("{method}\tN={n}\tk={k}\t{secs:.1} s\trecall@{k} {recall:.4}\t{note}");
    }
    Ok(())
}
