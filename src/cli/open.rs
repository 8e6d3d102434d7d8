//! `ivt-explore open` (and no subcommand: the demo) and `ivt-explore screenshot`: load, check,
//! and hand over to the viewer.

use std::path::PathBuf;
use std::process::ExitCode;

use ivt::dataset::{self, DataSource, InputSpec};

use super::{ModelArgs, OpenArgs, ScreenshotArgs, ViewArgs};

pub fn run_demo(view: &ViewArgs) -> anyhow::Result<ExitCode> {
    check_offscreen(view)?;
    let data = super::info::load_timed(&InputSpec::new(DataSource::Demo))?;
    open(data, view, None, false, None)
}

pub fn run(args: &OpenArgs) -> anyhow::Result<ExitCode> {
    check_offscreen(&args.view)?;
    let data = load(&args.input, &args.view)?;
    open(
        data,
        &args.view,
        None,
        from_projector(&args.input),
        Some(&args.input.model),
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
    open(
        data,
        &args.view,
        Some(args.output.clone()),
        from_projector(&args.input),
        Some(&args.input.model),
    )
}

/// The data set to explore. Image headers are read for a sample only: the thumbnail build
/// reads every image anyway (and draws an unreadable one as a red cross).
fn load(input: &super::InputArgs, view: &ViewArgs) -> anyhow::Result<dataset::Dataset> {
    super::embed::load_probing(input, &view.cache.cache(), dataset::ProbeScope::Sample)
}

/// Whether the data is a TensorBoard projector log (it then opens in 3D, as it did there).
fn from_projector(input: &super::InputArgs) -> bool {
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
) -> anyhow::Result<ExitCode> {
    super::info::print_summary(&data);
    show(data, view, screenshot, prefer_3d, model)
}

#[cfg(feature = "viewer")]
fn show(
    data: dataset::Dataset,
    view: &ViewArgs,
    screenshot: Option<PathBuf>,
    prefer_3d: bool,
    model: Option<&ModelArgs>,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use ivt::viewer::{ScreenshotRequest, ViewMode, ViewerOptions, colors::ColorSource};

    let encoder = match model {
        Some(m) => {
            super::embed::encoder(m, &view.cache.cache())?.map(ivt::viewer::query::Encoder::new)
        }
        None => None,
    };
    if let Some(first) = view.query.first() {
        if encoder.is_none() {
            anyhow::bail!(
                "--query {}: {}",
                first.display(),
                ivt::viewer::query::NEEDS_MODEL
            );
        }
        if let Some(missing) = view.query.iter().find(|p| !p.is_file()) {
            anyhow::bail!("--query {}: no such image file", missing.display());
        }
    }

    let colors = match &view.colors {
        Some(path) => {
            let (values, _) = ivt::npy::read_vector_file(path)
                .with_context(|| format!("cannot read --colors {}", path.display()))?;
            Some((path.clone(), values.into_iter().map(|v| v as f32).collect()))
        }
        None => None,
    };
    let layout = match &view.layout {
        Some(path) => {
            let m = super::read_layout(path)?;
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
    };
    let color_by = match view.color_by.as_deref() {
        Some("class") => Some(ColorSource::Class),
        Some("none") => Some(ColorSource::Uniform),
        Some("values") => Some(ColorSource::Values),
        Some("clusters") => Some(ColorSource::Clusters(view.clusters)),
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
    };
    // A screenshot needs no window: with no display it is drawn offscreen.
    let offscreen =
        view.offscreen || (screenshot.is_some() && ivt::viewer::check_display().is_err());
    let options = ViewerOptions {
        nside: view.nside as usize,
        color_by,
        colors,
        select: view.select.map(dataset::ItemId),
        view: match view.view {
            Some(super::StartView::TwoD) => ViewMode::TwoD,
            Some(super::StartView::Orbit) => ViewMode::Orbit,
            Some(super::StartView::Fly) => ViewMode::Fly,
            None if prefer_3d => ViewMode::Orbit,
            None => ViewMode::TwoD,
        },
        dims: usize::from(view.dims.unwrap_or(if prefer_3d { 3 } else { 2 })),
        metric: view.metric,
        cache: view.cache.cache(),
        screenshot: screenshot.map(|path| ScreenshotRequest { path }),
        bench_frames: view.bench_frames,
        bench_pan: view.bench_pan,
        search: view.search.clone(),
        encoder,
        queries: view.query.clone(),
        window_size: view.size,
        offscreen,
        layout,
        launched: super::launched(),
        labels_dir: view.labels_out.clone(),
        save_selection_path: view.save_selection_path.clone(),
        method: match view.method {
            super::StartMethod::Umap => ivt::viewer::layout_job::LayoutMethod::Umap,
            super::StartMethod::Tsne => ivt::viewer::layout_job::LayoutMethod::Tsne,
            super::StartMethod::Pca => ivt::viewer::layout_job::LayoutMethod::Pca,
        },
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
        graph: super::knn::imported(&view.graph, &data.features, view.metric)?
            .map(|g| std::sync::Arc::new(g.graph)),
        issues: view.issues.map(|t| {
            use ivt::viewer::issues::IssueTab;
            match t {
                super::IssuesTab::Labels => IssueTab::Labels,
                super::IssuesTab::Duplicates => IssueTab::Duplicates,
                super::IssuesTab::Outliers => IssueTab::Outliers,
                super::IssuesTab::Fidelity => IssueTab::Fidelity,
                super::IssuesTab::Leaks => IssueTab::Leaks,
            }
        }),
    };
    let target = options.screenshot.as_ref().map(|s| s.path.clone());
    ivt::viewer::run(data, options).context("cannot open the explorer")?;
    if let Some(path) = target {
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "viewer"))]
fn show(
    _data: dataset::Dataset,
    _view: &ViewArgs,
    _screenshot: Option<PathBuf>,
    _prefer_3d: bool,
    _model: Option<&ModelArgs>,
) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "this ivt-explore was built without the explorer (cargo feature `viewer`); \
         the headless subcommands (info, knn, layout, ...) work"
    )
}
