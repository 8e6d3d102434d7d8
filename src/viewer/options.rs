//! What `open` / `screenshot` pass to the explorer besides the data ([`ViewerOptions`]), the
//! errors it reports before a window opens, and the checks that refuse options that cannot work.

use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

use crate::cache::Cache;
use crate::dataset::{Dataset, ItemId};
use crate::knn::{KnnGraph, Metric};

use super::colors::{self, ColorSource, Coloring, Colormap};
use super::state::{LayoutCoords, ViewMode};
use super::{issues, mosaic, points, query};

#[derive(Debug, Error)]
pub enum ViewerError {
    #[error(
        "no display: neither DISPLAY nor WAYLAND_DISPLAY is set. Run on a desktop session, over `ssh -X`, \
         or headless under `xvfb-run -a ivt-explore ...`"
    )]
    NoDisplay,
    #[error(transparent)]
    Color(#[from] colors::ColorError),
    #[error(
        "{} {item}: the data set has only {n_items} items (0-based index)",
        crate::hint::SELECT
    )]
    SelectOutOfRange { item: u32, n_items: usize },
    #[error("{} {path}: {found} values for {n_items} items", crate::hint::COLORS)]
    ColorsLength {
        path: PathBuf,
        found: usize,
        n_items: usize,
    },
    #[error(
        "{label}: {rows} rows × {dims} columns, but the data set has {n_items} items and a layout has 2 or 3 columns"
    )]
    LayoutShape {
        label: String,
        rows: usize,
        dims: usize,
        n_items: usize,
    },
    #[error(transparent)]
    Labels(#[from] crate::labels::LabelError),
    #[error("the screenshot could not be taken: {0}")]
    Screenshot(String),
    /// A view, thumbnail or cluster option that cannot work.
    #[error("{0}")]
    Options(String),
}

/// Whether a window can be opened at all.
pub fn check_display() -> Result<(), ViewerError> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        Ok(())
    } else {
        Err(ViewerError::NoDisplay)
    }
}

/// Headless capture: render, save, exit.
#[derive(Debug, Clone)]
pub struct ScreenshotRequest {
    pub path: PathBuf,
}

/// Everything `open` / `screenshot` pass in besides the data.
#[derive(Debug, Clone)]
pub struct ViewerOptions {
    pub nside: usize,
    pub color_by: Option<ColorSource>,
    /// `--colors FILE.npy`: one float per item, and the file it came from.
    pub colors: Option<(PathBuf, Vec<f32>)>,
    pub select: Option<ItemId>,
    pub view: ViewMode,
    pub dims: usize,
    pub metric: Metric,
    pub cache: Cache,
    pub screenshot: Option<ScreenshotRequest>,
    /// Measure this many frames once the layout is ready, print mean/p95 frame ms, exit.
    pub bench_frames: Option<u32>,
    /// `--bench-pan`: the camera moves every timed frame.
    pub bench_pan: bool,
    /// `--bench-morph`: the map morphs between A's and B's every timed frame.
    pub bench_morph: bool,
    /// `--search EXPR`: the search box starts with this text.
    pub search: Option<String>,
    /// The data set's encoder (`--model`), for query by image.
    pub encoder: Option<query::Encoder>,
    /// `--query IMG`: images queried at start.
    pub queries: Vec<PathBuf>,
    /// Window size in logical pixels.
    pub window_size: (u32, u32),
    /// Draw into an image instead of a window (`--offscreen`): no display needed.
    pub offscreen: bool,
    /// A layout to show instead of computing one at start (`--layout FILE.npy`).
    pub layout: Option<LayoutCoords>,
    /// When the process started: the time to the first frame with points is logged from it.
    pub launched: std::time::Instant,
    /// The labels folder (`None`: `./ivt-labels/<data set name>`).
    pub labels_dir: Option<PathBuf>,
    pub label_names: crate::labels::LabelSet,
    /// `--save-selection-path`: copy images given the first label here as they are labelled.
    pub save_selection_path: Option<PathBuf>,
    /// The layout computed at start (unless cached or `layout` is given).
    pub method: crate::layout::LayoutMethod,
    pub perplexity: f64,
    /// Thumbnails: shown at start, size, cap, declutter.
    pub thumbnails: mosaic::MosaicSettings,
    /// Largest thumbnail cell in pixels (`--thumbnail-px`).
    pub thumbnail_px: u32,
    /// GPU memory for thumbnails (`--gpu-mem-mb`).
    pub gpu_mem_mb: u64,
    /// Disk for large thumbnail cells, made on demand (`--thumbnail-cache-gb`).
    pub large_cache_gb: f64,
    /// Start zoomed in this many times on the selected item (`--zoom`).
    pub zoom: Option<f32>,
    /// Point diameter in logical pixels (`--point-size`).
    pub point_size: f32,
    /// A kNN graph given with `--knn`, used for the neighbour grid and for layouts whose k
    /// it covers (a layout needing more neighbours computes its own graph).
    pub graph: Option<Arc<KnnGraph>>,
    /// `--issues TAB`: open the issues panel at start on this tab.
    pub issues: Option<issues::IssueTab>,
    /// `--compare B`: a second embedding of the same items (its features, and what to call it).
    pub compare: Option<(Arc<crate::dataset::Features>, String)>,
    /// `--morph T`: once the comparison is done, move the map this far towards B's (0–1).
    pub morph: f32,
    /// `--changed-most`: open the list of the items whose neighbourhoods changed most.
    pub changed_most: bool,
    /// `--view split`: A's map on the left, B's on the right (needs `compare`).
    pub split: bool,
    /// `--label-next [STRATEGY]`: open the "label next" panel, picking by this strategy.
    pub label_next: Option<crate::probe::Strategy>,
    /// `--label-all LABEL[:P]`: open it on "label all with p ≥ P".
    pub label_all: Option<(String, f32)>,
}

impl Default for ViewerOptions {
    fn default() -> Self {
        Self {
            nside: 4,
            color_by: None,
            colors: None,
            select: None,
            view: ViewMode::TwoD,
            dims: 2,
            metric: Metric::Euclidean,
            cache: Cache::disabled(),
            screenshot: None,
            bench_frames: None,
            bench_pan: false,
            bench_morph: false,
            search: None,
            encoder: None,
            queries: Vec::new(),
            window_size: (1600, 900),
            offscreen: false,
            layout: None,
            launched: std::time::Instant::now(),
            labels_dir: None,
            label_names: crate::labels::LabelSet::default(),
            save_selection_path: None,
            method: crate::layout::LayoutMethod::Umap,
            perplexity: 30.0,
            thumbnails: mosaic::MosaicSettings::default(),
            thumbnail_px: 128,
            gpu_mem_mb: 512,
            large_cache_gb: crate::thumbs::DEFAULT_LARGE_CACHE_GB,
            zoom: None,
            point_size: points::PointSettings::default().size_px,
            graph: None,
            issues: None,
            compare: None,
            morph: 0.0,
            changed_most: false,
            split: false,
            label_next: None,
            label_all: None,
        }
    }
}

/// View and thumbnail options that cannot work, refused before a window opens.
fn check_view_options(dataset: &Dataset, options: &ViewerOptions) -> Result<(), ViewerError> {
    let bad = |e: String| ViewerError::Options(e);
    let cell_px = crate::thumbs::cell_px_for(&dataset.images, options.thumbnail_px);
    let tiers = crate::thumbs::tiers_for(options.thumbnail_px)
        .and_then(|_| crate::thumbs::tiers_for(cell_px))
        .map_err(|e| bad(e.to_string()))?;
    if !matches!(dataset.images, crate::dataset::Images::None) {
        mosaic::pool::plan_layers(
            &tiers,
            dataset.n_items(),
            options.thumbnails.max_thumbnails,
            options.gpu_mem_mb << 20,
        )
        .map_err(bad)?;
    }
    let size = options.thumbnails.size;
    if !(size.is_finite() && size > 0.0) {
        return Err(bad(format!(
            "{} {size}: must be a positive number",
            crate::hint::THUMBNAIL_SIZE
        )));
    }
    if let Some(z) = options.zoom
        && !(z.is_finite() && z > 0.0)
    {
        return Err(bad(format!(
            "{} {z}: must be a positive number",
            crate::hint::ZOOM
        )));
    }
    let px = options.point_size;
    if !points::POINT_SIZE_RANGE.contains(&px) {
        return Err(ViewerError::Options(format!(
            "{} {px}: must be between {} and {} pixels",
            crate::hint::POINT_SIZE,
            points::POINT_SIZE_RANGE.start(),
            points::POINT_SIZE_RANGE.end()
        )));
    }
    Ok(())
}

/// Options checked against their data set by [`ViewerOptions::check`]: the only kind the app
/// is built from, so no plugin meets an option that cannot work (as `TsneParams::check` gives
/// the t-SNE its parameters).
#[derive(Debug, Clone)]
pub struct CheckedOptions(ViewerOptions);

impl std::ops::Deref for CheckedOptions {
    type Target = ViewerOptions;

    fn deref(&self) -> &ViewerOptions {
        &self.0
    }
}

impl ViewerOptions {
    /// Refuse, before a window opens, what contradicts `dataset` or cannot work.
    pub fn check(self, dataset: &Dataset) -> Result<CheckedOptions, ViewerError> {
        check_options(dataset, &self)?;
        Ok(CheckedOptions(self))
    }
}

/// Options that contradict the data or cannot work, refused before a window opens.
fn check_options(dataset: &Dataset, options: &ViewerOptions) -> Result<(), ViewerError> {
    let n = dataset.n_items();
    if let Some(item) = options.select
        && item.index() >= n
    {
        return Err(ViewerError::SelectOutOfRange {
            item: item.0,
            n_items: n,
        });
    }
    if let Some((path, values)) = &options.colors
        && values.len() != n
    {
        return Err(ViewerError::ColorsLength {
            path: path.clone(),
            found: values.len(),
            n_items: n,
        });
    }
    if let Some(layout) = &options.layout
        && (layout.n_items() != n || !(2..=3).contains(&layout.dims))
    {
        return Err(ViewerError::LayoutShape {
            label: layout.label.clone(),
            rows: layout.n_items(),
            dims: layout.dims,
            n_items: n,
        });
    }
    if let Some(ColorSource::Clusters(k)) = &options.color_by {
        if *k < 1 || *k > n {
            return Err(ViewerError::Options(format!(
                "{} {k}: must be between 1 and the number of items ({n})",
                crate::hint::CLUSTERS
            )));
        }
    } else if let Some(ColorSource::Compare) = &options.color_by {
        if options.compare.is_none() {
            return Err(ViewerError::Options(format!(
                "{} compare:overlap needs a second embedding: {} B",
                crate::hint::COLOR_BY,
                crate::hint::COMPARE
            )));
        }
    } else if let Some(ColorSource::Score(score)) = &options.color_by {
        // The audit comes later; what it cannot give is known now.
        let missing = match score {
            colors::Score::LabelDoubt if dataset.classes.is_none() => "the data set has no classes",
            colors::Score::NeighboursLost | colors::Score::TrustPenalty if n < 3 => {
                "a layout needs at least three items"
            }
            _ if n < 2 => "the audit needs at least two items",
            _ => "",
        };
        if !missing.is_empty() {
            return Err(ViewerError::Color(colors::ColorError::NoScore(format!(
                "{}: {missing}",
                score.label()
            ))));
        }
    } else if let Some(ColorSource::Probe(_)) = &options.color_by {
        // Fitted from the labels once the explorer runs: until then the map is uniform, and
        // without labels enough the colour panel says what the probe needs.
    } else if let Some(source) = &options.color_by {
        Coloring::resolve(
            source,
            dataset,
            options.colors.as_ref().map(|(_, v)| v.as_slice()),
            Colormap::default(),
        )?;
    }
    if let Some((b, name)) = &options.compare
        && b.n_items() != n
    {
        return Err(ViewerError::Options(format!(
            "{} {name}: {} items, but the data set has {n}: a comparison needs two embeddings of \
             the same items, row for row",
            crate::hint::COMPARE,
            b.n_items()
        )));
    }
    if options.split && options.compare.is_none() {
        return Err(ViewerError::Options(
            "--view split shows two maps side by side: it needs a second embedding, \
             --compare B"
                .into(),
        ));
    }
    if options.split && options.morph > 0.0 {
        return Err(ViewerError::Options(format!(
            "--morph {} with --view split: the split view shows A's map on the left and B's on \
             the right, so the morph stays at A (drop --morph, or --view 2d to start half way)",
            options.morph
        )));
    }
    if !(0.0..=1.0).contains(&options.morph) {
        return Err(ViewerError::Options(format!(
            "--morph {}: a fraction of the way from A's map to B's, 0 to 1",
            options.morph
        )));
    }
    check_view_options(dataset, options)
}
