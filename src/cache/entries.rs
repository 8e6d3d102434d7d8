//! What the cache folder holds, entry by entry, and the removal of the least recently used.
//!
//! An entry is every file that shares one name up to its first dot: `knn-<hash>.bin` and the
//! `knn-<hash>.dataset` beside it (the data set it was made for), or a thumbnail store's
//! small-cell file with its `.prev`, its large-cell files and their `.idx`. A graph's recall
//! estimate goes with its graph (an approximate graph without it would be reported as exact).
//! Only names the program writes are entries: anything else in the folder is never listed nor
//! removed, and `~/.cache/ivt-explore/venv` or `target` beside the folder are not in it.
//!
//! Listing and eviction read the folder's directory and stat each file, never an entry's
//! contents: an entry's size is the disk it takes (a sparse file counts what it holds) and its
//! last use is the latest modification time of its files (a hit sets it, see
//! [`super::Cache::load`]). An entry is in use when a running process holds a lock on one of
//! its files (a thumbnail store while open, an entry while it is written): eviction skips it.

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use thiserror::Error;

use super::CacheKey;

/// Extension of the small file beside an entry naming its data set.
pub const DATASET_EXT: &str = "dataset";

#[derive(Debug, Error)]
pub enum EntriesError {
    #[error("no cache folder at {path} (nothing has been cached there)")]
    Missing { path: PathBuf },
    #[error("cannot read the cache folder {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot remove {path} from the cache")]
    Remove {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What an entry holds, as the user thinks of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// kNN graphs and their recall estimates.
    Graph,
    /// Layouts of `layout` and of the explorer.
    Layout,
    /// Dendrograms.
    Clusters,
    /// Data-quality audits.
    Audit,
    /// Vectors computed by an image encoder.
    Embeddings,
    /// Thumbnail stores (small cells, large cells and their index).
    Thumbnails,
    /// Image folder listings and image header probes.
    Listing,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Graph,
        Kind::Layout,
        Kind::Clusters,
        Kind::Audit,
        Kind::Embeddings,
        Kind::Thumbnails,
        Kind::Listing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Graph => "graph",
            Kind::Layout => "layout",
            Kind::Clusters => "clusters",
            Kind::Audit => "audit",
            Kind::Embeddings => "embeddings",
            Kind::Thumbnails => "thumbnails",
            Kind::Listing => "listing",
        }
    }
}

/// The name prefixes of the files the program writes, longest first where one begins another.
/// `viewer-layout` is the explorer's layout kind before `layout::cached` made one `layout` kind for
/// both (kept so old entries are still listed and evicted); `thumbs-large` is the large-cell file of
/// versions that named it apart from its store.
const PREFIXES: [(&str, Kind); 11] = [
    ("knn-recall", Kind::Graph),
    ("knn", Kind::Graph),
    ("viewer-layout", Kind::Layout),
    ("layout", Kind::Layout),
    ("clusters", Kind::Clusters),
    ("audit", Kind::Audit),
    ("embed", Kind::Embeddings),
    ("thumbs-large", Kind::Thumbnails),
    ("thumbs", Kind::Thumbnails),
    ("image-listing", Kind::Listing),
    ("image-probe", Kind::Listing),
];

/// One entry: its files, the disk they take, when it was last used, and its data set when
/// recorded (read by [`list`] only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    /// The name its files share (`knn-<hash>`).
    pub name: String,
    pub files: Vec<PathBuf>,
    pub bytes: u64,
    pub last_used: SystemTime,
    /// The data set it was made for, as the user named it; `None` for an entry written before
    /// this was recorded.
    pub dataset: Option<String>,
}

/// The entry name and kind of a file name the program writes; `None` for any other file.
/// Temporary files of an atomic write (`.<name>.<random>.tmp`) belong to their entry.
pub fn classify(file_name: &str) -> Option<(Kind, &str)> {
    let (name, temporary) = match file_name.strip_prefix('.') {
        Some(rest) if rest.ends_with(".tmp") => (rest, true),
        Some(_) => return None,
        None => (file_name, false),
    };
    let (stem, suffix) = name.split_once('.')?;
    let (kind, hash) = PREFIXES.iter().find_map(|&(prefix, kind)| {
        let hash = stem.strip_prefix(prefix)?.strip_prefix('-')?;
        Some((kind, hash))
    })?;
    let hex = matches!(hash.len(), 16 | 32) && hash.bytes().all(|b| b.is_ascii_hexdigit());
    let ours = match suffix.split_once('.') {
        _ if temporary => true,
        None => matches!(suffix, "bin" | "prev" | "idx") || suffix == DATASET_EXT,
        // A thumbnail store's large cells: `thumbs-<hash>.large128.bin` and its `.idx`.
        Some((large, ext)) => {
            large
                .strip_prefix("large")
                .is_some_and(|side| !side.is_empty() && side.bytes().all(|b| b.is_ascii_digit()))
                && matches!(ext, "bin" | "idx")
        }
    };
    (hex && ours).then_some((kind, stem))
}

/// The entries in `dir`, without their data sets (no file is read). Errors name the folder.
fn scan(dir: &Path) -> Result<Vec<Entry>, EntriesError> {
    let read_err = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            EntriesError::Missing {
                path: dir.to_path_buf(),
            }
        } else {
            EntriesError::Read {
                path: dir.to_path_buf(),
                source,
            }
        }
    };
    let mut by_name: HashMap<String, Entry> = HashMap::new();
    for item in std::fs::read_dir(dir).map_err(read_err)? {
        let item = item.map_err(read_err)?;
        let file_name = item.file_name();
        let Some((kind, name)) = file_name.to_str().and_then(classify) else {
            continue;
        };
        // Gone since the listing (another process evicted it): not there.
        let Ok(meta) = std::fs::symlink_metadata(item.path()) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let entry = by_name.entry(name.to_owned()).or_insert_with(|| Entry {
            kind,
            name: name.to_owned(),
            files: Vec::new(),
            bytes: 0,
            last_used: SystemTime::UNIX_EPOCH,
            dataset: None,
        });
        entry.files.push(item.path());
        entry.bytes += meta.blocks() * 512;
        entry.last_used = entry.last_used.max(used);
    }
    // A graph's recall estimate is part of the graph.
    let graphs: Vec<(String, String)> = by_name
        .keys()
        .filter_map(|name| {
            let hash = u128::from_str_radix(name.strip_prefix("knn-")?, 16).ok()?;
            let estimate = CacheKey { kind: "knn", hash }.derived("knn-recall");
            Some((name.clone(), estimate.to_string()))
        })
        .collect();
    for (graph, estimate) in graphs {
        if let Some(e) = by_name.remove(&estimate)
            && let Some(g) = by_name.get_mut(&graph)
        {
            g.files.extend(e.files);
            g.bytes += e.bytes;
            g.last_used = g.last_used.max(e.last_used);
        }
    }
    let mut entries: Vec<Entry> = by_name.into_values().collect();
    for e in &mut entries {
        e.files.sort();
    }
    Ok(entries)
}

/// The data set recorded beside entry `name` in `dir`.
fn dataset_of(dir: &Path, name: &str) -> Option<String> {
    let bytes = std::fs::read(dir.join(format!("{name}.{DATASET_EXT}"))).ok()?;
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

/// Every entry in `dir` with its data set, by kind, most recently used first.
pub fn list(dir: &Path) -> Result<Vec<Entry>, EntriesError> {
    let mut entries = scan(dir)?;
    for e in &mut entries {
        e.dataset = dataset_of(dir, &e.name);
    }
    entries.sort_by(|a, b| (a.kind, b.last_used, &a.name).cmp(&(b.kind, a.last_used, &b.name)));
    Ok(entries)
}

/// What [`evict`] did.
#[derive(Debug, Default)]
pub struct Evicted {
    /// The entries removed, least recently used first, with their data sets.
    pub removed: Vec<Entry>,
    pub freed_bytes: u64,
    /// Entries that would have gone but a running process holds them.
    pub in_use: Vec<Entry>,
    /// The folder's entries' size afterwards.
    pub total_bytes: u64,
}

/// Remove whole entries from `dir`, least recently used first, until the entries take at most
/// `max_bytes`: never one named in `keep` (the entry just written), nor one whose files a
/// running process holds locked. `max_bytes` 0 clears the folder of every entry not in use.
pub fn evict(dir: &Path, max_bytes: u64, keep: &[&str]) -> Result<Evicted, EntriesError> {
    let mut entries = scan(dir)?;
    let mut total: u64 = entries.iter().map(|e| e.bytes).sum();
    let mut done = Evicted::default();
    if total > max_bytes {
        entries.sort_by(|a, b| (a.last_used, &a.name).cmp(&(b.last_used, &b.name)));
        for mut entry in entries {
            if total <= max_bytes {
                break;
            }
            if keep.contains(&entry.name.as_str()) {
                continue;
            }
            // Locked for the time of the removal: a store opening it now waits or misses.
            let Some(_locks) = lock_all(&entry.files) else {
                entry.dataset = dataset_of(dir, &entry.name);
                done.in_use.push(entry);
                continue;
            };
            entry.dataset = dataset_of(dir, &entry.name);
            // The data set last: a removal cut short leaves a file that still says whose.
            let (named, data): (Vec<&PathBuf>, Vec<&PathBuf>) = entry
                .files
                .iter()
                .partition(|p| p.extension().is_some_and(|e| e == DATASET_EXT));
            for path in data.into_iter().chain(named) {
                match std::fs::remove_file(path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(EntriesError::Remove {
                            path: path.clone(),
                            source,
                        });
                    }
                }
            }
            total -= entry.bytes;
            done.freed_bytes += entry.bytes;
            done.removed.push(entry);
        }
    }
    done.total_bytes = total;
    Ok(done)
}

/// Exclusive locks on every file of an entry, or `None` when a running process holds one. A
/// file gone meanwhile needs none; a filesystem without locks cannot tell, and the entry is
/// taken as free (the cost of a wrong guess is a rebuild, not a wrong result: readers hold
/// their own handle on the file removed).
fn lock_all(files: &[PathBuf]) -> Option<Vec<File>> {
    let mut locks = Vec::with_capacity(files.len());
    for path in files {
        let Ok(file) = File::open(path) else {
            continue;
        };
        match file.try_lock() {
            Ok(()) => locks.push(file),
            Err(TryLockError::WouldBlock) => return None,
            Err(TryLockError::Error(_)) => {}
        }
    }
    Some(locks)
}

/// Bytes for people: `512 B`, `3.4 MB`, `1.20 GB` (powers of 1024, as the limits count).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if value < 10.0 {
        format!("{value:.2} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// How long before `now` an entry was used, for people: `just now`, `12 min ago`, `5 h ago`,
/// `3 days ago`, and past two weeks the date (UTC, `2026-11-02`).
pub fn human_age(then: SystemTime, now: SystemTime) -> String {
    const HOUR: u64 = 3600;
    const DAY: u64 = 24 * HOUR;
    let secs = now.duration_since(then).map_or(0, |d| d.as_secs());
    match secs {
        0..60 => "just now".to_owned(),
        60..HOUR => format!("{} min ago", secs / 60),
        HOUR..172_800 => format!("{} h ago", secs / HOUR),
        172_800..1_209_600 => format!("{} days ago", secs / DAY),
        _ => {
            let days = then
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() / DAY);
            let (y, m, d) = civil_from_days(days as i64);
            format!("{y:04}-{m:02}-{d:02}")
        }
    }
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Cache;
    use std::time::Duration;

    /// Set a file's last use `secs_ago` seconds back.
    fn age(path: &Path, secs_ago: u64) {
        let when = SystemTime::now() - Duration::from_secs(secs_ago);
        File::options()
            .write(true)
            .open(path)
            .expect("open")
            .set_modified(when)
            .expect("set mtime");
    }

    fn names(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn only_names_the_program_writes_are_entries() {
        let h32 = "0123456789abcdef0123456789abcdef";
        let h16 = "0123456789abcdef";
        for (name, kind) in [
            (format!("knn-{h32}.bin"), Kind::Graph),
            (format!("knn-recall-{h32}.bin"), Kind::Graph),
            (format!("viewer-layout-{h32}.bin"), Kind::Layout),
            (format!("layout-{h32}.dataset"), Kind::Layout),
            (format!("embed-{h32}.bin"), Kind::Embeddings),
            (format!("image-probe-{h32}.bin"), Kind::Listing),
            (format!("thumbs-{h16}.bin"), Kind::Thumbnails),
            (format!("thumbs-{h16}.prev"), Kind::Thumbnails),
            (format!("thumbs-{h16}.large128.bin"), Kind::Thumbnails),
            (format!("thumbs-{h16}.large256.idx"), Kind::Thumbnails),
            (format!("thumbs-large-{h16}.idx"), Kind::Thumbnails),
            (format!(".audit-{h32}.bin.Xy12ab.tmp"), Kind::Audit),
        ] {
            assert_eq!(classify(&name).map(|(k, _)| k), Some(kind), "{name}");
        }
        for foreign in [
            "notes.txt",
            "venv",
            "target",
            "knn-xyz.bin",
            &format!("knn-{h32}.npy"),
            &format!("knn-{h32}"),
            &format!("other-{h32}.bin"),
            &format!(".knn-{h32}.bin"),
            &format!("thumbs-{h16}.large.bin"),
            &format!("knn-{h16}0.bin"),
        ] {
            assert_eq!(classify(foreign), None, "{foreign}");
        }
        assert_eq!(
            classify(&format!("thumbs-{h16}.large128.bin")).map(|(_, n)| n),
            Some(format!("thumbs-{h16}").as_str())
        );
    }

    #[test]
    fn entries_group_their_files_and_record_their_data_set() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::at(dir.path()).for_dataset("/data/c1m");
        let graph = CacheKey::from_parts("knn", &[b"g"]);
        cache
            .store(&graph.derived("knn-recall"), b"estimate")
            .expect("store");
        cache.store(&graph, &[1u8; 10_000]).expect("store");
        Cache::at(dir.path())
            .store(&CacheKey::from_parts("layout", &[b"l"]), b"xy")
            .expect("store");
        std::fs::write(dir.path().join("README"), b"not ours").expect("write");
        let entries = list(dir.path()).expect("list");
        assert_eq!(entries.len(), 2, "{entries:?}");
        let g = &entries[0];
        assert_eq!(g.kind, Kind::Graph);
        assert_eq!(g.name, graph.to_string());
        // The graph, its estimate, and the data set beside each.
        assert_eq!(g.files.len(), 4, "{:?}", g.files);
        assert!(g.bytes >= 10_000, "{}", g.bytes);
        assert_eq!(g.dataset.as_deref(), Some("/data/c1m"));
        assert_eq!(entries[1].kind, Kind::Layout);
        assert_eq!(entries[1].dataset, None, "written without a data set");
        assert!(matches!(
            list(&dir.path().join("nowhere")),
            Err(EntriesError::Missing { .. })
        ));
    }

    #[test]
    fn a_hit_marks_its_entry_used_and_eviction_goes_by_last_use() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::at(dir.path()).with_max_bytes(None);
        let keys: Vec<CacheKey> = (0..3u8)
            .map(|i| CacheKey::from_parts("layout", &[&[i]]))
            .collect();
        for (i, key) in keys.iter().enumerate() {
            cache.store(key, &[i as u8; 20_000]).expect("store");
            let path = dir.path().join(key.file_name());
            age(&path, 1000 * (3 - i as u64));
        }
        // The oldest is read: now the most recent.
        assert!(matches!(cache.load(&keys[0]), crate::cache::Lookup::Hit(_)));
        let per_entry = list(dir.path()).expect("list")[0].bytes;
        let done = evict(dir.path(), per_entry * 2, &[]).expect("evict");
        assert_eq!(names(&done.removed), [keys[1].to_string()]);
        assert_eq!(done.freed_bytes, per_entry);
        assert_eq!(done.total_bytes, per_entry * 2);
        let left = list(dir.path()).expect("list");
        assert_eq!(names(&left), [keys[0].to_string(), keys[2].to_string()]);
        // Within the limit: nothing goes.
        let done = evict(dir.path(), per_entry * 2, &[]).expect("evict");
        assert!(done.removed.is_empty());
        // The entry to keep stays, even over the limit.
        let done = evict(dir.path(), 0, &[&keys[2].to_string()]).expect("evict");
        assert_eq!(names(&done.removed), [keys[0].to_string()]);
        assert_eq!(
            names(&list(dir.path()).expect("list")),
            [keys[2].to_string()]
        );
    }

    #[test]
    fn an_entry_a_process_holds_is_not_evicted_and_foreign_files_stay() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::at(dir.path()).with_max_bytes(None);
        let held = CacheKey::from_parts("embed", &[b"held"]);
        let free = CacheKey::from_parts("embed", &[b"free"]);
        cache.store(&held, &[0u8; 5000]).expect("store");
        cache.store(&free, &[0u8; 5000]).expect("store");
        std::fs::write(dir.path().join("mine.txt"), b"the user's").expect("write");
        let file = File::open(dir.path().join(held.file_name())).expect("open");
        file.lock_shared().expect("lock");
        let done = evict(dir.path(), 0, &[]).expect("clear");
        assert_eq!(names(&done.removed), [free.to_string()]);
        assert_eq!(names(&done.in_use), [held.to_string()]);
        drop(file);
        let done = evict(dir.path(), 0, &[]).expect("clear");
        assert_eq!(names(&done.removed), [held.to_string()]);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(left, ["mine.txt"]);
    }

    #[test]
    fn a_store_keeps_the_folder_within_its_limit_but_never_drops_what_it_wrote() {
        let dir = tempfile::tempdir().expect("tmp");
        let unbounded = Cache::at(dir.path()).with_max_bytes(None);
        let old = CacheKey::from_parts("clusters", &[b"old"]);
        unbounded.store(&old, &[0u8; 50_000]).expect("store");
        age(&dir.path().join(old.file_name()), 60);
        let bounded = Cache::at(dir.path()).with_max_bytes(Some(30_000));
        let new = CacheKey::from_parts("clusters", &[b"new"]);
        // Over the limit on its own: kept, the older one goes.
        bounded.store(&new, &[0u8; 40_000]).expect("store");
        assert_eq!(names(&list(dir.path()).expect("list")), [new.to_string()]);
        assert!(
            crate::cache::take_notices()
                .iter()
                .any(|n| matches!(n, crate::cache::Notice::Info(t) if t.contains("removed 1 least recently used entry"))),
        );
    }

    #[test]
    fn ages_read_for_people() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(20_800 * 86_400);
        let ago = |secs: u64| human_age(now - Duration::from_secs(secs), now);
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(180), "3 min ago");
        assert_eq!(ago(5 * 3600), "5 h ago");
        assert_eq!(ago(3 * 86_400), "3 days ago");
        assert_eq!(ago(41 * 86_400), "2026-11-02");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        // A clock set back: not in the future.
        assert_eq!(human_age(now + Duration::from_secs(60), now), "just now");
    }

    #[test]
    fn sizes_read_for_people() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 400 * 1024), "3.39 MB");
        assert_eq!(human_bytes(20 << 30), "20.0 GB");
    }
}
