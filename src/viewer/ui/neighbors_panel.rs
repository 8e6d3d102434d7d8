//! The right panel: the selected item's (or a query image's) neighbours as a grid of tiles,
//! the grid's mode and size, and the query images.

use bevy::prelude::*;
use bevy_egui::egui;

use super::browser::FileBrowser;
use super::item_info::item_info;
use super::neighbors::{
    NeighborAction, NeighborsPanel, OtherSpace, QueryHeader, QueryList, neighbors_ui,
};
use super::root::PanelRoot;
use super::theme;
use crate::dataset::{Images, ItemId};
use crate::viewer::compare::CompareView;
use crate::viewer::labels::{LabelItems, Labels};
use crate::viewer::query::{Queries, QueryAction};
use crate::viewer::state::{ColorState, NeighborView, SelectItem, Selection, Store};
use crate::viewer::thumbs::Thumbs;

/// The neighbours panel, after the left one: it takes the window's right edge.
#[allow(clippy::too_many_arguments)]
pub(super) fn neighbors_panel(
    mut root: ResMut<PanelRoot>,
    store: Res<Store>,
    selection: Res<Selection>,
    color: Res<ColorState>,
    mut view: ResMut<NeighborView>,
    mut thumbs: ResMut<Thumbs>,
    labels: Res<Labels>,
    mut queries: ResMut<Queries>,
    mut browser: ResMut<FileBrowser>,
    mut select: MessageWriter<SelectItem>,
    mut label_items: MessageWriter<LabelItems>,
    mut query_action: MessageWriter<QueryAction>,
    compare: Option<Res<CompareView>>,
) {
    let Some(root) = root.0.as_mut() else {
        return;
    };
    let ctx = root.ctx().clone();
    egui::Panel::right("neighbors")
        .exact_size(theme::RIGHT_PANEL_PX)
        .show(root, |ui| {
            let queries = &mut *queries;
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
                        image: m.texture.as_ref().map_or(
                            crate::viewer::thumbs::Thumb::None,
                            crate::viewer::thumbs::Thumb::of,
                        ),
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
                        .then_some(crate::viewer::query::NEEDS_MODEL.as_str()),
                    status: running.as_deref().or(queries.error.as_deref()),
                },
                items: &view.items,
                mode: view.mode,
                nside: view.nside,
                groups_available: color.coloring.groups().is_some(),
                graph_pending: store.graph.is_none(),
                metric: store.metric.name(),
                other: other_space(&store, selection.selected, view.nside, compare.as_deref()),
            };
            let info = |item: ItemId| item_info(&store, &color, &labels, item);
            let mut thumb = |item: ItemId| thumbs.get(item);
            match neighbors_ui(ui, &panel, &info, &mut thumb) {
                Some(NeighborAction::Select(item)) => {
                    select.write(SelectItem {
                        item: Some(item),
                        focus: true,
                    });
                }
                Some(NeighborAction::Label(item)) => {
                    if let Some(name) = labels.active_name() {
                        label_items.write(LabelItems {
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
                    browser.open_at(&start);
                }
                Some(NeighborAction::ShowQuery(i)) => {
                    query_action.write(QueryAction::Show(i));
                }
                Some(NeighborAction::ClearQueries) => {
                    query_action.write(QueryAction::ClearAll);
                }
                None => {}
            }
        });
}

/// `--compare`: the selected item's nearest in B (as many as the grid shows, up to B's graph),
/// each marked with whether A's graph holds it among as many nearest.
fn other_space<'a>(
    store: &Store,
    selected: Option<ItemId>,
    nside: usize,
    compare: Option<&'a CompareView>,
) -> Option<OtherSpace<'a>> {
    let view = compare?;
    let result = view.result()?;
    let item = selected?.index();
    let n = (nside * nside).min(result.graph_b.k);
    let in_a: &[u32] = store
        .graph
        .as_ref()
        .map_or(&[], |g| &g.neighbors(item)[..n.min(g.k)]);
    let items = result.graph_b.neighbors(item)[..n]
        .iter()
        .map(|&j| (ItemId(j), in_a.contains(&j)))
        .collect();
    Some(OtherSpace {
        name: &view.name,
        items,
    })
}
