//! Decoding one image into its cells: EXIF orientation applied, aspect kept, letterboxed with
//! transparent margins into squares of each tier side.

use std::path::Path;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageDecoder, ImageReader, RgbaImage};

/// The image at `path`, decoded whatever its extension says, upright: phones store pictures
/// sideways and say so in EXIF, and a thumbnail (or an encoder's input) must stand as the
/// person who took it saw it.
pub fn decode_oriented(path: &Path) -> Result<DynamicImage, String> {
    let reader = ImageReader::open(path)
        .and_then(|r| r.with_guessed_format())
        .map_err(|e| e.to_string())?;
    let mut decoder = reader.into_decoder().map_err(|e| e.to_string())?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// The image at `path` as one RGBA8 cell per tier side in `tiers`, or why it cannot be read.
pub fn decode_file(path: &Path, tiers: &[u32]) -> Result<Vec<Vec<u8>>, String> {
    let mut img = decode_oriented(path)?;
    let largest = tiers.iter().copied().max().unwrap_or(8);
    // A cheap area-average shrink first: resampling a 12-megapixel photo with a triangle
    // filter straight to 128 px costs ten times more and looks no better.
    if img.width().max(img.height()) > 2 * largest {
        img = img.thumbnail(2 * largest, 2 * largest);
    }
    let rgba = img.to_rgba8();
    Ok(tiers.iter().map(|&side| letterbox(&rgba, side)).collect())
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
