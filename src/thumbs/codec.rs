//! The compact form of a thumbnail cell on disk: luma at full resolution, chroma at half
//! (YCbCr 4:2:0, as JPEG stores it), the rectangle the picture fills and a one-bit mask of its
//! opaque pixels.
//!
//! A million images × (8 + 32 px cells) in RGBA8 is 4.4 GB; in this form 1.8 GB, and the eye
//! does not see the halved chroma at thumbnail size. A cell is a picture letterboxed into a
//! square with transparent margins ([`super::letterbox`]); its alpha is a cut-out (see
//! [`super::decode::cut_out`]): one bit a pixel, so a transparent icon shows the map behind it
//! and an opaque photo costs an eighth of a byte a pixel more. Fixed size per side, so a
//! cell's place in a file is arithmetic and a run of cells is one read.

/// Bytes of a `side`² cell in compact form: the rectangle, the mask, Y, then Cb and Cr.
pub const fn encoded_len(side: u32) -> usize {
    let s = side as usize;
    let half = s.div_ceil(2);
    4 + mask_len(s) + s * s + 2 * half * half
}

/// Bytes of the opaque-pixel mask of a cell of side `s`: one bit a pixel, row by row.
const fn mask_len(s: usize) -> usize {
    (s * s).div_ceil(8)
}

/// The compact form of an RGBA8 `side`² cell. Pixels at least half opaque are picture and
/// come back opaque in their own colour; the rest come back transparent.
pub fn encode(rgba: &[u8], side: u32) -> Vec<u8> {
    let s = side as usize;
    debug_assert_eq!(rgba.len(), s * s * 4);
    let half = s.div_ceil(2);
    let mut out = vec![0u8; encoded_len(side)];
    let opaque = |x: usize, y: usize| rgba[(y * s + x) * 4 + 3] >= 128;
    let (mut x0, mut y0, mut x1, mut y1) = (s, s, 0, 0);
    for y in 0..s {
        for x in 0..s {
            if opaque(x, y) {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x);
                y1 = y1.max(y);
            }
        }
    }
    if x0 > x1 {
        // Nothing drawn: an empty rectangle (start after end) decodes to a transparent cell.
        out[..4].copy_from_slice(&[1, 1, 0, 0]);
        return out;
    }
    // Sides are at most 256, so coordinates fit a byte.
    out[..4].copy_from_slice(&[x0 as u8, y0 as u8, x1 as u8, y1 as u8]);
    let (mask, planes) = out[4..].split_at_mut(mask_len(s));
    let (luma, chroma) = planes.split_at_mut(s * s);
    let (cb_plane, cr_plane) = chroma.split_at_mut(half * half);
    for by in 0..half {
        for bx in 0..half {
            // Chroma averaged over the block's opaque pixels only: margins and transparent
            // pixels must not tint the picture's edge.
            let (mut cb, mut cr, mut n) = (0.0f32, 0.0f32, 0.0f32);
            for y in (2 * by)..(2 * by + 2).min(s) {
                for x in (2 * bx)..(2 * bx + 2).min(s) {
                    if !opaque(x, y) {
                        continue;
                    }
                    mask[(y * s + x) / 8] |= 1 << ((y * s + x) % 8);
                    let p = &rgba[(y * s + x) * 4..][..3];
                    let (r, g, b) = (f32::from(p[0]), f32::from(p[1]), f32::from(p[2]));
                    luma[y * s + x] = to_u8(0.299 * r + 0.587 * g + 0.114 * b);
                    cb += 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
                    cr += 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
                    n += 1.0;
                }
            }
            let (cb, cr) = if n > 0.0 {
                (to_u8(cb / n), to_u8(cr / n))
            } else {
                (128, 128)
            };
            cb_plane[by * half + bx] = cb;
            cr_plane[by * half + bx] = cr;
        }
    }
    out
}

/// The RGBA8 cell of `side`² from its compact form (`encoded_len(side)` bytes, else `None`).
pub fn decode(bytes: &[u8], side: u32) -> Option<Vec<u8>> {
    let s = side as usize;
    if bytes.len() != encoded_len(side) {
        return None;
    }
    let half = s.div_ceil(2);
    let [x0, y0, x1, y1] = [0, 1, 2, 3].map(|i| usize::from(bytes[i]));
    let mut rgba = vec![0u8; s * s * 4];
    if x0 > x1 || y0 > y1 || x1 >= s || y1 >= s {
        return Some(rgba);
    }
    let (mask, planes) = bytes[4..].split_at(mask_len(s));
    let (luma, chroma) = planes.split_at(s * s);
    let (cb_plane, cr_plane) = chroma.split_at(half * half);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if mask[(y * s + x) / 8] & (1 << ((y * s + x) % 8)) == 0 {
                continue;
            }
            let l = f32::from(luma[y * s + x]);
            let c = (y / 2) * half + x / 2;
            let cb = f32::from(cb_plane[c]) - 128.0;
            let cr = f32::from(cr_plane[c]) - 128.0;
            let px = &mut rgba[(y * s + x) * 4..][..4];
            px[0] = to_u8(l + 1.402 * cr);
            px[1] = to_u8(l - 0.344_136 * cb - 0.714_136 * cr);
            px[2] = to_u8(l + 1.772 * cb);
            px[3] = u8::MAX;
        }
    }
    Some(rgba)
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(side: u32, f: impl Fn(u32, u32) -> [u8; 4]) -> Vec<u8> {
        let mut v = Vec::new();
        for y in 0..side {
            for x in 0..side {
                v.extend_from_slice(&f(x, y));
            }
        }
        v
    }

    #[test]
    fn small_tiers_fit_the_disk_budget() {
        // 8 and 32 px cells of one image, plus its 16-byte record: under 2.5 KB.
        assert_eq!(encoded_len(8) + encoded_len(32), 1640 + 8 + 128);
        assert_eq!(encoded_len(7), 4 + 7 + 49 + 2 * 16);
    }

    #[test]
    fn grey_and_flat_colours_come_back_within_a_step() {
        for colour in [[0, 0, 0], [255, 255, 255], [200, 30, 60], [12, 200, 90]] {
            let rgba = cell(8, |_, _| [colour[0], colour[1], colour[2], 255]);
            let back = decode(&encode(&rgba, 8), 8).expect("decodes");
            for (a, b) in rgba.iter().zip(&back) {
                assert!(a.abs_diff(*b) <= 2, "{colour:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn margins_stay_transparent_and_the_picture_opaque() {
        // A picture in rows 8..24 of a 32 px cell, as a wide image is letterboxed; odd
        // left edge, so chroma blocks straddle the margin.
        let rgba = cell(32, |x, y| {
            if (8..24).contains(&y) && x >= 3 {
                [250, 10, 10, 255]
            } else {
                [0, 0, 0, 0]
            }
        });
        let back = decode(&encode(&rgba, 32), 32).expect("decodes");
        for (i, (a, b)) in rgba.chunks(4).zip(back.chunks(4)).enumerate() {
            assert_eq!(a[3], b[3], "alpha of pixel {i}");
            if a[3] > 0 {
                // The edge pixels keep their red: the margin did not dilute the chroma.
                assert!(
                    a[0].abs_diff(b[0]) <= 3 && a[1].abs_diff(b[1]) <= 3,
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn transparent_pixels_inside_the_picture_stay_transparent() {
        // A ring: opaque green around a transparent hole, half-transparent pixels on its rim
        // (a cut-out keeps those at least half opaque).
        let rgba = cell(16, |x, y| {
            let r = ((x as f32 - 7.5).powi(2) + (y as f32 - 7.5).powi(2)).sqrt();
            match r {
                r if r < 3.0 => [0, 0, 0, 0],
                r if r < 4.0 => [20, 200, 40, 100],
                r if r < 6.0 => [20, 200, 40, 255],
                r if r < 7.0 => [20, 200, 40, 130],
                _ => [0, 0, 0, 0],
            }
        });
        let back = decode(&encode(&rgba, 16), 16).expect("decodes");
        for (i, (a, b)) in rgba.chunks(4).zip(back.chunks(4)).enumerate() {
            let want = if a[3] >= 128 { 255 } else { 0 };
            assert_eq!(b[3], want, "alpha of pixel {i}: {a:?} came back {b:?}");
            if want == 255 {
                assert!(a[1].abs_diff(b[1]) <= 3, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn an_empty_cell_and_a_damaged_one() {
        let empty = vec![0u8; 8 * 8 * 4];
        assert_eq!(decode(&encode(&empty, 8), 8), Some(empty));
        assert_eq!(decode(&[0; 10], 8), None, "wrong length");
        let mut bad = encode(&cell(8, |_, _| [1, 2, 3, 255]), 8);
        bad[2] = 200; // a rectangle past the cell's edge
        assert_eq!(decode(&bad, 8), Some(vec![0u8; 8 * 8 * 4]));
    }

    #[test]
    fn detail_in_luma_survives() {
        // A one-pixel checkerboard: luma carries it at full resolution.
        let rgba = cell(32, |x, y| {
            let v = if (x + y) % 2 == 0 { 230 } else { 20 };
            [v, v, v, 255]
        });
        let back = decode(&encode(&rgba, 32), 32).expect("decodes");
        for (a, b) in rgba.iter().zip(&back) {
            assert!(a.abs_diff(*b) <= 2);
        }
    }
}
