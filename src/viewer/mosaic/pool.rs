//! The pure half of the mosaic: which thumbnails to draw, at which tier, and where each lives in
//! the GPU texture arrays. No Bevy types: unit-tested directly.
//!
//! Each tier has a pool of equal cells in a texture array (`LAYER_PX`² per layer). A cell is
//! assigned to an item when the view first wants it, filled by an upload, and given to another
//! item when it has not been drawn for the longest time (a clock sweep, close to LRU). The number
//! of layers per tier comes from the GPU-memory budget.

/// Side of one texture-array layer in texels (within every GPU's minimum texture size).
pub const LAYER_PX: u32 = 2048;
/// Bytes of one layer (RGBA8).
pub const LAYER_BYTES: u64 = LAYER_PX as u64 * LAYER_PX as u64 * 4;
/// wgpu's guaranteed minimum of `max_texture_array_layers`.
pub const MAX_LAYERS: u32 = 256;
/// Below this many pixels on screen an item is drawn as its dot only.
pub const DOT_PX: f32 = 4.0;

const NONE: u32 = u32::MAX;

/// The cells of one tier on the GPU and which item each holds.
#[derive(Debug, Clone)]
pub struct TierPool {
    pub side: u32,
    pub layers: u32,
    per_row: u32,
    /// Per item: its cell, or `NONE`.
    slot_of: Vec<u32>,
    /// Per cell: its item, or `NONE`.
    item_of: Vec<u32>,
    /// Per cell: the upload has been queued (before that the cell holds another picture).
    ready: Vec<bool>,
    /// Per cell: the view generation that last drew it.
    last_used: Vec<u64>,
    /// Next cell the clock sweep looks at.
    hand: usize,
    /// Cells never used yet, from the end.
    fresh: u32,
}

impl TierPool {
    pub fn new(side: u32, layers: u32, n_items: usize) -> Self {
        let per_row = LAYER_PX / side;
        let cells = (per_row * per_row * layers) as usize;
        Self {
            side,
            layers,
            per_row,
            slot_of: vec![NONE; n_items],
            item_of: vec![NONE; cells],
            ready: vec![false; cells],
            last_used: vec![0; cells],
            hand: 0,
            fresh: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.item_of.len()
    }

    /// The item's cell, if its picture is there.
    pub fn ready_slot(&self, item: u32) -> Option<u32> {
        let slot = *self.slot_of.get(item as usize)?;
        (slot != NONE && self.ready[slot as usize]).then_some(slot)
    }

    /// The item has a cell (ready or waiting for its upload).
    pub fn has_slot(&self, item: u32) -> bool {
        self.slot_of.get(item as usize).is_some_and(|&s| s != NONE)
    }

    pub fn touch(&mut self, slot: u32, generation: u64) {
        self.last_used[slot as usize] = generation;
    }

    /// Give `item` a cell: an unused one, else the one drawn longest ago, but never one drawn in
    /// `generation` (the current view). `None` when every cell is in view.
    pub fn assign(&mut self, item: u32, generation: u64) -> Option<u32> {
        if let Some(slot) = self
            .slot_of
            .get(item as usize)
            .copied()
            .filter(|&s| s != NONE)
        {
            return Some(slot);
        }
        let cells = self.item_of.len();
        let slot = if (self.fresh as usize) < cells {
            self.fresh += 1;
            self.fresh - 1
        } else {
            // Clock sweep: a cell drawn in an older view than its neighbours' is taken; one
            // lap without luck means everything is in view.
            let mut found = None;
            let mut oldest = (u64::MAX, 0);
            for _ in 0..cells.min(4096) {
                let s = self.hand;
                self.hand = (self.hand + 1) % cells;
                let used = self.last_used[s];
                if used < oldest.0 {
                    oldest = (used, s);
                }
                if used + 1 < generation {
                    found = Some(s);
                    break;
                }
            }
            let s = found.unwrap_or(oldest.1);
            if self.last_used[s] >= generation {
                return None;
            }
            s as u32
        };
        let old = self.item_of[slot as usize];
        if old != NONE {
            self.slot_of[old as usize] = NONE;
        }
        self.item_of[slot as usize] = item;
        self.slot_of[item as usize] = slot;
        self.ready[slot as usize] = false;
        self.last_used[slot as usize] = generation;
        Some(slot)
    }

    /// The upload for `item` into `slot` has been queued; `false` if the cell went to another
    /// item meanwhile (the upload is then dropped).
    pub fn mark_ready(&mut self, slot: u32, item: u32) -> bool {
        if self.item_of.get(slot as usize) != Some(&item) {
            return false;
        }
        self.ready[slot as usize] = true;
        true
    }

    /// Layer and texel origin of a cell.
    pub fn cell_origin(&self, slot: u32) -> (u32, u32, u32) {
        let per_layer = self.per_row * self.per_row;
        let layer = slot / per_layer;
        let in_layer = slot % per_layer;
        (
            layer,
            (in_layer % self.per_row) * self.side,
            (in_layer / self.per_row) * self.side,
        )
    }

    pub fn ready_count(&self) -> usize {
        self.ready.iter().filter(|r| **r).count()
    }
}

/// Layers per tier within `budget_bytes`: smallest tier first (it is cheap and can show every
/// item at once), each tier as many as its items could fill, at least one each. Errors when the
/// budget cannot hold one layer per tier.
pub fn plan_layers(
    tiers: &[u32],
    n_items: usize,
    max_thumbnails: usize,
    budget_bytes: u64,
) -> Result<Vec<u32>, String> {
    let budget_layers = (budget_bytes / LAYER_BYTES) as usize;
    if budget_layers < tiers.len() {
        return Err(format!(
            "{} {} is below the {} MB the {} thumbnail sizes need at least",
            crate::hint::GPU_MEM_MB,
            budget_bytes >> 20,
            (tiers.len() as u64 * LAYER_BYTES) >> 20,
            tiers.len()
        ));
    }
    let wanted = n_items.min(max_thumbnails).max(1);
    let mut left = budget_layers;
    let mut plan = Vec::with_capacity(tiers.len());
    for (t, &side) in tiers.iter().enumerate() {
        let per_layer = ((LAYER_PX / side) * (LAYER_PX / side)) as usize;
        let need = wanted.div_ceil(per_layer).min(MAX_LAYERS as usize);
        let keep_for_rest = tiers.len() - t - 1;
        let layers = need.min(left - keep_for_rest).max(1);
        left -= layers;
        plan.push(layers as u32);
    }
    Ok(plan)
}

/// The tier to draw a thumbnail `size_px` wide with: the smallest whose cells are at least
/// three quarters of that (a little magnification is invisible), else the largest.
pub fn tier_for(tiers: &[u32], size_px: f32) -> usize {
    tiers
        .iter()
        .position(|&side| side as f32 >= 0.75 * size_px)
        .unwrap_or(tiers.len().saturating_sub(1))
}

/// A fixed pseudo-random rank per item: which thumbnails win under the cap and which lie on
/// top, the same at every frame and zoom (no flicker while panning).
pub fn rank_of(item: u32) -> u32 {
    let mut z = u64::from(item).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
}

/// An item in view, big enough for a thumbnail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub item: u32,
    pub rank: u32,
    /// On-screen side in physical pixels.
    pub size_px: f32,
    /// Position in physical pixels.
    pub screen: [f32; 2],
    /// Distance along the view direction (clip w; 1 in orthographic views).
    pub depth: f32,
}

/// Keep the thumbnails to draw: at most `max` (lowest ranks win, so the same ones stay as the
/// view moves); with `declutter`, one per thumbnail-sized screen cell. Sorted by rank, ties
/// by item, so the result does not depend on the order the candidates came in.
pub fn choose(mut candidates: Vec<Candidate>, max: usize, declutter: bool) -> Vec<Candidate> {
    if declutter {
        candidates.sort_unstable_by_key(|c| (c.rank, c.item));
        let mut taken = std::collections::HashSet::new();
        candidates.retain(|c| {
            let cell = c.size_px.max(1.0);
            let key = (
                (c.screen[0] / cell).floor() as i64,
                (c.screen[1] / cell).floor() as i64,
            );
            taken.insert(key)
        });
        candidates.truncate(max);
        return candidates;
    }
    if candidates.len() > max {
        if max == 0 {
            return Vec::new();
        }
        candidates.select_nth_unstable_by_key(max - 1, |c| (c.rank, c.item));
        candidates.truncate(max);
    }
    candidates.sort_unstable_by_key(|c| (c.rank, c.item));
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_reused_least_recently_drawn_first_and_never_in_view() {
        // One 1024-px tier layer: 4 cells.
        let mut pool = TierPool::new(1024, 1, 10);
        assert_eq!(pool.capacity(), 4);
        for item in 0..4 {
            assert_eq!(pool.assign(item, 1), Some(item));
            assert!(pool.mark_ready(item, item));
        }
        // All four in view at generation 1: a fifth item gets nothing.
        assert_eq!(pool.assign(4, 1), None);
        // Generation 3 draws items 1..4 again; item 0's cell goes to item 4.
        for item in 1..4 {
            let slot = pool.ready_slot(item).expect("ready");
            pool.touch(slot, 3);
        }
        let slot = pool.assign(4, 3).expect("a cell");
        assert_eq!(slot, 0);
        assert!(pool.ready_slot(0).is_none(), "item 0 lost its cell");
        assert!(pool.ready_slot(4).is_none(), "not ready before its upload");
        assert!(pool.has_slot(4));
        // A late upload for the old owner is dropped.
        assert!(!pool.mark_ready(0, 0));
        assert!(pool.mark_ready(0, 4));
        assert_eq!(pool.ready_slot(4), Some(0));
        assert_eq!(pool.ready_count(), 4);
    }

    #[test]
    fn cell_origins_tile_the_layers() {
        let pool = TierPool::new(512, 2, 0);
        assert_eq!(pool.capacity(), 32);
        assert_eq!(pool.cell_origin(0), (0, 0, 0));
        assert_eq!(pool.cell_origin(1), (0, 512, 0));
        assert_eq!(pool.cell_origin(4), (0, 0, 512));
        assert_eq!(pool.cell_origin(17), (1, 512, 0));
    }

    #[test]
    fn layers_follow_the_budget_smallest_tier_first() {
        let mb = 1u64 << 20;
        // Fashion-MNIST: 70k items, 8 and 32 px cells: 2 + 18 layers of 16 MiB.
        assert_eq!(
            plan_layers(&[8, 32], 70_000, 100_000, 512 * mb).expect("fits"),
            vec![2, 18]
        );
        // A tight budget: the big tier gets what is left, at least one layer.
        assert_eq!(
            plan_layers(&[8, 32, 128], 70_000, 100_000, 160 * mb).expect("fits"),
            vec![2, 7, 1]
        );
        // The cap on thumbnails bounds what is worth allocating.
        assert_eq!(
            plan_layers(&[8, 32, 128], 70_000, 500, 512 * mb).expect("fits"),
            vec![1, 1, 2]
        );
        let err = plan_layers(&[8, 32, 128], 10, 10, 40 * mb).expect_err("too small");
        assert!(err.contains("--gpu-mem-mb 40"), "{err}");
    }

    #[test]
    fn tiers_by_on_screen_size() {
        let tiers = [8, 32, 128];
        assert_eq!(tier_for(&tiers, 5.0), 0);
        assert_eq!(tier_for(&tiers, 10.0), 0);
        assert_eq!(tier_for(&tiers, 11.0), 1);
        assert_eq!(tier_for(&tiers, 40.0), 1);
        assert_eq!(tier_for(&tiers, 60.0), 2);
        assert_eq!(tier_for(&tiers, 900.0), 2);
    }

    fn cand(item: u32, x: f32, y: f32, size_px: f32) -> Candidate {
        Candidate {
            item,
            rank: rank_of(item),
            size_px,
            screen: [x, y],
            depth: 1.0,
        }
    }

    #[test]
    fn the_cap_keeps_the_same_items_as_the_view_moves() {
        let all: Vec<Candidate> = (0..1000).map(|i| cand(i, i as f32, 0.0, 10.0)).collect();
        let kept: Vec<u32> = choose(all.clone(), 100, false)
            .iter()
            .map(|c| c.item)
            .collect();
        assert_eq!(kept.len(), 100);
        // Panning drops the first 500 from view: the survivors among the kept stay kept.
        let moved: Vec<u32> = choose(all[500..].to_vec(), 100, false)
            .iter()
            .map(|c| c.item)
            .collect();
        for item in kept.iter().filter(|&&i| i >= 500) {
            assert!(moved.contains(item), "item {item} flickered away");
        }
        let ranks: Vec<u32> = choose(all, 1000, false).iter().map(|c| c.rank).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "sorted by rank");
    }

    #[test]
    fn declutter_keeps_one_per_screen_cell() {
        // 50 items stacked on one spot and 3 apart.
        let mut all: Vec<Candidate> = (0..50).map(|i| cand(i, 5.0, 5.0, 10.0)).collect();
        all.extend([
            cand(100, 25.0, 5.0, 10.0),
            cand(101, 45.0, 5.0, 10.0),
            cand(102, 5.0, 25.0, 10.0),
        ]);
        let kept = choose(all.clone(), 1000, true);
        assert_eq!(kept.len(), 4);
        let stacked_winner = (0..50).min_by_key(|&i| rank_of(i)).expect("some");
        assert!(kept.iter().any(|c| c.item == stacked_winner));
        assert_eq!(choose(all, 1000, false).len(), 53);
    }
}
