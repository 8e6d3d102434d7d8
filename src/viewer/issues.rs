//! The data-quality lens in the explorer: the audit ([`crate::quality`]) computed in the
//! background the first time the issues panel or a score colouring asks for it, its findings
//! as lists worst first (one per issue type), and what the user does with them — accept a
//! suggested class into the labels journal (undoable like any label), mark a finding "not an
//! issue" (kept in the labels folder so it is not shown again), step through the list.
//!
//! Keys (when the panel is open): `I` opens and closes it, `Y` accepts the suggested class,
//! `K` keeps the item as it is (not an issue), `↓`/`↑` step to the next or previous finding.
//! The fidelity scores follow the layout: when a new layout has settled they are recomputed
//! alone (the rest of the audit does not depend on the map).

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;

use super::colors::{ColorSource, Score};
use super::job::{Job, Polled};
use super::labels::{LabelItems, Labels};
use super::layout_job::LayoutJob;
use super::state::{ColorState, SelectItem, Selection, Store};
use crate::dataset::{ColumnValues, ItemId};
use crate::quality::dismissed::{Dismissed, IssueKind};
use crate::quality::{self, Audit, AuditInput, Fidelity};

/// Neighbours every score uses (fewer when the graph holds fewer).
pub const AUDIT_K: usize = 10;
/// Outliers and fidelity rank every item; the lists hold the worst hundredth (at least this
/// many): past that the "issues" are the ordinary tail.
const MIN_RANKED: usize = 10;

/// One tab of the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum IssueTab {
    /// Labels the neighbours disagree with.
    #[default]
    Labels,
    /// Groups of (near) copies.
    Duplicates,
    /// Items far from their neighbours.
    Outliers,
    /// Items whose original neighbours the map tears apart.
    Fidelity,
    /// Duplicate groups across the train/val/test split.
    Leaks,
}

impl IssueTab {
    pub const ALL: [Self; 5] = [
        Self::Labels,
        Self::Duplicates,
        Self::Outliers,
        Self::Fidelity,
        Self::Leaks,
    ];

    pub fn kind(self) -> IssueKind {
        match self {
            Self::Labels => IssueKind::Label,
            Self::Duplicates => IssueKind::Duplicate,
            Self::Outliers => IssueKind::Outlier,
            Self::Fidelity => IssueKind::Fidelity,
            Self::Leaks => IssueKind::Leak,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Labels => "label issues",
            Self::Duplicates => "duplicates",
            Self::Outliers => "outliers",
            Self::Fidelity => "map fidelity",
            Self::Leaks => "leaks",
        }
    }

    /// The score the map can be coloured by for this tab.
    pub fn score(self) -> Score {
        match self {
            Self::Labels => Score::LabelDoubt,
            Self::Duplicates | Self::Leaks => Score::Duplicate,
            Self::Outliers => Score::Outlier,
            Self::Fidelity => Score::NeighboursLost,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub enum AuditState {
    #[default]
    Idle,
    /// The kNN graph is still being computed.
    WaitingForGraph,
    Running,
    Ready,
    Failed(String),
}

/// The findings of each tab, worst first, without those marked "not an issue". Items for the
/// per-item tabs; indices into the audit's duplicate groups for duplicates and leaks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub labels: Vec<u32>,
    pub duplicates: Vec<u32>,
    pub outliers: Vec<u32>,
    pub fidelity: Vec<u32>,
    pub leaks: Vec<u32>,
}

impl Rows {
    pub fn of(&self, tab: IssueTab) -> &[u32] {
        match tab {
            IssueTab::Labels => &self.labels,
            IssueTab::Duplicates => &self.duplicates,
            IssueTab::Outliers => &self.outliers,
            IssueTab::Fidelity => &self.fidelity,
            IssueTab::Leaks => &self.leaks,
        }
    }

    /// Build every list from the audit.
    pub fn build(audit: &Audit, dismissed: &Dismissed) -> Self {
        let n = audit.n_items;
        let ranked = (n / 100).max(MIN_RANKED).min(n);
        let keep = |kind: IssueKind| move |&i: &u32| !dismissed.contains(kind, i);
        let groups = &audit.duplicates.groups;
        let group_kept = |kind: IssueKind| {
            move |&g: &u32| {
                groups[g as usize]
                    .iter()
                    .any(|&i| !dismissed.contains(kind, i))
            }
        };
        let labels = audit.labels.as_ref().map_or_else(Vec::new, |l| {
            let mut v: Vec<u32> = (0..n as u32)
                .filter(|&i| l.is_issue[i as usize])
                .filter(keep(IssueKind::Label))
                .collect();
            v.sort_by(|&a, &b| l.quality[a as usize].total_cmp(&l.quality[b as usize]));
            v
        });
        // Exact copies first, then the largest groups.
        let mut duplicates: Vec<u32> = (0..groups.len() as u32)
            .filter(group_kept(IssueKind::Duplicate))
            .collect();
        let exact = |g: u32| audit.duplicates.exact[groups[g as usize][0] as usize];
        duplicates.sort_by_key(|&g| (!exact(g), std::cmp::Reverse(groups[g as usize].len())));
        let outliers = audit
            .outliers
            .ranking
            .iter()
            .copied()
            .filter(keep(IssueKind::Outlier))
            .take(ranked)
            .collect();
        let fidelity = audit.fidelity.as_ref().map_or_else(Vec::new, |f| {
            let mut v: Vec<u32> = (0..n as u32).filter(keep(IssueKind::Fidelity)).collect();
            v.sort_by(|&a, &b| {
                let (a, b) = (a as usize, b as usize);
                f.preserved[a]
                    .total_cmp(&f.preserved[b])
                    .then(f.trust_penalty[b].cmp(&f.trust_penalty[a]))
            });
            v.truncate(ranked);
            v
        });
        let leaks = audit.leaks.as_ref().map_or_else(Vec::new, |l| {
            l.iter()
                .map(|&g| g as u32)
                .filter(group_kept(IssueKind::Leak))
                .collect()
        });
        Self {
            labels,
            duplicates,
            outliers,
            fidelity,
            leaks,
        }
    }
}

/// For the selected item in fidelity mode: its original neighbours, each with whether the
/// map keeps it among the item's nearest.
#[derive(Debug, Clone, PartialEq)]
pub struct FidelityLines {
    pub item: ItemId,
    pub layout_version: u64,
    pub neighbours: Vec<(ItemId, bool)>,
}

type AuditTask = Job<Result<(Audit, u64), String>>;

/// The panel's state, the audit job and the "not an issue" record.
#[derive(Resource, Default)]
pub struct Issues {
    pub open: bool,
    pub tab: IssueTab,
    pub state: AuditState,
    pub rows: Rows,
    /// The finding the keys act on: an index into the tab's rows.
    pub current: Option<usize>,
    pub dismissed: Dismissed,
    /// The last problem (a write error, nothing to accept), shown in the panel.
    pub status: Option<String>,
    /// The split of each item and the split names (a metadata column "split").
    pub splits: Option<(Vec<u32>, Vec<String>)>,
    /// A score to colour by once the audit is there.
    pending_color: Option<Score>,
    /// The layout the fidelity scores were computed on.
    fidelity_for: u64,
    task: Option<AuditTask>,
    fidelity_task: Option<Job<(Fidelity, u64)>>,
    pub lines: Option<FidelityLines>,
}

impl Issues {
    /// Read the "not an issue" record from the labels folder (`None`: in memory only).
    pub fn new(dismissed_file: Option<PathBuf>, n_items: usize) -> (Self, Option<String>) {
        let (dismissed, warning) = match dismissed_file {
            Some(path) => match Dismissed::load(&path, n_items) {
                Ok(d) => (d, None),
                Err(e) => (Dismissed::in_memory(), Some(e.to_string())),
            },
            None => (Dismissed::in_memory(), None),
        };
        (
            Self {
                status: warning.clone(),
                dismissed,
                ..default()
            },
            warning,
        )
    }

    /// Colour the map by `score` as soon as the audit is there (`--color-by audit:…`).
    pub fn color_when_ready(&mut self, score: Score) {
        self.pending_color = Some(score);
    }

    /// Nothing asked for is still being computed (for the headless capture): the audit when
    /// the panel is open or a score colouring waits for it, the fidelity of the current
    /// layout once there is an audit.
    pub fn is_idle(&self, layout_version: u64, has_layout: bool) -> bool {
        let wanted = self.open || self.pending_color.is_some();
        let stale =
            self.state == AuditState::Ready && has_layout && self.fidelity_for != layout_version;
        self.task.is_none()
            && self.fidelity_task.is_none()
            && !stale
            && !matches!(
                self.state,
                AuditState::Running | AuditState::WaitingForGraph
            )
            && !(wanted && self.state == AuditState::Idle)
    }

    /// Whether the audit's fidelity scores describe layout `version`.
    pub fn fidelity_current(&self, version: u64) -> bool {
        self.fidelity_for == version
    }

    /// The rows of the open tab.
    pub fn tab_rows(&self) -> &[u32] {
        self.rows.of(self.tab)
    }

    /// The item a row stands for (a group's first member).
    pub fn row_item(&self, audit: &Audit, row: usize) -> Option<ItemId> {
        let &r = self.tab_rows().get(row)?;
        Some(ItemId(match self.tab {
            IssueTab::Duplicates | IssueTab::Leaks => {
                *audit.duplicates.groups[r as usize].first()?
            }
            _ => r,
        }))
    }

    /// Every item a row stands for (a group's members).
    fn row_items(&self, audit: &Audit, row: usize) -> Vec<u32> {
        match (self.tab, self.tab_rows().get(row)) {
            (IssueTab::Duplicates | IssueTab::Leaks, Some(&g)) => {
                audit.duplicates.groups[g as usize].clone()
            }
            (_, Some(&i)) => vec![i],
            (_, None) => Vec::new(),
        }
    }
}

/// What the panel and the keys ask for.
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub enum IssueAction {
    /// Open or close the panel (opening starts the audit).
    Open(bool),
    Tab(IssueTab),
    /// Make this row current and select its item.
    Go(usize),
    /// The next (+1) or previous (−1) row.
    Step(i32),
    /// Give the current label issue its suggested class.
    Accept,
    /// Mark the current finding "not an issue".
    Dismiss,
    /// Colour the map by a score (computing the audit first if needed).
    ColorBy(Score),
}

pub struct IssuesPlugin {
    /// Open the panel at start on this tab (`--issues`).
    pub open_at: Option<IssueTab>,
}

impl Plugin for IssuesPlugin {
    fn build(&self, app: &mut App) {
        if !app.world().contains_resource::<Issues>() {
            app.init_resource::<Issues>();
        }
        if let Some(tab) = self.open_at {
            let mut issues = app.world_mut().resource_mut::<Issues>();
            issues.open = true;
            issues.tab = tab;
        }
        app.add_message::<IssueAction>().add_systems(
            Update,
            (
                issue_keys.run_if(not(egui_wants_any_keyboard_input)),
                issue_actions,
                start_audit,
                finish_audit,
                refresh_fidelity,
                fidelity_lines,
            )
                .chain(),
        );
    }
}

fn issue_keys(
    keys: Res<ButtonInput<KeyCode>>,
    issues: Res<Issues>,
    mut actions: MessageWriter<IssueAction>,
) {
    if keys.any_pressed([
        KeyCode::ControlLeft,
        KeyCode::ControlRight,
        KeyCode::AltLeft,
    ]) {
        return;
    }
    if keys.just_pressed(KeyCode::KeyI) {
        actions.write(IssueAction::Open(!issues.open));
    }
    if !issues.open {
        return;
    }
    let pressed = [
        (KeyCode::KeyY, IssueAction::Accept),
        (KeyCode::KeyK, IssueAction::Dismiss),
        (KeyCode::ArrowDown, IssueAction::Step(1)),
        (KeyCode::ArrowUp, IssueAction::Step(-1)),
    ];
    for (key, action) in pressed {
        if keys.just_pressed(key) {
            actions.write(action);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn issue_actions(
    mut actions: MessageReader<IssueAction>,
    mut issues: ResMut<Issues>,
    store: Res<Store>,
    mut color: ResMut<ColorState>,
    labels: Option<Res<Labels>>,
    mut label: MessageWriter<LabelItems>,
    mut select: MessageWriter<SelectItem>,
) {
    for action in actions.read() {
        let issues = &mut *issues;
        match *action {
            IssueAction::Open(open) => issues.open = open,
            IssueAction::Tab(tab) => {
                issues.tab = tab;
                issues.current = None;
            }
            IssueAction::ColorBy(score) => match &store.audit {
                Some(_) => {
                    if let Err(e) = color.set_source(ColorSource::Score(score), &store) {
                        issues.status = Some(e.to_string());
                    }
                }
                None => issues.pending_color = Some(score),
            },
            IssueAction::Go(row) => go(issues, &store, row, &mut select),
            IssueAction::Step(by) => {
                let n = issues.tab_rows().len();
                if n > 0 {
                    let row = match issues.current {
                        Some(c) => (c as i64 + i64::from(by)).clamp(0, n as i64 - 1) as usize,
                        None => 0,
                    };
                    go(issues, &store, row, &mut select);
                }
            }
            IssueAction::Accept => {
                let Some(audit) = store.audit.as_deref() else {
                    continue;
                };
                let (Some(row), Some(l)) = (issues.current, audit.labels.as_ref()) else {
                    issues.status =
                        Some("pick a label issue first (click a row or press Down)".into());
                    continue;
                };
                if issues.tab != IssueTab::Labels {
                    issues.status =
                        Some("Y accepts a suggested class: on the label issues tab".into());
                    continue;
                }
                let Some(item) = issues.row_item(audit, row) else {
                    continue;
                };
                let Some(names) = store.data.classes.as_ref().map(|c| &c.labels.names) else {
                    continue;
                };
                let class = names[l.suggested[item.index()] as usize].clone();
                if labels.as_ref().is_some_and(|l| l.journal.is_none()) {
                    issues.status = Some("labels are read only here".into());
                    continue;
                }
                label.write(LabelItems {
                    items: vec![item],
                    label: Some(class),
                });
                issues.status = None;
                let next = (row + 1).min(issues.tab_rows().len().saturating_sub(1));
                go(issues, &store, next, &mut select);
            }
            IssueAction::Dismiss => {
                let (Some(audit), Some(row)) = (store.audit.as_deref(), issues.current) else {
                    continue;
                };
                let items = issues.row_items(audit, row);
                let kind = issues.tab.kind();
                match issues.dismissed.set(kind, &items, true) {
                    Ok(()) => {
                        issues.status = None;
                        issues.rows = Rows::build(audit, &issues.dismissed);
                        let n = issues.tab_rows().len();
                        if n == 0 {
                            issues.current = None;
                        } else {
                            go(issues, &store, row.min(n - 1), &mut select);
                        }
                    }
                    Err(e) => issues.status = Some(e.to_string()),
                }
            }
        }
    }
}

/// Make `row` current and select its item (the map centres on it, the neighbours show).
fn go(issues: &mut Issues, store: &Store, row: usize, select: &mut MessageWriter<SelectItem>) {
    let Some(audit) = store.audit.as_deref() else {
        return;
    };
    if let Some(item) = issues.row_item(audit, row) {
        issues.current = Some(row);
        select.write(SelectItem {
            item: Some(item),
            focus: true,
        });
    }
}

/// Start the audit once it is wanted and the graph is there.
fn start_audit(
    mut issues: ResMut<Issues>,
    store: Res<Store>,
    color: Res<ColorState>,
    job: Option<Res<LayoutJob>>,
) {
    let wanted = issues.open
        || issues.pending_color.is_some()
        || matches!(color.source, ColorSource::Score(_));
    if !wanted || !matches!(issues.state, AuditState::Idle | AuditState::WaitingForGraph) {
        return;
    }
    let Some(graph) = store.graph.clone() else {
        issues.state = AuditState::WaitingForGraph;
        return;
    };
    if store.n_items() < 2 {
        issues.state = AuditState::Failed("the audit needs at least two items".into());
        return;
    }
    // A layout still moving would be scored mid-flight: its fidelity comes when it settles.
    let layout = store
        .layout
        .clone()
        .filter(|_| !job.as_ref().is_some_and(|j| j.is_running()));
    let version = if layout.is_some() {
        store.layout_version
    } else {
        0
    };
    let data = Arc::clone(&store.data);
    let cache = store.cache.clone();
    let splits = issues.splits.clone().or_else(|| splits_of(&data));
    issues.splits = splits.clone();
    let task = Job::spawn("audit", move || {
        let k = AUDIT_K.min(graph.k);
        let labels = data.classes.as_ref().map(|c| quality::Labels {
            codes: &c.labels.codes,
            names: &c.labels.names,
        });
        let input = AuditInput {
            features: &data.features.values(),
            dim: data.features.dim(),
            graph: &graph,
            k,
            dup_threshold: None,
            labels,
            layout: layout.as_ref().map(|l| (l.coords.as_slice(), l.dims)),
            splits: splits.as_ref().map(|(codes, _)| codes.as_slice()),
        };
        let found = quality::cached::cached(&input, &cache).map_err(|e| e.to_string())?;
        for w in &found.warnings {
            warn!("{w}");
        }
        Ok((found.audit, version))
    });
    match task {
        Ok(t) => {
            issues.state = AuditState::Running;
            issues.task = Some(t);
        }
        Err(e) => issues.state = AuditState::Failed(e),
    }
}

/// A categorical (or numbered) metadata column named "split", as the CLI's audit reads it.
fn splits_of(data: &crate::dataset::Dataset) -> Option<(Vec<u32>, Vec<String>)> {
    let column = data.metadata.as_ref()?.column("split")?;
    match &column.values {
        ColumnValues::Categorical(c) => Some((c.codes.clone(), c.names.clone())),
        ColumnValues::Numeric(_) => None,
    }
}

fn finish_audit(
    mut issues: ResMut<Issues>,
    mut store: ResMut<Store>,
    mut color: ResMut<ColorState>,
) {
    let Some(task) = &mut issues.task else { return };
    let Some(result) = task.poll_result() else {
        return;
    };
    issues.task = None;
    match result {
        Ok((audit, version)) => {
            info!(
                "audit of {} items: {} duplicate groups, {} label issues",
                audit.n_items,
                audit.duplicates.groups.len(),
                audit
                    .labels
                    .as_ref()
                    .map_or(0, |l| l.is_issue.iter().filter(|&&b| b).count())
            );
            issues.rows = Rows::build(&audit, &issues.dismissed);
            issues.fidelity_for = version;
            store.audit = Some(Arc::new(audit));
            issues.state = AuditState::Ready;
            let score = issues.pending_color.take().or(match color.source {
                ColorSource::Score(s) => Some(s),
                _ => None,
            });
            if let Some(score) = score
                && let Err(e) = color.set_source(ColorSource::Score(score), &store)
            {
                issues.status = Some(e.to_string());
            }
        }
        Err(e) => {
            warn!("audit: {e}");
            issues.state = AuditState::Failed(e);
        }
    }
}

/// A new layout that has settled: recompute the fidelity scores alone.
fn refresh_fidelity(
    mut issues: ResMut<Issues>,
    mut store: ResMut<Store>,
    mut color: ResMut<ColorState>,
    job: Option<Res<LayoutJob>>,
    compare: Option<Res<super::compare::CompareView>>,
) {
    if let Some(task) = &mut issues.fidelity_task {
        let (fidelity, version) = match task.poll() {
            Polled::Pending => return,
            Polled::Done(done) => done,
            Polled::Lost => {
                issues.fidelity_task = None;
                issues.status =
                    Some("the fidelity scores could not be recomputed (see the log)".into());
                // Not again for this layout.
                issues.fidelity_for = store.layout_version;
                return;
            }
        };
        issues.fidelity_task = None;
        issues.fidelity_for = version;
        if let Some(audit) = &mut store.audit {
            Arc::make_mut(audit).fidelity = Some(fidelity);
            issues.rows = Rows::build(audit, &issues.dismissed);
        }
        if matches!(
            color.source,
            ColorSource::Score(Score::NeighboursLost | Score::TrustPenalty)
        ) {
            let source = color.source.clone();
            if let Err(e) = color.set_source(source, &store) {
                issues.status = Some(e.to_string());
            }
        }
        return;
    }
    // Neither a layout job nor a morph (`--compare`) moving the points: every frame of
    // either is a new layout version, not one worth scoring.
    let settled = !job.as_ref().is_some_and(|j| j.is_running())
        && compare.as_ref().is_none_or(|c| c.t == c.target);
    let (Some(audit), Some(layout), Some(graph)) = (&store.audit, &store.layout, &store.graph)
    else {
        return;
    };
    if !settled || issues.state != AuditState::Ready || store.layout_version == issues.fidelity_for
    {
        return;
    }
    let (graph, k, version) = (Arc::clone(graph), audit.k, store.layout_version);
    let (coords, dims) = (layout.coords.clone(), layout.dims);
    match Job::spawn("fidelity", move || {
        (quality::fidelity(&graph, k, &coords, dims), version)
    }) {
        Ok(t) => issues.fidelity_task = Some(t),
        Err(e) => {
            issues.status = Some(e);
            issues.fidelity_for = version;
        }
    }
}

/// Whether the map shows fidelity lines now: the fidelity tab is open, or the map is coloured
/// by a fidelity score.
pub fn shows_lines(issues: &Issues, color: &ColorState) -> bool {
    (issues.open && issues.tab == IssueTab::Fidelity)
        || matches!(
            color.source,
            ColorSource::Score(Score::NeighboursLost | Score::TrustPenalty)
        )
}

/// The selected item's original neighbours and whether the map keeps each (recomputed when
/// the selection or the layout changes: one pass over the layout).
fn fidelity_lines(
    mut issues: ResMut<Issues>,
    store: Res<Store>,
    selection: Res<Selection>,
    color: Res<ColorState>,
) {
    let wanted = shows_lines(&issues, &color);
    let (Some(item), Some(layout), Some(audit), true) =
        (selection.selected, &store.layout, &store.audit, wanted)
    else {
        if issues.lines.is_some() {
            issues.lines = None;
        }
        return;
    };
    let Some(graph) = &store.graph else { return };
    if issues
        .lines
        .as_ref()
        .is_some_and(|l| l.item == item && l.layout_version == store.layout_version)
    {
        return;
    }
    let k = audit.k;
    let i = item.index();
    // The audit's own map neighbours while they describe this layout; else one pass.
    let on_map = match &audit.fidelity {
        Some(f) if issues.fidelity_for == store.layout_version => {
            f.on_map[i * k..(i + 1) * k].to_vec()
        }
        _ => nearest_on_map(&layout.coords, layout.dims, i, k),
    };
    let neighbours = graph.neighbors(item.index())[..k]
        .iter()
        .map(|&j| (ItemId(j), on_map.contains(&j)))
        .collect();
    issues.lines = Some(FidelityLines {
        item,
        layout_version: store.layout_version,
        neighbours,
    });
}

/// The `k` nearest items to item `of` on the layout (itself left out), by one pass.
pub fn nearest_on_map(coords: &[f32], dims: usize, of: usize, k: usize) -> Vec<u32> {
    let p = &coords[of * dims..(of + 1) * dims];
    let mut best: Vec<(f32, u32)> = coords
        .chunks_exact(dims)
        .enumerate()
        .filter(|&(i, _)| i != of)
        .map(|(i, q)| {
            (
                p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum(),
                i as u32,
            )
        })
        .collect();
    let k = k.min(best.len());
    if k == 0 {
        return Vec::new();
    }
    best.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    best.truncate(k);
    best.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Categorical, ClassSource, Classes, Dataset, Features, Images};
    use crate::knn::{Metric, exact_knn};
    use crate::labels::{LabelSet, journal};
    use crate::viewer::app::ExplorerStatePlugin;
    use crate::viewer::colors::Coloring;
    use crate::viewer::labels::{LabelsPlugin, UndoLabels};
    use crate::viewer::options::ViewerOptions;
    use crate::viewer::state::test_layout;

    /// Two classes of ten on a line; item 4 sits among "a" but says "b"; items 12 and 13 are
    /// the same row; item 19 is far from everything.
    fn data() -> Dataset {
        let mut x: Vec<f32> = (0..10).map(|i| i as f32).collect();
        x.extend((0..9).map(|i| 100.0 + i as f32));
        x[13] = x[12];
        x.push(1000.0);
        let mut names: Vec<&str> = vec!["a"; 10];
        names.extend(vec!["b"; 10]);
        names[4] = "b";
        Dataset {
            name: "line".into(),
            features: Features::new(20, 1, x, "float32", "x.npy", "x.npy").expect("features"),
            images: Images::None,
            classes: Some(Classes {
                labels: Categorical::from_strings(&names),
                source: ClassSource::BuiltIn,
            }),
            metadata: None,
        }
    }

    fn app(dir: &std::path::Path) -> App {
        let data = data();
        let graph = exact_knn(&data.features.values(), 1, 12, Metric::Euclidean, &()).expect("knn");
        // The map keeps the order of the line, except that it moves item 0 far from item 1.
        let mut coords: Vec<f32> = (0..20).flat_map(|i| [i as f32, 0.0]).collect();
        coords[0] = 50.0;
        let (j, state, _) = journal::open(dir, 20).expect("journal");
        let mut labels = Labels::new(LabelSet::default(), state, Some(j));
        labels.classes = vec!["a".into(), "b".into()];
        let (issues, warning) = Issues::new(Some(dir.join("not-issues.csv")), 20);
        assert!(warning.is_none());
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(ButtonInput::<KeyCode>::default())
            .init_resource::<bevy_egui::input::EguiWantsInput>()
            .insert_resource(labels)
            .insert_resource(issues)
            .add_plugins(ExplorerStatePlugin {
                options: ViewerOptions {
                    graph: Some(Arc::new(graph)),
                    layout: Some(test_layout(coords, 2)),
                    ..default()
                },
                data: Arc::new(data),
            })
            .add_plugins((LabelsPlugin, IssuesPlugin { open_at: None }));
        app
    }

    fn wait_for_audit(app: &mut App) {
        for _ in 0..500 {
            app.update();
            if app.world().resource::<Issues>().state == AuditState::Ready {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("no audit: {:?}", app.world().resource::<Issues>().state);
    }

    fn selected(app: &App) -> Option<ItemId> {
        app.world().resource::<Selection>().selected
    }

    #[test]
    fn opening_audits_and_a_suggested_class_is_accepted_and_undone() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut app = app(dir.path());
        app.update();
        // Nothing is computed until asked for.
        assert_eq!(app.world().resource::<Issues>().state, AuditState::Idle);
        app.world_mut().write_message(IssueAction::Open(true));
        wait_for_audit(&mut app);
        let issues = app.world().resource::<Issues>();
        assert_eq!(issues.rows.labels.first(), Some(&4), "{:?}", issues.rows);
        assert_eq!(issues.rows.duplicates.len(), 1);
        assert_eq!(issues.rows.outliers.first(), Some(&19));
        // The far item and the swapped ones lose their neighbours on the map.
        assert!(!issues.rows.fidelity.is_empty());
        // ↓ goes to the first finding and selects it.
        app.world_mut().write_message(IssueAction::Step(1));
        app.update();
        app.update();
        assert_eq!(selected(&app), Some(ItemId(4)));
        assert_eq!(app.world().resource::<Issues>().current, Some(0));
        // Y: the suggested class into the journal…
        app.world_mut().write_message(IssueAction::Accept);
        app.update();
        app.update();
        let labels = app.world().resource::<Labels>();
        assert_eq!(labels.state.get(ItemId(4)), Some("a"));
        let (replayed, _) = journal::read(dir.path(), 20).expect("read");
        assert_eq!(replayed.get(ItemId(4)), Some("a"));
        // …and Ctrl+Z takes it back.
        app.world_mut().write_message(UndoLabels { redo: false });
        app.update();
        assert_eq!(app.world().resource::<Labels>().state.get(ItemId(4)), None);
    }

    #[test]
    fn not_an_issue_is_kept_across_launches() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut app = app(dir.path());
        app.world_mut().write_message(IssueAction::Open(true));
        wait_for_audit(&mut app);
        app.world_mut()
            .write_message(IssueAction::Tab(IssueTab::Duplicates));
        app.world_mut().write_message(IssueAction::Go(0));
        app.update();
        app.update();
        assert_eq!(selected(&app), Some(ItemId(12)));
        app.world_mut().write_message(IssueAction::Dismiss);
        app.update();
        assert!(app.world().resource::<Issues>().rows.duplicates.is_empty());
        let text = std::fs::read_to_string(dir.path().join("not-issues.csv")).expect("saved");
        assert_eq!(text, "kind,item\nduplicate,12\nduplicate,13\n");
        // The next launch does not show it again, and still shows the other findings.
        drop(app);
        let mut again = self::app(dir.path());
        again.world_mut().write_message(IssueAction::Open(true));
        wait_for_audit(&mut again);
        let issues = again.world().resource::<Issues>();
        assert!(issues.rows.duplicates.is_empty());
        assert_eq!(issues.rows.labels.first(), Some(&4));
    }

    #[test]
    fn colouring_by_a_score_computes_the_audit_first() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut app = app(dir.path());
        app.world_mut()
            .write_message(IssueAction::ColorBy(Score::Outlier));
        wait_for_audit(&mut app);
        app.update();
        let color = app.world().resource::<ColorState>();
        assert_eq!(color.source, ColorSource::Score(Score::Outlier));
        let Coloring::Numeric { values, .. } = &color.coloring else {
            panic!("not numeric: {:?}", color.coloring);
        };
        let worst = (0..20).max_by(|&i, &j| values[i].total_cmp(&values[j]));
        assert_eq!(worst, Some(19));
        // The panel stayed closed: colouring alone asked for the audit.
        assert!(!app.world().resource::<Issues>().open);
    }

    #[test]
    fn fidelity_lines_show_which_neighbours_the_map_tore_away() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut app = app(dir.path());
        app.world_mut().write_message(IssueAction::Open(true));
        app.world_mut()
            .write_message(IssueAction::Tab(IssueTab::Fidelity));
        wait_for_audit(&mut app);
        // Item 1: on the line its neighbours are 0, 2, 3, …; the map moved 0 far away.
        app.world_mut().write_message(SelectItem {
            item: Some(ItemId(1)),
            focus: false,
        });
        app.update();
        app.update();
        let issues = app.world().resource::<Issues>();
        let lines = issues.lines.as_ref().expect("lines");
        assert_eq!(lines.item, ItemId(1));
        assert_eq!(lines.neighbours.len(), AUDIT_K);
        let kept = |j: u32| {
            lines
                .neighbours
                .iter()
                .find(|(i, _)| i.0 == j)
                .map(|(_, k)| *k)
        };
        assert_eq!(kept(0), Some(false));
        assert_eq!(kept(2), Some(true));
        // Another tab: no lines.
        app.world_mut()
            .write_message(IssueAction::Tab(IssueTab::Labels));
        app.update();
        assert!(app.world().resource::<Issues>().lines.is_none());
    }

    #[test]
    fn the_nearest_on_the_map_leave_the_item_out() {
        let coords = [0.0, 0.0, 1.0, 0.0, 5.0, 0.0, 2.0, 0.0];
        let mut near = nearest_on_map(&coords, 2, 0, 2);
        near.sort_unstable();
        assert_eq!(near, vec![1, 3]);
        assert_eq!(nearest_on_map(&coords, 2, 0, 9).len(), 3);
    }
}
