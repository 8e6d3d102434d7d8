//! Building the thumbnail cache: our parallel builder against a plain single-threaded
//! decode-and-resize loop over the same images, in the same run.
//!
//! `cargo bench --bench thumbs` uses the images of `$IVT_BENCH_IMAGES` (a folder, e.g.
//! Fashion-MNIST's 70,000 PNGs) or, without it, 4,000 generated 28×28 PNGs; under `cargo test`
//! it runs once on 200 generated images as a smoke test. Figures: benches/README.md.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use image::Rgb;
use ivt::cache::Cache;
use ivt::dataset::{ImageFiles, ImageOrder, Images};

fn bench_thumbs(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let paths = common::bench_images(dir.path(), 28, (4_000, 200), |i, x, y| {
        Rgb([
            ((x * 9 + i) % 256) as u8,
            ((y * 7) % 256) as u8,
            (i % 256) as u8,
        ])
    });
    let n = paths.len();
    let images = Images::Files(ImageFiles {
        root: dir.path().to_path_buf(),
        order: ImageOrder::Natural,
        sizes: vec![Some((28, 28)); n],
        paths: paths.clone().into(),
        failures: Vec::new(),
        unused_files: 0,
        identities: Default::default(),
        sampled: false,
    });
    let tiers = ivt::thumbs::tiers_for(32).expect("tiers");
    let mut group = c.benchmark_group(format!("thumbnail_cache_{n}_images"));
    group.sample_size(10);
    // The baseline: what a straightforward tool does, one image after another into memory.
    group.bench_function("single_threaded_loop", |b| {
        b.iter(|| {
            let mut cells = Vec::with_capacity(n * tiers.len());
            for p in &paths {
                cells.extend(ivt::thumbs::decode_file(p, &tiers).expect("decodes"));
            }
            cells
        });
    });
    // Ours, cold every time (a fresh cache folder): parallel decode, written to the cache file.
    group.bench_function("open_or_build_cold", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("cache dir"),
            |cache_dir| {
                let cache = Cache::at(cache_dir.path());
                ivt::thumbs::open_or_build(&images, 32, &cache, &()).expect("builds");
                cache_dir
            },
            criterion::BatchSize::PerIteration,
        );
    });
    // A relaunch: the cache exists and every image is unchanged.
    let warm_dir = tempfile::tempdir().expect("cache dir");
    let warm = Cache::at(warm_dir.path());
    ivt::thumbs::open_or_build(&images, 32, &warm, &()).expect("builds");
    group.bench_function("open_or_build_cached", |b| {
        b.iter(|| ivt::thumbs::open_or_build(&images, 32, &warm, &()).expect("opens"));
    });
    group.finish();
}

criterion_group!(benches, bench_thumbs);
criterion_main!(benches);
