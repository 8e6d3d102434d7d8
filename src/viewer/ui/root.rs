//! The root [`egui::Ui`] the panels share within one pass: each panel, a system of its own,
//! takes its edge of what the panels before it left.

use bevy::prelude::*;
use bevy_egui::{EguiContexts, egui};

/// The root of this pass's panels, from [`begin_panels`] to `plot_area`, which
/// ends it: the panels, one system each, are laid out in it one after the other.
#[derive(Resource, Default)]
pub(super) struct PanelRoot(pub(super) Option<egui::Ui>);

/// A root over the whole window, on the background layer, for the panels to take their
/// edges of.
pub(super) fn begin_panels(mut contexts: EguiContexts, mut root: ResMut<PanelRoot>) -> Result {
    root.0 = None;
    let ctx = contexts.ctx_mut()?.clone();
    root.0 = Some(egui::Ui::new(
        ctx.clone(),
        "explorer-root".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    ));
    Ok(())
}
