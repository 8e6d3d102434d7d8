//! Parquet input: where embeddings are usually kept (Hugging Face data sets, LanceDB and pandas
//! exports). One column holds a vector per row — `fixed_size_list`, `list` or `large_list` of
//! float16/32/64 —, an optional column the image paths, and every other scalar column becomes
//! metadata, typed as a metadata CSV's column would be.
//!
//! The file is read a record batch at a time and the vectors are appended into one buffer
//! sized once from the row count in the file's footer: a 10⁶ × 512 file is never held twice
//! (no batch is kept after its values are copied). Values are checked as an `.npy` file's are
//! ([`Features::new`]: a NaN or infinity is an error naming its row and column); a missing
//! vector, a missing element or a row whose length differs from the first is an error naming
//! the file, the column and the row.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use ::parquet::arrow::ProjectionMask;
use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type,
    UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, ArrowPrimitiveType, OffsetSizeTrait};
use arrow_schema::{DataType, Schema, TimeUnit};
use thiserror::Error;

use super::metadata::{Column, ColumnValues, Metadata, type_column};
use super::{DatasetError, Features};

/// Rows decoded per record batch: 1,024 rows of 512 float32 are 2 MB in flight. 8,192 rows
/// (16 MB batches, above the allocator's reuse) spent a third of the load zeroing fresh pages:
/// 10⁶ × 512 loaded in 8.7 s and peaked 90 MB above the matrix, against 5.3 s and 13 MB.
const BATCH_ROWS: usize = 1024;

/// One problem of a Parquet file, each naming the file.
#[derive(Debug, Error)]
pub enum ParquetError {
    #[error("{path} is not a readable Parquet file")]
    Format {
        path: PathBuf,
        #[source]
        source: ::parquet::errors::ParquetError,
    },
    #[error("{path}: cannot decode its rows")]
    Decode {
        path: PathBuf,
        #[source]
        source: arrow_schema::ArrowError,
    },
    #[error("{path}: no column named '{wanted}' (for --{flag}); its columns: {}", .available.join(", "))]
    NoColumn {
        path: PathBuf,
        flag: &'static str,
        wanted: String,
        available: Vec<String>,
    },
    #[error(
        "{path}: column '{column}' holds {found}, not vectors (a fixed_size_list, list or large_list of float16, float32 or float64)"
    )]
    NotVectors {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}: column '{column}' holds {found}, not image paths (text)")]
    NotPaths {
        path: PathBuf,
        column: String,
        found: String,
    },
    #[error("{path}: {}", vector_choice_text(.candidates, .columns))]
    VectorChoice {
        path: PathBuf,
        /// The columns that hold vectors of floats (none, or several).
        candidates: Vec<String>,
        columns: Vec<String>,
    },
    #[error("{path}, column '{column}', row {row} (0-based): {reason}")]
    BadRow {
        path: PathBuf,
        column: String,
        row: usize,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Shape { path: PathBuf, reason: String },
}

fn vector_choice_text(candidates: &[String], columns: &[String]) -> String {
    if candidates.is_empty() {
        format!(
            "no column holds vectors of floats (a fixed_size_list, list or large_list of float16, float32 or float64); its columns: {}",
            columns.join(", ")
        )
    } else {
        format!(
            "several columns hold vectors of floats ({}); choose one with {}",
            candidates.join(", "),
            crate::hint::VECTOR_COLUMN
        )
    }
}

/// Whether `path` is a Parquet file: by its extension, or by the `PAR1` magic at its start.
pub fn is_parquet(path: &Path) -> bool {
    let by_name = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
    by_name
        || (path.is_file()
            && File::open(path)
                .and_then(|mut f| {
                    let mut magic = [0u8; 4];
                    f.read_exact(&mut magic).map(|()| magic)
                })
                .is_ok_and(|m| &m == b"PAR1"))
}

/// What was read from a Parquet file.
#[derive(Debug)]
pub struct Table {
    pub features: Features,
    /// Every scalar column but the image column, in the file's order; `None` when there is none.
    pub metadata: Option<Metadata>,
    /// One image path per row, relative ones resolved against the file's folder.
    pub image_paths: Option<Vec<PathBuf>>,
    /// The folder relative image paths were resolved against (`.` for a bare file name).
    pub folder: PathBuf,
}

/// The columns of `path` that hold vectors of floats (what `--vector-column` may name), read
/// from the footer alone.
pub fn vector_columns(path: &Path) -> Result<Vec<String>, ParquetError> {
    let builder = open(path)?;
    Ok(builder
        .schema()
        .fields()
        .iter()
        .filter(|f| vector_kind(f.data_type()).is_some())
        .map(|f| f.name().clone())
        .collect())
}

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, ParquetError> {
    let format = |source| ParquetError::Format {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(|e| format(e.into()))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(format)
}

/// How a column holds its vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListKind {
    Fixed(usize),
    List,
    LargeList,
}

/// The list kind and element type of a vector column; `None` for any other type.
fn vector_kind(data_type: &DataType) -> Option<(ListKind, &DataType)> {
    let (kind, field) = match data_type {
        DataType::FixedSizeList(f, n) => (ListKind::Fixed(usize::try_from(*n).ok()?), f),
        DataType::List(f) => (ListKind::List, f),
        DataType::LargeList(f) => (ListKind::LargeList, f),
        _ => return None,
    };
    let element = field.data_type();
    matches!(
        element,
        DataType::Float16 | DataType::Float32 | DataType::Float64
    )
    .then_some((kind, element))
}

/// How a metadata column is kept while it is read: as numbers, or as text typed at the end as
/// a CSV column is.
enum Cells {
    Numbers(Vec<f64>),
    Texts(Vec<String>),
}

fn cells_for(data_type: &DataType, n_rows: usize) -> Option<Cells> {
    use DataType as D;
    match data_type {
        D::Int8
        | D::Int16
        | D::Int32
        | D::Int64
        | D::UInt8
        | D::UInt16
        | D::UInt32
        | D::UInt64
        | D::Float16
        | D::Float32
        | D::Float64 => Some(Cells::Numbers(Vec::with_capacity(n_rows))),
        D::Dictionary(_, values) => {
            cells_for(values, 0).map(|_| Cells::Texts(Vec::with_capacity(n_rows)))
        }
        d if is_text(d) => Some(Cells::Texts(Vec::with_capacity(n_rows))),
        _ => None,
    }
}

/// Types whose values are written out as text (image paths may be any of these).
fn is_text(data_type: &DataType) -> bool {
    use DataType as D;
    match data_type {
        D::Utf8 | D::LargeUtf8 | D::Utf8View | D::Boolean | D::Date32 | D::Date64 => true,
        D::Timestamp(..) => true,
        D::Dictionary(_, values) => is_text(values) || cells_for(values, 0).is_some(),
        _ => false,
    }
}

/// Read the file at `path`: the vectors of `vector_column` (or of the only column holding
/// vectors), the image paths of `image_column`, every other scalar column as metadata.
pub fn read(
    path: &Path,
    vector_column: Option<&str>,
    image_column: Option<&str>,
) -> Result<Table, DatasetError> {
    let builder = open(path)?;
    let n_rows = usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
    let schema: Schema = builder.schema().as_ref().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let vector_index = vector_column_index(path, &schema, &names, vector_column)?;
    let vector_type = schema.field(vector_index).data_type();
    let Some((kind, element)) = vector_kind(vector_type) else {
        return Err(ParquetError::NotVectors {
            path: path.to_owned(),
            column: names[vector_index].clone(),
            found: vector_type.to_string(),
        }
        .into());
    };
    let image_index = image_column
        .map(|name| column_index(path, &names, "image-column", name))
        .transpose()?;
    if let Some(i) = image_index {
        let t = schema.field(i).data_type();
        if !is_text(t) || i == vector_index {
            return Err(ParquetError::NotPaths {
                path: path.to_owned(),
                column: names[i].clone(),
                found: t.to_string(),
            }
            .into());
        }
    }
    let mut meta: Vec<(usize, Cells)> = (0..names.len())
        .filter(|&i| i != vector_index && Some(i) != image_index)
        .filter_map(|i| cells_for(schema.field(i).data_type(), n_rows).map(|c| (i, c)))
        .collect();

    // Projected columns come in the file's order: each wanted column's place among them.
    let mut wanted: Vec<usize> = meta.iter().map(|(i, _)| *i).collect();
    wanted.push(vector_index);
    wanted.extend(image_index);
    wanted.sort_unstable();
    let place = |i: usize| wanted.iter().position(|&w| w == i).unwrap_or_default();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|source| ParquetError::Format {
            path: path.to_owned(),
            source,
        })?;

    let mut vectors = Vectors {
        path,
        column: &names[vector_index],
        kind,
        values: Vec::new(),
        dim: None,
        n_rows,
    };
    let mut images: Vec<PathBuf> = Vec::new();
    let mut row0 = 0usize;
    for batch in reader {
        let batch = batch.map_err(|source| ParquetError::Decode {
            path: path.to_owned(),
            source,
        })?;
        vectors.append(batch.column(place(vector_index)), row0)?;
        if let Some(i) = image_index {
            append_paths(path, &names[i], batch.column(place(i)), row0, &mut images)?;
        }
        for (i, cells) in &mut meta {
            append_cells(batch.column(place(*i)), cells);
        }
        row0 += batch.num_rows();
    }
    if row0 != n_rows {
        return Err(ParquetError::Shape {
            path: path.to_owned(),
            reason: format!("the footer says {n_rows} rows but {row0} were read"),
        }
        .into());
    }
    let dim = vectors.dim.unwrap_or(0);
    let kind_text = match kind {
        ListKind::Fixed(_) => "fixed_size_list",
        ListKind::List => "list",
        ListKind::LargeList => "large_list",
    };
    let features = Features::new(
        n_rows,
        dim,
        vectors.values,
        format!(
            "column '{}': {kind_text}<{}>",
            names[vector_index],
            element_name(element)
        ),
        path,
        &path.display().to_string(),
    )?;
    let columns: Vec<Column> = meta
        .into_iter()
        .map(|(i, cells)| Column {
            name: names[i].clone(),
            values: match cells {
                Cells::Numbers(v) => ColumnValues::Numeric(v),
                Cells::Texts(v) => type_column(&v),
            },
        })
        .collect();
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let image_paths = image_index.map(|_| images.into_iter().map(|p| folder.join(p)).collect());
    Ok(Table {
        features,
        metadata: (!columns.is_empty()).then_some(Metadata { columns }),
        image_paths,
        folder,
    })
}

/// The column named `wanted` (for `--flag`), or an error listing the columns.
fn column_index(
    path: &Path,
    names: &[String],
    flag: &'static str,
    wanted: &str,
) -> Result<usize, ParquetError> {
    names
        .iter()
        .position(|n| n == wanted)
        .ok_or_else(|| ParquetError::NoColumn {
            path: path.to_owned(),
            flag,
            wanted: wanted.to_owned(),
            available: names.to_vec(),
        })
}

/// The vector column: the one named, or the only column holding vectors (an error listing
/// the candidates when there are several or none).
fn vector_column_index(
    path: &Path,
    schema: &Schema,
    names: &[String],
    vector_column: Option<&str>,
) -> Result<usize, ParquetError> {
    if let Some(name) = vector_column {
        return column_index(path, names, "vector-column", name);
    }
    let candidates: Vec<usize> = (0..names.len())
        .filter(|&i| vector_kind(schema.field(i).data_type()).is_some())
        .collect();
    match candidates.as_slice() {
        [only] => Ok(*only),
        _ => Err(ParquetError::VectorChoice {
            path: path.to_owned(),
            candidates: candidates.iter().map(|&i| names[i].clone()).collect(),
            columns: names.to_vec(),
        }),
    }
}

fn element_name(element: &DataType) -> &'static str {
    match element {
        DataType::Float16 => "float16",
        DataType::Float64 => "float64",
        _ => "float32",
    }
}

/// The vector column's values as they arrive, batch after batch, in one buffer.
struct Vectors<'a> {
    path: &'a Path,
    column: &'a str,
    kind: ListKind,
    values: Vec<f32>,
    /// The length of every vector: the fixed size, or the first row's length.
    dim: Option<usize>,
    n_rows: usize,
}

impl Vectors<'_> {
    fn bad_row(&self, row: usize, reason: String) -> DatasetError {
        ParquetError::BadRow {
            path: self.path.to_owned(),
            column: self.column.to_owned(),
            row,
            reason,
        }
        .into()
    }

    /// Append one batch's vectors (rows `row0..`): every row present, `dim` long, every
    /// element present.
    fn append(&mut self, array: &ArrayRef, row0: usize) -> Result<(), DatasetError> {
        if let Some(first_null) = (0..array.len()).find(|&i| array.is_null(i)) {
            return Err(self.bad_row(row0 + first_null, "no vector (null)".to_owned()));
        }
        // Each row's start in the list's values, and one past the last row's end.
        let (starts, end, child): (Vec<usize>, usize, &ArrayRef) = match self.kind {
            ListKind::Fixed(n) => {
                let a = array.as_fixed_size_list();
                let first = a.value_offset_at(0);
                let starts = (0..a.len()).map(|i| first + i * n).collect();
                (starts, first + a.len() * n, a.values())
            }
            ListKind::List => list_starts(array.as_list::<i32>()),
            ListKind::LargeList => list_starts(array.as_list::<i64>()),
        };
        let mut ends = starts.iter().skip(1).copied().chain([end]);
        for (i, &start) in starts.iter().enumerate() {
            let len = ends.next().unwrap_or(start) - start;
            match self.dim {
                None => self.dim = Some(len),
                Some(dim) if dim != len => {
                    return Err(self.bad_row(
                        row0 + i,
                        format!(
                            "a vector of {len} values, but the first row has {dim} (ragged rows)"
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        let dim = self.dim.unwrap_or(0);
        if self.values.capacity() == 0 {
            // Sized once from the footer's row count: the buffer never moves while it fills.
            let total = self.n_rows.saturating_mul(dim);
            self.values
                .try_reserve_exact(total)
                .map_err(|_| ParquetError::Shape {
                    path: self.path.to_owned(),
                    reason: format!("{} rows × {dim} values do not fit in memory", self.n_rows),
                })?;
        }
        let Some(&start) = starts.first() else {
            return Ok(());
        };
        let range = start..end;
        // Counted once per batch (pyarrow's elements are nullable, so a buffer is usually
        // there); searched bit by bit only when it holds a null.
        if let Some(nulls) = child.nulls()
            && nulls.null_count() > 0
            && let Some(at) = range.clone().find(|&j| nulls.is_null(j))
        {
            let row = starts.partition_point(|&s| s <= at) - 1;
            return Err(self.bad_row(
                row0 + row,
                format!(
                    "element {} of the vector is missing (null)",
                    at - starts[row]
                ),
            ));
        }
        let slice = child.slice(range.start, range.len());
        match slice.data_type() {
            DataType::Float32 => self
                .values
                .extend_from_slice(slice.as_primitive::<Float32Type>().values()),
            DataType::Float16 => self.values.extend(
                slice
                    .as_primitive::<Float16Type>()
                    .values()
                    .iter()
                    .map(|h| h.to_f32()),
            ),
            _ => self.values.extend(
                slice
                    .as_primitive::<Float64Type>()
                    .values()
                    .iter()
                    .map(|&v| v as f32),
            ),
        }
        Ok(())
    }
}

fn list_starts<O: OffsetSizeTrait>(
    a: &arrow_array::GenericListArray<O>,
) -> (Vec<usize>, usize, &ArrayRef) {
    let offsets = a.value_offsets();
    let starts = offsets[..offsets.len() - 1]
        .iter()
        .map(|o| o.as_usize())
        .collect();
    let end = offsets.last().map_or(0, |o| o.as_usize());
    (starts, end, a.values())
}

/// One path per row; a missing one is an error naming the row.
fn append_paths(
    path: &Path,
    column: &str,
    array: &ArrayRef,
    row0: usize,
    out: &mut Vec<PathBuf>,
) -> Result<(), DatasetError> {
    if let Some(row) = (0..array.len()).find(|&i| array.is_null(i)) {
        return Err(ParquetError::BadRow {
            path: path.to_owned(),
            column: column.to_owned(),
            row: row0 + row,
            reason: "no image path (null)".to_owned(),
        }
        .into());
    }
    let mut texts = Vec::with_capacity(array.len());
    push_texts(array, &mut texts);
    out.extend(texts.into_iter().map(PathBuf::from));
    Ok(())
}

/// Append one batch of a metadata column: a missing number is NaN, a missing text empty (as an
/// empty CSV cell, shown as "(missing)").
fn append_cells(array: &ArrayRef, cells: &mut Cells) {
    match cells {
        Cells::Numbers(out) => push_numbers(array, out),
        Cells::Texts(out) => push_texts(array, out),
    }
}

fn push_numbers(array: &ArrayRef, out: &mut Vec<f64>) {
    fn push<T: ArrowPrimitiveType>(
        a: &dyn Array,
        out: &mut Vec<f64>,
        f: impl Fn(T::Native) -> f64,
    ) {
        out.extend(
            a.as_primitive::<T>()
                .iter()
                .map(|v| v.map(&f).filter(|x| x.is_finite()).unwrap_or(f64::NAN)),
        );
    }
    let a = array.as_ref();
    match a.data_type() {
        DataType::Int8 => push::<Int8Type>(a, out, f64::from),
        DataType::Int16 => push::<Int16Type>(a, out, f64::from),
        DataType::Int32 => push::<Int32Type>(a, out, f64::from),
        DataType::Int64 => push::<Int64Type>(a, out, |v| v as f64),
        DataType::UInt8 => push::<UInt8Type>(a, out, f64::from),
        DataType::UInt16 => push::<UInt16Type>(a, out, f64::from),
        DataType::UInt32 => push::<UInt32Type>(a, out, f64::from),
        DataType::UInt64 => push::<UInt64Type>(a, out, |v| v as f64),
        DataType::Float16 => push::<Float16Type>(a, out, |v| f64::from(v.to_f32())),
        DataType::Float32 => push::<Float32Type>(a, out, f64::from),
        DataType::Float64 => push::<Float64Type>(a, out, |v| v),
        // Only the types `cells_for` keeps as numbers reach here.
        _ => out.extend(std::iter::repeat_n(f64::NAN, a.len())),
    }
}

/// Every value of a text-like column as text; a null is empty.
fn push_texts(array: &ArrayRef, out: &mut Vec<String>) {
    fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>, out: &mut Vec<String>) {
        out.extend(values.map(|v| v.unwrap_or_default().to_owned()));
    }
    let a = array.as_ref();
    match a.data_type() {
        DataType::Utf8 => strings(a.as_string::<i32>().iter(), out),
        DataType::LargeUtf8 => strings(a.as_string::<i64>().iter(), out),
        DataType::Utf8View => strings(a.as_string_view().iter(), out),
        DataType::Boolean => out.extend(a.as_boolean().iter().map(|v| match v {
            Some(true) => "true".to_owned(),
            Some(false) => "false".to_owned(),
            None => String::new(),
        })),
        DataType::Date32 => out.extend(
            a.as_primitive::<arrow_array::types::Date32Type>()
                .iter()
                .map(|d| d.map_or_else(String::new, |d| date_text(i64::from(d)))),
        ),
        DataType::Date64 => out.extend(
            a.as_primitive::<arrow_array::types::Date64Type>()
                .iter()
                .map(|ms| ms.map_or_else(String::new, |ms| date_text(ms.div_euclid(86_400_000)))),
        ),
        DataType::Timestamp(unit, _) => {
            use arrow_array::types::{
                TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
                TimestampSecondType,
            };
            match unit {
                TimeUnit::Second => push_timestamps::<TimestampSecondType>(a, 1, out),
                TimeUnit::Millisecond => push_timestamps::<TimestampMillisecondType>(a, 1_000, out),
                TimeUnit::Microsecond => {
                    push_timestamps::<TimestampMicrosecondType>(a, 1_000_000, out);
                }
                TimeUnit::Nanosecond => {
                    push_timestamps::<TimestampNanosecondType>(a, 1_000_000_000, out);
                }
            }
        }
        DataType::Dictionary(..) => match a.as_any_dictionary_opt() {
            Some(dict) => {
                let mut names = Vec::with_capacity(dict.values().len());
                push_texts(dict.values(), &mut names);
                let keys = dict.normalized_keys();
                out.extend(keys.iter().enumerate().map(|(i, &k)| {
                    if a.is_null(i) {
                        String::new()
                    } else {
                        names.get(k).cloned().unwrap_or_default()
                    }
                }));
            }
            None => out.extend(std::iter::repeat_n(String::new(), a.len())),
        },
        d if matches!(cells_for(d, 0), Some(Cells::Numbers(_))) => {
            // Numbers as text: the values of a dictionary-encoded numeric column.
            let mut numbers = Vec::with_capacity(a.len());
            push_numbers(array, &mut numbers);
            out.extend(numbers.iter().map(|x| {
                if x.is_nan() {
                    String::new()
                } else {
                    x.to_string()
                }
            }));
        }
        _ => out.extend(std::iter::repeat_n(String::new(), a.len())),
    }
}

fn push_timestamps<T: ArrowPrimitiveType<Native = i64>>(
    a: &dyn Array,
    ticks_per_second: i64,
    out: &mut Vec<String>,
) {
    out.extend(a.as_primitive::<T>().iter().map(|t| {
        t.map_or_else(String::new, |t| {
            timestamp_text(t.div_euclid(ticks_per_second))
        })
    }));
}

/// `YYYY-MM-DD` of a day count since 1970-01-01.
fn date_text(days: i64) -> String {
    let (year, month, day) = crate::cache::entries::civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DD HH:MM:SS` of seconds since the epoch (UTC; a time zone is not applied).
fn timestamp_text(seconds: i64) -> String {
    let secs = seconds.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02}:{:02}",
        date_text(seconds.div_euclid(86_400)),
        secs / 3_600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_calendar_days() {
        assert_eq!(date_text(0), "1970-01-01");
        assert_eq!(date_text(19_723), "2024-01-01");
        assert_eq!(date_text(-1), "1969-12-31");
        assert_eq!(date_text(11_016), "2000-02-29");
        assert_eq!(timestamp_text(1_704_067_200 + 3_661), "2024-01-01 01:01:01");
    }

    #[test]
    fn only_lists_of_floats_are_vectors() {
        use arrow_schema::Field;
        use std::sync::Arc;
        let f32_item = Arc::new(Field::new("item", DataType::Float32, true));
        let i32_item = Arc::new(Field::new("item", DataType::Int32, true));
        assert_eq!(
            vector_kind(&DataType::FixedSizeList(f32_item.clone(), 4)).map(|k| k.0),
            Some(ListKind::Fixed(4))
        );
        assert_eq!(
            vector_kind(&DataType::LargeList(f32_item)).map(|k| k.0),
            Some(ListKind::LargeList)
        );
        assert!(vector_kind(&DataType::List(i32_item)).is_none());
        assert!(vector_kind(&DataType::Float32).is_none());
    }
}
