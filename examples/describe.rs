//! Using the library without the viewer: load a data set and print its shape and statistics.
//!
//! `cargo run --no-default-features --example describe -- features.npy`
//! (no argument: the built-in demo).

use ivt::dataset::{self, DataSource, InputSpec};

fn main() -> anyhow::Result<()> {
    let source = std::env::args_os()
        .nth(1)
        .map_or(DataSource::Demo, |p| DataSource::Path(p.into()));
    let data = dataset::load(&InputSpec::new(source))?;
    let stats = data.features.stats();
    println!(
        "{}: {} × {}, values {}…{}, mean {:.4}",
        data.name,
        data.n_items(),
        data.features.dim(),
        stats.min,
        stats.max,
        stats.mean
    );
    Ok(())
}
