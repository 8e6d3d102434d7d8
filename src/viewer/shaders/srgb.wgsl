// Colour helpers shared by the point and thumbnail shaders.
#define_import_path ivt::srgb

// Colours are stored as sRGB bytes; the render target expects linear values.
fn linear_from_srgb(c: vec3<f32>) -> vec3<f32> {
    let low = c / 12.92;
    let high = pow((c + 0.055) / 1.055, vec3<f32>(2.4));
    return select(high, low, c <= vec3<f32>(0.04045));
}
