//! Screenshot tests: the real explorer rendered under Xvfb with Mesa's software Vulkan
//! (lavapipe), on a generated data set, checked pixel by pixel.
//!
//! Needs `xvfb-run` and a Vulkan driver (`./run test` installs both). Set
//! `IVT_SKIP_SCREENSHOT_TESTS=1` to skip them on a machine that has neither.
#![cfg(feature = "viewer")]

mod common;
#[cfg(feature = "embed")]
#[path = "common/runtime.rs"]
mod runtime;

use std::path::Path;
use std::process::Command;

use image::{Rgb, RgbImage};

/// Three well-separated blobs of 40 items in 8-D, classes 0/1/2, one 16×16 PNG each.
fn make_dataset(dir: &Path) {
    let (n, d) = (120usize, 8usize);
    let mut features = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    let mut state = 12345u64;
    let mut noise = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 10_000) as f32 / 10_000.0 - 0.5
    };
    for i in 0..n {
        let class = i % 3;
        labels.push(class as i64);
        for j in 0..d {
            let centre = if j == class { 20.0 } else { 0.0 };
            features.push(centre + noise());
        }
    }
    std::fs::create_dir_all(dir).expect("data dir");
    ivt::npy::write(&dir.join("features.npy"), &[n, d], &features).expect("features");
    ivt::npy::write(&dir.join("labels.npy"), &[n], &labels).expect("labels");
    let images = dir.join("images");
    std::fs::create_dir_all(&images).expect("images dir");
    for i in 0..n {
        let shade = [(200, 60, 60), (60, 200, 60), (60, 60, 200)][i % 3];
        let img = RgbImage::from_fn(16, 16, |x, y| {
            if (x + y + i as u32).is_multiple_of(5) {
                Rgb([255, 255, 255])
            } else {
                Rgb([shade.0, shade.1, shade.2])
            }
        });
        img.save(images.join(format!("{i:04}.png"))).expect("png");
    }
}

fn have_xvfb() -> bool {
    Command::new("xvfb-run").arg("--help").output().is_ok()
}

/// Whether to run a screenshot test: not when IVT_SKIP_SCREENSHOT_TESTS is set (said so);
/// otherwise Xvfb must be there.
fn screenshots_wanted() -> bool {
    if std::env::var_os("IVT_SKIP_SCREENSHOT_TESTS").is_some() {
        common::skip("IVT_SKIP_SCREENSHOT_TESTS is set", None);
        return false;
    }
    assert!(
        have_xvfb(),
        "xvfb-run is not installed: `./run test` installs it (or set IVT_SKIP_SCREENSHOT_TESTS=1)"
    );
    true
}

/// Run `ivt-explore screenshot ARGS -o OUT` under Xvfb; its stdout then its stderr, or a panic
/// with both. `keep_as`: the name the PNG is kept under in `$IVT_KEEP_SCREENSHOTS`.
fn screenshot(args: &[&std::ffi::OsStr], out: &Path, keep_as: &str) -> String {
    let mut xvfb = Command::new("xvfb-run");
    xvfb.args(["-a", "-s", "-screen 0 1920x1080x24"])
        .arg(env!("CARGO_BIN_EXE_ivt-explore"));
    run_screenshot(xvfb, args, out, keep_as)
}

/// The same with no display at all: the explorer draws offscreen.
fn screenshot_without_display(args: &[&std::ffi::OsStr], out: &Path, keep_as: &str) -> String {
    let mut bare = Command::new(env!("CARGO_BIN_EXE_ivt-explore"));
    bare.env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY");
    run_screenshot(bare, args, out, keep_as)
}

fn run_screenshot(
    mut command: Command,
    args: &[&std::ffi::OsStr],
    out: &Path,
    keep_as: &str,
) -> String {
    let output = command
        .arg("screenshot")
        .args(args)
        .arg("-o")
        .arg(out)
        .env("WGPU_BACKEND", "vulkan")
        .output()
        .expect("run the screenshot");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "screenshot failed:\n{stdout}\n{stderr}"
    );
    // Keep the picture for a human to look at.
    if let Some(dir) = std::env::var_os("IVT_KEEP_SCREENSHOTS") {
        let _ = std::fs::copy(out, Path::new(&dir).join(keep_as));
    }
    format!("{stdout}\n{stderr}")
}

/// The 20 palette colours' first three (the classes of the test data), from the viewer.
fn palette(code: usize) -> [u8; 3] {
    let c = ivt::viewer::colors::category_color(code);
    [c[0], c[1], c[2]]
}

fn near(a: [u8; 3], b: [u8; 3], tol: i32) -> bool {
    a.iter()
        .zip(b)
        .all(|(&x, y)| (i32::from(x) - i32::from(y)).abs() <= tol)
}

/// A layout computed on a server with `ivt-explore layout` is the one the explorer opens: one
/// cache entry for the same data and settings, whoever computed it, and each says where its
/// layout came from.
#[test]
fn a_layout_made_by_the_layout_command_opens_from_the_cache() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("blobs");
    make_dataset(&data);
    let cache = tmp.path().join("cache");
    for (method, label) in [("umap", "UMAP 2D"), ("tsne", "t-SNE 2D")] {
        let out = tmp.path().join(format!("{method}.npy"));
        let made = Command::new(env!("CARGO_BIN_EXE_ivt-explore"))
            .args(["layout", "--method", method, "-o"])
            .arg(&out)
            .arg(&data)
            .arg("--cache")
            .arg(&cache)
            .output()
            .expect("layout");
        let stderr = String::from_utf8_lossy(&made.stderr);
        assert!(made.status.success(), "{stderr}");
        assert!(
            stderr.contains(&format!("{label}: computed in")),
            "{stderr}"
        );
        let picture = tmp.path().join(format!("{method}.png"));
        let args: [&std::ffi::OsStr; 6] = [
            data.as_os_str(),
            "--method".as_ref(),
            method.as_ref(),
            "--size".as_ref(),
            "640x360".as_ref(),
            "--cache".as_ref(),
        ];
        let mut args = args.to_vec();
        args.push(cache.as_os_str());
        let log = screenshot_without_display(&args, &picture, &format!("from-cache-{method}.png"));
        assert!(log.contains(&format!("{label}: from the cache")), "{log}");
        assert!(!log.contains("computed in"), "{log}");
    }
    // A layout from a file says so.
    let out = tmp.path().join("umap.npy");
    let picture = tmp.path().join("file.png");
    let log = screenshot_without_display(
        &[
            data.as_os_str(),
            "--layout".as_ref(),
            out.as_os_str(),
            "--no-cache".as_ref(),
        ],
        &picture,
        "from-file.png",
    );
    assert!(
        log.contains(&format!("layout 2D: from {}", out.display())),
        "{log}"
    );
}

#[test]
fn the_demo_style_view_shows_the_selection_its_neighbours_and_the_palette() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("blobs");
    make_dataset(&data);
    let out = tmp.path().join("view.png");
    let selected = 4u32; // class 1
    let cache = tmp.path().join("cache");
    let selected_arg = selected.to_string();
    let stdout = screenshot(
        &[
            data.as_os_str(),
            "--select".as_ref(),
            selected_arg.as_ref(),
            "--size".as_ref(),
            "1280x720".as_ref(),
            "--cache".as_ref(),
            cache.as_os_str(),
        ],
        &out,
        "screenshot-test.png",
    );
    let img = image::open(&out).expect("the PNG").to_rgb8();
    assert_eq!(img.dimensions(), (1280, 720));

    // 1. The selection ring is drawn where the selected item's point is.
    let line = stdout
        .lines()
        .find(|l| l.starts_with("selected item"))
        .unwrap_or_else(|| panic!("no selection position printed:\n{stdout}"));
    let coords: Vec<f32> = line
        .split(['(', ')', ','])
        .filter_map(|t| t.trim().parse().ok())
        .collect();
    let (sx, sy) = (coords[0], coords[1]);
    let selected_rgb = {
        let c = ivt::viewer::colors::SELECTED_COLOR;
        [c[0], c[1], c[2]]
    };
    let mut ring = 0;
    for (x, y, p) in img.enumerate_pixels() {
        let d = ((x as f32 - sx).powi(2) + (y as f32 - sy).powi(2)).sqrt();
        if d <= 20.0 && near(p.0, selected_rgb, 12) {
            ring += 1;
        }
    }
    assert!(
        ring >= 20,
        "only {ring} highlight pixels around ({sx}, {sy})"
    );

    // 2. The neighbour panel (right 430 px) holds images: the tiles' class shades appear.
    let panel_x = 1280 - 430;
    let green_tiles = img
        .enumerate_pixels()
        .filter(|(x, _, p)| *x >= panel_x && near(p.0, [60, 200, 60], 6))
        .count();
    assert!(
        green_tiles > 2000,
        "neighbour images missing: {green_tiles} tile pixels"
    );

    // 3. The plot shows all three class colours of the palette.
    for code in 0..3 {
        let count = img
            .enumerate_pixels()
            .filter(|(x, _, p)| *x > 250 && *x < panel_x && near(p.0, palette(code), 3))
            .count();
        assert!(
            count > 100,
            "class {code}: only {count} pixels of its colour"
        );
    }
}

/// A 24×24 picture of random 4×4-pixel blocks, different for every item.
fn block_image(item: u32) -> RgbImage {
    let mut state = 0x9e37_79b9_u64 ^ (u64::from(item) << 20) ^ 0x1234_5678;
    let mut blocks = [[0u8; 3]; 36];
    for b in &mut blocks {
        for c in b.iter_mut() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *c = (state % 256) as u8;
        }
    }
    RgbImage::from_fn(24, 24, |x, y| Rgb(blocks[(y / 4 * 6 + x / 4) as usize]))
}

/// Pearson correlation of two equally long sample lists.
fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len() as f32;
    let (ma, mb) = (a.iter().sum::<f32>() / n, b.iter().sum::<f32>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    cov / (va * vb).sqrt().max(1e-9)
}

#[test]
fn zoomed_in_thumbnails_show_each_items_own_image() {
    if !screenshots_wanted() {
        return;
    }
    // 400 items on a 20 × 20 grid (one layout unit apart), each with its own block picture.
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("grid");
    let images = data.join("images");
    std::fs::create_dir_all(&images).expect("images dir");
    let (n, side) = (400u32, 20u32);
    let features: Vec<f32> = (0..n * 4).map(|i| ((i * 7919) % 101) as f32).collect();
    ivt::npy::write(&data.join("features.npy"), &[n as usize, 4], &features).expect("features");
    for i in 0..n {
        block_image(i)
            .save(images.join(format!("{i:04}.png")))
            .expect("png");
    }
    let grid: Vec<f32> = (0..n)
        .flat_map(|i| [(i % side) as f32, (i / side) as f32])
        .collect();
    let layout = tmp.path().join("grid.npy");
    ivt::npy::write(&layout, &[n as usize, 2], &grid).expect("layout");
    let out = tmp.path().join("view.png");
    let selected = 210u32;
    let cache = tmp.path().join("cache");
    let stdout = screenshot(
        &[
            data.as_os_str(),
            "--layout".as_ref(),
            layout.as_os_str(),
            "--select".as_ref(),
            selected.to_string().as_ref(),
            "--zoom".as_ref(),
            "6".as_ref(),
            "--size".as_ref(),
            "1280x720".as_ref(),
            "--nside".as_ref(),
            "1".as_ref(),
            "--cache".as_ref(),
            cache.as_os_str(),
        ],
        &out,
        "thumbnails-test.png",
    );
    let numbers = |prefix: &str| -> Vec<f32> {
        stdout
            .lines()
            .find(|l| l.starts_with(prefix) || l.contains(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line:\n{stdout}"))
            .split(['(', ')', ',', ' '])
            .filter_map(|t| t.trim().parse().ok())
            .collect()
    };
    let at = numbers("selected item");
    let (sx, sy) = (at[1], at[2]);
    let tile = numbers("thumbnails drawn")[1];
    assert!(
        tile > 60.0,
        "zoomed in, thumbnails should be large: {tile} px"
    );
    let img = image::open(&out).expect("the PNG").to_rgb8();

    // World size = 0.8 · extent / √n = 0.8 · 19 / 20 of the grid spacing.
    let spacing = tile / 0.76;
    // Samples of the screenshot inside a tile centred at (cx, cy), away from its frame and
    // from the selection ring, paired with the same spots of each candidate source image.
    let score = |cx: f32, cy: f32, source: &RgbImage| -> f32 {
        let (mut shot, mut src) = (Vec::new(), Vec::new());
        let inner = tile / 2.0 - 5.0;
        let mut dy = -inner;
        while dy <= inner {
            let mut dx = -inner;
            while dx <= inner {
                if dx.hypot(dy) > 18.0 {
                    let p = img.get_pixel((cx + dx) as u32, (cy + dy) as u32);
                    let u = ((dx / tile + 0.5) * 24.0).clamp(0.0, 23.0) as u32;
                    let v = ((dy / tile + 0.5) * 24.0).clamp(0.0, 23.0) as u32;
                    let q = source.get_pixel(u, v);
                    for c in 0..3 {
                        shot.push(f32::from(p[c]));
                        src.push(f32::from(q[c]));
                    }
                }
                dx += 3.0;
            }
            dy += 3.0;
        }
        correlation(&shot, &src)
    };
    let sources: Vec<RgbImage> = (0..n).map(block_image).collect();
    // The selected item, and its grid neighbours left and right (screen y grows downwards,
    // layout y upwards: the item one row up in the layout is `spacing` pixels higher).
    for (item, cx, cy) in [
        (selected, sx, sy),
        (selected + 1, sx + spacing, sy),
        (selected - 1, sx - spacing, sy),
        (selected + side, sx, sy - spacing),
    ] {
        let own = score(cx, cy, &sources[item as usize]);
        let best_other = (0..n)
            .filter(|&j| j != item)
            .map(|j| score(cx, cy, &sources[j as usize]))
            .fold(f32::MIN, f32::max);
        assert!(
            own > 0.8 && own > best_other + 0.3,
            "item {item} at ({cx:.0}, {cy:.0}): correlation with its own image {own:.2}, \
             best other {best_other:.2}"
        );
    }
}

/// The test data set's 120 pictures in class folders (red, green, blue), without features.
fn photo_folder(dir: &Path) -> std::path::PathBuf {
    make_dataset(&dir.join("data"));
    let folder = dir.join("photos");
    for i in 0..120 {
        let class = folder.join(["red", "green", "blue"][i % 3]);
        std::fs::create_dir_all(&class).expect("class dir");
        std::fs::copy(
            dir.join(format!("data/images/{i:04}.png")),
            class.join(format!("{i:04}.png")),
        )
        .expect("copy");
    }
    folder
}

/// `open DIR --model M.onnx` in one command: an image folder with no features becomes a map
/// (embedded, kNN, layout, thumbnails); the second launch takes the embeddings from the cache.
#[cfg(feature = "embed")]
#[test]
fn an_image_folder_and_an_encoder_open_as_a_map() {
    if !screenshots_wanted() {
        return;
    }
    if !runtime::have_runtime() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let folder = photo_folder(tmp.path());
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/encoder.onnx");
    let cache = tmp.path().join("cache");
    let args = [
        folder.as_os_str(),
        "--model".as_ref(),
        model.as_os_str(),
        "--preset".as_ref(),
        "raw255".as_ref(),
        "--cache".as_ref(),
        cache.as_os_str(),
        "--select".as_ref(),
        "0".as_ref(),
    ];
    let out = tmp.path().join("model.png");
    let first = screenshot(&args, &out, "model.png");
    assert!(
        first.contains("embedded 120 images (0 from the cache)"),
        "{first}"
    );
    let shot = image::open(&out).expect("png").to_rgb8();
    // Something was drawn besides the background: the map and its panels.
    let distinct: std::collections::HashSet<[u8; 3]> = shot.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 50, "{} colours", distinct.len());
    let second = screenshot(&args, &out, "model-again.png");
    assert!(second.contains("(120 from the cache)"), "{second}");
}

/// A data set of four items of four classes in `dir`, and a layout that puts them at the
/// corners of a square: (data folder, layout file).
fn four_far_apart(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = dir.join("four");
    std::fs::create_dir_all(&data).expect("dir");
    let features: Vec<f32> = (0..4 * 3).map(|v| v as f32).collect();
    ivt::npy::write(&data.join("features.npy"), &[4, 3], &features).expect("features");
    ivt::npy::write(&data.join("labels.npy"), &[4], &[0i64, 1, 2, 3]).expect("labels");
    let layout = dir.join("layout.npy");
    ivt::npy::write(
        &layout,
        &[4, 2],
        &[0.0f32, 0.0, 10.0, 0.0, 0.0, 10.0, 10.0, 10.0],
    )
    .expect("layout");
    (data, layout)
}

/// Four far-apart points of four classes, given as a layout: each is one disc of exactly the
/// asked size, in its class colour with a darker rim — the compute splat and `--point-size`.
#[test]
fn points_are_discs_of_the_asked_size_in_their_class_colours() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, layout) = four_far_apart(tmp.path());
    let cache = tmp.path().join("cache");
    for (px, keep_as) in [(16.0f32, "discs-16px.png"), (3.0, "discs-3px.png")] {
        let out = tmp.path().join(keep_as);
        let px_arg = px.to_string();
        screenshot(
            &[
                data.as_os_str(),
                "--layout".as_ref(),
                layout.as_os_str(),
                "--point-size".as_ref(),
                px_arg.as_ref(),
                "--color-by".as_ref(),
                "class".as_ref(),
                "--size".as_ref(),
                "1280x720".as_ref(),
                "--cache".as_ref(),
                cache.as_os_str(),
            ],
            &out,
            keep_as,
        );
        let img = image::open(&out).expect("the PNG").to_rgb8();
        // The plot area: between the side panels (the legend also shows the class colours).
        let in_plot = |x: u32| x > 260 && x < 1280 - 440;
        let r = px / 2.0;
        // Points of 4 px and more get a dark rim a quarter of the radius wide.
        let inner = if px >= 4.0 { 0.75 * r } else { r };
        let expected = std::f32::consts::PI * inner * inner;
        for code in 0..4 {
            let colour = palette(code);
            let pixels: Vec<(u32, u32)> = img
                .enumerate_pixels()
                .filter(|(x, _, p)| in_plot(*x) && near(p.0, colour, 3))
                .map(|(x, y, _)| (x, y))
                .collect();
            let n = pixels.len() as f32;
            assert!(
                (n - expected).abs() <= 0.35 * expected + 4.0,
                "{px} px, class {code}: {n} pixels of its colour, a disc has ~{expected:.0}"
            );
            // One compact disc, not scattered pixels.
            let (xs, ys): (Vec<u32>, Vec<u32>) = pixels.iter().copied().unzip();
            let span_x = xs.iter().max().unwrap_or(&0) - xs.iter().min().unwrap_or(&0) + 1;
            let span_y = ys.iter().max().unwrap_or(&0) - ys.iter().min().unwrap_or(&0) + 1;
            let diameter = (2.0 * inner).ceil() as u32 + 1;
            assert!(
                span_x <= diameter && span_y <= diameter,
                "{px} px, class {code}: its pixels span {span_x} × {span_y}"
            );
            if px >= 4.0 {
                // The rim: the class colour darkened, around the disc.
                // The shader darkens the linear colour; the window holds sRGB.
                let dark = colour.map(|c| {
                    let linear = ((f32::from(c) / 255.0 + 0.055) / 1.055).powf(2.4) * 0.35;
                    let srgb = if linear <= 0.003_130_8 {
                        12.92 * linear
                    } else {
                        1.055 * linear.powf(1.0 / 2.4) - 0.055
                    };
                    (srgb * 255.0).round() as u8
                });
                let (cx, cy) = (
                    xs.iter().sum::<u32>() as f32 / n,
                    ys.iter().sum::<u32>() as f32 / n,
                );
                let rim = img
                    .enumerate_pixels()
                    .filter(|(x, y, p)| {
                        let d = ((*x as f32 - cx).powi(2) + (*y as f32 - cy).powi(2)).sqrt();
                        d <= r + 1.0 && near(p.0, dark, 6)
                    })
                    .count();
                assert!(rim >= 20, "{px} px, class {code}: {rim} rim pixels");
            }
        }
    }
}

/// A TensorBoard projector log opens in the 3D view with its sprite cells as thumbnails.
#[test]
fn a_projector_log_opens_in_3d_with_sprite_thumbnails() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    make_dataset(&data);
    let loaded = ivt::dataset::load(&ivt::dataset::InputSpec::new(
        ivt::dataset::DataSource::Path(data.clone()),
    ))
    .expect("data set");
    let log = tmp.path().join("log");
    let options = ivt::projector::write::ExportOptions {
        tensor_name: "blobs".to_owned(),
        format: ivt::projector::write::TensorFormat::Bytes,
        max_sprite_px: ivt::projector::MAX_SPRITE_PX,
        clusters: None,
    };
    ivt::projector::write::export(&loaded, &log, &options).expect("export");
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("projector.png");
    let text = screenshot(
        &[
            log.as_os_str(),
            "--cache".as_ref(),
            cache.as_os_str(),
            "--select".as_ref(),
            "0".as_ref(),
            "--zoom".as_ref(),
            "4".as_ref(),
        ],
        &out,
        "projector.png",
    );
    assert!(text.contains("view 3D orbit"), "{text}");
    let drawn: usize = text
        .lines()
        .find_map(|l| {
            l.strip_suffix(" px wide")
                .and_then(|l| l.split(' ').next()?.parse().ok())
        })
        .unwrap_or(0);
    assert!(drawn > 0, "no thumbnails drawn:\n{text}");
}

/// Colouring by clusters draws the dendrogram's top levels above the legend, one leaf per
/// cluster in its legend colour.
#[test]
fn clusters_show_a_dendrogram_with_one_coloured_leaf_per_cluster() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    make_dataset(&data);
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("dendrogram.png");
    screenshot(
        &[
            data.as_os_str(),
            "--cache".as_ref(),
            cache.as_os_str(),
            "--color-by".as_ref(),
            "clusters".as_ref(),
            "--clusters".as_ref(),
            "3".as_ref(),
            "--no-thumbnails".as_ref(),
        ],
        &out,
        "dendrogram.png",
    );
    let shot = image::open(&out).expect("png").to_rgb8();
    // The band between the cluster slider and the legend, in the left panel.
    let band = |code: usize| {
        (0..230u32).any(|x| (90..205u32).any(|y| near(shot.get_pixel(x, y).0, palette(code), 12)))
    };
    for code in 0..3 {
        assert!(band(code), "no leaf in cluster {code}'s colour");
    }
    assert!(!band(3), "a fourth colour: more leaves than clusters");
}

/// `--search`: the matching points keep their class colour, the others are dimmed (not gone),
/// and the top bar says how many matched.
#[test]
fn a_search_keeps_the_matches_bright_and_dims_the_rest() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, layout) = four_far_apart(tmp.path());
    let out = tmp.path().join("search.png");
    let log = screenshot(
        &[
            data.as_os_str(),
            "--layout".as_ref(),
            layout.as_os_str(),
            "--point-size".as_ref(),
            "16".as_ref(),
            "--color-by".as_ref(),
            "class".as_ref(),
            "--search".as_ref(),
            "item<2".as_ref(),
            "--size".as_ref(),
            "1280x720".as_ref(),
            "--cache".as_ref(),
            tmp.path().join("cache").as_os_str(),
        ],
        &out,
        "search-dimmed.png",
    );
    let img = image::open(&out).expect("the PNG").to_rgb8();
    // The map only: the selection panel under it charts the classes in the same colours.
    let ((x0, y0), (x1, y1)) = plot_area(&log);
    let in_map = |x: u32, y: u32| x > x0 && x < x1 && y > y0 && y < y1;
    let count = |colour: [u8; 3]| {
        img.enumerate_pixels()
            .filter(|(x, y, p)| in_map(*x, *y) && near(p.0, colour, 3))
            .count()
    };
    // Items 0 and 1 match: their discs in full colour (a 16 px disc's inside: ~110 pixels).
    for code in 0..2 {
        let n = count(palette(code));
        assert!(
            n > 60,
            "class {code} matches but shows {n} pixels of its colour"
        );
    }
    // Items 2 and 3 do not: no pixel of their colour, but a dimmed disc where they are.
    for code in 2..4 {
        let n = count(palette(code));
        assert_eq!(n, 0, "class {code} does not match but shows in full colour");
        let colour = palette(code);
        let dim = colour.map(|c| (u16::from(c) / 5 + 16) as u8);
        // The shader works in linear light, so compare loosely: a dark disc tinted the same way.
        let tinted = img
            .enumerate_pixels()
            .filter(|(x, y, p)| {
                in_map(*x, *y)
                    && p.0
                        .iter()
                        .zip(dim)
                        .all(|(&a, b)| (i32::from(a) - i32::from(b)).abs() <= 40)
                    && p.0.iter().zip(colour).all(|(&a, b)| a < b || b < 40)
                    && p.0.iter().any(|&c| c > 20)
            })
            .count();
        assert!(
            tinted > 40,
            "class {code}: its dimmed disc shows {tinted} pixels"
        );
    }
    // Under the map, the selection panel: the matches' classes as bars in their colours.
    let in_panel = |x: u32, y: u32| x > x0 && x < x1 && y > y1;
    for code in 0..4 {
        let bar = img
            .enumerate_pixels()
            .filter(|(x, y, p)| in_panel(*x, *y) && near(p.0, palette(code), 3))
            .count();
        assert_eq!(
            bar > 50,
            code < 2,
            "class {code}: {bar} pixels in the panel"
        );
    }
}

/// The pixel a capture printed for `what` ("selected item 0", "query Q1").
fn printed_pixel(log: &str, what: &str) -> (u32, u32) {
    let line = log
        .lines()
        .find(|l| l.starts_with(what))
        .unwrap_or_else(|| panic!("no `{what}` line in\n{log}"));
    pixel_in(line)
}

/// The first "(x, y)" of a line, as pixels.
fn pixel_in(text: &str) -> (u32, u32) {
    let inner = text
        .split_once('(')
        .and_then(|(_, r)| r.split_once(')'))
        .map(|(xy, _)| xy)
        .expect("(x, y)");
    let (x, y) = inner.split_once(", ").expect("x, y");
    (
        x.trim().parse::<f32>().expect("x") as u32,
        y.trim().parse::<f32>().expect("y") as u32,
    )
}

/// The map's area a capture printed: (top left, bottom right) in pixels.
fn plot_area(log: &str) -> ((u32, u32), (u32, u32)) {
    let line = log
        .lines()
        .find(|l| l.starts_with("plot area"))
        .unwrap_or_else(|| panic!("no `plot area` line in\n{log}"));
    let (first, second) = line.split_once(" to ").expect("a to b");
    (pixel_in(first), pixel_in(second))
}

/// `--query IMG` with `--model`: an image of the data set lands as a marker on its own item
/// (an exact copy), the neighbour panel shows the query image framed in the marker's colour.
#[cfg(feature = "embed")]
#[test]
fn a_query_image_is_a_marker_on_its_copy_and_fills_the_panel() {
    if !screenshots_wanted() || !runtime::have_runtime() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let folder = photo_folder(tmp.path());
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/encoder.onnx");
    // Class folders are taken in name order (blue, green, red): item 0 is blue/0002.png. The
    // test pictures repeat every 15 items; this one is made unique, so it has one exact copy.
    let query = folder.join("blue/0002.png");
    RgbImage::from_fn(16, 16, |x, y| {
        if x < 8 && y < 4 {
            Rgb([255, 255, 255])
        } else {
            Rgb([60, 60, 200])
        }
    })
    .save(&query)
    .expect("png");
    let out = tmp.path().join("query.png");
    let log = screenshot(
        &[
            folder.as_os_str(),
            "--model".as_ref(),
            model.as_os_str(),
            "--preset".as_ref(),
            "raw255".as_ref(),
            "--cache".as_ref(),
            tmp.path().join("cache").as_os_str(),
            "--no-thumbnails".as_ref(),
            "--query".as_ref(),
            query.as_os_str(),
            "--select".as_ref(),
            "0".as_ref(),
            "--size".as_ref(),
            "1600x900".as_ref(),
        ],
        &out,
        "query-marker.png",
    );
    let (qx, qy) = printed_pixel(&log, "query Q1");
    let img = image::open(&out).expect("png").to_rgb8();
    let marker = {
        let c = ivt::viewer::ui::neighbors::QUERY_FRAME;
        [c[0], c[1], c[2]]
    };
    let near_marker = |x: u32, y: u32| near(img.get_pixel(x, y).0, marker, 12);
    // The diamond's fill around the printed place.
    let mut filled = 0;
    for y in qy.saturating_sub(6)..(qy + 6).min(img.height()) {
        for x in qx.saturating_sub(6)..(qx + 6).min(img.width()) {
            filled += usize::from(near_marker(x, y));
        }
    }
    assert!(filled > 30, "{filled} marker pixels around ({qx}, {qy})");
    // An exact copy of item 0: the marker stands on that item's point.
    let (sx, sy) = printed_pixel(&log, "selected item 0");
    assert!(
        qx.abs_diff(sx) <= 3 && qy.abs_diff(sy) <= 3,
        "marker at ({qx}, {qy}), item 0 at ({sx}, {sy})"
    );
    // The query image in the neighbour panel wears the marker's colour as its frame.
    let panel = img
        .enumerate_pixels()
        .filter(|(x, _, p)| *x > 1600 - 430 && near(p.0, marker, 12))
        .count();
    assert!(panel > 200, "{panel} frame pixels in the neighbour panel");
}

/// The issues panel: on the blobs with item 0 (a red, class-0 picture) labelled 1, the label
/// issues tab lists it framed in class 1's colour beside its neighbours framed in class 0's;
/// the fidelity tab draws torn (red) lines from an item the layout put among another class.
#[test]
fn the_issues_panel_shows_a_wrong_label_beside_its_neighbours_and_torn_lines() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("blobs");
    make_dataset(&data);
    let mut labels: Vec<i64> = (0..120).map(|i| i % 3).collect();
    labels[0] = 1;
    ivt::npy::write(&data.join("labels.npy"), &[120], &labels).expect("labels");
    // Each class a patch of its own; item 3 (class 0) drawn inside class 1's patch.
    let mut layout: Vec<f32> = (0..120)
        .flat_map(|i| {
            let (c, j) = ((i % 3) as f32, (i / 3) as f32);
            [c * 30.0 + (j % 7.0), (j / 7.0).floor()]
        })
        .collect();
    layout[6] = 33.0;
    layout[7] = 3.0;
    let layout_path = tmp.path().join("layout.npy");
    ivt::npy::write(&layout_path, &[120, 2], &layout).expect("layout");
    let cache = tmp.path().join("cache");
    let labels_dir = tmp.path().join("labels");
    let run = |tab: &str, extra: &[&str], name: &str| {
        let out = tmp.path().join(name);
        let mut args: Vec<&std::ffi::OsStr> = vec![
            data.as_os_str(),
            "--layout".as_ref(),
            layout_path.as_os_str(),
            "--issues".as_ref(),
            tab.as_ref(),
            "--size".as_ref(),
            "1280x800".as_ref(),
            "--cache".as_ref(),
            cache.as_os_str(),
            "--labels-out".as_ref(),
            labels_dir.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let log = screenshot(&args, &out, name);
        (image::open(&out).expect("the PNG").to_rgb8(), log)
    };

    let (img, log) = run("labels", &[], "issues-labels.png");
    let ((x0, _), (x1, y1)) = plot_area(&log);
    let in_panel = |x: u32, y: u32| x > x0 && x < x1 && y > y1 + 30;
    let count = |img: &RgbImage, colour: [u8; 3], tol: i32| {
        img.enumerate_pixels()
            .filter(|(x, y, p)| in_panel(*x, *y) && near(p.0, colour, tol))
            .count()
    };
    // The row's own thumbnail framed in its given class (1), its neighbours in theirs (0), and
    // their red pictures.
    let given = count(&img, palette(1), 3);
    let neighbours = count(&img, palette(0), 3);
    let red = count(&img, [200, 60, 60], 6);
    assert!(given > 150, "the item's frame: {given} pixels");
    assert!(
        neighbours > 10 * 100,
        "the neighbours' frames: {neighbours} pixels"
    );
    assert!(red > 2000, "the pictures: {red} pixels");

    let (img, log) = run("fidelity", &["--select", "3"], "issues-fidelity.png");
    let ((x0, y0), (x1, y1)) = plot_area(&log);
    let torn = {
        let c = ivt::viewer::ui::issues::TORN_COLOR;
        [c[0], c[1], c[2]]
    };
    let lines = img
        .enumerate_pixels()
        .filter(|(x, y, p)| *x > x0 && *x < x1 && *y > y0 && *y < y1 && near(p.0, torn, 12))
        .count();
    assert!(lines > 200, "torn lines: {lines} pixels");
}

/// What to label next: with a handful of labels the "label next" panel shows the probe's
/// batch under the map, the highlighted image framed; "label all with p ≥ t" previews the
/// images the probe gives the label — here the first blob's red pictures, hardly any other.
#[test]
fn the_label_next_panel_shows_the_batch_and_what_label_all_would_take() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("blobs");
    make_dataset(&data);
    let labels_dir = tmp.path().join("labels");
    // Class 0 (items 0, 3, 6) positive, a few of classes 1 and 2 negative: as a script would.
    for (items, label) in [("0,3,6", "positive"), ("1,2,4,5", "negative")] {
        let out = Command::new(env!("CARGO_BIN_EXE_ivt-explore"))
            .arg("label")
            .arg(&data)
            .arg("--labels-out")
            .arg(&labels_dir)
            .args(["--items", items, "--label", label])
            .output()
            .expect("run label");
        assert!(out.status.success(), "{out:?}");
    }
    let cache = tmp.path().join("cache");
    let run = |extra: &[&str], name: &str| {
        let out = tmp.path().join(name);
        let mut args: Vec<&std::ffi::OsStr> = vec![
            data.as_os_str(),
            "--labels-out".as_ref(),
            labels_dir.as_os_str(),
            "--size".as_ref(),
            "1280x800".as_ref(),
            "--cache".as_ref(),
            cache.as_os_str(),
        ];
        args.extend(extra.iter().map(std::ffi::OsStr::new));
        let log = screenshot(&args, &out, name);
        let ((x0, _), (x1, y1)) = plot_area(&log);
        let img = image::open(&out).expect("the PNG").to_rgb8();
        let count = move |colour: [u8; 3], tol: i32| {
            img.enumerate_pixels()
                .filter(|(x, y, p)| *x > x0 && *x < x1 && *y > y1 + 40 && near(p.0, colour, tol))
                .count()
        };
        (y1, count, log)
    };
    let accent = {
        let c = ivt::viewer::ui::theme::ACCENT;
        [c.r(), c.g(), c.b()]
    };
    let (y1, count, log) = run(
        &["--label-next", "uncertain", "--color-by", "probe:positive"],
        "label-next.png",
    );
    assert!(log.contains("probe fitted on 7 labels"), "{log}");
    assert!(
        y1 < 600,
        "the panel takes the bottom of the window: map down to {y1}"
    );
    let lit = count(accent, 8);
    assert!(lit > 300, "the highlighted image's frame: {lit} pixels");
    let pictures: usize = [[200, 60, 60], [60, 200, 60], [60, 60, 200]]
        .into_iter()
        .map(|c| count(c, 6))
        .sum();
    assert!(pictures > 3000, "the batch's pictures: {pictures} pixels");

    let (_, count, _) = run(&["--label-all", "positive:0.8"], "label-all.png");
    let (red, others) = (
        count([200, 60, 60], 6),
        count([60, 200, 60], 6) + count([60, 60, 200], 6),
    );
    assert!(
        red > 3000 && others * 10 < red,
        "the preview: {red} red pixels (class 0), {others} of the others"
    );
}

/// B for `--compare`: the blobs' features with four items of class 0 (0, 3, 6, 9) carried
/// into class 1's blob, the rest as in A.
fn moved_copy(dir: &Path, data: &Path) -> std::path::PathBuf {
    let a = ivt::npy::read_matrix_file(&data.join("features.npy")).expect("features");
    let mut b = a.data.clone();
    for i in [0usize, 3, 6, 9] {
        b[i * 8] -= 20.0;
        b[i * 8 + 1] += 20.0;
    }
    let b_path = dir.join("b.npy");
    ivt::npy::write(&b_path, &[a.n_rows, a.n_cols], &b).expect("b");
    b_path
}

/// Pixels of `rgb` (± 12) within 20 px of `at`: a selection ring there.
fn ring_pixels(img: &RgbImage, at: (u32, u32), rgb: [u8; 3]) -> usize {
    img.enumerate_pixels()
        .filter(|(x, y, p)| {
            let (dx, dy) = (*x as f32 - at.0 as f32, *y as f32 - at.1 as f32);
            (dx * dx + dy * dy).sqrt() <= 20.0 && near(p.0, rgb, 12)
        })
        .count()
}

/// `--view split`: A's map on the left, B's on the right, one camera for both — a kept item
/// at about the same spot of each half, a moved one far off, the selection's ring on both
/// maps, both maps' points drawn in their own half; and the same in 3D.
#[test]
fn the_split_view_shows_both_maps_side_by_side_through_one_camera() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("blobs");
    make_dataset(&data);
    let b_path = moved_copy(tmp.path(), &data);
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("split.png");
    let selected_rgb = {
        let c = ivt::viewer::colors::SELECTED_COLOR;
        [c[0], c[1], c[2]]
    };
    // Where `item` is in A's half and in B's, moved into A's half (by the halves' offset).
    let run = |view: &str, item: u32| -> ((f32, f32), (f32, f32)) {
        let item_arg = item.to_string();
        let log = screenshot(
            &[
                data.as_os_str(),
                "--compare".as_ref(),
                b_path.as_os_str(),
                "--view".as_ref(),
                view.as_ref(),
                "--select".as_ref(),
                item_arg.as_ref(),
                "--no-thumbnails".as_ref(),
                "--size".as_ref(),
                "1280x720".as_ref(),
                "--cache".as_ref(),
                cache.as_os_str(),
            ],
            &out,
            &format!("{view}-item-{item}.png"),
        );
        let ((x0, y0), (x1, y1)) = plot_area(&log);
        let (bx, _) = printed_pixel(&log, "split: B's half");
        let pa = printed_pixel(&log, "selected item");
        let pb = printed_pixel(&log, &format!("selected item {item} in B"));
        assert!(
            bx > x0 + (x1 - x0) * 2 / 5 && bx < x0 + (x1 - x0) * 3 / 5,
            "B's half starts at {bx} in a plot from {x0} to {x1}"
        );
        assert!(pa.0 < bx && pb.0 >= bx, "A's item at {pa:?}, B's at {pb:?}");
        let img = image::open(&out).expect("the PNG").to_rgb8();
        for (which, at) in [("A", pa), ("B", pb)] {
            let ring = ring_pixels(&img, at, selected_rgb);
            assert!(
                ring >= 20,
                "{view}: {ring} ring pixels around {which}'s {at:?}"
            );
        }
        // Each half shows its map's points (the class colours).
        let classes = |from: u32, to: u32| {
            (y0..y1)
                .flat_map(|y| (from..to).map(move |x| (x, y)))
                .filter(|&(x, y)| (0..3).any(|c| near(img.get_pixel(x, y).0, palette(c), 3)))
                .count()
        };
        let (left, right) = (classes(x0, bx), classes(bx, x1));
        assert!(
            left > 100 && right > 100,
            "{view}: {left} point pixels in A's half, {right} in B's"
        );
        let offset = (bx - x0) as f32;
        let f = |p: (u32, u32)| (p.0 as f32, p.1 as f32);
        (f(pa), (pb.0 as f32 - offset, pb.1 as f32))
    };
    let dist =
        |(a, b): ((f32, f32), (f32, f32))| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    for view in ["split", "split-3d"] {
        let (moved, kept) = (dist(run(view, 0)), dist(run(view, 1)));
        assert!(
            moved > 60.0 && moved > 2.0 * kept,
            "{view}: the moved item is {moved} px from its place in A, the kept one {kept} px"
        );
    }
}

/// `--compare` with `--morph`: moved items cross, kept ones stay; the changed-most list.
#[test]
fn compare_morphs_the_moved_items_across_and_keeps_the_rest_in_place() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("blobs");
    make_dataset(&data);
    let b_path = moved_copy(tmp.path(), &data);
    let cache = tmp.path().join("cache");
    let out = tmp.path().join("compare.png");
    // Where item `item` is drawn with the map `morph` of the way from A's to B's.
    let at = |morph: &str, item: u32| -> (f32, f32) {
        let item_arg = item.to_string();
        let log = screenshot(
            &[
                data.as_os_str(),
                "--compare".as_ref(),
                b_path.as_os_str(),
                "--morph".as_ref(),
                morph.as_ref(),
                "--select".as_ref(),
                item_arg.as_ref(),
                "--color-by".as_ref(),
                "compare:overlap".as_ref(),
                "--no-thumbnails".as_ref(),
                "--size".as_ref(),
                "1280x720".as_ref(),
                "--cache".as_ref(),
                cache.as_os_str(),
            ],
            &out,
            &format!("compare-morph-{morph}-item-{item}.png"),
        );
        let (x, y) = printed_pixel(&log, "selected item");
        (x as f32, y as f32)
    };
    let moved = |item| {
        let (p, q) = (at("0", item), at("1", item));
        ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt()
    };
    // The camera stays: a moved item crosses to the other blob, a kept one stays near its
    // place (B's map is aligned to A's on the items whose neighbours held).
    let (crossed, stayed) = (moved(0), moved(1));
    assert!(
        crossed > 100.0 && crossed > 2.0 * stayed,
        "moved item travelled {crossed} px, kept item {stayed} px"
    );
    // The changed-most list under the map: the moved items first, their neighbours in B all
    // new (framed red) under their neighbours in A.
    let log = screenshot(
        &[
            data.as_os_str(),
            "--compare".as_ref(),
            b_path.as_os_str(),
            "--changed-most".as_ref(),
            "--no-thumbnails".as_ref(),
            "--size".as_ref(),
            "1280x720".as_ref(),
            "--cache".as_ref(),
            cache.as_os_str(),
        ],
        &out,
        "compare-changed-most.png",
    );
    let ((x0, _), (x1, y1)) = plot_area(&log);
    assert!(
        y1 < 500,
        "the list takes the bottom of the window: map down to {y1}"
    );
    let img = image::open(&out).expect("the PNG").to_rgb8();
    let red = (y1 + 1..img.height())
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| near(img.get_pixel(x, y).0, [255, 35, 35], 30))
        .count();
    assert!(red > 500, "{red} red frame pixels in the list");
}

/// With no display, `screenshot` draws offscreen (no window, no Xvfb): the same picture as in
/// a window, pixel for pixel on the map; and `open --offscreen --bench-frames` times frames
/// there, naming the adapter that drew them.
#[test]
fn with_no_display_the_map_is_drawn_offscreen_as_in_a_window() {
    if !screenshots_wanted() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("blobs");
    make_dataset(&data);
    // One cache: the layout computed by the first run is the one both pictures show.
    let cache = tmp.path().join("cache");
    let args: [&std::ffi::OsStr; 7] = [
        data.as_os_str(),
        "--select".as_ref(),
        "4".as_ref(),
        "--size".as_ref(),
        "1280x720".as_ref(),
        "--cache".as_ref(),
        cache.as_os_str(),
    ];
    let in_window = tmp.path().join("window.png");
    let offscreen = tmp.path().join("offscreen.png");
    let window_log = screenshot(&args, &in_window, "window.png");
    let offscreen_log = screenshot_without_display(&args, &offscreen, "offscreen.png");
    let a = image::open(&in_window).expect("window PNG").to_rgb8();
    let b = image::open(&offscreen).expect("offscreen PNG").to_rgb8();
    assert_eq!(a.dimensions(), b.dimensions());
    // The same view: the selected item at the same pixel, the same thumbnails drawn.
    for what in ["selected item 4", "thumbnails drawn", "plot area"] {
        let line = |log: &str| log.lines().find(|l| l.contains(what)).map(str::to_owned);
        assert!(line(&window_log).is_some(), "{what}: {window_log}");
        assert_eq!(line(&window_log), line(&offscreen_log), "{what}");
    }
    let ((x0, y0), (x1, y1)) = plot_area(&window_log);
    let (mut map, mut differ_map, mut differ_all) = (0usize, 0usize, 0usize);
    for (x, y, p) in a.enumerate_pixels() {
        let same = near(p.0, b.get_pixel(x, y).0, 2);
        let on_map = (x0..x1).contains(&x) && (y0..y1).contains(&y);
        map += usize::from(on_map);
        differ_map += usize::from(on_map && !same);
        differ_all += usize::from(!same);
    }
    // The map is the same picture; the panels may differ in a status word or two (timings).
    assert!(
        differ_map * 1000 <= map,
        "{differ_map} of {map} map pixels differ"
    );
    assert!(
        differ_all * 50 <= (a.width() * a.height()) as usize,
        "{differ_all} pixels differ"
    );
    // A map that was not drawn would also be "the same": it shows the class colours.
    let coloured = b
        .enumerate_pixels()
        .filter(|(x, y, p)| {
            (x0..x1).contains(x) && (y0..y1).contains(y) && near(p.0, palette(1), 3)
        })
        .count();
    assert!(
        coloured > 100,
        "only {coloured} pixels of class 1 on the map"
    );

    // Frame times offscreen, with the adapter named.
    let output = Command::new(env!("CARGO_BIN_EXE_ivt-explore"))
        .arg("open")
        .args(args)
        .args(["--offscreen", "--bench-frames", "10"])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("WGPU_BACKEND", "vulkan")
        .output()
        .expect("run the bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("adapter ") && l.ends_with(", offscreen")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("frames 10 points 120")),
        "{stdout}"
    );
}

/// A grid of `side` × `side` (× `side` with `depth`) items one layout unit apart: their
/// features (unused by the view), the layout file, and each item's picture from `picture`.
fn icon_grid(
    dir: &Path,
    side: u32,
    depth: bool,
    picture: impl Fn(u32) -> image::RgbaImage,
) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = dir.join("icons");
    let images = data.join("images");
    std::fs::create_dir_all(&images).expect("images dir");
    let n = if depth {
        side * side * side
    } else {
        side * side
    };
    let features: Vec<f32> = (0..n * 4).map(|i| ((i * 7919) % 101) as f32).collect();
    ivt::npy::write(&data.join("features.npy"), &[n as usize, 4], &features).expect("features");
    for i in 0..n {
        picture(i)
            .save(images.join(format!("{i:04}.png")))
            .expect("png");
    }
    let dims = if depth { 3 } else { 2 };
    let coords: Vec<f32> = (0..n)
        .flat_map(|i| [i % side, (i / side) % side, i / (side * side)][..dims].to_vec())
        .map(|v| v as f32)
        .collect();
    let layout = dir.join("layout.npy");
    ivt::npy::write(&layout, &[n as usize, dims], &coords).expect("layout");
    (data, layout)
}

/// The side of the drawn thumbnails a capture printed, in pixels.
fn thumbnail_px(log: &str) -> f32 {
    log.lines()
        .find_map(|l| {
            l.strip_suffix(" px wide")
                .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        })
        .unwrap_or_else(|| panic!("no thumbnail size in\n{log}"))
}

/// Transparent icons on the map show what lies behind them — the icons they overlap, the
/// background — not the checkerboard the panels draw behind a transparent image.
#[test]
fn transparent_icons_on_the_map_show_what_lies_behind_them() {
    if !screenshots_wanted() {
        return;
    }
    // 10 × 10 icons: a small opaque disc in the middle of a transparent 32 px square, in one
    // of three colours so that grid neighbours differ. Thumbnails three times the usual size
    // overlap their neighbours' discs with their transparent parts.
    const DISC: [[u8; 3]; 3] = [[230, 40, 40], [40, 200, 40], [40, 80, 230]];
    let colour = |i: u32| DISC[((i % 10 + i / 10) % 3) as usize];
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, layout) = icon_grid(tmp.path(), 10, false, |i| {
        image::RgbaImage::from_fn(32, 32, |x, y| {
            let r = (x as f32 - 15.5).hypot(y as f32 - 15.5);
            let [red, green, blue] = colour(i);
            image::Rgba(if r < 5.0 {
                [red, green, blue, 255]
            } else {
                [0, 0, 0, 0]
            })
        })
    });
    let (out, cache) = (tmp.path().join("icons.png"), tmp.path().join("cache"));
    let selected = 44u32;
    let log = screenshot(
        &[
            data.as_os_str(),
            "--layout".as_ref(),
            layout.as_os_str(),
            "--select".as_ref(),
            selected.to_string().as_ref(),
            "--nside".as_ref(),
            "1".as_ref(),
            "--thumbnail-size".as_ref(),
            "3".as_ref(),
            "--size".as_ref(),
            "1280x720".as_ref(),
            "--cache".as_ref(),
            cache.as_os_str(),
        ],
        &out,
        "transparent-icons.png",
    );
    let img = image::open(&out).expect("the PNG").to_rgb8();
    let (sx, sy) = printed_pixel(&log, "selected item");
    let ((x0, y0), (x1, y1)) = plot_area(&log);
    // Thumbnail side = 3 · 0.8 · extent / √n = 3 · 0.8 · 9 / 10 grid units.
    let tile = thumbnail_px(&log);
    let spacing = tile / 2.16;
    assert!(spacing > 20.0, "{spacing} px between items:\n{log}");
    // Every item's disc is seen at its place, though larger thumbnails lie over most of them.
    let mut seen = 0;
    for item in 0..100u32 {
        let (gx, gy) = (item % 10, item / 10);
        let (ox, oy) = (gx as f32 - 4.0, gy as f32 - 4.0);
        if ox.abs().max(oy.abs()) <= 1.0 {
            continue; // the selection's ring and its neighbour's lie over these
        }
        let (cx, cy) = (sx as f32 + ox * spacing, sy as f32 - oy * spacing);
        if cx < x0 as f32 + 4.0
            || cy < y0 as f32 + 4.0
            || cx > x1 as f32 - 4.0
            || cy > y1 as f32 - 4.0
        {
            continue;
        }
        let p = img.get_pixel(cx as u32, cy as u32).0;
        assert!(
            near(p, colour(item), 40),
            "item {item} at ({cx:.0}, {cy:.0}) shows {p:?}, not its disc {:?}",
            colour(item)
        );
        seen += 1;
    }
    assert!(seen >= 40, "only {seen} items in view:\n{log}");
    // No checkerboard anywhere on the map.
    let checker = |p: [u8; 3]| {
        let grey = p[0].abs_diff(p[1]) <= 4 && p[1].abs_diff(p[2]) <= 4;
        let v = i32::from(p[1]);
        grey && [0xF2, 0xC8].iter().any(|&g| (v - g).abs() <= 5)
    };
    let greys = (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (x, y)))
        .filter(|&(x, y)| checker(img.get_pixel(x, y).0))
        .count();
    assert!(greys < 300, "{greys} checkerboard-grey pixels on the map");
}

/// In 3D the selected item's thumbnail stays visible even at the heart of a cube of nearer
/// thumbnails, and so do its neighbours'.
#[test]
fn in_3d_the_selected_item_is_drawn_in_front_of_nearer_thumbnails() {
    if !screenshots_wanted() {
        return;
    }
    // 7 × 7 × 7 opaque grey-blue pictures; the centre one magenta.
    let selected = 3 + 3 * 7 + 3 * 49;
    const MAGENTA: [u8; 3] = [255, 0, 255];
    let tmp = tempfile::tempdir().expect("tempdir");
    let (data, layout) = icon_grid(tmp.path(), 7, true, |i| {
        let [r, g, b] = if i == selected {
            MAGENTA
        } else {
            [60, 90, 140]
        };
        image::RgbaImage::from_pixel(16, 16, image::Rgba([r, g, b, 255]))
    });
    let (out, cache) = (tmp.path().join("cube.png"), tmp.path().join("cache"));
    let log = screenshot(
        &[
            data.as_os_str(),
            "--layout".as_ref(),
            layout.as_os_str(),
            "--dims".as_ref(),
            "3".as_ref(),
            "--view".as_ref(),
            "3d".as_ref(),
            "--select".as_ref(),
            selected.to_string().as_ref(),
            "--thumbnail-size".as_ref(),
            "2".as_ref(),
            "--size".as_ref(),
            "1280x720".as_ref(),
            "--cache".as_ref(),
            cache.as_os_str(),
        ],
        &out,
        "cube-3d-selected.png",
    );
    let img = image::open(&out).expect("the PNG").to_rgb8();
    let (sx, sy) = printed_pixel(&log, "selected item");
    let tile = thumbnail_px(&log);
    // The selected thumbnail's square, inside its frame: mostly magenta (the ring and the
    // neighbours' rings lie over part of it).
    let half = (tile * 0.35) as i64;
    let (mut magenta, mut total) = (0, 0);
    for dy in -half..=half {
        for dx in -half..=half {
            let (x, y) = (sx as i64 + dx, sy as i64 + dy);
            if x < 0 || y < 0 || x >= i64::from(img.width()) || y >= i64::from(img.height()) {
                continue;
            }
            total += 1;
            if near(img.get_pixel(x as u32, y as u32).0, MAGENTA, 50) {
                magenta += 1;
            }
        }
    }
    assert!(
        total > 100 && magenta * 2 > total,
        "{magenta} of {total} pixels around the selected item ({sx}, {sy}) are its magenta \
         picture ({tile} px thumbnails)"
    );
}
