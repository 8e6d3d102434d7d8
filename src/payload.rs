//! A small little-endian format for cache payloads: numbers, arrays and strings, each array
//! and string preceded by its length. The readers return `None` on anything short or
//! malformed, so a damaged entry is recomputed, never trusted.

/// Builds a payload.
#[derive(Default)]
pub(crate) struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn f32s(&mut self, v: &[f32]) {
        self.u64(v.len() as u64);
        self.0.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    }
    pub fn u32s(&mut self, v: &[u32]) {
        self.u64(v.len() as u64);
        self.0.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    }
    pub fn bools(&mut self, v: &[bool]) {
        self.u64(v.len() as u64);
        self.0.extend(v.iter().map(|&b| u8::from(b)));
    }
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
}

/// Reads what a [`Writer`] wrote, in the same order.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }
    /// Whether every byte was read (a payload with more after it is not the one expected).
    pub fn is_done(&self) -> bool {
        self.at == self.bytes.len()
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    pub fn len(&mut self) -> Option<usize> {
        usize::try_from(self.u64()?).ok()
    }
    /// A count of entries that follow, each at least `min_bytes` long; `None` when the rest of
    /// the payload cannot hold that many (damage, not a reason to allocate for them).
    pub fn count(&mut self, min_bytes: usize) -> Option<usize> {
        let n = self.len()?;
        (n.checked_mul(min_bytes)? <= self.bytes.len() - self.at).then_some(n)
    }
    /// A length, then that many 4-byte little-endian words, each made a `T`.
    fn words<T>(&mut self, from_le_bytes: fn([u8; 4]) -> T) -> Option<Vec<T>> {
        let n = self.len()?;
        let b = self.take(n.checked_mul(4)?)?;
        Some(
            b.chunks_exact(4)
                .map(|c| from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
    pub fn f32s(&mut self) -> Option<Vec<f32>> {
        self.words(f32::from_le_bytes)
    }
    pub fn u32s(&mut self) -> Option<Vec<u32>> {
        self.words(u32::from_le_bytes)
    }
    pub fn bools(&mut self) -> Option<Vec<bool>> {
        let n = self.len()?;
        self.take(n)?
            .iter()
            .map(|&b| match b {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            })
            .collect()
    }
    pub fn str(&mut self) -> Option<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_and_any_cut_is_refused() {
        let mut w = Writer::default();
        w.u64(7);
        w.f32s(&[1.5, -2.0]);
        w.u32s(&[3, 4, 5]);
        w.bools(&[true, false]);
        w.str("naïve");
        let bytes = w.0;
        let read = |b: &[u8]| {
            let mut r = Reader::new(b);
            let v = (
                r.u64()?,
                r.f32s()?,
                r.u32s()?,
                r.bools()?,
                r.str()?.to_owned(),
            );
            r.is_done().then_some(v)
        };
        assert_eq!(
            read(&bytes),
            Some((
                7,
                vec![1.5, -2.0],
                vec![3, 4, 5],
                vec![true, false],
                "naïve".to_owned()
            ))
        );
        for cut in 0..bytes.len() {
            assert_eq!(read(&bytes[..cut]), None, "cut at {cut}");
        }
        assert_eq!(Reader::new(&bytes).count(1), Some(7));
        assert_eq!(
            Reader::new(&bytes).count(10),
            None,
            "7 entries of 10 bytes do not fit in the 60 left"
        );
    }
}
