//! The selection panel, under the map while a set exists: its size and origin, the
//! class histogram (how much of each class it holds), a strip of its thumbnails, and what can
//! be done with it (label all, invert, hide the rest, export, copy the names, clear).
//!
//! A plain function of plain data ([`selection_ui`]) returning what the user asked for.

use bevy_egui::egui;

use super::neighbors::tile_image;
use super::theme;
use crate::dataset::ItemId;
use crate::viewer::colors::Rgba8;
use crate::viewer::item_set::{ClassCount, SetAction};
use crate::viewer::thumbs::Thumb;

/// Thumbnail side in the strip, logical pixels.
pub const STRIP_TILE_PX: f32 = 64.0;
/// Classes listed in the histogram (the largest shares of the set).
const MAX_CLASSES: usize = 5;

/// Everything the panel shows.
pub struct SelectionPanel<'a> {
    pub count: usize,
    pub n_items: usize,
    pub origin: String,
    pub hide_others: bool,
    pub lasso_labels: bool,
    /// The active label, for "label all".
    pub active_label: Option<&'a str>,
    /// (class, its colour on the map when coloured by class).
    pub classes: &'a [(ClassCount, Option<Rgba8>)],
    /// The first items of the set, for the strip.
    pub strip: &'a [ItemId],
    pub status: Option<&'a str>,
    /// The histogram and the strip are shown (else only the first row).
    pub details: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectionAction {
    Set(SetAction),
    HideOthers(bool),
    LassoLabels(bool),
    /// Show or fold away the histogram and the strip.
    Details(bool),
    /// A strip tile was clicked.
    Select(ItemId),
}

/// The panel; `thumb` gives an item's image (asked only for the tiles in view).
pub fn selection_ui(
    ui: &mut egui::Ui,
    panel: &SelectionPanel<'_>,
    title: &dyn Fn(ItemId) -> String,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<SelectionAction> {
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        let fold = if panel.details { "–" } else { "+" };
        if ui
            .small_button(fold)
            .on_hover_text("show or hide the classes and thumbnails")
            .clicked()
        {
            action = Some(SelectionAction::Details(!panel.details));
        }
        ui.strong(format!(
            "Selection: {} of {} items",
            panel.count, panel.n_items
        ));
        ui.label(egui::RichText::new(&panel.origin).weak());
        if panel.count > panel.strip.len() {
            // Said here: beside the strip it would push the panel past its width.
            ui.label(
                egui::RichText::new(format!("(thumbnails: the first {})", panel.strip.len()))
                    .small()
                    .weak(),
            );
        }
        ui.separator();
        let mut hide = panel.hide_others;
        if ui.checkbox(&mut hide, "hide others").changed() {
            action = Some(SelectionAction::HideOthers(hide));
        }
        let mut lasso = panel.lasso_labels;
        if ui
            .checkbox(&mut lasso, "lasso labels")
            .on_hover_text("Shift+drag also gives the lassoed items the active label; off: it only selects them")
            .changed()
        {
            action = Some(SelectionAction::LassoLabels(lasso));
        }
        ui.separator();
        let any = panel.count > 0;
        if let Some(name) = panel.active_label
            && ui
                .add_enabled(any, egui::Button::new(format!("label all {name}")))
                .on_hover_text("give every selected item the active label (one undo step: Ctrl+Z)")
                .clicked()
        {
            action = Some(SelectionAction::Set(SetAction::LabelAll));
        }
        let buttons = [
            ("invert", "select every other item instead", SetAction::Invert),
            (
                "export CSV",
                "write item, file, class, label and metadata to a new ivt-selection-N.csv",
                SetAction::Export,
            ),
            ("copy names", "copy the file names, one per line", SetAction::CopyNames),
        ];
        for (text, hover, what) in buttons {
            if ui
                .add_enabled(any || what == SetAction::Invert, egui::Button::new(text))
                .on_hover_text(hover)
                .clicked()
            {
                action = Some(SelectionAction::Set(what));
            }
        }
        if ui.button("clear").on_hover_text("no selection").clicked() {
            action = Some(SelectionAction::Set(SetAction::Clear));
        }
        if let Some(status) = panel.status {
            ui.label(egui::RichText::new(status).small());
        }
    });
    if panel.count == 0 {
        ui.label("Nothing selected: the search matched no item.");
        return action;
    }
    if !panel.details {
        return action;
    }
    ui.horizontal(|ui| {
        if !panel.classes.is_empty() {
            ui.vertical(|ui| {
                ui.set_width(theme::SELECTION_CLASSES_PX);
                class_bars(ui, panel);
            });
            ui.separator();
        }
        if let Some(a) = strip(ui, panel, title, thumb) {
            action = Some(a);
        }
    });
    action
}

/// The largest classes of the set: a bar of their share of the set, and how much of each
/// class the set holds.
fn class_bars(ui: &mut egui::Ui, panel: &SelectionPanel<'_>) {
    let total = panel.count.max(1) as f32;
    for (c, color) in panel.classes.iter().take(MAX_CLASSES) {
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(90.0, 12.0), egui::Sense::hover());
            let painter = ui.painter_at(rect);
            painter.rect_filled(rect, 1.0, egui::Color32::from_gray(40));
            let share = c.in_set as f32 / total;
            let fill = color.map_or(theme::ACCENT, theme::rgba8);
            painter.rect_filled(
                egui::Rect::from_min_size(
                    rect.min,
                    egui::vec2(rect.width() * share, rect.height()),
                ),
                1.0,
                fill,
            );
            ui.label(
                egui::RichText::new(format!(
                    "{} {} ({:.0}% of the class)",
                    c.name,
                    c.in_set,
                    100.0 * c.in_set as f32 / c.in_all.max(1) as f32
                ))
                .small(),
            );
        });
    }
    let more = panel.classes.len().saturating_sub(MAX_CLASSES);
    if more > 0 {
        ui.label(
            egui::RichText::new(format!("… {more} more classes"))
                .small()
                .weak(),
        );
    }
}

/// A horizontal strip of the set's first thumbnails; only the tiles in view are asked for.
fn strip(
    ui: &mut egui::Ui,
    panel: &SelectionPanel<'_>,
    title: &dyn Fn(ItemId) -> String,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<SelectionAction> {
    let mut action = None;
    let step = STRIP_TILE_PX + 4.0;
    egui::ScrollArea::horizontal()
        .id_salt("selection-strip")
        .show_viewport(ui, |ui, viewport| {
            let n = panel.strip.len();
            ui.set_width(step * n as f32);
            ui.set_height(STRIP_TILE_PX);
            let first = ((viewport.min.x / step).floor().max(0.0) as usize).min(n);
            let last = ((viewport.max.x / step).ceil() as usize + 1).min(n);
            let origin = ui.min_rect().min;
            for (k, &item) in panel.strip.iter().enumerate().take(last).skip(first) {
                let rect = egui::Rect::from_min_size(
                    origin + egui::vec2(k as f32 * step, 0.0),
                    egui::vec2(STRIP_TILE_PX, STRIP_TILE_PX),
                );
                let response = ui
                    .scope_builder(egui::UiBuilder::new().max_rect(rect), |ui| {
                        tile_image(ui, &thumb(item), STRIP_TILE_PX, [70, 70, 70, 255])
                    })
                    .inner
                    .on_hover_text(title(item));
                if response.clicked() {
                    action = Some(SelectionAction::Select(item));
                }
            }
        });
    action
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(panel: &SelectionPanel<'_>, asked: &mut Vec<ItemId>) {
        let ctx = egui::Context::default();
        for _ in 0..2 {
            let input = egui::RawInput {
                screen_rect: Some(egui::Rect::from_min_size(
                    egui::Pos2::ZERO,
                    egui::vec2(1000.0, 300.0),
                )),
                ..Default::default()
            };
            let mut out = ctx.run_ui(input, |ui| {
                let mut thumb = |item: ItemId| {
                    asked.push(item);
                    Thumb::Loading
                };
                selection_ui(ui, panel, &|i| format!("#{}", i.0), &mut thumb);
            });
            // The font atlas upload would go to a renderer; there is none here.
            out.textures_delta.clear();
        }
    }

    #[test]
    fn the_strip_asks_only_for_the_tiles_in_view() {
        let strip: Vec<ItemId> = (0..500).map(ItemId).collect();
        let classes = [(
            ClassCount {
                code: 0,
                name: "a".into(),
                in_set: 500,
                in_all: 1000,
            },
            None,
        )];
        let panel = SelectionPanel {
            count: 900,
            n_items: 2000,
            origin: "lasso".into(),
            hide_others: false,
            lasso_labels: true,
            active_label: Some("positive"),
            classes: &classes,
            strip: &strip,
            status: None,
            details: true,
        };
        let mut asked = Vec::new();
        run(&panel, &mut asked);
        assert!(!asked.is_empty());
        // 1000 px wide, less the class histogram: about ten 68 px tiles, not 500.
        let max = asked.iter().map(|i| i.0).max().unwrap_or(0);
        assert!(max < 20, "asked up to item {max}");
        assert!(asked.contains(&ItemId(0)));
    }
}
