//! The compute functions: kNN graph, UMAP, t-SNE, PCA, clusters, the audit and layout scores.
//! Each takes checked C-ordered arrays from the Python half, borrows them without a copy,
//! computes with the GIL released (see [`interruptible`]) on the CLI's code path, and returns
//! new numpy arrays.

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ivt::choice::Choice;
use ivt::cluster::Linkage;
use ivt::knn::{self, KnnGraph, Method, Metric};
use ivt::layout::{self, LayoutInput, LayoutParams, cached, tsne, umap};
use ivt::metrics::score;
use ivt::progress::{Observer, SharedProgress};
use ivt::quality::{self, AuditInput, Labels};
use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

/// How often the calling thread looks for Ctrl+C while a computation runs.
const POLL: Duration = Duration::from_millis(50);

/// Run `work` on a worker thread with the GIL released; the calling thread polls Python's
/// signal handlers, and on `KeyboardInterrupt` (or any exception a handler raises) cancels the
/// work through its observer, waits for it to stop and raises that exception.
pub(crate) fn interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(&dyn Observer) -> T + Send,
) -> PyResult<T> {
    let progress = SharedProgress::default();
    py.detach(|| {
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| work(&progress));
            let mut raised = None;
            while !worker.is_finished() {
                std::thread::sleep(POLL);
                if raised.is_none()
                    && let Err(e) = Python::attach(|py| py.check_signals())
                {
                    progress.cancel.store(true, Ordering::Relaxed);
                    raised = Some(e);
                }
            }
            match (raised, worker.join()) {
                (Some(e), _) => Err(e),
                (None, Ok(value)) => Ok(value),
                (None, Err(_)) => Err(PyRuntimeError::new_err(
                    "ivt-explore: the computation failed unexpectedly (a bug; the message \
                     above says where — please report it with the input's shape)",
                )),
            }
        })
    })
}

/// A library error about the input or the parameters, for Python.
pub(crate) fn value_error(err: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(err.to_string())
}

/// A float32 matrix borrowed from a C-ordered numpy array, checked finite.
#[derive(Clone, Copy)]
pub(crate) struct Matrix<'a> {
    pub(crate) values: &'a [f32],
    pub(crate) n: usize,
    pub(crate) dim: usize,
}

pub(crate) fn matrix<'a>(name: &str, array: &'a PyReadonlyArray2<'_, f32>) -> PyResult<Matrix<'a>> {
    let [n, dim] = array.shape() else {
        return Err(value_error(format!("{name} must be 2-dimensional")));
    };
    let (n, dim) = (*n, *dim);
    let values = array
        .as_slice()
        .map_err(|_| value_error(format!("{name} must be C-contiguous")))?;
    if n == 0 || dim == 0 {
        return Err(value_error(format!(
            "{name} is empty ({n} rows × {dim} columns)"
        )));
    }
    check_finite(name, values, dim)?;
    Ok(Matrix { values, n, dim })
}

/// The first non-finite value named by row and column, and how many there are: the data sets'
/// own message for a NaN in a file.
fn check_finite(name: &str, values: &[f32], dim: usize) -> PyResult<()> {
    let count = values.par_iter().filter(|v| !v.is_finite()).count();
    if count == 0 {
        return Ok(());
    }
    let first = values.iter().position(|v| !v.is_finite()).unwrap_or(0);
    Err(value_error(format!(
        "{name} has {count} non-finite value(s) (NaN or ±Inf); the first is {} at row {}, \
         column {} (0-based)",
        values[first],
        first / dim,
        first % dim
    )))
}

/// A library choice (metric, linkage) named as in the program, or a `ValueError` naming the
/// argument and the values it takes.
fn named<T: Choice>(argument: &str, name: &str) -> PyResult<T> {
    T::from_name(name).map_err(|e| value_error(format!("{argument}: {e}")))
}

pub(crate) fn metric_named(name: &str) -> PyResult<Metric> {
    named("metric", name)
}

/// The default search of every command: exact while cheap, the inverted file above.
pub(crate) const AUTO: Method = Method::Auto {
    max_exact_work: knn::DEFAULT_MAX_EXACT_WORK,
};

pub(crate) fn rows<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    n: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    PyArray1::from_vec(py, values).reshape([n, cols])
}

/// The kNN graph: (indices int64 N × k, distances float32 N × k, the recall estimate of an
/// approximate search as (recall, sample size, what was searched) or None).
#[pyfunction]
#[pyo3(name = "knn", signature = (x, k, metric, exact, target_recall))]
#[allow(clippy::type_complexity)]
pub fn knn_graph<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    k: usize,
    metric: &str,
    exact: Option<bool>,
    target_recall: Option<f64>,
) -> PyResult<(
    Bound<'py, PyArray2<i64>>,
    Bound<'py, PyArray2<f32>>,
    Option<(f64, usize, String)>,
)> {
    let m = matrix("X", &x)?;
    let mut ivf = knn::IvfParams::default();
    if let Some(r) = target_recall {
        if !(r > 0.0 && r < 1.0) {
            return Err(value_error(format!(
                "target_recall: {r} is not a recall between 0 and 1 (exact=True for the exact graph)"
            )));
        }
        ivf.target_recall = r;
    }
    let metric = metric_named(metric)?;
    let method = match exact {
        Some(true) => Method::Exact,
        Some(false) => Method::Approximate,
        None => AUTO,
    };
    let found = interruptible(py, |obs| {
        knn::search(m.values, m.dim, k, metric, method, &ivf, obs)
    })?
    .map_err(value_error)?;
    let graph = found.graph;
    let indices = graph.indices.iter().map(|&j| i64::from(j)).collect();
    let estimate = found
        .estimate
        .map(|e| (e.recall, e.sample, e.search.clone()));
    Ok((
        rows(py, indices, m.n, graph.k)?,
        rows(py, graph.distances, m.n, graph.k)?,
        estimate,
    ))
}

/// A graph the caller computed (`knn=(indices, distances)`), as numpy gave it.
pub struct GivenGraph<'a> {
    indices: &'a [i64],
    distances: &'a [f32],
    k: usize,
}

pub(crate) fn given_graph<'a>(
    indices: &'a Option<PyReadonlyArray2<'_, i64>>,
    distances: &'a Option<PyReadonlyArray2<'_, f32>>,
) -> PyResult<Option<GivenGraph<'a>>> {
    let (Some(i), Some(d)) = (indices, distances) else {
        return Ok(None);
    };
    let k = i.shape().get(1).copied().unwrap_or(0);
    if i.shape() != d.shape() {
        return Err(value_error(format!(
            "knn: the indices are {:?} and the distances {:?}; both must be (n, k)",
            i.shape(),
            d.shape()
        )));
    }
    let contiguous = |what: &str| value_error(format!("knn {what} must be C-contiguous"));
    Ok(Some(GivenGraph {
        indices: i.as_slice().map_err(|_| contiguous("indices"))?,
        distances: d.as_slice().map_err(|_| contiguous("distances"))?,
        k,
    }))
}

/// A graph the caller gave, checked as `--knn` is (rows, ranges, distances against `m`); with
/// the notes on what was mended (for Python warnings).
pub(crate) fn imported_graph(
    m: Matrix<'_>,
    g: &GivenGraph<'_>,
    metric: Metric,
) -> PyResult<(KnnGraph, Vec<String>)> {
    let imported = knn::import::from_arrays(
        knn::import::Neighbours {
            source: Path::new("knn indices"),
            rows: g.indices.len() / g.k.max(1),
            cols: g.k,
            indices: g.indices.to_vec(),
        },
        Some(knn::import::Distances {
            source: Path::new("knn distances"),
            rows: g.distances.len() / g.k.max(1),
            cols: g.k,
            values: g.distances.to_vec(),
        }),
        m.values,
        m.dim,
        metric,
    )
    .map_err(value_error)?;
    Ok((imported.graph, imported.notes))
}

/// Compute a layout on the CLI's path: the graph given (checked as `--knn` is), or the shared
/// graph (the default search, [`cached::graph_k`] neighbours) when the method needs one; then
/// `compute_layout`. Returns the layout and the notes on a given graph (for Python warnings).
fn layout_of<'py>(
    py: Python<'py>,
    m: Matrix<'_>,
    params: &LayoutParams,
    metric: Metric,
    given: Option<GivenGraph<'_>>,
) -> PyResult<(Bound<'py, PyArray2<f32>>, Vec<String>)> {
    let dims = params.dims();
    if m.dim < dims && !matches!(params, LayoutParams::Tsne(_)) {
        return Err(value_error(format!(
            "X has {} column(s); a {dims}D layout needs at least {dims}",
            m.dim
        )));
    }
    let mut notes = Vec::new();
    let given = match (given, params.knn_k(m.n)) {
        (Some(g), Some(needed)) => {
            let (graph, imported_notes) = imported_graph(m, &g, metric)?;
            notes = imported_notes;
            if graph.k < needed {
                return Err(value_error(format!(
                    "knn has {} neighbours per item; this layout needs {needed} (UMAP: \
                     n_neighbors − 1; t-SNE: 3 × perplexity): give more neighbours, or ask for \
                     fewer",
                    graph.k
                )));
            }
            Some(graph.truncated(needed))
        }
        _ => None,
    };
    let computed = interruptible(py, |obs| -> Result<layout::Layout, String> {
        let graph = match (given, params.knn_k(m.n)) {
            (Some(g), _) => Some(g),
            (None, None) => None,
            (None, Some(_)) => {
                let k = cached::graph_k(params, m.n);
                let found = knn::search(
                    m.values,
                    m.dim,
                    k,
                    metric,
                    AUTO,
                    &knn::IvfParams::default(),
                    obs,
                )
                .map_err(|e| format!("cannot compute the kNN graph: {e}"))?;
                Some(found.graph)
            }
        };
        let input = LayoutInput {
            features: m.values,
            dim: m.dim,
            knn: graph.as_ref(),
            init: None,
        };
        layout::compute_layout(&input, params, obs, &mut |_| ControlFlow::Continue(()))
            .map_err(|e| e.to_string())
    })?
    .map_err(value_error)?;
    Ok((rows(py, computed.coords, m.n, dims)?, notes))
}

/// UMAP, as `ivt-explore layout --method umap`.
#[pyfunction]
#[pyo3(name = "umap", signature = (x, dims, n_neighbors, min_dist, spread, epochs, metric, seed, knn_indices=None, knn_distances=None))]
#[allow(clippy::too_many_arguments)]
pub fn umap_layout<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    dims: usize,
    n_neighbors: usize,
    min_dist: f64,
    spread: f64,
    epochs: Option<usize>,
    metric: &str,
    seed: u64,
    knn_indices: Option<PyReadonlyArray2<'py, i64>>,
    knn_distances: Option<PyReadonlyArray2<'py, f32>>,
) -> PyResult<(Bound<'py, PyArray2<f32>>, Vec<String>)> {
    let m = matrix("X", &x)?;
    let given = given_graph(&knn_indices, &knn_distances)?;
    let params = LayoutParams::umap(
        umap::UmapParams {
            dims,
            min_dist,
            spread,
            epochs,
            seed,
            ..umap::UmapParams::default()
        },
        n_neighbors,
    )
    .map_err(value_error)?;
    layout_of(py, m, &params, metric_named(metric)?, given)
}

/// t-SNE, as `ivt-explore layout --method tsne`.
#[pyfunction]
#[pyo3(name = "tsne", signature = (x, dims, perplexity, n_iter, exaggeration, exaggeration_iter, learning_rate, dof, theta, metric, seed, knn_indices=None, knn_distances=None))]
#[allow(clippy::too_many_arguments)]
pub fn tsne_layout<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    dims: usize,
    perplexity: f64,
    n_iter: usize,
    exaggeration: f64,
    exaggeration_iter: usize,
    learning_rate: Option<f64>,
    dof: f64,
    theta: Option<f64>,
    metric: &str,
    seed: u64,
    knn_indices: Option<PyReadonlyArray2<'py, i64>>,
    knn_distances: Option<PyReadonlyArray2<'py, f32>>,
) -> PyResult<(Bound<'py, PyArray2<f32>>, Vec<String>)> {
    let m = matrix("X", &x)?;
    let given = given_graph(&knn_indices, &knn_distances)?;
    let params = tsne::params()
        .dims(dims)
        .perplexity(perplexity)
        .n_iter(n_iter)
        .early_exaggeration(exaggeration, exaggeration_iter)
        .learning_rate(learning_rate)
        .dof(dof)
        .theta(theta)
        .seed(seed)
        .check()
        .map_err(value_error)?;
    layout_of(
        py,
        m,
        &LayoutParams::Tsne(params),
        metric_named(metric)?,
        given,
    )
}

/// PCA, as `ivt-explore layout --method pca`.
#[pyfunction]
pub fn pca<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    dims: usize,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let m = matrix("X", &x)?;
    let (layout, _) = layout_of(py, m, &LayoutParams::Pca { dims }, Metric::Euclidean, None)?;
    Ok(layout)
}

/// Hierarchical clusters cut into `n_clusters`: int32 [N], as `ivt-explore cluster`.
#[pyfunction]
pub fn cluster<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    n_clusters: usize,
    linkage: &str,
) -> PyResult<Bound<'py, PyArray1<i32>>> {
    let m = matrix("X", &x)?;
    let linkage: Linkage = named("linkage", linkage)?;
    if n_clusters == 0 || n_clusters > m.n {
        return Err(value_error(format!(
            "n_clusters={n_clusters}: must be between 1 and the number of items ({})",
            m.n
        )));
    }
    let labels = interruptible(py, |obs| {
        ivt::cluster::cluster(m.values, m.dim, linkage, obs).and_then(|d| d.cut(n_clusters))
    })?
    .map_err(value_error)?;
    // At most N clusters of N < 2³¹ rows: every code fits.
    let labels = labels.into_iter().map(|l| l as i32).collect();
    Ok(PyArray1::from_vec(py, labels))
}

/// Codes `< n_names`, one per item.
fn codes<'a>(
    name: &str,
    array: &'a Option<PyReadonlyArray1<'_, u32>>,
    n: usize,
    n_names: usize,
) -> PyResult<Option<&'a [u32]>> {
    let Some(array) = array else {
        return Ok(None);
    };
    let codes = array
        .as_slice()
        .map_err(|_| value_error(format!("{name} must be contiguous")))?;
    if codes.len() != n {
        return Err(value_error(format!(
            "{name} has {} entries, X has {n} rows",
            codes.len()
        )));
    }
    if let Some(bad) = codes.iter().position(|&c| c as usize >= n_names) {
        return Err(value_error(format!(
            "{name}[{bad}] = {}: not one of the {n_names} classes",
            codes[bad]
        )));
    }
    Ok(Some(codes))
}

/// The audit's per-item columns (those of `ivt-explore audit -o FILE.csv` that depend on the
/// data alone) as a dict of numpy arrays; the Python half adds the class and split names.
#[pyfunction]
#[pyo3(signature = (x, k, metric, dup_threshold, label_codes, label_names, layout, split_codes, n_splits))]
#[allow(clippy::too_many_arguments)]
pub fn audit<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    k: usize,
    metric: &str,
    dup_threshold: Option<f32>,
    label_codes: Option<PyReadonlyArray1<'py, u32>>,
    label_names: Vec<String>,
    layout: Option<PyReadonlyArray2<'py, f32>>,
    split_codes: Option<PyReadonlyArray1<'py, u32>>,
    n_splits: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let m = matrix("X", &x)?;
    let n = m.n;
    if k == 0 || k >= n {
        return Err(value_error(format!(
            "k={k}: must be between 1 and the number of items less one ({})",
            n.saturating_sub(1)
        )));
    }
    let metric = metric_named(metric)?;
    let labels = codes("labels", &label_codes, n, label_names.len())?;
    let splits = codes("splits", &split_codes, n, n_splits)?;
    let layout = match &layout {
        Some(l) => {
            let l = matrix("layout", l)?;
            if l.n != n || !(2..=3).contains(&l.dim) {
                return Err(value_error(format!(
                    "layout has {} rows × {} columns; X has {n} rows and a layout has 2 or 3 \
                     columns",
                    l.n, l.dim
                )));
            }
            Some((l.values, l.dim))
        }
        None => None,
    };
    let audit = interruptible(py, |obs| -> Result<quality::Audit, String> {
        let graph = knn::search(
            m.values,
            m.dim,
            quality::GRAPH_K.max(k).min(n - 1),
            metric,
            AUTO,
            &knn::IvfParams::default(),
            obs,
        )
        .map_err(|e| format!("cannot compute the kNN graph: {e}"))?
        .graph;
        quality::audit(&AuditInput {
            features: m.values,
            dim: m.dim,
            graph: &graph,
            k,
            dup_threshold,
            labels: labels.map(|codes| Labels {
                codes,
                names: &label_names,
            }),
            layout,
            splits,
        })
        .map_err(|e| e.to_string())
    })?
    .map_err(value_error)?;
    audit_columns(py, &audit)
}

fn audit_columns<'py>(py: Python<'py>, audit: &quality::Audit) -> PyResult<Bound<'py, PyDict>> {
    let n = audit.n_items;
    let out = PyDict::new(py);
    let d = &audit.duplicates;
    let mut rank = vec![0i64; n];
    for (r, &i) in audit.outliers.ranking.iter().enumerate() {
        rank[i as usize] = r as i64 + 1;
    }
    out.set_item("item", PyArray1::from_vec(py, (0..n as i64).collect()))?;
    // Groups numbered from 1 as in the CSV; 0: in no group.
    let groups = d
        .group_of
        .iter()
        .map(|g| g.map_or(0, |g| i64::from(g) + 1))
        .collect();
    out.set_item("duplicate_group", PyArray1::from_vec(py, groups))?;
    out.set_item("is_exact_duplicate", PyArray1::from_slice(py, &d.exact))?;
    out.set_item(
        "outlier_score",
        PyArray1::from_slice(py, &audit.outliers.score),
    )?;
    out.set_item("outlier_rank", PyArray1::from_vec(py, rank))?;
    if let Some(l) = &audit.labels {
        out.set_item("label_quality", PyArray1::from_slice(py, &l.quality))?;
        let suggested: Vec<i64> = l.suggested.iter().map(|&c| i64::from(c)).collect();
        out.set_item("suggested_class", PyArray1::from_vec(py, suggested))?;
        out.set_item("is_label_issue", PyArray1::from_slice(py, &l.is_issue))?;
    }
    if let Some(f) = &audit.fidelity {
        out.set_item("fidelity", PyArray1::from_slice(py, &f.preserved))?;
        out.set_item("trust_penalty", PyArray1::from_slice(py, &f.trust_penalty))?;
    }
    if let Some(leaks) = &audit.leaks {
        let leaking: std::collections::HashSet<usize> = leaks.iter().copied().collect();
        let is_leak: Vec<bool> = d
            .group_of
            .iter()
            .map(|g| g.is_some_and(|g| leaking.contains(&(g as usize))))
            .collect();
        out.set_item("is_leak", PyArray1::from_vec(py, is_leak))?;
    }
    Ok(out)
}

/// A layout's scores as `ivt-explore eval --json` prints them.
#[pyfunction]
#[pyo3(signature = (x, y, k, label_codes, n_classes, tw_sample))]
pub fn evaluate<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    y: PyReadonlyArray2<'py, f32>,
    k: usize,
    label_codes: Option<PyReadonlyArray1<'py, u32>>,
    n_classes: usize,
    tw_sample: usize,
) -> PyResult<Bound<'py, PyDict>> {
    let m = matrix("X", &x)?;
    let l = matrix("Y", &y)?;
    if l.n != m.n {
        return Err(value_error(format!(
            "Y has {} rows, X has {}: a layout has one row per item",
            l.n, m.n
        )));
    }
    if k == 0 || k >= m.n {
        return Err(value_error(format!(
            "k={k}: must be between 1 and the number of items less one ({})",
            m.n.saturating_sub(1)
        )));
    }
    let labels = codes("labels", &label_codes, m.n, n_classes)?;
    let input = score::ScoreInput {
        features: m.values,
        dim: m.dim,
        layout: l.values,
        layout_dim: l.dim,
        labels,
        k,
        tw_sample,
    };
    let scores = interruptible(py, |obs| -> Result<score::Scores, knn::KnnError> {
        let original: Option<KnnGraph> = if score::scores_every_item(m.n, m.dim) {
            Some(knn::knn(
                m.values,
                m.dim,
                k,
                Metric::Euclidean,
                Method::Exact,
                obs,
            )?)
        } else {
            None
        };
        score::score(&input, original.as_ref())
    })?
    .map_err(value_error)?;
    let out = PyDict::new(py);
    out.set_item("n", scores.n_items)?;
    out.set_item("n_neighbors", scores.k)?;
    out.set_item("trustworthiness", scores.trustworthiness)?;
    out.set_item("tw_points", scores.tw_points)?;
    out.set_item("knn_preservation", scores.knn_preservation)?;
    out.set_item("knn_accuracy", scores.knn_accuracy)?;
    out.set_item("neighbour_points", scores.neighbour_points)?;
    Ok(out)
}

/// scikit-learn's trustworthiness of layout `y` for `x` (over a fixed-seed sample of
/// `tw_sample` items when N is larger; 0: all), as `ivt-explore eval` computes it.
#[pyfunction]
pub fn trustworthiness<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    y: PyReadonlyArray2<'py, f32>,
    k: usize,
    tw_sample: usize,
) -> PyResult<f64> {
    let m = matrix("X", &x)?;
    let l = matrix("Y", &y)?;
    if l.n != m.n {
        return Err(value_error(format!("Y has {} rows, X has {}", l.n, m.n)));
    }
    let subset = (tw_sample > 0 && m.n > tw_sample)
        .then(|| ivt::numeric::sample_items(m.n, tw_sample, score::SAMPLE_SEED));
    interruptible(py, |_| {
        ivt::metrics::trustworthiness(m.values, m.dim, l.values, l.dim, k, subset.as_deref())
    })
}
