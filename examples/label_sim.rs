//! Simulated labelling (issue #41's benchmark): an oracle answers the probe's suggestions with
//! the true class, ten at a time, from ten random seed labels; after each batch the probe's F1
//! (one class against the rest) or accuracy (all classes) on the unlabelled items is recorded.
//! Strategies: uncertain, diverse, random picks with the probe, and random picks with the
//! logistic regression alone (the plain baseline).
//!
//! `cargo run --release --no-default-features --example label_sim -- [DATA] [--budget N]
//! [--repeats R] [--curves FILE.csv]`, DATA a folder or file as `ivt-explore` reads it (default:
//! the built-in demo, the Fashion-MNIST test set); `--curves` writes every mean score
//! (`task,picks,labels,score`) for `benches/label_sim_plot.py`. Figures: benches/README.md.

use ivt::dataset::{DataSource, InputSpec};
use ivt::knn::Metric;
use ivt::knn::cached::{Request, graph};
use ivt::probe::{self, Labelled, Logistic, Probe, ProbeInput, Scaler, Strategy};
use ivt::rng::SplitMix;

/// What is scored: one class against the rest, or every class.
#[derive(Clone, Copy)]
enum Task {
    OneVsRest(u32),
    All,
}

#[derive(Clone, PartialEq)]
enum Picks {
    Probe(Strategy),
    RandomProbe,
    RandomLogistic,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (budget, repeats) = (flag("--budget", 200), flag("--repeats", 3));
    let curves_path = args
        .iter()
        .position(|a| a == "--curves")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let mut curves = String::from("task,picks,labels,score\n");
    let source = match args.first().filter(|a| !a.starts_with("--")) {
        Some(path) => DataSource::Path(path.into()),
        None => DataSource::Demo,
    };
    let data = ivt::dataset::load(&InputSpec::new(source))?;
    let classes = data.classes.as_ref().ok_or("the data set has no classes")?;
    let truth: Vec<u32> = classes.labels.codes.clone();
    let values = data.features.values();
    let dim = data.features.dim();
    let n = data.n_items();
    let knn = graph(
        &data.features,
        &Request::auto(probe::propagate::NEIGHBOURS, Metric::Euclidean),
        &ivt::cache::Cache::default_location(),
        &(),
    )?
    .graph;
    let scaler = Scaler::of(&values, dim);
    let input = ProbeInput {
        features: &values,
        dim,
        scaler: &scaler,
        graph: Some(&knn),
    };
    println!(
        "{} · {n} items × {dim} · budget {budget} labels, {repeats} repeats",
        data.name
    );
    let checkpoints = [20usize, 50, 100, 200, 400]
        .into_iter()
        .filter(|&c| c <= budget);
    let checkpoints: Vec<usize> = checkpoints.collect();
    let tasks = [
        (Task::OneVsRest(0), classes.labels.names[0].clone()),
        (Task::OneVsRest(6), classes.labels.names[6].clone()),
        (Task::All, "all classes".to_owned()),
    ];
    for (task, name) in tasks {
        let target: Vec<u32> = match task {
            Task::OneVsRest(c) => truth.iter().map(|&t| u32::from(t == c)).collect(),
            Task::All => truth.clone(),
        };
        let metric = match task {
            Task::OneVsRest(_) => "F1",
            Task::All => "accuracy",
        };
        println!("\n{name} ({metric} on the unlabelled items, mean of {repeats})");
        println!(
            "| picks | {} |",
            checkpoints
                .iter()
                .map(|c| format!("{c} labels"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        for picks in [
            Picks::Probe(Strategy::Uncertain),
            Picks::Probe(Strategy::Diverse),
            Picks::RandomProbe,
            Picks::RandomLogistic,
        ] {
            let mut mean = vec![0.0; budget / 10];
            for r in 0..repeats {
                let curve = simulate(&input, &target, task, &picks, budget, r as u64);
                for (m, s) in mean.iter_mut().zip(&curve) {
                    *m += s / repeats as f64;
                }
            }
            let sums: Vec<f64> = checkpoints
                .iter()
                .map(|&c| mean.get(c / 10 - 1).copied().unwrap_or(0.0) * repeats as f64)
                .collect();
            let label = match &picks {
                Picks::Probe(s) => format!("probe, {s}"),
                Picks::RandomProbe => "probe, random picks".to_owned(),
                Picks::RandomLogistic => "logistic regression alone, random picks".to_owned(),
            };
            for (round, m) in mean.iter().enumerate() {
                curves.push_str(&format!(
                    "\"{name}\",\"{label}\",{},{m:.4}\n",
                    (round + 1) * 10
                ));
            }
            println!(
                "| {label} | {} |",
                sums.iter()
                    .map(|s| format!("{:.3}", s / repeats as f64))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
    }
    if let Some(path) = curves_path {
        std::fs::write(&path, curves)?;
        eprintln!("wrote {path}");
    }
    Ok(())
}

/// The score after every ten labels (index 0: 10 labels, the seeds).
fn simulate(
    input: &ProbeInput<'_>,
    target: &[u32],
    task: Task,
    picks: &Picks,
    budget: usize,
    seed: u64,
) -> Vec<f64> {
    let n = target.len();
    let mut rng = SplitMix::new(0x5eed ^ seed);
    let mut random_item = || (rng.next_u64() % n as u64) as u32;
    let mut is_labelled = vec![false; n];
    let mut items: Vec<u32> = Vec::new();
    let add = |i: u32, items: &mut Vec<u32>, is_labelled: &mut Vec<bool>| {
        if !is_labelled[i as usize] {
            is_labelled[i as usize] = true;
            items.push(i);
        }
    };
    while items.len() < 10 {
        add(random_item(), &mut items, &mut is_labelled);
    }
    let names: Vec<String> = match task {
        Task::OneVsRest(_) => vec!["rest".into(), "class".into()],
        Task::All => (0..=target.iter().copied().max().unwrap_or(0))
            .map(|c| c.to_string())
            .collect(),
    };
    let mut curve = Vec::new();
    loop {
        let labelled = Labelled {
            names: names.clone(),
            items: items.clone(),
            codes: items.iter().map(|&i| target[i as usize]).collect(),
        };
        let (seen, kinds) = present(&labelled);
        let probs: Option<Vec<f32>> = match picks {
            _ if probe::check_labels(&seen).is_err() => None,
            Picks::RandomLogistic => {
                let model = Logistic::fit(
                    input.features,
                    input.dim,
                    input.scaler,
                    &labelled.items,
                    &labelled.codes,
                    names.len(),
                );
                Some(model.predict(input.features))
            }
            _ => Some(fit_all(input, &seen, &kinds, names.len())),
        };
        curve.push(match &probs {
            Some(p) => score(p, names.len(), target, &is_labelled, task),
            None => 0.0,
        });
        if items.len() >= budget {
            return curve;
        }
        let next: Vec<u32> = match (&probs, picks) {
            (Some(p), Picks::Probe(strategy)) => {
                let probe = Probe {
                    names: names.clone(),
                    probs: p.clone(),
                    cv_accuracy: None,
                    per_label: Vec::new(),
                    spread: true,
                };
                probe::suggest(&probe, strategy, 10, &is_labelled, input.graph).unwrap_or_default()
            }
            _ => (0..10).map(|_| random_item()).collect(),
        };
        for i in next {
            add(i, &mut items, &mut is_labelled);
        }
        // Random draws may repeat a labelled item: top up to the next ten.
        while !items.len().is_multiple_of(10) {
            add(random_item(), &mut items, &mut is_labelled);
        }
    }
}

/// The labels with only the classes that have items (a class never labelled yet is not a kind
/// the probe can learn), renumbered, and the task's class of each of their codes.
fn present(labelled: &Labelled) -> (Labelled, Vec<u32>) {
    let mut kinds: Vec<u32> = labelled.codes.clone();
    kinds.sort_unstable();
    kinds.dedup();
    let seen = Labelled {
        names: kinds.iter().map(|k| k.to_string()).collect(),
        items: labelled.items.clone(),
        codes: labelled
            .codes
            .iter()
            .map(|c| kinds.binary_search(c).unwrap_or(0) as u32)
            .collect(),
    };
    (seen, kinds)
}

/// The probe fitted on the classes labelled so far (`seen`, their task classes `kinds`), as
/// probabilities over all `c` of the task's classes (the others get none).
fn fit_all(input: &ProbeInput<'_>, seen: &Labelled, kinds: &[u32], c: usize) -> Vec<f32> {
    let Ok(sub) = probe::fit(input, seen).map(|p| p.probs) else {
        return vec![1.0 / c as f32; input.features.len() / input.dim * c];
    };
    let m = kinds.len();
    let n = sub.len() / m;
    let mut out = vec![0f32; n * c];
    for i in 0..n {
        for (j, &k) in kinds.iter().enumerate() {
            out[i * c + k as usize] = sub[i * m + j];
        }
    }
    out
}

fn score(p: &[f32], c: usize, target: &[u32], labelled: &[bool], task: Task) -> f64 {
    let predicted = |i: usize| {
        let row = &p[i * c..][..c];
        (0..c)
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0) as u32
    };
    let unlabelled = (0..target.len()).filter(|&i| !labelled[i]);
    match task {
        Task::All => {
            let (mut right, mut all) = (0usize, 0usize);
            for i in unlabelled {
                right += usize::from(predicted(i) == target[i]);
                all += 1;
            }
            right as f64 / all.max(1) as f64
        }
        Task::OneVsRest(_) => {
            let (mut tp, mut fp, mut fneg) = (0usize, 0usize, 0usize);
            for i in unlabelled {
                match (predicted(i), target[i]) {
                    (1, 1) => tp += 1,
                    (1, _) => fp += 1,
                    (_, 1) => fneg += 1,
                    _ => {}
                }
            }
            2.0 * tp as f64 / (2 * tp + fp + fneg).max(1) as f64
        }
    }
}
