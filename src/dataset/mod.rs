//! Data sets: the feature matrix, the images and the per-item metadata, loaded and cross-checked.
//!
//! A [`Dataset`] is built once by [`load`] from an [`InputSpec`] and is immutable afterwards.
//! Rows and images are matched explicitly (sort keys, natural order or torchvision order) and
//! the counts checked: a mismatch is an error, never a silent shift of every image by one row.
//! Every error names the file it is about.

mod demo;
mod features;
mod images;
mod listing;
pub(crate) mod metadata;
mod names;
pub mod parquet;
pub mod projector;

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::npy::NpyError;

pub use demo::{DEMO_NAME, load_demo};
pub use features::{FeatureStats, Features, load_features};
pub use images::{
    ImageFailure, ImageFiles, ImageLayout, ImageOrder, Images, PROBE_SAMPLE, Probe, ProbeScope,
    SortKeyProblem, decode_oriented, scan_image_folder,
};
pub use metadata::{
    Column, ColumnValues, MISSING, Metadata, csv_field, load_labels, load_metadata,
};
pub use names::{is_image, natural_cmp};

/// One item (a row of the feature matrix, an image, a point). Never an entity or a sprite index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ItemId(pub u32);

impl ItemId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Strings per item stored as a small table of names and one code per item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Categorical {
    pub names: Vec<String>,
    pub codes: Vec<u32>,
}

impl Categorical {
    /// Build from one string per item; names are naturally sorted so "class2" precedes "class10"
    /// and colours do not depend on row order.
    ///
    /// The distinct values are found by hashing and only they are sorted: sorting ten million
    /// labels to find a thousand classes took 10 s.
    pub fn from_strings<S: AsRef<str>>(values: &[S]) -> Self {
        let distinct: std::collections::HashSet<&str> = values.iter().map(AsRef::as_ref).collect();
        let mut names: Vec<String> = distinct.into_iter().map(str::to_owned).collect();
        names.sort_by(|a, b| natural_cmp(a, b).then_with(|| a.cmp(b)));
        let code: std::collections::HashMap<&str, u32> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i as u32))
            .collect();
        // Every value is among the names: they were built from these very values.
        let codes = values
            .iter()
            .map(|v| code.get(v.as_ref()).copied().unwrap_or(0))
            .collect();
        Self { names, codes }
    }

    /// Reorder the names to follow `preferred` (e.g. class 0 first), when it names every one;
    /// otherwise keep the natural order.
    pub fn with_name_order<S: AsRef<str>>(mut self, preferred: &[S]) -> Self {
        let order: Vec<usize> = preferred
            .iter()
            .filter_map(|p| self.names.iter().position(|n| n == p.as_ref()))
            .collect();
        if order.len() != self.names.len() {
            return self;
        }
        let mut new_code = vec![0u32; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_code[old] = new as u32;
        }
        self.names = order.iter().map(|&i| self.names[i].clone()).collect();
        for code in &mut self.codes {
            *code = new_code[*code as usize];
        }
        self
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    pub fn name_of(&self, item: ItemId) -> &str {
        &self.names[self.codes[item.index()] as usize]
    }

    /// Items per name, in name order.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.names.len()];
        for &c in &self.codes {
            counts[c as usize] += 1;
        }
        counts
    }
}

/// Where a class label per item came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClassSource {
    /// torchvision layout: the folder each image sits in.
    Folders,
    /// A labels file given by the user (or found beside the features).
    File(PathBuf),
    /// The built-in demo's own labels.
    BuiltIn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classes {
    pub labels: Categorical,
    pub source: ClassSource,
}

/// A loaded, validated data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// What to call it in titles and logs: the file or folder name, or the demo's name.
    pub name: String,
    pub features: Features,
    pub images: Images,
    pub classes: Option<Classes>,
    pub metadata: Option<Metadata>,
}

impl Dataset {
    pub fn n_items(&self) -> usize {
        self.features.n_items()
    }
}

/// The data argument: a path, or the built-in demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    Demo,
    Path(PathBuf),
}

/// Everything the user said about what to load, before anything is read.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub data: DataSource,
    /// Image folder; one image per feature row.
    pub images: Option<PathBuf>,
    pub image_layout: ImageLayout,
    /// One substring per row, each naming exactly one image file.
    pub sort_keys: Option<PathBuf>,
    pub metadata: Option<PathBuf>,
    pub labels: Option<PathBuf>,
    /// Which array of an `.npz` archive holds the features.
    pub npz_key: Option<String>,
    /// Which column of a Parquet file holds the vectors (default: the only one that can).
    pub vector_column: Option<String>,
    /// Which column of a Parquet file holds each row's image path.
    pub image_column: Option<String>,
    /// Keep items whose image cannot be read, with a placeholder, instead of failing.
    pub allow_missing_images: bool,
    /// Decode every image fully at load instead of reading only its header.
    pub verify_images: bool,
    /// Which embedding of a TensorBoard projector log (default: the first).
    pub tensor: Option<String>,
    /// Where the image folder's listing and probe (each file's size) are kept between runs, so
    /// a relaunch on a million images neither lists the folder nor reads image headers (`None`:
    /// list and probe every time).
    pub probe_cache: Option<crate::cache::Cache>,
    /// Which image headers the scan reads (the explorer reads a sample; see [`ProbeScope`]).
    pub probe_scope: ProbeScope,
}

impl InputSpec {
    pub fn new(data: DataSource) -> Self {
        Self {
            data,
            images: None,
            image_layout: ImageLayout::Auto,
            sort_keys: None,
            metadata: None,
            labels: None,
            npz_key: None,
            vector_column: None,
            image_column: None,
            allow_missing_images: false,
            verify_images: false,
            tensor: None,
            probe_cache: None,
            probe_scope: ProbeScope::All,
        }
    }
}

/// One problem per variant, each naming the file concerned.
#[derive(Debug, Error)]
pub enum DatasetError {
    #[error(transparent)]
    Npy(#[from] NpyError),
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    #[error("{path} is not a readable .npz archive")]
    Npz {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{path}: {}", npz_choice_text(.wanted.as_deref(), .available))]
    NpzChoice {
        path: PathBuf,
        wanted: Option<String>,
        available: Vec<String>,
    },
    #[error("{source_name} has no {what}")]
    Empty {
        source_name: String,
        what: &'static str,
    },
    #[error(
        "{source_name} has {count} non-finite value(s) (NaN or ±Inf); the first is {value} at row {row}, column {col} (0-based)"
    )]
    NonFinite {
        source_name: String,
        row: usize,
        col: usize,
        value: f32,
        count: usize,
    },
    #[error("{path}, line {line}: {reason}")]
    Csv {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("{path}, row {row} (0-based): {reason}")]
    BadValue {
        path: PathBuf,
        row: usize,
        reason: String,
    },
    #[error("{path}, line {line}: {found} field(s), expected {expected} like the first row")]
    Ragged {
        path: PathBuf,
        line: u64,
        expected: usize,
        found: usize,
    },
    #[error("image folder {path}: {reason}")]
    ImageFolder { path: PathBuf, reason: String },
    #[error(
        "{images} image(s) in {path} but {rows} feature row(s); every row needs exactly one image (use {sort_keys} to pick and order them)",
        sort_keys = crate::hint::SORT_KEYS
    )]
    ImageCount {
        path: PathBuf,
        images: usize,
        rows: usize,
    },
    #[error("sort keys {path}: {}", problems_text(.problems))]
    SortKeys {
        path: PathBuf,
        problems: Vec<SortKeyProblem>,
    },
    #[error(
        "{} of the images in {path} cannot be read (pass {} to keep those items with a placeholder):{}",
        .failures.len(), crate::hint::ALLOW_MISSING_IMAGES, failures_text(.failures)
    )]
    ImageFailures {
        path: PathBuf,
        failures: Vec<ImageFailure>,
    },
    #[error("{path} has {found} {what}, but the features have {expected} rows")]
    ItemCount {
        path: PathBuf,
        what: &'static str,
        found: usize,
        expected: usize,
    },
    #[error(transparent)]
    Projector(#[from] projector::ProjectorError),
    #[error(transparent)]
    Parquet(#[from] self::parquet::ParquetError),
}

/// How many problems an error message lists before summarising the rest.
const LISTED_PROBLEMS: usize = 25;

fn list_with_more<T: fmt::Display>(items: &[T]) -> String {
    let mut text: String = items
        .iter()
        .take(LISTED_PROBLEMS)
        .map(|p| format!("\n  {p}"))
        .collect();
    if items.len() > LISTED_PROBLEMS {
        text.push_str(&format!(
            "\n  ... and {} more",
            items.len() - LISTED_PROBLEMS
        ));
    }
    text
}

fn problems_text(problems: &[SortKeyProblem]) -> String {
    format!(
        "{} row(s) do not name exactly one image:{}",
        problems.len(),
        list_with_more(problems)
    )
}

fn failures_text(failures: &[ImageFailure]) -> String {
    list_with_more(failures)
}

fn npz_choice_text(wanted: Option<&str>, available: &[String]) -> String {
    match wanted {
        Some(w) => format!("no array named '{w}'; it holds: {}", available.join(", ")),
        None if available.is_empty() => "the archive holds no .npy arrays".to_owned(),
        None => format!(
            "holds several arrays ({}); choose one with {}",
            available.join(", "),
            crate::hint::NPZ_KEY
        ),
    }
}

/// The file name of a path, for titles.
fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Load and cross-check everything `spec` names.
pub fn load(spec: &InputSpec) -> Result<Dataset, DatasetError> {
    let path = match &spec.data {
        DataSource::Demo => return load_demo_with(spec),
        DataSource::Path(p) => p,
    };
    if projector::is_log_dir(path) {
        return load_projector(spec, path);
    }
    if self::parquet::is_parquet(path) {
        return load_parquet(spec, path);
    }
    if let Some(flag) = [
        spec.vector_column
            .as_ref()
            .map(|_| crate::hint::VECTOR_COLUMN),
        spec.image_column
            .as_ref()
            .map(|_| crate::hint::IMAGE_COLUMN),
    ]
    .into_iter()
    .flatten()
    .next()
    {
        return Err(DatasetError::Unsupported {
            path: path.clone(),
            reason: format!("{flag} applies to Parquet files only"),
        });
    }
    let folder = DatasetFolder::detect(path)?;
    let (features_path, name) = match &folder {
        Some(f) => (f.features.clone(), display_name(path)),
        None => (path.clone(), display_name(path)),
    };
    let features = load_features(&features_path, spec.npz_key.as_deref())?;
    let n = features.n_items();

    let image_dir = spec
        .images
        .clone()
        .or_else(|| folder.as_ref().and_then(|f| f.images.clone()));
    let (images, folder_classes) = match image_dir {
        Some(dir) => scan_for_rows(spec, &dir, n)?,
        None => {
            if let Some(keys) = &spec.sort_keys {
                return Err(DatasetError::Unsupported {
                    path: keys.clone(),
                    reason: format!(
                        "sort keys need an image folder ({} DIR)",
                        crate::hint::IMAGES
                    ),
                });
            }
            (Images::None, None)
        }
    };
    let labels_path = spec
        .labels
        .clone()
        .or_else(|| folder.as_ref().and_then(|f| f.labels.clone()));
    let label_names = folder.as_ref().and_then(|f| {
        f.label_names
            .as_ref()
            .map(|(p, n)| (p.as_path(), n.as_slice()))
    });
    finish(
        spec,
        name,
        features,
        images,
        folder_classes,
        labels_path,
        label_names,
    )
}

/// The images of `dir` for `n` feature rows, as the spec says to read them.
fn scan_for_rows(
    spec: &InputSpec,
    dir: &Path,
    n: usize,
) -> Result<(Images, Option<Categorical>), DatasetError> {
    let probe = Probe {
        verify: spec.verify_images,
        cache: spec.probe_cache.as_ref(),
        scope: spec.probe_scope,
    };
    // A text file instead of a folder: the image of each row, listed (what a Python list of
    // paths becomes).
    if dir.is_file() {
        if let Some(keys) = &spec.sort_keys {
            return Err(DatasetError::Unsupported {
                path: keys.clone(),
                reason: "sort keys order an image folder; a list of images is in row order already"
                    .to_owned(),
            });
        }
        let (root, paths) = images::read_image_list(dir, n)?;
        let files = images::listed_files(root, paths, spec.allow_missing_images, probe)?;
        return Ok((Images::Files(files), None));
    }
    let (files, classes) = scan_image_folder(
        dir,
        spec.image_layout,
        spec.sort_keys.as_deref(),
        Some(n),
        spec.allow_missing_images,
        probe,
    )?;
    Ok((Images::Files(files), classes))
}

/// The images of a folder that has no features yet, in the order rows pair with them, and
/// their class folders: what an image encoder embeds (`embed`, `open DIR --model`). Every
/// image must be readable (an encoder cannot embed a placeholder); unreadable ones are an
/// error listing them.
pub fn scan_images(
    spec: &InputSpec,
    dir: &Path,
) -> Result<(ImageFiles, Option<Categorical>), DatasetError> {
    scan_image_folder(
        dir,
        spec.image_layout,
        spec.sort_keys.as_deref(),
        None,
        false,
        Probe {
            verify: spec.verify_images,
            cache: spec.probe_cache.as_ref(),
            // An encoder needs every image: all are checked before the first is embedded.
            scope: ProbeScope::All,
        },
    )
    .map_err(|e| match e {
        // The usual hint (keep them with a placeholder) does not apply to an encoder.
        DatasetError::ImageFailures { path, failures } => DatasetError::ImageFolder {
            path,
            reason: format!(
                "{} image(s) cannot be read, and an encoder needs every image (fix or remove them):{}",
                failures.len(),
                failures_text(&failures)
            ),
        },
        other => other,
    })
}

/// The data set of an image folder whose features were computed from its images (one row per
/// image of `files`, in order); labels and metadata are read as `load` reads them.
pub fn from_computed_features(
    spec: &InputSpec,
    features: Features,
    files: ImageFiles,
    folder_classes: Option<Categorical>,
) -> Result<Dataset, DatasetError> {
    let name = display_name(&files.root);
    finish(
        spec,
        name,
        features,
        Images::Files(files),
        folder_classes,
        spec.labels.clone(),
        None,
    )
}

/// Classes (a labels file wins over class folders) and metadata, checked against the rows.
fn finish(
    spec: &InputSpec,
    name: String,
    features: Features,
    images: Images,
    folder_classes: Option<Categorical>,
    labels_path: Option<PathBuf>,
    label_names: Option<(&Path, &[String])>,
) -> Result<Dataset, DatasetError> {
    let n = features.n_items();
    let classes = match labels_path {
        Some(lp) => Some(Classes {
            labels: load_labels(&lp, n, label_names.map(|(_, names)| names)).map_err(|e| {
                match (e, label_names) {
                    // A label outside the names may be the names' fault: say where they are.
                    (DatasetError::BadValue { path, row, reason }, Some((names_path, _))) => {
                        DatasetError::BadValue {
                            path,
                            row,
                            reason: format!(
                                "{reason} (the label names are listed in {})",
                                names_path.display()
                            ),
                        }
                    }
                    (e, _) => e,
                }
            })?,
            source: ClassSource::File(lp),
        }),
        None => folder_classes.map(|labels| Classes {
            labels,
            source: ClassSource::Folders,
        }),
    };
    let metadata = spec
        .metadata
        .as_deref()
        .map(|p| load_metadata(p, n))
        .transpose()?;
    Ok(Dataset {
        name,
        features,
        images,
        classes,
        metadata,
    })
}

/// One embedding of a TensorBoard projector log; `--images`, `--labels` and `--metadata`
/// replace the log's sprite, labels and metadata.
fn load_projector(spec: &InputSpec, path: &Path) -> Result<Dataset, DatasetError> {
    let got = projector::read::load(path, spec.tensor.as_deref())?;
    let n = got.features.n_items();
    let (images, folder_classes) = match &spec.images {
        Some(dir) => scan_for_rows(spec, dir, n)?,
        None => (got.images, None),
    };
    let mut data = finish(
        spec,
        got.name,
        got.features,
        images,
        folder_classes,
        spec.labels.clone(),
        None,
    )?;
    if data.classes.is_none() {
        data.classes = got.classes.map(|labels| Classes {
            labels,
            source: ClassSource::File(path.to_owned()),
        });
    }
    if data.metadata.is_none() {
        data.metadata = got.metadata;
    }
    Ok(data)
}

/// A Parquet file: its vectors, its image column (or `--images`), its other columns as
/// metadata (a `--metadata` file's columns follow them).
fn load_parquet(spec: &InputSpec, path: &Path) -> Result<Dataset, DatasetError> {
    if let Some(key) = &spec.npz_key {
        return Err(DatasetError::Unsupported {
            path: path.to_owned(),
            reason: format!(
                "{} {key} applies to .npz archives only",
                crate::hint::NPZ_KEY
            ),
        });
    }
    if let (Some(keys), None) = (&spec.sort_keys, &spec.images) {
        return Err(DatasetError::Unsupported {
            path: keys.clone(),
            reason: format!(
                "sort keys need an image folder ({} DIR); an image column names each row's file itself",
                crate::hint::IMAGES
            ),
        });
    }
    let table = self::parquet::read(
        path,
        spec.vector_column.as_deref(),
        spec.image_column.as_deref(),
    )?;
    let n = table.features.n_items();
    let (images, folder_classes) = match (table.image_paths, &spec.images) {
        (Some(_), Some(dir)) => {
            return Err(DatasetError::Unsupported {
                path: dir.clone(),
                reason: format!(
                    "give the images either as a folder ({}) or as a column of the Parquet file ({}), not both",
                    crate::hint::IMAGES,
                    crate::hint::IMAGE_COLUMN
                ),
            });
        }
        (Some(paths), None) => (
            Images::Files(images::listed_files(
                table.folder,
                paths,
                spec.allow_missing_images,
                Probe {
                    verify: spec.verify_images,
                    cache: spec.probe_cache.as_ref(),
                    scope: spec.probe_scope,
                },
            )?),
            None,
        ),
        (None, Some(dir)) => scan_for_rows(spec, dir, n)?,
        (None, None) => (Images::None, None),
    };
    let mut data = finish(
        spec,
        display_name(path),
        table.features,
        images,
        folder_classes,
        spec.labels.clone(),
        None,
    )?;
    data.metadata = match (table.metadata, data.metadata) {
        (Some(mut own), Some(given)) => {
            own.columns.extend(given.columns);
            Some(own)
        }
        (own, given) => own.or(given),
    };
    Ok(data)
}

fn load_demo_with(spec: &InputSpec) -> Result<Dataset, DatasetError> {
    let mut data = load_demo();
    if let Some(p) = &spec.metadata {
        data.metadata = Some(load_metadata(p, data.n_items())?);
    }
    if let Some(p) = &spec.labels {
        data.classes = Some(Classes {
            labels: load_labels(p, data.n_items(), None)?,
            source: ClassSource::File(p.clone()),
        });
    }
    Ok(data)
}

/// A folder in the layout `make_datasets.py` writes: `features.npy`, optional `labels.npy`,
/// `images/` and `meta.json` with `label_names`.
struct DatasetFolder {
    features: PathBuf,
    labels: Option<PathBuf>,
    images: Option<PathBuf>,
    /// `meta.json` and the label names it lists.
    label_names: Option<(PathBuf, Vec<String>)>,
}

impl DatasetFolder {
    fn detect(path: &Path) -> Result<Option<Self>, DatasetError> {
        if !path.is_dir() {
            return Ok(None);
        }
        let features = path.join("features.npy");
        if !features.is_file() {
            return Err(DatasetError::Unsupported {
                path: path.to_owned(),
                reason: "a folder must hold features.npy (with optional labels.npy, images/, meta.json) \
                         or be a TensorBoard projector log (projector_config.pbtxt); for an image folder \
                         without features pass the features file and --images DIR, or --model ENCODER.onnx \
                         to compute them"
                    .to_owned(),
            });
        }
        let existing = |name: &str| Some(path.join(name)).filter(|p| p.exists());
        let label_names = match existing("meta.json") {
            Some(meta) => read_label_names(&meta)?.map(|names| (meta, names)),
            None => None,
        };
        Ok(Some(Self {
            features,
            labels: existing("labels.npy"),
            images: existing("images").filter(|p| p.is_dir()),
            label_names,
        }))
    }
}

/// The lines of a one-entry-per-item text file, without `\r` and without trailing blank lines
/// (a final newline, or a few, is not an entry).
fn read_lines(path: &Path) -> Result<Vec<String>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.trim_end_matches('\r').to_owned())
        .collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    Ok(lines)
}

fn read_label_names(path: &Path) -> Result<Option<Vec<String>>, DatasetError> {
    let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| DatasetError::Unsupported {
            path: path.to_owned(),
            reason: format!("not valid JSON: {e}"),
        })?;
    Ok(value
        .get("label_names")
        .and_then(|v| v.as_array())
        .map(|names| {
            names
                .iter()
                .map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_owned))
                .collect()
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categorical_sorts_names_naturally() {
        let c = Categorical::from_strings(&["b10", "b2", "a", "b2"]);
        assert_eq!(c.names, vec!["a", "b2", "b10"]);
        assert_eq!(c.codes, vec![2, 1, 0, 1]);
        assert_eq!(c.counts(), vec![1, 2, 1]);
        assert_eq!(c.name_of(ItemId(0)), "b10");
        let c = c.with_name_order(&["b10", "a", "b2"]);
        assert_eq!(c.names, vec!["b10", "a", "b2"]);
        assert_eq!(c.codes, vec![0, 2, 1, 2]);
        let partial = c.clone().with_name_order(&["a"]);
        assert_eq!(partial, c, "an incomplete order changes nothing");
    }

    #[test]
    fn long_problem_lists_are_summarised() {
        let failures: Vec<ImageFailure> = (0..30)
            .map(|i| ImageFailure {
                path: PathBuf::from(format!("img{i}.png")),
                reason: "bad".to_owned(),
            })
            .collect();
        let text = DatasetError::ImageFailures {
            path: PathBuf::from("imgs"),
            failures,
        }
        .to_string();
        assert!(text.starts_with("30 of the images in imgs"));
        assert!(text.contains("img24.png") && !text.contains("img25.png"));
        assert!(text.contains("and 5 more"));
    }
}
