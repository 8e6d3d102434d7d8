//! The similarity transform (rotation or reflection, uniform scale, translation) that best
//! carries one set of points onto another, weighted least squares: it aligns a second
//! embedding's layout with the first so that what did not change stays where it was.

use ndarray::Array2;

use super::pca::jacobi_eigen;

/// y ≈ scale · R · x + translation, R orthogonal (`dims` × `dims`, row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct Similarity {
    pub dims: usize,
    pub rotation: Vec<f64>,
    pub scale: f64,
    pub translation: Vec<f64>,
}

impl Similarity {
    /// Transform points (N × dims, row-major) in place.
    pub fn apply(&self, coords: &mut [f32]) {
        let d = self.dims;
        let mut x = vec![0f64; d];
        for row in coords.chunks_exact_mut(d) {
            for (xa, &v) in x.iter_mut().zip(row.iter()) {
                *xa = f64::from(v);
            }
            for (a, out) in row.iter_mut().enumerate() {
                let turned: f64 = (0..d).map(|b| self.rotation[a * d + b] * x[b]).sum();
                *out = (self.scale * turned + self.translation[a]) as f32;
            }
        }
    }
}

/// The similarity taking `from` onto `to` (both N × `dims`) that minimises
/// Σ wᵢ ‖s R xᵢ + t − yᵢ‖², with `weights` (all 1 when `None`; negative ones count as 0).
/// A reflection is allowed: two layouts of the same data are as often mirror images as
/// rotations of each other. `None` when there is nothing to fit: no weight, or the weighted
/// `from` points all coincide.
///
/// R = Nᵀ (N Nᵀ)^−½ for N = Σ wᵢ x̃ᵢ ỹᵢᵀ of the centred points (the orthogonal factor of its
/// polar decomposition), through the eigenvectors of the small symmetric N Nᵀ; where that is
/// singular (points on a line) the rotation is not determined and R = I.
pub fn fit(from: &[f32], to: &[f32], dims: usize, weights: Option<&[f32]>) -> Option<Similarity> {
    let n = from.len() / dims.max(1);
    if dims == 0 || to.len() != from.len() || weights.is_some_and(|w| w.len() != n) {
        return None;
    }
    let weight = |i: usize| weights.map_or(1.0, |w| f64::from(w[i]).max(0.0));
    let total: f64 = (0..n).map(weight).sum();
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let mean = |p: &[f32]| -> Vec<f64> {
        (0..dims)
            .map(|a| {
                (0..n)
                    .map(|i| weight(i) * f64::from(p[i * dims + a]))
                    .sum::<f64>()
                    / total
            })
            .collect()
    };
    let (mx, my) = (mean(from), mean(to));
    let mut cross = Array2::<f64>::zeros((dims, dims));
    let mut spread = 0.0;
    for i in 0..n {
        let w = weight(i);
        if w == 0.0 {
            continue;
        }
        for a in 0..dims {
            let xa = f64::from(from[i * dims + a]) - mx[a];
            spread += w * xa * xa;
            for b in 0..dims {
                cross[[a, b]] += w * xa * (f64::from(to[i * dims + b]) - my[b]);
            }
        }
    }
    if spread <= 0.0 || !spread.is_finite() {
        return None;
    }
    let (values, vectors) = jacobi_eigen(cross.dot(&cross.t()));
    let largest = values.iter().copied().fold(0.0, f64::max);
    let rotation = if largest > 0.0 && values.iter().all(|&v| v > 1e-12 * largest) {
        let mut inv_sqrt = Array2::<f64>::zeros((dims, dims));
        for (c, &v) in values.iter().enumerate() {
            let e = vectors.column(c);
            for a in 0..dims {
                for b in 0..dims {
                    inv_sqrt[[a, b]] += e[a] * e[b] / v.sqrt();
                }
            }
        }
        cross.t().dot(&inv_sqrt)
    } else {
        Array2::eye(dims)
    };
    // s = tr(R N) / Σ w ‖x̃‖².
    let trace: f64 = (0..dims)
        .map(|a| {
            (0..dims)
                .map(|b| rotation[[a, b]] * cross[[b, a]])
                .sum::<f64>()
        })
        .sum();
    let scale = trace / spread;
    if scale <= 0.0 || !scale.is_finite() {
        return None;
    }
    let translation = (0..dims)
        .map(|a| my[a] - scale * (0..dims).map(|b| rotation[[a, b]] * mx[b]).sum::<f64>())
        .collect();
    Some(Similarity {
        dims,
        rotation: rotation.iter().copied().collect(),
        scale,
        translation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(n: usize, dims: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n * dims)
            .map(|_| {
                s = crate::rng::mix(s);
                (s >> 40) as f32 / (1u64 << 24) as f32 * 10.0 - 5.0
            })
            .collect()
    }

    fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn recovers_a_known_similarity_in_2d_and_3d_mirrored_or_not() {
        let (c, s) = (0.6f64, 0.8f64);
        let cases = [
            // 2D rotation, then a mirror image (a reflection).
            (2, vec![c, -s, s, c]),
            (2, vec![c, s, s, -c]),
            // 3D: a rotation about z, and the same with z flipped.
            (3, vec![c, -s, 0.0, s, c, 0.0, 0.0, 0.0, 1.0]),
            (3, vec![c, -s, 0.0, s, c, 0.0, 0.0, 0.0, -1.0]),
        ];
        for (dims, rotation) in cases {
            let want = Similarity {
                dims,
                rotation,
                scale: 2.5,
                translation: (0..dims).map(|a| a as f64 * 3.0 - 1.0).collect(),
            };
            let x = points(200, dims, 7);
            let mut y = x.clone();
            want.apply(&mut y);
            let got = fit(&x, &y, dims, None).expect("fit");
            assert!((got.scale - 2.5).abs() < 1e-6, "{got:?}");
            let mut moved = x.clone();
            got.apply(&mut moved);
            assert!(close(&moved, &y, 1e-3), "{dims}D {got:?}");
        }
    }

    #[test]
    fn weights_leave_out_what_moved() {
        let x = points(100, 2, 3);
        let want = Similarity {
            dims: 2,
            rotation: vec![0.0, -1.0, 1.0, 0.0],
            scale: 0.5,
            translation: vec![4.0, -2.0],
        };
        let mut y = x.clone();
        want.apply(&mut y);
        // Ten items moved far away: weighted out, the fit is the transform of the others.
        let mut weights = vec![1f32; 100];
        for i in 0..10 {
            y[i * 2] += 50.0;
            weights[i] = 0.0;
        }
        let got = fit(&x, &y, 2, Some(&weights)).expect("fit");
        let mut moved = x.clone();
        got.apply(&mut moved);
        assert!(close(&moved[20..], &y[20..], 1e-3), "{got:?}");
        // Unweighted, the outliers pull it off.
        let pulled = fit(&x, &y, 2, None).expect("fit");
        let mut off = x.clone();
        pulled.apply(&mut off);
        assert!(!close(&off[20..], &y[20..], 1e-2));
    }

    #[test]
    fn nothing_to_fit_is_none() {
        let same = vec![1f32; 20];
        assert_eq!(fit(&same, &same, 2, None), None);
        let x = points(10, 2, 1);
        assert_eq!(fit(&x, &x, 2, Some(&[0.0; 10])), None);
        assert_eq!(fit(&x, &x[..10], 2, None), None);
        assert_eq!(fit(&x, &x, 0, None), None);
        // Points on a line: no rotation to find; scale and shift still fit.
        let line: Vec<f32> = (0..10).flat_map(|i| [i as f32, 0.0]).collect();
        let shifted: Vec<f32> = line.iter().map(|v| v * 2.0 + 1.0).collect();
        let got = fit(&line, &shifted, 2, None).expect("fit");
        let mut moved = line.clone();
        got.apply(&mut moved);
        assert!(close(&moved, &shifted, 1e-4), "{got:?}");
    }
}
