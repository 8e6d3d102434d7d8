//! The argument groups several commands flatten into their own (what to read, the encoder,
//! the cache, a given kNN graph), with the checks of argument values they share.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use ivt::choice::Choice;
use ivt::dataset::{DataSource, ImageLayout, InputSpec};
use ivt::layout::LayoutMethod;

/// What to load: shared by every subcommand that reads a data set.
#[derive(Debug, Args, Clone)]
pub struct InputArgs {
    /// Features: .npy, .npz, .csv, .tsv or .parquet file, or a folder holding features.npy (plus optional
    /// labels.npy, images/ and meta.json); with --model, an image folder. Omitted: the built-in demo.
    #[arg(value_name = "DATA")]
    pub data: Option<PathBuf>,
    #[command(flatten)]
    pub options: InputOptions,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// An image encoder that computes the features from the images (`embed`, or any command whose
/// DATA is then an image folder).
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Image encoder (DATA is then an image folder)")]
pub struct ModelArgs {
    /// ONNX image encoder (e.g. from torch.onnx.export): embed the images with it. Vectors are
    /// cached per model, preprocessing and image, so a second run embeds only new images.
    #[arg(long, value_name = "MODEL.onnx")]
    pub model: Option<PathBuf>,
    /// Preprocessing to start from: imagenet (resize 256 + centre crop 224, 0–1, ImageNet mean/std)
    /// or raw255 (stretch, raw 0–255, no normalisation: the reference tool's Lightning path)
    /// [default: imagenet].
    #[arg(long, value_parser = choice::<ivt::embed::preprocess::Preset>())]
    pub preset: Option<ivt::embed::preprocess::Preset>,
    /// TOML file with preprocessing fields (preset, size, resize, crop-fraction, channels, range,
    /// mean, std, layout); the flags here override it.
    #[arg(long, value_name = "FILE.toml")]
    pub preprocess: Option<PathBuf>,
    /// Model input size, N or WIDTHxHEIGHT (default: the model's own when its input shape fixes it).
    #[arg(long, value_name = "N|WxH")]
    pub input_size: Option<ivt::embed::preprocess::Size>,
    /// How images reach the input size.
    #[arg(long, value_parser = choice::<ivt::embed::preprocess::ResizeMode>())]
    pub resize: Option<ivt::embed::preprocess::ResizeMode>,
    /// center-crop: the shorter side is resized to size / fraction before the cut (0.875 = 256→224).
    #[arg(long, value_name = "F")]
    pub crop_fraction: Option<f32>,
    /// Channel order the model expects.
    #[arg(long, value_parser = choice::<ivt::embed::preprocess::ChannelOrder>())]
    pub channels: Option<ivt::embed::preprocess::ChannelOrder>,
    /// Pixel value range before mean/std.
    #[arg(long, value_parser = choice::<ivt::embed::preprocess::ValueRange>())]
    pub range: Option<ivt::embed::preprocess::ValueRange>,
    /// Per-channel mean subtracted (model channel order, on the scale of --range).
    #[arg(long, value_name = "A,B,C", value_parser = parse_triple)]
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation divided by.
    #[arg(long, value_name = "A,B,C", value_parser = parse_triple)]
    pub std: Option<[f32; 3]>,
    /// Input tensor layout (default: read from the model's input shape, NCHW when unclear).
    #[arg(long, value_parser = choice::<ivt::embed::preprocess::TensorLayout>())]
    pub tensor_layout: Option<ivt::embed::preprocess::TensorLayout>,
    /// Images per inference call.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub batch_size: u32,
    /// Model output to read when it has several (default: the first).
    #[arg(long, value_name = "NAME")]
    pub model_output: Option<String>,
    /// How an output with spatial axes ([N, C, H, W]) becomes one vector per image.
    #[arg(long, value_parser = choice::<ivt::embed::Pooling>(), default_value_t = ivt::embed::Pooling::Average)]
    pub pool: ivt::embed::Pooling,
    /// Scale every embedding to unit length.
    #[arg(long)]
    pub l2_normalize: bool,
    /// Where inference runs (cuda needs onnxruntime-gpu).
    #[arg(long, value_parser = choice::<ivt::embed::Device>(), default_value_t = ivt::embed::Device::Cpu)]
    pub device: ivt::embed::Device,
    /// Inference threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub model_threads: Option<usize>,
}

fn parse_triple(v: &str) -> Result<[f32; 3], String> {
    let parts: Vec<&str> = v.split(',').collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(format!(
            "{v:?}: three comma-separated numbers, e.g. 0.485,0.456,0.406"
        ));
    };
    let num = |t: &str| {
        t.trim()
            .parse::<f32>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| format!("{t:?} is not a number"))
    };
    Ok([num(a)?, num(b)?, num(c)?])
}

impl InputArgs {
    pub fn spec(&self) -> InputSpec {
        self.options.spec(self.data.clone())
    }
}

/// Where computed artefacts are kept between runs.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// Cache folder (default: ~/.cache/ivt-explore/artefacts on Linux; created private).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache: Option<PathBuf>,
    /// Neither read nor write the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// After each write, remove the least recently used cache entries until the folder takes
    /// at most GB gigabytes ("none": no limit) [default: $IVT_CACHE_MAX_GB, else 20].
    #[arg(long, value_name = "GB", conflicts_with = "no_cache", value_parser = parse_cache_limit)]
    pub cache_max_gb: Option<CacheLimit>,
}

impl CacheArgs {
    pub fn cache(&self) -> ivt::cache::Cache {
        let cache = match (&self.cache, self.no_cache) {
            (_, true) => return ivt::cache::Cache::disabled(),
            (Some(dir), false) => ivt::cache::Cache::at(dir),
            (None, false) => ivt::cache::Cache::default_location(),
        };
        let cache = configure(cache);
        match &self.cache_max_gb {
            Some(limit) => cache.with_max_bytes(limit.0),
            None => cache,
        }
    }
}

/// A cache limit as given: bytes, `None` for no limit.
#[derive(Debug, Clone, Copy)]
pub struct CacheLimit(Option<u64>);

fn parse_cache_limit(s: &str) -> Result<CacheLimit, String> {
    ivt::cache::parse_max_gb(s).map(CacheLimit)
}

/// The limit from the environment ([`ivt::cache::MAX_GB_ENV`]) or the default; checked before
/// any command runs (`check_cache_env`), so a bad value here is unreachable and ignored.
pub fn cache_limit_from_env() -> Option<u64> {
    let default = Some(ivt::cache::default_max_bytes());
    match std::env::var(ivt::cache::MAX_GB_ENV) {
        Ok(v) => ivt::cache::parse_max_gb(&v).unwrap_or(default),
        Err(_) => default,
    }
}

/// The data set this run works on, as its entries in the cache record it (set once in `run`).
pub static DATASET: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `cache` with this run's data set and the limit from the environment, its folder made
/// private when it is the default one.
pub fn configure(cache: ivt::cache::Cache) -> ivt::cache::Cache {
    let cache = cache.with_max_bytes(cache_limit_from_env());
    let cache = match DATASET.get() {
        Some(d) => cache.for_dataset(d),
        None => cache,
    };
    cache.secure();
    cache
}

/// How to read a data set, apart from the DATA path itself.
#[derive(Debug, Args, Clone)]
pub struct InputOptions {
    /// Folder of images, one per feature row: flat, or torchvision `root/<class>/<image>`; or a
    /// text file listing each row's image path, one per line (relative to the list's folder).
    #[arg(long, value_name = "DIR|LIST.txt")]
    pub images: Option<PathBuf>,
    /// How to read the image folder.
    #[arg(long, value_parser = choice::<ImageLayout>(), default_value_t = ImageLayout::Auto)]
    pub image_layout: ImageLayout,
    /// File with one substring per feature row; each must match exactly one image file name.
    /// Without it, flat folders are in natural order (img2 before img10).
    #[arg(long, value_name = "FILE")]
    pub sort_keys: Option<PathBuf>,
    /// CSV/TSV with a header and one row per item (text or numeric columns), for colouring and search.
    #[arg(long, value_name = "FILE")]
    pub metadata: Option<PathBuf>,
    /// Class label per item: .npy of integers, or a text file with one label per line.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Array of an .npz archive to read the features from (needed when it holds several).
    #[arg(long, value_name = "NAME")]
    pub npz_key: Option<String>,
    /// Parquet: the column holding one vector per row (fixed_size_list or list of floats;
    /// default: the only such column). Every other scalar column becomes metadata.
    #[arg(long, value_name = "NAME")]
    pub vector_column: Option<String>,
    /// Parquet: the column holding each row's image path (relative to the file's folder).
    #[arg(long, value_name = "NAME")]
    pub image_column: Option<String>,
    /// Keep items whose image cannot be read, drawn with a placeholder, instead of failing.
    #[arg(long)]
    pub allow_missing_images: bool,
    /// Decode every image completely while loading (default: read headers only).
    #[arg(long)]
    pub verify_images: bool,
    /// Which embedding of a TensorBoard projector log to read (`info` lists them; default: the first).
    #[arg(long, value_name = "NAME")]
    pub tensor: Option<String>,
}

impl InputOptions {
    pub fn spec(&self, data: Option<PathBuf>) -> InputSpec {
        InputSpec {
            data: data.map_or(DataSource::Demo, DataSource::Path),
            images: self.images.clone(),
            image_layout: self.image_layout,
            sort_keys: self.sort_keys.clone(),
            metadata: self.metadata.clone(),
            labels: self.labels.clone(),
            npz_key: self.npz_key.clone(),
            vector_column: self.vector_column.clone(),
            image_column: self.image_column.clone(),
            allow_missing_images: self.allow_missing_images,
            verify_images: self.verify_images,
            tensor: self.tensor.clone(),
            // Set where the command knows its cache (`load::load`).
            probe_cache: None,
            // Set by `load::load_probing` (the explorer and `thumbs` read a sample).
            probe_scope: ivt::dataset::ProbeScope::All,
        }
    }
}

/// A disk budget in gigabytes: a finite number, 0 or more.
pub fn parse_gb(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|g| g.is_finite() && *g >= 0.0)
        .ok_or_else(|| format!("{s:?}: a number of gigabytes, 0 or more (e.g. 2 or 0.5)"))
}

/// `--method`: the library's [`LayoutMethod`] read from its name, the values listed in `order`
/// (each command lists them as its `--help` always has).
pub fn layout_method(
    order: [&'static str; 3],
) -> impl clap::builder::TypedValueParser<Value = LayoutMethod> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(order).try_map(|s| {
        LayoutMethod::from_name(&s).ok_or_else(|| format!("{s:?} is not a layout method"))
    })
}

/// A kNN graph computed elsewhere (FAISS, cuML, pynndescent, a distributed job) instead of
/// one computed here.
#[derive(Debug, Args, Clone, Default)]
pub struct GraphArgs {
    /// Neighbour indices (.npy, integers, N × k; row i = item i's neighbours, nearest first).
    /// Checked against the data: shape, index range, repeats; a leading column holding the item
    /// itself is dropped. Used instead of computing the graph.
    #[arg(long = "knn", value_name = "FILE.npy")]
    pub knn: Option<PathBuf>,
    /// Their distances (.npy, float, N × k, nearest first), checked against the features on a
    /// sample (squared euclidean, as FAISS returns, is recognised). Default: computed.
    #[arg(long = "knn-distances", value_name = "FILE.npy", requires = "knn")]
    pub knn_distances: Option<PathBuf>,
}

/// A `--layout FILE.npy` as `open` and `audit` take it: read, every value finite.
pub fn read_layout(path: &std::path::Path) -> anyhow::Result<ivt::npy::Matrix> {
    use anyhow::Context;
    let m = ivt::npy::read_matrix_file(path)
        .with_context(|| format!("cannot read --layout {}", path.display()))?;
    if let Some(bad) = m.data.iter().position(|v| !v.is_finite()) {
        anyhow::bail!(
            "--layout {}: row {}, column {} is not a finite number",
            path.display(),
            bad / m.n_cols.max(1),
            bad % m.n_cols.max(1)
        );
    }
    Ok(m)
}

/// Refuse an output name the command would not honour, before any work: the arrays are
/// written as .npy only, and a `graph.npz` or `layout.csv` holding .npy bytes would mislead
/// whatever opens it next.
pub fn npy_output(path: &std::path::Path) -> anyhow::Result<()> {
    let is_npy = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"));
    if !is_npy {
        anyhow::bail!(
            "{}: outputs are written as .npy (NumPy's format); give a name ending in .npy",
            path.display()
        );
    }
    Ok(())
}

/// Refuse an `-o` name that is not .csv, before any work (`what`: what the file holds).
pub fn csv_output(path: Option<&std::path::Path>, what: &str) -> anyhow::Result<()> {
    if let Some(path) = path
        && path
            .extension()
            .is_none_or(|e| !e.eq_ignore_ascii_case("csv"))
    {
        anyhow::bail!(
            "-o {}: {what} goes to a CSV file; name it .csv",
            path.display()
        );
    }
    Ok(())
}

/// The parser of a library value picked by name (`--metric cosine`): clap checks the name
/// against the library's list and shows each value's line in `--help`, as its `ValueEnum`
/// derive would, and the library turns the name into the value (clap stays out of the library).
pub fn choice<T: Choice>() -> impl TypedValueParser<Value = T> {
    let values = T::ALL.iter().map(|&v| match v.about() {
        "" => PossibleValue::new(v.name()),
        about => PossibleValue::new(v.name()).help(about),
    });
    PossibleValuesParser::new(values).try_map(|name| T::from_name(&name))
}

/// `--thumbnail-px` refused before any work, naming the flag (the library speaks of the size).
pub fn check_thumbnail_px(px: u32) -> anyhow::Result<()> {
    ivt::thumbs::tiers_for(px).with_context(|| format!("--thumbnail-px {px}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_thumbnail_side_names_the_flag_and_the_rule() {
        let err = format!(
            "{:#}",
            check_thumbnail_px(48).expect_err("not a power of two")
        );
        assert!(err.starts_with("--thumbnail-px 48: "), "{err}");
        assert!(err.contains("power of two"), "{err}");
        assert!(check_thumbnail_px(128).is_ok());
    }
}
