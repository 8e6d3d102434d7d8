//! The top bar: the data set's name and size, the view (2D, 3D orbit, fly), fit, the issues
//! and "label next" toggles, the point size, the morph between two embeddings' maps
//! (`--compare`), the search box, the layout job's status and help.

use bevy::prelude::*;
use bevy_egui::egui;

use super::help::HelpOpen;
use super::root::PanelRoot;
use crate::viewer::camera::ViewSettings;
use crate::viewer::compare::CompareView;
use crate::viewer::issues::{IssueAction, Issues};
use crate::viewer::label_next::LabelNext;
use crate::viewer::layout_job::LayoutJob;
use crate::viewer::points::{POINT_SIZE_RANGE, PointSettings};
use crate::viewer::search::{SearchBox, StepSearch};
use crate::viewer::state::{Store, ViewMode};

/// The top bar, first of the panels: it takes the window's top edge.
#[allow(clippy::too_many_arguments)]
pub(super) fn top_bar_panel(
    mut root: ResMut<PanelRoot>,
    store: Res<Store>,
    mut view_settings: ResMut<ViewSettings>,
    mut points: ResMut<PointSettings>,
    job: Res<LayoutJob>,
    mut help: ResMut<HelpOpen>,
    mut search: ResMut<SearchBox>,
    mut steps: MessageWriter<StepSearch>,
    issues: Res<Issues>,
    mut issue_action: MessageWriter<IssueAction>,
    compare: Option<ResMut<CompareView>>,
    next: Option<ResMut<LabelNext>>,
) {
    let Some(root) = root.0.as_mut() else {
        return;
    };
    // Top bar: name, view, point size, status, help.
    egui::Panel::top("top-bar").show(root, |ui| {
        ui.horizontal(|ui| {
            ui.strong(&store.data.name);
            ui.label(format!(
                "{} items · {} dims",
                store.n_items(),
                store.data.features.dim()
            ));
            ui.separator();
            for mode in [ViewMode::TwoD, ViewMode::Orbit, ViewMode::Fly] {
                if ui
                    .selectable_label(view_settings.mode == mode, mode.label())
                    .clicked()
                    && view_settings.mode != mode
                {
                    let to_or_from_2d = mode.is_3d() != view_settings.mode.is_3d();
                    view_settings.mode = mode;
                    if to_or_from_2d {
                        view_settings.request_full_fit();
                    }
                }
            }
            if ui.button("fit (F)").clicked() {
                view_settings.request_full_fit();
            }
            if ui
                .selectable_label(issues.open, "issues (I)")
                .on_hover_text(
                    "the data-quality audit: label issues, duplicates, outliers, map fidelity",
                )
                .clicked()
            {
                issue_action.write(IssueAction::Open(!issues.open));
            }
            if let Some(mut next) = next
                && ui
                    .selectable_label(next.open, "label next (L)")
                    .on_hover_text(
                        "what to label next: the images a probe on your labels cannot decide, \
                         and \"label all with p ≥ t\"",
                    )
                    .clicked()
            {
                next.open = !next.open;
            }
            ui.separator();
            ui.add(egui::Slider::new(&mut points.size_px, POINT_SIZE_RANGE).text("point px"));
            ui.separator();
            if let Some(mut compare) = compare {
                morph_slider(ui, &mut compare, &mut view_settings);
                ui.separator();
            }
            search_box(ui, &mut search, &mut steps);
            ui.separator();
            let (status, _) = job.status(&store);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("help (?)").clicked() {
                    help.0 = !help.0;
                }
                // Whatever width is left, cut short with "…" rather than run under the button
                // (a full bar: --compare's controls); the whole line on hover.
                ui.add(egui::Label::new(&status).truncate())
                    .on_hover_text(&status);
            });
        });
    });
}

/// The search box: the text and what it found (or what is wrong); Enter and Shift+Enter step
/// through the matches, Esc clears. What to do with the matches is the selection panel's.
fn search_box(ui: &mut egui::Ui, search: &mut SearchBox, steps: &mut MessageWriter<StepSearch>) {
    let edit = egui::TextEdit::singleline(&mut search.text)
        .hint_text("search  ( / )")
        .desired_width(160.0);
    let response = ui.add(edit);
    if std::mem::take(&mut search.focus_requested) {
        response.request_focus();
    }
    let (enter, shift, escape) = ui.input(|i| {
        (
            i.key_pressed(egui::Key::Enter),
            i.modifiers.shift,
            i.key_pressed(egui::Key::Escape),
        )
    });
    if response.lost_focus() && escape {
        search.text.clear();
    } else if response.lost_focus() && enter {
        steps.write(StepSearch { forward: !shift });
        // Keep typing or stepping without clicking back into the box.
        response.request_focus();
    }
    if let Some(status) = search.status() {
        if search.error.is_some() {
            // Long messages (a list of columns) would push the rest of the bar off screen.
            let short: String = if status.chars().count() > 70 {
                status
                    .chars()
                    .take(68)
                    .chain(std::iter::once('…'))
                    .collect()
            } else {
                status.clone()
            };
            ui.colored_label(egui::Color32::from_rgb(240, 110, 90), short)
                .on_hover_text(format!(
                    "{status}\n\nivt-explore query --help: the search language"
                ));
        } else {
            ui.label(status);
        }
    }
}

/// `--compare`: where the map stands between A's and B's (drag, or `M` to run the morph), and
/// how the comparison is going.
fn morph_slider(ui: &mut egui::Ui, compare: &mut CompareView, settings: &mut ViewSettings) {
    if compare.result().is_some() {
        if ui
            .selectable_label(settings.split, "split (B)")
            .on_hover_text(format!(
                "A's map on the left, {}'s on the right: one camera for both, so an item that \
                 kept its place is at the same spot in both halves",
                compare.name
            ))
            .clicked()
        {
            crate::viewer::compare::toggle_split(settings, compare);
        }
        let mut t = compare.t;
        let slider = ui
            // No number box: the top bar is full, and the slider's place says it.
            .add(
                egui::Slider::new(&mut t, 0.0..=1.0)
                    .show_value(false)
                    .text("A–B (M)"),
            )
            .on_hover_text(format!(
                "morph every point from its place in the map of A to its place in the map of {} \
                 (started from A's, aligned to it)",
                compare.name
            ));
        if slider.changed() {
            (compare.t, compare.target) = (t, t);
        }
        if ui
            .selectable_label(compare.list.open, "changed (C)")
            .on_hover_text("the items whose neighbourhoods changed most, with both neighbourhoods")
            .clicked()
        {
            compare.list.open = !compare.list.open;
        }
    }
    ui.label(compare.status());
}
