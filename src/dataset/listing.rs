//! The files of an image folder, in the order rows pair with them, remembered between runs.
//!
//! Listing a folder of a million images (reading its directory, a name and a path per file,
//! sorting) took ~1 s of a warm relaunch and ~2 s of a cold one: half of the load before the
//! explorer's first frame. The listing is kept in the artefact cache with a stamp of every folder
//! it read (device, inode, modification and change times): a file added, removed or renamed in
//! a folder changes that folder's stamps, so a relaunch checks the stamps (one stat a folder)
//! and reads the names back from one file. What the files hold is not the listing's business:
//! their contents are checked by the probe and the thumbnail keys.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::DatasetError;
use super::names::{has_image_extension, natural_cmp};
use crate::cache::{Cache, CacheKey, Lookup};
use crate::payload::{Reader, Writer};

/// Bumped when the payload's format or the listing's rules (which files count, their order)
/// change, so an older listing is never read with newer rules.
const LISTING_VERSION: u32 = 2;

/// A folder changed this recently when it was listed may change again without its stamps
/// moving (timestamps are coarser than the changes they record): such a listing is not kept.
const SETTLE: Duration = Duration::from_secs(2);

/// A candidate image: its full path and the name sort keys are matched against (the file name
/// in a flat folder, `class/…/file` under class folders). The path is always the folder joined
/// with the name, which is what lets the cache keep names only.
pub(super) struct Candidate {
    pub path: PathBuf,
    pub name: String,
}

pub(super) struct Listing {
    /// Images at the top level, in natural order of their names.
    pub top: Vec<Candidate>,
    /// (class name, images under it in torchvision order)
    pub classes: Vec<(String, Vec<Candidate>)>,
}

/// What identifies a folder's entries: any entry added, removed or renamed changes the
/// modification and change times; device and inode tell a folder replaced by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp([i64; 6]);

impl Stamp {
    fn of(dir: &Path) -> Option<Self> {
        // Following symlinks, as the listing does.
        let m = std::fs::metadata(dir).ok()?;
        Some(Self([
            m.dev() as i64,
            m.ino() as i64,
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ]))
    }

    /// Whether both times are at least `settle` before `t`.
    fn settled_before(&self, t: SystemTime, settle: Duration) -> bool {
        let Some(limit) = t
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .and_then(|now| now.checked_sub(settle))
        else {
            return false;
        };
        let at = |secs: i64, nsec: i64| {
            u64::try_from(secs)
                .ok()
                .map(|s| Duration::new(s, u32::try_from(nsec).unwrap_or(0)))
        };
        [(self.0[2], self.0[3]), (self.0[4], self.0[5])]
            .into_iter()
            .all(|(s, ns)| at(s, ns).is_some_and(|t| t < limit))
    }
}

/// The folders a listing read (relative to the root, `""` for the root), with their stamps
/// taken before each was read, and whether every name was valid UTF-8 (a lossy name's path
/// cannot be rebuilt from it, so such a listing is not kept).
#[derive(Default)]
struct Visited {
    dirs: Vec<(String, Option<Stamp>)>,
    lossy: bool,
}

/// `root`'s images: from `cache` when no folder it read has changed since, else listed afresh
/// (and kept for the next run when the folders were settled).
pub(super) fn list_folder(root: &Path, cache: Option<&Cache>) -> Result<Listing, DatasetError> {
    list_folder_settled(root, cache, SETTLE)
}

fn list_folder_settled(
    root: &Path,
    cache: Option<&Cache>,
    settle: Duration,
) -> Result<Listing, DatasetError> {
    if !root.is_dir() {
        return Err(DatasetError::ImageFolder {
            path: root.to_owned(),
            reason: "not a folder (or it does not exist)".to_owned(),
        });
    }
    let cache = cache.filter(|c| c.dir().is_some());
    let key = cache_key(root);
    if let Some(cache) = cache
        && let Lookup::Hit(bytes) = cache.load(&key)
        && let Some(listing) = decode(root, &bytes)
    {
        return Ok(listing);
    }
    let started = SystemTime::now();
    let mut visited = Visited::default();
    let listing = list_afresh(root, &mut visited)?;
    if let Some(cache) = cache
        && !visited.lossy
        && visited
            .dirs
            .iter()
            .all(|(_, s)| s.is_some_and(|s| s.settled_before(started, settle)))
    {
        // A cache that cannot be written only costs the next run the listing again.
        let _ = cache.store(&key, &encode(&listing, &visited));
    }
    Ok(listing)
}

/// One entry per folder (relisting replaces it), by its absolute path: `c1m` from `/data` and
/// `/data/c1m` share it.
fn cache_key(root: &Path) -> CacheKey {
    let ids = crate::cache::FileIdentities::new();
    CacheKey::from_parts(
        "image-listing",
        &[
            &LISTING_VERSION.to_le_bytes(),
            ids.key_path(root).as_os_str().as_encoded_bytes(),
        ],
    )
}

fn list_afresh(root: &Path, visited: &mut Visited) -> Result<Listing, DatasetError> {
    let mut top = Vec::new();
    let mut classes = Vec::new();
    for (name, path, is_dir) in read_dir_sorted(root, "", visited)? {
        if is_dir {
            let mut images = Vec::new();
            walk_class(&path, &name, &mut images, visited)?;
            classes.push((name, images));
        } else if has_image_extension(&name) {
            top.push(Candidate { path, name });
        }
    }
    top.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    Ok(Listing { top, classes })
}

/// The entries of `dir` (`rel` under the root) sorted by name: (name, path, is a folder).
/// `dir`'s stamp is recorded in `visited`.
fn read_dir_sorted(
    dir: &Path,
    rel: &str,
    visited: &mut Visited,
) -> Result<Vec<(String, PathBuf, bool)>, DatasetError> {
    let io_err = |source| DatasetError::Io {
        path: dir.to_owned(),
        source,
    };
    // Before the read: a change during it then shows as a changed stamp next time.
    visited.dirs.push((rel.to_owned(), Stamp::of(dir)));
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let path = entry.path();
        // Symlinks are followed, as torchvision's `os.walk(followlinks=True)` does; other
        // entries' type comes with the listing (a stat each cost 2 s at 10⁶ files).
        let is_dir = match entry.file_type() {
            Ok(t) if !t.is_symlink() => t.is_dir(),
            _ => std::fs::metadata(&path).is_ok_and(|m| m.is_dir()),
        };
        let file_name = entry.file_name();
        let name = match file_name.to_str() {
            Some(s) => s.to_owned(),
            None => {
                visited.lossy = true;
                file_name.to_string_lossy().into_owned()
            }
        };
        entries.push((name, path, is_dir));
    }
    // Byte order of UTF-8 equals Python's code-point order of `sorted()`. Names in a folder
    // are unique, so the unstable sort gives the same order (and is twice as fast at 10⁶).
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// torchvision's `for root, _, fnames in sorted(os.walk(class_dir)): for f in sorted(fnames)`:
/// folders ordered by their full path string, files by name within each.
fn walk_class(
    dir: &Path,
    prefix: &str,
    out: &mut Vec<Candidate>,
    visited: &mut Visited,
) -> Result<(), DatasetError> {
    let mut folders: Vec<(String, PathBuf)> = Vec::new();
    let mut stack = vec![(prefix.to_owned(), dir.to_owned())];
    let mut files = Vec::new();
    while let Some((rel, path)) = stack.pop() {
        let mut here = Vec::new();
        for (name, child, is_dir) in read_dir_sorted(&path, &rel, visited)? {
            if is_dir {
                stack.push((format!("{rel}/{name}"), child));
            } else if has_image_extension(&name) {
                here.push((name, child));
            }
        }
        files.push(here);
        folders.push((rel, path));
    }
    // One read of each folder: its files are kept with it until the folders are in order.
    let mut order: Vec<usize> = (0..folders.len()).collect();
    order.sort_by(|&a, &b| folders[a].0.cmp(&folders[b].0));
    for i in order {
        let rel = &folders[i].0;
        for (name, child) in std::mem::take(&mut files[i]) {
            out.push(Candidate {
                path: child,
                name: format!("{rel}/{name}"),
            });
        }
    }
    Ok(())
}

/// The payload: the folders' stamps, then the top-level names, then each class with its names.
fn encode(listing: &Listing, visited: &Visited) -> Vec<u8> {
    let mut w = Writer::default();
    w.u64(visited.dirs.len() as u64);
    for (rel, stamp) in &visited.dirs {
        w.str(rel);
        for v in stamp.map_or([0; 6], |s| s.0) {
            w.u64(v as u64);
        }
    }
    let names = |w: &mut Writer, images: &[Candidate]| {
        w.u64(images.len() as u64);
        for c in images {
            w.str(&c.name);
        }
    };
    names(&mut w, &listing.top);
    w.u64(listing.classes.len() as u64);
    for (class, images) in &listing.classes {
        w.str(class);
        names(&mut w, images);
    }
    w.0
}

/// The listing in `bytes` when every folder it read still has its stamp; `None` when one
/// changed (or the payload does not parse).
fn decode(root: &Path, bytes: &[u8]) -> Option<Listing> {
    // Every entry below starts with a length: at least 8 bytes each.
    const MIN_ENTRY: usize = 8;
    let mut r = Reader::new(bytes);
    for _ in 0..r.count(MIN_ENTRY)? {
        let rel = r.str()?;
        let mut stamp = [0i64; 6];
        for v in &mut stamp {
            *v = r.u64()? as i64;
        }
        let dir = if rel.is_empty() {
            root.to_path_buf()
        } else {
            root.join(rel)
        };
        if Stamp::of(&dir) != Some(Stamp(stamp)) {
            return None;
        }
    }
    let names = |r: &mut Reader<'_>| {
        (0..r.count(MIN_ENTRY)?)
            .map(|_| {
                r.str().map(|name| Candidate {
                    path: root.join(name),
                    name: name.to_owned(),
                })
            })
            .collect::<Option<Vec<_>>>()
    };
    let top = names(&mut r)?;
    let mut classes = Vec::new();
    for _ in 0..r.count(MIN_ENTRY)? {
        let class = r.str()?.to_owned();
        classes.push((class, names(&mut r)?));
    }
    r.is_done().then_some(Listing { top, classes })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (top names, [(class, names)]) of a listing, checking each path is `root` + name.
    type Names = (Vec<String>, Vec<(String, Vec<String>)>);

    fn names(l: &Listing, root: &Path) -> Names {
        let check = |c: &Candidate| {
            assert_eq!(c.path, root.join(&c.name), "path is root + name");
            c.name.clone()
        };
        (
            l.top.iter().map(check).collect(),
            l.classes
                .iter()
                .map(|(k, v)| (k.clone(), v.iter().map(check).collect()))
                .collect(),
        )
    }

    fn truth(root: &Path) -> Names {
        names(
            &list_afresh(root, &mut Visited::default()).expect("list"),
            root,
        )
    }

    fn touch(path: &Path) {
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).expect("mkdir");
        }
        std::fs::write(path, b"x").expect("write");
    }

    fn cached(root: &Path, cache: &Cache) -> bool {
        matches!(cache.load(&cache_key(root)), Lookup::Hit(_))
    }

    #[test]
    fn a_listing_is_kept_only_once_settled_and_reads_back_identical() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("imgs");
        for n in [
            "img10.png",
            "img2.png",
            "img1.jpg",
            "notes.txt",
            "b/x.png",
            "b/c/y.png",
        ] {
            touch(&root.join(n));
        }
        let cache = Cache::at(tmp.path().join("cache"));
        // Just written: within the settle time, so not kept.
        let fresh = list_folder(&root, Some(&cache)).expect("list");
        assert!(!cached(&root, &cache), "an unsettled folder is not cached");
        let expected = names(&fresh, &root);
        assert_eq!(expected.0, ["img1.jpg", "img2.png", "img10.png"]);
        assert_eq!(
            expected.1,
            [(
                "b".to_owned(),
                vec!["b/x.png".to_owned(), "b/c/y.png".to_owned()]
            )],
            "torchvision order: the folder's own files, then its sub-folders'"
        );
        std::thread::sleep(Duration::from_millis(30));
        list_folder_settled(&root, Some(&cache), Duration::from_millis(20)).expect("list");
        assert!(cached(&root, &cache), "a settled folder is cached");
        let again = list_folder(&root, Some(&cache)).expect("from the cache");
        assert_eq!(names(&again, &root), expected);

        let Lookup::Hit(bytes) = cache.load(&cache_key(&root)) else {
            panic!("cached");
        };
        assert!(decode(&root, &bytes).is_some());
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&root, &bytes[..cut]).is_none(), "cut at {cut}");
        }
        // A non-UTF-8 name cannot be rebuilt from its lossy form: such a folder is not kept.
        let odd = tmp.path().join("odd");
        use std::os::unix::ffi::OsStrExt;
        touch(&odd.join(std::ffi::OsStr::from_bytes(b"a\xff.png")));
        std::thread::sleep(Duration::from_millis(30));
        let listed =
            list_folder_settled(&odd, Some(&cache), Duration::from_millis(20)).expect("list");
        assert_eq!(listed.top.len(), 1);
        assert!(!cached(&odd, &cache), "a lossy name is not cached");
    }

    #[test]
    fn a_file_added_removed_or_renamed_anywhere_is_seen() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let cache = Cache::at(tmp.path().join("cache"));
        let settle = Duration::from_millis(20);
        for layout in ["flat", "classes"] {
            let root = tmp.path().join(layout);
            let (files, changes): (&[&str], [(&str, &str); 4]) = if layout == "flat" {
                (
                    &["a.png", "b.png", "c.png"],
                    [
                        ("add", "d.png"),
                        ("remove", "a.png"),
                        ("rename", "b.png"),
                        ("add dir", "e/f.png"),
                    ],
                )
            } else {
                (
                    &["cat/a.png", "cat/deep/b.png", "dog/c.png"],
                    [
                        ("add", "cat/deep/d.png"),
                        ("remove", "dog/c.png"),
                        ("rename", "cat/a.png"),
                        ("add dir", "cat/deep/er/f.png"),
                    ],
                )
            };
            for f in files {
                touch(&root.join(f));
            }
            for (change, file) in changes {
                let file = root.join(file);
                std::thread::sleep(settle + Duration::from_millis(10));
                list_folder_settled(&root, Some(&cache), settle).expect("list");
                assert!(
                    cached(&root, &cache),
                    "{layout}: settled folders are cached"
                );
                let before = list_folder(&root, Some(&cache)).expect("list");
                assert_eq!(
                    names(&before, &root),
                    truth(&root),
                    "{layout}: cached = fresh"
                );
                match change {
                    "remove" => std::fs::remove_file(&file).expect("rm"),
                    "rename" => std::fs::rename(&file, file.with_file_name("z.png")).expect("mv"),
                    _ => touch(&file),
                }
                let after = list_folder(&root, Some(&cache)).expect("list");
                assert_eq!(names(&after, &root), truth(&root), "{layout}: {change}");
                assert_ne!(
                    names(&after, &root),
                    names(&before, &root),
                    "{layout}: {change} seen"
                );
            }
        }
    }
}
