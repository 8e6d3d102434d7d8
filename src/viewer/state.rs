//! The explorer's shared state: the store of library data, the selection, the colouring, the
//! neighbour grid, and the message that selects an item. Every plugin reads these; none of them
//! imports a plugin, so any plugin may import this file.

use std::sync::Arc;

use bevy::prelude::*;

use crate::cache::Cache;
use crate::dataset::{Dataset, ItemId};
use crate::knn::{KnnGraph, Metric};

use super::colors::{self, ColorSource, Coloring, Colormap};
use super::neighbors::{Neighbor, NeighborMode};

/// Which view the points are seen in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ViewMode {
    /// Orthographic, looking down the layout's z axis: pan and zoom.
    #[default]
    TwoD,
    /// Perspective: orbit, pan and zoom around a focus.
    Orbit,
    /// Perspective: WASD/QE to move, right mouse button to look.
    Fly,
}

impl ViewMode {
    pub fn label(self) -> &'static str {
        match self {
            Self::TwoD => "2D",
            Self::Orbit => "3D orbit",
            Self::Fly => "3D fly",
        }
    }

    pub fn is_3d(self) -> bool {
        self != Self::TwoD
    }
}

/// A layout as the viewer holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutCoords {
    /// 2 or 3.
    pub dims: usize,
    /// N × dims, row-major.
    pub coords: Vec<f32>,
    /// What made it ("UMAP 2D", "PCA 2D").
    pub label: String,
}

impl LayoutCoords {
    /// Item `i` as a 3D world position (a 2D layout lies on z = 0).
    pub fn position(&self, item: ItemId) -> Vec3 {
        let c = &self.coords[item.index() * self.dims..(item.index() + 1) * self.dims];
        Vec3::new(c[0], c[1], if self.dims > 2 { c[2] } else { 0.0 })
    }

    pub fn n_items(&self) -> usize {
        self.coords.len() / self.dims.max(1)
    }
}

/// A layout for tests: `coords` (N × `dims`), labelled "test".
#[cfg(test)]
pub(crate) fn test_layout(coords: Vec<f32>, dims: usize) -> LayoutCoords {
    LayoutCoords {
        dims,
        coords,
        label: "test".into(),
    }
}

/// The data the explorer shows: plain library types, shared read-only with background tasks.
#[derive(Resource)]
pub struct Store {
    pub data: Arc<Dataset>,
    pub metric: Metric,
    /// The kNN graph in the original space, once computed (or read from the cache).
    pub graph: Option<Arc<KnnGraph>>,
    /// The graph given with `--knn`, if one was: layouts start from it (see `layout_job`).
    pub given_graph: Option<Arc<KnnGraph>>,
    /// The clusters' dendrogram, once asked for and computed (or read from the cache).
    pub dendrogram: Option<Arc<crate::cluster::Dendrogram>>,
    /// The data-quality audit, once the issues panel or a score colouring asked for it.
    pub audit: Option<Arc<crate::quality::Audit>>,
    /// `--compare B`: how each item's neighbourhood differs in B, once computed.
    pub comparison: Option<Arc<crate::metrics::compare::Comparison>>,
    /// What the labels say about every item (`viewer::probe`), once fitted.
    pub probe: Option<Arc<crate::probe::Probe>>,
    /// The layout drawn now; `None` until the first one arrives.
    pub layout: Option<LayoutCoords>,
    /// Bumped whenever `layout` changes, so views rebuild only then.
    pub layout_version: u64,
    /// `--compare B`: B's map, started from A's and aligned to it, once computed — what the
    /// right half of the split view draws (`MapSide::B`).
    pub layout_b: Option<Arc<LayoutCoords>>,
    /// Bumped whenever `layout_b` changes.
    pub layout_b_version: u64,
    /// The box (min, max) holding both compared maps, A's as it was compared and B's: the
    /// split view fits it, whichever map the morph shows on the left.
    pub compared_extent: Option<[Vec3; 2]>,
    /// A morph in motion (`--compare`, `M`, the A–B slider): the points are drawn that far
    /// from `layout` towards another map, blended on the GPU; `None` when still.
    pub morph: Option<Morph>,
    /// `--colors` values, if given.
    pub user_values: Option<Vec<f32>>,
    pub cache: Cache,
}

impl Store {
    pub fn n_items(&self) -> usize {
        self.data.n_items()
    }

    pub fn set_layout(&mut self, layout: LayoutCoords) {
        self.layout = Some(layout);
        self.layout_version += 1;
    }

    pub fn set_layout_b(&mut self, layout: Option<Arc<LayoutCoords>>) {
        self.layout_b = layout;
        self.layout_b_version += 1;
    }

    /// Where item `item` of side `side`'s map is drawn now: its place in the layout, or on
    /// A's side during a morph, that far towards the map the morph heads for.
    pub fn drawn_position(&self, side: MapSide, layout: &LayoutCoords, item: ItemId) -> Vec3 {
        let p = layout.position(item);
        match (&self.morph, side) {
            (Some(m), MapSide::A) if item.index() < m.to.n_items() => {
                p.lerp(m.to.position(item), m.s)
            }
            _ => p,
        }
    }

    /// A morph's progress on `side` as bits, for keys of what follows it (0 when still, and
    /// on B's side, which does not morph).
    pub fn morph_key(&self, side: MapSide) -> u32 {
        match (&self.morph, side) {
            (Some(m), MapSide::A) => m.s.to_bits(),
            _ => 0,
        }
    }

    /// The map one side of the view draws, and its version.
    pub fn side(&self, side: MapSide) -> (Option<&LayoutCoords>, u64) {
        match side {
            MapSide::A => (self.layout.as_ref(), self.layout_version),
            MapSide::B => (self.layout_b.as_deref(), self.layout_b_version),
        }
    }
}

/// A morph in motion: the points are `s` of the way from the store's layout to `to`.
#[derive(Debug, Clone)]
pub struct Morph {
    /// 0–1.
    pub s: f32,
    /// The map the points head for (A's or B's, as compared).
    pub to: Arc<LayoutCoords>,
}

/// Same progress towards the same map (the map by identity: comparing N coordinates every
/// frame is what the morph on the GPU avoids).
impl PartialEq for Morph {
    fn eq(&self, other: &Self) -> bool {
        self.s == other.s && Arc::ptr_eq(&self.to, &other.to)
    }
}

/// Which map a camera, a mesh or a pick index belongs to: A's (the map, or the whole plot when
/// not split) or B's (the split view's right half, `--compare B`).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MapSide {
    A,
    B,
}

impl MapSide {
    pub const BOTH: [MapSide; 2] = [MapSide::A, MapSide::B];

    /// 0 for A, 1 for B: an index into per-side arrays, and the render layer B's meshes and
    /// camera use (A's stay on the default layer 0).
    pub fn index(self) -> usize {
        match self {
            MapSide::A => 0,
            MapSide::B => 1,
        }
    }
}

/// What is selected and what is under the cursor.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct Selection {
    pub selected: Option<ItemId>,
    pub hovered: Option<ItemId>,
    /// Bumped on every change of `selected`.
    pub version: u64,
}

/// The colouring in force and the legend's hidden groups.
#[derive(Resource, Debug, Clone)]
pub struct ColorState {
    pub source: ColorSource,
    pub colormap: Colormap,
    pub coloring: Coloring,
    /// Per categorical group: hidden from the plot.
    pub hidden: Vec<bool>,
    /// Bumped whenever the point colours change.
    pub version: u64,
    /// Per group, an item that stands for it (clusters: the medoid), for the legend.
    pub representatives: Vec<ItemId>,
    /// Clusters: the top of the dendrogram above the cut, for the dendrogram view (only up to
    /// [`MAX_TREE_LEAVES`] clusters: more is unreadable at panel size).
    pub tree: Option<crate::cluster::TopTree>,
    /// The current set's items (a search's matches, a lasso; see [`item_set`]): the other
    /// items are dimmed, or hidden.
    pub search: Option<Arc<SearchMask>>,
}

/// Which items are in the current set, and whether the rest are hidden (else dimmed).
#[derive(Debug, Clone, PartialEq)]
pub struct SearchMask {
    pub matches: Vec<bool>,
    pub hide_others: bool,
}

/// A colour pushed towards the dark background: what a non-matching point looks like.
pub fn dimmed([r, g, b, a]: colors::Rgba8) -> colors::Rgba8 {
    let dim = |c: u8| (u16::from(c) / 5 + 16) as u8;
    [dim(r), dim(g), dim(b), a]
}

/// Most clusters the dendrogram view draws.
pub const MAX_TREE_LEAVES: usize = 64;

impl ColorState {
    /// Switch to `source`, resolving it against the data; on error nothing changes.
    pub fn set_source(
        &mut self,
        source: ColorSource,
        store: &Store,
    ) -> Result<(), colors::ColorError> {
        let mut representatives = Vec::new();
        let mut top = None;
        let coloring = match (&source, &store.dendrogram) {
            (ColorSource::Clusters(k), Some(tree)) => {
                let codes = tree
                    .cut(*k)
                    .map_err(|e| colors::ColorError::NoClusters(e.to_string()))?;
                let names = (1..=*k).map(|c| format!("cluster {c}")).collect();
                let features = &store.data.features;
                representatives =
                    crate::cluster::medoids(&features.values(), features.dim(), &codes, *k)
                        .into_iter()
                        .map(ItemId)
                        .collect();
                if *k <= MAX_TREE_LEAVES {
                    top = tree.top(*k, &codes).ok();
                }
                Coloring::categorical(&crate::dataset::Categorical { names, codes })
            }
            (ColorSource::Probe(label), _) => match &store.probe {
                Some(p) => Coloring::probe(p, label, self.colormap)?,
                None => Coloring::resolve(&source, &store.data, None, self.colormap)?,
            },
            (ColorSource::Compare, _) => match &store.comparison {
                Some(c) => Coloring::changed(c, self.colormap),
                None => Coloring::resolve(&source, &store.data, None, self.colormap)?,
            },
            (ColorSource::Score(score), _) => match &store.audit {
                Some(audit) => Coloring::score(*score, audit, self.colormap)?,
                // Says the audit is not computed yet.
                None => Coloring::resolve(&source, &store.data, None, self.colormap)?,
            },
            _ => Coloring::resolve(
                &source,
                &store.data,
                store.user_values.as_deref(),
                self.colormap,
            )?,
        };
        self.hidden = match &coloring {
            Coloring::Categorical { names, .. } => vec![false; names.len()],
            _ => Vec::new(),
        };
        self.source = source;
        self.coloring = coloring;
        self.representatives = representatives;
        self.tree = top;
        self.version += 1;
        Ok(())
    }

    /// Item `item`'s colour on the map: its group's or value's, transparent when its group is
    /// hidden, dimmed (or transparent) when a search is on and it does not match.
    pub fn point_color(&self, item: ItemId) -> colors::Rgba8 {
        let c = self.coloring.color_of(item, &self.hidden);
        match &self.search {
            Some(m) if !m.matches.get(item.index()).copied().unwrap_or(false) => {
                if m.hide_others {
                    [0; 4]
                } else {
                    dimmed(c)
                }
            }
            _ => c,
        }
    }

    /// Every item's [`Self::point_color`], in item order, on all cores: a recolour at a
    /// million items runs on the main thread between two frames.
    pub fn point_colors(&self, n_items: usize) -> Vec<colors::Rgba8> {
        use rayon::prelude::*;
        (0..n_items)
            .into_par_iter()
            .with_min_len(1 << 14)
            .map(|i| self.point_color(ItemId(i as u32)))
            .collect()
    }

    /// Whether a search is on and `item` is not among its matches (no thumbnail for it).
    pub fn searched_out(&self, item: ItemId) -> bool {
        self.search
            .as_ref()
            .is_some_and(|m| !m.matches.get(item.index()).copied().unwrap_or(false))
    }

    /// Show only the groups in `keep` (a dendrogram branch), hiding every other.
    pub fn show_only(&mut self, keep: &[u32]) {
        for (code, h) in self.hidden.iter_mut().enumerate() {
            *h = !keep.contains(&(code as u32));
        }
        self.version += 1;
    }

    pub fn toggle_group(&mut self, code: usize) {
        if let Some(h) = self.hidden.get_mut(code) {
            *h = !*h;
            self.version += 1;
        }
    }
}

/// What the grid's items were computed for: the selected item, mode, grid side, seed (mixed
/// with the colouring's version) and whether the graph was there.
pub type GridKey = (ItemId, NeighborMode, usize, u64, bool);

/// The neighbour grid's settings and current content.
#[derive(Resource, Debug, Clone)]
pub struct NeighborView {
    pub mode: NeighborMode,
    pub nside: usize,
    /// Changes on "shuffle" for the random mode.
    pub seed: u64,
    /// For which selection (and settings) `items` was computed.
    pub computed_for: Option<GridKey>,
    /// `items` are a query image's neighbours: (its index in [`query::Queries`], the grid
    /// size) they were taken for.
    pub query_shown: Option<(usize, usize)>,
    pub items: Vec<Neighbor>,
}

/// When the process started (see [`ViewerOptions::launched`]).
#[derive(Resource, Debug, Clone, Copy)]
pub struct Launched(pub std::time::Instant);

/// Set once the points have been on screen: background work that can wait (the thumbnail
/// cache's check of every image, the build) waits for it, so on 2 cores it does not delay the
/// first frame. Absent (nothing waits) where the points plugin is not added.
#[derive(Resource, Debug, Clone, Default)]
pub struct PointsShown(pub std::sync::Arc<std::sync::atomic::AtomicBool>);

/// Select an item (or clear the selection); `focus` also eases the view to it.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct SelectItem {
    pub item: Option<ItemId>,
    pub focus: bool,
}

/// Apply selection messages to [`Selection`].
pub(crate) fn apply_selection(
    mut messages: MessageReader<SelectItem>,
    mut selection: ResMut<Selection>,
) {
    for m in messages.read() {
        if selection.selected != m.item {
            selection.selected = m.item;
            selection.version += 1;
        }
    }
}

/// The lasso's polygon being drawn, in window (logical) coordinates (see [`super::lasso`]):
/// shared, as the orbit camera stands still while it is drawn.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct Lasso {
    pub points: Vec<Vec2>,
    pub active: bool,
}
