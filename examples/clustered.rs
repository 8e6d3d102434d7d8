//! Write the seeded clustered benchmark set (`ivt::synth`) as a data set folder:
//! `features.npy` (float32 N × D) and `labels.npy` (the cluster of each row).
//!
//! `cargo run --release --no-default-features --example clustered -- OUT_DIR [N [DIM [CLUSTERS [SEED]]]]`
//! (defaults: the million-item set, 1,000,000 × 128 in 1,000 clusters, seed 0).

use anyhow::Context;
use ivt::synth::{ClusteredSpec, clustered};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = std::path::PathBuf::from(args.next().context(
        "usage: clustered OUT_DIR [N [DIM [CLUSTERS [SEED]]]] (default 1000000 128 1000 0)",
    )?);
    let mut spec = ClusteredSpec::million();
    let mut next = |name: &str, value: &mut usize| -> anyhow::Result<()> {
        if let Some(v) = args.next() {
            *value = v
                .parse()
                .with_context(|| format!("{name} must be a whole number, not {v:?}"))?;
        }
        Ok(())
    };
    next("N", &mut spec.n)?;
    next("DIM", &mut spec.dim)?;
    next("CLUSTERS", &mut spec.clusters)?;
    let mut seed = 0usize;
    next("SEED", &mut seed)?;
    spec.seed = seed as u64;
    anyhow::ensure!(
        spec.n > 0 && spec.dim > 0 && spec.clusters > 0,
        "N, DIM and CLUSTERS must be positive"
    );
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let (features, labels) = clustered(&spec);
    ivt::npy::write(&out.join("features.npy"), &[spec.n, spec.dim], &features)?;
    ivt::npy::write(&out.join("labels.npy"), &[spec.n], &labels)?;
    println!("{}: {spec:?}", out.display());
    Ok(())
}
