//! Images per item: which file belongs to which feature row, and whether each can be read.
//!
//! Three ways to line files up with rows, all explicit:
//! - flat folder + sort keys: row i's key is a substring of exactly one file name (the
//!   reference tool's `image_sort_key`); misses, ambiguities and files claimed twice are errors
//!   listing every offending row;
//! - flat folder, natural order of file names (`img2` before `img10`);
//! - torchvision `root/<class>/<image>`: classes and files in torchvision's `ImageFolder` order
//!   (plain sorted class names, `sorted(os.walk(...))`, sorted file names), so features computed
//!   by a torchvision data loader line up, and the folder gives each row a class.
//!
//! Every image is opened at load time (header only by default, fully with `verify`), in
//! parallel, and all failures are reported together. A folder whose every file probed cleanly
//! is remembered in the artefact cache, keyed by each file's path, size and modification time:
//! a relaunch on a million images then stats the files (~1 s) instead of opening each (~13 s).
//! The listing itself is remembered too (`listing.rs`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use image::{DynamicImage, ImageDecoder, ImageReader};
use rayon::prelude::*;

use super::listing::{Candidate, Listing, list_folder};
use super::names::IMAGE_EXTENSIONS;
use super::{Categorical, DatasetError};
use crate::cache::{Cache, CacheKey, FileIdentities, Lookup};

/// How the user asked the folder to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageLayout {
    #[default]
    Auto,
    Flat,
    Classes,
}

crate::choice::choice!(ImageLayout {
    Auto => "auto", "Flat if images sit at the top level, classes if they sit only in sub-folders";
    Flat => "flat", "Images at the top level; sub-folders ignored";
    Classes => "classes", "torchvision `root/<class>/<image>`";
});

/// How rows were matched to files, for `info` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageOrder {
    SortKeys,
    Natural,
    Torchvision,
    /// One path per row, read from a column of the data file (a Parquet image column).
    Column,
}

impl fmt::Display for ImageOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::SortKeys => "matched by sort keys",
            Self::Natural => "flat folder, natural order",
            Self::Torchvision => "torchvision class folders",
            Self::Column => "one path per row from the data file",
        })
    }
}

/// One image file per item.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFiles {
    pub root: PathBuf,
    pub order: ImageOrder,
    /// Full path of each item's image.
    pub paths: Arc<[PathBuf]>,
    /// Width × height of each item's image; `None` where it could not be read (only with
    /// `--allow-missing-images`: the item is drawn with a placeholder), or was not read
    /// (`sampled`).
    pub sizes: Vec<Option<(u32, u32)>>,
    /// Images that could not be read, kept only with `--allow-missing-images`.
    pub failures: Vec<ImageFailure>,
    /// Files in the folder that no sort key named.
    pub unused_files: usize,
    /// Each image's identity ([`FileIdentities`]: absolute path, size, mtime) when the scan
    /// computed them (for the probe cache's key): the thumbnail store keys on them too, and at 10⁶ files a stat of
    /// each costs a second. `None`: the store computes each when it needs it.
    pub identities: Option<Arc<[u64]>>,
    /// Only a sample of the headers was read at load ([`ProbeScope::Sample`]): `sizes` and
    /// `failures` cover those; the others are read when their thumbnails are built.
    pub sampled: bool,
}

/// Which image headers a scan reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeScope {
    /// Every image (what an encoder, `info` and exports need: each file checked up front).
    #[default]
    All,
    /// At most [`PROBE_SAMPLE`] images spread evenly over the rows, for the explorer: at 10⁶
    /// never-seen files, reading every header held the window 10 s (35 s from a cold disk),
    /// while the thumbnail build reads every image anyway, draws an unreadable one as a red
    /// cross and lists it. The sample still catches a folder that is wrong as a whole, and
    /// gives the image size the thumbnail cells are made for.
    Sample,
}

/// How a scan reads the image headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Probe<'a> {
    /// Decode each image fully, not just its header (never sampled then).
    pub verify: bool,
    /// Where the folder's listing and a clean probe of every file are remembered between runs.
    pub cache: Option<&'a Cache>,
    pub scope: ProbeScope,
}

/// Headers read by [`ProbeScope::Sample`]: a folder of up to this many is probed in full.
pub const PROBE_SAMPLE: usize = 2_000;

impl ImageFiles {
    /// Item `item`'s path under the image folder (what search and `query` show), if any.
    pub fn relative_path(&self, item: usize) -> Option<&Path> {
        let p = self.paths.get(item)?;
        Some(p.strip_prefix(&self.root).unwrap_or(p))
    }
}

/// The images of a data set.
#[derive(Debug, Clone, PartialEq)]
pub enum Images {
    None,
    Files(ImageFiles),
    /// Images held in memory, one `width × height` 8-bit grey image per item (the demo).
    Gray8 {
        width: u32,
        height: u32,
        pixels: Vec<u8>,
    },
    /// Images held in memory, one `width × height` RGBA8 image per item (cells of a
    /// TensorBoard sprite sheet).
    Rgba8 {
        width: u32,
        height: u32,
        pixels: Vec<u8>,
    },
}

impl Images {
    /// Item `item`'s image file relative to the image folder; `None` for images held in
    /// memory (or an item past the end).
    pub fn relative_path(&self, item: usize) -> Option<&Path> {
        match self {
            Self::Files(f) => f.relative_path(item),
            _ => None,
        }
    }

    pub fn count(&self) -> usize {
        match self {
            Self::None => 0,
            Self::Files(f) => f.paths.len(),
            Self::Gray8 {
                width,
                height,
                pixels,
            } => pixels.len() / (*width as usize * *height as usize).max(1),
            Self::Rgba8 {
                width,
                height,
                pixels,
            } => pixels.len() / (*width as usize * *height as usize * 4).max(1),
        }
    }

    /// The longest side of any image whose size is known; `None` without images.
    pub fn max_side(&self) -> Option<u32> {
        match self {
            Self::None => None,
            Self::Gray8 { width, height, .. } | Self::Rgba8 { width, height, .. } => {
                Some((*width).max(*height))
            }
            Self::Files(f) => f.sizes.iter().flatten().map(|&(w, h)| w.max(h)).max(),
        }
    }

    /// Item `item`'s in-memory image as RGBA; `None` for files or an item out of range.
    pub fn memory_rgba(&self, item: usize) -> Option<image::RgbaImage> {
        match self {
            Self::Gray8 {
                width,
                height,
                pixels,
            } => {
                let len = *width as usize * *height as usize;
                let grey = pixels.get(item * len..(item + 1) * len)?;
                let rgba = grey.iter().flat_map(|&g| [g, g, g, 255]).collect();
                image::RgbaImage::from_raw(*width, *height, rgba)
            }
            Self::Rgba8 {
                width,
                height,
                pixels,
            } => {
                let len = *width as usize * *height as usize * 4;
                let rgba = pixels.get(item * len..(item + 1) * len)?.to_vec();
                image::RgbaImage::from_raw(*width, *height, rgba)
            }
            Self::None | Self::Files(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFailure {
    pub path: PathBuf,
    pub reason: String,
}

impl fmt::Display for ImageFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// A row whose sort key does not name exactly one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKeyProblem {
    Empty {
        row: usize,
    },
    NoMatch {
        row: usize,
        key: String,
    },
    Ambiguous {
        row: usize,
        key: String,
        matches: Vec<String>,
        n_matches: usize,
    },
    /// Several rows' keys name the same file.
    SharedFile {
        rows: Vec<usize>,
        file: String,
    },
}

impl fmt::Display for SortKeyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Rows are shown 1-based: they are line numbers of the keys file.
        match self {
            Self::Empty { row } => write!(f, "line {}: empty key", row + 1),
            Self::NoMatch { row, key } => write!(f, "line {}: '{key}' matches no file", row + 1),
            Self::Ambiguous {
                row,
                key,
                matches,
                n_matches,
            } => {
                write!(
                    f,
                    "line {}: '{key}' matches {n_matches} files ({}",
                    row + 1,
                    matches.join(", ")
                )?;
                if *n_matches > matches.len() {
                    write!(f, ", ...")?;
                }
                write!(f, ")")
            }
            Self::SharedFile { rows, file } => {
                let lines: Vec<String> = rows.iter().map(|r| (r + 1).to_string()).collect();
                write!(f, "lines {} all name '{file}'", lines.join(", "))
            }
        }
    }
}

/// The image at `path`, decoded whatever its extension says, upright: phones store pictures
/// sideways and say so in EXIF, and a thumbnail (or an encoder's input) must stand as the
/// person who took it saw it.
pub fn decode_oriented(path: &Path) -> Result<DynamicImage, String> {
    let reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| e.to_string())?;
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// List, order and check the images of `root` for `n_rows` feature rows (`None`: as many rows as
/// there are images, for features still to be computed from them).
///
/// Returns the files and, for class folders, one class label per row.
pub fn scan_image_folder(
    root: &Path,
    layout: ImageLayout,
    sort_keys: Option<&Path>,
    n_rows: Option<usize>,
    allow_missing: bool,
    probe: Probe<'_>,
) -> Result<(ImageFiles, Option<Categorical>), DatasetError> {
    let listing = list_folder(root, probe.cache)?;
    let use_classes = use_class_folders(root, layout, &listing)?;
    let (candidates, class_of): (Vec<Candidate>, Vec<String>) = if use_classes {
        listing
            .classes
            .into_iter()
            .filter(|(_, images)| !images.is_empty())
            .flat_map(|(class, images)| images.into_iter().map(move |c| (c, class.clone())))
            .unzip()
    } else {
        let top = listing.top;
        let n = top.len();
        (top, vec![String::new(); n])
    };
    if candidates.is_empty() {
        return Err(DatasetError::ImageFolder {
            path: root.to_owned(),
            reason: if use_classes {
                "no images in any class folder".to_owned()
            } else {
                "no images at the top level".to_owned()
            },
        });
    }

    let (rows, order, unused_files) =
        match_rows(root, sort_keys, n_rows, &candidates, use_classes)?;

    // Moved, not cloned: rows name distinct candidates (a file claimed twice is an error).
    let mut candidates = candidates;
    let paths: Vec<PathBuf> = rows
        .iter()
        .map(|&i| std::mem::take(&mut candidates[i].path))
        .collect();
    let (
        Probed {
            sizes,
            failures,
            identities,
        },
        sample,
    ) = probe_files(root, &paths, allow_missing, &probe)?;
    let classes = use_classes.then(|| {
        let labels: Vec<&str> = rows.iter().map(|&i| class_of[i].as_str()).collect();
        Categorical::from_strings(&labels)
    });
    // A million file names freed on this thread cost ~0.3 s of every launch: let them go on
    // another (a failed spawn frees them here).
    let _ = std::thread::Builder::new()
        .name("free listing".to_owned())
        .spawn(move || drop((candidates, class_of)));
    Ok((
        ImageFiles {
            root: root.to_owned(),
            order,
            paths: paths.into(),
            sizes,
            failures,
            unused_files,
            identities,
            sampled: sample,
        },
        classes,
    ))
}

/// Whether the rows are the images of the class folders (else those at the top level): as
/// `layout` says, or for `Auto` where the images are (an error when both places have some).
fn use_class_folders(
    root: &Path,
    layout: ImageLayout,
    listing: &Listing,
) -> Result<bool, DatasetError> {
    let n_class_images: usize = listing.classes.iter().map(|(_, c)| c.len()).sum();
    match layout {
        ImageLayout::Flat => Ok(false),
        ImageLayout::Classes => Ok(true),
        ImageLayout::Auto => match (listing.top.is_empty(), n_class_images == 0) {
            (false, true) => Ok(false),
            (true, false) => Ok(true),
            (true, true) => Err(DatasetError::ImageFolder {
                path: root.to_owned(),
                reason: format!(
                    "no images found (looked for {} at the top level and one folder down)",
                    IMAGE_EXTENSIONS.join(", ")
                ),
            }),
            (false, false) => Err(DatasetError::ImageFolder {
                path: root.to_owned(),
                reason: format!(
                    "{} images at the top level and {n_class_images} in sub-folders; \
                     say which with {layout} flat or {layout} classes",
                    listing.top.len(),
                    layout = crate::hint::IMAGE_LAYOUT
                ),
            }),
        },
    }
}

/// Which candidate each feature row shows (`n_rows`; `None`: one per candidate), how they were
/// ordered and how many candidates no row shows: by the file of sort keys, else all of them in
/// their listed order (class folders: torchvision's, else natural).
fn match_rows(
    root: &Path,
    sort_keys: Option<&Path>,
    n_rows: Option<usize>,
    candidates: &[Candidate],
    use_classes: bool,
) -> Result<(Vec<usize>, ImageOrder, usize), DatasetError> {
    match sort_keys {
        Some(keys_path) => {
            let keys = super::read_lines(keys_path)?;
            if let Some(expected) = n_rows.filter(|&n| n != keys.len()) {
                return Err(DatasetError::ItemCount {
                    path: keys_path.to_owned(),
                    what: "sort keys",
                    found: keys.len(),
                    expected,
                });
            }
            let names: Vec<&str> = candidates.iter().map(|c| c.name.as_str()).collect();
            let rows =
                match_sort_keys(&keys, &names).map_err(|problems| DatasetError::SortKeys {
                    path: keys_path.to_owned(),
                    problems,
                })?;
            let unused = candidates.len() - rows.len();
            Ok((rows, ImageOrder::SortKeys, unused))
        }
        None => {
            let n_rows = n_rows.unwrap_or(candidates.len());
            if candidates.len() != n_rows {
                return Err(DatasetError::ImageCount {
                    path: root.to_owned(),
                    images: candidates.len(),
                    rows: n_rows,
                });
            }
            let order = if use_classes {
                ImageOrder::Torchvision
            } else {
                ImageOrder::Natural
            };
            Ok(((0..n_rows).collect(), order, 0))
        }
    }
}

/// Every image's size, or why it cannot be read: from the cache when no file changed since a
/// probe that found them all readable (failures are never cached: they are re-checked, and
/// reported, every time).
fn probe_all(paths: &[PathBuf], verify: bool, cache: Option<&Cache>) -> Probed {
    let cache = cache.filter(|c| c.dir().is_some());
    // On the current pool: on a relaunch the inodes are in memory and the stats are CPU work
    // (16 threads on 2 cores made them slower).
    let ids = FileIdentities::new();
    let identities: Option<Arc<[u64]>> =
        cache.map(|_| paths.par_iter().map(|p| ids.of(p)).collect());
    let key = identities.as_ref().map(|ids| {
        CacheKey::from_parts(
            "image-probe",
            &[
                &PROBE_CACHE_VERSION.to_le_bytes(),
                &[u8::from(verify)],
                bytemuck::cast_slice(ids),
            ],
        )
    });
    if let (Some(cache), Some(key)) = (cache, &key)
        && let Lookup::Hit(bytes) = cache.load(key)
        && bytes.len() == paths.len() * 8
    {
        let sizes = bytes
            .chunks_exact(8)
            .map(|c| {
                let word = |i: usize| u32::from_le_bytes([c[i], c[i + 1], c[i + 2], c[i + 3]]);
                Some((word(0), word(4)))
            })
            .collect();
        return Probed {
            sizes,
            failures: Vec::new(),
            identities,
        };
    }
    let (sizes, failures) = probe_rows(paths, 0..paths.len(), verify);
    if failures.is_empty()
        && let (Some(cache), Some(key)) = (cache, &key)
    {
        let bytes: Vec<u8> = sizes
            .iter()
            .flatten()
            .flat_map(|&(w, h)| w.to_le_bytes().into_iter().chain(h.to_le_bytes()))
            .collect();
        // A cache that cannot be written only costs the next launch the probe again.
        let _ = cache.store(key, &bytes);
    }
    Probed {
        sizes,
        failures,
        identities,
    }
}

/// The headers of [`PROBE_SAMPLE`] images spread evenly over `paths` (the first and the last
/// among them); the others' sizes are `None`. Never cached: a cache lookup stats every file,
/// which costs more than the sample.
fn probe_sample(paths: &[PathBuf]) -> Probed {
    let n = paths.len();
    let picks: Vec<usize> = (0..PROBE_SAMPLE)
        .map(|k| k * (n - 1) / (PROBE_SAMPLE - 1).max(1))
        .collect();
    let (sizes, failures) = probe_rows(paths, picks, false);
    Probed {
        sizes,
        failures,
        identities: None,
    }
}

/// One image's size, or why it cannot be read.
type ProbeResult = Result<(u32, u32), String>;

/// The images of `rows` opened (decoded with `verify`): the size of each (`None` for rows not
/// probed or unreadable) and the failures, in row order.
fn probe_rows(
    paths: &[PathBuf],
    rows: impl IntoParallelIterator<Item = usize> + Send,
    verify: bool,
) -> (Vec<Option<(u32, u32)>>, Vec<ImageFailure>) {
    // Probes wait on the disk more than on the CPU: with a cold page cache, two threads kept
    // two reads in flight and 10⁶ small files took 57 s (35 s with 16 threads).
    let io_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(PROBE_THREADS.max(rayon::current_num_threads()))
        .thread_name(|i| format!("image probe {i}"))
        .build()
        .ok();
    let probed: Vec<(usize, ProbeResult)> = on_pool(io_pool.as_ref(), || {
        rows.into_par_iter()
            .map(|i| (i, probe_image(&paths[i], verify)))
            .collect()
    });
    let mut sizes = vec![None; paths.len()];
    let mut failures = Vec::new();
    for (i, r) in probed {
        match r {
            Ok(size) => sizes[i] = Some(size),
            Err(reason) => failures.push(ImageFailure {
                path: paths[i].clone(),
                reason,
            }),
        }
    }
    (sizes, failures)
}

/// The images of `paths` (the files of `root`) opened as `probe` asks, and whether only a sample
/// was: an error naming the files that cannot be read unless `allow_missing`.
fn probe_files(
    root: &Path,
    paths: &[PathBuf],
    allow_missing: bool,
    probe: &Probe<'_>,
) -> Result<(Probed, bool), DatasetError> {
    // Decoding every image fully (`verify`) was asked for: no sampling then.
    let sample = probe.scope == ProbeScope::Sample && !probe.verify && paths.len() > PROBE_SAMPLE;
    let probed = if sample {
        probe_sample(paths)
    } else {
        probe_all(paths, probe.verify, probe.cache)
    };
    if probed.failures.is_empty() || allow_missing {
        return Ok((probed, sample));
    }
    if sample {
        return Err(DatasetError::ImageFolder {
            path: root.to_owned(),
            reason: format!(
                "{} of {PROBE_SAMPLE} images sampled from its {} cannot be read, so others may not be \
                 either (pass {} to keep unreadable items with a placeholder; \
                 `ivt-explore info` checks every file):{}",
                probed.failures.len(),
                paths.len(),
                crate::hint::ALLOW_MISSING_IMAGES,
                super::failures_text(&probed.failures)
            ),
        });
    }
    Err(DatasetError::ImageFailures {
        path: root.to_owned(),
        failures: probed.failures,
    })
}

/// What [`probe_all`] found.
struct Probed {
    sizes: Vec<Option<(u32, u32)>>,
    failures: Vec<ImageFailure>,
    /// Computed for the cache's key; `None` without a cache.
    identities: Option<Arc<[u64]>>,
}

/// `work` on `pool`, or on the current one when there is none.
fn on_pool<T: Send>(pool: Option<&rayon::ThreadPool>, work: impl FnOnce() -> T + Send) -> T {
    match pool {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

/// Threads that probe images (at least one per core): enough reads in flight for a disk.
const PROBE_THREADS: usize = 16;

/// Bump when what a probe records changes.
const PROBE_CACHE_VERSION: u32 = 1;

/// Open an image and return its size; with `verify`, decode it completely.
fn probe_image(path: &Path, verify: bool) -> ProbeResult {
    let reader = image::ImageReader::open(path)
        .map_err(|e| e.to_string())?
        // Trust the bytes, not the extension: a PNG named .jpg is still readable.
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    if reader.format().is_none() {
        return Err("not a recognised image format".to_owned());
    }
    if verify {
        let img = reader.decode().map_err(|e| e.to_string())?;
        Ok((img.width(), img.height()))
    } else {
        reader.into_dimensions().map_err(|e| e.to_string())
    }
}

/// For each key, the index of the one name containing it; or every problem found.
///
/// Aho-Corasick over all keys makes this one pass over the names instead of keys × names
/// substring tests (7·10⁹ of them at 70k items).
pub fn match_sort_keys(keys: &[String], names: &[&str]) -> Result<Vec<usize>, Vec<SortKeyProblem>> {
    const SHOWN_MATCHES: usize = 3;
    let mut problems = Vec::new();
    let searchable: Vec<(usize, &str)> = keys
        .iter()
        .enumerate()
        .filter(|(row, k)| {
            if k.is_empty() {
                problems.push(SortKeyProblem::Empty { row: *row });
            }
            !k.is_empty()
        })
        .map(|(row, k)| (row, k.as_str()))
        .collect();
    let automaton = AhoCorasick::new(searchable.iter().map(|(_, k)| k)).map_err(|e| {
        vec![SortKeyProblem::NoMatch {
            row: 0,
            key: format!("(cannot build the key matcher: {e})"),
        }]
    })?;
    let mut matches: Vec<Vec<usize>> = vec![Vec::new(); keys.len()];
    for (file, name) in names.iter().enumerate() {
        for m in automaton.find_overlapping_iter(*name) {
            let row = searchable[m.pattern().as_usize()].0;
            // A key occurring twice in one name is still one file.
            if matches[row].last() != Some(&file) {
                matches[row].push(file);
            }
        }
    }
    let mut claimed: Vec<Vec<usize>> = vec![Vec::new(); names.len()];
    for (row, files) in matches.iter().enumerate() {
        match files.as_slice() {
            [] if keys[row].is_empty() => {}
            [] => problems.push(SortKeyProblem::NoMatch {
                row,
                key: keys[row].clone(),
            }),
            [file] => claimed[*file].push(row),
            many => problems.push(SortKeyProblem::Ambiguous {
                row,
                key: keys[row].clone(),
                matches: many
                    .iter()
                    .take(SHOWN_MATCHES)
                    .map(|&f| names[f].to_owned())
                    .collect(),
                n_matches: many.len(),
            }),
        }
    }
    for (file, rows) in claimed.iter().enumerate() {
        if rows.len() > 1 {
            problems.push(SortKeyProblem::SharedFile {
                rows: rows.clone(),
                file: names[file].to_owned(),
            });
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| match p {
            SortKeyProblem::Empty { row }
            | SortKeyProblem::NoMatch { row, .. }
            | SortKeyProblem::Ambiguous { row, .. } => *row,
            SortKeyProblem::SharedFile { rows, .. } => rows[0],
        });
        return Err(problems);
    }
    Ok(matches.iter().map(|files| files[0]).collect())
}

/// The image paths listed in the text file `path`, one per line for each of the `n` rows
/// (relative paths from the list's folder; a final newline optional), with that folder.
/// A count that differs from the rows, or an empty line, is an error naming the file.
pub(crate) fn read_image_list(
    path: &Path,
    n: usize,
) -> Result<(PathBuf, Vec<PathBuf>), DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    let lines: Vec<&str> = text.lines().collect();
    if let Some(empty) = lines.iter().position(|l| l.trim().is_empty()) {
        return Err(DatasetError::Unsupported {
            path: path.to_owned(),
            reason: format!(
                "line {} is empty: a list of images names one image file per line, one line per row",
                empty + 1
            ),
        });
    }
    if lines.len() != n {
        return Err(DatasetError::ItemCount {
            path: path.to_owned(),
            what: "image paths",
            found: lines.len(),
            expected: n,
        });
    }
    let root = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_owned);
    let paths = lines.iter().map(|l| root.join(l)).collect();
    Ok((root, paths))
}

/// The images a data file names, one path per row (a Parquet image column), probed and checked
/// as a folder's images are: every header read (a sample with [`ProbeScope::Sample`]), an
/// unreadable one an error unless `allow_missing`. `root` is the folder relative paths were
/// resolved against (the data file's), so search shows them as the file gave them.
pub(crate) fn listed_files(
    root: PathBuf,
    paths: Vec<PathBuf>,
    allow_missing: bool,
    probe: Probe<'_>,
) -> Result<ImageFiles, DatasetError> {
    let (
        Probed {
            sizes,
            failures,
            identities,
        },
        sample,
    ) = probe_files(&root, &paths, allow_missing, &probe)?;
    Ok(ImageFiles {
        root,
        order: ImageOrder::Column,
        paths: paths.into(),
        sizes,
        failures,
        unused_files: 0,
        identities,
        sampled: sample,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_keys_match_substrings_in_key_order() {
        let names = ["cat_003.png", "cat_001.png", "dog_002.png"];
        let keys: Vec<String> = ["001", "dog", "cat_003"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(match_sort_keys(&keys, &names), Ok(vec![1, 2, 0]));
    }

    #[test]
    fn sort_keys_report_every_problem() {
        let names = ["cat_1.png", "cat_10.png", "dog_2.png"];
        let keys: Vec<String> = ["cat_1", "bird", "", "dog", "_2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let problems = match_sort_keys(&keys, &names).expect_err("problems");
        assert_eq!(
            problems,
            vec![
                SortKeyProblem::Ambiguous {
                    row: 0,
                    key: "cat_1".into(),
                    matches: vec!["cat_1.png".into(), "cat_10.png".into()],
                    n_matches: 2
                },
                SortKeyProblem::NoMatch {
                    row: 1,
                    key: "bird".into()
                },
                SortKeyProblem::Empty { row: 2 },
                SortKeyProblem::SharedFile {
                    rows: vec![3, 4],
                    file: "dog_2.png".into()
                },
            ]
        );
        assert_eq!(problems[1].to_string(), "line 2: 'bird' matches no file");
    }

    /// The explorer's scan reads a sample of the headers: an unreadable file outside the
    /// sample is left to the thumbnail build, one inside it is an error naming it, and a
    /// folder no bigger than the sample is read in full as before.
    #[test]
    fn a_sampled_probe_reads_a_spread_of_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let images = dir.path().join("images");
        std::fs::create_dir(&images).expect("mkdir");
        let png = images.join("0.png");
        image::RgbImage::new(3, 2).save(&png).expect("png");
        let bytes = std::fs::read(&png).expect("read");
        let n = PROBE_SAMPLE + 1;
        for i in 1..n {
            std::fs::write(images.join(format!("{i}.png")), &bytes).expect("write");
        }
        let scan = |scope, allow_missing| {
            scan_image_folder(
                &images,
                ImageLayout::Flat,
                None,
                Some(n),
                allow_missing,
                Probe {
                    scope,
                    ..Probe::default()
                },
            )
        };
        // With n = sample + 1 the evenly spread picks skip exactly one row: the one before last.
        let skipped = n - 2;
        std::fs::write(images.join(format!("{skipped}.png")), b"not a png").expect("write");
        let (files, _) = scan(ProbeScope::Sample, false).expect("the bad file is not sampled");
        assert!(files.sampled);
        assert_eq!(files.sizes.iter().flatten().count(), PROBE_SAMPLE);
        assert_eq!(
            (files.sizes[0], files.sizes[n - 1]),
            (Some((3, 2)), Some((3, 2)))
        );
        assert_eq!(files.sizes[skipped], None);
        assert!(files.failures.is_empty());
        assert!(matches!(
            scan(ProbeScope::All, false),
            Err(DatasetError::ImageFailures { .. })
        ));
        // A bad file the sample reads: an error that names it and says it was a sample.
        std::fs::write(images.join("7.png"), b"not a png either").expect("write");
        let text = scan(ProbeScope::Sample, false)
            .expect_err("sampled failure")
            .to_string();
        assert!(text.contains("1 of 2000 images sampled"), "{text}");
        assert!(
            text.contains("7.png") && !text.contains(&format!("{skipped}.png")),
            "{text}"
        );
        let (files, _) = scan(ProbeScope::Sample, true).expect("allowed");
        assert_eq!(files.failures.len(), 1);
        // At most the sample's size: every file is read, as with a full probe.
        for i in PROBE_SAMPLE - 1..n {
            std::fs::remove_file(images.join(format!("{i}.png"))).expect("rm");
        }
        let small = scan_image_folder(
            &images,
            ImageLayout::Flat,
            None,
            Some(PROBE_SAMPLE - 1),
            true,
            Probe {
                scope: ProbeScope::Sample,
                ..Probe::default()
            },
        )
        .map(|(f, _)| {
            (
                f.sampled,
                f.failures.len(),
                f.sizes.iter().flatten().count(),
            )
        })
        .expect("small");
        assert_eq!(small, (false, 1, PROBE_SAMPLE - 2));
    }

    /// A folder probed cleanly is remembered: an unchanged folder is not opened again, a
    /// changed file (other size or mtime) is, and a failure is never remembered.
    #[test]
    fn a_clean_probe_is_cached_until_a_file_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let images = dir.path().join("images");
        std::fs::create_dir(&images).expect("mkdir");
        for (i, side) in [(0, 5u32), (1, 7)] {
            image::RgbImage::new(side, side + 1)
                .save(images.join(format!("{i}.png")))
                .expect("png");
        }
        let cache = Cache::at(dir.path().join("cache"));
        let scan = || {
            scan_image_folder(
                &images,
                ImageLayout::Flat,
                None,
                Some(2),
                true,
                Probe {
                    cache: Some(&cache),
                    ..Probe::default()
                },
            )
            .map(|(files, _)| (files.sizes, files.failures.len()))
            .expect("scan")
        };
        assert_eq!(scan(), (vec![Some((5, 6)), Some((7, 8))], 0));
        // Garbage of the same length with the old modification time: the cached sizes stand,
        // so the file was not opened.
        let second = images.join("1.png");
        let mtime = std::fs::metadata(&second)
            .and_then(|m| m.modified())
            .expect("mtime");
        let len = std::fs::metadata(&second).expect("meta").len() as usize;
        std::fs::write(&second, vec![b'x'; len]).expect("write");
        let file = std::fs::File::options()
            .write(true)
            .open(&second)
            .expect("open");
        file.set_modified(mtime).expect("set mtime");
        drop(file);
        assert_eq!(scan(), (vec![Some((5, 6)), Some((7, 8))], 0));
        // A new modification time: probed again, the failure found, and found again next time.
        let file = std::fs::File::options()
            .write(true)
            .open(&second)
            .expect("open");
        file.set_modified(mtime + std::time::Duration::from_secs(5))
            .expect("set mtime");
        drop(file);
        assert_eq!(scan(), (vec![Some((5, 6)), None], 1));
        assert_eq!(scan(), (vec![Some((5, 6)), None], 1));
    }
}
