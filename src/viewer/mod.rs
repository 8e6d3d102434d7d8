//! The Bevy explorer (feature `viewer`): points, picking, the neighbour grid and panels.
//!
//! Store vs view (Rerun's rule): the data set, kNN graph and layout live in plain library
//! types inside [`Store`]; the explorer's view of them (selection, colouring, neighbour grid)
//! lives beside it in [`state`]. The one rule for changing shared state: **the store changes
//! only where a background job hands in its result** (the layout and graph in `layout_job`,
//! the dendrogram in `clusters`, the audit in `issues`, the comparison in `compare`, whose
//! morph also draws the blend of two finished layouts); every other system reads it, and the
//! selection changes only through the [`SelectItem`] message. Imports point down: [`app`]
//! assembles the plugins, the plugins use [`state`] and the pure modules, never [`app`].
//!
//! The app and its state:
//! - [`app`]: [`run`]: the options checked, labels opened, the plugins added in order;
//! - [`options`]: [`ViewerOptions`] as the commands pass them, checked once into
//!   [`options::CheckedOptions`];
//! - [`state`]: the shared resources ([`Store`], [`Selection`], [`ColorState`], …) and messages.
//!
//! One plugin per feature:
//! - [`points`]: every point in one GPU draw (a point-sprite mesh and its shader);
//! - [`camera`]: the 2D (orthographic pan/zoom) and 3D (orbit, fly-through) views;
//! - [`lasso`]: Shift + drag draws a polygon; the points inside become the current set;
//! - [`picking`]: a k-d tree over the layout answers "which point is under the cursor";
//! - [`layout_job`]: kNN graph and layout computed in the background, cached, animated;
//! - [`job`]: long computations on threads of their own (Bevy's async pool stays free);
//! - [`clusters`]: the dendrogram computed in the background on first use, cut live;
//! - [`compare`]: `--compare B`: a second embedding compared, its map aligned, the morph;
//! - [`mosaic`]: every point an image: thumbnails streamed into GPU texture arrays;
//! - [`spatial`]: a grid over the layout, so the mosaic's per-move work scales with the view;
//! - [`splat`]: every point a screen-space disc splatted by a compute shader;
//! - [`thumbs`]: images decoded off the main thread into an LRU of egui textures (panels);
//! - [`neighbor_grid`]: the neighbour grid's items kept in step with the selection or a query;
//! - [`labels`]: keys and tile clicks become label batches, journalled; undo and redo;
//! - [`ui`]: egui panels (colouring and legend, layout controls, neighbour grid, help);
//! - [`query`]: query by image: an image embedded by `--model`, placed as a marker;
//! - [`search`]: the search box (the `search` language), matches highlighted, Enter steps;
//! - [`filters`]: per-column charts of all items vs the selection; brushing writes search terms;
//! - [`issues`]: the data-quality audit: findings worst first, accept a fix, "not an issue";
//! - [`item_set`]: the current selection (lasso or search) as data: label all, invert, export;
//! - [`capture`]: screenshots (`P`, the `screenshot` command) and `--bench-frames`;
//! - [`offscreen`]: `--offscreen`: the same app drawn into an image, with no window or display.
//!
//! The pure parts ([`colors`], [`neighbors`], picking's index) have no Bevy types and are
//! unit-tested; the plugins are tested with `MinimalPlugins` and under Xvfb.

pub mod app;
pub mod camera;
pub mod capture;
pub mod clusters;
pub mod colors;
pub mod compare;
pub mod filters;
pub mod issues;
pub mod item_set;
pub mod job;
pub mod label_next;
pub mod labels;
pub mod lasso;
pub mod layout_job;
pub mod mosaic;
pub mod neighbor_grid;
pub mod neighbors;
pub mod offscreen;
pub mod options;
pub mod picking;
pub mod points;
pub mod probe;
pub mod query;
pub mod search;
pub mod spatial;
pub mod splat;
pub mod state;
pub mod thumbs;
pub mod ui;

pub use app::{ExplorerStatePlugin, run};
pub use options::{ScreenshotRequest, ViewerError, ViewerOptions, check_display};
pub use state::{
    ColorState, GridKey, Launched, LayoutCoords, MAX_TREE_LEAVES, NeighborView, PointsShown,
    SearchMask, SelectItem, Selection, Store, ViewMode, dimmed,
};

/// Tests of key bindings: press `keys` together for one update, then release them all.
#[cfg(test)]
pub(crate) fn press_keys(app: &mut bevy::prelude::App, keys: &[bevy::prelude::KeyCode]) {
    use bevy::prelude::{ButtonInput, KeyCode};
    let mut input = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
    input.reset_all();
    for &k in keys {
        input.press(k);
    }
    app.update();
    let mut input = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
    input.release_all();
    input.clear();
}
