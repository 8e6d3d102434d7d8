//! File names as the data set reads them: which names are images, and the natural order
//! (`img2` before `img10`) that flat folders, the listing and the explorer's file browser share.

use std::cmp::Ordering;
use std::path::Path;

/// Extensions listed as images: ours plus torchvision's `IMG_EXTENSIONS`, so that a folder
/// lists the same files torchvision would (an unsupported TIFF is then reported, not skipped
/// and silently shifting every row after it).
pub(super) const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "webp", "bmp", "gif", "ppm", "pgm", "tif", "tiff",
];

/// Compare names as people sort them: digit runs by value, so `img2 < img10`.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(cx), Some(cy)) if cx.is_ascii_digit() && cy.is_ascii_digit() => {
                let (dx, rx) = split_digits(x);
                let (dy, ry) = split_digits(y);
                let (tx, ty) = (trim_zeros(dx), trim_zeros(dy));
                let ord = tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty));
                if ord != Ordering::Equal {
                    return ord;
                }
                (x, y) = (rx, ry);
            }
            (Some(cx), Some(cy)) => {
                if cx != cy {
                    return cx.cmp(cy);
                }
                (x, y) = (&x[1..], &y[1..]);
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let end = s
        .iter()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| c != b'0').unwrap_or(s.len());
    &s[start..]
}

/// Whether the file name has an image extension we decode.
pub fn is_image(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| has_image_extension(&name.to_string_lossy()))
}

/// [`is_image`] on a bare file name: what the listing asks a million times (`Path::extension`
/// parses the path's components each time).
pub(super) fn has_image_extension(name: &str) -> bool {
    // As `Path::extension`: a leading dot starts a hidden name, not an extension.
    name.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty() && IMAGE_EXTENSIONS.iter().any(|e| ext.eq_ignore_ascii_case(e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_extensions_as_path_extension_sees_them() {
        for (name, yes) in [
            ("a.png", true),
            ("a.PNG", true),
            ("a.b.jpeg", true),
            ("a.tiff", true),
            (".png", false),
            ("a", false),
            ("a.txt", false),
            ("a.png.txt", false),
            ("a.", false),
        ] {
            assert_eq!(has_image_extension(name), yes, "{name}");
            assert_eq!(is_image(Path::new(name)), yes, "{name}");
        }
    }

    #[test]
    fn natural_order() {
        let mut v = vec![
            "img10.png",
            "img2.png",
            "img1.png",
            "img02.png",
            "a.png",
            "img1b.png",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            vec![
                "a.png",
                "img1.png",
                "img1b.png",
                "img02.png",
                "img2.png",
                "img10.png"
            ]
        );
    }
}
