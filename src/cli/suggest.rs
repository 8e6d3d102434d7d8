//! `ivt-explore suggest`: what to label next, from the labels so far — the probe (`ivt::probe`)
//! fitted on the labels journal, its cross-validated accuracy, and the items it suggests; every
//! item's probabilities in `-o probs.csv`. With `ivt-explore label` a script drives the same
//! loop as the explorer: suggest, label, suggest again.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use ivt::knn::Metric;
use ivt::labels::journal;
use ivt::probe::{self, Labelled, Probe, ProbeInput, Scaler, Strategy};

use super::common::args::{CacheArgs, GraphArgs, InputArgs, choice, csv_output};
use super::common::graph::{Request, graph, imported};
use super::common::load::{file_name, load};

#[derive(Debug, Args)]
pub struct SuggestArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// The kNN graph, given (otherwise from the cache or computed).
    #[command(flatten)]
    graph: GraphArgs,
    /// The labels folder (the explorer's --labels-out; default: ./ivt-labels/<data set name>).
    #[arg(long, value_name = "DIR")]
    labels_out: Option<PathBuf>,
    /// How many items to suggest.
    #[arg(short, default_value_t = 20)]
    n: usize,
    /// uncertain (the probe's closest calls), diverse (the same, no two from one
    /// neighbourhood) or likely:LABEL (the likeliest unlabelled items of LABEL).
    #[arg(long, default_value = "diverse", value_parser = parse_strategy)]
    strategy: Strategy,
    /// Distance of the kNN graph the probe spreads labels over.
    #[arg(long, value_parser = choice::<Metric>(), default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Print the suggestions and the probe as JSON.
    #[arg(long)]
    json: bool,
    /// Write every item's predicted label and probabilities to this CSV.
    #[arg(short, long, value_name = "FILE.csv")]
    output: Option<PathBuf>,
}

fn parse_strategy(s: &str) -> Result<Strategy, String> {
    s.parse()
}

/// Neighbours per item of the graph the labels spread over.
const GRAPH_K: usize = probe::propagate::NEIGHBOURS;
/// Below this cross-validated accuracy, or on fewer labels, the estimate comes with a warning.
const POOR_ACCURACY: f64 = 0.75;
const FEW_LABELS: usize = 20;

pub fn run(args: &SuggestArgs) -> anyhow::Result<ExitCode> {
    csv_output(args.output.as_deref(), "every item's probabilities")?;
    if args.n == 0 {
        bail!("-n 0: ask for at least one suggestion");
    }
    let cache = args.cache.cache();
    let data = load(&args.input, &cache)?;
    let n = data.n_items();
    let dir = args
        .labels_out
        .clone()
        .unwrap_or_else(|| ivt::labels::default_dir(&data.name));
    // Read only: an explorer may be labelling in this folder meanwhile.
    let (state, warnings) = journal::read(&dir, n)
        .with_context(|| format!("cannot read the labels in {}", dir.display()))?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    let labelled = Labelled::of(&state);
    probe::check_labels(&labelled).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} (ivt-explore label {} --labels-out {} --items … --label …)",
            dir.display(),
            args.input
                .data
                .as_deref()
                .map_or(String::new(), |p| p.display().to_string()),
            dir.display()
        )
    })?;
    if let Strategy::Likely(label) = &args.strategy
        && !labelled.names.contains(label)
    {
        bail!(
            "--strategy likely:{label}: no item carries {label:?} (labels: {})",
            labelled.names.join(", ")
        );
    }
    let graph = match imported(&args.graph, &data.features, args.metric)? {
        Some(given) => given.graph,
        None => graph(&data.features, &Request::auto(GRAPH_K, args.metric), &cache)?,
    };
    let values = data.features.values();
    let dim = data.features.dim();
    let started = std::time::Instant::now();
    let scaler = Scaler::of(&values, dim);
    let input = ProbeInput {
        features: &values,
        dim,
        scaler: &scaler,
        graph: Some(&graph),
    };
    let mut probe = probe::fit(&input, &labelled)?;
    let fitted = started.elapsed().as_secs_f64();
    let accuracy = probe::cross_validate(&input, &labelled)?;
    probe.cv_accuracy = Some(accuracy);
    let picked = probe::suggest(
        &probe,
        &args.strategy,
        args.n,
        &labelled.mask(n),
        Some(&graph),
    )?;
    let secs = started.elapsed().as_secs_f64();
    let per_label: Vec<String> = probe
        .names
        .iter()
        .zip(&probe.per_label)
        .map(|(l, c)| format!("{l} {c}"))
        .collect();
    eprintln!(
        "probe: {} labels ({}), cross-validated accuracy {accuracy:.3}; logistic regression + \
         spreading over the kNN graph, fitted in {fitted:.2} s ({secs:.2} s with the \
         cross-validation)",
        probe.n_labels(),
        per_label.join(", "),
    );
    if probe.n_labels() < FEW_LABELS || accuracy < POOR_ACCURACY {
        eprintln!(
            "warning: the probe rests on {} labels with accuracy {accuracy:.2}: its probabilities \
             are rough — label the suggestions and ask again",
            probe.n_labels(),
        );
    }
    if let Some(path) = &args.output {
        write_csv(path, &data, &probe)?;
        eprintln!("wrote {} ({n} items)", path.display());
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        let json = serde_json::json!({
            "suggestions": picked.iter().map(|&i| suggestion_json(&data, &probe, i)).collect::<Vec<_>>(),
            "probe": {
                "cv_accuracy": probe.cv_accuracy,
                "labels": probe.n_labels(),
                "per_label": probe.names.iter().zip(&probe.per_label).map(|(l, c)| (l.clone(), serde_json::json!(c))).collect::<serde_json::Map<_, _>>(),
                "strategy": args.strategy.to_string(),
            },
        });
        writeln!(out, "{json}")?;
    } else {
        writeln!(out, "{} suggestions ({}):", picked.len(), args.strategy)?;
        for &i in &picked {
            let p: Vec<String> = probe
                .names
                .iter()
                .zip(probe.row(i as usize))
                .map(|(l, p)| format!("{l} {p:.3}"))
                .collect();
            writeln!(
                out,
                "  {i:>8}  {:<32}  {}",
                file_name(&data, i),
                p.join("  ")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn suggestion_json(data: &ivt::dataset::Dataset, probe: &Probe, i: u32) -> serde_json::Value {
    let p: serde_json::Map<String, serde_json::Value> = probe
        .names
        .iter()
        .zip(probe.row(i as usize))
        .map(|(l, &p)| (l.clone(), serde_json::json!(p)))
        .collect();
    serde_json::json!({
        "item": i,
        "file": file_name(data, i),
        "predicted": probe.names[probe.predicted(i as usize)],
        "p": p,
    })
}

/// `item,file,predicted,p_<label>…`, every item, written whole or not at all.
fn write_csv(
    path: &std::path::Path,
    data: &ivt::dataset::Dataset,
    probe: &Probe,
) -> anyhow::Result<()> {
    ivt::atomic::write_with(path, |f| {
        let mut w = csv::Writer::from_writer(std::io::BufWriter::new(f));
        let mut header = vec!["item".to_owned(), "file".to_owned(), "predicted".to_owned()];
        header.extend(probe.names.iter().map(|l| format!("p_{l}")));
        w.write_record(&header)?;
        for i in 0..probe.n_items() {
            let mut row = vec![
                i.to_string(),
                file_name(data, i as u32),
                probe.names[probe.predicted(i)].clone(),
            ];
            row.extend(probe.row(i).iter().map(|p| format!("{p:.5}")));
            w.write_record(&row)?;
        }
        w.flush()?;
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}
