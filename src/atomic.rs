//! Atomic file writes: a temporary file in the destination's folder, fsynced, then renamed.
//!
//! Every output the program writes goes through here, so a crash or a full disk leaves either
//! the old file or the complete new one, never a half-written file under the final name.
//! The result gets the mode a plain `create` would give it (0666 less the umask, so 0644 for
//! most users): outputs are meant to be read by TensorBoard, a colleague or a web server
//! running as someone else, not kept private as a temporary file is.

use std::fs::{File, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Mode asked for at creation; the kernel takes the umask off it, as for any new file.
const CREATE_MODE: u32 = 0o666;

/// Write `path` through `fill`, atomically. The temporary file is removed if `fill` fails.
pub fn write_with(path: &Path, fill: impl FnOnce(&mut File) -> io::Result<()>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(file_name);
    prefix.push(".");
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(Permissions::from_mode(CREATE_MODE))
        .tempfile_in(dir)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename is durable only once the directory entry is; failure to sync a directory
    // (some filesystems refuse) does not undo the write, so it is not an error.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Write a new file through `fill`, atomically, under the first of `names` (in `dir`) that
/// does not exist, and return its path. Never overwrites, even a file another process (or a
/// second screenshot of ours) creates meanwhile: the name is claimed by a no-clobber rename of
/// the finished file, not by a check made beforehand. `names` may be endless.
pub fn write_new<N: AsRef<Path>>(
    dir: &Path,
    names: impl IntoIterator<Item = N>,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<std::path::PathBuf> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".ivt-new.")
        .suffix(".tmp")
        .permissions(Permissions::from_mode(CREATE_MODE))
        .tempfile_in(dir)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    for name in names {
        let path = dir.join(name);
        match tmp.persist_noclobber(&path) {
            Ok(_) => {
                if let Ok(d) = File::open(dir) {
                    let _ = d.sync_all();
                }
                return Ok(path);
            }
            Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => tmp = e.file,
            Err(e) => return Err(e.error),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "every name offered is taken",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn failed_fill_leaves_old_file_and_no_temp() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.bin");
        std::fs::write(&path, b"old").expect("seed");
        let err = write_with(&path, |f| {
            f.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).expect("still there"), b"old");
        let leftovers = std::fs::read_dir(dir.path()).expect("list").count();
        assert_eq!(leftovers, 1, "temporary file removed");
        write_with(&path, |f| f.write_all(b"new")).expect("write");
        assert_eq!(std::fs::read(&path).expect("read"), b"new");
    }

    #[test]
    fn a_new_file_takes_the_first_free_name_and_overwrites_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let names = || (1..).map(|n| format!("shot-{n}.png"));
        std::fs::write(dir.path().join("shot-1.png"), b"mine").expect("seed");
        std::fs::write(dir.path().join("shot-3.png"), b"mine too").expect("seed");
        let a = write_new(dir.path(), names(), |f| f.write_all(b"a")).expect("a");
        let b = write_new(dir.path(), names(), |f| f.write_all(b"b")).expect("b");
        let c = write_new(dir.path(), names(), |f| f.write_all(b"c")).expect("c");
        assert_eq!(
            [a, b, c].map(|p| p.file_name().expect("name").to_string_lossy().into_owned()),
            ["shot-2.png", "shot-4.png", "shot-5.png"]
        );
        assert_eq!(
            std::fs::read(dir.path().join("shot-1.png")).expect("1"),
            b"mine"
        );
        assert_eq!(
            std::fs::read(dir.path().join("shot-3.png")).expect("3"),
            b"mine too"
        );
        assert_eq!(
            std::fs::read(dir.path().join("shot-4.png")).expect("4"),
            b"b"
        );
        let mode = std::fs::metadata(dir.path().join("shot-2.png"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o666 & !umask(), "mode {mode:o}");
        // Every name taken: an error, and no temporary file left behind.
        let e = write_new(dir.path(), ["shot-1.png"], |f| f.write_all(b"x")).expect_err("taken");
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 5);
    }

    /// The process's umask, as Linux reports it (no libc call needed).
    pub(crate) fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let line = status
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .expect("Umask line");
        u32::from_str_radix(line.trim(), 8).expect("octal umask")
    }

    #[test]
    fn written_files_get_the_umask_mode_not_the_temp_files_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out.npy");
        write_with(&path, |f| f.write_all(b"x")).expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask(), "mode {mode:o}");
        // A replaced file gets the umask's mode too, so an output written private by an older
        // version becomes readable on the next run.
        write_with(&path, |f| f.write_all(b"y")).expect("rewrite");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o666 & !umask(), "mode {mode:o}");
    }
}
