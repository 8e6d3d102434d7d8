//! The split view's camera (`--view split`, `B`, with `--compare`): the plot's area halved, A's
//! map drawn by the active camera on the left and B's by a mirror camera ([`ViewB`], render
//! layer 1, where B's meshes are) on the right. The mirror takes the active camera's transform
//! and projection every frame, so a pan, zoom or orbit in either half moves both maps alike and
//! an item that kept its place is at the same spot in both halves.

use bevy::camera::visibility::RenderLayers;
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_panorbit_camera::{ActiveCameraData, PanOrbitCamera};

use super::{PlotCamera, View2d, ViewSettings};
use crate::viewer::state::MapSide;

/// Logical pixels between the split view's halves (the divider).
pub const SPLIT_GAP_PX: f32 = 2.0;

/// The plot's halves in the split view, in the same pixels as `plot` (logical or physical,
/// `gap` in the same unit): A's on the left, B's on the right, equal in width so one camera's
/// projection fits both. Not split: the whole plot and no B.
pub fn plot_halves(plot: Rect, split: bool, gap: f32) -> (Rect, Option<Rect>) {
    if !split {
        return (plot, None);
    }
    let w = ((plot.width() - gap) * 0.5).floor().max(1.0);
    let a = Rect::new(plot.min.x, plot.min.y, plot.min.x + w, plot.max.y);
    // (A plot narrower than the gap: B's half is cut to it, never past it.)
    let b_min = (plot.min.x + w + gap).min(plot.max.x - 1.0);
    let b_max = (b_min + w).min(plot.max.x);
    (a, Some(Rect::new(b_min, plot.min.y, b_max, plot.max.y)))
}

/// Marks the split view's second camera: B's half, a mirror of the active one.
#[derive(Component)]
pub struct ViewB;

/// Everything B's half draws is on this render layer, seen only by [`ViewB`].
pub fn layer_b() -> RenderLayers {
    RenderLayers::layer(MapSide::B.index())
}

/// A plot camera, as B's mirror reads it (disjoint from B's for the mutable query).
type MirroredCamera = (PlotCamera, Without<ViewB>);

/// B's camera sees what the active one sees: its transform and projection, copied after the
/// orbit camera moved and before transforms and projections are computed for this frame.
pub(super) fn mirror_to_b(
    settings: Res<ViewSettings>,
    active: Query<(&Transform, &Projection, Has<View2d>), MirroredCamera>,
    mut b: Query<(&mut Transform, &mut Projection, &Camera), With<ViewB>>,
) {
    let Ok((mut transform, mut projection, camera)) = b.single_mut() else {
        return;
    };
    if !camera.is_active {
        return;
    }
    let Some((t, p, _)) = active
        .iter()
        .find(|(_, _, two_d)| *two_d == settings.is_2d())
    else {
        return;
    };
    if *transform != *t {
        *transform = *t;
    }
    if !same_projection(&projection, p) {
        *projection = p.clone();
    }
}

/// Whether two projections are the same as far as the plot cameras use them (`Projection`
/// has no `PartialEq`; writing it every frame would redo the camera's matrices every frame).
fn same_projection(a: &Projection, b: &Projection) -> bool {
    match (a, b) {
        (Projection::Orthographic(a), Projection::Orthographic(b)) => {
            (a.scale, a.near, a.far) == (b.scale, b.near, b.far)
        }
        (Projection::Perspective(a), Projection::Perspective(b)) => {
            (a.fov, a.near, a.far, a.aspect_ratio) == (b.fov, b.near, b.far, b.aspect_ratio)
        }
        _ => false,
    }
}

/// The orbit camera takes drags and wheel turns from either half of the split view (the
/// orbit plugin would listen only within its own camera's viewport); `gate_orbit` still says
/// whether it listens at all.
pub(super) fn steer_orbit_from_either_half(
    window: Query<&Window, With<PrimaryWindow>>,
    orbit: Query<(Entity, &Camera), With<PanOrbitCamera>>,
    mut active: ResMut<ActiveCameraData>,
) {
    let (Ok(window), Ok((entity, camera))) = (window.single(), orbit.single()) else {
        return;
    };
    active.set_if_neq(ActiveCameraData {
        entity: Some(entity),
        viewport_size: camera.logical_viewport_size(),
        window_size: Some(Vec2::new(window.width(), window.height())),
        manual: true,
    });
}

/// A window position in B's half (the split view), moved to the same spot of A's half; `None`
/// when B's camera is off or the position is not in its half.
pub fn in_a_half(cursor: Vec2, a: &Camera, b: &Camera) -> Option<Vec2> {
    let (ra, rb) = (a.logical_viewport_rect()?, b.logical_viewport_rect()?);
    (b.is_active && rb.contains(cursor)).then(|| cursor - rb.min + ra.min)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::camera::{View3d, plot_projection_2d};
    use crate::viewer::state::ViewMode;

    #[test]
    fn the_split_views_halves_are_equal_and_meet_at_the_gap() {
        let plot = Rect::new(100.0, 50.0, 901.0, 650.0);
        let (a, b) = plot_halves(plot, true, 2.0);
        let b = b.expect("B's half");
        // Equal widths: one projection fits both, so a point is at the same spot of each.
        assert_eq!(a.width(), b.width());
        assert_eq!(a.min, plot.min);
        assert_eq!(b.min.x, a.max.x + 2.0);
        assert!(b.max.x <= plot.max.x && b.max.x >= plot.max.x - 1.0);
        assert_eq!((a.min.y, a.max.y), (b.min.y, b.max.y));
        assert_eq!(plot_halves(plot, false, 2.0), (plot, None));
    }

    #[test]
    fn b_mirrors_the_camera_of_the_view_in_force_only_while_shown() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(ViewSettings::new(ViewMode::TwoD))
            .add_systems(Update, mirror_to_b);
        let ortho = |scale: f32| {
            Projection::Orthographic(OrthographicProjection {
                scale,
                ..plot_projection_2d()
            })
        };
        app.world_mut().spawn((
            Camera::default(),
            Transform::from_xyz(3.0, 4.0, 0.0),
            ortho(0.5),
            View2d,
        ));
        app.world_mut().spawn((
            Camera::default(),
            Transform::from_xyz(0.0, 0.0, 9.0),
            Projection::Perspective(PerspectiveProjection::default()),
            View3d,
        ));
        let b = app
            .world_mut()
            .spawn((Camera::default(), Transform::IDENTITY, ortho(1.0), ViewB))
            .id();
        let seen = |app: &mut App| {
            let e = app.world().entity(b);
            let scale = match e.get::<Projection>() {
                Some(Projection::Orthographic(o)) => Some(o.scale),
                _ => None,
            };
            (e.get::<Transform>().expect("transform").translation, scale)
        };
        app.update();
        assert_eq!(seen(&mut app), (Vec3::new(3.0, 4.0, 0.0), Some(0.5)));
        app.world_mut().resource_mut::<ViewSettings>().mode = ViewMode::Orbit;
        app.update();
        assert_eq!(seen(&mut app), (Vec3::new(0.0, 0.0, 9.0), None));
        // Off (not split): left as it was.
        app.world_mut().resource_mut::<ViewSettings>().mode = ViewMode::TwoD;
        app.world_mut()
            .entity_mut(b)
            .get_mut::<Camera>()
            .expect("camera")
            .is_active = false;
        app.update();
        assert_eq!(seen(&mut app), (Vec3::new(0.0, 0.0, 9.0), None));
    }
}
