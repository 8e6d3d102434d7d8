//! What to label next, in the explorer (`L`, `--label-next`): the state behind the "label
//! next" panel.
//!
//! - **Next**: a batch of [`BATCH`] suggested items (the probe's [`Strategy`]), highlighted one
//!   at a time; keys 1–9 label the highlighted one and the highlight moves to the next
//!   unlabelled one, `→`/`←` skip. The batch is kept while the user works through it — a list
//!   that reshuffled after every refit would move the image under the key — and a new one is
//!   picked, from a probe fitted on every label given so far, once it is all labelled (or on
//!   `R`).
//! - **Label all**: the unlabelled items the probe gives a label with probability at least t,
//!   least sure first (the ones worth a look), labelled in one batch that Ctrl+Z undoes. Items
//!   the user labelled are never touched.

use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;
use rayon::prelude::*;

use super::job::Job;
use super::labels::{KeyTarget, LabelItems, Labels};
use super::probe::ProbeView;
use super::state::{SelectItem, Store};
use crate::dataset::ItemId;
use crate::labels::LabelState;
use crate::probe::{self, Probe, Strategy};

/// Suggestions per batch (the simulated labelling's step, benches/README.md).
pub const BATCH: usize = 10;
/// "Label all" starts here: a probe that sure is right on most items it gives the label.
pub const DEFAULT_THRESHOLD: f32 = 0.9;

/// The panel's two tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NextTab {
    #[default]
    Next,
    LabelAll,
}

/// The "label next" panel's state.
#[derive(Resource)]
pub struct LabelNext {
    pub open: bool,
    pub tab: NextTab,
    pub strategy: Strategy,
    /// The suggested items, best first.
    pub batch: Vec<u32>,
    /// Index into `batch` of the one the keys label.
    pub highlighted: usize,
    /// A new batch is wanted (the last is done, the strategy changed, or `R`): see
    /// [`LabelNext::ask_new_batch`].
    pub refresh: bool,
    /// Bumped on every ask: a batch picked for an older ask (another strategy, before `R`)
    /// is thrown away.
    asked: u64,
    suggesting: Option<(u64, Job<Suggested>)>,
    /// Why there is no batch (the strategy's label is unknown, a failure).
    pub error: Option<String>,
    /// The labels version the highlight was last checked against.
    seen_labels: u64,
    /// The item last selected for the highlight (select once per move, not every frame).
    selected: Option<u32>,
    pub all: LabelAll,
}

/// A picked batch, or why there is none.
type Suggested = Result<Vec<u32>, String>;

/// "Label all with p ≥ t".
#[derive(Debug, Clone, PartialEq)]
pub struct LabelAll {
    /// The label; `None`: the active label if the probe knows it, else its first.
    pub label: Option<String>,
    pub threshold: f32,
    /// The unlabelled items at or over the threshold, least sure first.
    pub items: Vec<u32>,
    /// What `items` was computed for: probe, label, threshold bits, labels version.
    key: Option<(usize, String, u32, u64)>,
    /// What the last "label them" did, and the labels version it was done at (shown until
    /// the labels change again: an undo hides it).
    pub done: Option<(u64, String)>,
}

impl Default for LabelNext {
    fn default() -> Self {
        Self {
            open: false,
            tab: NextTab::Next,
            strategy: Strategy::Diverse,
            batch: Vec::new(),
            highlighted: 0,
            refresh: true,
            asked: 0,
            suggesting: None,
            error: None,
            seen_labels: 0,
            selected: None,
            all: LabelAll {
                label: None,
                threshold: DEFAULT_THRESHOLD,
                items: Vec::new(),
                key: None,
                done: None,
            },
        }
    }
}

impl LabelNext {
    /// Opened at start (`--label-next`, `--label-all`).
    pub fn opened(strategy: Option<Strategy>, all: Option<(String, f32)>) -> Self {
        let mut next = Self {
            open: strategy.is_some() || all.is_some(),
            ..default()
        };
        if let Some(s) = strategy {
            next.strategy = s;
        }
        if let Some((label, t)) = all {
            next.tab = NextTab::LabelAll;
            next.all.label = Some(label);
            next.all.threshold = t;
        }
        next
    }

    /// The highlighted suggestion, if there is a batch to work through.
    pub fn highlighted_item(&self) -> Option<ItemId> {
        self.batch.get(self.highlighted).map(|&i| ItemId(i))
    }

    /// Nothing being fitted or picked (the capture waits for this while the panel is open).
    pub fn is_idle(&self, probe: &ProbeView, labels_version: u64) -> bool {
        !self.open
            || (self.suggesting.is_none()
                && probe.is_idle(labels_version)
                && (self.tab == NextTab::LabelAll
                    || !self.refresh
                    || self.error.is_some()
                    || probe.status.is_some()))
    }

    /// Ask for a new batch (a job picks it once the probe is fitted on the labels as they are).
    pub fn ask_new_batch(&mut self) {
        self.refresh = true;
        self.asked += 1;
    }

    /// Move the highlight by `step` (±1), wrapping.
    pub fn step(&mut self, step: isize) {
        let n = self.batch.len() as isize;
        if n > 0 {
            self.highlighted = (self.highlighted as isize + step).rem_euclid(n) as usize;
        }
    }

    /// The label "label all" gives: the chosen one, else the active label if the probe knows
    /// it, else the probe's first.
    pub fn all_label(&self, probe: &Probe, labels: &Labels) -> Option<String> {
        let known = |l: &str| probe.names.iter().any(|n| n == l);
        self.all
            .label
            .clone()
            .filter(|l| known(l))
            .or_else(|| labels.active_name().filter(|l| known(l)).map(str::to_owned))
            .or_else(|| probe.names.first().cloned())
    }
}

pub struct LabelNextPlugin {
    pub strategy: Option<Strategy>,
    pub all: Option<(String, f32)>,
}

impl Plugin for LabelNextPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(LabelNext::opened(self.strategy.clone(), self.all.clone()))
            .add_systems(
                Update,
                (
                    next_keys.run_if(not(egui_wants_any_keyboard_input)),
                    pick_batch,
                    follow_labels,
                    items_above_threshold,
                )
                    .chain()
                    // The key target for the next key press follows this frame's labels.
                    .after(super::labels::apply_label_messages),
            );
    }
}

/// `L` opens and closes the panel; while it shows a batch, `→`/`←` move the highlight and `R`
/// asks for a new batch.
fn next_keys(keys: Res<ButtonInput<KeyCode>>, mut next: ResMut<LabelNext>) {
    if keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]) {
        return;
    }
    if keys.just_pressed(KeyCode::KeyL) {
        next.open = !next.open;
    }
    if !next.open || next.tab != NextTab::Next {
        return;
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        next.step(1);
    }
    if keys.just_pressed(KeyCode::ArrowLeft) {
        next.step(-1);
    }
    if keys.just_pressed(KeyCode::KeyR) {
        next.ask_new_batch();
    }
}

/// After a label: on to the batch's next unlabelled item, or a new batch once none is left.
/// The keys' target and the selection follow the highlight.
fn follow_labels(
    store: Res<Store>,
    view: Res<ProbeView>,
    labels: Res<Labels>,
    mut next: ResMut<LabelNext>,
    mut target: ResMut<KeyTarget>,
    mut select: MessageWriter<SelectItem>,
) {
    if !next.open || next.tab != NextTab::Next {
        next.selected = None;
        target.set_if_neq(KeyTarget::Pointer);
        return;
    }
    if next.seen_labels != labels.version {
        next.seen_labels = labels.version;
        let unlabelled = |i: &u32| labels.state.get(ItemId(*i)).is_none();
        if next
            .batch
            .get(next.highlighted)
            .is_some_and(|i| !unlabelled(i))
        {
            let n = next.batch.len();
            let after = (1..n)
                .map(|s| (next.highlighted + s) % n)
                .find(|&h| unlabelled(&next.batch[h]));
            match after {
                Some(h) => next.highlighted = h,
                None => next.ask_new_batch(),
            }
        }
    }
    let item = next.highlighted_item().filter(|_| !next.refresh);
    // Waiting for a batch the probe will give: the keys wait too (the last item would take
    // them otherwise). With no probe to ask (too few labels), they label the map's points.
    let coming = store.probe.is_some() && view.status.is_none() && next.error.is_none();
    target.set_if_neq(match item {
        Some(i) => KeyTarget::Item(i),
        None if coming && next.refresh => KeyTarget::Nothing,
        None => KeyTarget::Pointer,
    });
    if let Some(i) = item
        && next.selected != Some(i.0)
    {
        next.selected = Some(i.0);
        select.write(SelectItem {
            item: Some(i),
            focus: false,
        });
    }
}

/// A new batch when one is wanted, from a probe fitted on the labels as they are (in a job:
/// the margin of 10⁶ items and the diverse pick's graph walk are not the frame's work).
fn pick_batch(
    store: Res<Store>,
    labels: Res<Labels>,
    view: Res<ProbeView>,
    mut next: ResMut<LabelNext>,
) {
    if let Some((asked, job)) = next.suggesting.as_mut() {
        let asked = *asked;
        let Some(result) = job.poll_result() else {
            return;
        };
        next.suggesting = None;
        if asked != next.asked {
            // Asked again meanwhile (another strategy, `R`): this batch answers the old ask.
            return;
        }
        match result {
            // Labels given while it ran (the lasso, the grid) may have taken some: the
            // highlight starts on the first still open, and a batch all taken is asked again.
            Ok(batch) => match batch
                .iter()
                .position(|&i| labels.state.get(ItemId(i)).is_none())
            {
                Some(first) => {
                    next.highlighted = first;
                    next.batch = batch;
                    next.refresh = false;
                    next.error = None;
                    next.selected = None;
                }
                None if batch.is_empty() => {
                    // Nothing left to suggest: every item is labelled.
                    next.batch = batch;
                    next.refresh = false;
                }
                None => {}
            },
            // Said in the panel; not retried until asked again (`R`, a strategy, a label).
            Err(e) => {
                next.error = Some(e);
                next.refresh = false;
            }
        }
        return;
    }
    if !next.open || !next.refresh || next.tab != NextTab::Next {
        return;
    }
    let Some(probe) = store.probe.clone().filter(|_| view.status.is_none()) else {
        return;
    };
    if !view.fit_is_current(labels.version) {
        return;
    }
    if let Strategy::Likely(l) = &next.strategy
        && let Err(e) = probe.code(l)
    {
        next.error = Some(e.to_string());
        return;
    }
    let labelled = probe::Labelled::of(&labels.state).mask(probe.n_items());
    let graph = store.graph.clone();
    let strategy = next.strategy.clone();
    let job = Job::spawn("suggestions", move || {
        probe::suggest(&probe, &strategy, BATCH, &labelled, graph.as_deref())
            .map_err(|e| e.to_string())
    });
    match job {
        Ok(job) => {
            next.suggesting = Some((next.asked, job));
            next.error = None;
        }
        Err(e) => {
            next.error = Some(e);
            next.refresh = false;
        }
    }
}

/// "Label all": the count and the preview's order, recomputed when the probe, the label, the
/// threshold or the labels change (a parallel pass; at 10⁶ items a few milliseconds, plus the
/// sort of what passes).
fn items_above_threshold(store: Res<Store>, labels: Res<Labels>, mut next: ResMut<LabelNext>) {
    if !next.open || next.tab != NextTab::LabelAll {
        return;
    }
    let Some(probe) = store.probe.as_ref() else {
        next.all.items.clear();
        next.all.key = None;
        return;
    };
    let Some(label) = next.all_label(probe, &labels) else {
        return;
    };
    let t = next.all.threshold;
    let key = (
        Arc::as_ptr(probe) as usize,
        label.clone(),
        t.to_bits(),
        labels.version,
    );
    if next.all.key.as_ref() == Some(&key) {
        return;
    }
    next.all.items = match probe.code(&label) {
        Ok(k) => items_above(probe, k, t, &labels.state),
        Err(_) => Vec::new(),
    };
    next.all.key = Some(key);
}

/// The unlabelled items whose probability of label `k` is at least `t`, least sure first.
pub fn items_above(probe: &Probe, k: usize, t: f32, state: &LabelState) -> Vec<u32> {
    let mut items: Vec<u32> = (0..probe.n_items() as u32)
        .into_par_iter()
        .filter(|&i| probe.row(i as usize)[k] >= t && state.get(ItemId(i)).is_none())
        .collect();
    items.par_sort_unstable_by(|&a, &b| {
        probe.row(a as usize)[k]
            .total_cmp(&probe.row(b as usize)[k])
            .then(a.cmp(&b))
    });
    items
}

/// The panel's "label them": one batch (one Ctrl+Z) giving every listed item the label.
pub fn label_all(
    next: &mut LabelNext,
    label: &str,
    labels_version: u64,
    out: &mut MessageWriter<LabelItems>,
) {
    let items: Vec<ItemId> = next.all.items.iter().map(|&i| ItemId(i)).collect();
    if items.is_empty() {
        return;
    }
    next.all.done = Some((
        labels_version,
        format!(
            "gave {} items the label {label} in one batch — Ctrl+Z undoes it",
            crate::viewer::filters::grouped(items.len())
        ),
    ));
    out.write(LabelItems {
        items,
        label: Some(label.to_owned()),
    });
}

#[cfg(test)]
mod tests;
