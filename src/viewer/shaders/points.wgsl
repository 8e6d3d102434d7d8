// Points as screen-aligned discs of a fixed pixel size, all in one draw.
//
// The mesh holds 3 vertices per point, each at the point's position; the vertex index says
// which corner of the point's triangle a vertex is, so no corner attribute is stored (16 bytes
// a vertex). The triangle is expanded in clip space, which keeps the disc the same size on screen at any
// zoom, in orthographic (2D) and perspective (3D) views alike.

#import bevy_pbr::mesh_functions::{get_world_from_local, mesh_position_local_to_clip}
#import bevy_pbr::mesh_view_bindings::view
#import ivt::srgb::linear_from_srgb

struct PointsMaterial {
    // Disc diameter in physical pixels.
    size_px: f32,
    // Width of the dark outline, as a fraction of the radius (0: none).
    outline: f32,
    // 0: a filled disc; 1: a ring (neighbours); 2: a ring drawn above those (the selection).
    ring: f32,
    _pad: f32,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> material: PointsMaterial;

struct Vertex {
    @builtin(instance_index) instance_index: u32,
    @builtin(vertex_index) vertex_index: u32,
    @location(0) position: vec3<f32>,
    @location(1) color: vec4<f32>,
};

struct VertexOutput {
    @builtin(position) clip_position: vec4<f32>,
    @location(0) color: vec4<f32>,
    // Position within the disc, -1…1 on each axis.
    @location(1) corner: vec2<f32>,
};

@vertex
fn vertex(v: Vertex) -> VertexOutput {
    var out: VertexOutput;
    // One triangle per point, circumscribing the unit disc (inradius 1): a third fewer
    // vertices and half the triangles of a quad, which is what software rasterisers pay for.
    let corner_id = v.vertex_index % 3u;
    var corner = vec2<f32>(0.0, 2.0);
    if (corner_id == 1u) {
        corner = vec2<f32>(-1.7320508, -1.0);
    } else if (corner_id == 2u) {
        corner = vec2<f32>(1.7320508, -1.0);
    }
    let world_from_local = get_world_from_local(v.instance_index);
    var clip = mesh_position_local_to_clip(world_from_local, vec4<f32>(v.position, 1.0));
    // Half a disc in normalised device units, then scaled by w to undo the perspective divide.
    let half_ndc = vec2<f32>(material.size_px) / view.viewport.zw;
    clip = vec4<f32>(clip.xy + corner * half_ndc * clip.w, clip.z, clip.w);
    // Highlight rings sit just behind the near plane (reverse z: depth 1 is nearest), so no
    // point ever hides them.
    // The selected item's ring (ring = 2) lies above its neighbours' (ring = 1).
    if (material.ring > 1.5) {
        clip.z = 0.99995 * clip.w;
    } else if (material.ring > 0.5) {
        clip.z = 0.9999 * clip.w;
    }
    out.clip_position = clip;
    out.color = vec4<f32>(linear_from_srgb(v.color.rgb), v.color.a);
    out.corner = corner;
    // A hidden point (alpha 0) is moved outside the view: nothing rasterised.
    if (v.color.a <= 0.0) {
        out.clip_position = vec4<f32>(2.0, 2.0, 2.0, 1.0);
    }
    return out;
}

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
    let r = length(in.corner);
    if (r > 1.0) {
        discard;
    }
    if (material.ring > 0.5) {
        if (r < 0.62) {
            discard;
        }
        return in.color;
    }
    if (r > 1.0 - material.outline) {
        return vec4<f32>(in.color.rgb * 0.35, 1.0);
    }
    return in.color;
}
