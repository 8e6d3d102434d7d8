//! Dot products and squared distances in AVX2 with fused multiply-adds where the CPU has them
//! (else plain), picked at run time by `pulp`: the binary is built for baseline x86-64, where a
//! plain loop gets four lanes without fused multiply-adds. (pulp's AVX-512 level is left off: it
//! turns on a bytemuck feature that every Bevy crate is rebuilt for, and these dot products are
//! memory-bound.) Used where rows are compared one pair at a time (the kNN re-rank in the full
//! space, an item against its probed centres), not where a GEMM can batch them.

/// Start bringing `items[at]` into the cache (nothing if `at` is past the end): for loops that
/// read rows at random, so that the wait for one overlaps the work on another.
#[inline]
pub fn prefetch<T>(items: &[T], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if at < items.len() {
        let p = items.as_ptr().wrapping_add(at);
        // SAFETY: a prefetch is only a hint; it reads nothing into the program and does not
        // fault on any address. SSE is part of every x86-64 target.
        #[allow(unsafe_code)]
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (items, at);
}

/// `a · b` (equal lengths; the longer one's tail is ignored).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    pulp::Arch::new().dispatch(Pairwise::<false>(a, b))
}

/// `‖a − b‖²` (equal lengths; the longer one's tail is ignored). The inverted file's probes
/// measure each item against its probed centres this way (a plain sum in order does not
/// vectorise: 4.6 % of a 10⁶ × 128 search went to it).
pub fn squared_distance(a: &[f32], b: &[f32]) -> f32 {
    pulp::Arch::new().dispatch(Pairwise::<true>(a, b))
}

/// The sum over lanes of `a·b` or, when `DIFFERENCE`, of `(a − b)²`.
struct Pairwise<'a, const DIFFERENCE: bool>(&'a [f32], &'a [f32]);

impl<const DIFFERENCE: bool> pulp::WithSimd for Pairwise<'_, DIFFERENCE> {
    type Output = f32;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> f32 {
        let len = self.0.len().min(self.1.len());
        let (a, a_tail) = S::as_simd_f32s(&self.0[..len]);
        let (b, b_tail) = S::as_simd_f32s(&self.1[..len]);
        let term = |x: S::f32s, y: S::f32s, acc: S::f32s| {
            if DIFFERENCE {
                let d = simd.sub_f32s(x, y);
                simd.mul_add_e_f32s(d, d, acc)
            } else {
                simd.mul_add_e_f32s(x, y, acc)
            }
        };
        // Two accumulators, so consecutive fused multiply-adds do not wait on each other.
        let (mut even, mut odd) = (simd.splat_f32s(0.0), simd.splat_f32s(0.0));
        let (pairs_a, pairs_b) = (a.chunks_exact(2), b.chunks_exact(2));
        let (last_a, last_b) = (pairs_a.remainder(), pairs_b.remainder());
        for (x, y) in pairs_a.zip(pairs_b) {
            even = term(x[0], y[0], even);
            odd = term(x[1], y[1], odd);
        }
        if let (Some(&x), Some(&y)) = (last_a.first(), last_b.first()) {
            even = term(x, y, even);
        }
        let tail: f32 = a_tail
            .iter()
            .zip(b_tail)
            .map(|(x, y)| if DIFFERENCE { (x - y) * (x - y) } else { x * y })
            .sum();
        simd.reduce_sum_f32s(simd.add_f32s(even, odd)) + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_plain_sum_at_every_length() {
        for len in [0, 1, 7, 15, 16, 17, 33, 100, 784] {
            let a: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
            let b: Vec<f32> = (0..len).map(|i| (i % 5) as f32 * 0.5).collect();
            let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert_eq!(dot(&a, &b), want, "length {len}");
        }
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, 5.0]), 14.0);
    }

    #[test]
    fn squared_distances_match_a_plain_sum_at_every_length() {
        for len in [0, 1, 7, 15, 16, 17, 33, 100, 784] {
            let a: Vec<f32> = (0..len).map(|i| (i % 7) as f32 - 3.0).collect();
            let b: Vec<f32> = (0..len).map(|i| (i % 5) as f32 * 0.5).collect();
            let want: f32 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
            assert_eq!(squared_distance(&a, &b), want, "length {len}");
        }
        assert_eq!(squared_distance(&[1.0, 2.0, 3.0], &[4.0, 6.0]), 25.0);
    }
}
