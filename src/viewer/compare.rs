//! `open A --compare B`: a second embedding of the same items, compared with the first in the
//! background — B's kNN graph, each item's share of neighbours kept (`metrics::compare`), and
//! B's layout started from A's and aligned to it — then shown by a morph between the two maps
//! (`M`, the top bar's slider: every point moves from its place in A to its place in B, the
//! camera stays) and by colouring the map by how much each neighbourhood changed
//! (`--color-by compare:overlap`), and by the list of the items that changed most (`C`,
//! `ui/changed.rs`) — and side by side (`B`, `--view split`: A's map on the left, B's on the
//! right, one camera for both; `camera/split.rs`).
//!
//! While the morph moves, the points are blended on the GPU (`Store::morph`: how far from the
//! store's layout towards A's or B's map; the rings follow on the CPU, the thumbnails wait):
//! nothing of N is done per frame. When it stops, the blend is written into the store's layout
//! once, and every view (thumbnails, picking, the lasso) follows it as it follows a new layout.
//! A new layout of A makes the comparison's layouts stale: the morph goes back to A and the
//! comparison runs again.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;

use super::camera::{Bounds, ViewSettings};
use super::colors::ColorSource;
use super::job::Job;
use super::layout_job::{JobState, LayoutJob, LayoutRequest};
use super::state::{ColorState, LayoutCoords, Morph, Store};
use crate::cache::Cache;
use crate::dataset::Features;
use crate::knn::{self, KnnGraph, Metric};
use crate::layout::cached::{self, GraphSource};
use crate::layout::{LayoutInput, LayoutMethod, compute_layout};
use crate::metrics::compare::{Comparison, compare};
use crate::numeric::procrustes;

/// Neighbours per item the two spaces are compared on (as `ivt-explore compare`'s default).
pub const COMPARE_K: usize = 10;
/// Seconds a morph from one map to the other takes.
const MORPH_SECS: f32 = 1.2;

/// What the comparison found.
pub struct CompareResult {
    pub graph_b: Arc<KnnGraph>,
    pub comparison: Arc<Comparison>,
    /// The mean share of neighbours kept (the top bar's figure, read every frame).
    pub mean_overlap: f64,
    /// The maps the morph runs between: A's when the comparison started, and B's, started
    /// from it and aligned to it.
    /// Shared (not copied) with the store's `layout_b` and a morph heading for either.
    pub layout_a: Arc<LayoutCoords>,
    pub layout_b: Arc<LayoutCoords>,
}

pub enum CompareState {
    /// Waiting for A's graph and settled layout.
    Waiting,
    Running {
        task: Job<Result<CompareResult, String>>,
        started: Instant,
    },
    Done(Arc<CompareResult>),
    Failed(String),
}

/// The second embedding and where the map stands between the two.
#[derive(Resource)]
pub struct CompareView {
    pub b: Arc<Features>,
    /// What to call B (its file name).
    pub name: String,
    pub state: CompareState,
    /// Where the map is between A (0) and B (1)…
    pub t: f32,
    /// …and where it is heading.
    pub target: f32,
    /// The `t` the store's layout shows.
    shown: f32,
    /// `t` in the previous frame: a morph settles when it stops changing.
    prev_t: f32,
    /// The store's layout version the comparison and the map at `shown` belong to: another
    /// (a new layout of A, however quickly it came) makes them stale.
    based_on: u64,
    /// Colour by the overlap once the comparison is done (`--color-by compare:overlap`).
    pub color_when_ready: bool,
    /// The "changed most" list under the map.
    pub list: ChangedList,
}

/// The "changed most" list's state: open (`C`, `--changed-most`), and the class it shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangedList {
    pub open: bool,
    /// One class's items only (its code); `None`: every item.
    pub class: Option<u32>,
}

impl CompareView {
    pub fn new(
        b: Arc<Features>,
        name: String,
        start_at: f32,
        color_when_ready: bool,
        list_open: bool,
    ) -> Self {
        let t = start_at.clamp(0.0, 1.0);
        Self {
            b,
            name,
            state: CompareState::Waiting,
            t: 0.0,
            target: t,
            shown: 0.0,
            prev_t: 0.0,
            based_on: 0,
            color_when_ready,
            list: ChangedList {
                open: list_open,
                class: None,
            },
        }
    }

    pub fn result(&self) -> Option<&Arc<CompareResult>> {
        match &self.state {
            CompareState::Done(r) => Some(r),
            _ => None,
        }
    }

    /// One line for the top bar.
    pub fn status(&self) -> String {
        match &self.state {
            CompareState::Waiting => format!("{}: waiting for the map", self.name),
            CompareState::Running { started, .. } => format!(
                "comparing with {}… {:.1} s",
                self.name,
                started.elapsed().as_secs_f64()
            ),
            CompareState::Done(r) => {
                format!("{}: mean overlap {:.2}", self.name, r.mean_overlap)
            }
            CompareState::Failed(e) => format!("{}: {e}", self.name),
        }
    }

    /// Nothing left to compute or to move (the capture waits for this).
    pub fn is_idle(&self) -> bool {
        matches!(self.state, CompareState::Done(_) | CompareState::Failed(_))
            && self.t == self.target
            && self.shown == self.t
    }

    /// Run the morph to the other map.
    pub fn toggle(&mut self) {
        self.target = if self.target < 0.5 { 1.0 } else { 0.0 };
    }
}

pub struct ComparePlugin;

impl Plugin for ComparePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            Update,
            (
                start_compare,
                poll_compare,
                (morph_key, list_key, split_key).run_if(not(egui_wants_any_keyboard_input)),
                animate_morph,
            )
                .chain(),
        );
    }
}

/// Start once A's map has settled (and again after a new one).
fn start_compare(mut store: ResMut<Store>, job: Res<LayoutJob>, mut view: ResMut<CompareView>) {
    // A new map of A (on its way, or already there): the comparison's maps are stale, and the
    // morph goes back to A.
    let stale = !matches!(view.state, CompareState::Waiting)
        && (job.is_running() || store.layout_version != view.based_on);
    if stale {
        view.state = CompareState::Waiting;
        (view.t, view.target, view.shown, view.prev_t) = (0.0, 0.0, 0.0, 0.0);
        store.set_layout_b(None);
        store.compared_extent = None;
        store.morph = None;
    }
    if job.is_running() {
        return;
    }
    if !matches!(view.state, CompareState::Waiting) || !matches!(job.state, JobState::Done { .. }) {
        return;
    }
    let (Some(layout), Some(graph)) = (store.layout.clone(), store.graph.clone()) else {
        return;
    };
    view.based_on = store.layout_version;
    let b = Arc::clone(&view.b);
    let request = job.request.clone();
    let codes = store.data.classes.as_ref().map(|c| c.labels.codes.clone());
    let (metric, cache) = (store.metric, store.cache.clone());
    let name = view.name.clone();
    let task = Job::spawn("compare", move || {
        run(
            &graph,
            (&b, &name),
            layout,
            &request,
            codes.as_deref(),
            metric,
            &cache,
        )
    });
    view.state = match task {
        Ok(task) => CompareState::Running {
            task,
            started: Instant::now(),
        },
        Err(e) => CompareState::Failed(e),
    };
}

/// The comparison itself, on a thread of its own (B: its features, and what to call its map).
fn run(
    graph_a: &KnnGraph,
    (b, name): (&Features, &str),
    layout_a: LayoutCoords,
    request: &LayoutRequest,
    codes: Option<&[u32]>,
    metric: Metric,
    cache: &Cache,
) -> Result<CompareResult, String> {
    let n = b.n_items();
    // B's graph with A's k, so B's layout reads what A's did (and the cache shares it with
    // `ivt-explore knn B -k K`).
    let got = knn::cached::graph(
        b,
        &knn::cached::Request::auto(graph_a.k, metric),
        cache,
        &(),
    )
    .map_err(|e| format!("B's kNN graph: {e}"))?;
    let graph_b = Arc::new(got.graph);
    let comparison =
        compare(graph_a, &graph_b, COMPARE_K.min(graph_a.k), codes).map_err(|e| e.to_string())?;
    let dims = layout_a.dims;
    let params = LayoutRequest {
        dims,
        ..request.clone()
    }
    .params()?;
    let values = b.values();
    // t-SNE and UMAP start from A's map, so that what did not change starts where it is.
    let init = (request.method != LayoutMethod::Pca).then_some(layout_a.coords.as_slice());
    let key = cached::key_from(&values, b.dim(), &params, GraphSource::Shared(metric), init);
    let mut coords = match cached::load(cache, &key, n, dims).0 {
        Some(found) => found.coords,
        None => {
            let input = LayoutInput {
                features: &values,
                dim: b.dim(),
                knn: Some(&graph_b),
                init,
            };
            let layout = compute_layout(&input, &params, &(), &mut |_| ControlFlow::Continue(()))
                .map_err(|e| format!("B's layout: {e}"))?;
            // A failure is the cache's to report; this result stands.
            let _ = cached::store(cache, &key, &layout);
            layout.coords
        }
    };
    // Aligned on the items whose neighbourhoods held (weight: overlap²): they stay where they
    // were, the ones that changed are seen to move.
    let weights: Vec<f32> = comparison.overlap.iter().map(|o| o * o).collect();
    if let Some(fit) = procrustes::fit(&coords, &layout_a.coords, dims, Some(&weights)) {
        fit.apply(&mut coords);
    }
    Ok(CompareResult {
        graph_b,
        mean_overlap: comparison.summary(None).mean_overlap,
        comparison: Arc::new(comparison),
        layout_b: Arc::new(LayoutCoords {
            dims,
            coords,
            label: format!("{} of {name}", layout_a.label),
        }),
        layout_a: Arc::new(layout_a),
    })
}

fn poll_compare(
    mut view: ResMut<CompareView>,
    mut store: ResMut<Store>,
    mut color: ResMut<ColorState>,
) {
    let CompareState::Running { task, started } = &mut view.state else {
        return;
    };
    let Some(result) = task.poll_result() else {
        return;
    };
    let secs = started.elapsed().as_secs_f64();
    match result {
        Ok(done) => {
            info!("compared with {} in {secs:.1} s", view.name);
            store.comparison = Some(Arc::clone(&done.comparison));
            store.compared_extent = Bounds::of(&done.layout_a)
                .zip(Bounds::of(&done.layout_b))
                .map(|(a, b)| a.union(&b))
                .map(|e| [e.min, e.max]);
            store.set_layout_b(Some(Arc::clone(&done.layout_b)));
            view.state = CompareState::Done(Arc::new(done));
            if std::mem::take(&mut view.color_when_ready)
                && let Err(e) = color.set_source(ColorSource::Compare, &store)
            {
                warn!("{e}");
            }
        }
        Err(e) => {
            error!("comparison with {} failed: {e}", view.name);
            view.state = CompareState::Failed(e);
        }
    }
}

/// `M`: morph to the other map.
fn morph_key(keys: Res<ButtonInput<KeyCode>>, mut view: ResMut<CompareView>) {
    if keys.just_pressed(KeyCode::KeyM) && view.result().is_some() {
        view.toggle();
    }
}

/// `B`: the split view on or off. Turning it on brings the morph back to A's map, so the two
/// halves show A and B.
fn split_key(
    keys: Res<ButtonInput<KeyCode>>,
    mut settings: ResMut<ViewSettings>,
    mut view: ResMut<CompareView>,
) {
    if keys.just_pressed(KeyCode::KeyB) && view.result().is_some() {
        toggle_split(&mut settings, &mut view);
    }
}

/// The split view on or off (the key and the top bar's button).
pub fn toggle_split(settings: &mut ViewSettings, view: &mut CompareView) {
    settings.split = !settings.split;
    if settings.split {
        view.target = 0.0;
    }
    // Half the room (or twice): fit both maps to it, wherever the user had moved the view.
    settings.fit_requested = true;
}

/// `C`: the "changed most" list, open or closed (not with Ctrl: that copies).
fn list_key(keys: Res<ButtonInput<KeyCode>>, mut view: ResMut<CompareView>) {
    if keys.just_pressed(KeyCode::KeyC)
        && !keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight])
    {
        view.list.open = !view.list.open;
    }
}

/// Move `t` towards its target. While it moves the points are drawn at `t` by the GPU (the
/// store's `morph`); once it holds still the store's layout becomes the map at `t`.
fn animate_morph(
    time: Res<Time>,
    mut view: ResMut<CompareView>,
    mut store: ResMut<Store>,
    mut settings: ResMut<ViewSettings>,
) {
    let Some(result) = view.result().cloned() else {
        return;
    };
    let step = time.delta_secs() / MORPH_SECS;
    let (t, target) = (view.t, view.target);
    if t != target {
        view.t = if t < target {
            (t + step).min(target)
        } else {
            (t - step).max(target)
        };
    }
    let moving = view.t != view.prev_t;
    view.prev_t = view.t;
    if view.t == view.shown {
        if store.morph.is_some() {
            store.morph = None;
        }
        return;
    }
    // The camera stays: the eye follows the points, not the frame.
    settings.user_moved = true;
    if moving {
        let morph = morph_towards(&result.layout_a, &result.layout_b, view.shown, view.t);
        if store.morph.as_ref() != Some(&morph) {
            store.morph = Some(morph);
        }
        return;
    }
    let t = view.t;
    let a = &result.layout_a;
    let coords = a
        .coords
        .iter()
        .zip(&result.layout_b.coords)
        .map(|(&p, &q)| p + (q - p) * t)
        .collect();
    let label = match t {
        0.0 => a.label.clone(),
        1.0 => result.layout_b.label.clone(),
        _ => format!("{} morphing to {} {:.0}%", a.label, view.name, t * 100.0),
    };
    store.set_layout(LayoutCoords {
        dims: a.dims,
        coords,
        label,
    });
    store.morph = None;
    view.shown = t;
    view.based_on = store.layout_version;
}

/// The map at `t` as a blend of the map at `shown` (the store's layout) and the end it moves
/// towards: A's (t = 0) or B's (t = 1). The blend of two blends of A and B is one.
fn morph_towards(a: &Arc<LayoutCoords>, b: &Arc<LayoutCoords>, shown: f32, t: f32) -> Morph {
    let (end, to) = if t > shown { (1.0, b) } else { (0.0, a) };
    Morph {
        s: ((t - shown) / (end - shown)).clamp(0.0, 1.0),
        to: Arc::clone(to),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_opens_and_closes_the_changed_most_list_but_not_with_ctrl() {
        let b = Features::new(2, 1, vec![0.0, 1.0], "float32", "b.npy", "b.npy").expect("b");
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<ButtonInput<KeyCode>>()
            .insert_resource(CompareView::new(Arc::new(b), "b".into(), 0.0, false, false))
            .insert_resource(ViewSettings::new(crate::viewer::ViewMode::TwoD))
            .add_systems(Update, (list_key, split_key));
        let press = |app: &mut App, keys: &[KeyCode]| {
            crate::viewer::press_keys(app, keys);
            app.world().resource::<CompareView>().list.open
        };
        assert!(press(&mut app, &[KeyCode::KeyC]));
        assert!(
            press(&mut app, &[KeyCode::ControlLeft, KeyCode::KeyC]),
            "Ctrl+C copies"
        );
        assert!(!press(&mut app, &[KeyCode::KeyC]));
    }

    #[test]
    fn a_morph_from_any_shown_map_draws_the_map_at_t() {
        use crate::dataset::ItemId;
        // One item: at (0, 0) in A, (10, 20) in B.
        let map = |x, y| Arc::new(crate::viewer::state::test_layout(vec![x, y], 2));
        let (a, b) = (map(0.0, 0.0), map(10.0, 20.0));
        let at = |t: f32| Vec3::new(10.0 * t, 20.0 * t, 0.0);
        for (shown, t) in [
            (0.0, 0.3),
            (0.5, 0.8),
            (0.5, 0.2),
            (1.0, 0.4),
            (0.25, 1.0),
            (0.7, 0.0),
        ] {
            let layout = crate::viewer::state::test_layout(vec![10.0 * shown, 20.0 * shown], 2);
            let m = morph_towards(&a, &b, shown, t);
            let start = layout.position(ItemId(0));
            let drawn = start.lerp(m.to.position(ItemId(0)), m.s);
            assert!(
                drawn.distance(at(t)) < 1e-4,
                "shown {shown}, t {t}: drawn at {drawn}, not {}",
                at(t)
            );
        }
    }

    /// A view whose comparison is done: A's map `layout_a`, B's `coords_b`, started at `t`.
    fn compared(layout_a: LayoutCoords, coords_b: Vec<f32>, t: f32) -> CompareView {
        let n = layout_a.n_items();
        let graph = KnnGraph {
            k: 1,
            metric: Metric::Euclidean,
            indices: (0..n as u32).map(|i| (i + 1) % n as u32).collect(),
            distances: vec![1.0; n],
        };
        let result = CompareResult {
            graph_b: Arc::new(graph),
            comparison: Arc::new(Comparison {
                k: 1,
                overlap: vec![1.0; n],
                order: (0..n as u32).collect(),
                rank: (1..=n as u32).collect(),
                votes: None,
            }),
            mean_overlap: 1.0,
            layout_b: Arc::new(LayoutCoords {
                dims: layout_a.dims,
                coords: coords_b,
                label: "b".into(),
            }),
            layout_a: Arc::new(layout_a),
        };
        let b = Features::new(n, 1, vec![0.0; n], "float32", "b.npy", "b.npy").expect("b");
        let mut view = CompareView::new(Arc::new(b), "b".into(), t, false, false);
        view.state = CompareState::Done(Arc::new(result));
        view
    }

    #[test]
    fn a_moving_morph_is_drawn_by_the_gpu_and_written_into_the_layout_once_still() {
        use crate::dataset::ItemId;
        use crate::viewer::state::MapSide;
        let data = crate::viewer::probe::tests::data();
        let n = data.n_items();
        let layout_a = crate::viewer::state::test_layout(vec![1.0; n * 2], 2);
        // B: every item 10 to the right.
        let coords_b: Vec<f32> = (0..n).flat_map(|_| [11.0, 1.0]).collect();
        let view = compared(layout_a.clone(), coords_b, 0.0);
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins(crate::viewer::app::ExplorerStatePlugin {
                options: crate::viewer::ViewerOptions {
                    layout: Some(layout_a),
                    ..default()
                },
                data: Arc::new(data),
            })
            .insert_resource(view)
            .add_systems(Update, animate_morph);
        let item = ItemId(7);
        let step = |app: &mut App, t: f32| {
            let mut view = app.world_mut().resource_mut::<CompareView>();
            (view.t, view.target) = (t, t);
            app.update();
            let store = app.world().resource::<Store>();
            let layout = store.layout.as_ref().expect("layout");
            (
                store.layout_version,
                layout.position(item).x,
                store.morph.as_ref().map(|m| m.s),
                store.drawn_position(MapSide::A, layout, item).x,
            )
        };
        let v0 = app.world().resource::<Store>().layout_version;
        // Moving: the layout stays, the points are drawn half way by the GPU (s = 0.5).
        assert_eq!(step(&mut app, 0.5), (v0, 1.0, Some(0.5), 6.0));
        // Still for a frame: the map at 0.5 is the layout now, nothing left to blend.
        assert_eq!(step(&mut app, 0.5), (v0 + 1, 6.0, None, 6.0));
        // Back towards A from there: 0.2 is 60 % of the way from 0.5 to 0.
        let (version, x, s, drawn) = step(&mut app, 0.2);
        assert_eq!((version, x), (v0 + 1, 6.0));
        assert!((s.expect("moving") - 0.6).abs() < 1e-6 && (drawn - 3.0).abs() < 1e-5);
    }

    #[test]
    fn b_splits_the_view_and_brings_the_morph_back_to_a() {
        let layout = crate::viewer::state::test_layout(vec![0.0, 0.0, 1.0, 1.0], 2);
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .init_resource::<ButtonInput<KeyCode>>()
            .insert_resource(compared(layout, vec![5.0, 5.0, 1.0, 1.0], 1.0))
            .insert_resource(ViewSettings::new(crate::viewer::ViewMode::TwoD))
            .add_systems(Update, split_key);
        let press = |app: &mut App| {
            crate::viewer::press_keys(app, &[KeyCode::KeyB]);
            (
                app.world().resource::<ViewSettings>().split,
                app.world().resource::<CompareView>().target,
            )
        };
        // Started on B's map (--morph 1): split, the left half goes back to A's.
        assert_eq!(press(&mut app), (true, 0.0));
        app.world_mut().resource_mut::<CompareView>().target = 0.7;
        // Off: the morph is left where the user put it.
        assert_eq!(press(&mut app), (false, 0.7));
        // Nothing to split before the comparison is done.
        app.world_mut().resource_mut::<CompareView>().state = CompareState::Waiting;
        assert_eq!(press(&mut app), (false, 0.7));
    }
}
