//! `ivt-explore knn`: the k-nearest-neighbour graph of a data set, through the cache.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ivt::knn::{self, Method, Metric};

use super::common::args::{CacheArgs, InputArgs, choice, npy_output};
use super::common::graph::{Request, graph};
use super::common::load::load;

#[derive(Debug, Args)]
pub struct KnnArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Neighbours per item (self excluded).
    #[arg(short, default_value_t = 30)]
    k: usize,
    /// Distance in the original space.
    #[arg(long, value_parser = choice::<Metric>(), default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Exact search. Default: exact while N² · D ≤ 15,000² · 784, approximate above.
    #[arg(long, conflicts_with = "approx")]
    exact: bool,
    /// Approximate search, deterministic, at any size: an inverted file (k-means cells, as
    /// many probed per item as a sample of 512 items shows the target recall needs). The
    /// recall measured on 512 other items is printed, with a warning below 0.90.
    #[arg(long)]
    approx: bool,
    /// The recall@k the approximate search aims for (0 < R < 1; default 0.95): higher costs
    /// more cells probed per item (1 M × 128 clustered: 0.95 in 9 s, 0.98 in 11 s).
    #[arg(long, value_name = "R", value_parser = target_recall, conflicts_with = "exact")]
    target_recall: Option<f64>,
    /// Also compute the exact graph (cached) and print recall@k of the one computed.
    #[arg(long)]
    check_recall: bool,
    /// Reduce the features to this many principal components before searching: faster for
    /// large D, but the neighbours are then approximate (see --check-recall).
    #[arg(long, value_name = "N")]
    pca: Option<usize>,
    /// Output neighbour indices (.npy, int64, N × k); written atomically.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output distances (.npy, float32, N × k), in the metric's units.
    #[arg(long, value_name = "FILE")]
    distances_out: Option<PathBuf>,
}

/// `--target-recall`: a recall strictly between 0 and 1 (1 asks for the exact search).
fn target_recall(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r > 0.0 && r < 1.0 => Ok(r),
        Ok(1.0) => Err("1 is the exact search: use --exact".to_owned()),
        _ => Err(format!("{s:?} is not a recall between 0 and 1 (e.g. 0.98)")),
    }
}

pub fn run(args: &KnnArgs) -> anyhow::Result<ExitCode> {
    let method = match (args.exact, args.approx) {
        (true, _) => Method::Exact,
        (_, true) => Method::Approximate,
        _ => Method::Auto {
            max_exact_work: knn::DEFAULT_MAX_EXACT_WORK,
        },
    };
    for out in [&args.output, &args.distances_out].into_iter().flatten() {
        npy_output(out)?;
    }
    let cache = args.cache.cache();
    let keeps_nothing = args.output.is_none() && args.distances_out.is_none() && !args.check_recall;
    if keeps_nothing && cache.dir().is_none() {
        anyhow::bail!(
            "nothing would keep the graph: give -o FILE (and/or --distances-out FILE), or drop --no-cache"
        );
    }
    let data = load(&args.input, &args.cache.cache())?;
    let request = Request {
        k: args.k,
        metric: args.metric,
        method,
        pca: args.pca,
        target_recall: args.target_recall,
    };
    let graph = graph(&data.features, &request, &cache)?;
    if args.check_recall {
        let exact = if request.pca.is_none() && method.is_exact(data.n_items(), data.features.dim())
        {
            graph.clone()
        } else {
            let truth = Request {
                method: Method::Exact,
                pca: None,
                ..request
            };
            self::graph(&data.features, &truth, &cache)?
        };
        println!("recall@{} {:.4}", args.k, knn::recall(&graph, &exact));
    }
    if let Some(out) = &args.output {
        let indices: Vec<i64> = graph.indices.iter().map(|&j| i64::from(j)).collect();
        ivt::npy::write(out, &[graph.n_items(), graph.k], &indices)?;
        eprintln!("wrote {}", out.display());
    }
    if let Some(out) = &args.distances_out {
        ivt::npy::write(out, &[graph.n_items(), graph.k], &graph.distances)?;
        eprintln!("wrote {}", out.display());
    }
    if args.output.is_none() && args.distances_out.is_none() {
        eprintln!("(no -o given: the graph is in the cache only)");
    }
    Ok(ExitCode::SUCCESS)
}
