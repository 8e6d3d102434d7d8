//! On-disk cache of computed artefacts (kNN graphs, layouts, clusters, audits, embeddings,
//! image listings; the thumbnail store keeps its files beside them), so a second launch on the
//! same data opens without recomputing.
//!
//! An entry is named by a hash of the feature bytes, the parameters and the algorithm version,
//! so changing any of them misses. Entries are written atomically and carry their length and
//! a checksum: a truncated or corrupt file is reported, ignored and recomputed, never trusted.
//!
//! The folder is the user's, and so are the images its entries were made from: it is created
//! private (0700), and the default one is tightened when found more open. It is bounded: after
//! each write the least recently used entries beyond the limit are removed ([`entries`]); a
//! hit marks its entry used (its modification time), and an entry beside it names the data set
//! it was made for (`<name>.dataset`). A write that fails, a full disk above all, leaves no
//! entry behind and is reported once per process ([`take_notices`]): the caller's result never
//! depends on the cache.

pub mod entries;

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use thiserror::Error;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::atomic;

const MAGIC: &[u8; 8] = b"IVTCACHE";
const FORMAT_VERSION: u32 = 1;
/// magic + format version + payload length + checksum.
const HEADER_BYTES: usize = 8 + 4 + 8 + 8;

/// The limit on a cache folder unless told otherwise (`--cache-max-gb`, [`MAX_GB_ENV`]). A
/// million-image data set takes about 6 GB (1.7 GB of small thumbnails, up to 2 GB of large
/// ones, 2 GB of 512-dimensional embeddings, a 240 MB graph, layouts, the audit), so 20 GB keep
/// the last three such sets, or hundreds of ten-thousand-item ones: enough that a working set
/// is never recomputed, small beside a disk that holds the images themselves.
pub const DEFAULT_MAX_GB: f64 = 20.0;

/// The environment variable that sets the limit (a number of gigabytes, or `none`).
pub const MAX_GB_ENV: &str = "IVT_CACHE_MAX_GB";

/// Mode of the folders the cache creates: the owner's only.
const PRIVATE_DIR_MODE: u32 = 0o700;

#[derive(Debug, Error)]
pub enum CacheError {
    #[error("cannot write cache entry {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Identifies one artefact: what it is and a 128-bit hash of everything it depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheKey {
    kind: &'static str,
    hash: u128,
}

impl CacheKey {
    /// Key for artefact `kind` computed from `features` with `params` (which must name every
    /// parameter and the algorithm version).
    pub fn new(kind: &'static str, features: &[f32], dim: usize, params: &str) -> Self {
        let mut h = Xxh3::new();
        h.update(&(dim as u64).to_le_bytes());
        h.update(bytemuck::cast_slice(features));
        h.update(kind.as_bytes());
        h.update(params.as_bytes());
        Self {
            kind,
            hash: h.digest128(),
        }
    }

    /// Key for artefact `kind` that depends on `parts` (e.g. a model's hash and its settings)
    /// rather than on a feature matrix.
    pub fn from_parts(kind: &'static str, parts: &[&[u8]]) -> Self {
        let mut h = Xxh3::new();
        h.update(kind.as_bytes());
        for p in parts {
            h.update(&(p.len() as u64).to_le_bytes());
            h.update(p);
        }
        Self {
            kind,
            hash: h.digest128(),
        }
    }

    /// Key for a second artefact `kind` that belongs to this one (e.g. a graph's recall
    /// estimate): it depends on exactly what this key depends on.
    pub fn derived(&self, kind: &'static str) -> Self {
        Self::from_parts(kind, &[self.kind.as_bytes(), &self.hash.to_le_bytes()])
    }

    fn file_name(&self) -> String {
        format!("{}-{:032x}.bin", self.kind, self.hash)
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:032x}", self.kind, self.hash)
    }
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit(Vec<u8>),
    Miss,
    /// The entry exists but cannot be trusted; the caller recomputes (and says so).
    Corrupt {
        path: PathBuf,
        reason: String,
    },
}

/// Where entries live (`None` disables caching), which data set this process works on, and
/// how large the folder may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    dir: Option<PathBuf>,
    /// `ivt-explore/artefacts` in the user's cache folder: both folders are ours, kept private
    /// even when an older version made them readable by others.
    default_folder: bool,
    /// The data set as the user named it, recorded beside each entry written.
    dataset: Option<Arc<str>>,
    /// After a write, least recently used entries are removed until the folder is at most
    /// this; `None`: unbounded.
    max_bytes: Option<u64>,
}

impl Cache {
    pub fn disabled() -> Self {
        Self {
            dir: None,
            default_folder: false,
            dataset: None,
            max_bytes: None,
        }
    }

    /// Entries in `dir`, within [`DEFAULT_MAX_GB`]. A folder the user already had keeps its
    /// mode (it may be shared on purpose); one created here is private.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
            default_folder: false,
            dataset: None,
            max_bytes: Some(default_max_bytes()),
        }
    }

    /// `ivt-explore/artefacts` in the user's cache folder (`~/.cache` on Linux); disabled if
    /// the platform has none. A sub-folder, so the entries never mix with other files there.
    pub fn default_location() -> Self {
        dirs::cache_dir().map_or_else(Self::disabled, |d| Self::in_user_cache(&d))
    }

    /// `ivt-explore/artefacts` in `user_cache` (what [`Self::default_location`] uses): both
    /// folders private, tightened when found more open.
    pub fn in_user_cache(user_cache: &Path) -> Self {
        Self {
            default_folder: true,
            ..Self::at(user_cache.join("ivt-explore").join("artefacts"))
        }
    }

    /// The same cache with another limit (`None`: unbounded).
    pub fn with_max_bytes(self, max_bytes: Option<u64>) -> Self {
        Self { max_bytes, ..self }
    }

    /// The same cache recording `dataset` (a path as the user gave it, or a name) beside the
    /// entries it writes.
    pub fn for_dataset(self, dataset: &str) -> Self {
        Self {
            dataset: Some(Arc::from(dataset)),
            ..self
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes
    }

    pub fn load(&self, key: &CacheKey) -> Lookup {
        let Some(dir) = &self.dir else {
            return Lookup::Miss;
        };
        let path = dir.join(key.file_name());
        let mut bytes = Vec::new();
        let read = File::open(&path).and_then(|mut f| {
            f.read_to_end(&mut bytes)?;
            Ok(f)
        });
        let file = match read {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => {
                return Lookup::Corrupt {
                    path,
                    reason: e.to_string(),
                };
            }
        };
        match check_entry(&bytes) {
            Ok(()) => {
                // Its last use, for the least-recently-used order: one system call, and a
                // folder mounted read-only only loses the order.
                let _ = file.set_modified(SystemTime::now());
                Lookup::Hit(bytes[HEADER_BYTES..].to_vec())
            }
            Err(reason) => Lookup::Corrupt { path, reason },
        }
    }

    /// Store `payload` under `key`, then keep the folder within its limit; a no-op when
    /// caching is disabled. A failure leaves no entry and is also noted once per process (see
    /// [`take_notices`]), so a caller that only loses time by it need not report it again.
    pub fn store(&self, key: &CacheKey, payload: &[u8]) -> Result<(), CacheError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let path = dir.join(key.file_name());
        let written = self.create_dir().and_then(|_| {
            atomic::write_with(&path, |f| {
                // Held until the entry is complete: eviction in another process skips a file
                // it cannot lock, so it never removes an entry being written.
                f.lock()?;
                let mut w = std::io::BufWriter::new(f);
                w.write_all(MAGIC)?;
                w.write_all(&FORMAT_VERSION.to_le_bytes())?;
                w.write_all(&(payload.len() as u64).to_le_bytes())?;
                w.write_all(&xxh3_64(payload).to_le_bytes())?;
                w.write_all(payload)?;
                w.flush()
            })
        });
        if let Err(source) = written {
            note_write_failure(&path, &source);
            return Err(CacheError::Write { path, source });
        }
        let name = key.to_string();
        self.record_dataset(&name);
        self.trim(&[&name]);
        Ok(())
    }

    /// Create the folder if missing (private), tighten the default one if needed; the folder.
    pub(crate) fn create_dir(&self) -> std::io::Result<&Path> {
        let Some(dir) = &self.dir else {
            return Err(std::io::Error::other("caching is disabled"));
        };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(PRIVATE_DIR_MODE)
            .create(dir)?;
        self.secure();
        Ok(dir)
    }

    /// Make the default folder (and `ivt-explore` above it) private if it is more open and
    /// ours, saying so once; a folder given with `--cache` is left as the user set it.
    /// Creates nothing.
    pub fn secure(&self) {
        let Some(dir) = self.dir.as_deref().filter(|_| self.default_folder) else {
            return;
        };
        let Some(own_uid) = std::fs::metadata("/proc/self").ok().map(|m| m.uid()) else {
            return;
        };
        for folder in [dir.parent(), Some(dir)].into_iter().flatten() {
            let Ok(meta) = std::fs::metadata(folder) else {
                continue;
            };
            let mode = meta.permissions().mode() & 0o777;
            if !meta.is_dir() || meta.uid() != own_uid || mode & 0o077 == 0 {
                continue;
            }
            let set = std::fs::set_permissions(
                folder,
                std::fs::Permissions::from_mode(mode & PRIVATE_DIR_MODE),
            );
            notice(match set {
                Ok(()) => Notice::Info(format!(
                    "the cache folder {} was readable by other users (mode {mode:o}); made \
                     private (mode {:o})",
                    folder.display(),
                    mode & PRIVATE_DIR_MODE
                )),
                Err(e) => Notice::Warning(format!(
                    "the cache folder {} is readable by other users (mode {mode:o}) and cannot \
                     be made private: {e}",
                    folder.display()
                )),
            });
        }
    }

    /// Record this process's data set beside entry `name` (its files' shared name), unless it
    /// is recorded already; best effort: an entry without it lists as of an unknown data set.
    pub(crate) fn record_dataset(&self, name: &str) {
        let (Some(dir), Some(dataset)) = (&self.dir, &self.dataset) else {
            return;
        };
        let path = dir.join(format!("{name}.{}", entries::DATASET_EXT));
        if std::fs::read(&path).is_ok_and(|b| b == dataset.as_bytes()) {
            return;
        }
        if let Err(e) = atomic::write_with(&path, |f| f.write_all(dataset.as_bytes())) {
            note_write_failure(&path, &e);
        }
    }

    /// Remove least recently used entries until the folder is within its limit, never one
    /// named in `keep` nor one a running process holds; says what went (a notice). A folder
    /// that cannot be listed is left alone: the limit is a housekeeping, not a result.
    pub fn trim(&self, keep: &[&str]) {
        let (Some(dir), Some(max_bytes)) = (&self.dir, self.max_bytes) else {
            return;
        };
        let Ok(evicted) = entries::evict(dir, max_bytes, keep) else {
            return;
        };
        if !evicted.removed.is_empty() {
            notice(Notice::Info(format!(
                "cache {}: removed {} least recently used entr{} ({}) to stay within {} \
                 ({} or {MAX_GB_ENV} changes the limit)",
                dir.display(),
                evicted.removed.len(),
                if evicted.removed.len() == 1 {
                    "y"
                } else {
                    "ies"
                },
                entries::human_bytes(evicted.freed_bytes),
                entries::human_bytes(max_bytes),
                crate::hint::CACHE_MAX_GB
            )));
        }
    }
}

/// Something the user should hear about the cache as a whole (not about one result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    Info(String),
    Warning(String),
}

static NOTICES: Mutex<Vec<Notice>> = Mutex::new(Vec::new());

/// Whether a write has failed in this process already: a full disk fails every later write
/// too, and one message says all there is to say.
static WRITE_FAILED: AtomicBool = AtomicBool::new(false);

fn notice(n: Notice) {
    if let Ok(mut all) = NOTICES.lock() {
        all.push(n);
    }
}

/// The notices gathered since the last call, oldest first, for the program to show.
pub fn take_notices() -> Vec<Notice> {
    NOTICES
        .lock()
        .map(|mut all| std::mem::take(&mut *all))
        .unwrap_or_default()
}

/// Note that writing `path` in the cache failed, the first time in this process only.
pub(crate) fn note_write_failure(path: &Path, error: &std::io::Error) {
    if WRITE_FAILED.swap(true, Ordering::Relaxed) {
        return;
    }
    notice(Notice::Warning(write_failure_text(path, error)));
}

fn write_failure_text(path: &Path, error: &std::io::Error) -> String {
    let full = error.kind() == std::io::ErrorKind::StorageFull
        || error.kind() == std::io::ErrorKind::QuotaExceeded;
    format!(
        "cannot write to the cache ({}: {error}){}: results are delivered but not kept, and \
         nothing half-written is left; further cache write failures in this run are not reported",
        path.display(),
        if full { ", the disk is full" } else { "" }
    )
}

/// A limit as `--cache-max-gb` and [`MAX_GB_ENV`] take it: gigabytes (0 or more), or `none`
/// for no limit; the bytes.
pub fn parse_max_gb(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    text.parse::<f64>()
        .ok()
        .filter(|g| g.is_finite() && *g >= 0.0)
        .map(|g| Some(gb_to_bytes(g)))
        .ok_or_else(|| {
            format!("{text:?}: a number of gigabytes, 0 or more (e.g. 20 or 0.5), or none")
        })
}

/// [`DEFAULT_MAX_GB`] in bytes.
pub fn default_max_bytes() -> u64 {
    gb_to_bytes(DEFAULT_MAX_GB)
}

/// Gigabytes as the options count them (2³⁰ bytes, as `--thumbnail-cache-gb` does).
pub fn gb_to_bytes(gb: f64) -> u64 {
    (gb * f64::from(1u32 << 30)) as u64
}

/// Identities of files' contents as far as metadata tells: path, size and modification time. A
/// changed image is a new item for every per-image cache (thumbnails, embeddings, the probe).
///
/// The path is taken absolute, so `c1m/a.png` run from `/data` and `/data/c1m/a.png` are one
/// file: a data set opened by another spelling of its path kept missing all 10⁶ thumbnails and
/// rebuilt them (200 s). Symbolic links and `..` are left as they are (resolving them costs a
/// system call per path component); the working folder is read once, not per file.
pub struct FileIdentities {
    cwd: Option<PathBuf>,
}

impl FileIdentities {
    /// Relative paths are taken from the process's working folder.
    pub fn new() -> Self {
        Self {
            cwd: std::env::current_dir().ok(),
        }
    }

    /// Relative paths are taken from `cwd`.
    pub fn with_cwd(cwd: &Path) -> Self {
        Self {
            cwd: Some(cwd.to_path_buf()),
        }
    }

    /// The path a file is known by in cache keys.
    pub fn key_path<'a>(&self, path: &'a Path) -> std::borrow::Cow<'a, Path> {
        match &self.cwd {
            Some(cwd) if path.is_relative() => std::borrow::Cow::Owned(
                cwd.join(
                    path.components()
                        .filter(|c| *c != std::path::Component::CurDir)
                        .collect::<PathBuf>(),
                ),
            ),
            _ => std::borrow::Cow::Borrowed(path),
        }
    }

    pub fn of(&self, path: &Path) -> u64 {
        let mut h = Xxh3::new();
        let path = self.key_path(path);
        h.update(path.as_os_str().as_encoded_bytes());
        if let Ok(meta) = std::fs::metadata(&path) {
            h.update(&meta.len().to_le_bytes());
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            h.update(&mtime.to_le_bytes());
        }
        h.digest()
    }
}

impl Default for FileIdentities {
    fn default() -> Self {
        Self::new()
    }
}

fn check_entry(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < HEADER_BYTES || &bytes[..8] != MAGIC {
        return Err("not a cache entry (bad header)".to_owned());
    }
    let word = |range: std::ops::Range<usize>| -> u64 {
        let mut b = [0u8; 8];
        b[..range.len()].copy_from_slice(&bytes[range]);
        u64::from_le_bytes(b)
    };
    let version = word(8..12);
    if version != u64::from(FORMAT_VERSION) {
        return Err(format!(
            "format version {version}, expected {FORMAT_VERSION}"
        ));
    }
    let len = word(12..20);
    let body = &bytes[HEADER_BYTES..];
    if body.len() as u64 != len {
        return Err(format!("truncated: {} of {len} payload bytes", body.len()));
    }
    if xxh3_64(body) != word(20..28) {
        return Err("checksum mismatch".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_keys_depend_on_everything() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::at(dir.path());
        let f = [1.0f32, 2.0, 3.0, 4.0];
        let key = CacheKey::new("knn", &f, 2, "k=1 v1");
        assert_eq!(cache.load(&key), Lookup::Miss);
        cache.store(&key, b"payload").expect("store");
        assert_eq!(cache.load(&key), Lookup::Hit(b"payload".to_vec()));
        assert_ne!(key, CacheKey::new("knn", &f, 2, "k=2 v1"));
        assert_ne!(key, CacheKey::new("knn", &f, 4, "k=1 v1"));
        assert_ne!(
            key,
            CacheKey::new("knn", &[1.0, 2.0, 3.0, 5.0], 2, "k=1 v1")
        );
        assert_eq!(Cache::disabled().load(&key), Lookup::Miss);
    }

    /// One file, however its path is spelled from the working folder; another file, or the
    /// same one changed, is another identity.
    #[test]
    fn a_file_has_one_identity_relative_or_absolute() {
        let dir = tempfile::tempdir().expect("tmp");
        let sub = dir.path().join("c1m");
        std::fs::create_dir(&sub).expect("dir");
        let file = sub.join("a.png");
        std::fs::write(&file, b"one").expect("write");
        std::fs::write(sub.join("b.png"), b"one").expect("write");
        let ids = FileIdentities::with_cwd(dir.path());
        let id = ids.of(&file);
        for spelling in ["c1m/a.png", "./c1m/a.png", "c1m/./a.png"] {
            assert_eq!(ids.of(Path::new(spelling)), id, "{spelling}");
        }
        assert_ne!(ids.of(Path::new("c1m/b.png")), id);
        // From elsewhere, the relative spelling is another file.
        assert_ne!(
            FileIdentities::with_cwd(&sub).of(Path::new("c1m/a.png")),
            id
        );
        std::fs::write(&file, b"changed").expect("write");
        assert_ne!(ids.of(&file), id);
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("meta").permissions().mode() & 0o777
    }

    /// The default folder (and `ivt-explore` above it) is created private and tightened when
    /// an older version left it open; a folder the user gave is created private but, when it
    /// was there already, left as the user set it (a team may share one on purpose).
    #[test]
    fn the_default_folder_is_private_and_a_given_one_keeps_its_mode() {
        let home = tempfile::tempdir().expect("tmp");
        let user_cache = home.path().join(".cache");
        let cache = Cache::in_user_cache(&user_cache);
        let key = CacheKey::from_parts("layout", &[b"x"]);
        cache.store(&key, b"payload").expect("store");
        let ours = user_cache.join("ivt-explore");
        let dir = ours.join("artefacts");
        assert_eq!(mode(&ours), 0o700);
        assert_eq!(mode(&dir), 0o700);
        for d in [&ours, &dir] {
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        // Reading is enough to tighten it: nothing is written.
        cache.secure();
        assert_eq!((mode(&ours), mode(&dir)), (0o700, 0o700));
        assert_eq!(cache.load(&key), Lookup::Hit(b"payload".to_vec()));

        let shared = home.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let given = Cache::at(&shared);
        given.secure();
        given.store(&key, b"payload").expect("store");
        assert_eq!(mode(&shared), 0o755);
        let fresh = home.path().join("new").join("cache");
        Cache::at(&fresh).store(&key, b"payload").expect("store");
        assert_eq!(
            (mode(fresh.parent().expect("parent")), mode(&fresh)),
            (0o700, 0o700)
        );
    }

    #[test]
    fn a_failed_write_leaves_no_entry_and_says_why() {
        let dir = tempfile::tempdir().expect("tmp");
        // A file where the folder should be: every write fails.
        let blocked = dir.path().join("cache");
        std::fs::write(&blocked, b"").expect("write");
        let key = CacheKey::from_parts("knn", &[b"x"]);
        let err = Cache::at(&blocked).store(&key, b"payload");
        assert!(matches!(err, Err(CacheError::Write { .. })), "{err:?}");
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let text = write_failure_text(Path::new("/c/knn.bin"), &full);
        assert!(text.contains("the disk is full"), "{text}");
        assert!(text.contains("/c/knn.bin"), "{text}");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }

    #[test]
    fn limits_parse_as_gigabytes_or_none() {
        assert_eq!(parse_max_gb("20"), Ok(Some(20 << 30)));
        assert_eq!(parse_max_gb("0.5"), Ok(Some(1 << 29)));
        assert_eq!(parse_max_gb("0"), Ok(Some(0)));
        assert_eq!(parse_max_gb(" None "), Ok(None));
        for bad in ["-1", "lots", "", "inf", "NaN"] {
            assert!(parse_max_gb(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn truncated_or_corrupt_entries_are_not_trusted() {
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::at(dir.path());
        let key = CacheKey::new("knn", &[0.0], 1, "");
        cache.store(&key, &[7u8; 100]).expect("store");
        let path = dir.path().join(key.file_name());
        let bytes = std::fs::read(&path).expect("read");

        std::fs::write(&path, &bytes[..bytes.len() - 10]).expect("truncate");
        assert!(
            matches!(cache.load(&key), Lookup::Corrupt { reason, .. } if reason.contains("truncated"))
        );

        let mut flipped = bytes.clone();
        flipped[HEADER_BYTES + 5] ^= 1;
        std::fs::write(&path, &flipped).expect("corrupt");
        assert!(
            matches!(cache.load(&key), Lookup::Corrupt { reason, .. } if reason.contains("checksum"))
        );

        std::fs::write(&path, b"junk").expect("junk");
        assert!(matches!(cache.load(&key), Lookup::Corrupt { .. }));

        // Storing again repairs it.
        cache.store(&key, &[7u8; 100]).expect("store");
        assert_eq!(cache.load(&key), Lookup::Hit(vec![7u8; 100]));
    }
}
