//! Barnes-Hut repulsion: a quadtree (2D) or octree (3D) rebuilt every iteration; a cell whose
//! side is below θ times its distance to a point acts on that point through its centre of mass.
//!
//! The tree lives in flat arrays reused between iterations (nodes, item order). Leaves hold up
//! to `LEAF_SIZE` points. The walk is shared: the points of a small subtree (at most
//! `GROUP_SIZE`) walk the tree once together, accepting a cell only if θ holds from the
//! nearest corner of their bounding box, and the resulting list of cells and single points is
//! then applied to each of them in a tight loop that vectorises. Measured on MNIST 10k in 3D:
//! 1.2–1.4× faster than a walk per point at the same θ, and more accurate (the acceptance test
//! is stricter for every point but the nearest).

#![allow(
    clippy::needless_range_loop,
    reason = "axis loops index several fixed-size arrays (point, centre of mass, force) at once"
)]

use rayon::prelude::*;

use super::kernel;

/// Points a leaf may hold; more are split (unless the cell is `MAX_DEPTH` deep: duplicates).
const LEAF_SIZE: usize = 8;
const MAX_DEPTH: usize = 30;
/// Points that share one walk of the tree: the highest nodes holding at most this many.
const GROUP_SIZE: usize = 32;

#[derive(Debug, Clone, Copy, Default)]
struct Node {
    centre: [f32; 3],
    half: f32,
    com: [f32; 3],
    count: u32,
    /// Range of the node's points in tree order.
    start: u32,
    end: u32,
    first_child: u32,
    /// 0 for a leaf.
    n_children: u32,
}

/// The tree and its buffers, kept between iterations.
#[derive(Debug)]
pub struct BarnesHut {
    dims: usize,
    theta2: f32,
    nodes: Vec<Node>,
    /// Tree position → item.
    order: Vec<u32>,
    scratch: Vec<u32>,
    /// Coordinates in tree order, N × dims.
    sorted: Vec<f32>,
    rep_sorted: Vec<f32>,
    /// Nodes whose points walk the tree together, in tree order (they tile 0..N).
    groups: Vec<u32>,
    /// Z of each group's points.
    z_parts: Vec<f64>,
}

impl BarnesHut {
    pub fn new(n: usize, dims: usize, theta: f64) -> Self {
        Self {
            dims,
            theta2: (theta * theta) as f32,
            nodes: Vec::with_capacity(n / 2 + 1),
            order: (0..n as u32).collect(),
            scratch: vec![0; n],
            sorted: vec![0.0; n * dims],
            rep_sorted: vec![0.0; n * dims],
            groups: Vec::new(),
            z_parts: Vec::new(),
        }
    }

    /// Σ_j w_ij^{1+1/α} (y_i − y_j) into `rep`; returns Z = Σ_{i≠j} w_ij (both approximate).
    pub fn repulsion(&mut self, y: &[f32], dof: f64, rep: &mut [f32]) -> f64 {
        match self.dims {
            2 => self.run::<2>(y, dof as f32, rep),
            _ => self.run::<3>(y, dof as f32, rep),
        }
    }

    fn run<const D: usize>(&mut self, y: &[f32], dof: f32, rep: &mut [f32]) -> f64 {
        self.build::<D>(y);
        let (nodes, sorted, theta2) = (&self.nodes, &self.sorted, self.theta2);
        // Each group's slice of the output (groups tile the tree order in sequence).
        let mut outputs: Vec<&mut [f32]> = Vec::with_capacity(self.groups.len());
        let mut rest: &mut [f32] = &mut self.rep_sorted;
        for &g in &self.groups {
            let node = &nodes[g as usize];
            let (mine, tail) = rest.split_at_mut((node.end - node.start) as usize * D);
            outputs.push(mine);
            rest = tail;
        }
        outputs
            .into_par_iter()
            .zip(self.groups.par_iter())
            .zip(self.z_parts.par_iter_mut())
            .for_each_init(Interactions::default, |list, ((out, &g), z_slot)| {
                let group = &nodes[g as usize];
                list.collect::<D>(nodes, sorted, group, theta2);
                *z_slot = list.apply::<D>(sorted, group, dof, out);
            });
        for (k, &item) in self.order.iter().enumerate() {
            let i = item as usize;
            rep[i * D..(i + 1) * D].copy_from_slice(&self.rep_sorted[k * D..(k + 1) * D]);
        }
        // Fixed groups summed in order: deterministic whatever the thread count.
        self.z_parts.iter().sum()
    }

    fn build<const D: usize>(&mut self, y: &[f32]) {
        let n = self.order.len();
        let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
        for p in y.chunks_exact(D) {
            for a in 0..D {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        let mut centre = [0f32; 3];
        let mut half = 0f32;
        for a in 0..D {
            centre[a] = 0.5 * (lo[a] + hi[a]);
            half = half.max(0.5 * (hi[a] - lo[a]));
        }
        // Slightly larger than the data, so the extreme points fall strictly inside.
        half = half * (1.0 + 1e-5) + 1e-12;
        // Keep the previous order: it is nearly sorted already, which makes the splits cheap.
        self.nodes.clear();
        self.nodes.push(Node {
            centre,
            half,
            start: 0,
            end: n as u32,
            count: n as u32,
            ..Node::default()
        });
        self.split::<D>(y, 0, 0);
        self.groups.clear();
        self.collect_groups(0);
        self.z_parts.resize(self.groups.len(), 0.0);
        for (k, &item) in self.order.iter().enumerate() {
            let i = item as usize;
            self.sorted[k * D..(k + 1) * D].copy_from_slice(&y[i * D..(i + 1) * D]);
        }
    }

    /// The highest nodes with at most `GROUP_SIZE` points (or leaves), depth first: children
    /// are stored in tree order, so the groups come out in tree order too.
    fn collect_groups(&mut self, idx: usize) {
        let node = self.nodes[idx];
        if node.count as usize <= GROUP_SIZE || node.n_children == 0 {
            self.groups.push(idx as u32);
            return;
        }
        for c in node.first_child..node.first_child + node.n_children {
            self.collect_groups(c as usize);
        }
    }

    fn split<const D: usize>(&mut self, y: &[f32], idx: usize, depth: usize) {
        let node = self.nodes[idx];
        let (start, end) = (node.start as usize, node.end as usize);
        if end - start <= LEAF_SIZE || depth >= MAX_DEPTH {
            let mut com = [0f64; 3];
            for &item in &self.order[start..end] {
                let i = item as usize;
                for a in 0..D {
                    com[a] += f64::from(y[i * D + a]);
                }
            }
            let c = (end - start) as f64;
            for a in 0..D {
                self.nodes[idx].com[a] = (com[a] / c) as f32;
            }
            return;
        }
        let child_of = |i: usize| -> usize {
            (0..D)
                .filter(|&a| y[i * D + a] >= node.centre[a])
                .map(|a| 1 << a)
                .sum()
        };
        // Counting sort of the node's items by child.
        let mut counts = [0usize; 8];
        for &item in &self.order[start..end] {
            counts[child_of(item as usize)] += 1;
        }
        let mut offsets = [0usize; 8];
        let mut acc = start;
        for c in 0..(1 << D) {
            offsets[c] = acc;
            acc += counts[c];
        }
        let mut next = offsets;
        for k in start..end {
            let item = self.order[k];
            let c = child_of(item as usize);
            self.scratch[next[c]] = item;
            next[c] += 1;
        }
        self.order[start..end].copy_from_slice(&self.scratch[start..end]);
        let first_child = self.nodes.len();
        let quarter = 0.5 * node.half;
        for c in 0..(1 << D) {
            if counts[c] == 0 {
                continue;
            }
            let mut centre = node.centre;
            for (a, slot) in centre.iter_mut().enumerate().take(D) {
                *slot += if c & (1 << a) != 0 { quarter } else { -quarter };
            }
            self.nodes.push(Node {
                centre,
                half: quarter,
                start: offsets[c] as u32,
                end: (offsets[c] + counts[c]) as u32,
                count: counts[c] as u32,
                ..Node::default()
            });
        }
        let n_children = self.nodes.len() - first_child;
        self.nodes[idx].first_child = first_child as u32;
        self.nodes[idx].n_children = n_children as u32;
        let mut com = [0f64; 3];
        for c in first_child..first_child + n_children {
            self.split::<D>(y, c, depth + 1);
            let child = self.nodes[c];
            for a in 0..D {
                com[a] += f64::from(child.com[a]) * f64::from(child.count);
            }
        }
        for a in 0..D {
            self.nodes[idx].com[a] = (com[a] / f64::from(node.count)) as f32;
        }
    }
}

/// One group's interaction list: accepted cells (centre of mass, point count) and, where a
/// cell had to be opened down to a leaf, single points (count 1), as columns so the loop that
/// applies them to each point vectorises.
#[derive(Default)]
struct Interactions {
    pos: [Vec<f32>; 3],
    count: Vec<f32>,
    stack: Vec<u32>,
}

impl Interactions {
    /// Walk the tree once for all of `group`'s points. A cell is accepted when θ holds from
    /// the nearest point of the group's bounding box, so it holds for every point in the group
    /// (the list is at least as accurate as each point's own walk). The group's own points are
    /// listed one by one, each point included (its self-term is taken out in `apply`).
    fn collect<const D: usize>(
        &mut self,
        nodes: &[Node],
        sorted: &[f32],
        group: &Node,
        theta2: f32,
    ) {
        for column in &mut self.pos {
            column.clear();
        }
        self.count.clear();
        let (gs, ge) = (group.start, group.end);
        let (mut lo, mut hi) = ([f32::INFINITY; 3], [f32::NEG_INFINITY; 3]);
        for p in sorted[gs as usize * D..ge as usize * D].chunks_exact(D) {
            for a in 0..D {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        self.stack.clear();
        self.stack.push(0);
        while let Some(at) = self.stack.pop() {
            let node = &nodes[at as usize];
            let inside_group = node.start >= gs && node.end <= ge;
            let holds_group = node.start < ge && node.end > gs;
            if !inside_group && !holds_group {
                let mut d2 = 0f32;
                for a in 0..D {
                    let d = (lo[a] - node.com[a]).max(node.com[a] - hi[a]).max(0.0);
                    d2 += d * d;
                }
                let side = 2.0 * node.half;
                if side * side < theta2 * d2 {
                    self.push(&node.com[..D], node.count as f32);
                    continue;
                }
            }
            if inside_group || node.n_children == 0 {
                for p in sorted[node.start as usize * D..node.end as usize * D].chunks_exact(D) {
                    self.push(p, 1.0);
                }
            } else {
                self.stack
                    .extend(node.first_child..node.first_child + node.n_children);
            }
        }
    }

    /// Add an entry; in 2D the third column is 0, so one 3-wide loop serves both.
    #[inline]
    fn push(&mut self, at: &[f32], count: f32) {
        for (a, column) in self.pos.iter_mut().enumerate() {
            column.push(at.get(a).copied().unwrap_or(0.0));
        }
        self.count.push(count);
    }

    /// Every group point's repulsion from the list into `out`; returns the group's Z.
    fn apply<const D: usize>(
        &self,
        sorted: &[f32],
        group: &Node,
        dof: f32,
        out: &mut [f32],
    ) -> f64 {
        let mut z = 0f64;
        let points = &sorted[group.start as usize * D..group.end as usize * D];
        let entries = || {
            self.pos[0]
                .iter()
                .zip(&self.pos[1])
                .zip(&self.pos[2])
                .zip(&self.count)
                .map(|(((&x, &y), &z), &c)| ([x, y, z], c))
        };
        for (p, o) in points.chunks_exact(D).zip(out.chunks_exact_mut(D)) {
            let mut pt = [0f32; 3];
            pt[..D].copy_from_slice(p);
            let (mut fx, mut fy, mut fz, mut zi) = (0f32, 0f32, 0f32, 0f32);
            // Split on dof outside the loop: the standard kernel is a division, no powf.
            if dof == 1.0 {
                for (e, c) in entries() {
                    let (dx, dy, dz) = (pt[0] - e[0], pt[1] - e[1], pt[2] - e[2]);
                    let w = 1.0 / (1.0 + dx * dx + dy * dy + dz * dz);
                    zi += c * w;
                    let f = c * w * w;
                    fx += f * dx;
                    fy += f * dy;
                    fz += f * dz;
                }
            } else {
                for (e, c) in entries() {
                    let (dx, dy, dz) = (pt[0] - e[0], pt[1] - e[1], pt[2] - e[2]);
                    let (w, w_root) = kernel(dx * dx + dy * dy + dz * dz, dof);
                    zi += c * w;
                    let f = c * w * w_root;
                    fx += f * dx;
                    fy += f * dy;
                    fz += f * dz;
                }
            }
            // The point itself is in the list once (its own group): distance 0, kernel 1,
            // no force.
            zi -= 1.0;
            o.copy_from_slice(&[fx, fy, fz][..D]);
            z += f64::from(zi);
        }
        z
    }
}
