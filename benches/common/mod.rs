//! Images for the image benches: the folder `$IVT_BENCH_IMAGES` names (under `cargo bench`
//! only), else PNGs generated into `dir`, `n_bench` of them under `cargo bench` and `n_test`
//! under `cargo test` (a smoke run).

use std::path::{Path, PathBuf};

use image::{Rgb, RgbImage};

/// Whether this run is `cargo bench` (criterion gets `--bench`), not a `cargo test` smoke run.
pub fn is_bench() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The bench's images: `$IVT_BENCH_IMAGES` sorted by name, or `side`-pixel PNGs whose pixel
/// (x, y) of image i is `pixel(i, x, y)`.
pub fn bench_images(
    dir: &Path,
    side: u32,
    (n_bench, n_test): (usize, usize),
    pixel: impl Fn(u32, u32, u32) -> Rgb<u8>,
) -> Vec<PathBuf> {
    let bench = is_bench();
    if let Some(folder) = std::env::var_os("IVT_BENCH_IMAGES").filter(|_| bench) {
        let mut p: Vec<PathBuf> = std::fs::read_dir(folder)
            .expect("IVT_BENCH_IMAGES folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        p.sort();
        return p;
    }
    (0..if bench { n_bench } else { n_test })
        .map(|i| {
            let path = dir.join(format!("{i:05}.png"));
            let i = i as u32;
            RgbImage::from_fn(side, side, |x, y| pixel(i, x, y))
                .save(&path)
                .expect("png");
            path
        })
        .collect()
}
