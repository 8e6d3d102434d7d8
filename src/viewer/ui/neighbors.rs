//! The neighbour panel: the selected image large, then its neighbours in the original space
//! in an `nside × nside` grid with rank, distance and class/colour value.
//!
//! A plain function of plain data ([`neighbors_ui`]) returning what the user asked for; the
//! Bevy system around it turns that into messages.

use bevy_egui::egui;

use super::theme;
use crate::dataset::ItemId;
use crate::viewer::colors::Rgba8;
use crate::viewer::neighbors::{Neighbor, NeighborMode};
use crate::viewer::thumbs::Thumb;

/// What the panel says about one item.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemInfo {
    /// "#123 · shirt_0042.png"
    pub title: String,
    /// Class / cluster / metadata value it is coloured by…
    pub value: Option<String>,
    /// …and what that colouring is called ("score", "compare: neighbours changed").
    pub value_name: String,
    pub color: Rgba8,
    /// Further (name, value) pairs: class, metadata columns.
    pub details: Vec<(String, String)>,
    /// The item's label and its colour, if it has one.
    pub label: Option<(String, Rgba8)>,
}

/// A query image at the top of the panel instead of a selected item.
pub struct QueryHeader {
    /// "Q1 · photo.jpg"
    pub title: String,
    /// Its full path, on hover.
    pub path: String,
    pub image: Thumb,
}

/// The query images made so far, and whether more can be made.
#[derive(Default)]
pub struct QueryList<'a> {
    /// "Q1", "Q2", … in order.
    pub names: &'a [String],
    /// Index of the one shown.
    pub active: Option<usize>,
    /// Without an encoder, why not (the button explains).
    pub unavailable: Option<&'a str>,
    /// The last failure, or "embedding 1 image…".
    pub status: Option<&'a str>,
}

/// Everything the panel shows.
pub struct NeighborsPanel<'a> {
    pub selected: Option<ItemId>,
    /// Shown instead of `selected` (the grid then lists the query's neighbours).
    pub query: Option<QueryHeader>,
    pub queries: QueryList<'a>,
    pub items: &'a [Neighbor],
    pub mode: NeighborMode,
    pub nside: usize,
    /// Whether group modes can work (a categorical colouring or clusters).
    pub groups_available: bool,
    /// The kNN graph is still being computed (the grid falls back to a scan meanwhile).
    pub graph_pending: bool,
    pub metric: &'static str,
    /// `--compare`: the selected item's nearest neighbours in the second embedding.
    pub other: Option<OtherSpace<'a>>,
}

/// The selected item's neighbours in a second embedding (`--compare B`).
pub struct OtherSpace<'a> {
    /// What B is called.
    pub name: &'a str,
    /// Nearest first, each with whether it is among the item's as many nearest in A too.
    pub items: Vec<(ItemId, bool)>,
}

/// Side of the second embedding's tiles: a strip above the grid, not a second grid.
const OTHER_TILE_PX: f32 = 40.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum NeighborAction {
    Select(ItemId),
    /// Ctrl+click: give the item the active label.
    Label(ItemId),
    Mode(NeighborMode),
    Nside(usize),
    Shuffle,
    /// "query image…": open the file browser.
    OpenQuery,
    /// Show this query's neighbours (index in the list).
    ShowQuery(usize),
    ClearQueries,
}

/// Draw an item's image (or a placeholder) at `side` × `side`, clickable.
pub(super) fn tile_image(
    ui: &mut egui::Ui,
    thumb: &Thumb,
    side: f32,
    frame: Rgba8,
) -> egui::Response {
    let size = egui::vec2(side, side);
    let (rect, response) = ui.allocate_exact_size(size, egui::Sense::click());
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 2.0, theme::rgba8(frame));
    let inner = rect.shrink(theme::TILE_FRAME_PX);
    match thumb {
        Thumb::Ready { texture, size } => {
            // Keep the aspect ratio inside the square.
            let aspect = size.x / size.y.max(1.0);
            let fit = if aspect >= 1.0 {
                egui::vec2(inner.width(), inner.height() / aspect)
            } else {
                egui::vec2(inner.width() * aspect, inner.height())
            };
            let img_rect = egui::Rect::from_center_size(inner.center(), fit);
            painter.rect_filled(inner, 0.0, egui::Color32::BLACK);
            painter.image(
                *texture,
                img_rect,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                egui::Color32::WHITE,
            );
        }
        Thumb::Loading => {
            painter.rect_filled(inner, 0.0, egui::Color32::from_gray(30));
        }
        Thumb::Failed(_) | Thumb::None => {
            painter.rect_filled(inner, 0.0, egui::Color32::from_gray(45));
            painter.text(
                inner.center(),
                egui::Align2::CENTER_CENTER,
                if matches!(thumb, Thumb::None) {
                    "no image"
                } else {
                    "unreadable"
                },
                egui::FontId::proportional(10.0),
                egui::Color32::from_gray(160),
            );
        }
    }
    if let Thumb::Failed(why) = thumb {
        response.clone().on_hover_text(why)
    } else {
        response
    }
}

/// The panel. `info` describes an item; `thumb` gives its image.
pub fn neighbors_ui(
    ui: &mut egui::Ui,
    panel: &NeighborsPanel<'_>,
    info: &dyn Fn(ItemId) -> ItemInfo,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<NeighborAction> {
    let mut action = query_bar(ui, &panel.queries);
    if let Some(query) = &panel.query {
        ui.horizontal(|ui| {
            tile_image(ui, &query.image, theme::SELECTED_IMAGE_PX, QUERY_FRAME)
                .on_hover_text(&query.path);
            ui.vertical(|ui| {
                ui.strong(&query.title);
                ui.label("query image, embedded by --model");
                ui.weak("on the map at the weighted mean of its nearest items' positions");
            });
        });
        ui.separator();
        ui.horizontal(|ui| {
            ui.label("nearest items in the original space");
            let mut nside = panel.nside;
            ui.add(egui::Slider::new(&mut nside, 1..=8).text("grid"));
            if nside != panel.nside {
                action = Some(NeighborAction::Nside(nside));
            }
        });
        if let Some(a) = grid(ui, panel, info, thumb) {
            action = Some(a);
        }
        return action;
    }
    let Some(selected) = panel.selected else {
        ui.label("Click a point to see its image and its nearest neighbours in the original feature space.");
        return action;
    };
    let me = info(selected);
    ui.horizontal(|ui| {
        tile_image(ui, &thumb(selected), theme::SELECTED_IMAGE_PX, me.color);
        ui.vertical(|ui| {
            ui.strong(&me.title);
            // Named, unless a detail line already says it (the class, a metadata column).
            if let Some(v) = &me.value
                && !me.details.iter().any(|(k, _)| *k == me.value_name)
            {
                ui.label(format!("{}: {v}", me.value_name));
            }
            for (k, v) in &me.details {
                ui.label(format!("{k}: {v}"));
            }
            match &me.label {
                Some((label, color)) => {
                    ui.colored_label(theme::rgba8(*color), format!("label: {label}"));
                }
                None => {
                    ui.weak("unlabelled (keys 1–9)");
                }
            }
        });
    });
    ui.separator();
    ui.horizontal(|ui| {
        let mut mode = panel.mode;
        egui::ComboBox::from_id_salt("neighbor-mode")
            .selected_text(mode.label())
            .show_ui(ui, |ui| {
                for m in NeighborMode::ALL {
                    let enabled = !m.needs_groups() || panel.groups_available;
                    ui.add_enabled_ui(enabled, |ui| {
                        ui.selectable_value(&mut mode, m, m.label())
                            .on_disabled_hover_text(
                                "needs a grouping: colour by class or a categorical column",
                            );
                    });
                }
            });
        if mode != panel.mode {
            action = Some(NeighborAction::Mode(mode));
        }
        let mut nside = panel.nside;
        ui.add(egui::Slider::new(&mut nside, 1..=8).text("grid"));
        if nside != panel.nside {
            action = Some(NeighborAction::Nside(nside));
        }
        if panel.mode == NeighborMode::RandomInGroup && ui.button("shuffle").clicked() {
            action = Some(NeighborAction::Shuffle);
        }
    });
    if panel.graph_pending && panel.mode == NeighborMode::Nearest {
        ui.small("(kNN graph still computing: neighbours by a full scan)");
    }
    if let Some(other) = &panel.other
        && let Some(a) = other_strip(ui, other, thumb)
    {
        action = Some(a);
    }
    if let Some(a) = grid(ui, panel, info, thumb) {
        action = Some(a);
    }
    action
}

/// The selected item's nearest in B: framed green where A has them among as many nearest too,
/// red where B brings them in; a click selects.
fn other_strip(
    ui: &mut egui::Ui,
    other: &OtherSpace<'_>,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<NeighborAction> {
    let mut action = None;
    let shared = other.items.iter().filter(|(_, s)| *s).count();
    ui.label(format!(
        "its {} nearest in {}: {shared} nearest in A too (green), {} new (red)",
        other.items.len(),
        other.name,
        other.items.len() - shared
    ));
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing = egui::vec2(3.0, 3.0);
        for &(item, in_a) in &other.items {
            let frame = if in_a {
                theme::KEPT_COLOR
            } else {
                theme::TORN_COLOR
            };
            if tile_image(ui, &thumb(item), OTHER_TILE_PX, frame).clicked() {
                action = Some(NeighborAction::Select(item));
            }
        }
    });
    ui.separator();
    action
}

/// The heading, the "query image…" button and the query markers made so far.
fn query_bar(ui: &mut egui::Ui, queries: &QueryList<'_>) -> Option<NeighborAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.heading("Neighbours");
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            let hover = queries
                .unavailable
                .unwrap_or("find the items nearest to an image file (or drop one on the window)");
            if ui.button("query image…").on_hover_text(hover).clicked() {
                action = Some(NeighborAction::OpenQuery);
            }
        });
    });
    if !queries.names.is_empty() {
        ui.horizontal_wrapped(|ui| {
            for (i, name) in queries.names.iter().enumerate() {
                if ui
                    .selectable_label(queries.active == Some(i), name)
                    .on_hover_text("show this query's neighbours")
                    .clicked()
                {
                    action = Some(NeighborAction::ShowQuery(i));
                }
            }
            if ui.small_button("clear queries").clicked() {
                action = Some(NeighborAction::ClearQueries);
            }
        });
    }
    if let Some(status) = queries.status {
        ui.colored_label(egui::Color32::from_rgb(240, 180, 90), status);
    }
    action
}

/// The marker's colour on the map and the query image's frame in the panel: cyan, apart from
/// the selection's magenta and the neighbours' white rings.
pub const QUERY_FRAME: Rgba8 = [0, 220, 255, 255];

/// The `nside`-wide grid of `panel.items`.
fn grid(
    ui: &mut egui::Ui,
    panel: &NeighborsPanel<'_>,
    info: &dyn Fn(ItemId) -> ItemInfo,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<NeighborAction> {
    let mut action = None;
    if panel.items.is_empty() {
        ui.label("No neighbours to show in this mode.");
        return None;
    }
    let spacing = 4.0;
    let cols = panel.nside.max(1);
    // Room for the scroll bar, so the last column is never cut.
    let width = ui.available_width() - 16.0;
    let side = ((width - spacing * (cols as f32 - 1.0)) / cols as f32).clamp(24.0, 160.0);
    egui::ScrollArea::vertical().show(ui, |ui| {
        egui::Grid::new("neighbor-grid")
            .spacing([spacing, spacing])
            .show(ui, |ui| {
                for (rank, n) in panel.items.iter().enumerate() {
                    let about = info(n.item);
                    ui.vertical(|ui| {
                        let r = tile_image(ui, &thumb(n.item), side, about.color);
                        let value = about.value.as_deref().unwrap_or("");
                        ui.add_sized(
                            [side, 12.0],
                            egui::Label::new(
                                egui::RichText::new(format!("{} · {:.3}", rank + 1, n.distance))
                                    .small(),
                            )
                            .truncate(),
                        );
                        if !value.is_empty() {
                            ui.add_sized(
                                [side, 12.0],
                                egui::Label::new(egui::RichText::new(value).small().weak())
                                    .truncate(),
                            );
                        }
                        let r = r.on_hover_text(format!(
                            "{}\nrank {} · {} distance {:.4}{}",
                            about.title,
                            rank + 1,
                            panel.metric,
                            n.distance,
                            about.value.map(|v| format!("\n{v}")).unwrap_or_default()
                        ));
                        if let Some((label, color)) = &about.label {
                            ui.add_sized(
                                [side, 12.0],
                                egui::Label::new(
                                    egui::RichText::new(format!("label: {label}"))
                                        .small()
                                        .color(theme::rgba8(*color)),
                                )
                                .truncate(),
                            );
                        }
                        if r.clicked() {
                            let ctrl = ui.input(|i| i.modifiers.command);
                            action = Some(if ctrl {
                                NeighborAction::Label(n.item)
                            } else {
                                NeighborAction::Select(n.item)
                            });
                        }
                    });
                    if (rank + 1) % cols == 0 {
                        ui.end_row();
                    }
                }
            });
    });
    action
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(item: ItemId) -> ItemInfo {
        ItemInfo {
            title: format!("#{}", item.0),
            value: Some("class".into()),
            value_name: "class".into(),
            color: [255, 0, 0, 255],
            details: vec![],
            label: None,
        }
    }

    fn run(
        panel: &NeighborsPanel<'_>,
        click: Option<egui::Pos2>,
    ) -> (Option<NeighborAction>, Vec<ItemId>) {
        let ctx = egui::Context::default();
        let mut action = None;
        let mut asked = Vec::new();
        let mut frame = |events: Vec<egui::Event>| {
            let input = egui::RawInput {
                screen_rect: Some(egui::Rect::from_min_size(
                    egui::Pos2::ZERO,
                    egui::vec2(430.0, 900.0),
                )),
                events,
                ..Default::default()
            };
            let mut out = ctx.run_ui(input, |ui| {
                let mut seen = |item: ItemId| {
                    if !asked.contains(&item) {
                        asked.push(item);
                    }
                    Thumb::Loading
                };
                if let Some(a) = neighbors_ui(ui, panel, &info, &mut seen) {
                    action = Some(a);
                }
            });
            // The font atlas upload would go to a renderer; there is none here.
            out.textures_delta.clear();
        };
        frame(vec![]);
        if let Some(pos) = click {
            frame(vec![egui::Event::PointerMoved(pos)]);
            frame(vec![egui::Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed: true,
                modifiers: egui::Modifiers::NONE,
            }]);
            frame(vec![egui::Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed: false,
                modifiers: egui::Modifiers::NONE,
            }]);
        }
        (action, asked)
    }

    #[test]
    fn without_a_selection_the_panel_explains_and_asks_nothing() {
        let panel = NeighborsPanel {
            selected: None,
            items: &[],
            mode: NeighborMode::Nearest,
            nside: 4,
            groups_available: false,
            graph_pending: false,
            metric: "euclidean",
            other: None,
            query: None,
            queries: QueryList::default(),
        };
        assert_eq!(run(&panel, None).0, None);
    }

    /// Items 1–4 as item 0's neighbours, at distances 1–4.
    fn four() -> Vec<Neighbor> {
        (1..=4)
            .map(|i| Neighbor {
                item: ItemId(i),
                distance: i as f32,
            })
            .collect()
    }

    /// Item 0 selected with `items` in a 2 × 2 grid.
    fn selected_with<'a>(
        items: &'a [Neighbor],
        other: Option<OtherSpace<'a>>,
    ) -> NeighborsPanel<'a> {
        NeighborsPanel {
            selected: Some(ItemId(0)),
            items,
            mode: NeighborMode::Nearest,
            nside: 2,
            groups_available: true,
            graph_pending: false,
            metric: "euclidean",
            other,
            query: None,
            queries: QueryList::default(),
        }
    }

    #[test]
    fn every_tile_asks_for_its_image_and_a_click_selects_it() {
        let items = four();
        let panel = selected_with(&items, None);
        let (action, asked) = run(&panel, None);
        assert_eq!(action, None);
        // The selected image first, then the tiles in rank order.
        assert_eq!(asked, [0, 1, 2, 3, 4].map(ItemId));
        // Scanning down the left column, the first tile hit is rank 1 (item 1), then rank 3.
        let hits: Vec<NeighborAction> = (200..900)
            .step_by(10)
            .filter_map(|y| run(&panel, Some(egui::pos2(40.0, y as f32))).0)
            .collect();
        let selected: Vec<NeighborAction> = hits
            .into_iter()
            .filter(|a| matches!(a, NeighborAction::Select(_)))
            .fold(Vec::new(), |mut v, a| {
                if v.last() != Some(&a) {
                    v.push(a);
                }
                v
            });
        assert_eq!(
            selected,
            [
                NeighborAction::Select(ItemId(1)),
                NeighborAction::Select(ItemId(3))
            ]
        );
    }

    #[test]
    fn the_second_embedding_shows_its_nearest_above_the_grid_and_a_click_selects() {
        let items = four();
        let panel = selected_with(
            &items,
            Some(OtherSpace {
                name: "B",
                items: vec![(ItemId(7), false), (ItemId(1), true)],
            }),
        );
        let (action, asked) = run(&panel, None);
        assert_eq!(action, None);
        // The selected image, B's strip, then A's grid (each image asked for once).
        assert_eq!(asked, [0, 7, 1, 2, 3, 4].map(ItemId));
        // A click on the strip's first tile (left edge, under the selected image) selects 7.
        let first: Option<NeighborAction> = (150..600)
            .step_by(4)
            .find_map(|y| run(&panel, Some(egui::pos2(15.0, y as f32))).0);
        assert_eq!(first, Some(NeighborAction::Select(ItemId(7))));
    }
}
