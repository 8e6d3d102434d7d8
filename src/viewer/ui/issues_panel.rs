//! The issues panel, docked under the map while open: the audit's findings by tab, worst
//! first; accept a fix or mark "not an issue".

use bevy::prelude::*;
use bevy_egui::egui;

use super::root::PanelRoot;
use super::{issues, theme};
use crate::dataset::ItemId;
use crate::viewer::colors::ColorSource;
use crate::viewer::issues::{AuditState, IssueAction, IssueTab, Issues};
use crate::viewer::labels::Labels;
use crate::viewer::state::{ColorState, SelectItem, Store};
use crate::viewer::thumbs::Thumbs;

/// The issues panel, after the side panels: it takes the bottom of what they left.
#[allow(clippy::too_many_arguments)]
pub(super) fn issues_panel(
    mut root: ResMut<PanelRoot>,
    store: Res<Store>,
    color: Res<ColorState>,
    labels: Res<Labels>,
    issues: Res<Issues>,
    mut thumbs: ResMut<Thumbs>,
    mut issue_action: MessageWriter<IssueAction>,
    mut select: MessageWriter<SelectItem>,
) {
    let Some(root) = root.0.as_mut() else {
        return;
    };
    // Under the map, at the bottom: the issues panel while open.
    if issues.open
        && let Some(action) = show_issues(root, &store, &color, &labels, &issues, &mut thumbs)
    {
        use issues::IssuesUiAction as A;
        let message = match action {
            A::Tab(t) => Some(IssueAction::Tab(t)),
            A::Go(r) => Some(IssueAction::Go(r)),
            A::Accept(r) => {
                issue_action.write(IssueAction::Go(r));
                Some(IssueAction::Accept)
            }
            A::Dismiss(r) => {
                issue_action.write(IssueAction::Go(r));
                Some(IssueAction::Dismiss)
            }
            A::ColorBy => Some(IssueAction::ColorBy(issues.tab.score())),
            A::Close => Some(IssueAction::Open(false)),
            A::Select(item) => {
                select.write(SelectItem {
                    item: Some(item),
                    focus: true,
                });
                None
            }
        };
        if let Some(m) = message {
            issue_action.write(m);
        }
    }
}

/// The issues panel's tabs, counts and rows; what the user did.
fn show_issues(
    root: &mut egui::Ui,
    store: &Store,
    color: &ColorState,
    labels: &Labels,
    state: &Issues,
    thumbs: &mut Thumbs,
) -> Option<issues::IssuesUiAction> {
    let audit = store
        .audit
        .as_deref()
        .filter(|_| state.state == AuditState::Ready);
    let tabs: Vec<issues::TabInfo> = IssueTab::ALL
        .into_iter()
        .map(|tab| {
            let count = match (audit, tab) {
                (None, _) => Err("the audit is being computed"),
                (Some(a), IssueTab::Labels) if a.labels.is_none() => {
                    Err("this data set has no classes")
                }
                (Some(a), IssueTab::Fidelity) if a.fidelity.is_none() => Err("no layout yet"),
                (Some(a), IssueTab::Leaks) if a.leaks.is_none() => {
                    Err("no metadata column \"split\" (train/val/test)")
                }
                (Some(_), t) => Ok(state.rows.of(t).len()),
            };
            issues::TabInfo { tab, count }
        })
        .collect();
    let status = match (&state.state, audit) {
        (AuditState::WaitingForGraph, _) => "waiting for the kNN graph…".to_owned(),
        (AuditState::Running, _) => "computing the audit…".to_owned(),
        (AuditState::Failed(e), _) => format!("the audit failed: {e}"),
        (_, Some(a)) => format!("k = {} · copies within {:.4}", a.k, a.duplicates.threshold),
        _ => String::new(),
    };
    let status_detail = audit.map_or_else(String::new, |a| {
        format!(
            "every score from each item's {} nearest neighbours in the original space; duplicates: within {:.4} ({})",
            a.k, a.duplicates.threshold, a.duplicates.threshold_source
        )
    });
    let rows = state.tab_rows();
    let ctx = audit
        .zip(store.graph.as_deref())
        .map(|(audit, graph)| issues::RowContext {
            audit,
            data: &store.data,
            graph,
            labels: &labels.state,
            splits: state.splits.as_ref().map(|(_, names)| names.as_slice()),
            split_codes: state.splits.as_ref().map(|(codes, _)| codes.as_slice()),
            on_map: audit
                .fidelity
                .as_ref()
                .filter(|_| state.fidelity_current(store.layout_version))
                .map(|f| f.on_map.as_slice()),
        });
    let row = |r: usize| {
        ctx.as_ref()
            .and_then(|c| issues::describe_row(c, state.tab, rows, r))
    };
    let score = state.tab.score();
    let panel = issues::IssuesPanel {
        tab: state.tab,
        tabs: &tabs,
        status: &status,
        status_detail: &status_detail,
        n_rows: if audit.is_some() { rows.len() } else { 0 },
        current: state.current,
        dismissed: state.dismissed.count(state.tab.kind()),
        error: state.status.as_deref(),
        colored: color.source == ColorSource::Score(score),
        score_label: score.label(),
    };
    let mut thumb = |item: ItemId| thumbs.get(item);
    egui::Panel::bottom("issues")
        .resizable(true)
        .default_size(theme::ISSUES_PANEL_PX)
        .min_size(120.0)
        .show(root, |ui| issues::issues_ui(ui, &panel, &row, &mut thumb))
        .inner
}
