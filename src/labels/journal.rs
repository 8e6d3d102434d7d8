//! The labels journal: JSON lines, appended and fsynced one batch at a time, replayed at start.
//!
//! Why JSON lines rather than SQLite: one record per line is append-only by construction, a torn
//! write can only damage the last line (detected and cut off on the next start), the file is
//! readable and repairable with any editor, and it costs no C dependency. A lock keeps a second
//! explorer from interleaving its batches with ours.
//!
//! The journal is a file anyone can edit, so nothing in it is trusted: every record is checked
//! against the data set it is opened for (items in range, label names that are plain folder
//! names, [`super::check_name`]) on replay and before each append. A record that fails is an
//! error naming its line, before anything is allocated for it — a record naming item 4·10⁹
//! must not size a 16 GB table.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::{Batch, LabelError, LabelState};

pub const JOURNAL_FILE: &str = "labels.jsonl";
pub const LOCK_FILE: &str = "labels.lock";

/// An open journal: appends go to disk before they count.
pub struct Journal {
    path: PathBuf,
    file: File,
    /// Items of the data set it was opened for: appends are checked against it.
    n_items: usize,
    _lock: Lock,
}

/// What opening found besides the state: problems that lost nothing but should be said.
#[derive(Debug, Default)]
pub struct Opened {
    pub warnings: Vec<String>,
}

fn io_err(path: &Path, what: impl std::fmt::Display) -> LabelError {
    LabelError::Io {
        path: path.to_owned(),
        what: what.to_string(),
    }
}

/// An exclusive `flock` on `labels.lock`, held while the journal is open.
///
/// The kernel takes the lock atomically and releases it when the process ends, however it
/// ends: there is no stale lock to judge, and no moment at which a lock file another process
/// has created but not yet written looks abandoned (the race of a pid-file lock). The pid
/// written inside is only for the message a second explorer gets. The file is left in place
/// when the journal closes: removing it would let a third process lock a new file while a
/// second still waits on the old one.
struct Lock {
    _file: File,
}

impl Lock {
    fn take(dir: &Path, warnings: &mut Vec<String>) -> Result<Self, LabelError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut text = String::new();
                // The holder may not have written its pid yet: then the message has none.
                let _ = file.read_to_string(&mut text);
                return Err(LabelError::Locked {
                    path,
                    pid: text.trim().parse().ok(),
                });
            }
            Err(std::fs::TryLockError::Error(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
                // Some network filesystems have no locks: labelling still works, unguarded.
                warnings.push(format!(
                    "{}: this filesystem cannot lock files; do not open this labels folder in two explorers at once",
                    path.display()
                ));
                return Ok(Self { _file: file });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path, e)),
        }
        file.set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .map_err(|e| io_err(&path, e))?;
        Ok(Self { _file: file })
    }
}

/// Why `batch` cannot be part of the journal of a data set of `n_items`: an item out of range,
/// or a label name that is not a plain folder name.
fn check_batch(batch: &Batch, n_items: usize) -> Result<(), String> {
    // A lasso's half a million changes share a name or two: each distinct name checked once.
    let mut names_ok: Vec<&str> = Vec::new();
    for c in &batch.changes {
        if c.item as usize >= n_items {
            return Err(format!(
                "labels item {}, but the data set has {n_items} items (0 to {})",
                c.item,
                n_items.saturating_sub(1)
            ));
        }
        for name in [&c.from, &c.to].into_iter().flatten() {
            if !names_ok.contains(&name.as_ref()) {
                super::check_name(name)
                    .map_err(|e| format!("has a label that is not a plain folder name: {e}"))?;
                names_ok.push(name);
            }
        }
    }
    Ok(())
}

/// Open (or create) the journal in `dir` for a data set of `n_items`, replay it, and keep it
/// open for appends. A torn last record (a crash mid-write) is cut off with a warning; damage
/// before the end, or a record that does not fit the data set, is an error.
pub fn open(dir: &Path, n_items: usize) -> Result<(Journal, LabelState, Opened), LabelError> {
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let mut opened = Opened::default();
    let lock = Lock::take(dir, &mut opened.warnings)?;
    let path = dir.join(JOURNAL_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| io_err(&path, e))?;
    let (state, good_len) = replay(&path, &bytes, n_items, &mut opened.warnings)?;
    if good_len < bytes.len() {
        file.set_len(good_len as u64)
            .map_err(|e| io_err(&path, e))?;
        file.sync_all().map_err(|e| io_err(&path, e))?;
    }
    Ok((
        Journal {
            path,
            file,
            n_items,
            _lock: lock,
        },
        state,
        opened,
    ))
}

/// The labels in `dir` without opening the journal for writing (no lock, no repair): for
/// exports while an explorer may be labelling. A torn last record is skipped with a warning.
pub fn read(dir: &Path, n_items: usize) -> Result<(LabelState, Vec<String>), LabelError> {
    let path = dir.join(JOURNAL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(io_err(
                &path,
                format!(
                    "no labels journal here (nothing was labelled with this {})",
                    crate::hint::LABELS_OUT
                ),
            ));
        }
        Err(e) => return Err(io_err(&path, e)),
    };
    let mut warnings = Vec::new();
    let (state, _) = replay(&path, &bytes, n_items, &mut warnings)?;
    Ok((state, warnings))
}

/// Replay journal bytes for a data set of `n_items`: the state and how many leading bytes are
/// sound.
pub fn replay(
    path: &Path,
    bytes: &[u8],
    n_items: usize,
    warnings: &mut Vec<String>,
) -> Result<(LabelState, usize), LabelError> {
    let mut state = LabelState::default();
    let mut offset = 0;
    let mut line_no = 0;
    while offset < bytes.len() {
        line_no += 1;
        let rest = &bytes[offset..];
        let (line, next, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(end) => (&rest[..end], offset + end + 1, true),
            None => (rest, bytes.len(), false),
        };
        let is_last = next >= bytes.len();
        let parsed = std::str::from_utf8(line)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str::<Batch>(s).map_err(|e| e.to_string()));
        match parsed {
            Ok(batch) if complete => {
                // A whole record that does not fit: not a torn write, wherever it stands.
                check_batch(&batch, n_items).map_err(|reason| LabelError::Invalid {
                    path: path.to_owned(),
                    line: line_no,
                    reason,
                })?;
                state.replay(&batch);
                offset = next;
            }
            Err(reason) if !is_last => {
                return Err(LabelError::Corrupt {
                    path: path.to_owned(),
                    line: line_no,
                    reason,
                });
            }
            // A record without its newline, or an unreadable last line: the write that was
            // under way when the process died. Everything before it is intact.
            _ => {
                warnings.push(format!(
                    "{}: the last record (line {line_no}, {} bytes) was cut off by an interrupted write; dropped",
                    path.display(),
                    line.len()
                ));
                return Ok((state, offset));
            }
        }
    }
    Ok((state, offset))
}

impl Journal {
    /// Write `batch` as one line and sync it to disk; only then is it part of the record.
    pub fn append(&mut self, batch: &Batch) -> Result<(), LabelError> {
        // What replay would refuse is never written: the journal stays readable.
        check_batch(batch, self.n_items)
            .map_err(|e| io_err(&self.path, format!("not written: the batch {e}")))?;
        let mut line = serde_json::to_vec(batch).map_err(|e| io_err(&self.path, e))?;
        line.push(b'\n');
        // One write call: a crash leaves at most this record torn, never an earlier one.
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| io_err(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::ItemId;

    /// Items of the data set the tests' journals belong to.
    const N: usize = 100;

    fn ids(v: &[u32]) -> Vec<ItemId> {
        v.iter().map(|&i| ItemId(i)).collect()
    }

    /// Label, label again, undo: three records.
    fn write_history(dir: &Path) -> LabelState {
        let (mut j, mut s, _) = open(dir, N).expect("open");
        for (items, label) in [(vec![1, 2, 3], "positive"), (vec![3, 7], "negative")] {
            let b = s.assign(&ids(&items), Some(label), 5).expect("batch");
            j.append(&b).expect("append");
            s.replay(&b);
        }
        let u = s.undo_batch(6).expect("undo");
        j.append(&u).expect("append");
        s.replay(&u);
        s
    }

    #[test]
    fn a_relaunch_replays_labels_and_undo_history() {
        let dir = tempfile::tempdir().expect("tempdir");
        let before = write_history(dir.path());
        let (_j, after, opened) = open(dir.path(), N).expect("reopen");
        assert!(opened.warnings.is_empty(), "{:?}", opened.warnings);
        assert_eq!(after, before);
        assert_eq!(after.get(ItemId(3)), Some("positive"));
        assert!(after.can_redo());
    }

    #[test]
    fn a_second_explorer_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = open(dir.path(), N).expect("first");
        match open(dir.path(), N) {
            Err(LabelError::Locked { pid, .. }) => assert_eq!(pid, Some(std::process::id())),
            other => panic!("expected Locked, got {:?}", other.map(|_| ())),
        }
        drop(first);
        // A lock file left by a process that died (its pid inside, no lock held): free.
        std::fs::write(dir.path().join(LOCK_FILE), "4294967295\n").expect("left over");
        let (_, _, opened) = open(dir.path(), N).expect("take over");
        assert!(opened.warnings.is_empty(), "{:?}", opened.warnings);
    }

    #[test]
    fn a_lock_taken_but_not_yet_written_still_holds() {
        // Another process between creating the lock file and writing its pid: the lock is
        // the kernel's, so the empty file is not mistaken for a stale one and deleted.
        let dir = tempfile::tempdir().expect("tempdir");
        let other = File::create(dir.path().join(LOCK_FILE)).expect("create");
        other.lock().expect("lock");
        match open(dir.path(), N) {
            Err(e @ LabelError::Locked { pid: None, .. }) => {
                assert!(
                    e.to_string().contains("held by another ivt-explore;"),
                    "{e}"
                );
            }
            other => panic!("expected Locked without a pid, got {:?}", other.map(|_| ())),
        }
        assert!(dir.path().join(LOCK_FILE).exists());
        drop(other);
        open(dir.path(), N).expect("free once the other lets go");
    }

    #[test]
    fn records_that_do_not_fit_the_data_set_are_errors_naming_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_history(dir.path());
        let path = dir.path().join(JOURNAL_FILE);
        let good = std::fs::read_to_string(&path).expect("read");
        let far = r#"{"seq":9,"time_ms":1,"kind":"assign","changes":[{"item":4000000000,"from":null,"to":"positive"}]}"#;
        let escape = r#"{"seq":9,"time_ms":1,"kind":"assign","changes":[{"item":1,"from":null,"to":"../../x"}]}"#;
        for (record, says) in [(far, "item 4000000000"), (escape, "\"../../x\"")] {
            // Last line or not: a whole record that does not fit is never a torn write.
            for text in [format!("{good}{record}\n"), format!("{record}\n{good}")] {
                std::fs::write(&path, &text).expect("write");
                let line = text.lines().position(|l| l == record).expect("line") + 1;
                for result in [
                    open(dir.path(), N).map(|(_, s, _)| s),
                    read(dir.path(), N).map(|(s, _)| s),
                ] {
                    match result {
                        Err(e @ LabelError::Invalid { line: l, .. }) => {
                            assert_eq!(l, line);
                            assert!(e.to_string().contains(says), "{e}");
                        }
                        other => panic!("expected Invalid, got {:?}", other.map(|_| ())),
                    }
                }
                assert_eq!(
                    std::fs::read_to_string(&path).expect("read"),
                    text,
                    "untouched"
                );
            }
        }
        // A journal of 8 items is fine for a data set of 8, not of 7.
        std::fs::write(&path, &good).expect("restore");
        assert!(read(dir.path(), 8).is_ok());
        assert!(matches!(
            read(dir.path(), 7),
            Err(LabelError::Invalid { .. })
        ));
    }

    #[test]
    fn a_batch_that_would_not_replay_is_not_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut j, s, _) = open(dir.path(), N).expect("open");
        for (item, label) in [(N as u32, "positive"), (0, "a/b")] {
            let b = s.assign(&ids(&[item]), Some(label), 5).expect("batch");
            assert!(j.append(&b).is_err(), "{item} {label}");
        }
        assert_eq!(
            std::fs::read(dir.path().join(JOURNAL_FILE))
                .expect("read")
                .len(),
            0
        );
    }

    #[test]
    fn a_write_torn_at_any_byte_loses_only_that_record() {
        let dir = tempfile::tempdir().expect("tempdir");
        let full = write_history(dir.path());
        let path = dir.path().join(JOURNAL_FILE);
        let bytes = std::fs::read(&path).expect("read");
        let last_start = bytes[..bytes.len() - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .expect("several lines")
            + 1;
        // The state before the last record: replay the sound prefix.
        let (before_last, _) =
            replay(&path, &bytes[..last_start], N, &mut Vec::new()).expect("prefix");
        for cut in last_start..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).expect("truncate");
            let (_j, state, opened) = open(dir.path(), N).expect("replay");
            assert_eq!(state, before_last, "cut at {cut}");
            assert_eq!(
                opened.warnings.len(),
                usize::from(cut > last_start),
                "cut at {cut}"
            );
            // The torn bytes are gone, so the next append starts on a clean line.
            assert_eq!(
                std::fs::metadata(&path).expect("meta").len(),
                last_start as u64
            );
        }
        std::fs::write(&path, &bytes).expect("restore");
        let (_j, state, _) = open(dir.path(), N).expect("full");
        assert_eq!(state, full);
    }

    #[test]
    fn damage_before_the_end_is_an_error_naming_the_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_history(dir.path());
        let path = dir.path().join(JOURNAL_FILE);
        let text = std::fs::read_to_string(&path).expect("read");
        let damaged = text.replacen("\"kind\"", "\"kin", 1);
        std::fs::write(&path, &damaged).expect("damage");
        match open(dir.path(), N) {
            Err(LabelError::Corrupt { line, .. }) => assert_eq!(line, 1),
            other => panic!(
                "expected a corrupt-journal error, got {:?}",
                other.map(|_| ())
            ),
        }
        // Untouched: the user can repair it.
        assert_eq!(std::fs::read_to_string(&path).expect("read"), damaged);
    }
}
