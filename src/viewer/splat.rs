//! Every point of the layout as a screen-space disc, splatted by a compute shader.
//!
//! Drawing one triangle per point costs a rasteriser a fixed price per primitive (setup,
//! binning, a 4×4 block of fragment work even for a 1-pixel point): on a software renderer
//! 100,000 points cost more than the whole rest of the frame, whatever their size. So the
//! points are not primitives at all. Each frame, before the cameras render:
//!
//! 1. two per-pixel buffers of the plot's viewport are cleared (nearest depth, top point);
//! 2. nearest depth: one thread per point projects it and `atomicMax`es its depth (reverse z:
//!    larger is nearer) into every pixel of its disc;
//! 3. top point: the same pass again, writing `index + 1` where the pixel's nearest depth is
//!    the point's own (ties — a 2D map lies in one plane — go to the higher index).
//!
//! A 2D map seen from above has one depth for all points: step 2 is skipped there.
//! Then one quad over the map's projected bounds in the main pass
//! (`shaders/splat_resolve.wgsl`) turns the top points into colour and depth, so thumbnails and
//! highlight rings compose with the points as before. Cost: one or two cheap passes over the
//! points and one over the map's pixels.
//!
//! The main world owns the buffers (as [`ShaderBuffer`] assets, re-sized with the viewport)
//! and the view parameters of the active plot camera; this module's render-world half only
//! dispatches the two compute passes. The split view has two maps, each with its own frame
//! ([`SplatFrames`]: A's for the active camera, B's for the mirror camera of the right half).

use std::borrow::Cow;

use bevy::asset::{RenderAssetUsages, embedded_asset, load_embedded_asset};
use bevy::core_pipeline::schedule::camera_driver;
use bevy::prelude::*;
use bevy::render::extract_resource::{ExtractResource, ExtractResourcePlugin};
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::binding_types::{
    storage_buffer, storage_buffer_read_only, uniform_buffer,
};
use bevy::render::render_resource::{
    BindGroupEntries, BindGroupLayoutDescriptor, BindGroupLayoutEntries, CachedComputePipelineId,
    CommandEncoder, ComputePassDescriptor, ComputePipelineDescriptor, PipelineCache, ShaderStages,
    ShaderType, UniformBuffer,
};
use bevy::render::renderer::{RenderContext, RenderDevice, RenderGraph, RenderQueue};
use bevy::render::storage::{GpuShaderBuffer, ShaderBuffer};
use bevy::render::{RenderApp, RenderStartup};
use bevy::shader::ShaderDefVal;

/// Threads per workgroup of both passes (as in `shaders/splat.wgsl`).
const WORKGROUP: u32 = 64;
/// Most workgroups along one dispatch dimension (WebGPU's guaranteed limit).
const MAX_GROUPS_X: u32 = 65_535;

/// What the compute passes need from the main world each frame.
#[derive(ShaderType, Debug, Clone, Copy, Default, PartialEq)]
pub struct SplatParams {
    pub clip_from_world: Mat4,
    /// Viewport width and height in physical pixels, disc radius in pixels, unused.
    pub viewport: Vec4,
    pub n_points: u32,
    /// Workgroups along x: the point index is `x + y · groups_x · 64` (set at dispatch).
    pub groups_x: u32,
    /// 1 when every point has the same depth (a 2D map seen from above): the nearest-depth
    /// pass is skipped and the top point is simply the highest index.
    pub flat: u32,
    /// A morph in motion: each point is drawn this far (0–1) from its place towards its place
    /// in `morph_to`.
    pub morph: f32,
}

/// One frame per map side (`MapSide::index`), extracted to the render world.
#[derive(Resource, Clone, ExtractResource)]
pub struct SplatFrames(pub [SplatFrame; 2]);

/// One map's buffers and this frame's parameters.
#[derive(Clone)]
pub struct SplatFrame {
    /// Per point: x, y, z and the sRGBA8 colour's bits as the fourth float.
    pub points: Handle<ShaderBuffer>,
    /// Per viewport pixel: the nearest depth's bits + 1 (0: empty).
    pub depth: Handle<ShaderBuffer>,
    /// Per viewport pixel: the top point's index + 1 (0: empty).
    pub top: Handle<ShaderBuffer>,
    /// Per point: where a morph takes it (x, y, z, unused); one dummy entry when none.
    pub morph_to: Handle<ShaderBuffer>,
    /// Viewport size the per-pixel buffers were made for.
    pub size: UVec2,
    pub params: SplatParams,
    /// False while no plot camera draws (nothing is splatted; the buffers are still cleared).
    pub active: bool,
}

impl SplatFrame {
    pub fn new(buffers: &mut Assets<ShaderBuffer>) -> Self {
        Self {
            points: buffers.add(points_buffer(&[])),
            depth: buffers.add(pixel_buffer(UVec2::ONE)),
            top: buffers.add(pixel_buffer(UVec2::ONE)),
            morph_to: buffers.add(points_buffer(&[])),
            size: UVec2::ONE,
            params: SplatParams::default(),
            active: false,
        }
    }
}

/// The points' GPU buffer: 16 bytes a point (never empty: a binding needs at least one).
pub fn points_buffer(points: &[[u32; 4]]) -> ShaderBuffer {
    let mut bytes = Vec::with_capacity(points.len().max(1) * 16);
    for p in points {
        for word in p {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
    }
    if bytes.is_empty() {
        bytes.resize(16, 0);
    }
    ShaderBuffer::new(&bytes, RenderAssetUsages::RENDER_WORLD)
}

/// One `u32` per pixel, created on the GPU only (cleared there every frame).
pub fn pixel_buffer(size: UVec2) -> ShaderBuffer {
    let pixels = (size.x.max(1) as usize) * (size.y.max(1) as usize);
    ShaderBuffer::with_size(pixels * 4, RenderAssetUsages::RENDER_WORLD)
}

/// Workgroups for `n` points: x up to the dispatch limit, y as many rows as that needs.
pub fn dispatch_size(n: u32) -> (u32, u32) {
    let groups = n.div_ceil(WORKGROUP).max(1);
    let x = groups.min(MAX_GROUPS_X);
    (x, groups.div_ceil(x))
}

pub struct SplatPlugin;

impl Plugin for SplatPlugin {
    fn build(&self, app: &mut App) {
        embedded_asset!(app, "shaders/splat.wgsl");
        app.add_plugins(ExtractResourcePlugin::<SplatFrames>::default());
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app
                .add_systems(RenderStartup, init_pipelines)
                .add_systems(RenderGraph, splat_points.before(camera_driver));
        }
    }
}

#[derive(Resource)]
struct SplatPipelines {
    layout: BindGroupLayoutDescriptor,
    nearest_depth: CachedComputePipelineId,
    top_point: CachedComputePipelineId,
}

fn init_pipelines(
    mut commands: Commands,
    asset_server: Res<AssetServer>,
    pipeline_cache: Res<PipelineCache>,
) {
    let layout = BindGroupLayoutDescriptor::new(
        "ivt_splat",
        &BindGroupLayoutEntries::sequential(
            ShaderStages::COMPUTE,
            (
                uniform_buffer::<SplatParams>(false),
                storage_buffer_read_only::<UVec4>(false),
                storage_buffer::<u32>(false),
                storage_buffer::<u32>(false),
                storage_buffer_read_only::<Vec4>(false),
            ),
        ),
    );
    let shader = load_embedded_asset!(asset_server.as_ref(), "shaders/splat.wgsl");
    let queue = |label: &'static str, shader_defs: Vec<ShaderDefVal>| {
        pipeline_cache.queue_compute_pipeline(ComputePipelineDescriptor {
            label: Some(Cow::Borrowed(label)),
            layout: vec![layout.clone()],
            shader: shader.clone(),
            shader_defs,
            entry_point: Some(Cow::Borrowed("splat")),
            ..default()
        })
    };
    let nearest_depth = queue("ivt_splat_nearest_depth", Vec::new());
    let top_point = queue("ivt_splat_top_point", vec!["TOP_POINT".into()]);
    commands.insert_resource(SplatPipelines {
        layout,
        nearest_depth,
        top_point,
    });
}

/// Each side's frame: clear its per-pixel buffers, then run both passes (once their pipelines
/// are compiled).
fn splat_points(
    mut render_context: RenderContext,
    frames: Option<Res<SplatFrames>>,
    buffers: Res<RenderAssets<GpuShaderBuffer>>,
    pipelines: Option<Res<SplatPipelines>>,
    pipeline_cache: Res<PipelineCache>,
    device: Res<RenderDevice>,
    queue: Res<RenderQueue>,
) {
    let (Some(frames), Some(pipelines)) = (frames, pipelines) else {
        return;
    };
    let gpu = Gpu {
        buffers: &buffers,
        pipelines: &pipelines,
        cache: &pipeline_cache,
        device: &device,
        queue: &queue,
    };
    let encoder = render_context.command_encoder();
    for frame in &frames.0 {
        splat_frame(encoder, frame, &gpu);
    }
}

/// What the passes are recorded with.
struct Gpu<'a> {
    buffers: &'a RenderAssets<GpuShaderBuffer>,
    pipelines: &'a SplatPipelines,
    cache: &'a PipelineCache,
    device: &'a RenderDevice,
    queue: &'a RenderQueue,
}

fn splat_frame(encoder: &mut CommandEncoder, frame: &SplatFrame, gpu: &Gpu) {
    let (buffers, pipelines, pipeline_cache) = (gpu.buffers, gpu.pipelines, gpu.cache);
    let (device, queue) = (gpu.device, gpu.queue);
    let (Some(points), Some(depth), Some(top), Some(morph_to)) = (
        buffers.get(&frame.points),
        buffers.get(&frame.depth),
        buffers.get(&frame.top),
        buffers.get(&frame.morph_to),
    ) else {
        return;
    };
    encoder.clear_buffer(&top.buffer, 0, None);
    let flat = frame.params.flat == 1;
    if !flat {
        encoder.clear_buffer(&depth.buffer, 0, None);
    }
    if !frame.active || frame.params.n_points == 0 {
        return;
    }
    // The per-pixel buffers may still be the previous size for a frame after a resize.
    let pixels = u64::from(frame.size.x) * u64::from(frame.size.y) * 4;
    if depth.buffer.size() < pixels || top.buffer.size() < pixels {
        return;
    }
    let (Some(nearest_depth), Some(top_point)) = (
        pipeline_cache.get_compute_pipeline(pipelines.nearest_depth),
        pipeline_cache.get_compute_pipeline(pipelines.top_point),
    ) else {
        return;
    };
    let (x, y) = dispatch_size(frame.params.n_points);
    let mut params = UniformBuffer::from(SplatParams {
        groups_x: x,
        ..frame.params
    });
    params.write_buffer(device, queue);
    let bind_group = device.create_bind_group(
        Some("ivt_splat"),
        &pipeline_cache.get_bind_group_layout(&pipelines.layout),
        &BindGroupEntries::sequential((
            &params,
            points.buffer.as_entire_binding(),
            depth.buffer.as_entire_binding(),
            top.buffer.as_entire_binding(),
            morph_to.buffer.as_entire_binding(),
        )),
    );
    let mut pass = encoder.begin_compute_pass(&ComputePassDescriptor {
        label: Some("ivt_splat"),
        ..default()
    });
    pass.set_bind_group(0, &bind_group, &[]);
    let passes = if flat {
        &[top_point][..]
    } else {
        &[nearest_depth, top_point][..]
    };
    for pipeline in passes {
        pass.set_pipeline(pipeline);
        pass.dispatch_workgroups(x, y, 1);
    }
}

/// The screen rectangle (normalised device coordinates x0, y0, x1, y1) holding every disc of
/// points within `bounds`: the projected corners, widened by the disc radius, cut to the view.
/// The whole view when a corner is behind the camera; an empty rectangle when off screen.
pub fn screen_rect(
    bounds: &super::camera::Bounds,
    clip_from_world: Mat4,
    viewport_px: Vec2,
    radius_px: f32,
) -> Vec4 {
    let mut lo = Vec2::splat(f32::INFINITY);
    let mut hi = Vec2::splat(f32::NEG_INFINITY);
    for corner in 0..8 {
        let pick = |bit: usize, a: f32, b: f32| if corner & bit == 0 { a } else { b };
        let p = Vec3::new(
            pick(1, bounds.min.x, bounds.max.x),
            pick(2, bounds.min.y, bounds.max.y),
            pick(4, bounds.min.z, bounds.max.z),
        );
        let clip = clip_from_world * p.extend(1.0);
        // Also catches NaN.
        if clip.w.is_nan() || clip.w <= 0.0 {
            return Vec4::new(-1.0, -1.0, 1.0, 1.0);
        }
        let ndc = clip.truncate().truncate() / clip.w;
        lo = lo.min(ndc);
        hi = hi.max(ndc);
    }
    // One pixel more than the radius: a disc's edge pixels are never cut.
    let pad = 2.0 * (radius_px + 1.0) / viewport_px.max(Vec2::ONE);
    let lo = (lo - pad).max(Vec2::NEG_ONE);
    let hi = (hi + pad).min(Vec2::ONE);
    if lo.x >= hi.x || lo.y >= hi.y {
        return Vec4::ZERO;
    }
    Vec4::new(lo.x, lo.y, hi.x, hi.y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::camera::Bounds;

    #[test]
    fn dispatch_covers_every_point_within_the_limits() {
        for n in [0, 1, 63, 64, 65, 1_000_000, 5_000_000, 100_000_000] {
            let (x, y) = dispatch_size(n);
            assert!((1..=MAX_GROUPS_X).contains(&x), "{n}: x {x}");
            assert!((1..=MAX_GROUPS_X).contains(&y), "{n}: y {y}");
            assert!(u64::from(x) * u64::from(y) * u64::from(WORKGROUP) >= u64::from(n));
            // Not more than one extra row of workgroups.
            assert!(u64::from(x) * u64::from(y - 1) * u64::from(WORKGROUP) < u64::from(n.max(1)));
        }
    }

    #[test]
    fn points_buffer_is_16_bytes_a_point_and_never_empty() {
        let b = points_buffer(&[[1, 2, 3, 4], [5, 6, 7, 8]]);
        let data = b.data.expect("data");
        assert_eq!(data.len(), 32);
        assert_eq!(&data[16..20], &5u32.to_le_bytes());
        assert_eq!(points_buffer(&[]).data.expect("data").len(), 16);
        assert_eq!(pixel_buffer(UVec2::new(3, 2)).buffer_description.size, 24);
        assert_eq!(pixel_buffer(UVec2::ZERO).buffer_description.size, 4);
    }

    #[test]
    fn screen_rect_holds_the_projected_bounds_and_their_discs() {
        let bounds = Bounds {
            min: Vec3::new(-1.0, -2.0, 0.0),
            max: Vec3::new(1.0, 2.0, 0.0),
        };
        // World units straight to NDC, scaled by a quarter.
        let m = Mat4::from_scale(Vec3::splat(0.25));
        let r = screen_rect(&bounds, m, Vec2::new(200.0, 100.0), 4.0);
        // ±0.25 / ±0.5, widened by (4 + 1) px: 0.05 in x, 0.1 in y.
        let want = Vec4::new(-0.3, -0.6, 0.3, 0.6);
        assert!((r - want).abs().max_element() < 1e-6, "{r}");
        // Cut to the view.
        let big = screen_rect(
            &bounds,
            Mat4::from_scale(Vec3::splat(3.0)),
            Vec2::ONE * 100.0,
            1.0,
        );
        assert_eq!(big, Vec4::new(-1.0, -1.0, 1.0, 1.0));
        // Off to the side: nothing to draw.
        let away = Mat4::from_translation(Vec3::new(10.0, 0.0, 0.0)) * m;
        assert_eq!(
            screen_rect(&bounds, away, Vec2::ONE * 100.0, 1.0),
            Vec4::ZERO
        );
        // A corner behind a perspective camera: the whole view.
        let persp = Mat4::perspective_infinite_reverse_rh(1.0, 1.0, 0.1);
        let around = Bounds {
            min: Vec3::splat(-5.0),
            max: Vec3::splat(5.0),
        };
        assert_eq!(
            screen_rect(&around, persp, Vec2::ONE * 100.0, 1.0),
            Vec4::new(-1.0, -1.0, 1.0, 1.0)
        );
    }
}
