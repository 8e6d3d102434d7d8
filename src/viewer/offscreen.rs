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
pub struct OffscreenTarget(pub Handle<Image>);

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
        app.insert_resource(OffscreenTarget(handle))
            // First runs after Startup on the first frame, so the cameras spawned there are
            // retargeted before anything is rendered.
            .add_systems(First, retarget_new_cameras);
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app
                .init_resource::<GpuFrames>()
                .add_systems(Render, pace_frames.in_set(RenderSystems::Cleanup));
        }
    }
}

fn retarget_new_cameras(
    target: Res<OffscreenTarget>,
    mut cameras: Query<&mut RenderTarget, Added<Camera>>,
) {
    for mut camera_target in &mut cameras {
        *camera_target = RenderTarget::Image(target.0.clone().into());
    }
}

/// Frames submitted, and frames the GPU has finished (counted by wgpu's callback).
#[derive(Resource, Default)]
struct GpuFrames {
    submitted: u64,
    finished: Arc<AtomicU64>,
}

impl GpuFrames {
    fn unfinished(&self) -> u64 {
        self.submitted
            .saturating_sub(self.finished.load(Ordering::Acquire))
    }
}

/// After the frame's submission: count it when done, then wait while too many are unfinished.
fn pace_frames(mut frames: ResMut<GpuFrames>, device: Res<RenderDevice>, queue: Res<RenderQueue>) {
    let finished = Arc::clone(&frames.finished);
    // Called once the queue's last submission (the frame's, made in `render_system`) is done.
    queue.on_submitted_work_done(move || {
        finished.fetch_add(1, Ordering::AcqRel);
    });
    frames.submitted += 1;
    while frames.unfinished() > FRAMES_IN_FLIGHT {
        // A poll runs the callbacks of finished work; wgpu has no wait for "the one before the
        // last" without naming its submission, so poll and sleep briefly (the GPU is busy
        // for the frames still in flight, so this costs no frame time).
        if let Err(e) = device.poll(PollType::Poll) {
            warn!("offscreen: the GPU device was lost while waiting for a frame: {e}");
            return;
        }
        if frames.unfinished() > FRAMES_IN_FLIGHT {
            std::thread::sleep(Duration::from_micros(100));
        }
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
        let handle = app.world().resource::<OffscreenTarget>().0.clone();
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

    #[test]
    fn unfinished_frames_count_what_the_gpu_has_not_done() {
        let frames = GpuFrames {
            submitted: 5,
            ..default()
        };
        assert_eq!(frames.unfinished(), 5);
        frames.finished.store(4, Ordering::Release);
        assert_eq!(frames.unfinished(), 1);
        frames.finished.store(6, Ordering::Release);
        assert_eq!(frames.unfinished(), 0);
    }
}
