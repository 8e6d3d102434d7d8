//! The selection panel, docked under the map while a set is current (a lasso, a search):
//! its size and classes, a strip of its items, and what can be done with it.

use bevy::prelude::*;
use bevy_egui::egui;

use super::item_info::item_info;
use super::root::PanelRoot;
use super::selection::{SelectionAction, SelectionPanel, selection_ui};
use crate::dataset::ItemId;
use crate::viewer::colors::ColorSource;
use crate::viewer::item_set::{ItemSet, SetAction};
use crate::viewer::labels::Labels;
use crate::viewer::state::{ColorState, SelectItem, Store};
use crate::viewer::thumbs::Thumbs;

/// The selection panel, after the issues panel: it takes the bottom of what is left.
#[allow(clippy::too_many_arguments)]
pub(super) fn selection_panel(
    mut root: ResMut<PanelRoot>,
    store: Res<Store>,
    color: Res<ColorState>,
    labels: Res<Labels>,
    mut thumbs: ResMut<Thumbs>,
    mut set: ResMut<ItemSet>,
    mut set_action: MessageWriter<SetAction>,
    mut select: MessageWriter<SelectItem>,
) {
    let Some(root) = root.0.as_mut() else {
        return;
    };
    // Under the map, between the side panels: the selection and what can be done with it. A
    // docked panel, not an overlay: no point hides under it (the view refits while the user
    // has not moved it).
    if set.items.is_some() {
        let set = &mut *set;
        let by_class = matches!(color.source, ColorSource::Class);
        let classes: Vec<_> = set
            .class_counts(&store.data)
            .iter()
            .map(|c| {
                let colour =
                    by_class.then(|| crate::viewer::colors::category_color(c.code as usize));
                (c.clone(), colour)
            })
            .collect();
        let strip: Vec<ItemId> = set
            .items
            .iter()
            .flat_map(|items| items.iter().take(crate::viewer::item_set::STRIP_MAX))
            .map(|&i| ItemId(i))
            .collect();
        let panel = SelectionPanel {
            count: set.len(),
            n_items: store.n_items(),
            origin: set
                .origin
                .as_ref()
                .map(|o| o.describe())
                .unwrap_or_default(),
            hide_others: set.hide_others,
            lasso_labels: set.lasso_labels,
            active_label: labels.active_name(),
            classes: &classes,
            strip: &strip,
            status: set.status.as_deref(),
            details: set.details,
        };
        let title = |item: ItemId| item_info(&store, &color, &labels, item).title;
        let mut thumb = |item: ItemId| thumbs.get(item);
        let action = egui::Panel::bottom("selection")
            .show(root, |ui| selection_ui(ui, &panel, &title, &mut thumb))
            .inner;
        match action {
            Some(SelectionAction::Set(a)) => {
                set_action.write(a);
            }
            Some(SelectionAction::HideOthers(on)) => set.hide_others = on,
            Some(SelectionAction::LassoLabels(on)) => set.lasso_labels = on,
            Some(SelectionAction::Details(on)) => set.details = on,
            Some(SelectionAction::Select(item)) => {
                select.write(SelectItem {
                    item: Some(item),
                    focus: true,
                });
            }
            None => {}
        }
    }
}
