//! The lasso: Shift + left drag draws a free-form polygon on screen; on release the visible
//! points inside it become the current set ([`super::item_set`]) and, unless the selection
//! panel's "lasso labels" is off, get the active label (Shift + Alt: their label removed) — one
//! batch, one undo step. Works the same in 2D and 3D because the test is in screen space.
//! In the split view a lasso drawn in either half takes the points inside it on that half's
//! map (a lasso across both takes from both).

use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::egui_wants_any_pointer_input;
use bevy_egui::{EguiContexts, EguiPrimaryContextPass, egui};
use rayon::prelude::*;

use super::camera::SplitCameras;
use super::item_set::{ItemSet, SetOrigin};
use super::labels::{LabelItems, Labels};
use super::state::{ColorState, Lasso, MapSide, Store};
use crate::dataset::ItemId;

/// Vertices closer than this (logical px) to the previous one are not added.
const MIN_STEP_PX: f32 = 3.0;

pub struct LassoPlugin;

impl Plugin for LassoPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Lasso>()
            .add_systems(
                Update,
                draw_lasso
                    .run_if(not(egui_wants_any_pointer_input))
                    .run_if(super::camera::pointer_over_plot),
            )
            .add_systems(Update, finish_lasso.after(draw_lasso))
            .add_systems(EguiPrimaryContextPass, paint_lasso);
    }
}

fn draw_lasso(
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut lasso: ResMut<Lasso>,
) {
    let Ok(window) = window.single() else { return };
    let Some(cursor) = window.cursor_position() else {
        return;
    };
    let shift = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    if shift && buttons.just_pressed(MouseButton::Left) {
        lasso.points = vec![cursor];
        lasso.active = true;
    } else if lasso.active
        && buttons.pressed(MouseButton::Left)
        && lasso
            .points
            .last()
            .is_none_or(|p| p.distance(cursor) >= MIN_STEP_PX)
    {
        lasso.points.push(cursor);
    }
}

/// On release: select (and label) the points inside, however the pointer left the plot
/// meanwhile.
#[allow(clippy::too_many_arguments)]
fn finish_lasso(
    keys: Res<ButtonInput<KeyCode>>,
    buttons: Res<ButtonInput<MouseButton>>,
    store: Res<Store>,
    color: Res<ColorState>,
    labels: Res<Labels>,
    mut set: ResMut<ItemSet>,
    cameras: Query<(&Camera, &GlobalTransform, &MapSide), SplitCameras>,
    mut lasso: ResMut<Lasso>,
    mut label: MessageWriter<LabelItems>,
) {
    if !lasso.active || buttons.pressed(MouseButton::Left) {
        return;
    }
    let polygon = std::mem::take(&mut lasso.points);
    lasso.active = false;
    if polygon.len() < 3 {
        return;
    }
    // Hidden groups are not selectable: what you see is what you label.
    let visible = |i: usize| color.point_color(ItemId(i as u32))[3] > 0;
    let mut inside: Vec<usize> = Vec::new();
    for (camera, global, side) in cameras.iter().filter(|(c, ..)| c.is_active) {
        let (Some(layout), _) = store.side(*side) else {
            continue;
        };
        // Only what the camera's own half shows: B's map projected by its camera lands
        // beyond A's half too, where A's map is drawn.
        let Some(rect) = camera.logical_viewport_rect() else {
            continue;
        };
        inside.extend(select_in_polygon(
            layout.n_items(),
            |i| {
                if !visible(i) {
                    return None;
                }
                // Where the point is drawn (a morph in motion moves A's).
                let at = store.drawn_position(*side, layout, ItemId(i as u32));
                camera
                    .world_to_viewport(global, at)
                    .ok()
                    .filter(|p| rect.contains(*p))
            },
            &polygon,
        ));
    }
    inside.sort_unstable();
    inside.dedup();
    if inside.is_empty() {
        return;
    }
    let items: Vec<u32> = inside.iter().map(|&i| i as u32).collect();
    set.replace(std::sync::Arc::new(items), SetOrigin::Lasso);
    if !set.lasso_labels {
        return;
    }
    let remove = keys.any_pressed([KeyCode::AltLeft, KeyCode::AltRight]);
    let name = if remove {
        None
    } else {
        match labels.active_name() {
            Some(n) => Some(n.to_owned()),
            None => return,
        }
    };
    label.write(LabelItems {
        items: inside.into_iter().map(|i| ItemId(i as u32)).collect(),
        label: name,
    });
}

fn paint_lasso(mut contexts: EguiContexts, lasso: Res<Lasso>) -> Result {
    if !lasso.active || lasso.points.len() < 2 {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?;
    let painter = ctx.layer_painter(egui::LayerId::new(
        egui::Order::Foreground,
        egui::Id::new("lasso"),
    ));
    let mut pts: Vec<egui::Pos2> = lasso.points.iter().map(|p| egui::pos2(p.x, p.y)).collect();
    pts.push(pts[0]);
    painter.add(egui::Shape::line(
        pts,
        egui::Stroke::new(1.5, egui::Color32::from_rgb(255, 230, 80)),
    ));
    Ok(())
}

/// Indices of the points (`None`: not on screen) inside `polygon` (even-odd rule; the polygon
/// closes itself).
pub fn points_in_polygon(points: &[Option<Vec2>], polygon: &[Vec2]) -> Vec<usize> {
    select_in_polygon(points.len(), |i| points[i], polygon)
}

/// Indices in `0..n`, ascending, whose screen position `screen(i)` (`None`: hidden or off
/// screen) lies inside `polygon` — on all cores: a lasso over a million points is a million
/// projections and crossing tests, which on one thread took longer than a frame.
pub fn select_in_polygon(
    n: usize,
    screen: impl Fn(usize) -> Option<Vec2> + Sync,
    polygon: &[Vec2],
) -> Vec<usize> {
    let Some(banded) = Banded::new(polygon) else {
        return Vec::new();
    };
    (0..n)
        .into_par_iter()
        .with_min_len(4096)
        .filter(|&i| screen(i).is_some_and(|p| banded.contains(p)))
        .collect()
}

/// Horizontal bands of the polygon's bounding box, each with the edges whose y-range meets
/// it: a point's crossing test visits only its band's edges, not all of a long lasso's.
struct Banded<'a> {
    polygon: &'a [Vec2],
    min: Vec2,
    max: Vec2,
    band_height: f32,
    /// `edges[starts[b]..starts[b + 1]]`: the edges (index of their first vertex) of band b.
    starts: Vec<u32>,
    edges: Vec<u32>,
}

impl<'a> Banded<'a> {
    fn new(polygon: &'a [Vec2]) -> Option<Self> {
        if polygon.len() < 3 {
            return None;
        }
        let (min, max) = polygon.iter().fold(
            (Vec2::splat(f32::INFINITY), Vec2::splat(f32::NEG_INFINITY)),
            |(lo, hi), p| (lo.min(*p), hi.max(*p)),
        );
        if !(min.is_finite() && max.is_finite()) {
            return None;
        }
        let bands = polygon.len().clamp(1, 1024);
        let band_height = ((max.y - min.y) / bands as f32).max(f32::MIN_POSITIVE);
        let band_of = |y: f32| (((y - min.y) / band_height) as usize).min(bands - 1);
        let mut lists = vec![Vec::new(); bands];
        for i in 0..polygon.len() {
            let (a, b) = (polygon[i], polygon[(i + 1) % polygon.len()]);
            for list in &mut lists[band_of(a.y.min(b.y))..=band_of(a.y.max(b.y))] {
                list.push(i as u32);
            }
        }
        let mut starts = Vec::with_capacity(bands + 1);
        starts.push(0);
        let mut edges = Vec::new();
        for list in lists {
            edges.extend(list);
            starts.push(edges.len() as u32);
        }
        Some(Self {
            polygon,
            min,
            max,
            band_height,
            starts,
            edges,
        })
    }

    /// Even-odd crossing test over the band's edges (the others cannot straddle `p.y`).
    fn contains(&self, p: Vec2) -> bool {
        if !(p.x >= self.min.x && p.x <= self.max.x && p.y >= self.min.y && p.y <= self.max.y) {
            return false;
        }
        let bands = self.starts.len() - 1;
        let band = (((p.y - self.min.y) / self.band_height) as usize).min(bands - 1);
        let n = self.polygon.len();
        let mut odd = false;
        for &e in &self.edges[self.starts[band] as usize..self.starts[band + 1] as usize] {
            let (a, b) = (self.polygon[e as usize], self.polygon[(e as usize + 1) % n]);
            if (a.y > p.y) != (b.y > p.y) {
                let x = a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x);
                if p.x < x {
                    odd = !odd;
                }
            }
        }
        odd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Winding number (a different algorithm) as the reference.
    fn winding(p: Vec2, poly: &[Vec2]) -> i32 {
        let mut w = 0;
        for i in 0..poly.len() {
            let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
            let cross = (b - a).perp_dot(p - a);
            if a.y <= p.y {
                if b.y > p.y && cross > 0.0 {
                    w += 1;
                }
            } else if b.y <= p.y && cross < 0.0 {
                w -= 1;
            }
        }
        w
    }

    /// Even-odd over every edge, no bands: the rule `select_in_polygon` must keep.
    fn even_odd(p: Vec2, poly: &[Vec2]) -> bool {
        let mut odd = false;
        for i in 0..poly.len() {
            let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
            if (a.y > p.y) != (b.y > p.y) && p.x < a.x + (p.y - a.y) / (b.y - a.y) * (b.x - a.x) {
                odd = !odd;
            }
        }
        odd
    }

    #[test]
    fn long_self_crossing_lassos_keep_the_even_odd_rule() {
        let mut rng = crate::rng::XorShift::new(11);
        let mut unit = move || (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        for vertices in [3, 40, 700] {
            // A random scribble: crosses itself many times; vertices on the points' rows too.
            let poly: Vec<Vec2> = (0..vertices)
                .map(|_| Vec2::new(unit() * 100.0, (unit() * 100.0).round()))
                .collect();
            let pts: Vec<Option<Vec2>> = (0..3_000)
                .map(|k| (k % 7 != 0).then(|| Vec2::new(unit() * 110.0, (unit() * 110.0).round())))
                .collect();
            let got = points_in_polygon(&pts, &poly);
            let want: Vec<usize> = (0..pts.len())
                .filter(|&i| pts[i].is_some_and(|p| even_odd(p, &poly)))
                .collect();
            assert_eq!(got, want, "{vertices} vertices");
            assert!(!want.is_empty());
        }
        // Degenerate lassos select nothing.
        let flat = [Vec2::ZERO, Vec2::X, Vec2::new(2.0, 0.0)];
        assert!(points_in_polygon(&[Some(Vec2::new(1.0, 0.0))], &flat).is_empty());
        let nan = [Vec2::ZERO, Vec2::X, Vec2::NAN];
        assert!(points_in_polygon(&[Some(Vec2::new(0.5, 0.0))], &nan).is_empty());
    }

    #[test]
    fn concave_and_random_polygons_match_a_brute_force_reference() {
        // A "C" shape: the notch is outside.
        let c = [
            Vec2::new(0.0, 0.0),
            Vec2::new(10.0, 0.0),
            Vec2::new(10.0, 3.0),
            Vec2::new(3.0, 3.0),
            Vec2::new(3.0, 7.0),
            Vec2::new(10.0, 7.0),
            Vec2::new(10.0, 10.0),
            Vec2::new(0.0, 10.0),
        ];
        let pts = [
            Some(Vec2::new(1.0, 5.0)),
            Some(Vec2::new(6.0, 5.0)),
            Some(Vec2::new(6.0, 1.5)),
            None,
            Some(Vec2::new(11.0, 5.0)),
        ];
        assert_eq!(points_in_polygon(&pts, &c), [0, 2]);
        // Random star-shaped (concave) polygons against the winding-number reference.
        let mut s = 7u64;
        let mut rnd = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 10_000) as f32 / 10_000.0
        };
        for _ in 0..20 {
            let n = 5 + (rnd() * 20.0) as usize;
            let poly: Vec<Vec2> = (0..n)
                .map(|k| {
                    let a = k as f32 / n as f32 * std::f32::consts::TAU;
                    let r = 20.0 + rnd() * 80.0;
                    Vec2::new(100.0 + r * a.cos(), 100.0 + r * a.sin())
                })
                .collect();
            let pts: Vec<Option<Vec2>> = (0..500)
                .map(|_| Some(Vec2::new(rnd() * 220.0, rnd() * 220.0)))
                .collect();
            let got = points_in_polygon(&pts, &poly);
            let want: Vec<usize> = (0..pts.len())
                .filter(|&i| pts[i].is_some_and(|p| winding(p, &poly) != 0))
                .collect();
            assert_eq!(got, want);
        }
    }
}
