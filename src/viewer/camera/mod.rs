//! The 2D and 3D views: cameras, pan/zoom, orbit, fly-through, fit-to-data, easing to a point.
//!
//! Two cameras, one active at a time: an orthographic one looking down the layout's z axis
//! (pan with the left button, zoom at the cursor with the wheel) and a perspective one driven
//! by bevy_panorbit_camera (orbit left, pan right, zoom wheel) or by our fly-through (WASD/QE
//! to move, right button to look, wheel for speed). Both draw only the central area left free
//! by the egui panels ([`CentralRect`]), so fitting and picking use what the user sees.
//!
//! The split view (`--view split`, `B`, with `--compare`) halves that area: the active camera
//! draws A's map on the left, and a third camera ([`ViewB`], render layer 1, where B's meshes
//! are) draws B's map on the right. It is a mirror, not a second view to steer: every frame it
//! takes the active camera's transform and projection, so a pan, zoom or orbit in either half
//! moves both maps alike, and an item that kept its place is at the same spot in both halves.

mod split;

use bevy::camera::{ClearColorConfig, ScalingMode, Viewport};
use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::input::{egui_wants_any_keyboard_input, egui_wants_any_pointer_input};
use bevy_panorbit_camera::{PanOrbitCamera, PanOrbitCameraPlugin, PanOrbitCameraSystemSet};

use super::state::{LayoutCoords, MapSide, SelectItem, Store, ViewMode};
pub use split::{SPLIT_GAP_PX, ViewB, layer_b, plot_halves};
use split::{in_a_half, mirror_to_b, steer_orbit_from_either_half};

/// The view in force and its tunables.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct ViewSettings {
    pub mode: ViewMode,
    /// Fly-through speed in layout units per second.
    pub fly_speed: f32,
    /// Set to fit the view to the data on the next frame (on open, `F`, a new layout's bounds).
    pub fit_requested: bool,
    /// Ease towards this point (a clicked neighbour tile).
    pub ease_to: Option<Vec3>,
    /// The user has panned, zoomed or orbited since the last fit: a new layout (or an
    /// animation frame) then no longer refits the view under their hands.
    pub user_moved: bool,
    /// `--zoom`: fits zoom in this many times on the selected item — also the refits that
    /// follow an animating layout, so the item stays in view while the layout settles — until
    /// the user moves the view or asks for a whole-data fit (`F`, `V`).
    pub start_zoom: Option<f32>,
    /// The split view is asked for (`--view split`, `B`): shown while B's map exists.
    pub split: bool,
}

impl ViewSettings {
    pub fn new(mode: ViewMode) -> Self {
        Self {
            mode,
            fly_speed: 0.0,
            fit_requested: true,
            ease_to: None,
            user_moved: false,
            start_zoom: None,
            split: false,
        }
    }

    /// Fit the whole data set on the next frame (`F`, the fit button, a 2D ↔ 3D switch):
    /// the `--zoom` start view is over.
    pub fn request_full_fit(&mut self) {
        self.fit_requested = true;
        self.start_zoom = None;
    }

    pub fn is_2d(&self) -> bool {
        self.mode == ViewMode::TwoD
    }

    /// Whether the plot shows two maps now: asked for, and B's map is there to show.
    pub fn split_shown(&self, store: &Store) -> bool {
        self.split && store.layout_b.is_some()
    }

    /// The maps drawn now, with their layout versions: A's, and B's while the split view
    /// shows it (what is drawn per side — buffers, rings, pick indexes, thumbnails — is built
    /// for B when it is first shown, not for a comparison nobody splits).
    pub fn drawn_sides<'a>(
        &self,
        store: &'a Store,
    ) -> impl Iterator<Item = (MapSide, &'a LayoutCoords, u64)> {
        let split = self.split_shown(store);
        MapSide::BOTH
            .into_iter()
            .filter(move |&side| side == MapSide::A || split)
            .filter_map(|side| match store.side(side) {
                (Some(layout), version) => Some((side, layout, version)),
                (None, _) => None,
            })
    }
}

/// The window area not covered by panels, in logical pixels (set by the UI each frame).
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct CentralRect(pub Rect);

/// Either plot camera (not the egui one).
pub type PlotCamera = Or<(With<View2d>, With<View3d>)>;
/// The plot cameras and the split view's B camera: whichever is active draws a map.
pub type SplitCameras = Or<(With<View2d>, With<View3d>, With<ViewB>)>;
/// The orthographic camera only (disjoint from the perspective one for mutable queries).
type Only2d = (With<View2d>, Without<View3d>);

/// Marks the orthographic camera.
#[derive(Component)]
pub struct View2d;

/// Marks the perspective camera.
#[derive(Component)]
pub struct View3d;

/// Axis-aligned bounds of a layout (2D layouts: z = 0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min: Vec3,
    pub max: Vec3,
}

impl Bounds {
    /// Bounds of the finite points; `None` for an empty layout.
    pub fn of(layout: &LayoutCoords) -> Option<Self> {
        let mut min = Vec3::splat(f32::INFINITY);
        let mut max = Vec3::splat(f32::NEG_INFINITY);
        for i in 0..layout.n_items() {
            let p = layout.position(crate::dataset::ItemId(i as u32));
            if p.is_finite() {
                min = min.min(p);
                max = max.max(p);
            }
        }
        (min.x <= max.x).then_some(Self { min, max })
    }

    pub fn center(&self) -> Vec3 {
        (self.min + self.max) * 0.5
    }

    pub fn size(&self) -> Vec3 {
        self.max - self.min
    }

    /// The bounds holding both.
    pub fn union(&self, other: &Bounds) -> Bounds {
        Bounds {
            min: self.min.min(other.min),
            max: self.max.max(other.max),
        }
    }

    /// Radius of the bounding sphere (at least a small positive value).
    pub fn radius(&self) -> f32 {
        (self.size().length() * 0.5).max(1e-3)
    }
}

/// The orthographic scale (world units per logical pixel) and centre that show `bounds` in a
/// `view_px` area with a 5% margin.
pub fn fit_2d(bounds: &Bounds, view_px: Vec2) -> (Vec2, f32) {
    let size = bounds.size().truncate().max(Vec2::splat(1e-3));
    let view = view_px.max(Vec2::splat(1.0));
    let scale = (size.x / view.x).max(size.y / view.y) * 1.1;
    (bounds.center().truncate(), scale)
}

/// Orbit radius that shows the bounding sphere with a vertical field of view `fov_y` in a view
/// `aspect` (width / height) wide: a view narrower than tall (a split view's half) sees less
/// across than up.
pub fn fit_3d_radius(bounds: &Bounds, fov_y: f32, aspect: f32) -> f32 {
    let half_y = fov_y * 0.5;
    let half_x = (half_y.tan() * aspect.max(1e-3)).atan();
    bounds.radius() / half_y.min(half_x).sin() * 1.05
}

/// New orthographic centre after zooming by `factor` (new scale = scale · factor) so that the
/// world point under the cursor stays under it.
pub fn zoom_at(center: Vec2, cursor_world: Vec2, factor: f32) -> Vec2 {
    cursor_world + (center - cursor_world) * factor
}

pub struct CameraPlugin;

impl Plugin for CameraPlugin {
    fn build(&self, app: &mut App) {
        app.add_plugins(PanOrbitCameraPlugin)
            .insert_resource(CentralRect(Rect::new(0.0, 0.0, 1.0, 1.0)))
            .add_systems(Startup, spawn_cameras)
            .add_systems(
                Update,
                (
                    switch_view_keys.run_if(not(egui_wants_any_keyboard_input)),
                    activate_cameras,
                    fit_to_data,
                    ease_to_point,
                    (note_user_view_input, pan_zoom_2d, fly_look)
                        .run_if(not(egui_wants_any_pointer_input))
                        .run_if(pointer_over_plot),
                    fly_move.run_if(not(egui_wants_any_keyboard_input)),
                    focus_on_selection,
                )
                    .chain(),
            )
            .add_systems(
                PostUpdate,
                (gate_orbit, set_viewports, steer_orbit_from_either_half)
                    .before(PanOrbitCameraSystemSet),
            )
            .add_systems(
                PostUpdate,
                mirror_to_b
                    .after(PanOrbitCameraSystemSet)
                    .before(bevy::transform::TransformSystems::Propagate)
                    .before(bevy::camera::CameraUpdateSystems),
            );
    }
}

const FOV_Y: f32 = std::f32::consts::FRAC_PI_4;

/// The 2D view's projection: one world unit a pixel at scale 1, and a depth range that holds
/// any layout (a 3D layout seen from above in the 2D view included).
pub fn plot_projection_2d() -> OrthographicProjection {
    OrthographicProjection {
        scaling_mode: ScalingMode::WindowSize,
        near: -1.0e6,
        far: 1.0e6,
        ..OrthographicProjection::default_3d()
    }
}

fn spawn_cameras(mut commands: Commands, settings: Res<ViewSettings>) {
    let two_d = settings.is_2d();
    commands.spawn((
        Camera3d::default(),
        Camera {
            is_active: two_d,
            ..default()
        },
        Projection::Orthographic(plot_projection_2d()),
        // Anti-aliasing costs 2–3× frame time under software rendering; discs are smooth
        // already (the shader cuts them).
        Msaa::Off,
        // Colours are shown as given (no HDR tone curve: a legend colour is the point colour).
        Tonemapping::None,
        Transform::from_xyz(0.0, 0.0, 0.0),
        View2d,
        MapSide::A,
    ));
    commands.spawn((
        Camera3d::default(),
        Camera {
            is_active: !two_d,
            ..default()
        },
        Projection::Perspective(PerspectiveProjection {
            fov: FOV_Y,
            ..default()
        }),
        Msaa::Off,
        Tonemapping::None,
        Transform::from_xyz(0.0, 0.0, 50.0).looking_at(Vec3::ZERO, Vec3::Y),
        PanOrbitCamera {
            button_orbit: MouseButton::Left,
            button_pan: MouseButton::Right,
            ..default()
        },
        View3d,
        MapSide::A,
    ));
    // After the plot camera (order 0) on the same window: it must not clear A's half.
    commands.spawn((
        Camera3d::default(),
        Camera {
            is_active: false,
            order: 1,
            clear_color: ClearColorConfig::None,
            ..default()
        },
        Projection::Orthographic(plot_projection_2d()),
        Msaa::Off,
        Tonemapping::None,
        Transform::IDENTITY,
        layer_b(),
        ViewB,
        MapSide::B,
    ));
}

/// `V`: 2D ↔ 3D; `G`: orbit ↔ fly (in 3D); `F`: fit to the data.
fn switch_view_keys(keys: Res<ButtonInput<KeyCode>>, mut settings: ResMut<ViewSettings>) {
    if keys.just_pressed(KeyCode::KeyV) {
        settings.mode = if settings.is_2d() {
            ViewMode::Orbit
        } else {
            ViewMode::TwoD
        };
        settings.request_full_fit();
    }
    if keys.just_pressed(KeyCode::KeyG) {
        settings.mode = match settings.mode {
            ViewMode::Fly => ViewMode::Orbit,
            _ => ViewMode::Fly,
        };
    }
    if keys.just_pressed(KeyCode::KeyF) {
        settings.request_full_fit();
    }
}

/// Exactly one camera renders: the one of the current view.
fn activate_cameras(
    settings: Res<ViewSettings>,
    mut cams_2d: Query<&mut Camera, Only2d>,
    mut cams_3d: Query<(&mut Camera, &Transform, &mut PanOrbitCamera), With<View3d>>,
    mut last: Local<Option<ViewMode>>,
) {
    if *last == Some(settings.mode) {
        return;
    }
    let leaving_fly = *last == Some(ViewMode::Fly);
    *last = Some(settings.mode);
    for mut cam in &mut cams_2d {
        cam.is_active = settings.is_2d();
    }
    for (mut cam, transform, mut orbit) in &mut cams_3d {
        cam.is_active = !settings.is_2d();
        if leaving_fly && settings.mode == ViewMode::Orbit {
            // Orbit around the point the flyer was looking at, from where it is.
            let radius = orbit.radius.unwrap_or(10.0).max(1e-3);
            let focus = transform.translation + transform.forward() * radius;
            let offset = transform.translation - focus;
            let yaw = offset.x.atan2(offset.z);
            let pitch = (offset.y / radius).clamp(-1.0, 1.0).asin();
            orbit.focus = focus;
            orbit.target_focus = focus;
            orbit.yaw = Some(yaw);
            orbit.target_yaw = yaw;
            orbit.pitch = Some(pitch);
            orbit.target_pitch = pitch;
            orbit.radius = Some(radius);
            orbit.target_radius = radius;
            orbit.force_update = true;
        }
    }
}

/// Whether the pointer is over the plot rather than a panel. egui's "wants the pointer" is not
/// set by merely hovering a panel, so the wheel over the neighbour grid would zoom the map.
pub fn pointer_over_plot(
    central: Res<CentralRect>,
    window: Query<&Window, With<PrimaryWindow>>,
) -> bool {
    window
        .single()
        .ok()
        .and_then(|w| w.cursor_position())
        .is_some_and(|p| central.0.contains(p))
}

/// The orbit camera listens only in orbit mode, over the plot, while egui does not want the
/// pointer.
#[allow(clippy::too_many_arguments)]
fn gate_orbit(
    settings: Res<ViewSettings>,
    wants: Res<bevy_egui::input::EguiWantsInput>,
    central: Res<CentralRect>,
    window: Query<&Window, With<PrimaryWindow>>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    lasso: Res<super::state::Lasso>,
    mut orbit: Query<&mut PanOrbitCamera>,
    mut dragging: Local<bool>,
) {
    let over_plot = pointer_over_plot(central, window);
    // A drag that started over the plot keeps orbiting when it crosses a panel.
    if buttons.get_just_pressed().next().is_some() {
        *dragging = over_plot;
    }
    if buttons.get_pressed().next().is_none() {
        *dragging = false;
    }
    let enabled = settings.mode == ViewMode::Orbit
        && !wants.wants_any_pointer_input()
        && !lasso.active
        && !keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight])
        && (over_plot || *dragging);
    for mut o in &mut orbit {
        if o.enabled != enabled {
            o.enabled = enabled;
        }
    }
}

/// Cameras draw into the area the panels leave free (A's camera its left half and B's the
/// right one in the split view; B's is off otherwise).
fn set_viewports(
    central: Res<CentralRect>,
    settings: Res<ViewSettings>,
    store: Res<Store>,
    window: Query<&Window, With<PrimaryWindow>>,
    // Only the plot cameras: the egui camera covers the whole window.
    mut cameras: Query<(&mut Camera, &MapSide), SplitCameras>,
) {
    let Ok(window) = window.single() else { return };
    let scale = window.scale_factor();
    let full = UVec2::new(window.physical_width(), window.physical_height());
    if full.x == 0 || full.y == 0 {
        return;
    }
    let min = (central.0.min * scale).as_uvec2().min(full - UVec2::ONE);
    let max = (central.0.max * scale)
        .as_uvec2()
        .min(full)
        .max(min + UVec2::ONE);
    let split = settings.split_shown(&store);
    let (a, b) = plot_halves(
        Rect::from_corners(min.as_vec2(), max.as_vec2()),
        split,
        (SPLIT_GAP_PX * scale).round(),
    );
    let viewport = |r: Rect| Viewport {
        physical_position: r.min.as_uvec2(),
        physical_size: r.size().as_uvec2().max(UVec2::ONE),
        ..default()
    };
    for (mut cam, side) in &mut cameras {
        let want = match side {
            MapSide::A => viewport(a),
            MapSide::B => {
                if cam.is_active != b.is_some() {
                    cam.is_active = b.is_some();
                }
                match b {
                    Some(b) => viewport(b),
                    None => continue,
                }
            }
        };
        let same = cam.viewport.as_ref().is_some_and(|v| {
            v.physical_position == want.physical_position && v.physical_size == want.physical_size
        });
        if !same {
            cam.viewport = Some(want);
        }
    }
}

/// Fit both cameras to the layout's bounds when asked (and when the first layout arrives).
fn fit_to_data(
    store: Res<Store>,
    selection: Res<super::state::Selection>,
    central: Res<CentralRect>,
    mut settings: ResMut<ViewSettings>,
    mut cams_2d: Query<(&mut Transform, &mut Projection), Only2d>,
    mut cams_3d: Query<&mut PanOrbitCamera, With<View3d>>,
    mut fitted_for: Local<(u64, u64, Vec2)>,
) {
    let Some(layout) = &store.layout else { return };
    // Wait for the UI to say how much room the plot has.
    if central.0.width() <= 1.0 {
        return;
    }
    // Follow a new or animating layout, and the plot's size (a panel docking under it), until
    // the user takes over the view.
    // Split: both maps in one half's size (they share the camera).
    let split = settings.split_shown(&store);
    let (half, _) = plot_halves(central.0, split, SPLIT_GAP_PX);
    let now = (
        store.layout_version,
        if split { store.layout_b_version } else { 0 },
        half.size(),
    );
    if *fitted_for != now && !settings.user_moved {
        settings.fit_requested = true;
    }
    *fitted_for = now;
    if !settings.fit_requested {
        return;
    }
    settings.user_moved = false;
    let Some(mut bounds) = Bounds::of(layout) else {
        return;
    };
    // Split: both maps, A's as compared too (the morph may be on its way back to it).
    if split && let Some([min, max]) = store.compared_extent {
        bounds = bounds.union(&Bounds { min, max });
    }
    settings.fit_requested = false;
    let (mut center, mut scale) = fit_2d(&bounds, half.size());
    // `--zoom`: towards the selected item (else the centre). It was applied only at the first
    // fit, which lands on an early snapshot of an animating layout: the item then moved out of
    // view as the layout settled.
    let zoom = settings.start_zoom;
    let focus = selection
        .selected
        .filter(|i| i.index() < layout.n_items())
        .map_or(bounds.center(), |i| layout.position(i));
    if let Some(z) = zoom {
        center = focus.truncate();
        scale /= z;
    }
    for (mut transform, mut projection) in &mut cams_2d {
        transform.translation = center.extend(0.0);
        if let Projection::Orthographic(ortho) = &mut *projection {
            ortho.scale = scale;
        }
    }
    let aspect = half.width() / half.height().max(1.0);
    let radius = fit_3d_radius(&bounds, FOV_Y, aspect);
    settings.fly_speed = bounds.radius() * 0.5;
    for mut orbit in &mut cams_3d {
        orbit.target_focus = if zoom.is_some() {
            focus
        } else {
            bounds.center()
        };
        orbit.target_radius = radius / zoom.unwrap_or(1.0);
        // A 2D layout seen in 3D: face-on, as in the 2D view; a 3D one a little from the side,
        // so its depth shows at once.
        let (yaw, pitch) = if layout.dims > 2 {
            (0.6, 0.3)
        } else {
            (0.0, 0.0)
        };
        orbit.target_yaw = yaw;
        orbit.target_pitch = pitch;
        orbit.force_update = true;
    }
}

/// A drag or a wheel turn over the plot means the user is steering the view.
fn note_user_view_input(
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    mut settings: ResMut<ViewSettings>,
) {
    let dragging =
        buttons.any_pressed([MouseButton::Left, MouseButton::Right, MouseButton::Middle])
            && motion.delta != Vec2::ZERO;
    if (dragging || scroll.delta != Vec2::ZERO) && !settings.user_moved {
        settings.user_moved = true;
        settings.start_zoom = None;
    }
}

/// Clicking a neighbour tile eases the view to that item.
fn focus_on_selection(
    mut messages: MessageReader<SelectItem>,
    store: Res<Store>,
    mut settings: ResMut<ViewSettings>,
) {
    for m in messages.read() {
        if let (true, Some(item), Some(layout)) = (m.focus, m.item, &store.layout)
            && item.index() < layout.n_items()
        {
            settings.ease_to = Some(layout.position(item));
        }
    }
}

/// Move the view a fraction of the way to `ease_to` each frame.
fn ease_to_point(
    time: Res<Time>,
    mut settings: ResMut<ViewSettings>,
    mut cams_2d: Query<&mut Transform, Only2d>,
    mut cams_3d: Query<&mut PanOrbitCamera, With<View3d>>,
) {
    let Some(target) = settings.ease_to else {
        return;
    };
    match settings.mode {
        ViewMode::TwoD => {
            let t = 1.0 - (-10.0 * time.delta_secs()).exp();
            let mut done = true;
            for mut transform in &mut cams_2d {
                let now = transform.translation.truncate();
                let next = now.lerp(target.truncate(), t);
                transform.translation = next.extend(transform.translation.z);
                done &= next.distance(target.truncate()) < 1e-4;
            }
            if done {
                settings.ease_to = None;
            }
        }
        ViewMode::Orbit => {
            // The orbit camera has its own smoothing towards its targets.
            for mut orbit in &mut cams_3d {
                orbit.target_focus = target;
            }
            settings.ease_to = None;
        }
        ViewMode::Fly => settings.ease_to = None,
    }
}

/// Drag state of the 2D view: where the left button went down, in window pixels.
#[derive(Default)]
struct Drag {
    start: Option<Vec2>,
    last: Option<Vec2>,
}

/// 2D: drag with the left button to pan, wheel to zoom at the cursor.
#[allow(clippy::too_many_arguments)]
fn pan_zoom_2d(
    settings: Res<ViewSettings>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    scroll: Res<AccumulatedMouseScroll>,
    window: Query<&Window, With<PrimaryWindow>>,
    mut cams: Query<(&Camera, &GlobalTransform, &mut Transform, &mut Projection), Only2d>,
    cam_b: Query<&Camera, (With<ViewB>, Without<View2d>)>,
    mut drag: Local<Drag>,
) {
    if !settings.is_2d() {
        *drag = Drag::default();
        return;
    }
    let Ok(window) = window.single() else { return };
    let Ok((camera, global, mut transform, mut projection)) = cams.single_mut() else {
        return;
    };
    let Projection::Orthographic(ortho) = &mut *projection else {
        return;
    };
    let cursor = window.cursor_position();
    // This system pauses while the pointer is over a panel: a release there is never seen.
    if !buttons.pressed(MouseButton::Left) {
        *drag = Drag::default();
    }
    if buttons.just_pressed(MouseButton::Left) {
        drag.start = cursor;
        drag.last = cursor;
    }
    // Shift + drag draws a lasso (see `lasso`), not a pan.
    let lasso = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    if buttons.pressed(MouseButton::Left)
        && !lasso
        && let (Some(last), Some(now)) = (drag.last, cursor)
    {
        let delta = now - last;
        // Screen y grows downwards, world y upwards.
        transform.translation.x -= delta.x * ortho.scale;
        transform.translation.y += delta.y * ortho.scale;
        drag.last = Some(now);
    }
    if buttons.just_released(MouseButton::Left) {
        *drag = Drag::default();
    }
    let lines = match scroll.unit {
        MouseScrollUnit::Line => scroll.delta.y,
        MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
    };
    if lines != 0.0
        && let Some(cursor) = cursor
    {
        let factor = 0.85f32.powf(lines);
        // In B's half: the point under the cursor is where A's camera sees the same spot of
        // its own half (one camera for both maps).
        let cursor = cam_b
            .single()
            .ok()
            .and_then(|b| in_a_half(cursor, camera, b))
            .unwrap_or(cursor);
        let under = camera
            .viewport_to_world(global, cursor)
            .map(|ray| ray.origin.truncate())
            .unwrap_or(transform.translation.truncate());
        let center = zoom_at(transform.translation.truncate(), under, factor);
        transform.translation = center.extend(transform.translation.z);
        ortho.scale = (ortho.scale * factor).clamp(1e-7, 1e7);
    }
}

/// Fly-through: hold the right button and move the mouse to look; wheel changes speed.
fn fly_look(
    mut settings: ResMut<ViewSettings>,
    buttons: Res<ButtonInput<MouseButton>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    mut cams: Query<&mut Transform, With<View3d>>,
) {
    if settings.mode != ViewMode::Fly {
        return;
    }
    if scroll.delta.y != 0.0 {
        settings.fly_speed = (settings.fly_speed * 1.2f32.powf(scroll.delta.y.signum())).max(1e-4);
    }
    if !buttons.pressed(MouseButton::Right) || motion.delta == Vec2::ZERO {
        return;
    }
    for mut transform in &mut cams {
        let (yaw, pitch, _) = transform.rotation.to_euler(EulerRot::YXZ);
        let yaw = yaw - motion.delta.x * 0.003;
        let pitch = (pitch - motion.delta.y * 0.003).clamp(-1.54, 1.54);
        transform.rotation = Quat::from_euler(EulerRot::YXZ, yaw, pitch, 0.0);
    }
}

/// Fly-through: WASD forward/left/back/right, Q/E down/up, Shift for 4× speed.
fn fly_move(
    settings: Res<ViewSettings>,
    keys: Res<ButtonInput<KeyCode>>,
    time: Res<Time>,
    mut cams: Query<&mut Transform, With<View3d>>,
) {
    if settings.mode != ViewMode::Fly {
        return;
    }
    for mut transform in &mut cams {
        let mut dir = Vec3::ZERO;
        let pairs = [
            (KeyCode::KeyW, *transform.forward()),
            (KeyCode::KeyS, -*transform.forward()),
            (KeyCode::KeyD, *transform.right()),
            (KeyCode::KeyA, -*transform.right()),
            (KeyCode::KeyE, *transform.up()),
            (KeyCode::KeyQ, -*transform.up()),
        ];
        for (key, d) in pairs {
            if keys.pressed(key) {
                dir += d;
            }
        }
        if dir != Vec3::ZERO {
            let boost = if keys.pressed(KeyCode::ShiftLeft) {
                4.0
            } else {
                1.0
            };
            transform.translation +=
                dir.normalize() * settings.fly_speed * boost * time.delta_secs();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::viewer::state::test_layout as layout;

    #[test]
    fn bounds_and_fits_cover_the_data() {
        let l = layout(vec![-2.0, 1.0, 6.0, 3.0, 0.0, f32::NAN], 2);
        let b = Bounds::of(&l).expect("bounds");
        assert_eq!(b.min, Vec3::new(-2.0, 1.0, 0.0));
        assert_eq!(b.max, Vec3::new(6.0, 3.0, 0.0));
        // 8 × 2 units in 800 × 100 px: height limits (0.02 units/px), plus the margin.
        let (center, scale) = fit_2d(&b, Vec2::new(800.0, 100.0));
        assert_eq!(center, Vec2::new(2.0, 2.0));
        assert!((scale - 0.022).abs() < 1e-6);
        // The whole width fits too: 8 units / 0.022 = 364 px < 800.
        assert!(8.0 / scale < 800.0);
        let r = fit_3d_radius(&b, FOV_Y, 16.0 / 9.0);
        assert!(r * (FOV_Y * 0.5).sin() >= b.radius());
        // Half as wide as tall: the horizontal field of view decides, and the sphere still
        // fits across.
        let narrow = fit_3d_radius(&b, FOV_Y, 0.5);
        let half_x = ((FOV_Y * 0.5).tan() * 0.5).atan();
        assert!(narrow > r && narrow * half_x.sin() >= b.radius());
        assert!(Bounds::of(&layout(vec![], 2)).is_none());
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor() {
        let center = Vec2::new(0.0, 0.0);
        let cursor = Vec2::new(10.0, -4.0);
        // Screen offset of the cursor = (cursor − center) / scale must not change.
        let scale = 0.5;
        let factor = 0.8;
        let new_center = zoom_at(center, cursor, factor);
        let before = (cursor - center) / scale;
        let after = (cursor - new_center) / (scale * factor);
        assert!((before - after).length() < 1e-5);
    }
}
