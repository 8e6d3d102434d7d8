//! Layouts: low-dimensional maps of the feature space (PCA, t-SNE, UMAP; 2D or 3D).
//!
//! [`compute_layout`] is the one entry point: it takes the features and the shared kNN graph,
//! validated parameters of one method, an [`Observer`] (progress, cancellation) and a callback
//! that sees the layout while it is being optimised (the viewer animates it). PCA is also the
//! kNN search's optional pre-reduction; [`affinity`] holds the input affinities both
//! optimisers start from. [`cached`] keeps layouts in the artefact cache, one entry whoever
//! computed it (the `layout` command or the explorer).

pub mod affinity;
pub mod cached;
pub mod spectral;
pub mod tsne;
pub mod umap;

use std::ops::ControlFlow;

use thiserror::Error;

use crate::knn::KnnGraph;
use crate::numeric::pca;
use crate::progress::Observer;

#[derive(Debug, Error, PartialEq)]
pub enum LayoutError {
    #[error("{name} must be {expected} (got {value})")]
    InvalidParam {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    #[error("a layout needs at least {min} items (got {n_items})")]
    TooFewItems { n_items: usize, min: usize },
    #[error("the initial layout has {found} values, expected {expected} (N × dims)")]
    InitShape { found: usize, expected: usize },
    #[error("the initial layout's item {item} is not a finite point")]
    InitNotFinite { item: usize },
    #[error("{method} needs the kNN graph of the features")]
    NeedsGraph { method: &'static str },
    #[error("the kNN graph covers {graph} items but there are {features}")]
    GraphItems { graph: usize, features: usize },
    #[error(
        "the kNN graph has {k} neighbours per item; t-SNE with perplexity {perplexity} needs {needed} (3 × perplexity)"
    )]
    GraphTooSmall {
        k: usize,
        needed: usize,
        perplexity: f64,
    },
    #[error("cannot compute the PCA initialisation: {0}")]
    Pca(#[from] pca::PcaError),
    #[error("cancelled")]
    Cancelled,
}

/// The layout methods, as a user chooses one (`layout --method`, `open --method`, the
/// explorer's layout panel): one enum for all of them; [`LayoutParams`] carries the checked
/// parameters of the chosen one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayoutMethod {
    #[default]
    Umap,
    Tsne,
    Pca,
}

impl LayoutMethod {
    pub const ALL: [Self; 3] = [Self::Umap, Self::Tsne, Self::Pca];

    /// For people: `UMAP`, `t-SNE`, `PCA`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Umap => "UMAP",
            Self::Tsne => "t-SNE",
            Self::Pca => "PCA",
        }
    }

    /// As typed on the command line: `umap`, `tsne`, `pca`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Umap => "umap",
            Self::Tsne => "tsne",
            Self::Pca => "pca",
        }
    }

    /// The method of `name` ([`Self::name`], exactly).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// Which layout, with its checked parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum LayoutParams {
    Pca {
        dims: usize,
    },
    Tsne(tsne::ValidTsneParams),
    /// `n_neighbors` counts the item itself, as umap-learn does: the graph needs n_neighbors − 1.
    Umap {
        params: umap::UmapParams,
        n_neighbors: usize,
    },
}

impl LayoutParams {
    /// UMAP with its parameters checked: the one rule for the `layout` command and the
    /// explorer (they had two). 2 or 3 dimensions, `spread` positive, `min_dist` in
    /// [0, spread] (umap-learn's), at least 2 neighbours (the item itself counts), and at
    /// least one epoch when a count is given.
    pub fn umap(params: umap::UmapParams, n_neighbors: usize) -> Result<Self, LayoutError> {
        let invalid = |name, value: f64, expected| {
            Err(LayoutError::InvalidParam {
                name,
                value,
                expected,
            })
        };
        if !(2..=3).contains(&params.dims) {
            return invalid("dims", params.dims as f64, "2 or 3");
        }
        if !(params.spread.is_finite() && params.spread > 0.0) {
            return invalid("spread", params.spread, "positive");
        }
        if !(params.min_dist >= 0.0 && params.min_dist <= params.spread) {
            return invalid("min_dist", params.min_dist, "in [0, spread]");
        }
        if n_neighbors < 2 {
            return invalid("n_neighbors", n_neighbors as f64, "at least 2");
        }
        if params.epochs == Some(0) {
            return invalid("epochs", 0.0, "at least 1");
        }
        Ok(Self::Umap {
            params,
            n_neighbors,
        })
    }

    pub fn dims(&self) -> usize {
        match self {
            Self::Pca { dims } => *dims,
            Self::Tsne(p) => p.dims(),
            Self::Umap { params, .. } => params.dims,
        }
    }

    /// Neighbours the kNN graph must hold (None: no graph needed). t-SNE uses 3·perplexity
    /// (openTSNE's rule), capped at N − 1.
    pub fn knn_k(&self, n_items: usize) -> Option<usize> {
        match self {
            Self::Pca { .. } => None,
            Self::Tsne(p) => Some(tsne_k(p.perplexity(), n_items)),
            Self::Umap { n_neighbors, .. } => Some(
                n_neighbors
                    .saturating_sub(1)
                    .clamp(1, n_items.saturating_sub(1).max(1)),
            ),
        }
    }

    /// Every parameter that changes the result, for cache keys.
    pub fn cache_text(&self, n_items: usize) -> String {
        match self {
            Self::Pca { dims } => format!("pca dims={dims}"),
            Self::Tsne(p) => p.cache_text(n_items),
            Self::Umap {
                params,
                n_neighbors,
            } => format!(
                "umap n_neighbors={n_neighbors} {params:?} epochs={} v{}",
                params.n_epochs(n_items),
                umap::ALGORITHM_VERSION
            ),
        }
    }
}

fn tsne_k(perplexity: f64, n_items: usize) -> usize {
    ((3.0 * perplexity).ceil() as usize).min(n_items.saturating_sub(1))
}

/// What a layout is computed from.
#[derive(Debug, Clone, Copy)]
pub struct LayoutInput<'a> {
    /// N × `dim`, row-major.
    pub features: &'a [f32],
    pub dim: usize,
    /// The shared kNN graph (t-SNE and UMAP; PCA ignores it).
    pub knn: Option<&'a KnnGraph>,
    /// Where t-SNE and UMAP start (N × dims) instead of their own start (PCA, spectral): the
    /// layout of another embedding of the same items, so that what did not change between the
    /// two stays where it was. Scaled as their own start is; PCA ignores it.
    pub init: Option<&'a [f32]>,
}

/// What the caller sees after each iteration (t-SNE) or epoch (UMAP).
#[derive(Debug)]
pub struct LayoutStep<'a> {
    /// Iterations done (1-based).
    pub iter: usize,
    pub n_iter: usize,
    /// t-SNE's KL divergence, on the iterations where it was evaluated.
    pub loss: Option<f64>,
    /// The current layout, N × dims.
    pub coords: &'a [f32],
}

/// A computed layout: N × `dims` coordinates, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub dims: usize,
    pub coords: Vec<f32>,
}

impl Layout {
    /// Serialise for the cache: dims (u64), then the coordinates (f32), little-endian.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = (self.dims as u64).to_le_bytes().to_vec();
        out.extend(self.coords.iter().flat_map(|v| v.to_le_bytes()));
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (head, rest) = bytes.split_at_checked(8)?;
        let dims = u64::from_le_bytes(head.try_into().ok()?) as usize;
        if dims == 0 || rest.len() % (4 * dims) != 0 {
            return None;
        }
        let coords = rest
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Some(Self { dims, coords })
    }
}

/// The start given in `input`, checked: N × dims finite values.
fn given_init(
    input: &LayoutInput<'_>,
    n: usize,
    dims: usize,
) -> Result<Option<Vec<f32>>, LayoutError> {
    let Some(init) = input.init else {
        return Ok(None);
    };
    if init.len() != n * dims {
        return Err(LayoutError::InitShape {
            found: init.len(),
            expected: n * dims,
        });
    }
    if let Some(at) = init.iter().position(|v| !v.is_finite()) {
        return Err(LayoutError::InitNotFinite { item: at / dims });
    }
    Ok(Some(init.to_vec()))
}

/// Compute a layout. `observer` gets iterations (epochs) done and may cancel (t-SNE);
/// `on_step` sees the layout as it is optimised and may stop it early with
/// `ControlFlow::Break` (the layout so far is returned); a cancelled observer abandons it
/// (`LayoutError::Cancelled`), checked every t-SNE iteration and every UMAP epoch.
pub fn compute_layout(
    input: &LayoutInput<'_>,
    params: &LayoutParams,
    observer: &dyn Observer,
    on_step: &mut dyn FnMut(&LayoutStep<'_>) -> ControlFlow<()>,
) -> Result<Layout, LayoutError> {
    let dims = params.dims();
    let n = input.features.len() / input.dim.max(1);
    if n < 2 {
        return Err(LayoutError::TooFewItems { n_items: n, min: 2 });
    }
    let pca_init = || -> Result<Vec<f32>, LayoutError> {
        Ok(pca::fit(input.features, input.dim, dims)?.transform(input.features))
    };
    let graph = |method: &'static str| -> Result<&KnnGraph, LayoutError> {
        let g = input.knn.ok_or(LayoutError::NeedsGraph { method })?;
        if g.n_items() != n {
            return Err(LayoutError::GraphItems {
                graph: g.n_items(),
                features: n,
            });
        }
        Ok(g)
    };
    let needed = params.knn_k(n).unwrap_or(0);
    let truncated;
    let coords = match params {
        LayoutParams::Pca { .. } => pca_init()?,
        LayoutParams::Tsne(p) => {
            let g = graph("t-SNE")?;
            if g.k < needed {
                return Err(LayoutError::GraphTooSmall {
                    k: g.k,
                    needed,
                    perplexity: p.perplexity(),
                });
            }
            let g = if g.k > needed {
                truncated = g.truncated(needed);
                &truncated
            } else {
                g
            };
            observer.stage("affinities");
            let affinities = affinity::tsne_affinities(g, p.perplexity());
            let mut init = if let Some(given) = given_init(input, n, dims)? {
                given
            } else if input.dim >= dims {
                observer.stage("PCA start");
                pca_init()?
            } else {
                tsne::random_init(n, dims, p.seed())
            };
            tsne::scale_init(&mut init, dims);
            observer.stage("iterations");
            tsne::optimize(&affinities, init, p, observer, |s| {
                on_step(&LayoutStep {
                    iter: s.iter,
                    n_iter: s.n_iter,
                    loss: s.kl,
                    coords: s.coords,
                })
            })?
            .coords
        }
        LayoutParams::Umap { params: p, .. } => {
            let g = graph("UMAP")?;
            let g = if g.k > needed {
                truncated = g.truncated(needed);
                &truncated
            } else {
                g
            };
            observer.stage("affinities");
            let weights = affinity::umap_affinities(g);
            // umap-learn's start: spectral, or PCA where the graph falls apart (umap-learn
            // lays out each component separately; PCA keeps them where the features put them).
            let mut init = match given_init(input, n, dims)? {
                Some(given) => given,
                None => {
                    observer.stage("spectral start");
                    match spectral::spectral_init(&weights, dims, p.seed) {
                        Some(y) => y,
                        None => {
                            observer.stage("PCA start (graph not connected)");
                            pca_init()?
                        }
                    }
                }
            };
            umap::scale_init(&mut init, dims, p.seed);
            observer.stage("epochs");
            let total = p.n_epochs(n);
            let mut cancelled = false;
            umap::optimize(&weights, &mut init, p, |epoch, coords| {
                observer.progress(epoch as u64, total as u64);
                if observer.cancelled() {
                    cancelled = true;
                    return ControlFlow::Break(());
                }
                on_step(&LayoutStep {
                    iter: epoch,
                    n_iter: total,
                    loss: None,
                    coords,
                })
            });
            if cancelled {
                return Err(LayoutError::Cancelled);
            }
            init
        }
    };
    Ok(Layout { dims, coords })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umap_parameters_are_checked_by_one_rule() {
        let with = |f: &dyn Fn(&mut umap::UmapParams)| {
            let mut p = umap::UmapParams::default();
            f(&mut p);
            p
        };
        assert!(LayoutParams::umap(umap::UmapParams::default(), 15).is_ok());
        // min_dist up to spread (the explorer allowed only up to 1, the command up to spread).
        assert!(LayoutParams::umap(with(&|p| (p.spread, p.min_dist) = (2.0, 1.5)), 15).is_ok());
        for (bad, name) in [
            (with(&|p| p.min_dist = 1.5), "min_dist"),
            (with(&|p| p.min_dist = -0.1), "min_dist"),
            (with(&|p| p.min_dist = f64::NAN), "min_dist"),
            (with(&|p| p.spread = 0.0), "spread"),
            (with(&|p| p.dims = 4), "dims"),
            (with(&|p| p.epochs = Some(0)), "epochs"),
        ] {
            match LayoutParams::umap(bad, 15) {
                Err(LayoutError::InvalidParam { name: n, .. }) => assert_eq!(n, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(LayoutParams::umap(umap::UmapParams::default(), 1).is_err());
    }
}
