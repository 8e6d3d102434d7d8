//! On-disk cache of computed artefacts (kNN graphs now; layouts and clusters later), so a
//! second launch on the same data opens without recomputing.
//!
//! An entry is named by a hash of the feature bytes, the parameters and the algorithm version,
//! so changing any of them misses. Entries are written atomically and carry their length and
//! a checksum: a truncated or corrupt file is reported, ignored and recomputed, never trusted.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

use crate::atomic;

const MAGIC: &[u8; 8] = b"IVTCACHE";
const FORMAT_VERSION: u32 = 1;
/// magic + format version + payload length + checksum.
const HEADER_BYTES: usize = 8 + 4 + 8 + 8;

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

/// Where entries live; `None` disables caching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    dir: Option<PathBuf>,
}

impl Cache {
    pub fn disabled() -> Self {
        Self { dir: None }
    }

    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: Some(dir.into()),
        }
    }

    /// `ivt-explore/artefacts` in the user's cache folder (`~/.cache` on Linux); disabled if
    /// the platform has none. A sub-folder, so the entries never mix with other files there.
    pub fn default_location() -> Self {
        Self {
            dir: dirs::cache_dir().map(|d| d.join("ivt-explore").join("artefacts")),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    pub fn load(&self, key: &CacheKey) -> Lookup {
        let Some(dir) = &self.dir else {
            return Lookup::Miss;
        };
        let path = dir.join(key.file_name());
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Miss,
            Err(e) => {
                return Lookup::Corrupt {
                    path,
                    reason: e.to_string(),
                };
            }
        };
        match check_entry(&bytes) {
            Ok(()) => Lookup::Hit(bytes[HEADER_BYTES..].to_vec()),
            Err(reason) => Lookup::Corrupt { path, reason },
        }
    }

    /// Store `payload` under `key`; a no-op when caching is disabled.
    pub fn store(&self, key: &CacheKey, payload: &[u8]) -> Result<(), CacheError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        let path = dir.join(key.file_name());
        let write_err = |source| CacheError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(write_err)?;
        atomic::write_with(&path, |f| {
            let mut w = std::io::BufWriter::new(f);
            w.write_all(MAGIC)?;
            w.write_all(&FORMAT_VERSION.to_le_bytes())?;
            w.write_all(&(payload.len() as u64).to_le_bytes())?;
            w.write_all(&xxh3_64(payload).to_le_bytes())?;
            w.write_all(payload)?;
            w.flush()
        })
        .map_err(write_err)
    }
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
