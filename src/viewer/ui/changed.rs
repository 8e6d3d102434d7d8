//! The "changed most" list under the map (`--compare B`, key `C`): the items whose
//! neighbourhoods changed most between the two embeddings, fewest neighbours kept first, in the
//! issues panel's style — each row the item's thumbnail, its overlap and rank, what its
//! neighbours' majority says in A and in B, and its nearest in A above its nearest in B, the
//! shared ones framed green; one class at a time if asked.
//!
//! [`changed_rows`] and [`describe`] are plain data, tested without a window; the system only
//! gathers them and draws.

use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::egui;

use super::issues::{ROW_IMAGE_PX, class_frame, class_name, class_of, item_title};
use super::neighbors::tile_image;
use super::root::PanelRoot;
use super::theme;
use crate::dataset::{Dataset, ItemId};
use crate::knn::KnnGraph;
use crate::metrics::compare::{ClassChange, Comparison};
use crate::viewer::colors::Rgba8;
use crate::viewer::compare::CompareView;
use crate::viewer::filters::grouped;
use crate::viewer::state::{SelectItem, Store};
use crate::viewer::thumbs::{Thumb, Thumbs};

/// A neighbour's tile in a row: small, two strips of k.
const TILE_PX: f32 = 30.0;
/// Text column beside the thumbnail.
const TEXT_PX: f32 = 300.0;
/// Frame of a neighbour in A that B no longer has.
const LOST_COLOR: Rgba8 = [95, 95, 95, 255];

/// The items listed: the comparison's order (fewest neighbours kept first), of one class or
/// of all.
pub fn changed_rows(
    comparison: &Comparison,
    codes: Option<&[u32]>,
    class: Option<u32>,
) -> Vec<u32> {
    match (class, codes) {
        (Some(c), Some(codes)) => comparison
            .order
            .iter()
            .copied()
            .filter(|&i| codes.get(i as usize) == Some(&c))
            .collect(),
        _ => comparison.order.clone(),
    }
}

/// One neighbour tile: the item, its frame, whether both spaces have it.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighbourTile {
    pub item: ItemId,
    pub frame: Rgba8,
    pub shared: bool,
}

/// One listed item, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedRow {
    pub item: ItemId,
    pub frame: Rgba8,
    pub title: String,
    pub lines: Vec<String>,
    /// Its k nearest in A, nearest first: shared green, the ones B lost grey.
    pub a: Vec<NeighbourTile>,
    /// Its k nearest in B: shared green, the new ones red (as in the neighbour panel).
    pub b: Vec<NeighbourTile>,
}

/// What a row is described from.
pub struct ChangedContext<'a> {
    pub data: &'a Dataset,
    pub comparison: &'a Comparison,
    pub graph_a: &'a KnnGraph,
    pub graph_b: &'a KnnGraph,
}

/// The row of `item`.
pub fn describe(ctx: &ChangedContext<'_>, item: u32) -> Option<ChangedRow> {
    let c = ctx.comparison;
    let i = item as usize;
    let k = c.k;
    if i >= c.n_items() || i >= ctx.graph_a.n_items() || i >= ctx.graph_b.n_items() {
        return None;
    }
    let near_a = ctx.graph_a.neighbors(i).get(..k)?;
    let near_b = ctx.graph_b.neighbors(i).get(..k)?;
    let tiles = |near: &[u32], other: &[u32], alone: Rgba8| -> Vec<NeighbourTile> {
        near.iter()
            .map(|&j| {
                let shared = other.contains(&j);
                NeighbourTile {
                    item: ItemId(j),
                    frame: if shared { theme::KEPT_COLOR } else { alone },
                    shared,
                }
            })
            .collect()
    };
    let (a, b) = (
        tiles(near_a, near_b, LOST_COLOR),
        tiles(near_b, near_a, theme::TORN_COLOR),
    );
    let overlap = c.overlap[i];
    let kept = a.iter().filter(|t| t.shared).count();
    let mut lines = vec![format!(
        "overlap {overlap:.2}: {kept} of its {k} nearest kept · #{} of {} changed most",
        grouped(c.rank[i] as usize),
        grouped(c.n_items())
    )];
    if let (Some((votes_a, votes_b)), Some((own, _))) = (&c.votes, class_of(ctx.data, item)) {
        let name =
            |code: u32| class_name(ctx.data, code).map_or_else(|| code.to_string(), str::to_owned);
        let mark = |code: u32| if code == own { "right" } else { "wrong" };
        let (va, vb) = (votes_a[i], votes_b[i]);
        lines.push(format!(
            "its neighbours say: {} ({}) in A, {} ({}) in B",
            name(va),
            mark(va),
            name(vb),
            mark(vb)
        ));
    }
    Some(ChangedRow {
        item: ItemId(item),
        frame: class_frame(ctx.data, item),
        title: item_title(ctx.data, item),
        lines,
        a,
        b,
    })
}

/// The class filter's entries, most changed class first.
fn class_entries(data: &Dataset, comparison: &Comparison) -> Vec<(u32, String)> {
    let Some(classes) = &data.classes else {
        return Vec::new();
    };
    let mut per: Vec<ClassChange> = comparison.summary(Some(&classes.labels.codes)).classes;
    per.retain(|c| c.items > 0);
    per.sort_by(|p, q| p.mean_overlap.total_cmp(&q.mean_overlap));
    per.iter()
        .map(|c| {
            let name = class_name(data, c.class).map_or_else(|| c.class.to_string(), str::to_owned);
            (
                c.class,
                format!(
                    "{name} · mean overlap {:.2} · {} items",
                    c.mean_overlap,
                    grouped(c.items)
                ),
            )
        })
        .collect()
}

/// What the list was built for, and what it holds.
#[derive(Default)]
pub(super) struct ListCache {
    key: Option<(usize, Option<u32>)>,
    rows: Vec<u32>,
    classes: Vec<(u32, String)>,
}

/// What the user did in the panel.
enum ChangedAction {
    Select(ItemId),
    Class(Option<u32>),
    Close,
}

/// The list, after the issues panel: it takes the bottom of what is left.
pub(super) fn changed_panel(
    mut root: ResMut<PanelRoot>,
    store: Res<Store>,
    compare: Option<ResMut<CompareView>>,
    mut thumbs: ResMut<Thumbs>,
    mut select: MessageWriter<SelectItem>,
    mut cache: Local<ListCache>,
) {
    let (Some(root), Some(mut compare)) = (root.0.as_mut(), compare) else {
        return;
    };
    if !compare.list.open {
        return;
    }
    let result = compare.result().cloned();
    let class = compare.list.class;
    if let Some(r) = &result {
        let key = (Arc::as_ptr(&r.comparison) as usize, class);
        if cache.key != Some(key) {
            let codes = store
                .data
                .classes
                .as_ref()
                .map(|c| c.labels.codes.as_slice());
            if cache.key.map(|k| k.0) != Some(key.0) {
                cache.classes = class_entries(&store.data, &r.comparison);
            }
            cache.rows = changed_rows(&r.comparison, codes, class);
            cache.key = Some(key);
        }
    }
    let ctx = match (&result, store.graph.as_deref()) {
        (Some(r), Some(graph_a)) => Some(ChangedContext {
            data: &store.data,
            comparison: &r.comparison,
            graph_a,
            graph_b: &r.graph_b,
        }),
        _ => None,
    };
    let status = compare.status();
    let name = compare.name.clone();
    let mut thumb = |item: ItemId| thumbs.get(item);
    let action = egui::Panel::bottom("changed-most")
        .resizable(true)
        .default_size(theme::ISSUES_PANEL_PX)
        .min_size(120.0)
        .show(root, |ui| {
            changed_ui(
                ui,
                &ListView {
                    ctx: ctx.as_ref(),
                    rows: &cache.rows,
                    classes: &cache.classes,
                    class,
                    status: &status,
                    name: &name,
                },
                &mut thumb,
            )
        })
        .inner;
    match action {
        Some(ChangedAction::Select(item)) => {
            select.write(SelectItem {
                item: Some(item),
                focus: true,
            });
        }
        Some(ChangedAction::Class(c)) => compare.list.class = c,
        Some(ChangedAction::Close) => compare.list.open = false,
        None => {}
    }
}

/// Everything the list shows.
struct ListView<'a> {
    ctx: Option<&'a ChangedContext<'a>>,
    rows: &'a [u32],
    classes: &'a [(u32, String)],
    class: Option<u32>,
    status: &'a str,
    name: &'a str,
}

fn changed_ui(
    ui: &mut egui::Ui,
    view: &ListView<'_>,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<ChangedAction> {
    let mut action = None;
    // Fill the panel: egui sizes a panel by its content (see the issues panel).
    ui.set_min_height(ui.available_height());
    ui.horizontal(|ui| {
        ui.strong(format!("Changed most · A and {}", view.name));
        if !view.classes.is_empty() {
            let shown = view
                .class
                .and_then(|c| view.classes.iter().find(|(code, _)| *code == c))
                .map_or("all classes", |(_, text)| text.as_str());
            egui::ComboBox::from_id_salt("changed-class")
                .selected_text(shown)
                .width(220.0)
                .show_ui(ui, |ui| {
                    if ui
                        .selectable_label(view.class.is_none(), "all classes")
                        .clicked()
                    {
                        action = Some(ChangedAction::Class(None));
                    }
                    for (code, text) in view.classes {
                        if ui
                            .selectable_label(view.class == Some(*code), text)
                            .clicked()
                        {
                            action = Some(ChangedAction::Class(Some(*code)));
                        }
                    }
                })
                .response
                .on_hover_text("one class at a time: classes listed most changed first");
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.small_button("close (C)").clicked() {
                action = Some(ChangedAction::Close);
            }
            ui.add(egui::Label::new(egui::RichText::new(view.status).small().weak()).truncate());
        });
    });
    let Some(ctx) = view.ctx else {
        ui.label("Comparing the two embeddings…");
        return action;
    };
    ui.label(
        egui::RichText::new(
            "fewest neighbours kept first · each row: its nearest in A (top) and in B (below), \
             green in both, grey lost in B, red new in B · click an image to select it",
        )
        .small()
        .weak(),
    );
    let row_px = ROW_IMAGE_PX + 10.0;
    egui::ScrollArea::vertical()
        .id_salt(("changed-rows", view.class))
        .auto_shrink([false, false])
        .show_rows(ui, row_px, view.rows.len(), |ui, range| {
            for r in range {
                let Some(row) = describe(ctx, view.rows[r]) else {
                    continue;
                };
                if let Some(a) = row_ui(ui, &row, row_px, ctx.data, thumb) {
                    action = Some(a);
                }
            }
        });
    action
}

fn row_ui(
    ui: &mut egui::Ui,
    row: &ChangedRow,
    row_px: f32,
    data: &Dataset,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<ChangedAction> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.set_height(row_px);
        if tile_image(ui, &thumb(row.item), ROW_IMAGE_PX, row.frame)
            .on_hover_text("click: select it on the map")
            .clicked()
        {
            action = Some(ChangedAction::Select(row.item));
        }
        ui.vertical(|ui| {
            ui.set_width(TEXT_PX);
            ui.add(egui::Label::new(egui::RichText::new(&row.title).strong()).truncate());
            for line in &row.lines {
                ui.add(egui::Label::new(egui::RichText::new(line).small()).truncate());
            }
        });
        ui.vertical(|ui| {
            ui.spacing_mut().item_spacing = egui::vec2(2.0, 2.0);
            // As many tiles as the width holds, nearest first: none cut in half.
            let fit = ((ui.available_width() - 14.0) / (TILE_PX + 2.0))
                .floor()
                .max(0.0) as usize;
            for (side, tiles, alone) in [("A", &row.a, "lost in B"), ("B", &row.b, "new in B")] {
                ui.horizontal(|ui| {
                    ui.add_sized([12.0, TILE_PX], egui::Label::new(side));
                    for t in tiles.iter().take(fit) {
                        let hover = format!(
                            "{}\n{}",
                            item_title(data, t.item.0),
                            if t.shared { "in A and in B" } else { alone }
                        );
                        if tile_image(ui, &thumb(t.item), TILE_PX, t.frame)
                            .on_hover_text(hover)
                            .clicked()
                        {
                            action = Some(ChangedAction::Select(t.item));
                        }
                    }
                });
            }
        });
    });
    action
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Categorical, ClassSource, Classes, Features};
    use crate::knn::{Metric, exact_knn};
    use crate::metrics::compare::compare;

    /// Eight items on a line, classes a (0–3) and b (4–7); in B item 0 moved among the b's.
    fn case() -> (Dataset, KnnGraph, KnnGraph, Comparison) {
        let a: Vec<f32> = (0..8)
            .map(|i| i as f32 * if i < 4 { 1.0 } else { 10.0 })
            .collect();
        let mut b = a.clone();
        b[0] = 55.0;
        let names: Vec<String> = (0..8)
            .map(|i| if i < 4 { "a" } else { "b" }.into())
            .collect();
        let data = Dataset {
            name: "t".into(),
            features: Features::new(8, 1, a.clone(), "float32", "a.npy", "a.npy")
                .expect("features"),
            images: crate::dataset::Images::None,
            classes: Some(Classes {
                labels: Categorical::from_strings(&names),
                source: ClassSource::BuiltIn,
            }),
            metadata: None,
        };
        let graph = |v: &[f32]| exact_knn(v, 1, 3, Metric::Euclidean, &()).expect("knn");
        let (ga, gb) = (graph(&a), graph(&b));
        let codes = data.classes.as_ref().map(|c| c.labels.codes.clone());
        let comparison = compare(&ga, &gb, 3, codes.as_deref()).expect("compare");
        (data, ga, gb, comparison)
    }

    #[test]
    fn the_moved_item_comes_first_with_both_neighbourhoods_marked() {
        let (data, ga, gb, comparison) = case();
        let ctx = ChangedContext {
            data: &data,
            comparison: &comparison,
            graph_a: &ga,
            graph_b: &gb,
        };
        let rows = changed_rows(&comparison, None, None);
        assert_eq!(rows[0], 0, "item 0 kept none of its neighbours");
        let row = describe(&ctx, 0).expect("row");
        assert_eq!(row.title, "#0 · a");
        assert!(row.lines[0].starts_with("overlap 0.00: 0 of its 3 nearest kept · #1 of 8"));
        assert_eq!(
            row.lines[1],
            "its neighbours say: a (right) in A, b (wrong) in B"
        );
        assert_eq!(
            row.a.iter().map(|t| t.item.0).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(row.a.iter().all(|t| !t.shared && t.frame == LOST_COLOR));
        assert!(
            row.b
                .iter()
                .all(|t| !t.shared && t.frame == theme::TORN_COLOR)
        );
        // Item 2 kept 1 and 3; 0 left and 4… came in (its 3 nearest at 1, 3, and 0 or 4).
        let row = describe(&ctx, 2).expect("row");
        let mut shared: Vec<u32> = row
            .a
            .iter()
            .filter(|t| t.shared)
            .map(|t| t.item.0)
            .collect();
        shared.sort_unstable();
        assert_eq!(shared, [1, 3]);
        assert!(
            row.a
                .iter()
                .filter(|t| t.shared)
                .all(|t| t.frame == theme::KEPT_COLOR)
        );
        assert!(describe(&ctx, 99).is_none());
    }

    #[test]
    fn one_class_lists_only_its_items_in_the_same_order() {
        let (data, _, _, comparison) = case();
        let codes = data.classes.as_ref().map(|c| c.labels.codes.as_slice());
        let all = changed_rows(&comparison, codes, None);
        let b = changed_rows(&comparison, codes, Some(1));
        assert_eq!(all.len(), 8);
        assert_eq!(
            b,
            all.iter().copied().filter(|&i| i >= 4).collect::<Vec<_>>()
        );
        let entries = class_entries(&data, &comparison);
        assert_eq!(entries.len(), 2);
        // Class a lost item 0's neighbours and item 1's: it changed more, so it comes first.
        assert_eq!(entries[0].0, 0);
        assert!(entries[0].1.starts_with("a · mean overlap"), "{entries:?}");
    }
}
