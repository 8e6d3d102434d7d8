//! Layouts and the kNN graph computed in the background, from and into the cache, animated.
//!
//! A job is a state machine (Rerun's pattern): `Idle → Running → Done | Failed`, started by a
//! [`RunLayout`] message (the layout panel, and once at start). The work runs on a thread of
//! its own ([`super::job`]; the numeric kernels use rayon inside it) and talks back through
//! [`JobShared`]: the stage, progress, the kNN graph as soon as it exists (the neighbour grid
//! does not wait for the layout), and snapshots of the coordinates while the optimiser runs, so
//! the points animate. The previous layout stays on screen until the new one starts moving.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bevy::prelude::*;

use super::job::Job;
use super::state::{LayoutCoords, Store};
use crate::cache::Cache;
use crate::dataset::Features;
use crate::knn::{self, KnnGraph, Metric};
use crate::layout::cached::{self, GraphSource, Origin};
use crate::layout::{
    LayoutInput, LayoutMethod, LayoutParams, LayoutStep, compute_layout, tsne, umap,
};
use crate::numeric::pca;
use crate::progress::{Observer, SharedProgress};
use std::ops::ControlFlow;

pub use crate::layout::cached::GRAPH_K;

/// What to compute.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutRequest {
    pub method: LayoutMethod,
    pub dims: usize,
    pub n_neighbors: usize,
    pub min_dist: f64,
    /// t-SNE.
    pub perplexity: f64,
    pub seed: u64,
}

impl Default for LayoutRequest {
    fn default() -> Self {
        Self {
            method: LayoutMethod::Umap,
            dims: 2,
            n_neighbors: 15,
            min_dist: 0.1,
            perplexity: 30.0,
            seed: 0,
        }
    }
}

impl LayoutRequest {
    pub fn label(&self) -> String {
        format!("{} {}D", self.method.label(), self.dims)
    }

    /// The engine's validated parameters.
    pub fn params(&self) -> Result<LayoutParams, String> {
        Ok(match self.method {
            LayoutMethod::Pca => LayoutParams::Pca { dims: self.dims },
            LayoutMethod::Tsne => LayoutParams::Tsne(
                tsne::params()
                    .dims(self.dims)
                    .perplexity(self.perplexity)
                    .seed(self.seed)
                    .check()
                    .map_err(|e| e.to_string())?,
            ),
            LayoutMethod::Umap => LayoutParams::umap(
                umap::UmapParams {
                    dims: self.dims,
                    min_dist: self.min_dist,
                    seed: self.seed,
                    ..umap::UmapParams::default()
                },
                self.n_neighbors,
            )
            .map_err(|e| format!("UMAP: {e}"))?,
        })
    }
}

/// Start a job (replacing a running one, whose result is then ignored). `None`: only the kNN
/// graph (a layout was loaded from a file).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct RunLayout(pub Option<LayoutRequest>);

/// Between the job and the app.
#[derive(Default)]
pub struct JobShared {
    pub stage: Mutex<String>,
    /// The current stage's progress, and the cancel flag: set when the job is replaced, it
    /// stops publishing and ends early where it can.
    pub progress: SharedProgress,
    pub graph: Mutex<Option<Arc<KnnGraph>>>,
    pub snapshot: Mutex<Option<Snapshot>>,
    /// A snapshot was published (the first one is logged).
    published: AtomicBool,
    /// Set by the app when nothing is on screen yet: on a cache miss the job then publishes a
    /// quick PCA preview before it computes the kNN graph (at 1 M items the graph and UMAP's
    /// start take ~45 s, the preview a fraction of a second).
    pub want_preview: bool,
    /// A preview was published.
    pub previewed: AtomicBool,
}

impl JobShared {
    fn set_stage(&self, stage: &str) {
        // Timestamps of the stages in the log: where an uncached launch spends its time.
        debug!("layout job: {stage}");
        if let Ok(mut s) = self.stage.lock() {
            stage.clone_into(&mut s);
        }
        self.progress.progress(0, 0);
    }

    fn publish(&self, coords: Vec<f32>, preview: bool) {
        if !self.published.swap(true, Ordering::Relaxed) {
            debug!("layout job: first snapshot (preview: {preview})");
        }
        if let Ok(mut s) = self.snapshot.lock() {
            *s = Some(Snapshot { coords, preview });
        }
    }

    pub fn stage(&self) -> String {
        self.stage.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Fraction done of the current stage, when known.
    pub fn fraction(&self) -> Option<f32> {
        let total = self.progress.total.load(Ordering::Relaxed);
        (total > 0).then(|| self.progress.done.load(Ordering::Relaxed) as f32 / total as f32)
    }
}

impl Observer for JobShared {
    fn progress(&self, done: u64, total: u64) {
        self.progress.progress(done, total);
    }

    fn cancelled(&self) -> bool {
        self.progress.cancelled()
    }
}

/// Coordinates published while a job runs.
pub struct Snapshot {
    pub coords: Vec<f32>,
    /// The quick PCA preview shown while the kNN graph is computed, not the method's own.
    pub preview: bool,
}

/// A finished job.
pub struct JobResult {
    /// `None` for a graph-only job.
    pub layout: Option<LayoutCoords>,
    pub graph: Option<Arc<KnnGraph>>,
    pub from_cache: bool,
    pub warnings: Vec<String>,
}

pub enum JobState {
    Idle,
    Running {
        task: Job<Result<JobResult, String>>,
        shared: Arc<JobShared>,
        started: Instant,
    },
    Done {
        elapsed_secs: f64,
        from_cache: bool,
    },
    Failed(String),
}

/// The layout job and the request it serves.
#[derive(Resource)]
pub struct LayoutJob {
    /// What the layout panel shows as the current request.
    pub request: LayoutRequest,
    pub state: JobState,
    /// Warnings of the last job (cache problems), shown in the panel.
    pub warnings: Vec<String>,
}

impl LayoutJob {
    /// One line on the job (and its progress, 0..1, while it runs), for the panels.
    pub fn status(&self, store: &Store) -> (String, Option<f32>) {
        let job = self;
        match &job.state {
            JobState::Idle => ("idle".to_owned(), None),
            JobState::Running {
                shared, started, ..
            } => (
                format!(
                    "{}… {:.1} s",
                    shared.stage(),
                    started.elapsed().as_secs_f64()
                ),
                shared.fraction(),
            ),
            JobState::Done {
                elapsed_secs,
                from_cache,
            } => {
                let what = store
                    .layout
                    .as_ref()
                    .map_or("layout".to_owned(), |l| l.label.clone());
                if *from_cache {
                    (format!("{what}: from the cache"), None)
                } else {
                    (format!("{what}: computed in {elapsed_secs:.1} s"), None)
                }
            }
            JobState::Failed(e) => (format!("failed: {e}"), None),
        }
    }

    pub fn is_running(&self) -> bool {
        matches!(self.state, JobState::Running { .. })
    }
}

/// The layout computed at start (`--dims`).
#[derive(Resource, Debug, Clone)]
pub struct InitialRequest(pub LayoutRequest);

pub struct LayoutJobPlugin;

impl Plugin for LayoutJobPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<RunLayout>()
            .insert_resource(LayoutJob {
                request: LayoutRequest::default(),
                state: JobState::Idle,
                warnings: Vec::new(),
            })
            .add_systems(Startup, start_initial_job)
            .add_systems(Update, (start_jobs, poll_job).chain());
    }
}

fn start_initial_job(
    store: Res<Store>,
    mut run: MessageWriter<RunLayout>,
    initial: Option<Res<InitialRequest>>,
    mut job: ResMut<LayoutJob>,
) {
    let mut request = initial.map(|r| r.0.clone()).unwrap_or_default();
    // A 3D layout needs three feature dimensions; fewer fall back to 2D.
    request.dims = request.dims.min(store.data.features.dim()).max(2);
    if let Some(loaded) = &store.layout {
        // A layout from a file: only the graph is computed (for the neighbour grid).
        request.dims = loaded.dims;
        job.request = request;
        run.write(RunLayout(None));
    } else {
        run.write(RunLayout(Some(request)));
    }
}

fn start_jobs(
    mut messages: MessageReader<RunLayout>,
    store: Res<Store>,
    mut job: ResMut<LayoutJob>,
) {
    let Some(RunLayout(request)) = messages.read().last().cloned() else {
        return;
    };
    if let JobState::Running { shared, .. } = &job.state {
        shared.progress.cancel.store(true, Ordering::Relaxed);
    }
    let shared = Arc::new(JobShared {
        want_preview: store.layout.is_none(),
        ..JobShared::default()
    });
    let data = Arc::clone(&store.data);
    let cache = store.cache.clone();
    let metric = store.metric;
    let have_graph = store.graph.clone();
    let given_graph = store.given_graph.clone();
    let req = request.clone();
    let task_shared = Arc::clone(&shared);
    let task = Job::spawn("layout", move || match &req {
        Some(req) => compute(
            &data.features,
            req,
            metric,
            Graphs {
                have: have_graph,
                given: given_graph,
            },
            &cache,
            &task_shared,
        ),
        None => compute_graph(&data.features, metric, have_graph, &cache, &task_shared),
    });
    if let Some(request) = request {
        job.request = request;
    }
    let task = match task {
        Ok(t) => t,
        Err(e) => {
            error!("layout failed: {e}");
            job.state = JobState::Failed(e);
            return;
        }
    };
    job.state = JobState::Running {
        task,
        shared,
        started: Instant::now(),
    };
}

/// Take snapshots, the graph and the final result from the running job.
fn poll_job(mut store: ResMut<Store>, mut job: ResMut<LayoutJob>) {
    let label = job.request.label();
    let dims = job.request.dims;
    let JobState::Running {
        task,
        shared,
        started,
    } = &mut job.state
    else {
        return;
    };
    if store.graph.is_none()
        && let Some(g) = shared.graph.lock().ok().and_then(|mut g| g.take())
    {
        store.graph = Some(g);
    }
    if let Some(snapshot) = shared.snapshot.lock().ok().and_then(|mut s| s.take()) {
        debug!(
            "layout job: snapshot taken (layout version {})",
            store.layout_version + 1
        );
        let state = if snapshot.preview {
            "PCA preview"
        } else {
            "optimising"
        };
        store.set_layout(LayoutCoords {
            dims,
            coords: snapshot.coords,
            label: format!("{label} ({state})"),
        });
    }
    let Some(result) = task.poll_result() else {
        return;
    };
    let elapsed_secs = started.elapsed().as_secs_f64();
    match result {
        Ok(done) => {
            if let Some(g) = done.graph {
                store.graph = Some(g);
            }
            for w in &done.warnings {
                warn!("{w}");
            }
            if let Some(layout) = done.layout {
                // Where the map came from, said once: a relaunch that recomputes shows here.
                let origin = if done.from_cache {
                    Origin::Cache
                } else {
                    Origin::Computed { secs: elapsed_secs }
                };
                info!("{}", origin.describe(&label));
                store.set_layout(layout);
            }
            job.warnings = done.warnings;
            job.state = JobState::Done {
                elapsed_secs,
                from_cache: done.from_cache,
            };
        }
        Err(e) => {
            error!("layout failed: {e}");
            job.state = JobState::Failed(e);
        }
    }
}

/// Rows the preview's principal axes are fitted on: enough for stable leading axes, and a
/// fit in milliseconds whatever N.
const PREVIEW_FIT_ROWS: usize = 20_000;

/// The features' leading principal axes (fitted on an evenly spaced sample of rows), every
/// item projected: what the map shows while the kNN graph is computed. `None` when the
/// features have fewer dimensions than the layout or too few items.
fn preview_layout(features: &Features, dims: usize) -> Option<Vec<f32>> {
    let (n, dim) = (features.n_items(), features.dim());
    if n < 2 || dims > dim {
        return None;
    }
    let rows = n.min(PREVIEW_FIT_ROWS);
    let mut sample = Vec::with_capacity(rows * dim);
    for i in 0..rows {
        sample.extend_from_slice(&features.row(i * n / rows));
    }
    let fitted = pca::fit(&sample, dim, dims).ok()?;
    Some(fitted.transform(&features.values()))
}

/// The graphs a layout job may start from.
#[derive(Default)]
pub struct Graphs {
    /// The graph the explorer holds now (the shared one, or the given one).
    pub have: Option<Arc<KnnGraph>>,
    /// The graph given with `--knn`: layouts are computed from it when it has the neighbours
    /// they need, as `ivt-explore layout --knn` does, and cached under its hash.
    pub given: Option<Arc<KnnGraph>>,
}

/// The job itself: cached layout, or kNN graph → `compute_layout`, with progress and
/// snapshots for the animation.
pub fn compute(
    features: &Features,
    req: &LayoutRequest,
    metric: Metric,
    graphs: Graphs,
    cache: &Cache,
    shared: &JobShared,
) -> Result<JobResult, String> {
    let n = features.n_items();
    let dims = req.dims;
    let params = req.params()?;
    let mut warnings = Vec::new();
    let given = graphs
        .given
        .filter(|g| params.knn_k(n).is_some_and(|k| g.k >= k));
    let source = match &given {
        Some(g) => GraphSource::Given(g),
        None => GraphSource::Shared(metric),
    };
    // The key `ivt-explore layout` uses for the same data and settings.
    let key = cached::key(&features.values(), features.dim(), &params, source);
    // One graph serves the layout and the neighbour grid: the larger k of the two.
    let graph_k = cached::graph_k(&params, n);
    let have_graph = graphs.have;
    let get_graph = |warnings: &mut Vec<String>| -> Result<Option<Arc<KnnGraph>>, String> {
        if let Some(g) = &have_graph
            && g.k >= graph_k
        {
            return Ok(Some(Arc::clone(g)));
        }
        if graph_k == 0 {
            return Ok(None);
        }
        shared.set_stage("kNN graph");
        let got = knn::cached::graph(
            features,
            &knn::cached::Request::auto(graph_k, metric),
            cache,
            shared,
        )
        .map_err(|e| format!("kNN graph: {e}"))?;
        warnings.extend(got.warnings);
        let g = Arc::new(got.graph);
        if let Ok(mut slot) = shared.graph.lock() {
            *slot = Some(Arc::clone(&g));
        }
        Ok(Some(g))
    };
    shared.set_stage("reading the cache");
    let (found, warning) = cached::load(cache, &key, n, dims);
    warnings.extend(warning);
    if let Some(l) = found {
        let graph = get_graph(&mut warnings)?;
        return Ok(JobResult {
            layout: Some(LayoutCoords {
                dims,
                coords: l.coords,
                label: req.label(),
            }),
            graph,
            from_cache: true,
            warnings,
        });
    }
    if shared.want_preview && req.method != LayoutMethod::Pca {
        shared.set_stage("PCA preview");
        if let Some(coords) = preview_layout(features, dims) {
            shared.publish(coords, true);
            shared.previewed.store(true, Ordering::Relaxed);
        }
    }
    let graph = get_graph(&mut warnings)?;
    shared.set_stage(req.method.label());
    let input = LayoutInput {
        features: &features.values(),
        dim: features.dim(),
        knn: given.as_deref().or(graph.as_deref()),
        init: None,
    };
    let mut on_step = |step: &LayoutStep<'_>| {
        // About 60 frames of animation whatever the iteration count.
        let every = (step.n_iter / 60).max(1);
        if step.iter % every == 1 || every == 1 {
            shared.publish(step.coords.to_vec(), false);
        }
        if shared.progress.cancel.load(Ordering::Relaxed) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let layout =
        compute_layout(&input, &params, shared, &mut on_step).map_err(|e| e.to_string())?;
    if shared.progress.cancel.load(Ordering::Relaxed) {
        return Err("replaced by a newer request".to_owned());
    }
    // A failure is the cache's to report (once per process); this result stands.
    let _ = cached::store(cache, &key, &layout);
    Ok(JobResult {
        layout: Some(LayoutCoords {
            dims,
            coords: layout.coords,
            label: req.label(),
        }),
        graph,
        from_cache: false,
        warnings,
    })
}

/// A graph-only job: the shared kNN graph, from the cache or computed.
pub fn compute_graph(
    features: &Features,
    metric: Metric,
    have_graph: Option<Arc<KnnGraph>>,
    cache: &Cache,
    shared: &JobShared,
) -> Result<JobResult, String> {
    let k = GRAPH_K.min(features.n_items().saturating_sub(1));
    if let Some(g) = have_graph.filter(|g| g.k >= k) {
        return Ok(JobResult {
            layout: None,
            graph: Some(g),
            from_cache: true,
            warnings: Vec::new(),
        });
    }
    if k == 0 {
        return Ok(JobResult {
            layout: None,
            graph: None,
            from_cache: false,
            warnings: Vec::new(),
        });
    }
    shared.set_stage("kNN graph");
    let got = knn::cached::graph(
        features,
        &knn::cached::Request::auto(k, metric),
        cache,
        shared,
    )
    .map_err(|e| format!("kNN graph: {e}"))?;
    Ok(JobResult {
        layout: None,
        graph: Some(Arc::new(got.graph)),
        from_cache: got.computed_secs.is_none(),
        warnings: got.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Features {
        let mut v = Vec::new();
        for i in 0..60 {
            let c = (i % 3) as f32 * 10.0;
            v.extend_from_slice(&[
                c + (i as f32 * 0.37).sin(),
                c + (i as f32 * 0.71).cos(),
                (i % 5) as f32 * 0.1,
            ]);
        }
        Features::new(60, 3, v, "float32", "blobs.npy", "blobs.npy").expect("features")
    }

    #[test]
    fn jobs_compute_then_come_from_the_cache() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::at(dir.path());
        let f = blobs();
        let req = LayoutRequest {
            n_neighbors: 8,
            ..LayoutRequest::default()
        };
        let shared = JobShared {
            want_preview: true,
            ..JobShared::default()
        };
        let first = compute(
            &f,
            &req,
            Metric::Euclidean,
            Graphs::default(),
            &cache,
            &shared,
        )
        .expect("job");
        assert!(!first.from_cache);
        assert!(shared.previewed.load(Ordering::Relaxed));
        assert_eq!(first.layout.as_ref().map(|l| l.coords.len()), Some(60 * 2));
        assert_eq!(first.graph.as_ref().map(|g| g.k), Some(30));
        // The optimiser published intermediate coordinates for the animation.
        assert!(shared.snapshot.lock().expect("lock").is_some());
        let cached = JobShared {
            want_preview: true,
            ..JobShared::default()
        };
        let second = compute(
            &f,
            &req,
            Metric::Euclidean,
            Graphs::default(),
            &cache,
            &cached,
        )
        .expect("job");
        assert!(second.from_cache);
        // A cached layout is shown as it is: no preview first.
        assert!(!cached.previewed.load(Ordering::Relaxed));
        assert_eq!(second.layout, first.layout);
        // Other parameters: another entry.
        let pca = LayoutRequest {
            method: LayoutMethod::Pca,
            dims: 3,
            ..req
        };
        let third = compute(
            &f,
            &pca,
            Metric::Euclidean,
            Graphs::default(),
            &cache,
            &JobShared::default(),
        )
        .expect("job");
        assert!(!third.from_cache);
        assert_eq!(third.layout.map(|l| l.dims), Some(3));
    }

    #[test]
    fn the_preview_is_the_principal_plane_of_every_item() {
        let f = blobs();
        let preview = preview_layout(&f, 2).expect("preview");
        assert_eq!(preview.len(), 60 * 2);
        // With every row in the sample it is the full PCA.
        let full = pca::fit(&f.values(), 3, 2)
            .expect("pca")
            .transform(&f.values());
        for (a, b) in preview.iter().zip(&full) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
        // The three blobs, 10 apart along the diagonal, are apart along the first axis.
        let first_axis = |i: usize| preview[2 * i];
        assert!((first_axis(0) - first_axis(1)).abs() > 5.0);
        // More dimensions than the features have: no preview.
        assert!(preview_layout(&f, 4).is_none());
    }
}
