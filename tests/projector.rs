//! TensorBoard projector logs: fixtures written here in TensorBoard's and tensorboardX's
//! formats (TSV and raw float32 tensors, one- and many-column metadata, sprites with a partial
//! last row, several embeddings), malformed ones, and the export → read round trip.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use image::{Rgba, RgbaImage};
use ivt::dataset::{self, ColumnValues, DataSource, Images, InputSpec, ItemId};
use ivt::projector::write::{ExportOptions, TensorFormat, export};

fn spec(path: &Path) -> InputSpec {
    InputSpec::new(DataSource::Path(path.to_owned()))
}

/// Cell `i` of a test sprite: a solid colour unique to the item.
fn cell_colour(i: usize) -> Rgba<u8> {
    Rgba([(i * 20) as u8, 255 - (i * 10) as u8, (i * 7) as u8, 255])
}

/// A sprite of `n` `side`-pixel cells, `per_row` per row (the last row partial).
fn write_sprite(path: &Path, n: usize, side: u32, per_row: u32) {
    let rows = (n as u32).div_ceil(per_row);
    let mut sheet = RgbaImage::new(per_row * side, rows * side);
    for i in 0..n {
        let (x0, y0) = ((i as u32 % per_row) * side, (i as u32 / per_row) * side);
        for y in 0..side {
            for x in 0..side {
                sheet.put_pixel(x0 + x, y0 + y, cell_colour(i));
            }
        }
    }
    sheet.save(path).expect("sprite");
}

fn features(n: usize, d: usize) -> Vec<f32> {
    (0..n * d).map(|i| (i as f32) * 0.25 - 3.0).collect()
}

fn tsv(n: usize, d: usize) -> String {
    let f = features(n, d);
    f.chunks(d)
        .map(|r| {
            r.iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join("\t")
                + "\n"
        })
        .collect()
}

#[test]
fn tsv_tensor_single_column_metadata_and_a_sprite_with_a_partial_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path();
    std::fs::write(log.join("vectors.tsv"), tsv(10, 3)).expect("tsv");
    let labels: String = (0..10)
        .map(|i| format!("{}\n", ["cat", "dog"][i % 2]))
        .collect();
    std::fs::write(log.join("labels.tsv"), labels).expect("labels");
    write_sprite(&log.join("sprite.png"), 10, 4, 4);
    std::fs::write(
        log.join("projector_config.pbtxt"),
        "embeddings {\n  tensor_name: \"vecs:0\"\n  tensor_path: \"vectors.tsv\"\n  metadata_path: \"labels.tsv\"\n  sprite {\n    image_path: \"sprite.png\"\n    single_image_dim: 4\n    single_image_dim: 4\n  }\n}\n",
    )
    .expect("config");
    let data = dataset::load(&spec(log)).expect("loads");
    assert_eq!(data.name, "vecs", "':0' dropped like TensorBoard does");
    assert_eq!(&*data.features.values(), features(10, 3).as_slice());
    let classes = data.classes.expect("single column = labels");
    assert_eq!(classes.labels.names, vec!["cat", "dog"]);
    assert_eq!(classes.labels.name_of(ItemId(3)), "dog");
    let Images::Rgba8 { width, height, .. } = &data.images else {
        panic!("sprite cells: {:?}", data.images.count())
    };
    assert_eq!((*width, *height, data.images.count()), (4, 4, 10));
    for i in [0, 3, 4, 9] {
        let img = data.images.memory_rgba(i).expect("cell");
        assert_eq!(*img.get_pixel(2, 1), cell_colour(i), "cell {i}");
    }
}

#[test]
fn bytes_tensor_with_header_metadata_and_several_embeddings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path();
    let f = features(6, 4);
    let bytes: Vec<u8> = f.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::create_dir_all(log.join("b")).expect("dir");
    std::fs::write(log.join("b/tensor.bytes"), &bytes).expect("bytes");
    std::fs::write(log.join("a.tsv"), tsv(5, 2)).expect("tsv");
    std::fs::write(
        log.join("b/meta.tsv"),
        "name\tLabel\tscore\nx0\tp\t0.5\nx1\tq\t1.5\nx2\tp\t\nx3\tq\t2\nx4\tp\t3\nx5\tq\t4\n",
    )
    .expect("meta");
    std::fs::write(
        log.join("projector_config.pbtxt"),
        "embeddings { tensor_name: \"a\" tensor_path: \"a.tsv\" }\n\
         embeddings < tensor_name: 'b' tensor_path: 'b/tensor.bytes' tensor_shape: [6, 4] metadata_path: 'b/meta.tsv' >\n\
         embeddings { tensor_name: \"from_checkpoint\" }\n",
    )
    .expect("config");
    let first = dataset::load(&spec(log)).expect("default: the first");
    assert_eq!((first.name.as_str(), first.n_items()), ("a", 5));

    let mut s = spec(log);
    s.tensor = Some("b".to_owned());
    let b = dataset::load(&s).expect("b");
    assert_eq!(&*b.features.values(), f.as_slice());
    let meta = b.metadata.expect("metadata");
    assert_eq!(meta.columns.len(), 3);
    match &meta.column("score").expect("score").values {
        ColumnValues::Numeric(v) => assert!(v[2].is_nan() && v[5] == 4.0),
        other => panic!("{other:?}"),
    }
    let classes = b.classes.expect("the Label column");
    assert_eq!(classes.labels.names, vec!["p", "q"]);

    s.tensor = Some("c".to_owned());
    let err = dataset::load(&s).expect_err("unknown").to_string();
    assert!(err.contains("\"c\"") && err.contains("a, b"), "{err}");
    s.tensor = Some("from_checkpoint".to_owned());
    let err = dataset::load(&s).expect_err("checkpoint only").to_string();
    assert!(
        err.contains("no tensor_path") && err.contains("checkpoint"),
        "{err}"
    );
}

#[test]
fn tensorboardx_step_tag_folders_without_a_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path();
    let emb = log.join("00003/default");
    std::fs::create_dir_all(&emb).expect("dirs");
    std::fs::write(emb.join("tensors.tsv"), tsv(7, 2)).expect("tsv");
    std::fs::write(emb.join("metadata.tsv"), "1\n2\n1\n2\n1\n2\n3\n").expect("meta");
    // tensorboardX's sprite: a square grid of ⌈√7⌉ = 3 cells per side, the rest blank.
    write_sprite(&emb.join("sprite.png"), 7, 5, 3);
    let mut square = image::open(emb.join("sprite.png")).expect("png").to_rgba8();
    if square.height() < 15 {
        let mut s = RgbaImage::new(15, 15);
        image::imageops::replace(&mut s, &square, 0, 0);
        square = s;
    }
    square.save(emb.join("sprite.png")).expect("png");
    assert!(ivt::dataset::projector::is_log_dir(log));
    let data = dataset::load(&spec(log)).expect("loads");
    assert_eq!(data.name, "default:00003");
    assert_eq!(data.n_items(), 7);
    assert_eq!(data.images.count(), 7);
    assert_eq!(
        *data.images.memory_rgba(6).expect("cell").get_pixel(0, 0),
        cell_colour(6)
    );
}

fn expect_error(log: &Path, config: &str, needles: &[&str]) {
    std::fs::write(log.join("projector_config.pbtxt"), config).expect("config");
    let err = dataset::load(&spec(log)).expect_err("malformed");
    let text = format!("{err:#}");
    let full = std::iter::successors(Some(&err as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    for n in needles {
        assert!(full.contains(n), "{n:?} missing from {full:?} ({text})");
    }
}

#[test]
fn malformed_logs_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path();
    std::fs::write(log.join("t.tsv"), tsv(4, 2)).expect("tsv");
    std::fs::write(log.join("ragged.tsv"), "1\t2\n3\n").expect("tsv");
    std::fs::write(log.join("t.bytes"), [0u8; 20]).expect("bytes");
    std::fs::write(log.join("meta.tsv"), "a\nb\nc\n").expect("meta");
    expect_error(
        log,
        "embeddings {\n  tensor_name: \"x\"\n  tensor_path: \"t.tsv\"\n",
        &["projector_config.pbtxt", "missing '}'"],
    );
    expect_error(
        log,
        "embeddings { tensor_name: \"x\" tensor_path: \"t.tsv\" tensor_shape: 5 tensor_shape: 2 }",
        &["t.tsv", "4 × 2", "5 × 2"],
    );
    expect_error(
        log,
        "embeddings { tensor_name: \"x\" tensor_path: \"t.bytes\" tensor_shape: 3 tensor_shape: 2 }",
        &["t.bytes", "20 bytes", "24"],
    );
    expect_error(
        log,
        "embeddings { tensor_name: \"x\" tensor_path: \"ragged.tsv\" }",
        &["ragged.tsv", "line 2", "expected 2"],
    );
    expect_error(
        log,
        "embeddings { tensor_name: \"x\" tensor_path: \"t.tsv\" metadata_path: \"meta.tsv\" }",
        &["meta.tsv", "3 row(s)", "4 points"],
    );
    expect_error(
        log,
        "embeddings { tensor_name: \"x\" tensor_path: \"t.tsv\" sprite { image_path: \"gone.png\" single_image_dim: 8 single_image_dim: 8 } }",
        &["gone.png", "does not exist"],
    );
    write_sprite(&log.join("small.png"), 2, 8, 2);
    expect_error(
        log,
        "embeddings { tensor_name: \"x\" tensor_path: \"t.tsv\" sprite { image_path: \"small.png\" single_image_dim: 8 single_image_dim: 8 } }",
        &["small.png", "holds 2 images", "4 points"],
    );
    expect_error(
        log,
        "embeddings { tensor_name: \"x\" tensor_path: \"missing.tsv\" }",
        &["missing.tsv"],
    );
}

/// A data set folder: features, labels, a metadata CSV and 12 images of 6×6.
fn source_dataset(dir: &Path) -> PathBuf {
    let data = dir.join("src");
    let images = data.join("images");
    std::fs::create_dir_all(&images).expect("dirs");
    let (n, d) = (12usize, 5usize);
    let f: Vec<f32> = (0..n * d)
        .map(|i| ((i * 37) % 101) as f32 / 7.0 - 5.0)
        .collect();
    ivt::npy::write(&data.join("features.npy"), &[n, d], &f).expect("features");
    let labels: Vec<i64> = (0..n as i64).map(|i| i % 3).collect();
    ivt::npy::write(&data.join("labels.npy"), &[n], &labels).expect("labels");
    for i in 0..n {
        RgbaImage::from_pixel(6, 6, cell_colour(i))
            .save(images.join(format!("{i:02}.png")))
            .expect("png");
    }
    let mut meta = String::from("name,weight\n");
    for i in 0..n {
        meta.push_str(&format!("item\t{i},{}\n", i as f64 * 1.5));
    }
    std::fs::write(dir.join("meta.csv"), meta).expect("meta");
    data
}

#[test]
fn export_then_read_gives_the_same_features_metadata_and_images() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = source_dataset(dir.path());
    let mut s = spec(&src);
    s.metadata = Some(dir.path().join("meta.csv"));
    let data = dataset::load(&s).expect("source");
    for format in [TensorFormat::Tsv, TensorFormat::Bytes] {
        let log = dir.path().join(format!("log-{format:?}"));
        let options = ExportOptions {
            tensor_name: "my data/v1".to_owned(),
            format,
            max_sprite_px: ivt::projector::MAX_SPRITE_PX,
            clusters: Some((0..12).map(|i| i % 2).collect()),
        };
        let report = export(&data, &log, &options).expect("exports");
        assert_eq!(report.cell_px, Some(6));
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
        let back = dataset::load(&spec(&log)).expect("reads back");
        assert_eq!(back.name, "my data/v1");
        assert_eq!(
            &*back.features.values(),
            &*data.features.values(),
            "{format:?}: exact"
        );
        let classes = back.classes.expect("label column");
        let original = data.classes.as_ref().expect("labels");
        for i in 0..12 {
            assert_eq!(
                classes.labels.name_of(ItemId(i)),
                original.labels.name_of(ItemId(i))
            );
        }
        let meta = back.metadata.expect("metadata");
        let names: Vec<&str> = meta.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["label", "cluster", "name", "weight"]);
        match &meta.column("name").expect("name").values {
            ColumnValues::Categorical(c) => {
                assert_eq!(c.name_of(ItemId(4)), "item 4", "tab became a space")
            }
            other => panic!("{other:?}"),
        }
        match &meta.column("weight").expect("weight").values {
            ColumnValues::Numeric(v) => assert_eq!(v[3], 4.5),
            other => panic!("{other:?}"),
        }
        assert_eq!(back.images.count(), 12);
        for i in 0..12 {
            let cell = back.images.memory_rgba(i).expect("cell");
            assert_eq!(cell.dimensions(), (6, 6));
            assert_eq!(*cell.get_pixel(3, 3), cell_colour(i), "image {i}");
        }
    }
}

#[test]
fn big_sprites_are_downscaled_with_a_warning_and_configs_are_merged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = source_dataset(dir.path());
    let data = dataset::load(&spec(&src)).expect("source");
    let log = dir.path().join("log");
    std::fs::create_dir_all(&log).expect("log");
    std::fs::write(
        log.join("projector_config.pbtxt"),
        "embeddings { tensor_name: \"theirs\" tensor_path: \"theirs.tsv\" }\n",
    )
    .expect("their config");
    std::fs::write(log.join("theirs.tsv"), tsv(3, 2)).expect("their tensor");
    let options = ExportOptions {
        tensor_name: "ours".to_owned(),
        format: TensorFormat::Tsv,
        // 12 images: 4 per row; 16 px / 4 = 4 px cells, smaller than the 6 px images.
        max_sprite_px: 16,
        clusters: None,
    };
    let report = export(&data, &log, &options).expect("exports");
    assert_eq!(report.cell_px, Some(4));
    assert!(
        report.warnings.iter().any(|w| w.contains("from 6 to 4 px")),
        "{:?}",
        report.warnings
    );
    let config = std::fs::read_to_string(log.join("projector_config.pbtxt")).expect("config");
    assert!(
        config.contains("theirs") && config.contains("ours"),
        "{config}"
    );
    let mut s = spec(&log);
    s.tensor = Some("ours".to_owned());
    assert_eq!(dataset::load(&s).expect("ours").images.count(), 12);
    s.tensor = Some("theirs".to_owned());
    assert_eq!(dataset::load(&s).expect("theirs").n_items(), 3);

    // Exporting again replaces our entry (and our files) instead of adding a second one.
    export(&data, &log, &options).expect("again");
    let config = std::fs::read_to_string(log.join("projector_config.pbtxt")).expect("config");
    assert_eq!(config.matches("tensor_name: \"ours\"").count(), 1);
    assert!(!log.join("ours-2").exists());
    // Another name that maps to the same folder, or a folder that is already there (the
    // user's), gets a folder of its own.
    std::fs::create_dir_all(log.join("mine")).expect("user folder");
    std::fs::write(log.join("mine/tensors.tsv"), "keep me").expect("user file");
    for (name, folder) in [("ours.", "ours-2"), ("mine", "mine-2")] {
        let other = ExportOptions {
            tensor_name: name.to_owned(),
            ..options.clone()
        };
        export(&data, &log, &other).expect("other name");
        assert!(
            log.join(folder).join("tensors.tsv").is_file(),
            "{name} → {folder}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(log.join("mine/tensors.tsv")).expect("kept"),
        "keep me"
    );
    s.tensor = Some("ours".to_owned());
    assert_eq!(
        dataset::load(&s)
            .expect("ours still readable")
            .images
            .count(),
        12
    );

    // A config we cannot parse is the user's: reported, not overwritten.
    std::fs::write(log.join("projector_config.pbtxt"), "embeddings {").expect("broken");
    let err = export(&data, &log, &options)
        .expect_err("unparsable")
        .to_string();
    assert!(err.contains("projector_config.pbtxt"), "{err}");
    assert_eq!(
        std::fs::read_to_string(log.join("projector_config.pbtxt")).expect("kept"),
        "embeddings {"
    );
}

/// TensorBoard's own protobuf parser reads our config, when a Python with the `tensorboard`
/// package is around (`$IVT_PYTHON`, else `python3`).
#[test]
fn tensorboard_parses_the_written_config() {
    let python = std::env::var("IVT_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let probe = Command::new(&python)
        .args([
            "-c",
            "import tensorboard.plugins.projector.projector_config_pb2",
        ])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        common::skip(
            &format!("no `tensorboard` Python package for {python} (set IVT_PYTHON)"),
            Some("IVT_REQUIRE_TENSORBOARD"),
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let src = source_dataset(dir.path());
    let data = dataset::load(&spec(&src)).expect("source");
    let log = dir.path().join("log");
    let options = ExportOptions {
        tensor_name: "quote \" and \\ backslash".to_owned(),
        format: TensorFormat::Bytes,
        max_sprite_px: ivt::projector::MAX_SPRITE_PX,
        clusters: None,
    };
    export(&data, &log, &options).expect("exports");
    let script = "import sys\n\
        from google.protobuf import text_format\n\
        from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig\n\
        c = text_format.Parse(open(sys.argv[1]).read(), ProjectorConfig())\n\
        e = c.embeddings[0]\n\
        print(e.tensor_name, list(e.tensor_shape), e.tensor_path, e.metadata_path, e.sprite.image_path, list(e.sprite.single_image_dim), sep='|')\n";
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(log.join("projector_config.pbtxt"))
        .output()
        .expect("python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let folder = "quote___and___backslash";
    assert_eq!(
        stdout.trim(),
        format!(
            "quote \" and \\ backslash|[12, 5]|{folder}/tensors.bytes|{folder}/metadata.tsv|{folder}/sprite.png|[6, 6]"
        )
    );
}

#[test]
fn cli_exports_lists_and_reads_a_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = source_dataset(dir.path());
    let log = dir.path().join("log");
    let bin = env!("CARGO_BIN_EXE_ivt-explore");
    let run = |args: &[&std::ffi::OsStr]| Command::new(bin).args(args).output().expect("run");
    let out = run(&[
        "export-projector".as_ref(),
        src.as_os_str(),
        "-o".as_ref(),
        log.as_os_str(),
        "--clusters".as_ref(),
        "3".as_ref(),
        "--no-cache".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("tensorboard --logdir"), "{stderr}");
    let info = run(&["info".as_ref(), log.as_os_str()]);
    let stdout = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(
        stdout.contains("1 in this log") && stdout.contains("* \"src\""),
        "{stdout}"
    );
    assert!(stdout.contains("12 items × 5 dims"), "{stdout}");
    let bad = run(&[
        "info".as_ref(),
        log.as_os_str(),
        "--tensor".as_ref(),
        "nope".as_ref(),
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no embedding named \"nope\""));
}
