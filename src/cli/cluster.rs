//! `ivt-explore cluster`: hierarchical clustering in the original space, cut to K clusters.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ivt::cluster::{self, ClusterError};

use super::common::args::{CacheArgs, InputArgs, choice, npy_output};
use super::common::load::load;
use super::common::progress::Bar;

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Number of clusters to cut the dendrogram into.
    #[arg(long, default_value_t = 20)]
    clusters: usize,
    /// How the distance between clusters is defined (euclidean distances between items).
    #[arg(long, value_parser = choice::<ivt::cluster::Linkage>(), default_value_t = ivt::cluster::Linkage::Ward)]
    linkage: ivt::cluster::Linkage,
    /// Output cluster id per item (.npy, int64).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(args: &ClusterArgs) -> anyhow::Result<ExitCode> {
    if let Some(out) = &args.output {
        npy_output(out)?;
    }
    let cache = args.cache.cache();
    if args.output.is_none() && cache.dir().is_none() {
        anyhow::bail!("nothing would keep the clusters: give -o FILE, or drop --no-cache");
    }
    let data = load(&args.input, &cache)?;
    let n = data.n_items();
    if args.clusters == 0 || args.clusters > n {
        return Err(anyhow::Error::new(ClusterError::BadK {
            k: args.clusters,
            n_items: n,
        })
        .context(format!("--clusters {}", args.clusters)));
    }
    let bar = Bar::new("distances");
    let got = cluster::cached(
        &data.features.values(),
        data.features.dim(),
        args.linkage,
        &cache,
        &bar,
    )
    .context("cannot cluster")?;
    drop(bar);
    for w in &got.warnings {
        eprintln!("warning: {w}");
    }
    match got.computed_secs {
        None => eprintln!("{} linkage dendrogram from the cache", args.linkage.name()),
        Some(secs) => eprintln!(
            "{} linkage dendrogram of {n} items in {secs:.2} s",
            args.linkage.name()
        ),
    }
    let started = std::time::Instant::now();
    let labels = got
        .dendrogram
        .cut(args.clusters)
        .with_context(|| format!("--clusters {}", args.clusters))?;
    let cut_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut sizes = vec![0usize; args.clusters];
    for &l in &labels {
        sizes[l as usize] += 1;
    }
    let mut sorted = sizes.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    eprintln!(
        "cut into {} clusters in {cut_ms:.2} ms; sizes {}",
        args.clusters,
        sorted
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    if let Some(classes) = &data.classes {
        println!(
            "adjusted Rand index against the classes: {:.4}",
            cluster::adjusted_rand_index(&labels, &classes.labels.codes)
        );
    }
    if let Some(out) = &args.output {
        let ids: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
        ivt::npy::write(out, &[n], &ids)
            .with_context(|| format!("cannot write {}", out.display()))?;
        eprintln!("wrote {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
