//! The "label next" panel under the map (`L`, `--label-next`): the suggested images large
//! enough to judge, the highlighted one labelled by keys 1–9; and "label all with p ≥ t" with
//! its count and a preview strip, least sure first, labelled in one undoable batch.
//!
//! [`tile_text`] and [`key_hint`] are plain data, tested without a window; the system gathers
//! the state and draws (the state and its keys: [`crate::viewer::label_next`]).

use bevy::prelude::*;
use bevy_egui::egui;

use super::issues::{class_frame, item_title};
use super::neighbors::tile_image;
use super::root::PanelRoot;
use super::theme;
use crate::dataset::{Dataset, ItemId};
use crate::labels::LabelSet;
use crate::probe::{Probe, Strategy};
use crate::viewer::colors::{ColorSource, Rgba8};
use crate::viewer::filters::grouped;
use crate::viewer::label_next::{BATCH, LabelNext, NextTab, label_all};
use crate::viewer::labels::{LabelItems, Labels};
use crate::viewer::probe::ProbeView;
use crate::viewer::state::{ColorState, SelectItem, Store};
use crate::viewer::thumbs::{Thumb, Thumbs};

/// Largest side of a suggested image (smaller when the panel is low).
const NEXT_IMAGE_PX: f32 = 150.0;
/// Side of a preview tile of "label all".
const PREVIEW_PX: f32 = 56.0;
/// Starting height of the panel: a row of images and their lines.
const PANEL_PX: f32 = 300.0;
/// Frame of a suggestion not yet labelled.
const OPEN_FRAME: Rgba8 = [90, 90, 90, 255];

/// What a suggestion's tile says under its image.
#[derive(Debug, Clone, PartialEq)]
pub struct TileText {
    pub title: String,
    /// The probe's two likeliest labels: "positive 0.62 · negative 0.38".
    pub probs: String,
    /// The label the user gave it, if any.
    pub label: Option<String>,
}

/// The lines of item `item`'s tile.
pub fn tile_text(data: &Dataset, probe: Option<&Probe>, labels: &Labels, item: u32) -> TileText {
    let probs = probe
        .filter(|p| (item as usize) < p.n_items())
        .map_or_else(String::new, |p| {
            let row = p.row(item as usize);
            let mut order: Vec<usize> = (0..row.len()).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
            order
                .iter()
                .take(2)
                .map(|&k| format!("{} {:.2}", p.names[k], row[k]))
                .collect::<Vec<_>>()
                .join(" · ")
        });
    TileText {
        title: item_title(data, item),
        probs,
        label: labels.state.get(ItemId(item)).map(str::to_owned),
    }
}

/// The keys, as the labels set names them: "1 positive · 2 negative · 0 remove · Right skip ·
/// Left back · R new batch" (words: egui's fonts have no arrows).
pub fn key_hint(set: &LabelSet) -> String {
    let mut parts: Vec<String> = (1..=9)
        .filter_map(|n| set.by_hotkey(n).map(|l| format!("{n} {l}")))
        .collect();
    parts.extend(
        ["0 remove", "Right skip", "Left back", "R new batch"]
            .iter()
            .map(|s| (*s).to_owned()),
    );
    parts.join(" · ")
}

/// What the user did in the panel.
enum NextAction {
    Tab(NextTab),
    Strategy(Strategy),
    Refresh,
    Highlight(usize),
    Select(ItemId),
    ColorBy(String),
    AllLabel(String),
    Threshold(f32),
    LabelAll(String),
    Close,
}

/// The panel, after the changed-most list: it takes the bottom of what is left.
#[allow(clippy::too_many_arguments)]
pub(super) fn label_next_panel(
    mut root: ResMut<PanelRoot>,
    store: Res<Store>,
    labels: Res<Labels>,
    view: Res<ProbeView>,
    mut next: ResMut<LabelNext>,
    mut thumbs: ResMut<Thumbs>,
    mut color: ResMut<ColorState>,
    mut out: MessageWriter<LabelItems>,
    mut select: MessageWriter<SelectItem>,
) {
    let Some(root) = root.0.as_mut() else {
        return;
    };
    if !next.open {
        return;
    }
    let probe = store.probe.as_deref();
    let all_label = probe.and_then(|p| next.all_label(p, &labels));
    let panel = PanelView {
        data: &store.data,
        probe,
        labels: &labels,
        next: &next,
        status: view.describe(probe, labels.version),
        // "Label all" acts on the probe of the labels as they are, never on one they outgrew.
        probe_current: view.status.is_none() && view.fit_is_current(labels.version),
        all_label: all_label.as_deref(),
        colored_by: match &color.source {
            ColorSource::Probe(l) => Some(l.as_str()),
            _ => None,
        },
    };
    let mut thumb = |item: ItemId| thumbs.get(item);
    let action = egui::Panel::bottom("label-next")
        .resizable(true)
        .default_size(PANEL_PX)
        .min_size(150.0)
        .show(root, |ui| next_ui(ui, &panel, &mut thumb))
        .inner;
    let Some(action) = action else {
        return;
    };
    match action {
        NextAction::Tab(t) => next.tab = t,
        NextAction::Strategy(s) => {
            next.strategy = s;
            next.ask_new_batch();
        }
        NextAction::Refresh => next.ask_new_batch(),
        NextAction::Highlight(h) => next.highlighted = h,
        NextAction::Select(item) => {
            select.write(SelectItem {
                item: Some(item),
                focus: true,
            });
        }
        NextAction::ColorBy(label) => {
            if let Err(e) = color.set_source(ColorSource::Probe(label), &store) {
                warn!("{e}");
            }
        }
        NextAction::AllLabel(l) => next.all.label = Some(l),
        NextAction::Threshold(t) => next.all.threshold = t,
        NextAction::LabelAll(label) => label_all(&mut next, &label, labels.version, &mut out),
        NextAction::Close => next.open = false,
    }
}

/// Everything the panel shows.
struct PanelView<'a> {
    data: &'a Dataset,
    probe: Option<&'a Probe>,
    labels: &'a Labels,
    next: &'a LabelNext,
    status: String,
    probe_current: bool,
    all_label: Option<&'a str>,
    colored_by: Option<&'a str>,
}

fn next_ui(
    ui: &mut egui::Ui,
    view: &PanelView<'_>,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<NextAction> {
    let mut action = None;
    // Fill the panel: egui sizes a panel by its content (see the issues panel).
    ui.set_min_height(ui.available_height());
    let next = view.next;
    ui.horizontal(|ui| {
        ui.strong("Label next");
        for (tab, text) in [
            (NextTab::Next, format!("next {BATCH}")),
            (NextTab::LabelAll, "label all with p ≥ t".to_owned()),
        ] {
            if ui.selectable_label(next.tab == tab, text).clicked() {
                action = Some(NextAction::Tab(tab));
            }
        }
        ui.separator();
        if next.tab == NextTab::Next {
            strategy_menu(ui, view, &mut action);
            if ui
                .small_button("new batch (R)")
                .on_hover_text("pick a new batch now, from the probe on every label so far")
                .clicked()
            {
                action = Some(NextAction::Refresh);
            }
        }
        if let Some(probe) = view.probe {
            let label = view
                .all_label
                .or(probe.names.first().map(String::as_str))
                .unwrap_or_default();
            if view.colored_by != Some(label)
                && ui
                    .small_button(format!("colour by p({label})"))
                    .on_hover_text("colour the map by the probe's probability of this label")
                    .clicked()
            {
                action = Some(NextAction::ColorBy(label.to_owned()));
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.small_button("close (L)").clicked() {
                action = Some(NextAction::Close);
            }
        });
    });
    let status = egui::RichText::new(&view.status).small();
    ui.add(
        egui::Label::new(if view.next.error.is_some() || view.probe.is_none() {
            status.color(theme::ACCENT)
        } else {
            status.weak()
        })
        .truncate(),
    );
    if let Some(e) = &next.error {
        ui.colored_label(theme::ACCENT, e);
    }
    let inner = match next.tab {
        NextTab::Next => batch_ui(ui, view, thumb),
        NextTab::LabelAll => label_all_ui(ui, view, thumb),
    };
    inner.or(action)
}

fn strategy_menu(ui: &mut egui::Ui, view: &PanelView<'_>, action: &mut Option<NextAction>) {
    let mut choices = vec![
        (
            Strategy::Diverse,
            "unsure, spread over the map (no two neighbours)",
        ),
        (Strategy::Uncertain, "the ones the probe is least sure of"),
    ];
    let names = view.probe.map(|p| p.names.as_slice()).unwrap_or_default();
    let likely: Vec<Strategy> = names.iter().map(|l| Strategy::Likely(l.clone())).collect();
    choices.extend(
        likely
            .iter()
            .map(|s| (s.clone(), "the likeliest of this label")),
    );
    egui::ComboBox::from_id_salt("next-strategy")
        .selected_text(view.next.strategy.to_string())
        .width(150.0)
        .show_ui(ui, |ui| {
            for (s, what) in choices {
                if ui
                    .selectable_label(view.next.strategy == s, s.to_string())
                    .on_hover_text(what)
                    .clicked()
                {
                    *action = Some(NextAction::Strategy(s));
                }
            }
        })
        .response
        .on_hover_text("how the batch is picked");
}

/// The batch: the images side by side, the highlighted one framed in the accent colour.
fn batch_ui(
    ui: &mut egui::Ui,
    view: &PanelView<'_>,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<NextAction> {
    let next = view.next;
    let mut action = None;
    ui.label(
        egui::RichText::new(format!(
            "keys: {} · click an image to highlight it, double-click to go to it on the map",
            key_hint(&view.labels.set)
        ))
        .small()
        .weak(),
    );
    if next.batch.is_empty() {
        ui.label(if next.error.is_some() {
            "No batch: see above."
        } else if view.probe.is_some() && !next.refresh {
            "Nothing left to suggest: every item is labelled."
        } else if view.probe.is_some() {
            "Picking the images to label next…"
        } else {
            "Label a few images (keys 1–9 on the map, or the lasso) — the probe learns from them \
             and this panel fills with the ones it cannot decide."
        });
        return None;
    }
    if next.refresh {
        ui.label(
            egui::RichText::new("batch done: picking the next from the refitted probe…")
                .small()
                .color(theme::ACCENT),
        );
    }
    // Images as large as the panel allows, text under them.
    let side = (ui.available_height() - 60.0).clamp(48.0, NEXT_IMAGE_PX);
    egui::ScrollArea::horizontal()
        .id_salt("next-batch")
        .auto_shrink([false, false])
        .show(ui, |ui| {
            ui.horizontal_top(|ui| {
                for (h, &item) in next.batch.iter().enumerate() {
                    let text = tile_text(view.data, view.probe, view.labels, item);
                    let lit = h == next.highlighted && !next.refresh;
                    if let Some(a) = suggestion_ui(ui, view, item, &text, lit, side, h, thumb) {
                        action = Some(a);
                    }
                }
            });
        });
    action
}

#[allow(clippy::too_many_arguments)]
fn suggestion_ui(
    ui: &mut egui::Ui,
    view: &PanelView<'_>,
    item: u32,
    text: &TileText,
    lit: bool,
    side: f32,
    index: usize,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<NextAction> {
    let mut action = None;
    ui.vertical(|ui| {
        ui.set_width(side);
        ui.spacing_mut().item_spacing.y = 1.0;
        let frame = match &text.label {
            Some(l) => view.labels.color(l),
            None => OPEN_FRAME,
        };
        let response = tile_image(ui, &thumb(ItemId(item)), side, frame);
        if lit {
            ui.painter().rect_stroke(
                response.rect.expand(2.0),
                3.0,
                egui::Stroke::new(3.0, theme::ACCENT),
                egui::StrokeKind::Outside,
            );
        }
        let response = response.on_hover_text(format!(
            "{}\n{}\nclick: highlight (the keys label it) · double-click: show it on the map",
            text.title, text.probs
        ));
        if response.double_clicked() {
            action = Some(NextAction::Select(ItemId(item)));
        } else if response.clicked() {
            action = Some(NextAction::Highlight(index));
        }
        ui.add(egui::Label::new(egui::RichText::new(&text.title).small()).truncate());
        ui.add(egui::Label::new(egui::RichText::new(&text.probs).small().weak()).truncate());
        match &text.label {
            Some(l) => ui.colored_label(
                theme::rgba8(view.labels.color(l)),
                egui::RichText::new(format!("labelled {l}"))
                    .small()
                    .strong(),
            ),
            None if lit => ui.colored_label(
                theme::ACCENT,
                egui::RichText::new("▶ the keys label this").small(),
            ),
            None => ui.label(""),
        };
    });
    action
}

/// "Label all with p ≥ t": the label, the threshold, the count, the button, the preview.
fn label_all_ui(
    ui: &mut egui::Ui,
    view: &PanelView<'_>,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<NextAction> {
    let (Some(probe), Some(label)) = (view.probe, view.all_label) else {
        ui.label("Label a few images first: the probe gives every other item a probability.");
        return None;
    };
    let all = &view.next.all;
    let mut action = None;
    let n = all.items.len();
    if let Some(asked) = all.label.as_deref().filter(|l| *l != label) {
        ui.colored_label(
            theme::ACCENT,
            format!(
                "the probe has no label {asked:?} (its labels: {}): showing {label}",
                probe.names.join(", ")
            ),
        );
    }
    ui.horizontal(|ui| {
        egui::ComboBox::from_id_salt("label-all-label")
            .selected_text(label)
            .width(120.0)
            .show_ui(ui, |ui| {
                for l in &probe.names {
                    if ui.selectable_label(l == label, l).clicked() {
                        action = Some(NextAction::AllLabel(l.clone()));
                    }
                }
            });
        let mut t = all.threshold;
        if ui
            .add(
                egui::Slider::new(&mut t, 0.0..=1.0)
                    .step_by(0.01)
                    .text("p at least"),
            )
            .changed()
        {
            action = Some(NextAction::Threshold(t));
        }
    });
    // The count and the button on a line of their own: a narrow window keeps the button.
    ui.horizontal(|ui| {
        ui.label(format!(
            "{} unlabelled items with p({label}) ≥ {:.2}",
            grouped(n),
            all.threshold
        ));
        let hover = if view.probe_current {
            "one batch: Ctrl+Z undoes it; items you labelled are left as they are"
        } else {
            "wait: the probe is not fitted on the labels as they are (see the line above)"
        };
        if ui
            .add_enabled(
                n > 0 && view.probe_current,
                egui::Button::new(format!("label these {} as {label}", grouped(n))),
            )
            .on_hover_text(hover)
            .on_disabled_hover_text(hover)
            .clicked()
        {
            action = Some(NextAction::LabelAll(label.to_owned()));
        }
    });
    if let Some((_, done)) = all
        .done
        .as_ref()
        .filter(|(at, _)| view.labels.version <= at + 1)
    {
        ui.label(
            egui::RichText::new(done)
                .small()
                .color(theme::rgba8(theme::KEPT_COLOR)),
        );
    }
    ui.label(
        egui::RichText::new(
            "least sure first: look along the strip before you accept · click an image to \
             select it on the map",
        )
        .small()
        .weak(),
    );
    let per_row = ((ui.available_width() - 16.0) / (PREVIEW_PX + 4.0))
        .floor()
        .max(1.0) as usize;
    let rows = n.div_ceil(per_row);
    egui::ScrollArea::vertical()
        .id_salt(("label-all-preview", label))
        .auto_shrink([false, false])
        .show_rows(ui, PREVIEW_PX + 4.0, rows, |ui, range| {
            let k = probe.code(label).ok();
            for r in range {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing = egui::vec2(4.0, 4.0);
                    for &item in all.items.iter().skip(r * per_row).take(per_row) {
                        let p = k.map_or(f32::NAN, |k| probe.row(item as usize)[k]);
                        let response = tile_image(
                            ui,
                            &thumb(ItemId(item)),
                            PREVIEW_PX,
                            class_frame(view.data, item),
                        )
                        .on_hover_text(format!(
                            "{}\np({label}) = {p:.3}",
                            item_title(view.data, item)
                        ));
                        if response.clicked() {
                            action = Some(NextAction::Select(ItemId(item)));
                        }
                    }
                });
            }
        });
    action
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Categorical, ClassSource, Classes, Features, Images};
    use crate::labels::journal;

    #[test]
    fn a_tile_names_the_item_its_two_likeliest_labels_and_its_label() {
        let data = Dataset {
            name: "t".into(),
            features: Features::new(2, 1, vec![0.0, 1.0], "float32", "x.npy", "x.npy")
                .expect("features"),
            images: Images::None,
            classes: Some(Classes {
                labels: Categorical::from_strings(&["cat".to_owned(), "dog".to_owned()]),
                source: ClassSource::BuiltIn,
            }),
            metadata: None,
        };
        let probe = Probe {
            names: vec!["a".into(), "b".into(), "c".into()],
            probs: vec![0.2, 0.5, 0.3, 0.1, 0.1, 0.8],
            cv_accuracy: None,
            per_label: vec![2, 2, 2],
            spread: true,
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let (j, mut state, _) = journal::open(dir.path(), 2).expect("journal");
        let batch = state.assign(&[ItemId(1)], Some("c"), 0).expect("a change");
        state.replay(&batch);
        let labels = Labels::new(LabelSet::default(), state, Some(j));
        let t = tile_text(&data, Some(&probe), &labels, 0);
        assert_eq!(t.title, "#0 · cat");
        assert_eq!(t.probs, "b 0.50 · c 0.30");
        assert_eq!(t.label, None);
        let t = tile_text(&data, Some(&probe), &labels, 1);
        assert_eq!(t.probs, "c 0.80 · a 0.10", "ties to the first label");
        assert_eq!(t.label.as_deref(), Some("c"));
        assert_eq!(tile_text(&data, None, &labels, 1).probs, "");
    }

    #[test]
    fn the_key_hint_names_the_labels_of_the_keys() {
        assert_eq!(
            key_hint(&LabelSet::default()),
            "1 positive · 2 negative · 0 remove · Right skip · Left back · R new batch"
        );
    }
}
