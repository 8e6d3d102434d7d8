//! Atomic file writes: a temporary file in the destination's folder, fsynced, then renamed.
//!
//! Every output the program writes goes through here, so a crash or a full disk leaves either
//! the old file or the complete new one, never a half-written file under the final name.

use std::fs::File;
use std::io;
use std::path::Path;

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
}
