//! The built-in demo: the 10,000-image Fashion-MNIST test set, compiled into the binary.
//!
//! Stored as the original gzip IDX files (4.4 MB; see `assets/demo/README.md` for licence and
//! attribution), so `ivt-explore` with no arguments works anywhere the binary is copied. The
//! features are the raw pixels scaled to [0, 1] (784-D), the images are the same pixels.

use std::io::Read;

use flate2::read::GzDecoder;

use super::{Categorical, ClassSource, Classes, Dataset, Features, Images};

pub const DEMO_NAME: &str = "Fashion-MNIST test set (built-in demo)";

const IMAGES_GZ: &[u8] = include_bytes!("../../assets/demo/t10k-images-idx3-ubyte.gz");
const LABELS_GZ: &[u8] = include_bytes!("../../assets/demo/t10k-labels-idx1-ubyte.gz");

/// Class names in label order, from the Fashion-MNIST README.
const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// An IDX array: big-endian dimensions after a magic number whose last byte is the rank.
struct Idx {
    dims: Vec<usize>,
    bytes: Vec<u8>,
}

fn parse_idx(gz: &[u8], rank: u8) -> Result<Idx, String> {
    let mut raw = Vec::new();
    GzDecoder::new(gz)
        .read_to_end(&mut raw)
        .map_err(|e| format!("gzip: {e}"))?;
    let header_len = 4 + 4 * usize::from(rank);
    // Magic: two zero bytes, 0x08 (unsigned byte data), then the rank.
    if raw.len() < header_len || raw[..4] != [0, 0, 8, rank] {
        return Err("not an unsigned-byte IDX file of the expected rank".to_owned());
    }
    let dims: Vec<usize> = raw[4..header_len]
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    let expected: usize = dims.iter().product();
    if raw.len() - header_len != expected {
        return Err(format!(
            "holds {} bytes of data, dims say {expected}",
            raw.len() - header_len
        ));
    }
    raw.drain(..header_len);
    Ok(Idx { dims, bytes: raw })
}

/// Decode the embedded demo. The bytes are part of the binary and checked by a test, so a
/// failure here is a build defect, not bad input: it panics with the reason.
pub fn load_demo() -> Dataset {
    let images =
        parse_idx(IMAGES_GZ, 3).unwrap_or_else(|e| panic!("built-in demo images are corrupt: {e}"));
    let labels =
        parse_idx(LABELS_GZ, 1).unwrap_or_else(|e| panic!("built-in demo labels are corrupt: {e}"));
    let (n, height, width) = (images.dims[0], images.dims[1], images.dims[2]);
    assert_eq!(
        labels.dims[0], n,
        "built-in demo: label count differs from image count"
    );
    let data: Vec<f32> = images.bytes.iter().map(|&p| f32::from(p) / 255.0).collect();
    let features = Features::new(
        n,
        height * width,
        data,
        "uint8 (pixels / 255)",
        "<built-in>",
        "built-in demo",
    )
    .unwrap_or_else(|e| panic!("built-in demo: {e}"));
    let names: Vec<&str> = labels
        .bytes
        .iter()
        .map(|&l| {
            CLASS_NAMES
                .get(usize::from(l))
                .copied()
                .unwrap_or("unknown")
        })
        .collect();
    // Keep Fashion-MNIST's class numbering (0 = T-shirt/top) rather than alphabetical order.
    let labels = Categorical::from_strings(&names).with_name_order(&CLASS_NAMES);
    Dataset {
        name: DEMO_NAME.to_owned(),
        features,
        images: Images::Gray8 {
            width: width as u32,
            height: height as u32,
            pixels: images.bytes,
        },
        classes: Some(Classes {
            labels,
            source: ClassSource::BuiltIn,
        }),
        metadata: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ItemId;

    #[test]
    fn demo_is_fashion_mnist_test_set() {
        let d = load_demo();
        assert_eq!((d.n_items(), d.features.dim()), (10_000, 784));
        assert_eq!(d.images.count(), 10_000);
        let classes = d.classes.expect("labels");
        assert_eq!(classes.labels.names[0], "T-shirt/top");
        assert_eq!(classes.labels.counts(), vec![1000; 10]);
        // The first test image of Fashion-MNIST is an ankle boot.
        assert_eq!(classes.labels.name_of(ItemId(0)), "Ankle boot");
        let s = d.features.stats();
        assert_eq!((s.min, s.max), (0.0, 1.0));
    }
}
