//! `ivt-explore open` (and no subcommand: the demo) and `ivt-explore screenshot`: load, check,
//! and hand over to the viewer.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ivt::dataset::{self, DataSource, InputSpec};
use ivt::knn::Metric;

use anyhow::Context as _;

use super::common::args::{
    CacheArgs, GraphArgs, InputArgs, InputOptions, ModelArgs, choice, parse_gb,
};
use super::common::load::{load_probing, load_second, load_timed};
use ivt::layout::LayoutMethod;

#[derive(Debug, Args)]
pub struct OpenArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
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
    /// "audit:duplicates"; with --compare, "compare:overlap" (how much each item's
    /// neighbourhood changed in B).
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
    #[arg(long, default_value = "umap", value_parser = start_method())]
    method: LayoutMethod,
    /// t-SNE perplexity for the layout computed at start.
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    /// Dimensions of the layout computed at start, 2 or 3 [default: 2; 3 for a TensorBoard
    /// projector log, which opens in the 3D view as TensorBoard does].
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=3))]
    dims: Option<u8>,
    /// Distance for neighbours and layouts.
    #[arg(long, value_parser = choice::<Metric>(), default_value_t = Metric::Euclidean)]
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
    /// With --bench-frames and --compare: keep the map morphing between A's and B's while the
    /// frames are timed (what a morph costs against a still map).
    #[arg(long, requires_all = ["bench_frames", "compare"])]
    bench_morph: bool,
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
    /// A second embedding of the same items (a file or folder, read as DATA is): compared in
    /// the background (`ivt-explore compare`), its map started from this one's and aligned to
    /// it; `M` or the top bar's slider morphs between the two maps, --color-by compare:overlap
    /// colours each item by how much its neighbourhood changed.
    #[arg(long, value_name = "B")]
    compare: Option<PathBuf>,
    /// With --compare: once compared, move the map this far towards B's (0–1; 1 shows B's map).
    #[arg(long, value_name = "T", default_value_t = 0.0, requires = "compare")]
    morph: f32,
    /// With --compare: open the list of the items whose neighbourhoods changed most, with
    /// their neighbours in A and in B (`C` toggles it).
    #[arg(long, requires = "compare")]
    changed_most: bool,
    /// Open the "label next" panel (`L` toggles it): the images the probe on your labels is
    /// least sure of, ten at a time, labelled with keys 1–9 (diverse, uncertain or
    /// likely:LABEL; default diverse).
    #[arg(
        long,
        value_name = "STRATEGY",
        num_args = 0..=1,
        default_missing_value = "diverse"
    )]
    label_next: Option<ivt::probe::Strategy>,
    /// Open the "label next" panel on "label all with p ≥ P": the unlabelled items the probe
    /// gives LABEL with probability at least P (default 0.9), ready to be labelled in one
    /// undoable batch (nothing is labelled until you press its button).
    #[arg(long, value_name = "LABEL[:P]", value_parser = label_threshold)]
    label_all: Option<(String, f32)>,
}

/// `LABEL[:P]`: a label and a probability in 0–1 (0.9 when left out).
fn label_threshold(s: &str) -> Result<(String, f32), String> {
    let (label, p) = match s.rsplit_once(':') {
        Some((label, p)) if p.parse::<f32>().is_ok() => (label, p.parse::<f32>().ok()),
        _ => (s, None),
    };
    if label.is_empty() {
        return Err(format!("{s:?}: name a label, e.g. positive:0.9"));
    }
    let p = p.unwrap_or(0.9);
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("{s:?}: the probability {p} is not within 0–1"));
    }
    Ok((label.to_owned(), p))
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

/// `open --method`: its values listed with umap, the default, first (as `--help` has always
/// listed them).
fn start_method() -> impl clap::builder::TypedValueParser<Value = LayoutMethod> {
    super::common::args::layout_method(["umap", "tsne", "pca"])
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
    /// With --compare: A's map on the left, B's on the right, one camera for both (`B`
    /// toggles it).
    Split,
    /// The split view in 3D (orbit).
    #[value(name = "split-3d")]
    Split3d,
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

#[derive(Debug, Args)]
pub struct ScreenshotArgs {
    #[command(flatten)]
    pub(super) input: InputArgs,
    #[command(flatten)]
    view: ViewArgs,
    /// Output PNG (written when the map, the neighbour grid and its images are ready).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

pub fn run_demo(view: &ViewArgs) -> anyhow::Result<ExitCode> {
    check_offscreen(view)?;
    let data = load_timed(&InputSpec::new(DataSource::Demo))?;
    let compare = second(view, None)?;
    open(data, view, None, false, None, compare)
}

/// `--compare B`: the second embedding, read with DATA's reading options, and its name.
fn second(
    view: &ViewArgs,
    options: Option<&InputOptions>,
) -> anyhow::Result<Option<(dataset::Dataset, String)>> {
    let Some(path) = &view.compare else {
        return Ok(None);
    };
    let b = load_second(options, path).context("--compare")?;
    Ok(Some((b, second_name(path))))
}

/// What to call B: its file name, or its folder's where the file is the folder's
/// `features.npy` (`pca50/features.npy` is "pca50", not "features.npy").
fn second_name(path: &std::path::Path) -> String {
    let name = |p: &std::path::Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    match name(path) {
        Some(n) if n == "features.npy" => path.parent().and_then(name).unwrap_or(n),
        Some(n) => n,
        None => path.display().to_string(),
    }
}

pub fn run(args: &OpenArgs) -> anyhow::Result<ExitCode> {
    check_offscreen(&args.view)?;
    let data = load(&args.input, &args.view)?;
    let compare = second(&args.view, Some(&args.input.options))?;
    open(
        data,
        &args.view,
        None,
        from_projector(&args.input),
        Some(&args.input.model),
        compare,
    )
}

/// The explorer offscreen shows nothing to anyone: only a frame benchmark makes sense there.
fn check_offscreen(view: &ViewArgs) -> anyhow::Result<()> {
    if view.offscreen && view.bench_frames.is_none() {
        anyhow::bail!(
            "--offscreen: the explorer would show nothing; use it with --bench-frames N, or take \
             a picture with `ivt-explore screenshot --offscreen`"
        );
    }
    Ok(())
}

pub fn screenshot(args: &ScreenshotArgs) -> anyhow::Result<ExitCode> {
    if args.view.bench_frames.is_some() {
        anyhow::bail!("--bench-frames belongs to `open`, not `screenshot`");
    }
    let data = load(&args.input, &args.view)?;
    let compare = second(&args.view, Some(&args.input.options))?;
    open(
        data,
        &args.view,
        Some(args.output.clone()),
        from_projector(&args.input),
        Some(&args.input.model),
        compare,
    )
}

/// The data set to explore. Image headers are read for a sample only: the thumbnail build
/// reads every image anyway (and draws an unreadable one as a red cross).
fn load(input: &InputArgs, view: &ViewArgs) -> anyhow::Result<dataset::Dataset> {
    load_probing(input, &view.cache.cache(), dataset::ProbeScope::Sample)
}

/// Whether the data is a TensorBoard projector log (it then opens in 3D, as it did there).
fn from_projector(input: &InputArgs) -> bool {
    input.model.model.is_none()
        && input
            .data
            .as_deref()
            .is_some_and(ivt::dataset::projector::is_log_dir)
}

fn open(
    data: dataset::Dataset,
    view: &ViewArgs,
    screenshot: Option<PathBuf>,
    prefer_3d: bool,
    model: Option<&ModelArgs>,
    compare: Option<(dataset::Dataset, String)>,
) -> anyhow::Result<ExitCode> {
    super::info::print_summary(&data);
    show(data, view, screenshot, prefer_3d, model, compare)
}

#[cfg(feature = "viewer")]
fn show(
    data: dataset::Dataset,
    view: &ViewArgs,
    screenshot: Option<PathBuf>,
    prefer_3d: bool,
    model: Option<&ModelArgs>,
    compare: Option<(dataset::Dataset, String)>,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use ivt::viewer::{ScreenshotRequest, ViewMode, ViewerOptions};

    super::common::args::check_thumbnail_px(view.thumbnail_px)?;
    let encoder = query_encoder(view, model)?;
    let colors = color_values(view)?;
    let layout = given_layout(view)?;
    let color_by = color_source(view)?;
    // A screenshot needs no window: with no display it is drawn offscreen.
    let offscreen =
        view.offscreen || (screenshot.is_some() && ivt::viewer::check_display().is_err());
    let options = ViewerOptions {
        nside: view.nside as usize,
        color_by,
        colors,
        select: view.select.map(dataset::ItemId),
        view: match view.view {
            Some(StartView::TwoD | StartView::Split) => ViewMode::TwoD,
            Some(StartView::Orbit | StartView::Split3d) => ViewMode::Orbit,
            Some(StartView::Fly) => ViewMode::Fly,
            None if prefer_3d => ViewMode::Orbit,
            None => ViewMode::TwoD,
        },
        dims: usize::from(view.dims.unwrap_or(if prefer_3d { 3 } else { 2 })),
        metric: view.metric,
        cache: view.cache.cache(),
        screenshot: screenshot.map(|path| ScreenshotRequest { path }),
        bench_frames: view.bench_frames,
        bench_pan: view.bench_pan,
        bench_morph: view.bench_morph,
        search: view.search.clone(),
        encoder,
        queries: view.query.clone(),
        window_size: view.size,
        offscreen,
        layout,
        launched: super::common::progress::launched(),
        labels_dir: view.labels_out.clone(),
        save_selection_path: view.save_selection_path.clone(),
        method: view.method,
        perplexity: view.perplexity,
        label_names: ivt::labels::LabelSet::parse(&view.label_names).context("--label-names")?,
        thumbnails: ivt::viewer::mosaic::MosaicSettings {
            enabled: !view.no_thumbnails,
            declutter: view.declutter,
            size: view.thumbnail_size,
            max_thumbnails: view.max_thumbnails,
            ..Default::default()
        },
        thumbnail_px: view.thumbnail_px,
        gpu_mem_mb: view.gpu_mem_mb,
        large_cache_gb: view.thumbnail_cache_gb,
        zoom: view.zoom,
        point_size: view.point_size,
        graph: super::common::graph::imported(&view.graph, &data.features, view.metric)?
            .map(|g| std::sync::Arc::new(g.graph)),
        issues: view.issues.map(|t| {
            use ivt::viewer::issues::IssueTab;
            match t {
                IssuesTab::Labels => IssueTab::Labels,
                IssuesTab::Duplicates => IssueTab::Duplicates,
                IssuesTab::Outliers => IssueTab::Outliers,
                IssuesTab::Fidelity => IssueTab::Fidelity,
                IssuesTab::Leaks => IssueTab::Leaks,
            }
        }),
        compare: compare.map(|(b, name)| (std::sync::Arc::new(b.features), name)),
        morph: view.morph,
        changed_most: view.changed_most,
        split: matches!(view.view, Some(StartView::Split | StartView::Split3d)),
        label_next: view.label_next.clone(),
        label_all: view.label_all.clone(),
    };
    let target = options.screenshot.as_ref().map(|s| s.path.clone());
    ivt::viewer::run(data, options).context("cannot open the explorer")?;
    if let Some(path) = target {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The encoder for `--query` and queries by image dropped on the window (`None` without
/// `--model`), after checking each `--query` can be used.
#[cfg(feature = "viewer")]
fn query_encoder(
    view: &ViewArgs,
    model: Option<&ModelArgs>,
) -> anyhow::Result<Option<ivt::viewer::query::Encoder>> {
    let encoder = match model {
        Some(m) => super::common::load::encoder(m, &view.cache.cache())?
            .map(ivt::viewer::query::Encoder::new),
        None => None,
    };
    if let Some(first) = view.query.first() {
        if encoder.is_none() {
            anyhow::bail!(
                "--query {}: {}",
                first.display(),
                *ivt::viewer::query::NEEDS_MODEL
            );
        }
        if let Some(missing) = view.query.iter().find(|p| !p.is_file()) {
            anyhow::bail!("--query {}: no such image file", missing.display());
        }
    }
    Ok(encoder)
}

/// The float per point given with `--colors`, with the file it came from.
#[cfg(feature = "viewer")]
fn color_values(view: &ViewArgs) -> anyhow::Result<Option<(PathBuf, Vec<f32>)>> {
    use anyhow::Context;
    Ok(match &view.colors {
        Some(path) => {
            let (values, _) = ivt::npy::read_vector_file(path)
                .with_context(|| format!("cannot read --colors {}", path.display()))?;
            Some((path.clone(), values.into_iter().map(|v| v as f32).collect()))
        }
        None => None,
    })
}

/// The layout given with `--layout`, its origin reported on stderr.
#[cfg(feature = "viewer")]
fn given_layout(view: &ViewArgs) -> anyhow::Result<Option<ivt::viewer::LayoutCoords>> {
    Ok(match &view.layout {
        Some(path) => {
            let m = super::common::args::read_layout(path)?;
            eprintln!(
                "{}",
                ivt::layout::cached::Origin::File(path.clone())
                    .describe(&format!("layout {}D", m.n_cols))
            );
            Some(ivt::viewer::LayoutCoords {
                dims: m.n_cols,
                coords: m.data,
                label: format!("{}", path.display()),
            })
        }
        None => None,
    })
}

/// What `--color-by` names, checked (an audit score must exist).
#[cfg(feature = "viewer")]
fn color_source(view: &ViewArgs) -> anyhow::Result<Option<ivt::viewer::colors::ColorSource>> {
    use ivt::viewer::colors::ColorSource;
    Ok(match view.color_by.as_deref() {
        Some("class") => Some(ColorSource::Class),
        Some("none") => Some(ColorSource::Uniform),
        Some("values") => Some(ColorSource::Values),
        Some("clusters") => Some(ColorSource::Clusters(view.clusters)),
        Some("compare:overlap") => Some(ColorSource::Compare),
        Some(name) if name.starts_with("probe:") && name.len() > "probe:".len() => {
            Some(ColorSource::Probe(name["probe:".len()..].to_owned()))
        }
        Some(name) if name.starts_with("compare:") => {
            anyhow::bail!("--color-by {name}: the comparison colours by compare:overlap")
        }
        Some(name) if name.starts_with("audit:") => {
            let score = &name["audit:".len()..];
            match ivt::viewer::colors::Score::parse(score) {
                Some(s) => Some(ColorSource::Score(s)),
                None => anyhow::bail!(
                    "--color-by {name}: no such audit score (one of {})",
                    ivt::viewer::colors::Score::ALL
                        .map(|s| format!("audit:{}", s.cli_name()))
                        .join(", ")
                ),
            }
        }
        Some(column) => Some(ColorSource::Column(column.to_owned())),
        None => None,
    })
}

#[cfg(not(feature = "viewer"))]
fn show(
    _data: dataset::Dataset,
    _view: &ViewArgs,
    _screenshot: Option<PathBuf>,
    _prefer_3d: bool,
    _model: Option<&ModelArgs>,
    _compare: Option<(dataset::Dataset, String)>,
) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "this ivt-explore was built without the explorer (cargo feature `viewer`); \
         the headless subcommands (info, knn, layout, ...) work"
    )
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// The view options alone, as `open` and `screenshot` flatten them.
    #[derive(Debug, Parser)]
    struct Probe {
        #[command(flatten)]
        view: ViewArgs,
    }

    #[test]
    fn the_second_embedding_is_named_by_its_file_or_its_folder() {
        let name = |p: &str| second_name(std::path::Path::new(p));
        assert_eq!(name("runs/pca50/features.npy"), "pca50");
        assert_eq!(name("runs/dino.npy"), "dino.npy");
        assert_eq!(name("runs/clip"), "clip");
        assert_eq!(name("features.npy"), "features.npy");
    }

    #[test]
    fn method_reads_every_layout_and_defaults_to_umap() {
        for (arg, want) in [
            ("umap", LayoutMethod::Umap),
            ("tsne", LayoutMethod::Tsne),
            ("pca", LayoutMethod::Pca),
        ] {
            let got = Probe::try_parse_from(["ivt-explore", "--method", arg]).expect("parses");
            assert_eq!(got.view.method, want, "--method {arg}");
        }
        let got = Probe::try_parse_from(["ivt-explore"]).expect("parses");
        assert_eq!(got.view.method, LayoutMethod::Umap);
        assert!(Probe::try_parse_from(["ivt-explore", "--method", "Umap"]).is_err());
    }
}
