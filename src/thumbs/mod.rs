//! The thumbnail cache: every item's image decoded and shrunk once, kept on disk in fixed-size
//! cells at a few sizes ("tiers", the mip levels of the mosaic), read back a cell at a time.
//!
//! The explorer draws thousands of thumbnails at once, so it cannot decode images while it
//! draws. [`open_or_build`] decodes each image once (in parallel), letterboxes it into square
//! RGBA cells of every tier side (8, 32 and 128 px, capped at the images' own size), and
//! writes them to one cache file. The viewer then streams cells from that file to the GPU as
//! the view needs them ([`ThumbStore::read_cell`] is a positional read, safe from any thread).
//!
//! The file is keyed by the image folder and the tier sides; inside, each item carries a key of
//! its path, size and modification time. A rebuild reuses every cell whose key is unchanged, so
//! adding images to a folder decodes only the new ones, and a relaunch with nothing changed
//! reads only the index. Images that cannot be decoded get a visible placeholder cell.

pub mod decode;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use thiserror::Error;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

pub use decode::{decode_file, letterbox, over_backdrop, placeholder};

use crate::cache::Cache;
use crate::dataset::Images;
use crate::progress::Observer;

const MAGIC: &[u8; 8] = b"IVTTHUMB";
/// Bump when the cell contents change (filtering, letterbox, orientation handling).
const FORMAT_VERSION: u32 = 2;
/// Cell data starts at a multiple of this, so cells never straddle more pages than needed.
const DATA_ALIGN: u64 = 4096;
/// Items one build task decodes and writes together (64 cells of 128 px are 4 MB).
const RUN_ITEMS: usize = 64;

/// The tier sides a store may hold. A tier is drawn when a thumbnail is about that size on
/// screen; four times apart, like every other level of a mip chain.
pub const TIER_SIDES: [u32; 3] = [8, 32, 128];
/// The largest cell side accepted for `--thumbnail-px`.
pub const MAX_CELL_PX: u32 = 256;

#[derive(Debug, Error)]
pub enum ThumbError {
    #[error("--thumbnail-px {0}: must be a power of two from 8 to {MAX_CELL_PX}")]
    BadCellSize(u32),
    #[error("cannot write the thumbnail cache {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot read the thumbnail cache {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("thumbnail cache cancelled")]
    Cancelled,
}

/// What a cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CellStatus {
    Image = 0,
    /// The image could not be decoded: the cell is a placeholder.
    Failed = 1,
}

/// The tier sides for cells at most `top_px` wide: the standard ones below it, and `top_px`.
pub fn tiers_for(top_px: u32) -> Result<Vec<u32>, ThumbError> {
    if !top_px.is_power_of_two() || !(8..=MAX_CELL_PX).contains(&top_px) {
        return Err(ThumbError::BadCellSize(top_px));
    }
    let mut tiers: Vec<u32> = TIER_SIDES.iter().copied().filter(|&s| s < top_px).collect();
    tiers.push(top_px);
    Ok(tiers)
}

/// The largest cell side worth storing: `requested`, but no larger than the images themselves
/// (rounded up to a power of two), so 28 px images are not blown up to 128 px cells.
pub fn cell_px_for(images: &Images, requested: u32) -> u32 {
    let native = match images {
        Images::None => 8,
        _ => images.max_side().unwrap_or(requested),
    };
    native
        .max(8)
        .checked_next_power_of_two()
        .unwrap_or(requested)
        .min(requested)
}

/// How a store was opened.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// Images decoded now.
    pub decoded: usize,
    /// Cells taken over from the cache.
    pub reused: usize,
    /// Items whose image could not be decoded now, with the reason.
    pub failed: Vec<(usize, String)>,
    pub elapsed_secs: f64,
    /// The cache file, when there is one.
    pub path: Option<PathBuf>,
    /// Things the user should know (an untrustworthy cache file that was rebuilt).
    pub warnings: Vec<String>,
}

enum CellData {
    Memory(Vec<u8>),
    File { file: File, path: PathBuf },
}

/// Cells of every item at every tier, in memory or in the cache file.
pub struct ThumbStore {
    tiers: Vec<u32>,
    n_items: usize,
    status: Vec<CellStatus>,
    /// Where each tier's cells start (in the file, or in the memory buffer).
    tier_offsets: Vec<u64>,
    data: CellData,
}

impl std::fmt::Debug for ThumbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThumbStore")
            .field("tiers", &self.tiers)
            .field("n_items", &self.n_items)
            .finish_non_exhaustive()
    }
}

impl ThumbStore {
    /// Cell sides, smallest first.
    pub fn tiers(&self) -> &[u32] {
        &self.tiers
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    pub fn status(&self, item: usize) -> Option<CellStatus> {
        self.status.get(item).copied()
    }

    /// Items whose cell is a placeholder.
    pub fn failed_items(&self) -> impl Iterator<Item = usize> + '_ {
        self.status
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == CellStatus::Failed)
            .map(|(i, _)| i)
    }

    /// Bytes of one cell of tier `tier` (RGBA8, rows top to bottom).
    pub fn cell_bytes(&self, tier: usize) -> usize {
        let side = self.tiers[tier] as usize;
        side * side * 4
    }

    /// Copy item `item`'s cell of tier `tier` into `out` (length [`Self::cell_bytes`]).
    pub fn read_cell(&self, tier: usize, item: usize, out: &mut [u8]) -> io::Result<()> {
        let len = self.cell_bytes(tier);
        if item >= self.n_items || out.len() != len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no cell {item} of tier {tier}"),
            ));
        }
        let offset = self.tier_offsets[tier] + (item * len) as u64;
        match &self.data {
            CellData::Memory(bytes) => {
                let start = offset as usize;
                out.copy_from_slice(&bytes[start..start + len]);
                Ok(())
            }
            CellData::File { file, .. } => file.read_exact_at(out, offset),
        }
    }

    /// The cache file, if the cells live in one.
    pub fn path(&self) -> Option<&Path> {
        match &self.data {
            CellData::Memory(_) => None,
            CellData::File { path, .. } => Some(path),
        }
    }
}

/// The cells of every item, built or read from `cache` (in memory for images held in memory).
pub fn open_or_build(
    images: &Images,
    cell_px: u32,
    cache: &Cache,
    observer: &dyn Observer,
) -> Result<(ThumbStore, BuildReport), ThumbError> {
    let tiers = tiers_for(cell_px)?;
    let started = Instant::now();
    let (store, mut report) = match images {
        Images::None => (
            ThumbStore {
                tiers: tiers.clone(),
                n_items: 0,
                status: Vec::new(),
                tier_offsets: vec![0; tiers.len()],
                data: CellData::Memory(Vec::new()),
            },
            BuildReport::default(),
        ),
        Images::Gray8 { .. } | Images::Rgba8 { .. } => build_in_memory(&tiers, images, observer)?,
        Images::Files(files) => build_file(&tiers, &files.root, &files.paths, cache, observer)?,
    };
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok((store, report))
}

/// Offsets of each tier's cells after a header of `header_bytes`.
fn layout_offsets(tiers: &[u32], n_items: usize, header_bytes: u64) -> (Vec<u64>, u64) {
    let mut offset = header_bytes.div_ceil(DATA_ALIGN) * DATA_ALIGN;
    let mut offsets = Vec::with_capacity(tiers.len());
    for &side in tiers {
        offsets.push(offset);
        offset += (side as u64 * side as u64 * 4) * n_items as u64;
    }
    (offsets, offset)
}

fn build_in_memory(
    tiers: &[u32],
    images: &Images,
    observer: &dyn Observer,
) -> Result<(ThumbStore, BuildReport), ThumbError> {
    let n_items = images.count();
    let per_item = images
        .memory_size()
        .map_or(0, |(w, h)| w as usize * h as usize);
    let (offsets, total) = layout_offsets(tiers, n_items, 0);
    let mut data = vec![0u8; total as usize];
    let mut status = vec![CellStatus::Image; n_items];
    let mut rest: &mut [u8] = &mut data;
    for (t, &side) in tiers.iter().enumerate() {
        let cell = (side * side * 4) as usize;
        let (tier_data, tail) = rest.split_at_mut(cell * n_items);
        rest = tail;
        tier_data
            .par_chunks_mut(cell)
            .enumerate()
            .for_each(|(item, out)| {
                if let Some(mut img) = images.memory_rgba(item) {
                    over_backdrop(&mut img);
                    out.copy_from_slice(&letterbox(&img, side));
                }
            });
        observer.progress((t + 1) as u64, tiers.len() as u64);
    }
    if per_item == 0 {
        status.clear();
    }
    let store = ThumbStore {
        tiers: tiers.to_vec(),
        n_items,
        status,
        tier_offsets: offsets,
        data: CellData::Memory(data),
    };
    let report = BuildReport {
        decoded: n_items,
        ..BuildReport::default()
    };
    Ok((store, report))
}

/// The index of an existing cache file.
struct Index {
    keys: Vec<u64>,
    status: Vec<CellStatus>,
    offsets: Vec<u64>,
}

fn header_bytes(tiers: &[u32], n_items: usize) -> Vec<u8> {
    let mut h = Vec::with_capacity(32 + 4 * tiers.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(&(tiers.len() as u32).to_le_bytes());
    for &t in tiers {
        h.extend_from_slice(&t.to_le_bytes());
    }
    h.extend_from_slice(&(n_items as u64).to_le_bytes());
    h
}

fn index_bytes(tiers: &[u32], keys: &[u64], status: &[CellStatus]) -> Vec<u8> {
    let mut bytes = header_bytes(tiers, keys.len());
    for (k, s) in keys.iter().zip(status) {
        bytes.extend_from_slice(&k.to_le_bytes());
        bytes.push(*s as u8);
    }
    let sum = xxh3_64(&bytes);
    bytes.extend_from_slice(&sum.to_le_bytes());
    bytes
}

/// Read and check a cache file's index; `Ok(None)` when it is absent, `Err` with the reason
/// when it cannot be trusted.
fn read_index(file: &mut File, tiers: &[u32]) -> Result<Index, String> {
    let mut head = vec![0u8; header_bytes(tiers, 0).len()];
    file.read_exact(&mut head)
        .map_err(|e| format!("header: {e}"))?;
    let expected = header_bytes(tiers, 0);
    let fixed = expected.len() - 8;
    if head[..fixed] != expected[..fixed] {
        return Err("written by another version or for other cell sizes".to_owned());
    }
    let n_items = u64::from_le_bytes(head[fixed..].try_into().map_err(|_| "header")?) as usize;
    let index_len = n_items
        .checked_mul(9)
        .and_then(|n| n.checked_add(8))
        .ok_or("item count out of range")?;
    let file_len = file.metadata().map_err(|e| e.to_string())?.len();
    // Every item takes more than a byte: a larger count is damage (and would overflow below).
    if n_items as u64 > file_len {
        return Err(format!("claims {n_items} items in {file_len} bytes"));
    }
    let (offsets, total) = layout_offsets(tiers, n_items, (head.len() + index_len) as u64);
    if file_len != total {
        return Err(format!("{file_len} bytes, expected {total} (truncated?)"));
    }
    let mut index = vec![0u8; index_len];
    file.read_exact(&mut index)
        .map_err(|e| format!("index: {e}"))?;
    let (entries, sum) = index.split_at(index_len - 8);
    let mut check = Xxh3::new();
    check.update(&head);
    check.update(entries);
    if check.digest().to_le_bytes() != sum {
        return Err("index checksum mismatch".to_owned());
    }
    let mut keys = Vec::with_capacity(n_items);
    let mut status = Vec::with_capacity(n_items);
    for e in entries.chunks_exact(9) {
        keys.push(u64::from_le_bytes(e[..8].try_into().map_err(|_| "index")?));
        status.push(match e[8] {
            0 => CellStatus::Image,
            1 => CellStatus::Failed,
            s => return Err(format!("unknown cell status {s}")),
        });
    }
    Ok(Index {
        keys,
        status,
        offsets,
    })
}

fn cache_file_name(tiers: &[u32], root: &Path) -> String {
    let mut h = Xxh3::new();
    h.update(root.as_os_str().as_encoded_bytes());
    for t in tiers {
        h.update(&t.to_le_bytes());
    }
    format!("thumbs-{:016x}.bin", h.digest())
}

fn build_file(
    tiers: &[u32],
    root: &Path,
    paths: &[PathBuf],
    cache: &Cache,
    observer: &dyn Observer,
) -> Result<(ThumbStore, BuildReport), ThumbError> {
    let keys: Vec<u64> = paths
        .par_iter()
        .map(|p| crate::cache::file_identity(p))
        .collect();
    let Some(dir) = cache.dir() else {
        // No cache: the cells go to an anonymous temporary file, gone when the store is.
        let tmp = tempfile::tempfile().map_err(|source| ThumbError::Write {
            path: std::env::temp_dir(),
            source,
        })?;
        let path = std::env::temp_dir().join("(anonymous thumbnail file)");
        return write_cells(tiers, paths, &keys, None, tmp, path, observer);
    };
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let path = dir.join(cache_file_name(tiers, &root));
    // An existing file: use it as it is when every key matches, else take over its cells.
    let mut previous = None;
    let mut warnings = Vec::new();
    if let Ok(mut file) = File::open(&path) {
        match read_index(&mut file, tiers) {
            Ok(index) if index.keys == keys => {
                let store = ThumbStore {
                    tiers: tiers.to_vec(),
                    n_items: keys.len(),
                    status: index.status,
                    tier_offsets: index.offsets,
                    data: CellData::File {
                        file,
                        path: path.clone(),
                    },
                };
                let report = BuildReport {
                    reused: keys.len(),
                    path: Some(path),
                    ..BuildReport::default()
                };
                return Ok((store, report));
            }
            Ok(index) => previous = Some((index, file)),
            Err(reason) => warnings.push(format!(
                "thumbnail cache {} ignored and rebuilt: {reason}",
                path.display()
            )),
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| ThumbError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut result = None;
    crate::atomic::write_with(&path, |file| {
        let out = file.try_clone()?;
        result = Some(write_cells(
            tiers,
            paths,
            &keys,
            previous.as_ref(),
            out,
            path.clone(),
            observer,
        ));
        match &result {
            Some(Err(_)) => Err(io::Error::other("thumbnail build failed")),
            _ => Ok(()),
        }
    })
    .map_err(|source| match result.take() {
        Some(Err(e)) => e,
        _ => ThumbError::Write {
            path: path.clone(),
            source,
        },
    })?;
    match result {
        Some(Ok((mut store, mut report))) => {
            report.warnings = warnings;
            // The store's handle points at the renamed temporary file: the same inode.
            store.data = CellData::File {
                file: File::open(&path).map_err(|source| ThumbError::Read {
                    path: path.clone(),
                    source,
                })?,
                path,
            };
            Ok((store, report))
        }
        Some(Err(e)) => Err(e),
        None => Err(ThumbError::Cancelled),
    }
}

/// How one item came out of a build.
struct Outcome {
    status: CellStatus,
    /// Why its image could not be decoded (now; earlier failures are not repeated).
    failure: Option<String>,
    /// Its cells were taken over from the previous file.
    reused: bool,
}

/// One item's cells in a build: taken over from the previous file, or decoded now.
enum ItemCells {
    Reused {
        cells: Vec<Vec<u8>>,
        status: CellStatus,
    },
    Decoded(Result<Vec<Vec<u8>>, String>),
}

/// Item `old`'s cells of every tier from the previous file; `None` if they cannot be read
/// (the image is then decoded again).
fn take_over(index: &Index, file: &File, old: usize, cell_len: &[usize]) -> Option<ItemCells> {
    let mut cells = Vec::with_capacity(cell_len.len());
    for (t, &len) in cell_len.iter().enumerate() {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, index.offsets[t] + (old * len) as u64)
            .ok()?;
        cells.push(buf);
    }
    Some(ItemCells::Reused {
        cells,
        status: index.status[old],
    })
}

/// Fill `out` with the header, index and cells of every item, decoding what `previous` lacks.
fn write_cells(
    tiers: &[u32],
    paths: &[PathBuf],
    keys: &[u64],
    previous: Option<&(Index, File)>,
    out: File,
    path: PathBuf,
    observer: &dyn Observer,
) -> Result<(ThumbStore, BuildReport), ThumbError> {
    let write_err = |source| ThumbError::Write {
        path: path.clone(),
        source,
    };
    let n_items = paths.len();
    let old_of: std::collections::HashMap<u64, usize> = previous
        .map(|(index, _)| {
            index
                .keys
                .iter()
                .enumerate()
                .map(|(i, &k)| (k, i))
                .collect()
        })
        .unwrap_or_default();
    let mut status = vec![CellStatus::Image; n_items];
    let mut report = BuildReport {
        path: Some(path.clone()),
        ..BuildReport::default()
    };
    // The index is written last (statuses are known only then); reserve its room now.
    let index_len = index_bytes(tiers, keys, &status).len() as u64;
    let (offsets, total) = layout_offsets(tiers, n_items, index_len);
    out.set_len(total).map_err(write_err)?;
    let cell_len: Vec<usize> = tiers.iter().map(|&s| (s * s * 4) as usize).collect();
    let done = std::sync::atomic::AtomicU64::new(0);
    // Each task decodes a run of consecutive items and writes their cells itself (a run's
    // cells are contiguous in every tier): no sequential write phase, no barrier between
    // chunks, and one write per tier per run instead of one per cell.
    // The file is flushed to disk as it grows, by a thread that mostly waits on the disk: the
    // fsync that makes the cache durable then finds little left to write.
    let (build_over, wait) = std::sync::mpsc::channel::<()>();
    let file = &out;
    let runs = std::thread::scope(|scope| {
        scope.spawn(move || {
            // Wakes at once when the build ends (the sender is dropped).
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                wait.recv_timeout(std::time::Duration::from_millis(100))
            {
                let _ = file.sync_data();
            }
        });
        let runs: Result<Vec<Vec<Outcome>>, ThumbError> = (0..n_items.div_ceil(RUN_ITEMS))
            .into_par_iter()
            .map(|run| {
                if observer.cancelled() {
                    return Err(ThumbError::Cancelled);
                }
                let items = run * RUN_ITEMS..((run + 1) * RUN_ITEMS).min(n_items);
                let mut bufs: Vec<Vec<u8>> = cell_len
                    .iter()
                    .map(|len| Vec::with_capacity(len * items.len()))
                    .collect();
                let mut outcome = Vec::with_capacity(items.len());
                for item in items.clone() {
                    let reused = previous
                        .zip(old_of.get(&keys[item]))
                        .and_then(|((index, file), &old)| take_over(index, file, old, &cell_len));
                    let cells = reused
                        .unwrap_or_else(|| ItemCells::Decoded(decode_file(&paths[item], tiers)));
                    let per_tier = match cells {
                        ItemCells::Reused { cells, status } => {
                            outcome.push(Outcome {
                                status,
                                failure: None,
                                reused: true,
                            });
                            cells
                        }
                        ItemCells::Decoded(Ok(cells)) => {
                            outcome.push(Outcome {
                                status: CellStatus::Image,
                                failure: None,
                                reused: false,
                            });
                            cells
                        }
                        ItemCells::Decoded(Err(reason)) => {
                            outcome.push(Outcome {
                                status: CellStatus::Failed,
                                failure: Some(reason),
                                reused: false,
                            });
                            tiers.iter().map(|&s| placeholder(s)).collect()
                        }
                    };
                    for (buf, cell) in bufs.iter_mut().zip(&per_tier) {
                        buf.extend_from_slice(cell);
                    }
                }
                for (t, buf) in bufs.iter().enumerate() {
                    out.write_all_at(buf, offsets[t] + (items.start * cell_len[t]) as u64)
                        .map_err(write_err)?;
                }
                let finished =
                    done.fetch_add(items.len() as u64, std::sync::atomic::Ordering::Relaxed);
                observer.progress(finished + items.len() as u64, n_items as u64);
                Ok(outcome)
            })
            .collect();
        drop(build_over);
        runs
    })?;
    for (item, outcome) in runs.into_iter().flatten().enumerate() {
        status[item] = outcome.status;
        if outcome.reused {
            report.reused += 1;
        } else {
            report.decoded += 1;
        }
        if let Some(reason) = outcome.failure {
            report.failed.push((item, reason));
        }
    }
    out.write_all_at(&index_bytes(tiers, keys, &status), 0)
        .map_err(write_err)?;
    let store = ThumbStore {
        tiers: tiers.to_vec(),
        n_items,
        status,
        tier_offsets: offsets,
        data: CellData::File { file: out, path },
    };
    Ok((store, report))
}

/// Images without a picture in `store`, for the log: the first ten with the reason (when known
/// from this build), then how many more; nothing when all decoded.
pub fn failure_lines(images: &Images, store: &ThumbStore, report: &BuildReport) -> Vec<String> {
    const SHOWN: usize = 10;
    let failed: Vec<usize> = store.failed_items().collect();
    if failed.is_empty() {
        return Vec::new();
    }
    let reason_of: std::collections::HashMap<usize, &str> = report
        .failed
        .iter()
        .map(|(i, r)| (*i, r.as_str()))
        .collect();
    let mut lines = vec![format!(
        "{} image(s) could not be decoded and are drawn as a red cross:",
        failed.len()
    )];
    for &item in failed.iter().take(SHOWN) {
        let name = match images {
            Images::Files(f) => f
                .paths
                .get(item)
                .map_or_else(|| format!("item {item}"), |p| p.display().to_string()),
            _ => format!("item {item}"),
        };
        let reason = reason_of
            .get(&item)
            .copied()
            .unwrap_or("failed in an earlier build; unchanged since");
        lines.push(format!("  {name}: {reason}"));
    }
    if failed.len() > SHOWN {
        lines.push(format!("  … and {} more", failed.len() - SHOWN));
    }
    lines
}
