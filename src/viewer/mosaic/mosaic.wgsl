// Thumbnails: one camera-facing quad per drawn item, textured from a cell of a texture array.
//
// The mesh holds six vertices per thumbnail, all at the item's position; each says which corner
// it is (in the layer value: layer + 256 · corner, since the vertex index starts wherever the
// mesh allocator placed the mesh). Corners are spread in view space, so a thumbnail has a fixed size in
// the world: it grows as you zoom in, and faces the camera in the 3D views (a billboard).

#import bevy_pbr::mesh_functions::get_world_from_local
#import bevy_pbr::mesh_view_bindings::view
#import ivt::srgb::linear_from_srgb

struct MosaicMaterial {
    // Thumbnail side in world units.
    world_size: f32,
    // A cell's side in texture coordinates.
    cell_uv: f32,
    // 1: orthographic view, overlaps decided by the per-item order instead of depth.
    flat: f32,
    // Frame in the point's colour, in physical pixels (0: none).
    border: f32,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> material: MosaicMaterial;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var atlas: texture_2d_array<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var atlas_sampler: sampler;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @location(0) position: vec3<f32>,
    // u, v of the cell's top-left corner; texture layer + 256 · corner; draw order (1 on top,
    // above 0.999 lifted).
    @location(1) cell: vec4<f32>,
    @location(2) color: vec4<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) uv: vec2<f32>,
    @location(1) @interpolate(flat) layer: i32,
    @location(2) color: vec4<f32>,
    // Position within the quad, -1…1 on each axis.
    @location(3) corner: vec2<f32>,
    // The cell's texture-coordinate rectangle (min u, min v, max u, max v), inset by half a
    // texel so linear filtering never reads a neighbouring cell.
    @location(4) @interpolate(flat) cell_rect: vec4<f32>,
};

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    var out: VertexOutput;
    // Two triangles: (0, 1, 2) and (2, 1, 3) over corners indexed as bits (x, y).
    var corners = array<vec2<f32>, 6>(
        vec2<f32>(-1.0, -1.0), vec2<f32>(1.0, -1.0), vec2<f32>(-1.0, 1.0),
        vec2<f32>(-1.0, 1.0), vec2<f32>(1.0, -1.0), vec2<f32>(1.0, 1.0),
    );
    let packed = u32(max(v.cell.z, 0.0));
    let corner = corners[min(packed / 256u, 5u)];
    let world_from_local = get_world_from_local(v.instance_index);
    let world = world_from_local * vec4<f32>(v.position, 1.0);
    var view_pos = view.view_from_world * world;
    view_pos = vec4<f32>(view_pos.xy + corner * 0.5 * material.world_size, view_pos.zw);
    var clip = view.clip_from_view * view_pos;
    if (material.flat > 0.5) {
        // Reverse z: nearer is larger. Above the dots (depth ≈ 0.5), below the highlight rings.
        clip.z = (0.9 + 0.09 * v.cell.w) * clip.w;
    } else if (v.cell.w > 0.9991) {
        // Lifted (the selected item 1, hovered 0.9996, a neighbour 0.9993; see visible.rs):
        // in front of every other thumbnail, whatever its depth, so a nearer one cannot hide
        // it; in depth order among themselves (√ spreads the small far depths of reverse z),
        // the selected one topmost, all below the highlight rings (0.9999).
        let lift = (v.cell.w - 0.999) * 1000.0;
        let depth = sqrt(clamp(clip.z / clip.w, 0.0, 1.0));
        clip.z = (0.94 + 0.04 * lift + 0.0099 * depth) * clip.w;
    } else {
        // A hair in front of the item's own dot.
        clip.z = clip.z * 1.0005;
    }
    out.clip_position = clip;
    let texel = 0.5 / f32(textureDimensions(atlas).x);
    let rect = vec4<f32>(v.cell.xy + vec2<f32>(texel), v.cell.xy + vec2<f32>(material.cell_uv - texel));
    out.cell_rect = rect;
    // Cells are stored top row first; texture v grows downwards.
    let t = vec2<f32>(corner.x * 0.5 + 0.5, 0.5 - corner.y * 0.5);
    out.uv = v.cell.xy + t * material.cell_uv;
    out.layer = i32(packed % 256u);
    out.color = vec4<f32>(linear_from_srgb(v.color.rgb), v.color.a);
    out.corner = corner;
    // The placeholder quad of an empty mesh (layer -1) is moved outside the view.
    if (v.cell.z < 0.0) {
        out.clip_position = vec4<f32>(2.0, 2.0, 2.0, 1.0);
    }
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let edge = max(abs(in.corner.x), abs(in.corner.y));
    // The frame is `border` pixels wide (corner runs -1…1 across the thumbnail), so it reads as
    // a colour swatch on tiny thumbnails and a thin outline on large ones.
    let per_px = max(fwidth(in.corner.x), fwidth(in.corner.y));
    let band = material.border * per_px;
    let frame = vec4<f32>(in.color.rgb, 1.0);
    let uv = clamp(in.uv, in.cell_rect.xy, in.cell_rect.zw);
    // Level 0 explicitly (the atlas has no mips): samples taken in branches need no derivatives.
    let c = textureSampleLevel(atlas, atlas_sampler, uv, in.layer, 0.0);
    if (c.a >= 0.5) {
        if (material.border > 0.0 && edge > 1.0 - band) {
            return frame;
        }
        // Filtering across a cut-out's edge mixes in the colourless transparent texels: divide
        // them back out, or every icon gets a dark rim.
        return vec4<f32>(c.rgb / c.a, 1.0);
    }
    // Cells are cut-outs: letterbox margins and an icon's transparent pixels (alpha 0, no
    // colour) show whatever lies behind — the dot, another thumbnail, the background. The frame
    // hugs the picture instead of the square: a transparent pixel within `border` pixels of the
    // picture is frame. Square frames around icons would stack into a wall of colour in 3D.
    if (material.border > 0.0) {
        let reach = band * 0.5 * material.cell_uv;
        for (var i = 0; i < 8; i++) {
            let angle = f32(i) * 0.785398;
            let at = clamp(uv + reach * vec2<f32>(cos(angle), sin(angle)), in.cell_rect.xy, in.cell_rect.zw);
            if (textureSampleLevel(atlas, atlas_sampler, at, in.layer, 0.0).a >= 0.5) {
                return frame;
            }
        }
    }
    discard;
}
