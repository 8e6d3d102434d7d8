//! Layouts through the artefact cache: one entry for the same data and settings, whoever
//! computed it. A user computes a layout on a server with `ivt-explore layout`, then opens the
//! explorer: the explorer finds that entry instead of computing it again (they used to keep
//! two kinds, `layout` and `viewer-layout`, under different settings texts).
//!
//! The key covers the features, every parameter that changes the result
//! ([`LayoutParams::cache_text`]), and the graph the layout is computed from: the shared graph
//! (the default search for [`graph_k`] neighbours in a metric, through the kNN cache, cut to
//! what the layout needs) or a graph given with `--knn` (its bytes hashed). PCA uses no graph,
//! so its key leaves the graph out.

use crate::cache::{Cache, CacheError, CacheKey, Lookup};
use crate::knn::{self, KnnGraph, Metric};

use super::{Layout, LayoutParams};

/// Cache kind of a layout.
const KIND: &str = "layout";
/// Bumped when what is stored, or how the key is made, changes.
const VERSION: u32 = 2;
/// Neighbours kept in the shared graph: enough for the explorer's 5 × 5 neighbour grid and
/// UMAP's default 15, so one graph (one kNN cache entry) serves the layout, the grid and the
/// audit.
pub const GRAPH_K: usize = 30;

/// The k of the shared graph computed for a layout with `params` of `n_items` items: at least
/// [`GRAPH_K`], more when the layout needs more (t-SNE's 3 × perplexity), never N or above.
pub fn graph_k(params: &LayoutParams, n_items: usize) -> usize {
    GRAPH_K
        .max(params.knn_k(n_items).unwrap_or(0))
        .min(n_items.saturating_sub(1))
}

/// The graph a layout is computed from.
#[derive(Debug, Clone, Copy)]
pub enum GraphSource<'a> {
    /// The shared graph: the default search (exact while cheap, approximate above) for
    /// [`graph_k`] neighbours in this metric.
    Shared(Metric),
    /// A graph computed elsewhere (`--knn`).
    Given(&'a KnnGraph),
}

/// The cache key of the layout of `features` (N × `dim`, row-major) with `params`, computed
/// from `graph`.
pub fn key(
    features: &[f32],
    dim: usize,
    params: &LayoutParams,
    graph: GraphSource<'_>,
) -> CacheKey {
    key_from(features, dim, params, graph, None)
}

/// [`key`] of a layout started from `init` (`LayoutInput::init`, e.g. another embedding's
/// layout), which it then depends on too.
pub fn key_from(
    features: &[f32],
    dim: usize,
    params: &LayoutParams,
    graph: GraphSource<'_>,
    init: Option<&[f32]>,
) -> CacheKey {
    let n = features.len() / dim.max(1);
    let graph_text = match (params.knn_k(n), graph) {
        (None, _) => String::new(),
        (Some(_), GraphSource::Shared(metric)) => format!(
            " knn=auto/{} metric={}",
            knn::ALGORITHM_VERSION,
            metric.name()
        ),
        (Some(_), GraphSource::Given(g)) => format!(
            " knn-file={} metric={}",
            CacheKey::from_parts("graph", &[&g.to_bytes()]),
            g.metric.name()
        ),
    };
    let init_text = init.map_or(String::new(), |start| {
        let bytes: Vec<u8> = start.iter().flat_map(|v| v.to_le_bytes()).collect();
        format!(" init={}", CacheKey::from_parts("init", &[&bytes]))
    });
    CacheKey::new(
        KIND,
        features,
        dim,
        &format!("{}{graph_text}{init_text} v{VERSION}", params.cache_text(n)),
    )
}

/// The cached layout under `key` when it fits `n_items` items in `dims` dimensions; a warning
/// when an entry exists but cannot be used (it is then recomputed).
pub fn load(
    cache: &Cache,
    key: &CacheKey,
    n_items: usize,
    dims: usize,
) -> (Option<Layout>, Option<String>) {
    match cache.load(key) {
        Lookup::Hit(bytes) => match Layout::from_bytes(&bytes) {
            Some(l) if l.dims == dims && l.coords.len() == n_items * dims => (Some(l), None),
            _ => (
                None,
                Some(format!(
                    "cached layout {key} does not fit this data; recomputing"
                )),
            ),
        },
        Lookup::Corrupt { path, reason } => (
            None,
            Some(format!(
                "ignoring cache entry {}: {reason}; recomputing",
                path.display()
            )),
        ),
        Lookup::Miss => (None, None),
    }
}

/// Keep `layout` under `key`.
pub fn store(cache: &Cache, key: &CacheKey, layout: &Layout) -> Result<(), CacheError> {
    cache.store(key, &layout.to_bytes())
}

/// Where a layout on screen or in a file came from, as told to the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    Cache,
    Computed { secs: f64 },
    File(std::path::PathBuf),
}

impl Origin {
    /// `UMAP 2D: from the cache`, `UMAP 2D: computed in 11.0 s`, `layout: from FILE`.
    pub fn describe(&self, label: &str) -> String {
        match self {
            Self::Cache => format!("{label}: from the cache"),
            Self::Computed { secs } => format!("{label}: computed in {secs:.1} s"),
            Self::File(path) => format!("{label}: from {}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{tsne, umap};

    fn umap_params(n_neighbors: usize) -> LayoutParams {
        LayoutParams::Umap {
            params: umap::UmapParams::default(),
            n_neighbors,
        }
    }

    #[test]
    fn one_key_for_the_same_data_settings_and_graph() {
        let x: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let shared = GraphSource::Shared(Metric::Euclidean);
        let a = key(&x, 2, &umap_params(15), shared);
        assert_eq!(a, key(&x, 2, &umap_params(15), shared));
        assert_ne!(a, key(&x, 2, &umap_params(10), shared));
        assert_ne!(
            a,
            key(&x, 2, &umap_params(15), GraphSource::Shared(Metric::Cosine))
        );
        let g = crate::knn::exact_knn(&x, 2, 3, Metric::Euclidean, &()).expect("knn");
        assert_ne!(a, key(&x, 2, &umap_params(15), GraphSource::Given(&g)));
        let tsne = LayoutParams::Tsne(tsne::params().check().expect("params"));
        assert_ne!(a, key(&x, 2, &tsne, shared));
        // PCA reads no graph: the metric and the graph do not split its entries.
        let pca = LayoutParams::Pca { dims: 2 };
        assert_eq!(
            key(&x, 2, &pca, shared),
            key(&x, 2, &pca, GraphSource::Given(&g))
        );
        // A layout started elsewhere is its start's too.
        let start: Vec<f32> = (0..40).map(|i| (i % 5) as f32).collect();
        let mut other = start.clone();
        other[3] += 1.0;
        let from = |init| key_from(&x, 2, &umap_params(15), shared, init);
        assert_eq!(from(None), a);
        assert_ne!(from(Some(&start)), a);
        assert_eq!(from(Some(&start)), from(Some(&start)));
        assert_ne!(from(Some(&start)), from(Some(&other)));
    }

    #[test]
    fn a_stored_layout_loads_only_where_it_fits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::at(dir.path());
        let x: Vec<f32> = (0..40).map(|i| i as f32).collect();
        let k = key(
            &x,
            2,
            &LayoutParams::Pca { dims: 2 },
            GraphSource::Shared(Metric::Euclidean),
        );
        assert_eq!(load(&cache, &k, 20, 2), (None, None));
        let layout = Layout {
            dims: 2,
            coords: x.clone(),
        };
        store(&cache, &k, &layout).expect("store");
        assert_eq!(load(&cache, &k, 20, 2), (Some(layout), None));
        let (none, warning) = load(&cache, &k, 20, 3);
        assert!(none.is_none() && warning.is_some_and(|w| w.contains("does not fit")));
    }

    #[test]
    fn the_shared_graph_holds_what_the_layout_and_the_grid_need() {
        assert_eq!(graph_k(&umap_params(15), 1000), GRAPH_K);
        let tsne = LayoutParams::Tsne(tsne::params().perplexity(30.0).check().expect("params"));
        assert_eq!(graph_k(&tsne, 1000), 90);
        assert_eq!(graph_k(&tsne, 50), 49);
        assert_eq!(graph_k(&LayoutParams::Pca { dims: 2 }, 10), 9);
    }
}
