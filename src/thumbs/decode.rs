//! Decoding one image into its cells: EXIF orientation applied, aspect kept, letterboxed with
//! transparent margins into squares of each tier side, transparency kept as a cut-out so the
//! map shows what lies behind a transparent icon. Where an image is shown alone (the panels),
//! its transparency is flattened onto a light checkerboard instead ([`decode_shown`]).

use std::path::Path;

use image::imageops::{self, FilterType};
use image::{DynamicImage, RgbaImage};

use crate::dataset::decode_oriented;

/// The image at `path` as the explorer shows it: upright, its transparency flattened onto the
/// checkerboard ([`over_backdrop`]). Flattened before any shrink: resampling unpremultiplied
/// RGBA pulls the (often black) colour of fully transparent pixels into the edges.
pub fn decode_shown(path: &Path) -> Result<DynamicImage, String> {
    let img = decode_oriented(path)?;
    if !img.color().has_alpha() {
        return Ok(img);
    }
    let mut rgba = img.to_rgba8();
    over_backdrop(&mut rgba);
    Ok(DynamicImage::ImageRgba8(rgba))
}

/// The image at `path` as one RGBA8 cell per tier side in `tiers` (see [`cells_of`]), or why
/// it cannot be read.
pub fn decode_file(path: &Path, tiers: &[u32]) -> Result<Vec<Vec<u8>>, String> {
    let img = decode_oriented(path)?;
    let largest = tiers.iter().copied().max().unwrap_or(8);
    let img = if img.color().has_alpha() {
        let mut rgba = img.to_rgba8();
        premultiply(&mut rgba);
        DynamicImage::ImageRgba8(rgba)
    } else {
        img
    };
    // A cheap area-average shrink first: resampling a 12-megapixel photo with a triangle
    // filter straight to 128 px costs ten times more and looks no better.
    let img = if img.width().max(img.height()) > 2 * largest {
        img.thumbnail(2 * largest, 2 * largest)
    } else {
        img
    };
    Ok(premultiplied_cells(&img.to_rgba8(), tiers))
}

/// An RGBA image (straight alpha) as one cell per tier side: letterboxed, its transparency a
/// cut-out ([`cut_out`]).
pub fn cells_of(img: &RgbaImage, tiers: &[u32]) -> Vec<Vec<u8>> {
    let mut img = img.clone();
    premultiply(&mut img);
    premultiplied_cells(&img, tiers)
}

fn premultiplied_cells(img: &RgbaImage, tiers: &[u32]) -> Vec<Vec<u8>> {
    tiers
        .iter()
        .map(|&side| {
            let mut cell = letterbox(img, side);
            cut_out(&mut cell);
            cell
        })
        .collect()
}

/// Scale each pixel's colour by its alpha. Resampling must average premultiplied colours:
/// averaged straight, the (often black) colour of fully transparent pixels bleeds into the
/// edges of an icon.
fn premultiply(img: &mut RgbaImage) {
    for p in img.pixels_mut() {
        let alpha = u32::from(p[3]);
        if alpha < 255 {
            for c in 0..3 {
                p[c] = ((u32::from(p[c]) * alpha + 127) / 255) as u8;
            }
        }
    }
}

/// A premultiplied RGBA8 cell as a cut-out: pixels at least half opaque become opaque in their
/// own (straight) colour, the rest fully transparent with no colour. Binary alpha needs no
/// back-to-front order to draw correctly among thousands of overlapping sprites (the shader
/// discards the transparent pixels and the depth test does the rest), and a one-bit mask on
/// disk ([`super::codec`]).
pub fn cut_out(cell: &mut [u8]) {
    for p in cell.chunks_exact_mut(4) {
        let alpha = u32::from(p[3]);
        if alpha >= 128 {
            for c in &mut p[..3] {
                *c = ((u32::from(*c) * 255 + alpha / 2) / alpha).min(255) as u8;
            }
            p[3] = u8::MAX;
        } else {
            p.copy_from_slice(&[0; 4]);
        }
    }
}

/// The two greys of the checkerboard drawn behind transparent pixels, as image editors show
/// transparency: light, so dark icons stay legible, and never mistaken for black content.
pub const BACKDROP_LIGHT: u8 = 0xF2;
pub const BACKDROP_DARK: u8 = 0xC8;
/// Checks across the image's longer side: visible in a 32 px cell, a flat light grey in an
/// 8 px one.
const BACKDROP_CHECKS: u32 = 8;

/// Flatten `img`'s transparency onto a light checkerboard, where an image is shown alone (the
/// neighbour grid, previews, tooltips): there it tells the user the image is transparent. On
/// the map transparency is kept instead ([`cells_of`]), or the checkerboards of overlapping
/// icons would hide the map.
pub fn over_backdrop(img: &mut RgbaImage) {
    if img.pixels().all(|p| p[3] == u8::MAX) {
        return;
    }
    let check = (img.width().max(img.height()) / BACKDROP_CHECKS).max(1);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let alpha = u32::from(p[3]);
        if alpha == 255 {
            continue;
        }
        let backdrop = u32::from(if (x / check + y / check).is_multiple_of(2) {
            BACKDROP_LIGHT
        } else {
            BACKDROP_DARK
        });
        for c in 0..3 {
            // Rounded integer blend; at most 255·255 + 254, far from overflowing u32.
            p[c] = ((u32::from(p[c]) * alpha + backdrop * (255 - alpha) + 127) / 255) as u8;
        }
        p[3] = u8::MAX;
    }
}

/// `img` scaled to fit a `side`² square (aspect kept), centred on a transparent background.
pub fn letterbox(img: &RgbaImage, side: u32) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let mut cell = RgbaImage::new(side, side);
    if w == 0 || h == 0 {
        return cell.into_raw();
    }
    let scale = side as f32 / w.max(h) as f32;
    let fw = ((w as f32 * scale).round() as u32).clamp(1, side);
    let fh = ((h as f32 * scale).round() as u32).clamp(1, side);
    let scaled = if (fw, fh) == (w, h) {
        img.clone()
    } else {
        imageops::resize(img, fw, fh, FilterType::Triangle)
    };
    imageops::replace(
        &mut cell,
        &scaled,
        i64::from((side - fw) / 2),
        i64::from((side - fh) / 2),
    );
    cell.into_raw()
}

/// The cell drawn for an image that cannot be decoded: grey with a red cross, opaque, so it
/// is visibly not a picture.
pub fn placeholder(side: u32) -> Vec<u8> {
    let s = side as i64;
    let width = (s / 10).max(1);
    let mut cell = Vec::with_capacity((side * side * 4) as usize);
    for y in 0..s {
        for x in 0..s {
            let on_cross = (x - y).abs() <= width || (x + y - (s - 1)).abs() <= width;
            let on_rim = x < width || y < width || x >= s - width || y >= s - width;
            let px = if on_cross || on_rim {
                [210, 50, 50, 255]
            } else {
                [60, 60, 60, 255]
            };
            cell.extend_from_slice(&px);
        }
    }
    cell
}
