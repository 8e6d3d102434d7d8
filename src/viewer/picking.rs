//! Picking: which point is under the cursor, by a k-d tree over the layout (kiddo).
//!
//! One query per click or hover, logarithmic in N — never a hit test per point. The view gives
//! a ray (orthographic: parallel rays, perspective: from the eye) and how wide a pixel is in
//! world units at distance `t` along it; the pick is the point closest to the ray, in pixels,
//! within [`PICK_RADIUS_PX`]. A 2D layout is a flat 3D one (z = 0), so one index serves both
//! views. The split view has an index per map side: the cursor picks from the map of the half
//! it is over.

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::{egui_wants_any_keyboard_input, egui_wants_any_pointer_input};
use kiddo::{ImmutableKdTree, SquaredEuclidean};

use super::camera::{SplitCameras, ViewSettings};
use super::state::{MapSide, SelectItem, Selection, Store};
use crate::dataset::ItemId;

/// How far from the cursor (in logical pixels) a point still counts as hit.
pub const PICK_RADIUS_PX: f32 = 8.0;
/// Bound on the spheres marched along one ray (a very deep 3D layout seen very close up).
const MAX_STEPS: usize = 50_000;

/// Each map side's index (`MapSide::index`; B's only while the split view shows it).
#[derive(Resource, Default)]
struct PickIndexes([Option<PickIndex>; 2]);

/// The layout's points in a k-d tree, plus their bounds.
pub struct PickIndex {
    tree: ImmutableKdTree<f32, 3>,
    points: Vec<[f32; 3]>,
    min: [f32; 3],
    max: [f32; 3],
}

/// A ray in world space: `origin + t · dir`, `dir` unit length.
#[derive(Debug, Clone, Copy)]
pub struct Ray {
    pub origin: [f32; 3],
    pub dir: [f32; 3],
}

impl Ray {
    fn at(&self, t: f32) -> [f32; 3] {
        [
            self.origin[0] + t * self.dir[0],
            self.origin[1] + t * self.dir[1],
            self.origin[2] + t * self.dir[2],
        ]
    }
}

/// World size of one pixel along a ray: `base + slope · t` (orthographic: slope 0).
#[derive(Debug, Clone, Copy)]
pub struct PixelScale {
    pub base: f32,
    pub slope: f32,
}

impl PixelScale {
    fn at(&self, t: f32) -> f32 {
        self.base + self.slope * t.max(0.0)
    }
}

impl PickIndex {
    /// `coords`: N × `dims` (2 or 3), row-major. `None` for an empty layout.
    pub fn new(coords: &[f32], dims: usize) -> Option<Self> {
        let points: Vec<[f32; 3]> = coords
            .chunks_exact(dims)
            .map(|c| [c[0], c[1], if dims > 2 { c[2] } else { 0.0 }])
            .collect();
        let tree = ImmutableKdTree::new_from_slice(&points).ok()?;
        let mut min = [f32::INFINITY; 3];
        let mut max = [f32::NEG_INFINITY; 3];
        for p in &points {
            for a in 0..3 {
                min[a] = min[a].min(p[a]);
                max[a] = max[a].max(p[a]);
            }
        }
        Some(Self {
            tree,
            points,
            min,
            max,
        })
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The point nearest the ray within `radius_px` pixels; the nearest to the eye among equals.
    pub fn pick(&self, ray: &Ray, px: PixelScale, radius_px: f32) -> Option<ItemId> {
        self.pick_visible(ray, px, radius_px, &|_| true)
    }

    /// As [`Self::pick`], among the items `visible` accepts (hidden groups, label filter).
    pub fn pick_visible(
        &self,
        ray: &Ray,
        px: PixelScale,
        radius_px: f32,
        visible: &dyn Fn(ItemId) -> bool,
    ) -> Option<ItemId> {
        let reach = |t: f32| px.at(t) * radius_px;
        // Only the part of the ray inside the data's bounds (grown by the pick reach) can hit.
        let margin = reach(0.0).max(px.base * radius_px);
        let (t0, t1) = self.slab(ray, margin, px, radius_px)?;
        let mut best: Option<(f32, f32, u32)> = None; // (pixel distance, t, item)
        let mut t = t0;
        for _ in 0..MAX_STEPS {
            let r = reach(t);
            // Spheres of radius r·√2 every r cover the cylinder of radius r around the ray.
            let centre = ray.at(t + r * 0.5);
            let within = 2.0 * r * r;
            let found = self
                .tree
                .query(&centre)
                .within::<SquaredEuclidean<f32>>(within)
                .unsorted()
                .execute();
            for hit in found {
                if !visible(ItemId(hit.item)) {
                    continue;
                }
                let p = self.points[hit.item as usize];
                let (off, along) = perpendicular(ray, p);
                let d_px = off / px.at(along);
                if d_px <= radius_px {
                    let better = match best {
                        None => true,
                        Some((bd, bt, bi)) => (d_px, along, hit.item) < (bd, bt, bi),
                    };
                    if better {
                        best = Some((d_px, along, hit.item));
                    }
                }
            }
            t += r.max(f32::EPSILON);
            if t > t1 {
                break;
            }
        }
        best.map(|(_, _, item)| ItemId(item))
    }

    /// The interval of `t` where the ray is within the bounds grown by the pick reach.
    fn slab(&self, ray: &Ray, margin: f32, px: PixelScale, radius_px: f32) -> Option<(f32, f32)> {
        let (mut t0, mut t1) = (f32::NEG_INFINITY, f32::INFINITY);
        // The far end of the box sets the largest reach (perspective: it grows with t).
        let far = (0..3)
            .map(|a| {
                (self.max[a] - ray.origin[a])
                    .abs()
                    .max((self.min[a] - ray.origin[a]).abs())
            })
            .fold(0.0f32, |acc, d| acc + d * d)
            .sqrt();
        let grow = margin.max(px.at(far) * radius_px);
        for a in 0..3 {
            let (lo, hi) = (self.min[a] - grow, self.max[a] + grow);
            let d = ray.dir[a];
            if d.abs() < 1e-12 {
                if ray.origin[a] < lo || ray.origin[a] > hi {
                    return None;
                }
            } else {
                let (ta, tb) = ((lo - ray.origin[a]) / d, (hi - ray.origin[a]) / d);
                t0 = t0.max(ta.min(tb));
                t1 = t1.min(ta.max(tb));
            }
        }
        // Perspective rays start at the eye: nothing behind it.
        let t0 = if px.slope > 0.0 { t0.max(0.0) } else { t0 };
        (t0 <= t1).then_some((t0, t1))
    }
}

/// Which layout version each side's index was built from, and when.
#[derive(Resource, Default)]
struct IndexState([(u64, f64); 2]);

/// Where the left button went down (window pixels): a release close by is a click, not a drag.
#[derive(Resource, Default)]
struct PressAt(Option<Vec2>);

/// A press and release within this many pixels select; more is a drag (pan/orbit).
const CLICK_SLOP_PX: f32 = 4.0;

/// Whether the pointer picks at all: off for headless captures, where the X server's idle
/// cursor would otherwise hover some point and put a tooltip into the picture.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointerPicking(pub bool);

pub struct PickingPlugin;

impl Plugin for PickingPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<IndexState>()
            .init_resource::<PickIndexes>()
            .insert_resource(PointerPicking(true))
            .init_resource::<PressAt>()
            .add_systems(
                Update,
                (
                    update_pick_index,
                    hover_and_click
                        .run_if(not(egui_wants_any_pointer_input))
                        .run_if(super::camera::pointer_over_plot)
                        .run_if(|p: Res<PointerPicking>| p.0),
                    clear_selection_on_escape.run_if(not(egui_wants_any_keyboard_input)),
                )
                    .chain(),
            );
    }
}

/// Rebuild the index when the layout changes; while a layout animates, at most twice a second
/// (a build over a million points takes a noticeable fraction of a frame budget).
fn update_pick_index(
    store: Res<Store>,
    view: Res<ViewSettings>,
    time: Res<Time<Real>>,
    mut state: ResMut<IndexState>,
    mut indexes: ResMut<PickIndexes>,
) {
    let now = time.elapsed_secs_f64();
    for (side, layout, version) in view.drawn_sides(&store) {
        let (built, at) = &mut state.0[side.index()];
        if *built == version || now - *at < 0.5 && *built != 0 {
            continue;
        }
        (*built, *at) = (version, now);
        if let Some(index) = PickIndex::new(&layout.coords, layout.dims) {
            indexes.0[side.index()] = Some(index);
        }
    }
}

/// The pick ray and pixel scale under the cursor, from the active camera.
fn cursor_ray(
    window: &Window,
    camera: &Camera,
    global: &GlobalTransform,
    projection: &Projection,
) -> Option<(Ray, PixelScale)> {
    let cursor = window.cursor_position()?;
    let rect = camera.logical_viewport_rect()?;
    if !rect.contains(cursor) {
        return None;
    }
    // Bevy's viewport conversions take window coordinates (the viewport offset included).
    let ray = camera.viewport_to_world(global, cursor).ok()?;
    let px = match projection {
        Projection::Orthographic(o) => PixelScale {
            base: o.scale,
            slope: 0.0,
        },
        Projection::Perspective(p) => PixelScale {
            base: 0.0,
            slope: 2.0 * (p.fov * 0.5).tan() / rect.height().max(1.0),
        },
        Projection::Custom(_) => return None,
    };
    Some((
        Ray {
            origin: ray.origin.to_array(),
            dir: ray.direction.as_vec3().to_array(),
        },
        px,
    ))
}

/// Hover shows a tooltip (the UI reads `Selection::hovered`); a click selects.
#[allow(clippy::too_many_arguments)]
fn hover_and_click(
    indexes: Res<PickIndexes>,
    window: Query<&Window, With<PrimaryWindow>>,
    cameras: Query<(&Camera, &GlobalTransform, &Projection, &MapSide), SplitCameras>,
    buttons: Res<ButtonInput<MouseButton>>,
    mut press: ResMut<PressAt>,
    (color, labels): (
        Res<super::state::ColorState>,
        Option<Res<super::labels::Labels>>,
    ),
    mosaic: Option<Res<super::mosaic::Mosaic>>,
    store: Res<Store>,
    mut selection: ResMut<Selection>,
    mut select: MessageWriter<SelectItem>,
) {
    let Ok(window) = window.single() else { return };
    // The camera of the half under the cursor (split view), else the active one.
    let over = |c: &Camera| {
        window
            .cursor_position()
            .zip(c.logical_viewport_rect())
            .is_some_and(|(p, r)| r.contains(p))
    };
    let mut active = cameras.iter().filter(|(c, ..)| c.is_active);
    let Some((camera, global, projection, side)) = active
        .clone()
        .find(|(c, ..)| over(c))
        .or_else(|| active.find(|(.., s)| **s == MapSide::A))
    else {
        return;
    };
    let Some(index) = &indexes.0[side.index()] else {
        return;
    };
    let visible = |item: ItemId| {
        color.point_color(item)[3] > 0 && labels.as_ref().is_none_or(|l| l.shows(item))
    };
    // A thumbnail under the cursor is what the user points at; else the nearest dot.
    let on_thumbnail = window
        .physical_cursor_position()
        .zip(camera.physical_viewport_rect())
        .zip(mosaic)
        .and_then(|((at, rect), mosaic)| mosaic.thumbnail_at(*side, at - rect.min.as_vec2()));
    // A morph in motion moves A's points on the GPU, away from the index: nothing to point at
    // until they stop (a second at most).
    let moving = *side == MapSide::A && store.morph.is_some();
    let picked = on_thumbnail.filter(|_| !moving).or_else(|| {
        if moving {
            return None;
        }
        cursor_ray(window, camera, global, projection)
            .and_then(|(ray, px)| index.pick_visible(&ray, px, PICK_RADIUS_PX, &visible))
    });
    if selection.hovered != picked {
        selection.hovered = picked;
    }
    let cursor = window.cursor_position();
    if buttons.just_pressed(MouseButton::Left) {
        press.0 = cursor;
    }
    if buttons.just_released(MouseButton::Left) {
        let was_click = match (press.0.take(), cursor) {
            (Some(a), Some(b)) => a.distance(b) <= CLICK_SLOP_PX,
            _ => false,
        };
        if was_click && let Some(item) = picked {
            select.write(SelectItem {
                item: Some(item),
                focus: false,
            });
        }
    }
}

fn clear_selection_on_escape(
    keys: Res<ButtonInput<KeyCode>>,
    mut select: MessageWriter<SelectItem>,
) {
    if keys.just_pressed(KeyCode::Escape) {
        select.write(SelectItem {
            item: None,
            focus: false,
        });
    }
}

/// Distance of `p` from the ray, and how far along the ray its foot lies.
fn perpendicular(ray: &Ray, p: [f32; 3]) -> (f32, f32) {
    let v = [
        p[0] - ray.origin[0],
        p[1] - ray.origin[1],
        p[2] - ray.origin[2],
    ];
    let along = v[0] * ray.dir[0] + v[1] * ray.dir[1] + v[2] * ray.dir[2];
    let off2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2] - along * along;
    (off2.max(0.0).sqrt(), along)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down_at(x: f32, y: f32) -> Ray {
        Ray {
            origin: [x, y, 100.0],
            dir: [0.0, 0.0, -1.0],
        }
    }

    const ORTHO: PixelScale = PixelScale {
        base: 0.01,
        slope: 0.0,
    };

    #[test]
    fn picks_the_nearest_2d_point_within_the_radius() {
        // A grid of points one unit apart.
        let coords: Vec<f32> = (0..100)
            .flat_map(|i| [(i % 10) as f32, (i / 10) as f32])
            .collect();
        let index = PickIndex::new(&coords, 2).expect("index");
        // 0.05 world units = 5 px from item 34 = (4, 3).
        assert_eq!(
            index.pick(&down_at(4.05, 3.0), ORTHO, 8.0),
            Some(ItemId(34))
        );
        assert_eq!(
            index.pick(&down_at(4.0, 2.96), ORTHO, 8.0),
            Some(ItemId(34))
        );
        // 0.3 units = 30 px: nothing under the cursor.
        assert_eq!(index.pick(&down_at(4.3, 3.0), ORTHO, 8.0), None);
        // Zoomed out (a pixel is half a unit): the nearest of several in reach.
        let wide = PixelScale {
            base: 0.5,
            slope: 0.0,
        };
        assert_eq!(index.pick(&down_at(6.8, 7.1), wide, 8.0), Some(ItemId(77)));
        assert_eq!(index.pick(&down_at(50.0, 50.0), wide, 8.0), None);
    }

    #[test]
    fn a_perspective_ray_picks_the_point_it_passes_closest_to() {
        // Points along the z axis, plus one just off the ray near the eye.
        let mut coords: Vec<f32> = (0..50).flat_map(|i| [5.0, 5.0, i as f32 * 0.5]).collect();
        coords.extend_from_slice(&[0.3, 0.0, 20.0]);
        let index = PickIndex::new(&coords, 3).expect("index");
        let eye = [0.0, 0.0, 30.0];
        let px = PixelScale {
            base: 0.0,
            slope: 0.001,
        };
        // Looking straight down -z from the eye: (0.3, 0, 20) is 0.3 / 0.01 = 30 px off; the
        // column at (5, 5) is far off.
        let straight = Ray {
            origin: eye,
            dir: [0.0, 0.0, -1.0],
        };
        assert_eq!(index.pick(&straight, px, 8.0), None);
        assert_eq!(index.pick(&straight, px, 40.0), Some(ItemId(50)));
        // Aimed at (5, 5, 10): hits item 20 exactly, although others of the column are near.
        let target = [5.0f32, 5.0, 10.0];
        let d = [target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]];
        let len = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        let aimed = Ray {
            origin: eye,
            dir: [d[0] / len, d[1] / len, d[2] / len],
        };
        assert_eq!(index.pick(&aimed, px, 8.0), Some(ItemId(20)));
        // Aimed away from the data: nothing.
        let away = Ray {
            origin: eye,
            dir: [0.0, 0.0, 1.0],
        };
        assert_eq!(index.pick(&away, px, 8.0), None);
    }
}
