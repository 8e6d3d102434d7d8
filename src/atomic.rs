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
