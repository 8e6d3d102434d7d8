//! Every point of the layout in one draw call, plus the selection highlight.
//!
//! One mesh holds all points: three vertices per point, each at the point's position with its
//! colour (16 bytes a vertex); the shader (`shaders/points.wgsl`) expands each triangle around
//! a screen-aligned disc of a fixed pixel size. The buffers live on the GPU and are rewritten
//! only when the layout or the colours change — not per frame, and never one entity per point.
//! The selected item and its neighbours get rings in a second, small mesh drawn on top.

use bevy::asset::{RenderAssetUsages, embedded_asset};
use bevy::camera::visibility::NoFrustumCulling;
use bevy::mesh::{
    MeshVertexAttribute, MeshVertexBufferLayoutRef, PrimitiveTopology, VertexAttributeValues,
};
use bevy::pbr::{MaterialPipeline, MaterialPipelineKey};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, RenderPipelineDescriptor, ShaderType, SpecializedMeshPipelineError, VertexFormat,
};
use bevy::shader::ShaderRef;

use super::colors::{NEIGHBOR_COLOR, Rgba8, SELECTED_COLOR};
use super::{ColorState, LayoutCoords, NeighborView, Selection, Store};
use crate::dataset::ItemId;

const SHADER: &str = "embedded://ivt/viewer/shaders/points.wgsl";

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

/// The material of the points mesh and the highlight meshes.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct PointsMaterial {
    #[uniform(0)]
    pub params: PointsUniform,
}

impl Material for PointsMaterial {
    fn vertex_shader() -> ShaderRef {
        SHADER.into()
    }

    fn fragment_shader() -> ShaderRef {
        SHADER.into()
    }

    fn enable_prepass() -> bool {
        false
    }

    fn enable_shadows() -> bool {
        false
    }

    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        layout: &MeshVertexBufferLayoutRef,
        _key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        use_vertex_attributes(
            descriptor,
            layout,
            &[
                Mesh::ATTRIBUTE_POSITION.at_shader_location(0),
                ATTRIBUTE_RGBA8.at_shader_location(1),
            ],
        )
    }
}

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

/// Handles of the three meshes and materials.
#[derive(Resource)]
struct PointsAssets {
    all: (Handle<Mesh>, Handle<PointsMaterial>),
    labelled: (Handle<Mesh>, Handle<PointsMaterial>),
    neighbors: (Handle<Mesh>, Handle<PointsMaterial>),
    selected: (Handle<Mesh>, Handle<PointsMaterial>),
}

/// What the meshes were last built from, so they are rebuilt only on change.
#[derive(Resource, Default)]
struct Built {
    layout_version: u64,
    color_version: u64,
    highlight: Option<(u64, u64, usize)>,
    labelled: Option<(u64, u64)>,
    filter: (super::labels::LabelFilter, u64),
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
        app.add_plugins(MaterialPlugin::<PointsMaterial>::default())
            .init_resource::<PointSettings>()
            .init_resource::<Built>()
            .add_systems(Startup, spawn_points)
            .add_systems(
                PostUpdate,
                (
                    update_points_mesh,
                    update_highlight_meshes,
                    update_labelled_mesh,
                    update_point_sizes,
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
    settings: Res<PointSettings>,
) {
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
        ));
        (mesh, mat)
    };
    let all = spawn(PointsLayer::All, material(settings.size_px, 0.0, 0.0));
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
    commands.insert_resource(PointsAssets {
        all,
        labelled,
        neighbors,
        selected,
    });
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

/// Rebuild the all-points mesh when the layout or the colours change.
fn update_points_mesh(
    store: Res<Store>,
    color: Res<ColorState>,
    labels: Option<Res<super::labels::Labels>>,
    assets: Option<Res<PointsAssets>>,
    mut built: ResMut<Built>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    let Some(assets) = assets else { return };
    let Some(layout) = &store.layout else { return };
    // The label filter hides points; it depends on the labels only while it is on.
    let filter = labels
        .as_ref()
        .map(|l| l.filter.clone())
        .unwrap_or_default();
    let filter_key = match &filter {
        super::labels::LabelFilter::All => (filter.clone(), 0),
        _ => (filter.clone(), labels.as_ref().map_or(0, |l| l.version)),
    };
    if built.layout_version == store.layout_version
        && built.color_version == color.version
        && built.filter == filter_key
    {
        return;
    }
    built.layout_version = store.layout_version;
    built.color_version = color.version;
    built.filter = filter_key;
    let positions = positions_of(layout, 0..layout.n_items());
    let mut colors = color.coloring.colors(layout.n_items(), &color.hidden);
    if let Some(labels) = &labels {
        for (i, c) in colors.iter_mut().enumerate() {
            if !labels.shows(ItemId(i as u32)) {
                *c = super::colors::HIDDEN;
            }
        }
    }
    if let Some(mut mesh) = meshes.get_mut(&assets.all.0) {
        fill_mesh(&mut mesh, &positions, &colors);
    }
    // The rings follow the points.
    built.highlight = None;
    built.labelled = None;
}

fn positions_of(layout: &LayoutCoords, items: impl Iterator<Item = usize>) -> Vec<Vec3> {
    items.map(|i| layout.position(ItemId(i as u32))).collect()
}

/// Log once how long after launch the points were first on screen (the frame after the mesh
/// was filled: it is rendered at the end of that frame). The relaunch bar is measured with it.
fn log_first_points_frame(
    built: Res<Built>,
    launched: Option<Res<super::Launched>>,
    mut frames_with_points: Local<u32>,
) {
    if built.layout_version == 0 || *frames_with_points > 1 {
        return;
    }
    *frames_with_points += 1;
    if *frames_with_points == 2
        && let Some(launched) = launched
    {
        info!(
            "first frame with points {:.2} s after launch",
            launched.0.elapsed().as_secs_f64()
        );
    }
}

/// Rings in label colours around labelled items.
fn update_labelled_mesh(
    store: Res<Store>,
    labels: Option<Res<super::labels::Labels>>,
    assets: Option<Res<PointsAssets>>,
    mut built: ResMut<Built>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    let (Some(assets), Some(labels)) = (assets, labels) else {
        return;
    };
    let Some(layout) = &store.layout else { return };
    let key = (labels.version, store.layout_version);
    if built.labelled == Some(key) {
        return;
    }
    built.labelled = Some(key);
    let (positions, colors): (Vec<Vec3>, Vec<Rgba8>) = labels
        .state
        .iter()
        .filter(|(item, _)| item.index() < layout.n_items())
        .map(|(item, label)| (layout.position(item), labels.color(label)))
        .unzip();
    if let Some(mut mesh) = meshes.get_mut(&assets.labelled.0) {
        fill_mesh(&mut mesh, &positions, &colors);
    }
}

/// Rings around the selected item and its neighbours.
fn update_highlight_meshes(
    store: Res<Store>,
    selection: Res<Selection>,
    view: Res<NeighborView>,
    assets: Option<Res<PointsAssets>>,
    mut built: ResMut<Built>,
    mut meshes: ResMut<Assets<Mesh>>,
) {
    let Some(assets) = assets else { return };
    let Some(layout) = &store.layout else { return };
    let key = (selection.version, store.layout_version, view.items.len());
    if built.highlight == Some(key) {
        return;
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
    if let Some(mut mesh) = meshes.get_mut(&assets.selected.0) {
        fill_mesh(
            &mut mesh,
            &positions_of(layout, sel.into_iter()),
            &[SELECTED_COLOR],
        );
    }
    if let Some(mut mesh) = meshes.get_mut(&assets.neighbors.0) {
        let n = nbr.len();
        fill_mesh(
            &mut mesh,
            &positions_of(layout, nbr.into_iter()),
            &vec![NEIGHBOR_COLOR; n],
        );
    }
}

/// Sizes are in physical pixels in the shader: follow the window's scale factor and settings.
fn update_point_sizes(
    settings: Res<PointSettings>,
    windows: Query<&Window, With<bevy::window::PrimaryWindow>>,
    assets: Option<Res<PointsAssets>>,
    mut built: ResMut<Built>,
    mut materials: ResMut<Assets<PointsMaterial>>,
) {
    let Some(assets) = assets else { return };
    let scale = windows.single().map_or(1.0, |w| w.scale_factor());
    if built.scale_factor == scale && !settings.is_changed() {
        return;
    }
    built.scale_factor = scale;
    let sizes = [
        (&assets.all.1, settings.size_px),
        (&assets.labelled.1, settings.labelled_px),
        (&assets.neighbors.1, settings.neighbor_px),
        (&assets.selected.1, settings.selected_px),
    ];
    for (handle, px) in sizes {
        if let Some(mut m) = materials.get_mut(handle) {
            m.params.size_px = px * scale;
            // A thin dark rim separates overlapping discs once they are large enough to show it.
            m.params.outline = if m.params.ring > 0.5 || px < 4.0 {
                0.0
            } else {
                0.25
            };
        }
    }
}
