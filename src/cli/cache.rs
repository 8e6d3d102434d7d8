//! `ivt-explore cache`: what the cache folder holds, entry by entry (kind, data set, size, last
//! use) and the total; `--max-gb` removes the least recently used entries down to a size,
//! `--clear` all of them. Entries a running explorer holds are kept and said so.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use clap::Args;
use ivt::cache::Cache;
use ivt::cache::entries::{self, Entry, Evicted, Kind, human_age, human_bytes};

use super::common::args::{cache_limit_from_env, parse_gb};

/// `ivt-explore cache`'s own arguments: the folder, and what to remove.
#[derive(Debug, Args)]
pub struct CacheCommandArgs {
    /// Cache folder (default: ~/.cache/ivt-explore/artefacts on Linux).
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Remove least recently used entries until the cache takes at most GB gigabytes (entries
    /// a running explorer holds stay).
    #[arg(long, value_name = "GB", value_parser = parse_gb, conflicts_with = "clear")]
    max_gb: Option<f64>,
    /// Remove every entry (files of other programs in the folder stay).
    #[arg(long)]
    clear: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &CacheCommandArgs) -> anyhow::Result<ExitCode> {
    let cache = match &args.cache {
        Some(dir) => Cache::at(dir),
        None => Cache::default_location(),
    };
    let Some(dir) = cache.dir() else {
        anyhow::bail!("this system has no user cache folder; give --cache DIR");
    };
    cache.secure();
    let max_bytes = match (args.max_gb, args.clear) {
        (Some(gb), _) => Some(ivt::cache::gb_to_bytes(gb)),
        (None, true) => Some(0),
        (None, false) => None,
    };
    let evicted = match max_bytes {
        Some(max) => Some(entries::evict(dir, max, &[])?),
        None => None,
    };
    let left = entries::list(dir)?;
    let limit = cache_limit_from_env();
    let now = SystemTime::now();
    if args.json {
        println!("{}", json(dir, &left, evicted.as_ref(), limit));
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(done) = &evicted {
        for e in &done.removed {
            println!(
                "removed {:<10}  {}  {}  (last used {})",
                e.kind.name(),
                dataset(e),
                human_bytes(e.bytes),
                human_age(e.last_used, now)
            );
        }
        println!(
            "removed {} entr{}, {} freed",
            done.removed.len(),
            plural_y(done.removed.len()),
            human_bytes(done.freed_bytes)
        );
        if !done.in_use.is_empty() {
            println!(
                "kept {} entr{} in use by a running process:",
                done.in_use.len(),
                plural_y(done.in_use.len())
            );
            for e in &done.in_use {
                println!(
                    "  {:<10}  {}  {}",
                    e.kind.name(),
                    dataset(e),
                    human_bytes(e.bytes)
                );
            }
        }
        println!();
    }
    println!("{}", dir.display());
    print!("{}", table(&left, now));
    let total: u64 = left.iter().map(|e| e.bytes).sum();
    println!(
        "total: {} entr{}, {} (limit {}: --cache-max-gb or {})",
        left.len(),
        plural_y(left.len()),
        human_bytes(total),
        limit.map_or_else(|| "none".to_owned(), human_bytes),
        ivt::cache::MAX_GB_ENV
    );
    Ok(ExitCode::SUCCESS)
}

fn plural_y(n: usize) -> &'static str {
    if n == 1 { "y" } else { "ies" }
}

/// The data set as the listing shows it: the home folder as `~`, `unknown` when not recorded.
fn dataset(e: &Entry) -> String {
    let Some(d) = &e.dataset else {
        return "unknown".to_owned();
    };
    match dirs::home_dir().and_then(|home| {
        std::path::Path::new(d)
            .strip_prefix(home)
            .ok()
            .map(|r| r.to_path_buf())
    }) {
        Some(rest) => format!("~/{}", rest.display()),
        None => d.clone(),
    }
}

/// The entries grouped by kind, each kind with its count and size, then one line per entry:
/// data set, size, last use.
fn table(entries: &[Entry], now: SystemTime) -> String {
    let width = entries
        .iter()
        .map(|e| dataset(e).chars().count())
        .max()
        .unwrap_or(0)
        .max("data set".len());
    let mut out = String::new();
    if !entries.is_empty() {
        out.push_str(&format!(
            "  {:<width$}  {:>9}  last use\n",
            "data set", "size"
        ));
    }
    for kind in Kind::ALL {
        let of_kind: Vec<&Entry> = entries.iter().filter(|e| e.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let bytes: u64 = of_kind.iter().map(|e| e.bytes).sum();
        out.push_str(&format!(
            "{} ({} entr{}, {})\n",
            kind.name(),
            of_kind.len(),
            plural_y(of_kind.len()),
            human_bytes(bytes)
        ));
        for e in of_kind {
            out.push_str(&format!(
                "  {:<width$}  {:>9}  {}\n",
                dataset(e),
                human_bytes(e.bytes),
                human_age(e.last_used, now)
            ));
        }
    }
    out
}

fn json(
    dir: &std::path::Path,
    left: &[Entry],
    evicted: Option<&Evicted>,
    limit: Option<u64>,
) -> serde_json::Value {
    let entry = |e: &Entry| {
        serde_json::json!({
            "kind": e.kind.name(),
            "name": e.name,
            "dataset": e.dataset,
            "bytes": e.bytes,
            "last_used_unix_secs": e
                .last_used
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            "files": e.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        })
    };
    let mut out = serde_json::json!({
        "folder": dir.display().to_string(),
        "limit_bytes": limit,
        "total_bytes": left.iter().map(|e| e.bytes).sum::<u64>(),
        "entries": left.iter().map(entry).collect::<Vec<_>>(),
    });
    if let Some(done) = evicted {
        out["removed"] = done.removed.iter().map(entry).collect();
        out["freed_bytes"] = done.freed_bytes.into();
        out["in_use"] = done.in_use.iter().map(entry).collect();
    }
    out
}
