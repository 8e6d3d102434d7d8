//! egui panels: top bar, colouring and layout (left), neighbours (right), the selection (under
//! the map), tooltip, help.
//!
//! Each panel is a pure `*_ui` function in its own module; the systems here gather the view
//! structs from the ECS, call them, and turn the returned actions into messages or resource
//! edits. The area the panels leave free is published as [`CentralRect`] for the cameras.

pub mod browser;
pub mod controls;
pub mod issues;
pub mod neighbors;
pub mod selection;
pub mod theme;

use bevy::camera::CameraOutputMode;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{
    EguiContexts, EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass, PrimaryEguiContext, egui,
};

use super::camera::{CentralRect, ViewSettings};
use super::colors::{ColorSource, Coloring};
use super::issues::{AuditState, IssueAction, IssueTab, Issues};
use super::item_set::{ItemSet, SetAction};
use super::labels::{LabelItems, Labels, UndoLabels};
use super::layout_job::{JobState, LayoutJob, LayoutRequest, RunLayout};
use super::mosaic::{BuildState, Mosaic, MosaicSettings};
use super::points::PointSettings;
use super::query::{Queries, QueryAction, QueryImage};
use super::search::{SearchBox, StepSearch};
use super::thumbs::Thumbs;
use super::{ColorState, NeighborView, SelectItem, Selection, Store, ViewMode};
use crate::dataset::{ColumnValues, Images, ItemId};
use browser::{FileBrowser, browser_ui};
use controls::{
    ColorAction, ColorPanel, LabelsAction, LabelsPanel, LayoutAction, LayoutPanel, ThumbnailsPanel,
    color_ui, labels_ui, layout_ui, thumbnails_ui,
};
use neighbors::{ItemInfo, NeighborAction, NeighborsPanel, QueryHeader, QueryList, neighbors_ui};
use selection::{SelectionAction, SelectionPanel, selection_ui};

/// Whether the help overlay is open.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HelpOpen(pub bool);

/// The layout panel's edits, kept until Run.
#[derive(Resource, Debug, Clone, Default)]
struct LayoutDraft(Option<LayoutRequest>);

pub struct UiPlugin;

impl Plugin for UiPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(EguiPlugin::default())
            // Not on the first plot camera: on ours (below).
            .insert_resource(EguiGlobalSettings {
                auto_create_primary_context: false,
                ..default()
            })
            .init_resource::<HelpOpen>()
            .init_resource::<FileBrowser>()
            .init_resource::<LayoutDraft>()
            .add_systems(
                Update,
                toggle_help.run_if(not(egui_wants_any_keyboard_input)),
            )
            .add_systems(Startup, spawn_ui_camera)
            .insert_non_send(Clipboard::default())
            .add_systems(Update, copy_to_clipboard)
            .add_systems(
                EguiPrimaryContextPass,
                (apply_theme, explorer_ui, query_markers, fidelity_lines).chain(),
            );
    }
}

/// Each query image's marker on the map: a numbered diamond at its place (see
/// [`super::query::place`]), larger for the one the grid shows; a click shows its neighbours.
fn query_markers(
    mut contexts: EguiContexts,
    store: Res<Store>,
    queries: Res<Queries>,
    central: Res<CentralRect>,
    cameras: Query<(&Camera, &GlobalTransform), super::camera::PlotCamera>,
    mut actions: MessageWriter<QueryAction>,
) -> Result {
    let Some(layout) = &store.layout else {
        return Ok(());
    };
    let Some((camera, global)) = cameras.iter().find(|(c, _)| c.is_active) else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    for (i, marker) in queries.markers.iter().enumerate() {
        let Some(at) = marker
            .position(layout)
            .and_then(|p| camera.world_to_viewport(global, p).ok())
            .filter(|p| central.0.contains(*p))
        else {
            continue;
        };
        let r = if queries.active == Some(i) { 11.0 } else { 8.0 };
        let side = 2.0 * r + 4.0;
        let response = egui::Area::new(egui::Id::new(("query-marker", marker.number)))
            .order(egui::Order::Middle)
            .fixed_pos(egui::pos2(at.x - side / 2.0, at.y - side / 2.0))
            .show(ctx, |ui| {
                let (rect, response) =
                    ui.allocate_exact_size(egui::vec2(side, side), egui::Sense::click());
                let c = rect.center();
                let painter = ui.painter();
                painter.add(egui::Shape::convex_polygon(
                    vec![
                        c + egui::vec2(0.0, -r),
                        c + egui::vec2(r, 0.0),
                        c + egui::vec2(0.0, r),
                        c + egui::vec2(-r, 0.0),
                    ],
                    theme::rgba8(neighbors::QUERY_FRAME),
                    egui::Stroke::new(2.0, egui::Color32::WHITE),
                ));
                let text = format!("Q{}", marker.number);
                let font = egui::FontId::proportional(13.0);
                let galley = painter.layout_no_wrap(text, font, egui::Color32::WHITE);
                let at = c + egui::vec2(r + 4.0, -galley.size().y / 2.0);
                painter.rect_filled(
                    egui::Rect::from_min_size(at, galley.size()).expand(2.0),
                    3.0,
                    egui::Color32::from_black_alpha(180),
                );
                painter.galley(at, galley, egui::Color32::WHITE);
                response
            })
            .inner;
        let response = response.on_hover_text(format!(
            "Q{} · {}\nclick: its neighbours",
            marker.number,
            marker.path.display()
        ));
        if response.clicked() {
            actions.write(QueryAction::Show(i));
        }
    }
    Ok(())
}

/// In fidelity mode, lines from the selected item to its original-space neighbours: green
/// where the map keeps the neighbour near, red where the layout tore it away.
fn fidelity_lines(
    mut contexts: EguiContexts,
    store: Res<Store>,
    issues: Res<Issues>,
    central: Res<CentralRect>,
    cameras: Query<(&Camera, &GlobalTransform), super::camera::PlotCamera>,
) -> Result {
    let (Some(lines), Some(layout)) = (&issues.lines, &store.layout) else {
        return Ok(());
    };
    let Some((camera, global)) = cameras.iter().find(|(c, _)| c.is_active) else {
        return Ok(());
    };
    let to_screen = |item: ItemId| {
        camera
            .world_to_viewport(global, layout.position(item))
            .ok()
            .map(|p| egui::pos2(p.x, p.y))
    };
    let Some(from) = to_screen(lines.item) else {
        return Ok(());
    };
    let ctx = contexts.ctx_mut()?;
    let clip = egui::Rect::from_min_max(
        egui::pos2(central.0.min.x, central.0.min.y),
        egui::pos2(central.0.max.x, central.0.max.y),
    );
    let painter = ctx
        .layer_painter(egui::LayerId::new(
            egui::Order::Middle,
            egui::Id::new("fidelity-lines"),
        ))
        .with_clip_rect(clip);
    // Torn lines last: they are the finding, drawn over the kept ones.
    let mut ordered: Vec<&(ItemId, bool)> = lines.neighbours.iter().collect();
    ordered.sort_by_key(|(_, kept)| !kept);
    for &&(item, kept) in &ordered {
        let Some(to) = to_screen(item) else { continue };
        let colour = theme::rgba8(if kept {
            issues::KEPT_COLOR
        } else {
            issues::TORN_COLOR
        });
        let width = if kept { 1.5 } else { 2.5 };
        painter.line_segment([from, to], egui::Stroke::new(width, colour));
        painter.circle_stroke(to, 4.0, egui::Stroke::new(1.5, colour));
    }
    painter.circle_stroke(from, 6.0, egui::Stroke::new(2.0, egui::Color32::WHITE));
    Ok(())
}

/// The system clipboard, opened on first use and kept: on X11 the copied text is served by
/// its owner, so it must outlive the copy.
#[derive(Default)]
struct Clipboard(Option<arboard::Clipboard>);

/// Hand the selection's file names (if "copy names" was pressed) to the clipboard.
fn copy_to_clipboard(mut set: ResMut<ItemSet>, mut clipboard: NonSendMut<Clipboard>) {
    let Some(text) = set.to_clipboard.take() else {
        return;
    };
    if clipboard.0.is_none() {
        match arboard::Clipboard::new() {
            Ok(c) => clipboard.0 = Some(c),
            Err(e) => {
                set.status = Some(format!("no clipboard: {e}"));
                return;
            }
        }
    }
    if let Some(c) = clipboard.0.as_mut()
        && let Err(e) = c.set_text(text)
    {
        set.status = Some(format!("cannot copy: {e}"));
    }
}

/// egui draws through its own camera, over the whole window and after the plot cameras (which
/// only cover the central area), rendering nothing else and clearing nothing.
fn spawn_ui_camera(mut commands: Commands) {
    commands.spawn((
        PrimaryEguiContext,
        Camera2d,
        RenderLayers::none(),
        Camera {
            order: 1,
            output_mode: CameraOutputMode::Write {
                blend_state: Some(BlendState::ALPHA_BLENDING),
                clear_color: ClearColorConfig::None,
            },
            // Its own intermediate texture starts transparent; only egui is blended on top.
            clear_color: ClearColorConfig::Custom(Color::NONE),
            ..default()
        },
        Msaa::Off,
        Tonemapping::None,
    ));
}

/// The keys, for the help overlay (and the README).
pub const KEYS: &[(&str, &str)] = &[
    ("left drag", "2D: pan · 3D: orbit"),
    ("right drag", "3D: pan · fly: look around"),
    ("wheel", "zoom at the cursor · fly: speed"),
    (
        "click",
        "select a point (its neighbours appear on the right)",
    ),
    ("Esc", "clear the selection"),
    (
        "1 … 9 · 0",
        "label the point under the cursor (or the selected one) · remove its label",
    ),
    (
        "Shift + drag",
        "lasso: select the points inside and give them the active label (Shift + Alt: remove; \"lasso labels\" off: select only)",
    ),
    (
        "Ctrl + click a tile",
        "give that neighbour the active label",
    ),
    ("Ctrl+Z · Ctrl+Shift+Z", "undo · redo labelling"),
    (
        "N",
        "select the next unlabelled neighbour in the grid (fast review)",
    ),
    ("T", "thumbnails on / off (dots only)"),
    (
        "X",
        "declutter: one thumbnail per patch of screen in dense regions",
    ),
    ("V", "switch 2D / 3D"),
    ("G", "3D: switch orbit / fly-through"),
    ("W A S D / Q E", "fly: move / down, up (Shift: faster)"),
    ("F", "fit the view to the data"),
    ("P", "save a screenshot (PNG in the current folder)"),
    (
        "/ · Ctrl+F",
        "search: words, /regex/, column:value, score>0.3, label:positive; Enter steps through",
    ),
    (
        "drop an image",
        "query by image (with --model): a marker on the map, its neighbours on the right",
    ),
    (
        "I",
        "issues panel: label issues, duplicates, outliers, map fidelity, leaks",
    ),
    (
        "Down · Up · Y · K",
        "issues: next / previous finding · accept the suggested class · not an issue",
    ),
    ("? (or F1)", "this help"),
];

fn toggle_help(keys: Res<ButtonInput<KeyCode>>, mut help: ResMut<HelpOpen>) {
    // `?` is Shift+/ on most layouts; `/` alone focuses the search box.
    let shift = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    if keys.just_pressed(KeyCode::F1) || (keys.just_pressed(KeyCode::Slash) && shift) {
        help.0 = !help.0;
    }
}

fn apply_theme(mut contexts: EguiContexts, mut done: Local<bool>) -> Result {
    if !*done {
        theme::apply(contexts.ctx_mut()?);
        *done = true;
    }
    Ok(())
}

/// File name (or "#index") and the values a tooltip or tile shows.
fn item_info(store: &Store, color: &ColorState, labels: &Labels, item: ItemId) -> ItemInfo {
    let data = &store.data;
    let mut title = format!("#{}", item.0);
    if let Images::Files(files) = &data.images
        && let Some(name) = files.paths.get(item.index()).and_then(|p| p.file_name())
    {
        title = format!("#{} · {}", item.0, name.to_string_lossy());
    }
    let value = color.coloring.describe(item);
    ItemInfo {
        title,
        value,
        color: color.coloring.color_of(item, &[]),
        details: item_details(data, item),
        label: labels
            .state
            .get(item)
            .map(|l| (l.to_owned(), labels.color(l))),
    }
}

/// The class and the first metadata values of an item, as (name, value) rows. A "label" or
/// "class" column that only repeats the item's class is left out: a TensorBoard metadata file
/// is both the classes and a column, and the tooltip would list the value twice.
fn item_details(data: &crate::dataset::Dataset, item: ItemId) -> Vec<(String, String)> {
    let mut details = Vec::new();
    let class = data
        .classes
        .as_ref()
        .map(|classes| classes.labels.name_of(item).to_owned());
    if let Some(class) = &class {
        details.push(("class".to_owned(), class.clone()));
    }
    if let Some(meta) = &data.metadata {
        let mut shown = 0;
        for column in &meta.columns {
            if shown == 6 {
                break;
            }
            let value = match &column.values {
                ColumnValues::Numeric(v) => format!("{}", v[item.index()]),
                ColumnValues::Categorical(c) => c.name_of(item).to_owned(),
            };
            let names_the_class = matches!(
                column.name.to_ascii_lowercase().as_str(),
                "label" | "labels" | "class" | "classes"
            );
            if names_the_class && class.as_ref() == Some(&value) {
                continue;
            }
            details.push((column.name.clone(), value));
            shown += 1;
        }
    }
    details
}

/// Everything the data can be coloured by.
fn color_sources(store: &Store) -> Vec<ColorSource> {
    let mut sources = vec![ColorSource::Uniform];
    if store.data.classes.is_some() {
        sources.push(ColorSource::Class);
    }
    if let Some(meta) = &store.data.metadata {
        sources.extend(
            meta.columns
                .iter()
                .map(|c| ColorSource::Column(c.name.clone())),
        );
    }
    if store.user_values.is_some() {
        sources.push(ColorSource::Values);
    }
    if store.n_items() >= 2 {
        use super::colors::Score;
        for score in Score::ALL {
            let possible = match score {
                Score::LabelDoubt => store.data.classes.is_some(),
                Score::NeighboursLost | Score::TrustPenalty => store.layout.is_some(),
                Score::Outlier | Score::Duplicate => true,
            };
            if possible {
                sources.push(ColorSource::Score(score));
            }
        }
    }
    sources
}

/// The issues panel's tabs, counts and rows; what the user did.
fn issues_panel(
    root: &mut egui::Ui,
    store: &Store,
    color: &ColorState,
    labels: &Labels,
    state: &Issues,
    thumbs: &mut Thumbs,
) -> Option<issues::IssuesUiAction> {
    let audit = store
        .audit
        .as_deref()
        .filter(|_| state.state == AuditState::Ready);
    let tabs: Vec<issues::TabInfo> = IssueTab::ALL
        .into_iter()
        .map(|tab| {
            let count = match (audit, tab) {
                (None, _) => Err("the audit is being computed"),
                (Some(a), IssueTab::Labels) if a.labels.is_none() => {
                    Err("this data set has no classes")
                }
                (Some(a), IssueTab::Fidelity) if a.fidelity.is_none() => Err("no layout yet"),
                (Some(a), IssueTab::Leaks) if a.leaks.is_none() => {
                    Err("no metadata column \"split\" (train/val/test)")
                }
                (Some(_), t) => Ok(state.rows.of(t).len()),
            };
            issues::TabInfo { tab, count }
        })
        .collect();
    let status = match (&state.state, audit) {
        (AuditState::WaitingForGraph, _) => "waiting for the kNN graph…".to_owned(),
        (AuditState::Running, _) => "computing the audit…".to_owned(),
        (AuditState::Failed(e), _) => format!("the audit failed: {e}"),
        (_, Some(a)) => format!("k = {} · copies within {:.4}", a.k, a.duplicates.threshold),
        _ => String::new(),
    };
    let status_detail = audit.map_or_else(String::new, |a| {
        format!(
            "every score from each item's {} nearest neighbours in the original space; duplicates: within {:.4} ({})",
            a.k, a.duplicates.threshold, a.duplicates.threshold_source
        )
    });
    let rows = state.tab_rows();
    let ctx = audit
        .zip(store.graph.as_deref())
        .map(|(audit, graph)| issues::RowContext {
            audit,
            data: &store.data,
            graph,
            labels: &labels.state,
            splits: state.splits.as_ref().map(|(_, names)| names.as_slice()),
            split_codes: state.splits.as_ref().map(|(codes, _)| codes.as_slice()),
            on_map: audit
                .fidelity
                .as_ref()
                .filter(|_| state.fidelity_current(store.layout_version))
                .map(|f| f.on_map.as_slice()),
        });
    let row = |r: usize| {
        ctx.as_ref()
            .and_then(|c| issues::describe_row(c, state.tab, rows, r))
    };
    let score = state.tab.score();
    let panel = issues::IssuesPanel {
        tab: state.tab,
        tabs: &tabs,
        status: &status,
        status_detail: &status_detail,
        n_rows: if audit.is_some() { rows.len() } else { 0 },
        current: state.current,
        dismissed: state.dismissed.count(state.tab.kind()),
        error: state.status.as_deref(),
        colored: color.source == ColorSource::Score(score),
        score_label: score.label(),
    };
    let mut thumb = |item: ItemId| thumbs.get(item);
    egui::Panel::bottom("issues")
        .resizable(true)
        .default_size(theme::ISSUES_PANEL_PX)
        .min_size(120.0)
        .show(root, |ui| issues::issues_ui(ui, &panel, &row, &mut thumb))
        .inner
}

fn job_status(job: &LayoutJob, store: &Store) -> (String, Option<f32>) {
    match &job.state {
        JobState::Idle => ("idle".to_owned(), None),
        JobState::Running {
            shared, started, ..
        } => (
            format!(
                "{}… {:.1} s",
                shared.stage(),
                started.elapsed().as_secs_f64()
            ),
            shared.fraction(),
        ),
        JobState::Done {
            elapsed_secs,
            from_cache,
        } => {
            let what = store
                .layout
                .as_ref()
                .map_or("layout".to_owned(), |l| l.label.clone());
            if *from_cache {
                (format!("{what}: from the cache"), None)
            } else {
                (format!("{what}: computed in {elapsed_secs:.1} s"), None)
            }
        }
        JobState::Failed(e) => (format!("failed: {e}"), None),
    }
}

/// What the panels send, and the thumbnail state they show and edit.
#[derive(SystemParam)]
struct UiMessages<'w> {
    show_clusters: MessageWriter<'w, super::clusters::ShowClusters>,
    cluster_job: Res<'w, super::clusters::ClusterJob>,
    mosaic_settings: ResMut<'w, MosaicSettings>,
    mosaic: Res<'w, Mosaic>,
    mosaic_config: Res<'w, super::mosaic::MosaicConfig>,
    select: MessageWriter<'w, SelectItem>,
    run_layout: MessageWriter<'w, RunLayout>,
    label_items: MessageWriter<'w, LabelItems>,
    undo_labels: MessageWriter<'w, UndoLabels>,
    set_action: MessageWriter<'w, SetAction>,
    set: ResMut<'w, ItemSet>,
    queries: ResMut<'w, Queries>,
    browser: ResMut<'w, FileBrowser>,
    query_image: MessageWriter<'w, QueryImage>,
    query_action: MessageWriter<'w, QueryAction>,
    issues: Res<'w, Issues>,
    issue_action: MessageWriter<'w, IssueAction>,
}

/// While the dendrogram is computed (or if that failed): one line on it.
fn cluster_status(job: &super::clusters::ClusterJob) -> Option<String> {
    use super::clusters::ClusterState;
    use std::sync::atomic::Ordering;
    match &job.state {
        ClusterState::Running => Some(format!(
            "computing the clusters (ward): distances {} of {} rows",
            job.progress.done.load(Ordering::Relaxed),
            job.progress.total.load(Ordering::Relaxed)
        )),
        ClusterState::Failed(e) => Some(format!("no clusters: {e}")),
        _ => None,
    }
}

/// One line on the thumbnails: building, or what is drawn and held on the GPU.
fn thumbnail_status(mosaic: &Mosaic, budget_mb: u64) -> String {
    use std::sync::atomic::Ordering;
    match &mosaic.state {
        None | Some(BuildState::NoImages) => "this data set has no images".to_owned(),
        Some(BuildState::Building) => format!(
            "building the thumbnail cache: {} of {}",
            mosaic.progress.done.load(Ordering::Relaxed),
            mosaic.progress.total.load(Ordering::Relaxed)
        ),
        Some(BuildState::Failed(e)) => format!("no thumbnails: {e}"),
        Some(BuildState::Ready) => {
            let resident: usize = mosaic.residency().iter().map(|r| r.1).sum();
            let mut line = format!(
                "{} drawn · {} cells on the GPU · {} of {} MB",
                mosaic.drawn_count,
                resident,
                mosaic.gpu_bytes() >> 20,
                budget_mb
            );
            if mosaic.waiting > 0 {
                line.push_str(&format!(" · loading {}", mosaic.waiting));
            }
            if mosaic.is_building() {
                line.push_str(&format!(
                    " · cache {} of {}",
                    mosaic.progress.done.load(Ordering::Relaxed),
                    mosaic.progress.total.load(Ordering::Relaxed)
                ));
            }
            if mosaic.unreadable > 0 {
                line.push_str(&format!(
                    " · {} unreadable (red cross; listed in the log)",
                    mosaic.unreadable
                ));
            }
            line
        }
    }
}

/// The search box: the text and what it found (or what is wrong); Enter and Shift+Enter step
/// through the matches, Esc clears. What to do with the matches is the selection panel's.
fn search_box(ui: &mut egui::Ui, search: &mut SearchBox, steps: &mut MessageWriter<StepSearch>) {
    let edit = egui::TextEdit::singleline(&mut search.text)
        .hint_text("search  ( / )")
        .desired_width(160.0);
    let response = ui.add(edit);
    if std::mem::take(&mut search.focus_requested) {
        response.request_focus();
    }
    let (enter, shift, escape) = ui.input(|i| {
        (
            i.key_pressed(egui::Key::Enter),
            i.modifiers.shift,
            i.key_pressed(egui::Key::Escape),
        )
    });
    if response.lost_focus() && escape {
        search.text.clear();
    } else if response.lost_focus() && enter {
        steps.write(StepSearch { forward: !shift });
        // Keep typing or stepping without clicking back into the box.
        response.request_focus();
    }
    if let Some(status) = search.status() {
        if search.error.is_some() {
            // Long messages (a list of columns) would push the rest of the bar off screen.
            let short: String = if status.chars().count() > 70 {
                status
                    .chars()
                    .take(68)
                    .chain(std::iter::once('…'))
                    .collect()
            } else {
                status.clone()
            };
            ui.colored_label(egui::Color32::from_rgb(240, 110, 90), short)
                .on_hover_text(format!(
                    "{status}\n\nivt-explore query --help: the search language"
                ));
        } else {
            ui.label(status);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn explorer_ui(
    mut contexts: EguiContexts,
    store: Res<Store>,
    selection: Res<Selection>,
    mut color: ResMut<ColorState>,
    mut view: ResMut<NeighborView>,
    mut thumbs: ResMut<Thumbs>,
    mut view_settings: ResMut<ViewSettings>,
    mut points: ResMut<PointSettings>,
    job: Res<LayoutJob>,
    mut draft: ResMut<LayoutDraft>,
    mut help: ResMut<HelpOpen>,
    mut central: ResMut<CentralRect>,
    mut labels: ResMut<Labels>,
    mut search: ResMut<SearchBox>,
    mut steps: MessageWriter<StepSearch>,
    mut out: UiMessages,
) -> Result {
    let ctx = contexts.ctx_mut()?.clone();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "explorer-root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );

    // Top bar: name, view, point size, status, help.
    egui::Panel::top("top-bar").show(&mut root, |ui| {
        ui.horizontal(|ui| {
            ui.strong(&store.data.name);
            ui.label(format!(
                "{} items · {} dims",
                store.n_items(),
                store.data.features.dim()
            ));
            ui.separator();
            for mode in [ViewMode::TwoD, ViewMode::Orbit, ViewMode::Fly] {
                if ui
                    .selectable_label(view_settings.mode == mode, mode.label())
                    .clicked()
                    && view_settings.mode != mode
                {
                    let to_or_from_2d = mode.is_3d() != view_settings.mode.is_3d();
                    view_settings.mode = mode;
                    if to_or_from_2d {
                        view_settings.request_full_fit();
                    }
                }
            }
            if ui.button("fit (F)").clicked() {
                view_settings.request_full_fit();
            }
            if ui
                .selectable_label(out.issues.open, "issues (I)")
                .on_hover_text(
                    "the data-quality audit: label issues, duplicates, outliers, map fidelity",
                )
                .clicked()
            {
                out.issue_action.write(IssueAction::Open(!out.issues.open));
            }
            ui.separator();
            ui.add(
                egui::Slider::new(&mut points.size_px, super::points::POINT_SIZE_RANGE)
                    .text("point px"),
            );
            ui.separator();
            search_box(ui, &mut search, &mut steps);
            ui.separator();
            let (status, _) = job_status(&job, &store);
            ui.label(status);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("help (?)").clicked() {
                    help.0 = !help.0;
                }
            });
        });
    });

    // Left: colour and layout.
    egui::Panel::left("controls")
        .exact_size(theme::LEFT_PANEL_PX)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("left-scroll")
                .show(ui, |ui| {
                    let mut sources = color_sources(&store);
                    if store.n_items() >= 2 {
                        let k = match color.source {
                            ColorSource::Clusters(k) => k,
                            _ => super::clusters::DEFAULT_CLUSTERS.min(store.n_items()),
                        };
                        sources.push(ColorSource::Clusters(k));
                    }
                    let clusters_status = cluster_status(&out.cluster_job);
                    let panel = ColorPanel {
                        source: &color.source,
                        sources: &sources,
                        coloring: &color.coloring,
                        colormap: color.colormap,
                        hidden: &color.hidden,
                        clusters_status: clusters_status.as_deref(),
                        max_clusters: store.n_items().min(200),
                        representatives: &color.representatives,
                        tree: color.tree.as_ref(),
                    };
                    let mut thumb = |item: ItemId| thumbs.get(item);
                    let action = color_ui(ui, &panel, &mut thumb);
                    match action {
                        Some(ColorAction::Select(item)) => {
                            out.select.write(SelectItem {
                                item: Some(item),
                                focus: true,
                            });
                        }
                        Some(ColorAction::Source(ColorSource::Clusters(k)))
                        | Some(ColorAction::Clusters(k)) => {
                            out.show_clusters.write(super::clusters::ShowClusters(k));
                        }
                        Some(ColorAction::Source(ColorSource::Score(score))) => {
                            out.issue_action.write(IssueAction::ColorBy(score));
                        }
                        Some(ColorAction::Source(s)) => {
                            if let Err(e) = color.set_source(s, &store) {
                                warn!("{e}");
                            }
                        }
                        Some(ColorAction::Colormap(c)) => {
                            color.colormap = c;
                            let source = color.source.clone();
                            if let Err(e) = color.set_source(source, &store) {
                                warn!("{e}");
                            }
                        }
                        Some(ColorAction::ToggleGroup(code)) => color.toggle_group(code),
                        Some(ColorAction::ShowAll) => {
                            color.hidden.iter_mut().for_each(|h| *h = false);
                            color.version += 1;
                        }
                        Some(ColorAction::ShowOnly(keep)) => color.show_only(&keep),
                        None => {}
                    }
                    ui.separator();
                    let search = &mut *search;
                    search.charts.update(&store.data, out.set.items.as_ref());
                    if !search.charts.charts.is_empty() {
                        egui::CollapsingHeader::new("Filters")
                            .default_open(true)
                            .show(ui, |ui| {
                                ui.label(
                                    egui::RichText::new("grey: all items · yellow: the selection")
                                        .small(),
                                );
                                if let Some(text) = super::filters::filters_ui(
                                    ui,
                                    &search.charts.charts,
                                    &search.text,
                                ) {
                                    search.text = text;
                                }
                            });
                        ui.separator();
                    }
                    let status = thumbnail_status(&out.mosaic, out.mosaic_config.gpu_mem_mb);
                    let panel = ThumbnailsPanel {
                        status: &status,
                        available: matches!(
                            out.mosaic.state,
                            Some(BuildState::Ready | BuildState::Building)
                        ),
                    };
                    let mut edited = out.mosaic_settings.clone();
                    if thumbnails_ui(ui, &panel, &mut edited) {
                        *out.mosaic_settings = edited;
                    }
                    ui.separator();
                    let counts = labels.state.counts();
                    let panel = LabelsPanel {
                        names: labels.set.names(),
                        colors: labels.set.names().iter().map(|n| labels.color(n)).collect(),
                        counts: labels
                            .set
                            .names()
                            .iter()
                            .map(|n| counts.get(n.as_str()).copied().unwrap_or(0))
                            .collect(),
                        active: labels.active,
                        can_undo: labels.state.can_undo(),
                        can_redo: labels.state.can_redo(),
                        status: match &labels.journal {
                            Some(j) => format!("saved to {}", j.path().display()),
                            None => "read only (headless screenshot)".to_owned(),
                        },
                        error: labels.error.as_deref(),
                        filter: &labels.filter,
                        export_status: labels.export_status.as_deref(),
                    };
                    let action = labels_ui(ui, &panel);
                    match action {
                        Some(LabelsAction::Active(i)) => labels.active = i,
                        Some(LabelsAction::Filter(f)) => labels.filter = f,
                        Some(LabelsAction::Export) => labels.export(),
                        Some(LabelsAction::Undo) => {
                            out.undo_labels.write(UndoLabels { redo: false });
                        }
                        Some(LabelsAction::Redo) => {
                            out.undo_labels.write(UndoLabels { redo: true });
                        }
                        None => {}
                    }
                    ui.separator();
                    let (status, fraction) = job_status(&job, &store);
                    let panel = LayoutPanel {
                        request: &job.request,
                        status,
                        fraction,
                        running: job.is_running(),
                        can_3d: store.data.features.dim() >= 3,
                    };
                    let d = draft.0.get_or_insert_with(|| job.request.clone());
                    if let Some(LayoutAction::Run(req)) = layout_ui(ui, &panel, d) {
                        out.run_layout.write(RunLayout(Some(req)));
                    }
                    for w in &job.warnings {
                        ui.colored_label(egui::Color32::YELLOW, w);
                    }
                });
        });

    // Right: neighbours.
    egui::Panel::right("neighbors")
        .exact_size(theme::RIGHT_PANEL_PX)
        .show(&mut root, |ui| {
            let queries = &mut *out.queries;
            let names: Vec<String> = queries
                .markers
                .iter()
                .map(|m| format!("Q{}", m.number))
                .collect();
            let running = match queries.running() {
                0 => None,
                1 => Some("embedding the query image…".to_owned()),
                n => Some(format!("embedding {n} query images…")),
            };
            let query = queries
                .active
                .and_then(|a| queries.markers.get_mut(a))
                .map(|m| {
                    if m.texture.is_none()
                        && let Some(image) = m.image.take()
                    {
                        m.texture = Some(ctx.load_texture(
                            format!("query-{}", m.number),
                            image,
                            egui::TextureOptions::LINEAR,
                        ));
                    }
                    QueryHeader {
                        title: format!(
                            "Q{} · {}",
                            m.number,
                            m.path.file_name().map_or_else(
                                || m.path.display().to_string(),
                                |n| n.to_string_lossy().into_owned()
                            )
                        ),
                        path: m.path.display().to_string(),
                        image: m
                            .texture
                            .as_ref()
                            .map_or(super::thumbs::Thumb::None, super::thumbs::Thumb::of),
                    }
                });
            let panel = NeighborsPanel {
                selected: selection.selected,
                query,
                queries: QueryList {
                    names: &names,
                    active: queries.active,
                    unavailable: queries
                        .encoder
                        .is_none()
                        .then_some(super::query::NEEDS_MODEL),
                    status: running.as_deref().or(queries.error.as_deref()),
                },
                items: &view.items,
                mode: view.mode,
                nside: view.nside,
                groups_available: color.coloring.groups().is_some(),
                graph_pending: store.graph.is_none(),
                metric: store.metric.name(),
            };
            let info = |item: ItemId| item_info(&store, &color, &labels, item);
            let mut thumb = |item: ItemId| thumbs.get(item);
            match neighbors_ui(ui, &panel, &info, &mut thumb) {
                Some(NeighborAction::Select(item)) => {
                    out.select.write(SelectItem {
                        item: Some(item),
                        focus: true,
                    });
                }
                Some(NeighborAction::Label(item)) => {
                    if let Some(name) = labels.active_name() {
                        out.label_items.write(LabelItems {
                            items: vec![item],
                            label: Some(name.to_owned()),
                        });
                    }
                }
                Some(NeighborAction::Mode(m)) => view.mode = m,
                Some(NeighborAction::Nside(n)) => view.nside = n,
                Some(NeighborAction::Shuffle) => view.seed = view.seed.wrapping_add(1),
                Some(NeighborAction::OpenQuery) => {
                    let start = match &store.data.images {
                        Images::Files(f) => f.root.clone(),
                        _ => std::env::current_dir().unwrap_or_default(),
                    };
                    out.browser.open_at(&start);
                }
                Some(NeighborAction::ShowQuery(i)) => {
                    out.query_action.write(QueryAction::Show(i));
                }
                Some(NeighborAction::ClearQueries) => {
                    out.query_action.write(QueryAction::ClearAll);
                }
                None => {}
            }
        });

    // Under the map, at the bottom: the issues panel while open.
    if out.issues.open
        && let Some(action) =
            issues_panel(&mut root, &store, &color, &labels, &out.issues, &mut thumbs)
    {
        use issues::IssuesUiAction as A;
        let message = match action {
            A::Tab(t) => Some(IssueAction::Tab(t)),
            A::Go(r) => Some(IssueAction::Go(r)),
            A::Accept(r) => {
                out.issue_action.write(IssueAction::Go(r));
                Some(IssueAction::Accept)
            }
            A::Dismiss(r) => {
                out.issue_action.write(IssueAction::Go(r));
                Some(IssueAction::Dismiss)
            }
            A::ColorBy => Some(IssueAction::ColorBy(out.issues.tab.score())),
            A::Close => Some(IssueAction::Open(false)),
            A::Select(item) => {
                out.select.write(SelectItem {
                    item: Some(item),
                    focus: true,
                });
                None
            }
        };
        if let Some(m) = message {
            out.issue_action.write(m);
        }
    }

    // Under the map, between the side panels: the selection and what can be done with it. A
    // docked panel, not an overlay: no point hides under it (the view refits while the user
    // has not moved it).
    if out.set.items.is_some() {
        let set = &mut *out.set;
        let by_class = matches!(color.source, ColorSource::Class);
        let classes: Vec<_> = set
            .class_counts(&store.data)
            .iter()
            .map(|c| {
                let colour = by_class.then(|| super::colors::category_color(c.code as usize));
                (c.clone(), colour)
            })
            .collect();
        let strip: Vec<ItemId> = set
            .items
            .iter()
            .flat_map(|items| items.iter().take(super::item_set::STRIP_MAX))
            .map(|&i| ItemId(i))
            .collect();
        let panel = SelectionPanel {
            count: set.len(),
            n_items: store.n_items(),
            origin: set
                .origin
                .as_ref()
                .map(|o| o.describe())
                .unwrap_or_default(),
            hide_others: set.hide_others,
            lasso_labels: set.lasso_labels,
            active_label: labels.active_name(),
            classes: &classes,
            strip: &strip,
            status: set.status.as_deref(),
            details: set.details,
        };
        let title = |item: ItemId| item_info(&store, &color, &labels, item).title;
        let mut thumb = |item: ItemId| thumbs.get(item);
        let action = egui::Panel::bottom("selection")
            .show(&mut root, |ui| selection_ui(ui, &panel, &title, &mut thumb))
            .inner;
        match action {
            Some(SelectionAction::Set(a)) => {
                out.set_action.write(a);
            }
            Some(SelectionAction::HideOthers(on)) => set.hide_others = on,
            Some(SelectionAction::LassoLabels(on)) => set.lasso_labels = on,
            Some(SelectionAction::Details(on)) => set.details = on,
            Some(SelectionAction::Select(item)) => {
                out.select.write(SelectItem {
                    item: Some(item),
                    focus: true,
                });
            }
            None => {}
        }
    }

    // What is left is the plot.
    let free = root.available_rect_before_wrap();
    let rect = Rect::new(free.min.x, free.min.y, free.max.x, free.max.y);
    if central.0 != rect {
        central.0 = rect;
    }

    if store.layout.is_none() {
        let (status, _) = job_status(&job, &store);
        egui::Area::new("waiting".into())
            .fixed_pos(free.center() - egui::vec2(120.0, 10.0))
            .show(&ctx, |ui| {
                ui.label(format!("preparing the map: {status}"));
            });
    }

    // Tooltip for the hovered point.
    if let (Some(item), Some(pointer)) = (selection.hovered, ctx.pointer_hover_pos())
        && free.contains(pointer)
        && !help.0
    {
        let about = item_info(&store, &color, &labels, item);
        egui::Area::new("hover-tooltip".into())
            .order(egui::Order::Tooltip)
            .fixed_pos(pointer + egui::vec2(16.0, 16.0))
            .show(&ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
                    ui.horizontal(|ui| {
                        if let super::thumbs::Thumb::Ready { texture, size } = thumbs.get(item) {
                            let scale = 96.0 / size.x.max(size.y).max(1.0);
                            ui.image((texture, size * scale));
                        }
                        ui.vertical(|ui| {
                            ui.strong(&about.title);
                            for (k, v) in &about.details {
                                ui.label(format!("{k}: {v}"));
                            }
                            if let Some(v) = about
                                .value
                                .filter(|_| !matches!(color.coloring, Coloring::Categorical { .. }))
                            {
                                ui.label(format!("{}: {v}", color.source.label()));
                            }
                        });
                    });
                });
            });
    }

    let unavailable = out
        .queries
        .encoder
        .is_none()
        .then_some(super::query::NEEDS_MODEL);
    if let Some(path) = browser_ui(&ctx, &mut out.browser, unavailable) {
        out.query_image.write(QueryImage(path));
    }

    if help.0 {
        let mut open = true;
        egui::Window::new("Keys and mouse")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(&ctx, |ui| {
                egui::Grid::new("help-keys").striped(true).show(ui, |ui| {
                    for (key, what) in KEYS {
                        ui.strong(*key);
                        ui.label(*what);
                        ui.end_row();
                    }
                });
            });
        help.0 = open;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::metadata::{Column, Metadata};
    use crate::dataset::{Categorical, ClassSource, Classes, Dataset, Features};

    fn data(label_column: &[&str]) -> Dataset {
        let n = label_column.len();
        Dataset {
            name: "t".into(),
            features: Features::new(n, 1, vec![0.0; n], "float32", "t.npy", "t.npy")
                .expect("features"),
            images: Images::None,
            classes: Some(Classes {
                labels: Categorical::from_strings(&["cat", "dog"]),
                source: ClassSource::BuiltIn,
            }),
            metadata: Some(Metadata {
                columns: vec![
                    Column {
                        name: "label".into(),
                        values: ColumnValues::Categorical(Categorical::from_strings(label_column)),
                    },
                    Column {
                        name: "score".into(),
                        values: ColumnValues::Numeric(vec![0.5, 2.0]),
                    },
                ],
            }),
        }
    }

    #[test]
    fn a_label_column_repeating_the_class_is_listed_once() {
        let same = data(&["cat", "dog"]);
        assert_eq!(
            item_details(&same, ItemId(1)),
            vec![
                ("class".to_owned(), "dog".to_owned()),
                ("score".to_owned(), "2".to_owned())
            ]
        );
        // A label column that says something else is kept.
        let other = data(&["cat", "wolf"]);
        assert_eq!(
            item_details(&other, ItemId(1)),
            vec![
                ("class".to_owned(), "dog".to_owned()),
                ("label".to_owned(), "wolf".to_owned()),
                ("score".to_owned(), "2".to_owned())
            ]
        );
    }
}
