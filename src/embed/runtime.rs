//! Finding and loading the ONNX Runtime shared library at run time (ort's `load-dynamic`):
//! nothing is downloaded at build time, and a machine without the runtime still runs every
//! other command; only embedding says what to install.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Oldest ONNX Runtime this build accepts: ort 2.0.0-rc.15 without `api-*` features asks for
/// the C API of 1.17. Tested with 1.32 (PyPI's `onnxruntime`).
pub const MIN_RUNTIME: &str = "1.17";
/// The newest version it was tested with.
pub const TESTED_RUNTIME: &str = "1.32";

/// What to tell a user without the runtime, wherever the failure is reported.
pub fn install_hint() -> String {
    format!(
        "install ONNX Runtime {MIN_RUNTIME} or newer (tested: {TESTED_RUNTIME}), e.g. `pip install onnxruntime` \
         (or `onnxruntime-gpu` for CUDA), then run again; ivt-explore looks in the Python environments it can see, \
         or set ORT_DYLIB_PATH to the library file (…/site-packages/onnxruntime/capi/libonnxruntime.so.1.x.y)"
    )
}

/// The runtime library file: `ORT_DYLIB_PATH` if set, else the first found in well-known places.
/// Returns every place looked at when nothing is found.
pub fn find() -> Result<PathBuf, Vec<PathBuf>> {
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        // Named explicitly: used or reported, never silently replaced by another copy.
        return Ok(PathBuf::from(p));
    }
    let mut looked = Vec::new();
    for dir in candidate_dirs() {
        if let Some(lib) = library_in(&dir) {
            return Ok(lib);
        }
        looked.push(dir);
    }
    if let Some(dir) = python_package_dir() {
        if let Some(lib) = library_in(&dir) {
            return Ok(lib);
        }
        looked.push(dir);
    }
    Err(looked)
}

/// Folders that hold the library in common installs, most specific first: the active virtual
/// environment, the one `./run` makes, the user's and the system's Python packages, then the
/// system library folders (a C/C++ install from the release tarball).
fn candidate_dirs() -> Vec<PathBuf> {
    let mut site_roots: Vec<PathBuf> = Vec::new();
    if let Some(venv) = std::env::var_os("VIRTUAL_ENV") {
        site_roots.push(PathBuf::from(venv).join("lib"));
    }
    if let Some(cache) = dirs::cache_dir() {
        site_roots.push(cache.join("ivt-explore").join("venv").join("lib"));
    }
    if let Some(home) = dirs::home_dir() {
        site_roots.push(home.join(".local").join("lib"));
    }
    site_roots.push(PathBuf::from("/usr/local/lib"));
    site_roots.push(PathBuf::from("/usr/lib"));

    let mut dirs = Vec::new();
    if let Some(paths) = std::env::var_os("PYTHONPATH") {
        for p in std::env::split_paths(&paths) {
            dirs.push(p.join("onnxruntime").join("capi"));
        }
    }
    for root in &site_roots {
        for python in python_dirs(root) {
            for packages in ["site-packages", "dist-packages"] {
                dirs.push(python.join(packages).join("onnxruntime").join("capi"));
            }
        }
    }
    dirs.push(PathBuf::from(
        "/usr/lib/python3/dist-packages/onnxruntime/capi",
    ));
    dirs.extend(
        [
            "/usr/local/lib",
            "/usr/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
        ]
        .map(PathBuf::from),
    );
    dirs
}

/// `root/python3.*` folders, newest name last.
fn python_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// The runtime library in `dir`: the versioned file (what the Python wheel ships), else the
/// unversioned link a system install provides.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut versioned: Vec<PathBuf> = Vec::new();
    let mut plain = None;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "libonnxruntime.so" {
            plain = Some(e.path());
        } else if name.starts_with("libonnxruntime.so.") {
            versioned.push(e.path());
        } else if name == "libonnxruntime.dylib" || name == "onnxruntime.dll" {
            plain = Some(e.path());
        }
    }
    // The longest name is the fully versioned file (…so.1.32.0 over …so.1).
    versioned.sort_by_key(|p| p.as_os_str().len());
    versioned.pop().or(plain)
}

/// Ask the `python3` on PATH where its `onnxruntime` package is (covers conda and other
/// layouts the fixed list misses). Silent when there is no Python or no package.
fn python_package_dir() -> Option<PathBuf> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, onnxruntime; print(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi'))",
        ])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(PathBuf::from(text.trim()))
}

/// The loaded runtime: its library and the ort environment every session is made in.
pub struct Runtime {
    pub library: PathBuf,
    pub environment: ort::environment::Environment,
}

/// Load the runtime once per process; later calls return the same result (a failed load
/// cannot be retried with another library in the same process, so the error is kept too).
pub fn get() -> Result<&'static Runtime, String> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Runtime, String> {
    let library = find().map_err(|looked| {
        format!(
            "the ONNX Runtime library was not found (looked in ORT_DYLIB_PATH, the Python environments and {} folders); {}",
            looked.len(),
            install_hint()
        )
    })?;
    if !library.is_file() {
        return Err(format!(
            "ORT_DYLIB_PATH names {}, which is not a file; {}",
            library.display(),
            install_hint()
        ));
    }
    let environment = ort::init_from(&library)
        .map_err(|e| format!("cannot load ONNX Runtime: {e}; {}", install_hint()))?
        .with_name("ivt-explore")
        .build()
        .map_err(|e| format!("cannot start ONNX Runtime from {}: {e}", library.display()))?;
    Ok(Runtime {
        library,
        environment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_versioned_library_is_preferred() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(library_in(dir.path()), None);
        std::fs::write(dir.path().join("libonnxruntime.so"), b"").expect("write");
        assert_eq!(
            library_in(dir.path()),
            Some(dir.path().join("libonnxruntime.so"))
        );
        for name in [
            "libonnxruntime.so.1",
            "libonnxruntime.so.1.32.0",
            "libonnxruntime_providers_shared.so",
        ] {
            std::fs::write(dir.path().join(name), b"").expect("write");
        }
        assert_eq!(
            library_in(dir.path()),
            Some(dir.path().join("libonnxruntime.so.1.32.0"))
        );
    }

    #[test]
    fn the_hint_says_what_to_install() {
        let hint = install_hint();
        assert!(hint.contains("pip install onnxruntime") && hint.contains("ORT_DYLIB_PATH"));
    }
}
