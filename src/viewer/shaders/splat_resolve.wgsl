// The splatted points (see `splat.rs`) turned into colour and depth, over the plot's viewport.
//
// The mesh is a unit square stretched over `material.rect`, the part of the view the map
// covers; each pixel looks up the top point the compute passes left for it.

#import bevy_pbr::mesh_view_bindings::view
#import ivt::srgb::linear_from_srgb

struct SplatMaterial {
    // Disc diameter in physical pixels.
    size_px: f32,
    // Width of the dark outline, as a fraction of the radius (0: none).
    outline: f32,
    // A morph in motion: points are drawn this far towards their place in `morph_to`.
    morph: f32,
    _pad: f32,
    // x0, y0, x1, y1 in normalised device coordinates.
    rect: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> material: SplatMaterial;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var<storage, read> points: array<vec4<u32>>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var<storage, read> top: array<u32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(3) var<storage, read> morph_to: array<vec4<f32>>;

struct Vertex {
    @location(0) position: vec3<f32>,
};

@vertex
fn vertex(v: Vertex) -> @builtin(position) vec4<f32> {
    return vec4<f32>(mix(material.rect.xy, material.rect.zw, v.position.xy), 0.5, 1.0);
}

struct Fragment {
    @location(0) color: vec4<f32>,
    @builtin(frag_depth) depth: f32,
};

@fragment
fn fragment(@builtin(position) frag: vec4<f32>) -> Fragment {
    // Pixel coordinates within the viewport (the buffers are viewport-sized).
    let px = vec2<i32>(floor(frag.xy - view.viewport.xy));
    let width = i32(view.viewport.z);
    let pixel = u32(px.y * width + px.x);
    if (px.x < 0 || px.y < 0 || px.x >= width || pixel >= arrayLength(&top)) {
        discard;
    }
    let key = top[pixel];
    if (key == 0u) {
        discard;
    }
    let p = points[key - 1u];
    let srgb = unpack4x8unorm(p.w);
    // Where the splat pass drew it (a morph moves it).
    var at = bitcast<vec3<f32>>(p.xyz);
    if (material.morph > 0.0 && key - 1u < arrayLength(&morph_to)) {
        at = mix(at, morph_to[key - 1u].xyz, material.morph);
    }
    // The point's own depth (what its disc would have as a primitive), so thumbnails and
    // rings compose with it.
    let clip = view.clip_from_world * vec4<f32>(at, 1.0);
    var out: Fragment;
    out.color = vec4<f32>(linear_from_srgb(srgb.rgb), 1.0);
    out.depth = clamp(clip.z / clip.w, 0.0, 1.0);
    if (material.outline > 0.0) {
        // Distance from the point's centre, as a fraction of its radius: the rim is darker.
        let ndc = clip.xy / clip.w;
        let centre = vec2<f32>(ndc.x * 0.5 + 0.5, 0.5 - ndc.y * 0.5) * view.viewport.zw;
        let r = length(frag.xy - view.viewport.xy - centre) / (0.5 * material.size_px);
        if (r > 1.0 - material.outline) {
            out.color = vec4<f32>(out.color.rgb * 0.35, 1.0);
        }
    }
    return out;
}
