//! Per-item metadata (a CSV with a header, one row per item) and class label files.
//!
//! Columns are typed once at load: numeric where every non-empty value parses as a number
//! (empty cells become NaN, "missing"), categorical otherwise. The viewer colours and searches
//! by them; nothing here knows about colours.

use std::collections::HashMap;
use std::path::Path;

use super::{Categorical, DatasetError};
use crate::npy;

/// Name shown for an empty cell of a categorical column.
pub const MISSING: &str = "(missing)";

#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValues {
    /// NaN marks a missing value.
    Numeric(Vec<f64>),
    Categorical(Categorical),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: ColumnValues,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    pub columns: Vec<Column>,
}

impl Metadata {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Read a metadata CSV/TSV (tab-separated when the extension is `.tsv`) with `n_items` rows.
pub fn load_metadata(path: &Path, n_items: usize) -> Result<Metadata, DatasetError> {
    let delimiter = if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"))
    {
        b'\t'
    } else {
        b','
    };
    let csv_err = |e: csv::Error| DatasetError::Csv {
        path: path.to_owned(),
        line: e.position().map_or(0, csv::Position::line),
        reason: e.to_string(),
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .delimiter(delimiter)
        .from_path(path)
        .map_err(|e| match e.kind() {
            csv::ErrorKind::Io(io) => DatasetError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(io.kind(), io.to_string()),
            },
            _ => csv_err(e),
        })?;
    let header: Vec<String> = reader
        .headers()
        .map_err(csv_err)?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(DatasetError::Empty {
            source_name: path.display().to_string(),
            what: "header row (metadata needs column names)",
        });
    }
    for (i, name) in header.iter().enumerate() {
        if header[..i].contains(name) {
            return Err(DatasetError::Csv {
                path: path.to_owned(),
                line: 1,
                reason: format!("column name '{name}' appears twice"),
            });
        }
    }
    let mut cells: Vec<Vec<String>> = vec![Vec::with_capacity(n_items); header.len()];
    for record in reader.records() {
        let record = record.map_err(csv_err)?;
        let line = record.position().map_or(0, csv::Position::line);
        if record.len() != header.len() {
            return Err(DatasetError::Ragged {
                path: path.to_owned(),
                line,
                expected: header.len(),
                found: record.len(),
            });
        }
        for (column, field) in cells.iter_mut().zip(record.iter()) {
            column.push(field.trim().to_owned());
        }
    }
    let n_rows = cells.first().map_or(0, Vec::len);
    if n_rows != n_items {
        return Err(DatasetError::ItemCount {
            path: path.to_owned(),
            what: "metadata rows",
            found: n_rows,
            expected: n_items,
        });
    }
    let columns = header
        .into_iter()
        .zip(cells)
        .map(|(name, values)| Column {
            name,
            values: type_column(&values),
        })
        .collect();
    Ok(Metadata { columns })
}

pub(crate) fn type_column(values: &[String]) -> ColumnValues {
    let numbers: Option<Vec<f64>> = values
        .iter()
        .map(|v| {
            if v.is_empty() {
                Some(f64::NAN)
            } else {
                v.parse::<f64>().ok().filter(|x| x.is_finite())
            }
        })
        .collect();
    match numbers {
        Some(n) if values.iter().any(|v| !v.is_empty()) => ColumnValues::Numeric(n),
        _ => {
            let named: Vec<&str> = values
                .iter()
                .map(|v| if v.is_empty() { MISSING } else { v.as_str() })
                .collect();
            ColumnValues::Categorical(Categorical::from_strings(&named))
        }
    }
}

/// Read one class label per item: a `.npy` of integers (names from `names[label]` when given),
/// or a text file with one label per line.
pub fn load_labels(
    path: &Path,
    n_items: usize,
    names: Option<&[String]>,
) -> Result<Categorical, DatasetError> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    let check_count = |found: usize| {
        if found == n_items {
            Ok(())
        } else {
            Err(DatasetError::ItemCount {
                path: path.to_owned(),
                what: "labels",
                found,
                expected: n_items,
            })
        }
    };
    let c = if is_npy {
        let (values, _) = npy::read_vector_file(path)?;
        check_count(values.len())?;
        npy_labels(&values, names).map_err(|row| DatasetError::BadValue {
            path: path.to_owned(),
            row,
            reason: format!(
                "label {} is not a whole number{}",
                values[row],
                names.map_or(String::new(), |n| format!(" in 0..{}", n.len()))
            ),
        })?
    } else {
        let labels: Vec<String> = super::read_lines(path)?
            .into_iter()
            .map(|l| match l.trim() {
                "" => MISSING.to_owned(),
                label => label.to_owned(),
            })
            .collect();
        check_count(labels.len())?;
        Categorical::from_strings(&labels)
    };
    // Named labels keep the order of the names list (class 0 first), not alphabetical order.
    Ok(match names {
        Some(names) => c.with_name_order(names),
        None => c,
    })
}

/// Numeric labels as classes: only the distinct values are turned into text (a million labels
/// formatted, hashed as strings and freed cost 0.7 s of every launch). `Err(row)`: the first
/// row whose value is not a label.
fn npy_labels(values: &[f64], names: Option<&[String]>) -> Result<Categorical, usize> {
    let mut first_row: HashMap<u64, usize> = HashMap::new();
    for (row, v) in values.iter().enumerate() {
        first_row.entry(v.to_bits()).or_insert(row);
    }
    let mut distinct: Vec<(u64, usize)> = first_row.into_iter().collect();
    // In row order, so the first bad value found is the first bad row.
    distinct.sort_unstable_by_key(|&(_, row)| row);
    let texts = distinct
        .iter()
        .map(|&(_, row)| label_text(values[row], names).ok_or(row))
        .collect::<Result<Vec<String>, usize>>()?;
    // Two values can read the same (0.0 and -0.0): the table merges them.
    let table = Categorical::from_strings(&texts);
    let code: HashMap<u64, u32> = distinct
        .iter()
        .zip(&table.codes)
        .map(|(&(bits, _), &c)| (bits, c))
        .collect();
    let codes = values
        .iter()
        .map(|v| code.get(&v.to_bits()).copied().unwrap_or(0))
        .collect();
    Ok(Categorical {
        names: table.names,
        codes,
    })
}

fn label_text(v: f64, names: Option<&[String]>) -> Option<String> {
    if v.fract() != 0.0 || !v.is_finite() {
        return None;
    }
    match names {
        Some(names) => {
            if v < 0.0 {
                return None;
            }
            names.get(v as usize).cloned()
        }
        // Integer formatting where the value is one exactly (every label an .npy of integers
        // holds below 2⁵³): float formatting cost seconds over ten million labels.
        None if v.abs() < 9.0e15 => Some((v as i64).to_string()),
        None => Some(format!("{v:.0}")),
    }
}

/// `v` as one CSV field: quoted (inner quotes doubled) when it holds a comma, quote or line
/// break, as written to the explorer's and `audit`'s CSV files.
pub fn csv_field(v: &str) -> std::borrow::Cow<'_, str> {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\"")).into()
    } else {
        v.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_labels_become_classes_by_their_distinct_values() {
        let c = npy_labels(&[2.0, 10.0, 2.0, 0.0, -0.0], None).expect("labels");
        assert_eq!(c.names, ["0", "2", "10"]);
        assert_eq!(c.codes, [1, 2, 1, 0, 0]);
        let names = ["cat".to_owned(), "dog".to_owned()];
        let c = npy_labels(&[1.0, 0.0, 1.0], Some(&names)).expect("named");
        assert_eq!(c.names, ["cat", "dog"]);
        assert_eq!(c.codes, [1, 0, 1]);
        // The first bad row, whichever value it holds.
        assert_eq!(npy_labels(&[1.0, 7.0, 2.5, 0.5], None).err(), Some(2));
        assert_eq!(npy_labels(&[1.0, 7.0, 2.5], Some(&names)).err(), Some(1));
        assert_eq!(npy_labels(&[0.0, f64::NAN], None).err(), Some(1));
    }

    #[test]
    fn columns_are_typed() {
        let values: Vec<String> = ["1.5", "", "3"].iter().map(|s| s.to_string()).collect();
        match type_column(&values) {
            ColumnValues::Numeric(v) => {
                assert_eq!(v[0], 1.5);
                assert!(v[1].is_nan());
            }
            other => panic!("{other:?}"),
        }
        let values: Vec<String> = ["a", "", "3"].iter().map(|s| s.to_string()).collect();
        match type_column(&values) {
            ColumnValues::Categorical(c) => assert_eq!(c.names, vec!["(missing)", "3", "a"]),
            other => panic!("{other:?}"),
        }
    }
}
