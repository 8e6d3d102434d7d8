//! The app: the explorer's plugins assembled in order, in a window or drawn offscreen, and
//! [`run`], which checks the options, opens the labels and runs until the window closes.

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;

use crate::dataset::Dataset;

use super::colors::{ColorSource, Coloring, Colormap};
use super::neighbors::NeighborMode;
use super::options::{CheckedOptions, ViewerError, ViewerOptions, check_display};
use super::state::{
    ColorState, Launched, NeighborView, SelectItem, Selection, Store, apply_selection,
};
use super::{
    camera, capture, clusters, compare, issues, item_set, label_next, labels, lasso, layout_job,
    mosaic, neighbor_grid, offscreen, picking, points, probe, query, search, thumbs, ui,
};

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
            comparison: None,
            probe: None,
            layout: options.layout.clone(),
            layout_version: u64::from(options.layout.is_some()),
            layout_b: None,
            layout_b_version: 0,
            compared_extent: None,
            morph: None,
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
        } else if let ColorSource::Probe(_) = &default_source {
            // Fitted in the background once the graph is there: the probe plugin colours then.
            color.source = default_source;
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
                split: options.split,
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

/// The labels for this session: the journal opened for writing (it is locked against a second
/// explorer), or — for a headless screenshot, which must not take the lock — read only.
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
            "{} holds label {unknown:?}, which is not among {} {:?}; it is kept and shown",
            dir.display(),
            crate::hint::LABEL_NAMES,
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
                "{} {}: this data set has no image files to copy",
                crate::hint::SAVE_SELECTION_PATH,
                path.display()
            );
        }
        labels.copy_positives_to = Some(path.clone());
    }
    Ok(labels)
}

/// Open the explorer on a data set and block until the window closes.
pub fn run(dataset: Dataset, options: ViewerOptions) -> Result<(), ViewerError> {
    let options = options.check(&dataset)?;
    // After the options: a typo is reported the same with or without a display.
    if !options.offscreen {
        check_display()?;
    }
    let labels = open_labels(&dataset, &options)?;
    let mut issues_state = open_issues(&dataset, &options);
    if let Some(ColorSource::Score(score)) = options.color_by {
        issues_state.color_when_ready(score);
    }
    let mut app = window_app(&dataset, &options);
    app.insert_resource(labels).insert_resource(issues_state);
    add_explorer_plugins(&mut app, dataset, &options);
    // How the app ended matters only for a headless capture, which records its outcome.
    let _exit = app.run();
    match app.world().get_resource::<capture::CaptureOutcome>() {
        Some(capture::CaptureOutcome::Failed(reason)) => {
            Err(ViewerError::Screenshot(reason.clone()))
        }
        _ => Ok(()),
    }
}

/// An app with Bevy's default plugins: in a window, or (`--offscreen`) drawing into an image.
fn window_app(dataset: &Dataset, options: &CheckedOptions) -> App {
    let title = format!(
        "ivt-explore — {} ({} items)",
        dataset.name,
        dataset.n_items()
    );
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
    app
}

/// The explorer's state and plugins, in the order they are added.
fn add_explorer_plugins(app: &mut App, dataset: Dataset, options: &CheckedOptions) {
    app.insert_resource(layout_job::InitialRequest(layout_job::LayoutRequest {
        dims: options.dims,
        method: options.method,
        perplexity: options.perplexity,
        ..default()
    }))
    .add_plugins(ExplorerStatePlugin {
        options: ViewerOptions::clone(options),
        data: Arc::new(dataset),
    })
    .add_plugins((
        neighbor_grid::NeighborsPlugin,
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
        probe::ProbePlugin,
        label_next::LabelNextPlugin {
            strategy: options.label_next.clone(),
            all: options.label_all.clone(),
        },
        capture::CapturePlugin {
            screenshot: options.screenshot.clone(),
            bench_frames: options.bench_frames,
            bench_pan: options.bench_pan,
            bench_morph: options.bench_morph,
        },
    ));
    if let Some((b, name)) = &options.compare {
        app.insert_resource(compare::CompareView::new(
            Arc::clone(b),
            name.clone(),
            options.morph,
            options.color_by == Some(ColorSource::Compare),
            options.changed_most,
        ))
        .add_plugins(compare::ComparePlugin);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ItemId;
    use crate::dataset::{Categorical, ClassSource, Classes, Features, Images};
    use crate::knn::Metric;
    use crate::knn::{Method, knn};
    use crate::viewer::colors;

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
            .add_plugins(neighbor_grid::NeighborsPlugin);
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
