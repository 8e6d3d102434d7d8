//! Labelling in the explorer: keys and tile clicks become label batches, journalled before
//! they count (see [`crate::labels`]); Ctrl+Z / Ctrl+Shift+Z undo and redo.
//!
//! Keys 1–9 give the hovered point (or else the selected one) label 1–9 and make it the active
//! label; 0 removes its label. Ctrl+click on a neighbour tile gives that item the active label.
//! Labelled points wear a ring in their label's colour.

use bevy::prelude::*;
use bevy_egui::input::egui_wants_any_keyboard_input;

use super::colors::Rgba8;
use super::state::Selection;
use crate::dataset::ItemId;
use crate::labels::journal::Journal;
use crate::labels::{LabelSet, LabelState, now_ms};

/// Ring colours of labels 1, 2, …: green and red for the default positive/negative, then
/// colours far from the class palette's first entries.
const LABEL_COLORS: [Rgba8; 9] = [
    [60, 220, 90, 255],
    [240, 60, 60, 255],
    [70, 170, 255, 255],
    [255, 200, 40, 255],
    [200, 110, 255, 255],
    [40, 230, 220, 255],
    [255, 130, 40, 255],
    [160, 160, 160, 255],
    [255, 255, 255, 255],
];

/// Which points the map shows, by label.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LabelFilter {
    #[default]
    All,
    Unlabelled,
    Only(String),
}

/// The labels, their journal and the active label.
#[derive(Resource)]
pub struct Labels {
    pub set: LabelSet,
    pub state: LabelState,
    /// `None`: labelling is off (no labels folder could be opened; see `error`).
    pub journal: Option<Journal>,
    /// Index into `set` of the label Ctrl+click gives.
    pub active: usize,
    /// The last write error, shown in the panel until the next success.
    pub error: Option<String>,
    /// Bumped on every change of `state`.
    pub version: u64,
    pub filter: LabelFilter,
    /// `--save-selection-path`: items given the first label are also copied here (the
    /// reference tool's behaviour), never overwriting a file.
    pub copy_positives_to: Option<std::path::PathBuf>,
    /// Image files of the items, for `copy_positives_to` and the export button.
    pub image_paths: std::sync::Arc<[std::path::PathBuf]>,
    /// Where the panel's export button writes (`<labels folder>/export`).
    pub export_dir: std::path::PathBuf,
    /// What the last export did, for the panel.
    pub export_status: Option<String>,
    /// The data set's class names: labels too, beyond the hotkey set (the issues panel's
    /// "accept the suggested class" writes a corrected class into the journal).
    pub classes: Vec<String>,
}

impl Labels {
    pub fn new(set: LabelSet, state: LabelState, journal: Option<Journal>) -> Self {
        Self {
            set,
            state,
            journal,
            active: 0,
            error: None,
            version: 0,
            filter: LabelFilter::All,
            copy_positives_to: None,
            image_paths: std::sync::Arc::from(Vec::new()),
            export_dir: std::path::PathBuf::from("ivt-labels-export"),
            export_status: None,
            classes: Vec::new(),
        }
    }

    /// Whether `name` can be given: a label of the set or a class name.
    pub fn allows(&self, name: &str) -> bool {
        self.set.contains(name) || self.classes.iter().any(|c| c == name)
    }

    /// Export to `export_dir` (the panel's button); the outcome goes to `export_status`.
    pub fn export(&mut self) {
        self.export_status = Some(if self.image_paths.is_empty() {
            "nothing to export: this data set's images are not files".to_owned()
        } else {
            match crate::labels::export::export(
                &self.export_dir,
                &self.state,
                &self.image_paths,
                crate::labels::export::ExportMode::Copy,
            ) {
                Ok(r) => {
                    for refused in &r.refused {
                        warn!("{refused}");
                    }
                    format!(
                        "exported to {}: {} added, {} moved, {} removed, {} unchanged{}",
                        self.export_dir.display(),
                        r.added,
                        r.moved,
                        r.removed,
                        r.unchanged,
                        if r.refused.is_empty() {
                            String::new()
                        } else {
                            format!(
                                "; {} manifest row(s) outside the folder left alone (see the log)",
                                r.refused.len()
                            )
                        }
                    )
                }
                Err(e) => format!("export failed: {e}"),
            }
        });
    }

    /// Whether the label filter lets `item` show on the map.
    pub fn shows(&self, item: ItemId) -> bool {
        match &self.filter {
            LabelFilter::All => true,
            LabelFilter::Unlabelled => self.state.get(item).is_none(),
            LabelFilter::Only(l) => self.state.get(item) == Some(l.as_str()),
        }
    }

    /// Ring colour of a label name.
    pub fn color(&self, label: &str) -> Rgba8 {
        let i = self
            .set
            .names()
            .iter()
            .position(|n| n == label)
            .unwrap_or(8);
        LABEL_COLORS[i.min(8)]
    }

    pub fn active_name(&self) -> Option<&str> {
        self.set.names().get(self.active).map(String::as_str)
    }
}

/// Give `items` a label (`None`: remove theirs).
#[derive(Message, Debug, Clone, PartialEq)]
pub struct LabelItems {
    pub items: Vec<ItemId>,
    pub label: Option<String>,
}

/// Which item keys 1–9 and 0 label.
#[derive(Resource, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyTarget {
    /// The point under the cursor, or else the selected one.
    #[default]
    Pointer,
    /// This item (the "label next" panel's highlighted suggestion: the cursor resting on a
    /// point of the map must not take the key from it).
    Item(ItemId),
    /// None for now (the panel is waiting for its next batch).
    Nothing,
}

/// Undo (`false`) or redo (`true`) the last label batch.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct UndoLabels {
    pub redo: bool,
}

pub struct LabelsPlugin;

impl Plugin for LabelsPlugin {
    fn build(&self, app: &mut App) {
        app.add_message::<LabelItems>()
            .add_message::<UndoLabels>()
            .init_resource::<KeyTarget>()
            .add_systems(
                Update,
                (
                    (label_keys, next_unlabelled).run_if(not(egui_wants_any_keyboard_input)),
                    apply_label_messages,
                )
                    .chain(),
            );
    }
}

fn label_keys(
    keys: Res<ButtonInput<KeyCode>>,
    selection: Res<Selection>,
    target: Res<KeyTarget>,
    mut labels: ResMut<Labels>,
    mut label: MessageWriter<LabelItems>,
    mut undo: MessageWriter<UndoLabels>,
) {
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    let shift = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    if ctrl && keys.just_pressed(KeyCode::KeyZ) {
        undo.write(UndoLabels { redo: shift });
        return;
    }
    if ctrl && keys.just_pressed(KeyCode::KeyY) {
        undo.write(UndoLabels { redo: true });
        return;
    }
    if ctrl {
        return;
    }
    const DIGITS: [KeyCode; 10] = [
        KeyCode::Digit0,
        KeyCode::Digit1,
        KeyCode::Digit2,
        KeyCode::Digit3,
        KeyCode::Digit4,
        KeyCode::Digit5,
        KeyCode::Digit6,
        KeyCode::Digit7,
        KeyCode::Digit8,
        KeyCode::Digit9,
    ];
    let Some(n) = DIGITS.iter().position(|k| keys.just_pressed(*k)) else {
        return;
    };
    let item = match *target {
        KeyTarget::Pointer => selection.hovered.or(selection.selected),
        KeyTarget::Item(item) => Some(item),
        KeyTarget::Nothing => None,
    };
    let Some(item) = item else {
        return;
    };
    let name = if n == 0 {
        None
    } else {
        let Some(name) = labels.set.by_hotkey(n).map(str::to_owned) else {
            return;
        };
        labels.active = n - 1;
        Some(name)
    };
    label.write(LabelItems {
        items: vec![item],
        label: name,
    });
}

/// N: select the first unlabelled item of the neighbour grid (review a region quickly: label,
/// N, label, N …).
fn next_unlabelled(
    keys: Res<ButtonInput<KeyCode>>,
    view: Option<Res<super::state::NeighborView>>,
    labels: Res<Labels>,
    mut select: MessageWriter<super::state::SelectItem>,
) {
    if !keys.just_pressed(KeyCode::KeyN)
        || keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight])
    {
        return;
    }
    let Some(view) = view else { return };
    if let Some(n) = view
        .items
        .iter()
        .find(|n| labels.state.get(n.item).is_none())
    {
        select.write(super::state::SelectItem {
            item: Some(n.item),
            focus: true,
        });
    }
}

/// Journal, then apply: a batch that cannot be written is not applied.
pub(crate) fn apply_label_messages(
    mut assign: MessageReader<LabelItems>,
    mut undo: MessageReader<UndoLabels>,
    mut labels: ResMut<Labels>,
) {
    for m in assign.read() {
        let label = m.label.as_deref();
        if let Some(l) = label {
            if !labels.allows(l) {
                labels.error = Some(format!("unknown label {l:?}"));
                continue;
            }
            // A class name from a labels file may hold a slash: it cannot be a label folder.
            if let Err(e) = crate::labels::check_name(l) {
                labels.error = Some(format!("cannot label with {e}"));
                continue;
            }
        }
        // Nothing to change (the items carry that label already): no batch.
        if let Some(b) = labels.state.assign(&m.items, label, now_ms()) {
            commit(&mut labels, b);
        }
    }
    for m in undo.read() {
        let batch = if m.redo {
            labels.state.redo_batch(now_ms())
        } else {
            labels.state.undo_batch(now_ms())
        };
        if let Some(b) = batch {
            commit(&mut labels, b);
        }
    }
}

fn commit(labels: &mut Labels, batch: crate::labels::Batch) {
    let Some(journal) = labels.journal.as_mut() else {
        labels.error = Some("labelling is off: no labels folder is open".to_owned());
        return;
    };
    match journal.append(&batch) {
        Ok(()) => {
            labels.state.replay(&batch);
            labels.version += 1;
            labels.error = None;
            copy_positives(labels, &batch);
        }
        Err(e) => {
            error!("{e}");
            labels.error = Some(e.to_string());
        }
    }
}

/// The reference's `save_selection_path`: copy the images newly given the first label.
fn copy_positives(labels: &mut Labels, batch: &crate::labels::Batch) {
    let (Some(dir), Some(first)) = (&labels.copy_positives_to, labels.set.names().first()) else {
        return;
    };
    let mut failures = Vec::new();
    for c in &batch.changes {
        if c.to.as_deref() != Some(first.as_str()) {
            continue;
        }
        let Some(source) = labels.image_paths.get(c.item as usize) else {
            continue;
        };
        if let Err(e) = crate::labels::export::copy_without_overwrite(source, dir, c.item) {
            failures.push(format!("{}: {e}", source.display()));
        }
    }
    if !failures.is_empty() {
        labels.error = Some(format!(
            "could not copy to {}: {}",
            dir.display(),
            failures.join("; ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::journal;

    #[test]
    fn label_messages_are_journalled_and_undoable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (j, state, _) = journal::open(dir.path(), 100).expect("journal");
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(Selection::default())
            .insert_resource(ButtonInput::<KeyCode>::default())
            .init_resource::<bevy_egui::input::EguiWantsInput>()
            .insert_resource(Labels::new(LabelSet::default(), state, Some(j)))
            .add_message::<super::super::SelectItem>()
            .add_plugins(LabelsPlugin);
        // A tile click with the active label (what the panel sends on Ctrl+click).
        app.world_mut().write_message(LabelItems {
            items: vec![ItemId(3), ItemId(5)],
            label: Some("positive".into()),
        });
        app.update();
        let labels = app.world().resource::<Labels>();
        assert_eq!(labels.state.get(ItemId(5)), Some("positive"));
        assert_eq!(labels.version, 1);
        // Persisted: the journal replays to the same labels.
        let (replayed, _) = journal::read(dir.path(), 100).expect("read");
        assert_eq!(replayed.get(ItemId(3)), Some("positive"));
        // A hotkey on the hovered item: 2 = negative.
        app.world_mut().resource_mut::<Selection>().hovered = Some(ItemId(7));
        app.world_mut()
            .resource_mut::<ButtonInput<KeyCode>>()
            .press(KeyCode::Digit2);
        app.update();
        // No input plugin here to age the key: release it by hand.
        let mut keys = app.world_mut().resource_mut::<ButtonInput<KeyCode>>();
        keys.release(KeyCode::Digit2);
        keys.clear();
        assert_eq!(
            app.world().resource::<Labels>().state.get(ItemId(7)),
            Some("negative")
        );
        assert_eq!(app.world().resource::<Labels>().active, 1);
        app.world_mut().write_message(UndoLabels { redo: false });
        app.update();
        let labels = app.world().resource::<Labels>();
        assert_eq!(labels.state.get(ItemId(7)), None);
        assert_eq!(labels.state.get(ItemId(3)), Some("positive"));
        let (replayed, _) = journal::read(dir.path(), 100).expect("read");
        assert_eq!(replayed, labels.state);
    }
}
