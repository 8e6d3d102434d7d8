//! egui panels: top bar, colouring and layout (left), neighbours (right), the issues and the
//! selection, the changed-most list and the "label next" panel (under the map), tooltip,
//! help.
//!
//! Each panel is its own system in its own file, run in order in one egui pass: a thin system
//! gathers a view struct from the ECS, calls the panel's pure `*_ui` function, and turns the
//! returned action into messages or resource edits. The panels share one root [`egui::Ui`]
//! (`root.rs`), so each takes its edge of what the ones before it left; the area left
//! free is published as [`CentralRect`] for the cameras.

pub mod browser;
pub mod changed;
pub mod controls;
pub mod help;
pub mod issues;
mod issues_panel;
mod item_info;
mod label_next;
mod left_panel;
pub mod neighbors;
mod neighbors_panel;
mod plot_area;
mod root;
pub mod selection;
mod selection_panel;
pub mod theme;
mod top_bar;

use bevy::camera::CameraOutputMode;
use bevy::camera::visibility::RenderLayers;
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy::render::render_resource::BlendState;
use bevy_egui::input::egui_wants_any_keyboard_input;
use bevy_egui::{
    EguiContexts, EguiGlobalSettings, EguiPlugin, EguiPrimaryContextPass, PrimaryEguiContext, egui,
};

use super::camera::CentralRect;
use super::issues::Issues;
use super::item_set::ItemSet;
use super::query::{Queries, QueryAction};
use super::state::Store;
use crate::dataset::ItemId;
use browser::FileBrowser;
use help::{HelpOpen, toggle_help};
use left_panel::LayoutDraft;
use root::{PanelRoot, begin_panels};

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
            .init_resource::<PanelRoot>()
            .add_systems(
                EguiPrimaryContextPass,
                (
                    apply_theme,
                    begin_panels,
                    top_bar::top_bar_panel,
                    left_panel::controls_panel,
                    neighbors_panel::neighbors_panel,
                    issues_panel::issues_panel,
                    changed::changed_panel,
                    label_next::label_next_panel,
                    selection_panel::selection_panel,
                    plot_area::plot_area,
                    query_markers,
                    fidelity_lines,
                    split_overlay,
                )
                    .chain(),
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
        // Within the camera's own area (the split view's left half: these are A's).
        let area = camera.logical_viewport_rect().unwrap_or(central.0);
        let Some(at) = marker
            .position(layout)
            .and_then(|p| camera.world_to_viewport(global, p).ok())
            .filter(|p| area.contains(*p))
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
                map_label(painter, format!("Q{}", marker.number), |size| {
                    c + egui::vec2(r + 4.0, -size.y / 2.0)
                });
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
    // The camera's own area: the split view's left half shows A's map, whose lines these are.
    let area = camera.logical_viewport_rect().unwrap_or(central.0);
    let clip = egui::Rect::from_min_max(
        egui::pos2(area.min.x, area.min.y),
        egui::pos2(area.max.x, area.max.y),
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

/// The split view: a line between the halves, each half's name in its top-left corner, and the
/// hovered item ringed on both maps (so pointing at an item in one half shows it in the other).
fn split_overlay(
    mut contexts: EguiContexts,
    store: Res<Store>,
    selection: Res<super::state::Selection>,
    settings: Res<super::camera::ViewSettings>,
    compare: Option<Res<super::compare::CompareView>>,
    cameras: Query<
        (&Camera, &GlobalTransform, &super::state::MapSide),
        super::camera::SplitCameras,
    >,
) -> Result {
    let Some(compare) = compare else {
        return Ok(());
    };
    if !settings.split_shown(&store) {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Middle,
        egui::Id::new("split-captions"),
    ));
    for (camera, global, side) in cameras.iter().filter(|(c, ..)| c.is_active) {
        let Some(r) = camera.logical_viewport_rect() else {
            continue;
        };
        if let (Some(item), (Some(layout), _)) = (selection.hovered, store.side(*side))
            && item.index() < layout.n_items()
            && let Ok(at) =
                camera.world_to_viewport(global, store.drawn_position(*side, layout, item))
            && r.contains(at)
        {
            let at = egui::pos2(at.x, at.y);
            painter.circle_stroke(at, 10.0, egui::Stroke::new(3.0, egui::Color32::BLACK));
            painter.circle_stroke(at, 10.0, egui::Stroke::new(1.5, HOVER_RING));
        }
        let name = match side {
            super::state::MapSide::A => format!("A · {}", store.data.name),
            super::state::MapSide::B => {
                painter.line_segment(
                    [
                        egui::pos2(r.min.x - 1.0, r.min.y),
                        egui::pos2(r.min.x - 1.0, r.max.y),
                    ],
                    egui::Stroke::new(super::camera::SPLIT_GAP_PX, egui::Color32::from_gray(150)),
                );
                format!("B · {}", compare.name)
            }
        };
        map_label(&painter, name, |_| egui::pos2(r.min.x + 8.0, r.min.y + 6.0));
    }
    Ok(())
}

/// White text on a dark box over the map (a query marker's number, a split half's name), its
/// top-left corner where `place` puts it given the text's size.
fn map_label(painter: &egui::Painter, text: String, place: impl FnOnce(egui::Vec2) -> egui::Pos2) {
    let font = egui::FontId::proportional(13.0);
    let galley = painter.layout_no_wrap(text, font, egui::Color32::WHITE);
    let at = place(galley.size());
    painter.rect_filled(
        egui::Rect::from_min_size(at, galley.size()).expand(2.0),
        3.0,
        egui::Color32::from_black_alpha(180),
    );
    painter.galley(at, galley, egui::Color32::WHITE);
}

/// The hovered item's ring in the split view.
const HOVER_RING: egui::Color32 = egui::Color32::from_rgb(255, 230, 80);

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
            // After the plot cameras: A's (0) and the split view's B (1).
            order: 2,
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

fn apply_theme(mut contexts: EguiContexts, mut done: Local<bool>) -> Result {
    if !*done {
        theme::apply(contexts.ctx_mut()?);
        *done = true;
    }
    Ok(())
}
