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
        "{path}: line {line} {reason}; the journal is left untouched — if it belongs to another data \
         set, give this one its own {labels_out}; otherwise move it aside to start afresh, or repair that line",
        labels_out = crate::hint::LABELS_OUT
    )]
    Invalid {
        path: std::path::PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "{path} is held by another ivt-explore{}; two explorers writing one labels folder would \
         interleave their journals. Close the other one, or use another --labels-out",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
    )]
    Locked {
        path: std::path::PathBuf,
        /// The holder's pid as it wrote it; `None` while it has not written it yet.
        pid: Option<u32>,
    },
    #[error("{0}")]
    Export(String),
}

/// Whether `name` can be a label: the export makes a folder of each label under its output
/// folder, so a label must be one plain folder name — not empty, not `.` or `..`, no slash,
/// backslash or control character. One rule for `--label-names`, the journal (written and
/// replayed) and the export, so a label read back from a file can never lead outside it.
pub fn check_name(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        return Err(format!(
            "{name:?} cannot be a folder name (empty, '.', '..', a slash or a control character)"
        ));
    }
    Ok(())
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
            check_name(n).map_err(LabelError::BadNames)?;
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
///
/// The names are shared: a lasso over half a million items makes one name, not a million.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub item: u32,
    pub from: Option<Arc<str>>,
    pub to: Option<Arc<str>>,
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

/// A change as label codes (see [`LabelState::codes`]): the undo stack holds 12 bytes per
/// change instead of a [`Change`] with its two names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    item: u32,
    from: u32,
    to: u32,
}

/// Labels in force, with the undo and redo stacks, as replayed from batches.
///
/// One code per item rather than a map: replaying a lasso over half a million items was
/// 180 ms of map inserts on the main thread, and the panel's per-label counts a pass over
/// every labelled item each frame.
#[derive(Debug, Clone, Default)]
pub struct LabelState {
    /// Label code per item, up to the highest item ever labelled: 0 none, `k` `names[k - 1]`.
    codes: Vec<u32>,
    /// When each item got its current label (ms since the epoch; meaningless where code 0).
    times: Vec<u64>,
    /// Every name seen, in order of first use; codes are never reused.
    names: Vec<Arc<str>>,
    /// Code of each name (an undo can restore a thousand class names).
    index: std::collections::HashMap<Arc<str>, u32>,
    /// Items carrying each name (index = code − 1).
    counts: Vec<usize>,
    labelled: usize,
    /// Batches that can be undone (their changes), most recent last.
    undo: Vec<Vec<Step>>,
    redo: Vec<Vec<Step>>,
    next_seq: u64,
}

/// Same labels (and times), same history: how codes were numbered does not matter.
impl PartialEq for LabelState {
    fn eq(&self, other: &Self) -> bool {
        let history = |s: &Self, stack: &[Vec<Step>]| -> Vec<Vec<Change>> {
            stack
                .iter()
                .map(|b| s.batch(BatchKind::Assign, b.iter().copied(), 0).changes)
                .collect()
        };
        let labelled = |s: &Self| -> Vec<(ItemId, String, u64)> {
            s.iter()
                .map(|(i, l)| (i, l.to_owned(), s.times[i.0 as usize]))
                .collect()
        };
        self.next_seq == other.next_seq
            && labelled(self) == labelled(other)
            && history(self, &self.undo) == history(other, &other.undo)
            && history(self, &self.redo) == history(other, &other.redo)
    }
}

impl Eq for LabelState {}

impl LabelState {
    fn code(&self, item: ItemId) -> u32 {
        self.codes.get(item.0 as usize).copied().unwrap_or(0)
    }

    fn name(&self, code: u32) -> Option<Arc<str>> {
        code.checked_sub(1)
            .and_then(|k| self.names.get(k as usize))
            .cloned()
    }

    /// The code of `name` (0 for none), if it has one.
    fn code_of(&self, name: Option<&str>) -> Option<u32> {
        match name {
            None => Some(0),
            Some(name) => self.index.get(name).copied(),
        }
    }

    /// The code of `name`, made if new.
    fn intern(&mut self, name: Option<&str>) -> u32 {
        if let Some(code) = self.code_of(name) {
            return code;
        }
        let name: Arc<str> = Arc::from(name.unwrap_or_default());
        self.names.push(Arc::clone(&name));
        self.counts.push(0);
        let code = self.names.len() as u32;
        self.index.insert(name, code);
        code
    }

    pub fn get(&self, item: ItemId) -> Option<&str> {
        let code = self.code(item);
        (code > 0).then(|| self.names[code as usize - 1].as_ref())
    }

    /// (item, label) in item order.
    pub fn iter(&self) -> impl Iterator<Item = (ItemId, &str)> {
        self.codes
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c > 0)
            .map(|(i, &c)| (ItemId(i as u32), self.names[c as usize - 1].as_ref()))
    }

    pub fn len(&self) -> usize {
        self.labelled
    }

    pub fn is_empty(&self) -> bool {
        self.labelled == 0
    }

    /// How many items carry each label.
    pub fn counts(&self) -> BTreeMap<&str, usize> {
        self.names
            .iter()
            .zip(&self.counts)
            .filter(|&(_, &n)| n > 0)
            .map(|(l, &n)| (l.as_ref(), n))
            .collect()
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    fn apply(&mut self, steps: &[Step], time_ms: u64) {
        for s in steps {
            let i = s.item as usize;
            if i >= self.codes.len() {
                if s.to == 0 {
                    continue;
                }
                self.codes.resize(i + 1, 0);
                self.times.resize(i + 1, 0);
            }
            let old = std::mem::replace(&mut self.codes[i], s.to);
            match old {
                0 => self.labelled += 1,
                k => self.counts[k as usize - 1] -= 1,
            }
            match s.to {
                0 => self.labelled -= 1,
                k => {
                    self.counts[k as usize - 1] += 1;
                    self.times[i] = time_ms;
                }
            }
        }
    }

    /// When `item` got its current label (ms since the epoch).
    pub fn time_ms(&self, item: ItemId) -> Option<u64> {
        (self.code(item) > 0).then(|| self.times[item.0 as usize])
    }

    /// Replay one batch (from the journal or just written).
    pub fn replay(&mut self, batch: &Batch) {
        let steps: Vec<Step> = batch
            .changes
            .iter()
            .map(|c| Step {
                item: c.item,
                from: self.intern(c.from.as_deref()),
                to: self.intern(c.to.as_deref()),
            })
            .collect();
        self.apply(&steps, batch.time_ms);
        match batch.kind {
            BatchKind::Assign => {
                self.undo.push(steps);
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

    /// A batch of `steps` as written to the journal, each name shared.
    fn batch(&self, kind: BatchKind, steps: impl Iterator<Item = Step>, time_ms: u64) -> Batch {
        Batch {
            seq: self.next_seq,
            time_ms,
            kind,
            changes: steps
                .map(|s| Change {
                    item: s.item,
                    from: self.name(s.from),
                    to: self.name(s.to),
                })
                .collect(),
        }
    }

    /// The batch that gives `items` the label `to` (`None`: remove), or `None` if it would
    /// change nothing. Items already carrying `to` are left out.
    pub fn assign(&self, items: &[ItemId], to: Option<&str>, time_ms: u64) -> Option<Batch> {
        // A name not used yet has no code: u32::MAX stands for it (no item carries it).
        let to_code = self.code_of(to).unwrap_or(u32::MAX);
        // Repeats dropped with a bitmap: a BTreeSet cost ~70 ms at half a million items.
        let mut seen = vec![
            0u64;
            items
                .iter()
                .map(|i| i.0 as usize / 64 + 1)
                .max()
                .unwrap_or(0)
        ];
        let steps: Vec<Step> = items
            .iter()
            .filter(|i| {
                let (word, bit) = (i.0 as usize / 64, 1u64 << (i.0 % 64));
                let new = seen[word] & bit == 0;
                seen[word] |= bit;
                new
            })
            .filter_map(|&i| {
                let from = self.code(i);
                (from != to_code).then_some(Step {
                    item: i.0,
                    from,
                    to: to_code,
                })
            })
            .collect();
        if steps.is_empty() {
            return None;
        }
        // Written out here rather than by `batch`: `to` may be a name without a code yet.
        let to: Option<Arc<str>> =
            to.map(|name| self.name(to_code).unwrap_or_else(|| Arc::from(name)));
        Some(Batch {
            seq: self.next_seq,
            time_ms,
            kind: BatchKind::Assign,
            changes: steps
                .into_iter()
                .map(|s| Change {
                    item: s.item,
                    from: self.name(s.from),
                    to: to.clone(),
                })
                .collect(),
        })
    }

    /// The batch that gives each item its own label (`None`: remove), or `None` if it would
    /// change nothing: `ivt-explore label --from-csv`, one undoable batch however many labels
    /// it gives. An item given twice keeps the last; items already carrying theirs are left out.
    pub fn assign_each(&self, pairs: &[(ItemId, Option<&str>)], time_ms: u64) -> Option<Batch> {
        let mut last: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
        for (at, (item, _)) in pairs.iter().enumerate() {
            last.insert(item.0, at);
        }
        let mut names: std::collections::HashMap<&str, Arc<str>> = std::collections::HashMap::new();
        let changes: Vec<Change> = pairs
            .iter()
            .enumerate()
            .filter(|&(at, (item, _))| last.get(&item.0) == Some(&at))
            .filter(|(_, (item, to))| self.get(*item) != *to)
            .map(|(_, &(item, to))| Change {
                item: item.0,
                from: self.name(self.code(item)),
                to: to.map(|name| {
                    Arc::clone(names.entry(name).or_insert_with(|| {
                        self.code_of(Some(name))
                            .and_then(|c| self.name(c))
                            .unwrap_or_else(|| Arc::from(name))
                    }))
                }),
            })
            .collect();
        (!changes.is_empty()).then_some(Batch {
            seq: self.next_seq,
            time_ms,
            kind: BatchKind::Assign,
            changes,
        })
    }

    /// Every label name the journal has used, in order of first use.
    pub fn known_names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .map(|n| n.as_ref())
            .filter(|n| !n.is_empty())
    }

    /// The batch that undoes the last assignment, if any.
    pub fn undo_batch(&self, time_ms: u64) -> Option<Batch> {
        self.undo.last().map(|steps| {
            let inverse = steps.iter().rev().map(|s| Step {
                item: s.item,
                from: s.to,
                to: s.from,
            });
            self.batch(BatchKind::Undo, inverse, time_ms)
        })
    }

    /// The batch that redoes the last undone assignment, if any.
    pub fn redo_batch(&self, time_ms: u64) -> Option<Batch> {
        self.redo
            .last()
            .map(|steps| self.batch(BatchKind::Redo, steps.iter().copied(), time_ms))
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
    fn one_batch_gives_each_item_its_own_label_and_undoes_as_one() {
        let mut state = LabelState::default();
        let first = state
            .assign(&ids(&[1]), Some("positive"), 1)
            .expect("a change");
        state.replay(&first);
        let batch = state
            .assign_each(
                &[
                    (ItemId(1), Some("positive")), // already: left out
                    (ItemId(2), Some("negative")),
                    (ItemId(3), Some("cat")),
                    (ItemId(2), Some("positive")), // the last one given wins
                    (ItemId(4), None),             // nothing to remove
                ],
                2,
            )
            .expect("changes");
        let changes: Vec<(u32, Option<&str>)> = batch
            .changes
            .iter()
            .map(|c| (c.item, c.to.as_deref()))
            .collect();
        assert_eq!(changes, [(3, Some("cat")), (2, Some("positive"))]);
        state.replay(&batch);
        assert_eq!(state.get(ItemId(2)), Some("positive"));
        assert_eq!(state.get(ItemId(3)), Some("cat"));
        assert_eq!(state.known_names().collect::<Vec<_>>(), ["positive", "cat"]);
        let undo = state.undo_batch(3).expect("undo");
        state.replay(&undo);
        assert_eq!((state.get(ItemId(2)), state.get(ItemId(3))), (None, None));
        assert_eq!(state.get(ItemId(1)), Some("positive"));
        assert!(
            state
                .assign_each(&[(ItemId(1), Some("positive"))], 4)
                .is_none()
        );
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

    /// The per-item codes against a plain map, through random assignments, undos and redos
    /// with many names (an undo restores several names at once), and a replay from the
    /// batches alone (as after a restart) ends in an equal state.
    #[test]
    fn codes_agree_with_a_plain_map() {
        let mut rng = 7u64;
        let mut next = |m: u64| {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 33) % m
        };
        let mut s = LabelState::default();
        let mut model: BTreeMap<u32, String> = BTreeMap::new();
        let mut written = Vec::new();
        for step in 0..400u64 {
            let batch = match next(5) {
                0 => s.undo_batch(step),
                1 => s.redo_batch(step),
                _ => {
                    let items: Vec<ItemId> =
                        (0..next(20)).map(|_| ItemId(next(300) as u32)).collect();
                    let name = format!("class{}", next(12));
                    let to = (next(6) > 0).then_some(name.as_str());
                    s.assign(&items, to, step)
                }
            };
            let Some(batch) = batch else { continue };
            for c in &batch.changes {
                assert_eq!(model.get(&c.item).map(String::as_str), c.from.as_deref());
                match &c.to {
                    Some(l) => model.insert(c.item, l.to_string()),
                    None => model.remove(&c.item),
                };
            }
            s.replay(&batch);
            written.push(batch);
            let got: Vec<(u32, &str)> = s.iter().map(|(i, l)| (i.0, l)).collect();
            let want: Vec<(u32, &str)> = model.iter().map(|(&i, l)| (i, l.as_str())).collect();
            assert_eq!(got, want, "after step {step}");
            assert_eq!(s.len(), model.len());
            let mut counts = BTreeMap::new();
            for l in model.values() {
                *counts.entry(l.as_str()).or_insert(0) += 1;
            }
            assert_eq!(s.counts(), counts);
        }
        assert!(written.iter().any(|b| b.kind == BatchKind::Undo));
        let mut again = LabelState::default();
        for b in &written {
            again.replay(b);
        }
        assert_eq!(again, s);
        let mut other = LabelState::default();
        other.replay(&written[0]);
        assert_ne!(other, s);
    }
}
