//! Screenshot tests: the real explorer rendered under Xvfb with Mesa's software Vulkan
//! (lavapipe), on a generated data set, checked pixel by pixel.
//!
//! Needs `xvfb-run` and a Vulkan driver (`./run test` installs both). Set
//! `IVT_SKIP_SCREENSHOT_TESTS=1` to skip them on a machine that has neither.
#![cfg(feature = "viewer")]

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

#[test]
fn the_demo_style_view_shows_the_selection_its_neighbours_and_the_palette() {
    if std::env::var_os("IVT_SKIP_SCREENSHOT_TESTS").is_some() {
        eprintln!("skipped: IVT_SKIP_SCREENSHOT_TESTS is set");
        return;
    }
    assert!(
        have_xvfb(),
        "xvfb-run is not installed: `./run test` installs it (or set IVT_SKIP_SCREENSHOT_TESTS=1)"
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("blobs");
    make_dataset(&data);
    let out = tmp.path().join("view.png");
    let selected = 4u32; // class 1
    let output = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1920x1080x24"])
        .arg(env!("CARGO_BIN_EXE_ivt-explore"))
        .arg("screenshot")
        .arg(&data)
        .args([
            "--select",
            &selected.to_string(),
            "--size",
            "1280x720",
            "--cache",
        ])
        .arg(tmp.path().join("cache"))
        .arg("-o")
        .arg(&out)
        .env("WGPU_BACKEND", "vulkan")
        .output()
        .expect("run xvfb-run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "screenshot failed:\n{stdout}\n{stderr}"
    );
    // Keep the picture for a human to look at.
    if let Some(dir) = std::env::var_os("IVT_KEEP_SCREENSHOTS") {
        let _ = std::fs::copy(&out, Path::new(&dir).join("screenshot-test.png"));
    }
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
