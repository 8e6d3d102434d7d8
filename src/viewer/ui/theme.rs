//! Colours and sizes of the explorer's chrome, in one place.

use bevy::prelude::Color;
use bevy_egui::egui;

/// Behind the points.
pub const BACKGROUND: Color = Color::srgb(0.055, 0.06, 0.075);
/// Width of the left (colour, layout) and right (neighbours) panels, logical pixels.
pub const LEFT_PANEL_PX: f32 = 250.0;
pub const RIGHT_PANEL_PX: f32 = 430.0;
/// Side of the selected image at the top of the neighbour panel.
pub const SELECTED_IMAGE_PX: f32 = 200.0;
/// Frame around a tile: its colour value (class/cluster) so the grid reads like the plot.
pub const TILE_FRAME_PX: f32 = 3.0;

/// Width of the class histogram in the selection panel.
pub const SELECTION_CLASSES_PX: f32 = 300.0;
/// Starting height of the issues panel under the map (it can be dragged).
pub const ISSUES_PANEL_PX: f32 = 290.0;
/// The highlight colour: the search's yellow, for charts without a class colour.
pub const ACCENT: egui::Color32 = egui::Color32::from_rgb(240, 200, 60);

pub fn rgba8(c: [u8; 4]) -> egui::Color32 {
    egui::Color32::from_rgba_unmultiplied(c[0], c[1], c[2], c[3])
}

/// Dark visuals with slightly larger text than egui's default.
pub fn apply(ctx: &egui::Context) {
    ctx.set_theme(egui::Theme::Dark);
    ctx.style_mut_of(egui::Theme::Dark, |style| {
        for font in style.text_styles.values_mut() {
            font.size *= 1.05;
        }
    });
}

/// A neighbour kept / lost (the fidelity tiles and lines of the issues panel, the second
/// embedding's strip in the neighbour panel).
pub const KEPT_COLOR: crate::viewer::colors::Rgba8 = [70, 210, 110, 255];
/// Pure reds, far from the class palette's red (225, 87, 89).
pub const TORN_COLOR: crate::viewer::colors::Rgba8 = [255, 35, 35, 255];
