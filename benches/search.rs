//! The search language over a million items (issue #22 bar: ≤ 100 ms for 1 M file names and
//! three metadata columns): a substring, a regex, a numeric comparison and a combined query,
//! against a plain loop that lower-cases each name per query (the obvious way) in the same run.
//! `cargo bench --bench search`; under `cargo test` it runs once on 10,000 items as a smoke
//! test. Figures: benches/README.md.

use criterion::{Criterion, criterion_group, criterion_main};
use ivt::dataset::{Categorical, Column, ColumnValues, Metadata};
use ivt::search::{Query, SearchIndex};

fn bench_search(c: &mut Criterion) {
    let n = if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        10_000
    };
    // ImageNet-like names: "n01440764/n01440764_10026.JPEG", every 50th one flipped.
    let files: Vec<String> = (0..n)
        .map(|i| {
            let class = 1_440_764 + (i % 1000) * 37;
            let flip = if i % 50 == 0 { "_flip" } else { "" };
            format!("n{class:08}/n{class:08}_{i}{flip}.JPEG")
        })
        .collect();
    let class_names: Vec<String> = (0..n).map(|i| format!("class{}", i % 1000)).collect();
    let classes = Categorical::from_strings(&class_names);
    let split: Vec<&str> = (0..n).map(|i| ["train", "val", "test"][i % 3]).collect();
    let metadata = Metadata {
        columns: vec![
            Column {
                name: "split".into(),
                values: ColumnValues::Categorical(Categorical::from_strings(&split)),
            },
            Column {
                name: "confidence".into(),
                values: ColumnValues::Numeric((0..n).map(|i| (i % 997) as f64 / 997.0).collect()),
            },
            Column {
                name: "width".into(),
                values: ColumnValues::Numeric((0..n).map(|i| (200 + i % 600) as f64).collect()),
            },
        ],
    };
    let index = SearchIndex::from_fields(n, &files, Some(&classes), Some(&metadata), Vec::new());
    let mut group = c.benchmark_group(format!("search_{n}"));
    group.sample_size(10);
    for expr in [
        "_FLIP",
        "/_1234\\d*\\.jpeg$/",
        "confidence<0.3",
        "_flip split:val confidence<0.3 -class:class7",
    ] {
        let query = Query::parse(expr, &index).expect("parse");
        eprintln!("`{expr}`: {} of {n}", index.run(&query).len());
        group.bench_function(expr, |b| b.iter(|| index.run(&query)));
    }
    // The obvious loop: one thread, each name lower-cased per query.
    group.bench_function("baseline: lowercase + contains, one thread", |b| {
        b.iter(|| {
            files
                .iter()
                .enumerate()
                .filter(|(_, f)| f.to_lowercase().contains("_flip"))
                .map(|(i, _)| i as u32)
                .collect::<Vec<u32>>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_search);
criterion_main!(benches);
