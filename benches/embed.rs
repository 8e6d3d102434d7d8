//! Embedding 10,000 32×32 PNGs with the test encoder (tests/data/encoder.onnx): the pipeline with
//! every core decoding and inferring against the same pipeline held to one decoding and one
//! inference thread, in the same run; and the CPU utilisation of a full run, which must show
//! both cores busy (the bar: ≥ 80 %).
//!
//! `cargo bench --bench embed`; `$IVT_BENCH_IMAGES` replaces the generated images with a folder.
//! Needs ONNX Runtime (see `ivt-explore embed --help`); without it, says so and does nothing.
//! Under `cargo test` it runs once on 100 images as a smoke test. Figures: benches/README.md.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use image::Rgb;
use ivt::cache::Cache;
use ivt::embed::{EmbedOptions, embed_images};

/// CPU seconds (user + system) this process has used, from /proc (clock ticks of 1/100 s,
/// Linux's fixed USER_HZ).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn run(
    model: &Path,
    paths: &[PathBuf],
    options: &EmbedOptions,
    pool: &rayon::ThreadPool,
) -> Duration {
    let start = Instant::now();
    let got = pool.install(|| embed_images(model, paths, options, &Cache::disabled(), &()));
    let e = got.expect("embeds");
    assert_eq!(e.vectors.len(), paths.len() * e.dim);
    start.elapsed()
}

fn bench_embed(c: &mut Criterion) {
    if let Err(looked) = ivt::embed::runtime::find() {
        eprintln!(
            "SKIPPED embed bench: ONNX Runtime not found (looked in {} places); {}",
            looked.len(),
            ivt::embed::runtime::install_hint()
        );
        return;
    }
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/encoder.onnx");
    let dir = tempfile::tempdir().expect("tmp");
    let paths = common::bench_images(dir.path(), 32, (10_000, 100), |i, x, y| {
        Rgb([
            ((x * 9 + i) % 256) as u8,
            ((y * 7 + x * i) % 256) as u8,
            ((i * 13) % 256) as u8,
        ])
    });
    let n = paths.len();
    let all = rayon::ThreadPoolBuilder::new().build().expect("pool");
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let both = EmbedOptions::default();
    let single = EmbedOptions {
        threads: Some(1),
        ..EmbedOptions::default()
    };

    // One plain run after a warm-up (page cache, runtime loaded): images/s and how busy the
    // cores were.
    run(&model, &paths, &both, &all);
    let cores = all.current_num_threads();
    let cpu0 = cpu_seconds();
    let wall = run(&model, &paths, &both, &all).as_secs_f64();
    if let (Some(a), Some(b)) = (cpu0, cpu_seconds()) {
        eprintln!(
            "embed {n} images: {wall:.2} s, {:.0} images/s, CPU {:.0} % of {cores} cores",
            n as f64 / wall,
            100.0 * (b - a) / wall / cores as f64
        );
    }

    let mut group = c.benchmark_group(format!("embed_{n}_images"));
    group.sample_size(10);
    group.bench_function("one_thread_each", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(&model, &paths, &single, &one)).sum())
    });
    group.bench_function("all_cores_decoding_one_inference_thread", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(&model, &paths, &single, &all)).sum())
    });
    group.bench_function("all_cores_overlapped", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run(&model, &paths, &both, &all)).sum())
    });
    group.finish();
}

criterion_group!(benches, bench_embed);
criterion_main!(benches);
