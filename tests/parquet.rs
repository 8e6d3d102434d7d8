//! Parquet input end to end, over small files each test writes with the `parquet` crate's own
//! writer: every vector column type, metadata and image columns, and every kind of bad input
//! (the file, the column and the row named). A file written by pyarrow is read when the
//! project's venv has pyarrow.

mod common;
#[path = "common/parquet_file.rs"]
mod parquet_file;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::types::Float32Type;
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, DictionaryArray, FixedSizeListArray, Float16Array,
    Float64Array, Int64Array, LargeListArray, ListArray, StringArray,
};
use arrow_schema::{DataType, Field};
use ivt::dataset::{self, ColumnValues, DataSource, Dataset, DatasetError, ImageOrder, Images};
use parquet::basic::{Compression, ZstdLevel};
use parquet_file::{fixed_f32, write_parquet};

fn list_f32(rows: Vec<Option<Vec<Option<f32>>>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float32Type, _, _>(rows))
}

/// Row i = [i, 2i, -i].
fn rows(n: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|i| vec![i as f32, 2.0 * i as f32, -(i as f32)])
        .collect()
}

fn spec(path: &Path) -> dataset::InputSpec {
    dataset::InputSpec::new(DataSource::Path(path.to_owned()))
}

fn load(path: &Path, vector_column: Option<&str>) -> Result<Dataset, DatasetError> {
    let mut s = spec(path);
    s.vector_column = vector_column.map(str::to_owned);
    dataset::load(&s)
}

fn message(e: &DatasetError) -> String {
    e.to_string()
}

#[test]
fn fixed_size_list_float32_reads_every_row_across_batches() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("emb.parquet");
    write_parquet(&p, vec![("emb", fixed_f32(&rows(7)))], Compression::SNAPPY);
    let data = load(&p, Some("emb")).expect("loads");
    assert_eq!((data.n_items(), data.features.dim()), (7, 3));
    let expected: Vec<f32> = rows(7).concat();
    assert_eq!(data.features.values().as_ref(), expected.as_slice());
    assert!(
        data.features
            .stored_dtype()
            .contains("fixed_size_list<float32>")
    );
    assert!(data.metadata.is_none());
    assert_eq!(data.images, Images::None);
    assert_eq!(data.name, "emb.parquet");
}

#[test]
fn list_and_large_list_of_floats_read_without_naming_the_column() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("list.parquet");
    let list = list_f32(
        rows(5)
            .into_iter()
            .map(|r| Some(r.into_iter().map(Some).collect()))
            .collect(),
    );
    write_parquet(
        &p,
        vec![("v", list)],
        Compression::ZSTD(ZstdLevel::default()),
    );
    let data = load(&p, None).expect("the only vector column is found");
    assert_eq!(data.features.values().as_ref(), rows(5).concat().as_slice());
    assert!(data.features.stored_dtype().contains("list<float32>"));

    let p = dir.path().join("large.parquet");
    let large = LargeListArray::from_iter_primitive::<arrow_array::types::Float64Type, _, _>(vec![
        Some(vec![Some(1.0), Some(2.0)]),
        Some(vec![Some(3.0), Some(4.0)]),
    ]);
    write_parquet(
        &p,
        vec![("v", Arc::new(large))],
        Compression::GZIP(Default::default()),
    );
    let data = load(&p, Some("v")).expect("large list loads");
    assert_eq!(data.features.values().as_ref(), &[1.0, 2.0, 3.0, 4.0]);
    assert!(data.features.stored_dtype().contains("large_list<float64>"));
}

#[test]
fn float16_vectors_are_widened() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("half.parquet");
    let values: Vec<half::f16> = [0.5f32, -1.0, 2.0, 1024.0]
        .iter()
        .map(|&v| half::f16::from_f32(v))
        .collect();
    let array = FixedSizeListArray::try_new(
        Arc::new(Field::new("item", DataType::Float16, true)),
        2,
        Arc::new(Float16Array::from(values)),
        None,
    )
    .expect("f16 list");
    write_parquet(&p, vec![("h", Arc::new(array))], Compression::SNAPPY);
    let data = load(&p, Some("h")).expect("loads");
    assert_eq!(data.features.values().as_ref(), &[0.5, -1.0, 2.0, 1024.0]);
    assert!(data.features.stored_dtype().contains("float16"));
}

#[test]
fn a_ragged_row_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("ragged.parquet");
    let mut r: Vec<Option<Vec<Option<f32>>>> = rows(6)
        .into_iter()
        .map(|r| Some(r.into_iter().map(Some).collect()))
        .collect();
    r[4] = Some(vec![Some(1.0), Some(2.0)]);
    write_parquet(&p, vec![("v", list_f32(r))], Compression::SNAPPY);
    let e = load(&p, Some("v")).expect_err("ragged");
    let m = message(&e);
    assert!(m.contains("ragged.parquet") && m.contains("'v'"), "{m}");
    assert!(m.contains("row 4") && m.contains("ragged"), "{m}");
}

#[test]
fn a_null_vector_or_element_is_named() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("null.parquet");
    let mut r: Vec<Option<Vec<Option<f32>>>> = rows(5)
        .into_iter()
        .map(|r| Some(r.into_iter().map(Some).collect()))
        .collect();
    r[3] = None;
    write_parquet(&p, vec![("v", list_f32(r.clone()))], Compression::SNAPPY);
    let m = message(&load(&p, None).expect_err("null vector"));
    assert!(m.contains("row 3") && m.contains("null"), "{m}");

    r[3] = Some(vec![Some(1.0), None, Some(3.0)]);
    write_parquet(&p, vec![("v", list_f32(r))], Compression::SNAPPY);
    let m = message(&load(&p, None).expect_err("null element"));
    assert!(m.contains("row 3") && m.contains("element 1"), "{m}");
}

#[test]
fn non_finite_values_follow_the_npy_rule() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("nan.parquet");
    let mut r = rows(4);
    r[2][1] = f32::NAN;
    write_parquet(&p, vec![("v", fixed_f32(&r))], Compression::SNAPPY);
    match load(&p, None).expect_err("NaN") {
        DatasetError::NonFinite { row, col, .. } => assert_eq!((row, col), (2, 1)),
        other => panic!("{other}"),
    }
}

#[test]
fn several_or_no_vector_columns_without_a_choice_are_errors_listing_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("two.parquet");
    write_parquet(
        &p,
        vec![("a", fixed_f32(&rows(3))), ("b", fixed_f32(&rows(3)))],
        Compression::SNAPPY,
    );
    let m = message(&load(&p, None).expect_err("two columns"));
    assert!(m.contains("a, b") && m.contains("--vector-column"), "{m}");
    let data = load(&p, Some("b")).expect("b chosen");
    assert_eq!(data.n_items(), 3);

    let p = dir.path().join("none.parquet");
    write_parquet(
        &p,
        vec![("id", Arc::new(Int64Array::from(vec![1, 2, 3])) as ArrayRef)],
        Compression::SNAPPY,
    );
    let m = message(&load(&p, None).expect_err("no vectors"));
    assert!(
        m.contains("no column holds vectors") && m.contains("id"),
        "{m}"
    );
    let m = message(&load(&p, Some("id")).expect_err("not vectors"));
    assert!(m.contains("'id'") && m.contains("Int64"), "{m}");
}

#[test]
fn a_column_that_does_not_exist_is_an_error_listing_the_columns() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("t.parquet");
    write_parquet(
        &p,
        vec![
            ("emb", fixed_f32(&rows(3))),
            (
                "label",
                Arc::new(StringArray::from(vec!["a", "b", "c"])) as ArrayRef,
            ),
        ],
        Compression::SNAPPY,
    );
    let m = message(&load(&p, Some("embedding")).expect_err("no such column"));
    assert!(
        m.contains("t.parquet") && m.contains("'embedding'") && m.contains("emb, label"),
        "{m}"
    );
    let mut s = spec(&p);
    s.image_column = Some("path".to_owned());
    let m = message(&dataset::load(&s).expect_err("no image column"));
    assert!(
        m.contains("--image-column") && m.contains("emb, label"),
        "{m}"
    );
    let mut s = spec(&p);
    s.npz_key = Some("x".to_owned());
    assert!(dataset::load(&s).is_err(), "--npz-key is refused");
}

#[test]
fn scalar_columns_become_metadata_as_a_csv_would() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("meta.parquet");
    let dict: DictionaryArray<arrow_array::types::Int32Type> =
        vec!["cat", "dog", "cat", "bird"].into_iter().collect();
    write_parquet(
        &p,
        vec![
            (
                "score",
                Arc::new(Float64Array::from(vec![
                    Some(0.5),
                    None,
                    Some(2.0),
                    Some(3.0),
                ])) as ArrayRef,
            ),
            // Between metadata columns: each column is found in the projected batch.
            ("emb", fixed_f32(&rows(4))),
            (
                "count",
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![
                    Some("x"),
                    None,
                    Some("z"),
                    Some("x"),
                ])) as ArrayRef,
            ),
            ("kind", Arc::new(dict) as ArrayRef),
            (
                "ok",
                Arc::new(BooleanArray::from(vec![true, false, true, true])) as ArrayRef,
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![19_723, 0, 1, 2])) as ArrayRef,
            ),
            (
                "digits",
                Arc::new(StringArray::from(vec!["1", "2", "3", "4"])) as ArrayRef,
            ),
        ],
        Compression::SNAPPY,
    );
    let data = load(&p, None).expect("loads");
    assert_eq!(data.features.values().as_ref(), rows(4).concat().as_slice());
    let meta = data.metadata.expect("metadata");
    let names: Vec<&str> = meta.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["score", "count", "name", "kind", "ok", "day", "digits"]
    );
    let col = |n: &str| &meta.column(n).expect("column").values;
    match col("score") {
        ColumnValues::Numeric(v) => {
            assert_eq!((v[0], v[2], v[3]), (0.5, 2.0, 3.0));
            assert!(v[1].is_nan(), "a null is missing");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        col("count"),
        &ColumnValues::Numeric(vec![1.0, 2.0, 3.0, 4.0])
    );
    let categorical = |n: &str| match col(n) {
        ColumnValues::Categorical(c) => (0..4)
            .map(|i| c.name_of(dataset::ItemId(i)).to_owned())
            .collect::<Vec<_>>(),
        other => panic!("{n}: {other:?}"),
    };
    assert_eq!(categorical("name"), ["x", dataset::MISSING, "z", "x"]);
    assert_eq!(categorical("kind"), ["cat", "dog", "cat", "bird"]);
    assert_eq!(categorical("ok"), ["true", "false", "true", "true"]);
    assert_eq!(categorical("day")[0], "2024-01-01");
    // Text of numbers types as a CSV column of numbers does.
    assert_eq!(
        col("digits"),
        &ColumnValues::Numeric(vec![1.0, 2.0, 3.0, 4.0])
    );
}

fn png(path: &Path) {
    image::GrayImage::from_pixel(6, 4, image::Luma([90]))
        .save(path)
        .expect("png");
}

#[test]
fn an_image_column_gives_the_images_relative_to_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(dir.path().join("imgs")).expect("mkdir");
    let names = ["imgs/b.png", "imgs/a.png", "imgs/c.png"];
    for n in &names {
        png(&dir.path().join(n));
    }
    let p = dir.path().join("with_images.parquet");
    write_parquet(
        &p,
        vec![
            ("emb", fixed_f32(&rows(3))),
            (
                "path",
                Arc::new(StringArray::from(names.to_vec())) as ArrayRef,
            ),
        ],
        Compression::SNAPPY,
    );
    let mut s = spec(&p);
    s.image_column = Some("path".to_owned());
    let data = dataset::load(&s).expect("loads");
    let Images::Files(files) = &data.images else {
        panic!("{:?}", data.images)
    };
    assert_eq!(files.order, ImageOrder::Column);
    assert_eq!(files.paths[0], dir.path().join("imgs/b.png"));
    assert_eq!(data.images.relative_path(1), Some(Path::new("imgs/a.png")));
    assert_eq!(files.sizes[2], Some((6, 4)));
    assert!(data.metadata.is_none(), "the image column is not metadata");
    let mut with_keys = s.clone();
    with_keys.sort_keys = Some(dir.path().join("keys.txt"));
    let m = message(&dataset::load(&with_keys).expect_err("keys without a folder"));
    assert!(m.contains("keys.txt") && m.contains("--images"), "{m}");

    // A missing image follows the folder rule: an error, or a placeholder when allowed.
    std::fs::remove_file(dir.path().join("imgs/a.png")).expect("rm");
    let e = dataset::load(&s).expect_err("missing image");
    assert!(matches!(e, DatasetError::ImageFailures { .. }), "{e}");
    assert!(e.to_string().contains("a.png"), "{e}");
    s.allow_missing_images = true;
    let data = dataset::load(&s).expect("kept with a placeholder");
    let Images::Files(files) = &data.images else {
        panic!("{:?}", data.images)
    };
    assert_eq!(files.failures.len(), 1);
    assert_eq!(files.sizes[1], None);
}

#[test]
fn the_parquet_flags_are_refused_for_other_formats() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("f.npy");
    ivt::npy::write(&p, &[2, 2], &[1.0, 2.0, 3.0, 4.0]).expect("npy");
    let mut s = spec(&p);
    s.vector_column = Some("emb".to_owned());
    let m = message(&dataset::load(&s).expect_err("not parquet"));
    assert!(
        m.contains("--vector-column") && m.contains("Parquet"),
        "{m}"
    );
}

#[test]
fn the_cache_key_follows_the_file_contents() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("k.parquet");
    let key = |data: &Dataset| {
        ivt::cache::CacheKey::new("knn", &data.features.values(), data.features.dim(), "k=3")
    };
    write_parquet(&p, vec![("emb", fixed_f32(&rows(4)))], Compression::SNAPPY);
    let before = key(&load(&p, None).expect("loads"));
    let mut changed = rows(4);
    changed[3][0] = 0.25;
    write_parquet(&p, vec![("emb", fixed_f32(&changed))], Compression::SNAPPY);
    let after = key(&load(&p, None).expect("loads"));
    assert_ne!(before, after, "a changed file is a new key");
}

fn project_python() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let python = Path::new(&home).join(".cache/ivt-explore/venv/bin/python");
    python.is_file().then_some(python)
}

#[test]
fn a_file_written_by_pyarrow_reads() {
    let Some(python) = project_python().filter(|py| {
        std::process::Command::new(py)
            .args(["-c", "import pyarrow"])
            .output()
            .is_ok_and(|o| o.status.success())
    }) else {
        common::skip(
            "pyarrow is not importable in ~/.cache/ivt-explore/venv",
            None,
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("py.parquet");
    let script = format!(
        "import pyarrow as pa, pyarrow.parquet as pq\n\
         emb = pa.FixedSizeListArray.from_arrays(pa.array([float(i) for i in range(12)], pa.float32()), 3)\n\
         t = pa.table({{'emb': emb, 'label': pa.array(['a', 'b', 'a', 'c']).dictionary_encode(), 'n': [1, 2, 3, 4]}})\n\
         pq.write_table(t, {:?})\n",
        p.display().to_string()
    );
    let out = std::process::Command::new(python)
        .args(["-c", &script])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = load(&p, Some("emb")).expect("pyarrow's file loads");
    assert_eq!(data.n_items(), 4);
    assert_eq!(data.features.row(3).as_ref(), &[9.0, 10.0, 11.0]);
    let meta = data.metadata.expect("metadata");
    assert!(matches!(
        meta.column("label").expect("label").values,
        ColumnValues::Categorical(_)
    ));
    assert_eq!(
        meta.column("n").expect("n").values,
        ColumnValues::Numeric(vec![1.0, 2.0, 3.0, 4.0])
    );
}
