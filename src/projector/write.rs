//! Writing a data set as TensorBoard projector files: tensor, metadata TSV, sprite sheet and
//! the config, into `LOGDIR/<name>/` with the config merged (other embeddings of an existing
//! log are kept). Every file is written atomically; an existing config that cannot be parsed is
//! reported, never overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::RgbaImage;
use rayon::prelude::*;

use crate::atomic;
use crate::dataset::projector::{CONFIG_FILE, Config, Embedding, ProjectorError, Sprite};
use crate::dataset::{ColumnValues, Dataset, Images, ItemId};

/// How the tensor is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorFormat {
    Tsv,
    Bytes,
}

crate::choice::choice!(TensorFormat {
    Tsv => "tsv", "Tab-separated text, what tensorboardX writes; every TensorBoard reads it";
    Bytes => "bytes", "Raw little-endian float32 with `tensor_shape` in the config: 3–5× smaller and faster to load";
});

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The embedding's name in TensorBoard (and its folder's name).
    pub tensor_name: String,
    pub format: TensorFormat,
    /// Largest sprite sheet side (TensorBoard: 8192).
    pub max_sprite_px: u32,
    /// A cluster id per item, written as a `cluster` metadata column.
    pub clusters: Option<Vec<u32>>,
}

#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// Files written, config last.
    pub files: Vec<PathBuf>,
    /// Sprite cell side in pixels, when there is a sprite.
    pub cell_px: Option<u32>,
    pub warnings: Vec<String>,
}

/// Write `data` as projector files under `logdir`.
pub fn export(
    data: &Dataset,
    logdir: &Path,
    options: &ExportOptions,
) -> Result<ExportReport, ProjectorError> {
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| ProjectorError::Write { path, source }
    };
    // Read (and check) an existing config before writing anything.
    let config_path = logdir.join(CONFIG_FILE);
    let mut config = if config_path.is_file() {
        Config::read(&config_path)?
    } else {
        Config::default()
    };
    let folder = own_folder(&config, logdir, &options.tensor_name);
    let dir = logdir.join(&folder);
    std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    let mut report = ExportReport::default();
    let features = &data.features;
    let (n, d) = (features.n_items(), features.dim());

    let mut embedding = Embedding {
        tensor_name: options.tensor_name.clone(),
        ..Embedding::default()
    };
    let tensor_file = match options.format {
        TensorFormat::Tsv => "tensors.tsv",
        TensorFormat::Bytes => "tensors.bytes",
    };
    let tensor_path = dir.join(tensor_file);
    atomic::write_with(&tensor_path, |f| {
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        match options.format {
            TensorFormat::Tsv => {
                let mut line = String::new();
                for i in 0..n {
                    line.clear();
                    for (j, v) in features.row(i).iter().enumerate() {
                        if j > 0 {
                            line.push('\t');
                        }
                        // Rust's shortest round-trip form: the float32 reads back exactly.
                        line.push_str(&v.to_string());
                    }
                    line.push('\n');
                    w.write_all(line.as_bytes())?;
                }
            }
            TensorFormat::Bytes => {
                for v in features.values().iter() {
                    w.write_all(&v.to_le_bytes())?;
                }
            }
        }
        w.flush()
    })
    .map_err(write_err(&tensor_path))?;
    embedding.tensor_path = Some(format!("{folder}/{tensor_file}"));
    embedding.tensor_shape = vec![n as u64, d as u64];
    report.files.push(tensor_path);

    if let Some(text) = metadata_tsv(data, options.clusters.as_deref()) {
        let path = dir.join("metadata.tsv");
        atomic::write_with(&path, |f| f.write_all(text.as_bytes())).map_err(write_err(&path))?;
        embedding.metadata_path = Some(format!("{folder}/metadata.tsv"));
        report.files.push(path);
    }

    if data.images.count() == n && n > 0 {
        let (png, cell, warnings) = sprite_png(&data.images, n, options.max_sprite_px)?;
        report.warnings.extend(warnings);
        let path = dir.join("sprite.png");
        atomic::write_with(&path, |f| f.write_all(&png)).map_err(write_err(&path))?;
        embedding.sprite = Some(Sprite {
            image_path: format!("{folder}/sprite.png"),
            single_image_dim: vec![cell, cell],
        });
        report.cell_px = Some(cell);
        report.files.push(path);
    }

    match config
        .embeddings
        .iter_mut()
        .find(|e| e.tensor_name == embedding.tensor_name)
    {
        Some(existing) => *existing = embedding,
        None => config.embeddings.push(embedding),
    }
    atomic::write_with(&config_path, |f| f.write_all(config.to_text().as_bytes()))
        .map_err(write_err(&config_path))?;
    report.files.push(config_path);
    Ok(report)
}

/// The folder this embedding's files go to: the one an earlier export of the same name used,
/// else a fresh one named after it — never a folder another embedding's files are in, nor
/// one that already exists (it may be the user's).
fn own_folder(config: &Config, logdir: &Path, name: &str) -> String {
    let first_component = |p: &str| p.split('/').next().unwrap_or_default().to_owned();
    let folder_of = |e: &Embedding| {
        [
            e.tensor_path.as_deref(),
            e.metadata_path.as_deref(),
            e.sprite.as_ref().map(|s| s.image_path.as_str()),
        ]
        .into_iter()
        .flatten()
        .filter(|p| p.contains('/'))
        .map(first_component)
        .collect::<Vec<_>>()
    };
    if let Some(previous) = config.embeddings.iter().find(|e| e.tensor_name == name)
        && let Some(folder) = folder_of(previous).first()
    {
        return folder.clone();
    }
    let used: Vec<String> = config.embeddings.iter().flat_map(folder_of).collect();
    let base = safe_folder_name(name);
    let mut folder = base.clone();
    let mut k = 2;
    while used.contains(&folder) || logdir.join(&folder).exists() {
        folder = format!("{base}-{k}");
        k += 1;
    }
    folder
}

/// A folder name from a tensor name: path separators and odd characters become `_`.
fn safe_folder_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match s.trim_matches('.') {
        "" => "embedding".to_owned(),
        t => t.to_owned(),
    }
}

/// A TSV cell: tabs and line breaks would break the table, so they become spaces.
fn cell(s: &str) -> String {
    s.replace(['\t', '\n', '\r'], " ")
}

/// The metadata TSV: `label` (the classes), `cluster`, then the metadata columns; a header
/// row only with several columns (TensorBoard's rule). `None` when there is nothing to write.
fn metadata_tsv(data: &Dataset, clusters: Option<&[u32]>) -> Option<String> {
    let n = data.n_items();
    let mut names: Vec<String> = Vec::new();
    let mut columns: Vec<Vec<String>> = Vec::new();
    let mut add = |name: &str, values: Vec<String>, names: &mut Vec<String>| {
        let mut unique = name.to_owned();
        let mut k = 2;
        while names.contains(&unique) {
            unique = format!("{name} ({k})");
            k += 1;
        }
        names.push(unique);
        columns.push(values);
    };
    if let Some(c) = &data.classes {
        let values = (0..n)
            .map(|i| cell(c.labels.name_of(ItemId(i as u32))))
            .collect();
        add("label", values, &mut names);
    }
    if let Some(ids) = clusters {
        add(
            "cluster",
            ids.iter().map(u32::to_string).collect(),
            &mut names,
        );
    }
    if let Some(m) = &data.metadata {
        for col in &m.columns {
            // A log read back holds its labels twice (classes and a `label` column): once is enough.
            if let (ColumnValues::Categorical(c), Some(classes)) = (&col.values, &data.classes)
                && (0..n).all(|i| {
                    c.name_of(ItemId(i as u32)) == classes.labels.name_of(ItemId(i as u32))
                })
            {
                continue;
            }
            let values = match &col.values {
                ColumnValues::Numeric(v) => v
                    .iter()
                    .map(|x| {
                        if x.is_nan() {
                            String::new()
                        } else {
                            x.to_string()
                        }
                    })
                    .collect(),
                ColumnValues::Categorical(c) => {
                    (0..n).map(|i| cell(c.name_of(ItemId(i as u32)))).collect()
                }
            };
            add(&col.name, values, &mut names);
        }
    }
    if columns.is_empty() {
        return None;
    }
    let mut out = String::new();
    if columns.len() > 1 {
        out.push_str(&names.iter().map(|n| cell(n)).collect::<Vec<_>>().join("\t"));
        out.push('\n');
    }
    for i in 0..n {
        let row: Vec<&str> = columns.iter().map(|c| c[i].as_str()).collect();
        let line = row.join("\t");
        // A single column's empty value would be an empty line, which readers skip.
        out.push_str(if line.is_empty() {
            crate::dataset::MISSING
        } else {
            &line
        });
        out.push('\n');
    }
    Some(out)
}

/// The sprite sheet as PNG bytes: a square grid of ⌈√n⌉ cells per side (the layout tensorboardX
/// writes and every TensorBoard reads), each image letterboxed into a square cell as large as
/// the images but small enough that the sheet stays within `max_px`.
fn sprite_png(
    images: &Images,
    n: usize,
    max_px: u32,
) -> Result<(Vec<u8>, u32, Vec<String>), ProjectorError> {
    let per_row = (n as f64).sqrt().ceil() as u32;
    let native = images.max_side().unwrap_or(64).max(1);
    let fit = max_px / per_row.max(1);
    if fit == 0 {
        return Err(ProjectorError::Export(format!(
            "{n} images do not fit a {max_px}×{max_px} sprite sheet even at one pixel each; export without images ({})",
            crate::hint::NO_SPRITE
        )));
    }
    let cell = native.min(fit);
    let mut warnings = Vec::new();
    if cell < native {
        warnings.push(format!(
            "sprite cells downscaled from {native} to {cell} px so that {n} images fit TensorBoard's {max_px}×{max_px} sheet limit"
        ));
    }
    let side = per_row * cell;
    let row_bytes = (side * 4) as usize;
    let mut sheet = vec![0u8; row_bytes * side as usize];
    let cells: Vec<Result<Vec<u8>, String>> = (0..n)
        .into_par_iter()
        .map(|i| item_rgba(images, i).map(|img| crate::thumbs::decode::letterbox(&img, cell)))
        .collect();
    let mut failed = Vec::new();
    for (i, c) in cells.into_iter().enumerate() {
        let pixels = match c {
            Ok(p) => p,
            Err(reason) => {
                failed.push(reason);
                crate::thumbs::decode::placeholder(cell)
            }
        };
        let (x0, y0) = ((i as u32 % per_row) * cell, (i as u32 / per_row) * cell);
        for y in 0..cell {
            let dst = ((y0 + y) as usize) * row_bytes + (x0 * 4) as usize;
            let src = (y * cell * 4) as usize;
            sheet[dst..dst + (cell * 4) as usize]
                .copy_from_slice(&pixels[src..src + (cell * 4) as usize]);
        }
    }
    if !failed.is_empty() {
        warnings.push(format!(
            "{} image(s) could not be read and are drawn as placeholders in the sprite; the first: {}",
            failed.len(),
            failed[0]
        ));
    }
    let img = RgbaImage::from_raw(side, side, sheet)
        .ok_or_else(|| ProjectorError::Export("internal: sprite buffer size".to_owned()))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| ProjectorError::Export(format!("cannot encode the sprite: {e}")))?;
    Ok((png, cell, warnings))
}

/// Item `i`'s image as RGBA.
fn item_rgba(images: &Images, i: usize) -> Result<RgbaImage, String> {
    match images {
        Images::Files(f) => {
            let path = &f.paths[i];
            crate::dataset::decode_oriented(path)
                .map(|img| img.to_rgba8())
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        other => other
            .memory_rgba(i)
            .ok_or_else(|| format!("item {i} has no image")),
    }
}
