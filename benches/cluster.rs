//! Cutting a dendrogram into K clusters, at Fashion-MNIST's size (70,000 items): the explorer
//! does this on every move of the cluster slider. `cargo bench --bench cluster`; under
//! `cargo test` it runs once as a smoke test. Figures: benches/README.md.

use criterion::{Criterion, criterion_group, criterion_main};
use ivt::cluster::{Dendrogram, Merge};

/// A valid dendrogram of `n` items: items paired in a shuffled order, then clusters joined
/// first-come, like an agglomerative run (the cut's cost depends only on N).
fn synthetic(n: usize) -> Dendrogram {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut open: Vec<(u32, u32)> = (0..n as u32).map(|i| (i, 1)).collect();
    let mut merges = Vec::with_capacity(n - 1);
    let mut height = 0.0f32;
    while open.len() > 1 {
        let i = (next() % open.len() as u64) as usize;
        let (a, sa) = open.swap_remove(i);
        let j = (next() % open.len() as u64) as usize;
        let (b, sb) = open.swap_remove(j);
        height += 1.0;
        merges.push(Merge {
            a: a.min(b),
            b: a.max(b),
            height,
            size: sa + sb,
        });
        open.push(((n + merges.len() - 1) as u32, sa + sb));
    }
    Dendrogram { n_items: n, merges }
}

fn bench_cut(c: &mut Criterion) {
    let n = if std::env::args().any(|a| a == "--bench") {
        70_000
    } else {
        1_000
    };
    let tree = synthetic(n);
    let mut group = c.benchmark_group(format!("dendrogram_cut_{n}"));
    for k in [10, 100, 1000] {
        group.bench_function(format!("k{k}"), |b| {
            b.iter(|| tree.cut(k).expect("cut"));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_cut);
criterion_main!(benches);
