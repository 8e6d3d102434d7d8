//! Screenshots and frame-time measurement.
//!
//! - `P` saves the window as `ivt-explore-<n>.png` in the current folder (a new name, never
//!   overwriting a file).
//! - `ivt-explore screenshot` renders until the view is ready — layout finished, neighbour
//!   images decoded, and enough frames for the shaders (compiled asynchronously) to be in
//!   use — then saves the PNG (atomically) and exits.
//! - `--bench-frames N` measures N frames once ready and prints mean and p95 frame times;
//!   with `--bench-pan` the camera moves every timed frame (the per-move work is measured);
//!   with `--bench-morph` the map morphs between A's and B's throughout (`--compare`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::prelude::*;
use bevy::render::renderer::RenderAdapterInfo;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy_egui::input::egui_wants_any_keyboard_input;

use super::layout_job::{JobState, LayoutJob};
use super::offscreen::OffscreenTarget;
use super::options::ScreenshotRequest;
use super::state::{NeighborView, Selection, Store};
use super::thumbs::Thumbs;

/// Frames rendered after the view is ready before capturing or measuring: the pipelines of
/// new shaders compile in the background and draw nothing until they are done.
const SETTLE_FRAMES: u32 = 30;
/// Give up on a headless capture after this long (a layout that never finishes, a GPU that
/// never presents).
const CAPTURE_TIMEOUT: Duration = Duration::from_secs(900);

/// How the headless capture ended (read by `viewer::run` after the app exits).
#[derive(Resource, Debug, Clone, PartialEq, Eq)]
pub enum CaptureOutcome {
    Saved(PathBuf),
    Failed(String),
}

pub struct CapturePlugin {
    pub screenshot: Option<ScreenshotRequest>,
    pub bench_frames: Option<u32>,
    pub bench_pan: bool,
    pub bench_morph: bool,
}

#[derive(Resource)]
struct HeadlessCapture {
    path: PathBuf,
    started: Instant,
    settled: u32,
    requested: bool,
}

#[derive(Resource)]
struct FrameBench {
    frames: u32,
    settled: u32,
    samples_ms: Vec<f64>,
    pan: bool,
    morph: bool,
    /// Offscreen: the render thread's total wait for the GPU when timing began.
    gpu_wait_start_ns: Option<u64>,
}

impl FrameBench {
    /// Frames are being timed (settled, not yet all measured).
    fn timing(&self) -> bool {
        self.settled > SETTLE_FRAMES && self.samples_ms.len() < self.frames as usize
    }
}

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            screenshot_key.run_if(not(egui_wants_any_keyboard_input)),
        );
        if let Some(req) = &self.screenshot {
            app.insert_resource(super::picking::PointerPicking(false))
                .insert_resource(HeadlessCapture {
                    path: req.path.clone(),
                    started: Instant::now(),
                    settled: 0,
                    requested: false,
                })
                .add_systems(Last, headless_capture);
        }
        if let Some(frames) = self.bench_frames {
            app.insert_resource(FrameBench {
                frames: frames.max(1),
                settled: 0,
                samples_ms: Vec::new(),
                pan: self.bench_pan,
                morph: self.bench_morph,
                gpu_wait_start_ns: None,
            })
            .add_systems(Last, bench_frames);
            if self.bench_morph {
                app.add_systems(PreUpdate, morph_for_bench);
            }
            if self.bench_pan {
                // Before the views' own systems, so this frame's work sees the move.
                app.add_systems(PreUpdate, pan_for_bench);
            }
        }
    }
}

/// What the view is waiting for, read by the capture and the frame benchmark.
#[derive(bevy::ecs::system::SystemParam)]
struct Readiness<'w> {
    store: Res<'w, Store>,
    job: Res<'w, LayoutJob>,
    selection: Res<'w, Selection>,
    view: Res<'w, NeighborView>,
    thumbs: Res<'w, Thumbs>,
    mosaic: Res<'w, super::mosaic::Mosaic>,
    mosaic_settings: Res<'w, super::mosaic::MosaicSettings>,
    clusters: Option<Res<'w, super::clusters::ClusterJob>>,
    search: Option<Res<'w, super::search::SearchBox>>,
    queries: Option<Res<'w, super::query::Queries>>,
    issues: Option<Res<'w, super::issues::Issues>>,
    compare: Option<Res<'w, super::compare::CompareView>>,
    probe: Option<Res<'w, super::probe::ProbeView>>,
    labels: Option<Res<'w, super::labels::Labels>>,
    color: Option<Res<'w, super::state::ColorState>>,
    next: Option<Res<'w, super::label_next::LabelNext>>,
}

impl Readiness<'_> {
    /// The view shows what it will show: the final layout, the neighbour grid and its images,
    /// the thumbnails in view.
    fn ready(&self) -> bool {
        let layout_done = matches!(self.job.state, JobState::Done { .. } | JobState::Failed(_))
            && self.store.layout.is_some();
        // A query's neighbours shown in the grid stand in for the selection's.
        let grid_done = self.selection.selected.is_none()
            || self.view.computed_for.is_some()
            || self.view.query_shown.is_some();
        layout_done
            && grid_done
            && self.thumbs.is_idle()
            && self.mosaic.is_idle(&self.mosaic_settings)
            && self
                .clusters
                .as_ref()
                .is_none_or(|c| c.state != super::clusters::ClusterState::Running)
            && self.search.as_ref().is_none_or(|s| s.is_idle())
            && self.queries.as_ref().is_none_or(|q| q.is_idle())
            && self
                .issues
                .as_ref()
                .is_none_or(|i| i.is_idle(self.store.layout_version, self.store.layout.is_some()))
            && self.compare.as_ref().is_none_or(|c| c.is_idle())
            && self.probe_idle()
    }

    /// A map coloured by the probe, or the "label next" panel, waits for its fit of the labels
    /// as they are (and only then: without labels enough, or without a graph, there is nothing
    /// to wait for).
    fn probe_idle(&self) -> bool {
        let by_probe = self
            .color
            .as_ref()
            .is_some_and(|c| matches!(c.source, super::colors::ColorSource::Probe(_)));
        let (Some(p), Some(l)) = (&self.probe, &self.labels) else {
            return true;
        };
        if self.store.graph.is_none() {
            return true;
        }
        // The "label next" panel shows the probe's batch and accuracy: it waits for both.
        (!by_probe || p.is_idle(l.version))
            && self.next.as_ref().is_none_or(|n| n.is_idle(p, l.version))
    }
}

/// The captured frame as 8-bit RGB, for the PNG.
fn frame_rgb(image: Image) -> Result<image::RgbImage, String> {
    Ok(image
        .try_into_dynamic()
        .map_err(|e| format!("cannot convert the frame: {e}"))?
        .to_rgb8())
}

/// Encode and write the PNG all-or-nothing.
fn save_png(image: Image, path: &Path) -> Result<(), String> {
    let rgb = frame_rgb(image)?;
    crate::atomic::write_with(path, |w| {
        rgb.write_to(w, image::ImageFormat::Png)
            .map_err(std::io::Error::other)
    })
    .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Names `P` saves under, in order: `ivt-explore-1.png`, `-2`, … without end.
fn key_screenshot_names() -> impl Iterator<Item = String> {
    (1u64..).map(|n| format!("ivt-explore-{n}.png"))
}

/// Encode and write the PNG under the first free name of [`key_screenshot_names`] in `dir`.
/// The name is claimed when the file is written, so two quick presses get two files and a
/// file that appeared meanwhile is never overwritten.
fn save_new_png(image: Image, dir: &Path) -> Result<PathBuf, String> {
    let rgb = frame_rgb(image)?;
    crate::atomic::write_new(dir, key_screenshot_names(), |w| {
        rgb.write_to(w, image::ImageFormat::Png)
            .map_err(std::io::Error::other)
    })
    .map_err(|e| format!("cannot save a screenshot in {}: {e}", dir.display()))
}

/// A screenshot of what the user sees: the window, or the image drawn in its place offscreen.
fn screenshot_of_view(offscreen: Option<&OffscreenTarget>) -> Screenshot {
    match offscreen {
        Some(target) => Screenshot::image(target.image.clone()),
        None => Screenshot::primary_window(),
    }
}

fn screenshot_key(
    keys: Res<ButtonInput<KeyCode>>,
    offscreen: Option<Res<OffscreenTarget>>,
    mut commands: Commands,
) {
    if !keys.just_pressed(KeyCode::KeyP) {
        return;
    }
    commands
        .spawn(screenshot_of_view(offscreen.as_deref()))
        .observe(move |captured: On<ScreenshotCaptured>| {
            match save_new_png(captured.image.clone(), Path::new(".")) {
                Ok(path) => info!("saved {}", path.display()),
                Err(e) => error!("{e}"),
            }
        });
}

#[allow(clippy::too_many_arguments)]
fn headless_capture(
    mut commands: Commands,
    mut capture: ResMut<HeadlessCapture>,
    ready: Readiness,
    cameras: Query<(&Camera, &GlobalTransform), super::camera::PlotCamera>,
    camera_b: Query<(&Camera, &GlobalTransform), With<super::camera::ViewB>>,
    window: Query<&Window, With<bevy::window::PrimaryWindow>>,
    view: Res<super::camera::ViewSettings>,
    central: Res<super::camera::CentralRect>,
    offscreen: Option<Res<OffscreenTarget>>,
    mut exit: MessageWriter<AppExit>,
) {
    if capture.requested {
        return;
    }
    if capture.started.elapsed() > CAPTURE_TIMEOUT {
        commands.insert_resource(CaptureOutcome::Failed(format!(
            "the view was not ready after {} s",
            CAPTURE_TIMEOUT.as_secs()
        )));
        exit.write(AppExit::error());
        return;
    }
    if let JobState::Failed(e) = &ready.job.state {
        commands.insert_resource(CaptureOutcome::Failed(format!("the layout failed: {e}")));
        exit.write(AppExit::error());
        return;
    }
    if !ready.ready() {
        capture.settled = 0;
        return;
    }
    capture.settled += 1;
    if capture.settled < SETTLE_FRAMES {
        return;
    }
    capture.requested = true;
    println!("view {}", view.mode.label());
    // The map's area, so tests look at the map and not at a panel drawn in the same colours.
    let scale = window.single().map_or(1.0, |w| w.scale_factor());
    let (lo, hi) = (central.0.min * scale, central.0.max * scale);
    println!(
        "plot area ({:.0}, {:.0}) to ({:.0}, {:.0})",
        lo.x, lo.y, hi.x, hi.y
    );
    // Where the selected item lands in the picture, for scripts and the screenshot tests.
    if let (Some(item), Some(layout)) = (ready.selection.selected, &ready.store.layout)
        && let Some((camera, global)) = cameras.iter().find(|(c, _)| c.is_active)
        && let Ok(in_viewport) = camera.world_to_viewport(global, layout.position(item))
    {
        let scale = window.single().map_or(1.0, |w| w.scale_factor());
        // Window coordinates already (Bevy adds the viewport's offset).
        let px = in_viewport * scale;
        println!(
            "selected item {} at pixel ({:.0}, {:.0})",
            item.0, px.x, px.y
        );
    }
    // The split view: B's half, and where the selected item is on B's map.
    if let Ok((camera, global)) = camera_b.single()
        && camera.is_active
        && let Some(r) = camera.physical_viewport_rect()
    {
        println!(
            "split: B's half ({}, {}) to ({}, {})",
            r.min.x, r.min.y, r.max.x, r.max.y
        );
        if let (Some(item), Some(layout)) =
            (ready.selection.selected, ready.store.layout_b.as_deref())
            && item.index() < layout.n_items()
            && let Ok(in_viewport) = camera.world_to_viewport(global, layout.position(item))
        {
            let px = in_viewport * scale;
            println!(
                "selected item {} in B at pixel ({:.0}, {:.0})",
                item.0, px.x, px.y
            );
        }
    }
    // Where each query marker lands, likewise.
    if let (Some(queries), Some(layout)) = (&ready.queries, &ready.store.layout)
        && let Some((camera, global)) = cameras.iter().find(|(c, _)| c.is_active)
    {
        let scale = window.single().map_or(1.0, |w| w.scale_factor());
        for m in &queries.markers {
            if let Some(p) = m.position(layout)
                && let Ok(in_viewport) = camera.world_to_viewport(global, p)
            {
                let px = in_viewport * scale;
                println!("query Q{} at pixel ({:.0}, {:.0})", m.number, px.x, px.y);
            }
        }
    }
    if ready.mosaic.drawn_count > 0 {
        println!(
            "{} thumbnails drawn, {:.1} px wide",
            ready.mosaic.drawn_count, ready.mosaic.side_px
        );
    }
    let path = capture.path.clone();
    commands
        .spawn(screenshot_of_view(offscreen.as_deref()))
        .observe(
            move |captured: On<ScreenshotCaptured>, mut commands: Commands| {
                let outcome = match save_png(captured.image.clone(), &path) {
                    Ok(()) => CaptureOutcome::Saved(path.clone()),
                    Err(e) => CaptureOutcome::Failed(e),
                };
                let code = if matches!(outcome, CaptureOutcome::Saved(_)) {
                    AppExit::Success
                } else {
                    AppExit::error()
                };
                commands.insert_resource(outcome);
                commands.write_message(code);
            },
        );
}

/// Mean and 95th percentile of frame times, in ms.
pub fn frame_stats(samples_ms: &[f64]) -> (f64, f64) {
    if samples_ms.is_empty() {
        return (0.0, 0.0);
    }
    let mean = samples_ms.iter().sum::<f64>() / samples_ms.len() as f64;
    let mut sorted = samples_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let idx = ((sorted.len() as f64 * 0.95).ceil() as usize).clamp(1, sorted.len()) - 1;
    (mean, sorted[idx])
}

#[allow(clippy::too_many_arguments)]
fn bench_frames(
    mut bench: ResMut<FrameBench>,
    time: Res<Time<Real>>,
    ready: Readiness,
    adapter: Option<Res<RenderAdapterInfo>>,
    offscreen: Option<Res<OffscreenTarget>>,
    mut exit: MessageWriter<AppExit>,
) {
    if bench.samples_ms.len() >= bench.frames as usize {
        return;
    }
    // Ready before timing starts; after that every frame counts (a moving view is never idle:
    // thumbnails stream in behind it).
    if bench.settled <= SETTLE_FRAMES {
        if ready.ready() {
            bench.settled += 1;
        }
        return;
    }
    if bench.samples_ms.is_empty() {
        bench.gpu_wait_start_ns = offscreen.as_ref().map(|o| o.gpu_wait_ns());
    }
    bench.samples_ms.push(time.delta_secs_f64() * 1000.0);
    if bench.samples_ms.len() == bench.frames as usize {
        let (mean, p95) = frame_stats(&bench.samples_ms);
        let n = ready.store.layout.as_ref().map_or(0, |l| l.n_items());
        // What drew the frames: a software fallback (llvmpipe, lavapipe) must not pass for a GPU.
        if let Some(info) = adapter {
            println!(
                "adapter {} ({:?}, {:?}, driver {} {}){}",
                info.name,
                info.device_type,
                info.backend,
                info.driver,
                info.driver_info,
                if offscreen.is_some() {
                    ", offscreen"
                } else {
                    ", in a window without vsync"
                }
            );
        }
        println!(
            "frames {}{}{} points {n} thumbnails {} ({:.1} px, {} MB of GPU textures) mean {mean:.2} ms p95 {p95:.2} ms ({:.1} fps)",
            bench.samples_ms.len(),
            if bench.pan { " (panning)" } else { "" },
            if bench.morph { " (morphing)" } else { "" },
            ready.mosaic.drawn_count,
            ready.mosaic.side_px,
            ready.mosaic.gpu_bytes() >> 20,
            1000.0 / mean.max(1e-9)
        );
        // Offscreen, the render thread waits only when the GPU is behind: GPU-bound frames.
        if let (Some(target), Some(start)) = (&offscreen, bench.gpu_wait_start_ns) {
            let per_frame_ms = target.gpu_wait_ns().saturating_sub(start) as f64
                / 1e6
                / bench.samples_ms.len() as f64;
            println!("waited for the GPU {per_frame_ms:.2} ms a frame (0: the CPU sets the pace)");
        }
        exit.write(AppExit::Success);
    }
}

/// Pixels the 2D view moves per timed frame, and frames before it turns back (so it stays
/// over the data: a sweep of ±250 px).
const PAN_PX: f32 = 20.0;
const PAN_TURN: usize = 25;
/// Radians the 3D views turn per timed frame.
const ORBIT_STEP: f32 = 0.01;

/// `--bench-morph`: keep the map morphing between A's and B's while frames are timed (each
/// way at the morph's own pace, as `M` runs it).
fn morph_for_bench(bench: Res<FrameBench>, view: Option<ResMut<super::compare::CompareView>>) {
    if let (true, Some(mut view)) = (bench.timing(), view)
        && view.t == view.target
    {
        view.toggle();
    }
}

/// `--bench-pan`: move the active camera as a user dragging the map would, once per timed frame.
fn pan_for_bench(
    bench: Res<FrameBench>,
    mut flat: Query<(&Camera, &mut Transform, &Projection), With<super::camera::View2d>>,
    mut orbit: Query<(&Camera, &mut bevy_panorbit_camera::PanOrbitCamera)>,
) {
    if !bench.timing() {
        return;
    }
    let sign = if (bench.samples_ms.len() / PAN_TURN).is_multiple_of(2) {
        1.0
    } else {
        -1.0
    };
    for (camera, mut transform, projection) in &mut flat {
        if let (true, Projection::Orthographic(ortho)) = (camera.is_active, projection) {
            transform.translation.x += sign * PAN_PX * ortho.scale;
        }
    }
    for (camera, mut orbit) in &mut orbit {
        if camera.is_active {
            orbit.target_yaw += sign * ORBIT_STEP;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_screenshots_never_overwrite_even_past_ten_thousand() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in 1..=10_000 {
            std::fs::write(dir.path().join(format!("ivt-explore-{n}.png")), b"old").expect("seed");
        }
        let frame = || {
            Image::new_fill(
                bevy::render::render_resource::Extent3d {
                    width: 2,
                    height: 2,
                    depth_or_array_layers: 1,
                },
                bevy::render::render_resource::TextureDimension::D2,
                &[255, 0, 0, 255],
                bevy::render::render_resource::TextureFormat::Rgba8UnormSrgb,
                bevy::asset::RenderAssetUsages::default(),
            )
        };
        // Two presses before either is written: two files.
        let a = save_new_png(frame(), dir.path()).expect("a");
        let b = save_new_png(frame(), dir.path()).expect("b");
        assert_eq!(a, dir.path().join("ivt-explore-10001.png"));
        assert_eq!(b, dir.path().join("ivt-explore-10002.png"));
        assert_eq!(
            std::fs::read(dir.path().join("ivt-explore-9999.png")).expect("old"),
            b"old"
        );
        assert!(image::open(&b).is_ok());
    }

    #[test]
    fn frame_stats_are_mean_and_p95() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        let (mean, p95) = frame_stats(&samples);
        assert!((mean - 50.5).abs() < 1e-9);
        assert_eq!(p95, 95.0);
        assert_eq!(frame_stats(&[]), (0.0, 0.0));
        assert_eq!(frame_stats(&[7.0]), (7.0, 7.0));
    }

    #[test]
    fn bench_pan_moves_the_active_2d_camera_only_while_timing() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(FrameBench {
                frames: 100,
                settled: 0,
                samples_ms: Vec::new(),
                pan: true,
                morph: false,
                gpu_wait_start_ns: None,
            })
            .add_systems(Update, pan_for_bench);
        let mut ortho = OrthographicProjection::default_2d();
        ortho.scale = 0.5;
        let cam = app
            .world_mut()
            .spawn((
                Camera::default(),
                Projection::Orthographic(ortho),
                Transform::default(),
                super::super::camera::View2d,
            ))
            .id();
        let x = |app: &App| {
            app.world()
                .get::<Transform>(cam)
                .expect("camera")
                .translation
                .x
        };
        // Settling: the view stays.
        app.update();
        assert_eq!(x(&app), 0.0);
        // Timing: 20 px of 0.5 world units each, one way and then back.
        app.world_mut().resource_mut::<FrameBench>().settled = SETTLE_FRAMES + 1;
        app.update();
        assert_eq!(x(&app), PAN_PX * 0.5);
        app.world_mut()
            .resource_mut::<FrameBench>()
            .samples_ms
            .resize(PAN_TURN, 1.0);
        app.update();
        assert_eq!(x(&app), 0.0);
        // All frames measured: still again.
        app.world_mut()
            .resource_mut::<FrameBench>()
            .samples_ms
            .resize(100, 1.0);
        app.update();
        assert_eq!(x(&app), 0.0);
    }
}
