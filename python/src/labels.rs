//! The labels a session has given, read live from its journal (without its lock: the explorer
//! may be writing; a torn last record is skipped), for `Session.labels()` and
//! `ivt_explore.labels()`.

use std::path::PathBuf;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// `{item: label}` from the journal in `dir` and the warnings met reading it. `n_items`: the
/// data set's size when known (a record beyond it is an error, as in the explorer); `None`
/// accepts any item.
#[pyfunction]
#[pyo3(signature = (dir, n_items=None))]
pub fn read_labels(
    py: Python<'_>,
    dir: PathBuf,
    n_items: Option<usize>,
) -> PyResult<(Bound<'_, PyDict>, Vec<String>)> {
    let (state, warnings) = ivt::labels::journal::read(&dir, n_items.unwrap_or(usize::MAX))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let out = PyDict::new(py);
    for (item, label) in state.iter() {
        out.set_item(item.0, label)?;
    }
    Ok((out, warnings))
}

/// Where the labels of the data set named `name` go by default (`ivt-labels/<name>`, made a
/// safe folder name), as the program decides it.
#[pyfunction]
pub fn default_labels_dir(name: &str) -> PathBuf {
    ivt::labels::default_dir(name)
}

/// Give `labels` (`{item: label or None}`; None removes the item's label) in the journal in
/// `dir` for a data set of `n_items`, as the explorer would: one undoable batch per label,
/// synced to disk before this returns. Refused while an explorer holds the journal (its lock),
/// and for a label that is not a plain folder name or an item beyond the data set. Returns the
/// number of items whose label changed.
#[pyfunction]
pub fn write_labels(
    py: Python<'_>,
    dir: PathBuf,
    n_items: usize,
    labels: Vec<(u32, Option<String>)>,
) -> PyResult<usize> {
    let error = |e: ivt::labels::LabelError| PyValueError::new_err(e.to_string());
    for (item, label) in &labels {
        if *item as usize >= n_items {
            return Err(error(ivt::labels::LabelError::ItemOutOfRange {
                item: *item,
                n_items,
            }));
        }
        if let Some(name) = label {
            ivt::labels::check_name(name)
                .map_err(|e| PyValueError::new_err(format!("label {name:?}: {e}")))?;
        }
    }
    py.detach(|| {
        let (mut journal, mut state, _) =
            ivt::labels::journal::open(&dir, n_items).map_err(error)?;
        // One batch per label, in the order labels first appear: what the explorer writes for
        // a lasso that gives one label to many items.
        let mut groups: Vec<(Option<String>, Vec<ivt::dataset::ItemId>)> = Vec::new();
        for (item, label) in labels {
            let item = ivt::dataset::ItemId(item);
            match groups.iter_mut().find(|(l, _)| *l == label) {
                Some((_, items)) => items.push(item),
                None => groups.push((label, vec![item])),
            }
        }
        let mut changed = 0;
        for (label, items) in groups {
            if let Some(batch) = state.assign(&items, label.as_deref(), ivt::labels::now_ms()) {
                journal.append(&batch).map_err(error)?;
                changed += batch.changes.len();
                state.replay(&batch);
            }
        }
        Ok(changed)
    })
}
