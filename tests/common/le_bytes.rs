//! Little-endian bytes of values, for the `.npy` files tests build by hand (not by the writer
//! under test): tests/loaders.rs and tests/mutation.rs. Declared by those tests, not from
//! tests/common/mod.rs, which the library's unit tests include too.

/// `values` as little-endian `f32` bytes (`<f4`).
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
