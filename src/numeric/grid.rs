//! A uniform grid over points in one to three dimensions (a layout), so that work near a place
//! is bounded by what lies there: the items in a box come out in O(cells the box meets + items
//! in them), not by a pass over all N. The explorer asks it which items a view can show; the
//! layout's quality check walks rings of its cells for exact neighbours in the map.
//!
//! Built once (a counting sort, O(N)). Non-finite coordinates do not stretch the grid: they
//! land in an edge cell, and the caller's exact test rejects them.

/// Items per cell on average: small enough that a box near the size of a few thumbnails
/// visits few items outside it, large enough that the cell table stays small next to the
/// points (two cells an item at most: 4 bytes each).
const ITEMS_PER_CELL: usize = 2;

/// Items bucketed by grid cell.
#[derive(Debug, Clone)]
pub struct UniformGrid {
    origin: [f32; 3],
    /// Cells per unit, per axis (0 on an axis with a single cell).
    inv_cell: [f32; 3],
    /// Cells per axis (1 on the axes a point does not have, and on flat axes).
    res: [usize; 3],
    /// `items[starts[c]..starts[c + 1]]` lie in cell c.
    starts: Vec<u32>,
    items: Vec<u32>,
}

/// Point `i` of `coords` (N × `dims`) in three coordinates (missing axes 0).
#[inline]
pub fn point(coords: &[f32], dims: usize, i: usize) -> [f32; 3] {
    std::array::from_fn(|a| if a < dims { coords[i * dims + a] } else { 0.0 })
}

impl UniformGrid {
    /// Bucket every point of `coords` (N × `dims`, `dims` 1 to 3).
    pub fn build(coords: &[f32], dims: usize) -> Self {
        let dims = dims.clamp(1, 3);
        let n = coords.len() / dims;
        let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
        for i in 0..n {
            let p = point(coords, dims, i);
            if p.iter().all(|v| v.is_finite()) {
                for a in 0..3 {
                    lo[a] = lo[a].min(p[a]);
                    hi[a] = hi[a].max(p[a]);
                }
            }
        }
        if !lo[0].is_finite() {
            (lo, hi) = ([0.0; 3], [0.0; 3]);
        }
        let per_axis = ((n / ITEMS_PER_CELL).max(1) as f64)
            .powf(1.0 / dims as f64)
            .ceil()
            .max(1.0) as usize;
        let mut res = [1; 3];
        let mut inv_cell = [0.0; 3];
        for a in 0..dims {
            let size = hi[a] - lo[a];
            if size > 0.0 && size.is_finite() {
                res[a] = per_axis;
                inv_cell[a] = per_axis as f32 / size;
            }
        }
        let mut grid = Self {
            origin: lo,
            inv_cell,
            res,
            starts: Vec::new(),
            items: Vec::new(),
        };
        let cells = res[0] * res[1] * res[2];
        let cell_of: Vec<u32> = (0..n)
            .map(|i| grid.flat(grid.cell_of(point(coords, dims, i))) as u32)
            .collect();
        let mut starts = vec![0u32; cells + 1];
        for &c in &cell_of {
            starts[c as usize + 1] += 1;
        }
        for c in 0..cells {
            starts[c + 1] += starts[c];
        }
        let mut fill = starts.clone();
        let mut items = vec![0u32; n];
        for (i, &c) in cell_of.iter().enumerate() {
            items[fill[c as usize] as usize] = i as u32;
            fill[c as usize] += 1;
        }
        grid.starts = starts;
        grid.items = items;
        grid
    }

    /// Items indexed.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Cells per axis.
    pub fn res(&self) -> [usize; 3] {
        self.res
    }

    /// The narrowest side of a cell over the axes with more than one cell (infinite when
    /// there are none): any two points whose cells differ by `r` along some axis are at least
    /// `(r - 1) ×` this apart.
    pub fn min_cell_width(&self) -> f32 {
        self.inv_cell
            .iter()
            .filter(|&&v| v > 0.0)
            .map(|v| 1.0 / v)
            .fold(f32::INFINITY, f32::min)
    }

    /// The items of cell `c` (cell coordinates, each below [`Self::res`]).
    pub fn cell(&self, c: [usize; 3]) -> &[u32] {
        let at = self.flat(c);
        &self.items[self.starts[at] as usize..self.starts[at + 1] as usize]
    }

    /// Every item in a cell that meets the box `lo..=hi` (a superset of the items inside it),
    /// in cell order. An empty or NaN box yields nothing.
    pub fn for_each_in(&self, lo: [f32; 3], hi: [f32; 3], mut f: impl FnMut(u32)) {
        let bad = (0..3).any(|a| lo[a].is_nan() || hi[a].is_nan() || lo[a] > hi[a]);
        if bad {
            return;
        }
        let (a, b) = (self.cell_of(lo), self.cell_of(hi));
        for z in a[2]..=b[2] {
            for y in a[1]..=b[1] {
                let row = self.flat([a[0], y, z]);
                let end = self.flat([b[0], y, z]) + 1;
                let (from, to) = (self.starts[row] as usize, self.starts[end] as usize);
                self.items[from..to].iter().for_each(|&i| f(i));
            }
        }
    }

    /// The cell holding `p`, clamped to the grid.
    pub fn cell_of(&self, p: [f32; 3]) -> [usize; 3] {
        // `as` saturates (NaN → 0): out-of-range points fall in the edge cells.
        std::array::from_fn(|a| {
            let t = (p[a] - self.origin[a]) * self.inv_cell[a];
            (t.floor().max(0.0) as usize).min(self.res[a] - 1)
        })
    }

    fn flat(&self, [x, y, z]: [usize; 3]) -> usize {
        (z * self.res[1] + y) * self.res[0] + x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_item_is_indexed_once_and_degenerate_sets_work() {
        // Every point on one vertical line (x constant), plus a NaN and an infinity.
        let mut coords: Vec<f32> = (0..100).flat_map(|i| [3.0, i as f32]).collect();
        coords.extend([f32::NAN, 1.0, 2.0, f32::INFINITY]);
        let grid = UniformGrid::build(&coords, 2);
        assert_eq!(grid.res()[0], 1, "a flat axis has one cell");
        let mut all = Vec::new();
        grid.for_each_in([-1e30; 3], [1e30; 3], |i| all.push(i));
        all.sort_unstable();
        assert_eq!(all, (0..102).collect::<Vec<u32>>());
        let mut some = Vec::new();
        grid.for_each_in([2.0, 10.0, 0.0], [4.0, 20.0, 0.0], |i| some.push(i));
        assert!(
            some.len() < 40 && (10..=20).all(|i| some.contains(&i)),
            "{some:?}"
        );
        // Cells of width 99 / 8 along y.
        assert!((grid.min_cell_width() - 99.0 / grid.res()[1] as f32).abs() < 1e-4);
        // An inverted or NaN box finds nothing.
        let mut none = 0;
        grid.for_each_in([1.0; 3], [0.0; 3], |_| none += 1);
        grid.for_each_in([f32::NAN; 3], [1.0; 3], |_| none += 1);
        assert_eq!(none, 0);
        // No items at all; all in one place.
        let empty = UniformGrid::build(&[], 3);
        assert!(empty.is_empty());
        empty.for_each_in([0.0; 3], [1.0; 3], |_| none += 1);
        assert_eq!(none, 0);
        let same = UniformGrid::build(&[1.0; 9], 3);
        assert_eq!(
            (same.res(), same.cell([0, 0, 0])),
            ([1; 3], &[0u32, 1, 2][..])
        );
        assert_eq!(same.min_cell_width(), f32::INFINITY);
    }
}
