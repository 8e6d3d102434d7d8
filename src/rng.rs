//! Small, dependency-free random streams for seeded algorithms: what the results depend on
//! is written here, not in a crate whose output may change between versions.

/// splitmix64's increment (2⁶⁴ / φ).
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64: a fixed hash of a 64-bit value, for deriving independent seeds and samples.
#[inline]
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// splitmix64 as a stream: the i-th value (from 0) is `mix(seed + i·γ)`.
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let z = mix(self.0);
        self.0 = self.0.wrapping_add(GAMMA);
        z
    }
}

/// xorshift64: a fast stream for inner loops (negative sampling).
pub struct XorShift(u64);

impl XorShift {
    /// A stream from any seed (a zero state would stay zero, so the seed is hashed and odd).
    pub fn new(seed: u64) -> Self {
        Self(mix(seed) | 1)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..n` (n ≤ 2³²) from the stream's high 32 bits by a multiply and a shift
    /// (Lemire's range reduction): a 64-bit `%` costs tens of cycles, and the negative
    /// sampling draws hundreds of millions. The bias, under n / 2³², is far below what a
    /// sampler notices.
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n as u64 <= 1 << 32, "below() draws from 32 bits");
        (((self.next_u64() >> 32) * n as u64) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_differ_by_seed_and_never_stick_at_zero() {
        let (mut a, mut b) = (XorShift::new(0), XorShift::new(1));
        let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        assert_ne!(xa, xb);
        assert!(xa.iter().all(|&v| v != 0));
        assert_ne!(mix(1), mix(2));
        let mut r = XorShift::new(3);
        let draws: Vec<usize> = (0..1000).map(|_| r.below(10)).collect();
        assert!(draws.iter().all(|&v| v < 10));
        assert!((0..10).all(|v| draws.iter().filter(|&&d| d == v).count() > 60));
        let mut stream = SplitMix::new(5);
        assert_eq!(
            [stream.next_u64(), stream.next_u64()],
            [mix(5), mix(5u64.wrapping_add(GAMMA))]
        );
    }
}
