//! `ivt-explore knn`: the k-nearest-neighbour graph of a data set, through the cache.

use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use ivt::cache::Cache;
use ivt::dataset::Features;
use ivt::knn::{self, KnnGraph, Method};
use ivt::progress::Observer;

use super::KnnArgs;

pub fn run(args: &KnnArgs) -> anyhow::Result<ExitCode> {
    let method = match (args.exact, args.approx) {
        (true, _) => Method::Exact,
        (_, true) => Method::Approximate,
        _ => Method::Auto {
            max_exact_work: knn::DEFAULT_MAX_EXACT_WORK,
        },
    };
    for out in [&args.output, &args.distances_out].into_iter().flatten() {
        super::npy_output(out)?;
    }
    let cache = args.cache.cache();
    let keeps_nothing = args.output.is_none() && args.distances_out.is_none() && !args.check_recall;
    if keeps_nothing && cache.dir().is_none() {
        anyhow::bail!(
            "nothing would keep the graph: give -o FILE (and/or --distances-out FILE), or drop --no-cache"
        );
    }
    let data = super::embed::load(&args.input, &args.cache.cache())?;
    let request = Request {
        k: args.k,
        metric: args.metric,
        method,
        pca: args.pca,
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

/// A progress bar on stderr when it is a terminal; silent otherwise (logs, tests). A
/// computation in stages gets the stage's name beside the bar, and when the bar goes, one line
/// on stderr of how long each stage took (also in logs: it says where a long run went).
pub struct Bar {
    bar: ProgressBar,
    what: String,
    /// Each stage's name and start, in order.
    stages: std::sync::Mutex<Vec<(String, std::time::Instant)>>,
}

impl Bar {
    pub fn new(what: &str) -> Self {
        Self::styled(what, "{msg} [{bar:30}] {pos}/{len} ({eta} left)")
    }

    /// A bar that also shows the rate (items per second), for work counted in images.
    pub fn with_rate(what: &str) -> Self {
        Self::styled(what, "{msg} [{bar:30}] {pos}/{len} {per_sec} ({eta} left)")
    }

    fn styled(what: &str, template: &str) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_owned());
        Self {
            bar,
            what: what.to_owned(),
            stages: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Replace the text before the bar (e.g. the current loss).
    pub fn set_message(&self, what: String) {
        self.bar.set_message(what);
    }

    /// "k-means 1.2 s · filing 3.4 s · …" for the stages seen, or `None` before any.
    fn stage_times(&self) -> Option<String> {
        let stages = self.stages.lock().ok()?;
        if stages.is_empty() {
            return None;
        }
        let ends = stages
            .iter()
            .skip(1)
            .map(|(_, start)| *start)
            .chain([std::time::Instant::now()]);
        let parts: Vec<String> = stages
            .iter()
            .zip(ends)
            .map(|((name, start), end)| {
                format!("{name} {:.1} s", end.duration_since(*start).as_secs_f64())
            })
            .collect();
        Some(parts.join(" · "))
    }
}

impl Observer for Bar {
    fn stage(&self, name: &str) {
        if let Ok(mut stages) = self.stages.lock() {
            stages.push((name.to_owned(), std::time::Instant::now()));
        }
        self.bar.set_message(format!("{}: {name}", self.what));
        self.bar.set_length(0);
        self.bar.reset();
    }

    fn progress(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }

    fn cancelled(&self) -> bool {
        super::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        if let Some(times) = self.stage_times() {
            eprintln!("{}: {times}", self.what);
        }
    }
}

pub use ivt::knn::cached::Request;

/// The graph given with `--knn` (and `--knn-distances`), checked against the features, with
/// what was done to it on the way in reported on stderr; `None` when no graph was given.
pub fn imported(
    args: &super::GraphArgs,
    features: &Features,
    metric: ivt::knn::Metric,
) -> anyhow::Result<Option<Given>> {
    let Some(path) = &args.knn else {
        return Ok(None);
    };
    let got = ivt::knn::import::read_graph(
        path,
        args.knn_distances.as_deref(),
        &features.values(),
        features.dim(),
        metric,
    )
    .with_context(|| {
        format!(
            "cannot use the kNN graph given with --knn {}",
            path.display()
        )
    })?;
    for note in &got.notes {
        eprintln!("note: {note}");
    }
    eprintln!(
        "kNN graph from {}: {} items × {} neighbours",
        path.display(),
        got.graph.n_items(),
        got.graph.k
    );
    Ok(Some(Given {
        graph: got.graph,
        path: path.clone(),
    }))
}

/// A graph given with `--knn`, with the file it came from (for errors about it).
pub struct Given {
    pub graph: KnnGraph,
    pub path: std::path::PathBuf,
}

impl Given {
    /// The graph cut to the `k` a computation needs, or an error naming the file and saying
    /// what to change when it holds fewer (`what` names the consumer and its option).
    pub fn enough(&self, k: usize, what: &str) -> anyhow::Result<KnnGraph> {
        anyhow::ensure!(
            self.graph.k >= k,
            "{}: the graph given with --knn has {} neighbours per item; {what} needs {k}: give a \
             graph with more neighbours, or ask for fewer",
            self.path.display(),
            self.graph.k
        );
        Ok(self.graph.truncated(k))
    }
}

/// The graph for these features and parameters: from the cache, or computed and stored, with
/// what happened reported on stderr.
pub fn graph(features: &Features, req: &Request, cache: &Cache) -> anyhow::Result<KnnGraph> {
    let bar = Bar::new("kNN");
    let got =
        knn::cached::graph(features, req, cache, &bar).context("cannot compute the kNN graph")?;
    drop(bar);
    if let Some(ratio) = got.pca_explained {
        eprintln!(
            "PCA to {} dimensions keeps {:.1}% of the variance (neighbours are approximate)",
            req.pca.unwrap_or_default(),
            100.0 * ratio
        );
    }
    if let Some(e) = &got.estimate {
        eprintln!("{}", e.summary(req.k));
    }
    match got.computed_secs {
        None => eprintln!("kNN graph ({}) from the cache", got.params),
        Some(secs) => eprintln!(
            "kNN graph ({}) of {} items in {secs:.2} s",
            got.params,
            features.n_items()
        ),
    }
    // Last, where it is seen: a poor recall matters more than how long it took.
    for w in &got.warnings {
        eprintln!("warning: {w}");
    }
    Ok(got.graph)
}
