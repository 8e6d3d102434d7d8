//! `ivt_explore._native`: the engine of ivt-explore called in process from Python, numpy in and
//! numpy out. The Python half of the package (python/ivt_explore/) turns whatever the user
//! passes (float16/64, integers, Fortran order, torch tensors, string labels) into the C-ordered
//! float32 matrices and integer codes these functions take, and names the arguments in its
//! errors; here the values are checked (non-finite entries, sizes) and computed on exactly the
//! library paths the CLI takes, so the same input and seed give the CLI's result.
//!
//! Every computation runs with the GIL released, on a worker thread, while the calling thread
//! polls for Ctrl+C: a `KeyboardInterrupt` cancels the computation through its progress
//! observer and is raised once it has stopped (t-SNE checks every iteration, UMAP every epoch,
//! the kNN search every block of rows).

mod compute;
mod labels;
mod probe;

use pyo3::prelude::*;

/// The module: the compute functions, and `run_cli`, which is the whole `ivt-explore` program.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    // Errors of the calls made in this process name options as the Python user types them.
    ivt::hint::set_style(ivt::hint::Style::Keywords);
    m.add_function(wrap_pyfunction!(run_cli, m)?)?;
    m.add_function(wrap_pyfunction!(compute::knn_graph, m)?)?;
    m.add_function(wrap_pyfunction!(compute::umap_layout, m)?)?;
    m.add_function(wrap_pyfunction!(compute::tsne_layout, m)?)?;
    m.add_function(wrap_pyfunction!(compute::pca, m)?)?;
    m.add_function(wrap_pyfunction!(compute::cluster, m)?)?;
    m.add_function(wrap_pyfunction!(compute::audit, m)?)?;
    m.add_function(wrap_pyfunction!(compute::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(compute::trustworthiness, m)?)?;
    m.add_function(wrap_pyfunction!(probe::suggest, m)?)?;
    m.add_function(wrap_pyfunction!(labels::read_labels, m)?)?;
    m.add_function(wrap_pyfunction!(labels::default_labels_dir, m)?)?;
    m.add_function(wrap_pyfunction!(labels::write_labels, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

/// Run the `ivt-explore` program on `argv` (the program's name first) in this process and
/// return its exit status. The package's console script and `python -m ivt_explore` call it, so
/// the program a `pip install` puts on the PATH is the CLI itself, explorer included.
#[pyfunction]
fn run_cli(py: Python<'_>, argv: Vec<std::ffi::OsString>) -> u8 {
    // The explorer's window and the CLI's own Ctrl+C handling run without the GIL: nothing in
    // this process needs Python until the program returns.
    let status = py.detach(|| ivt::cli::main(argv));
    // The program spoke its user's spelling; the calls made from Python go on speaking theirs.
    ivt::hint::set_style(ivt::hint::Style::Keywords);
    status
}
