//! `ivt-explore eval DATA LAYOUT.npy`: trustworthiness, kNN preservation and kNN label accuracy
//! of a layout, with run_anchors.py's definitions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use ivt::knn::{self, Method, Metric};
use ivt::metrics;
use ivt::numeric::sample_items;

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

/// The subsample seed: fixed so repeated evaluations score the same items.
const SAMPLE_SEED: u64 = 0;
/// Items whose neighbours are compared when the data set is too large for the exact graph
/// (kNN preservation and accuracy then cost |sample| · N · D, not N² · D: at a million items
/// the whole exact graph would take hours).
const NEIGHBOUR_SAMPLE: usize = 5000;

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
    let whole = given.is_some()
        || (Method::Auto {
            max_exact_work: knn::DEFAULT_MAX_EXACT_WORK,
        })
        .is_exact(n, data.features.dim());
    let (preservation, accuracy, neighbour_points) = if whole {
        let request = Request {
            k,
            metric: Metric::Euclidean,
            method: Method::Exact,
            pca: None,
        };
        let original = match given {
            Some(g) => g.enough(k, "--n-neighbors")?,
            None => graph(&data.features, &request, &args.cache.cache())?,
        };
        let in_layout = knn::exact_knn(&layout.data, layout.n_cols, k, Metric::Euclidean, &())
            .context("cannot compute the layout's neighbours")?;
        (
            metrics::knn_preservation(&original, &in_layout, k),
            labels.map(|l| metrics::knn_accuracy(&in_layout, l, k)),
            n,
        )
    } else {
        let sample = sample_items(n, NEIGHBOUR_SAMPLE, SAMPLE_SEED);
        let features = &data.features;
        let original = knn::exact_neighbours_of(
            &features.values(),
            features.dim(),
            &sample,
            k,
            Metric::Euclidean,
        )
        .context("cannot compute the sampled items' neighbours")?;
        let in_layout =
            knn::exact_neighbours_of(&layout.data, layout.n_cols, &sample, k, Metric::Euclidean)
                .context("cannot compute the layout's neighbours")?;
        (
            metrics::sampled_knn_preservation(&original, &in_layout, k),
            labels.map(|l| metrics::sampled_knn_accuracy(&sample, &in_layout, l, k)),
            sample.len(),
        )
    };
    let subset = (args.tw_sample > 0 && n > args.tw_sample)
        .then(|| sample_items(n, args.tw_sample, SAMPLE_SEED));
    let tw = metrics::trustworthiness(
        &data.features.values(),
        data.features.dim(),
        &layout.data,
        layout.n_cols,
        k,
        subset.as_deref(),
    );
    let tw_points = subset.as_ref().map_or(n, Vec::len);
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
