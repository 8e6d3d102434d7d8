//! TensorBoard projector logs as a data source: the format (the config, its text protobuf) and
//! the reader that turns a log into a data set's parts (no 100k-point, 10k-t-SNE or 8192²
//! sprite cap here). Writing them (`export-projector`) is `crate::projector`, above the
//! algorithms; this part uses nothing above the data set.
//!
//! A log folder holds `projector_config.pbtxt` (text protobuf, one `embeddings { … }` per
//! tensor) naming, relative to itself, a tensor file (TSV, or raw little-endian float32 with
//! `tensor_shape`), a metadata TSV and a sprite sheet. tensorboardX's `add_embedding` writes
//! the same files under `<step>/<tag>/`, sometimes without a config; both are read.

pub mod pbtxt;
pub mod read;

use std::path::{Path, PathBuf};

use thiserror::Error;

use pbtxt::{Field, Value};

/// The config file's name, fixed by TensorBoard.
pub const CONFIG_FILE: &str = "projector_config.pbtxt";

#[derive(Debug, Error)]
pub enum ProjectorError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Config { path: PathBuf, reason: String },
    #[error("{path}: {}", choice_text(.wanted.as_deref(), .available))]
    Choice {
        path: PathBuf,
        wanted: Option<String>,
        available: Vec<String>,
    },
    #[error("tensor file {path}: {reason}")]
    Tensor { path: PathBuf, reason: String },
    #[error("metadata file {path}: {reason}")]
    Metadata { path: PathBuf, reason: String },
    #[error("sprite {path}: {reason}")]
    Sprite { path: PathBuf, reason: String },
    #[error("{0}")]
    Export(String),
}

fn choice_text(wanted: Option<&str>, available: &[String]) -> String {
    match wanted {
        Some(w) => format!(
            "no embedding named {w:?}; it holds: {}",
            available.join(", ")
        ),
        None => "no embeddings with a tensor file (TensorBoard checkpoints are not read; export the tensor to TSV)".to_owned(),
    }
}

/// A sprite sheet: one `width × height` cell per point, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sprite {
    pub image_path: String,
    /// `[width, height]` of one cell; empty when the config does not say.
    pub single_image_dim: Vec<u32>,
}

/// One `embeddings { … }` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Embedding {
    pub tensor_name: String,
    pub tensor_path: Option<String>,
    /// `[rows, columns]`; needed for binary tensors.
    pub tensor_shape: Vec<u64>,
    pub metadata_path: Option<String>,
    pub sprite: Option<Sprite>,
    pub bookmarks_path: Option<String>,
}

/// `projector_config.pbtxt`, the fields TensorBoard defines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    pub embeddings: Vec<Embedding>,
    pub model_checkpoint_path: Option<String>,
    pub model_checkpoint_dir: Option<String>,
}

impl Config {
    /// Parse the text of a config file (`path` only names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, ProjectorError> {
        let err = |reason: String| ProjectorError::Config {
            path: path.to_owned(),
            reason,
        };
        let fields = pbtxt::parse(text).map_err(|e| err(e.to_string()))?;
        let mut config = Config::default();
        for f in &fields {
            match f.name.as_str() {
                "embeddings" => config.embeddings.push(embedding(f).map_err(err)?),
                "model_checkpoint_path" => {
                    config.model_checkpoint_path = Some(string(f).map_err(err)?)
                }
                "model_checkpoint_dir" => {
                    config.model_checkpoint_dir = Some(string(f).map_err(err)?)
                }
                other => return Err(err(format!("line {}: unknown field '{other}'", f.line))),
            }
        }
        Ok(config)
    }

    pub fn read(path: &Path) -> Result<Self, ProjectorError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProjectorError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// The config in text format, as TensorBoard's own writer lays it out.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if let Some(p) = &self.model_checkpoint_path {
            out.push_str(&format!("model_checkpoint_path: {}\n", pbtxt::quote(p)));
        }
        if let Some(p) = &self.model_checkpoint_dir {
            out.push_str(&format!("model_checkpoint_dir: {}\n", pbtxt::quote(p)));
        }
        for e in &self.embeddings {
            out.push_str("embeddings {\n");
            out.push_str(&format!(
                "  tensor_name: {}\n",
                pbtxt::quote(&e.tensor_name)
            ));
            if let Some(p) = &e.tensor_path {
                out.push_str(&format!("  tensor_path: {}\n", pbtxt::quote(p)));
            }
            for d in &e.tensor_shape {
                out.push_str(&format!("  tensor_shape: {d}\n"));
            }
            if let Some(p) = &e.metadata_path {
                out.push_str(&format!("  metadata_path: {}\n", pbtxt::quote(p)));
            }
            if let Some(p) = &e.bookmarks_path {
                out.push_str(&format!("  bookmarks_path: {}\n", pbtxt::quote(p)));
            }
            if let Some(s) = &e.sprite {
                out.push_str("  sprite {\n");
                out.push_str(&format!(
                    "    image_path: {}\n",
                    pbtxt::quote(&s.image_path)
                ));
                for d in &s.single_image_dim {
                    out.push_str(&format!("    single_image_dim: {d}\n"));
                }
                out.push_str("  }\n");
            }
            out.push_str("}\n");
        }
        out
    }
}

fn string(f: &Field) -> Result<String, String> {
    match &f.value {
        Value::Scalar(s) => Ok(s.clone()),
        Value::Message(_) => Err(format!(
            "line {}: '{}' must be a value, not a message",
            f.line, f.name
        )),
    }
}

fn number<T: std::str::FromStr>(f: &Field) -> Result<T, String> {
    let s = string(f)?;
    s.parse::<T>().map_err(|_| {
        format!(
            "line {}: '{}' must be a whole number, not {s:?}",
            f.line, f.name
        )
    })
}

fn message(f: &Field) -> Result<&[Field], String> {
    match &f.value {
        Value::Message(m) => Ok(m),
        Value::Scalar(_) => Err(format!(
            "line {}: '{}' must be a message {{ … }}",
            f.line, f.name
        )),
    }
}

fn embedding(f: &Field) -> Result<Embedding, String> {
    let mut e = Embedding::default();
    for g in message(f)? {
        match g.name.as_str() {
            "tensor_name" => e.tensor_name = string(g)?,
            "tensor_path" => e.tensor_path = Some(string(g)?),
            "tensor_shape" => e.tensor_shape.push(number(g)?),
            "metadata_path" => e.metadata_path = Some(string(g)?),
            "bookmarks_path" => e.bookmarks_path = Some(string(g)?),
            "sprite" => {
                let mut s = Sprite {
                    image_path: String::new(),
                    single_image_dim: Vec::new(),
                };
                for h in message(g)? {
                    match h.name.as_str() {
                        "image_path" => s.image_path = string(h)?,
                        "single_image_dim" => s.single_image_dim.push(number(h)?),
                        other => {
                            return Err(format!("line {}: unknown sprite field '{other}'", h.line));
                        }
                    }
                }
                e.sprite = Some(s);
            }
            other => {
                return Err(format!(
                    "line {}: unknown embeddings field '{other}'",
                    g.line
                ));
            }
        }
    }
    // TensorBoard drops the ":0" of a graph tensor's name; so do we, so names match its UI.
    if let Some(stripped) = e.tensor_name.strip_suffix(":0") {
        e.tensor_name = stripped.to_owned();
    }
    Ok(e)
}

/// Whether `path` is a projector log folder: a config file, or tensorboardX's `tensors.tsv`
/// here or in `<step>/<tag>/` folders. A folder holding `features.npy` is a data set folder,
/// whatever else it holds (checked first: it also spares listing a large `images/` folder
/// while looking for `<step>/<tag>/`).
pub fn is_log_dir(path: &Path) -> bool {
    path.is_dir()
        && !path.join("features.npy").is_file()
        && (path.join(CONFIG_FILE).is_file()
            || path.join("tensors.tsv").is_file()
            || !read::tensorboardx_embeddings(path).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_through_text() {
        let config = Config {
            embeddings: vec![
                Embedding {
                    tensor_name: "a \"quoted\" name".to_owned(),
                    tensor_path: Some("a/tensors.bytes".to_owned()),
                    tensor_shape: vec![10, 4],
                    metadata_path: Some("a/metadata.tsv".to_owned()),
                    sprite: Some(Sprite {
                        image_path: "a/sprite.png".to_owned(),
                        single_image_dim: vec![28, 28],
                    }),
                    bookmarks_path: None,
                },
                Embedding {
                    tensor_name: "b".to_owned(),
                    tensor_path: Some("b.tsv".to_owned()),
                    ..Embedding::default()
                },
            ],
            model_checkpoint_path: None,
            model_checkpoint_dir: None,
        };
        let text = config.to_text();
        assert_eq!(
            Config::parse(&text, Path::new("c")).expect("parses"),
            config
        );
    }

    #[test]
    fn bad_configs_name_the_file_and_line() {
        let path = Path::new("logs/projector_config.pbtxt");
        let err = Config::parse("embeddings {\n  tensor_nme: \"x\"\n}\n", path)
            .expect_err("typo")
            .to_string();
        assert!(
            err.contains("logs/projector_config.pbtxt") && err.contains("line 2"),
            "{err}"
        );
        assert!(err.contains("tensor_nme"), "{err}");
        let err = Config::parse("embeddings { tensor_shape: ten }", path)
            .expect_err("not a number")
            .to_string();
        assert!(err.contains("whole number"), "{err}");
        let err = Config::parse("embeddings { tensor_name: \"x\"", path)
            .expect_err("unclosed")
            .to_string();
        assert!(err.contains("missing '}'"), "{err}");
        let name = Config::parse("embeddings { tensor_name: \"emb:0\" }", path).expect("parses");
        assert_eq!(name.embeddings[0].tensor_name, "emb");
    }
}
