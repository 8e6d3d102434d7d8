//! Layouts: low-dimensional maps of the feature space.
//!
//! PCA is here first because the kNN search uses it as an optional pre-reduction, and the
//! t-SNE/UMAP input affinities because they are the engine's first stage; the optimisers
//! and the common `compute_layout` entry point arrive with the layout engine (issue #4).

pub mod affinity;
pub mod pca;
pub mod umap;
