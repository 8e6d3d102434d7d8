//! Rendering with no window (`--offscreen`): the map is drawn into a GPU image of the window's
//! size, so `screenshot` and `open --bench-frames` run on a machine with a GPU and no display (a
//! compute server, a CI runner). Xvfb is no substitute there: most GPU drivers cannot present to
//! it, and Vulkan then falls back to software rendering, so a frame time measured under Xvfb
//! says nothing about the GPU.
//!
//! The window entity still exists, it is just never opened (no winit), so every system that
//! reads the window's size and scale sees what it would see on screen; only the cameras'
//! target changes. With no swapchain, nothing stops the CPU from queuing frames faster than the
//! GPU draws them, and frame times would then measure the CPU alone. So, as a swapchain would,
//! at most [`FRAMES_IN_FLIGHT`] frames are left unfinished on the GPU.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bevy::camera::RenderTarget;
use bevy::prelude::*;
use bevy::render::render_resource::{PollType, TextureFormat};
use bevy::render::renderer::{RenderDevice, RenderQueue};
use bevy::render::{Render, RenderApp, RenderSystems};

/// Frames queued on the GPU before the CPU waits, as with a double-buffered swapchain.
pub const FRAMES_IN_FLIGHT: u64 = 2;

/// The image every camera draws into instead of the window.
#[derive(Resource, Clone, Debug)]
pub struct OffscreenTarget {
    pub image: Handle<Image>,
    /// Shared with the render world's [`GpuFrames`].
    gpu_wait_ns: Arc<AtomicU64>,
}

impl OffscreenTarget {
    /// Nanoseconds the render thread has waited for the GPU so far: frames that wait are
    /// GPU-bound, frames that don't are CPU-bound (the frame benchmark reports it).
    pub fn gpu_wait_ns(&self) -> u64 {
        self.gpu_wait_ns.load(Ordering::Acquire)
    }
}

/// Adds the target image and retargets every camera to it. The app must be built without
/// `WinitPlugin` (see `viewer::run`).
pub struct OffscreenPlugin {
    /// Physical pixels: the window's size (its scale factor is 1 without a display).
    pub size: UVec2,
}

impl Plugin for OffscreenPlugin {
    fn build(&self, app: &mut App) {
        let image = Image::new_target_texture(
            self.size.x.max(1),
            self.size.y.max(1),
            TextureFormat::Rgba8UnormSrgb,
            None,
        );
        let handle = app.world_mut().resource_mut::<Assets<Image>>().add(image);
        let gpu_wait_ns = Arc::new(AtomicU64::new(0));
        app.insert_resource(OffscreenTarget {
            image: handle,
            gpu_wait_ns: Arc::clone(&gpu_wait_ns),
        })
        // First runs after Startup on the first frame, so the cameras spawned there are
        // retargeted before anything is rendered.
        .add_systems(First, retarget_new_cameras);
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app
                .insert_resource(GpuFrames {
                    waited_ns: gpu_wait_ns,
                    ..default()
                })
                .add_systems(Render, pace_frames.in_set(RenderSystems::Cleanup));
        }
    }
}

fn retarget_new_cameras(
    target: Res<OffscreenTarget>,
    mut cameras: Query<&mut RenderTarget, Added<Camera>>,
) {
    for mut camera_target in &mut cameras {
        *camera_target = RenderTarget::Image(target.image.clone().into());
    }
}

/// Frames submitted, and frames the GPU has finished (counted by wgpu's callback).
#[derive(Resource, Default)]
struct GpuFrames {
    submitted: u64,
    finished: Arc<AtomicU64>,
    waited_ns: Arc<AtomicU64>,
}

/// After the frame's submission: count it when done, then wait while too many are unfinished.
fn pace_frames(mut frames: ResMut<GpuFrames>, device: Res<RenderDevice>, queue: Res<RenderQueue>) {
    let finished = Arc::clone(&frames.finished);
    // Called once the queue's last submission (the frame's, made in `render_system`) is done.
    queue.on_submitted_work_done(move || {
        finished.fetch_add(1, Ordering::AcqRel);
    });
    frames.submitted += 1;
    let poll = || {
        device
            .poll(PollType::Poll)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    if let Err(e) = frames.wait_for_gpu(poll, Duration::from_micros(100)) {
        warn!("offscreen: the GPU device was lost while waiting for a frame: {e}");
    }
}

impl GpuFrames {
    fn unfinished(&self) -> u64 {
        self.submitted
            .saturating_sub(self.finished.load(Ordering::Acquire))
    }

    /// Poll (which runs the callbacks of finished work) and nap until at most
    /// [`FRAMES_IN_FLIGHT`] frames are unfinished; the time spent is added to `waited_ns`.
    /// wgpu has no wait for "the submission before the last" without naming it, hence the
    /// naps: the GPU is busy with the frames still in flight, so they cost no frame time.
    fn wait_for_gpu(
        &self,
        mut poll: impl FnMut() -> Result<(), String>,
        nap: Duration,
    ) -> Result<(), String> {
        let start = std::time::Instant::now();
        let mut outcome = Ok(());
        while self.unfinished() > FRAMES_IN_FLIGHT {
            if let Err(e) = poll() {
                outcome = Err(e);
                break;
            }
            if self.unfinished() > FRAMES_IN_FLIGHT {
                std::thread::sleep(nap);
            }
        }
        let waited = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.waited_ns.fetch_add(waited, Ordering::AcqRel);
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cameras_spawned_at_start_or_later_draw_into_the_image() {
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, AssetPlugin::default()))
            .init_asset::<Image>()
            .add_plugins(OffscreenPlugin {
                size: UVec2::new(64, 32),
            })
            .add_systems(Startup, |mut commands: Commands| {
                commands.spawn(Camera::default());
            });
        app.update();
        let later = app.world_mut().spawn(Camera::default()).id();
        app.update();
        let handle = app.world().resource::<OffscreenTarget>().image.clone();
        let mut targets = app.world_mut().query::<&RenderTarget>();
        let targets: Vec<_> = targets.iter(app.world()).collect();
        assert_eq!(targets.len(), 2);
        for target in targets {
            assert_eq!(target.as_image(), Some(&handle));
        }
        assert!(app.world().get::<RenderTarget>(later).is_some());
        let image = app.world().resource::<Assets<Image>>();
        let image = image.get(&handle).expect("the target image");
        assert_eq!((image.width(), image.height()), (64, 32));
    }

    /// A GPU that finishes one frame every third poll: the wait stops as soon as no more
    /// than FRAMES_IN_FLIGHT are unfinished, never earlier, and its time is counted.
    #[test]
    fn the_wait_leaves_frames_in_flight_and_counts_its_time() {
        let frames = GpuFrames {
            submitted: FRAMES_IN_FLIGHT + 3,
            ..default()
        };
        let gpu_done = Arc::clone(&frames.finished);
        let mut polls = 0;
        let nap = Duration::from_millis(1);
        frames
            .wait_for_gpu(
                || {
                    polls += 1;
                    if polls % 3 == 0 {
                        gpu_done.fetch_add(1, Ordering::AcqRel);
                    }
                    Ok(())
                },
                nap,
            )
            .expect("no device error");
        assert_eq!(frames.unfinished(), FRAMES_IN_FLIGHT);
        assert_eq!(polls, 9);
        // Eight naps: after each poll but the last.
        assert!(frames.waited_ns.load(Ordering::Acquire) >= 8 * 1_000_000);

        // Caught up: no poll, no time.
        let before = frames.waited_ns.load(Ordering::Acquire);
        frames
            .wait_for_gpu(|| panic!("no poll needed"), nap)
            .expect("nothing to wait for");
        assert!(frames.waited_ns.load(Ordering::Acquire) - before < 1_000_000);

        // A lost device ends the wait with its error instead of spinning.
        let lost = GpuFrames {
            submitted: FRAMES_IN_FLIGHT + 1,
            ..default()
        };
        let err = lost
            .wait_for_gpu(|| Err("device lost".to_owned()), nap)
            .expect_err("the poll failed");
        assert_eq!(err, "device lost");
    }
}
