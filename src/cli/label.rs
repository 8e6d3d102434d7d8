//! `ivt-explore label`: give items labels from a script — the same journal the explorer writes,
//! one undoable batch per call, refused while an explorer holds the labels folder.
//!
//! Everything is checked before anything is written (items in range, files known, label names
//! known, no item given two labels): a bad request changes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use ivt::dataset::{Dataset, Images, ItemId};
use ivt::labels::{LabelSet, journal};

use super::common::args::{InputArgs, configure};
use super::common::load::load;

#[derive(Debug, Args)]
pub struct LabelArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// The labels folder (the explorer's --labels-out; default: ./ivt-labels/<data set name>).
    #[arg(long, value_name = "DIR")]
    labels_out: Option<PathBuf>,
    /// Items to label, by index: 3,17,42.
    #[arg(long, value_name = "I,J,…", value_delimiter = ',', requires = "label")]
    items: Vec<String>,
    /// The label to give --items: one of --label-names or a label the journal already holds;
    /// `none` removes their labels.
    #[arg(long, value_name = "NAME", requires = "items")]
    label: Option<String>,
    /// A CSV with a header: `item` (an index) or `file` (an image's path under the image
    /// folder, or its file name when that is unique), and `label` (a name, or empty / `none`
    /// to remove). All of its rows are one batch.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["items", "label"])]
    from_csv: Option<PathBuf>,
    /// The label names labels may take besides the ones the journal holds (as the explorer's
    /// --label-names; default positive,negative).
    #[arg(long, value_name = "A,B,…")]
    label_names: Option<String>,
}

/// What removes a label, in `--label` and the CSV (as does an empty one).
const NONE: &str = "none";

/// A requested label: `None` removes.
fn target(label: &str) -> Option<String> {
    (!label.is_empty() && label != NONE).then(|| label.to_owned())
}

pub fn run(args: &LabelArgs) -> anyhow::Result<ExitCode> {
    if args.from_csv.is_none() && args.items.is_empty() {
        bail!("say what to label: --items I,J,… --label NAME, or --from-csv FILE");
    }
    let data = load(
        &args.input,
        &configure(ivt::cache::Cache::default_location()),
    )?;
    let n = data.n_items();
    let requested: Vec<(u32, Option<String>)> = match &args.from_csv {
        Some(path) => read_csv(path, &data)?,
        None => {
            let label = target(args.label.as_deref().unwrap_or_default());
            parse_items(&args.items, n)?
                .into_iter()
                .map(|i| (i, label.clone()))
                .collect()
        }
    };
    check_twice(&requested)?;
    let dir = args
        .labels_out
        .clone()
        .unwrap_or_else(|| ivt::labels::default_dir(&data.name));
    // The lock first: while an explorer holds the folder nothing is read or checked for it.
    let (mut journal, state, opened) =
        journal::open(&dir, n).context("cannot open the labels journal")?;
    for w in opened.warnings {
        eprintln!("warning: {w}");
    }
    let set = match &args.label_names {
        Some(spec) => LabelSet::parse(spec)?,
        None => LabelSet::default(),
    };
    let mut known: Vec<String> = set.names().to_vec();
    known.extend(
        state
            .known_names()
            .filter(|n| !set.contains(n))
            .map(str::to_owned),
    );
    let mut unknown: Vec<&str> = requested
        .iter()
        .filter_map(|(_, l)| l.as_deref())
        .filter(|l| !known.iter().any(|k| k == l))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if !unknown.is_empty() {
        bail!(
            "unknown label{} {} (known: {}); add a new one with --label-names {},…",
            if unknown.len() > 1 { "s" } else { "" },
            quoted(&unknown),
            known.join(", "),
            known.join(",")
        );
    }
    let pairs: Vec<(ItemId, Option<&str>)> = requested
        .iter()
        .map(|(i, l)| (ItemId(*i), l.as_deref()))
        .collect();
    let Some(batch) = state.assign_each(&pairs, ivt::labels::now_ms()) else {
        eprintln!(
            "{}: all {} items already carry those labels; nothing written",
            dir.display(),
            pairs.len()
        );
        return Ok(ExitCode::SUCCESS);
    };
    journal
        .append(&batch)
        .context("cannot write the labels journal")?;
    let mut by_label: HashMap<&str, usize> = HashMap::new();
    for c in &batch.changes {
        *by_label.entry(c.to.as_deref().unwrap_or(NONE)).or_default() += 1;
    }
    let mut counts: Vec<String> = by_label
        .iter()
        .map(|(l, k)| {
            if *l == NONE {
                format!("{k} unlabelled")
            } else {
                format!("{k} {l}")
            }
        })
        .collect();
    counts.sort();
    eprintln!(
        "{}: {} changed ({}){} — one batch, undone by Ctrl+Z in the explorer",
        journal.path().display(),
        batch.changes.len(),
        counts.join(", "),
        match pairs.len() - batch.changes.len() {
            0 => String::new(),
            k => format!(", {k} already so"),
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `--items`: indices within the data set's `n` items; all the bad ones named at once.
fn parse_items(items: &[String], n: usize) -> anyhow::Result<Vec<u32>> {
    let mut out = Vec::with_capacity(items.len());
    let (mut bad, mut outside) = (Vec::new(), Vec::new());
    for text in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match text.parse::<u64>() {
            Ok(i) if (i as usize) < n => out.push(i as u32),
            Ok(_) => outside.push(text),
            Err(_) => bad.push(text),
        }
    }
    if !bad.is_empty() {
        bail!("--items: {} not an item index", bad.join(", "));
    }
    if !outside.is_empty() {
        bail!(
            "--items: {} out of range: the data set has {n} items (0 to {})",
            outside.join(", "),
            n.saturating_sub(1)
        );
    }
    if out.is_empty() {
        bail!("--items names no item");
    }
    Ok(out)
}

/// No item given two different labels in one request: which one was meant is not ours to guess.
fn check_twice(requested: &[(u32, Option<String>)]) -> anyhow::Result<()> {
    let mut first: HashMap<u32, &str> = HashMap::new();
    let mut clashes = Vec::new();
    for (i, l) in requested {
        let l = l.as_deref().unwrap_or(NONE);
        match first.get(i) {
            Some(&other) if other != l => clashes.push(format!("{i} ({other} and {l})")),
            Some(_) => {}
            None => {
                first.insert(*i, l);
            }
        }
    }
    if !clashes.is_empty() {
        bail!(
            "items given two labels: {}; nothing written",
            clashes.join(", ")
        );
    }
    Ok(())
}

/// The CSV's rows as (item, label): `item` or `file` names the item.
fn read_csv(path: &Path, data: &Dataset) -> anyhow::Result<Vec<(u32, Option<String>)>> {
    let err = |what: String| anyhow::anyhow!("{}: {what}", path.display());
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let header = reader.headers().map_err(|e| err(e.to_string()))?.clone();
    let column = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    let label_at = column("label").ok_or_else(|| err("no `label` column".into()))?;
    let (item_at, file_at) = (column("item"), column("file"));
    if item_at.is_none() && file_at.is_none() {
        return Err(err(
            "no `item` or `file` column: say which items the labels are for".into(),
        ));
    }
    let files = file_at
        .map(|_| FileIndex::new(data))
        .transpose()
        .map_err(err)?;
    let n = data.n_items();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let line = row + 2;
        let record = record.map_err(|e| err(format!("line {line}: {e}")))?;
        let label = target(record.get(label_at).unwrap_or_default());
        let item = match (item_at, &files) {
            (Some(at), _) => {
                let text = record.get(at).unwrap_or_default();
                match text.parse::<u64>() {
                    Ok(i) if (i as usize) < n => Some(i as u32),
                    Ok(_) => {
                        problems.push(format!(
                            "line {line}: item {text} is out of range (the data set has {n} items)"
                        ));
                        None
                    }
                    Err(_) => {
                        problems.push(format!("line {line}: {text:?} is not an item index"));
                        None
                    }
                }
            }
            (None, Some(files)) => {
                let text = record.get(file_at.unwrap_or_default()).unwrap_or_default();
                match files.find(text) {
                    Ok(i) => Some(i),
                    Err(why) => {
                        problems.push(format!("line {line}: {why}"));
                        None
                    }
                }
            }
            (None, None) => None,
        };
        if let Some(i) = item {
            out.push((i, label));
        }
    }
    if !problems.is_empty() {
        let shown: Vec<&str> = problems.iter().take(10).map(String::as_str).collect();
        return Err(err(format!(
            "{} bad row{}, nothing written:\n  {}{}",
            problems.len(),
            if problems.len() > 1 { "s" } else { "" },
            shown.join("\n  "),
            if problems.len() > 10 {
                format!("\n  … and {} more", problems.len() - 10)
            } else {
                String::new()
            }
        )));
    }
    if out.is_empty() {
        return Err(err("no rows".into()));
    }
    Ok(out)
}

/// Image files by their path under the image folder and by their file name.
struct FileIndex {
    by_path: HashMap<String, u32>,
    /// File name → its item, or `None` where two images share the name.
    by_name: HashMap<String, Option<u32>>,
}

impl FileIndex {
    fn new(data: &Dataset) -> Result<Self, String> {
        let Images::Files(files) = &data.images else {
            return Err(format!(
                "has a `file` column, but {} has no image files: use `item`",
                data.name
            ));
        };
        let mut by_path = HashMap::new();
        let mut by_name: HashMap<String, Option<u32>> = HashMap::new();
        for (i, p) in files.paths.iter().enumerate() {
            if let Some(relative) = files.relative_path(i) {
                by_path.insert(relative.to_string_lossy().into_owned(), i as u32);
            }
            if let Some(name) = p.file_name() {
                by_name
                    .entry(name.to_string_lossy().into_owned())
                    .and_modify(|e| *e = None)
                    .or_insert(Some(i as u32));
            }
        }
        Ok(Self { by_path, by_name })
    }

    fn find(&self, text: &str) -> Result<u32, String> {
        if let Some(&i) = self.by_path.get(text) {
            return Ok(i);
        }
        match self.by_name.get(text) {
            Some(Some(i)) => Ok(*i),
            Some(None) => Err(format!(
                "{text:?} names several images: give its path under the image folder"
            )),
            None => Err(format!("{text:?} is not an image of the data set")),
        }
    }
}
