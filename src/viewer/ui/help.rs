//! The help overlay: the keys and mouse, opened with `?` (or F1) or the top bar's button.

use bevy::prelude::*;
use bevy_egui::egui;

/// Whether the help overlay is open.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HelpOpen(pub bool);

/// The keys, for the help overlay (and the README).
pub const KEYS: &[(&str, &str)] = &[
    ("left drag", "2D: pan · 3D: orbit"),
    ("right drag", "3D: pan · fly: look around"),
    ("wheel", "zoom at the cursor · fly: speed"),
    (
        "click",
        "select a point (its neighbours appear on the right)",
    ),
    ("Esc", "clear the selection"),
    (
        "1 … 9 · 0",
        "label the point under the cursor (or the selected one) · remove its label",
    ),
    (
        "Shift + drag",
        "lasso: select the points inside and give them the active label (Shift + Alt: remove; \"lasso labels\" off: select only)",
    ),
    (
        "Ctrl + click a tile",
        "give that neighbour the active label",
    ),
    ("Ctrl+Z · Ctrl+Shift+Z", "undo · redo labelling"),
    (
        "L",
        "label next: the images the probe on your labels cannot decide; 1 … 9 label the highlighted one",
    ),
    (
        "Right · Left · R",
        "label next: skip · back · a new batch now",
    ),
    (
        "N",
        "select the next unlabelled neighbour in the grid (fast review)",
    ),
    ("T", "thumbnails on / off (dots only)"),
    (
        "X",
        "declutter: one thumbnail per patch of screen in dense regions",
    ),
    ("V", "switch 2D / 3D"),
    ("G", "3D: switch orbit / fly-through"),
    ("W A S D / Q E", "fly: move / down, up (Shift: faster)"),
    ("F", "fit the view to the data"),
    ("M", "--compare: morph the map to B's and back"),
    (
        "B",
        "--compare: split view, A's map left and B's right, one camera",
    ),
    ("P", "save a screenshot (PNG in the current folder)"),
    (
        "/ · Ctrl+F",
        "search: words, /regex/, column:value, score>0.3, label:positive; Enter steps through",
    ),
    (
        "drop an image",
        "query by image (with --model): a marker on the map, its neighbours on the right",
    ),
    (
        "I",
        "issues panel: label issues, duplicates, outliers, map fidelity, leaks",
    ),
    (
        "Down · Up · Y · K",
        "issues: next / previous finding · accept the suggested class · not an issue",
    ),
    ("? (or F1)", "this help"),
];

pub(super) fn toggle_help(keys: Res<ButtonInput<KeyCode>>, mut help: ResMut<HelpOpen>) {
    // `?` is Shift+/ on most layouts; `/` alone focuses the search box.
    let shift = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    if keys.just_pressed(KeyCode::F1) || (keys.just_pressed(KeyCode::Slash) && shift) {
        help.0 = !help.0;
    }
}

/// The keys and mouse, in a window; whether it stays open.
pub(super) fn help_window(ctx: &egui::Context) -> bool {
    let mut open = true;
    egui::Window::new("Keys and mouse")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            egui::Grid::new("help-keys").striped(true).show(ui, |ui| {
                for (key, what) in KEYS {
                    ui.strong(*key);
                    ui.label(*what);
                    ui.end_row();
                }
            });
        });
    open
}
