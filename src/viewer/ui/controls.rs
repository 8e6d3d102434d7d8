//! The left panel: colouring (source, colormap, legend or colour bar) and layout controls.
//!
//! Plain functions of plain data returning the user's intent, like the neighbour panel.

use bevy_egui::egui;

use super::theme;
use crate::layout::LayoutMethod;
use crate::viewer::colors::{ColorSource, Coloring, Colormap, category_color};
use crate::viewer::layout_job::LayoutRequest;

/// What the colour section shows.
pub struct ColorPanel<'a> {
    pub source: &'a ColorSource,
    /// Every source the data offers (class, metadata columns, --colors values).
    pub sources: &'a [ColorSource],
    pub coloring: &'a Coloring,
    pub colormap: Colormap,
    pub hidden: &'a [bool],
    /// While the clusters are being computed: what to say.
    pub clusters_status: Option<&'a str>,
    /// Most clusters the slider offers.
    pub max_clusters: usize,
    /// Per group, an item whose image stands for it in the legend (clusters: the medoid).
    pub representatives: &'a [crate::dataset::ItemId],
    /// Clusters: the dendrogram's top levels above the cut.
    pub tree: Option<&'a crate::cluster::TopTree>,
}

impl ColorPanel<'_> {
    fn source_k(&self) -> usize {
        match self.source {
            ColorSource::Clusters(k) => *k,
            _ => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ColorAction {
    Source(ColorSource),
    Colormap(Colormap),
    ToggleGroup(usize),
    ShowAll,
    /// Show only these groups (a dendrogram branch was clicked).
    ShowOnly(Vec<u32>),
    /// Cut the dendrogram into this many clusters.
    Clusters(usize),
    /// Select this item (a legend image was clicked).
    Select(crate::dataset::ItemId),
}

/// Height of the dendrogram view, in points.
const DENDROGRAM_PX: f32 = 110.0;

/// The dendrogram's top levels: one leaf per cluster of the cut (in its legend colour, hollow
/// when hidden), branches at their merge heights. Clicking a branch (or leaf) shows only its
/// clusters; clicking the root shows everything. Returns the clusters to keep visible.
pub fn dendrogram_ui(
    ui: &mut egui::Ui,
    tree: &crate::cluster::TopTree,
    hidden: &[bool],
) -> Option<Vec<u32>> {
    let root = tree.nodes.len().checked_sub(1)?;
    let width = ui.available_width().max(80.0);
    let (rect, response) =
        ui.allocate_exact_size(egui::vec2(width, DENDROGRAM_PX), egui::Sense::click());
    let painter = ui.painter_at(rect);
    let leaves = tree.nodes[root].clusters.len().max(1);
    let top = tree.nodes[root].height.max(f32::MIN_POSITIVE);
    let inner = rect.shrink2(egui::vec2(8.0, 8.0));
    // x of each node: leaves evenly spaced left to right, a branch between its children.
    let mut xs = vec![0.0f32; tree.nodes.len()];
    let mut next_leaf = 0usize;
    for (i, node) in tree.nodes.iter().enumerate() {
        xs[i] = match node.children {
            None => {
                let x = inner.left() + inner.width() * (next_leaf as f32 + 0.5) / leaves as f32;
                next_leaf += 1;
                x
            }
            Some((l, r)) => (xs[l] + xs[r]) / 2.0,
        };
    }
    // Square-root heights: ward's top merges are orders of magnitude above the lower ones,
    // which a linear scale would flatten onto the leaves.
    let y_of = |i: usize| match tree.nodes[i].children {
        None => inner.bottom(),
        Some(_) => {
            inner.bottom() - inner.height() * (tree.nodes[i].height / top).clamp(0.0, 1.0).sqrt()
        }
    };
    let visible = |node: &crate::cluster::TopNode| {
        node.clusters
            .iter()
            .any(|&c| !hidden.get(c as usize).copied().unwrap_or(false))
    };
    let strong = ui.visuals().strong_text_color();
    let weak = ui.visuals().weak_text_color();
    let hover = response.hover_pos();
    let mut hovered: Option<usize> = None;
    for (i, node) in tree.nodes.iter().enumerate() {
        let (x, y) = (xs[i], y_of(i));
        let color = if visible(node) { strong } else { weak };
        match node.children {
            Some((l, r)) => {
                let stroke = egui::Stroke::new(1.2, color);
                painter.line_segment([egui::pos2(xs[l], y), egui::pos2(xs[r], y)], stroke);
                for c in [l, r] {
                    let child_color = if visible(&tree.nodes[c]) {
                        strong
                    } else {
                        weak
                    };
                    painter.line_segment(
                        [egui::pos2(xs[c], y), egui::pos2(xs[c], y_of(c))],
                        egui::Stroke::new(1.2, child_color),
                    );
                }
                if hover.is_some_and(|p| {
                    (p.y - y).abs() < 5.0 && p.x >= xs[l] - 3.0 && p.x <= xs[r] + 3.0
                }) {
                    hovered = Some(i);
                }
            }
            None => {
                let code = node.clusters.first().copied().unwrap_or(0) as usize;
                let c = theme::rgba8(category_color(code));
                if hidden.get(code).copied().unwrap_or(false) {
                    painter.circle_stroke(egui::pos2(x, y), 3.5, egui::Stroke::new(1.2, c));
                } else {
                    painter.circle_filled(egui::pos2(x, y), 3.5, c);
                }
                if hover.is_some_and(|p| (p - egui::pos2(x, y)).length() < 6.0) {
                    hovered = Some(i);
                }
            }
        }
    }
    let i = hovered?;
    let node = &tree.nodes[i];
    let (x, y) = (xs[i], y_of(i));
    painter.circle_stroke(egui::pos2(x, y), 5.0, egui::Stroke::new(1.5, strong));
    let what = if i == root {
        "click: show all".to_owned()
    } else {
        "click: show only these".to_owned()
    };
    let response = response.on_hover_text(format!(
        "{} items in {} cluster(s), merged at height {:.3}\n{what}",
        node.size,
        node.clusters.len(),
        node.height
    ));
    if response.clicked() {
        let mut keep = node.clusters.clone();
        if i == root {
            keep = (0..hidden.len() as u32).collect();
        }
        return Some(keep);
    }
    None
}

/// Legend entries beyond this are listed in a scroll area.
const LEGEND_SCROLL_PX: f32 = 260.0;

/// Legend images, in points.
const LEGEND_IMAGE_PX: f32 = 30.0;

pub fn color_ui(
    ui: &mut egui::Ui,
    panel: &ColorPanel<'_>,
    thumb: &mut dyn FnMut(crate::dataset::ItemId) -> crate::viewer::thumbs::Thumb,
) -> Option<ColorAction> {
    let mut action = None;
    ui.heading("Colour");
    let mut source = panel.source.clone();
    egui::ComboBox::from_id_salt("color-source")
        .selected_text(source.label())
        .width(200.0)
        .show_ui(ui, |ui| {
            for s in panel.sources {
                ui.selectable_value(&mut source, s.clone(), s.label());
            }
        });
    if &source != panel.source {
        action = Some(ColorAction::Source(source));
    }
    if let Some(status) = panel.clusters_status {
        ui.small(status);
    }
    if let ColorSource::Clusters(k) = panel.source {
        let mut k = *k;
        let slider = egui::Slider::new(&mut k, 2..=panel.max_clusters.max(2))
            .logarithmic(true)
            .text("clusters");
        if ui.add(slider).changed() && k != panel.source_k() {
            action = Some(ColorAction::Clusters(k));
        }
        match panel.tree {
            Some(tree) => {
                if let Some(keep) = dendrogram_ui(ui, tree, panel.hidden) {
                    action = Some(if keep.len() == panel.hidden.len() {
                        ColorAction::ShowAll
                    } else {
                        ColorAction::ShowOnly(keep)
                    });
                }
            }
            None if k > crate::viewer::state::MAX_TREE_LEAVES => {
                ui.small(format!(
                    "dendrogram drawn up to {} clusters",
                    crate::viewer::state::MAX_TREE_LEAVES
                ));
            }
            None => {}
        }
    }
    match panel.coloring {
        Coloring::Uniform => {}
        Coloring::Categorical { names, counts, .. } => {
            ui.horizontal(|ui| {
                ui.small("click an entry to hide or show it");
                if panel.hidden.iter().any(|&h| h) && ui.small_button("show all").clicked() {
                    action = Some(ColorAction::ShowAll);
                }
            });
            egui::ScrollArea::vertical()
                .max_height(LEGEND_SCROLL_PX)
                .id_salt("legend")
                .show(ui, |ui| {
                    for (code, name) in names.iter().enumerate() {
                        let hidden = panel.hidden.get(code).copied().unwrap_or(false);
                        let count = counts.get(code).copied().unwrap_or(0);
                        let color = theme::rgba8(category_color(code));
                        let row = ui.horizontal(|ui| {
                            if let Some(&rep) = panel.representatives.get(code)
                                && rep.0 != u32::MAX
                            {
                                let image = super::neighbors::tile_image(
                                    ui,
                                    &thumb(rep),
                                    LEGEND_IMAGE_PX,
                                    category_color(code),
                                )
                                .on_hover_text(format!(
                                    "#{} stands for {name}: click to select it",
                                    rep.0
                                ));
                                if image.clicked() {
                                    action = Some(ColorAction::Select(rep));
                                }
                            }
                            let (rect, _) = ui
                                .allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
                            if hidden {
                                ui.painter().circle_stroke(
                                    rect.center(),
                                    6.0,
                                    egui::Stroke::new(1.5, color),
                                );
                            } else {
                                ui.painter().circle_filled(rect.center(), 6.0, color);
                            }
                            let text = egui::RichText::new(format!("{name} ({count})"));
                            ui.add(
                                egui::Label::new(if hidden {
                                    text.weak().strikethrough()
                                } else {
                                    text
                                })
                                .sense(egui::Sense::click()),
                            )
                        });
                        if row.inner.clicked()
                            || row.response.interact(egui::Sense::click()).clicked()
                        {
                            action = Some(ColorAction::ToggleGroup(code));
                        }
                    }
                });
        }
        Coloring::Numeric {
            min, max, colormap, ..
        } => {
            let mut cm = panel.colormap;
            egui::ComboBox::from_id_salt("colormap")
                .selected_text(cm.label())
                .show_ui(ui, |ui| {
                    for c in Colormap::ALL {
                        ui.selectable_value(&mut cm, c, c.label());
                    }
                });
            if cm != panel.colormap {
                action = Some(ColorAction::Colormap(cm));
            }
            color_bar(ui, *colormap, *min, *max);
        }
    }
    action
}

/// A horizontal colour bar with its range.
fn color_bar(ui: &mut egui::Ui, colormap: Colormap, min: f32, max: f32) {
    let width = ui.available_width().min(220.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 14.0), egui::Sense::hover());
    let steps = 64;
    for i in 0..steps {
        let t0 = i as f32 / steps as f32;
        let t1 = (i + 1) as f32 / steps as f32;
        let r = egui::Rect::from_min_max(
            egui::pos2(rect.left() + t0 * rect.width(), rect.top()),
            egui::pos2(rect.left() + t1 * rect.width() + 0.5, rect.bottom()),
        );
        ui.painter()
            .rect_filled(r, 0.0, theme::rgba8(colormap.at((t0 + t1) * 0.5)));
    }
    ui.horizontal(|ui| {
        ui.small(format!("{min:.4}"));
        ui.add_space((width - 110.0).max(0.0));
        ui.small(format!("{max:.4}"));
    });
}

/// What the labels section shows.
pub struct LabelsPanel<'a> {
    pub names: &'a [String],
    pub colors: Vec<crate::viewer::colors::Rgba8>,
    pub counts: Vec<usize>,
    pub active: usize,
    pub can_undo: bool,
    pub can_redo: bool,
    /// Where the journal is, or why labelling is off.
    pub status: String,
    pub error: Option<&'a str>,
    pub filter: &'a crate::viewer::labels::LabelFilter,
    pub export_status: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelsAction {
    Active(usize),
    Undo,
    Redo,
    Filter(crate::viewer::labels::LabelFilter),
    Export,
}

pub fn labels_ui(ui: &mut egui::Ui, panel: &LabelsPanel<'_>) -> Option<LabelsAction> {
    let mut action = None;
    ui.heading("Labels");
    for (i, name) in panel.names.iter().enumerate() {
        let color = theme::rgba8(panel.colors.get(i).copied().unwrap_or([200, 200, 200, 255]));
        let count = panel.counts.get(i).copied().unwrap_or(0);
        ui.horizontal(|ui| {
            let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
            ui.painter()
                .circle_stroke(rect.center(), 5.5, egui::Stroke::new(2.0, color));
            if ui
                .selectable_label(panel.active == i, format!("{} {name} ({count})", i + 1))
                .clicked()
            {
                action = Some(LabelsAction::Active(i));
            }
        });
    }
    ui.horizontal(|ui| {
        if ui
            .add_enabled(panel.can_undo, egui::Button::new("undo"))
            .clicked()
        {
            action = Some(LabelsAction::Undo);
        }
        if ui
            .add_enabled(panel.can_redo, egui::Button::new("redo"))
            .clicked()
        {
            action = Some(LabelsAction::Redo);
        }
    });
    {
        use crate::viewer::labels::LabelFilter;
        let mut filter = panel.filter.clone();
        let label_of = |f: &LabelFilter| match f {
            LabelFilter::All => "all points".to_owned(),
            LabelFilter::Unlabelled => "unlabelled only".to_owned(),
            LabelFilter::Only(l) => format!("{l} only"),
        };
        ui.horizontal(|ui| {
            ui.label("show");
            egui::ComboBox::from_id_salt("label-filter")
                .selected_text(label_of(&filter))
                .show_ui(ui, |ui| {
                    let mut options = vec![LabelFilter::All, LabelFilter::Unlabelled];
                    options.extend(panel.names.iter().map(|n| LabelFilter::Only(n.clone())));
                    for o in options {
                        let text = label_of(&o);
                        ui.selectable_value(&mut filter, o, text);
                    }
                });
            if ui.button("export").clicked() {
                action = Some(LabelsAction::Export);
            }
        });
        if &filter != panel.filter {
            action = Some(LabelsAction::Filter(filter));
        }
    }
    if let Some(s) = panel.export_status {
        ui.small(s);
    }
    ui.small("keys 1–9 label the point under the cursor (0 clears), N selects the next unlabelled neighbour; Shift+drag lassoes; Ctrl+click a tile labels it");
    ui.small(&panel.status);
    if let Some(e) = panel.error {
        ui.colored_label(egui::Color32::from_rgb(255, 120, 90), e);
    }
    action
}

/// What the layout section shows.
pub struct LayoutPanel<'a> {
    pub request: &'a LayoutRequest,
    /// Stage and progress of a running job, or the last outcome.
    pub status: String,
    pub fraction: Option<f32>,
    pub running: bool,
    /// The data allows a 3D layout (three or more feature dimensions).
    pub can_3d: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LayoutAction {
    Run(LayoutRequest),
}

/// Method, dims and main parameters, then Run. Edits live in `draft` (kept by the caller)
/// until Run is pressed.
pub fn layout_ui(
    ui: &mut egui::Ui,
    panel: &LayoutPanel<'_>,
    draft: &mut LayoutRequest,
) -> Option<LayoutAction> {
    let mut action = None;
    ui.heading("Layout");
    egui::Grid::new("layout-params")
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("method");
            ui.horizontal(|ui| {
                for m in LayoutMethod::ALL {
                    ui.selectable_value(&mut draft.method, m, m.label());
                }
            });
            ui.end_row();
            ui.label("dims");
            ui.horizontal(|ui| {
                ui.selectable_value(&mut draft.dims, 2, "2D");
                ui.add_enabled_ui(panel.can_3d, |ui| {
                    ui.selectable_value(&mut draft.dims, 3, "3D")
                });
            });
            ui.end_row();
            if draft.method == LayoutMethod::Tsne {
                ui.label("perplexity");
                ui.add(
                    egui::DragValue::new(&mut draft.perplexity)
                        .range(2.0..=200.0)
                        .speed(0.5),
                );
                ui.end_row();
                ui.label("seed");
                ui.add(egui::DragValue::new(&mut draft.seed));
                ui.end_row();
            }
            if draft.method == LayoutMethod::Umap {
                ui.label("n_neighbors");
                ui.add(egui::DragValue::new(&mut draft.n_neighbors).range(2..=200));
                ui.end_row();
                ui.label("min_dist");
                ui.add(
                    egui::DragValue::new(&mut draft.min_dist)
                        .range(0.0..=1.0)
                        .speed(0.01),
                );
                ui.end_row();
                ui.label("seed");
                ui.add(egui::DragValue::new(&mut draft.seed));
                ui.end_row();
            }
        });
    ui.horizontal(|ui| {
        let label = if panel.running { "Restart" } else { "Run" };
        if ui.button(label).clicked() {
            action = Some(LayoutAction::Run(draft.clone()));
        }
        if draft != panel.request {
            ui.small("(changed)");
        }
    });
    ui.label(&panel.status);
    if let Some(f) = panel.fraction {
        ui.add(egui::ProgressBar::new(f).show_percentage());
    }
    action
}

/// The thumbnails section: on/off, declutter, size, cap, and what the GPU holds.
pub struct ThumbnailsPanel<'a> {
    /// One line on the state of the thumbnail cache and the GPU pools.
    pub status: &'a str,
    /// Building or failed: the settings still apply once ready.
    pub available: bool,
}

/// Edits `settings` in place; returns whether anything changed.
pub fn thumbnails_ui(
    ui: &mut egui::Ui,
    panel: &ThumbnailsPanel<'_>,
    settings: &mut crate::viewer::mosaic::MosaicSettings,
) -> bool {
    let before = settings.clone();
    ui.heading("Thumbnails");
    ui.horizontal(|ui| {
        ui.checkbox(&mut settings.enabled, "show (T)");
        ui.checkbox(&mut settings.declutter, "declutter (X)");
    });
    ui.add_enabled_ui(panel.available, |ui| {
        ui.add(
            egui::Slider::new(&mut settings.size, 0.1..=8.0)
                .logarithmic(true)
                .text("size"),
        );
        ui.horizontal(|ui| {
            ui.label("at most");
            ui.add(
                egui::DragValue::new(&mut settings.max_thumbnails)
                    .range(0..=10_000_000)
                    .speed(100.0),
            );
            ui.label("in view");
        });
    });
    ui.small(panel.status);
    *settings != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::thumbs::Thumb;

    #[test]
    fn the_legend_lists_every_group_and_run_sends_the_draft() {
        let coloring = Coloring::Categorical {
            names: vec!["cat".into(), "dog".into()],
            codes: vec![0, 1, 1],
            counts: vec![1, 2],
        };
        let sources = [ColorSource::Uniform, ColorSource::Class];
        let ctx = egui::Context::default();
        let mut texts = Vec::new();
        let mut first = ctx.run_ui(egui::RawInput::default(), |ui| {
            let panel = ColorPanel {
                source: &ColorSource::Class,
                sources: &sources,
                coloring: &coloring,
                colormap: Colormap::Viridis,
                hidden: &[false, true],
                clusters_status: None,
                max_clusters: 10,
                representatives: &[],
                tree: None,
            };
            assert_eq!(color_ui(ui, &panel, &mut |_| Thumb::None), None);
        });
        first.textures_delta.clear();
        // The labels were laid out: egui keeps their galleys; check through the shapes.
        let mut out = ctx.run_ui(egui::RawInput::default(), |ui| {
            let panel = ColorPanel {
                source: &ColorSource::Class,
                sources: &sources,
                coloring: &coloring,
                colormap: Colormap::Viridis,
                hidden: &[false, true],
                clusters_status: None,
                max_clusters: 10,
                representatives: &[],
                tree: None,
            };
            let _ = color_ui(ui, &panel, &mut |_| Thumb::None);
        });
        out.textures_delta.clear();
        for clipped in &out.shapes {
            if let egui::epaint::Shape::Text(t) = &clipped.shape {
                texts.push(t.galley.text().to_owned());
            }
        }
        assert!(texts.iter().any(|t| t == "cat (1)"), "{texts:?}");
        assert!(texts.iter().any(|t| t == "dog (2)"), "{texts:?}");
        assert!(texts.iter().any(|t| t == "show all"), "{texts:?}");
    }
}
