//! kNN speed, exact, NN-descent and the PCA-projected search: `cargo bench --bench knn`. Reads Fashion-MNIST from
//! `IVT_BENCH_DATA` (a folder made by scripts/make_datasets.py, default
//! `../data/fashion_mnist`) at N = 10,000 and 70,000; without it, and under `cargo test`,
//! times a small synthetic set instead so the bench always runs.

use criterion::{Criterion, criterion_group, criterion_main};
use ivt::knn::{Metric, NnDescentParams, ProjectedParams, exact_knn, nn_descent, projected_knn};

const K: usize = 10;

fn synthetic(n: usize, dim: usize) -> Vec<f32> {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    (0..n * dim)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 1000) as f32 / 1000.0
        })
        .collect()
}

fn bench_knn(c: &mut Criterion) {
    let full = std::env::args().any(|a| a == "--bench");
    let dir =
        std::env::var("IVT_BENCH_DATA").unwrap_or_else(|_| "../data/fashion_mnist".to_owned());
    let path = std::path::Path::new(&dir).join("features.npy");
    let mut group = c.benchmark_group("knn_k10");
    group.sample_size(10);
    match ivt::npy::read_matrix_file(&path) {
        Ok(m) if full => {
            for n in [10_000, 70_000].into_iter().filter(|&n| n <= m.n_rows) {
                let data = &m.data[..n * m.n_cols];
                group.bench_function(format!("exact_fashion_mnist_{n}x{}", m.n_cols), |b| {
                    b.iter(|| exact_knn(data, m.n_cols, K, Metric::Euclidean, &()).expect("knn"));
                });
                group.bench_function(format!("nndescent_fashion_mnist_{n}x{}", m.n_cols), |b| {
                    let p = NnDescentParams::for_k(K);
                    b.iter(|| {
                        nn_descent(data, m.n_cols, K, Metric::Euclidean, &p, &()).expect("knn")
                    });
                });
                group.bench_function(format!("projected_fashion_mnist_{n}x{}", m.n_cols), |b| {
                    let p = ProjectedParams::for_k(K, m.n_cols);
                    b.iter(|| {
                        projected_knn(data, m.n_cols, K, Metric::Euclidean, &p, &()).expect("knn")
                    });
                });
            }
        }
        _ => {
            let (n, dim) = if full { (10_000, 784) } else { (500, 32) };
            let data = synthetic(n, dim);
            group.bench_function(format!("exact_synthetic_{n}x{dim}"), |b| {
                b.iter(|| exact_knn(&data, dim, K, Metric::Euclidean, &()).expect("knn"));
            });
            group.bench_function(format!("nndescent_synthetic_{n}x{dim}"), |b| {
                let p = NnDescentParams::for_k(K);
                b.iter(|| nn_descent(&data, dim, K, Metric::Euclidean, &p, &()).expect("knn"));
            });
            group.bench_function(format!("projected_synthetic_{n}x{dim}"), |b| {
                let p = ProjectedParams::for_k(K, dim);
                b.iter(|| projected_knn(&data, dim, K, Metric::Euclidean, &p, &()).expect("knn"));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_knn);
criterion_main!(benches);
