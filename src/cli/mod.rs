//! Command-line interface: raw arguments (clap), their validation into library types, and
//! dispatch to one file per subcommand.

mod audit;
mod cache;
mod cluster;
mod embed;
mod eval;
mod export_labels;
mod export_projector;
mod info;
mod knn;
mod layout;
mod open;
mod query;
mod thumbs;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ivt::dataset::{DataSource, ImageLayout, InputSpec};
use ivt::knn::Metric;

#[derive(Debug, Parser)]
#[command(
    name = "ivt-explore",
    version,
    about = "Explore high-dimensional embeddings of image data sets",
    long_about = "Explore high-dimensional embeddings of image data sets: nearest neighbours in the \
                  original space, t-SNE/UMAP maps in 2D and 3D, image thumbnails and labelling.\n\n\
                  With no subcommand, opens the built-in demo (Fashion-MNIST test set); the view \
                  options below apply to it (`ivt-explore --size 1920x1080`). For your own data \
                  they follow the data: `ivt-explore open DATA --size 1920x1080`.",
    // `ivt-explore --size 800x600 open DATA` is refused with a message naming both, rather
    // than applying one of the two sets of view options.
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The view options of the demo opened when no subcommand is given.
    #[command(flatten)]
    demo_view: ViewArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open a data set in the explorer.
    Open(OpenArgs),
    /// Print what a data set holds (sizes, value statistics, images, classes, metadata) and check it
    /// exactly as `open` would.
    Info(InfoArgs),
    /// Compute embeddings of an image folder with an ONNX image encoder.
    Embed(EmbedArgs),
    /// Compute the k-nearest-neighbour graph in the original feature space.
    Knn(KnnArgs),
    /// Compute a 2D or 3D layout (t-SNE, UMAP or PCA).
    Layout(LayoutArgs),
    /// Build the thumbnail cache of the data set's images (the explorer builds it too, on open).
    Thumbs(ThumbsArgs),
    /// Hierarchical clustering, cut into a number of clusters.
    Cluster(ClusterArgs),
    /// Score a layout: trustworthiness, kNN preservation, kNN label accuracy.
    Eval(EvalArgs),
    /// Write TensorBoard projector files (tensors, metadata, sprite).
    ExportProjector(ExportProjectorArgs),
    /// Export the labels as an ImageFolder tree OUT/<label>/<image> plus OUT/labels.csv
    /// (updates an earlier export in place; never touches the source images).
    ExportLabels(ExportLabelsArgs),
    /// Render a view headless to a PNG and exit.
    Screenshot(ScreenshotArgs),
    /// Find items by the explorer's search language: `--where 'flip class:cat score>0.3'`.
    Query(QueryArgs),
    /// Find what is wrong with a data set: near-duplicates, outliers, label issues and (with
    /// --layout) where the map tears neighbours apart, from the kNN graph.
    Audit(AuditArgs),
    /// List what the cache holds (by kind, with data set, size and last use), or trim it to a
    /// size (--max-gb) or clear it (--clear).
    Cache(CacheCommandArgs),
}

/// What to load: shared by every subcommand that reads a data set.
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Features: .npy, .npz, .csv or .tsv file, or a folder holding features.npy (plus optional
    /// labels.npy, images/ and meta.json); with --model, an image folder. Omitted: the built-in demo.
    #[arg(value_name = "DATA")]
    data: Option<PathBuf>,
    #[command(flatten)]
    options: InputOptions,
    #[command(flatten)]
    model: ModelArgs,
}

/// An image encoder that computes the features from the images (`embed`, or any command whose
/// DATA is then an image folder).
#[derive(Debug, Args)]
#[command(next_help_heading = "Image encoder (DATA is then an image folder)")]
pub struct ModelArgs {
    /// ONNX image encoder (e.g. from torch.onnx.export): embed the images with it. Vectors are
    /// cached per model, preprocessing and image, so a second run embeds only new images.
    #[arg(long, value_name = "MODEL.onnx")]
    model: Option<PathBuf>,
    /// Preprocessing to start from: imagenet (resize 256 + centre crop 224, 0–1, ImageNet mean/std)
    /// or raw255 (stretch, raw 0–255, no normalisation: the reference tool's Lightning path)
    /// [default: imagenet].
    #[arg(long, value_enum)]
    preset: Option<ivt::embed::preprocess::Preset>,
    /// TOML file with preprocessing fields (preset, size, resize, crop-fraction, channels, range,
    /// mean, std, layout); the flags here override it.
    #[arg(long, value_name = "FILE.toml")]
    preprocess: Option<PathBuf>,
    /// Model input size, N or WIDTHxHEIGHT (default: the model's own when its input shape fixes it).
    #[arg(long, value_name = "N|WxH")]
    input_size: Option<ivt::embed::preprocess::Size>,
    /// How images reach the input size.
    #[arg(long, value_enum)]
    resize: Option<ivt::embed::preprocess::ResizeMode>,
    /// center-crop: the shorter side is resized to size / fraction before the cut (0.875 = 256→224).
    #[arg(long, value_name = "F")]
    crop_fraction: Option<f32>,
    /// Channel order the model expects.
    #[arg(long, value_enum)]
    channels: Option<ivt::embed::preprocess::ChannelOrder>,
    /// Pixel value range before mean/std.
    #[arg(long, value_enum)]
    range: Option<ivt::embed::preprocess::ValueRange>,
    /// Per-channel mean subtracted (model channel order, on the scale of --range).
    #[arg(long, value_name = "A,B,C", value_parser = parse_triple)]
    mean: Option<[f32; 3]>,
    /// Per-channel standard deviation divided by.
    #[arg(long, value_name = "A,B,C", value_parser = parse_triple)]
    std: Option<[f32; 3]>,
    /// Input tensor layout (default: read from the model's input shape, NCHW when unclear).
    #[arg(long, value_enum)]
    tensor_layout: Option<ivt::embed::preprocess::TensorLayout>,
    /// Images per inference call.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    batch_size: u32,
    /// Model output to read when it has several (default: the first).
    #[arg(long, value_name = "NAME")]
    model_output: Option<String>,
    /// How an output with spatial axes ([N, C, H, W]) becomes one vector per image.
    #[arg(long, value_enum, default_value_t = ivt::embed::Pooling::Average)]
    pool: ivt::embed::Pooling,
    /// Scale every embedding to unit length.
    #[arg(long)]
    l2_normalize: bool,
    /// Where inference runs (cuda needs onnxruntime-gpu).
    #[arg(long, value_enum, default_value_t = ivt::embed::Device::Cpu)]
    device: ivt::embed::Device,
    /// Inference threads (default: one per core).
    #[arg(long, value_name = "N")]
    model_threads: Option<usize>,
}

fn parse_triple(v: &str) -> Result<[f32; 3], String> {
    let parts: Vec<&str> = v.split(',').collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(format!(
            "{v:?}: three comma-separated numbers, e.g. 0.485,0.456,0.406"
        ));
    };
    let num = |t: &str| {
        t.trim()
            .parse::<f32>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{t:?} is not a number"))
    };
    Ok([num(a)?, num(b)?, num(c)?])
}

impl InputArgs {
    fn spec(&self) -> InputSpec {
        self.options.spec(self.data.clone())
    }
}

/// Where computed artefacts are kept between runs.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Cache folder (default: ~/.cache/ivt-explore/artefacts on Linux; created private).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    cache: Option<PathBuf>,
    /// Neither read nor write the cache.
    #[arg(long)]
    no_cache: bool,
    /// After each write, remove the least recently used cache entries until the folder takes
    /// at most GB gigabytes ("none": no limit) [default: $IVT_CACHE_MAX_GB, else 20].
    #[arg(long, value_name = "GB", conflicts_with = "no_cache", value_parser = parse_cache_limit)]
    cache_max_gb: Option<CacheLimit>,
}

impl CacheArgs {
    fn cache(&self) -> ivt::cache::Cache {
        let cache = match (&self.cache, self.no_cache) {
            (_, true) => return ivt::cache::Cache::disabled(),
            (Some(dir), false) => ivt::cache::Cache::at(dir),
            (None, false) => ivt::cache::Cache::default_location(),
        };
        let cache = configure(cache);
        match &self.cache_max_gb {
            Some(limit) => cache.with_max_bytes(limit.0),
            None => cache,
        }
    }
}

/// A cache limit as given: bytes, `None` for no limit.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimit(Option<u64>);

fn parse_cache_limit(s: &str) -> Result<CacheLimit, String> {
    ivt::cache::parse_max_gb(s).map(CacheLimit)
}

/// The limit from the environment ([`ivt::cache::MAX_GB_ENV`]) or the default; checked before
/// any command runs (`check_cache_env`), so a bad value here is unreachable and ignored.
fn cache_limit_from_env() -> Option<u64> {
    let default = Some(ivt::cache::default_max_bytes());
    match std::env::var(ivt::cache::MAX_GB_ENV) {
        Ok(v) => ivt::cache::parse_max_gb(&v).unwrap_or(default),
        Err(_) => default,
    }
}

fn check_cache_env() -> anyhow::Result<()> {
    match std::env::var(ivt::cache::MAX_GB_ENV) {
        Ok(v) => ivt::cache::parse_max_gb(&v)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("{}={v:?}: {e}", ivt::cache::MAX_GB_ENV)),
        Err(std::env::VarError::NotPresent) => Ok(()),
        Err(e) => anyhow::bail!("{}: {e}", ivt::cache::MAX_GB_ENV),
    }
}

/// The data set this run works on, as its entries in the cache record it (set once in `run`).
static DATASET: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `cache` with this run's data set and the limit from the environment, its folder made
/// private when it is the default one.
fn configure(cache: ivt::cache::Cache) -> ivt::cache::Cache {
    let cache = cache.with_max_bytes(cache_limit_from_env());
    let cache = match DATASET.get() {
        Some(d) => cache.for_dataset(d),
        None => cache,
    };
    cache.secure();
    cache
}

/// How a data set is named in the cache's listing: its path made absolute (a listing is read
/// from anywhere), or the demo.
fn dataset_label(data: Option<&std::path::Path>) -> String {
    match data {
        Some(path) => ivt::cache::FileIdentities::new()
            .key_path(path)
            .display()
            .to_string(),
        None => "demo (Fashion-MNIST test set)".to_owned(),
    }
}

/// The data set a command reads (`Some(None)`: the demo), for [`DATASET`]; `None` for one that
/// reads none.
fn data_of(command: Option<&Command>) -> Option<Option<&std::path::Path>> {
    fn input(i: &InputArgs) -> Option<Option<&std::path::Path>> {
        Some(i.data.as_deref())
    }
    let Some(command) = command else {
        return Some(None);
    };
    match command {
        Command::Open(a) => input(&a.input),
        Command::Info(a) => input(&a.input),
        Command::Embed(a) => input(&a.input),
        Command::Knn(a) => input(&a.input),
        Command::Layout(a) => input(&a.input),
        Command::Thumbs(a) => input(&a.input),
        Command::Cluster(a) => input(&a.input),
        Command::Eval(a) => Some(Some(a.data.as_path())),
        Command::ExportProjector(a) => input(&a.input),
        Command::ExportLabels(a) => input(&a.input),
        Command::Screenshot(a) => input(&a.input),
        Command::Query(a) => input(&a.input),
        Command::Audit(a) => input(&a.input),
        Command::Cache(_) => None,
    }
}

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

/// How to read a data set, apart from the DATA path itself.
#[derive(Debug, Args)]
pub struct InputOptions {
    /// Folder of images, one per feature row: flat, or torchvision `root/<class>/<image>`.
    #[arg(long, value_name = "DIR")]
    images: Option<PathBuf>,
    /// How to read the image folder.
    #[arg(long, value_enum, default_value_t = ImageLayout::Auto)]
    image_layout: ImageLayout,
    /// File with one substring per feature row; each must match exactly one image file name.
    /// Without it, flat folders are in natural order (img2 before img10).
    #[arg(long, value_name = "FILE")]
    sort_keys: Option<PathBuf>,
    /// CSV/TSV with a header and one row per item (text or numeric columns), for colouring and search.
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
    /// Class label per item: .npy of integers, or a text file with one label per line.
    #[arg(long, value_name = "FILE")]
    labels: Option<PathBuf>,
    /// Array of an .npz archive to read the features from (needed when it holds several).
    #[arg(long, value_name = "NAME")]
    npz_key: Option<String>,
    /// Keep items whose image cannot be read, drawn with a placeholder, instead of failing.
    #[arg(long)]
    allow_missing_images: bool,
    /// Decode every image completely while loading (default: read headers only).
    #[arg(long)]
    verify_images: bool,
    /// Which embedding of a TensorBoard projector log to read (`info` lists them; default: the first).
    #[arg(long, value_name = "NAME")]
    tensor: Option<String>,
}

impl InputOptions {
    fn spec(&self, data: Option<PathBuf>) -> InputSpec {
        InputSpec {
            data: data.map_or(DataSource::Demo, DataSource::Path),
            images: self.images.clone(),
            image_layout: self.image_layout,
            sort_keys: self.sort_keys.clone(),
            metadata: self.metadata.clone(),
            labels: self.labels.clone(),
            npz_key: self.npz_key.clone(),
            allow_missing_images: self.allow_missing_images,
            verify_images: self.verify_images,
            tensor: self.tensor.clone(),
            // Set where the command knows its cache (`embed::load`).
            probe_cache: None,
            // Set by `embed::load_probing` (the explorer and `thumbs` read a sample).
            probe_scope: ivt::dataset::ProbeScope::All,
        }
    }
}

#[derive(Debug, Args)]
pub struct ThumbsArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Largest thumbnail cell side in pixels (a power of two, 8–256); never above the images'
    /// own size.
    #[arg(long, default_value_t = 128)]
    thumbnail_px: u32,
    /// Decoding threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    view: ViewArgs,
}

/// How the explorer starts: shared by `open` and `screenshot`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    graph: GraphArgs,
    /// Side of the neighbour grid: nside × nside nearest neighbours of the selected image.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=8))]
    nside: u32,
    /// What to colour points by: "class", "none", a metadata column name, "values" (with
    /// --colors), "clusters" (ward clusters of the features, see --clusters) or a score of the
    /// data-quality audit: "audit:label", "audit:outlier", "audit:fidelity", "audit:trust",
    /// "audit:duplicates".
    #[arg(long, value_name = "COLUMN")]
    color_by: Option<String>,
    /// Clusters shown with --color-by clusters (a slider in the colour panel changes it live).
    #[arg(long, value_name = "K", default_value_t = 10)]
    clusters: usize,
    /// A float per point to colour by (.npy, N values), shown with a colour bar.
    #[arg(long, value_name = "FILE.npy")]
    colors: Option<PathBuf>,
    /// Select this item (0-based row) at start: its neighbours are shown.
    #[arg(long, value_name = "INDEX")]
    select: Option<u32>,
    /// Show this layout (N × 2 or N × 3 .npy, e.g. from `ivt-explore layout`) instead of
    /// computing one at start.
    #[arg(long, value_name = "FILE.npy")]
    layout: Option<PathBuf>,
    /// The view to start in [default: 2d; 3d for a TensorBoard projector log].
    #[arg(long, value_enum)]
    view: Option<StartView>,
    /// Layout computed at start (when none is cached): umap, tsne or pca.
    #[arg(long, value_enum, default_value_t = StartMethod::Umap)]
    method: StartMethod,
    /// t-SNE perplexity for the layout computed at start.
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    /// Dimensions of the layout computed at start, 2 or 3 [default: 2; 3 for a TensorBoard
    /// projector log, which opens in the 3D view as TensorBoard does].
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
    dims: Option<u8>,
    /// Distance for neighbours and layouts.
    #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Where the labels journal is kept (default: ./ivt-labels/<data set name>).
    #[arg(long, value_name = "DIR")]
    labels_out: Option<PathBuf>,
    /// Label names, comma-separated, hotkeys 1–9 in this order (default: positive,negative).
    #[arg(long, value_name = "A,B,...", default_value = "positive,negative")]
    label_names: String,
    /// Also copy each image given the first label (positive) into DIR as it is labelled — the
    /// reference tool's `save_selection_path`. Existing files are never overwritten.
    #[arg(long, value_name = "DIR")]
    save_selection_path: Option<PathBuf>,
    /// Measure this many frames once the map is ready, print mean/p95 frame time, and exit.
    #[arg(long, value_name = "N")]
    bench_frames: Option<u32>,
    /// Start with this search in the search box (its language: `ivt-explore query --help`).
    #[arg(long, value_name = "EXPR")]
    search: Option<String>,
    /// Query by image at start (repeatable): with --model, the image's nearest items are shown
    /// and it is placed on the map as a marker. Dropping a file on the window does the same.
    #[arg(long, value_name = "IMG")]
    query: Vec<PathBuf>,
    /// With --bench-frames: move the camera every timed frame (a pan in 2D, an orbit in 3D),
    /// to measure what a moving view costs against a still one.
    #[arg(long, requires = "bench_frames")]
    bench_pan: bool,
    /// Window size in logical pixels, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "1600x900", value_parser = parse_size)]
    size: (u32, u32),
    /// Draw into an image of --size instead of a window: no display (nor Xvfb) needed, for
    /// `screenshot` (its default when no display is set) and `open --bench-frames` on a GPU
    /// server. Under Xvfb most GPU drivers fall back to software rendering; offscreen they don't.
    #[arg(long)]
    offscreen: bool,
    /// Start with dots only (`T` toggles thumbnails).
    #[arg(long)]
    no_thumbnails: bool,
    /// Thumbnail side as a multiple of the typical spacing between points.
    #[arg(long, value_name = "F", default_value_t = 1.0)]
    thumbnail_size: f32,
    /// At most this many thumbnails in view; the others are dots (updated as you pan and zoom).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    max_thumbnails: usize,
    /// Largest thumbnail cell side in pixels (a power of two, 8–256; never above the images' size).
    #[arg(long, value_name = "PX", default_value_t = 128)]
    thumbnail_px: u32,
    /// GPU memory for thumbnail textures, in MB.
    #[arg(long, value_name = "MB", default_value_t = 512)]
    gpu_mem_mb: u64,
    /// Disk for large thumbnails (128 px and up), made when a view zoomed in asks for them
    /// and kept in the cache folder; the least recently used go first. 0 keeps none.
    #[arg(long, value_name = "GB", default_value_t = ivt::thumbs::DEFAULT_LARGE_CACHE_GB, value_parser = parse_gb)]
    thumbnail_cache_gb: f64,
    /// In dense regions show one thumbnail per thumbnail-sized patch of screen (`X` toggles).
    #[arg(long)]
    declutter: bool,
    /// Start zoomed in this many times, centred on the --select item (or the map's centre).
    #[arg(long, value_name = "F")]
    zoom: Option<f32>,
    /// Point diameter in pixels, 1–20 (a slider in the view panel changes it live).
    #[arg(long, value_name = "PX", default_value_t = 5.0)]
    point_size: f32,
    /// Open the issues panel at start on this tab (the data-quality audit; `I` toggles it).
    #[arg(long, value_enum, value_name = "TAB")]
    issues: Option<IssuesTab>,
}

/// A tab of the issues panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IssuesTab {
    Labels,
    Duplicates,
    Outliers,
    Fidelity,
    Leaks,
}

/// The layout the explorer computes at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartMethod {
    Umap,
    Tsne,
    Pca,
}

/// The view the explorer opens in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartView {
    /// Orthographic, pan and zoom.
    #[value(name = "2d")]
    TwoD,
    /// Perspective, orbit around the data.
    #[value(name = "3d")]
    Orbit,
    /// Perspective, fly through the data.
    Fly,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: expected WIDTHxHEIGHT, e.g. 1600x900"))?;
    let parse = |v: &str| -> Result<u32, String> {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|&n| (200..=8192).contains(&n))
            .ok_or_else(|| format!("{v:?}: a size between 200 and 8192 pixels"))
    };
    Ok((parse(w)?, parse(h)?))
}

/// A disk budget in gigabytes: a finite number, 0 or more.
fn parse_gb(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|g| g.is_finite() && *g >= 0.0)
        .ok_or_else(|| format!("{s:?}: a number of gigabytes, 0 or more (e.g. 2 or 0.5)"))
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    input: InputArgs,
    /// Where the image folder's listing and probe (and, with --model, the vectors) are kept.
    #[command(flatten)]
    cache: CacheArgs,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Output features (.npy, float32, one row per image in the order `open FEATURES --images DIR`
    /// pairs them).
    #[arg(short, long, value_name = "FILE.npy")]
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct KnnArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Neighbours per item (self excluded).
    #[arg(short, default_value_t = 30)]
    k: usize,
    /// Distance in the original space.
    #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Exact search. Default: exact while N² · D ≤ 15,000² · 784, approximate above.
    #[arg(long, conflicts_with = "approx")]
    exact: bool,
    /// Approximate search, deterministic, at any size: an inverted file (k-means cells, more
    /// cells probed until the recall measured on a sample of 512 items reaches 0.95). The
    /// estimated recall is printed, with a warning below 0.90.
    #[arg(long)]
    approx: bool,
    /// Also compute the exact graph (cached) and print recall@k of the one computed.
    #[arg(long)]
    check_recall: bool,
    /// Reduce the features to this many principal components before searching: faster for
    /// large D, but the neighbours are then approximate (see --check-recall).
    #[arg(long, value_name = "N")]
    pca: Option<usize>,
    /// Output neighbour indices (.npy, int64, N × k); written atomically.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Output distances (.npy, float32, N × k), in the metric's units.
    #[arg(long, value_name = "FILE")]
    distances_out: Option<PathBuf>,
}

/// A kNN graph computed elsewhere (FAISS, cuML, pynndescent, a distributed job) instead of
/// one computed here.
#[derive(Debug, Args, Clone, Default)]
pub struct GraphArgs {
    /// Neighbour indices (.npy, integers, N × k; row i = item i's neighbours, nearest first).
    /// Checked against the data: shape, index range, repeats; a leading column holding the item
    /// itself is dropped. Used instead of computing the graph.
    #[arg(long = "knn", value_name = "FILE.npy")]
    pub knn: Option<PathBuf>,
    /// Their distances (.npy, float, N × k, nearest first), checked against the features on a
    /// sample (squared euclidean, as FAISS returns, is recognised). Default: computed.
    #[arg(long = "knn-distances", value_name = "FILE.npy", requires = "knn")]
    pub knn_distances: Option<PathBuf>,
}

/// Layout algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutMethod {
    Tsne,
    Umap,
    Pca,
}

/// t-SNE repulsion methods, as the CLI names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TsneGradient {
    Auto,
    Exact,
    BarnesHut,
    Fft,
}

#[derive(Debug, Args)]
pub struct LayoutArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    graph: GraphArgs,
    #[arg(long, value_enum, default_value_t = LayoutMethod::Umap)]
    method: LayoutMethod,
    /// Distance in the original space, for the kNN graph t-SNE and UMAP start from.
    #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// 2 or 3.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(2..=3))]
    dims: u8,
    /// UMAP: neighbours per item, the item itself included (as umap-learn counts).
    #[arg(long = "n-neighbors", default_value_t = 15, value_parser = clap::value_parser!(u32).range(2..))]
    n_neighbors: u32,
    /// UMAP: minimum distance between points in the layout.
    #[arg(long, default_value_t = 0.1)]
    min_dist: f64,
    /// UMAP: scale of the embedded points.
    #[arg(long, default_value_t = 1.0)]
    spread: f64,
    /// UMAP: optimisation epochs (default 500 up to 10,000 items, 200 above).
    #[arg(long)]
    epochs: Option<usize>,
    /// t-SNE: effective number of neighbours (the kNN graph gets 3 × perplexity).
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    /// t-SNE: iterations in all, early exaggeration included.
    #[arg(long, default_value_t = 750)]
    n_iter: usize,
    /// t-SNE: early exaggeration factor (for the first --exaggeration-iter iterations).
    #[arg(long, default_value_t = 12.0)]
    exaggeration: f64,
    /// t-SNE: iterations of early exaggeration.
    #[arg(long, default_value_t = 250)]
    exaggeration_iter: usize,
    /// t-SNE: learning rate (default: openTSNE's N / exaggeration in each phase).
    #[arg(long)]
    learning_rate: Option<f64>,
    /// t-SNE: degrees of freedom of the output kernel (1: standard; below 1: heavier tails,
    /// finer clusters).
    #[arg(long, default_value_t = 1.0)]
    dof: f64,
    /// t-SNE: how the repulsive forces are computed (auto: exact below 1,000 items, FFT
    /// interpolation in 2D from 10,000, Barnes-Hut otherwise).
    #[arg(long, value_enum, default_value_t = TsneGradient::Auto)]
    tsne_gradient: TsneGradient,
    /// t-SNE: Barnes-Hut opening angle (0: exact; larger: faster, coarser repulsion; default
    /// 0.5 in 2D, 1.0 in 3D).
    #[arg(long)]
    theta: Option<f64>,
    /// Seed: the same seed gives the same t-SNE layout. UMAP's SGD runs on all cores and varies
    /// slightly from run to run; with RAYON_NUM_THREADS=1 it is exactly reproducible too.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output coordinates (.npy, float32, N × dims); written atomically.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Number of clusters to cut the dendrogram into.
    #[arg(long, default_value_t = 20)]
    clusters: usize,
    /// How the distance between clusters is defined (euclidean distances between items).
    #[arg(long, value_enum, default_value_t = ivt::cluster::Linkage::Ward)]
    linkage: ivt::cluster::Linkage,
    /// Output cluster id per item (.npy, int64).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The data set the layout was computed from (as for `info`).
    #[arg(value_name = "DATA")]
    data: PathBuf,
    /// Layout to score (.npy, N × 2 or N × 3).
    #[arg(value_name = "LAYOUT.npy")]
    layout: PathBuf,
    #[command(flatten)]
    input: InputOptions,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    graph: GraphArgs,
    /// Neighbours for every metric.
    #[arg(long = "n-neighbors", default_value_t = 10)]
    n_neighbors: usize,
    /// Trustworthiness on a fixed-seed subsample of this many items when N is larger
    /// (as run_anchors.py does); 0 = all items.
    #[arg(long, default_value_t = 5000)]
    tw_sample: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExportProjectorArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// Output log folder for TensorBoard's projector (`tensorboard --logdir LOGDIR`). Files go to
    /// LOGDIR/<name>/; an existing projector_config.pbtxt keeps its other embeddings.
    #[arg(short, long, value_name = "LOGDIR")]
    output: PathBuf,
    /// The embedding's name in TensorBoard (its tensor name in projector_config.pbtxt and the
    /// folder LOGDIR/<NAME>/). Default: the features file's stem (X.npy → X), or the data set
    /// folder's name.
    #[arg(long, value_name = "NAME")]
    tensor_name: Option<String>,
    /// How the tensor is stored: tsv (what every TensorBoard reads) or bytes (raw float32, smaller).
    #[arg(long, value_enum, default_value_t = ivt::projector::write::TensorFormat::Tsv)]
    tensor_format: ivt::projector::write::TensorFormat,
    /// Add a `cluster` metadata column: ward clusters of the features cut into K.
    #[arg(long, value_name = "K")]
    clusters: Option<usize>,
    /// Leave out the sprite sheet (the images).
    #[arg(long)]
    no_sprite: bool,
}

#[derive(Debug, Args)]
pub struct ExportLabelsArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The labels folder the explorer wrote (default: ./ivt-labels/<data set name>).
    #[arg(long, value_name = "DIR")]
    labels_out: Option<PathBuf>,
    /// Export folder.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// How exported files refer to the images.
    #[arg(long, value_enum, default_value_t = ivt::labels::export::ExportMode::Copy)]
    mode: ivt::labels::export::ExportMode,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["expr", "image"])))]
pub struct QueryArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    /// The search, as typed in the explorer's box: words and `/regex/` over file names,
    /// classes and text columns; `column:value`, `column>0.3`, `label:positive`, `item<100`;
    /// `-term` negates; all terms must match.
    #[arg(long = "where", value_name = "EXPR", conflicts_with = "image")]
    expr: Option<String>,
    /// An image to find the nearest items of: embedded by --model with the data set's
    /// preprocessing, then searched exactly in the original feature space.
    #[arg(long, value_name = "IMG")]
    image: Option<PathBuf>,
    /// Neighbours printed for --image.
    #[arg(short, long, default_value_t = 16, requires = "image")]
    k: usize,
    /// Distance for --image (the one the data set's graph uses).
    #[arg(long, value_enum, default_value_t = Metric::Euclidean, requires = "image")]
    metric: Metric,
    /// The labels folder the explorer wrote (default: ./ivt-labels/<data set name>, if present).
    #[arg(long, value_name = "DIR")]
    labels_out: Option<PathBuf>,
    /// Print the matches as a JSON array.
    #[arg(long)]
    json: bool,
    /// Print at most N matches (the count line says how many there are).
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    graph: GraphArgs,
    /// Neighbours every score looks at.
    #[arg(short, default_value_t = 10)]
    k: usize,
    /// Distance for the graph.
    #[arg(long, value_enum, default_value_t = Metric::Euclidean)]
    metric: Metric,
    /// Items closer than this are near-duplicates (default: a tenth of the median distance
    /// to the first neighbour).
    #[arg(long, value_name = "D", allow_negative_numbers = true)]
    dup_threshold: Option<f32>,
    /// Judge this categorical metadata column's labels instead of the classes.
    #[arg(long, value_name = "COLUMN")]
    label_column: Option<String>,
    /// A layout (.npy, N × 2 or N × 3) whose fidelity to the original neighbours is scored.
    #[arg(long, value_name = "FILE.npy")]
    layout: Option<PathBuf>,
    /// The metadata column holding each item's split (default: "split", if there is one):
    /// duplicate groups across splits are leaks.
    #[arg(long, value_name = "COLUMN")]
    split_column: Option<String>,
    /// Write every score per item to this CSV.
    #[arg(short, long, value_name = "FILE.csv")]
    output: Option<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ScreenshotArgs {
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    view: ViewArgs,
    /// Output PNG (written when the map, the neighbour grid and its images are ready).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

/// A `--layout FILE.npy` as `open` and `audit` take it: read, every value finite.
fn read_layout(path: &std::path::Path) -> anyhow::Result<ivt::npy::Matrix> {
    use anyhow::Context;
    let m = ivt::npy::read_matrix_file(path)
        .with_context(|| format!("cannot read --layout {}", path.display()))?;
    if let Some(bad) = m.data.iter().position(|v| !v.is_finite()) {
        anyhow::bail!(
            "--layout {}: row {}, column {} is not a finite number",
            path.display(),
            bad / m.n_cols.max(1),
            bad % m.n_cols.max(1)
        );
    }
    Ok(m)
}

static LAUNCHED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// When the command started (for "first frame after N s" and similar reports).
pub fn launched() -> std::time::Instant {
    *LAUNCHED.get_or_init(std::time::Instant::now)
}

/// Refuse an output name the command would not honour, before any work: the arrays are
/// written as .npy only, and a `graph.npz` or `layout.csv` holding .npy bytes would mislead
/// whatever opens it next.
pub(crate) fn npy_output(path: &std::path::Path) -> anyhow::Result<()> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if !is_npy {
        anyhow::bail!(
            "{}: outputs are written as .npy (NumPy's format); give a name ending in .npy",
            path.display()
        );
    }
    Ok(())
}

/// Parse the command line and run it. Errors are returned to `main`, which prints them once.
/// Set by the first Ctrl+C in a headless command; every progress observer reports it as a
/// cancellation, so the computation unwinds through its error path: nothing half-written is
/// left under an output's name, and temporary files are removed as they are dropped.
pub static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Exit status after Ctrl+C, as shells report a process ended by SIGINT.
pub const INTERRUPTED_EXIT: u8 = 130;

/// Ctrl+C stops the computation at its next check; a second one quits at once. Not for the
/// explorer, whose window owns the session (closing it is how it stops).
fn stop_on_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(i32::from(INTERRUPTED_EXIT));
        }
        eprintln!("\nstopping (Ctrl+C again to quit at once)…");
    });
    if let Err(e) = installed {
        // Without it Ctrl+C still stops the process, only less tidily.
        eprintln!("warning: cannot catch Ctrl+C ({e}); it will stop the program at once");
    }
}

pub fn run() -> anyhow::Result<ExitCode> {
    launched();
    let cli = Cli::parse();
    check_cache_env()?;
    if let Some(data) = data_of(cli.command.as_ref()) {
        let _ = DATASET.set(dataset_label(data));
    }
    if !matches!(
        cli.command,
        None | Some(Command::Open(_)) | Some(Command::Screenshot(_))
    ) {
        stop_on_ctrl_c();
    }
    match cli.command {
        None => open::run_demo(&cli.demo_view),
        Some(Command::Open(args)) => open::run(&args),
        Some(Command::Info(args)) => info::run(&args),
        Some(Command::Embed(args)) => embed::run(&args),
        Some(Command::Knn(args)) => knn::run(&args),
        Some(Command::Layout(args)) => layout::run(&args),
        Some(Command::Thumbs(args)) => thumbs::run(&args),
        Some(Command::Cluster(args)) => cluster::run(&args),
        Some(Command::Eval(args)) => eval::run(&args),
        Some(Command::ExportProjector(args)) => export_projector::run(&args),
        Some(Command::ExportLabels(args)) => export_labels::run(&args),
        Some(Command::Screenshot(args)) => open::screenshot(&args),
        Some(Command::Query(args)) => query::run(&args),
        Some(Command::Audit(args)) => audit::run(&args),
        Some(Command::Cache(args)) => cache::run(&args),
    }
}
