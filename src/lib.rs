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
//! - [`numeric`]: the ground floor every algorithm may use: seeded item sampling, row norms,
//!   the k-means steps and PCA.
//! - [`npy`]: the `.npy` format, read streaming and written atomically.
//! - [`knn`]: the k-nearest-neighbour graph in the original space (exact by blocked GEMM, or
//!   approximate by an inverted file that estimates its own recall).
//! - [`layout`]: PCA, t-SNE and UMAP layouts in 2D/3D through one `compute_layout`.
//! - [`labels`]: the labels journal (append-only, crash-safe, undo/redo) and export.
//! - [`metrics`]: trustworthiness, kNN preservation, kNN label accuracy of a layout.
//! - [`cluster`]: hierarchical clustering kept as a dendrogram, cut to any K in O(N).
//! - [`cache`]: computed artefacts on disk, keyed by data, parameters and algorithm version;
//!   `payload`: the little-endian format of those payloads that are not plain arrays.
//! - [`progress`]: progress and cancellation for long computations.
//! - [`thumbs`]: the thumbnail cache: every image decoded once into cells of a few sizes.
//! - [`atomic`]: all-or-nothing file writes.
//! - [`rng`]: the seeded random streams the algorithms' results depend on.
//! - [`search`]: the search language of the explorer's box and `query --where`.
//! - [`quality`]: duplicates, outliers, label issues and layout fidelity from the kNN graph.
//! - `viewer` (feature `viewer`): the Bevy explorer.
//! - [`cli`]: the `ivt-explore` command line, the top floor: the binary and the Python
//!   package's `ivt-explore` program both run [`cli::main`].
//!
//! The library has no Bevy types outside `viewer`, so it builds and runs headless with
//! `--no-default-features`.

// The CLI (`cli`) names the library `ivt::…` as any outside user would; inside the crate
// that name is the crate itself.
extern crate self as ivt;

pub mod atomic;
pub mod cache;
pub mod choice;
pub mod cli;
pub mod cluster;
pub mod dataset;
pub mod embed;
pub mod hint;
pub mod knn;
pub mod labels;
pub mod layout;
pub mod metrics;
pub mod npy;
pub mod numeric;
pub(crate) mod payload;
pub mod probe;
pub mod progress;
pub mod projector;
pub mod quality;
pub mod rng;
pub mod search;
pub mod synth;
pub mod thumbs;
#[cfg(feature = "viewer")]
pub mod viewer;

/// How a unit test that cannot run here reports SKIPPED: the integration tests' own helper,
/// one implementation for both.
#[cfg(test)]
#[path = "../tests/common/mod.rs"]
mod test_common;
