//! Per-interaction work of the explorer at a million points, off the GPU: a lasso over half
//! the map, labelling what it selected, and a recolour by a metadata column (issue #21 bars:
//! each within two frames),
//! against the single-thread passes they replaced, in the same run. `cargo bench --bench viewer`; under `cargo test` it runs once on 10,000
//! points as a smoke test. Figures: benches/README.md.

use bevy::math::Vec2;
use criterion::{Criterion, criterion_group, criterion_main};
use ivt::dataset::ItemId;
use ivt::viewer::ColorState;
use ivt::viewer::colors::ColorSource;
use ivt::viewer::colors::{Coloring, Colormap};
use ivt::viewer::lasso::select_in_polygon;

/// Points on a 1600 × 900 screen, in clusters of different spread (as a map has).
fn screen_points(n: usize) -> Vec<Option<Vec2>> {
    let mut rng = ivt::rng::XorShift::new(0x2545_f491_4f6c_dd1d);
    let mut unit = move || (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
    (0..n)
        .map(|i| {
            let c = (i % 50) as f32;
            let centre = Vec2::new(100.0 + (c * 97.0) % 1400.0, 100.0 + (c * 53.0) % 700.0);
            let spread = 20.0 + (i % 7) as f32 * 25.0;
            Some(centre + (Vec2::new(unit(), unit()) - 0.5) * spread)
        })
        .collect()
}

/// A hand-drawn-like lasso: a wobbly loop of 400 vertices around the left half of the screen.
fn lasso() -> Vec<Vec2> {
    (0..400)
        .map(|k| {
            let a = k as f32 / 400.0 * std::f32::consts::TAU;
            let r = 1.0 + 0.04 * (a * 13.0).sin();
            Vec2::new(420.0 + 430.0 * r * a.cos(), 450.0 + 470.0 * r * a.sin())
        })
        .collect()
}

/// The pass before issue #21: one thread, a bounding box, every edge for every point.
fn single_thread(points: &[Option<Vec2>], polygon: &[Vec2]) -> Vec<usize> {
    let (min, max) = polygon.iter().fold(
        (Vec2::splat(f32::INFINITY), Vec2::splat(f32::NEG_INFINITY)),
        |(lo, hi), p| (lo.min(*p), hi.max(*p)),
    );
    let inside = |p: Vec2| {
        let mut odd = false;
        let mut j = polygon.len() - 1;
        for i in 0..polygon.len() {
            let (a, b) = (polygon[i], polygon[j]);
            if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x) {
                odd = !odd;
            }
            j = i;
        }
        odd
    };
    points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let p = (*p)?;
            (p.cmpge(min).all() && p.cmple(max).all() && inside(p)).then_some(i)
        })
        .collect()
}

/// A million items under `cargo bench`; few under `cargo test --benches` (a smoke run).
fn n_items() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        1_000_000
    } else {
        10_000
    }
}

fn bench_lasso(c: &mut Criterion) {
    let n = n_items();
    let points = screen_points(n);
    let polygon = lasso();
    let selected = select_in_polygon(n, |i| points[i], &polygon);
    assert_eq!(selected, single_thread(&points, &polygon));
    eprintln!("lasso selects {} of {n} points", selected.len());
    let mut group = c.benchmark_group(format!("lasso_{n}"));
    group.sample_size(10);
    group.bench_function("single_thread_all_edges", |b| {
        b.iter(|| single_thread(&points, &polygon))
    });
    group.bench_function("select_in_polygon", |b| {
        b.iter(|| select_in_polygon(n, |i| points[i], &polygon))
    });
    group.finish();
}

/// Colouring a million points by a categorical column (1,000 values) and by a numeric one:
/// what a click on the colour menu costs before the GPU buffer is written.
fn bench_recolour(c: &mut Criterion) {
    let n = n_items();
    let state = |coloring: Coloring| ColorState {
        source: ColorSource::Uniform,
        colormap: Colormap::default(),
        coloring,
        hidden: vec![false; 1000],
        version: 0,
        representatives: Vec::new(),
        tree: None,
        search: None,
    };
    let categorical = state(Coloring::Categorical {
        names: (0..1000).map(|k| format!("class{k}")).collect(),
        codes: (0..n).map(|i| (i * 7919 % 1000) as u32).collect(),
        counts: vec![n / 1000; 1000],
    });
    let numeric = state(Coloring::Numeric {
        values: (0..n).map(|i| (i % 997) as f32).collect(),
        min: 0.0,
        max: 996.0,
        colormap: Colormap::default(),
    });
    let mut group = c.benchmark_group(format!("recolour_{n}"));
    group.sample_size(10);
    for (name, s) in [("categorical", &categorical), ("numeric", &numeric)] {
        group.bench_function(format!("{name}: one thread"), |b| {
            b.iter(|| {
                (0..n)
                    .map(|i| s.point_color(ItemId(i as u32)))
                    .collect::<Vec<_>>()
            })
        });
        group.bench_function(format!("{name}: point_colors"), |b| {
            b.iter(|| s.point_colors(n))
        });
    }
    group.finish();
}

/// What labelling a lasso's selection costs after the selection (half a million items): the
/// batch, its journal record written and synced, the state replayed — on the main thread
/// today. A fresh journal for each run, so the file does not grow across iterations.
fn bench_label_selection(c: &mut Criterion) {
    let n = n_items();
    let points = screen_points(n);
    let items: Vec<ItemId> = select_in_polygon(n, |i| points[i], &lasso())
        .into_iter()
        .map(|i| ItemId(i as u32))
        .collect();
    eprintln!("labelling {} of {n} items", items.len());
    let mut group = c.benchmark_group(format!("label_selection_{n}"));
    group.sample_size(10);
    group.bench_function("assign, append (fsync), replay", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let (journal, state, _) = ivt::labels::journal::open(dir.path(), n).expect("open");
                (dir, journal, state)
            },
            |(dir, mut journal, mut state)| {
                let batch = state.assign(&items, Some("positive"), 1).expect("a change");
                journal.append(&batch).expect("append");
                state.replay(&batch);
                (dir, journal, state)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    // Its parts, to see where the time goes.
    let empty = ivt::labels::LabelState::default();
    let batch = empty.assign(&items, Some("positive"), 1).expect("a change");
    group.bench_function("part: assign", |b| {
        b.iter(|| empty.assign(&items, Some("positive"), 1))
    });
    group.bench_function("part: the record as JSON", |b| {
        b.iter(|| serde_json::to_vec(&batch).map(|v| v.len()))
    });
    group.bench_function("part: replay", |b| {
        b.iter_batched(
            ivt::labels::LabelState::default,
            |mut state| {
                state.replay(&batch);
                state
            },
            criterion::BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_lasso, bench_recolour, bench_label_selection);
criterion_main!(benches);
