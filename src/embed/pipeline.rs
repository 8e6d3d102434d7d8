//! The embedding run: an opened model, batches decoded ahead on rayon, inference, and the
//! per-image vector cache.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use super::preprocess::{InputGeometry, Preprocess};
use super::{Device, EmbedError, EmbedOptions, EmbedReport, Embedding, Pooling, runtime};
use crate::cache::{Cache, CacheKey, FileIdentities, Lookup};
use crate::progress::Observer;

/// Bump when the way vectors are computed changes, so old cache entries miss.
const ALGORITHM_VERSION: u32 = 1;
/// Batches decoded ahead of the model: enough to hide a slow file, little memory.
const BATCHES_AHEAD: usize = 2;

/// An opened model: its session and what its input and output look like.
struct Encoder {
    session: Session,
    path: PathBuf,
    /// The ONNX Runtime library the session runs on, for the report.
    runtime: PathBuf,
    input: String,
    output: String,
    geometry: InputGeometry,
    preprocess: Preprocess,
    /// A batch size the model fixes (`Some(1)` for most TensorFlow exports).
    fixed_batch: Option<usize>,
    /// Hash of the model file, for the cache.
    model_hash: u128,
    pooling: Pooling,
}

impl Encoder {
    fn open(model: &Path, options: &EmbedOptions) -> Result<Self, EmbedError> {
        let runtime = runtime::get().map_err(EmbedError::Runtime)?;
        let bytes = std::fs::read(model).map_err(|source| EmbedError::ReadModel {
            path: model.to_owned(),
            source,
        })?;
        let model_err = |reason: String| EmbedError::Model {
            path: model.to_owned(),
            reason,
        };
        let threads = options.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        });
        let mut builder = Session::builder(&runtime.environment)
            .and_then(|b| {
                b.with_optimization_level(GraphOptimizationLevel::Level3)
                    .map_err(Into::into)
            })
            .and_then(|b| b.with_intra_threads(threads).map_err(Into::into))
            // Spinning threads would steal the cores the decoders need between batches.
            .and_then(|b| b.with_intra_op_spinning(false).map_err(Into::into))
            .map_err(|e| model_err(format!("cannot set up a session: {e}")))?;
        if options.device == Device::Cuda {
            use ort::ep::ExecutionProvider;
            let available = ort::ep::CUDA::is_available().unwrap_or(false);
            if !available {
                return Err(EmbedError::NoCuda {
                    library: runtime.library.clone(),
                });
            }
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(|e| EmbedError::Cuda(e.to_string()))?;
        }
        let session = builder
            .commit_from_memory(&bytes)
            .map_err(|e| model_err(format!("not a model ONNX Runtime can load: {e}")))?;

        let inputs = session.inputs();
        let [input] = inputs else {
            let names: Vec<&str> = inputs.iter().map(|i| i.name()).collect();
            return Err(model_err(format!(
                "the model has {} inputs ({}); an image encoder takes exactly one",
                names.len(),
                names.join(", ")
            )));
        };
        let dims: Vec<i64> = match (input.dtype().tensor_type(), input.dtype().tensor_shape()) {
            (Some(ort::value::TensorElementType::Float32), Some(shape)) => shape.to_vec(),
            (t, _) => {
                return Err(model_err(format!(
                    "input {:?} is {}; only float32 image tensors are supported",
                    input.name(),
                    t.map_or_else(|| "not a tensor".to_owned(), |t| format!("{t:?}"))
                )));
            }
        };
        let preprocess = options
            .preprocess
            .resolve()
            .map_err(EmbedError::Preprocess)?;
        let geometry = InputGeometry::resolve(&dims, &preprocess)
            .map_err(|r| model_err(format!("input {:?}: {r}", input.name())))?;
        let fixed_batch = (dims[0] > 0).then_some(dims[0] as usize);

        let outputs = session.outputs();
        let out = match &options.output {
            Some(name) => outputs.iter().find(|o| o.name() == name).ok_or_else(|| {
                let names: Vec<&str> = outputs.iter().map(|o| o.name()).collect();
                model_err(format!(
                    "no output named {name:?}; it has: {}",
                    names.join(", ")
                ))
            })?,
            None => outputs
                .first()
                .ok_or_else(|| model_err("the model has no outputs".to_owned()))?,
        };
        if out.dtype().tensor_type() != Some(ort::value::TensorElementType::Float32) {
            return Err(model_err(format!(
                "output {:?} is not a float32 tensor; choose another with {}",
                out.name(),
                crate::hint::OUTPUT
            )));
        }
        Ok(Self {
            path: model.to_owned(),
            runtime: runtime.library.clone(),
            input: input.name().to_owned(),
            output: out.name().to_owned(),
            geometry,
            preprocess,
            fixed_batch,
            model_hash: xxh3_128(&bytes),
            pooling: options.pooling,
            session,
        })
    }

    /// Run one batch (`n` items filled, the buffer possibly padded to a fixed batch size) and
    /// return `n` vectors.
    fn run(&mut self, batch: &[f32], n: usize) -> Result<(Vec<f32>, usize), String> {
        let rows = batch.len() / self.geometry.item_len();
        let shape = self.geometry.shape(rows);
        let tensor = TensorRef::from_array_view((shape, batch)).map_err(|e| e.to_string())?;
        let outputs = self
            .session
            .run(ort::inputs![self.input.as_str() => tensor])
            .map_err(|e| e.to_string())?;
        let (out_shape, values) = outputs[self.output.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(|e| e.to_string())?;
        let dims: Vec<usize> = out_shape.iter().map(|&d| d.max(0) as usize).collect();
        if dims.first() != Some(&rows) || dims.len() < 2 {
            return Err(format!(
                "output {:?} has shape {dims:?} for a batch of {rows}; expected [{rows}, …]",
                self.output
            ));
        }
        let per_item: usize = dims[1..].iter().product();
        let (dim, vectors) = match self.pooling {
            Pooling::Flatten => (per_item, values[..n * per_item].to_vec()),
            Pooling::Average => {
                let channels = dims[1];
                let spatial = per_item / channels.max(1);
                let mut v = Vec::with_capacity(n * channels);
                for item in values[..n * per_item].chunks_exact(per_item) {
                    for plane in item.chunks_exact(spatial) {
                        v.push(plane.iter().sum::<f32>() / spatial as f32);
                    }
                }
                (channels, v)
            }
        };
        Ok((vectors, dim))
    }

    fn cache_key(&self) -> CacheKey {
        let settings = format!(
            "{} | output {} | {:?} | v{ALGORITHM_VERSION}",
            self.preprocess.describe(&self.geometry),
            self.output,
            self.pooling
        );
        CacheKey::from_parts(
            "embed",
            &[&self.model_hash.to_le_bytes(), settings.as_bytes()],
        )
    }

    fn describe(&self) -> String {
        let batch = self.fixed_batch.map_or_else(String::new, |b| {
            format!(", batch fixed at {b} by the model")
        });
        format!(
            "input {:?}: {}{batch}; output {:?}, {} pooling",
            self.input,
            self.preprocess.describe(&self.geometry),
            self.output,
            match self.pooling {
                Pooling::Average => "average",
                Pooling::Flatten => "no (flattened)",
            }
        )
    }
}

/// Vectors cached for one model and preprocessing, by image identity.
struct VectorCache {
    dim: usize,
    rows: HashMap<u64, usize>,
    vectors: Vec<f32>,
}

impl VectorCache {
    fn load(cache: &Cache, key: &CacheKey, warnings: &mut Vec<String>) -> Option<Self> {
        match cache.load(key) {
            Lookup::Hit(bytes) => {
                let parsed = Self::from_bytes(&bytes);
                if parsed.is_none() {
                    warnings.push("the embedding cache entry is malformed; recomputing".to_owned());
                }
                parsed
            }
            Lookup::Miss => None,
            Lookup::Corrupt { path, reason } => {
                warnings.push(format!("{}: {reason}; recomputing", path.display()));
                None
            }
        }
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let word = |i: usize| -> Option<u64> {
            Some(u64::from_le_bytes(
                bytes.get(i * 8..i * 8 + 8)?.try_into().ok()?,
            ))
        };
        let dim = usize::try_from(word(0)?).ok()?;
        let n = usize::try_from(word(1)?).ok()?;
        let keys_end = n.checked_mul(8)?.checked_add(16)?;
        let end = n.checked_mul(dim)?.checked_mul(4)?.checked_add(keys_end)?;
        if bytes.len() != end || dim == 0 {
            return None;
        }
        let rows = bytes[16..keys_end]
            .chunks_exact(8)
            .enumerate()
            .map(|(i, k)| (u64::from_le_bytes(k.try_into().unwrap_or_default()), i))
            .collect();
        let vectors = bytes[keys_end..]
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap_or_default()))
            .collect();
        Some(Self { dim, rows, vectors })
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut order: Vec<(u64, usize)> = self.rows.iter().map(|(&k, &r)| (k, r)).collect();
        order.sort_unstable();
        let mut out = Vec::with_capacity(16 + order.len() * (8 + 4 * self.dim));
        out.extend_from_slice(&(self.dim as u64).to_le_bytes());
        out.extend_from_slice(&(order.len() as u64).to_le_bytes());
        for (k, _) in &order {
            out.extend_from_slice(&k.to_le_bytes());
        }
        for (_, r) in &order {
            for v in &self.vectors[r * self.dim..(r + 1) * self.dim] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    fn get(&self, key: u64) -> Option<&[f32]> {
        self.rows
            .get(&key)
            .map(|&r| &self.vectors[r * self.dim..(r + 1) * self.dim])
    }
}

/// A decoded, preprocessed batch on its way to the model.
struct Batch {
    /// Indices into the image list.
    items: Vec<usize>,
    tensor: Vec<f32>,
    failures: Vec<(PathBuf, String)>,
}

/// Embed every image of `paths` with `model`, reusing cached vectors; the vectors come back in
/// the order of `paths`. Nothing is returned (and nothing half-computed is used) unless every
/// image was embedded; vectors computed before a failure are kept in the cache.
pub fn embed_images(
    model: &Path,
    paths: &[PathBuf],
    options: &EmbedOptions,
    cache: &Cache,
    observer: &dyn Observer,
) -> Result<Embedding, EmbedError> {
    let started = Instant::now();
    let mut encoder = Encoder::open(model, options)?;
    let mut report = EmbedReport {
        runtime: encoder.runtime.clone(),
        description: encoder.describe(),
        ..Default::default()
    };
    // A model exported with a fixed batch size gets exactly that (padded at the end).
    let batch_size = encoder.fixed_batch.unwrap_or(options.batch_size.max(1));
    let key = encoder.cache_key();
    let mut store = VectorCache::load(cache, &key, &mut report.warnings);
    let ids = FileIdentities::new();
    let identities: Vec<u64> = paths.par_iter().map(|p| ids.of(p)).collect();
    let missing: Vec<usize> = (0..paths.len())
        .filter(|&i| {
            store
                .as_ref()
                .is_none_or(|s| s.get(identities[i]).is_none())
        })
        .collect();
    report.cached = paths.len() - missing.len();

    // Vectors computed now: item `fresh_items[r]`'s is row r of `fresh` (`dim` wide).
    let mut fresh_items: Vec<usize> = Vec::with_capacity(missing.len());
    let mut fresh: Vec<f32> = Vec::new();
    let mut dim = store.as_ref().map(|s| s.dim);
    let mut failures = Vec::new();
    let result = run_pipeline(
        &mut encoder,
        paths,
        &missing,
        batch_size,
        observer,
        |items, vectors, d| {
            if store.as_ref().is_some_and(|s| s.dim != d) {
                // Cached vectors of another length cannot belong to this model: stale.
                store = None;
            }
            if !fresh_items.is_empty() && dim != Some(d) {
                return Err(EmbedError::Model {
                    path: model.to_owned(),
                    reason: "the output size changed between batches".to_owned(),
                });
            }
            dim = Some(d);
            for (row, &i) in vectors.chunks_exact(d).zip(items) {
                if row.iter().any(|v| !v.is_finite()) {
                    return Err(EmbedError::NonFinite {
                        path: paths[i].clone(),
                    });
                }
                fresh_items.push(i);
                fresh.extend_from_slice(row);
            }
            Ok(())
        },
        &mut failures,
    );
    report.embedded = fresh_items.len();

    // Keep whatever was computed, even when the run failed part-way: the next run resumes.
    if let Some(d) = dim
        && !fresh_items.is_empty()
    {
        let mut merged = store.take().unwrap_or(VectorCache {
            dim: d,
            rows: HashMap::new(),
            vectors: Vec::new(),
        });
        let first_row = merged.vectors.len() / d;
        merged.vectors.extend_from_slice(&fresh);
        for (r, &i) in fresh_items.iter().enumerate() {
            merged.rows.insert(identities[i], first_row + r);
        }
        // A failure is the cache's to report, once per process.
        let _ = cache.store(&key, &merged.to_bytes());
        store = Some(merged);
    }
    result?;
    if !failures.is_empty() {
        return Err(EmbedError::Images { failures });
    }
    let (Some(dim), Some(store)) = (dim, store) else {
        // No images at all.
        return Ok(Embedding {
            vectors: Vec::new(),
            dim: 0,
            report,
        });
    };
    let mut vectors = Vec::with_capacity(paths.len() * dim);
    for &id in &identities {
        match store.get(id) {
            Some(v) => vectors.extend_from_slice(v),
            None => {
                return Err(EmbedError::Runtime(
                    "internal: an image's vector went missing".to_owned(),
                ));
            }
        }
    }
    if options.l2_normalize {
        for row in vectors.chunks_exact_mut(dim) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(Embedding {
        vectors,
        dim,
        report,
    })
}

/// Infer on a thread of its own while this thread decodes the next batches (in parallel on the
/// caller's rayon pool, so `ThreadPool::install` bounds the decoding threads); `sink` gets each
/// batch's items and vectors. Decode failures are collected; their batches run without them.
fn run_pipeline(
    encoder: &mut Encoder,
    paths: &[PathBuf],
    missing: &[usize],
    batch_size: usize,
    observer: &dyn Observer,
    mut sink: impl FnMut(&[usize], &[f32], usize) -> Result<(), EmbedError> + Send,
    failures: &mut Vec<(PathBuf, String)>,
) -> Result<(), EmbedError> {
    let total = missing.len() as u64;
    observer.progress(0, total);
    if missing.is_empty() {
        return Ok(());
    }
    let geometry = encoder.geometry;
    let preprocess = encoder.preprocess.clone();
    let item_len = geometry.item_len();
    let fixed = encoder.fixed_batch;
    let (tx, rx) = mpsc::sync_channel::<Batch>(BATCHES_AHEAD);
    std::thread::scope(|scope| {
        let inference = scope.spawn(move || -> Result<(), EmbedError> {
            let mut done = 0u64;
            for mut batch in rx.iter() {
                done += (batch.items.len() + batch.failures.len()) as u64;
                failures.append(&mut batch.failures);
                if !batch.items.is_empty() {
                    let n = batch.items.len();
                    // A model with a fixed batch size gets zero-padded batches; only the first
                    // `n` rows of its output are kept.
                    if let Some(f) = fixed {
                        batch.tensor.resize(f.max(n) * item_len, 0.0);
                    }
                    let (vectors, dim) = run_one(encoder, &batch.tensor, n, &batch.items, paths)?;
                    sink(&batch.items, &vectors, dim)?;
                }
                observer.progress(done, total);
                if observer.cancelled() {
                    return Err(EmbedError::Cancelled);
                }
            }
            Ok(())
        });
        for chunk in missing.chunks(batch_size) {
            if observer.cancelled() {
                break;
            }
            let mut tensor = vec![0.0f32; chunk.len() * item_len];
            let decoded: Vec<Result<(), String>> = tensor
                .par_chunks_mut(item_len)
                .zip(chunk)
                .map(|(out, &i)| {
                    let img = crate::dataset::decode_oriented(&paths[i])?;
                    preprocess.fill(&img, &geometry, out);
                    Ok(())
                })
                .collect();
            let mut batch = Batch {
                items: Vec::with_capacity(chunk.len()),
                tensor: Vec::new(),
                failures: Vec::new(),
            };
            if decoded.iter().all(Result::is_ok) {
                batch.items.extend_from_slice(chunk);
                batch.tensor = tensor;
            } else {
                // Rare: keep the readable items' rows only.
                for ((&i, r), row) in chunk.iter().zip(decoded).zip(tensor.chunks_exact(item_len)) {
                    match r {
                        Ok(()) => {
                            batch.items.push(i);
                            batch.tensor.extend_from_slice(row);
                        }
                        Err(reason) => batch.failures.push((paths[i].clone(), reason)),
                    }
                }
            }
            if tx.send(batch).is_err() {
                break; // Inference stopped (an error): stop decoding.
            }
        }
        drop(tx);
        inference.join().unwrap_or_else(|_| {
            Err(EmbedError::Runtime(
                "the inference thread panicked".to_owned(),
            ))
        })
    })
}

fn run_one(
    encoder: &mut Encoder,
    tensor: &[f32],
    n: usize,
    items: &[usize],
    paths: &[PathBuf],
) -> Result<(Vec<f32>, usize), EmbedError> {
    encoder
        .run(tensor, n)
        .map_err(|reason| EmbedError::Inference {
            path: encoder.path.clone(),
            first: items.first().map(|&i| paths[i].clone()).unwrap_or_default(),
            reason,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_cache_round_trips_and_rejects_damage() {
        let mut rows = HashMap::new();
        rows.insert(42u64, 0usize);
        rows.insert(7u64, 1usize);
        let c = VectorCache {
            dim: 2,
            rows,
            vectors: vec![1.0, 2.0, 3.0, 4.0],
        };
        let bytes = c.to_bytes();
        let back = VectorCache::from_bytes(&bytes).expect("parses");
        assert_eq!(back.get(42), Some(&[1.0, 2.0][..]));
        assert_eq!(back.get(7), Some(&[3.0, 4.0][..]));
        assert_eq!(back.get(1), None);
        assert!(VectorCache::from_bytes(&bytes[..bytes.len() - 1]).is_none());
        let mut huge = bytes.clone();
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(VectorCache::from_bytes(&huge).is_none(), "no overflow");
    }
}
