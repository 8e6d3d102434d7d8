//! What to label next, from Python: the probe of `ivt-explore suggest` (a logistic regression
//! averaged with label spreading over the kNN graph) fitted on the labels given so far, its
//! cross-validated accuracy, every item's probabilities and the items to label next.

use ivt::knn;
use ivt::probe::{self, Labelled, ProbeInput, Scaler, Strategy};
use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::compute::{
    AUTO, given_graph, imported_graph, interruptible, matrix, metric_named, rows, value_error,
};

/// The probe on `x` with the labels `codes` (indices into `names`) of `items`, and the `n`
/// items to label next by `strategy` (as `--strategy`). A dict: `suggestions` (int64),
/// `p` (float32 N × labels), `cv_accuracy`, `per_label` (labels per name), `estimate` (the
/// graph's recall estimate when approximate, as `knn`), `notes` (on a given graph).
#[pyfunction]
#[pyo3(signature = (x, items, codes, names, n, strategy, metric, knn_indices=None, knn_distances=None))]
#[allow(clippy::too_many_arguments)]
pub fn suggest<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f32>,
    items: PyReadonlyArray1<'py, u32>,
    codes: PyReadonlyArray1<'py, u32>,
    names: Vec<String>,
    n: usize,
    strategy: &str,
    metric: &str,
    knn_indices: Option<PyReadonlyArray2<'py, i64>>,
    knn_distances: Option<PyReadonlyArray2<'py, f32>>,
) -> PyResult<Bound<'py, PyDict>> {
    let m = matrix("X", &x)?;
    let strategy: Strategy = strategy
        .parse()
        .map_err(|e| value_error(format!("strategy: {e}")))?;
    let metric = metric_named(metric)?;
    let contiguous = |what: &str| value_error(format!("{what} must be C-contiguous"));
    let items = items
        .as_slice()
        .map_err(|_| contiguous("the labelled items"))?;
    let codes = codes
        .as_slice()
        .map_err(|_| contiguous("the label codes"))?;
    if items.len() != codes.len() {
        return Err(value_error(format!(
            "{} labelled items but {} labels",
            items.len(),
            codes.len()
        )));
    }
    if let Some(bad) = items.iter().find(|&&i| i as usize >= m.n) {
        return Err(value_error(format!(
            "labelled item {bad} is out of range: X has {} rows",
            m.n
        )));
    }
    if let Some(bad) = codes.iter().find(|&&c| c as usize >= names.len()) {
        return Err(value_error(format!(
            "label code {bad} has no name ({} names)",
            names.len()
        )));
    }
    let labelled = Labelled {
        names,
        items: items.to_vec(),
        codes: codes.to_vec(),
    };
    probe::check_labels(&labelled).map_err(value_error)?;
    if let Strategy::Likely(l) = &strategy
        && !labelled.names.contains(l)
    {
        return Err(value_error(format!(
            "strategy likely:{l}: no item is labelled {l:?} (labels: {})",
            labelled.names.join(", ")
        )));
    }
    let given = given_graph(&knn_indices, &knn_distances)?;
    let (given, notes) = match &given {
        Some(g) => {
            let (graph, notes) = imported_graph(m, g, metric)?;
            (Some(graph), notes)
        }
        None => (None, Vec::new()),
    };
    let found = interruptible(py, |obs| -> Result<_, String> {
        let (graph, estimate) = match given {
            Some(g) => (g, None),
            None => {
                let found = knn::search(
                    m.values,
                    m.dim,
                    probe::propagate::NEIGHBOURS.min(m.n - 1).max(1),
                    metric,
                    AUTO,
                    &knn::IvfParams::default(),
                    obs,
                )
                .map_err(|e| format!("cannot compute the kNN graph: {e}"))?;
                (found.graph, found.estimate)
            }
        };
        let scaler = Scaler::of(m.values, m.dim);
        let input = ProbeInput {
            features: m.values,
            dim: m.dim,
            scaler: &scaler,
            graph: Some(&graph),
        };
        let fitted = probe::fit(&input, &labelled).map_err(|e| e.to_string())?;
        let accuracy = probe::cross_validate(&input, &labelled).map_err(|e| e.to_string())?;
        let picked = probe::suggest(&fitted, &strategy, n, &labelled.mask(m.n), Some(&graph))
            .map_err(|e| e.to_string())?;
        Ok((fitted, accuracy, picked, estimate))
    })?
    .map_err(value_error)?;
    let (fitted, accuracy, picked, estimate) = found;
    let out = PyDict::new(py);
    let picked: Vec<i64> = picked.into_iter().map(i64::from).collect();
    out.set_item("suggestions", PyArray1::from_vec(py, picked))?;
    let c = fitted.names.len();
    out.set_item("p", rows(py, fitted.probs, m.n, c)?)?;
    out.set_item("cv_accuracy", accuracy)?;
    out.set_item("per_label", fitted.per_label)?;
    out.set_item(
        "estimate",
        estimate.map(|e| (e.recall, e.sample, e.search.clone())),
    )?;
    out.set_item("notes", notes)?;
    Ok(out)
}
