//! The ONNX encoder end to end, with the tiny seeded models of tests/data (made by
//! scripts/make_test_model.py): shapes, pooling, determinism, batch-size invariance, the
//! per-image cache, and clear errors.
//!
//! Inference needs the ONNX Runtime library (`./run test` installs it with pip). Without it
//! these tests are reported SKIPPED (tests/common), unless IVT_REQUIRE_ORT is set (then they fail).
#![cfg(feature = "embed")]

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
#[path = "common/runtime.rs"]
mod runtime;

use image::{Rgb, RgbImage};
use ivt::cache::Cache;
use ivt::embed::preprocess::{Preset, ResizeMode};
use ivt::embed::{EmbedOptions, Embedding, Pooling, PreprocessSpec, embed_images};
use runtime::have_runtime;

fn model(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `n` 32×32 images in two class folders: reddish `a/` and bluish `b/`, each with its own
/// pattern, so vectors differ per image and per class.
fn image_folder(dir: &Path, n: usize) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for i in 0..n {
        let class = if i % 2 == 0 { "a" } else { "b" };
        let folder = dir.join(class);
        std::fs::create_dir_all(&folder).expect("class folder");
        let img = RgbImage::from_fn(32, 32, |x, y| {
            let v = ((x * 7 + y * 3 + i as u32 * 11) % 256) as u8;
            if class == "a" {
                Rgb([200, v, 40])
            } else {
                Rgb([30, v, 210])
            }
        });
        let path = folder.join(format!("img{i:03}.png"));
        img.save(&path).expect("png");
        paths.push(path);
    }
    paths
}

fn embed(paths: &[PathBuf], model_name: &str, options: &EmbedOptions, cache: &Cache) -> Embedding {
    embed_images(&model(model_name), paths, options, cache, &()).expect("embeds")
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn vectors_have_the_models_shape_and_pooling_matches_the_models_own() {
    if !have_runtime() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = image_folder(dir.path(), 9);
    let options = EmbedOptions::default();
    let e = embed(&paths, "encoder.onnx", &options, &Cache::disabled());
    assert_eq!((e.vectors.len(), e.dim), (9 * 16, 16));
    assert_eq!((e.report.embedded, e.report.cached), (9, 0));
    assert!(e.vectors.iter().any(|v| *v != 0.0));

    // The second output is the [N, 16, 8, 8] map the model pools itself: our average pooling
    // of it must give the model's own embedding; flattening keeps all 1,024 values.
    let map = EmbedOptions {
        output: Some("feature_map".to_owned()),
        ..options.clone()
    };
    let pooled = embed(&paths, "encoder.onnx", &map, &Cache::disabled());
    assert_eq!(pooled.dim, 16);
    assert!(max_diff(&pooled.vectors, &e.vectors) < 1e-5);
    let flat = EmbedOptions {
        pooling: Pooling::Flatten,
        ..map
    };
    let flat = embed(&paths, "encoder.onnx", &flat, &Cache::disabled());
    assert_eq!(flat.dim, 1024);
}

#[test]
fn runs_are_deterministic_and_batch_size_does_not_change_the_vectors() {
    if !have_runtime() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = image_folder(dir.path(), 23);
    let one = EmbedOptions {
        batch_size: 1,
        ..EmbedOptions::default()
    };
    let seven = EmbedOptions {
        batch_size: 7,
        ..EmbedOptions::default()
    };
    let a = embed(&paths, "encoder.onnx", &seven, &Cache::disabled());
    let b = embed(&paths, "encoder.onnx", &seven, &Cache::disabled());
    assert_eq!(a.vectors, b.vectors, "same input, same vectors");
    let c = embed(&paths, "encoder.onnx", &one, &Cache::disabled());
    let diff = max_diff(&a.vectors, &c.vectors);
    assert!(diff < 1e-5, "batch 1 vs 7 differ by {diff}");
}

#[test]
fn preprocessing_changes_the_vectors_and_l2_makes_unit_rows() {
    if !have_runtime() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = image_folder(dir.path(), 6);
    let imagenet = embed(
        &paths,
        "encoder.onnx",
        &EmbedOptions::default(),
        &Cache::disabled(),
    );
    let raw = EmbedOptions {
        preprocess: PreprocessSpec {
            preset: Some(Preset::Raw255),
            ..Default::default()
        },
        ..EmbedOptions::default()
    };
    let raw = embed(&paths, "encoder.onnx", &raw, &Cache::disabled());
    assert!(max_diff(&imagenet.vectors, &raw.vectors) > 1.0);
    let l2 = EmbedOptions {
        l2_normalize: true,
        ..EmbedOptions::default()
    };
    let l2 = embed(&paths, "encoder.onnx", &l2, &Cache::disabled());
    for row in l2.vectors.chunks_exact(16) {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn a_rerun_embeds_only_new_or_changed_images() {
    if !have_runtime() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::at(dir.path().join("cache"));
    let mut paths = image_folder(&dir.path().join("images"), 10);
    let options = EmbedOptions::default();
    let first = embed(&paths, "encoder.onnx", &options, &cache);
    assert_eq!((first.report.embedded, first.report.cached), (10, 0));
    let again = embed(&paths, "encoder.onnx", &options, &cache);
    assert_eq!((again.report.embedded, again.report.cached), (0, 10));
    assert_eq!(again.vectors, first.vectors);

    // One new image, one changed: only those two run through the model.
    let extra = dir.path().join("images/a/zzz.png");
    RgbImage::from_pixel(32, 32, Rgb([1, 2, 3]))
        .save(&extra)
        .expect("png");
    paths.push(extra);
    RgbImage::from_pixel(40, 40, Rgb([250, 250, 250]))
        .save(&paths[0])
        .expect("png");
    let third = embed(&paths, "encoder.onnx", &options, &cache);
    assert_eq!((third.report.embedded, third.report.cached), (2, 9));
    assert_eq!(third.vectors[16..160], first.vectors[16..160]);
    assert_ne!(third.vectors[..16], first.vectors[..16]);

    // Other preprocessing is another cache entry, not a stale hit.
    let crop = EmbedOptions {
        preprocess: PreprocessSpec {
            resize: Some(ResizeMode::Stretch),
            ..Default::default()
        },
        ..options
    };
    let other = embed(&paths, "encoder.onnx", &crop, &cache);
    assert_eq!(other.report.cached, 0);
}

#[test]
fn a_model_with_a_fixed_batch_and_nhwc_input_runs_at_its_own_size() {
    if !have_runtime() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = image_folder(dir.path(), 5);
    let options = EmbedOptions {
        batch_size: 4,
        ..EmbedOptions::default()
    };
    let e = embed(&paths, "encoder_nhwc.onnx", &options, &Cache::disabled());
    assert_eq!(e.dim, 16);
    assert!(
        e.report.description.contains("40×24") && e.report.description.contains("NHWC"),
        "{}",
        e.report.description
    );
    assert!(e.report.description.contains("batch fixed at 1"));
}

#[test]
fn bad_models_outputs_and_images_are_named_in_the_error() {
    if !have_runtime() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = image_folder(dir.path(), 3);
    let options = EmbedOptions::default();
    let not_a_model = dir.path().join("model.onnx");
    std::fs::write(&not_a_model, b"not a protobuf").expect("write");
    let err = embed_images(&not_a_model, &paths, &options, &Cache::disabled(), &())
        .expect_err("not a model")
        .to_string();
    assert!(err.contains("model.onnx"), "{err}");

    let wrong_output = EmbedOptions {
        output: Some("logits".to_owned()),
        ..options.clone()
    };
    let err = embed_images(
        &model("encoder.onnx"),
        &paths,
        &wrong_output,
        &Cache::disabled(),
        &(),
    )
    .expect_err("no such output")
    .to_string();
    assert!(
        err.contains("logits") && err.contains("embedding, feature_map"),
        "{err}"
    );

    let broken = dir.path().join("a/broken.png");
    std::fs::write(&broken, b"\x89PNG\r\n\x1a\n truncated").expect("write");
    paths.push(broken);
    let err = embed_images(
        &model("encoder.onnx"),
        &paths,
        &options,
        &Cache::disabled(),
        &(),
    )
    .expect_err("unreadable image")
    .to_string();
    assert!(
        err.contains("broken.png") && err.contains("1 image(s)"),
        "{err}"
    );
}

fn ivt(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ivt-explore"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run ivt-explore")
}

#[test]
fn without_the_runtime_embed_says_what_to_install_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    image_folder(&dir.path().join("images"), 2);
    let out = dir.path().join("features.npy");
    let missing = dir.path().join("no-such-libonnxruntime.so");
    let got = ivt(
        &[
            "embed".as_ref(),
            "--model".as_ref(),
            model("encoder.onnx").as_os_str(),
            "--images".as_ref(),
            dir.path().join("images").as_os_str(),
            "-o".as_ref(),
            out.as_os_str(),
            "--no-cache".as_ref(),
        ],
        &[("ORT_DYLIB_PATH", missing.to_str().expect("utf-8"))],
    );
    let stderr = String::from_utf8_lossy(&got.stderr);
    assert!(!got.status.success());
    assert!(
        stderr.contains("pip install onnxruntime") && stderr.contains("ORT_DYLIB_PATH"),
        "{stderr}"
    );
    assert!(!out.exists(), "no output file on failure");
    // Everything else still works without the runtime.
    let info = ivt(&["info".as_ref()], &[("ORT_DYLIB_PATH", "/nonexistent")]);
    assert!(info.status.success());
}

#[test]
fn embed_then_open_pairs_rows_with_images_and_classes() {
    if !have_runtime() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    image_folder(&images, 8);
    let out = dir.path().join("features.npy");
    let cache = dir.path().join("cache");
    let args = |extra: &[&std::ffi::OsStr]| {
        let mut a: Vec<std::ffi::OsString> = vec![
            "embed".into(),
            "--model".into(),
            model("encoder.onnx").into(),
            images.clone().into(),
            "-o".into(),
            out.clone().into(),
            "--cache".into(),
            cache.clone().into(),
        ];
        a.extend(extra.iter().map(|s| s.to_os_string()));
        a
    };
    let run = |extra: &[&std::ffi::OsStr]| {
        let a = args(extra);
        let refs: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        ivt(&refs, &[])
    };
    let first = run(&[]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stderr.contains("8 images") && stderr.contains("torchvision"),
        "{stderr}"
    );
    let features = ivt::npy::read_matrix_file(&out).expect("npy written");
    assert_eq!((features.n_rows, features.n_cols), (8, 16));

    let second = run(&[]);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("(8 from the cache)"), "{stderr}");

    // The data set `--model` makes: classes from the folders, one row per image.
    let info = ivt(
        &[
            "info".as_ref(),
            images.as_os_str(),
            "--model".as_ref(),
            model("encoder.onnx").as_os_str(),
        ],
        &[("XDG_CACHE_HOME", cache.to_str().expect("utf-8"))],
    );
    let stdout = String::from_utf8_lossy(&info.stdout);
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    assert!(stdout.contains('8') && stdout.contains("16"), "{stdout}");

    let bad = run(&["--mean".as_ref(), "1,2".as_ref()]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("three comma-separated"));
}

#[test]
fn unreadable_images_are_listed_before_any_model_is_loaded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    image_folder(&images, 3);
    std::fs::write(images.join("a/bad.png"), b"not an image").expect("write");
    let out = dir.path().join("f.npy");
    let encoder = model("encoder.onnx");
    let args: [&std::ffi::OsStr; 7] = [
        "embed".as_ref(),
        "--model".as_ref(),
        encoder.as_os_str(),
        images.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--no-cache".as_ref(),
    ];
    let got = ivt(&args, &[]);
    let stderr = String::from_utf8_lossy(&got.stderr);
    assert!(!got.status.success());
    assert!(
        stderr.contains("bad.png") && stderr.contains("an encoder needs every image"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("--allow-missing-images to keep"),
        "{stderr}"
    );
    let mut with_flag: Vec<&std::ffi::OsStr> = args.to_vec();
    with_flag.push("--allow-missing-images".as_ref());
    let got = ivt(&with_flag, &[]);
    assert!(String::from_utf8_lossy(&got.stderr).contains("does not apply with --model"));
    assert!(!out.exists());
}

#[test]
fn query_by_image_finds_the_image_first_then_its_knn_neighbours() {
    let dir = tempfile::tempdir().expect("tempdir");
    let images = dir.path().join("images");
    image_folder(&images, 12);
    let cache = dir.path().join("cache");
    let env = [];
    // Without an encoder there is nothing to embed the image with: said before any work.
    let features = dir.path().join("f.npy");
    ivt::npy::write(&features, &[3, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).expect("npy");
    let got = ivt(
        &[
            "query".as_ref(),
            features.as_os_str(),
            "--image".as_ref(),
            images.join("a/img000.png").as_os_str(),
        ],
        &env,
    );
    assert_eq!(got.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&got.stderr).contains("--model"));
    if !have_runtime() {
        return;
    }
    let query = ivt(
        &[
            "query".as_ref(),
            images.as_os_str(),
            "--model".as_ref(),
            model("encoder.onnx").as_os_str(),
            "--image".as_ref(),
            images.join("b/img005.png").as_os_str(),
            "-k".as_ref(),
            "5".as_ref(),
            "--json".as_ref(),
            "--cache".as_ref(),
            cache.as_os_str(),
        ],
        &env,
    );
    assert!(
        query.status.success(),
        "{}",
        String::from_utf8_lossy(&query.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&query.stdout).expect("json");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0]["file"], "b/img005.png");
    assert_eq!(rows[0]["rank"], 1);
    assert_eq!(rows[0]["class"], "b");
    assert!(
        rows[0]["distance"].as_f64().expect("distance") < 1e-4,
        "{rows:?}"
    );
    let item = rows[0]["item"].as_u64().expect("item");
    // The rest are that item's neighbours as `knn` finds them (it leaves the item itself out).
    let knn = dir.path().join("knn.npy");
    let got = ivt(
        &[
            "knn".as_ref(),
            images.as_os_str(),
            "--model".as_ref(),
            model("encoder.onnx").as_os_str(),
            "-k".as_ref(),
            "4".as_ref(),
            "--exact".as_ref(),
            "-o".as_ref(),
            knn.as_os_str(),
            "--cache".as_ref(),
            cache.as_os_str(),
        ],
        &env,
    );
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let (_, k, indices) = ivt::npy::read_index_matrix_file(&knn).expect("knn.npy");
    let want: Vec<u64> = indices[item as usize * k..(item as usize + 1) * k]
        .iter()
        .map(|&j| j as u64)
        .collect();
    let got: Vec<u64> = rows[1..]
        .iter()
        .map(|r| r["item"].as_u64().expect("item"))
        .collect();
    assert_eq!(got, want);
}
