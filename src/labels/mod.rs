//! Labels the user gives items, kept so that no work is ever lost.
//!
//! Every change is a *batch* (one click, one key, one lasso: the unit of undo) appended to a
//! journal ([`journal`]) and fsynced before it counts; the labels in force are the journal
//! replayed. Undo and redo are batches too (the inverse or the re-applied changes), so the
//! undo history survives a restart exactly as it was. [`export`] writes an ImageFolder tree and
//! a CSV from the labels, never touching the source images.

pub mod export;
pub mod journal;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::dataset::ItemId;

#[derive(Debug, Error)]
pub enum LabelError {
    #[error("label names: {0}")]
    BadNames(String),
    #[error("unknown label {0:?} (known: {1})")]
    UnknownLabel(String, String),
    #[error("item {item} is out of range: the data set has {n_items} items")]
    ItemOutOfRange { item: u32, n_items: usize },
    #[error("{path}: {what}")]
    Io {
        path: std::path::PathBuf,
        what: String,
    },
    #[error(
        "{path}: line {line} is not a journal record ({reason}); the journal is damaged before its end, \
         so it is left untouched — move it aside to start afresh, or repair that line"
    )]
    Corrupt {
        path: std::path::PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "{path} is held by another ivt-explore (pid {pid}); two explorers writing one labels folder would \
         interleave their journals. Close the other one, or use another --labels-out"
    )]
    Locked { path: std::path::PathBuf, pid: u32 },
    #[error("{0}")]
    Export(String),
}

/// The names labels can take; index = hotkey − 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelSet {
    names: Vec<String>,
}

impl Default for LabelSet {
    fn default() -> Self {
        Self {
            names: vec!["positive".to_owned(), "negative".to_owned()],
        }
    }
}

impl LabelSet {
    /// From `--labels a,b,c`: 1 to 9 distinct names usable as folder names.
    pub fn parse(spec: &str) -> Result<Self, LabelError> {
        let names: Vec<String> = spec.split(',').map(|s| s.trim().to_owned()).collect();
        if names.is_empty() || names.len() > 9 {
            return Err(LabelError::BadNames(format!(
                "give 1 to 9 comma-separated names (hotkeys 1–9), got {}",
                names.len()
            )));
        }
        for (i, n) in names.iter().enumerate() {
            let bad = n.is_empty()
                || n == "."
                || n == ".."
                || n.chars().any(|c| c == '/' || c == '\\' || c.is_control());
            if bad {
                return Err(LabelError::BadNames(format!(
                    "{n:?} cannot be a folder name (empty, '.', '..', a slash or a control character)"
                )));
            }
            if names[..i].contains(n) {
                return Err(LabelError::BadNames(format!("{n:?} is given twice")));
            }
        }
        Ok(Self { names })
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// The label of hotkey `n` (1-based).
    pub fn by_hotkey(&self, n: usize) -> Option<&str> {
        n.checked_sub(1)
            .and_then(|i| self.names.get(i))
            .map(String::as_str)
    }
}

/// One item's label before and after a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub item: u32,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What a batch was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BatchKind {
    Assign,
    Undo,
    Redo,
}

/// One journal record: the unit of undo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub kind: BatchKind,
    pub changes: Vec<Change>,
}

/// Labels in force, with the undo and redo stacks, as replayed from batches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelState {
    /// Shared names (few distinct labels, up to millions of items): a batch of half a million
    /// changes made half a million strings when each item owned its own.
    labels: BTreeMap<u32, Arc<str>>,
    /// When each item got its current label (ms since the epoch).
    times: BTreeMap<u32, u64>,
    /// Batches that can be undone (their changes), most recent last.
    undo: Vec<Vec<Change>>,
    redo: Vec<Vec<Change>>,
    next_seq: u64,
}

impl LabelState {
    pub fn get(&self, item: ItemId) -> Option<&str> {
        self.labels.get(&item.0).map(AsRef::as_ref)
    }

    /// (item, label) in item order.
    pub fn iter(&self) -> impl Iterator<Item = (ItemId, &str)> {
        self.labels.iter().map(|(&i, l)| (ItemId(i), l.as_ref()))
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// How many items carry each label.
    pub fn counts(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for l in self.labels.values() {
            *counts.entry(l.as_ref()).or_insert(0) += 1;
        }
        counts
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    fn apply(&mut self, changes: &[Change], time_ms: u64) {
        // The batch's names, each made once: one target name for an assignment, but an undo
        // restores whatever each item had, which may be many class names.
        let mut names: std::collections::HashMap<&str, Arc<str>> = Default::default();
        for c in changes {
            match &c.to {
                Some(l) => {
                    let name = names
                        .entry(l.as_str())
                        .or_insert_with(|| Arc::from(l.as_str()));
                    self.labels.insert(c.item, Arc::clone(name));
                    self.times.insert(c.item, time_ms);
                }
                None => {
                    self.labels.remove(&c.item);
                    self.times.remove(&c.item);
                }
            }
        }
    }

    /// When `item` got its current label (ms since the epoch).
    pub fn time_ms(&self, item: ItemId) -> Option<u64> {
        self.times.get(&item.0).copied()
    }

    /// Replay one batch (from the journal or just written).
    pub fn replay(&mut self, batch: &Batch) {
        self.apply(&batch.changes, batch.time_ms);
        match batch.kind {
            BatchKind::Assign => {
                self.undo.push(batch.changes.clone());
                self.redo.clear();
            }
            BatchKind::Undo => {
                if let Some(done) = self.undo.pop() {
                    self.redo.push(done);
                }
            }
            BatchKind::Redo => {
                if let Some(done) = self.redo.pop() {
                    self.undo.push(done);
                }
            }
        }
        self.next_seq = self.next_seq.max(batch.seq + 1);
    }

    /// The batch that gives `items` the label `to` (`None`: remove), or `None` if it would
    /// change nothing. Items already carrying `to` are left out.
    pub fn assign(&self, items: &[ItemId], to: Option<&str>, time_ms: u64) -> Option<Batch> {
        // Repeats dropped with a bitmap: a BTreeSet cost ~70 ms at half a million items.
        let mut seen = vec![
            0u64;
            items
                .iter()
                .map(|i| i.0 as usize / 64 + 1)
                .max()
                .unwrap_or(0)
        ];
        let changes: Vec<Change> = items
            .iter()
            .filter(|i| {
                let (word, bit) = (i.0 as usize / 64, 1u64 << (i.0 % 64));
                let new = seen[word] & bit == 0;
                seen[word] |= bit;
                new
            })
            .filter_map(|&i| {
                let from = self.get(i);
                (from != to).then(|| Change {
                    item: i.0,
                    from: from.map(str::to_owned),
                    to: to.map(str::to_owned),
                })
            })
            .collect();
        (!changes.is_empty()).then_some(Batch {
            seq: self.next_seq,
            time_ms,
            kind: BatchKind::Assign,
            changes,
        })
    }

    /// The batch that undoes the last assignment, if any.
    pub fn undo_batch(&self, time_ms: u64) -> Option<Batch> {
        self.undo.last().map(|changes| Batch {
            seq: self.next_seq,
            time_ms,
            kind: BatchKind::Undo,
            changes: changes
                .iter()
                .rev()
                .map(|c| Change {
                    item: c.item,
                    from: c.to.clone(),
                    to: c.from.clone(),
                })
                .collect(),
        })
    }

    /// The batch that redoes the last undone assignment, if any.
    pub fn redo_batch(&self, time_ms: u64) -> Option<Batch> {
        self.redo.last().map(|changes| Batch {
            seq: self.next_seq,
            time_ms,
            kind: BatchKind::Redo,
            changes: changes.clone(),
        })
    }
}

/// Where labels of data set `name` live unless `--labels-out` says otherwise:
/// `./ivt-labels/<name>` with the name made safe as a folder name.
pub fn default_dir(dataset_name: &str) -> std::path::PathBuf {
    let safe: String = dataset_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_matches('_');
    std::path::Path::new("ivt-labels").join(if safe.is_empty() { "data" } else { safe })
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u32]) -> Vec<ItemId> {
        v.iter().map(|&i| ItemId(i)).collect()
    }

    #[test]
    fn label_names_are_checked() {
        assert_eq!(LabelSet::default().by_hotkey(2), Some("negative"));
        let s = LabelSet::parse("cat, dog,bird").expect("names");
        assert_eq!(s.names(), ["cat", "dog", "bird"]);
        assert_eq!(s.by_hotkey(0), None);
        assert_eq!(s.by_hotkey(4), None);
        for bad in ["a,a", "a,,b", "x/y", "..", "1,2,3,4,5,6,7,8,9,10"] {
            assert!(LabelSet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn undo_and_redo_walk_the_history() {
        let mut s = LabelState::default();
        let b1 = s.assign(&ids(&[1, 2, 3]), Some("positive"), 0).expect("b1");
        s.replay(&b1);
        let b2 = s.assign(&ids(&[3, 4]), Some("negative"), 0).expect("b2");
        assert_eq!(b2.changes.len(), 2);
        s.replay(&b2);
        // Re-assigning what is already there changes nothing: no batch.
        assert!(s.assign(&ids(&[4]), Some("negative"), 0).is_none());
        assert_eq!(s.get(ItemId(3)), Some("negative"));
        let u = s.undo_batch(0).expect("undo");
        s.replay(&u);
        assert_eq!(s.get(ItemId(3)), Some("positive"));
        assert_eq!(s.get(ItemId(4)), None);
        let u = s.undo_batch(0).expect("undo");
        s.replay(&u);
        assert!(s.is_empty());
        assert!(!s.can_undo());
        let r = s.redo_batch(0).expect("redo");
        s.replay(&r);
        assert_eq!(s.len(), 3);
        // A new assignment clears the redo stack.
        let b3 = s.assign(&ids(&[9]), None, 0);
        assert!(b3.is_none(), "removing a label nobody has is no change");
        let b3 = s.assign(&ids(&[1]), None, 0).expect("b3");
        s.replay(&b3);
        assert!(!s.can_redo());
        assert_eq!(s.counts().get("positive"), Some(&2));
        // Sequence numbers keep increasing.
        assert!(b3.seq > r.seq && r.seq > b2.seq);
    }
}
