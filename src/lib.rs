//! ivt-explore: explore high-dimensional embeddings of image data sets.
//!
//! Data flows one way:
//!
//! ```text
//! sources ──► Dataset ──► (embed) ──► features ──► kNN graph ──► layouts (2D/3D) ──► viewer
//!                                                                clusters            labels ──► exports
//! ```
//!
//! - [`dataset`]: feature matrices (`.npy`, `.npz`, CSV/TSV), image folders, metadata and the
//!   built-in demo, loaded and cross-checked into one [`dataset::Dataset`].
//! - [`npy`]: the `.npy` format, read streaming and written atomically.
//! - [`atomic`]: all-or-nothing file writes.
//! - `viewer` (feature `viewer`): the Bevy explorer.
//!
//! The library has no Bevy types outside `viewer`, so it builds and runs headless with
//! `--no-default-features`.

pub mod atomic;
pub mod dataset;
pub mod npy;
#[cfg(feature = "viewer")]
pub mod viewer;
