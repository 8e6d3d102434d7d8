//! Seeded synthetic feature sets for benchmarks and tests at any size: clustered data shaped like
//! image embeddings (many clusters of different sizes, anisotropic, not axis-aligned, with a high
//! intrinsic dimension inside each cluster), so a benchmark at 10⁶ items needs no download.
//!
//! Every row is a pure function of (seed, row index): the first N rows of a big set equal the
//! set generated with N rows, so growth tables over 125k…1M compare like with like, and rows are
//! generated in parallel without changing the result.

pub mod shapes;

use rayon::prelude::*;

use crate::rng::{SplitMix, mix};

/// What [`clustered`] draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusteredSpec {
    pub n: usize,
    pub dim: usize,
    pub clusters: usize,
    pub seed: u64,
}

impl ClusteredSpec {
    /// The benchmark set of the million-item issue: 1,000 clusters in 128 dimensions.
    pub fn million() -> Self {
        Self {
            n: 1_000_000,
            dim: 128,
            clusters: 1_000,
            seed: 0,
        }
    }
}

/// Directions of large spread per cluster (on top of the per-axis spread): what makes a
/// cluster elongated along directions that are not the axes.
const STRETCH_DIRECTIONS: usize = 4;
/// Spread of the cluster centres per axis.
const CENTRE_SCALE: f32 = 1.0;
/// Typical per-axis spread inside a cluster: clusters overlap their nearest neighbours a
/// little, as classes of real embeddings do, instead of being trivially separable.
const AXIS_SCALE: f32 = 0.3;
/// Typical spread along a stretch direction.
const STRETCH_SCALE: f32 = 1.0;

/// One cluster's shape: x = centre + axis_scale ⊙ z + Σ_r stretch_r · g_r · direction_r.
struct Cluster {
    centre: Vec<f32>,
    axis_scale: Vec<f32>,
    /// `STRETCH_DIRECTIONS` unit vectors, row-major, each scaled by its spread.
    stretch: Vec<f32>,
}

/// A stream of standard normal values (Box–Muller over splitmix64 uniforms).
pub(crate) struct Normal(SplitMix, Option<f32>);

impl Normal {
    pub(crate) fn new(seed: u64) -> Self {
        Self(SplitMix::new(seed), None)
    }

    pub(crate) fn uniform(&mut self) -> f64 {
        // 53 random bits in (0, 1]: never 0, so the logarithm is finite.
        ((self.0.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn next(&mut self) -> f32 {
        if let Some(v) = self.1.take() {
            return v;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let t = std::f64::consts::TAU * v;
        self.1 = Some((r * t.sin()) as f32);
        (r * t.cos()) as f32
    }
}

fn make_cluster(spec: &ClusteredSpec, c: usize) -> Cluster {
    let mut g = Normal::new(mix(spec.seed ^ mix(0xC1A5_7E25 + c as u64)));
    let centre = (0..spec.dim).map(|_| g.next() * CENTRE_SCALE).collect();
    // Log-normal spreads: some clusters tight, some diffuse, each with its own shape.
    let size = (0.4 * g.next()).exp();
    let axis_scale = (0..spec.dim)
        .map(|_| AXIS_SCALE * size * (0.3 * g.next()).exp())
        .collect();
    let mut stretch = Vec::with_capacity(STRETCH_DIRECTIONS * spec.dim);
    for _ in 0..STRETCH_DIRECTIONS {
        let dir: Vec<f32> = (0..spec.dim).map(|_| g.next()).collect();
        let norm = dir
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        let spread = STRETCH_SCALE * size * (0.5 * g.next()).exp();
        stretch.extend(dir.iter().map(|v| v / norm * spread));
    }
    Cluster {
        centre,
        axis_scale,
        stretch,
    }
}

/// Cumulative cluster weights (log-normal with a wide spread: sizes differ by 10–100×).
fn cumulative_weights(spec: &ClusteredSpec) -> Vec<f64> {
    let mut g = Normal::new(mix(spec.seed ^ 0x5EED_CAFE));
    let mut total = 0.0;
    let running: Vec<f64> = (0..spec.clusters)
        .map(|_| {
            total += f64::from(g.next()).exp();
            total
        })
        .collect();
    running.iter().map(|w| w / total).collect()
}

/// `spec.n` rows of `spec.dim` float32 values (row-major) and each row's cluster.
/// Deterministic for the seed; row i does not depend on `n`.
pub fn clustered(spec: &ClusteredSpec) -> (Vec<f32>, Vec<i64>) {
    let clusters: Vec<Cluster> = (0..spec.clusters.max(1))
        .into_par_iter()
        .map(|c| make_cluster(spec, c))
        .collect();
    let cumulative = cumulative_weights(&ClusteredSpec {
        clusters: clusters.len(),
        ..*spec
    });
    let dim = spec.dim.max(1);
    rows(spec, 0x0123_4567, |g, row| {
        let u = g.uniform();
        let c = cumulative
            .partition_point(|&w| w < u)
            .min(clusters.len() - 1);
        let cluster = &clusters[c];
        for ((x, &m), &s) in row.iter_mut().zip(&cluster.centre).zip(&cluster.axis_scale) {
            *x = m + s * g.next();
        }
        for direction in cluster.stretch.chunks_exact(dim) {
            let w = g.next();
            for (x, &d) in row.iter_mut().zip(direction) {
                *x += w * d;
            }
        }
        c as i64
    })
}

/// `spec.n` rows of `spec.dim` values, each made by `row(normals, out) -> class` from a stream
/// seeded by (seed, `salt`, row index) alone: in parallel, and the same rows whatever N.
pub(crate) fn rows(
    spec: &ClusteredSpec,
    salt: u64,
    row: impl Fn(&mut Normal, &mut [f32]) -> i64 + Sync,
) -> (Vec<f32>, Vec<i64>) {
    let dim = spec.dim.max(1);
    let mut features = vec![0f32; spec.n * dim];
    let mut labels = vec![0i64; spec.n];
    features
        .par_chunks_mut(dim)
        .zip(labels.par_iter_mut())
        .enumerate()
        .for_each(|(i, (out, label))| {
            let mut g = Normal::new(mix(spec.seed.wrapping_add(salt) ^ mix(i as u64)));
            *label = row(&mut g, out);
        });
    (features, labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(n: usize) -> ClusteredSpec {
        ClusteredSpec {
            n,
            dim: 16,
            clusters: 20,
            seed: 7,
        }
    }

    #[test]
    fn rows_depend_on_seed_and_index_only() {
        let (small, small_labels) = clustered(&spec(100));
        let (big, big_labels) = clustered(&spec(300));
        assert_eq!(small, big[..small.len()]);
        assert_eq!(small_labels, big_labels[..100]);
        let (other, _) = clustered(&ClusteredSpec {
            seed: 8,
            ..spec(100)
        });
        assert_ne!(small, other);
        assert!(big.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn clusters_differ_in_size_and_items_sit_nearest_their_own_centre_mostly() {
        let s = spec(20_000);
        let (x, labels) = clustered(&s);
        let mut counts = vec![0usize; s.clusters];
        for &l in &labels {
            counts[l as usize] += 1;
        }
        let (min, max) = (counts.iter().min().copied(), counts.iter().max().copied());
        let (min, max) = (min.unwrap_or(0), max.unwrap_or(0));
        assert!(max > 4 * min.max(1), "sizes should differ: {min}…{max}");
        // Each cluster's mean is closer to its own items than other clusters' means are.
        let mut means = vec![0f64; s.clusters * s.dim];
        for (row, &l) in x.chunks_exact(s.dim).zip(&labels) {
            for (m, &v) in means[l as usize * s.dim..].iter_mut().zip(row) {
                *m += f64::from(v) / counts[l as usize] as f64;
            }
        }
        let nearest_own = x
            .chunks_exact(s.dim)
            .zip(&labels)
            .filter(|(row, l)| {
                let d = |c: usize| -> f64 {
                    row.iter()
                        .zip(&means[c * s.dim..(c + 1) * s.dim])
                        .map(|(&a, &b)| (f64::from(a) - b).powi(2))
                        .sum()
                };
                let own = d(**l as usize);
                (0..s.clusters).all(|c| d(c) >= own)
            })
            .count();
        let share = nearest_own as f64 / labels.len() as f64;
        assert!(
            share > 0.8 && share < 1.0,
            "clustered but not trivially: {share}"
        );
    }
}
