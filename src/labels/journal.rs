//! The labels journal: JSON lines, appended and fsynced one batch at a time, replayed at start.
//!
//! Why JSON lines rather than SQLite: one record per line is append-only by construction, a torn
//! write can only damage the last line (detected and cut off on the next start), the file is
//! readable and repairable with any editor, and it costs no C dependency. A lock file keeps a
//! second explorer from interleaving its batches with ours.

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

/// Holds `labels.lock` (our pid) while the journal is open.
struct Lock {
    path: PathBuf,
}

impl Lock {
    fn take(dir: &Path, warnings: &mut Vec<String>) -> Result<Self, LabelError> {
        let path = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(|e| io_err(&path, e))?;
                    return Ok(Self { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let pid: Option<u32> = text.trim().parse().ok();
                    let alive = pid.is_some_and(process_alive);
                    if let (true, Some(pid)) = (alive, pid) {
                        return Err(LabelError::Locked { path, pid });
                    }
                    // Left by a process that is gone (a crash): take it over.
                    warnings.push(format!(
                        "{}: stale lock of a process that is no longer running; taken over",
                        path.display()
                    ));
                    std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
                }
                Err(e) => return Err(io_err(&path, e)),
            }
        }
        Err(io_err(&path, "could not take the lock"))
    }
}

/// Whether `pid` is a live process (Linux `/proc`): a zombie — a killed explorer its parent has
/// not reaped yet — counts as gone. Where `/proc` does not exist, any recorded pid counts as
/// alive (the safe side: the user removes the lock by hand).
fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name: "pid (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Open (or create) the journal in `dir`, replay it, and keep it open for appends. A torn last
/// record (a crash mid-write) is cut off with a warning; damage before the end is an error.
pub fn open(dir: &Path) -> Result<(Journal, LabelState, Opened), LabelError> {
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
    let (state, good_len) = replay(&path, &bytes, &mut opened.warnings)?;
    if good_len < bytes.len() {
        file.set_len(good_len as u64)
            .map_err(|e| io_err(&path, e))?;
        file.sync_all().map_err(|e| io_err(&path, e))?;
    }
    Ok((
        Journal {
            path,
            file,
            _lock: lock,
        },
        state,
        opened,
    ))
}

/// The labels in `dir` without opening the journal for writing (no lock, no repair): for
/// exports while an explorer may be labelling. A torn last record is skipped with a warning.
pub fn read(dir: &Path) -> Result<(LabelState, Vec<String>), LabelError> {
    let path = dir.join(JOURNAL_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(io_err(
                &path,
                "no labels journal here (nothing was labelled with this --labels-out)",
            ));
        }
        Err(e) => return Err(io_err(&path, e)),
    };
    let mut warnings = Vec::new();
    let (state, _) = replay(&path, &bytes, &mut warnings)?;
    Ok((state, warnings))
}

/// Replay journal bytes: the state and how many leading bytes are sound.
pub fn replay(
    path: &Path,
    bytes: &[u8],
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

    fn ids(v: &[u32]) -> Vec<ItemId> {
        v.iter().map(|&i| ItemId(i)).collect()
    }

    /// Label, label again, undo: three records.
    fn write_history(dir: &Path) -> LabelState {
        let (mut j, mut s, _) = open(dir).expect("open");
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
        let (_j, after, opened) = open(dir.path()).expect("reopen");
        assert!(opened.warnings.is_empty(), "{:?}", opened.warnings);
        assert_eq!(after, before);
        assert_eq!(after.get(ItemId(3)), Some("positive"));
        assert!(after.can_redo());
    }

    #[test]
    fn a_second_explorer_is_refused_and_a_stale_lock_taken_over() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = open(dir.path()).expect("first");
        assert!(matches!(open(dir.path()), Err(LabelError::Locked { .. })));
        drop(first);
        // A lock left by a dead process (pid that cannot exist).
        std::fs::write(dir.path().join(LOCK_FILE), "4294967295\n").expect("stale");
        let (_, _, opened) = open(dir.path()).expect("take over");
        assert!(opened.warnings[0].contains("stale lock"));
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
            replay(&path, &bytes[..last_start], &mut Vec::new()).expect("prefix");
        for cut in last_start..bytes.len() {
            std::fs::write(&path, &bytes[..cut]).expect("truncate");
            let (_j, state, opened) = open(dir.path()).expect("replay");
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
        let (_j, state, _) = open(dir.path()).expect("full");
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
        match open(dir.path()) {
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
