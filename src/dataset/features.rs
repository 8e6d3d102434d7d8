//! The feature matrix: N items × D dimensions, row-major, read from `.npy`, `.npz`, CSV or TSV,
//! checked for emptiness and non-finite values, and summarised for `info`. Float32 and float16
//! `.npy` files are mapped, not read; float16 stays float16 (half the memory for the whole
//! session) and is widened to `f32` only for the computation that asks ([`Features::values`]).

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::DatasetError;
use crate::npy::{self, Source};

/// Rows per parallel task in whole-matrix passes: large enough to amortise scheduling.
const ROWS_PER_TASK: usize = 1024;

/// N × D features, row-major `f32`. Constructed only through [`Features::new`] (or the
/// mapped `.npy` path of [`load_features`]), which check the shape and that every value is
/// finite.
#[derive(Debug, Clone)]
pub struct Features {
    n_items: usize,
    dim: usize,
    data: Storage,
    /// The element type in the file, before conversion (e.g. "float64").
    stored_dtype: String,
    source: PathBuf,
}

/// Where the values live: in memory of our own, or in a mapped float32 or float16 `.npy` file.
#[derive(Clone)]
enum Storage {
    Owned(Vec<f32>),
    Mapped(std::sync::Arc<npy::MappedMatrix>),
}

/// Float16 bits, widened on all cores.
fn widen(bits: &[u16]) -> Vec<f32> {
    bits.par_iter()
        .with_min_len(1 << 14)
        .map(|&b| npy::f16_to_f32(b))
        .collect()
}

impl Storage {
    fn values(&self) -> Cow<'_, [f32]> {
        match self {
            Self::Owned(v) => Cow::Borrowed(v),
            Self::Mapped(m) => match (m.as_f32(), m.as_f16()) {
                (Some(v), _) => Cow::Borrowed(v),
                (None, Some(bits)) => Cow::Owned(widen(bits)),
                (None, None) => unreachable!("a mapped matrix is float32 or float16"),
            },
        }
    }

    fn half(&self) -> Option<&[u16]> {
        match self {
            Self::Mapped(m) => m.as_f16(),
            Self::Owned(_) => None,
        }
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Owned(v) => write!(f, "{} values", v.len()),
            Self::Mapped(m) => write!(f, "{m:?}"),
        }
    }
}

impl PartialEq for Features {
    fn eq(&self, other: &Self) -> bool {
        self.n_items == other.n_items
            && self.dim == other.dim
            && self.stored_dtype == other.stored_dtype
            && self.source == other.source
            && self.values() == other.values()
    }
}

impl Features {
    /// Validate and wrap a row-major matrix; `source_name` is used in error messages.
    pub fn new(
        n_items: usize,
        dim: usize,
        data: Vec<f32>,
        stored_dtype: impl Into<String>,
        source: impl Into<PathBuf>,
        source_name: &str,
    ) -> Result<Self, DatasetError> {
        debug_assert_eq!(data.len(), n_items * dim);
        Self::checked(
            n_items,
            dim,
            Storage::Owned(data),
            stored_dtype.into(),
            source.into(),
            source_name,
        )
    }

    /// A mapped float32 or float16 `.npy` file, checked as [`Features::new`] checks.
    fn mapped(matrix: npy::MappedMatrix, path: &Path) -> Result<Self, DatasetError> {
        let dtype = match matrix.elem {
            npy::MappedElem::F32 => "float32",
            npy::MappedElem::F16 => "float16",
        };
        Self::checked(
            matrix.n_rows,
            matrix.n_cols,
            Storage::Mapped(std::sync::Arc::new(matrix)),
            dtype.to_owned(),
            path.to_owned(),
            &path.display().to_string(),
        )
    }

    fn checked(
        n_items: usize,
        dim: usize,
        data: Storage,
        stored_dtype: String,
        source: PathBuf,
        source_name: &str,
    ) -> Result<Self, DatasetError> {
        if n_items == 0 {
            return Err(DatasetError::Empty {
                source_name: source_name.to_owned(),
                what: "rows (items)",
            });
        }
        if dim == 0 {
            return Err(DatasetError::Empty {
                source_name: source_name.to_owned(),
                what: "columns (feature dimensions)",
            });
        }
        match (&data, data.half()) {
            (_, Some(bits)) => check_finite(
                bits,
                |b| b & 0x7c00 != 0x7c00,
                npy::f16_to_f32,
                dim,
                source_name,
            )?,
            (Storage::Owned(v), None) => check_finite(v, f32::is_finite, |v| v, dim, source_name)?,
            (Storage::Mapped(_), None) => {
                check_finite(&data.values(), f32::is_finite, |v| v, dim, source_name)?
            }
        }
        Ok(Self {
            n_items,
            dim,
            data,
            stored_dtype,
            source,
        })
    }

    /// Whether the values are read from a mapped file rather than held in memory.
    pub fn is_mapped(&self) -> bool {
        matches!(self.data, Storage::Mapped(_))
    }

    /// Whether the values stay float16 (a mapped half-precision file): [`Features::values`]
    /// then widens a transient copy, so the matrix held for the session is half the size.
    pub fn is_half(&self) -> bool {
        self.data.half().is_some()
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Every value, row-major, as `f32`: the matrix itself when it is float32, a widened copy
    /// (for the caller's computation only) when it stays float16.
    pub fn values(&self) -> Cow<'_, [f32]> {
        self.data.values()
    }

    /// One row as `f32` (widened when the matrix is float16).
    pub fn row(&self, i: usize) -> Cow<'_, [f32]> {
        let range = i * self.dim..(i + 1) * self.dim;
        match self.data.half() {
            Some(bits) => Cow::Owned(bits[range].iter().map(|&b| npy::f16_to_f32(b)).collect()),
            None => match self.data.values() {
                Cow::Borrowed(v) => Cow::Borrowed(&v[range]),
                Cow::Owned(v) => Cow::Owned(v[range].to_vec()),
            },
        }
    }

    pub fn stored_dtype(&self) -> &str {
        &self.stored_dtype
    }

    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Summary statistics in one parallel pass.
    pub fn stats(&self) -> FeatureStats {
        let dim = self.dim;
        let of_block = |block: &[f32]| {
            let mut p = Partial::new(dim);
            for row in block.chunks_exact(dim) {
                p.add_row(row);
            }
            p
        };
        // Float16 is widened a block at a time: `info` never holds a float32 copy.
        let partials = match self.data.half() {
            Some(bits) => bits
                .par_chunks(ROWS_PER_TASK * dim)
                .map(|block| {
                    of_block(
                        &block
                            .iter()
                            .map(|&b| npy::f16_to_f32(b))
                            .collect::<Vec<_>>(),
                    )
                })
                .reduce_with(Partial::merge),
            None => self
                .values()
                .par_chunks(ROWS_PER_TASK * dim)
                .map(of_block)
                .reduce_with(Partial::merge),
        };
        // `new` guarantees at least one row, so there is at least one partial.
        let mut p = partials.unwrap_or_else(|| Partial::new(dim));
        p.finish_extremes();
        let count = (self.n_items * dim) as f64;
        let mean = p.sum / count;
        let variance = (p.sum_sq / count - mean * mean).max(0.0);
        FeatureStats {
            min: p.min,
            max: p.max,
            mean,
            std: variance.sqrt(),
            constant_columns: p
                .col_min
                .iter()
                .zip(&p.col_max)
                .filter(|(lo, hi)| lo == hi)
                .count(),
            zero_rows: p.zero_rows,
            row_norm_min: p.norm_min.sqrt(),
            row_norm_max: p.norm_max.sqrt(),
        }
    }

    /// Bytes held by the matrix (2 per value for float16 kept as such).
    pub fn size_bytes(&self) -> usize {
        match (&self.data, self.data.half()) {
            (_, Some(bits)) => std::mem::size_of_val(bits),
            (Storage::Owned(v), None) => std::mem::size_of_val(v.as_slice()),
            (Storage::Mapped(_), None) => self.n_items * self.dim * 4,
        }
    }
}

/// What `info` shows about the values.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureStats {
    pub min: f32,
    pub max: f32,
    pub mean: f64,
    pub std: f64,
    /// Columns with one value for every item: they carry no information for distances.
    pub constant_columns: usize,
    /// All-zero rows: undefined under the cosine metric.
    pub zero_rows: usize,
    pub row_norm_min: f64,
    pub row_norm_max: f64,
}

struct Partial {
    min: f32,
    max: f32,
    sum: f64,
    sum_sq: f64,
    col_min: Vec<f32>,
    col_max: Vec<f32>,
    zero_rows: usize,
    norm_min: f64,
    norm_max: f64,
}

impl Partial {
    fn new(dim: usize) -> Self {
        Self {
            min: f32::INFINITY,
            max: f32::NEG_INFINITY,
            sum: 0.0,
            sum_sq: 0.0,
            col_min: vec![f32::INFINITY; dim],
            col_max: vec![f32::NEG_INFINITY; dim],
            zero_rows: 0,
            norm_min: f64::INFINITY,
            norm_max: 0.0,
        }
    }

    fn add_row(&mut self, row: &[f32]) {
        for ((&v, lo), hi) in row.iter().zip(&mut self.col_min).zip(&mut self.col_max) {
            *lo = lo.min(v);
            *hi = hi.max(v);
        }
        let (row_sum, row_sq) = sum_and_squares(row);
        self.sum += row_sum;
        self.sum_sq += row_sq;
        if row_sq == 0.0 {
            self.zero_rows += 1;
        }
        self.norm_min = self.norm_min.min(row_sq);
        self.norm_max = self.norm_max.max(row_sq);
    }

    /// The overall extremes follow from the per-column ones.
    fn finish_extremes(&mut self) {
        self.min = self.col_min.iter().copied().fold(f32::INFINITY, f32::min);
        self.max = self
            .col_max
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
    }

    fn merge(mut self, other: Self) -> Self {
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
        for (a, b) in self.col_min.iter_mut().zip(&other.col_min) {
            *a = a.min(*b);
        }
        for (a, b) in self.col_max.iter_mut().zip(&other.col_max) {
            *a = a.max(*b);
        }
        self.zero_rows += other.zero_rows;
        self.norm_min = self.norm_min.min(other.norm_min);
        self.norm_max = self.norm_max.max(other.norm_max);
        self
    }
}

/// Sum and sum of squares of a row, in eight independent `f32` lanes so the loop vectorises
/// (a single running sum is a dependency chain the compiler must keep in order); the lanes
/// are combined in `f64`.
fn sum_and_squares(row: &[f32]) -> (f64, f64) {
    const LANES: usize = 8;
    let mut sum = [0f32; LANES];
    let mut sq = [0f32; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for i in 0..LANES {
            sum[i] += c[i];
            sq[i] += c[i] * c[i];
        }
    }
    let mut total = (0f64, 0f64);
    for i in 0..LANES {
        total.0 += f64::from(sum[i]);
        total.1 += f64::from(sq[i]);
    }
    for &v in tail {
        total.0 += f64::from(v);
        total.1 += f64::from(v) * f64::from(v);
    }
    total
}

/// Fail on the first NaN/Inf (in row order), reporting how many there are in all.
/// Every value finite (`finite` says so of one stored value, `widen` gives it as `f32` for the
/// message), or an error naming the first bad one and how many there are.
fn check_finite<T: Copy + Sync>(
    data: &[T],
    finite: impl Fn(T) -> bool + Sync,
    widen: impl Fn(T) -> f32,
    dim: usize,
    source_name: &str,
) -> Result<(), DatasetError> {
    const BLOCK: usize = 1 << 16;
    // A branch-free fold per block vectorises; only a block known to be bad is searched.
    let all_finite = |block: &[T]| block.iter().fold(true, |ok, &v| ok & finite(v));
    let Some(bad_block) = data.par_chunks(BLOCK).position_first(|b| !all_finite(b)) else {
        return Ok(());
    };
    let start = bad_block * BLOCK;
    let first = start
        + data[start..]
            .iter()
            .position(|&v| !finite(v))
            .unwrap_or_default();
    let count = data.par_iter().filter(|&&v| !finite(v)).count();
    Err(DatasetError::NonFinite {
        source_name: source_name.to_owned(),
        row: first / dim,
        col: first % dim,
        value: widen(data[first]),
        count,
    })
}

/// The feature file formats, chosen by extension (or by content where the extension says nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Npy,
    Npz,
    Delimited(u8),
}

fn detect_format(path: &Path) -> Result<Format, DatasetError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "npy" => return Ok(Format::Npy),
        "npz" => return Ok(Format::Npz),
        "csv" => return Ok(Format::Delimited(b',')),
        "tsv" | "tab" => return Ok(Format::Delimited(b'\t')),
        _ => {}
    }
    let io_err = |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    };
    if !path.exists() {
        return Err(io_err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file or folder",
        )));
    }
    let mut magic = [0u8; 6];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(io_err)?;
    match &magic[..n] {
        [0x93, b'N', b'U', b'M', b'P', b'Y'] => Ok(Format::Npy),
        [b'P', b'K', 3, 4, ..] => Ok(Format::Npz),
        _ => Err(DatasetError::Unsupported {
            path: path.to_owned(),
            reason: "unknown feature file type; expected .npy, .npz, .csv or .tsv".to_owned(),
        }),
    }
}

/// Read a feature matrix from `.npy`, `.npz` (array `npz_key`, or the only one) or CSV/TSV.
pub fn load_features(path: &Path, npz_key: Option<&str>) -> Result<Features, DatasetError> {
    let format = detect_format(path)?;
    if npz_key.is_some() && format != Format::Npz {
        return Err(DatasetError::Unsupported {
            path: path.to_owned(),
            reason: format!("{} applies to .npz archives only", crate::hint::NPZ_KEY),
        });
    }
    match format {
        Format::Npy => {
            if let Some(mapped) = npy::map_matrix_file(path)? {
                return Features::mapped(mapped, path);
            }
            let m = npy::read_matrix_file(path)?;
            Features::new(
                m.n_rows,
                m.n_cols,
                m.data,
                m.stored_dtype.numpy_name(),
                path,
                &path.display().to_string(),
            )
        }
        Format::Npz => load_npz(path, npz_key),
        Format::Delimited(delimiter) => load_delimited(path, delimiter),
    }
}

fn load_npz(path: &Path, npz_key: Option<&str>) -> Result<Features, DatasetError> {
    let file = File::open(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    let npz_err = |source| DatasetError::Npz {
        path: path.to_owned(),
        source,
    };
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(npz_err)?;
    let mut available: Vec<String> = archive
        .file_names()
        // A member whose name cannot be decoded cannot be asked for by name either.
        .filter_map(Result::ok)
        .filter_map(|n| n.strip_suffix(".npy").map(str::to_owned))
        .collect();
    available.sort();
    let chosen = match npz_key {
        Some(key) if available.iter().any(|a| a == key) => key.to_owned(),
        None if available.len() == 1 => available[0].clone(),
        _ => {
            return Err(DatasetError::NpzChoice {
                path: path.to_owned(),
                wanted: npz_key.map(str::to_owned),
                available,
            });
        }
    };
    let source = Source {
        path: path.to_owned(),
        member: Some(chosen.clone()),
    };
    let member = archive.by_name(&format!("{chosen}.npy")).map_err(npz_err)?;
    let declared = member.size();
    let mut reader = BufReader::with_capacity(1 << 20, member);
    let header = npy::read_header(&mut reader, &source)?;
    // The member's declared size bounds its data (a lie there ends as a truncation error).
    npy::check_data_fits(&header, declared, &source)?;
    let m = npy::read_matrix(&mut reader, &header, &source)?;
    Features::new(
        m.n_rows,
        m.n_cols,
        m.data,
        m.stored_dtype.numpy_name(),
        path,
        &source.to_string(),
    )
}

/// CSV/TSV of numbers, one row per item. A first row with any non-numeric field is a header;
/// lines starting with `#` are comments.
fn load_delimited(path: &Path, delimiter: u8) -> Result<Features, DatasetError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .comment(Some(b'#'))
        .trim(csv::Trim::All)
        .delimiter(delimiter)
        .from_path(path)
        .map_err(|e| csv_error(path, &e))?;
    let mut data = Vec::new();
    let mut dim: Option<usize> = None;
    let mut n_items = 0usize;
    let mut record = csv::StringRecord::new();
    let mut first = true;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(path, &e)),
        }
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() == 1 && record[0].is_empty() {
            continue; // a blank line
        }
        if first {
            first = false;
            if record.iter().any(|f| f.parse::<f32>().is_err()) {
                dim = Some(record.len()); // a header: it fixes the width, holds no data
                continue;
            }
        }
        let expected = *dim.get_or_insert(record.len());
        if record.len() != expected {
            return Err(DatasetError::Ragged {
                path: path.to_owned(),
                line,
                expected,
                found: record.len(),
            });
        }
        for (col, field) in record.iter().enumerate() {
            let v = field.parse::<f32>().map_err(|_| DatasetError::Csv {
                path: path.to_owned(),
                line,
                reason: if field.is_empty() {
                    format!("column {} is empty", col + 1)
                } else {
                    format!(
                        "column {} holds '{field}', not a number (text columns belong in {})",
                        col + 1,
                        crate::hint::METADATA
                    )
                },
            })?;
            data.push(v);
        }
        n_items += 1;
    }
    let dim = dim.unwrap_or(0);
    let dtype = "text";
    Features::new(n_items, dim, data, dtype, path, &path.display().to_string())
}

fn csv_error(path: &Path, e: &csv::Error) -> DatasetError {
    match e.kind() {
        csv::ErrorKind::Io(io) => DatasetError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(io.kind(), io.to_string()),
        },
        _ => DatasetError::Csv {
            path: path.to_owned(),
            line: e.position().map_or(0, csv::Position::line),
            reason: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_a_small_matrix() {
        let f =
            Features::new(3, 2, vec![0., 1., 0., 3., 0., 0.], "float32", "m", "m").expect("valid");
        let s = f.stats();
        assert_eq!((s.min, s.max), (0.0, 3.0));
        assert!((s.mean - 4.0 / 6.0).abs() < 1e-12);
        assert_eq!(s.constant_columns, 1);
        assert_eq!(s.zero_rows, 1);
        assert_eq!((s.row_norm_min, s.row_norm_max), (0.0, 3.0));
    }

    #[test]
    fn non_finite_found_past_the_first_block() {
        let dim = 100;
        let mut data = vec![0.5f32; 2_000 * dim];
        data[150_007] = f32::NEG_INFINITY;
        data[190_000] = f32::NAN;
        match check_finite(&data, f32::is_finite, |v| v, dim, "big") {
            Err(DatasetError::NonFinite {
                row, col, count, ..
            }) => {
                assert_eq!((row, col, count), (1500, 7, 2));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn lane_sums_match_a_plain_sum() {
        let row: Vec<f32> = (0..781).map(|i| (i % 13) as f32 - 4.0).collect();
        let (sum, sq) = sum_and_squares(&row);
        let plain: f64 = row.iter().map(|&v| f64::from(v)).sum();
        let plain_sq: f64 = row.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        assert_eq!((sum, sq), (plain, plain_sq));
    }

    #[test]
    fn non_finite_reports_first_and_count() {
        let err = Features::new(
            2,
            2,
            vec![1., f32::NAN, f32::INFINITY, 0.],
            "float32",
            "m",
            "m.npy",
        )
        .expect_err("nan");
        match err {
            DatasetError::NonFinite {
                row, col, count, ..
            } => {
                assert_eq!((row, col, count), (0, 1, 2));
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn float16_npy_is_mapped_and_stays_half() {
        let dir = tempfile::tempdir().expect("tmp");
        // 0.5 steps up to 5.5: exact in half precision.
        let values: Vec<f32> = (0..12).map(|v| v as f32 * 0.5).collect();
        let half = |v: f32| -> u16 {
            // Exact for these values: sign 0, exponent and 10 mantissa bits of v.
            if v == 0.0 {
                return 0;
            }
            let bits = v.to_bits();
            let exponent = ((bits >> 23) & 0xff) as u16 - 112;
            (exponent << 10) | ((bits >> 13) & 0x3ff) as u16
        };
        let bytes: Vec<u8> = values.iter().flat_map(|&v| half(v).to_le_bytes()).collect();
        let path = dir.path().join("h.npy");
        std::fs::write(&path, npy::tests::npy_bytes("<f2", false, "(4, 3)", &bytes))
            .expect("write");
        let f = load_features(&path, None).expect("load");
        assert!(f.is_mapped() && f.is_half());
        assert_eq!(f.stored_dtype(), "float16");
        assert_eq!(&*f.values(), &values[..]);
        assert_eq!(&*f.row(3), &values[9..12]);
        assert_eq!(f.size_bytes(), 12 * 2);
        assert_eq!(f.stats().max, 5.5);
        // The same values held as float32 compare equal.
        let owned = Features::new(4, 3, values.clone(), "float16", &path, "h").expect("new");
        assert_eq!(f, owned);
        // Big-endian halves are read and converted, to the same values.
        let be: Vec<u8> = values.iter().flat_map(|&v| half(v).to_be_bytes()).collect();
        let be_path = dir.path().join("be.npy");
        std::fs::write(&be_path, npy::tests::npy_bytes(">f2", false, "(4, 3)", &be))
            .expect("write");
        let read = load_features(&be_path, None).expect("load");
        assert!(!read.is_half());
        assert_eq!(&*read.values(), &values[..]);
        // A half infinity is named like a float32 NaN.
        let mut bad = bytes.clone();
        bad[2 * 7..2 * 8].copy_from_slice(&0x7c00u16.to_le_bytes());
        let bad_path = dir.path().join("bad.npy");
        std::fs::write(
            &bad_path,
            npy::tests::npy_bytes("<f2", false, "(4, 3)", &bad),
        )
        .expect("write");
        let err = load_features(&bad_path, None).expect_err("inf").to_string();
        assert!(err.contains("row 2") && err.contains("column 1"), "{err}");
    }

    #[test]
    fn float32_npy_is_mapped_other_layouts_are_read() {
        let dir = tempfile::tempdir().expect("tmp");
        let values: Vec<f32> = (0..12).map(|v| v as f32 * 0.5).collect();
        let f32_path = dir.path().join("x.npy");
        npy::write(&f32_path, &[4, 3], &values).expect("write");
        let mapped = load_features(&f32_path, None).expect("load");
        assert!(mapped.is_mapped());
        assert_eq!((mapped.n_items(), mapped.dim()), (4, 3));
        assert_eq!(&*mapped.values(), &values[..]);
        assert_eq!(&*mapped.row(2), &values[6..9]);
        assert_eq!(mapped.stored_dtype(), "float32");
        // A clone shares the map and compares equal to the same values held in memory.
        let owned = Features::new(4, 3, values.clone(), "float32", &f32_path, "x").expect("new");
        assert_eq!(mapped.clone(), owned);

        // float64 is converted, not mapped; its values are the same.
        let wide: Vec<u8> = values
            .iter()
            .flat_map(|&v| f64::from(v).to_le_bytes())
            .collect();
        let f64_path = dir.path().join("y.npy");
        std::fs::write(
            &f64_path,
            npy::tests::npy_bytes("<f8", false, "(4, 3)", &wide),
        )
        .expect("write");
        let read = load_features(&f64_path, None).expect("load");
        assert!(!read.is_mapped());
        assert_eq!(&*read.values(), &values[..]);

        // A mapped file is checked as a read one is: non-finite values and emptiness.
        let bad: Vec<f32> = vec![1.0, f32::NAN, 2.0, 3.0];
        let bad_path = dir.path().join("bad.npy");
        npy::write(&bad_path, &[2, 2], &bad).expect("write");
        let err = load_features(&bad_path, None).expect_err("nan");
        assert!(
            matches!(err, DatasetError::NonFinite { row: 0, col: 1, .. }),
            "{err}"
        );
        let empty_path = dir.path().join("empty.npy");
        npy::write(&empty_path, &[0, 3], &[] as &[f32]).expect("write");
        assert!(matches!(
            load_features(&empty_path, None),
            Err(DatasetError::Empty { .. })
        ));

        // A file cut short after its header is refused before anything is mapped or read.
        let bytes = std::fs::read(&f32_path).expect("read");
        let cut_path = dir.path().join("cut.npy");
        std::fs::write(&cut_path, &bytes[..bytes.len() - 8]).expect("write");
        let err = load_features(&cut_path, None).expect_err("truncated");
        assert!(err.to_string().contains("cut.npy"), "{err}");
    }
}
