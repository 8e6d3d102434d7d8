//! The `ivt-explore` binary as a user runs it: `info` on a generated data set, bad input
//! (exit 1, one `error:` line naming the file, no panic), not-yet subcommands (exit 2).

mod common;
#[path = "common/parquet_file.rs"]
mod parquet_file;
#[path = "common/program.rs"]
mod program;

use std::path::Path;
use std::process::{Command, Output};

use program::{ivt, text};

fn write_npy_f32(path: &Path, rows: usize, cols: usize) {
    let values: Vec<f32> = (0..rows * cols).map(|i| (i % 7) as f32).collect();
    ivt::npy::write(path, &[rows, cols], &values).expect("write npy");
}

#[test]
fn info_describes_a_generated_data_set() {
    let dir = tempfile::tempdir().expect("tmp");
    let features = dir.path().join("features.npy");
    write_npy_f32(&features, 6, 5);
    let images = dir.path().join("imgs");
    for class in ["cat", "dog"] {
        for i in 0..3 {
            let p = images.join(class).join(format!("{i}.png"));
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            image::GrayImage::new(10, 12).save(&p).expect("png");
        }
    }
    let meta = dir.path().join("meta.csv");
    std::fs::write(&meta, "id,score\na,1\nb,2\nc,3\nd,4\ne,5\nf,6\n").expect("meta");
    let out = ivt(&[
        "info",
        features.to_str().expect("utf8"),
        "--images",
        images.to_str().expect("utf8"),
        "--metadata",
        meta.to_str().expect("utf8"),
        "--no-cache",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{}", stdout, text(&out.stderr));
    assert!(stdout.contains("6 items × 5 dims"), "{stdout}");
    assert!(stdout.contains("float32"), "{stdout}");
    assert!(stdout.contains("6 files in"), "{stdout}");
    assert!(stdout.contains("10×12 (6)"), "{stdout}");
    assert!(
        stdout.contains("2 from the class folders: cat 3 · dog 3"),
        "{stdout}"
    );
    assert!(stdout.contains("score: numeric, 1 … 6"), "{stdout}");
    assert!(text(&out.stderr).contains("loaded"), "elapsed time logged");
}

#[test]
fn info_on_the_demo() {
    let out = ivt(&["info"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("10,000 items × 784 dims"), "{stdout}");
    assert!(stdout.contains("T-shirt/top 1,000"), "{stdout}");
}

#[test]
fn bad_file_is_one_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("broken.npy");
    std::fs::write(&bad, b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f4'").expect("write");
    // Without a cache: the default one would be the user's (and a note that it was made
    // private could precede the error).
    let out = ivt(&["info", bad.to_str().expect("utf8"), "--no-cache"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("broken.npy"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.matches("error:").count(),
        1,
        "printed once: {stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_images_fail_like_open_would() {
    let dir = tempfile::tempdir().expect("tmp");
    let features = dir.path().join("f.npy");
    write_npy_f32(&features, 3, 2);
    let out = ivt(&[
        "info",
        features.to_str().expect("utf8"),
        "--images",
        dir.path().join("no-such-dir").to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no-such-dir"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn help_lists_every_subcommand() {
    let out = ivt(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for sub in [
        "open",
        "info",
        "embed",
        "knn",
        "layout",
        "cluster",
        "eval",
        "export-projector",
        "screenshot",
        "cache",
    ] {
        assert!(help.contains(sub), "{sub} missing from --help");
    }
}

#[test]
fn open_without_a_display_explains_instead_of_panicking() {
    let out = ivt(&["open"]);
    let stderr = text(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("error:") || stderr.contains("not built yet"),
        "{stderr}"
    );
}

#[cfg(feature = "viewer")]
#[test]
fn explorer_options_that_cannot_work_are_named_before_a_window_opens() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let data = data.to_str().expect("utf-8 path");
    for (args, expected) in [
        (
            vec!["--point-size", "50"],
            "--point-size 50: must be between 1 and 20",
        ),
        (
            vec!["--point-size", "0"],
            "--point-size 0: must be between 1 and 20",
        ),
        (
            vec!["--select", "12"],
            "--select 12: the data set has only 12 items",
        ),
        (vec!["--zoom=-2"], "--zoom -2: must be a positive number"),
    ] {
        let mut all = vec!["open", data, "--no-cache"];
        all.extend(args);
        let out = ivt(&all);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{all:?}: {stderr}");
        assert!(stderr.contains(expected), "{all:?}: {stderr}");
        assert!(!stderr.contains("no display"), "{all:?}: {stderr}");
    }
}

/// Twelve points in two tight, far-apart groups of six, in 3-D.
/// Twelve items in two groups far apart: rows 0–5 near the origin, rows 6–11 near 100.
fn group_rows() -> Vec<Vec<f32>> {
    (0..12)
        .map(|i| {
            let base = if i < 6 { 0.0 } else { 100.0 };
            vec![base + i as f32, base + (i * i % 5) as f32, base]
        })
        .collect()
}

fn two_groups(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("groups.npy");
    ivt::npy::write(&p, &[12, 3], &group_rows().concat()).expect("write");
    p
}

/// A `knn -k 3` output over [`group_rows`]: every neighbour from the item's own group.
fn assert_neighbours_in_own_group(knn: &Path) {
    let m = ivt::npy::read_matrix_file(knn).expect("read");
    for (i, row) in m.data.chunks(3).enumerate() {
        for &j in row {
            assert_eq!(
                (j as usize) < 6,
                i < 6,
                "row {i}: neighbour {j} from the other group"
            );
            assert_ne!(j as usize, i, "self excluded");
        }
    }
}

#[test]
fn info_and_knn_read_a_parquet_file() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("tmp");
    let rows = group_rows();
    let group: Vec<&str> = (0..12)
        .map(|i| if i < 6 { "low" } else { "high" })
        .collect();
    let data = dir.path().join("groups.parquet");
    parquet_file::write_parquet(
        &data,
        vec![
            ("embedding", parquet_file::fixed_f32(&rows)),
            (
                "group",
                Arc::new(arrow_array::StringArray::from(group)) as arrow_array::ArrayRef,
            ),
        ],
        parquet::basic::Compression::SNAPPY,
    );
    let path = data.to_str().expect("utf8");
    let out = ivt(&["info", path, "--no-cache"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("12 items × 3 dims"), "{stdout}");
    assert!(
        stdout.contains("column 'embedding': fixed_size_list<float32>"),
        "{stdout}"
    );
    assert!(
        stdout.contains("group"),
        "the metadata column is listed: {stdout}"
    );
    assert!(
        stderr.contains("column 'embedding'") && stderr.contains("--vector-column"),
        "the chosen column is said: {stderr}"
    );

    let knn = dir.path().join("knn.npy");
    let out = ivt(&[
        "knn",
        path,
        "--vector-column",
        "embedding",
        "-k",
        "3",
        "--no-cache",
        "-o",
        knn.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_neighbours_in_own_group(&knn);

    let out = ivt(&["info", path, "--vector-column", "emb", "--no-cache"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no column named 'emb'") && stderr.contains("embedding, group"),
        "{stderr}"
    );
}

#[test]
fn knn_writes_int64_neighbours_and_reuses_the_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let cache = dir.path().join("cache");
    let out = dir.path().join("knn.npy");
    let dist = dir.path().join("dist.npy");
    let args = |extra: &[&str]| {
        let mut a = vec![
            "knn",
            data.to_str().expect("utf8"),
            "-k",
            "3",
            "--cache",
            cache.to_str().expect("utf8"),
        ];
        a.extend_from_slice(extra);
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        ivt(&refs)
    };
    let first = run(args(&[
        "-o",
        out.to_str().expect("utf8"),
        "--distances-out",
        dist.to_str().expect("utf8"),
    ]));
    assert!(first.status.success(), "{}", text(&first.stderr));
    let (header, _) = ivt::npy::open(&out).expect("npy");
    assert_eq!(header.shape, vec![12, 3]);
    assert_eq!(header.dtype.kind, ivt::npy::DtypeKind::I64);
    assert_neighbours_in_own_group(&out);
    let m = ivt::npy::read_matrix_file(&out).expect("read");
    assert!(
        ivt::npy::read_matrix_file(&dist)
            .expect("dist")
            .data
            .iter()
            .all(|d| *d >= 0.0)
    );

    let second = run(args(&["-o", out.to_str().expect("utf8")]));
    assert!(
        text(&second.stderr).contains("from the cache"),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(ivt::npy::read_matrix_file(&out).expect("read"), m);

    // A corrupt entry is reported and recomputed, never trusted.
    for entry in std::fs::read_dir(&cache).expect("cache dir") {
        let path = entry.expect("entry").path();
        let mut bytes = std::fs::read(&path).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, bytes).expect("corrupt");
    }
    let third = run(args(&["-o", out.to_str().expect("utf8")]));
    let stderr = text(&third.stderr);
    assert!(third.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: ignoring cache entry") && stderr.contains("checksum"),
        "{stderr}"
    );
    assert_eq!(ivt::npy::read_matrix_file(&out).expect("read"), m);
}

#[test]
fn eval_scores_a_layout_and_rejects_a_wrong_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "a\na\na\na\na\na\nb\nb\nb\nb\nb\nb\n").expect("labels");
    // The features' first two columns are a faithful layout.
    let m = ivt::npy::read_matrix_file(&data).expect("read");
    let layout: Vec<f32> = m.data.chunks(3).flat_map(|r| [r[0], r[1]]).collect();
    let layout_path = dir.path().join("layout.npy");
    ivt::npy::write(&layout_path, &[12, 2], &layout).expect("write");
    let out = ivt(&[
        "eval",
        data.to_str().expect("utf8"),
        layout_path.to_str().expect("utf8"),
        "--labels",
        labels.to_str().expect("utf8"),
        "--n-neighbors",
        "3",
        "--no-cache",
        "--json",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("json");
    assert_eq!(v["knn_accuracy"], 1.0, "{stdout}");
    assert!(v["trustworthiness"].as_f64().expect("tw") > 0.9, "{stdout}");

    let short = dir.path().join("short.npy");
    ivt::npy::write(&short, &[5, 2], &[0f32; 10]).expect("write");
    let out = ivt(&[
        "eval",
        data.to_str().expect("utf8"),
        short.to_str().expect("utf8"),
        "--no-cache",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("short.npy has 5 rows"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn approximate_knn_reports_its_recall() {
    let dir = tempfile::tempdir().expect("tmp");
    // Pseudo-random values with (almost surely) no tied distances.
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let values: Vec<f32> = (0..300 * 8)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect();
    let data = dir.path().join("x.npy");
    ivt::npy::write(&data, &[300, 8], &values).expect("write");
    let out = ivt(&[
        "knn",
        data.to_str().expect("utf8"),
        "-k",
        "5",
        "--approx",
        "--check-recall",
        "--no-cache",
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recall: f64 = stdout
        .trim()
        .strip_prefix("recall@5 ")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no recall line: {stdout}"));
    assert!(recall >= 0.9, "{recall}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("inverted file"), "{stderr}");
    // The search's stages and their times, one line.
    assert!(stderr.contains("kNN: k-means "), "{stderr}");
    assert!(stderr.contains(" · probes 1.."), "{stderr}");

    // A higher target probes more cells and finds more; the cache tells the two apart.
    let cache = dir.path().join("cache");
    let with_target = |target: &str| {
        ivt(&[
            "knn",
            data.to_str().expect("utf8"),
            "-k",
            "5",
            "--approx",
            "--target-recall",
            target,
            "--check-recall",
            "--cache",
            cache.to_str().expect("utf8"),
        ])
    };
    let recall_of = |out: &std::process::Output| -> f64 {
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        stdout
            .trim()
            .strip_prefix("recall@5 ")
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no recall line: {stdout}"))
    };
    let (low, high) = (with_target("0.5"), with_target("0.999"));
    assert!(
        text(&high.stderr).contains("target=0.999"),
        "{}",
        text(&high.stderr)
    );
    assert!(
        recall_of(&high) > recall_of(&low),
        "{} vs {}",
        text(&high.stderr),
        text(&low.stderr)
    );
    for bad in ["1.5", "1", "0", "many"] {
        let out = with_target(bad);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(
            text(&out.stderr).contains("--target-recall"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn approximate_knn_of_many_dimensions_says_how_good_it_is() {
    // 400 items of 256 dimensions in 8 groups: the approximate search says how many true
    // neighbours it estimates it found.
    let dir = tempfile::tempdir().expect("tmp");
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32
    };
    let centres: Vec<f32> = (0..8 * 256).map(|_| uniform() * 10.0).collect();
    let values: Vec<f32> = (0..400 * 256)
        .map(|at| centres[(at / 256 % 8) * 256 + at % 256] + uniform())
        .collect();
    let data = dir.path().join("x.npy");
    ivt::npy::write(&data, &[400, 256], &values).expect("write");
    let out = ivt(&[
        "knn",
        data.to_str().expect("utf8"),
        "-k",
        "10",
        "--approx",
        "--check-recall",
        "--no-cache",
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let recall: f64 = stdout
        .trim()
        .strip_prefix("recall@10 ")
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no recall line: {stdout}"));
    assert!(recall >= 0.95, "{recall}");
    assert!(stderr.contains("ivf lists=0"), "{stderr}");
    assert!(stderr.contains("estimated recall@10"), "{stderr}");
}

#[test]
fn pca_pre_reduction_keeps_groups_apart() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let out_path = dir.path().join("knn.npy");
    let out = ivt(&[
        "knn",
        data.to_str().expect("utf8"),
        "-k",
        "3",
        "--pca",
        "2",
        "--no-cache",
        "-o",
        out_path.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("of the variance"),
        "{}",
        text(&out.stderr)
    );
    let m = ivt::npy::read_matrix_file(&out_path).expect("read");
    for (i, row) in m.data.chunks(3).enumerate() {
        assert!(
            row.iter().all(|&j| ((j as usize) < 6) == (i < 6)),
            "row {i}: {row:?}"
        );
    }
    let too_many = ivt(&[
        "knn",
        data.to_str().expect("utf8"),
        "--pca",
        "9",
        "--no-cache",
        "-o",
        out_path.to_str().expect("utf8"),
    ]);
    assert_eq!(too_many.status.code(), Some(1));
    assert!(
        text(&too_many.stderr).contains("3 dimensions"),
        "{}",
        text(&too_many.stderr)
    );
}

#[test]
fn layout_writes_a_umap_or_pca_map_of_the_right_shape() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    for (method, dims) in [("umap", "2"), ("umap", "3"), ("pca", "2")] {
        let out_path = dir.path().join(format!("{method}{dims}.npy"));
        let out = ivt(&[
            "layout",
            data.to_str().expect("utf8"),
            "--method",
            method,
            "--dims",
            dims,
            "--n-neighbors",
            "4",
            "--epochs",
            "50",
            "--no-cache",
            "-o",
            out_path.to_str().expect("utf8"),
        ]);
        assert!(out.status.success(), "{method}: {}", text(&out.stderr));
        let m = ivt::npy::read_matrix_file(&out_path).expect("read");
        assert_eq!((m.n_rows, m.n_cols.to_string().as_str()), (12, dims));
        assert!(m.data.iter().all(|v| v.is_finite()));
    }
    let bad = ivt(&[
        "layout",
        data.to_str().expect("utf8"),
        "--dims",
        "4",
        "-o",
        "x.npy",
    ]);
    assert_eq!(bad.status.code(), Some(2), "clap rejects --dims 4");
}

#[test]
fn outputs_not_named_npy_are_refused_before_any_work() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let data = data.to_str().expect("utf8");
    let graph = dir.path().join("graph.npz");
    let layout = dir.path().join("layout.csv");
    let runs: [Vec<&str>; 3] = [
        vec!["knn", data, "-k", "3", "-o", graph.to_str().expect("utf8")],
        vec![
            "layout",
            data,
            "--method",
            "pca",
            "-o",
            layout.to_str().expect("utf8"),
        ],
        vec![
            "cluster",
            data,
            "--clusters",
            "2",
            "-o",
            layout.to_str().expect("utf8"),
        ],
    ];
    for args in runs {
        let out = ivt(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(".npy") && !err.contains("panicked"), "{err}");
        assert!(!graph.exists() && !layout.exists(), "{args:?} wrote a file");
    }
}

#[test]
fn layout_tsne_keeps_groups_apart_in_2d_and_3d_and_reuses_the_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let cache = dir.path().join("cache");
    for dims in ["2", "3"] {
        let out_path = dir.path().join(format!("tsne{dims}.npy"));
        let args = [
            "layout",
            data.to_str().expect("utf8"),
            "--method",
            "tsne",
            "--dims",
            dims,
            "--perplexity",
            "3",
            "--n-iter",
            "300",
            "--exaggeration-iter",
            "100",
            "--seed",
            "1",
            "--cache",
            cache.to_str().expect("utf8"),
            "-o",
            out_path.to_str().expect("utf8"),
        ];
        let out = ivt(&args);
        assert!(out.status.success(), "{dims}D: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("t-SNE"), "{}", text(&out.stderr));
        let m = ivt::npy::read_matrix_file(&out_path).expect("read");
        assert_eq!((m.n_rows, m.n_cols.to_string().as_str()), (12, dims));
        let d = m.n_cols;
        let dist = |i: usize, j: usize| -> f32 {
            (0..d)
                .map(|a| (m.data[i * d + a] - m.data[j * d + a]).powi(2))
                .sum::<f32>()
                .sqrt()
        };
        // Every within-group distance is shorter than every between-group distance.
        let within = (0..12)
            .flat_map(|i| (0..12).map(move |j| (i, j)))
            .filter(|&(i, j)| i != j && (i < 6) == (j < 6))
            .map(|(i, j)| dist(i, j))
            .fold(0f32, f32::max);
        let between = (0..6)
            .flat_map(|i| (6..12).map(move |j| (i, j)))
            .map(|(i, j)| dist(i, j))
            .fold(f32::INFINITY, f32::min);
        assert!(
            within < between,
            "{dims}D: within {within}, between {between}"
        );
        let again = ivt(&args);
        assert!(again.status.success());
        assert!(
            text(&again.stderr).contains("from the cache"),
            "{}",
            text(&again.stderr)
        );
        let m2 = ivt::npy::read_matrix_file(&out_path).expect("read");
        assert_eq!(m.data, m2.data);
    }
    let bad = ivt(&[
        "layout",
        data.to_str().expect("utf8"),
        "--method",
        "tsne",
        "--perplexity",
        "0.1",
        "--no-cache",
        "-o",
        "x.npy",
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("perplexity"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn cluster_writes_one_id_per_item_and_refuses_a_bad_count() {
    let dir = tempfile::tempdir().expect("tmp");
    // Three tight groups of five in 3-D, with their classes.
    let data = dir.path().join("groups");
    std::fs::create_dir_all(&data).expect("dir");
    let values: Vec<f32> = (0..15)
        .flat_map(|i| {
            let g = (i / 5) as f32 * 40.0;
            [g + (i % 5) as f32 * 0.1, -g, 1.0]
        })
        .collect();
    ivt::npy::write(&data.join("features.npy"), &[15, 3], &values).expect("write");
    let classes: Vec<i64> = (0..15).map(|i| i / 5).collect();
    ivt::npy::write(&data.join("labels.npy"), &[15], &classes).expect("write");
    let out_path = dir.path().join("clusters.npy");
    let cache = dir.path().join("cache");
    let run = |k: &str| {
        ivt(&[
            "cluster",
            data.to_str().expect("utf8"),
            "--clusters",
            k,
            "--cache",
            cache.to_str().expect("utf8"),
            "-o",
            out_path.to_str().expect("utf8"),
        ])
    };
    let out = run("3");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("adjusted Rand index against the classes: 1.0000"),
        "{}",
        text(&out.stdout)
    );
    let (ids, _) = ivt::npy::read_vector_file(&out_path).expect("clusters.npy");
    assert_eq!(ids.len(), 15);
    assert_eq!(ids, classes.iter().map(|&c| c as f64).collect::<Vec<_>>());
    // Another count recuts the cached tree.
    let out = run("5");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("from the cache"),
        "{}",
        text(&out.stderr)
    );
    let out = run("16");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--clusters 16"),
        "{}",
        text(&out.stderr)
    );
}

/// Run the binary with `umask` set in the child, as a shell user with that umask would.
fn ivt_with_umask(umask: &str, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("umask {umask} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_ivt-explore"))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("runs")
}

/// Every regular file under `dir`, with its permission bits.
fn modes_under(dir: &Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("list") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("meta");
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                out.push((path, meta.permissions().mode() & 0o777));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn outputs_get_the_users_umask_mode_so_others_can_read_them() {
    let dir = tempfile::tempdir().expect("tmp");
    // A data set folder with images and classes, so the projector export writes a sprite and
    // a metadata file too.
    let data = dir.path().join("set");
    let images = data.join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    write_npy_f32(&data.join("features.npy"), 12, 4);
    let classes: Vec<i64> = (0..12).map(|i| i % 3).collect();
    ivt::npy::write(&data.join("labels.npy"), &[12], &classes).expect("labels");
    for i in 0..12 {
        image::GrayImage::from_pixel(8, 8, image::Luma([i as u8 * 20]))
            .save(images.join(format!("{i:02}.png")))
            .expect("png");
    }
    let labels_dir = dir.path().join("labels");
    {
        let (mut journal, state, _) = ivt::labels::journal::open(&labels_dir, 12).expect("journal");
        let batch = state
            .assign(&[ivt::dataset::ItemId(3)], Some("positive"), 1)
            .expect("a change");
        journal.append(&batch).expect("append");
    }
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let cache = dir.path().join("cache");
    let s = |p: &Path| p.to_str().expect("utf8").to_owned();
    let (data_s, out_s, cache_s) = (s(&data), s(&out), s(&cache));
    let runs: Vec<Vec<String>> = vec![
        vec!["knn", &data_s, "-k", "3", "-o", &format!("{out_s}/knn.npy")],
        vec![
            "layout",
            &data_s,
            "--method",
            "pca",
            "-o",
            &format!("{out_s}/pca.npy"),
        ],
        vec![
            "cluster",
            &data_s,
            "--clusters",
            "2",
            "-o",
            &format!("{out_s}/clusters.npy"),
        ],
        vec![
            "export-projector",
            &data_s,
            "-o",
            &format!("{out_s}/projector"),
        ],
        vec![
            "export-labels",
            &data_s,
            "--labels-out",
            &s(&labels_dir),
            "-o",
            &format!("{out_s}/labelled"),
        ],
    ]
    .into_iter()
    .map(|a| a.into_iter().map(str::to_owned).collect())
    .collect();
    for run in runs {
        let mut args: Vec<&str> = run.iter().map(String::as_str).collect();
        if !matches!(args[0], "export-labels") {
            args.extend(["--cache", &cache_s]);
        }
        let got = ivt_with_umask("027", &args);
        assert!(got.status.success(), "{args:?}: {}", text(&got.stderr));
    }
    let written = modes_under(&out);
    for name in [
        "knn.npy",
        "pca.npy",
        "clusters.npy",
        "projector_config.pbtxt",
        "tensors.tsv",
        "metadata.tsv",
        "sprite.png",
        "labels.csv",
    ] {
        assert!(
            written.iter().any(|(p, _)| p.ends_with(name)),
            "{name} not written: {written:?}"
        );
    }
    // The exported image is a copy and keeps its source's mode, as `cp` does; everything the
    // program wrote itself is 0666 less the umask.
    let source_mode = modes_under(&images)[0].1;
    for (path, mode) in written.iter().chain(&modes_under(&cache)) {
        let expected = if path
            .parent()
            .is_some_and(|p| p.ends_with("labelled/positive"))
        {
            source_mode
        } else {
            0o640
        };
        assert_eq!(*mode, expected, "{}: mode {mode:o}", path.display());
    }
}

/// `--offscreen` draws where nobody sees: `open` takes it only to time frames, said before any
/// data is loaded.
#[test]
fn offscreen_open_needs_a_frame_benchmark() {
    for args in [
        vec!["open", "no-such-folder", "--offscreen"],
        vec!["--offscreen"],
    ] {
        let out = ivt(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("--offscreen") && stderr.contains("--bench-frames"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("no-such-folder"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_bare_command_takes_the_view_options_for_the_demo() {
    // Parsed and validated as for `open`: it gets as far as the display check.
    let out = ivt(&["--size", "800x600", "--nside", "3"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("unexpected argument"), "{stderr}");
    #[cfg(feature = "viewer")]
    assert!(stderr.contains("no display"), "{stderr}");
    // A bad value is named as it would be for `open`.
    let out = ivt(&["--size", "huge"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--size"),
        "{}",
        text(&out.stderr)
    );
    // View options before a subcommand are refused, naming both, not silently dropped.
    let out = ivt(&["--size", "800x600", "info"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("info") && stderr.contains("--size"),
        "{stderr}"
    );
}

#[test]
fn export_projector_names_the_tensor_after_the_file_stem() {
    let dir = tempfile::tempdir().expect("tmp");
    let x = dir.path().join("X.npy");
    write_npy_f32(&x, 5, 3);
    let logdir = dir.path().join("logs");
    let out = ivt(&[
        "export-projector",
        x.to_str().expect("utf8"),
        "--no-cache",
        "-o",
        logdir.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config =
        std::fs::read_to_string(logdir.join("projector_config.pbtxt")).expect("config written");
    assert!(config.contains("tensor_name: \"X\""), "{config}");
    assert!(!config.contains("X.npy"), "{config}");
    let help = text(&ivt(&["export-projector", "--help"]).stdout);
    assert!(help.contains("--tensor-name"), "{help}");
}

#[test]
fn a_graph_from_elsewhere_is_checked_and_used_by_layout_and_eval() {
    let dir = tempfile::tempdir().expect("tmp");
    let features = dir.path().join("x.npy");
    write_npy_f32(&features, 80, 5);
    let s = |p: &Path| p.to_str().expect("utf8").to_owned();
    let (x, knn, cache) = (
        s(&features),
        s(&dir.path().join("knn.npy")),
        s(&dir.path().join("cache")),
    );
    let got = ivt(&["knn", &x, "-k", "20", "--exact", "-o", &knn, "--no-cache"]);
    assert!(got.status.success(), "{}", text(&got.stderr));
    // Like a FAISS or scikit-learn result: each row starts with the item itself.
    let graph = ivt::npy::read_index_matrix_file(Path::new(&knn))
        .expect("read")
        .2;
    let mut with_self = Vec::new();
    for (i, row) in graph.chunks_exact(20).enumerate() {
        with_self.push(i as i64);
        with_self.extend_from_slice(row);
    }
    let faiss = dir.path().join("faiss.npy");
    ivt::npy::write(&faiss, &[80, 21], &with_self).expect("write");
    let layout = s(&dir.path().join("umap.npy"));
    let got = ivt(&[
        "layout",
        &x,
        "--knn",
        &s(&faiss),
        "--method",
        "umap",
        "--n-neighbors",
        "10",
        "-o",
        &layout,
        "--cache",
        &cache,
    ]);
    let stderr = text(&got.stderr);
    assert!(got.status.success(), "{stderr}");
    assert!(
        stderr.contains("list the item itself") && stderr.contains("80 items × 20"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("kNN graph ("),
        "no graph computed here: {stderr}"
    );
    let got = ivt(&["eval", &x, &layout, "--knn", &knn, "--cache", &cache]);
    assert!(got.status.success(), "{}", text(&got.stderr));
    // Too few neighbours for what is asked: says which option to change.
    let got = ivt(&[
        "layout",
        &x,
        "--knn",
        &knn,
        "--method",
        "umap",
        "--n-neighbors",
        "30",
        "-o",
        &layout,
        "--cache",
        &cache,
    ]);
    let stderr = text(&got.stderr);
    assert_eq!(got.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("20 neighbours per item") && stderr.contains("--n-neighbors"),
        "{stderr}"
    );
    // Every error about a given graph names its file.
    assert!(
        stderr.contains(&format!("{knn}: the graph given")),
        "{stderr}"
    );
    // Another data set's graph: an error naming the file.
    let other = dir.path().join("other.npy");
    ivt::npy::write(&other, &[79, 3], &vec![1i64; 79 * 3]).expect("write");
    let got = ivt(&["eval", &x, &layout, "--knn", &s(&other)]);
    let stderr = text(&got.stderr);
    assert_eq!(got.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("other.npy") && stderr.contains("79 rows"),
        "{stderr}"
    );
    // --knn-distances needs --knn.
    let got = ivt(&["eval", &x, &layout, "--knn-distances", &knn]);
    assert_eq!(got.status.code(), Some(2), "{}", text(&got.stderr));
}

#[test]
fn ctrl_c_stops_a_computation_cleanly_with_nothing_half_written() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tmp");
    let features = dir.path().join("x.npy");
    write_npy_f32(&features, 300, 5);
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let layout = out.join("tsne.npy");
    // Far more iterations than could finish before the interrupt.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ivt-explore"))
        .args([
            "layout",
            features.to_str().expect("utf8"),
            "--method",
            "tsne",
        ])
        .args(["--n-iter", "100000000", "--no-cache", "-o"])
        .arg(&layout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    // Once the data is loaded the computation is under way (and the handler installed).
    while !line.contains("loaded") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).expect("read") > 0,
            "ended early"
        );
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("cancelled (Ctrl+C)"), "{rest}");
    let left: Vec<_> = std::fs::read_dir(&out).expect("ls").collect();
    assert!(
        left.is_empty(),
        "nothing written, no temporary file left: {left:?}"
    );
}

#[test]
fn query_finds_items_by_the_search_language() {
    let dir = tempfile::tempdir().expect("tmp");
    let features = dir.path().join("features.npy");
    write_npy_f32(&features, 6, 4);
    // Natural order within class folders: cat/a_flip, cat/b, cat/c | dog/d_flip, dog/e, dog/f.
    let images = dir.path().join("imgs");
    for (class, names) in [("cat", ["a_flip", "b", "c"]), ("dog", ["d_flip", "e", "f"])] {
        for name in names {
            let p = images.join(class).join(format!("{name}.png"));
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            image::GrayImage::new(4, 4).save(&p).expect("png");
        }
    }
    let meta = dir.path().join("meta.csv");
    std::fs::write(
        &meta,
        "split,score\ntrain,0.1\nval,0.5\ntrain,\ntest,0.9\nval,0.2\ntrain,0.7\n",
    )
    .expect("meta");
    let labels = dir.path().join("labels");
    {
        let (mut journal, state, _) = ivt::labels::journal::open(&labels, 6).expect("journal");
        let batch = state
            .assign(&[ivt::dataset::ItemId(4)], Some("positive"), 1)
            .expect("batch");
        journal.append(&batch).expect("append");
    }
    let (f, i, m, l) = (
        features.to_str().expect("utf8"),
        images.to_str().expect("utf8"),
        meta.to_str().expect("utf8"),
        labels.to_str().expect("utf8"),
    );
    let query = |expr: &str, extra: &[&str]| {
        let mut args = vec![
            "query",
            f,
            "--images",
            i,
            "--metadata",
            m,
            "--labels-out",
            l,
            "--where",
            expr,
        ];
        args.extend(extra);
        ivt(&args)
    };
    let items = |out: &Output| -> Vec<u32> {
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .skip(1)
            .map(|l| l.split('\t').next().expect("item").parse().expect("number"))
            .collect()
    };
    assert_eq!(items(&query("FLIP", &[])), [0, 3]);
    assert_eq!(items(&query("flip class:dog", &[])), [3]);
    assert_eq!(items(&query("/^cat\\/[bc]/", &[])), [1, 2]);
    assert_eq!(items(&query("score>0.4", &[])), [1, 3, 5]);
    assert_eq!(items(&query("split:train -score<0.5", &[])), [2, 5]);
    assert_eq!(items(&query("label:positive", &[])), [4]);
    // The table names the file, class and label; the count goes to stderr.
    let out = query("label:positive", &[]);
    assert_eq!(
        text(&out.stdout).lines().nth(1),
        Some("4\tdog/e.png\tdog\tpositive")
    );
    assert!(
        text(&out.stderr).contains("1 of 6 items match"),
        "{}",
        text(&out.stderr)
    );
    // JSON and --limit.
    let out = query("split:train", &["--json", "--limit", "2"]);
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(2));
    assert_eq!(rows[1]["file"], "cat/c.png");
    assert!(
        text(&out.stderr).contains("3 of 6 items match") && text(&out.stderr).contains("2 shown")
    );
    // Mistakes: one error line naming the term, exit status 1.
    let out = query("colour:red", &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("no column `colour`") && err.contains("split, score"),
        "{err}"
    );
    let out = query("/(/", &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("bad regular expression"));
}

/// Two groups of ten with one flipped label (item 4), one exact copy (19 of 12) and one item
/// far from both groups (9): a data set folder with classes.
fn flawed(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("flawed");
    std::fs::create_dir_all(&data).expect("dir");
    let mut values = Vec::new();
    for i in 0..20 {
        let row = match i {
            9 => [40.0, 40.0, 40.0],
            19 => [112.0, 100.0 + (12 % 3) as f32, 100.0],
            _ => {
                let base = if i < 10 { 0.0 } else { 100.0 };
                [base + i as f32, base + (i % 3) as f32, base]
            }
        };
        values.extend_from_slice(&row);
    }
    ivt::npy::write(&data.join("features.npy"), &[20, 3], &values).expect("features");
    let mut labels: Vec<i64> = (0..20).map(|i| i64::from(i >= 10)).collect();
    labels[4] = 1;
    ivt::npy::write(&data.join("labels.npy"), &[20], &labels).expect("labels");
    data
}

#[test]
fn audit_finds_the_copy_the_flipped_label_and_the_stray() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = flawed(dir.path());
    let cache = dir.path().join("cache");
    let csv = dir.path().join("audit.csv");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a = vec![
            "audit".to_owned(),
            data.display().to_string(),
            "--cache".into(),
            cache.display().to_string(),
        ];
        if !extra.contains(&"-k") {
            a.extend(["-k".to_owned(), "4".to_owned()]);
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        ivt(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let out = run(&["-o", csv.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let summary = text(&out.stdout);
    assert!(
        summary.contains("duplicates: 1 groups, 2 items (2 exact copies)"),
        "{summary}"
    );
    assert!(summary.contains("label issues: 1 of 20 items"), "{summary}");
    let table = std::fs::read_to_string(&csv).expect("csv");
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some(
            "item,file,class,duplicate_group,is_exact_duplicate,outlier_score,outlier_rank,\
             label_quality,suggested_class,is_label_issue"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 20);
    // The copy pair shares group 1, both exact; nothing else is grouped.
    for (i, row) in rows.iter().enumerate() {
        let grouped = i == 12 || i == 19;
        assert_eq!(row[3], if grouped { "1" } else { "" }, "item {i}");
        assert_eq!(row[4], if grouped { "1" } else { "0" }, "item {i}");
        assert_eq!(row[9], if i == 4 { "1" } else { "0" }, "item {i}");
    }
    assert_eq!(rows[4][8], "0", "item 4's likely class");
    // The stray is the top outlier.
    assert_eq!(rows[9][6], "1");
    // JSON for machines.
    let out = run(&["--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["duplicates"]["groups"], 1);
    assert_eq!(v["label_issues"]["flagged"], 1);
    assert_eq!(v["outliers"][0]["item"], 9);
    // A layout that keeps the groups: high fidelity, scored per item.
    let layout = dir.path().join("layout.npy");
    let coords: Vec<f32> = (0..20).flat_map(|i| [i as f32, 0.0]).collect();
    ivt::npy::write(&layout, &[20, 2], &coords).expect("layout");
    let out = run(&[
        "--layout",
        layout.to_str().expect("utf-8"),
        "-o",
        csv.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("fidelity: on average"));
    let header = std::fs::read_to_string(&csv).expect("csv");
    assert!(
        header
            .lines()
            .next()
            .is_some_and(|h| h.ends_with(",fidelity,trust_penalty"))
    );
    // The second audit of the same inputs is read from the cache.
    let again = run(&[]);
    assert!(
        text(&again.stderr).contains("(from the cache)"),
        "{}",
        text(&again.stderr)
    );
    // A split column in the metadata: the copy pair lies in train and test, a leak.
    let meta = dir.path().join("meta.csv");
    let rows: String = (0..20)
        .map(|i| if i == 19 { "test\n" } else { "train\n" })
        .collect();
    std::fs::write(&meta, format!("split\n{rows}")).expect("meta");
    let out = run(&[
        "--metadata",
        meta.to_str().expect("utf-8"),
        "-o",
        csv.to_str().expect("utf-8"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("leaks: 1 duplicate groups cross splits"),
        "{}",
        text(&out.stdout)
    );
    let table = std::fs::read_to_string(&csv).expect("csv");
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|h| h.ends_with(",split,is_leak"))
    );
    for (i, line) in table.lines().skip(1).enumerate() {
        let leak = i == 12 || i == 19;
        assert!(
            line.ends_with(if leak { ",1" } else { ",0" }),
            "item {i}: {line}"
        );
    }
    // Mistakes are one clear error each, before any work.
    for (extra, says) in [
        (vec!["-o", "audit.txt"], "name it .csv"),
        (vec!["--label-column", "nosuch"], "no metadata columns"),
        (vec!["-k", "0"], "-k 0"),
        (vec!["--dup-threshold", "-1"], "--dup-threshold -1"),
        (vec!["--split-column", "fold"], "--split-column fold"),
    ] {
        let out = run(&extra);
        assert!(!out.status.success(), "{extra:?} should fail");
        let err = text(&out.stderr);
        assert!(err.contains(says), "{extra:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let short = dir.path().join("short.npy");
    ivt::npy::write(&short, &[3, 2], &[0.0f32; 6]).expect("layout");
    let out = run(&["--layout", short.to_str().expect("utf-8")]);
    assert!(
        text(&out.stderr).contains("3 rows × 2 columns"),
        "{}",
        text(&out.stderr)
    );
}

/// `thumbs` reads a sample of the headers, as the explorer does (so both pick the same cell
/// size and share one cache file); the build then finds an unreadable image the sample missed
/// and lists it, and `info` still checks every file.
#[test]
fn thumbs_finds_what_the_sample_missed_and_info_checks_every_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    let first = images.join("0.png");
    image::RgbImage::new(6, 4).save(&first).expect("png");
    let bytes = std::fs::read(&first).expect("read");
    let n = ivt::dataset::PROBE_SAMPLE + 1;
    for i in 1..n {
        std::fs::write(images.join(format!("{i}.png")), &bytes).expect("write");
    }
    // The one row the evenly spread sample skips (see the loader's unit test).
    let skipped = format!("{}.png", n - 2);
    std::fs::write(images.join(&skipped), b"not a png").expect("bad");
    let features = dir.path().join("f.npy");
    write_npy_f32(&features, n, 3);
    let cache = dir.path().join("cache");
    let args = |cmd: &'static str| {
        vec![
            cmd.to_owned(),
            features.display().to_string(),
            "--images".to_owned(),
            images.display().to_string(),
            "--cache".to_owned(),
            cache.display().to_string(),
        ]
    };
    let run = |cmd| {
        let a = args(cmd);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ivt(&a)
    };
    let out = run("thumbs");
    let err = text(&out.stderr);
    assert!(
        out.status.success(),
        "only a sample is read before the build: {err}"
    );
    assert!(
        err.contains("1 image(s) could not be decoded") && err.contains(&skipped),
        "{err}"
    );
    assert!(
        err.contains(&format!("{n} decoded, 0 from the cache")),
        "{err}"
    );
    let out = run("thumbs");
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("0 decoded, {n} from the cache")),
        "{err}"
    );
    let out = ivt(&[
        "info",
        features.to_str().expect("utf8"),
        "--images",
        images.to_str().expect("utf8"),
        "--cache",
        cache.to_str().expect("utf8"),
    ]);
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("1 of the images in") && err.contains(&skipped),
        "{err}"
    );
}

#[test]
fn a_cached_folder_listing_notices_files_added_and_renamed() {
    let dir = tempfile::tempdir().expect("tmp");
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    for i in 0..3 {
        image::RgbImage::new(4, 4)
            .save(images.join(format!("{i}.png")))
            .expect("png");
    }
    let features = dir.path().join("f.npy");
    write_npy_f32(&features, 3, 2);
    let cache = dir.path().join("cache");
    // `thumbs` lists the folder as the explorer does, with a cache folder of its own.
    let thumbs = || {
        ivt(&[
            "thumbs",
            features.to_str().expect("utf8"),
            "--images",
            images.to_str().expect("utf8"),
            "--cache",
            cache.to_str().expect("utf8"),
        ])
    };
    let listings = || {
        std::fs::read_dir(&cache)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        // The listing itself, not the data set recorded beside it.
                        name.starts_with("image-listing-") && name.ends_with(".bin")
                    })
                    .count()
            })
            .unwrap_or(0)
    };
    // A listing is kept only once the folder has not changed for 2 s.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    for run in ["lists and keeps", "reads it back"] {
        let out = thumbs();
        assert!(out.status.success(), "{run}: {}", text(&out.stderr));
        assert_eq!(listings(), 1, "{run}");
    }
    image::RgbImage::new(4, 4)
        .save(images.join("3.png"))
        .expect("png");
    let err = text(&thumbs().stderr);
    assert!(
        err.contains("4 image(s)") && err.contains("3 feature row(s)"),
        "added: {err}"
    );
    std::fs::remove_file(images.join("3.png")).expect("rm");
    std::fs::rename(images.join("1.png"), images.join("1.txt")).expect("mv");
    let err = text(&thumbs().stderr);
    assert!(
        err.contains("2 image(s)") && err.contains("3 feature row(s)"),
        "renamed: {err}"
    );
}

/// A data set opened by another spelling of its path (relative from its parent, then absolute)
/// is the same data set: its thumbnails and its folder listing come from the cache, none remade.
#[test]
fn a_relative_and_an_absolute_path_share_the_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("set");
    let images = data.join("images");
    std::fs::create_dir_all(&images).expect("mkdir");
    for i in 0..3u8 {
        image::RgbImage::from_pixel(4, 4, image::Rgb([i * 80, 0, 0]))
            .save(images.join(format!("{i}.png")))
            .expect("png");
    }
    write_npy_f32(&data.join("features.npy"), 3, 2);
    let cache = dir.path().join("cache");
    // Past the listing's settling time, so the first run keeps it.
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let thumbs = |path: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_ivt-explore"))
            .args(["thumbs".as_ref(), path.as_os_str(), "--cache".as_ref()])
            .arg(&cache)
            .current_dir(dir.path())
            .output()
            .expect("runs");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let first = thumbs(Path::new("set"));
    assert!(first.contains("3 decoded"), "{first}");
    let second = thumbs(&data);
    assert!(
        second.contains("0 decoded, 3 from the cache") && !second.contains("changed"),
        "{second}"
    );
    let listings = std::fs::read_dir(&cache)
        .expect("cache")
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            // The listing itself, not the data set recorded beside it.
            name.starts_with("image-listing-") && name.ends_with(".bin")
        })
        .count();
    assert_eq!(listings, 1);
}

/// Run the binary with extra environment variables.
fn ivt_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ivt-explore"))
        .args(args)
        .envs(env.iter().copied())
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("runs")
}

/// Set the modification time (the cache's record of last use) of every file in `dir` whose
/// name starts with `prefix`, `secs_ago` seconds back.
fn age_entries(dir: &Path, prefix: &str, secs_ago: u64) {
    let when = std::time::SystemTime::now() - std::time::Duration::from_secs(secs_ago);
    for e in std::fs::read_dir(dir).expect("list") {
        let path = e.expect("entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        {
            std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open")
                .set_modified(when)
                .expect("mtime");
        }
    }
}

/// A kNN graph and a PCA layout of `data` in `cache`.
fn fill_cache(data: &Path, cache: &Path, out: &Path) {
    let (d, c) = (data.to_str().expect("utf8"), cache.to_str().expect("utf8"));
    let o = |n: &str| out.join(n).to_str().expect("utf8").to_owned();
    for args in [
        vec!["knn", d, "-k", "3", "--cache", c, "-o", &o("knn.npy")],
        vec![
            "layout",
            d,
            "--method",
            "pca",
            "--cache",
            c,
            "-o",
            &o("pca.npy"),
        ],
    ] {
        let got = ivt(&args);
        assert!(got.status.success(), "{args:?}: {}", text(&got.stderr));
    }
}

#[test]
fn cache_lists_entries_by_kind_with_data_set_size_and_last_use() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let cache = dir.path().join("cache");
    fill_cache(&data, &cache, dir.path());
    // Another program's file, and an entry written before data sets were recorded.
    std::fs::write(cache.join("notes.txt"), b"mine").expect("write");
    let graph = std::fs::read_dir(&cache)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "bin"))
        .expect("an entry");
    std::fs::copy(
        &graph,
        cache.join("clusters-0123456789abcdef0123456789abcdef.bin"),
    )
    .expect("copy");
    age_entries(&cache, "clusters-", 3 * 86_400);
    let c = cache.to_str().expect("utf8");
    let out = ivt(&["cache", "--cache", c]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for want in [
        "graph (1 entry,",
        "layout (1 entry,",
        "clusters (1 entry,",
        data.to_str().expect("utf8"),
        "unknown",
        "just now",
        "3 days ago",
        "total: 3 entries",
    ] {
        assert!(stdout.contains(want), "{want:?} in\n{stdout}");
    }
    assert!(!stdout.contains("notes.txt"), "{stdout}");

    let out = ivt(&["cache", "--cache", c, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let entries = json["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 3, "{json}");
    let total: u64 = entries
        .iter()
        .map(|e| e["bytes"].as_u64().expect("bytes"))
        .sum();
    assert_eq!(json["total_bytes"].as_u64(), Some(total));
    assert!(total > 0);

    let missing = dir.path().join("no-such-cache");
    let out = ivt(&["cache", "--cache", missing.to_str().expect("utf8")]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no cache folder at") && stderr.contains("no-such-cache"),
        "{stderr}"
    );
}

#[test]
fn cache_max_gb_removes_the_least_recently_used_and_clear_removes_every_entry() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let cache = dir.path().join("cache");
    fill_cache(&data, &cache, dir.path());
    std::fs::write(cache.join("notes.txt"), b"mine").expect("write");
    // The graph was used an hour ago, the layout just now.
    age_entries(&cache, "knn-", 3600);
    let c = cache.to_str().expect("utf8");
    let listed = |extra: &[&str]| {
        let mut args = vec!["cache", "--cache", c, "--json"];
        args.extend_from_slice(extra);
        let out = ivt(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json")
    };
    let before = listed(&[]);
    let layout_bytes = before["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["kind"] == "layout")
        .and_then(|e| e["bytes"].as_u64())
        .expect("a layout");
    let max_gb = format!("{}", layout_bytes as f64 / (1u64 << 30) as f64);
    let out = ivt(&["cache", "--cache", c, "--max-gb", &max_gb]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("removed graph"), "{stdout}");
    assert!(stdout.contains("removed 1 entry"), "{stdout}");
    let after = listed(&[]);
    let kinds: Vec<&str> = after["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["layout"]);

    let cleared = listed(&["--clear"]);
    assert_eq!(cleared["removed"].as_array().map(Vec::len), Some(1));
    assert_eq!(cleared["entries"].as_array().map(Vec::len), Some(0));
    let left: Vec<_> = std::fs::read_dir(&cache)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, ["notes.txt"], "only the other program's file stays");
}

#[test]
fn the_cache_limit_applies_after_each_write_and_keeps_what_was_just_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let cache = dir.path().join("cache");
    let (d, c) = (data.to_str().expect("utf8"), cache.to_str().expect("utf8"));
    let knn_out = dir.path().join("knn.npy");
    let got = ivt(&[
        "knn",
        d,
        "-k",
        "3",
        "--cache",
        c,
        "-o",
        knn_out.to_str().expect("utf8"),
    ]);
    assert!(got.status.success(), "{}", text(&got.stderr));
    age_entries(&cache, "knn-", 60);
    let kinds = || {
        let out = ivt(&["cache", "--cache", c, "--json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        json["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["kind"].as_str().expect("kind").to_owned())
            .collect::<Vec<_>>()
    };
    // A limit of a few kB (the environment's): the layout just written stays, the older
    // graph goes, and the user hears it once.
    let pca = dir.path().join("pca.npy");
    let args = [
        "layout",
        d,
        "--method",
        "pca",
        "--cache",
        c,
        "-o",
        pca.to_str().expect("utf8"),
    ];
    let got = ivt_env(&args, &[("IVT_CACHE_MAX_GB", "0.000001")]);
    let stderr = text(&got.stderr);
    assert!(got.status.success(), "{stderr}");
    assert!(pca.exists());
    assert_eq!(
        stderr
            .matches("removed 1 least recently used entry")
            .count(),
        1,
        "{stderr}"
    );
    assert_eq!(kinds(), ["layout"]);
    // The option beats the environment: no limit, nothing goes.
    let got = ivt_env(
        &["knn", d, "-k", "3", "--cache", c, "--cache-max-gb", "none"],
        &[("IVT_CACHE_MAX_GB", "0")],
    );
    assert!(got.status.success(), "{}", text(&got.stderr));
    assert_eq!(kinds(), ["graph", "layout"]);
    let got = ivt_env(&["knn", d, "--cache", c], &[("IVT_CACHE_MAX_GB", "lots")]);
    let stderr = text(&got.stderr);
    assert_eq!(got.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("IVT_CACHE_MAX_GB=\"lots\""), "{stderr}");
}

/// The default cache folder (here under a private XDG_CACHE_HOME, never the user's) is made
/// private, said once; the output the user asked for still follows the umask.
#[test]
fn the_default_cache_folder_is_private_and_outputs_follow_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tmp");
    let data = two_groups(dir.path());
    let xdg = dir.path().join("xdg");
    let artefacts = xdg.join("ivt-explore").join("artefacts");
    std::fs::create_dir_all(&artefacts).expect("mkdir");
    for d in [&artefacts, &xdg.join("ivt-explore")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let out = dir.path().join("knn.npy");
    let args = [
        "knn",
        data.to_str().expect("utf8"),
        "-k",
        "3",
        "-o",
        out.to_str().expect("utf8"),
    ];
    let xdg_s = xdg.to_str().expect("utf8");
    let got = ivt_env(&args, &[("XDG_CACHE_HOME", xdg_s)]);
    let stderr = text(&got.stderr);
    assert!(got.status.success(), "{stderr}");
    assert_eq!(stderr.matches("made private").count(), 2, "{stderr}");
    let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&artefacts), 0o700);
    assert_eq!(mode(&xdg.join("ivt-explore")), 0o700);
    let umask = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .expect("umask");
    assert_eq!(mode(&out), 0o666 & !umask);
    // Private now: the next run has nothing to say.
    let got = ivt_env(&args, &[("XDG_CACHE_HOME", xdg_s)]);
    assert!(
        !text(&got.stderr).contains("made private"),
        "{}",
        text(&got.stderr)
    );
    // Created private when missing.
    let fresh = dir.path().join("fresh");
    let got = ivt_env(&args, &[("XDG_CACHE_HOME", fresh.to_str().expect("utf8"))]);
    assert!(got.status.success(), "{}", text(&got.stderr));
    assert_eq!(mode(&fresh.join("ivt-explore")), 0o700);
    assert_eq!(mode(&fresh.join("ivt-explore").join("artefacts")), 0o700);
}

/// A tiny tmpfs mounted for one test, unmounted when dropped; `None` (the test is skipped)
/// where mounting is not permitted (not root, or in a container that forbids it).
struct TinyDisk(std::path::PathBuf);

impl TinyDisk {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Self(at.to_path_buf()))
    }
}

impl Drop for TinyDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A cache on a full disk: the command still writes its output, the user hears once why
/// nothing was cached (however many writes failed), and no entry or temporary file is left.
/// Needs a tmpfs (root); reports SKIPPED where mounting one is not permitted.
#[test]
fn a_full_disk_keeps_nothing_half_written_says_so_once_and_the_result_is_delivered() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some(disk) = TinyDisk::mount(&dir.path().join("disk"), "8k") else {
        common::skip("cannot mount a tmpfs here (needs root)", None);
        return;
    };
    // Fill the disk to within a few kB: every entry below is larger.
    let filler = disk.0.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 8192]);
    let cache = disk.0.join("cache");
    let n = 600;
    let values: Vec<f32> = (0..n * 4).map(|i| ((i * 37) % 101) as f32).collect();
    let data = dir.path().join("x.npy");
    ivt::npy::write(&data, &[n, 4], &values).expect("write");
    let out = dir.path().join("umap.npy");
    let got = ivt(&[
        "layout",
        data.to_str().expect("utf8"),
        "--epochs",
        "20",
        "--cache",
        cache.to_str().expect("utf8"),
        "-o",
        out.to_str().expect("utf8"),
    ]);
    let stderr = text(&got.stderr);
    assert!(got.status.success(), "{stderr}");
    let (header, _) = ivt::npy::open(&out).expect("the layout was written");
    assert_eq!(header.shape, vec![n, 2]);
    // Two writes failed (the graph and the layout): one warning.
    assert_eq!(
        stderr.matches("cannot write to the cache").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("the disk is full"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&cache)
        .map(|d| d.map(|e| e.expect("entry").file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the cache: {left:?}");
    drop(disk);
}

/// `thumbs` on a disk that fills up mid-build: its result is the cache, so it fails, once,
/// saying why, and leaves no thumbnail file cut short. Needs a tmpfs (root).
#[test]
fn a_thumbnail_build_on_a_full_disk_fails_clearly_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let Some(disk) = TinyDisk::mount(&dir.path().join("disk"), "64k") else {
        common::skip("cannot mount a tmpfs here (needs root)", None);
        return;
    };
    let images = dir.path().join("images");
    std::fs::create_dir(&images).expect("mkdir");
    // 60 images: about 100 kB of small cells, more than the disk holds.
    let n = 60;
    for i in 0..n {
        image::RgbImage::from_pixel(40, 40, image::Rgb([i as u8 * 4, 90, 30]))
            .save(images.join(format!("{i:02}.png")))
            .expect("png");
    }
    let features = dir.path().join("f.npy");
    write_npy_f32(&features, n, 2);
    let cache = disk.0.join("cache");
    let out = ivt(&[
        "thumbs",
        features.to_str().expect("utf8"),
        "--images",
        images.to_str().expect("utf8"),
        "--cache",
        cache.to_str().expect("utf8"),
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("the thumbnail cache could not be written"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("cannot write to the cache").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let left: Vec<String> = std::fs::read_dir(&cache)
        .expect("cache folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("thumbs-") || n.ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}\n{stderr}");
    drop(disk);
}
