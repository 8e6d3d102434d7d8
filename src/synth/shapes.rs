//! The shapes of data a kNN search is measured on, beyond [`super::clustered`]: a search tuned
//! on one shape can be fragile on another (an inverted file needs many probes when cells are
//! very unequal or points lie between clusters), so benchmarks run a suite of them.
//!
//! Like [`super::clustered`], every row is a pure function of (seed, row index).

use rayon::prelude::*;

use super::{ClusteredSpec, Normal, clustered, rows};
use crate::rng::mix;

/// A shape of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Clustered,
    Patches,
    Isotropic,
    Lifted,
}

crate::choice::choice!(Shape {
    Clustered => "clustered", "anisotropic clusters of log-normal sizes (the project's benchmark set)";
    Patches => "patches", "Zipf-sized clusters (a few huge, many tiny), each near a 2–8-dimensional patch, and 2 % of the points uniform through the space";
    Isotropic => "isotropic", "equal isotropic Gaussian clusters: the intrinsic dimension is the full dimension";
    Lifted => "lifted", "the clustered set made in 128 dimensions, lifted to DIM by a fixed random map, with noise";
});

/// What [`generate`] draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapeSpec {
    pub shape: Shape,
    pub n: usize,
    pub dim: usize,
    pub clusters: usize,
    pub seed: u64,
}

/// Share of uniform background points in [`Shape::Patches`].
const BACKGROUND: f64 = 0.02;
/// Half the side of the cube the background fills (cluster centres are standard normal).
const BACKGROUND_HALF_SIDE: f32 = 3.0;
/// Per-axis noise around a patch.
const PATCH_NOISE: f32 = 0.02;
/// Per-axis spread of an isotropic cluster: its items are 0.6× as far apart as the centres are
/// (√2D·0.6 against √2D), so clusters touch and an item's neighbours can lie across the border.
/// (At 0.35 they stood apart and one probe of an inverted file found 96 % of the neighbours.)
const ISOTROPIC_SCALE: f32 = 0.6;
/// The dimension [`Shape::Lifted`] lifts from.
const LIFT_FROM: usize = 128;
/// Per-axis noise added after the lift.
const LIFT_NOISE: f32 = 0.05;

/// `spec.n` rows of `spec.dim` float32 values (row-major) and each row's cluster (for
/// [`Shape::Patches`], the background's rows are class `spec.clusters`).
pub fn generate(spec: &ShapeSpec) -> (Vec<f32>, Vec<i64>) {
    let base = ClusteredSpec {
        n: spec.n,
        dim: spec.dim,
        clusters: spec.clusters.max(1),
        seed: spec.seed,
    };
    match spec.shape {
        Shape::Clustered => clustered(&base),
        Shape::Patches => patches(&base),
        Shape::Isotropic => isotropic(&base),
        Shape::Lifted => lifted(&base),
    }
}

/// A cluster's centre: standard normal per axis.
fn centre(g: &mut Normal, dim: usize) -> Vec<f32> {
    (0..dim).map(|_| g.next()).collect()
}

fn patches(spec: &ClusteredSpec) -> (Vec<f32>, Vec<i64>) {
    let dim = spec.dim.max(1);
    // (centre, patch directions scaled by their spread), per cluster.
    let shapes: Vec<(Vec<f32>, Vec<f32>)> = (0..spec.clusters)
        .into_par_iter()
        .map(|c| {
            let mut g = Normal::new(mix(spec.seed ^ mix(0x9A7C_4E50 + c as u64)));
            let middle = centre(&mut g, dim);
            let patch_dims = 2 + (mix(spec.seed ^ c as u64) % 7) as usize;
            let spread = 0.6 * (0.4 * g.next()).exp();
            let mut directions = Vec::with_capacity(patch_dims * dim);
            for _ in 0..patch_dims {
                let d: Vec<f32> = (0..dim).map(|_| g.next()).collect();
                let norm = d.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
                directions.extend(d.iter().map(|v| v / norm * spread));
            }
            (middle, directions)
        })
        .collect();
    // Zipf sizes: cluster c holds a share ∝ 1 / (c + 1).
    let mut total = 0.0;
    let cumulative: Vec<f64> = (0..spec.clusters)
        .map(|c| {
            total += 1.0 / (c + 1) as f64;
            total
        })
        .collect();
    rows(spec, 0x7A7C_4E5E, |g, out| {
        let u = g.uniform();
        if u < BACKGROUND {
            for x in out.iter_mut() {
                *x = (2.0 * g.uniform() as f32 - 1.0) * BACKGROUND_HALF_SIDE;
            }
            return spec.clusters as i64;
        }
        let at = (u - BACKGROUND) / (1.0 - BACKGROUND) * total;
        let c = cumulative
            .partition_point(|&w| w < at)
            .min(spec.clusters - 1);
        let (middle, directions) = &shapes[c];
        for (x, &m) in out.iter_mut().zip(middle) {
            *x = m + PATCH_NOISE * g.next();
        }
        for direction in directions.chunks_exact(dim) {
            let w = g.next();
            for (x, &d) in out.iter_mut().zip(direction) {
                *x += w * d;
            }
        }
        c as i64
    })
}

fn isotropic(spec: &ClusteredSpec) -> (Vec<f32>, Vec<i64>) {
    let dim = spec.dim.max(1);
    let centres: Vec<Vec<f32>> = (0..spec.clusters)
        .into_par_iter()
        .map(|c| {
            centre(
                &mut Normal::new(mix(spec.seed ^ mix(0x1507 + c as u64))),
                dim,
            )
        })
        .collect();
    rows(spec, 0x1507_0001, |g, out| {
        let c = ((g.uniform() * spec.clusters as f64) as usize).min(spec.clusters - 1);
        for (x, &m) in out.iter_mut().zip(&centres[c]) {
            *x = m + ISOTROPIC_SCALE * g.next();
        }
        c as i64
    })
}

fn lifted(spec: &ClusteredSpec) -> (Vec<f32>, Vec<i64>) {
    let dim = spec.dim.max(1);
    let (low, labels) = clustered(&ClusteredSpec {
        dim: LIFT_FROM,
        ..*spec
    });
    // A fixed Gaussian map, scaled so that distances keep their size on average.
    let mut g = Normal::new(mix(spec.seed ^ 0x11F7));
    let scale = 1.0 / (dim as f32).sqrt();
    let map: Vec<f32> = (0..dim * LIFT_FROM).map(|_| g.next() * scale).collect();
    let (mut features, _) = rows(spec, 0x11F7_0001, |g, out| {
        for x in out.iter_mut() {
            *x = LIFT_NOISE * g.next();
        }
        0
    });
    features
        .par_chunks_mut(dim)
        .zip(low.par_chunks(LIFT_FROM))
        .for_each(|(out, x)| {
            for (o, m) in out.iter_mut().zip(map.chunks_exact(LIFT_FROM)) {
                *o += m.iter().zip(x).map(|(a, b)| a * b).sum::<f32>();
            }
        });
    (features, labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choice::Choice;

    fn spec(shape: Shape, n: usize) -> ShapeSpec {
        ShapeSpec {
            shape,
            n,
            dim: 24,
            clusters: 50,
            seed: 3,
        }
    }

    #[test]
    fn every_shape_is_a_pure_function_of_seed_and_row() {
        for &shape in Shape::ALL {
            let (small, small_labels) = generate(&spec(shape, 200));
            let (big, big_labels) = generate(&spec(shape, 500));
            assert_eq!(small, big[..small.len()], "{shape:?}");
            assert_eq!(small_labels, big_labels[..200], "{shape:?}");
            assert!(big.iter().all(|v| v.is_finite()), "{shape:?}");
            let (other, _) = generate(&ShapeSpec {
                seed: 4,
                ..spec(shape, 200)
            });
            assert_ne!(small, other, "{shape:?}");
        }
    }

    #[test]
    fn patches_are_zipf_sized_with_a_background_and_isotropic_clusters_equal() {
        let (_, labels) = generate(&spec(Shape::Patches, 40_000));
        let mut counts = vec![0usize; 51];
        for &l in &labels {
            counts[l as usize] += 1;
        }
        // The background is 2 %, the largest cluster about 20× the smallest ones.
        let background = counts[50] as f64 / 40_000.0;
        assert!((0.015..0.025).contains(&background), "{background}");
        let (largest, last) = (counts[0], counts[49]);
        assert!(largest > 25 * last.max(1) && largest > 8_000, "{counts:?}");
        let (_, labels) = generate(&spec(Shape::Isotropic, 40_000));
        let mut counts = vec![0usize; 50];
        for &l in &labels {
            counts[l as usize] += 1;
        }
        let (min, max) = (counts.iter().min(), counts.iter().max());
        assert!(
            max.zip(min).is_some_and(|(a, b)| a * 2 < b * 3),
            "{counts:?}"
        );
    }

    #[test]
    fn a_lifted_set_keeps_its_neighbours() {
        // Pairwise distances after the lift follow those before it.
        let s = ShapeSpec {
            dim: 256,
            ..spec(Shape::Lifted, 300)
        };
        let (high, _) = generate(&s);
        let (low, _) = clustered(&ClusteredSpec {
            n: 300,
            dim: LIFT_FROM,
            clusters: 50,
            seed: 3,
        });
        let d = |x: &[f32], dim: usize, i: usize, j: usize| -> f32 {
            (0..dim)
                .map(|a| (x[i * dim + a] - x[j * dim + a]).powi(2))
                .sum::<f32>()
                .sqrt()
        };
        let mut ratios: Vec<f32> = (1..300)
            .map(|j| d(&high, 256, 0, j) / d(&low, LIFT_FROM, 0, j))
            .collect();
        ratios.sort_by(f32::total_cmp);
        // A random Gaussian map of 128 → 256 keeps lengths within about ±15 %.
        assert!(
            ratios[10] > 0.75 && ratios[289] < 1.3,
            "{:?}",
            (ratios[10], ratios[289])
        );
    }
}
