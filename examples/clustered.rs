//! Write a seeded benchmark set (`ivt::synth`) as a data set folder: `features.npy` (float32
//! N × D) and `labels.npy` (the cluster of each row).
//!
//! `cargo run --release --no-default-features --example clustered -- OUT_DIR [N [DIM [CLUSTERS [SEED]]]] [--shape SHAPE] [--images]`
//! (defaults: the million-item set, 1,000,000 × 128 in 1,000 clusters, seed 0, shape
//! `clustered`; the others, `ivt::synth::shapes::Shape`: `patches`, `isotropic`, `lifted`).
//!
//! `--images` also writes `images/NNNNNNN.png`, one 64 × 64 picture per item: its cluster's
//! colour and shape, placed and sized by the item's first two features, so the map's
//! neighbourhoods look alike and the thumbnail cache has a million real files to chew on.

use anyhow::Context;
use ivt::choice::Choice;
use ivt::synth::ClusteredSpec;
use ivt::synth::shapes::{Shape, ShapeSpec, generate};

fn main() -> anyhow::Result<()> {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let with_images = all.iter().any(|a| a == "--images");
    let shape = match all.iter().position(|a| a == "--shape") {
        Some(at) => {
            let name = all.get(at + 1).context("--shape needs a name")?;
            Shape::from_name(name)?
        }
        None => Shape::Clustered,
    };
    let mut args = all
        .iter()
        .enumerate()
        .filter(|(at, a)| {
            *a != "--images" && *a != "--shape" && (*at == 0 || all[at - 1] != "--shape")
        })
        .map(|(_, a)| a.clone());
    let out = std::path::PathBuf::from(args.next().context(
        "usage: clustered OUT_DIR [N [DIM [CLUSTERS [SEED]]]] (default 1000000 128 1000 0)",
    )?);
    let mut spec = ClusteredSpec::million();
    let mut next = |name: &str, value: &mut usize| -> anyhow::Result<()> {
        if let Some(v) = args.next() {
            *value = v
                .parse()
                .with_context(|| format!("{name} must be a whole number, not {v:?}"))?;
        }
        Ok(())
    };
    next("N", &mut spec.n)?;
    next("DIM", &mut spec.dim)?;
    next("CLUSTERS", &mut spec.clusters)?;
    let mut seed = 0usize;
    next("SEED", &mut seed)?;
    spec.seed = seed as u64;
    anyhow::ensure!(
        spec.n > 0 && spec.dim > 0 && spec.clusters > 0,
        "N, DIM and CLUSTERS must be positive"
    );
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let (features, labels) = generate(&ShapeSpec {
        shape,
        n: spec.n,
        dim: spec.dim,
        clusters: spec.clusters,
        seed: spec.seed,
    });
    ivt::npy::write(&out.join("features.npy"), &[spec.n, spec.dim], &features)?;
    ivt::npy::write(&out.join("labels.npy"), &[spec.n], &labels)?;
    if with_images {
        write_images(&out.join("images"), &features, &labels, spec.dim)?;
    }
    println!("{}: {} {spec:?}", out.display(), shape.name());
    Ok(())
}

/// Side of the generated pictures.
const IMAGE_PX: u32 = 64;

/// One PNG per item, in parallel; names zero-padded so the folder's order is the items'.
fn write_images(
    dir: &std::path::Path,
    features: &[f32],
    labels: &[i64],
    dim: usize,
) -> anyhow::Result<()> {
    use rayon::prelude::*;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let started = std::time::Instant::now();
    labels.par_iter().enumerate().try_for_each(|(i, &c)| {
        let row = &features[i * dim..(i + 1) * dim];
        let path = dir.join(format!("{i:07}.png"));
        let file = std::fs::File::create(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let encoder = image::codecs::png::PngEncoder::new_with_quality(
            std::io::BufWriter::new(file),
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Sub,
        );
        let img = picture(c as u64, row);
        image::ImageEncoder::write_image(
            encoder,
            img.as_raw(),
            IMAGE_PX,
            IMAGE_PX,
            image::ExtendedColorType::Rgb8,
        )
        .with_context(|| format!("cannot write {}", path.display()))
    })?;
    println!(
        "{} images in {:.1} s",
        labels.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Item picture: cluster `c` fixes the hue and the shape, the features the place and size.
fn picture(c: u64, row: &[f32]) -> image::RgbImage {
    let hue = (c as f32 * 0.618_034).fract();
    let colour = hsv(hue, 0.75, 0.95);
    let ground = hsv((hue + 0.5).fract(), 0.35, 0.25);
    let squash = |v: f32| 1.0 / (1.0 + (-v).exp());
    let a = squash(row.first().copied().unwrap_or(0.0) * 0.2);
    let b = squash(row.get(1).copied().unwrap_or(0.0) * 0.2);
    let (cx, cy) = (16.0 + 32.0 * a, 16.0 + 32.0 * b);
    let r = 10.0 + 12.0 * (1.0 - a * b);
    let shape = c % 4;
    image::RgbImage::from_fn(IMAGE_PX, IMAGE_PX, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let inside = match shape {
            0 => dx * dx + dy * dy <= r * r,
            1 => dx.abs().max(dy.abs()) <= r * 0.8,
            2 => ((dx * dx + dy * dy).sqrt() - r * 0.75).abs() <= r * 0.25,
            _ => dx.abs().min(dy.abs()) <= r * 0.3 && dx.abs().max(dy.abs()) <= r,
        };
        image::Rgb(if inside { colour } else { ground })
    })
}

fn hsv(h: f32, s: f32, v: f32) -> [u8; 3] {
    let i = (h * 6.0).floor();
    let f = h * 6.0 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - f * s), v * (1.0 - (1.0 - f) * s));
    let (r, g, b) = match i as i32 % 6 {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    };
    [r, g, b].map(|c| (c * 255.0).round() as u8)
}
