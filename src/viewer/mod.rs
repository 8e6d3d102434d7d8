//! The Bevy explorer (feature `viewer`): points, picking, the neighbour grid and panels.
//!
//! Store vs view (Rerun's rule): the data set, kNN graph and layout live in plain library
//! types inside [`Store`]; plugins only view and edit them through messages. One plugin per
//! feature:
//! - [`points`]: every point in one GPU draw (a point-sprite mesh and its shader);
//! - [`camera`]: the 2D (orthographic pan/zoom) and 3D (orbit, fly-through) views;
//! - [`picking`]: a k-d tree over the layout answers "which point is under the cursor";
//! - [`layout_job`]: kNN graph and layout computed in the background, cached, animated;
//! - [`job`]: long computations on threads of their own (Bevy's async pool stays free);
//! - [`clusters`]: the dendrogram computed in the background on first use, cut live;
//! - [`mosaic`]: every point an image: thumbnails streamed into GPU texture arrays;
//! - [`spatial`]: a grid over the layout, so the mosaic's per-move work scales with the view;
//! - [`thumbs`]: images decoded off the main thread into an LRU of egui textures (panels);
//! - [`ui`]: egui panels (colouring and legend, layout controls, neighbour grid, help);
//! - [`query`]: query by image: an image embedded by `--model`, placed as a marker;
//! - [`search`]: the search box (the `search` language), matches highlighted, Enter steps;
//! - [`filters`]: per-column charts of all items vs the selection; brushing writes search terms;
//! - [`issues`]: the data-quality audit: findings worst first, accept a fix, "not an issue";
//! - [`item_set`]: the current selection (lasso or search) as data: label all, invert, export;
//! - [`capture`]: screenshots (`P`, the `screenshot` command) and `--bench-frames`;
//! - [`offscreen`]: `--offscreen`: the same app drawn into an image, with no window or display.
//!
//! The pure parts ([`colors`], [`neighbors`], picking's index) have no Bevy types and are
//! unit-tested; the plugins are tested with `MinimalPlugins` and under Xvfb.

pub mod camera;
pub mod capture;
pub mod clusters;
pub mod colors;
pub mod filters;
pub mod issues;
pub mod item_set;
pub mod job;
pub mod labels;
pub mod lasso;
pub mod layout_job;
pub mod mosaic;
pub mod neighbors;
pub mod offscreen;
pub mod picking;
pub mod points;
pub mod query;
pub mod search;
pub mod spatial;
pub mod splat;
pub mod thumbs;
pub mod ui;

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;
use thiserror::Error;

use crate::cache::Cache;
use crate::dataset::{Dataset, ItemId};
use crate::knn::{KnnGraph, Metric};

use colors::{ColorSource, Coloring, Colormap};
use neighbors::{Neighbor, NeighborMode};

#[derive(Debug, Error)]
pub enum ViewerError {
    #[error(
        "no display: neither DISPLAY nor WAYLAND_DISPLAY is set. Run on a desktop session, over `ssh -X`, \
         or headless under `xvfb-run -a ivt-explore ...`"
    )]
    NoDisplay,
    #[error(transparent)]
    Color(#[from] colors::ColorError),
    #[error("--select {item}: the data set has only {n_items} items (0-based index)")]
    SelectOutOfRange { item: u32, n_items: usize },
    #[error("--colors {path}: {found} values for {n_items} items")]
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

/// Which view the points are seen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ViewMode {
    /// Orthographic, looking down the layout's z axis: pan and zoom.
    #[default]
    #[value(name = "2d")]
    TwoD,
    /// Perspective: orbit, pan and zoom around a focus.
    #[value(name = "3d")]
    Orbit,
    /// Perspective: WASD/QE to move, right mouse button to look.
    #[value(name = "fly")]
    Fly,
}

impl ViewMode {
    pub fn label(self) -> &'static str {
        match self {
            Self::TwoD => "2D",
            Self::Orbit => "3D orbit",
            Self::Fly => "3D fly",
        }
    }

    pub fn is_3d(self) -> bool {
        self != Self::TwoD
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
    pub method: layout_job::LayoutMethod,
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
            method: layout_job::LayoutMethod::Umap,
            perplexity: 30.0,
            thumbnails: mosaic::MosaicSettings::default(),
            thumbnail_px: 128,
            gpu_mem_mb: 512,
            large_cache_gb: crate::thumbs::DEFAULT_LARGE_CACHE_GB,
            zoom: None,
            point_size: points::PointSettings::default().size_px,
            graph: None,
            issues: None,
        }
    }
}

/// A layout as the viewer holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutCoords {
    /// 2 or 3.
    pub dims: usize,
    /// N × dims, row-major.
    pub coords: Vec<f32>,
    /// What made it ("UMAP 2D", "PCA 2D").
    pub label: String,
}

impl LayoutCoords {
    /// Item `i` as a 3D world position (a 2D layout lies on z = 0).
    pub fn position(&self, item: ItemId) -> Vec3 {
        let c = &self.coords[item.index() * self.dims..(item.index() + 1) * self.dims];
        Vec3::new(c[0], c[1], if self.dims > 2 { c[2] } else { 0.0 })
    }

    pub fn n_items(&self) -> usize {
        self.coords.len() / self.dims.max(1)
    }
}

/// A layout for tests: `coords` (N × `dims`), labelled "test".
#[cfg(test)]
pub(crate) fn test_layout(coords: Vec<f32>, dims: usize) -> LayoutCoords {
    LayoutCoords {
        dims,
        coords,
        label: "test".into(),
    }
}

/// The data the explorer shows: plain library types, shared read-only with background tasks.
#[derive(Resource)]
pub struct Store {
    pub data: Arc<Dataset>,
    pub metric: Metric,
    /// The kNN graph in the original space, once computed (or read from the cache).
    pub graph: Option<Arc<KnnGraph>>,
    /// The graph given with `--knn`, if one was: layouts start from it (see `layout_job`).
    pub given_graph: Option<Arc<KnnGraph>>,
    /// The clusters' dendrogram, once asked for and computed (or read from the cache).
    pub dendrogram: Option<Arc<crate::cluster::Dendrogram>>,
    /// The data-quality audit, once the issues panel or a score colouring asked for it.
    pub audit: Option<Arc<crate::quality::Audit>>,
    /// The layout drawn now; `None` until the first one arrives.
    pub layout: Option<LayoutCoords>,
    /// Bumped whenever `layout` changes, so views rebuild only then.
    pub layout_version: u64,
    /// `--colors` values, if given.
    pub user_values: Option<Vec<f32>>,
    pub cache: Cache,
}

impl Store {
    pub fn n_items(&self) -> usize {
        self.data.n_items()
    }

    pub fn set_layout(&mut self, layout: LayoutCoords) {
        self.layout = Some(layout);
        self.layout_version += 1;
    }
}

/// What is selected and what is under the cursor.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct Selection {
    pub selected: Option<ItemId>,
    pub hovered: Option<ItemId>,
    /// Bumped on every change of `selected`.
    pub version: u64,
}

/// The colouring in force and the legend's hidden groups.
#[derive(Resource, Debug, Clone)]
pub struct ColorState {
    pub source: ColorSource,
    pub colormap: Colormap,
    pub coloring: Coloring,
    /// Per categorical group: hidden from the plot.
    pub hidden: Vec<bool>,
    /// Bumped whenever the point colours change.
    pub version: u64,
    /// Per group, an item that stands for it (clusters: the medoid), for the legend.
    pub representatives: Vec<ItemId>,
    /// Clusters: the top of the dendrogram above the cut, for the dendrogram view (only up to
    /// [`MAX_TREE_LEAVES`] clusters: more is unreadable at panel size).
    pub tree: Option<crate::cluster::TopTree>,
    /// The current set's items (a search's matches, a lasso; see [`item_set`]): the other
    /// items are dimmed, or hidden.
    pub search: Option<Arc<SearchMask>>,
}

/// Which items are in the current set, and whether the rest are hidden (else dimmed).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchMask {
    pub matches: Vec<bool>,
    pub hide_others: bool,
}

/// A colour pushed towards the dark background: what a non-matching point looks like.
pub fn dimmed([r, g, b, a]: colors::Rgba8) -> colors::Rgba8 {
    let dim = |c: u8| (u16::from(c) / 5 + 16) as u8;
    [dim(r), dim(g), dim(b), a]
}

/// Most clusters the dendrogram view draws.
pub const MAX_TREE_LEAVES: usize = 64;

impl ColorState {
    /// Switch to `source`, resolving it against the data; on error nothing changes.
    pub fn set_source(
        &mut self,
        source: ColorSource,
        store: &Store,
    ) -> Result<(), colors::ColorError> {
        let mut representatives = Vec::new();
        let mut top = None;
        let coloring = match (&source, &store.dendrogram) {
            (ColorSource::Clusters(k), Some(tree)) => {
                let codes = tree
                    .cut(*k)
                    .map_err(|e| colors::ColorError::NoClusters(e.to_string()))?;
                let names = (1..=*k).map(|c| format!("cluster {c}")).collect();
                let features = &store.data.features;
                representatives =
                    crate::cluster::medoids(&features.values(), features.dim(), &codes, *k)
                        .into_iter()
                        .map(ItemId)
                        .collect();
                if *k <= MAX_TREE_LEAVES {
                    top = tree.top(*k, &codes).ok();
                }
                Coloring::categorical(&crate::dataset::Categorical { names, codes })
            }
            (ColorSource::Score(score), _) => match &store.audit {
                Some(audit) => Coloring::score(*score, audit, self.colormap)?,
                // Says the audit is not computed yet.
                None => Coloring::resolve(&source, &store.data, None, self.colormap)?,
            },
            _ => Coloring::resolve(
                &source,
                &store.data,
                store.user_values.as_deref(),
                self.colormap,
            )?,
        };
        self.hidden = match &coloring {
            Coloring::Categorical { names, .. } => vec![false; names.len()],
            _ => Vec::new(),
        };
        self.source = source;
        self.coloring = coloring;
        self.representatives = representatives;
        self.tree = top;
        self.version += 1;
        Ok(())
    }

    /// Item `item`'s colour on the map: its group's or value's, transparent when its group is
    /// hidden, dimmed (or transparent) when a search is on and it does not match.
    pub fn point_color(&self, item: ItemId) -> colors::Rgba8 {
        let c = self.coloring.color_of(item, &self.hidden);
        match &self.search {
            Some(m) if !m.matches.get(item.index()).copied().unwrap_or(false) => {
                if m.hide_others {
                    [0; 4]
                } else {
                    dimmed(c)
                }
            }
            _ => c,
        }
    }

    /// Every item's [`Self::point_color`], in item order, on all cores: a recolour at a
    /// million items runs on the main thread between two frames.
    pub fn point_colors(&self, n_items: usize) -> Vec<colors::Rgba8> {
        use rayon::prelude::*;
        (0..n_items)
            .into_par_iter()
            .with_min_len(1 << 14)
            .map(|i| self.point_color(ItemId(i as u32)))
            .collect()
    }

    /// Whether a search is on and `item` is not among its matches (no thumbnail for it).
    pub fn searched_out(&self, item: ItemId) -> bool {
        self.search
            .as_ref()
            .is_some_and(|m| !m.matches.get(item.index()).copied().unwrap_or(false))
    }

    /// Show only the groups in `keep` (a dendrogram branch), hiding every other.
    pub fn show_only(&mut self, keep: &[u32]) {
        for (code, h) in self.hidden.iter_mut().enumerate() {
            *h = !keep.contains(&(code as u32));
        }
        self.version += 1;
    }

    pub fn toggle_group(&mut self, code: usize) {
        if let Some(h) = self.hidden.get_mut(code) {
            *h = !*h;
            self.version += 1;
        }
    }
}

/// What the grid's items were computed for: the selected item, mode, grid side, seed (mixed
/// with the colouring's version) and whether the graph was there.
pub type GridKey = (ItemId, NeighborMode, usize, u64, bool);

/// The neighbour grid's settings and current content.
#[derive(Resource, Debug, Clone)]
pub struct NeighborView {
    pub mode: NeighborMode,
    pub nside: usize,
    /// Changes on "shuffle" for the random mode.
    pub seed: u64,
    /// For which selection (and settings) `items` was computed.
    pub computed_for: Option<GridKey>,
    /// `items` are a query image's neighbours: (its index in [`query::Queries`], the grid
    /// size) they were taken for.
    pub query_shown: Option<(usize, usize)>,
    pub items: Vec<Neighbor>,
}

/// When the process started (see [`ViewerOptions::launched`]).
#[derive(Resource, Debug, Clone, Copy)]
pub struct Launched(pub std::time::Instant);

/// Set once the points have been on screen: background work that can wait (the thumbnail
/// cache's check of every image, the build) waits for it, so on 2 cores it does not delay the
/// first frame. Absent (nothing waits) where the points plugin is not added.
#[derive(Resource, Debug, Clone, Default)]
pub struct PointsShown(pub std::sync::Arc<std::sync::atomic::AtomicBool>);

/// Select an item (or clear the selection); `focus` also eases the view to it.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct SelectItem {
    pub item: Option<ItemId>,
    pub focus: bool,
}

/// Apply selection messages to [`Selection`].
fn apply_selection(mut messages: MessageReader<SelectItem>, mut selection: ResMut<Selection>) {
    for m in messages.read() {
        if selection.selected != m.item {
            selection.selected = m.item;
            selection.version += 1;
        }
    }
}

/// The resources and messages every plugin reads: the store and the explorer's state.
pub struct ExplorerStatePlugin {
    pub options: ViewerOptions,
    pub data: Arc<Dataset>,
}

impl Plugin for ExplorerStatePlugin {
    fn build(&self, app: &mut App) {
        let options = &self.options;
        let store = Store {
            data: Arc::clone(&self.data),
            metric: options.metric,
            graph: options.graph.clone(),
            given_graph: options.graph.clone(),
            dendrogram: None,
            audit: None,
            layout: options.layout.clone(),
            layout_version: u64::from(options.layout.is_some()),
            user_values: options.colors.as_ref().map(|(_, v)| v.clone()),
            cache: options.cache.clone(),
        };
        let mut color = ColorState {
            source: ColorSource::Uniform,
            colormap: Colormap::default(),
            coloring: Coloring::Uniform,
            hidden: Vec::new(),
            version: 0,
            representatives: Vec::new(),
            tree: None,
            search: None,
        };
        let default_source = options
            .color_by
            .clone()
            .unwrap_or(if store.user_values.is_some() {
                ColorSource::Values
            } else if store.data.classes.is_some() {
                ColorSource::Class
            } else {
                ColorSource::Uniform
            });
        // Validated in `run` before the app starts; here a failure only keeps the uniform colour.
        // Clusters are computed first: the clusters plugin colours by them when ready.
        if let ColorSource::Clusters(k) = default_source {
            app.add_systems(
                Startup,
                move |mut show: MessageWriter<clusters::ShowClusters>| {
                    show.write(clusters::ShowClusters(k));
                },
            );
        } else {
            let _ = color.set_source(default_source, &store);
        }
        app.insert_resource(Launched(options.launched))
            .insert_resource(store)
            .insert_resource(color)
            .insert_resource(Selection {
                selected: options.select,
                hovered: None,
                version: u64::from(options.select.is_some()),
            })
            .insert_resource(NeighborView {
                mode: NeighborMode::default(),
                nside: options.nside.clamp(1, 12),
                seed: 0,
                computed_for: None,
                query_shown: None,
                items: Vec::new(),
            })
            .insert_resource(camera::ViewSettings {
                start_zoom: options.zoom,
                ..camera::ViewSettings::new(options.view)
            })
            .insert_resource(points::PointSettings {
                size_px: options.point_size,
                ..default()
            })
            .add_message::<SelectItem>()
            .add_systems(PreUpdate, apply_selection)
            .add_systems(Update, log_cache_notices);
    }
}

/// Say what the cache has to say (a write that failed, entries removed to keep it within its
/// limit) when it happens: the explorer runs for hours, and its background jobs write.
fn log_cache_notices() {
    for n in crate::cache::take_notices() {
        match n {
            crate::cache::Notice::Info(text) => info!("{text}"),
            crate::cache::Notice::Warning(text) => warn!("{text}"),
        }
    }
}

/// The labels for this session: the journal opened for writing (it is locked against a second
/// explorer), or — for a headless screenshot, which must not take the lock — read only.
fn class_names(dataset: &Dataset) -> Vec<String> {
    dataset
        .classes
        .as_ref()
        .map(|c| c.labels.names.clone())
        .unwrap_or_default()
}

fn labels_dir(dataset: &Dataset, options: &ViewerOptions) -> PathBuf {
    options
        .labels_dir
        .clone()
        .unwrap_or_else(|| crate::labels::default_dir(&dataset.name))
}

/// The issues panel's state with the "not an issue" record of the labels folder (read, never
/// written, by a headless screenshot).
fn open_issues(dataset: &Dataset, options: &ViewerOptions) -> issues::Issues {
    let path = labels_dir(dataset, options).join(crate::quality::dismissed::FILE_NAME);
    let (mut state, warning) = issues::Issues::new(Some(path), dataset.n_items());
    if let Some(w) = warning {
        warn!("{w}");
    }
    if options.screenshot.is_some() {
        state.dismissed = std::mem::take(&mut state.dismissed).detached();
    }
    state
}

fn open_labels(dataset: &Dataset, options: &ViewerOptions) -> Result<labels::Labels, ViewerError> {
    let dir = labels_dir(dataset, options);
    let set = options.label_names.clone();
    if options.screenshot.is_some() {
        let state = match crate::labels::journal::read(&dir, dataset.n_items()) {
            Ok((state, _)) => state,
            Err(_) => crate::labels::LabelState::default(),
        };
        let mut labels = labels::Labels::new(set, state, None);
        labels.classes = class_names(dataset);
        return Ok(labels);
    }
    let (journal, state, opened) = crate::labels::journal::open(&dir, dataset.n_items())?;
    for w in &opened.warnings {
        warn!("{w}");
    }
    let classes = class_names(dataset);
    if let Some(unknown) = state
        .iter()
        .map(|(_, l)| l)
        .find(|l| !set.contains(l) && !classes.iter().any(|c| c == l))
    {
        warn!(
            "{} holds label {unknown:?}, which is not among --label-names {:?}; it is kept and shown",
            dir.display(),
            set.names()
        );
    }
    let mut labels = labels::Labels::new(set, state, Some(journal));
    labels.classes = classes;
    labels.export_dir = dir.join("export");
    if let crate::dataset::Images::Files(files) = &dataset.images {
        labels.image_paths = files.paths.clone();
    }
    if let Some(path) = &options.save_selection_path {
        if labels.image_paths.is_empty() {
            warn!(
                "--save-selection-path {}: this data set has no image files to copy",
                path.display()
            );
        }
        labels.copy_positives_to = Some(path.clone());
    }
    Ok(labels)
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
            "--thumbnail-size {size}: must be a positive number"
        )));
    }
    if let Some(z) = options.zoom
        && !(z.is_finite() && z > 0.0)
    {
        return Err(bad(format!("--zoom {z}: must be a positive number")));
    }
    let px = options.point_size;
    if !points::POINT_SIZE_RANGE.contains(&px) {
        return Err(ViewerError::Options(format!(
            "--point-size {px}: must be between {} and {} pixels",
            points::POINT_SIZE_RANGE.start(),
            points::POINT_SIZE_RANGE.end()
        )));
    }
    Ok(())
}

/// Open the explorer on a data set and block until the window closes.
pub fn run(dataset: Dataset, options: ViewerOptions) -> Result<(), ViewerError> {
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
                "--clusters {k}: must be between 1 and the number of items ({n})"
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
    } else if let Some(source) = &options.color_by {
        Coloring::resolve(
            source,
            &dataset,
            options.colors.as_ref().map(|(_, v)| v.as_slice()),
            Colormap::default(),
        )?;
    }
    check_view_options(&dataset, &options)?;
    // After the options: a typo is reported the same with or without a display.
    if !options.offscreen {
        check_display()?;
    }
    let labels = open_labels(&dataset, &options)?;
    let mut issues_state = open_issues(&dataset, &options);
    if let Some(ColorSource::Score(score)) = options.color_by {
        issues_state.color_when_ready(score);
    }
    let title = format!("ivt-explore — {} ({} items)", dataset.name, n);
    let (w, h) = options.window_size;
    let plugins = DefaultPlugins
        .set(WindowPlugin {
            primary_window: Some(Window {
                title,
                resolution: bevy::window::WindowResolution::new(w, h),
                // A frame benchmark times the frames, not the display's refresh: with vsync a
                // GPU drawing in 3 ms reads 16.7 ms on a 60 Hz screen.
                present_mode: if options.bench_frames.is_some() {
                    bevy::window::PresentMode::AutoNoVsync
                } else {
                    bevy::window::PresentMode::default()
                },
                ..default()
            }),
            ..default()
        })
        .set(bevy::log::LogPlugin {
            // Bevy's and wgpu's info logs drown ours; warnings still show.
            filter: std::env::var("IVT_LOG").unwrap_or_else(|_| "warn,ivt=info".to_owned()),
            ..default()
        });
    let mut app = App::new();
    app.insert_resource(ClearColor(ui::theme::BACKGROUND));
    if options.offscreen {
        // No winit: its event loop needs a display. The window entity stays (never opened),
        // so sizes and scale read as on screen; frames are run back to back.
        app.add_plugins(plugins.disable::<bevy::winit::WinitPlugin>())
            .add_plugins(bevy::app::ScheduleRunnerPlugin::run_loop(
                std::time::Duration::ZERO,
            ))
            .add_plugins(offscreen::OffscreenPlugin {
                size: UVec2::new(w, h),
            });
    } else {
        app.add_plugins(plugins);
    }
    app.insert_resource(labels)
        .insert_resource(issues_state)
        .insert_resource(layout_job::InitialRequest(layout_job::LayoutRequest {
            dims: options.dims,
            method: options.method,
            perplexity: options.perplexity,
            ..default()
        }))
        .add_plugins(ExplorerStatePlugin {
            options: options.clone(),
            data: Arc::new(dataset),
        })
        .add_plugins((
            neighbors::NeighborsPlugin,
            labels::LabelsPlugin,
            lasso::LassoPlugin,
            points::PointsPlugin,
            camera::CameraPlugin,
            picking::PickingPlugin,
            layout_job::LayoutJobPlugin,
            clusters::ClustersPlugin,
            thumbs::ThumbsPlugin,
            mosaic::MosaicPlugin {
                config: mosaic::MosaicConfig {
                    thumbnail_px: options.thumbnail_px,
                    gpu_mem_mb: options.gpu_mem_mb,
                    large_cache_gb: options.large_cache_gb,
                },
                settings: options.thumbnails.clone(),
            },
            ui::UiPlugin,
            search::SearchPlugin {
                initial: options.search.clone(),
            },
            item_set::ItemSetPlugin,
        ))
        .add_plugins((
            query::QueryPlugin {
                encoder: options.encoder.clone(),
                initial: options.queries.clone(),
            },
            issues::IssuesPlugin {
                open_at: options.issues,
            },
            capture::CapturePlugin {
                screenshot: options.screenshot.clone(),
                bench_frames: options.bench_frames,
                bench_pan: options.bench_pan,
            },
        ));
    // How the app ended matters only for a headless capture, which records its outcome.
    let _exit = app.run();
    match app.world().get_resource::<capture::CaptureOutcome>() {
        Some(capture::CaptureOutcome::Failed(reason)) => {
            Err(ViewerError::Screenshot(reason.clone()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Categorical, ClassSource, Classes, Features, Images};
    use crate::knn::{Method, knn};

    /// 12 items on a line at x = index, classes alternating a/b.
    fn line_data() -> Dataset {
        let n = 12;
        let v: Vec<f32> = (0..n).flat_map(|i| [i as f32, 0.0]).collect();
        let names: Vec<&str> = (0..n).map(|i| if i % 2 == 0 { "a" } else { "b" }).collect();
        Dataset {
            name: "line".into(),
            features: Features::new(n, 2, v, "float32", "line.npy", "line.npy").expect("features"),
            images: Images::None,
            classes: Some(Classes {
                labels: Categorical::from_strings(&names),
                source: ClassSource::BuiltIn,
            }),
            metadata: None,
        }
    }

    fn app(data: Dataset, nside: usize) -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins(ExplorerStatePlugin {
                options: ViewerOptions {
                    nside,
                    ..ViewerOptions::default()
                },
                data: Arc::new(data),
            })
            .add_plugins(neighbors::NeighborsPlugin);
        app
    }

    fn shown(app: &App) -> Vec<u32> {
        app.world()
            .resource::<NeighborView>()
            .items
            .iter()
            .map(|n| n.item.0)
            .collect()
    }

    #[test]
    fn a_selection_message_fills_the_grid_per_mode() {
        let data = line_data();
        let graph = knn(
            &data.features.values(),
            2,
            8,
            Metric::Euclidean,
            Method::Exact,
            &(),
        )
        .expect("knn");
        let mut app = app(data, 2);
        app.world_mut().resource_mut::<Store>().graph = Some(Arc::new(graph));
        app.update();
        assert!(shown(&app).is_empty());
        app.world_mut().write_message(SelectItem {
            item: Some(ItemId(6)),
            focus: false,
        });
        app.update();
        assert_eq!(
            app.world().resource::<Selection>().selected,
            Some(ItemId(6))
        );
        // 2 × 2 grid, nearest overall: 5 and 7 (tie, lower index first), then 4 and 8.
        assert_eq!(shown(&app), [5, 7, 4, 8]);
        // Coloured by class (the default with classes): the group modes use it.
        app.world_mut().resource_mut::<NeighborView>().mode = NeighborMode::NearestInGroup;
        app.update();
        assert_eq!(shown(&app), [4, 8, 2, 10]);
        app.world_mut().resource_mut::<NeighborView>().mode = NeighborMode::FarthestInGroup;
        app.update();
        assert_eq!(shown(&app), [0, 2, 10, 4]);
        // Clearing the selection empties the grid.
        app.world_mut().write_message(SelectItem {
            item: None,
            focus: false,
        });
        app.update();
        assert!(shown(&app).is_empty());
    }

    #[test]
    fn colours_follow_the_source_and_the_legend() {
        let mut app = app(line_data(), 4);
        app.update();
        let store_colors = |app: &App| {
            let c = app.world().resource::<ColorState>();
            c.coloring.colors(12, &c.hidden)
        };
        let before = store_colors(&app);
        assert_eq!(before[0], colors::category_color(0));
        assert_eq!(before[1], colors::category_color(1));
        let version = app.world().resource::<ColorState>().version;
        app.world_mut().resource_mut::<ColorState>().toggle_group(1);
        let after = store_colors(&app);
        assert_eq!(after[1], colors::HIDDEN);
        assert_eq!(after[0], before[0]);
        assert!(app.world().resource::<ColorState>().version > version);
    }
}
