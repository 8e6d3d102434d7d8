//! The on-demand cache of large cells (128 px and up): a fixed number of slots in one file,
//! the least recently used evicted when a new cell needs room.
//!
//! Large cells are what a view zoomed in to a few hundred images needs; storing one for every
//! item would take 64 KB an image (64 GB at a million). So they are made when a view asks and
//! kept within `--thumbnail-cache-gb`. Each slot carries its own header (the item's key, a
//! use stamp, a checksum of key and cell), so the file is trusted slot by slot: a slot torn by
//! a crash, damaged on disk, or being overwritten while read fails its checksum and is simply
//! made again.
//!
//! Which key each slot holds, and when it was last used, is also kept in a small index file
//! beside it (16 bytes a slot), so opening reads one small file instead of every slot's header:
//! those reads, one per slot over the whole budget, took 1.1 s on a warm page cache and 5.4 s
//! on a cold one, before the first thumbnail of a relaunch. The index is only a hint: a slot it
//! names is still checked when read, and a missing or damaged index is rebuilt from the slot
//! headers. Stamps persist in it, so recency survives a relaunch.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use xxhash_rust::xxh3::Xxh3;

use super::codec;

const MAGIC: &[u8; 8] = b"IVTLARGE";
const VERSION: u32 = 2;
/// The file header's room; slots start after it.
const HEADER: u64 = 4096;
/// Per slot: key, stamp, checksum.
const SLOT_HEADER: usize = 24;
const INDEX_MAGIC: &[u8; 8] = b"IVTLIDX1";
/// The index file's header (magic, side, slot count); its entries follow.
const INDEX_HEADER: u64 = 16;
/// Per slot in the index: key, stamp.
const INDEX_ENTRY: u64 = 16;

/// Slots in use, by key, with their last use.
#[derive(Default)]
struct Slots {
    by_key: HashMap<u64, u32>,
    /// The key held by each slot (0: empty) and when it was last used.
    key: Vec<u64>,
    stamp: Vec<u64>,
    clock: u64,
}

/// Large cells of one side, at most `capacity` of them, in one file.
pub struct LargeCache {
    side: u32,
    file: File,
    path: PathBuf,
    /// The slots' keys and stamps (see the module's doc); `None` for an anonymous cache.
    index: Option<File>,
    slots: Mutex<Slots>,
    capacity: u32,
}

impl std::fmt::Debug for LargeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LargeCache")
            .field("side", &self.side)
            .field("path", &self.path)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

fn file_header(side: u32) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&side.to_le_bytes());
    h
}

fn checksum(key: u64, cell: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&key.to_le_bytes());
    h.update(cell);
    h.digest()
}

/// The index file of the cache at `data`: `thumbs-….large128.idx` beside `thumbs-….large128.bin`.
pub fn index_path(data: &Path) -> PathBuf {
    data.with_extension("idx")
}

fn index_header(side: u32, capacity: u32) -> Vec<u8> {
    let mut h = INDEX_MAGIC.to_vec();
    h.extend_from_slice(&side.to_le_bytes());
    h.extend_from_slice(&capacity.to_le_bytes());
    h
}

/// The little-endian number in `b` (8 bytes).
fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().unwrap_or_default())
}

fn index_offset(slot: u32) -> u64 {
    INDEX_HEADER + u64::from(slot) * INDEX_ENTRY
}

/// Each slot's (key, stamp) from the index, in one read; `None` when it is missing, damaged,
/// or not for a data file of `slots` slots of this side.
fn read_index(file: &File, side: u32, slots: u64) -> Option<Vec<(u64, u64)>> {
    let expected = INDEX_HEADER + slots * INDEX_ENTRY;
    if file.metadata().ok()?.len() != expected {
        return None;
    }
    let mut bytes = vec![0u8; usize::try_from(expected).ok()?];
    file.read_exact_at(&mut bytes, 0).ok()?;
    let capacity = u32::try_from(slots).ok()?;
    if bytes[..INDEX_HEADER as usize] != index_header(side, capacity)[..] {
        return None;
    }
    Some(
        bytes[INDEX_HEADER as usize..]
            .chunks_exact(INDEX_ENTRY as usize)
            .map(|e| (le_u64(&e[..8]), le_u64(&e[8..])))
            .collect(),
    )
}

/// Each slot's (key, stamp) from the slot headers: one small read a slot.
fn scan_slots(file: &File, slot: u64, capacity: u32) -> Vec<(u64, u64)> {
    let mut h = [0u8; SLOT_HEADER];
    (0..capacity)
        .map(|s| {
            if file
                .read_exact_at(&mut h, HEADER + u64::from(s) * slot)
                .is_err()
            {
                return (0, 0);
            }
            (le_u64(&h[..8]), le_u64(&h[8..16]))
        })
        .collect()
}

impl LargeCache {
    /// Bytes one slot takes on disk.
    pub fn slot_bytes(side: u32) -> u64 {
        (SLOT_HEADER + codec::encoded_len(side)) as u64
    }

    /// Open (or create) the cache at `path` with room for `budget_bytes`; `path` `None` keeps
    /// it in an anonymous temporary file. A file for another side or version is started
    /// afresh; one sized for another budget is cut or grown to this one (the cells in the cut
    /// slots are dropped).
    pub fn open(side: u32, path: Option<&Path>, budget_bytes: u64) -> io::Result<Self> {
        let slot = Self::slot_bytes(side);
        let capacity = (budget_bytes / slot).min(u64::from(u32::MAX)) as u32;
        let open_rw = |p: &Path| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(p)
        };
        let (file, path, index) = match path {
            Some(p) => {
                let file = open_rw(p)?;
                // In use while open: the cache's eviction skips a file a process holds. And
                // used now, for its least-recently-used order.
                let _ = file.lock_shared();
                let _ = file.set_modified(std::time::SystemTime::now());
                (file, p.to_path_buf(), Some(open_rw(&index_path(p))?))
            }
            None => (
                tempfile::tempfile()?,
                std::env::temp_dir().join("(anonymous large-cell file)"),
                None,
            ),
        };
        let expected = file_header(side);
        let mut head = vec![0u8; expected.len()];
        let fresh = file.read_exact_at(&mut head, 0).is_err() || head != expected;
        if fresh {
            file.set_len(0)?;
            file.write_all_at(&expected, 0)?;
        }
        let slots_before = file.metadata()?.len().saturating_sub(HEADER) / slot;
        file.set_len(HEADER + u64::from(capacity) * slot)?;
        let mut slots = Slots {
            key: vec![0; capacity as usize],
            stamp: vec![0; capacity as usize],
            ..Slots::default()
        };
        let indexed = match &index {
            Some(f) if !fresh => read_index(f, side, slots_before),
            _ => None,
        };
        let from_index = indexed.is_some();
        let entries = match indexed {
            Some(e) => e,
            // A data file started afresh holds nothing, whatever an index beside it says.
            None if fresh => Vec::new(),
            // No index to trust (an older version wrote none, or it is damaged): every slot's
            // header once, and the index is written from them.
            None => scan_slots(&file, slot, capacity),
        };
        for (s, (key, stamp)) in entries.into_iter().enumerate().take(capacity as usize) {
            if key == 0 {
                continue;
            }
            // A key seen twice (damage, or a crash between two writes): the later use wins.
            if let Some(&other) = slots.by_key.get(&key) {
                if slots.stamp[other as usize] >= stamp {
                    continue;
                }
                slots.key[other as usize] = 0;
            }
            slots.by_key.insert(key, s as u32);
            slots.key[s] = key;
            slots.stamp[s] = stamp;
            slots.clock = slots.clock.max(stamp);
        }
        if let Some(f) = &index {
            if from_index {
                // Cut or grown with the data file; grown entries are zero: empty slots.
                f.set_len(INDEX_HEADER + u64::from(capacity) * INDEX_ENTRY)?;
                f.write_all_at(&index_header(side, capacity), 0)?;
            } else {
                let mut bytes = index_header(side, capacity);
                for s in 0..capacity as usize {
                    bytes.extend_from_slice(&slots.key[s].to_le_bytes());
                    bytes.extend_from_slice(&slots.stamp[s].to_le_bytes());
                }
                f.set_len(0)?;
                f.write_all_at(&bytes, 0)?;
            }
        }
        Ok(Self {
            side,
            file,
            path,
            index,
            slots: Mutex::new(slots),
            capacity,
        })
    }

    pub fn side(&self) -> u32 {
        self.side
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Slots on disk, and how many hold a cell.
    pub fn occupancy(&self) -> (u32, usize) {
        let used = self.slots.lock().map_or(0, |s| s.by_key.len());
        (self.capacity, used)
    }

    fn slot_offset(&self, slot: u32) -> u64 {
        HEADER + u64::from(slot) * Self::slot_bytes(self.side)
    }

    /// The cell (compact form) kept for `key`, marked as just used; `None` when absent or
    /// when its slot fails the checksum (the slot is then freed).
    pub fn get(&self, key: u64) -> Option<Vec<u8>> {
        let (slot, stamp) = {
            let mut s = self.slots.lock().ok()?;
            let slot = *s.by_key.get(&key)?;
            s.clock += 1;
            let stamp = s.clock;
            s.stamp[slot as usize] = stamp;
            (slot, stamp)
        };
        let mut buf = vec![0u8; Self::slot_bytes(self.side) as usize];
        let ok = self
            .file
            .read_exact_at(&mut buf, self.slot_offset(slot))
            .is_ok()
            && buf[..8] == key.to_le_bytes()
            && buf[16..24] == checksum(key, &buf[SLOT_HEADER..]).to_le_bytes();
        if !ok {
            if let Ok(mut s) = self.slots.lock()
                && s.by_key.get(&key) == Some(&slot)
            {
                s.by_key.remove(&key);
                s.key[slot as usize] = 0;
            }
            return None;
        }
        // Recency on disk too; a lost stamp only makes the cell look older.
        if let Some(index) = &self.index {
            let _ = index.write_all_at(&stamp.to_le_bytes(), index_offset(slot) + 8);
        }
        buf.drain(..SLOT_HEADER);
        Some(buf)
    }

    /// Keep `cell` (compact form, `encoded_len(side)` bytes) for `key`, in a free slot or the
    /// least recently used one. Nothing is kept when the budget holds no slot at all.
    pub fn put(&self, key: u64, cell: &[u8]) -> io::Result<()> {
        if self.capacity == 0 || key == 0 || cell.len() != codec::encoded_len(self.side) {
            return Ok(());
        }
        let (slot, stamp) = {
            let Ok(mut s) = self.slots.lock() else {
                return Ok(());
            };
            let slot = match s.by_key.get(&key) {
                Some(&slot) => slot,
                None => {
                    // The oldest slot (an empty one has stamp 0 and key 0). A linear pass:
                    // tens of thousands of slots, once per cell made, far below a decode.
                    let slot = (0..self.capacity)
                        .min_by_key(|&i| (s.key[i as usize] != 0, s.stamp[i as usize]))
                        .unwrap_or(0);
                    let old = s.key[slot as usize];
                    if old != 0 {
                        s.by_key.remove(&old);
                    }
                    s.by_key.insert(key, slot);
                    s.key[slot as usize] = key;
                    slot
                }
            };
            s.clock += 1;
            let stamp = s.clock;
            s.stamp[slot as usize] = stamp;
            (slot, stamp)
        };
        let mut buf = Vec::with_capacity(Self::slot_bytes(self.side) as usize);
        buf.extend_from_slice(&key.to_le_bytes());
        buf.extend_from_slice(&stamp.to_le_bytes());
        buf.extend_from_slice(&checksum(key, cell).to_le_bytes());
        buf.extend_from_slice(cell);
        self.file.write_all_at(&buf, self.slot_offset(slot))?;
        // After the cell: an index left behind by a crash names a slot whose header then
        // disagrees, which a read notices (a miss, never another item's cell).
        if let Some(index) = &self.index {
            index.write_all_at(&buf[..INDEX_ENTRY as usize], index_offset(slot))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(side: u32, v: u8) -> Vec<u8> {
        let mut c = vec![v; codec::encoded_len(side)];
        c[..4].copy_from_slice(&[0, 0, 7, 7]);
        c
    }

    /// A cache of 8 px cells at `path` with room for `n`, holding keys 1..=n.
    fn filled(path: &Path, n: u64) -> LargeCache {
        let cache = LargeCache::open(8, Some(path), n * LargeCache::slot_bytes(8)).expect("open");
        for key in 1..=n {
            cache.put(key, &cell(8, key as u8)).expect("put");
        }
        cache
    }

    #[test]
    fn least_recently_used_is_evicted_and_recency_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large.bin");
        let slot = LargeCache::slot_bytes(8);
        let cache = filled(&path, 3);
        assert_eq!(cache.get(1), Some(cell(8, 1)), "1 is now the most recent");
        cache.put(4, &cell(8, 4)).expect("put");
        assert_eq!(cache.get(2), None, "2 was the least recently used");
        assert_eq!(cache.occupancy(), (3, 3));
        drop(cache);
        let cache = LargeCache::open(8, Some(&path), 3 * slot).expect("reopen");
        assert_eq!(cache.occupancy(), (3, 3));
        // Order of use before the reopen: 3, 1, 4. The next cell evicts 3.
        cache.put(5, &cell(8, 5)).expect("put");
        assert_eq!(cache.get(3), None);
        for key in [1, 4, 5] {
            assert_eq!(cache.get(key), Some(cell(8, key as u8)), "key {key}");
        }
    }

    #[test]
    fn a_damaged_slot_is_a_miss_and_is_made_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large.bin");
        let cache = LargeCache::open(8, Some(&path), 1 << 20).expect("open");
        cache.put(7, &cell(8, 7)).expect("put");
        cache.put(9, &cell(8, 9)).expect("put");
        drop(cache);
        // Flip one byte inside the first slot's cell, as a torn write or bad sector would.
        let file = OpenOptions::new().write(true).open(&path).expect("open");
        file.write_all_at(&[0xAB], HEADER + SLOT_HEADER as u64 + 30)
            .expect("damage");
        let cache = LargeCache::open(8, Some(&path), 1 << 20).expect("reopen");
        assert_eq!(cache.get(7), None, "damaged cell not served");
        assert_eq!(cache.get(9), Some(cell(8, 9)), "its neighbour intact");
        cache.put(7, &cell(8, 7)).expect("made again");
        assert_eq!(cache.get(7), Some(cell(8, 7)));
    }

    #[test]
    fn another_side_starts_afresh_and_a_smaller_budget_cuts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large.bin");
        let slot = LargeCache::slot_bytes(8);
        let cache = filled(&path, 4);
        drop(cache);
        let cache = LargeCache::open(8, Some(&path), 2 * slot).expect("smaller");
        assert_eq!(cache.occupancy(), (2, 2));
        assert_eq!(
            std::fs::metadata(&path).expect("meta").len(),
            HEADER + 2 * slot
        );
        drop(cache);
        let cache = LargeCache::open(16, Some(&path), 1 << 20).expect("other side");
        assert_eq!(cache.occupancy().1, 0);
        assert_eq!(cache.get(1), None);
        let none = LargeCache::open(8, None, 0).expect("no budget");
        none.put(1, &cell(8, 1)).expect("put is a no-op");
        assert_eq!(none.get(1), None);
    }

    #[test]
    fn the_index_is_read_at_open_and_rebuilt_when_missing_or_damaged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large.bin");
        let slot = LargeCache::slot_bytes(8);
        let cache = filled(&path, 3);
        assert_eq!(cache.get(1), Some(cell(8, 1)));
        drop(cache);
        let idx = index_path(&path);
        assert_eq!(
            std::fs::metadata(&idx).expect("index").len(),
            INDEX_HEADER + 3 * INDEX_ENTRY
        );
        // Zero every slot header's key in the data file: an open that still scanned the
        // slots would find nothing, one that reads the index finds all three.
        let data = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("data");
        let headers: Vec<[u8; 8]> = (0..3u64)
            .map(|s| {
                let mut h = [0u8; 8];
                data.read_exact_at(&mut h, HEADER + s * slot).expect("read");
                data.write_all_at(&[0; 8], HEADER + s * slot).expect("zero");
                h
            })
            .collect();
        let cache = LargeCache::open(8, Some(&path), 3 * slot).expect("reopen");
        assert_eq!(cache.occupancy(), (3, 3), "slots known from the index");
        drop(cache);
        for (s, h) in headers.iter().enumerate() {
            data.write_all_at(h, HEADER + s as u64 * slot)
                .expect("restore");
        }
        for damage in ["missing", "truncated", "garbage"] {
            match damage {
                "missing" => std::fs::remove_file(&idx).expect("rm"),
                "truncated" => std::fs::write(&idx, b"IVTLIDX1").expect("cut"),
                _ => std::fs::write(&idx, vec![0x5A; 64]).expect("garbage"),
            }
            let cache = LargeCache::open(8, Some(&path), 3 * slot).expect("reopen");
            assert_eq!(
                cache.occupancy(),
                (3, 3),
                "{damage}: rebuilt from the slots"
            );
            for key in 1..=3 {
                assert_eq!(cache.get(key), Some(cell(8, key as u8)), "{damage}: {key}");
            }
        }
        // The rebuilt index serves the next open alone.
        assert_eq!(
            std::fs::metadata(&idx).expect("index").len(),
            INDEX_HEADER + 3 * INDEX_ENTRY
        );
    }

    #[test]
    fn a_stale_index_after_a_crash_is_a_miss_never_another_items_cell() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large.bin");
        let slot = LargeCache::slot_bytes(8);
        let cache = LargeCache::open(8, Some(&path), 2 * slot).expect("open");
        cache.put(1, &cell(8, 1)).expect("put");
        cache.put(2, &cell(8, 2)).expect("put");
        drop(cache);
        let idx = index_path(&path);
        let before = std::fs::read(&idx).expect("index");
        // Key 3 evicts key 1; then the index write is lost, as in a crash between the two.
        let cache = LargeCache::open(8, Some(&path), 2 * slot).expect("reopen");
        cache.put(3, &cell(8, 3)).expect("put");
        drop(cache);
        std::fs::write(&idx, &before).expect("roll the index back");
        let cache = LargeCache::open(8, Some(&path), 2 * slot).expect("reopen");
        assert_eq!(
            cache.get(1),
            None,
            "the index's key 1 is no longer in its slot"
        );
        assert_eq!(cache.get(2), Some(cell(8, 2)));
        assert_eq!(cache.get(3), None, "lost with the index write: made again");
        cache.put(3, &cell(8, 3)).expect("made again");
        assert_eq!(cache.get(3), Some(cell(8, 3)));
    }

    #[test]
    fn a_data_file_started_afresh_resets_its_index() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("large.bin");
        let cache = LargeCache::open(8, Some(&path), 1 << 16).expect("open");
        cache.put(5, &cell(8, 5)).expect("put");
        drop(cache);
        std::fs::remove_file(&path).expect("the user deletes the cells");
        let cache = LargeCache::open(8, Some(&path), 1 << 16).expect("reopen");
        assert_eq!(cache.occupancy().1, 0, "the old index names nothing");
        assert_eq!(cache.get(5), None);
        drop(cache);
        let cache = LargeCache::open(8, Some(&path), 1 << 16).expect("reopen again");
        assert_eq!(cache.occupancy().1, 0, "nor does it after another open");
    }
}
