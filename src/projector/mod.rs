//! Writing TensorBoard projector logs (`export-projector`) for people who still use
//! TensorBoard. The format and the reader are a data source, `crate::dataset::projector`.

pub mod write;

/// TensorBoard refuses sprite sheets larger than this on either side.
pub const MAX_SPRITE_PX: u32 = 8192;
