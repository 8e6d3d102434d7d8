//! "Not an issue": the audit's findings a user has looked at and kept as they are, so the
//! explorer does not show them again. A small CSV (`kind,item`) beside the labels journal,
//! rewritten atomically on every change; a file we cannot read is reported and never
//! overwritten (it is the user's record).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The file's name inside the labels folder.
pub const FILE_NAME: &str = "not-issues.csv";
const HEADER: &str = "kind,item";

/// Which finding an item was cleared of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IssueKind {
    Label,
    Duplicate,
    Outlier,
    Fidelity,
    Leak,
}

impl IssueKind {
    pub const ALL: [Self; 5] = [
        Self::Label,
        Self::Duplicate,
        Self::Outlier,
        Self::Fidelity,
        Self::Leak,
    ];

    /// The word in the file.
    pub fn name(self) -> &'static str {
        match self {
            Self::Label => "label",
            Self::Duplicate => "duplicate",
            Self::Outlier => "outlier",
            Self::Fidelity => "fidelity",
            Self::Leak => "leak",
        }
    }

    fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == word)
    }
}

#[derive(Debug, Error)]
pub enum DismissedError {
    #[error("{path}: cannot read it ({source}); it is left as it is and nothing is marked")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} line {line}: {problem}; the file is left as it is (fix or move it to mark issues again)"
    )]
    Parse {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The marked findings, and where they are kept.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dismissed {
    marked: BTreeSet<(IssueKind, u32)>,
    /// `None`: kept in memory only (a headless screenshot writes nothing).
    path: Option<PathBuf>,
}

impl Dismissed {
    /// Read `path` (a missing file is an empty record) for a data set of `n_items`.
    pub fn load(path: &Path, n_items: usize) -> Result<Self, DismissedError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => {
                return Err(DismissedError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        let mut marked = BTreeSet::new();
        let bad = |line: usize, problem: String| DismissedError::Parse {
            path: path.to_owned(),
            line,
            problem,
        };
        for (at, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || (at == 0 && line == HEADER) {
                continue;
            }
            let Some((kind, item)) = line.split_once(',') else {
                return Err(bad(at + 1, format!("{line:?} is not kind,item")));
            };
            let kind = IssueKind::parse(kind.trim()).ok_or_else(|| {
                bad(
                    at + 1,
                    format!(
                        "unknown kind {kind:?} (one of label, duplicate, outlier, fidelity, leak)"
                    ),
                )
            })?;
            let item: u32 = item
                .trim()
                .parse()
                .map_err(|_| bad(at + 1, format!("item {item:?} is not a number")))?;
            if item as usize >= n_items {
                return Err(bad(
                    at + 1,
                    format!(
                        "item {item}, but the data set has {n_items} items (another data set's file?)"
                    ),
                ));
            }
            marked.insert((kind, item));
        }
        Ok(Self {
            marked,
            path: Some(path.to_owned()),
        })
    }

    /// A record that is never written.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// The same record, no longer written back (a headless screenshot changes nothing).
    pub fn detached(self) -> Self {
        Self { path: None, ..self }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn contains(&self, kind: IssueKind, item: u32) -> bool {
        self.marked.contains(&(kind, item))
    }

    pub fn len(&self) -> usize {
        self.marked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.marked.is_empty()
    }

    /// How many of `kind` are marked.
    pub fn count(&self, kind: IssueKind) -> usize {
        self.marked.iter().filter(|(k, _)| *k == kind).count()
    }

    /// Mark (`on`) or unmark `items` and save. On a write error nothing changes.
    pub fn set(&mut self, kind: IssueKind, items: &[u32], on: bool) -> Result<(), DismissedError> {
        let mut next = self.marked.clone();
        for &i in items {
            if on {
                next.insert((kind, i));
            } else {
                next.remove(&(kind, i));
            }
        }
        if let Some(path) = &self.path {
            let mut text = String::from(HEADER);
            text.push('\n');
            for (k, i) in &next {
                let _ = writeln!(text, "{},{i}", k.name());
            }
            crate::atomic::write_with(path, |f| f.write_all(text.as_bytes())).map_err(
                |source| DismissedError::Write {
                    path: path.clone(),
                    source,
                },
            )?;
        }
        self.marked = next;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_survive_a_reload_and_can_be_taken_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(FILE_NAME);
        let mut d = Dismissed::load(&path, 10).expect("missing file is empty");
        assert!(d.is_empty());
        d.set(IssueKind::Duplicate, &[3, 4], true).expect("save");
        d.set(IssueKind::Label, &[7], true).expect("save");
        let again = Dismissed::load(&path, 10).expect("reload");
        assert!(again.contains(IssueKind::Duplicate, 3));
        assert!(again.contains(IssueKind::Label, 7));
        assert!(!again.contains(IssueKind::Label, 3));
        assert_eq!(again.count(IssueKind::Duplicate), 2);
        d.set(IssueKind::Duplicate, &[3], false).expect("save");
        let again = Dismissed::load(&path, 10).expect("reload");
        assert!(!again.contains(IssueKind::Duplicate, 3));
        assert_eq!(again.len(), 2);
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "kind,item\nlabel,7\nduplicate,4\n"
        );
    }

    #[test]
    fn a_bad_file_is_named_and_left_alone() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join(FILE_NAME);
        for (text, says) in [
            ("kind,item\nlabel;3\n", "line 2"),
            ("kind,item\nblurry,3\n", "unknown kind"),
            ("kind,item\nlabel,x\n", "not a number"),
            ("kind,item\noutlier,10\n", "another data set"),
        ] {
            std::fs::write(&path, text).expect("write");
            let e = Dismissed::load(&path, 10).expect_err(text).to_string();
            assert!(e.contains(says) && e.contains(FILE_NAME), "{e}");
            assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
        }
    }

    #[test]
    fn in_memory_marks_write_nothing() {
        let mut d = Dismissed::in_memory();
        d.set(IssueKind::Outlier, &[1], true).expect("no file");
        assert!(d.contains(IssueKind::Outlier, 1));
        assert!(d.path().is_none());
    }
}
