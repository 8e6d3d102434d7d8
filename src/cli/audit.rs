//! `ivt-explore audit DATA`: what is wrong with a data set — near-duplicate groups, outliers,
//! label issues and (with `--layout`) where the map tears neighbours apart — from the kNN graph
//! (`ivt::quality`). A summary on stdout (or `--json`), every score per item in `-o FILE.csv`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use ivt::dataset::{ColumnValues, Dataset};
use ivt::knn::Metric;
use ivt::quality::{self, Audit, AuditInput, Labels, QualityError};

use super::common::args::{CacheArgs, GraphArgs, InputArgs, choice, csv_output, read_layout};
use super::common::graph::{graph, imported};
use super::common::load::{class_name, file_name, load};

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    graph: GraphArgs,
    /// Neighbours every score looks at.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Distance for the graph.
    #[arg(long, value_parser = choice::<Metric>(), default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Items closer than this are near-duplicates (default: a tenth of the median distance
    /// to the first neighbour).
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    dup_threshold: Option<f32>,
    /// Judge this categorical metadata column's labels instead of the classes.
    #[arg(long, value_name = "COLUMN")]
    label_column: Option<String>,
    /// A layout (.npy, N × 2 or N × 3) whose fidelity to the original neighbours is scored.
    #[arg(long, value_name = "FILE.npy")]
    layout: Option<PathBuf>,
    /// The metadata column holding each item's split (default: "split", if there is one):
    /// duplicate groups across splits are leaks.
    #[arg(long, value_name = "COLUMN")]
    split_column: Option<String>,
    /// Write every score per item to this CSV.
    #[arg(short, long, value_name = "FILE.csv")]
    output: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Items listed per issue type in the summary.
const WORST: usize = 10;

pub fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    csv_output(args.output.as_deref(), "the audit")?;
    let data = load(&args.input, &args.cache.cache())?;
    let n = data.n_items();
    let k = args.k;
    if k == 0 || k >= n {
        bail!(
            "-k {k}: must be between 1 and the number of items less one ({})",
            n - 1
        );
    }
    let layout = match &args.layout {
        Some(path) => {
            let m = read_layout(path)?;
            if m.n_rows != n || !(2..=3).contains(&m.n_cols) {
                bail!(
                    "--layout {}: {} rows × {} columns, but the data set has {n} items and a layout has 2 or 3 columns",
                    path.display(),
                    m.n_rows,
                    m.n_cols
                );
            }
            Some(m)
        }
        None => None,
    };
    let (codes, names) = labels_of(&data, args.label_column.as_deref())?;
    let splits = splits_of(&data, args.split_column.as_deref())?;
    let graph = match imported(&args.graph, &data.features, args.metric)? {
        Some(g) => g.enough(k, "the audit (-k)")?,
        None => graph(
            &data.features,
            &ivt::knn::cached::Request::auto(quality::GRAPH_K.max(k).min(n - 1), args.metric),
            &args.cache.cache(),
        )?,
    };
    let started = Instant::now();
    let found = quality::cached::cached(
        &AuditInput {
            features: &data.features.values(),
            dim: data.features.dim(),
            graph: &graph,
            k,
            dup_threshold: args.dup_threshold,
            labels: codes.as_ref().map(|c| Labels {
                codes: c,
                names: &names,
            }),
            layout: layout.as_ref().map(|m| (m.data.as_slice(), m.n_cols)),
            splits: splits.as_ref().map(|(codes, _)| codes.as_slice()),
        },
        &args.cache.cache(),
    )
    .map_err(|e| match e {
        // The library speaks of the value; the user gave it as a flag.
        QualityError::Threshold(t) => anyhow::Error::new(e).context(format!("--dup-threshold {t}")),
        other => other.into(),
    })?;
    let secs = started.elapsed().as_secs_f64();
    for w in &found.warnings {
        eprintln!("warning: {w}");
    }
    let audit = found.audit;
    let file = |i: u32| file_name(&data, i);
    if let Some(path) = &args.output {
        let csv = audit_csv(&audit, &data, &names, codes.as_deref(), splits.as_ref());
        ivt::atomic::write_with(path, |f| f.write_all(csv.as_bytes()))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.json {
        serde_json::to_writer_pretty(&mut out, &summary_json(&audit, &names, &file))?;
        writeln!(out)?;
    } else {
        out.write_all(summary_text(&audit, &data, &names, codes.as_deref()).as_bytes())?;
    }
    out.flush()?;
    eprintln!(
        "audit of {n} items (k = {k}) in {secs:.2} s{}",
        if found.hit { " (from the cache)" } else { "" }
    );
    if let Some(path) = &args.output {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The labels the label-issue scores judge: `--label-column COLUMN` (a categorical metadata column)
/// or the classes; none without either.
fn labels_of(
    data: &Dataset,
    column: Option<&str>,
) -> anyhow::Result<(Option<Vec<u32>>, Vec<String>)> {
    if let Some(name) = column {
        let Some(meta) = &data.metadata else {
            bail!("--label-column {name}: the data set has no metadata columns");
        };
        let Some(c) = meta.column(name) else {
            let names: Vec<&str> = meta.columns.iter().map(|c| c.name.as_str()).collect();
            bail!(
                "--label-column {name}: no such column (the columns: {})",
                names.join(", ")
            );
        };
        return match &c.values {
            ColumnValues::Categorical(cat) => Ok((Some(cat.codes.clone()), cat.names.clone())),
            ColumnValues::Numeric(_) => {
                bail!(
                    "--label-column {name}: a numeric column; labels are categories (text values)"
                )
            }
        };
    }
    Ok(match &data.classes {
        Some(c) => (Some(c.labels.codes.clone()), c.labels.names.clone()),
        None => (None, Vec::new()),
    })
}

/// The split per item: `--split-column NAME`, or a metadata column named "split" if there is
/// one.
fn splits_of(
    data: &Dataset,
    column: Option<&str>,
) -> anyhow::Result<Option<(Vec<u32>, Vec<String>)>> {
    let name = column.unwrap_or("split");
    let found = data.metadata.as_ref().and_then(|m| m.column(name));
    match (found, column) {
        (Some(c), _) => match &c.values {
            ColumnValues::Categorical(cat) => Ok(Some((cat.codes.clone(), cat.names.clone()))),
            ColumnValues::Numeric(v) => {
                // Numbered splits (0 = train, 1 = test, …) work as well.
                let mut distinct: Vec<u64> = v.iter().map(|x| x.to_bits()).collect();
                distinct.sort_unstable();
                distinct.dedup();
                let codes = v
                    .iter()
                    .map(|x| distinct.binary_search(&x.to_bits()).unwrap_or(0) as u32)
                    .collect();
                let names = distinct
                    .iter()
                    .map(|b| f64::from_bits(*b).to_string())
                    .collect();
                Ok(Some((codes, names)))
            }
        },
        (None, Some(name)) => bail!("--split-column {name}: no such metadata column"),
        (None, None) => Ok(None),
    }
}

/// One row per item: every score.
fn audit_csv(
    audit: &Audit,
    data: &Dataset,
    names: &[String],
    codes: Option<&[u32]>,
    splits: Option<&(Vec<u32>, Vec<String>)>,
) -> String {
    let field = ivt::dataset::csv_field;
    let mut out = String::from(
        "item,file,class,duplicate_group,is_exact_duplicate,outlier_score,outlier_rank",
    );
    if audit.labels.is_some() {
        out.push_str(",label_quality,suggested_class,is_label_issue");
    }
    if audit.fidelity.is_some() {
        out.push_str(",fidelity,trust_penalty");
    }
    if splits.is_some() {
        out.push_str(",split,is_leak");
    }
    out.push('\n');
    let mut rank = vec![0u32; audit.n_items];
    for (r, &i) in audit.outliers.ranking.iter().enumerate() {
        rank[i as usize] = r as u32 + 1;
    }
    let leaking: std::collections::HashSet<usize> = audit.leaks.iter().flatten().copied().collect();
    let d = &audit.duplicates;
    for i in 0..audit.n_items {
        let group = d.group_of[i]
            .map(|g| (g + 1).to_string())
            .unwrap_or_default();
        let _ = write!(
            out,
            "{i},{},{},{group},{},{:.4},{}",
            field(&file_name(data, i as u32)),
            field(class_name(names, codes, i)),
            u8::from(d.exact[i]),
            audit.outliers.score[i],
            rank[i]
        );
        if let Some(l) = &audit.labels {
            let _ = write!(
                out,
                ",{:.4},{},{}",
                l.quality[i],
                field(
                    names
                        .get(l.suggested[i] as usize)
                        .map_or("", String::as_str)
                ),
                u8::from(l.is_issue[i])
            );
        }
        if let Some(f) = &audit.fidelity {
            let _ = write!(out, ",{:.3},{}", f.preserved[i], f.trust_penalty[i]);
        }
        if let Some((codes, split_names)) = splits {
            let leak = d.group_of[i].is_some_and(|g| leaking.contains(&(g as usize)));
            let _ = write!(
                out,
                ",{},{}",
                field(
                    split_names
                        .get(codes[i] as usize)
                        .map_or("", String::as_str)
                ),
                u8::from(leak)
            );
        }
        out.push('\n');
    }
    out
}

/// Counts per issue type and the worst items of each, in words.
fn summary_text(audit: &Audit, data: &Dataset, names: &[String], codes: Option<&[u32]>) -> String {
    let mut s = String::new();
    let file = |i: u32| {
        let f = file_name(data, i);
        if f.is_empty() {
            format!("#{i}")
        } else {
            format!("#{i} {f}")
        }
    };
    let d = &audit.duplicates;
    let in_groups: usize = d.groups.iter().map(Vec::len).sum();
    let exact = d.exact.iter().filter(|&&e| e).count();
    let _ = writeln!(
        s,
        "duplicates: {} groups, {in_groups} items ({exact} exact copies); threshold {:.4} ({})",
        d.groups.len(),
        d.threshold,
        d.threshold_source
    );
    for g in largest_groups(&d.groups) {
        let members: Vec<String> = g.iter().take(4).map(|&i| file(i)).collect();
        let more = if g.len() > 4 {
            format!(" … ({} in all)", g.len())
        } else {
            String::new()
        };
        let _ = writeln!(s, "  {}{more}", members.join(" = "));
    }
    if let Some(leaks) = &audit.leaks {
        let _ = writeln!(s, "leaks: {} duplicate groups cross splits", leaks.len());
    }
    let _ = writeln!(
        s,
        "outliers (distance to the k-th neighbour / the neighbours' own), highest:"
    );
    for &i in audit.outliers.ranking.iter().take(WORST) {
        let _ = writeln!(s, "  {:8.2}  {}", audit.outliers.score[i as usize], file(i));
    }
    if let Some(l) = &audit.labels {
        let worst = flagged_worst_first(l);
        let flagged = worst.len();
        let _ = writeln!(
            s,
            "label issues: {flagged} of {} items ({:.1}%); lowest label quality among them:",
            audit.n_items,
            100.0 * flagged as f64 / audit.n_items.max(1) as f64
        );
        for &i in worst.iter().take(WORST) {
            let _ = writeln!(
                s,
                "  {:.3}  {}  {} → {}",
                l.quality[i],
                file(i as u32),
                class_name(names, codes, i),
                names
                    .get(l.suggested[i] as usize)
                    .map_or("", String::as_str)
            );
        }
    } else {
        let _ = writeln!(s, "label issues: no classes or --labels column to judge");
    }
    if let Some(f) = &audit.fidelity {
        let mean =
            f.preserved.iter().map(|&p| f64::from(p)).sum::<f64>() / audit.n_items.max(1) as f64;
        let _ = writeln!(
            s,
            "fidelity: on average {:.1}% of an item's {} neighbours are neighbours on the layout; least faithful:",
            100.0 * mean,
            audit.k
        );
        let mut worst: Vec<usize> = (0..audit.n_items).collect();
        worst.sort_by(|&a, &b| {
            f.preserved[a]
                .total_cmp(&f.preserved[b])
                .then(f.trust_penalty[b].cmp(&f.trust_penalty[a]))
                .then(a.cmp(&b))
        });
        for &i in worst.iter().take(WORST) {
            let _ = writeln!(
                s,
                "  {:.2} kept, penalty {:4}  {}",
                f.preserved[i],
                f.trust_penalty[i],
                file(i as u32)
            );
        }
    }
    s
}

/// The [`WORST`] largest duplicate groups, largest first.
fn largest_groups(groups: &[Vec<u32>]) -> impl Iterator<Item = &Vec<u32>> {
    let mut by_size: Vec<&Vec<u32>> = groups.iter().collect();
    by_size.sort_by_key(|g| std::cmp::Reverse(g.len()));
    by_size.into_iter().take(WORST)
}

/// The flagged items, lowest label quality first (ties by item).
fn flagged_worst_first(l: &quality::LabelIssues) -> Vec<usize> {
    let mut worst: Vec<usize> = (0..l.is_issue.len()).filter(|&i| l.is_issue[i]).collect();
    worst.sort_by(|&a, &b| l.quality[a].total_cmp(&l.quality[b]).then(a.cmp(&b)));
    worst
}

fn summary_json(
    audit: &Audit,
    names: &[String],
    file: &dyn Fn(u32) -> String,
) -> serde_json::Value {
    let d = &audit.duplicates;
    let item = |i: u32| serde_json::json!({ "item": i, "file": file(i) });
    let largest: Vec<Vec<serde_json::Value>> = largest_groups(&d.groups)
        .map(|g| g.iter().map(|&i| item(i)).collect())
        .collect();
    let mut v = serde_json::json!({
        "n_items": audit.n_items,
        "k": audit.k,
        "duplicates": {
            "threshold": d.threshold,
            "threshold_source": d.threshold_source,
            "groups": d.groups.len(),
            "items": d.groups.iter().map(Vec::len).sum::<usize>(),
            "exact": d.exact.iter().filter(|&&e| e).count(),
            "largest": largest,
        },
        "outliers": audit.outliers.ranking.iter().take(WORST).map(|&i| {
            let mut o = item(i);
            o["score"] = f64::from(audit.outliers.score[i as usize]).into();
            o
        }).collect::<Vec<_>>(),
    });
    if let Some(l) = &audit.labels {
        let worst = flagged_worst_first(l);
        v["label_issues"] = serde_json::json!({
            "flagged": worst.len(),
            "worst": worst.iter().take(WORST).map(|&i| {
                let mut o = item(i as u32);
                o["label_quality"] = f64::from(l.quality[i]).into();
                o["suggested_class"] = names.get(l.suggested[i] as usize).cloned().unwrap_or_default().into();
                o
            }).collect::<Vec<_>>(),
        });
    }
    if let Some(f) = &audit.fidelity {
        let mean =
            f.preserved.iter().map(|&p| f64::from(p)).sum::<f64>() / audit.n_items.max(1) as f64;
        v["fidelity"] = serde_json::json!({ "mean_preserved": mean });
    }
    if let Some(leaks) = &audit.leaks {
        v["leaks"] = leaks.len().into();
    }
    v
}
