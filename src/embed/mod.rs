//! Embeddings from an image encoder exported to ONNX (`torch.onnx.export`): the reference tool's
//! "features from a self-supervised model" step, without Python at run time.
//!
//! Images are decoded and preprocessed in parallel on rayon while the previous batch runs
//! through ONNX Runtime, so the model never waits on the disk. Vectors are cached per
//! (model file, preprocessing, output, image), so a re-run embeds only new or changed images.

#[cfg(feature = "embed")]
mod pipeline;
pub mod preprocess;
#[cfg(feature = "embed")]
pub mod runtime;

use std::path::PathBuf;

#[cfg(feature = "embed")]
pub use pipeline::embed_images;
pub use preprocess::{InputGeometry, Preprocess, PreprocessSpec};
use thiserror::Error;

/// Without the `embed` feature: the same call, failing with what to rebuild.
#[cfg(not(feature = "embed"))]
pub fn embed_images(
    _model: &std::path::Path,
    _paths: &[PathBuf],
    _options: &EmbedOptions,
    _cache: &crate::cache::Cache,
    _observer: &dyn crate::progress::Observer,
) -> Result<Embedding, EmbedError> {
    Err(EmbedError::Runtime(
        "this ivt-explore was built without the `embed` feature; rebuild with default features to use ONNX models"
            .to_owned(),
    ))
}

#[derive(Debug, Error)]
pub enum EmbedError {
    #[error("{0}")]
    Runtime(String),
    #[error(
        "the ONNX Runtime at {} has no CUDA provider; install `onnxruntime-gpu` (with CUDA and \
         cuDNN) and point ORT_DYLIB_PATH at its library, or run on the CPU",
        .library.display()
    )]
    NoCuda { library: PathBuf },
    #[error("cannot run on CUDA: {0}")]
    Cuda(String),
    #[error("cannot read the model {path}")]
    ReadModel {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Model { path: PathBuf, reason: String },
    #[error("preprocessing: {0}")]
    Preprocess(String),
    #[error("{path}: inference failed on a batch starting at image {first}: {reason}")]
    Inference {
        path: PathBuf,
        first: PathBuf,
        reason: String,
    },
    #[error("{} image(s) cannot be read:{}", .failures.len(), failures_text(.failures))]
    Images { failures: Vec<(PathBuf, String)> },
    #[error("the model returned non-finite values (NaN or ±Inf) for {path}")]
    NonFinite { path: PathBuf },
    #[error("cancelled")]
    Cancelled,
}

fn failures_text(failures: &[(PathBuf, String)]) -> String {
    let mut text: String = failures
        .iter()
        .take(20)
        .map(|(p, r)| format!("\n  {}: {r}", p.display()))
        .collect();
    if failures.len() > 20 {
        text.push_str(&format!("\n  ... and {} more", failures.len() - 20));
    }
    text
}

/// How a model output with spatial (or token) axes becomes one vector per image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Average,
    Flatten,
}

crate::choice::choice!(Pooling {
    Average => "average", "Global average over every axis after the first two (`[N, C, H, W]` → `[N, C]`; `[N, T, D]` tokens → mean over T, so C = T there: use `flatten` or a pooled output instead when that is not wanted)";
    Flatten => "flatten", "Keep every value (`[N, C, H, W]` → `[N, C·H·W]`)";
});

/// Where inference runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Cpu,
    Cuda,
}

crate::choice::choice!(Device {
    Cpu => "cpu", "";
    Cuda => "cuda", "NVIDIA GPU through ONNX Runtime's CUDA provider (`pip install onnxruntime-gpu`)";
});

/// Everything about a run except the model and the images.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    pub preprocess: PreprocessSpec,
    pub batch_size: usize,
    /// Output to read; `None`: the model's first.
    pub output: Option<String>,
    pub pooling: Pooling,
    /// Scale every vector to unit length (cosine geometry in Euclidean kNN).
    pub l2_normalize: bool,
    pub device: Device,
    /// Inference threads; `None`: all cores.
    pub threads: Option<usize>,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        Self {
            preprocess: PreprocessSpec::default(),
            batch_size: 32,
            output: None,
            pooling: Pooling::Average,
            l2_normalize: false,
            device: Device::Cpu,
            threads: None,
        }
    }
}

/// The vectors of every image, in the order given, and what it took.
#[derive(Debug, Clone)]
pub struct Embedding {
    /// Row-major, `n × dim`.
    pub vectors: Vec<f32>,
    pub dim: usize,
    pub report: EmbedReport,
}

#[derive(Debug, Clone, Default)]
pub struct EmbedReport {
    /// Images run through the model now.
    pub embedded: usize,
    /// Images whose vector came from the cache.
    pub cached: usize,
    /// Seconds spent embedding (decoding and inference).
    pub seconds: f64,
    /// The runtime library used.
    pub runtime: PathBuf,
    /// Model input, output and preprocessing, for the log.
    pub description: String,
    pub warnings: Vec<String>,
}
