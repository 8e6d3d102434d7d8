// Points splatted as discs into per-pixel buffers (see `splat.rs`): one thread per point.
//
// The nearest-depth pass keeps, per pixel, the largest depth (reverse z: nearest) of the discs
// covering it; the top-point pass then writes `index + 1` of a point whose depth is that nearest one
// (the highest index among equals). Both store 0 for "nothing here", hence the `+ 1`s.
// A flat view (a 2D map seen from above: one depth for all) runs only the top-point pass,
// unchecked.
// Each thread visits exactly the pixels whose centres lie in its disc, row by row.

struct Params {
    clip_from_world: mat4x4<f32>,
    // Viewport width and height in pixels, disc radius in pixels, unused.
    viewport: vec4<f32>,
    n_points: u32,
    groups_x: u32,
    // 1: every point has the same depth, so the nearest-depth pass was skipped.
    flat: u32,
    // A morph in motion: points are drawn this far towards their place in `morph_to`.
    morph: f32,
};

@group(0) @binding(0) var<uniform> params: Params;
// x, y, z and the sRGBA8 colour's bits (alpha in the top byte).
@group(0) @binding(1) var<storage, read> points: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read_write> depth: array<atomic<u32>>;
@group(0) @binding(3) var<storage, read_write> top: array<atomic<u32>>;
// Where a morph takes each point (x, y, z, unused); a single dummy entry when none.
@group(0) @binding(4) var<storage, read> morph_to: array<vec4<f32>>;

struct Splat {
    visible: bool,
    // Disc centre in viewport pixels (y down).
    centre: vec2<f32>,
    // Depth bits + 1: larger is nearer for depths in [0, 1].
    key: u32,
    // Rows to visit, inclusive.
    y0: i32,
    y1: i32,
};

fn point_index(id: vec3<u32>) -> u32 {
    return id.x + id.y * params.groups_x * 64u;
}

fn project(i: u32) -> Splat {
    var s: Splat;
    s.visible = false;
    let p = points[i];
    // Hidden points (a hidden group, the label filter) have alpha 0.
    if ((p.w >> 24u) == 0u) {
        return s;
    }
    var at = bitcast<vec3<f32>>(p.xyz);
    // (A buffer not yet the points' size for a frame: drawn where they are.)
    if (params.morph > 0.0 && i < arrayLength(&morph_to)) {
        at = mix(at, morph_to[i].xyz, params.morph);
    }
    let clip = params.clip_from_world * vec4<f32>(at, 1.0);
    if (!(clip.w > 0.0)) {
        return s;
    }
    let ndc = clip.xyz / clip.w;
    // Behind the near plane, past the far one, or far outside the view (also catches NaN).
    if (!(ndc.z >= 0.0 && ndc.z <= 1.0 && abs(ndc.x) <= 4.0 && abs(ndc.y) <= 4.0)) {
        return s;
    }
    let size = params.viewport.xy;
    let r = params.viewport.z;
    s.centre = vec2<f32>((ndc.x * 0.5 + 0.5) * size.x, (0.5 - ndc.y * 0.5) * size.y);
    s.key = bitcast<u32>(ndc.z) + 1u;
    // Pixel y's centre is y + 0.5.
    s.y0 = max(i32(ceil(s.centre.y - r - 0.5)), 0);
    s.y1 = min(i32(floor(s.centre.y + r - 0.5)), i32(size.y) - 1);
    s.visible = true;
    return s;
}

// The pixels of row y whose centres lie in the disc, inclusive (x0 > x1: none).
fn row_span(s: Splat, y: i32) -> vec2<i32> {
    let r = params.viewport.z;
    let dy = f32(y) + 0.5 - s.centre.y;
    let half = sqrt(max(r * r - dy * dy, 0.0));
    let x0 = max(i32(ceil(s.centre.x - half - 0.5)), 0);
    let x1 = min(i32(floor(s.centre.x + half - 0.5)), i32(params.viewport.x) - 1);
    return vec2<i32>(x0, x1);
}

// Compiled twice: without TOP_POINT it is the nearest-depth pass, with it the top-point pass.
@compute @workgroup_size(64)
fn splat(@builtin(global_invocation_id) id: vec3<u32>) {
    let i = point_index(id);
    if (i >= params.n_points) {
        return;
    }
    let s = project(i);
    if (!s.visible) {
        return;
    }
    let width = i32(params.viewport.x);
    for (var y = s.y0; y <= s.y1; y++) {
        let span = row_span(s, y);
        for (var x = span.x; x <= span.y; x++) {
            let pixel = y * width + x;
#ifdef TOP_POINT
            if (params.flat == 1u || atomicLoad(&depth[pixel]) == s.key) {
                atomicMax(&top[pixel], i + 1u);
            }
#else
            atomicMax(&depth[pixel], s.key);
#endif
        }
    }
}
