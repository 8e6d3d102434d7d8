//! The probe at the size (#41 bar: refit and predict 10⁶ × 128 items from 1,000 labels
//! within 1 s on 2 cores): the logistic regression's fit and prediction, the spreading over the
//! kNN graph, the whole refit (both, averaged) and the cross-validation, for two labels and for
//! nine; the scaler (once per data set) and a plain pass over the features (the memory-bound
//! floor of any prediction) as baselines in the same run.
//! `cargo bench --bench probe`; under `cargo test` it runs once on 10,000 items as a smoke test.
//! Figures: benches/README.md.

use criterion::{Criterion, criterion_group, criterion_main};
use ivt::dataset::Features;
use ivt::knn::Metric;
use ivt::knn::cached::{Request, graph};
use ivt::probe::{self, Labelled, Logistic, ProbeInput, Scaler, propagate};
use ivt::synth::{ClusteredSpec, clustered};

fn bench_probe(c: &mut Criterion) {
    let bench = std::env::args().any(|a| a == "--bench");
    let spec = ClusteredSpec {
        n: if bench { 1_000_000 } else { 10_000 },
        ..ClusteredSpec::million()
    };
    let (values, clusters) = clustered(&spec);
    let (n, dim) = (spec.n, spec.dim);
    let features =
        Features::new(n, dim, values.clone(), "float32", "synth", "synth").expect("features");
    let started = std::time::Instant::now();
    let got = graph(
        &features,
        &Request::auto(probe::propagate::NEIGHBOURS, Metric::Euclidean),
        &ivt::cache::Cache::disabled(),
        &(),
    )
    .expect("graph");
    eprintln!(
        "kNN graph of {n} items in {:.1} s (not part of the probe)",
        started.elapsed().as_secs_f64()
    );
    let knn = got.graph;
    let scaler = Scaler::of(&values, dim);
    let input = ProbeInput {
        features: &values,
        dim,
        scaler: &scaler,
        graph: Some(&knn),
    };
    let mut group = c.benchmark_group(format!("probe_{n}x{dim}"));
    group.sample_size(10);
    group.bench_function("baseline: one pass summing the features", |b| {
        b.iter(|| values.iter().map(|&v| f64::from(v)).sum::<f64>())
    });
    group.bench_function("scaler (once per data set)", |b| {
        b.iter(|| Scaler::of(&values, dim))
    });
    // 1,000 labelled items, every 997th: two labels (half the clusters each), and nine.
    for labels in [2u32, 9] {
        let items: Vec<u32> = (0..1000u32).map(|i| (i * 997) % n as u32).collect();
        let codes: Vec<u32> = items
            .iter()
            .map(|&i| {
                let cluster = clusters[i as usize] as u32;
                if labels == 2 {
                    u32::from(cluster % 2 == 1)
                } else {
                    cluster % labels
                }
            })
            .collect();
        let names: Vec<String> = (0..labels).map(|k| format!("l{k}")).collect();
        let labelled = Labelled {
            names,
            items: items.clone(),
            codes: codes.clone(),
        };
        let c = labels as usize;
        group.bench_function(format!("{labels} labels: logistic fit"), |b| {
            b.iter(|| Logistic::fit(&values, dim, &scaler, &items, &codes, c))
        });
        let model = Logistic::fit(&values, dim, &scaler, &items, &codes, c);
        group.bench_function(format!("{labels} labels: logistic predict"), |b| {
            b.iter(|| model.predict(&values))
        });
        group.bench_function(format!("{labels} labels: spread over the graph"), |b| {
            b.iter(|| propagate::spread(&knn, &items, &codes, c))
        });
        group.bench_function(format!("{labels} labels: refit and predict"), |b| {
            b.iter(|| probe::fit(&input, &labelled).expect("probe"))
        });
        group.bench_function(format!("{labels} labels: cross-validate (5 folds)"), |b| {
            b.iter(|| probe::cross_validate(&input, &labelled).expect("cv"))
        });
        eprintln!(
            "{labels} labels: cross-validated accuracy {:.3} on {} labels",
            probe::cross_validate(&input, &labelled).expect("cv"),
            labelled.items.len()
        );
    }
    group.finish();
}

criterion_group!(benches, bench_probe);
criterion_main!(benches);
