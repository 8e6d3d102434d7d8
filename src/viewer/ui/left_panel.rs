//! The left panel: colouring and legend, the filters, thumbnails, labels and the layout
//! controls, one section each, top to bottom in a scroll area.

use bevy::ecs::system::SystemParam;
use bevy::prelude::*;
use bevy_egui::egui;

use super::controls::{
    ColorAction, ColorPanel, LabelsAction, LabelsPanel, LayoutAction, LayoutPanel, ThumbnailsPanel,
    color_ui, labels_ui, layout_ui, thumbnails_ui,
};
use super::root::PanelRoot;
use super::theme;
use crate::dataset::ItemId;
use crate::viewer::clusters::{self, ClusterJob, ShowClusters};
use crate::viewer::colors::ColorSource;
use crate::viewer::issues::IssueAction;
use crate::viewer::item_set::ItemSet;
use crate::viewer::labels::{Labels, UndoLabels};
use crate::viewer::layout_job::LayoutRequest;
use crate::viewer::layout_job::{LayoutJob, RunLayout};
use crate::viewer::mosaic::{BuildState, Mosaic, MosaicConfig, MosaicSettings};
use crate::viewer::search::SearchBox;
use crate::viewer::state::{ColorState, SelectItem, Store};
use crate::viewer::thumbs::Thumbs;

/// The layout panel's edits, kept until Run.
#[derive(Resource, Debug, Clone, Default)]
pub(super) struct LayoutDraft(Option<LayoutRequest>);

/// What the left panel shows and edits, and what it sends.
#[derive(SystemParam)]
pub(super) struct Controls<'w> {
    store: Res<'w, Store>,
    color: ResMut<'w, ColorState>,
    thumbs: ResMut<'w, Thumbs>,
    cluster_job: Res<'w, ClusterJob>,
    show_clusters: MessageWriter<'w, ShowClusters>,
    select: MessageWriter<'w, SelectItem>,
    issue_action: MessageWriter<'w, IssueAction>,
    search: ResMut<'w, SearchBox>,
    set: Res<'w, ItemSet>,
    mosaic: Res<'w, Mosaic>,
    mosaic_config: Res<'w, MosaicConfig>,
    mosaic_settings: ResMut<'w, MosaicSettings>,
    labels: ResMut<'w, Labels>,
    undo_labels: MessageWriter<'w, UndoLabels>,
    job: Res<'w, LayoutJob>,
    draft: ResMut<'w, LayoutDraft>,
    run_layout: MessageWriter<'w, RunLayout>,
}

/// The left panel, after the top bar: it takes the window's left edge.
pub(super) fn controls_panel(mut root: ResMut<PanelRoot>, mut controls: Controls) {
    let Some(root) = root.0.as_mut() else {
        return;
    };
    egui::Panel::left("controls")
        .exact_size(theme::LEFT_PANEL_PX)
        .show(root, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("left-scroll")
                .show(ui, |ui| {
                    controls.color_section(ui);
                    ui.separator();
                    controls.filters_section(ui);
                    controls.thumbnails_section(ui);
                    ui.separator();
                    controls.labels_section(ui);
                    ui.separator();
                    controls.layout_section(ui);
                });
        });
}

impl Controls<'_> {
    /// Colouring: the sources, the colormap, the legend (or the dendrogram).
    fn color_section(&mut self, ui: &mut egui::Ui) {
        let store = &*self.store;
        let color = &mut self.color;
        let mut sources = color_sources(store);
        if store.n_items() >= 2 {
            let k = match color.source {
                ColorSource::Clusters(k) => k,
                _ => clusters::DEFAULT_CLUSTERS.min(store.n_items()),
            };
            sources.push(ColorSource::Clusters(k));
        }
        let clusters_status = cluster_status(&self.cluster_job);
        let panel = ColorPanel {
            source: &color.source,
            sources: &sources,
            coloring: &color.coloring,
            colormap: color.colormap,
            hidden: &color.hidden,
            clusters_status: clusters_status.as_deref(),
            max_clusters: store.n_items().min(200),
            representatives: &color.representatives,
            tree: color.tree.as_ref(),
        };
        let thumbs = &mut self.thumbs;
        let mut thumb = |item: ItemId| thumbs.get(item);
        let action = color_ui(ui, &panel, &mut thumb);
        match action {
            Some(ColorAction::Select(item)) => {
                self.select.write(SelectItem {
                    item: Some(item),
                    focus: true,
                });
            }
            Some(ColorAction::Source(ColorSource::Clusters(k)))
            | Some(ColorAction::Clusters(k)) => {
                self.show_clusters.write(ShowClusters(k));
            }
            Some(ColorAction::Source(ColorSource::Score(score))) => {
                self.issue_action.write(IssueAction::ColorBy(score));
            }
            Some(ColorAction::Source(s)) => {
                if let Err(e) = color.set_source(s, store) {
                    warn!("{e}");
                }
            }
            Some(ColorAction::Colormap(c)) => {
                color.colormap = c;
                let source = color.source.clone();
                if let Err(e) = color.set_source(source, store) {
                    warn!("{e}");
                }
            }
            Some(ColorAction::ToggleGroup(code)) => color.toggle_group(code),
            Some(ColorAction::ShowAll) => {
                color.hidden.iter_mut().for_each(|h| *h = false);
                color.version += 1;
            }
            Some(ColorAction::ShowOnly(keep)) => color.show_only(&keep),
            None => {}
        }
    }

    /// Per-column charts of all items vs the selection; brushing one writes the search text.
    fn filters_section(&mut self, ui: &mut egui::Ui) {
        let search = &mut *self.search;
        search
            .charts
            .update(&self.store.data, self.set.items.as_ref());
        if !search.charts.charts.is_empty() {
            egui::CollapsingHeader::new("Filters")
                .default_open(true)
                .show(ui, |ui| {
                    ui.label(
                        egui::RichText::new("grey: all items · yellow: the selection").small(),
                    );
                    if let Some(text) =
                        crate::viewer::filters::filters_ui(ui, &search.charts.charts, &search.text)
                    {
                        search.text = text;
                    }
                });
            ui.separator();
        }
    }

    /// Thumbnails on the map: what is shown, the settings.
    fn thumbnails_section(&mut self, ui: &mut egui::Ui) {
        let status = thumbnail_status(&self.mosaic, self.mosaic_config.gpu_mem_mb);
        let panel = ThumbnailsPanel {
            status: &status,
            available: matches!(
                self.mosaic.state,
                Some(BuildState::Ready | BuildState::Building)
            ),
        };
        let mut edited = self.mosaic_settings.clone();
        if thumbnails_ui(ui, &panel, &mut edited) {
            *self.mosaic_settings = edited;
        }
    }

    /// The label names with their counts, the active one, undo and export.
    fn labels_section(&mut self, ui: &mut egui::Ui) {
        let labels = &mut self.labels;
        let counts = labels.state.counts();
        let panel = LabelsPanel {
            names: labels.set.names(),
            colors: labels.set.names().iter().map(|n| labels.color(n)).collect(),
            counts: labels
                .set
                .names()
                .iter()
                .map(|n| counts.get(n.as_str()).copied().unwrap_or(0))
                .collect(),
            active: labels.active,
            can_undo: labels.state.can_undo(),
            can_redo: labels.state.can_redo(),
            status: match &labels.journal {
                Some(j) => format!("saved to {}", j.path().display()),
                None => "read only (headless screenshot)".to_owned(),
            },
            error: labels.error.as_deref(),
            filter: &labels.filter,
            export_status: labels.export_status.as_deref(),
        };
        let action = labels_ui(ui, &panel);
        match action {
            Some(LabelsAction::Active(i)) => labels.active = i,
            Some(LabelsAction::Filter(f)) => labels.filter = f,
            Some(LabelsAction::Export) => labels.export(),
            Some(LabelsAction::Undo) => {
                self.undo_labels.write(UndoLabels { redo: false });
            }
            Some(LabelsAction::Redo) => {
                self.undo_labels.write(UndoLabels { redo: true });
            }
            None => {}
        }
    }

    /// The layout's method and parameters (a draft until Run) and the job's progress.
    fn layout_section(&mut self, ui: &mut egui::Ui) {
        let job = &*self.job;
        let (status, fraction) = job.status(&self.store);
        let panel = LayoutPanel {
            request: &job.request,
            status,
            fraction,
            running: job.is_running(),
            can_3d: self.store.data.features.dim() >= 3,
        };
        let d = self.draft.0.get_or_insert_with(|| job.request.clone());
        if let Some(LayoutAction::Run(req)) = layout_ui(ui, &panel, d) {
            self.run_layout.write(RunLayout(Some(req)));
        }
        for w in &job.warnings {
            ui.colored_label(egui::Color32::YELLOW, w);
        }
    }
}

/// Everything the data can be coloured by.
fn color_sources(store: &Store) -> Vec<ColorSource> {
    let mut sources = vec![ColorSource::Uniform];
    if store.data.classes.is_some() {
        sources.push(ColorSource::Class);
    }
    if let Some(meta) = &store.data.metadata {
        sources.extend(
            meta.columns
                .iter()
                .map(|c| ColorSource::Column(c.name.clone())),
        );
    }
    if store.user_values.is_some() {
        sources.push(ColorSource::Values);
    }
    if store.n_items() >= 2 {
        use crate::viewer::colors::Score;
        for score in Score::ALL {
            let possible = match score {
                Score::LabelDoubt => store.data.classes.is_some(),
                Score::NeighboursLost | Score::TrustPenalty => store.layout.is_some(),
                Score::Outlier | Score::Duplicate => true,
            };
            if possible {
                sources.push(ColorSource::Score(score));
            }
        }
    }
    if store.comparison.is_some() {
        sources.push(ColorSource::Compare);
    }
    if let Some(p) = &store.probe {
        sources.extend(p.names.iter().map(|l| ColorSource::Probe(l.clone())));
    }
    sources
}

/// While the dendrogram is computed (or if that failed): one line on it.
fn cluster_status(job: &ClusterJob) -> Option<String> {
    use crate::viewer::clusters::ClusterState;
    use std::sync::atomic::Ordering;
    match &job.state {
        ClusterState::Running => Some(format!(
            "computing the clusters (ward): distances {} of {} rows",
            job.progress.done.load(Ordering::Relaxed),
            job.progress.total.load(Ordering::Relaxed)
        )),
        ClusterState::Failed(e) => Some(format!("no clusters: {e}")),
        _ => None,
    }
}

/// One line on the thumbnails: building, or what is drawn and held on the GPU.
fn thumbnail_status(mosaic: &Mosaic, budget_mb: u64) -> String {
    use std::sync::atomic::Ordering;
    match &mosaic.state {
        None | Some(BuildState::NoImages) => "this data set has no images".to_owned(),
        Some(BuildState::Building) => format!(
            "building the thumbnail cache: {} of {}",
            mosaic.progress.done.load(Ordering::Relaxed),
            mosaic.progress.total.load(Ordering::Relaxed)
        ),
        Some(BuildState::Failed(e)) => format!("no thumbnails: {e}"),
        Some(BuildState::Ready) => {
            let resident: usize = mosaic.residency().iter().map(|r| r.1).sum();
            let mut line = format!(
                "{} drawn · {} cells on the GPU · {} of {} MB",
                mosaic.drawn_count,
                resident,
                mosaic.gpu_bytes() >> 20,
                budget_mb
            );
            if mosaic.waiting > 0 {
                line.push_str(&format!(" · loading {}", mosaic.waiting));
            }
            if mosaic.is_building() {
                line.push_str(&format!(
                    " · cache {} of {}",
                    mosaic.progress.done.load(Ordering::Relaxed),
                    mosaic.progress.total.load(Ordering::Relaxed)
                ));
            }
            if mosaic.unreadable > 0 {
                line.push_str(&format!(
                    " · {} unreadable (red cross; listed in the log)",
                    mosaic.unreadable
                ));
            }
            line
        }
    }
}
