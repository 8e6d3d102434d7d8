//! Barnes-Hut repulsion: a quadtree (2D) or octree (3D) rebuilt every iteration; a cell whose
//! side is below θ times its distance to a point acts on that point through its centre of mass.
//!
//! The tree lives in flat arrays reused between iterations (nodes, item order), and points are
//! visited in tree order so neighbouring points walk the same cells while they are in cache.
//! Leaves hold up to `LEAF_SIZE` points, whose forces are summed exactly.

#![allow(
    clippy::needless_range_loop,
    reason = "axis loops index several fixed-size arrays (point, centre of mass, force) at once"
)]

use rayon::prelude::*;

use super::kernel;

/// Points a leaf may hold; more are split (unless the cell is `MAX_DEPTH` deep: duplicates).
const LEAF_SIZE: usize = 8;
const MAX_DEPTH: usize = 30;
/// Points (in tree order) per parallel task.
const POINTS_PER_TASK: usize = 256;
/// Enough for a depth-first walk: each level leaves at most 2^D − 1 siblings on the stack.
const STACK: usize = MAX_DEPTH * 7 + 8;

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
            z_parts: vec![0.0; n.div_ceil(POINTS_PER_TASK)],
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
        self.rep_sorted
            .par_chunks_mut(POINTS_PER_TASK * D)
            .zip(self.z_parts.par_iter_mut())
            .enumerate()
            .for_each(|(t, (out, z_slot))| {
                let mut z = 0f64;
                let mut stack = [0u32; STACK];
                for (r, o) in out.chunks_exact_mut(D).enumerate() {
                    let k = t * POINTS_PER_TASK + r;
                    let mut pt = [0f32; D];
                    pt.copy_from_slice(&sorted[k * D..(k + 1) * D]);
                    let mut force = [0f32; D];
                    let mut zi = 0f32;
                    let mut top = 1;
                    stack[0] = 0;
                    while top > 0 {
                        top -= 1;
                        let node = &nodes[stack[top] as usize];
                        let inside = (node.start as usize..node.end as usize).contains(&k);
                        let mut d2 = 0f32;
                        for a in 0..D {
                            let d = pt[a] - node.com[a];
                            d2 += d * d;
                        }
                        let side = 2.0 * node.half;
                        if !inside && side * side < theta2 * d2 {
                            let (w, w_root) = kernel(d2, dof);
                            let c = node.count as f32;
                            zi += c * w;
                            let f = c * w * w_root;
                            for a in 0..D {
                                force[a] += f * (pt[a] - node.com[a]);
                            }
                        } else if node.n_children == 0 {
                            for q in node.start as usize..node.end as usize {
                                if q == k {
                                    continue;
                                }
                                let other = &sorted[q * D..(q + 1) * D];
                                let mut d2 = 0f32;
                                for a in 0..D {
                                    let d = pt[a] - other[a];
                                    d2 += d * d;
                                }
                                let (w, w_root) = kernel(d2, dof);
                                zi += w;
                                let f = w * w_root;
                                for a in 0..D {
                                    force[a] += f * (pt[a] - other[a]);
                                }
                            }
                        } else {
                            let first = node.first_child;
                            for c in 0..node.n_children {
                                stack[top] = first + c;
                                top += 1;
                            }
                        }
                    }
                    o.copy_from_slice(&force);
                    z += f64::from(zi);
                }
                *z_slot = z;
            });
        for (k, &item) in self.order.iter().enumerate() {
            let i = item as usize;
            rep[i * D..(i + 1) * D].copy_from_slice(&self.rep_sorted[k * D..(k + 1) * D]);
        }
        // Fixed chunks summed in order: deterministic whatever the thread count.
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
        for (k, &item) in self.order.iter().enumerate() {
            let i = item as usize;
            self.sorted[k * D..(k + 1) * D].copy_from_slice(&y[i * D..(i + 1) * D]);
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
