//! `ivt-explore query DATA --where EXPR`: the items the explorer's search box finds for the same
//! text (one parser and matcher, `ivt::search`), as a table or JSON. `--image IMG`: the items
//! nearest to an image, embedded by the data set's encoder (`--model`), in the original space.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use ivt::dataset::{Dataset, ItemId};
use ivt::knn::Metric;
use ivt::labels::journal;
use ivt::search::{Query, SearchIndex};

use super::common::args::{CacheArgs, InputArgs, choice};
use super::common::load::{embed_one, load};

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["expr", "image"])))]
pub struct QueryArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// The search, as typed in the explorer's box: words and `/regex/` over file names,
    /// classes and text columns; `column:value`, `column>0.3`, `label:positive`, `item<100`;
    /// `-term` negates; all terms must match.
    #[arg(long = "where", value_name = "EXPR", conflicts_with = "image")]
    expr: Option<String>,
    /// An image to find the nearest items of: embedded by --model with the data set's
    /// preprocessing, then searched exactly in the original feature space.
    #[arg(long, value_name = "IMG")]
    image: Option<PathBuf>,
    /// Neighbours printed for --image.
    #[arg(short, long, default_value_t = 16, requires = "image")]
    k: usize,
    /// Distance for --image (the one the data set's graph uses).
    #[arg(long, value_parser = choice::<Metric>(), default_value_t = Metric::Euclidean, requires = "image")]
    metric: Metric,
    /// The labels folder the explorer wrote (default: ./ivt-labels/<data set name>, if present).
    #[arg(long, value_name = "DIR")]
    labels_out: Option<PathBuf>,
    /// Print the matches as a JSON array.
    #[arg(long)]
    json: bool,
    /// Print at most N matches (the count line says how many there are).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

pub fn run(args: &QueryArgs) -> anyhow::Result<ExitCode> {
    let data = load(&args.input, &args.cache.cache())?;
    let dir = args
        .labels_out
        .clone()
        .unwrap_or_else(|| ivt::labels::default_dir(&data.name));
    // Labels are searched when the journal exists; a folder given explicitly must have one.
    let labels = if args.labels_out.is_some() || dir.join(journal::JOURNAL_FILE).exists() {
        let (state, warnings) =
            journal::read(&dir, data.n_items()).context("cannot read the labels")?;
        for w in warnings {
            eprintln!("warning: {w}");
        }
        Some(state)
    } else {
        None
    };
    let label_of = |i: usize| {
        labels
            .as_ref()
            .and_then(|s| s.get(ItemId(i as u32)))
            .map(str::to_owned)
    };
    let row = |i: u32| Row::of(&data, labels.as_ref(), i);
    if let Some(image) = &args.image {
        return nearest(args, &data, image, &row);
    }
    let expr = args.expr.as_deref().unwrap_or_default();
    let index = SearchIndex::new(&data, labels.as_ref().map(|_| &label_of as _));
    let query = Query::parse(expr, &index).map_err(|e| anyhow::anyhow!("--where: {e}"))?;
    if labels.is_none() && expr.to_ascii_lowercase().contains("label") {
        eprintln!(
            "note: no labels journal at {} (give --labels-out DIR): `label` terms match as unlabelled",
            dir.display()
        );
    }
    let found = index.run(&query);
    let shown = &found[..found.len().min(args.limit.unwrap_or(usize::MAX))];
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let rows: Vec<serde_json::Value> = shown.iter().map(|&i| row(i).json()).collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        writeln!(out, "item\tfile\tclass\tlabel")?;
        for &i in shown {
            let r = row(i);
            writeln!(out, "{}\t{}\t{}\t{}", r.item, r.file, r.class, r.label)?;
        }
    }
    out.flush()?;
    eprintln!(
        "{} of {} items match `{}`{}",
        found.len(),
        data.n_items(),
        expr,
        if shown.len() < found.len() {
            format!(" ({} shown, --limit)", shown.len())
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// `--image`: the k items nearest to the image's embedding, nearest first.
fn nearest(
    args: &QueryArgs,
    data: &Dataset,
    image: &std::path::Path,
    row: &dyn Fn(u32) -> Row,
) -> anyhow::Result<ExitCode> {
    let vector = embed_one(&args.input, image, &args.cache.cache())?;
    let f = &data.features;
    let found = ivt::knn::query(&f.values(), f.dim(), &vector, args.k, args.metric)
        .with_context(|| format!("cannot search for {}", image.display()))?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        let rows: Vec<serde_json::Value> = found
            .iter()
            .enumerate()
            .map(|(rank, &(i, d))| {
                let mut v = row(i).json();
                v["rank"] = (rank + 1).into();
                v["distance"] = f64::from(d).into();
                v
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        writeln!(out, "rank\titem\tfile\tdistance\tclass\tlabel")?;
        for (rank, &(i, d)) in found.iter().enumerate() {
            let r = row(i);
            writeln!(
                out,
                "{}\t{}\t{}\t{d:.6}\t{}\t{}",
                rank + 1,
                r.item,
                r.file,
                r.class,
                r.label
            )?;
        }
    }
    out.flush()?;
    eprintln!(
        "{} nearest of {} items to {} ({} distance, exact)",
        found.len(),
        data.n_items(),
        image.display(),
        args.metric.name()
    );
    Ok(ExitCode::SUCCESS)
}

/// One matching item as printed.
struct Row {
    item: u32,
    file: String,
    class: String,
    label: String,
}

impl Row {
    fn of(data: &Dataset, labels: Option<&ivt::labels::LabelState>, i: u32) -> Self {
        let file = data
            .images
            .relative_path(i as usize)
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let class = data
            .classes
            .as_ref()
            .map(|c| c.labels.name_of(ItemId(i)).to_owned())
            .unwrap_or_default();
        let label = labels
            .and_then(|s| s.get(ItemId(i)))
            .unwrap_or_default()
            .to_owned();
        Self {
            item: i,
            file,
            class,
            label,
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "item": self.item,
            "file": self.file,
            "class": self.class,
            "label": if self.label.is_empty() { serde_json::Value::Null } else { self.label.clone().into() },
        })
    }
}
