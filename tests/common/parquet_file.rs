//! Small Parquet files written with the `parquet` crate's own writer, for the tests that read
//! them (the loader's and the CLI's).

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use arrow_schema::{DataType, Field};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

/// `columns` as one Parquet file, in row groups of three rows (so a reader crosses batches).
pub fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>, compression: Compression) {
    let batch = RecordBatch::try_from_iter(columns).expect("batch");
    let props = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(3))
        .build();
    let file = std::fs::File::create(path).expect("create");
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

/// One `fixed_size_list<float32>` vector per row.
pub fn fixed_f32(rows: &[Vec<f32>]) -> ArrayRef {
    let dim = rows.first().map_or(0, Vec::len);
    let values: Vec<f32> = rows.iter().flatten().copied().collect();
    Arc::new(
        FixedSizeListArray::try_new(
            Arc::new(Field::new("item", DataType::Float32, true)),
            i32::try_from(dim).expect("dim"),
            Arc::new(Float32Array::from(values)),
            None,
        )
        .expect("fixed list"),
    )
}
