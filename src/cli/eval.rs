//! `ivt-explore eval DATA LAYOUT.npy`: trustworthiness, kNN preservation and kNN label accuracy
//! of a layout, with run_anchors.py's definitions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use ivt::knn::{Method, Metric};
use ivt::metrics::score;

use super::common::args::{CacheArgs, GraphArgs, InputOptions};
use super::common::graph::{Request, graph, imported};
use super::common::load::load_timed;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The data set the layout was computed from (as for `info`).
    #[arg(value_name = "DATA")]
    pub(super) data: PathBuf,
    /// Layout to score (.npy, N × 2 or N × 3).
    #[arg(value_name = "LAYOUT.npy")]
    layout: PathBuf,
    #[command(flatten)]
    input: InputOptions,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    graph: GraphArgs,
    /// Neighbours for every metric.
    #[arg(long = "n-neighbors", default_value_t = 10)]
    n_neighbors: usize,
    /// Trustworthiness on a fixed-seed subsample of this many items when N is larger
    /// (as run_anchors.py does); 0 = all items.
    #[arg(long, default_value_t = 5000)]
    tw_sample: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let data = load_timed(&args.input.spec(Some(args.data.clone())))?;
    let layout = ivt::npy::read_matrix_file(&args.layout)?;
    let n = data.n_items();
    if layout.n_rows != n {
        bail!(
            "{} has {} rows, the data set {n}",
            args.layout.display(),
            layout.n_rows
        );
    }
    if !(1..=3).contains(&layout.n_cols) {
        bail!(
            "{} has {} columns; a layout has 1 to 3",
            args.layout.display(),
            layout.n_cols
        );
    }
    if let Some(bad) = layout.data.iter().position(|v| !v.is_finite()) {
        bail!(
            "{} holds a non-finite value at row {}, column {}",
            args.layout.display(),
            bad / layout.n_cols,
            bad % layout.n_cols
        );
    }
    let k = args.n_neighbors;
    let labels = data.classes.as_ref().map(|c| &c.labels.codes[..]);
    let given = imported(&args.graph, &data.features, Metric::Euclidean)?;
    let values = data.features.values();
    let whole = given.is_some() || score::scores_every_item(n, data.features.dim());
    let original = if whole {
        let request = Request {
            k,
            metric: Metric::Euclidean,
            method: Method::Exact,
            pca: None,
            target_recall: None,
        };
        Some(match given {
            Some(g) => g.enough(k, "--n-neighbors")?,
            None => graph(&data.features, &request, &args.cache.cache())?,
        })
    } else {
        None
    };
    let scores = score::score(
        &score::ScoreInput {
            features: &values,
            dim: data.features.dim(),
            layout: &layout.data,
            layout_dim: layout.n_cols,
            labels,
            k,
            tw_sample: args.tw_sample,
        },
        original.as_ref(),
    )
    .context("cannot compute the neighbours of the layout or of the sampled items")?;
    let score::Scores {
        trustworthiness: tw,
        tw_points,
        knn_preservation: preservation,
        knn_accuracy: accuracy,
        neighbour_points,
        ..
    } = scores;
    if args.json {
        let value = serde_json::json!({
            "n": n,
            "n_neighbors": k,
            "trustworthiness": tw,
            "tw_points": tw_points,
            "knn_preservation": preservation,
            "knn_accuracy": accuracy,
            "neighbour_points": neighbour_points,
        });
        println!("{value}");
    } else {
        println!("trustworthiness({k})   {tw:.5}   (over {tw_points} items)");
        let over = if neighbour_points < n {
            format!("   (over {neighbour_points} items: too many for the exact graph)")
        } else {
            String::new()
        };
        println!("knn_preservation({k})  {preservation:.5}{over}");
        match accuracy {
            Some(a) => println!("knn_accuracy({k})      {a:.5}{over}"),
            None => println!("knn_accuracy({k})      - (no labels: pass --labels)"),
        }
    }
    Ok(ExitCode::SUCCESS)
}
