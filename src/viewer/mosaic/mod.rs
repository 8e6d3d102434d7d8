//! Every point an image: thumbnails drawn from GPU texture arrays, streamed as the view needs
//! them, with level of detail by on-screen size.
//!
//! How it fits together:
//! - At start the thumbnail cache ([`crate::thumbs`]) is opened or built in the background
//!   (dots are drawn meanwhile).
//! - Each tier (8, 32, 128 px cells) has a texture array on the GPU whose cells are a pool
//!   ([`pool::TierPool`]); the number of layers per tier comes from `--gpu-mem-mb`.
//! - When the view changes, [`visible::update_visible_thumbnails`] finds the items in view whose
//!   thumbnail would be at least [`pool::DOT_PX`] wide, keeps at most `--max-thumbnails` of
//!   them (a fixed per-item rank decides, so the same ones stay while panning), picks each one's
//!   tier by its size on screen, and asks a loader thread for cells not yet on the GPU. Until a
//!   cell arrives the item is drawn from a smaller tier it already has, or as its dot.
//! - The loader reads cells from the cache file (never on the main thread); the cells are
//!   copied into their texture layers by a render-world system (`write_texture`), so nothing
//!   re-uploads a whole texture.
//! - One mesh per tier holds a quad per drawn thumbnail; the shader (`shaders/mosaic.wgsl`)
//!   turns each into a camera-facing billboard, so the 3D views need nothing else.

pub mod pool;
mod visible;

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use bevy::asset::{RenderAssetUsages, embedded_asset};
use bevy::camera::visibility::NoFrustumCulling;
use bevy::image::ImageSampler;
use bevy::mesh::{MeshVertexAttribute, PrimitiveTopology, VertexAttributeValues};
use bevy::prelude::*;
use bevy::render::render_asset::RenderAssets;
use bevy::render::render_resource::{
    AsBindGroup, Extent3d, Origin3d, ShaderType, TexelCopyBufferLayout, TexelCopyTextureInfo,
    TextureAspect, TextureDimension, TextureFormat, TextureViewDescriptor, TextureViewDimension,
    VertexFormat,
};
use bevy::render::renderer::RenderQueue;
use bevy::render::texture::GpuImage;
use bevy::render::{Render, RenderApp, RenderSystems};
use bevy_egui::input::egui_wants_any_keyboard_input;

use super::camera::Bounds;
use super::colors::Rgba8;
use super::points::{ATTRIBUTE_RGBA8, flat_material};
use super::state::{MapSide, Store};
use crate::dataset::{Images, ItemId};
use crate::progress::SharedProgress;
use crate::thumbs::{BuildReport, ThumbStore};
use pool::TierPool;

const SHADER: &str = "embedded://ivt/viewer/mosaic/mosaic.wgsl";

/// Cell position in the atlas (u, v of its top-left corner) and texture layer, plus the draw
/// order (1 on top) — one per vertex.
pub const ATTRIBUTE_CELL: MeshVertexAttribute =
    MeshVertexAttribute::new("ThumbCell", 0x1f7e_2a11_0a56, VertexFormat::Float32x4);

/// Cell requests sent to the loader at most per view update (bounds the bytes in flight).
const MAX_REQUESTS_PER_UPDATE: usize = 4096;

/// What the user controls (keys `T`, `X`, the Thumbnails panel, the command line).
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct MosaicSettings {
    /// Thumbnails on (`T`); off draws dots only.
    pub enabled: bool,
    /// One thumbnail per thumbnail-sized screen cell in dense regions (`X`).
    pub declutter: bool,
    /// Thumbnail side as a multiple of the typical spacing between points.
    pub size: f32,
    /// At most this many thumbnails in view (the rest are dots).
    pub max_thumbnails: usize,
    /// A frame of the point's colour around each thumbnail, in logical pixels (0: none).
    pub border: f32,
}

impl Default for MosaicSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            declutter: false,
            size: 1.0,
            max_thumbnails: 100_000,
            border: 1.5,
        }
    }
}

/// How the thumbnail cache came up (for the panel and the log).
#[derive(Debug, Clone, PartialEq)]
pub enum BuildState {
    NoImages,
    Building,
    Ready,
    Failed(String),
}

/// A cell read by the loader, to be copied into its texture layer.
struct Loaded {
    tier: usize,
    slot: u32,
    item: u32,
    bytes: Vec<u8>,
}

/// A cell on its way to the GPU: shared between the main world (which fills it) and the render
/// world (which writes the textures).
#[derive(Resource, Clone, Default)]
pub struct CellUploads(Arc<Mutex<Vec<CellUpload>>>);

pub struct CellUpload {
    image: AssetId<Image>,
    layer: u32,
    origin: [u32; 2],
    side: u32,
    bytes: Vec<u8>,
}

/// One tier's GPU side.
struct TierGpu {
    pool: TierPool,
    image: Handle<Image>,
    mesh: Handle<Mesh>,
    material: Handle<MosaicMaterial>,
    entity: Entity,
    /// The split view's B half: its own mesh (B's places), on B's render layer.
    mesh_b: Handle<Mesh>,
    entity_b: Entity,
}

/// What the cache build ends with.
type BuildResult = Result<(Arc<ThumbStore>, BuildReport), String>;

/// The mosaic's state.
#[derive(Resource, Default)]
pub struct Mosaic {
    pub state: Option<BuildState>,
    pub progress: Arc<SharedProgress>,
    /// The cache build: the store arrives first (cells can be drawn at once), the report when
    /// every cell is built.
    build: Option<super::job::Job<BuildResult>>,
    opened: Option<Mutex<Receiver<Arc<ThumbStore>>>>,
    store: Option<Arc<ThumbStore>>,
    tiers: Vec<TierGpu>,
    requests: Option<Sender<Vec<CellRequest>>>,
    loaded: Option<Mutex<Receiver<Vec<Loaded>>>>,
    /// Cells requested and not yet back.
    in_flight: usize,
    /// What the view drew last, and its caches (`visible.rs` owns them).
    view: visible::ViewCache,
    /// Thumbnails drawn, and how many of them wait for a sharper tier.
    pub drawn_count: usize,
    /// Images the finished build could not decode (drawn as a red cross; listed in the log).
    /// The explorer reads only a sample of image headers at load, so the build is where most
    /// unreadable files are found: the status line says how many.
    pub unreadable: usize,
    pub waiting: usize,
    /// Physical pixels per thumbnail side in the current view (the first drawn).
    pub side_px: f32,
}

impl Mosaic {
    /// Nothing left to stream for the current view (screenshots wait for it).
    pub fn is_idle(&self, settings: &MosaicSettings) -> bool {
        match &self.state {
            Some(BuildState::Building) | None => !settings.enabled,
            // Cells not built yet are decoded on demand: the view's cells are what counts.
            Some(BuildState::Ready) => self.in_flight == 0 && self.waiting == 0,
            Some(_) => true,
        }
    }

    /// The cache is still being built (cells not built yet are decoded when a view asks).
    pub fn is_building(&self) -> bool {
        self.build.is_some()
    }

    /// The topmost thumbnail of a map side under `at` (physical pixels within its viewport).
    pub fn thumbnail_at(&self, side: MapSide, at: Vec2) -> Option<ItemId> {
        self.view.thumbnail_at(side, at)
    }

    /// GPU bytes held by the texture arrays.
    pub fn gpu_bytes(&self) -> u64 {
        self.tiers
            .iter()
            .map(|t| u64::from(t.pool.layers) * pool::LAYER_BYTES)
            .sum()
    }

    /// (tier side, cells holding a picture, capacity) per tier.
    pub fn residency(&self) -> Vec<(u32, usize, usize)> {
        self.tiers
            .iter()
            .map(|t| (t.pool.side, t.pool.ready_count(), t.pool.capacity()))
            .collect()
    }
}

/// Options fixed at start.
#[derive(Resource, Debug, Clone)]
pub struct MosaicConfig {
    pub thumbnail_px: u32,
    pub gpu_mem_mb: u64,
    /// Disk for large cells (`--thumbnail-cache-gb`).
    pub large_cache_gb: f64,
}

#[derive(ShaderType, Debug, Clone, Copy)]
pub struct MosaicUniform {
    /// Thumbnail side in world units.
    pub world_size: f32,
    /// A cell's side in texture coordinates.
    pub cell_uv: f32,
    /// 1 in the 2D view: draw order decides overlaps instead of depth.
    pub flat: f32,
    pub border: f32,
}

#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct MosaicMaterial {
    #[uniform(0)]
    pub params: MosaicUniform,
    #[texture(1, dimension = "2d_array")]
    #[sampler(2)]
    pub atlas: Handle<Image>,
}

flat_material!(
    MosaicMaterial,
    SHADER,
    [
        Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
        ATTRIBUTE_CELL.at_shader_location(1),
        ATTRIBUTE_RGBA8.at_shader_location(2),
    ]
);

/// Public set to order against.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct MosaicSystems;

pub struct MosaicPlugin {
    pub config: MosaicConfig,
    pub settings: MosaicSettings,
}

impl Plugin for MosaicPlugin {
    fn build(&self, app: &mut App) {
        embedded_asset!(app, "mosaic.wgsl");
        let uploads = CellUploads::default();
        app.add_plugins(MaterialPlugin::<MosaicMaterial>::default())
            .insert_resource(self.config.clone())
            .insert_resource(self.settings.clone())
            .insert_resource(uploads.clone())
            .init_resource::<Mosaic>()
            .add_systems(Startup, start_build)
            .add_systems(
                Update,
                (
                    finish_build,
                    mosaic_keys.run_if(not(egui_wants_any_keyboard_input)),
                ),
            )
            .add_systems(
                PostUpdate,
                (
                    receive_cells,
                    visible::update_visible_thumbnails,
                    log_first_thumbnails_frame,
                )
                    .chain()
                    .in_set(MosaicSystems)
                    .after(bevy::transform::TransformSystems::Propagate)
                    .after(bevy::camera::CameraUpdateSystems),
            );
        if let Some(render_app) = app.get_sub_app_mut(RenderApp) {
            render_app
                .insert_resource(uploads)
                .add_systems(Render, write_cells.in_set(RenderSystems::PrepareResources));
        }
    }
}

/// The longest the thumbnail build waits for the first frame with points.
const POINTS_WAIT_SECS: u64 = 5;

fn start_build(
    store: Res<Store>,
    config: Res<MosaicConfig>,
    shown: Option<Res<super::state::PointsShown>>,
    mut mosaic: ResMut<Mosaic>,
) {
    if matches!(store.data.images, Images::None) {
        mosaic.state = Some(BuildState::NoImages);
        return;
    }
    let data = Arc::clone(&store.data);
    let cache = store.cache.clone();
    let progress = Arc::clone(&mosaic.progress);
    let requested = config.thumbnail_px;
    let large_budget = crate::thumbs::gb_to_bytes(config.large_cache_gb);
    let (opened_tx, opened_rx) = mpsc::channel();
    let shown = shown.map(|s| Arc::clone(&s.0));
    let build = super::job::Job::spawn("thumbnail cache", move || {
        let started = std::time::Instant::now();
        let cell_px = crate::thumbs::cell_px_for(&data.images, requested);
        let build = crate::thumbs::open(&data.images, cell_px, &cache, large_budget)
            .map_err(|e| e.to_string())?;
        info!(
            "thumbnail store open in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        // The store serves cells from now on (decoding on demand what is not built yet).
        let _ = opened_tx.send(build.store());
        // The check of a complete cache (a stat per image) and the build wait for the first
        // frame with points (at most a few seconds): beside a starting window on 2 cores, the
        // check pushed a 1 M relaunch's first frame past 5 s.
        if let Some(shown) = &shown {
            let waiting = std::time::Instant::now();
            while !shown.load(std::sync::atomic::Ordering::Acquire)
                && waiting.elapsed() < std::time::Duration::from_secs(POINTS_WAIT_SECS)
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        build.run(progress.as_ref()).map_err(|e| e.to_string())
    });
    match build {
        Ok(b) => {
            mosaic.state = Some(BuildState::Building);
            mosaic.build = Some(b);
            mosaic.opened = Some(Mutex::new(opened_rx));
        }
        Err(e) => {
            warn!("thumbnails unavailable: {e}");
            mosaic.state = Some(BuildState::Failed(e));
        }
    }
}

/// Take the store as soon as it is open: plan the GPU pools, create the textures and meshes,
/// start the loader. When the build ends, log what went wrong with images (once).
#[allow(clippy::too_many_arguments)]
fn finish_build(
    mut commands: Commands,
    store: Res<Store>,
    config: Res<MosaicConfig>,
    settings: Res<MosaicSettings>,
    mut mosaic: ResMut<Mosaic>,
    mut images: ResMut<Assets<Image>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<MosaicMaterial>>,
) {
    let mut arrived = mosaic
        .opened
        .as_ref()
        .and_then(|rx| rx.lock().ok().and_then(|rx| rx.try_recv().ok()));
    if arrived.is_some() {
        mosaic.opened = None;
    }
    if let Some(finished) = mosaic.build.as_mut().and_then(|task| task.poll_result()) {
        mosaic.build = None;
        mosaic.opened = None;
        match finished {
            Ok((thumbs, report)) => {
                for w in &report.warnings {
                    warn!("{w}");
                }
                for line in crate::thumbs::failure_lines(&store.data.images, &thumbs, &report) {
                    warn!("{line}");
                }
                mosaic.unreadable = thumbs.failed_items().count();
                info!(
                    "thumbnails ready in {:.2} s: {} decoded, {} from the cache (cells {:?} px)",
                    report.elapsed_secs,
                    report.decoded,
                    report.reused,
                    thumbs.tiers()
                );
                // A store sent before the build is already drawn from.
                if mosaic.store.is_none() && arrived.is_none() {
                    arrived = Some(thumbs);
                }
            }
            Err(e) => {
                warn!("thumbnails unavailable: {e}");
                mosaic.state = Some(BuildState::Failed(e));
                return;
            }
        }
    }
    if let Some(thumbs) = arrived {
        setup_gpu(
            &mut commands,
            &config,
            &settings,
            &mut mosaic,
            (&mut images, &mut meshes, &mut materials),
            thumbs,
        );
    }
}

type MosaicAssets<'a> = (
    &'a mut Assets<Image>,
    &'a mut Assets<Mesh>,
    &'a mut Assets<MosaicMaterial>,
);

/// Plan the GPU pools for `thumbs`, create the textures and meshes, start the loader.
fn setup_gpu(
    commands: &mut Commands,
    config: &MosaicConfig,
    settings: &MosaicSettings,
    mosaic: &mut Mosaic,
    (images, meshes, materials): MosaicAssets<'_>,
    thumbs: Arc<ThumbStore>,
) {
    let plan = match pool::plan_layers(
        thumbs.tiers(),
        thumbs.n_items(),
        settings.max_thumbnails,
        config.gpu_mem_mb << 20,
    ) {
        Ok(p) => p,
        Err(e) => {
            warn!("thumbnails off: {e}");
            mosaic.state = Some(BuildState::Failed(e));
            return;
        }
    };
    for (&side, &layers) in thumbs.tiers().iter().zip(&plan) {
        let image = images.add(atlas_image(layers));
        let mesh = meshes.add(empty_mesh());
        let material = materials.add(MosaicMaterial {
            params: MosaicUniform {
                world_size: 0.0,
                cell_uv: side as f32 / pool::LAYER_PX as f32,
                flat: 1.0,
                border: settings.border,
            },
            atlas: image.clone(),
        });
        let entity = commands
            .spawn((
                Mesh3d(mesh.clone()),
                MeshMaterial3d(material.clone()),
                Transform::IDENTITY,
                NoFrustumCulling,
                Visibility::Hidden,
            ))
            .id();
        let mesh_b = meshes.add(empty_mesh());
        let entity_b = commands
            .spawn((
                Mesh3d(mesh_b.clone()),
                MeshMaterial3d(material.clone()),
                Transform::IDENTITY,
                NoFrustumCulling,
                Visibility::Hidden,
                super::camera::layer_b(),
            ))
            .id();
        mosaic.tiers.push(TierGpu {
            pool: TierPool::new(side, layers, thumbs.n_items()),
            image,
            mesh,
            material,
            entity,
            mesh_b,
            entity_b,
        });
    }
    let (requests, loaded) = spawn_loader(Arc::clone(&thumbs));
    mosaic.requests = Some(requests);
    mosaic.loaded = Some(Mutex::new(loaded));
    mosaic.store = Some(thumbs);
    mosaic.state = Some(BuildState::Ready);
    mosaic.view.invalidate();
}

/// An uninitialised texture array of `layers` layers: cells are written into it one by one.
fn atlas_image(layers: u32) -> Image {
    let mut image = Image::new_uninit(
        Extent3d {
            width: pool::LAYER_PX,
            height: pool::LAYER_PX,
            depth_or_array_layers: layers,
        },
        TextureDimension::D2,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD,
    );
    // Without this a one-layer array would be viewed as a plain 2D texture.
    image.texture_view_descriptor = Some(TextureViewDescriptor {
        dimension: Some(TextureViewDimension::D2Array),
        ..default()
    });
    image.sampler = ImageSampler::linear();
    image
}

/// A cell wanted on the GPU: (tier, slot, item).
type CellRequest = (usize, u32, u32);

/// Cells the loader hands back together: small enough that the first ones arrive while it
/// decodes the rest of a batch.
const LOADED_CHUNK: usize = 32;

/// A thread that reads requested cells from the store: disk reads and on-demand decodes never
/// happen on a frame. Its own decoding threads, not rayon's global pool: a cache build fills
/// that pool, and the cells a view waits for must not queue behind it.
fn spawn_loader(thumbs: Arc<ThumbStore>) -> (Sender<Vec<CellRequest>>, Receiver<Vec<Loaded>>) {
    let (req_tx, req_rx) = mpsc::channel::<Vec<CellRequest>>();
    let (out_tx, out_rx) = mpsc::channel();
    let decoders = rayon::ThreadPoolBuilder::new()
        .num_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .thread_name(|i| format!("thumbnail decoder {i}"))
        .build();
    std::thread::Builder::new()
        .name("thumbnail loader".to_owned())
        .spawn(move || {
            let read = |&(tier, slot, item): &CellRequest| {
                let mut bytes = vec![0u8; thumbs.cell_bytes(tier)];
                if let Err(e) = thumbs.read_cell(tier, item as usize, &mut bytes) {
                    // A cache file that shrank under us: draw the placeholder, say why.
                    error!("thumbnail of item {item}: {e}");
                    bytes = crate::thumbs::placeholder(thumbs.tiers()[tier]);
                }
                Loaded {
                    tier,
                    slot,
                    item,
                    bytes,
                }
            };
            // Ends when the explorer drops its sender.
            while let Ok(batch) = req_rx.recv() {
                let send =
                    |chunk: &[CellRequest]| out_tx.send(chunk.iter().map(read).collect()).is_ok();
                let sent = match &decoders {
                    Ok(pool) => pool.install(|| {
                        use rayon::prelude::*;
                        batch.par_chunks(LOADED_CHUNK).all(send)
                    }),
                    Err(_) => batch.chunks(LOADED_CHUNK).all(send),
                };
                if !sent {
                    break;
                }
            }
        })
        .ok();
    (req_tx, out_rx)
}

fn empty_mesh() -> Mesh {
    let mut mesh = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    );
    fill_mesh(&mut mesh, &[]);
    mesh
}

/// One quad (two triangles, six vertices at the centre; the shader spreads them) per thumbnail.
fn fill_mesh(mesh: &mut Mesh, quads: &[(Vec3, [f32; 4], Rgba8)]) {
    let mut pos = Vec::with_capacity(quads.len().max(1) * 6);
    let mut cell = Vec::with_capacity(quads.len().max(1) * 6);
    let mut col = Vec::with_capacity(quads.len().max(1) * 6);
    for (p, c, rgba) in quads {
        // The corner index rides in the layer value (layer + 256 · corner): the vertex index
        // cannot say it, as the mesh allocator may start a mesh at any vertex.
        for corner in 0..6 {
            pos.push(p.to_array());
            cell.push([c[0], c[1], c[2] + 256.0 * corner as f32, c[3]]);
            col.push(*rgba);
        }
    }
    // Zero-length vertex data upsets Bevy's allocator (see points.rs): one hidden quad instead.
    if quads.is_empty() {
        pos = vec![[0.0; 3]; 6];
        cell = vec![[0.0, 0.0, -1.0, 0.0]; 6];
        col = vec![super::colors::HIDDEN; 6];
    }
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, pos);
    mesh.insert_attribute(ATTRIBUTE_CELL, cell);
    mesh.insert_attribute(ATTRIBUTE_RGBA8, VertexAttributeValues::Unorm8x4(col));
}

fn mosaic_keys(keys: Res<ButtonInput<KeyCode>>, mut settings: ResMut<MosaicSettings>) {
    if keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]) {
        return;
    }
    if keys.just_pressed(KeyCode::KeyT) {
        settings.enabled = !settings.enabled;
    }
    if keys.just_pressed(KeyCode::KeyX) {
        settings.declutter = !settings.declutter;
    }
}

/// Log once how long after launch thumbnails were first on screen (the frame after the first
/// quads were built, as for the points): the million-image launch bar is measured with it.
fn log_first_thumbnails_frame(
    mosaic: Res<Mosaic>,
    launched: Option<Res<super::state::Launched>>,
    mut frames: Local<u32>,
) {
    if mosaic.drawn_count == 0 || *frames > 1 {
        return;
    }
    *frames += 1;
    if *frames == 2
        && let Some(launched) = launched
    {
        info!(
            "first frame with thumbnails {:.2} s after launch ({} drawn)",
            launched.0.elapsed().as_secs_f64(),
            mosaic.drawn_count
        );
    }
}

/// Queue the cells the loader has read for upload; their items can be drawn from now on.
fn receive_cells(mut mosaic: ResMut<Mosaic>, uploads: Res<CellUploads>) {
    let batches: Vec<Vec<Loaded>> = match &mosaic.loaded {
        Some(rx) => match rx.lock() {
            Ok(rx) => rx.try_iter().collect(),
            Err(_) => return,
        },
        None => return,
    };
    if batches.is_empty() {
        return;
    }
    let Ok(mut queue) = uploads.0.lock() else {
        return;
    };
    for cell in batches.into_iter().flatten() {
        mosaic.in_flight = mosaic.in_flight.saturating_sub(1);
        let Some(tier) = mosaic.tiers.get_mut(cell.tier) else {
            continue;
        };
        if !tier.pool.mark_ready(cell.slot, cell.item) {
            continue;
        }
        let (layer, x, y) = tier.pool.cell_origin(cell.slot);
        queue.push(CellUpload {
            image: tier.image.id(),
            layer,
            origin: [x, y],
            side: tier.pool.side,
            bytes: cell.bytes,
        });
    }
    // New pictures can replace blurrier ones: recompute the view.
    mosaic.view.invalidate();
}

/// Render world: copy queued cells into their texture layers (only once the texture exists).
fn write_cells(
    uploads: Res<CellUploads>,
    images: Res<RenderAssets<GpuImage>>,
    queue: Res<RenderQueue>,
) {
    let Ok(mut pending) = uploads.0.lock() else {
        return;
    };
    pending.retain(|cell| {
        let Some(gpu) = images.get(cell.image) else {
            return true;
        };
        queue.write_texture(
            TexelCopyTextureInfo {
                texture: &gpu.texture,
                mip_level: 0,
                origin: Origin3d {
                    x: cell.origin[0],
                    y: cell.origin[1],
                    z: cell.layer,
                },
                aspect: TextureAspect::All,
            },
            &cell.bytes,
            TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(cell.side * 4),
                rows_per_image: Some(cell.side),
            },
            Extent3d {
                width: cell.side,
                height: cell.side,
                depth_or_array_layers: 1,
            },
        );
        false
    });
}

/// The thumbnail side in world units: `size` times the typical spacing of the points.
pub fn world_size(bounds: &Bounds, n_items: usize, dims: usize, size: f32) -> f32 {
    let extent = bounds.size().max_element().max(f32::EPSILON);
    let per_axis = (n_items.max(1) as f32).powf(1.0 / dims.clamp(2, 3) as f32);
    0.8 * extent / per_axis * size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_toggles_thumbnails_and_x_declutter_but_not_with_ctrl() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<ButtonInput<KeyCode>>()
            .insert_resource(MosaicSettings::default())
            .add_systems(Update, mosaic_keys);
        let press = crate::viewer::press_keys;
        press(&mut app, &[KeyCode::KeyT]);
        assert!(!app.world().resource::<MosaicSettings>().enabled);
        press(&mut app, &[KeyCode::KeyX]);
        assert!(app.world().resource::<MosaicSettings>().declutter);
        press(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyT]);
        assert!(
            !app.world().resource::<MosaicSettings>().enabled,
            "Ctrl+T is not T"
        );
        press(&mut app, &[KeyCode::KeyT]);
        assert!(app.world().resource::<MosaicSettings>().enabled);
    }

    #[test]
    fn thumbnails_span_about_the_spacing_of_the_points() {
        let layout = super::super::LayoutCoords {
            dims: 2,
            coords: (0..100)
                .flat_map(|i| [(i % 10) as f32, (i / 10) as f32])
                .collect(),
            label: "grid".into(),
        };
        let bounds = Bounds::of(&layout).expect("bounds");
        let w = world_size(&bounds, 100, 2, 1.0);
        assert!((w - 0.72).abs() < 1e-5, "{w}");
        assert!((world_size(&bounds, 100, 2, 2.0) - 2.0 * w).abs() < 1e-5);
        // In 3D the spacing follows the cube root.
        assert!((world_size(&bounds, 1000, 3, 1.0) - 0.72).abs() < 1e-4);
    }
}
