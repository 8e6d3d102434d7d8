//! The compact form of a thumbnail cell on disk: luma at full resolution, chroma at half
//! (YCbCr 4:2:0, as JPEG stores it) and the rectangle the picture fills.
//!
//! A million images × (8 + 32 px cells) in RGBA8 is 4.4 GB; in this form 1.6 GB, and the eye
//! does not see the halved chroma at thumbnail size. A cell is an opaque picture letterboxed
//! into a square with transparent margins ([`super::letterbox`]), so its alpha is the
//! rectangle alone: four bytes, not a plane. Fixed size per side, so a cell's place in a file
//! is arithmetic and a run of cells is one read.

/// Bytes of a `side`² cell in compact form: the rectangle, Y, then Cb and Cr.
pub const fn encoded_len(side: u32) -> usize {
    let s = side as usize;
    let half = s.div_ceil(2);
    4 + s * s + 2 * half * half
}

/// The compact form of an RGBA8 `side`² cell. Pixels with any alpha count as picture; the
/// bounding rectangle of those comes back opaque, the rest transparent.
pub fn encode(rgba: &[u8], side: u32) -> Vec<u8> {
    let s = side as usize;
    debug_assert_eq!(rgba.len(), s * s * 4);
    let half = s.div_ceil(2);
    let mut out = vec![0u8; encoded_len(side)];
    let (mut x0, mut y0, mut x1, mut y1) = (s, s, 0, 0);
    for y in 0..s {
        for x in 0..s {
            if rgba[(y * s + x) * 4 + 3] > 0 {
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
    let (luma, chroma) = out[4..].split_at_mut(s * s);
    let (cb_plane, cr_plane) = chroma.split_at_mut(half * half);
    for by in 0..half {
        for bx in 0..half {
            // Chroma averaged over the block's picture pixels only: margins must not tint
            // the picture's edge.
            let (mut cb, mut cr, mut n) = (0.0f32, 0.0f32, 0.0f32);
            for y in (2 * by)..(2 * by + 2).min(s) {
                for x in (2 * bx)..(2 * bx + 2).min(s) {
                    if !(x0..=x1).contains(&x) || !(y0..=y1).contains(&y) {
                        continue;
                    }
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
    let (luma, chroma) = bytes[4..].split_at(s * s);
    let (cb_plane, cr_plane) = chroma.split_at(half * half);
    for y in y0..=y1 {
        for x in x0..=x1 {
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
        assert_eq!(encoded_len(8) + encoded_len(32), 1640);
        assert_eq!(encoded_len(7), 4 + 49 + 2 * 16);
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
