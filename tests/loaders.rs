//! Data set loading end to end, over small files each test writes itself: every input format,
//! every image ordering, and every kind of bad input (with the error kind and the file named).

use std::io::Write;
use std::path::{Path, PathBuf};

use ivt::dataset::{
    self, ClassSource, ColumnValues, DataSource, DatasetError, ImageLayout, ImageOrder, Images,
    InputSpec, SortKeyProblem,
};
use ivt::npy::NpyError;
use le_bytes::f32_bytes;

#[path = "common/le_bytes.rs"]
mod le_bytes;

/// `.npy` bytes built by hand (not by the writer under test).
fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}\n",
        if fortran { "True" } else { "False" }
    );
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, bytes).expect("write");
    p
}

fn png(dir: &Path, name: &str, w: u32, h: u32) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    image::GrayImage::from_pixel(w, h, image::Luma([128]))
        .save(&p)
        .expect("png");
    p
}

fn spec(data: &Path) -> InputSpec {
    InputSpec::new(DataSource::Path(data.to_owned()))
}

fn load_err(spec: &InputSpec) -> DatasetError {
    dataset::load(spec).expect_err("should fail")
}

/// Features with n rows (row i = [i, 2i]) as f32 .npy.
fn features_npy(dir: &Path, n: usize) -> PathBuf {
    let v: Vec<f32> = (0..n).flat_map(|i| [i as f32, 2.0 * i as f32]).collect();
    write(
        dir,
        "f.npy",
        &npy_bytes("<f4", false, &format!("({n}, 2)"), &f32_bytes(&v)),
    )
}

#[test]
fn npy_f32_f64_c_and_fortran_agree() {
    let dir = tempfile::tempdir().expect("tmp");
    let logical = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]; // 2 × 3
    let c32 = write(
        dir.path(),
        "c32.npy",
        &npy_bytes(
            "<f4",
            false,
            "(2, 3)",
            &f32_bytes(&[1., 2., 3., 4., 5., 6.]),
        ),
    );
    let fortran: Vec<u8> = [1.0f64, 4., 2., 5., 3., 6.]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let f64f = write(
        dir.path(),
        "f64f.npy",
        &npy_bytes("<f8", true, "(2, 3)", &fortran),
    );
    for p in [c32, f64f] {
        let d = dataset::load(&spec(&p)).expect("loads");
        assert_eq!((d.n_items(), d.features.dim()), (2, 3));
        let expected: Vec<f32> = logical.iter().map(|&x| x as f32).collect();
        assert_eq!(
            &*d.features.values(),
            expected.as_slice(),
            "{}",
            p.display()
        );
    }
}

#[test]
fn npz_picks_the_only_array_or_the_named_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let make = |name: &str, members: &[&str]| {
        let path = dir.path().join(name);
        let file = std::fs::File::create(&path).expect("create");
        let mut zip = zip::ZipWriter::new(file);
        for (i, m) in members.iter().enumerate() {
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            zip.start_file(format!("{m}.npy"), opts).expect("member");
            let v = [i as f32, 1.0, 2.0, 3.0];
            zip.write_all(&npy_bytes("<f4", false, "(2, 2)", &f32_bytes(&v)))
                .expect("data");
        }
        zip.finish().expect("finish");
        path
    };
    let one = make("one.npz", &["emb"]);
    let d = dataset::load(&spec(&one)).expect("only array");
    assert_eq!(&*d.features.values(), &[0.0, 1.0, 2.0, 3.0]);

    let two = make("two.npz", &["a", "b"]);
    let err = load_err(&spec(&two));
    assert!(matches!(err, DatasetError::NpzChoice { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("two.npz") && text.contains("a, b") && text.contains("--npz-key"),
        "{text}"
    );

    let mut s = spec(&two);
    s.npz_key = Some("b".into());
    assert_eq!(
        &*dataset::load(&s).expect("named").features.values(),
        &[1.0, 1.0, 2.0, 3.0]
    );
    s.npz_key = Some("c".into());
    assert!(matches!(
        load_err(&s),
        DatasetError::NpzChoice {
            wanted: Some(_),
            ..
        }
    ));

    let broken = write(dir.path(), "broken.npz", b"PK\x03\x04 not really a zip");
    let err = load_err(&spec(&broken));
    assert!(
        matches!(err, DatasetError::Npz { .. }) && err.to_string().contains("broken.npz"),
        "{err}"
    );
}

#[test]
fn csv_and_tsv_with_and_without_header() {
    let dir = tempfile::tempdir().expect("tmp");
    let with = write(dir.path(), "h.csv", b"a,b,c\n1,2,3\n4, 5 ,6\n");
    let without = write(dir.path(), "n.tsv", b"# comment\n1\t2\t3\n\n4\t5\t6\n");
    for p in [with, without] {
        let d = dataset::load(&spec(&p)).expect("loads");
        assert_eq!(
            &*d.features.values(),
            &[1., 2., 3., 4., 5., 6.],
            "{}",
            p.display()
        );
    }
}

#[test]
fn csv_errors_name_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let ragged = write(dir.path(), "ragged.csv", b"1,2,3\n4,5\n");
    match load_err(&spec(&ragged)) {
        DatasetError::Ragged {
            path,
            line,
            expected,
            found,
        } => {
            assert_eq!((line, expected, found), (2, 3, 2));
            assert_eq!(path, ragged);
        }
        other => panic!("{other}"),
    }
    let text = write(dir.path(), "text.csv", b"1,2\n3,cat\n");
    let err = load_err(&spec(&text));
    assert!(matches!(err, DatasetError::Csv { line: 2, .. }), "{err}");
    assert!(err.to_string().contains("text.csv") && err.to_string().contains("cat"));
    let header_only = write(dir.path(), "empty.csv", b"a,b\n");
    let err = load_err(&spec(&header_only));
    assert!(
        matches!(err, DatasetError::Empty { .. }) && err.to_string().contains("empty.csv"),
        "{err}"
    );
}

#[test]
fn bad_features_are_named_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let nan = write(
        dir.path(),
        "nan.npy",
        &npy_bytes("<f4", false, "(2, 2)", &f32_bytes(&[1., 2., f32::NAN, 4.])),
    );
    let err = load_err(&spec(&nan));
    assert!(
        matches!(
            err,
            DatasetError::NonFinite {
                row: 1,
                col: 0,
                count: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("nan.npy"));

    let inf = write(dir.path(), "inf.csv", b"1,inf\n");
    assert!(matches!(
        load_err(&spec(&inf)),
        DatasetError::NonFinite { .. }
    ));

    let zero_rows = write(
        dir.path(),
        "rows.npy",
        &npy_bytes("<f4", false, "(0, 5)", &[]),
    );
    let err = load_err(&spec(&zero_rows));
    assert!(
        matches!(
            err,
            DatasetError::Empty {
                what: "rows (items)",
                ..
            }
        ),
        "{err}"
    );
    let zero_cols = write(
        dir.path(),
        "cols.npy",
        &npy_bytes("<f4", false, "(5, 0)", &[]),
    );
    let err = load_err(&spec(&zero_cols));
    assert!(
        matches!(
            err,
            DatasetError::Empty {
                what: "columns (feature dimensions)",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("cols.npy"));

    let truncated = write(
        dir.path(),
        "short.npy",
        &npy_bytes("<f4", false, "(4, 4)", &[0; 10]),
    );
    let err = load_err(&spec(&truncated));
    assert!(
        matches!(err, DatasetError::Npy(NpyError::Truncated { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("short.npy"));

    let garbage = write(dir.path(), "junk.bin", b"hello");
    let err = load_err(&spec(&garbage));
    assert!(
        matches!(err, DatasetError::Unsupported { .. }) && err.to_string().contains("junk.bin"),
        "{err}"
    );

    let missing = dir.path().join("nope.npy");
    let err = load_err(&spec(&missing));
    assert!(
        matches!(err, DatasetError::Npy(NpyError::Io { .. }))
            && err.to_string().contains("nope.npy"),
        "{err}"
    );
}

#[test]
fn flat_folder_in_natural_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = features_npy(dir.path(), 3);
    let imgs = dir.path().join("imgs");
    for name in ["img10.png", "img2.png"] {
        png(&imgs, name, 8, 6);
    }
    // A PNG named .jpg is read by its content; non-image files are not images.
    image::GrayImage::from_pixel(8, 6, image::Luma([1]))
        .save_with_format(imgs.join("img1.jpg"), image::ImageFormat::Png)
        .expect("png as jpg");
    write(&imgs, "notes.txt", b"not an image");
    let mut s = spec(&f);
    s.images = Some(imgs.clone());
    let d = dataset::load(&s).expect("loads");
    let Images::Files(files) = &d.images else {
        panic!("files")
    };
    let names: Vec<_> = files
        .paths
        .iter()
        .map(|p| p.file_name().expect("name").to_owned())
        .collect();
    assert_eq!(names, ["img1.jpg", "img2.png", "img10.png"]);
    assert_eq!(files.order, ImageOrder::Natural);
    assert_eq!(files.sizes, vec![Some((8, 6)); 3]);
    assert!(d.classes.is_none());
}

#[test]
fn a_list_of_images_pairs_rows_with_files_in_its_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = features_npy(dir.path(), 3);
    png(&dir.path().join("b"), "z.png", 8, 6);
    png(&dir.path().join("a"), "y.png", 5, 5);
    let absolute = png(dir.path(), "x.png", 4, 4);
    // Relative to the list's folder, in row order (not sorted), absolute paths as they are.
    let list = write(
        dir.path(),
        "lists/images.txt",
        format!("../b/z.png\n../a/y.png\n{}\n", absolute.display()).as_bytes(),
    );
    let mut s = spec(&f);
    s.images = Some(list.clone());
    let d = dataset::load(&s).expect("loads");
    let Images::Files(files) = &d.images else {
        panic!("files")
    };
    assert_eq!(files.sizes, vec![Some((8, 6)), Some((5, 5)), Some((4, 4))]);
    assert_eq!(files.order, ImageOrder::Column);
    // One line short, an empty line, sort keys: each an error naming the list.
    write(dir.path(), "lists/images.txt", b"../b/z.png\n../a/y.png\n");
    let err = load_err(&s);
    assert!(
        matches!(
            err,
            DatasetError::ItemCount {
                found: 2,
                expected: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("images.txt"), "{err}");
    write(
        dir.path(),
        "lists/images.txt",
        b"../b/z.png\n\n../a/y.png\n",
    );
    let err = load_err(&s).to_string();
    assert!(
        err.contains("images.txt") && err.contains("line 2 is empty"),
        "{err}"
    );
    write(
        dir.path(),
        "lists/images.txt",
        b"../b/z.png\n../a/y.png\nmissing.png\n",
    );
    let err = load_err(&s).to_string();
    assert!(err.contains("cannot be read"), "{err}");
    s.sort_keys = Some(write(dir.path(), "keys.txt", b"z\ny\nx\n"));
    let err = load_err(&s).to_string();
    assert!(err.contains("row order already"), "{err}");
}

#[test]
fn image_count_must_match_rows() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = features_npy(dir.path(), 3);
    let imgs = dir.path().join("imgs");
    png(&imgs, "a.png", 4, 4);
    png(&imgs, "b.png", 4, 4);
    let mut s = spec(&f);
    s.images = Some(imgs);
    let err = load_err(&s);
    assert!(
        matches!(
            err,
            DatasetError::ImageCount {
                images: 2,
                rows: 3,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("imgs"));
}

#[test]
fn torchvision_layout_gives_classes_in_imagefolder_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = features_npy(dir.path(), 4);
    let root = dir.path().join("train");
    // torchvision sorts plainly (not naturally): "img10" before "img9"; nested folders follow.
    png(&root, "dog/img9.png", 4, 4);
    png(&root, "dog/img10.png", 4, 4);
    png(&root, "cat/sub/x.png", 4, 4);
    png(&root, "cat/a.png", 4, 4);
    std::fs::create_dir_all(root.join("empty_class")).expect("mkdir");
    let mut s = spec(&f);
    s.images = Some(root.clone());
    let d = dataset::load(&s).expect("loads");
    let Images::Files(files) = &d.images else {
        panic!("files")
    };
    let rel: Vec<String> = files
        .paths
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        rel,
        [
            "cat/a.png",
            "cat/sub/x.png",
            "dog/img10.png",
            "dog/img9.png"
        ]
    );
    assert_eq!(files.order, ImageOrder::Torchvision);
    let classes = d.classes.expect("classes");
    assert_eq!(classes.source, ClassSource::Folders);
    assert_eq!(classes.labels.names, ["cat", "dog"]);
    assert_eq!(classes.labels.codes, [0, 0, 1, 1]);
}

#[test]
fn mixed_folder_needs_an_explicit_layout() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = features_npy(dir.path(), 2);
    let root = dir.path().join("mixed");
    png(&root, "top1.png", 4, 4);
    png(&root, "top2.png", 4, 4);
    png(&root, "cls/inner.png", 4, 4);
    let mut s = spec(&f);
    s.images = Some(root);
    let err = load_err(&s);
    assert!(
        matches!(err, DatasetError::ImageFolder { .. })
            && err.to_string().contains("--image-layout"),
        "{err}"
    );
    s.image_layout = ImageLayout::Flat;
    let d = dataset::load(&s).expect("flat ignores sub-folders");
    assert_eq!(d.images.count(), 2);
}

#[test]
fn sort_keys_order_rows_like_the_reference() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = features_npy(dir.path(), 3);
    let imgs = dir.path().join("imgs");
    for name in [
        "sample_a_001.png",
        "sample_b_002.png",
        "sample_c_003.png",
        "extra.png",
    ] {
        png(&imgs, name, 4, 4);
    }
    let keys = write(dir.path(), "keys.txt", b"c_003\na_001\nb_002\n");
    let mut s = spec(&f);
    s.images = Some(imgs.clone());
    s.sort_keys = Some(keys);
    let d = dataset::load(&s).expect("loads");
    let Images::Files(files) = &d.images else {
        panic!("files")
    };
    assert_eq!(files.paths[0], imgs.join("sample_c_003.png"));
    assert_eq!(files.paths[1], imgs.join("sample_a_001.png"));
    assert_eq!(files.order, ImageOrder::SortKeys);
    assert_eq!(files.unused_files, 1);

    // Misses and ambiguities are all reported, with their rows.
    let bad = write(dir.path(), "bad.txt", b"sample\nzzz\n002\n");
    s.sort_keys = Some(bad.clone());
    match load_err(&s) {
        DatasetError::SortKeys { path, problems } => {
            assert_eq!(path, bad);
            assert_eq!(problems.len(), 2);
            assert!(matches!(
                &problems[0],
                SortKeyProblem::Ambiguous {
                    row: 0,
                    n_matches: 3,
                    ..
                }
            ));
            assert!(matches!(
                &problems[1],
                SortKeyProblem::NoMatch { row: 1, .. }
            ));
        }
        other => panic!("{other}"),
    }
    let short = write(dir.path(), "short.txt", b"a_001\n");
    s.sort_keys = Some(short);
    assert!(matches!(
        load_err(&s),
        DatasetError::ItemCount {
            found: 1,
            expected: 3,
            ..
        }
    ));
}

#[test]
fn unreadable_images_are_all_reported_or_allowed() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = features_npy(dir.path(), 4);
    let imgs = dir.path().join("imgs");
    png(&imgs, "0.png", 4, 4);
    write(&imgs, "1.png", b"\x89PNG\r\n\x1a\n truncated");
    write(&imgs, "2.jpg", b"plain text, not a jpeg");
    image::RgbaImage::from_pixel(5, 5, image::Rgba([9, 9, 9, 255]))
        .save_with_format(imgs.join("3.gif"), image::ImageFormat::Gif)
        .expect("gif");
    let mut s = spec(&f);
    s.images = Some(imgs.clone());
    match load_err(&s) {
        DatasetError::ImageFailures { path, failures } => {
            assert_eq!(path, imgs);
            let bad: Vec<_> = failures
                .iter()
                .map(|f| f.path.file_name().expect("name").to_owned())
                .collect();
            assert_eq!(bad, ["1.png", "2.jpg"]);
        }
        other => panic!("{other}"),
    }
    s.allow_missing_images = true;
    let d = dataset::load(&s).expect("allowed");
    let Images::Files(files) = &d.images else {
        panic!("files")
    };
    assert_eq!(files.sizes, vec![Some((4, 4)), None, None, Some((5, 5))]);
    assert_eq!(files.failures.len(), 2);
}

#[test]
fn every_image_format_is_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let formats = [
        ("a.png", image::ImageFormat::Png),
        ("b.jpg", image::ImageFormat::Jpeg),
        ("c.webp", image::ImageFormat::WebP),
        ("d.bmp", image::ImageFormat::Bmp),
        ("e.gif", image::ImageFormat::Gif),
    ];
    let f = features_npy(dir.path(), formats.len());
    let imgs = dir.path().join("imgs");
    std::fs::create_dir_all(&imgs).expect("mkdir");
    for (name, format) in formats {
        image::RgbImage::from_pixel(7, 3, image::Rgb([10, 200, 30]))
            .save_with_format(imgs.join(name), format)
            .expect("encode");
    }
    let mut s = spec(&f);
    s.images = Some(imgs);
    s.verify_images = true;
    let d = dataset::load(&s).expect("all formats decode");
    let Images::Files(files) = &d.images else {
        panic!("files")
    };
    assert_eq!(files.sizes, vec![Some((7, 3)); 5]);
}

#[test]
fn metadata_and_labels() {
    let dir = tempfile::tempdir().expect("tmp");
    let f = features_npy(dir.path(), 3);
    let meta = write(
        dir.path(),
        "meta.csv",
        b"name,score,split\nx,0.5,train\ny,,test\nz,2,train\n",
    );
    let labels = write(dir.path(), "labels.txt", b"cat\ndog\ncat\n");
    let mut s = spec(&f);
    s.metadata = Some(meta);
    s.labels = Some(labels);
    let d = dataset::load(&s).expect("loads");
    let m = d.metadata.expect("metadata");
    assert!(
        matches!(&m.column("score").expect("score").values, ColumnValues::Numeric(v) if v[0] == 0.5 && v[1].is_nan())
    );
    assert!(
        matches!(&m.column("split").expect("split").values, ColumnValues::Categorical(c) if c.names == ["test", "train"])
    );
    assert_eq!(d.classes.expect("labels").labels.codes, [0, 1, 0]);

    let short = write(dir.path(), "short.csv", b"a\n1\n2\n");
    s.metadata = Some(short);
    let err = load_err(&s);
    assert!(
        matches!(
            err,
            DatasetError::ItemCount {
                found: 2,
                expected: 3,
                ..
            }
        ) && err.to_string().contains("short.csv"),
        "{err}"
    );
    let ragged = write(dir.path(), "ragged.csv", b"a,b\n1,2\n3\n4,5\n");
    s.metadata = Some(ragged);
    assert!(matches!(load_err(&s), DatasetError::Ragged { line: 3, .. }));
}

#[test]
fn dataset_folder_like_make_datasets() {
    let dir = tempfile::tempdir().expect("tmp");
    let root = dir.path().join("digits");
    features_npy(&root, 2);
    std::fs::rename(root.join("f.npy"), root.join("features.npy")).expect("rename");
    let labels: Vec<u8> = [1i64, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
    write(
        &root,
        "labels.npy",
        &npy_bytes("<i8", false, "(2,)", &labels),
    );
    write(
        &root,
        "meta.json",
        br#"{"label_names": ["zero", "one"], "n": 2}"#,
    );
    png(&root.join("images"), "00000.png", 3, 3);
    png(&root.join("images"), "00001.png", 3, 3);
    let d = dataset::load(&spec(&root)).expect("loads");
    assert_eq!(d.name, "digits");
    assert_eq!(d.images.count(), 2);
    let c = d.classes.expect("labels");
    assert_eq!(c.labels.names, ["zero", "one"], "names keep label order");
    assert_eq!(c.labels.codes, [1, 0]);

    // A label with no name is an error naming the file and row, not a silent "unknown".
    let labels: Vec<u8> = [1i64, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
    write(
        &root,
        "labels.npy",
        &npy_bytes("<i8", false, "(2,)", &labels),
    );
    let err = load_err(&spec(&root));
    assert!(
        matches!(err, DatasetError::BadValue { row: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("labels.npy"), "{err}");
}

#[test]
fn demo_loads_through_the_same_entry_point() {
    let d = dataset::load(&InputSpec::new(DataSource::Demo)).expect("demo");
    assert_eq!(d.n_items(), 10_000);
    assert!(matches!(
        d.images,
        Images::Gray8 {
            width: 28,
            height: 28,
            ..
        }
    ));
}
