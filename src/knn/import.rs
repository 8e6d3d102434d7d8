//! kNN graphs computed elsewhere — FAISS, cuML, pynndescent, a Spark or Ray job over 100 M
//! images — read from `.npy` and checked before anything uses them, so a graph of another
//! data set, another row order or another metric is an error naming the file, not a wrong map.
//!
//! Conventions of those tools are accepted rather than refused: a list that starts with the
//! item itself (scikit-learn, pynndescent and FAISS searching the indexed set all do) loses
//! that entry; FAISS's squared L2 distances are recognised and rooted. Distances are always
//! checked against the features on a sample of rows, and computed from them when no file
//! gives them.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use thiserror::Error;

use super::exact::{dot, finish_distance, from_dot, prepared};
use super::{KnnError, KnnGraph, Metric};
use crate::npy::{self, NpyError};
use crate::numeric::squared_norms;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error(transparent)]
    Npy(#[from] NpyError),
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path}: cannot check the graph's distances: {source}")]
    Knn {
        path: PathBuf,
        #[source]
        source: KnnError,
    },
}

/// An imported graph and what was done to it on the way in (for the user to read).
#[derive(Debug, Clone)]
pub struct Imported {
    pub graph: KnnGraph,
    pub notes: Vec<String>,
}

/// Rows whose file distances are compared with the features'.
const CHECKED_ROWS: usize = 1000;
/// Relative difference tolerated between a file's distance and the recomputed one (float32
/// rounding in another library's GEMM).
const TOLERANCE: f32 = 1e-3;

/// Read `indices` (N × k integers, row i = item i's neighbours, nearest first) and optionally
/// `distances` (N × k floats in the metric's units) for `features` (N × `dim`).
pub fn read_graph(
    indices: &Path,
    distances: Option<&Path>,
    features: &[f32],
    dim: usize,
    metric: Metric,
) -> Result<Imported, ImportError> {
    let (rows, cols, raw) = npy::read_index_matrix_file(indices)?;
    let distances = match distances {
        Some(path) => {
            let m = npy::read_matrix_file(path)?;
            Some((path, m.n_rows, m.n_cols, m.data))
        }
        None => None,
    };
    from_arrays(
        Neighbours {
            source: indices,
            rows,
            cols,
            indices: raw,
        },
        distances.map(|(source, rows, cols, values)| Distances {
            source,
            rows,
            cols,
            values,
        }),
        features,
        dim,
        metric,
    )
}

/// Neighbour indices in memory (N × `cols`, row-major, as in a file), and what to call them in
/// errors (the file they came from, or the argument that gave them).
pub struct Neighbours<'a> {
    pub source: &'a Path,
    pub rows: usize,
    pub cols: usize,
    pub indices: Vec<i64>,
}

/// Their distances, as [`Neighbours`].
pub struct Distances<'a> {
    pub source: &'a Path,
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

/// [`read_graph`] for a graph already in memory (the Python package's `knn=`): checked and
/// completed exactly as a file's is.
pub fn from_arrays(
    neighbours: Neighbours<'_>,
    distances: Option<Distances<'_>>,
    features: &[f32],
    dim: usize,
    metric: Metric,
) -> Result<Imported, ImportError> {
    let n = features.len() / dim.max(1);
    let indices = neighbours.source;
    let cols = neighbours.cols;
    check_indices(indices, neighbours.rows, cols, &neighbours.indices, n)?;
    let raw = neighbours.indices;
    let file_distances = match distances {
        Some(d) => {
            check_distances(d.source, (d.rows, d.cols), &d.values, (n, cols))?;
            Some((d.source, d.values))
        }
        None => None,
    };
    // Self entries: every listed item must be another item, except that lists may start with
    // the item itself, which is dropped.
    let with_self = (0..n)
        .filter(|&i| raw[i * cols..(i + 1) * cols].contains(&(i as i64)))
        .count();
    let k = if with_self > 0 { cols - 1 } else { cols };
    if k == 0 {
        return Err(invalid(
            indices,
            "one column, and it is each item itself: no neighbours left".to_owned(),
        ));
    }
    let mut notes = Vec::new();
    if with_self > 0 {
        notes.push(format!(
            "{with_self} of {n} rows list the item itself (as scikit-learn, pynndescent and FAISS \
             do when searching the indexed set): removed, leaving k = {k}"
        ));
    }
    let data = prepared(features, dim, metric).map_err(|source| ImportError::Knn {
        path: indices.to_owned(),
        source,
    })?;
    let norms = squared_norms(&data, dim);
    let distance = |i: usize, j: usize| -> f32 {
        let (a, b) = (&data[i * dim..(i + 1) * dim], &data[j * dim..(j + 1) * dim]);
        finish_distance(metric, from_dot(norms[i], norms[j], dot(a, b)))
    };
    let mut kept = keep_neighbours(
        &raw,
        n,
        cols,
        k,
        file_distances.as_ref().map(|(_, d)| &d[..]),
    );
    if let Some(row) = (0..n).find(|&i| {
        let mut ids: Vec<u32> = kept[i * k..(i + 1) * k].iter().map(|p| p.1).collect();
        ids.sort_unstable();
        ids.windows(2).any(|w| w[0] == w[1])
    }) {
        return Err(invalid(
            indices,
            format!("row {row} lists the same neighbour twice"),
        ));
    }
    match &file_distances {
        Some((path, _)) => {
            // What the norm expansion can lose in f32 (ours, or FAISS's), in squared units:
            // near-duplicates of long vectors differ from an exact file by more than 1e-3.
            let truth =
                |i: usize, j: usize| (distance(i, j), 64.0 * f32::EPSILON * (norms[i] + norms[j]));
            check_file_distances(path, &mut kept, n, k, metric, &truth, &mut notes)?;
            if let Some(row) =
                (0..n).find(|&i| kept[i * k..(i + 1) * k].windows(2).any(|w| w[1].0 < w[0].0))
            {
                return Err(invalid(
                    path,
                    format!(
                        "row {row} is not sorted by distance (nearest first); similarities, \
                         e.g. FAISS inner products, are not distances: give 1 − similarity, or \
                         leave the distances out and they are computed"
                    ),
                ));
            }
        }
        None => {
            kept.par_chunks_mut(k).enumerate().for_each(|(i, row)| {
                for p in row.iter_mut() {
                    p.0 = distance(i, p.1 as usize);
                }
            });
            let unsorted = kept
                .par_chunks(k)
                .filter(|row| row.windows(2).any(|w| w[1].0 < w[0].0 * (1.0 - TOLERANCE)))
                .count();
            if unsorted * 100 > n {
                notes.push(format!(
                    "{unsorted} of {n} rows are not in order of {} distance in these features: \
                     was the graph computed with another metric or other features? (sorted here)",
                    metric.name()
                ));
            }
            kept.par_chunks_mut(k).for_each(|row| {
                row.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            });
        }
    }
    let (distances, indices): (Vec<f32>, Vec<u32>) = kept.into_iter().unzip();
    Ok(Imported {
        graph: KnnGraph {
            k,
            metric,
            indices,
            distances,
        },
        notes,
    })
}

/// The error for a file whose content is not a graph of these features.
fn invalid(path: &Path, reason: String) -> ImportError {
    ImportError::Invalid {
        path: path.to_owned(),
        reason,
    }
}

/// Neighbour indices checked: one row per item of the `n`, at least one column, every entry an
/// item index.
fn check_indices(
    path: &Path,
    rows: usize,
    cols: usize,
    raw: &[i64],
    n: usize,
) -> Result<(), ImportError> {
    if rows != n {
        return Err(invalid(
            path,
            format!(
                "{rows} rows of neighbours, but the data set has {n} items: a graph of other \
                 data, or of a subset?"
            ),
        ));
    }
    if cols == 0 {
        return Err(invalid(path, "no neighbours (0 columns)".to_owned()));
    }
    if let Some((at, &bad)) = raw
        .iter()
        .enumerate()
        .find(|&(_, &j)| j < 0 || j as u64 >= n as u64)
    {
        let (row, col) = (at / cols, at % cols);
        let why = if bad == -1 {
            "-1, a missing neighbour (FAISS pads lists it could not fill with -1): search more \
             cells (nprobe) or ask for fewer neighbours"
                .to_owned()
        } else {
            format!("{bad}, not an item index (0..{n})")
        };
        return Err(invalid(
            path,
            format!("row {row}, column {col} (0-based): {why}"),
        ));
    }
    Ok(())
}

/// Distances checked: the indices' shape, finite, at least 0.
fn check_distances(
    path: &Path,
    (rows, cols): (usize, usize),
    values: &[f32],
    (want_rows, want_cols): (usize, usize),
) -> Result<(), ImportError> {
    if (rows, cols) != (want_rows, want_cols) {
        return Err(invalid(
            path,
            format!("shape {rows} × {cols}, but the indices are {want_rows} × {want_cols}"),
        ));
    }
    if let Some(at) = values.iter().position(|d| !d.is_finite() || *d < 0.0) {
        return Err(invalid(
            path,
            format!(
                "row {}, column {}: {} is not a distance (finite, at least 0)",
                at / cols,
                at % cols,
                values[at]
            ),
        ));
    }
    Ok(())
}

/// Per row: (distance, index) of the `k` entries kept of the file's `cols`, in the file's order
/// (the item itself dropped); the distance is the file's, or NaN until computed.
fn keep_neighbours(
    raw: &[i64],
    n: usize,
    cols: usize,
    k: usize,
    file_distances: Option<&[f32]>,
) -> Vec<(f32, u32)> {
    let mut kept: Vec<(f32, u32)> = Vec::with_capacity(n * k);
    for i in 0..n {
        let row = &raw[i * cols..(i + 1) * cols];
        let has_self = row.contains(&(i as i64));
        let mut taken = 0;
        for (c, &j) in row.iter().enumerate() {
            if taken == k {
                break;
            }
            if has_self && j == i as i64 {
                continue;
            }
            let d = file_distances.map_or(f32::NAN, |d| d[i * cols + c]);
            kept.push((d, j as u32));
            taken += 1;
        }
    }
    kept
}

/// Compare a file's distances with the features' on a sample of rows: equal (within float
/// rounding), squared (FAISS's L2 indexes: rooted here, with a note) or an error. `truth_of`
/// gives our distance and the rounding allowed, in squared euclidean units.
fn check_file_distances(
    path: &Path,
    kept: &mut [(f32, u32)],
    n: usize,
    k: usize,
    metric: Metric,
    truth_of: &(dyn Fn(usize, usize) -> (f32, f32) + Sync),
    notes: &mut Vec<String>,
) -> Result<(), ImportError> {
    let sample = crate::numeric::sample_items(n, CHECKED_ROWS, 0x1D);
    let relative = |a: f32, b: f32| (a - b).abs() <= TOLERANCE * a.abs().max(b.abs()).max(1e-3);
    // `s2`: the rounding allowed in squared euclidean units (cosine distance is half that).
    let close = |d: f32, truth: f32, s2: f32| {
        relative(d, truth)
            || match metric {
                Metric::Euclidean => (d * d - truth * truth).abs() <= s2,
                Metric::Cosine => (d - truth).abs() <= 0.5 * s2,
            }
    };
    let (mut plain, mut squared, mut total) = (0usize, 0usize, 0usize);
    let mut example = None;
    for &i in &sample {
        for &(d, j) in &kept[i * k..(i + 1) * k] {
            let (truth, s2) = truth_of(i, j as usize);
            total += 1;
            plain += usize::from(close(d, truth, s2));
            squared += usize::from(relative(d, truth * truth) || (d - truth * truth).abs() <= s2);
            if example.is_none() && !close(d, truth, s2) {
                example = Some((i, j, d, truth));
            }
        }
    }
    if plain == total {
        return Ok(());
    }
    if squared == total && metric == Metric::Euclidean {
        kept.par_iter_mut().for_each(|p| p.0 = p.0.sqrt());
        notes.push(format!(
            "{}: the distances are squared euclidean (as FAISS's L2 indexes return them); \
             took their square roots",
            path.display()
        ));
        return Ok(());
    }
    let (i, j, d, truth) = example.unwrap_or((0, 0, f32::NAN, f32::NAN));
    Err(ImportError::Invalid {
        path: path.to_owned(),
        reason: format!(
            "the distances do not match the features: item {i} to {j} is {d} in the file but \
             {truth} by {} distance ({} of {total} checked pairs differ); computed with another \
             metric (see --metric) or on other features? Leave the distances out to have them \
             computed",
            metric.name(),
            total - plain
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::exact_knn;

    fn setup() -> (tempfile::TempDir, Vec<f32>, usize, KnnGraph) {
        let spec = crate::synth::ClusteredSpec {
            n: 300,
            dim: 6,
            clusters: 5,
            seed: 3,
        };
        let (x, _) = crate::synth::clustered(&spec);
        let g = exact_knn(&x, spec.dim, 6, Metric::Euclidean, &()).expect("exact");
        (tempfile::tempdir().expect("tempdir"), x, spec.dim, g)
    }

    /// The same graph up to float rounding of the distances (GEMM tiles vs one dot product).
    fn assert_same(a: &KnnGraph, b: &KnnGraph) {
        assert_eq!((a.k, a.metric, &a.indices), (b.k, b.metric, &b.indices));
        for (x, y) in a.distances.iter().zip(&b.distances) {
            assert!((x - y).abs() <= 1e-4 * y.max(1.0), "{x} vs {y}");
        }
    }

    fn write_indices(path: &Path, g: &KnnGraph, with_self: bool) {
        let n = g.n_items();
        let cols = g.k + usize::from(with_self);
        let mut out = Vec::with_capacity(n * cols);
        for i in 0..n {
            if with_self {
                out.push(i as i64);
            }
            out.extend(g.neighbors(i).iter().map(|&j| i64::from(j)));
        }
        npy::write(path, &[n, cols], &out).expect("write");
    }

    #[test]
    fn exact_distances_of_near_duplicates_of_long_vectors_are_accepted() {
        // 784 values near 1 (norms² ≈ 800) and pairs 0.01 apart: the f32 norm expansion loses
        // more than 1e-3 of such a distance, a file computed exactly must still pass.
        let (n, dim) = (40usize, 784usize);
        let mut rng = crate::rng::XorShift::new(9);
        let mut x = Vec::with_capacity(n * dim);
        for i in 0..n {
            if i % 2 == 1 {
                let prev: Vec<f32> = x[(i - 1) * dim..i * dim].to_vec();
                x.extend(
                    prev.iter()
                        .enumerate()
                        .map(|(c, v)| v + if c < 4 { 0.005 } else { 0.0 }),
                );
            } else {
                x.extend(
                    (0..dim).map(|_| 0.5 + (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32),
                );
            }
        }
        let g = exact_knn(&x, dim, 3, Metric::Euclidean, &()).expect("exact");
        let exact: Vec<f32> = (0..n)
            .flat_map(|i| {
                let x = &x;
                g.neighbors(i).iter().map(move |&j| {
                    let d2: f64 = (0..dim)
                        .map(|c| f64::from(x[i * dim + c] - x[j as usize * dim + c]).powi(2))
                        .sum();
                    d2.sqrt() as f32
                })
            })
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let (ip, dp) = (dir.path().join("i.npy"), dir.path().join("d.npy"));
        write_indices(&ip, &g, false);
        npy::write(&dp, &[n, 3], &exact).expect("write");
        let got = read_graph(&ip, Some(&dp), &x, dim, Metric::Euclidean).expect("accepted");
        assert!(
            (got.graph.distances[0] - 0.01).abs() < 1e-4,
            "{}",
            got.graph.distances[0]
        );
    }

    #[test]
    fn a_graph_round_trips_and_a_leading_self_column_is_dropped() {
        let (dir, x, dim, g) = setup();
        let path = dir.path().join("knn.npy");
        write_indices(&path, &g, false);
        let got = read_graph(&path, None, &x, dim, Metric::Euclidean).expect("import");
        assert_same(&got.graph, &g);
        assert!(got.notes.is_empty(), "{:?}", got.notes);
        write_indices(&path, &g, true);
        let got = read_graph(&path, None, &x, dim, Metric::Euclidean).expect("import");
        assert_same(&got.graph, &g);
        assert!(got.notes[0].contains("itself"), "{:?}", got.notes);
    }

    #[test]
    fn a_graph_that_cannot_be_checked_is_an_error_naming_its_file() {
        let (dir, mut x, dim, g) = setup();
        let path = dir.path().join("knn.npy");
        write_indices(&path, &g, false);
        // A zero row has no cosine direction: the distances cannot be checked.
        x[..dim].fill(0.0);
        let e = read_graph(&path, None, &x, dim, Metric::Cosine).expect_err("zero row");
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
    }

    #[test]
    fn distances_are_checked_and_squared_ones_rooted() {
        let (dir, x, dim, g) = setup();
        let (idx, dist) = (dir.path().join("knn.npy"), dir.path().join("d.npy"));
        write_indices(&idx, &g, false);
        let n = g.n_items();
        npy::write(&dist, &[n, g.k], &g.distances).expect("write");
        let got = read_graph(&idx, Some(&dist), &x, dim, Metric::Euclidean).expect("plain");
        assert_eq!(got.graph, g);
        let squared: Vec<f32> = g.distances.iter().map(|d| d * d).collect();
        npy::write(&dist, &[n, g.k], &squared).expect("write");
        let got = read_graph(&idx, Some(&dist), &x, dim, Metric::Euclidean).expect("squared");
        assert!(
            got.notes.iter().any(|n| n.contains("squared")),
            "{:?}",
            got.notes
        );
        for (a, b) in got.graph.distances.iter().zip(&g.distances) {
            assert!((a - b).abs() <= 1e-3 * b.max(1.0));
        }
        // Other units (a cosine graph read as euclidean) are refused, naming the file.
        let halved: Vec<f32> = g.distances.iter().map(|d| d * 0.5).collect();
        npy::write(&dist, &[n, g.k], &halved).expect("write");
        let err = read_graph(&idx, Some(&dist), &x, dim, Metric::Euclidean).expect_err("units");
        assert!(err.to_string().contains("d.npy") && err.to_string().contains("do not match"));
        // Similarities (descending) are refused as unsorted.
        let mut reversed = g.clone();
        for i in 0..n {
            reversed.indices[i * g.k..(i + 1) * g.k].reverse();
            reversed.distances[i * g.k..(i + 1) * g.k].reverse();
        }
        write_indices(&idx, &reversed, false);
        npy::write(&dist, &[n, g.k], &reversed.distances).expect("write");
        let err = read_graph(&idx, Some(&dist), &x, dim, Metric::Euclidean).expect_err("order");
        assert!(err.to_string().contains("not sorted"), "{err}");
        // Wrong shape.
        npy::write(&dist, &[n, g.k - 1], &g.distances[..n * (g.k - 1)]).expect("write");
        let err = read_graph(&idx, Some(&dist), &x, dim, Metric::Euclidean).expect_err("shape");
        assert!(err.to_string().contains("but the indices are"), "{err}");
    }

    #[test]
    fn bad_indices_get_errors_naming_the_file_and_the_row() {
        let (dir, x, dim, g) = setup();
        let path = dir.path().join("graph.npy");
        let n = g.n_items();
        let base: Vec<i64> = g.indices.iter().map(|&j| i64::from(j)).collect();
        let cases: Vec<(Vec<i64>, Vec<usize>, &str)> = vec![
            (base[..(n - 1) * g.k].to_vec(), vec![n - 1, g.k], "299 rows"),
            (
                {
                    let mut v = base.clone();
                    v[7 * g.k + 2] = -1;
                    v
                },
                vec![n, g.k],
                "row 7, column 2 (0-based): -1",
            ),
            (
                {
                    let mut v = base.clone();
                    v[3] = n as i64;
                    v
                },
                vec![n, g.k],
                "not an item index",
            ),
            (
                {
                    let mut v = base.clone();
                    v[5 * g.k + 1] = v[5 * g.k];
                    v
                },
                vec![n, g.k],
                "row 5 lists the same neighbour twice",
            ),
        ];
        for (values, shape, want) in cases {
            npy::write(&path, &shape, &values).expect("write");
            let err = read_graph(&path, None, &x, dim, Metric::Euclidean).expect_err(want);
            let text = err.to_string();
            assert!(text.contains("graph.npy") && text.contains(want), "{text}");
        }
        npy::write(&path, &[n, 2], &vec![0.5f32; n * 2]).expect("write");
        let err = read_graph(&path, None, &x, dim, Metric::Euclidean).expect_err("floats");
        assert!(err.to_string().contains("integers"), "{err}");
    }
}
