//! Layouts: low-dimensional maps of the feature space.
//!
//! PCA is here first because the kNN search uses it as an optional pre-reduction; t-SNE, UMAP
//! and the common `compute_layout` entry point arrive with the layout engine (issue #4).

pub mod pca;
