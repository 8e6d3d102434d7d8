use std::path::{Path, PathBuf};

use image::{ImageEncoder, Rgba, RgbaImage};

use super::*;
use crate::dataset::Images;

#[test]
fn tiers_stop_at_the_cell_size() {
    assert_eq!(tiers_for(8).expect("8"), vec![8]);
    assert_eq!(tiers_for(32).expect("32"), vec![8, 32]);
    assert_eq!(tiers_for(64).expect("64"), vec![8, 32, 64]);
    assert_eq!(tiers_for(256).expect("256"), vec![8, 32, 128, 256]);
    assert!(matches!(tiers_for(48), Err(ThumbError::BadCellSize(48))));
    assert!(tiers_for(4).is_err());
    assert!(tiers_for(512).is_err());
}

#[test]
fn cell_size_follows_the_images_but_not_beyond_the_request() {
    let gray = Images::Gray8 {
        width: 28,
        height: 28,
        pixels: vec![0; 28 * 28],
    };
    assert_eq!(cell_px_for(&gray, 128), 32);
    assert_eq!(cell_px_for(&gray, 16), 16);
}

#[test]
fn letterbox_keeps_the_aspect_with_transparent_margins() {
    let img = RgbaImage::from_pixel(4, 2, Rgba([255, 0, 0, 255]));
    let cell = letterbox(&img, 8);
    let px = |x: usize, y: usize| &cell[(y * 8 + x) * 4..(y * 8 + x) * 4 + 4];
    assert_eq!(cell.len(), 8 * 8 * 4);
    assert_eq!(px(3, 0), [0, 0, 0, 0], "top margin");
    assert_eq!(px(3, 7), [0, 0, 0, 0], "bottom margin");
    assert_eq!(px(0, 4), [255, 0, 0, 255], "image spans the width");
    assert_eq!(px(7, 3), [255, 0, 0, 255]);
}

#[test]
fn placeholder_is_opaque_and_not_uniform() {
    let cell = placeholder(32);
    assert_eq!(cell.len(), 32 * 32 * 4);
    assert!(cell.chunks(4).all(|p| p[3] == 255));
    let inside = (4 * 32 + 16) * 4;
    assert_ne!(
        cell[..4],
        cell[inside..inside + 4],
        "rim differs from the inside"
    );
}

/// A tiny TIFF block holding one EXIF tag: orientation = `value`.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut e = b"II*\0".to_vec();
    e.extend_from_slice(&8u32.to_le_bytes());
    e.extend_from_slice(&1u16.to_le_bytes());
    e.extend_from_slice(&0x0112u16.to_le_bytes());
    e.extend_from_slice(&3u16.to_le_bytes());
    e.extend_from_slice(&1u32.to_le_bytes());
    e.extend_from_slice(&value.to_le_bytes());
    e.extend_from_slice(&[0, 0]);
    e.extend_from_slice(&0u32.to_le_bytes());
    e
}

#[test]
fn jpeg_exif_orientation_is_applied() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Stored 32 wide × 16 high, left half white; orientation 6 = turn 90° clockwise to view.
    let mut img = image::RgbImage::from_pixel(32, 16, image::Rgb([0, 0, 0]));
    for y in 0..16 {
        for x in 0..16 {
            img.put_pixel(x, y, image::Rgb([255, 255, 255]));
        }
    }
    let path = dir.path().join("sideways.jpg");
    let mut bytes = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95);
    enc.set_exif_metadata(exif_orientation(6)).expect("exif");
    enc.write_image(img.as_raw(), 32, 16, image::ExtendedColorType::Rgb8)
        .expect("encode");
    std::fs::write(&path, bytes).expect("write");
    let cells = decode_file(&path, &[32]).expect("decode");
    let cell = &cells[0];
    let luma = |x: usize, y: usize| cell[(y * 32 + x) * 4];
    // Upright it is 16 wide × 32 high, centred: columns 8..24. The stored left half becomes the
    // top half.
    assert_eq!(cell[(16 * 32 + 2) * 4 + 3], 0, "left margin transparent");
    assert!(luma(16, 4) > 200, "top is white: {}", luma(16, 4));
    assert!(luma(16, 28) < 50, "bottom is black: {}", luma(16, 28));
}

fn write_png(path: &Path, shade: u8) {
    let img = RgbaImage::from_fn(20, 10, |x, _| Rgba([shade, (x * 10) as u8, 0, 255]));
    img.save(path).expect("save png");
}

fn files(root: &Path, names: &[&str]) -> Images {
    let paths: Vec<PathBuf> = names.iter().map(|n| root.join(n)).collect();
    Images::Files(crate::dataset::ImageFiles {
        root: root.to_path_buf(),
        order: crate::dataset::ImageOrder::Natural,
        sizes: vec![Some((20, 10)); paths.len()],
        paths: paths.into(),
        failures: Vec::new(),
        unused_files: 0,
        identities: Default::default(),
        sampled: false,
    })
}

/// Cells on disk are stored with chroma at half resolution: colours come back within a few
/// steps, not exactly.
#[track_caller]
fn assert_near(got: u8, want: u8) {
    assert!(got.abs_diff(want) <= 6, "{got} is not near {want}");
}

fn cell(store: &ThumbStore, tier: usize, item: usize) -> Vec<u8> {
    let mut out = vec![0; store.cell_bytes(tier)];
    store.read_cell(tier, item, &mut out).expect("read cell");
    out
}

#[test]
fn cache_is_reused_extended_and_rebuilt_when_damaged() {
    let images_dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(cache_dir.path());
    for (i, name) in ["a.png", "b.png", "c.png"].iter().enumerate() {
        write_png(&images_dir.path().join(name), 40 * i as u8);
    }
    std::fs::write(images_dir.path().join("bad.png"), b"not a png").expect("bad");
    let names = ["a.png", "b.png", "bad.png", "c.png"];

    let (store, report) =
        open_or_build(&files(images_dir.path(), &names), 32, &cache, &()).expect("build");
    assert_eq!((report.decoded, report.reused), (4, 0));
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, 2);
    assert!(!report.failed[0].1.is_empty(), "the reason is kept");
    assert_eq!(store.tiers(), [8, 32]);
    assert_eq!(store.status(2), Some(CellStatus::Failed));
    assert_eq!(cell(&store, 1, 2), placeholder(32));
    let b_cell = cell(&store, 1, 1);
    // 20×10 letterboxed into 32: opaque middle, transparent top rows, red channel = shade.
    assert_eq!(b_cell[3], 0);
    assert_near(b_cell[(16 * 32 + 16) * 4], 40);
    assert_eq!(b_cell[(16 * 32 + 16) * 4 + 3], 255);
    let path = report.path.clone().expect("cache file");
    let written = std::fs::read(&path).expect("read");
    drop(store);

    // Nothing changed: the file is used as it is (its modification time is its last use for
    // the cache's eviction, so the bytes tell whether it was rewritten).
    let (store, report) =
        open_or_build(&files(images_dir.path(), &names), 32, &cache, &()).expect("reopen");
    assert_eq!((report.decoded, report.reused), (0, 4));
    assert_eq!(cell(&store, 1, 1), b_cell);
    assert!(
        std::fs::read(&path).expect("read") == written,
        "not rewritten"
    );
    drop(store);

    // One image added in the middle: only it is decoded; the others keep their cells.
    write_png(&images_dir.path().join("ab.png"), 200);
    let names = ["a.png", "ab.png", "b.png", "bad.png", "c.png"];
    let (store, report) =
        open_or_build(&files(images_dir.path(), &names), 32, &cache, &()).expect("extend");
    assert_eq!((report.decoded, report.reused), (1, 4));
    assert_eq!(cell(&store, 1, 2), b_cell);
    assert_near(cell(&store, 1, 1)[(16 * 32 + 16) * 4], 200);
    assert_eq!(store.status(3), Some(CellStatus::Failed));
    assert!(
        report.failed.is_empty(),
        "known failures are not reported again"
    );
    drop(store);

    // A truncated cache file is noticed, reported and rebuilt.
    let len = std::fs::metadata(&path).expect("meta").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    f.set_len(len - 100).expect("truncate");
    drop(f);
    let (store, report) =
        open_or_build(&files(images_dir.path(), &names), 32, &cache, &()).expect("rebuild");
    assert_eq!(report.decoded, 5);
    assert!(
        report.warnings.iter().any(|w| w.contains("truncated")),
        "{:?}",
        report.warnings
    );
    assert_eq!(cell(&store, 1, 2), b_cell);
    // No temporary files are left next to the cache.
    let entries = std::fs::read_dir(cache_dir.path()).expect("list").count();
    assert_eq!(entries, 1);
}

#[test]
fn a_changed_image_is_decoded_again() {
    let images_dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(cache_dir.path());
    let a = images_dir.path().join("a.png");
    write_png(&a, 10);
    let images = files(images_dir.path(), &["a.png"]);
    let (store, _) = open_or_build(&images, 8, &cache, &()).expect("build");
    drop(store);
    // Same name, other content and size.
    let img = RgbaImage::from_pixel(30, 30, Rgba([99, 0, 0, 255]));
    img.save(&a).expect("save");
    // A new launch scans the folder again (an `ImageFiles` keeps the identities it first saw).
    let images = files(images_dir.path(), &["a.png"]);
    let (store, report) = open_or_build(&images, 8, &cache, &()).expect("rebuild");
    assert_eq!(report.decoded, 1);
    assert_near(cell(&store, 0, 0)[(4 * 8 + 4) * 4], 99);
}

/// A complete cache opens without a stat of every image: until the build has checked them,
/// each read checks its own item, so a changed image (even one that failed before) is never
/// drawn from old cells; the build then remakes only the changed ones.
#[test]
fn a_complete_cache_opens_at_once_and_changed_images_are_never_drawn_stale() {
    let images_dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(cache_dir.path());
    let names = ["a.png", "b.png", "c.png", "d.png"];
    for (i, name) in names.iter().enumerate() {
        write_png(&images_dir.path().join(name), 30 * i as u8);
    }
    std::fs::write(images_dir.path().join("d.png"), b"not yet a png").expect("bad");
    let (store, report) =
        open_or_build(&files(images_dir.path(), &names), 8, &cache, &()).expect("build");
    assert_eq!((report.decoded, report.failed.len()), (4, 1));
    let (old_b, old_c) = (cell(&store, 0, 1), cell(&store, 0, 2));
    drop(store);
    // b changes; d becomes readable.
    let img = RgbaImage::from_pixel(30, 30, Rgba([99, 0, 0, 255]));
    img.save(images_dir.path().join("b.png")).expect("save");
    write_png(&images_dir.path().join("d.png"), 200);

    let build = open(&files(images_dir.path(), &names), 8, &cache, 0).expect("open");
    assert_eq!(
        build.pending(),
        0,
        "complete: nothing to build until checked"
    );
    let store = build.store();
    assert_ne!(cell(&store, 0, 1), old_b);
    assert_near(cell(&store, 0, 1)[(4 * 8 + 4) * 4], 99);
    // Chroma at half resolution moves a saturated red a little more than `assert_near` allows.
    let d = cell(&store, 0, 3);
    assert!(d != placeholder(8) && d[(4 * 8 + 4) * 4].abs_diff(200) <= 10);
    assert_eq!(cell(&store, 0, 2), old_c);
    let (store, report) = build.run(&()).expect("run");
    assert_eq!((report.decoded, report.reused), (2, 2));
    assert!(report.failed.is_empty());
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("2 image(s) changed")),
        "{:?}",
        report.warnings
    );
    assert_eq!(store.status(3), Some(CellStatus::Image));
    drop(store);
    let (store, report) =
        open_or_build(&files(images_dir.path(), &names), 8, &cache, &()).expect("reopen");
    assert_eq!((report.decoded, report.reused), (0, 4));
    assert!(report.warnings.is_empty());
    assert_near(cell(&store, 0, 1)[(4 * 8 + 4) * 4], 99);
}

#[test]
fn no_cache_still_builds_and_memory_images_need_none() {
    let images_dir = tempfile::tempdir().expect("tempdir");
    write_png(&images_dir.path().join("a.png"), 70);
    let (store, report) = open_or_build(
        &files(images_dir.path(), &["a.png"]),
        32,
        &Cache::disabled(),
        &(),
    )
    .expect("build");
    assert_eq!(report.decoded, 1);
    assert_near(cell(&store, 1, 0)[(16 * 32 + 16) * 4], 70);

    let gray = Images::Gray8 {
        width: 2,
        height: 2,
        pixels: vec![0, 50, 100, 150, 200, 210, 220, 230],
    };
    let (store, _) = open_or_build(&gray, 8, &Cache::disabled(), &()).expect("memory");
    assert_eq!(store.n_items(), 2);
    let c = cell(&store, 0, 1);
    assert_eq!(c[3], 255, "square images fill the cell");
    assert!(c[0] >= 200 && c[0] <= 210, "{}", c[0]);
    assert!(store.read_cell(0, 2, &mut vec![0; 256]).is_err());
}

#[test]
fn a_damaged_item_count_is_reported_not_trusted() {
    let images_dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(cache_dir.path());
    write_png(&images_dir.path().join("a.png"), 10);
    let images = files(images_dir.path(), &["a.png"]);
    let (_, report) = open_or_build(&images, 32, &cache, &()).expect("build");
    let path = report.path.expect("cache file");
    // The item count follows the magic, version, tier count and two tier sides.
    let mut bytes = std::fs::read(&path).expect("read");
    let at = 8 + 4 + 4 + 2 * 4;
    bytes[at..at + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    std::fs::write(&path, bytes).expect("write");
    let (store, report) = open_or_build(&images, 32, &cache, &()).expect("rebuild");
    assert_eq!((store.n_items(), report.decoded), (1, 1));
    assert!(
        report.warnings.iter().any(|w| w.contains("claims")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn transparent_pixels_stay_transparent_on_the_map_without_a_dark_fringe() {
    // A 16×8 icon: left half opaque red, right half fully transparent black (as PNG icons
    // store it), one half-transparent blue pixel and one mostly transparent one.
    let mut img = RgbaImage::from_fn(16, 8, |x, _| {
        if x < 8 {
            Rgba([255, 0, 0, 255])
        } else {
            Rgba([0, 0, 0, 0])
        }
    });
    img.put_pixel(0, 0, Rgba([0, 0, 255, 128]));
    img.put_pixel(1, 0, Rgba([0, 0, 255, 100]));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("icon.png");
    img.save(&path).expect("png");
    let cells = decode_file(&path, &[16, 8]).expect("decode");
    let px = |x: usize, y: usize| &cells[0][(y * 16 + x) * 4..(y * 16 + x) * 4 + 4];
    // Letterboxed 16×8 into 16: rows 0–3 and 12–15 are margins, transparent.
    assert_eq!(px(12, 0), [0, 0, 0, 0], "margin");
    assert_eq!(px(12, 15), [0, 0, 0, 0], "margin");
    assert_eq!(px(3, 8), [255, 0, 0, 255], "opaque pixels unchanged");
    // The transparent half stays transparent: no checkerboard on the map.
    for y in 4..12 {
        for x in 8..16 {
            assert_eq!(px(x, y), [0, 0, 0, 0], "({x},{y})");
        }
    }
    // A cut-out: half-transparent blue is opaque blue, mostly transparent is gone.
    assert_eq!(px(0, 4), [0, 0, 255, 255]);
    assert_eq!(px(1, 4), [0, 0, 0, 0]);
    // Shrunk to 8 px, the red edge next to the transparent half keeps its colour: resampled
    // premultiplied, the transparent black does not darken it.
    let small = &cells[1];
    let mut opaque = 0;
    for y in 4..6 {
        for x in 0..8 {
            let p = &small[(y * 8 + x) * 4..][..4];
            if p[3] > 0 {
                opaque += 1;
                assert!(p[0] > 230 && p[1] < 20, "({x},{y}) {p:?}");
            } else {
                assert!(x >= 3, "({x},{y}) of the red half is transparent");
            }
        }
    }
    assert!(opaque >= 6, "{opaque} opaque pixels");
}

#[test]
fn in_memory_rgba_images_keep_their_transparency_too() {
    let images = Images::Rgba8 {
        width: 2,
        height: 1,
        pixels: vec![10, 20, 30, 255, 0, 0, 0, 0],
    };
    let cache = Cache::disabled();
    let (store, _) = open_or_build(&images, 8, &cache, &()).expect("build");
    let c = cell(&store, 0, 0);
    // 2×1 letterboxed into 8: the middle rows hold the image, left half the opaque pixel.
    let px = |x: usize, y: usize| &c[(y * 8 + x) * 4..(y * 8 + x) * 4 + 4];
    assert_eq!(px(0, 4), [10, 20, 30, 255]);
    assert_eq!(
        px(7, 4),
        [0, 0, 0, 0],
        "the transparent pixel stays transparent"
    );
    assert_eq!(px(6, 0), [0, 0, 0, 0], "margin");
}

/// Cancels the build once `after` items are reported done: a kill part-way through.
struct KillAfter {
    after: u64,
    done: std::sync::atomic::AtomicU64,
}

impl Observer for KillAfter {
    fn progress(&self, done: u64, _total: u64) {
        self.done.fetch_max(done, Ordering::Relaxed);
    }
    fn cancelled(&self) -> bool {
        self.done.load(Ordering::Relaxed) >= self.after
    }
}

fn shades(dir: &Path, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let name = format!("{i:03}.png");
            write_png(&dir.join(&name), (i * 2) as u8);
            name
        })
        .collect()
}

#[test]
fn a_build_cut_short_resumes_and_checks_what_it_finds() {
    let images_dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(cache_dir.path());
    let names = shades(images_dir.path(), 3 * RUN_ITEMS);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let images = files(images_dir.path(), &names);
    // One thread, so the runs finish in order and the kill lands after the first.
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let kill = KillAfter {
        after: RUN_ITEMS as u64,
        done: Default::default(),
    };
    let build = open(&images, 32, &cache, 0).expect("open");
    let store = build.store();
    // Before any build the store already serves cells, decoded on demand.
    assert_eq!(store.status(5), None);
    assert_near(cell(&store, 1, 5)[(16 * 32 + 16) * 4], 10);
    let cut = one.install(|| build.run(&kill));
    assert!(matches!(cut, Err(ThumbError::Cancelled)), "{cut:?}");
    assert_eq!(store.built(), RUN_ITEMS, "one run finished");
    assert_eq!(store.status(5), Some(CellStatus::Image));
    drop(store);

    // Damage one finished item's cells: its checksum no longer matches.
    let path = std::fs::read_dir(cache_dir.path())
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "bin"))
        .expect("cache file");
    let layout = layout(&[8, 32], names.len());
    let damaged = 3;
    let f = OpenOptions::new().write(true).open(&path).expect("open");
    f.write_all_at(&[0x55; 40], layout.data_at + damaged * layout.stride + 200)
        .expect("damage");
    drop(f);

    let (store, report) = open_or_build(&images, 32, &cache, &()).expect("resume");
    assert_eq!(
        report.reused,
        RUN_ITEMS - 1,
        "finished items kept, less the damaged one"
    );
    assert_eq!(report.decoded, names.len() - RUN_ITEMS + 1);
    assert_near(cell(&store, 1, damaged as usize)[(16 * 32 + 16) * 4], 6);
    drop(store);
    // Complete now: a relaunch trusts the file and decodes nothing.
    let (_, report) = open_or_build(&images, 32, &cache, &()).expect("reopen");
    assert_eq!((report.decoded, report.reused), (0, names.len()));
}

#[test]
fn large_cells_are_made_on_demand_and_kept_within_the_budget() {
    let images_dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(cache_dir.path());
    let (w, h) = (300, 150);
    let big = |shade: u8| RgbaImage::from_fn(w, h, |_, _| Rgba([shade, 90, 30, 255]));
    for (i, name) in ["a.png", "b.png", "c.png"].iter().enumerate() {
        big(60 * i as u8 + 20)
            .save(images_dir.path().join(name))
            .expect("png");
    }
    let names = ["a.png", "b.png", "c.png"];
    let images = || {
        let mut images = files(images_dir.path(), &names);
        if let Images::Files(f) = &mut images {
            f.sizes = vec![Some((w, h)); 3];
        }
        images
    };
    // Room for two large cells.
    let budget = 2 * LargeCache::slot_bytes(128);
    let (store, report) = open(&images(), 128, &cache, budget)
        .expect("open")
        .run(&())
        .expect("build");
    assert_eq!(store.tiers(), [8, 32, 128]);
    assert_eq!(store.small_tiers(), 2);
    assert_eq!(report.decoded, 3);
    let large = &store.large_caches()[0];
    assert_eq!(large.occupancy(), (2, 0), "no large cell made by the build");
    // Wide image letterboxed into 128: rows 32..96 hold the picture.
    let c = cell(&store, 2, 0);
    assert_near(c[(64 * 128 + 64) * 4], 20);
    assert_eq!(c[3], 0, "margin");
    assert_eq!(large.occupancy(), (2, 1));
    cell(&store, 2, 1);
    cell(&store, 2, 0); // item 0 used again: item 1 is now the oldest
    cell(&store, 2, 2);
    assert_eq!(large.occupancy(), (2, 2), "bounded");
    drop(store);

    // Kept across a relaunch (both cells found on disk); the evicted one is made again
    // from its image, and when that image is gone it is a placeholder.
    std::fs::remove_file(images_dir.path().join("b.png")).expect("rm");
    let store = open(&images(), 128, &cache, budget)
        .expect("reopen")
        .store();
    assert_eq!(store.large_caches()[0].occupancy(), (2, 2));
    assert_near(cell(&store, 2, 0)[(64 * 128 + 64) * 4], 20);
    assert_near(cell(&store, 2, 2)[(64 * 128 + 64) * 4], 140);
    assert_eq!(cell(&store, 2, 1), placeholder(128), "evicted, image gone");
}

/// A store is one entry of the cache (small cells, large cells, their index, its data set),
/// held while open so eviction passes it by, and removed whole when free. Large cells an
/// earlier version kept under their own name are taken over, not made again.
#[test]
fn a_store_is_one_cache_entry_held_while_open() {
    use crate::cache::entries;
    let images_dir = tempfile::tempdir().expect("tempdir");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(cache_dir.path()).for_dataset("/data/shots");
    let (w, h) = (300, 150);
    for (i, name) in ["a.png", "b.png"].iter().enumerate() {
        RgbaImage::from_fn(w, h, |_, _| Rgba([60 * i as u8 + 20, 90, 30, 255]))
            .save(images_dir.path().join(name))
            .expect("png");
    }
    let images = || {
        let mut images = files(images_dir.path(), &["a.png", "b.png"]);
        if let Images::Files(f) = &mut images {
            f.sizes = vec![Some((w, h)); 2];
        }
        images
    };
    let budget = 2 * LargeCache::slot_bytes(128);
    let (store, _) = open(&images(), 128, &cache, budget)
        .expect("open")
        .run(&())
        .expect("build");
    cell(&store, 2, 0);
    let listed = entries::list(cache_dir.path()).expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = &listed[0];
    assert_eq!(entry.kind, entries::Kind::Thumbnails);
    assert_eq!(entry.dataset.as_deref(), Some("/data/shots"));
    let names: Vec<String> = entry
        .files
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    let small = format!("{}.bin", entry.name);
    let large = format!("{}.large128.bin", entry.name);
    for want in [&small, &large, &format!("{}.large128.idx", entry.name)] {
        assert!(names.contains(want), "{want} in {names:?}");
    }
    let done = entries::evict(cache_dir.path(), 0, &[]).expect("evict");
    assert!(done.removed.is_empty(), "{:?}", done.removed);
    assert_eq!(done.in_use.len(), 1);
    drop(store);

    // Named as an earlier version named it: taken over at open, its cell kept.
    let root = std::fs::canonicalize(images_dir.path()).expect("root");
    let legacy = cache_dir
        .path()
        .join(cache_file_name("thumbs-large", &[128], &root));
    std::fs::rename(cache_dir.path().join(&large), &legacy).expect("rename");
    std::fs::rename(
        cache_dir
            .path()
            .join(format!("{}.large128.idx", entry.name)),
        large::index_path(&legacy),
    )
    .expect("rename");
    let store = open(&images(), 128, &cache, budget)
        .expect("reopen")
        .store();
    assert_eq!(store.large_caches()[0].occupancy(), (2, 1));
    assert!(!legacy.exists());
    drop(store);

    let done = entries::evict(cache_dir.path(), 0, &[]).expect("evict");
    assert_eq!(done.removed.len(), 1);
    assert_eq!(
        std::fs::read_dir(cache_dir.path()).expect("list").count(),
        0
    );
}

/// A disk that fills up mid-build: the build still ends well for the explorer (every cell
/// served, those not written decoded on demand), says why nothing was kept, and leaves no file
/// cut short. Needs a tmpfs (root); skipped where mounting one is not permitted.
#[test]
fn a_full_disk_mid_build_keeps_serving_every_cell_and_leaves_no_partial_file() {
    let images_dir = tempfile::tempdir().expect("tempdir");
    let disk = tempfile::tempdir().expect("tempdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(disk.path())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        crate::test_common::skip("cannot mount a tmpfs here (needs root)", None);
        return;
    }
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(disk.path());
    // 40 images: 64 kB of small cells on a 16 kB disk.
    let names: Vec<String> = (0..40).map(|i| format!("{i:02}.png")).collect();
    for (i, n) in names.iter().enumerate() {
        write_png(&images_dir.path().join(n), i as u8 * 6);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let cache = Cache::at(disk.path().join("cache"));
    let (store, report) = open_or_build(&files(images_dir.path(), &refs), 32, &cache, &())
        .expect("the build ends well without its file");
    assert!(report.not_kept.is_some(), "{report:?}");
    let (reference, _) = open_or_build(
        &files(images_dir.path(), &refs),
        32,
        &Cache::disabled(),
        &(),
    )
    .expect("build");
    for item in [0, 17, 39] {
        assert_eq!(
            cell(&store, 1, item),
            cell(&reference, 1, item),
            "item {item}"
        );
    }
    let left: Vec<_> = std::fs::read_dir(disk.path().join("cache"))
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .filter(|n| n.to_string_lossy().starts_with("thumbs-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
