//! Reading a projector log folder: which embeddings it holds, and one of them as features,
//! metadata, classes and per-point images cut from the sprite sheet — by TensorBoard's rules.

use std::path::{Path, PathBuf};

use super::{CONFIG_FILE, Config, Embedding, ProjectorError, Sprite};
use crate::dataset::{Categorical, Column, Features, Images, Metadata};

/// One embedding of a log folder, loaded.
#[derive(Debug, Clone)]
pub struct ProjectorData {
    /// The embedding's tensor name.
    pub name: String,
    pub features: Features,
    pub metadata: Option<Metadata>,
    /// From a single-column metadata file, or its `label`/`class` column.
    pub classes: Option<Categorical>,
    pub images: Images,
}

/// The embeddings `root` holds, with tensor, metadata and sprite paths relative to `root`.
pub fn embeddings(root: &Path) -> Result<Vec<Embedding>, ProjectorError> {
    let config_path = root.join(CONFIG_FILE);
    if config_path.is_file() {
        let config = Config::read(&config_path)?;
        return Ok(config.embeddings);
    }
    if root.join("tensors.tsv").is_file() {
        return Ok(vec![folder_embedding(
            root,
            Path::new(""),
            &display_name(root),
        )]);
    }
    Ok(tensorboardx_embeddings(root))
}

/// tensorboardX's `add_embedding` layout without a config: `<step>/<tag>/tensors.tsv`, named
/// `tag:step` as tensorboardX names them in the config it writes.
pub fn tensorboardx_embeddings(root: &Path) -> Vec<Embedding> {
    let mut found = Vec::new();
    for step in sorted_dirs(root) {
        for tag in sorted_dirs(&root.join(&step)) {
            let rel = Path::new(&step).join(&tag);
            if root.join(&rel).join("tensors.tsv").is_file() {
                found.push(folder_embedding(root, &rel, &format!("{tag}:{step}")));
            }
        }
    }
    found
}

fn sorted_dirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The embedding of a folder holding `tensors.tsv` and perhaps `metadata.tsv`, `sprite.png`.
fn folder_embedding(root: &Path, rel: &Path, name: &str) -> Embedding {
    let path_of = |file: &str| rel.join(file).to_string_lossy().into_owned();
    let exists = |file: &str| root.join(rel).join(file).is_file();
    Embedding {
        tensor_name: name.to_owned(),
        tensor_path: Some(path_of("tensors.tsv")),
        metadata_path: exists("metadata.tsv").then(|| path_of("metadata.tsv")),
        sprite: exists("sprite.png").then(|| Sprite {
            image_path: path_of("sprite.png"),
            single_image_dim: Vec::new(),
        }),
        ..Embedding::default()
    }
}

fn display_name(path: &Path) -> String {
    path.canonicalize()
        .ok()
        .as_deref()
        .unwrap_or(path)
        .file_name()
        .map_or_else(
            || "embedding".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        )
}

/// Load embedding `wanted` (default: the first with a tensor file) of the log folder `root`.
pub fn load(root: &Path, wanted: Option<&str>) -> Result<ProjectorData, ProjectorError> {
    let all = embeddings(root)?;
    let config_path = root.join(CONFIG_FILE);
    let with_tensor: Vec<&Embedding> = all.iter().filter(|e| e.tensor_path.is_some()).collect();
    let chosen = match wanted {
        Some(name) => with_tensor.iter().find(|e| e.tensor_name == name),
        None => with_tensor.first(),
    };
    let Some(embedding) = chosen else {
        if let Some(name) = wanted
            && all.iter().any(|e| e.tensor_name == name)
        {
            return Err(ProjectorError::Config {
                path: config_path,
                reason: format!(
                    "embedding {name:?} has no tensor_path: its values are in a TensorFlow checkpoint, \
                     which ivt-explore does not read (save the tensor as TSV and name it in tensor_path)"
                ),
            });
        }
        return Err(ProjectorError::Choice {
            path: if config_path.is_file() {
                config_path
            } else {
                root.to_owned()
            },
            wanted: wanted.map(str::to_owned),
            available: with_tensor.iter().map(|e| e.tensor_name.clone()).collect(),
        });
    };
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_owned()
        } else {
            root.join(p)
        }
    };
    let tensor_path = resolve(embedding.tensor_path.as_deref().unwrap_or_default());
    let features = read_tensor(&tensor_path, &embedding.tensor_shape)?;
    let n = features.n_items();
    let (metadata, classes) = match &embedding.metadata_path {
        Some(p) => {
            let (m, c) = read_metadata(&resolve(p), n)?;
            (Some(m), c)
        }
        None => (None, None),
    };
    let images = match &embedding.sprite {
        Some(s) if !s.image_path.is_empty() => {
            read_sprite(&resolve(&s.image_path), &s.single_image_dim, n)?
        }
        _ => Images::None,
    };
    Ok(ProjectorData {
        name: embedding.tensor_name.clone(),
        features,
        metadata,
        classes,
        images,
    })
}

/// A tensor file: TSV (one row per line, tab-separated), or raw little-endian float32 of
/// `shape` — TensorBoard tries text first and falls back to binary; so do we, but a binary
/// file must match its shape exactly.
pub fn read_tensor(path: &Path, shape: &[u64]) -> Result<Features, ProjectorError> {
    let bytes = std::fs::read(path).map_err(|source| ProjectorError::Io {
        path: path.to_owned(),
        source,
    })?;
    let err = |reason: String| ProjectorError::Tensor {
        path: path.to_owned(),
        reason,
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let binary_fits = match shape {
        [rows, cols] => {
            (*rows).checked_mul(*cols).and_then(|v| v.checked_mul(4)) == Some(bytes.len() as u64)
        }
        _ => false,
    };
    let binary_text = || match shape {
        [rows, cols] => format!(
            "{} bytes, but tensor_shape {rows} × {cols} of float32 needs {}",
            bytes.len(),
            rows.saturating_mul(*cols).saturating_mul(4)
        ),
        _ => format!("raw float32 needs a 2-D tensor_shape in the config (it has {shape:?})"),
    };
    // The name decides when it says; otherwise the bytes do, as TensorBoard lets them.
    let as_binary = match ext.as_str() {
        "bytes" | "bin" | "raw" => true,
        "tsv" | "txt" => false,
        _ => binary_fits,
    };
    let (rows, cols, data, dtype) = if as_binary {
        if !binary_fits {
            return Err(err(binary_text()));
        }
        let [rows, cols] = shape else {
            return Err(err(binary_text()));
        };
        let data = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (*rows as usize, *cols as usize, data, "float32 (raw bytes)")
    } else {
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            err(format!(
                "not a TSV text file (invalid UTF-8), and not raw float32 either: {}",
                binary_text()
            ))
        })?;
        let (rows, cols, data) = parse_tsv(text).map_err(|e| {
            if shape.is_empty() || ext == "tsv" || ext == "txt" {
                err(e)
            } else {
                err(format!(
                    "not a TSV text file ({e}), and not raw float32 either: {}",
                    binary_text()
                ))
            }
        })?;
        if let [r, c] = shape
            && (*r as usize, *c as usize) != (rows, cols)
        {
            return Err(err(format!(
                "{rows} × {cols} values but the config's tensor_shape says {r} × {c}"
            )));
        }
        (rows, cols, data, "tsv")
    };
    Features::new(rows, cols, data, dtype, path, &path.display().to_string())
        .map_err(|e| err(e.to_string()))
}

/// Rows of tab-separated numbers; empty lines skipped (as TensorBoard does).
fn parse_tsv(text: &str) -> Result<(usize, usize, Vec<f32>), String> {
    let mut data = Vec::new();
    let mut cols = None;
    let mut rows = 0;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let before = data.len();
        for (j, field) in line.split('\t').enumerate() {
            let v: f32 = field.trim().parse().map_err(|_| {
                format!(
                    "line {}, column {}: {field:?} is not a number",
                    i + 1,
                    j + 1
                )
            })?;
            data.push(v);
        }
        let found = data.len() - before;
        match cols {
            None => cols = Some(found),
            Some(c) if c != found => {
                return Err(format!(
                    "line {}: {found} values, expected {c} like the first row",
                    i + 1
                ));
            }
            Some(_) => {}
        }
        rows += 1;
    }
    let cols = cols.ok_or_else(|| "no rows".to_owned())?;
    Ok((rows, cols, data))
}

/// TensorBoard's metadata rule: a single column has no header; several columns (the first
/// line holds a tab) have a header row.
pub fn read_metadata(
    path: &Path,
    n: usize,
) -> Result<(Metadata, Option<Categorical>), ProjectorError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProjectorError::Io {
        path: path.to_owned(),
        source,
    })?;
    let err = |reason: String| ProjectorError::Metadata {
        path: path.to_owned(),
        reason,
    };
    let mut lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let Some(first) = lines.first() else {
        return Err(err("empty".to_owned()));
    };
    let (header, rows): (Vec<String>, &[&str]) = if first.contains('\t') {
        (
            first.split('\t').map(|h| h.trim().to_owned()).collect(),
            &lines[1..],
        )
    } else {
        (vec!["label".to_owned()], &lines[..])
    };
    if rows.len() != n {
        return Err(err(format!(
            "{} row(s){} but the tensor has {n} points",
            rows.len(),
            if header.len() > 1 {
                " after the header"
            } else {
                ""
            }
        )));
    }
    let mut cells: Vec<Vec<String>> = vec![Vec::with_capacity(n); header.len()];
    for (i, row) in rows.iter().enumerate() {
        let fields: Vec<&str> = if header.len() > 1 {
            row.split('\t').collect()
        } else {
            vec![row]
        };
        if fields.len() != header.len() {
            return Err(err(format!(
                "line {}: {} field(s), expected {} like the header",
                i + 2,
                fields.len(),
                header.len()
            )));
        }
        for (column, f) in cells.iter_mut().zip(fields) {
            column.push(f.trim().to_owned());
        }
    }
    let class_column = if header.len() == 1 {
        Some(0)
    } else {
        header.iter().position(|h| {
            matches!(
                h.to_ascii_lowercase().as_str(),
                "label" | "labels" | "class" | "classes"
            )
        })
    };
    let classes = class_column.map(|c| {
        let values: Vec<&str> = cells[c]
            .iter()
            .map(|v| {
                if v.is_empty() {
                    crate::dataset::MISSING
                } else {
                    v.as_str()
                }
            })
            .collect();
        Categorical::from_strings(&values)
    });
    let mut columns = Vec::with_capacity(header.len());
    for (i, (name, values)) in header.into_iter().zip(cells).enumerate() {
        let name = if name.is_empty() {
            format!("column {}", i + 1)
        } else {
            name
        };
        if columns.iter().any(|c: &Column| c.name == name) {
            return Err(err(format!("column name {name:?} appears twice")));
        }
        columns.push(Column {
            name,
            values: crate::dataset::metadata::type_column(&values),
        });
    }
    Ok((Metadata { columns }, classes))
}

/// Cut a sprite sheet into `n` cells of `dim = [width, height]` (row by row, as many per row
/// as fit the sheet's width). Without `dim`, tensorboardX's square grid of ⌈√n⌉ per row is
/// assumed.
pub fn read_sprite(path: &Path, dim: &[u32], n: usize) -> Result<Images, ProjectorError> {
    let err = |reason: String| ProjectorError::Sprite {
        path: path.to_owned(),
        reason,
    };
    if !path.is_file() {
        return Err(err(
            "the file does not exist (the config's sprite image_path names it)".to_owned(),
        ));
    }
    let sheet = crate::dataset::decode_oriented(path)
        .map_err(err)?
        .to_rgba8();
    let (sw, sh) = sheet.dimensions();
    let (cw, ch) = match dim {
        [w, h] => (*w, *h),
        [] => {
            let per_row = (n as f64).sqrt().ceil().max(1.0) as u32;
            (sw / per_row, sh / per_row)
        }
        other => {
            return Err(err(format!(
                "single_image_dim must be [width, height], got {other:?}"
            )));
        }
    };
    if cw == 0 || ch == 0 {
        return Err(err(format!(
            "cells of {cw}×{ch} pixels in a {sw}×{sh} sheet"
        )));
    }
    let per_row = (sw / cw) as usize;
    let rows = (sh / ch) as usize;
    if per_row * rows < n {
        return Err(err(format!(
            "a {sw}×{sh} sheet of {cw}×{ch} cells holds {} images, but the tensor has {n} points",
            per_row * rows
        )));
    }
    let cell = (cw * ch * 4) as usize;
    let mut pixels = vec![0u8; cell * n];
    for (i, out) in pixels.chunks_exact_mut(cell).enumerate() {
        let (x0, y0) = ((i % per_row) as u32 * cw, (i / per_row) as u32 * ch);
        for y in 0..ch {
            let start = (((y0 + y) * sw + x0) * 4) as usize;
            let row = (cw * 4) as usize;
            out[(y * cw * 4) as usize..][..row]
                .copy_from_slice(&sheet.as_raw()[start..start + row]);
        }
    }
    Ok(Images::Rgba8 {
        width: cw,
        height: ch,
        pixels,
    })
}
