//! Loading speed of feature files: `.npy` float32 (C order), float64 and Fortran order, at the
//! size of Fashion-MNIST (70,000 × 784). `cargo bench --bench load`; the peak-memory figure
//! comes from `/usr/bin/time -v ivt-explore info FILE` (see benches/README.md).

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use ivt::dataset::load_features;

const COLS: usize = 784;

/// Fashion-MNIST's row count under `cargo bench`; a small file when `cargo test` runs the bench
/// once as a smoke test, so the test suite does not write 900 MB of temporary files.
fn rows() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        70_000
    } else {
        1_000
    }
}

fn write_npy(path: &Path, rows: usize, descr: &str, fortran: bool, elem: usize) {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': ({rows}, {COLS}), }}\n",
        if fortran { "True" } else { "False" }
    );
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    // Small integers are exact in every float width; their bytes depend on the width.
    for i in 0..rows * COLS {
        let v = (i % 251) as f64;
        match elem {
            4 => bytes.extend_from_slice(&(v as f32).to_le_bytes()),
            _ => bytes.extend_from_slice(&v.to_le_bytes()),
        }
    }
    std::fs::write(path, bytes).expect("write bench file");
}

fn bench_load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let rows = rows();
    let mut group = c.benchmark_group(format!("load_features_{rows}x{COLS}"));
    group.sample_size(10);
    for (name, descr, fortran, elem) in [
        ("f32_c", "<f4", false, 4),
        ("f64_c", "<f8", false, 8),
        ("f32_fortran", "<f4", true, 4),
    ] {
        let path = dir.path().join(format!("{name}.npy"));
        write_npy(&path, rows, descr, fortran, elem);
        group.bench_function(name, |b| {
            b.iter(|| load_features(&path, None).expect("loads"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_load);
criterion_main!(benches);
