//! Which items the camera can show, found without a pass over all N: the layout's uniform grid
//! ([`crate::numeric::grid`], built once per layout) is queried with a conservative world-space
//! box of the view ([`ThumbView::bounds`]); the caller still applies its exact per-item test, so
//! a query returns the same items as a scan, only without visiting the rest.

use bevy::math::{Mat4, Vec2, Vec3, Vec4Swizzles};

use super::state::LayoutCoords;
use crate::numeric::grid::UniformGrid;

/// The layout's items in the grid that the mosaic asks which items a view can show.
pub fn grid_of(layout: &LayoutCoords) -> UniformGrid {
    UniformGrid::build(&layout.coords, layout.dims)
}

/// Every item of `grid` in a cell that meets the world-space box `lo..=hi`.
pub fn for_each_in(grid: &UniformGrid, lo: Vec3, hi: Vec3, f: impl FnMut(u32)) {
    grid.for_each_in(lo.to_array(), hi.to_array(), f);
}

/// How thumbnails project in the current view: which items get one, where and how big.
#[derive(Debug, Clone, Copy)]
pub struct ThumbView {
    pub clip_from_world: Mat4,
    pub clip_from_view: Mat4,
    /// The camera's transform: the box is built in view space and brought to the world with
    /// it, at depth 0 for an orthographic view. (It was once unprojected from the near and far
    /// planes, and its rounding pad taken from that extent: at the plot camera's ±10⁶ depth
    /// range the pad was 200 world units, a 40× zoomed view's box was the whole map, and every
    /// camera move visited all 10⁶ items: 80–140 ms a move at 1 M.)
    pub world_from_view: Mat4,
    /// A thumbnail's side in world units.
    pub world: f32,
    /// Pixels per clip unit (vertical).
    pub px_per_clip: f32,
    /// Half the viewport, in pixels.
    pub half: Vec2,
    /// The smallest thumbnail drawn, in pixels (smaller ones stay dots).
    pub min_px: f32,
}

impl ThumbView {
    /// The view of a camera (`clip_from_view`, its transform `world_from_view`) over a
    /// viewport of `viewport` physical pixels, for thumbnails `world` units wide.
    pub fn new(
        clip_from_view: Mat4,
        world_from_view: Mat4,
        world: f32,
        viewport: bevy::math::UVec2,
        min_px: f32,
    ) -> Self {
        let half = viewport.as_vec2() * 0.5;
        Self {
            clip_from_world: clip_from_view * world_from_view.inverse(),
            clip_from_view,
            world_from_view,
            world,
            px_per_clip: clip_from_view.y_axis.y * half.y,
            half,
            min_px,
        }
    }

    /// The thumbnail of a point at `p`: its side and centre in pixels and its depth (clip w),
    /// if it is at least `min_px` wide and reaches into the viewport.
    #[inline]
    pub fn project(&self, p: Vec3) -> Option<(f32, Vec2, f32)> {
        let clip = self.clip_from_world * p.extend(1.0);
        if clip.w <= 1e-6 {
            return None;
        }
        let size_px = self.world * self.px_per_clip / clip.w;
        if size_px < self.min_px {
            return None;
        }
        let ndc = clip.xy() / clip.w;
        let half = self.half;
        let screen = Vec2::new((ndc.x + 1.0) * half.x, (1.0 - ndc.y) * half.y);
        let reach = size_px * 0.5;
        let outside = screen.x < -reach
            || screen.y < -reach
            || screen.x > 2.0 * half.x + reach
            || screen.y > 2.0 * half.y + reach;
        (!outside).then_some((size_px, screen, clip.w))
    }

    /// A world-space box holding every point [`Self::project`] accepts, or `None` when it
    /// accepts none (an orthographic view zoomed out below `min_px`, a degenerate camera).
    pub fn bounds(&self) -> Option<(Vec3, Vec3)> {
        let world_from_view = self.world_from_view;
        if !world_from_view.is_finite()
            || !self.clip_from_view.is_finite()
            || self.half.min_element() <= 0.0
        {
            return None;
        }
        let size_at_unit_depth = self.world * self.px_per_clip;
        // The thumbnail's half side in clip units at depth 1.
        let reach = Vec2::splat(size_at_unit_depth * 0.5) / self.half;
        let square = [(-1.0, -1.0), (-1.0, 1.0), (1.0, -1.0), (1.0, 1.0)];
        let mut corners = Vec::with_capacity(8);
        let v = self.clip_from_view;
        let orthographic = v.w_axis.w == 1.0;
        if !orthographic {
            // Perspective: thumbnails shrink with depth d (side = size_at_unit_depth / d), so
            // only points nearer than d_max are big enough. At depth d a point is accepted
            // when its view-space offset is within (d·(1 + |skew|) + reach·… ) / focal: a box in
            // view space up to d_max, whose corners bound the region in world space.
            let d_max = size_at_unit_depth / self.min_px;
            if !d_max.is_finite() || d_max <= 0.0 {
                return None;
            }
            let focal = Vec2::new(v.x_axis.x, v.y_axis.y)
                .abs()
                .max(Vec2::splat(1e-12));
            let skew = Vec2::new(v.z_axis.x, v.z_axis.y).abs();
            let extent = (Vec2::splat(d_max) * (Vec2::ONE + skew) + reach) / focal;
            for z in [0.0, -d_max] {
                for (sx, sy) in square {
                    let p = Vec3::new(sx * extent.x, sy * extent.y, z);
                    corners.push(world_from_view.transform_point3(p));
                }
            }
        } else {
            // Orthographic: every point has the same size; the viewport widened by it. Clip x
            // = scale·x + offset in view space, whatever the depth: the box's corners at
            // depth 0, stretched along the view axis below.
            if size_at_unit_depth < self.min_px {
                return None;
            }
            let scale = Vec2::new(v.x_axis.x, v.y_axis.y);
            if scale.abs().min_element() < 1e-30 {
                return None;
            }
            let offset = Vec2::new(v.w_axis.x, v.w_axis.y);
            for (sx, sy) in square {
                let ndc = Vec2::new(sx * (1.0 + reach.x), sy * (1.0 + reach.y));
                let p = (ndc - offset) / scale;
                corners.push(world_from_view.transform_point3(p.extend(0.0)));
            }
        }
        let lo = corners.iter().fold(Vec3::INFINITY, |m, &p| m.min(p));
        let hi = corners.iter().fold(Vec3::NEG_INFINITY, |m, &p| m.max(p));
        if !(lo.is_finite() && hi.is_finite()) {
            return None;
        }
        // A hair wider: the exact test rounds in f32 too, relative to the coordinates.
        let magnitude = lo.abs().max(hi.abs()).max_element();
        let pad = (hi - lo).max_element().max(magnitude).max(1.0) * 1e-4;
        let (mut lo, mut hi) = (lo - pad, hi + pad);
        if orthographic {
            // `project` does not clip an orthographic view by depth: neither does the box.
            let along = world_from_view.z_axis.xyz();
            for k in 0..3 {
                if along[k].abs() > 1e-6 * along.length() {
                    (lo[k], hi[k]) = (f32::NEG_INFINITY, f32::INFINITY);
                }
            }
        }
        Some((lo, hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::viewer::state::test_layout as layout;

    fn position(layout: &LayoutCoords, i: usize) -> Vec3 {
        layout.position(crate::dataset::ItemId(i as u32))
    }

    fn scatter(n: usize, dims: usize, seed: u64) -> LayoutCoords {
        let mut rng = crate::rng::XorShift::new(seed);
        // Clusters of very different density, as real maps have.
        let coords = (0..n * dims)
            .map(|k| {
                let cluster = ((k / dims) % 5) as f32;
                let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                cluster * 7.0 + u * (0.1 + cluster * cluster)
            })
            .collect();
        layout(coords, dims)
    }

    #[test]
    fn a_box_query_finds_exactly_the_items_a_scan_finds() {
        for dims in [2, 3] {
            let l = scatter(5_000, dims, dims as u64);
            let grid = grid_of(&l);
            assert_eq!(grid.len(), 5_000);
            let mut rng = crate::rng::XorShift::new(9);
            let mut unit = || (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
            for _ in 0..200 {
                let a = Vec3::new(unit(), unit(), unit()) * 60.0 - 10.0;
                let b = a + Vec3::new(unit(), unit(), unit()) * 15.0;
                let (lo, hi) = (a.min(b), a.max(b));
                let inside = |p: Vec3| {
                    p.x >= lo.x
                        && p.x <= hi.x
                        && p.y >= lo.y
                        && p.y <= hi.y
                        && (dims == 2 || (p.z >= lo.z && p.z <= hi.z))
                };
                let mut want: Vec<u32> = (0..5_000u32)
                    .filter(|&i| inside(position(&l, i as usize)))
                    .collect();
                let mut got = Vec::new();
                for_each_in(&grid, lo, hi, |i| {
                    if inside(position(&l, i as usize)) {
                        got.push(i);
                    }
                });
                got.sort_unstable();
                want.sort_unstable();
                assert_eq!(got, want, "dims {dims}, box {lo}..{hi}");
            }
        }
    }

    /// What the mosaic does per camera move, by the grid and by a scan of every item.
    fn accepted(
        view: &ThumbView,
        l: &LayoutCoords,
        grid: &UniformGrid,
    ) -> (Vec<u32>, Vec<u32>, usize) {
        let scan: Vec<u32> = (0..l.n_items() as u32)
            .filter(|&i| view.project(position(l, i as usize)).is_some())
            .collect();
        let (mut by_grid, mut visited) = (Vec::new(), 0);
        if let Some((lo, hi)) = view.bounds() {
            for_each_in(grid, lo, hi, |i| {
                visited += 1;
                if view.project(position(l, i as usize)).is_some() {
                    by_grid.push(i);
                }
            });
        }
        by_grid.sort_unstable();
        (scan, by_grid, visited)
    }

    #[test]
    fn the_grid_finds_the_thumbnails_a_scan_finds_in_real_views() {
        use bevy::camera::{CameraProjection, OrthographicProjection, PerspectiveProjection};
        use bevy::transform::components::Transform;
        let half = Vec2::new(800.0, 450.0);
        let mut rng = crate::rng::XorShift::new(5);
        let mut unit = move || (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        let (mut some_shown, mut some_skipped) = (0, 0);
        for dims in [2, 3] {
            let l = scatter(4_000, dims, 3);
            let grid = grid_of(&l);
            for case in 0..80 {
                let target = Vec3::new(unit() * 40.0, unit() * 40.0, 0.0);
                let (clip_from_view, world_from_view) = if dims == 3 && case % 2 == 0 {
                    let p = PerspectiveProjection {
                        fov: 0.8,
                        aspect_ratio: half.x / half.y,
                        near: 0.05,
                        ..PerspectiveProjection::default()
                    };
                    let eye = target + (Vec3::new(unit(), unit(), unit()) - 0.5) * 30.0;
                    let look = Transform::from_translation(eye).looking_at(target, Vec3::Y);
                    (p.get_clip_from_view(), look.to_matrix())
                } else {
                    // Half the cases with the plot camera's own depth range (±10⁶).
                    let mut o = if case % 4 == 1 {
                        crate::viewer::camera::plot_projection_2d()
                    } else {
                        OrthographicProjection::default_3d()
                    };
                    o.scale = 0.002 + unit() * unit() * 0.2;
                    o.update(2.0 * half.x, 2.0 * half.y);
                    let eye = target + Vec3::Z * 50.0;
                    (o.get_clip_from_view(), Mat4::from_translation(eye))
                };
                let view = ThumbView::new(
                    clip_from_view,
                    world_from_view,
                    0.05 + unit() * 2.0,
                    (2.0 * half).as_uvec2(),
                    4.0,
                );
                let (scan, by_grid, visited) = accepted(&view, &l, &grid);
                assert_eq!(by_grid, scan, "dims {dims} case {case}: {view:?}");
                if clip_from_view.w_axis.w == 1.0
                    && let Some((lo, hi)) = view.bounds()
                {
                    // The box is the viewport widened by one thumbnail, nothing more: its
                    // width in world units is the view's (WindowSize: `scale` a pixel).
                    let span = Vec2::new(clip_from_view.x_axis.x, clip_from_view.y_axis.y);
                    let widest = 2.0 / span.abs() + Vec2::splat(view.world);
                    let got = (hi - lo).truncate();
                    assert!(
                        got.x <= widest.x * 1.01 + 0.01 && got.y <= widest.y * 1.01 + 0.01,
                        "dims {dims} case {case}: box {got} for a view of {widest}"
                    );
                }
                some_shown += usize::from(!scan.is_empty());
                some_skipped += usize::from(visited < l.n_items() / 2);
            }
        }
        // The cases are not all empty views, and the grid saves work in many of them.
        assert!(
            some_shown > 30 && some_skipped > 30,
            "{some_shown} {some_skipped}"
        );
    }
}
