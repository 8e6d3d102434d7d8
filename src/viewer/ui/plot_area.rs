//! What the panels leave free is the plot: published for the cameras, with what is drawn over
//! it — the "preparing the map" line, the hovered point's tooltip, the file browser for query
//! images and the help window. Last of the panels: it ends the pass's root.

use bevy::prelude::*;
use bevy_egui::egui;

use super::browser::{FileBrowser, browser_ui};
use super::help::{HelpOpen, help_window};
use super::item_info::item_info;
use super::neighbors::ItemInfo;
use super::root::PanelRoot;
use crate::dataset::ItemId;
use crate::viewer::camera::CentralRect;
use crate::viewer::colors::Coloring;
use crate::viewer::labels::Labels;
use crate::viewer::layout_job::LayoutJob;
use crate::viewer::query::{Queries, QueryImage};
use crate::viewer::state::{ColorState, Selection, Store};
use crate::viewer::thumbs::{Thumb, Thumbs};

/// The plot's rect, and what is drawn over it.
#[allow(clippy::too_many_arguments)]
pub(super) fn plot_area(
    mut root: ResMut<PanelRoot>,
    mut central: ResMut<CentralRect>,
    store: Res<Store>,
    job: Res<LayoutJob>,
    selection: Res<Selection>,
    color: Res<ColorState>,
    labels: Res<Labels>,
    mut thumbs: ResMut<Thumbs>,
    mut help: ResMut<HelpOpen>,
    queries: Res<Queries>,
    mut browser: ResMut<FileBrowser>,
    mut query_image: MessageWriter<QueryImage>,
) {
    let Some(root) = root.0.take() else {
        return;
    };
    let ctx = root.ctx().clone();
    // What is left is the plot.
    let free = root.available_rect_before_wrap();
    let rect = Rect::new(free.min.x, free.min.y, free.max.x, free.max.y);
    if central.0 != rect {
        central.0 = rect;
    }

    if store.layout.is_none() {
        let (status, _) = job.status(&store);
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
        hover_tooltip(&ctx, pointer, item, &about, &mut thumbs, &color);
    }

    let unavailable = queries
        .encoder
        .is_none()
        .then_some(crate::viewer::query::NEEDS_MODEL.as_str());
    if let Some(path) = browser_ui(&ctx, &mut browser, unavailable) {
        query_image.write(QueryImage(path));
    }

    if help.0 {
        help.0 = help_window(&ctx);
    }
    // The root is dropped last, after everything drawn over the plot, as when it was one system.
    drop(root);
}

/// The hovered point's image, title, details and value, beside the pointer.
fn hover_tooltip(
    ctx: &egui::Context,
    pointer: egui::Pos2,
    item: ItemId,
    about: &ItemInfo,
    thumbs: &mut Thumbs,
    color: &ColorState,
) {
    egui::Area::new("hover-tooltip".into())
        .order(egui::Order::Tooltip)
        .fixed_pos(pointer + egui::vec2(16.0, 16.0))
        .show(ctx, |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
                ui.horizontal(|ui| {
                    if let Thumb::Ready { texture, size } = thumbs.get(item) {
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
                            .as_ref()
                            .filter(|_| !matches!(color.coloring, Coloring::Categorical { .. }))
                        {
                            ui.label(format!("{}: {v}", color.source.label()));
                        }
                    });
                });
            });
        });
}
