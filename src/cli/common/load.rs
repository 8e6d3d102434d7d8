//! Loading the data set a command names, with what it took reported on stderr; with `--model`,
//! an image folder becomes features through an ONNX encoder (cached), then a data set like any
//! other.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use ivt::cache::Cache;
use ivt::dataset::{self, DataSource, Dataset, Features, InputSpec};
use ivt::embed::{EmbedOptions, PreprocessSpec};

use super::args::{InputArgs, ModelArgs};
use super::progress::Bar;

/// The data set the arguments name: loaded, or with `--model`, embedded from its image folder.
pub fn load(input: &InputArgs, cache: &Cache) -> anyhow::Result<Dataset> {
    load_probing(input, cache, dataset::ProbeScope::All)
}

/// [`load`], reading the image headers `scope` says (the explorer reads a sample).
pub fn load_probing(
    input: &InputArgs,
    cache: &Cache,
    scope: dataset::ProbeScope,
) -> anyhow::Result<Dataset> {
    let Some(model) = &input.model.model else {
        let mut spec = input.spec();
        spec.probe_cache = Some(cache.clone());
        spec.probe_scope = scope;
        let data = load_timed(&spec)?;
        if let Some(file) = input
            .data
            .as_deref()
            .filter(|d| dataset::parquet::is_parquet(d))
            && input.options.vector_column.is_none()
            && let Ok(columns) = dataset::parquet::vector_columns(file)
            && let [only] = columns.as_slice()
        {
            eprintln!(
                "note: the vectors are column '{only}' of {}, the only one that holds vectors (choose with --vector-column NAME)",
                file.display()
            );
        }
        if let Some(dir) = input
            .data
            .as_deref()
            .filter(|d| ivt::dataset::projector::is_log_dir(d))
            && input.options.tensor.is_none()
            && let Ok(all) = ivt::dataset::projector::read::embeddings(dir)
            && all.len() > 1
        {
            eprintln!(
                "note: {} embeddings in this projector log; reading {:?} (choose with --tensor NAME; `ivt-explore info` lists them)",
                all.len(),
                data.name
            );
        }
        return Ok(data);
    };
    if input.options.allow_missing_images {
        anyhow::bail!(
            "--allow-missing-images does not apply with --model: an encoder cannot embed an image it cannot read; \
             fix or remove those files"
        );
    }
    let folder = image_folder(input)?;
    let mut spec = input.spec();
    spec.data = DataSource::Path(folder.clone());
    spec.probe_cache = Some(cache.clone());
    let (files, classes) = dataset::scan_images(&spec, &folder)
        .with_context(|| format!("cannot read the image folder {}", folder.display()))?;
    eprintln!(
        "{} images in {} ({})",
        files.paths.len(),
        folder.display(),
        files.order
    );
    let options = options(&input.model)?;
    let bar = Bar::with_rate("embedding");
    let started = Instant::now();
    let got = ivt::embed::embed_images(model, &files.paths, &options, cache, &bar)
        .map_err(with_flags)
        .with_context(|| format!("cannot embed the images of {}", folder.display()));
    drop(bar);
    let got = got?;
    for w in &got.report.warnings {
        eprintln!("warning: {w}");
    }
    let r = &got.report;
    let rate = if r.embedded > 0 && r.seconds > 0.0 {
        format!(", {:.0} images/s", r.embedded as f64 / r.seconds)
    } else {
        String::new()
    };
    eprintln!(
        "embedded {} images ({} from the cache) in {:.2} s{rate} → {} dimensions\n  model {}: {}\n  ONNX Runtime {}",
        r.embedded + r.cached,
        r.cached,
        started.elapsed().as_secs_f64(),
        got.dim,
        model.display(),
        r.description,
        r.runtime.display()
    );
    let n = files.paths.len();
    let features = Features::new(
        n,
        got.dim,
        got.vectors,
        "float32",
        model.clone(),
        &model.display().to_string(),
    )?;
    Ok(dataset::from_computed_features(
        &spec, features, files, classes,
    )?)
}

/// One image's embedding by the data set's encoder and preprocessing (`query --image`).
pub fn embed_one(input: &InputArgs, image: &Path, cache: &Cache) -> anyhow::Result<Vec<f32>> {
    let Some(encode) = encoder(&input.model, cache)? else {
        anyhow::bail!(
            "query by image needs the encoder that made the features: --model ENCODER.onnx \
             (with the same preprocessing options)"
        );
    };
    encode(image).map_err(anyhow::Error::msg)
}

/// The data set's encoder as a function of one image file (the explorer's query by image):
/// the options are checked now, the model is loaded per call. `None` without `--model`.
pub fn encoder(m: &ModelArgs, cache: &Cache) -> anyhow::Result<Option<EmbedOne>> {
    let Some(model) = m.model.clone() else {
        return Ok(None);
    };
    let options = options(m)?;
    let cache = cache.clone();
    Ok(Some(Box::new(move |image: &Path| {
        if !image.is_file() {
            return Err(format!("{}: no such image file", image.display()));
        }
        let got = ivt::embed::embed_images(&model, &[image.to_owned()], &options, &cache, &())
            .map_err(|e| format!("cannot embed {}: {:#}", image.display(), with_flags(e)))?;
        match got.report.warnings.first() {
            Some(w) => Err(format!("cannot embed {}: {w}", image.display())),
            None => Ok(got.vectors),
        }
    })))
}

/// One image file to its embedding, or why not.
pub type EmbedOne = Box<dyn Fn(&Path) -> Result<Vec<f32>, String> + Send + Sync>;

/// The image folder: DATA, or --images (the spelling `embed --images DIR` reads naturally).
fn image_folder(input: &InputArgs) -> anyhow::Result<PathBuf> {
    let folder = match (&input.data, &input.options.images) {
        (Some(d), Some(i)) if d != i => anyhow::bail!(
            "with --model, DATA is the image folder; give it once (DATA {} or --images {})",
            d.display(),
            i.display()
        ),
        (Some(d), _) => d.clone(),
        (None, Some(i)) => i.clone(),
        (None, None) => anyhow::bail!("--model needs an image folder: DATA or --images DIR"),
    };
    if !folder.is_dir() {
        anyhow::bail!(
            "{}: with --model, DATA must be a folder of images (flat, or root/<class>/<image>)",
            folder.display()
        );
    }
    Ok(folder)
}

fn options(m: &ModelArgs) -> anyhow::Result<EmbedOptions> {
    let flags = PreprocessSpec {
        preset: m.preset,
        size: m.input_size,
        resize: m.resize,
        crop_fraction: m.crop_fraction,
        channels: m.channels,
        range: m.range,
        mean: m.mean,
        std: m.std,
        layout: m.tensor_layout,
    };
    let spec = match &m.preprocess {
        Some(path) => PreprocessSpec::from_toml_file(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
            .overridden_by(&flags),
        None => flags,
    };
    // Checked here so a typo fails before the model is loaded.
    spec.resolve()
        .map_err(|e| anyhow::anyhow!("preprocessing: {e}"))?;
    Ok(EmbedOptions {
        preprocess: spec,
        batch_size: m.batch_size as usize,
        output: m.model_output.clone(),
        pooling: m.pool,
        l2_normalize: m.l2_normalize,
        device: m.device,
        threads: m.model_threads,
    })
}

/// Load with the elapsed time logged on stderr (stdout stays the summary alone).
pub fn load_timed(spec: &InputSpec) -> anyhow::Result<Dataset> {
    let start = Instant::now();
    let what = match &spec.data {
        dataset::DataSource::Demo => "the built-in demo".to_owned(),
        dataset::DataSource::Path(p) => p.display().to_string(),
    };
    let data = dataset::load(spec).with_context(|| format!("cannot load {what}"))?;
    eprintln!("loaded {what} in {:.2} s", start.elapsed().as_secs_f64());
    Ok(data)
}

/// An embedding error as the command line says it: the library speaks of the device, the
/// user chose it with `--device cuda`.
fn with_flags(e: ivt::embed::EmbedError) -> anyhow::Error {
    use ivt::embed::EmbedError;
    match e {
        EmbedError::NoCuda { .. } | EmbedError::Cuda(_) => {
            anyhow::Error::new(e).context("--device cuda")
        }
        other => other.into(),
    }
}

/// A second embedding of a data set's items (`compare B`, `open --compare B`): the file or
/// folder read with the first one's reading options (`--npz-key`, `--vector-column`,
/// `--tensor`) but not its images, classes or metadata, which are the first one's.
pub fn load_second(
    options: Option<&super::args::InputOptions>,
    path: &Path,
) -> anyhow::Result<Dataset> {
    let mut spec = match options {
        Some(o) => o.spec(Some(path.to_owned())),
        None => InputSpec::new(DataSource::Path(path.to_owned())),
    };
    spec.images = None;
    spec.sort_keys = None;
    spec.metadata = None;
    spec.labels = None;
    spec.image_column = None;
    load_timed(&spec)
}

/// Item i's class by name (codes index `names`), or "" without classes.
pub fn class_name<'a>(names: &'a [String], codes: Option<&[u32]>, i: usize) -> &'a str {
    codes
        .and_then(|c| names.get(c[i] as usize))
        .map_or("", String::as_str)
}

/// Item i's image file as the data set names it (relative to its image folder), or "" when
/// the items have no image files.
pub fn file_name(data: &Dataset, i: u32) -> String {
    data.images
        .relative_path(i as usize)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
