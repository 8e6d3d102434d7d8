//! The neighbour grid plugin: keeps [`NeighborView`] in step with the selection, the mode, the
//! grid size and the graph (the items from [`super::neighbors`]), or shows a query image's
//! neighbours while one is active.

use bevy::prelude::*;

use super::neighbors::{NeighborSource, neighbor_items};
use super::query::Queries;
use super::state::{ColorState, NeighborView, Selection, Store};

/// Keeps [`NeighborView`] in step with the selection, the mode, the grid size and the graph.
pub struct NeighborsPlugin;

impl Plugin for NeighborsPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, update_neighbor_view);
    }
}

/// Recompute the grid's items when the selection, mode, size or graph changes.
fn update_neighbor_view(
    store: Res<Store>,
    selection: Res<Selection>,
    color: Res<ColorState>,
    queries: Option<Res<Queries>>,
    mut view: ResMut<NeighborView>,
) {
    // A query image shown in the grid: its own neighbours, nearest first.
    if let Some(queries) = &queries
        && let (Some(active), Some(marker)) = (queries.active, queries.active_marker())
    {
        let want = (active, view.nside);
        if view.query_shown != Some(want) {
            let shown = marker.neighbors.len().min(view.nside * view.nside);
            view.items = marker.neighbors[..shown].to_vec();
            view.query_shown = Some(want);
            view.computed_for = None;
        }
        return;
    }
    if view.query_shown.take().is_some() {
        view.computed_for = None;
        view.items.clear();
    }
    let Some(selected) = selection.selected else {
        if !view.items.is_empty() {
            view.items.clear();
            view.computed_for = None;
        }
        return;
    };
    let key = (
        selected,
        view.mode,
        view.nside,
        view.seed ^ color.version,
        store.graph.is_some(),
    );
    if view.computed_for == Some(key) {
        return;
    }
    let src = NeighborSource {
        features: &store.data.features.values(),
        dim: store.data.features.dim(),
        metric: store.metric,
        graph: store.graph.as_deref(),
        groups: color.coloring.groups(),
    };
    view.items = neighbor_items(
        &src,
        selected,
        view.mode,
        view.nside * view.nside,
        view.seed,
    );
    view.computed_for = Some(key);
}
