//! `ivt-explore compare A B` as a user runs it, on a data set where the test knows which items
//! it moved between the two embeddings: the overlaps are checked against a brute-force search
//! made here, the accuracies against what the move must do, and bad input is refused.

#[cfg(feature = "embed")]
mod common;
#[path = "common/program.rs"]
mod program;
#[cfg(feature = "embed")]
#[path = "common/runtime.rs"]
mod runtime;

use std::collections::HashSet;
use std::path::Path;

use program::{ivt, text};

const N: usize = 600;
const DIM: usize = 8;
const CLASSES: usize = 6;
const K: usize = 5;
/// The items moved into the next class's cluster in B: one from each class, so a cluster
/// receives one stranger and no item's majority but the moved ones' can change.
const MOVED: [usize; 6] = [3, 50, 150, 301, 598, 599];

/// Six clusters far apart (item i in cluster i % 6), a little noise; B is A with [`MOVED`]
/// carried into the next cluster.
fn embeddings() -> (Vec<f32>, Vec<f32>, Vec<i64>) {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut noise = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let centre = |c: usize, d: usize| (if d == c % DIM { 100.0 } else { 0.0 }) + (c * 7 + d) as f32;
    let labels: Vec<i64> = (0..N).map(|i| (i % CLASSES) as i64).collect();
    let a: Vec<f32> = (0..N * DIM)
        .map(|at| centre(at / DIM % CLASSES, at % DIM) + noise())
        .collect();
    let mut b = a.clone();
    for &i in &MOVED {
        let to = (i % CLASSES + 1) % CLASSES;
        for d in 0..DIM {
            b[i * DIM + d] = a[i * DIM + d] - centre(i % CLASSES, d) + centre(to, d);
        }
    }
    (a, b, labels)
}

/// Every item's k nearest (self excluded), by brute force.
fn brute_force(x: &[f32]) -> Vec<Vec<usize>> {
    (0..N)
        .map(|i| {
            let mut d: Vec<(f64, usize)> = (0..N)
                .filter(|&j| j != i)
                .map(|j| {
                    let s: f64 = (0..DIM)
                        .map(|c| f64::from(x[i * DIM + c] - x[j * DIM + c]).powi(2))
                        .sum();
                    (s, j)
                })
                .collect();
            d.sort_by(|p, q| p.0.total_cmp(&q.0).then(p.1.cmp(&q.1)));
            d.into_iter().take(K).map(|(_, j)| j).collect()
        })
        .collect()
}

fn write(dir: &Path) -> (String, String, String) {
    let (a, b, labels) = embeddings();
    let path = |name: &str| dir.join(name).to_str().expect("utf8").to_owned();
    ivt::npy::write(&dir.join("a.npy"), &[N, DIM], &a).expect("a");
    ivt::npy::write(&dir.join("b.npy"), &[N, DIM], &b).expect("b");
    ivt::npy::write(&dir.join("labels.npy"), &[N], &labels).expect("labels");
    (path("a.npy"), path("b.npy"), path("labels.npy"))
}

#[test]
fn compare_finds_the_moved_items_with_exact_overlaps_and_accuracies() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b, labels) = write(dir.path());
    let csv = dir.path().join("compare.csv");
    let k = K.to_string();
    let compare = |more: &[&str]| {
        let mut args = vec![
            "compare",
            &a,
            &b,
            "--labels",
            &labels,
            "-k",
            &k,
            "--no-cache",
        ];
        args.extend_from_slice(more);
        ivt(&args)
    };
    let out = compare(&["-o", csv.to_str().expect("utf8"), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");

    // Overlaps: exactly the brute-force graphs'.
    let (xa, xb, _) = embeddings();
    let (ga, gb) = (brute_force(&xa), brute_force(&xb));
    let want: Vec<f64> = (0..N)
        .map(|i| {
            let shared = ga[i].iter().filter(|j| gb[i].contains(j)).count();
            shared as f64 / K as f64
        })
        .collect();
    let items = v["items"].as_array().expect("items");
    assert_eq!(items.len(), N);
    for (i, item) in items.iter().enumerate() {
        assert_eq!(item["item"], i);
        let got = item["overlap"].as_f64().expect("overlap");
        assert!(
            (got - want[i]).abs() < 1e-6,
            "item {i}: {got} vs {}",
            want[i]
        );
    }
    let mean = want.iter().sum::<f64>() / N as f64;
    let summary = &v["summary"];
    assert!((summary["mean_overlap"].as_f64().expect("mean") - mean).abs() < 1e-9);

    // The moved items share nothing and lead the changed most; no other item lost all.
    let changed: Vec<u64> = summary["changed_most"]
        .as_array()
        .expect("changed")
        .iter()
        .map(|c| c["item"].as_u64().expect("item"))
        .collect();
    assert_eq!(changed.len(), 10);
    let moved: HashSet<u64> = MOVED.iter().map(|&i| i as u64).collect();
    assert_eq!(
        changed[..MOVED.len()]
            .iter()
            .copied()
            .collect::<HashSet<_>>(),
        moved
    );
    for i in 0..N {
        assert_eq!(want[i] == 0.0, moved.contains(&(i as u64)), "item {i}");
        let rank = items[i]["rank"].as_u64().expect("rank");
        assert_eq!(
            rank <= MOVED.len() as u64,
            moved.contains(&(i as u64)),
            "item {i}"
        );
    }

    // Accuracy: every item's neighbours are its own class in A; in B the moved items' are the
    // next class's, and nobody else's majority changes.
    assert_eq!(summary["knn_accuracy_a"].as_f64(), Some(1.0));
    let expected_b = (N - MOVED.len()) as f64 / N as f64;
    assert!((summary["knn_accuracy_b"].as_f64().expect("b") - expected_b).abs() < 1e-12);
    for &i in &MOVED {
        assert_eq!(items[i]["correct_a"], true);
        assert_eq!(items[i]["correct_b"], false);
    }
    assert_eq!(summary["graphs"]["a"]["exact"], true);

    // The CSV: one row per item, the same overlaps and ranks.
    let table = std::fs::read_to_string(&csv).expect("csv");
    let mut lines = table.lines();
    assert_eq!(
        lines.next(),
        Some("item,file,class,overlap,rank,majority_a,majority_b,correct_a,correct_b")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), N);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        let overlap: f64 = row[3].parse().expect("overlap");
        assert!((overlap - want[i]).abs() < 1e-4);
        assert_eq!(row[4], items[i]["rank"].to_string());
    }
    let ranks: HashSet<&str> = rows.iter().map(|r| r[4]).collect();
    assert_eq!(ranks.len(), N, "ranks are a permutation");

    // The text summary names the changed items and both accuracies.
    let out = compare(&[]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("kNN accuracy"), "{stdout}");
    assert!(stdout.contains("item 3 "), "{stdout}");
}

#[test]
fn compare_refuses_what_it_cannot_compare() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, _, _) = write(dir.path());
    let short = dir.path().join("short.npy");
    ivt::npy::write(&short, &[N - 1, DIM], &vec![0f32; (N - 1) * DIM]).expect("short");
    let short = short.to_str().expect("utf8");
    let cases: [(&[&str], &str); 4] = [
        (
            &["compare", &a, short, "--no-cache"],
            "A holds 600 items and B 599",
        ),
        (
            &["compare", &a, &a, "--no-cache", "-o", "out.txt"],
            "name it .csv",
        ),
        (&["compare", &a, "--no-cache"], "needs embedding B"),
        (&["compare", &a, &a, "-k", "600", "--no-cache"], "-k 600"),
    ];
    for (args, says) in cases {
        let out = ivt(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// The explorer's split view needs B, and shows A's map on the left (no `--morph`): both said
/// before any window opens.
#[cfg(feature = "viewer")]
#[test]
fn the_split_view_refuses_what_it_cannot_show() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, _, _) = write(dir.path());
    let png = dir.path().join("x.png");
    let png = png.to_str().expect("utf8");
    let cases: [(&[&str], &str); 2] = [
        (
            &["screenshot", &a, "--view", "split", "--no-cache", "-o", png],
            "needs a second embedding, --compare B",
        ),
        (
            &[
                "screenshot",
                &a,
                "--compare",
                &a,
                "--view",
                "split",
                "--morph",
                "0.5",
                "--no-cache",
                "-o",
                png,
            ],
            "--morph 0.5 with --view split",
        ),
    ];
    for (args, says) in cases {
        let out = ivt(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    assert!(!std::path::Path::new(png).exists(), "no picture written");
}

/// `--model-b`: B is A's image folder through a second encoder (here the same one, so every
/// neighbourhood is kept), and a second encoder that is not there is named in the error.
#[cfg(feature = "embed")]
#[test]
fn a_second_encoder_embeds_the_same_images_for_b() {
    if !runtime::have_runtime() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let images = dir.path().join("images");
    for i in 0..24u32 {
        let class = if i % 2 == 0 { "red" } else { "blue" };
        let p = images.join(class).join(format!("{i:02}.png"));
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        let shade = if i % 2 == 0 {
            [200, 40 + 5 * i as u8, 40]
        } else {
            [40, 40 + 5 * i as u8, 200]
        };
        image::RgbImage::from_fn(16, 16, |x, y| {
            if (x * y + i) % 7 == 0 {
                image::Rgb([255, 255, 255])
            } else {
                image::Rgb(shade)
            }
        })
        .save(&p)
        .expect("png");
    }
    let model = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/encoder.onnx");
    let cache = dir.path().join("cache");
    let run = |b: &str| {
        ivt(&[
            "compare",
            images.to_str().expect("utf8"),
            "--model",
            model,
            "--model-b",
            b,
            "-k",
            "3",
            "--cache",
            cache.to_str().expect("utf8"),
            "--json",
        ])
    };
    let out = run(model);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["summary"]["mean_overlap"].as_f64(), Some(1.0), "{v}");
    assert_eq!(v["items"].as_array().map(Vec::len), Some(24));
    let missing = dir.path().join("no-such-model.onnx");
    let out = run(missing.to_str().expect("utf8"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--model-b") && stderr.contains("no-such-model.onnx"),
        "{stderr}"
    );
}
