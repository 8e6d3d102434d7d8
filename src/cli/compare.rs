//! `ivt-explore compare A B`: which items' neighbourhoods differ between two embeddings of the
//! same items (`ivt::metrics::compare`) — per item the share of its k nearest neighbours the two
//! spaces agree on, the items that changed most, and with classes each space's kNN accuracy.
//! A summary on stdout (or `--json`, every item included), every item in `-o FILE.csv`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use ivt::dataset::Dataset;
use ivt::knn::{KnnGraph, Method, Metric, RecallEstimate};
use ivt::metrics::compare::{Comparison, Summary, compare};

use super::common::args::{CacheArgs, GraphArgs, InputArgs, choice, csv_output};
use super::common::graph::{Request, graph_reported, imported};
use super::common::load::{class_name, file_name, load, load_second};

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Embedding A (and the data set: --images, --labels, --metadata read with it).
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// Embedding B of the same items, row for row: a file or folder as for A, read with A's
    /// --npz-key, --vector-column and --tensor. Omitted with --model-b.
    #[arg(value_name = "B", conflicts_with = "model_b")]
    b: Option<PathBuf>,
    /// An ONNX image encoder for B, run on A's images with A's preprocessing options (A is then
    /// an image folder embedded with --model).
    #[arg(long, value_name = "MODEL.onnx", requires = "model")]
    model_b: Option<PathBuf>,
    #[command(flatten)]
    cache: CacheArgs,
    /// A's kNN graph, given (as for every command).
    #[command(flatten)]
    graph: GraphArgs,
    /// B's kNN graph, given (.npy of neighbour indices, N × k).
    #[arg(long, value_name = "FILE.npy")]
    knn_b: Option<PathBuf>,
    /// Neighbours compared per item.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Distance in both spaces.
    #[arg(long, value_parser = choice::<Metric>(), default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Exact graphs at any size (default: exact while N² · D ≤ 15,000² · 784, approximate
    /// above, with each graph's estimated recall printed).
    #[arg(long)]
    exact: bool,
    /// Write every item's overlap, rank and (with classes) votes to this CSV.
    #[arg(short, long, value_name = "FILE.csv")]
    output: Option<PathBuf>,
    /// Print the summary and every item as JSON.
    #[arg(long)]
    json: bool,
}

/// Items listed as changed most in the summary.
const CHANGED_MOST: usize = 10;

pub fn run(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    csv_output(args.output.as_deref(), "the comparison")?;
    if args.b.is_none() && args.model_b.is_none() {
        bail!(
            "compare needs embedding B: a second features file or folder, or --model-b MODEL.onnx"
        );
    }
    let cache = args.cache.cache();
    let a = load(&args.input, &cache)?;
    let b = load_b(args, &cache)?;
    let (n, n_b) = (a.n_items(), b.features.n_items());
    if n != n_b {
        bail!(
            "A holds {n} items and B {n_b}: compare needs two embeddings of the same items, row for row"
        );
    }
    let k = args.k;
    if k == 0 || k >= n {
        bail!(
            "-k {k}: must be between 1 and the number of items less one ({})",
            n.saturating_sub(1)
        );
    }
    let request = Request {
        method: if args.exact {
            Method::Exact
        } else {
            Request::auto(k, args.metric).method
        },
        ..Request::auto(k, args.metric)
    };
    let given_b = GraphArgs {
        knn: args.knn_b.clone(),
        knn_distances: None,
    };
    let mut graphs = Vec::new();
    for (space, data, given, flag) in [
        ("A", &a, &args.graph, "--knn"),
        ("B", &b, &given_b, "--knn-b"),
    ] {
        eprintln!("{space}:");
        let found = match imported(given, &data.features, args.metric)? {
            Some(g) => (
                g.enough(k, &format!("compare -k (the graph of {flag})"))?,
                None,
            ),
            None => graph_reported(&data.features, &request, &cache)?,
        };
        graphs.push(found);
    }
    let [(graph_a, estimate_a), (graph_b, estimate_b)]: [(KnnGraph, Option<RecallEstimate>); 2] =
        graphs
            .try_into()
            .unwrap_or_else(|_| unreachable!("two spaces, two graphs"));
    let codes = a.classes.as_ref().map(|c| c.labels.codes.as_slice());
    let names: &[String] = a.classes.as_ref().map_or(&[], |c| &c.labels.names);
    let comparison = compare(&graph_a, &graph_b, k, codes)?;
    let summary = comparison.summary(codes);
    let report = Report {
        data: &a,
        comparison: &comparison,
        summary: &summary,
        codes,
        names,
        estimates: [estimate_a.as_ref(), estimate_b.as_ref()],
    };
    if let Some(path) = &args.output {
        ivt::atomic::write_with(path, |f| f.write_all(report.csv().as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        serde_json::to_writer(&mut out, &report.json())?;
        writeln!(out)?;
    } else {
        out.write_all(report.text().as_bytes())?;
    }
    out.flush()?;
    if let Some(path) = &args.output {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Embedding B: the second path read with A's reading options (not its images, classes or
/// metadata, which are A's), or A's images through the second encoder.
fn load_b(args: &CompareArgs, cache: &ivt::cache::Cache) -> anyhow::Result<Dataset> {
    if let Some(model) = &args.model_b {
        let mut input = args.input.clone();
        input.model.model = Some(model.clone());
        return load(&input, cache).context("cannot embed B with --model-b");
    }
    match &args.b {
        Some(path) => load_second(Some(&args.input.options), path),
        None => bail!("compare needs embedding B"),
    }
}

/// What is printed and written, from one comparison.
struct Report<'a> {
    data: &'a Dataset,
    comparison: &'a Comparison,
    summary: &'a Summary,
    codes: Option<&'a [u32]>,
    names: &'a [String],
    /// Each graph's recall estimate (`None`: exact, or given with --knn).
    estimates: [Option<&'a RecallEstimate>; 2],
}

impl Report<'_> {
    fn class(&self, i: usize) -> &str {
        class_name(self.names, self.codes, i)
    }

    fn class_name(&self, code: u32) -> &str {
        self.names.get(code as usize).map_or("", String::as_str)
    }

    fn correct(&self, i: usize) -> Option<(bool, bool)> {
        self.codes.and_then(|c| self.comparison.correct(c, i))
    }

    fn csv(&self) -> String {
        let field = ivt::dataset::csv_field;
        let c = self.comparison;
        let mut out = String::from("item,file,class,overlap,rank");
        if c.votes.is_some() {
            out.push_str(",majority_a,majority_b,correct_a,correct_b");
        }
        out.push('\n');
        for i in 0..c.n_items() {
            let _ = write!(
                out,
                "{i},{},{},{:.4},{}",
                field(&file_name(self.data, i as u32)),
                field(self.class(i)),
                c.overlap[i],
                c.rank[i]
            );
            if let (Some((va, vb)), Some((ra, rb))) = (&c.votes, self.correct(i)) {
                let _ = write!(
                    out,
                    ",{},{},{},{}",
                    field(self.class_name(va[i])),
                    field(self.class_name(vb[i])),
                    u8::from(ra),
                    u8::from(rb)
                );
            }
            out.push('\n');
        }
        out
    }

    fn graphs_json(&self) -> serde_json::Value {
        let one = |e: Option<&RecallEstimate>| match e {
            Some(e) => serde_json::json!({ "exact": false, "estimated_recall": e.recall }),
            None => serde_json::json!({ "exact": true }),
        };
        serde_json::json!({ "a": one(self.estimates[0]), "b": one(self.estimates[1]) })
    }

    fn json(&self) -> serde_json::Value {
        let (c, s) = (self.comparison, self.summary);
        let quantiles: serde_json::Map<String, serde_json::Value> = s
            .quantiles
            .iter()
            .map(|&(q, v)| (format!("{q}"), v.into()))
            .collect();
        let classes: Vec<serde_json::Value> = s
            .classes
            .iter()
            .map(|cc| {
                serde_json::json!({
                    "class": self.class_name(cc.class),
                    "items": cc.items,
                    "mean_overlap": cc.mean_overlap,
                    "knn_accuracy_a": cc.accuracy_a,
                    "knn_accuracy_b": cc.accuracy_b,
                })
            })
            .collect();
        let item = |i: usize| {
            let mut v = serde_json::json!({
                "item": i,
                "file": file_name(self.data, i as u32),
                "overlap": c.overlap[i],
                "rank": c.rank[i],
            });
            if self.codes.is_some() {
                v["class"] = self.class(i).into();
            }
            if let Some((ra, rb)) = self.correct(i) {
                v["correct_a"] = ra.into();
                v["correct_b"] = rb.into();
            }
            v
        };
        let changed: Vec<serde_json::Value> = c
            .order
            .iter()
            .take(CHANGED_MOST)
            .map(|&i| item(i as usize))
            .collect();
        serde_json::json!({
            "summary": {
                "items": c.n_items(),
                "k": c.k,
                "mean_overlap": s.mean_overlap,
                "overlap_quantiles": quantiles,
                "knn_accuracy_a": s.knn_accuracy_a,
                "knn_accuracy_b": s.knn_accuracy_b,
                "classes": classes,
                "changed_most": changed,
                "graphs": self.graphs_json(),
            },
            "items": (0..c.n_items()).map(item).collect::<Vec<_>>(),
        })
    }

    fn text(&self) -> String {
        let (c, s) = (self.comparison, self.summary);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} items, {} nearest neighbours each in A and in B",
            c.n_items(),
            c.k
        );
        let quantiles: Vec<String> = s
            .quantiles
            .iter()
            .map(|(q, v)| format!("{:.0}% {v:.2}", q * 100.0))
            .collect();
        let _ = writeln!(
            out,
            "neighbours shared (overlap): mean {:.3}; quantiles {}",
            s.mean_overlap,
            quantiles.join(" · ")
        );
        for (space, e) in ["A", "B"].iter().zip(self.estimates) {
            if let Some(e) = e {
                let _ = writeln!(
                    out,
                    "  {space}'s graph is approximate (estimated recall@{} {:.3}): its misses \
                     count as changes",
                    c.k, e.recall
                );
            }
        }
        if let (Some(acc_a), Some(acc_b)) = (s.knn_accuracy_a, s.knn_accuracy_b) {
            let _ = writeln!(
                out,
                "kNN accuracy (majority of {} neighbours): A {acc_a:.4}, B {acc_b:.4} ({:+.4})",
                c.k,
                acc_b - acc_a
            );
            let width = self
                .names
                .iter()
                .map(|n| n.chars().count())
                .max()
                .unwrap_or(5)
                .max(5);
            let _ = writeln!(
                out,
                "  {:width$}  {:>7}  {:>7}  {:>6}  {:>6}  {:>7}",
                "class", "items", "overlap", "acc A", "acc B", "change"
            );
            for cc in s.by_gain() {
                let (a, b) = (cc.accuracy_a.unwrap_or(0.0), cc.accuracy_b.unwrap_or(0.0));
                let _ = writeln!(
                    out,
                    "  {:width$}  {:>7}  {:>7.3}  {a:>6.3}  {b:>6.3}  {:>+7.3}",
                    self.class_name(cc.class),
                    cc.items,
                    cc.mean_overlap,
                    b - a
                );
            }
        }
        let _ = writeln!(out, "changed most (fewest neighbours shared):");
        for &i in c.order.iter().take(CHANGED_MOST) {
            let i = i as usize;
            let file = file_name(self.data, i as u32);
            let mut line = format!("  item {i:<8} overlap {:.2}", c.overlap[i]);
            if self.codes.is_some() {
                let _ = write!(line, "  {}", self.class(i));
            }
            if !file.is_empty() {
                let _ = write!(line, "  {file}");
            }
            let _ = writeln!(out, "{line}");
        }
        out
    }
}
