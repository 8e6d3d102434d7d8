//! `ivt-explore info`: load a data set exactly as `open` does and describe it.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::Args;
use ivt::dataset::{ClassSource, ColumnValues, Dataset, Images};

use super::common::args::{CacheArgs, InputArgs};
use super::common::load::load;

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    /// Where the image folder's listing and probe (and, with --model, the vectors) are kept.
    #[command(flatten)]
    cache: CacheArgs,
}

pub fn run(args: &InfoArgs) -> anyhow::Result<ExitCode> {
    let data = load(&args.input, &args.cache.cache())?;
    print_summary(&data);
    if let Some(dir) = args
        .input
        .data
        .as_deref()
        .filter(|d| ivt::dataset::projector::is_log_dir(d))
        && args.input.model.model.is_none()
    {
        print!("{}", projector_list(dir, &data.name)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// The embeddings of a projector log, the one loaded marked.
fn projector_list(dir: &std::path::Path, loaded: &str) -> anyhow::Result<String> {
    let all = ivt::dataset::projector::read::embeddings(dir)?;
    let mut out = format!(
        "{:<10} {} in this log (choose with --tensor NAME)\n",
        "projector",
        all.len()
    );
    for e in &all {
        let shape = match e.tensor_shape.as_slice() {
            [r, c] => format!("{r} × {c}"),
            _ => "shape from the file".to_owned(),
        };
        let parts: Vec<&str> = [
            e.metadata_path.as_ref().map(|_| "metadata"),
            e.sprite.as_ref().map(|_| "sprite"),
            e.tensor_path
                .is_none()
                .then_some("no tensor file (checkpoint only: not readable)"),
        ]
        .into_iter()
        .flatten()
        .collect();
        out.push_str(&format!(
            "{:<10} {} {:?}: {shape}{}\n",
            "",
            if e.tensor_name == loaded { "*" } else { "-" },
            e.tensor_name,
            if parts.is_empty() {
                String::new()
            } else {
                format!(", {}", parts.join(", "))
            }
        ));
    }
    Ok(out)
}

pub fn print_summary(data: &Dataset) {
    print!("{}", summary(data));
}

/// Thousands separators: counts here run to millions.
fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn megabytes(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// A number to four significant digits, without trailing zeros.
fn num(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor();
    if !(-4.0..7.0).contains(&magnitude) {
        return format!("{x:.3e}");
    }
    let decimals = (3.0 - magnitude).max(0.0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn summary(data: &Dataset) -> String {
    let f = &data.features;
    let s = f.stats();
    let mut out = String::new();
    let mut line = |label: &str, text: String| out.push_str(&format!("{label:<10} {text}\n"));
    line("data set", data.name.clone());
    line(
        "features",
        format!(
            "{} items × {} dims, {} in the file, {} {} ({})",
            count(f.n_items()),
            count(f.dim()),
            f.stored_dtype(),
            megabytes(f.size_bytes()),
            if f.is_half() {
                "kept float16 (mapped)"
            } else if f.is_mapped() {
                "as f32 (mapped)"
            } else {
                "as f32"
            },
            f.source().display()
        ),
    );
    line(
        "values",
        format!(
            "min {}, max {}, mean {}, std {}",
            num(f64::from(s.min)),
            num(f64::from(s.max)),
            num(s.mean),
            num(s.std)
        ),
    );
    line(
        "",
        format!(
            "row L2 norms {} … {}; {} all-zero rows; {} of {} columns constant",
            num(s.row_norm_min),
            num(s.row_norm_max),
            count(s.zero_rows),
            count(s.constant_columns),
            count(f.dim())
        ),
    );
    line("images", images_text(&data.images));
    if let Images::Files(files) = &data.images {
        if !files.failures.is_empty() {
            line(
                "",
                format!(
                    "{} unreadable{}, shown as placeholders (first: {})",
                    count(files.failures.len()),
                    if files.sampled { " in the sample" } else { "" },
                    files.failures[0]
                ),
            );
        }
        if files.unused_files > 0 {
            line(
                "",
                format!(
                    "{} image files named by no sort key (not used)",
                    count(files.unused_files)
                ),
            );
        }
    }
    match &data.classes {
        None => line("classes", "none".to_owned()),
        Some(c) => {
            let from = match &c.source {
                ClassSource::Folders => "from the class folders".to_owned(),
                ClassSource::File(p) => format!("from {}", p.display()),
                ClassSource::BuiltIn => "built in".to_owned(),
            };
            line(
                "classes",
                format!(
                    "{} {from}: {}",
                    c.labels.names.len(),
                    groups_text(&c.labels.names, &c.labels.counts())
                ),
            );
        }
    }
    match &data.metadata {
        None => line("metadata", "none".to_owned()),
        Some(m) => {
            line("metadata", format!("{} column(s)", m.columns.len()));
            for c in &m.columns {
                let text = match &c.values {
                    ColumnValues::Numeric(v) => {
                        let present: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
                        let lo = present.iter().copied().fold(f64::INFINITY, f64::min);
                        let hi = present.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                        format!(
                            "numeric, {} … {}, {} missing",
                            num(lo),
                            num(hi),
                            count(v.len() - present.len())
                        )
                    }
                    ColumnValues::Categorical(cat) => format!(
                        "text, {} distinct: {}",
                        count(cat.names.len()),
                        groups_text(&cat.names, &cat.counts())
                    ),
                };
                line("", format!("{}: {text}", c.name));
            }
        }
    }
    out
}

/// "a 3 · b 2 · ..." for the first few groups.
fn groups_text(names: &[String], counts: &[usize]) -> String {
    const SHOWN: usize = 10;
    let mut parts: Vec<String> = names
        .iter()
        .zip(counts)
        .take(SHOWN)
        .map(|(n, c)| format!("{n} {}", count(*c)))
        .collect();
    if names.len() > SHOWN {
        parts.push(format!("… {} more", names.len() - SHOWN));
    }
    parts.join(" · ")
}

fn images_text(images: &Images) -> String {
    match images {
        Images::None => "none (give an image folder with --images DIR)".to_owned(),
        Images::Gray8 { width, height, .. } => {
            format!("{} built-in, {width}×{height} grey", count(images.count()))
        }
        Images::Rgba8 { width, height, .. } => {
            format!(
                "{} from a sprite sheet, {width}×{height} RGBA",
                count(images.count())
            )
        }
        Images::Files(files) => {
            let mut sizes: BTreeMap<(u32, u32), usize> = BTreeMap::new();
            for s in files.sizes.iter().flatten() {
                *sizes.entry(*s).or_default() += 1;
            }
            let mut by_count: Vec<((u32, u32), usize)> = sizes.into_iter().collect();
            by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut size_text: Vec<String> = by_count
                .iter()
                .take(3)
                .map(|((w, h), n)| format!("{w}×{h} ({})", count(*n)))
                .collect();
            if by_count.len() > 3 {
                size_text.push(format!("{} other sizes", by_count.len() - 3));
            }
            let read = if files.sampled {
                format!(
                    " in a sample of {} (the rest are read as their thumbnails are built)",
                    count(files.sizes.iter().flatten().count() + files.failures.len())
                )
            } else {
                String::new()
            };
            format!(
                "{} files in {} ({}); sizes{read} {}",
                count(files.paths.len()),
                files.root.display(),
                files.order,
                size_text.join(", ")
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(num(72.94231), "72.94");
        assert_eq!(num(5839.71), "5840");
        assert_eq!(num(0.001234), "0.001234");
        assert_eq!(num(-0.5), "-0.5");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(2e-7), "2.000e-7");
    }
}
