//! The thumbnail cache: every item's image decoded and shrunk once, kept on disk in fixed-size
//! cells at a few sizes ("tiers", the mip levels of the mosaic), read back a cell at a time.
//!
//! The explorer draws thousands of thumbnails at once, so it cannot decode images while it
//! draws, and at a million images it cannot keep every size of every image either. So:
//! - **Small tiers** (8 and 32 px) exist for every item, in one file, in the compact form of
//!   [`codec`] (1.6 KB an image). [`open`] finds what an earlier build left (complete, or cut
//!   short by a kill: a build writes in place and resumes, checking each finished item's
//!   checksum) and returns the store at once; [`Build::run`] decodes the rest in parallel
//!   while the store already serves cells. A cell not built yet is decoded on demand from its
//!   image, so a view never waits for the whole build.
//! - **Large tiers** (128 px and up) are made on demand, when a view zoomed in asks, and kept
//!   in a bounded disk cache ([`large::LargeCache`], least recently used evicted).
//!
//! The small file is keyed by the image folder and the tier sides; inside, each item carries
//! a key of its path, size and modification time. When the images change, the old file is
//! set aside and every cell whose key is unchanged is taken over, so adding images to a folder
//! decodes only the new ones. Images that cannot be decoded get a visible placeholder cell.
//! Images held in memory (the demo, `.npz` arrays) are shrunk into memory, every tier.

pub mod codec;
pub mod decode;
pub mod large;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use rayon::prelude::*;
use thiserror::Error;
use xxhash_rust::xxh3::{Xxh3, xxh3_64};

pub use decode::{cells_of, decode_file, letterbox, over_backdrop, placeholder};
pub use large::LargeCache;

use crate::cache::Cache;
use crate::dataset::Images;
use crate::progress::Observer;

const MAGIC: &[u8; 8] = b"IVTTHUMB";
/// Bump when the cell contents or the file's layout change.
const FORMAT_VERSION: u32 = 4;
/// Cell data starts at a multiple of this, so cells never straddle more pages than needed.
const DATA_ALIGN: u64 = 4096;
/// Items one build task decodes and writes together.
const RUN_ITEMS: usize = 64;
/// Per item in the file: key (8), checksum of its cells (4), state (1), padding (3).
const RECORD: usize = 16;

/// The tier sides a store may hold. A tier is drawn when a thumbnail is about that size on
/// screen; four times apart, like every other level of a mip chain.
pub const TIER_SIDES: [u32; 3] = [8, 32, 128];
/// The largest cell side accepted for `--thumbnail-px`.
pub const MAX_CELL_PX: u32 = 256;
/// Tiers up to this side are kept for every item; larger ones are made on demand.
pub const SMALL_MAX_PX: u32 = 32;
/// Default disk budget for large cells (`--thumbnail-cache-gb`): 2 GB hold ~85,000 cells of
/// 128 px, a dozen screens of a view zoomed in to images.
pub const DEFAULT_LARGE_CACHE_GB: f64 = 2.0;

#[derive(Debug, Error)]
pub enum ThumbError {
    #[error("the thumbnail cell side must be a power of two from 8 to {MAX_CELL_PX} px, not {0}")]
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
    Image = 1,
    /// The image could not be decoded: the cell is a placeholder.
    Failed = 2,
}

/// An item not built yet (its state byte).
const PENDING: u8 = 0;

fn status_of(byte: u8) -> Option<CellStatus> {
    match byte {
        1 => Some(CellStatus::Image),
        2 => Some(CellStatus::Failed),
        _ => None,
    }
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

/// How a store was opened and built.
#[derive(Debug, Clone, Default)]
pub struct BuildReport {
    /// Images decoded now.
    pub decoded: usize,
    /// Items whose cells were already in the cache (or taken over from its previous file).
    pub reused: usize,
    /// Items whose image could not be decoded now, with the reason.
    pub failed: Vec<(usize, String)>,
    pub elapsed_secs: f64,
    /// The cache file, when there is one.
    pub path: Option<PathBuf>,
    /// Things the user should know (an untrustworthy cache file that was rebuilt).
    pub warnings: Vec<String>,
    /// Why the cells could not be kept on disk (a full disk), when they could not: the store
    /// still serves every cell, decoding on demand what the build did not write, and the file
    /// cut short is removed, not left as a partial entry.
    pub not_kept: Option<String>,
}

/// Where the small cells of file images live, and how to make any cell that is not there.
struct FileCells {
    file: File,
    path: PathBuf,
    /// The file lives in the cache folder (else it is anonymous and goes with the store).
    persistent: bool,
    /// Where item 0's record and cells start; bytes of one item's cells; each small tier's
    /// offset within them.
    records_at: u64,
    data_at: u64,
    stride: u64,
    tier_at: Vec<u64>,
    paths: Arc<[PathBuf]>,
    ids: crate::cache::FileIdentities,
    /// Each image's identity (path, size, mtime), what its record and its large cells are
    /// keyed by; 0: not computed yet (see [`FileCells::key`]).
    keys: Vec<AtomicU64>,
    /// The key of the image each item's small cells were made from.
    record_keys: Vec<AtomicU64>,
    /// Tiers past the small ones, by side.
    large: Vec<LargeCache>,
}

impl FileCells {
    /// Item `item`'s image identity, computed when first needed (the build stats a file as it
    /// decodes it) unless the scan had them all: on a fresh cache, a stat of 10⁶ files before
    /// the first cell held the first thumbnails 4 s on a busy 2-core machine. An identity
    /// that hashes to 0 is just computed again.
    fn key(&self, item: usize) -> u64 {
        match self.keys[item].load(Ordering::Relaxed) {
            0 => {
                let key = self.ids.of(&self.paths[item]);
                self.keys[item].store(key, Ordering::Relaxed);
                key
            }
            key => key,
        }
    }

    /// Whether item `item`'s small cells were made from its image as it is now.
    fn current(&self, item: usize) -> bool {
        self.key(item) == self.record_keys[item].load(Ordering::Acquire)
    }
}

enum CellData {
    /// RGBA8 cells of every tier (images held in memory): where each tier starts.
    Memory {
        bytes: Vec<u8>,
        tier_at: Vec<usize>,
    },
    Files(Box<FileCells>),
}

/// Cells of every item at every tier: small ones from memory or the cache file, large ones
/// from the large-cell cache, anything missing decoded on demand. Shared (an `Arc`) between
/// the build and its readers.
pub struct ThumbStore {
    tiers: Vec<u32>,
    n_items: usize,
    /// Per item: [`PENDING`] or a [`CellStatus`] byte.
    state: Vec<AtomicU8>,
    built: AtomicUsize,
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

    /// How item `item`'s cells came out; `None` while it is not built (or out of range).
    pub fn status(&self, item: usize) -> Option<CellStatus> {
        status_of(self.state.get(item)?.load(Ordering::Acquire))
    }

    /// Items built so far (all of them once the build has finished).
    pub fn built(&self) -> usize {
        self.built.load(Ordering::Relaxed)
    }

    /// Items whose cell is a placeholder.
    pub fn failed_items(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.n_items).filter(|&i| self.status(i) == Some(CellStatus::Failed))
    }

    /// Bytes of one cell of tier `tier` as [`Self::read_cell`] gives it (RGBA8, rows top to
    /// bottom).
    pub fn cell_bytes(&self, tier: usize) -> usize {
        let side = self.tiers[tier] as usize;
        side * side * 4
    }

    /// Tiers kept for every item; the rest are made on demand.
    pub fn small_tiers(&self) -> usize {
        match &self.data {
            CellData::Memory { .. } => self.tiers.len(),
            CellData::Files(f) => f.tier_at.len(),
        }
    }

    /// The large-cell caches, smallest side first.
    pub fn large_caches(&self) -> &[LargeCache] {
        match &self.data {
            CellData::Memory { .. } => &[],
            CellData::Files(f) => &f.large,
        }
    }

    /// Copy item `item`'s cell of tier `tier` into `out` (length [`Self::cell_bytes`]): read
    /// from memory, the small-cell file or the large-cell cache, or decoded from the image now
    /// (a cell not built yet, a large cell not kept). May decode an image: call it off the
    /// frame.
    pub fn read_cell(&self, tier: usize, item: usize, out: &mut [u8]) -> io::Result<()> {
        if item >= self.n_items || tier >= self.tiers.len() || out.len() != self.cell_bytes(tier) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("no cell {item} of tier {tier}"),
            ));
        }
        let side = self.tiers[tier];
        let files = match &self.data {
            CellData::Memory { bytes, tier_at } => {
                let start = tier_at[tier] + item * out.len();
                out.copy_from_slice(&bytes[start..start + out.len()]);
                return Ok(());
            }
            CellData::Files(files) => files,
        };
        let mut status = self.state[item].load(Ordering::Acquire);
        if status != PENDING && !files.current(item) {
            // Changed since its cells were made (the build will remake them): decode it now.
            status = PENDING;
        }
        if status == CellStatus::Failed as u8 {
            out.copy_from_slice(&placeholder(side));
            return Ok(());
        }
        let compact = if let Some(large) = files.large.get(tier.wrapping_sub(files.tier_at.len())) {
            let key = files.key(item);
            match large.get(key) {
                Some(cell) => cell,
                None => {
                    let cell = files.decode_compact(item, side);
                    if let Some(cell) = &cell
                        && let Err(e) = large.put(key, cell)
                    {
                        // A full disk: the cell is shown, not kept (a slot torn by it fails
                        // its checksum, a miss).
                        crate::cache::note_write_failure(large.path(), &e);
                    }
                    match cell {
                        Some(c) => c,
                        None => {
                            out.copy_from_slice(&placeholder(side));
                            return Ok(());
                        }
                    }
                }
            }
        } else if status == PENDING {
            match files.decode_compact(item, side) {
                Some(c) => c,
                None => {
                    out.copy_from_slice(&placeholder(side));
                    return Ok(());
                }
            }
        } else {
            let mut cell = vec![0u8; codec::encoded_len(side)];
            files.file.read_exact_at(
                &mut cell,
                files.data_at + item as u64 * files.stride + files.tier_at[tier],
            )?;
            cell
        };
        let rgba = codec::decode(&compact, side)
            .ok_or_else(|| io::Error::other(format!("damaged cell {item} of tier {tier}")))?;
        out.copy_from_slice(&rgba);
        Ok(())
    }

    /// The small-cell file, if the cells live in one.
    pub fn path(&self) -> Option<&Path> {
        match &self.data {
            CellData::Memory { .. } => None,
            CellData::Files(f) => Some(&f.path),
        }
    }
}

impl FileCells {
    /// Item `item`'s cell of `side` decoded from its image now, in compact form; `None` when
    /// the image cannot be decoded.
    fn decode_compact(&self, item: usize, side: u32) -> Option<Vec<u8>> {
        let cells = decode_file(&self.paths[item], &[side]).ok()?;
        cells.first().map(|c| codec::encode(c, side))
    }
}

/// One item's record in the small-cell file.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Record {
    key: u64,
    /// The low half of the xxh3 of the item's cells (all small tiers).
    sum: u32,
    state: u8,
}

impl Record {
    fn bytes(&self) -> [u8; RECORD] {
        let mut b = [0u8; RECORD];
        b[..8].copy_from_slice(&self.key.to_le_bytes());
        b[8..12].copy_from_slice(&self.sum.to_le_bytes());
        b[12] = self.state;
        b
    }

    fn parse(b: &[u8]) -> Self {
        let mut key = [0u8; 8];
        key.copy_from_slice(&b[..8]);
        let mut sum = [0u8; 4];
        sum.copy_from_slice(&b[8..12]);
        Self {
            key: u64::from_le_bytes(key),
            sum: u32::from_le_bytes(sum),
            state: b[12],
        }
    }
}

fn cells_sum(cells: &[u8]) -> u32 {
    xxh3_64(cells) as u32
}

/// Where things are in a small-cell file of `n_items` items.
#[derive(Debug, Clone, Copy)]
struct Layout {
    records_at: u64,
    data_at: u64,
    stride: u64,
    total: u64,
}

fn layout(small: &[u32], n_items: usize) -> Layout {
    let records_at = header_bytes(small, 0, false).len() as u64;
    let data_at = (records_at + (n_items * RECORD) as u64).div_ceil(DATA_ALIGN) * DATA_ALIGN;
    let stride: u64 = small.iter().map(|&s| codec::encoded_len(s) as u64).sum();
    Layout {
        records_at,
        data_at,
        stride,
        total: data_at + stride * n_items as u64,
    }
}

/// Magic, version, the tier sides, the item count, and whether the build finished.
fn header_bytes(small: &[u32], n_items: usize, complete: bool) -> Vec<u8> {
    let mut h = Vec::with_capacity(32 + 4 * small.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(&(small.len() as u32).to_le_bytes());
    for &t in small {
        h.extend_from_slice(&t.to_le_bytes());
    }
    h.extend_from_slice(&(n_items as u64).to_le_bytes());
    h.push(u8::from(complete));
    h
}

/// The index of an existing small-cell file.
struct Index {
    complete: bool,
    records: Vec<Record>,
    layout: Layout,
}

/// Read and check a small-cell file's header and records; `Err` with the reason when it
/// cannot be trusted.
fn read_index(file: &File, small: &[u32]) -> Result<Index, String> {
    let expected = header_bytes(small, 0, false);
    let mut head = vec![0u8; expected.len()];
    file.read_exact_at(&mut head, 0)
        .map_err(|e| format!("header: {e}"))?;
    let fixed = expected.len() - 9;
    if head[..fixed] != expected[..fixed] {
        return Err("written by another version or for other cell sizes".to_owned());
    }
    let mut count = [0u8; 8];
    count.copy_from_slice(&head[fixed..fixed + 8]);
    let n_items = u64::from_le_bytes(count);
    let file_len = file.metadata().map_err(|e| e.to_string())?.len();
    // Every item takes more than a byte: a larger count is damage (and would overflow below).
    if n_items > file_len {
        return Err(format!("claims {n_items} items in {file_len} bytes"));
    }
    let n_items = n_items as usize;
    let complete = match head[fixed + 8] {
        0 => false,
        1 => true,
        b => return Err(format!("unknown build state {b}")),
    };
    let layout = layout(small, n_items);
    if file_len != layout.total {
        return Err(format!(
            "{file_len} bytes, expected {} (truncated?)",
            layout.total
        ));
    }
    let mut raw = vec![0u8; n_items * RECORD];
    file.read_exact_at(&mut raw, layout.records_at)
        .map_err(|e| format!("records: {e}"))?;
    let records: Vec<Record> = raw.chunks_exact(RECORD).map(Record::parse).collect();
    if let Some(r) = records.iter().find(|r| r.state > CellStatus::Failed as u8) {
        return Err(format!("unknown cell state {}", r.state));
    }
    if complete && records.iter().any(|r| r.state == PENDING) {
        return Err("marked complete with items missing".to_owned());
    }
    Ok(Index {
        complete,
        records,
        layout,
    })
}

/// The small-cell file's name in the cache folder; its large-cell files share its name up to
/// the first dot (`thumbs-<hash>.large128.bin`), so the store is one entry of the cache.
fn cache_file_name(prefix: &str, sides: &[u32], root: &Path) -> String {
    let mut h = Xxh3::new();
    h.update(root.as_os_str().as_encoded_bytes());
    for t in sides {
        h.update(&t.to_le_bytes());
    }
    format!("{prefix}-{:016x}.bin", h.digest())
}

/// An earlier file of other images, set aside while the new one is built: its cells are
/// taken over by key.
struct Previous {
    file: File,
    path: PathBuf,
    index: Index,
    by_key: HashMap<u64, usize>,
}

/// What a build of file images still has to do.
struct FileWork {
    /// The file's records as found (zero for a new file).
    records: Vec<Record>,
    /// The file was left by a build cut short: finished items are checked, not trusted.
    resuming: bool,
    /// The file is complete, but whether each image is still the one its cells were made
    /// from is not known yet (a stat each: seconds at 10⁶ files, so not before the store
    /// opens).
    unchecked: bool,
    previous: Option<Previous>,
}

/// A store opened, and the work left to finish it: [`Build::store`] serves cells at once,
/// [`Build::run`] builds the rest.
pub struct Build {
    store: Arc<ThumbStore>,
    work: Option<FileWork>,
    report: BuildReport,
    started: Instant,
    /// Kept within its limit once the build has written what it will.
    cache: Cache,
}

impl Build {
    /// The store, usable (and shareable) while the build runs.
    pub fn store(&self) -> Arc<ThumbStore> {
        Arc::clone(&self.store)
    }

    /// Items the build has left to make (0: the cache was complete).
    pub fn pending(&self) -> usize {
        self.store.n_items - self.store.built()
    }

    /// Build every missing cell (in parallel on the current rayon pool), then mark the file
    /// complete. Cancelled or killed, what was written stays and a later build resumes.
    pub fn run(
        self,
        observer: &dyn Observer,
    ) -> Result<(Arc<ThumbStore>, BuildReport), ThumbError> {
        let Build {
            store,
            work,
            mut report,
            started,
            cache,
        } = self;
        if let Some(mut work) = work {
            let built = if std::mem::take(&mut work.unchecked) {
                check_files(&store, &mut work, &mut report, observer)
            } else {
                Ok(())
            }
            .and_then(|()| build_files(&store, work, &mut report, observer));
            match built {
                Err(ThumbError::Write { path, source }) => {
                    give_up_writing(&store, &path, &source, &mut report);
                }
                other => other?,
            }
            // The store's own files are locked while it is open: only other entries can go.
            cache.trim(&[]);
        }
        report.elapsed_secs = started.elapsed().as_secs_f64();
        Ok((store, report))
    }
}

/// The cells of every item, built or read from `cache` (in memory for images held in memory),
/// large cells within the default budget: [`open`] then [`Build::run`].
pub fn open_or_build(
    images: &Images,
    cell_px: u32,
    cache: &Cache,
    observer: &dyn Observer,
) -> Result<(Arc<ThumbStore>, BuildReport), ThumbError> {
    open(images, cell_px, cache, gb_to_bytes(DEFAULT_LARGE_CACHE_GB))?.run(observer)
}

/// Gigabytes (as given on the command line) to bytes; negative and NaN are none.
pub fn gb_to_bytes(gb: f64) -> u64 {
    if gb.is_finite() && gb > 0.0 {
        (gb * f64::from(1u32 << 30)) as u64
    } else {
        0
    }
}

/// Open the thumbnail store of `images`: what the cache holds is usable at once, the rest is
/// left to [`Build::run`]. Large cells get `large_budget` bytes of disk.
pub fn open(
    images: &Images,
    cell_px: u32,
    cache: &Cache,
    large_budget: u64,
) -> Result<Build, ThumbError> {
    let tiers = tiers_for(cell_px)?;
    let started = Instant::now();
    let (store, work, report) = match images {
        Images::None => (
            ThumbStore {
                tiers,
                n_items: 0,
                state: Vec::new(),
                built: AtomicUsize::new(0),
                data: CellData::Memory {
                    bytes: Vec::new(),
                    tier_at: Vec::new(),
                },
            },
            None,
            BuildReport::default(),
        ),
        Images::Gray8 { .. } | Images::Rgba8 { .. } => {
            let (store, report) = build_in_memory(tiers, images);
            (store, None, report)
        }
        Images::Files(files) => {
            let (store, work, report) = open_files(tiers, files, cache, large_budget)?;
            (store, Some(work), report)
        }
    };
    Ok(Build {
        store: Arc::new(store),
        work,
        report,
        started,
        cache: cache.clone(),
    })
}

/// The small-cell file could not be written (a full disk): say so once per process, and
/// remove the store's files so no partial entry is left (the store keeps its handles: cells
/// already written stay readable, the rest are decoded on demand as before the build). A
/// `.prev` left by an earlier, complete build stays, with the data set named beside it.
fn give_up_writing(store: &ThumbStore, path: &Path, error: &io::Error, report: &mut BuildReport) {
    crate::cache::note_write_failure(path, error);
    report.not_kept = Some(format!("{}: {error}", path.display()));
    let CellData::Files(files) = &store.data else {
        return;
    };
    if !files.persistent {
        return;
    }
    let _ = std::fs::remove_file(&files.path);
    for large in &files.large {
        let _ = std::fs::remove_file(large.path());
        let _ = std::fs::remove_file(large::index_path(large.path()));
    }
    if !files.path.with_extension("prev").exists() {
        let named = files
            .path
            .with_extension(crate::cache::entries::DATASET_EXT);
        let _ = std::fs::remove_file(named);
    }
}

fn build_in_memory(tiers: Vec<u32>, images: &Images) -> (ThumbStore, BuildReport) {
    let n_items = images.count();
    let mut tier_at = Vec::with_capacity(tiers.len());
    let mut total = 0;
    for &side in &tiers {
        tier_at.push(total);
        total += (side * side * 4) as usize * n_items;
    }
    let mut bytes = vec![0u8; total];
    let mut rest: &mut [u8] = &mut bytes;
    for &side in &tiers {
        let cell = (side * side * 4) as usize;
        let (tier_data, tail) = rest.split_at_mut(cell * n_items);
        rest = tail;
        tier_data
            .par_chunks_mut(cell)
            .enumerate()
            .for_each(|(item, out)| {
                if let Some(img) = images.memory_rgba(item)
                    && let Some(cell) = cells_of(&img, &[side]).pop()
                {
                    out.copy_from_slice(&cell);
                }
            });
    }
    let store = ThumbStore {
        tiers,
        n_items,
        state: (0..n_items)
            .map(|_| AtomicU8::new(CellStatus::Image as u8))
            .collect(),
        built: AtomicUsize::new(n_items),
        data: CellData::Memory { bytes, tier_at },
    };
    let report = BuildReport {
        decoded: n_items,
        ..BuildReport::default()
    };
    (store, report)
}

fn write_error(path: &Path) -> impl Fn(io::Error) -> ThumbError + '_ {
    move |source| ThumbError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// A new, empty small-cell file at `path` (or anonymous): header written first, so a build
/// killed at any point leaves a file the next one resumes.
fn create_small_file(
    path: Option<&Path>,
    small: &[u32],
    n_items: usize,
) -> Result<File, ThumbError> {
    let layout = layout(small, n_items);
    let (file, shown) = match path {
        Some(p) => (
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(p),
            p.to_path_buf(),
        ),
        None => (tempfile::tempfile(), std::env::temp_dir()),
    };
    let err = write_error(&shown);
    let file = file.map_err(&err)?;
    file.set_len(layout.total).map_err(&err)?;
    file.write_all_at(&header_bytes(small, n_items, false), 0)
        .map_err(&err)?;
    Ok(file)
}

type Opened = (ThumbStore, FileWork, BuildReport);

/// Open (or create) the thumbnail store of `files` in the cache, in steps: the cache folder,
/// the store's earlier file and the one set aside before it, the small-cell file, the large
/// cells of each large tier, then the store itself.
fn open_files(
    tiers: Vec<u32>,
    files: &crate::dataset::ImageFiles,
    cache: &Cache,
    large_budget: u64,
) -> Result<Opened, ThumbError> {
    let (root, paths) = (&files.root, &files.paths);
    let n_items = paths.len();
    let small: Vec<u32> = tiers
        .iter()
        .copied()
        .filter(|&s| s <= SMALL_MAX_PX)
        .collect();
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut report = BuildReport::default();
    let dir = open_cache_dir(cache, &mut report);
    let path = dir.map(|d| d.join(cache_file_name("thumbs", &small, &root)));
    let (found, previous) = match &path {
        Some(path) => find_earlier_files(path, &small, n_items, &mut report)?,
        None => (None, None),
    };
    let small_file = open_small_file(found, path.as_deref(), &small, n_items, &mut report)?;
    let SmallFile {
        file,
        records,
        complete,
        persistent,
    } = small_file;
    if persistent && let Some(path) = &path {
        // In use while the store is open: eviction skips what a running process holds.
        let _ = file.lock_shared();
        // Its last use, for the least-recently-used order (a complete file is not written).
        let _ = file.set_modified(std::time::SystemTime::now());
        if let Some(name) = path.file_stem().and_then(|n| n.to_str()) {
            cache.record_dataset(name);
        }
    }
    if let Some(prev) = &previous {
        let _ = prev.file.lock_shared();
    }
    let state: Vec<AtomicU8> = records
        .iter()
        .map(|r| AtomicU8::new(if complete { r.state } else { PENDING }))
        .collect();
    let built = if complete { n_items } else { 0 };
    if complete {
        report.reused = n_items;
    }
    let path = path.filter(|_| persistent);
    let large = open_large_cells(
        &tiers[small.len()..],
        path.as_deref(),
        dir,
        &root,
        large_budget,
    )?;
    let layout = layout(&small, n_items);
    let mut tier_at = Vec::with_capacity(small.len());
    let mut at = 0;
    for &s in &small {
        tier_at.push(at);
        at += codec::encoded_len(s) as u64;
    }
    report.path = path.clone();
    let shown = path.unwrap_or_else(|| std::env::temp_dir().join("(anonymous thumbnail file)"));
    let store = ThumbStore {
        tiers,
        n_items,
        state,
        built: AtomicUsize::new(built),
        data: CellData::Files(Box::new(FileCells {
            file,
            path: shown,
            persistent,
            records_at: layout.records_at,
            data_at: layout.data_at,
            stride: layout.stride,
            tier_at,
            paths: Arc::clone(paths),
            ids: crate::cache::FileIdentities::new(),
            keys: match files.identities.as_deref() {
                Some(known) => known.iter().map(|&k| AtomicU64::new(k)).collect(),
                None => (0..n_items).map(|_| AtomicU64::new(0)).collect(),
            },
            record_keys: records.iter().map(|r| AtomicU64::new(r.key)).collect(),
            large,
        })),
    };
    let work = FileWork {
        records,
        resuming: !complete,
        unchecked: complete,
        previous,
    };
    Ok((store, work, report))
}

/// The cache folder, made if needed; `None` (and the reason in `report`) when it cannot be:
/// this run's cells then live in anonymous files.
fn open_cache_dir<'a>(cache: &'a Cache, report: &mut BuildReport) -> Option<&'a Path> {
    match cache.create_dir() {
        Ok(dir) => Some(dir),
        Err(e) => {
            if let Some(dir) = cache.dir() {
                crate::cache::note_write_failure(dir, &e);
                report.not_kept = Some(format!("{}: {e}", dir.display()));
            }
            None
        }
    }
}

/// A store file found in the cache for these images, with its index.
type Found = (File, Index);

/// The store's file at `path` if it holds these `n_items` images, and the file an earlier run
/// set aside (`.prev`) whose cells are taken over by key. A store file of other images is set
/// aside now; an unreadable one is rebuilt (a warning in `report`).
fn find_earlier_files(
    path: &Path,
    small: &[u32],
    n_items: usize,
    report: &mut BuildReport,
) -> Result<(Option<Found>, Option<Previous>), ThumbError> {
    let mut found = None;
    let mut previous = None;
    let prev_path = path.with_extension("prev");
    if let Ok(file) = OpenOptions::new().read(true).write(true).open(path) {
        match read_index(&file, small) {
            // Whether each record still matches its file is checked by the build, in the
            // background, and by each read until then (see `FileCells::current`).
            Ok(index) if index.records.len() == n_items => {
                found = Some((file, index));
            }
            Ok(_) => {
                // Other images: set the file aside and take its cells over by key.
                drop(file);
                std::fs::rename(path, &prev_path).map_err(write_error(path))?;
            }
            Err(reason) => report.warnings.push(format!(
                "thumbnail cache {} ignored and rebuilt: {reason}",
                path.display()
            )),
        }
    }
    if let Ok(file) = File::open(&prev_path) {
        match read_index(&file, small) {
            Ok(index) => {
                let by_key = index
                    .records
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.state != PENDING)
                    .map(|(i, r)| (r.key, i))
                    .collect();
                previous = Some(Previous {
                    file,
                    path: prev_path,
                    index,
                    by_key,
                });
            }
            Err(_) => {
                let _ = std::fs::remove_file(&prev_path);
            }
        }
    }
    Ok((found, previous))
}

/// The small-cell file a store reads and builds into, with its records.
struct SmallFile {
    file: File,
    records: Vec<Record>,
    /// Every record was built by an earlier run (the file is not written again).
    complete: bool,
    /// Kept in the cache for the next run (false: an anonymous file for this run only).
    persistent: bool,
}

/// The file `found` by [`find_earlier_files`], else a new one at `path`, else (no cache
/// folder, or a full disk) an anonymous one.
fn open_small_file(
    found: Option<Found>,
    path: Option<&Path>,
    small: &[u32],
    n_items: usize,
    report: &mut BuildReport,
) -> Result<SmallFile, ThumbError> {
    if let Some((file, index)) = found {
        return Ok(SmallFile {
            file,
            records: index.records,
            complete: index.complete,
            persistent: path.is_some(),
        });
    }
    let mut persistent = path.is_some();
    let file = match create_small_file(path, small, n_items) {
        Ok(f) => f,
        // A full disk: the cells live in an anonymous file for this run instead.
        Err(ThumbError::Write { path: p, source }) if path.is_some() => {
            crate::cache::note_write_failure(&p, &source);
            report.not_kept = Some(format!("{}: {source}", p.display()));
            let _ = std::fs::remove_file(&p);
            persistent = false;
            create_small_file(None, small, n_items)?
        }
        Err(e) => return Err(e),
    };
    Ok(SmallFile {
        file,
        records: vec![Record::default(); n_items],
        complete: false,
        persistent,
    })
}

/// The large cells of each side in `large_sides`, beside the store's file at `path` (`None`:
/// anonymous files for this run), sharing `large_budget` bytes equally.
fn open_large_cells(
    large_sides: &[u32],
    path: Option<&Path>,
    dir: Option<&Path>,
    root: &Path,
    large_budget: u64,
) -> Result<Vec<LargeCache>, ThumbError> {
    let mut large = Vec::with_capacity(large_sides.len());
    for &side in large_sides {
        let large_path = path.map(|p| p.with_extension(format!("large{side}.bin")));
        if let (Some(new), Some(dir)) = (&large_path, dir) {
            // Earlier versions named the large cells apart from their store; taken over, so
            // the store is one entry and its cells are not made again.
            let old = dir.join(cache_file_name("thumbs-large", &[side], root));
            if !new.exists() && std::fs::rename(&old, new).is_ok() {
                let _ = std::fs::rename(large::index_path(&old), large::index_path(new));
            }
        }
        let budget = large_budget / large_sides.len() as u64;
        let opened = match (
            LargeCache::open(side, large_path.as_deref(), budget),
            &large_path,
        ) {
            (Err(e), Some(p)) => {
                // A full disk: this run's large cells in an anonymous file instead, and
                // nothing cut short left under the store's name.
                crate::cache::note_write_failure(p, &e);
                let _ = std::fs::remove_file(p);
                let _ = std::fs::remove_file(large::index_path(p));
                LargeCache::open(side, None, budget)
            }
            (other, _) => other,
        };
        let cache = opened.map_err(write_error(
            large_path.as_deref().unwrap_or(Path::new("(temporary)")),
        ))?;
        large.push(cache);
    }
    Ok(large)
}

/// How one item came out of a build.
enum Made {
    /// Already in the file (checked) or taken over from the previous one.
    Reused(Record),
    Decoded(Record),
    Failed(Record, String),
}

/// Item `item`'s cells and record, by the cheapest way that gives trustworthy cells.
fn make_item(
    files: &FileCells,
    small: &[u32],
    work: &FileWork,
    item: usize,
) -> Result<Made, ThumbError> {
    let key = files.key(item);
    let mut cells = vec![0u8; files.stride as usize];
    // Finished by a build cut short: trusted when its cells match their checksum.
    let found = work.records[item];
    if work.resuming && found.state != PENDING && found.key == key {
        if found.state == CellStatus::Failed as u8 {
            return Ok(Made::Reused(found));
        }
        let at = files.data_at + item as u64 * files.stride;
        if files.file.read_exact_at(&mut cells, at).is_ok() && cells_sum(&cells) == found.sum {
            return Ok(Made::Reused(found));
        }
    }
    let write = |cells: &[u8]| {
        files
            .file
            .write_all_at(cells, files.data_at + item as u64 * files.stride)
            .map_err(write_error(&files.path))
    };
    if let Some(prev) = &work.previous
        && let Some(&old) = prev.by_key.get(&key)
    {
        let rec = prev.index.records[old];
        let at = prev.index.layout.data_at + old as u64 * prev.index.layout.stride;
        if rec.state == CellStatus::Failed as u8 {
            return Ok(Made::Reused(rec));
        }
        if prev.file.read_exact_at(&mut cells, at).is_ok() && cells_sum(&cells) == rec.sum {
            write(&cells)?;
            return Ok(Made::Reused(rec));
        }
    }
    match decode_file(&files.paths[item], small) {
        Ok(rgba) => {
            cells.clear();
            for (cell, &side) in rgba.iter().zip(small) {
                cells.extend_from_slice(&codec::encode(cell, side));
            }
            write(&cells)?;
            Ok(Made::Decoded(Record {
                key,
                sum: cells_sum(&cells),
                state: CellStatus::Image as u8,
            }))
        }
        Err(reason) => Ok(Made::Failed(
            Record {
                key,
                sum: 0,
                state: CellStatus::Failed as u8,
            },
            reason,
        )),
    }
}

/// Compare each item of a complete file with its image as it is now (a stat each, on one
/// thread: the window keeps the other core). Items whose image changed are remade by
/// [`build_files`], which then checks every finished item as after a cut-short build.
fn check_files(
    store: &ThumbStore,
    work: &mut FileWork,
    report: &mut BuildReport,
    observer: &dyn Observer,
) -> Result<(), ThumbError> {
    let CellData::Files(files) = &store.data else {
        return Ok(());
    };
    let mut stale = 0;
    for item in 0..store.n_items {
        if item % 4096 == 0 && observer.cancelled() {
            return Err(ThumbError::Cancelled);
        }
        if !files.current(item) {
            store.state[item].store(PENDING, Ordering::Release);
            stale += 1;
        }
    }
    if stale == 0 {
        return Ok(());
    }
    report.warnings.push(format!(
        "{stale} image(s) changed since their thumbnails were made: remade"
    ));
    // Not complete any more until the build has remade them (a kill now resumes).
    if files.persistent {
        let small = &store.tiers[..files.tier_at.len()];
        let err = write_error(&files.path);
        files
            .file
            .write_all_at(&header_bytes(small, store.n_items, false), 0)
            .map_err(&err)?;
        files.file.sync_data().map_err(&err)?;
    }
    store.built.store(0, Ordering::Relaxed);
    report.reused = 0;
    work.resuming = true;
    Ok(())
}

fn build_files(
    store: &ThumbStore,
    work: FileWork,
    report: &mut BuildReport,
    observer: &dyn Observer,
) -> Result<(), ThumbError> {
    let CellData::Files(files) = &store.data else {
        return Ok(());
    };
    let n_items = store.n_items;
    let small: Vec<u32> = store.tiers[..files.tier_at.len()].to_vec();
    if store.built() == n_items {
        return Ok(());
    }
    // The file is flushed to disk as it grows, by a thread that mostly waits on the disk: the
    // fsync that makes the cache durable then finds little left to write.
    let (build_over, wait) = std::sync::mpsc::channel::<()>();
    let file = &files.file;
    let work = &work;
    let outcomes = std::thread::scope(|scope| {
        scope.spawn(move || {
            // Wakes at once when the build ends (the sender is dropped).
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                wait.recv_timeout(std::time::Duration::from_millis(200))
            {
                let _ = file.sync_data();
            }
        });
        let outcomes: Result<Vec<Vec<(usize, Made)>>, ThumbError> = (0..n_items
            .div_ceil(RUN_ITEMS))
            .into_par_iter()
            .map(|run| {
                if observer.cancelled() {
                    return Err(ThumbError::Cancelled);
                }
                let items = run * RUN_ITEMS..((run + 1) * RUN_ITEMS).min(n_items);
                let mut made = Vec::with_capacity(items.len());
                for item in items.clone() {
                    made.push((item, make_item(files, &small, work, item)?));
                }
                // Records after cells: a record on disk always follows its cells (and a
                // crash between the two is caught by the checksum on resume).
                let mut records = Vec::with_capacity(items.len() * RECORD);
                for (_, m) in &made {
                    let (Made::Reused(r) | Made::Decoded(r) | Made::Failed(r, _)) = m;
                    records.extend_from_slice(&r.bytes());
                }
                file.write_all_at(&records, files.records_at + (items.start * RECORD) as u64)
                    .map_err(write_error(&files.path))?;
                for (item, m) in &made {
                    let (Made::Reused(r) | Made::Decoded(r) | Made::Failed(r, _)) = m;
                    files.record_keys[*item].store(r.key, Ordering::Release);
                    store.state[*item].store(r.state, Ordering::Release);
                }
                let done = store.built.fetch_add(items.len(), Ordering::Relaxed) + items.len();
                observer.progress(done as u64, n_items as u64);
                Ok(made)
            })
            .collect();
        drop(build_over);
        outcomes
    })?;
    for (item, made) in outcomes.into_iter().flatten() {
        match made {
            Made::Reused(_) => report.reused += 1,
            Made::Decoded(_) => report.decoded += 1,
            Made::Failed(_, reason) => {
                report.decoded += 1;
                report.failed.push((item, reason));
            }
        }
    }
    // Complete only once every cell is on disk.
    let err = write_error(&files.path);
    if files.persistent {
        file.sync_data().map_err(&err)?;
        file.write_all_at(&header_bytes(&small, n_items, true), 0)
            .map_err(&err)?;
        file.sync_data().map_err(&err)?;
    }
    if let Some(prev) = &work.previous {
        let _ = std::fs::remove_file(&prev.path);
    }
    Ok(())
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
