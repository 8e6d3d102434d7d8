//! Which thumbnails to draw: when the view, the layout or the settings change, the items in
//! view are ranked and capped, each gets the tier its size on screen asks for, missing cells
//! are requested from the loader, and the tiers' meshes are rebuilt from what is there.
//! In the split view B's half gets the same, from B's map: its camera is a mirror of the
//! active one, so the active camera's view places B's items too; the cells are shared (an item
//! in both halves is one cell), each side has its meshes and its hits.

use bevy::prelude::*;

use super::pool::{self, Candidate};
use super::{BuildState, MAX_REQUESTS_PER_UPDATE, Mosaic, MosaicMaterial, MosaicSettings};
use super::{fill_mesh, world_size};
use crate::dataset::ItemId;
use crate::numeric::grid::UniformGrid;
use crate::viewer::camera::{Bounds, PlotCamera, ViewSettings};
use crate::viewer::colors::Rgba8;
use crate::viewer::labels::{LabelFilter, Labels};
use crate::viewer::spatial::{self, ThumbView};
use crate::viewer::state::{ColorState, LayoutCoords, MapSide, NeighborView, Selection, Store};

/// The items whose thumbnails must stay visible — the selected one, the hovered one and the
/// selected one's neighbours in the grid: each always wins its place under the cap and the
/// declutter, and is drawn above every other thumbnail (in 3D too, where a nearer thumbnail
/// would hide it), the selected one topmost.
#[derive(Debug, Default, Clone, PartialEq)]
pub(super) struct Lifted {
    selected: Option<u32>,
    hovered: Option<u32>,
    /// Sorted.
    neighbors: Vec<u32>,
}

/// Draw orders (1 on top; the shader reads the vertex's order). Other items lie in
/// (0.001, 0.999) by rank; above 0.999 an item is lifted, which in 3D puts it in front of
/// every thumbnail that is not (`mosaic.wgsl`).
const ORDER_SELECTED: f32 = 1.0;
const ORDER_HOVERED: f32 = 0.9996;
const ORDER_NEIGHBOR: f32 = 0.9993;

impl Lifted {
    pub(super) fn new(selection: &Selection, neighbors: Option<&NeighborView>) -> Self {
        let mut list: Vec<u32> = neighbors
            .map(|n| n.items.iter().map(|n| n.item.0).collect())
            .unwrap_or_default();
        list.sort_unstable();
        list.dedup();
        Self {
            selected: selection.selected.map(|i| i.0),
            hovered: selection.hovered.map(|i| i.0),
            neighbors: list,
        }
    }

    /// 0 for the selected item, 1 hovered, 2 a neighbour: the ranks under every other item's.
    fn level(&self, item: u32) -> Option<u32> {
        if self.selected == Some(item) {
            Some(0)
        } else if self.hovered == Some(item) {
            Some(1)
        } else if self.neighbors.binary_search(&item).is_ok() {
            Some(2)
        } else {
            None
        }
    }

    /// The item's rank in the cap and declutter: lifted ones first.
    fn rank(&self, item: u32) -> u32 {
        self.level(item)
            .unwrap_or_else(|| pool::rank_of(item).max(3))
    }

    /// The item's draw order for the shader.
    fn order(&self, item: u32) -> f32 {
        match self.level(item) {
            Some(0) => ORDER_SELECTED,
            Some(1) => ORDER_HOVERED,
            Some(_) => ORDER_NEIGHBOR,
            None => 0.999 - (pool::rank_of(item) as f32 / u32::MAX as f32) * 0.998,
        }
    }

    /// A summary of the lifted items for the view's key.
    fn key(&self) -> [u32; 4] {
        let sum = self
            .neighbors
            .iter()
            .fold(0u32, |h, &i| h.rotate_left(5) ^ i.wrapping_mul(0x9e37_79b9));
        [
            self.selected.unwrap_or(u32::MAX),
            self.hovered.unwrap_or(u32::MAX),
            self.neighbors.len() as u32,
            sum,
        ]
    }
}

/// What the last view update was computed from and what it drew, with the per-layout caches
/// it keeps: owned by this file, so the view's state changes in one place.
#[derive(Default)]
pub(super) struct ViewCache {
    /// What the last update was computed from; an equal key means nothing to do.
    key: Vec<u32>,
    /// Bumped at every view update: the pools' notion of time.
    generation: u64,
    /// Per side (`MapSide::index`): (item, tier, slot) drawn, and the colour version, lifted
    /// items and layout version the meshes were built with: meshes are rewritten only when
    /// one of them changes.
    drawn: [Vec<Drawn>; 2],
    mesh_key: [(u64, Lifted, u64); 2],
    /// Per side, drawn thumbnails, topmost first: item, centre and side in physical pixels
    /// within that side's viewport — what a click on a thumbnail hits.
    hits: [Vec<(ItemId, [f32; 2], f32)>; 2],
    /// Colours by item, cached by colour version.
    colors: (u64, Vec<Rgba8>),
    /// The layout's bounds, by layout version: an O(N) pass not repeated at every camera move.
    bounds: Option<(u64, Bounds)>,
    /// Each side's layout's grid, by layout version, built the first time thumbnails can be
    /// in view (a zoomed-out map and an animating layout never need it).
    grid: [Option<(u64, UniformGrid)>; 2],
}

impl ViewCache {
    /// Recompute at the next update, whether or not the view changed (new pictures arrived).
    pub(super) fn invalidate(&mut self) {
        self.key.clear();
    }

    /// The topmost thumbnail of `side` under `at` (physical pixels within its viewport).
    pub(super) fn thumbnail_at(&self, side: MapSide, at: Vec2) -> Option<ItemId> {
        self.hits[side.index()]
            .iter()
            .find(|(_, c, side)| {
                (at.x - c[0]).abs() <= side * 0.5 && (at.y - c[1]).abs() <= side * 0.5
            })
            .map(|h| h.0)
    }
}

/// Recompute which thumbnails to draw when the view, the layout or the settings change.
#[allow(clippy::too_many_arguments)]
pub(super) fn update_visible_thumbnails(
    store: Res<Store>,
    color: Res<ColorState>,
    labels: Option<Res<Labels>>,
    settings: Res<MosaicSettings>,
    selection: Res<Selection>,
    neighbors: Option<Res<NeighborView>>,
    view_settings: Res<ViewSettings>,
    windows: Query<&Window, With<bevy::window::PrimaryWindow>>,
    cameras: Query<(&Camera, &GlobalTransform), PlotCamera>,
    mut mosaic: ResMut<Mosaic>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<MosaicMaterial>>,
    mut visibility: Query<&mut Visibility>,
) {
    let mosaic = &mut *mosaic;
    if mosaic.tiers.is_empty() {
        return;
    }
    let layout = store.layout.as_ref();
    let camera = cameras.iter().find(|(c, _)| c.is_active);
    // A morph in motion moves the points on the GPU: the thumbnails wait for it to stop.
    let show = settings.enabled && layout.is_some() && camera.is_some() && store.morph.is_none();
    let split = view_settings.split_shown(&store);
    show_tiers(mosaic, show, split, &mut visibility);
    let (Some(layout), Some((camera, global)), true) = (layout, camera, show) else {
        mosaic.waiting = 0;
        mosaic.drawn_count = 0;
        mosaic.view.hits = Default::default();
        // Shown again (after a morph that came back to where it was, say): recompute.
        mosaic.view.invalidate();
        return;
    };
    let Some(viewport) = camera.physical_viewport_size() else {
        return;
    };
    let clip_from_view = camera.clip_from_view();
    if mosaic.view.bounds.as_ref().map(|b| b.0) != Some(store.layout_version) {
        mosaic.view.bounds = Bounds::of(layout).map(|b| (store.layout_version, b));
    }
    let Some((_, bounds)) = &mosaic.view.bounds else {
        return;
    };
    let n_items = layout
        .n_items()
        .min(mosaic.store.as_ref().map_or(0, |s| s.n_items()));
    let world = world_size(bounds, layout.n_items(), layout.dims, settings.size);
    let view = ThumbView::new(
        clip_from_view,
        global.to_matrix(),
        world,
        viewport,
        pool::DOT_PX,
    );
    let filter_version = labels.as_ref().map_or(0, |l| {
        if matches!(l.filter, LabelFilter::All) {
            0
        } else {
            l.version as u32 + 1
        }
    });
    // Everything the result depends on, as bits: an exact match means nothing to do.
    let mut key: Vec<u32> = view
        .clip_from_world
        .to_cols_array()
        .iter()
        .map(|v| v.to_bits())
        .collect();
    key.extend([
        viewport.x,
        viewport.y,
        store.layout_version as u32,
        color.version as u32,
        filter_version,
        world.to_bits(),
        settings.max_thumbnails as u32,
        u32::from(settings.declutter),
        settings.border.to_bits(),
        if split {
            store.layout_b_version as u32
        } else {
            u32::MAX
        },
    ]);
    let lifted = Lifted::new(&selection, neighbors.as_deref());
    key.extend(lifted.key());
    if key == mosaic.view.key {
        return;
    }
    mosaic.view.key = key;
    mosaic.view.generation += 1;
    if mosaic.view.colors.0 != color.version || mosaic.view.colors.1.len() != layout.n_items() {
        mosaic.view.colors = (color.version, color.point_colors(layout.n_items()));
    }
    let shown =
        |item: ItemId| !color.searched_out(item) && labels.as_ref().is_none_or(|l| l.shows(item));
    // Orthographic: the draw order (rank) decides what is on top; perspective: the depth.
    let perspective = clip_from_view.w_axis.w != 1.0;
    let (mut drawn_count, mut waiting) = (0, 0);
    // B's map is drawn in its half with A's view (its camera is a mirror of A's).
    for (side, layout, version) in view_settings.drawn_sides(&store) {
        let n_items = n_items.min(layout.n_items());
        let candidates = candidates_in_view(
            mosaic, side, layout, version, &view, n_items, &lifted, &shown,
        );
        let chosen = pool::choose(candidates, settings.max_thumbnails, settings.declutter);
        if side == MapSide::A {
            mosaic.side_px = chosen.first().map_or(0.0, |c| c.size_px);
        }
        let (drawn, mut hits, side_waiting) = place_and_request(mosaic, &chosen);
        drawn_count += drawn.len();
        waiting += side_waiting;
        if perspective {
            // Lifted thumbnails are drawn in front of the rest: a click finds them first.
            hits.sort_by(|a, b| {
                let level = |h: &Hit| lifted.level(h.0.0).unwrap_or(u32::MAX);
                level(a).cmp(&level(b)).then(a.3.total_cmp(&b.3))
            });
        }
        let i = side.index();
        mosaic.view.hits[i] = hits.into_iter().map(|(i, c, s, _)| (i, c, s)).collect();
        let mesh_key = (color.version, lifted.clone(), version);
        if drawn != mosaic.view.drawn[i] || mesh_key != mosaic.view.mesh_key[i] {
            rebuild_meshes(mosaic, side, &drawn, layout, &lifted, &mut meshes);
            mosaic.view.mesh_key[i] = mesh_key;
            mosaic.view.drawn[i] = drawn;
        }
    }
    if !split {
        mosaic.view.hits[MapSide::B.index()].clear();
    }
    mosaic.drawn_count = drawn_count;
    mosaic.waiting = waiting;
    // Orthographic (the 2D view): overlaps by draw order, not depth.
    let border = settings.border * windows.single().map_or(1.0, |w| w.scale_factor());
    let flat = if !perspective { 1.0 } else { 0.0 };
    update_materials(mosaic, &mut materials, world, flat, border);
}

/// The tiers' entities shown or hidden with the mosaic (B's with the split view too).
fn show_tiers(mosaic: &Mosaic, show: bool, split: bool, visibility: &mut Query<&mut Visibility>) {
    for tier in &mosaic.tiers {
        for (entity, on) in [(tier.entity, show), (tier.entity_b, show && split)] {
            if let Ok(mut v) = visibility.get_mut(entity) {
                v.set_if_neq(if on {
                    Visibility::Visible
                } else {
                    Visibility::Hidden
                });
            }
        }
    }
}

/// The items in view at least a dot wide, with their rank, size, place and depth on screen.
///
/// Only the items in the grid cells that meet the view's box are tested: the work follows
/// what is on screen, and a map zoomed out below thumbnail size costs nothing.
#[allow(clippy::too_many_arguments)]
fn candidates_in_view(
    mosaic: &mut Mosaic,
    side: MapSide,
    layout: &LayoutCoords,
    layout_version: u64,
    view: &ThumbView,
    n_items: usize,
    lifted: &Lifted,
    shown: &dyn Fn(ItemId) -> bool,
) -> Vec<Candidate> {
    let mut candidates = Vec::new();
    let in_view = view.bounds();
    let cached = &mut mosaic.view.grid[side.index()];
    if in_view.is_some() && cached.as_ref().map(|g| g.0) != Some(layout_version) {
        *cached = Some((layout_version, spatial::grid_of(layout)));
    }
    if let (Some((lo, hi)), Some((_, grid))) = (in_view, &mosaic.view.grid[side.index()]) {
        spatial::for_each_in(grid, lo, hi, |i| {
            let i = i as usize;
            let item = ItemId(i as u32);
            if i >= n_items || mosaic.view.colors.1[i][3] == 0 || !shown(item) {
                return;
            }
            let Some((size_px, screen, depth)) = view.project(layout.position(item)) else {
                return;
            };
            candidates.push(Candidate {
                item: i as u32,
                // Lifted items always win their place (cap, declutter) and lie on top.
                rank: lifted.rank(i as u32),
                size_px,
                screen: screen.to_array(),
                depth,
            });
        });
    }
    candidates
}

/// A drawn thumbnail: item, tier, slot.
type Drawn = (u32, u8, u32);
/// A drawn thumbnail as a click finds it: item, centre and side on screen, depth.
type Hit = (ItemId, [f32; 2], f32, f32);

/// Each chosen item's tier: cells not on the GPU are asked of the loader, and the item is
/// drawn from the wanted tier if there, else the closest one that is. Also: how many wait for
/// a cell on its way.
fn place_and_request(mosaic: &mut Mosaic, chosen: &[Candidate]) -> (Vec<Drawn>, Vec<Hit>, usize) {
    let generation = mosaic.view.generation;
    let tier_sides: Vec<u32> = mosaic.tiers.iter().map(|t| t.pool.side).collect();
    let mut requests = Vec::new();
    let mut drawn = Vec::with_capacity(chosen.len());
    let mut hits = Vec::with_capacity(chosen.len());
    let mut waiting = 0;
    for c in chosen {
        let want = pool::tier_for(&tier_sides, c.size_px);
        if mosaic.tiers[want].pool.ready_slot(c.item).is_none() {
            if !mosaic.tiers[want].pool.has_slot(c.item)
                && requests.len() < MAX_REQUESTS_PER_UPDATE
                && let Some(slot) = mosaic.tiers[want].pool.assign(c.item, generation)
            {
                requests.push((want, slot, c.item));
            }
            // Only a cell on its way counts: with the pool full of cells in view, the item
            // stays at a smaller tier and nothing is waited for.
            if mosaic.tiers[want].pool.has_slot(c.item) {
                waiting += 1;
            }
        }
        // Draw the wanted tier if there, else the closest one that is (smaller first).
        let order = std::iter::once(want)
            .chain((0..want).rev())
            .chain(want + 1..tier_sides.len());
        for t in order {
            if let Some(slot) = mosaic.tiers[t].pool.ready_slot(c.item) {
                mosaic.tiers[t].pool.touch(slot, generation);
                drawn.push((c.item, t as u8, slot));
                hits.push((ItemId(c.item), c.screen, c.size_px, c.depth));
                break;
            }
        }
    }
    // Requests stay in flight across updates; `in_flight` tracks them for the screenshot.
    if !requests.is_empty()
        && let Some(tx) = &mosaic.requests
    {
        mosaic.in_flight += requests.len();
        for batch in requests.chunks(256) {
            if tx.send(batch.to_vec()).is_err() {
                mosaic.in_flight = 0;
                mosaic.state = Some(BuildState::Failed("the thumbnail loader stopped".into()));
                break;
            }
        }
    }
    (drawn, hits, waiting)
}

/// The tiers' shader parameters, written only when they change (a write re-uploads them).
fn update_materials(
    mosaic: &Mosaic,
    materials: &mut Assets<MosaicMaterial>,
    world: f32,
    flat: f32,
    border: f32,
) {
    for tier in &mosaic.tiers {
        if let Some(mut m) = materials.get_mut(&tier.material)
            && (m.params.world_size != world || m.params.flat != flat || m.params.border != border)
        {
            m.params.world_size = world;
            m.params.flat = flat;
            m.params.border = border;
        }
    }
}

/// Each tier's mesh of `side`: a quad per thumbnail drawn from it, at its item's place.
fn rebuild_meshes(
    mosaic: &Mosaic,
    side: MapSide,
    drawn: &[Drawn],
    layout: &LayoutCoords,
    lifted: &Lifted,
    meshes: &mut Assets<Mesh>,
) {
    for (t, tier) in mosaic.tiers.iter().enumerate() {
        let quads: Vec<(Vec3, [f32; 4], Rgba8)> = drawn
            .iter()
            .filter(|(_, tt, _)| *tt as usize == t)
            .map(|&(item, _, slot)| {
                let (layer, x, y) = tier.pool.cell_origin(slot);
                let u0 = x as f32 / pool::LAYER_PX as f32;
                let v0 = y as f32 / pool::LAYER_PX as f32;
                let order = lifted.order(item);
                (
                    layout.position(ItemId(item)),
                    [u0, v0, layer as f32, order],
                    mosaic.view.colors.1[item as usize],
                )
            })
            .collect();
        let mesh = match side {
            MapSide::A => &tier.mesh,
            MapSide::B => &tier.mesh_b,
        };
        if let Some(mut mesh) = meshes.get_mut(mesh) {
            fill_mesh(&mut mesh, &quads);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::neighbors::Neighbor;

    #[test]
    fn the_selected_hovered_and_neighbour_thumbnails_are_lifted_in_that_order() {
        let selection = Selection {
            selected: Some(ItemId(5)),
            hovered: Some(ItemId(9)),
            version: 1,
        };
        let grid = NeighborView {
            mode: Default::default(),
            nside: 2,
            seed: 0,
            computed_for: None,
            query_shown: None,
            items: [7, 3, 7]
                .iter()
                .map(|&i| Neighbor {
                    item: ItemId(i),
                    distance: 1.0,
                })
                .collect(),
        };
        let lifted = Lifted::new(&selection, Some(&grid));
        assert_eq!(
            [5, 9, 3, 7, 4].map(|i| lifted.level(i)),
            [Some(0), Some(1), Some(2), Some(2), None]
        );
        // Under the cap and the declutter, lifted items rank before every other.
        assert!((0..1000).all(|i| [5, 9, 3, 7].contains(&i) || lifted.rank(i) > 2));
        // Draw order: selected > hovered > neighbour > everything else (≤ 0.999, which the
        // shader does not lift).
        let orders = [5, 9, 3].map(|i| lifted.order(i));
        assert!(orders[0] > orders[1] && orders[1] > orders[2] && orders[2] > 0.9991);
        assert!((0..1000).filter(|i| lifted.level(*i).is_none()).all(|i| {
            let o = lifted.order(i);
            o > 0.0 && o <= 0.999
        }));
        // A new neighbour set or hover changes the view's key.
        let plain = Lifted::new(&selection, None);
        assert_ne!(plain.key(), lifted.key());
    }

    #[test]
    fn a_click_hits_the_topmost_thumbnail_under_it() {
        let view = ViewCache {
            // Topmost first: item 7 lies over item 3 where they overlap.
            hits: [
                vec![
                    (ItemId(7), [100.0, 100.0], 40.0),
                    (ItemId(3), [120.0, 100.0], 40.0),
                ],
                // B's half: its own thumbnails, in its own viewport's pixels.
                vec![(ItemId(5), [100.0, 100.0], 40.0)],
            ],
            ..ViewCache::default()
        };
        let at = |side, x, y| view.thumbnail_at(side, Vec2::new(x, y));
        assert_eq!(at(MapSide::A, 110.0, 100.0), Some(ItemId(7)));
        assert_eq!(at(MapSide::A, 135.0, 115.0), Some(ItemId(3)));
        assert_eq!(at(MapSide::A, 100.0, 125.0), None);
        assert_eq!(at(MapSide::B, 110.0, 100.0), Some(ItemId(5)));
        assert_eq!(at(MapSide::B, 135.0, 115.0), None);
    }
}
