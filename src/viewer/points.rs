//! Every point of the layout, plus the selection and label highlights.
//!
//! All points live in one GPU buffer (16 bytes a point: position and sRGBA colour), rewritten
//! only when the layout or the colours change — not per frame, and never one entity per point.
//! They are splatted as discs of a fixed pixel size by compute passes ([`super::splat`]) and
//! shown by one quad over the map's projected bounds (`shaders/splat_resolve.wgsl`).
//! The selected item, its neighbours and labelled items get rings in small meshes drawn on top:
//! three vertices per ring at the item's position, expanded around a screen-aligned disc by
//! `shaders/points.wgsl`.
//!
//! Each map side has its own buffer, resolve quad and rings (`MapSide`): B's, on render layer
//! 1, are built from B's layout and drawn by the split view's right half only.

use std::sync::Arc;

use bevy::asset::{RenderAssetUsages, embedded_asset};
use bevy::camera::visibility::{NoFrustumCulling, RenderLayers};
use bevy::mesh::{
    MeshVertexAttribute, MeshVertexBufferLayoutRef, PrimitiveTopology, VertexAttributeValues,
};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, RenderPipelineDescriptor, ShaderType, SpecializedMeshPipelineError, VertexFormat,
};
use bevy::render::storage::ShaderBuffer;

use super::camera::{SplitCameras, ViewSettings};
use super::colors::{NEIGHBOR_COLOR, Rgba8, SELECTED_COLOR};
use super::splat::{
    SplatFrame, SplatFrames, SplatParams, pixel_buffer, points_buffer, screen_rect,
};
use super::state::{ColorState, LayoutCoords, MapSide, NeighborView, Selection, Store};
use crate::dataset::ItemId;

/// A `Material` drawn by one WGSL file (vertex and fragment) from exactly the given vertex
/// attributes: no prepass, no shadows, both faces (see [`use_vertex_attributes`]). The points,
/// the splat's resolve quad and the mosaic's thumbnails are all drawn this way.
macro_rules! flat_material {
    ($material:ty, $shader:expr, [$($attribute:expr),* $(,)?]) => {
        impl bevy::pbr::Material for $material {
            fn vertex_shader() -> bevy::shader::ShaderRef {
                $shader.into()
            }

            fn fragment_shader() -> bevy::shader::ShaderRef {
                $shader.into()
            }

            fn enable_prepass() -> bool {
                false
            }

            fn enable_shadows() -> bool {
                false
            }

            fn specialize(
                _pipeline: &bevy::pbr::MaterialPipeline,
                descriptor: &mut bevy::render::render_resource::RenderPipelineDescriptor,
                layout: &bevy::mesh::MeshVertexBufferLayoutRef,
                _key: bevy::pbr::MaterialPipelineKey<Self>,
            ) -> Result<(), bevy::render::render_resource::SpecializedMeshPipelineError> {
                $crate::viewer::points::use_vertex_attributes(descriptor, layout, &[$($attribute),*])
            }
        }
    };
}
pub(crate) use flat_material;

const SHADER: &str = "embedded://ivt/viewer/shaders/points.wgsl";
const RESOLVE_SHADER: &str = "embedded://ivt/viewer/shaders/splat_resolve.wgsl";

/// sRGBA bytes per vertex; a high id keeps it clear of Bevy's own attributes.
pub const ATTRIBUTE_RGBA8: MeshVertexAttribute =
    MeshVertexAttribute::new("PointRgba8", 0x1f7e_2a11_0a55, VertexFormat::Unorm8x4);

/// The point diameters the slider and `--point-size` accept, in logical pixels.
pub const POINT_SIZE_RANGE: std::ops::RangeInclusive<f32> = 1.0..=20.0;

/// Point sizes, in logical pixels (scaled by the window's scale factor for the shader).
#[derive(Resource, Debug, Clone, Copy, PartialEq)]
pub struct PointSettings {
    pub size_px: f32,
    pub selected_px: f32,
    pub neighbor_px: f32,
    /// Ring around a labelled point, in its label's colour.
    pub labelled_px: f32,
}

impl Default for PointSettings {
    fn default() -> Self {
        Self {
            size_px: 5.0,
            selected_px: 30.0,
            neighbor_px: 15.0,
            labelled_px: 11.0,
        }
    }
}

#[derive(ShaderType, Debug, Clone, Copy)]
pub struct PointsUniform {
    pub size_px: f32,
    pub outline: f32,
    pub ring: f32,
    pub _pad: f32,
}

/// The material of the highlight meshes (selection, neighbour and label rings).
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct PointsMaterial {
    #[uniform(0)]
    pub params: PointsUniform,
}

flat_material!(
    PointsMaterial,
    SHADER,
    [
        Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
        ATTRIBUTE_RGBA8.at_shader_location(1),
    ]
);

#[derive(ShaderType, Debug, Clone, Copy, PartialEq)]
pub struct SplatUniform {
    pub size_px: f32,
    pub outline: f32,
    /// A morph in motion: how far points are drawn towards `morph_to` (as the splat's).
    pub morph: f32,
    pub _pad: f32,
    /// The part of the view to resolve, in normalised device coordinates: x0, y0, x1, y1 —
    /// the map's projected bounds, so a small map costs few pixels.
    pub rect: Vec4,
}

/// The points as the compute passes left them: colour and depth per viewport pixel.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct SplatMaterial {
    #[uniform(0)]
    pub params: SplatUniform,
    #[storage(1, read_only)]
    pub points: Handle<ShaderBuffer>,
    #[storage(2, read_only)]
    pub top: Handle<ShaderBuffer>,
    #[storage(3, read_only)]
    pub morph_to: Handle<ShaderBuffer>,
}

flat_material!(
    SplatMaterial,
    RESOLVE_SHADER,
    [Mesh::ATTRIBUTE_POSITION.at_shader_location(0)]
);

/// Point the pipeline at exactly these vertex attributes, and draw both faces (discs and
/// thumbnails are seen from behind when orbiting).
pub fn use_vertex_attributes(
    descriptor: &mut RenderPipelineDescriptor,
    layout: &MeshVertexBufferLayoutRef,
    attributes: &[bevy::mesh::VertexAttributeDescriptor],
) -> Result<(), SpecializedMeshPipelineError> {
    descriptor.vertex.buffers = vec![layout.0.get_layout(attributes)?];
    descriptor.primitive.cull_mode = None;
    Ok(())
}

/// Which mesh an entity draws.
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointsLayer {
    All,
    Labelled,
    Neighbors,
    Selected,
}

/// Handles of one side's meshes and materials.
struct SideAssets {
    all: Handle<SplatMaterial>,
    labelled: (Handle<Mesh>, Handle<PointsMaterial>),
    neighbors: (Handle<Mesh>, Handle<PointsMaterial>),
    selected: (Handle<Mesh>, Handle<PointsMaterial>),
}

/// Both sides' (`MapSide::index`): B's are drawn only by the split view's right half.
#[derive(Resource)]
struct PointsAssets([SideAssets; 2]);

/// What one side's meshes were last built from, so they are rebuilt only on change.
#[derive(Default)]
struct SideBuilt {
    layout_version: u64,
    color_version: u64,
    highlight: Option<HighlightKey>,
    labelled: Option<(u64, u64, u32)>,
    filter: (super::labels::LabelFilter, u64),
    /// Bounds of the layout as last written to the points buffer.
    bounds: Option<super::camera::Bounds>,
    /// Frames left in which to rebuild the resolve material's bind group (see
    /// `update_splat_frame`).
    rebind_frames: u8,
    /// The map in the morph buffer (A's side, a morph in motion), and its bounds.
    morph_to: Option<(Arc<LayoutCoords>, Option<super::camera::Bounds>)>,
}

#[derive(Resource, Default)]
struct Built {
    sides: [SideBuilt; 2],
    scale_factor: f32,
}

/// Public set to order against: meshes are up to date after it.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct PointsSystems;

pub struct PointsPlugin;

impl Plugin for PointsPlugin {
    fn build(&self, app: &mut App) {
        bevy::shader::load_shader_library!(app, "shaders/srgb.wgsl");
        embedded_asset!(app, "shaders/points.wgsl");
        embedded_asset!(app, "shaders/splat_resolve.wgsl");
        app.add_plugins((
            MaterialPlugin::<PointsMaterial>::default(),
            MaterialPlugin::<SplatMaterial>::default(),
            super::splat::SplatPlugin,
        ))
        .init_resource::<PointSettings>()
        .init_resource::<Built>()
        .init_resource::<super::state::PointsShown>()
        .add_systems(Startup, spawn_points)
        .add_systems(
            PostUpdate,
            (
                update_points_buffer,
                update_morph_buffer,
                update_highlight_meshes,
                update_labelled_mesh,
                update_point_sizes,
                update_splat_frame
                    .after(update_points_buffer)
                    .after(update_morph_buffer)
                    .after(bevy::transform::TransformSystems::Propagate)
                    .after(bevy::camera::CameraUpdateSystems),
            )
                .in_set(PointsSystems),
        )
        .add_systems(Last, log_first_points_frame);
    }
}

fn empty_mesh() -> Mesh {
    // The CPU copy is kept: the highlight and colour updates rewrite attributes in place.
    let mut mesh = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    );
    fill_mesh(&mut mesh, &[], &[]);
    mesh
}

/// `ring`: 0 a filled disc, 1 a ring, 2 a ring above the others (see the shader).
fn material(size_px: f32, outline: f32, ring: f32) -> PointsMaterial {
    PointsMaterial {
        params: PointsUniform {
            size_px,
            outline,
            ring,
            _pad: 0.0,
        },
    }
}

fn spawn_points(
    mut commands: Commands,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<PointsMaterial>>,
    mut splat_materials: ResMut<Assets<SplatMaterial>>,
    mut buffers: ResMut<Assets<ShaderBuffer>>,
    settings: Res<PointSettings>,
) {
    // A unit square, stretched over the map's part of the view by the shader.
    let mut cover = Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::RENDER_WORLD,
    );
    cover.insert_attribute(
        Mesh::ATTRIBUTE_POSITION,
        vec![
            [0.0f32, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 0.0],
            [0.0, 1.0, 0.0],
        ],
    );
    let cover = meshes.add(cover);
    let mut spawn_side = |side: MapSide| {
        let frame = SplatFrame::new(&mut buffers);
        // B's meshes are seen by B's camera only (and A's, on the default layer, not by it).
        let layers = match side {
            MapSide::A => RenderLayers::default(),
            MapSide::B => super::camera::layer_b(),
        };
        let all = splat_materials.add(SplatMaterial {
            params: SplatUniform {
                size_px: settings.size_px,
                outline: 0.0,
                morph: 0.0,
                _pad: 0.0,
                rect: Vec4::ZERO,
            },
            points: frame.points.clone(),
            top: frame.top.clone(),
            morph_to: frame.morph_to.clone(),
        });
        commands.spawn((
            Mesh3d(cover.clone()),
            MeshMaterial3d(all.clone()),
            Transform::IDENTITY,
            NoFrustumCulling,
            PointsLayer::All,
            side,
            layers.clone(),
        ));
        let mut spawn = |layer: PointsLayer, mat: PointsMaterial| {
            let mesh = meshes.add(empty_mesh());
            let mat = materials.add(mat);
            commands.spawn((
                Mesh3d(mesh.clone()),
                MeshMaterial3d(mat.clone()),
                Transform::IDENTITY,
                // The mesh's bounds are its points' centres; discs reach beyond them.
                NoFrustumCulling,
                layer,
                side,
                layers.clone(),
            ));
            (mesh, mat)
        };
        let labelled = spawn(
            PointsLayer::Labelled,
            material(settings.labelled_px, 0.0, 1.0),
        );
        let neighbors = spawn(
            PointsLayer::Neighbors,
            material(settings.neighbor_px, 0.0, 1.0),
        );
        let selected = spawn(
            PointsLayer::Selected,
            material(settings.selected_px, 0.0, 2.0),
        );
        let assets = SideAssets {
            all,
            labelled,
            neighbors,
            selected,
        };
        (frame, assets)
    };
    let (frame_a, assets_a) = spawn_side(MapSide::A);
    let (frame_b, assets_b) = spawn_side(MapSide::B);
    commands.insert_resource(SplatFrames([frame_a, frame_b]));
    commands.insert_resource(PointsAssets([assets_a, assets_b]));
}

/// Three vertices per point at its position (one triangle, expanded by the shader); no index
/// buffer.
pub fn fill_mesh(mesh: &mut Mesh, positions: &[Vec3], colors: &[Rgba8]) {
    let n = positions.len().min(colors.len());
    let mut pos = Vec::with_capacity(n.max(1) * 3);
    let mut col = Vec::with_capacity(n.max(1) * 3);
    for (p, c) in positions.iter().zip(colors) {
        for _ in 0..3 {
            pos.push(p.to_array());
            col.push(*c);
        }
    }
    // Bevy's buffer allocator mishandles zero-length vertex data ("use-after-free" errors):
    // an empty set is one hidden point instead, which the shader moves out of view.
    if n == 0 {
        pos = vec![[0.0; 3]; 3];
        col = vec![super::colors::HIDDEN; 3];
    }
    mesh.insert_attribute(Mesh::ATTRIBUTE_POSITION, pos);
    mesh.insert_attribute(ATTRIBUTE_RGBA8, VertexAttributeValues::Unorm8x4(col));
}

/// Rewrite a side's points buffer when its layout or the colours change.
fn update_points_buffer(
    store: Res<Store>,
    view: Res<ViewSettings>,
    color: Res<ColorState>,
    labels: Option<Res<super::labels::Labels>>,
    frames: Option<ResMut<SplatFrames>>,
    mut built: ResMut<Built>,
    mut buffers: ResMut<Assets<ShaderBuffer>>,
) {
    let Some(mut frames) = frames else { return };
    // The label filter hides points; it depends on the labels only while it is on.
    let filter = labels
        .as_ref()
        .map(|l| l.filter.clone())
        .unwrap_or_default();
    let filter_key = match &filter {
        super::labels::LabelFilter::All => (filter.clone(), 0),
        _ => (filter.clone(), labels.as_ref().map_or(0, |l| l.version)),
    };
    for (side, layout, version) in view.drawn_sides(&store) {
        let built = &mut built.sides[side.index()];
        if built.layout_version == version
            && built.color_version == color.version
            && built.filter == filter_key
        {
            continue;
        }
        built.layout_version = version;
        built.color_version = color.version;
        built.filter = filter_key.clone();
        let started = std::time::Instant::now();
        built.bounds = super::camera::Bounds::of(layout);
        let mut colors = color.point_colors(layout.n_items());
        if let Some(labels) = &labels {
            for (i, c) in colors.iter_mut().enumerate() {
                if !labels.shows(ItemId(i as u32)) {
                    *c = super::colors::HIDDEN;
                }
            }
        }
        let points: Vec<[u32; 4]> = (0..layout.n_items())
            .zip(&colors)
            .map(|(i, c)| point_words(layout.position(ItemId(i as u32)), u32::from_le_bytes(*c)))
            .collect();
        let frame = &mut frames.0[side.index()];
        if let Some(mut buffer) = buffers.get_mut(&frame.points) {
            *buffer = points_buffer(&points);
        }
        frame.params.n_points = u32::try_from(points.len()).unwrap_or(u32::MAX);
        debug!(
            "points buffer of {side:?} for layout version {version} in {:.1} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
        // The rings follow the points.
        built.highlight = None;
        built.labelled = None;
    }
}

/// A morph in motion (A's side): the map it heads for, in the buffer the splat passes blend
/// towards — written once per morph direction, not per frame.
fn update_morph_buffer(
    store: Res<Store>,
    frames: Option<ResMut<SplatFrames>>,
    mut built: ResMut<Built>,
    mut buffers: ResMut<Assets<ShaderBuffer>>,
) {
    let (Some(frames), Some(morph)) = (frames, &store.morph) else {
        return;
    };
    let built = &mut built.sides[MapSide::A.index()];
    if built
        .morph_to
        .as_ref()
        .is_some_and(|(to, _)| Arc::ptr_eq(to, &morph.to))
    {
        return;
    }
    let to = &morph.to;
    let points: Vec<[u32; 4]> = (0..to.n_items())
        .map(|i| point_words(to.position(ItemId(i as u32)), 0))
        .collect();
    if let Some(mut buffer) = buffers.get_mut(&frames.0[MapSide::A.index()].morph_to) {
        *buffer = points_buffer(&points);
    }
    // The resolve material binds the new buffer from its next rebuild.
    built.rebind_frames = 2;
    built.morph_to = Some((Arc::clone(to), super::camera::Bounds::of(to)));
}

/// A point as the splat buffers hold it: x, y, z and a fourth word (the colour's bits).
fn point_words(p: Vec3, fourth: u32) -> [u32; 4] {
    [p.x.to_bits(), p.y.to_bits(), p.z.to_bits(), fourth]
}

/// Where `items` of a side's map are drawn now (a morph moves A's).
fn positions_of(
    store: &Store,
    side: MapSide,
    layout: &LayoutCoords,
    items: impl Iterator<Item = usize>,
) -> Vec<Vec3> {
    items
        .map(|i| store.drawn_position(side, layout, ItemId(i as u32)))
        .collect()
}

/// Log once how long after launch the points were first on screen (the frame after the mesh
/// was filled: it is rendered at the end of that frame). The relaunch bar is measured with it.
fn log_first_points_frame(
    built: Res<Built>,
    launched: Option<Res<super::state::Launched>>,
    shown: Res<super::state::PointsShown>,
    mut frames_with_points: Local<u32>,
) {
    if built.sides[0].layout_version == 0 || *frames_with_points > 1 {
        return;
    }
    *frames_with_points += 1;
    if *frames_with_points == 2 {
        shown.0.store(true, std::sync::atomic::Ordering::Release);
        if let Some(launched) = launched {
            info!(
                "first frame with points {:.2} s after launch",
                launched.0.elapsed().as_secs_f64()
            );
        }
    }
}

/// Rings in label colours around labelled items.
fn update_labelled_mesh(
    store: Res<Store>,
    view: Res<ViewSettings>,
    labels: Option<Res<super::labels::Labels>>,
    assets: Option<Res<PointsAssets>>,
    mut built: ResMut<Built>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    let (Some(assets), Some(labels)) = (assets, labels) else {
        return;
    };
    for (side, layout, version) in view.drawn_sides(&store) {
        let key = (labels.version, version, store.morph_key(side));
        let built = &mut built.sides[side.index()];
        if built.labelled == Some(key) {
            continue;
        }
        built.labelled = Some(key);
        let (positions, colors): (Vec<Vec3>, Vec<Rgba8>) = labels
            .state
            .iter()
            .filter(|(item, _)| item.index() < layout.n_items())
            .map(|(item, label)| {
                (
                    store.drawn_position(side, layout, item),
                    labels.color(label),
                )
            })
            .unzip();
        if let Some(mut mesh) = meshes.get_mut(&assets.0[side.index()].labelled.0) {
            fill_mesh(&mut mesh, &positions, &colors);
        }
    }
}

/// Rings around the selected item and its neighbours.
/// What the highlight rings were drawn for: selection, layout, the grid's items.
type HighlightKey = (
    u64,
    (u64, u32),
    usize,
    Option<super::state::GridKey>,
    Option<(usize, usize)>,
);

fn update_highlight_meshes(
    store: Res<Store>,
    settings: Res<ViewSettings>,
    selection: Res<Selection>,
    view: Res<NeighborView>,
    assets: Option<Res<PointsAssets>>,
    mut built: ResMut<Built>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    let Some(assets) = assets else { return };
    for (side, layout, version) in settings.drawn_sides(&store) {
        // The grid's items change with what they were computed for (an item or a query).
        let key = (
            selection.version,
            (version, store.morph_key(side)),
            view.items.len(),
            view.computed_for,
            view.query_shown,
        );
        let built = &mut built.sides[side.index()];
        if built.highlight == Some(key) {
            continue;
        }
        built.highlight = Some(key);
        let (sel, nbr): (Vec<usize>, Vec<usize>) = match selection.selected {
            Some(s) if s.index() < layout.n_items() => (
                vec![s.index()],
                view.items
                    .iter()
                    .map(|n| n.item.index())
                    .filter(|&i| i < layout.n_items())
                    .collect(),
            ),
            _ => (Vec::new(), Vec::new()),
        };
        let assets = &assets.0[side.index()];
        if let Some(mut mesh) = meshes.get_mut(&assets.selected.0) {
            fill_mesh(
                &mut mesh,
                &positions_of(&store, side, layout, sel.into_iter()),
                &[SELECTED_COLOR],
            );
        }
        if let Some(mut mesh) = meshes.get_mut(&assets.neighbors.0) {
            let n = nbr.len();
            fill_mesh(
                &mut mesh,
                &positions_of(&store, side, layout, nbr.into_iter()),
                &vec![NEIGHBOR_COLOR; n],
            );
        }
    }
}

/// Sizes are in physical pixels in the shader: follow the window's scale factor and settings.
fn update_point_sizes(
    settings: Res<PointSettings>,
    windows: Query<&Window, With<bevy::window::PrimaryWindow>>,
    assets: Option<Res<PointsAssets>>,
    mut built: ResMut<Built>,
    mut materials: ResMut<Assets<PointsMaterial>>,
    mut splat_materials: ResMut<Assets<SplatMaterial>>,
) {
    let Some(assets) = assets else { return };
    let scale = windows.single().map_or(1.0, |w| w.scale_factor());
    if built.scale_factor == scale && !settings.is_changed() {
        return;
    }
    built.scale_factor = scale;
    for side in &assets.0 {
        if let Some(mut m) = splat_materials.get_mut(&side.all) {
            m.params.size_px = settings.size_px * scale;
            m.params.outline = outline_for(settings.size_px, 0.0);
        }
        let sizes = [
            (&side.labelled.1, settings.labelled_px),
            (&side.neighbors.1, settings.neighbor_px),
            (&side.selected.1, settings.selected_px),
        ];
        for (handle, px) in sizes {
            if let Some(mut m) = materials.get_mut(handle) {
                m.params.size_px = px * scale;
                m.params.outline = outline_for(px, m.params.ring);
            }
        }
    }
}

/// A thin dark rim separates overlapping discs once they are large enough to show it (rings
/// have none).
fn outline_for(px: f32, ring: f32) -> f32 {
    if ring > 0.5 || px < 4.0 { 0.0 } else { 0.25 }
}

/// This frame's view for each side's splat passes: its camera's matrices and viewport (A's:
/// the active plot camera; B's: the split view's mirror), the disc radius; the per-pixel
/// buffers follow the viewport's size.
#[allow(clippy::too_many_arguments)]
fn update_splat_frame(
    cameras: Query<(&Camera, &GlobalTransform, &MapSide), SplitCameras>,
    store: Res<Store>,
    view: Res<ViewSettings>,
    settings: Res<PointSettings>,
    windows: Query<&Window, With<bevy::window::PrimaryWindow>>,
    frames: Option<ResMut<SplatFrames>>,
    assets: Option<Res<PointsAssets>>,
    mut built: ResMut<Built>,
    mut buffers: ResMut<Assets<ShaderBuffer>>,
    mut splat_materials: ResMut<Assets<SplatMaterial>>,
) {
    let Some(mut frames) = frames else { return };
    let scale = windows.single().map_or(1.0, |w| w.scale_factor());
    for side in MapSide::BOTH {
        let i = side.index();
        let frame = &mut frames.0[i];
        let built = &mut built.sides[i];
        let material = assets.as_ref().map(|a| &a.0[i].all);
        let active = cameras
            .iter()
            .filter(|(camera, _, s)| camera.is_active && **s == side)
            .find_map(|(camera, transform, _)| {
                let size = camera.physical_viewport_size()?;
                (size.x > 0 && size.y > 0).then_some((camera, transform, size))
            });
        let Some((camera, transform, size)) = active else {
            if frame.active {
                frame.active = false;
            }
            continue;
        };
        if size != frame.size {
            // New buffers under the same handles.
            for handle in [frame.depth.clone(), frame.top.clone()] {
                if let Some(mut buffer) = buffers.get_mut(&handle) {
                    *buffer = pixel_buffer(size);
                }
            }
            frame.size = size;
            built.rebind_frames = 2;
        }
        // The material's bind group is built once and not ordered after the buffers' upload:
        // it is rebuilt (by touching the material) in this frame and the next, so it holds
        // the new buffers whichever was prepared first.
        if built.rebind_frames > 0 {
            built.rebind_frames -= 1;
            if let Some(material) = material {
                let _ = splat_materials.get_mut(material);
            }
        }
        let dims = store.side(side).0.map_or(2, |l| l.dims);
        // A morph in motion (A's side), once its buffer holds the map it heads for.
        let morph = match (&store.morph, side, &built.morph_to) {
            (Some(m), MapSide::A, Some((to, _))) if Arc::ptr_eq(to, &m.to) => m.s,
            _ => 0.0,
        };
        let params = SplatParams {
            clip_from_world: camera.clip_from_view() * transform.to_matrix().inverse(),
            viewport: Vec4::new(
                size.x as f32,
                size.y as f32,
                0.5 * settings.size_px * scale,
                0.0,
            ),
            // The 2D camera looks straight down z; a 2D layout lies at z = 0.
            flat: u32::from(view.is_2d() && dims == 2),
            morph,
            ..frame.params
        };
        // Written only on change, so the resource is not re-extracted needlessly.
        if frame.params != params || !frame.active {
            frame.params = params;
            frame.active = true;
        }
        // Mid-morph the points lie between the two maps: within both's bounds.
        let bounds = match (built.bounds, &built.morph_to) {
            (Some(b), Some((_, Some(to)))) if morph > 0.0 => Some(b.union(to)),
            (b, _) => b,
        };
        let rect = bounds.map_or(Vec4::ZERO, |b| {
            screen_rect(
                &b,
                params.clip_from_world,
                size.as_vec2(),
                params.viewport.z,
            )
        });
        if let Some(material) = material
            && splat_materials
                .get(material)
                .is_some_and(|m| m.params.rect != rect || m.params.morph != morph)
            && let Some(mut m) = splat_materials.get_mut(material)
        {
            m.params.rect = rect;
            m.params.morph = morph;
        }
    }
}
