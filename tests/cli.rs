//! The `ivt-explore` binary as a user runs it: `info` on a generated data set, bad input
//! (exit 1, one `error:` line naming the file, no panic), not-yet subcommands (exit 2).

use std::path::Path;
use std::process::{Command, Output};

fn ivt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ivt-explore"))
        .args(args)
        // A test must never open a window, whatever the developer's session has.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

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
    let out = ivt(&["info", bad.to_str().expect("utf8")]);
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
fn unbuilt_subcommands_say_so_and_exit_2() {
    for args in [
        &["knn", "-o", "x.npy"][..],
        &["layout"],
        &["cluster"],
        &["eval", "--layout", "y.npy"],
    ] {
        let out = ivt(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("not built yet"), "{args:?}");
    }
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
