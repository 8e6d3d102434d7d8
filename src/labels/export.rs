//! Export labels as an ImageFolder tree `OUT/<label>/<file>` plus `OUT/labels.csv`.
//!
//! The CSV is also the export's manifest: the next export reads it to update the tree in
//! place — new labels added, changed ones moved, removed ones taken out — touching only files
//! it created itself. Source images are only ever read. Two different sources with the same
//! file name under one label get a stable suffix (`name-<item>.ext`); an existing file that
//! the export did not create is never overwritten: the new one takes a suffix instead.
//!
//! The manifest and the labels are files a user (or anyone) can edit, so neither is trusted
//! with a path: every file the export removes, renames or writes is `OUT/<label>/<name>`, two
//! plain components, the label a valid label name ([`super::check_name`]) and `OUT/<label>` a
//! real folder, never a link that could lead out of OUT ([`inside`]). A manifest row naming
//! anything else is reported and left alone.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::{LabelError, LabelState};
use crate::dataset::ItemId;

pub const MANIFEST: &str = "labels.csv";

/// How exported files refer to their sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportMode {
    #[default]
    Copy,
    Hardlink,
    Symlink,
}

crate::choice::choice!(ExportMode {
    Copy => "copy", "Independent copies (safe everywhere; costs disk space)";
    Hardlink => "hardlink", "Hard links (no extra space; same filesystem only)";
    Symlink => "symlink", "Symbolic links to the absolute source paths";
});

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    pub added: usize,
    pub moved: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Files given a suffix because the plain name was taken.
    pub renamed: usize,
    /// Manifest rows whose file is not a plain path inside the export folder: left alone (and
    /// dropped from the new manifest), each with the reason, for the user to see.
    pub refused: Vec<String>,
}

fn err(what: String) -> LabelError {
    LabelError::Export(what)
}

/// One manifest row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    item: u32,
    source: String,
    label: String,
    time_ms: u64,
    /// Relative to the export folder: `<label>/<file>`.
    file: String,
}

/// `OUT/<label>` for writing: `label` must be a valid label name, and the folder, where it
/// exists, a real folder — a link there could lead anywhere.
fn label_dir(out: &Path, label: &str) -> Result<PathBuf, String> {
    super::check_name(label)?;
    let dir = out.join(label);
    match std::fs::symlink_metadata(&dir) {
        Ok(meta) if meta.is_dir() => Ok(dir),
        Ok(_) => Err(format!(
            "{} is not a folder (a link or a file); the export writes only into folders of its own",
            dir.display()
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(dir),
        Err(e) => Err(format!("{}: {e}", dir.display())),
    }
}

/// The manifest's `file` as a path the export may remove or rename: `<label>/<name>`, two plain
/// components (no `..`, not absolute), under a real label folder of OUT. Anything else is not
/// a file this export made, whatever the manifest says.
fn inside(out: &Path, rel: &str) -> Result<PathBuf, String> {
    use std::path::Component;
    let path = Path::new(rel);
    let mut parts = Vec::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => parts.push(part),
            _ => {
                return Err(format!(
                    "{rel:?} is not a plain relative path (absolute, or with '..' or '.')"
                ));
            }
        }
    }
    let [label, name] = parts[..] else {
        return Err(format!("{rel:?} is not <label>/<file>"));
    };
    let label = label
        .to_str()
        .ok_or_else(|| format!("{rel:?}: the label folder is not UTF-8"))?;
    Ok(label_dir(out, label)?.join(name))
}

fn read_manifest(out: &Path) -> Result<BTreeMap<u32, Row>, LabelError> {
    let path = out.join(MANIFEST);
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let mut reader =
        csv::Reader::from_path(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let mut rows = BTreeMap::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| err(format!("{}: {e}", path.display())))?;
        let field = |k: usize| rec.get(k).unwrap_or_default().to_owned();
        let item: u32 = field(0).parse().map_err(|_| {
            err(format!(
                "{}: row {} has no item index; not an ivt-explore export manifest?",
                path.display(),
                i + 2
            ))
        })?;
        rows.insert(
            item,
            Row {
                item,
                source: field(1),
                label: field(2),
                time_ms: field(3).parse().unwrap_or(0),
                file: field(4),
            },
        );
    }
    Ok(rows)
}

fn write_manifest(out: &Path, rows: &BTreeMap<u32, Row>) -> Result<(), LabelError> {
    let path = out.join(MANIFEST);
    crate::atomic::write_with(&path, |f| {
        let mut w = csv::Writer::from_writer(f);
        w.write_record(["item", "source", "label", "time_ms", "file"])?;
        for r in rows.values() {
            w.write_record([
                r.item.to_string(),
                r.source.clone(),
                r.label.clone(),
                r.time_ms.to_string(),
                r.file.clone(),
            ])?;
        }
        w.flush()?;
        Ok(())
    })
    .map_err(|e| err(format!("{}: {e}", path.display())))
}

/// A free name for `source` under `label`: its own name, else `stem-<item>.ext`, else with a
/// counter. `taken` holds the names this export has already given out.
fn free_name(
    out: &Path,
    label: &str,
    source: &Path,
    item: u32,
    taken: &HashSet<String>,
) -> (String, bool) {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("item-{item}"));
    let free =
        |rel: &str| !taken.contains(rel) && std::fs::symlink_metadata(out.join(rel)).is_err();
    let plain = format!("{label}/{name}");
    if free(&plain) {
        return (plain, false);
    }
    let stem = source
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    let ext = source
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let mut n = 0;
    loop {
        let rel = if n == 0 {
            format!("{label}/{stem}-{item}{ext}")
        } else {
            format!("{label}/{stem}-{item}-{n}{ext}")
        };
        if free(&rel) {
            return (rel, true);
        }
        n += 1;
    }
}

/// Copy `source` into `dir` under its own name, or `stem-<item>.ext` (then with a counter) if
/// that is taken: an existing file is never overwritten. Returns the new file.
pub fn copy_without_overwrite(source: &Path, dir: &Path, item: u32) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    // Already copied (the same bytes under its own name): nothing to do.
    if let Some(name) = source.file_name() {
        let plain = dir.join(name);
        if plain.is_file() && std::fs::read(&plain)? == std::fs::read(source)? {
            return Ok(plain);
        }
    }
    let label = ".";
    let (rel, _) = free_name(dir, label, source, item, &HashSet::new());
    let target = dir.join(rel);
    // create_new: a file that appeared meanwhile is still not overwritten.
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)?;
    let mut input = std::fs::File::open(source)?;
    std::io::copy(&mut input, &mut out)?;
    out.sync_all()?;
    Ok(target)
}

/// `label/<name>` when it already holds exactly `source` (same bytes, or a link to it) and no
/// other item of this export claims it: what an export killed before its manifest leaves.
fn left_by_interrupted_export(
    out: &Path,
    label: &str,
    source: &Path,
    taken: &HashSet<String>,
) -> Option<String> {
    let name = source.file_name()?.to_string_lossy().into_owned();
    let rel = format!("{label}/{name}");
    if taken.contains(&rel) {
        return None;
    }
    let target = out.join(&rel);
    let meta = std::fs::symlink_metadata(&target).ok()?;
    let same = if meta.file_type().is_symlink() {
        std::fs::canonicalize(&target).ok()? == std::fs::canonicalize(source).ok()?
    } else {
        meta.is_file() && std::fs::read(&target).ok()? == std::fs::read(source).ok()?
    };
    same.then_some(rel)
}

fn place(source: &Path, target: &Path, mode: ExportMode) -> std::io::Result<()> {
    match mode {
        ExportMode::Copy => std::fs::copy(source, target).map(|_| ()),
        ExportMode::Hardlink => std::fs::hard_link(source, target),
        #[cfg(unix)]
        ExportMode::Symlink => {
            let abs = std::fs::canonicalize(source)?;
            std::os::unix::fs::symlink(abs, target)
        }
        #[cfg(not(unix))]
        ExportMode::Symlink => Err(std::io::Error::other(format!(
            "symbolic links: use {} copy here",
            crate::hint::MODE
        ))),
    }
}

/// Export `labels` for items whose images are `sources` (index = item) into `out`.
pub fn export(
    out: &Path,
    labels: &LabelState,
    sources: &[PathBuf],
    mode: ExportMode,
) -> Result<ExportReport, LabelError> {
    // Everything is checked before anything is written.
    let mut missing = Vec::new();
    for (item, _) in labels.iter() {
        match sources.get(item.index()) {
            Some(p) if p.is_file() => {}
            Some(p) => missing.push(format!("item {} ({})", item.0, p.display())),
            None => missing.push(format!("item {} (no image)", item.0)),
        }
    }
    if !missing.is_empty() {
        return Err(err(format!(
            "cannot export: {} labelled item(s) have no readable image: {}",
            missing.len(),
            missing.join(", ")
        )));
    }
    if let Ok(canon_out) = std::fs::canonicalize(out)
        && sources
            .iter()
            .filter_map(|s| std::fs::canonicalize(s).ok())
            .any(|s| s.starts_with(&canon_out))
    {
        return Err(err(format!(
            "{} holds source images; export into another folder",
            out.display()
        )));
    }
    // Every label becomes a folder of OUT: each must be a plain name whose folder, if it
    // exists, is not a link out of OUT. Checked (and made) once per label, not per item.
    let label_dirs = labels
        .counts()
        .keys()
        .map(|label| label_dir(out, label).map_err(|e| err(format!("label {e}"))))
        .collect::<Result<Vec<PathBuf>, LabelError>>()?;
    std::fs::create_dir_all(out).map_err(|e| err(format!("{}: {e}", out.display())))?;
    for dir in &label_dirs {
        std::fs::create_dir_all(dir).map_err(|e| err(format!("{}: {e}", dir.display())))?;
    }
    let mut report = ExportReport::default();
    let manifest = out.join(MANIFEST);
    // Rows naming a path outside OUT were not made by an export: never touched.
    let old: BTreeMap<u32, Row> = read_manifest(out)?
        .into_iter()
        .filter(|(_, row)| match inside(out, &row.file) {
            Ok(_) => true,
            Err(why) => {
                report.refused.push(format!(
                    "{}: item {}: {why}; left alone",
                    manifest.display(),
                    row.item
                ));
                false
            }
        })
        .collect();
    let mut rows: BTreeMap<u32, Row> = BTreeMap::new();
    // Names already ours stay reserved while we place the others.
    let mut taken: HashSet<String> = old.values().map(|r| r.file.clone()).collect();

    // Items no longer labelled: take out the files this export made.
    for (item, row) in &old {
        if labels.get(ItemId(*item)).is_none() {
            let path = out.join(&row.file);
            if std::fs::symlink_metadata(&path).is_ok() {
                std::fs::remove_file(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
            }
            taken.remove(&row.file);
            report.removed += 1;
        }
    }
    for (item, label) in labels.iter() {
        let source = &sources[item.index()];
        let time_ms = labels.time_ms(item).unwrap_or(0);
        let source_text = source.display().to_string();
        let existing = old.get(&item.0).filter(|r| {
            r.source == source_text && std::fs::symlink_metadata(out.join(&r.file)).is_ok()
        });
        let file = match existing {
            Some(r) if r.label == label => {
                report.unchanged += 1;
                r.file.clone()
            }
            Some(r) => {
                // Label changed: move our file into the new label's folder.
                taken.remove(&r.file);
                let (rel, renamed) = free_name(out, label, source, item.0, &taken);
                std::fs::rename(out.join(&r.file), out.join(&rel))
                    .map_err(|e| err(format!("{}: {e}", out.join(&r.file).display())))?;
                report.moved += 1;
                report.renamed += usize::from(renamed);
                rel
            }
            None => {
                if let Some(r) = old.get(&item.0) {
                    // Ours but gone or from another source: drop the stale entry's name.
                    taken.remove(&r.file);
                    let stale = out.join(&r.file);
                    if std::fs::symlink_metadata(&stale).is_ok() {
                        std::fs::remove_file(&stale)
                            .map_err(|e| err(format!("{}: {e}", stale.display())))?;
                    }
                }
                if let Some(rel) = left_by_interrupted_export(out, label, source, &taken) {
                    // Placed by an export that died before writing its manifest: adopt it.
                    report.added += 1;
                    rel
                } else {
                    let (rel, renamed) = free_name(out, label, source, item.0, &taken);
                    place(source, &out.join(&rel), mode).map_err(|e| {
                        err(format!(
                            "{} → {}: {e}",
                            source.display(),
                            out.join(&rel).display()
                        ))
                    })?;
                    report.added += 1;
                    report.renamed += usize::from(renamed);
                    rel
                }
            }
        };
        taken.insert(file.clone());
        rows.insert(
            item.0,
            Row {
                item: item.0,
                source: source_text,
                label: label.to_owned(),
                time_ms,
                file,
            },
        );
    }
    write_manifest(out, &rows)?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four source images; items 0 and 1 share a file name in different folders.
    fn sources(dir: &Path) -> Vec<PathBuf> {
        let names = ["a/img.png", "b/img.png", "c/other.png", "c/third.png"];
        names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let p = dir.join(n);
                std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
                std::fs::write(&p, format!("image {i}")).expect("write");
                p
            })
            .collect()
    }

    fn state(assign: &[(u32, Option<&str>)]) -> LabelState {
        let mut s = LabelState::default();
        for (item, label) in assign {
            if let Some(b) = s.assign(&[ItemId(*item)], *label, 7) {
                s.replay(&b);
            }
        }
        s
    }

    fn tree(out: &Path) -> Vec<String> {
        let mut files = Vec::new();
        for label in std::fs::read_dir(out).expect("out") {
            let label = label.expect("entry").path();
            if label.is_dir() {
                for f in std::fs::read_dir(&label).expect("label dir") {
                    let f = f.expect("file").path();
                    files.push(format!(
                        "{}/{}={}",
                        label.file_name().expect("name").to_string_lossy(),
                        f.file_name().expect("name").to_string_lossy(),
                        std::fs::read_to_string(&f).expect("content")
                    ));
                }
            }
        }
        files.sort();
        files
    }

    #[test]
    fn collisions_get_stable_suffixes_and_updates_are_incremental() {
        let src = tempfile::tempdir().expect("src");
        let out = tempfile::tempdir().expect("out");
        let sources = sources(src.path());
        let s = state(&[
            (0, Some("positive")),
            (1, Some("positive")),
            (2, Some("negative")),
        ]);
        let r = export(out.path(), &s, &sources, ExportMode::Copy).expect("export");
        assert_eq!((r.added, r.renamed), (3, 1));
        assert_eq!(
            tree(out.path()),
            [
                "negative/other.png=image 2",
                "positive/img-1.png=image 1",
                "positive/img.png=image 0"
            ]
        );
        // A user's own file in the tree is never overwritten.
        std::fs::write(out.path().join("negative/third.png"), "mine").expect("user file");
        // Item 0 changes label, item 2 loses its label, item 3 is new.
        let s = state(&[
            (0, Some("negative")),
            (1, Some("positive")),
            (3, Some("negative")),
        ]);
        let r = export(out.path(), &s, &sources, ExportMode::Copy).expect("update");
        assert_eq!((r.added, r.moved, r.removed, r.unchanged), (1, 1, 1, 1));
        assert_eq!(
            tree(out.path()),
            [
                "negative/img.png=image 0",
                "negative/third-3.png=image 3",
                "negative/third.png=mine",
                "positive/img-1.png=image 1"
            ]
        );
        // The sources are untouched.
        for (i, p) in sources.iter().enumerate() {
            assert_eq!(
                std::fs::read_to_string(p).expect("src"),
                format!("image {i}")
            );
        }
        let csv = std::fs::read_to_string(out.path().join(MANIFEST)).expect("csv");
        assert_eq!(csv.lines().count(), 4);
        assert!(
            csv.lines()
                .any(|l| l.starts_with("3,") && l.ends_with(",negative,7,negative/third-3.png"))
        );
        // Nothing changed: nothing done.
        let r = export(out.path(), &s, &sources, ExportMode::Copy).expect("again");
        assert_eq!((r.added, r.moved, r.removed, r.unchanged), (0, 0, 0, 3));
    }

    #[test]
    fn copies_never_overwrite_and_are_not_repeated() {
        let src = tempfile::tempdir().expect("src");
        let dst = tempfile::tempdir().expect("dst");
        let sources = sources(src.path());
        let a = copy_without_overwrite(&sources[0], dst.path(), 0).expect("a");
        assert_eq!(a, dst.path().join("./img.png"));
        // The same file again: no second copy.
        assert_eq!(
            copy_without_overwrite(&sources[0], dst.path(), 0).expect("again"),
            a
        );
        // Another file of the same name: a suffix, the first one kept.
        let b = copy_without_overwrite(&sources[1], dst.path(), 1).expect("b");
        assert_eq!(b, dst.path().join("./img-1.png"));
        assert_eq!(std::fs::read_to_string(&a).expect("a"), "image 0");
        assert_eq!(std::fs::read_to_string(&b).expect("b"), "image 1");
    }

    #[test]
    fn an_export_killed_before_its_manifest_is_resumed_without_duplicates() {
        let src = tempfile::tempdir().expect("src");
        let out = tempfile::tempdir().expect("out");
        let sources = sources(src.path());
        let s = state(&[(2, Some("negative")), (3, Some("negative"))]);
        export(out.path(), &s, &sources, ExportMode::Copy).expect("export");
        // As if the process died after placing the files but before the manifest.
        std::fs::remove_file(out.path().join(MANIFEST)).expect("rm manifest");
        let r = export(out.path(), &s, &sources, ExportMode::Copy).expect("again");
        assert_eq!((r.added, r.renamed), (2, 0));
        assert_eq!(
            tree(out.path()),
            ["negative/other.png=image 2", "negative/third.png=image 3"]
        );
    }

    #[test]
    fn manifest_rows_outside_the_folder_are_refused_and_left_alone() {
        let src = tempfile::tempdir().expect("src");
        let root = tempfile::tempdir().expect("root");
        let out = root.path().join("out");
        let sources = sources(src.path());
        let s = state(&[(0, Some("positive")), (1, Some("negative"))]);
        export(&out, &s, &sources, ExportMode::Copy).expect("export");
        // Files the export must never touch: beside OUT, absolute, and behind a link.
        let victim = root.path().join("victim.txt");
        std::fs::write(&victim, "keep").expect("victim");
        let outside = root.path().join("elsewhere");
        std::fs::create_dir_all(&outside).expect("dir");
        std::fs::write(outside.join("x.png"), "keep too").expect("x");
        std::os::unix::fs::symlink(&outside, out.join("linked")).expect("link");
        let abs = victim.display().to_string();
        // Items 2 and 3 no longer labelled (their files would be removed), item 0 relabelled
        // (its file would be moved), item 1 unchanged but pointing away.
        let manifest = format!(
            "item,source,label,time_ms,file\n\
             0,{s0},positive,7,../victim.txt\n\
             1,{s1},negative,7,positive/../../victim.txt\n\
             2,x,positive,7,{abs}\n\
             3,x,positive,7,linked/x.png\n\
             4,x,positive,7,positive/deeper/x.png\n",
            s0 = sources[0].display(),
            s1 = sources[1].display(),
        );
        std::fs::write(out.join(MANIFEST), manifest).expect("manifest");
        let s = state(&[(0, Some("negative")), (1, Some("negative"))]);
        let r = export(&out, &s, &sources, ExportMode::Copy).expect("export");
        assert_eq!(r.refused.len(), 5, "{:?}", r.refused);
        assert!(r.refused[0].contains("item 0") && r.refused[0].contains("left alone"));
        assert_eq!(r.removed, 0);
        assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep");
        assert_eq!(
            std::fs::read_to_string(outside.join("x.png")).expect("x"),
            "keep too"
        );
        // The labelled items are exported afresh; the refused rows are gone from the manifest.
        let csv = std::fs::read_to_string(out.join(MANIFEST)).expect("csv");
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(!csv.contains("victim") && !csv.contains("linked"), "{csv}");
        assert!(out.join("negative/img.png").is_file());
    }

    #[test]
    fn labels_that_are_not_plain_folder_names_stop_the_export() {
        let src = tempfile::tempdir().expect("src");
        let root = tempfile::tempdir().expect("root");
        let out = root.path().join("out");
        let sources = sources(src.path());
        for bad in ["../../x", "/abs", "..", "a/b"] {
            let s = state(&[(0, Some("positive")), (1, Some(bad))]);
            let e = export(&out, &s, &sources, ExportMode::Copy).expect_err(bad);
            assert!(e.to_string().contains("cannot be a folder name"), "{e}");
        }
        assert!(!out.exists(), "nothing written");
        assert_eq!(std::fs::read_dir(root.path()).expect("root").count(), 0);
        // A label folder that is a link out of OUT is not written through.
        let outside = root.path().join("elsewhere");
        std::fs::create_dir_all(&out).expect("out");
        std::fs::create_dir_all(&outside).expect("outside");
        std::os::unix::fs::symlink(&outside, out.join("positive")).expect("link");
        let s = state(&[(0, Some("positive"))]);
        let e = export(&out, &s, &sources, ExportMode::Copy).expect_err("link");
        assert!(e.to_string().contains("not a folder"), "{e}");
        assert_eq!(std::fs::read_dir(&outside).expect("outside").count(), 0);
    }

    #[test]
    fn missing_sources_stop_the_export_before_it_writes() {
        let src = tempfile::tempdir().expect("src");
        let out = tempfile::tempdir().expect("out");
        let mut sources = sources(src.path());
        sources[1] = src.path().join("gone.png");
        let s = state(&[(0, Some("positive")), (1, Some("positive"))]);
        let e = export(&out.path().join("x"), &s, &sources, ExportMode::Hardlink);
        assert!(matches!(e, Err(LabelError::Export(ref m)) if m.contains("gone.png")));
        assert!(!out.path().join("x").exists());
    }
}
