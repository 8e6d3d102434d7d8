//! The issues panel, under the map while open (`I`): one tab per finding type with its count,
//! the findings worst first (only the rows in view are built and their thumbnails asked for),
//! each row the item's thumbnail beside its evidence — for a label issue the given and the
//! suggested class and the neighbours with their classes; for duplicates the group side by
//! side; for fidelity the original neighbours framed green (kept on the map) or red (torn
//! away) — and what can be done: accept the suggested class (`Y`), not an issue (`K`).
//!
//! [`describe_row`] turns a finding into an [`IssueRow`] (plain data, tested without a
//! window); [`issues_ui`] draws rows and returns what the user asked for.

use bevy_egui::egui;

use super::neighbors::tile_image;
use super::theme;
use crate::dataset::{Dataset, Images, ItemId};
use crate::knn::KnnGraph;
use crate::labels::LabelState;
use crate::quality::Audit;
use crate::viewer::colors::{Rgba8, category_color};
use crate::viewer::issues::IssueTab;
use crate::viewer::thumbs::Thumb;

/// The item's own thumbnail in a row, and the evidence tiles beside it.
pub const ROW_IMAGE_PX: f32 = 64.0;
pub const EVIDENCE_PX: f32 = 46.0;
/// Members of a duplicate group shown in its row.
const MAX_MEMBERS: usize = 12;
/// Text column beside the thumbnail.
const TEXT_PX: f32 = 280.0;
pub use super::theme::{KEPT_COLOR, TORN_COLOR};
const NEUTRAL: Rgba8 = [80, 80, 80, 255];

/// One evidence tile: an item, its frame and a caption.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub item: ItemId,
    pub frame: Rgba8,
    pub caption: String,
    pub hover: String,
}

/// One finding, ready to draw.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueRow {
    pub item: ItemId,
    pub frame: Rgba8,
    pub title: String,
    pub lines: Vec<String>,
    pub tiles: Vec<Tile>,
    /// The accept button's text (label issues not yet fixed).
    pub accept: Option<String>,
    /// What was done about it already.
    pub done: Option<String>,
}

/// What a row is described from.
pub struct RowContext<'a> {
    pub audit: &'a Audit,
    pub data: &'a Dataset,
    pub graph: &'a KnnGraph,
    pub labels: &'a LabelState,
    pub splits: Option<&'a [String]>,
    pub split_codes: Option<&'a [u32]>,
    /// The item's own map neighbours for the fidelity tiles (N × k), when current.
    pub on_map: Option<&'a [u32]>,
}

/// An item's class: its code and name.
pub fn class_of(data: &Dataset, item: u32) -> Option<(u32, &str)> {
    let code = *data.classes.as_ref()?.labels.codes.get(item as usize)?;
    Some((code, class_name(data, code)?))
}

/// The name of class `code`.
pub fn class_name(data: &Dataset, code: u32) -> Option<&str> {
    let names = &data.classes.as_ref()?.labels.names;
    names.get(code as usize).map(String::as_str)
}

/// The frame of an item's tile: its class colour, grey without classes.
pub fn class_frame(data: &Dataset, item: u32) -> Rgba8 {
    class_of(data, item).map_or(NEUTRAL, |(code, _)| category_color(code as usize))
}

/// `#index · file · class`, as much of it as the data set has.
pub fn item_title(data: &Dataset, item: u32) -> String {
    let name = match &data.images {
        Images::Files(f) => f
            .paths
            .get(item as usize)
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
        _ => None,
    };
    match (name, class_of(data, item)) {
        (Some(n), Some((_, c))) => format!("#{item} · {n} · {c}"),
        (Some(n), None) => format!("#{item} · {n}"),
        (None, Some((_, c))) => format!("#{item} · {c}"),
        (None, None) => format!("#{item}"),
    }
}

impl RowContext<'_> {
    fn class(&self, item: u32) -> Option<(u32, &str)> {
        class_of(self.data, item)
    }

    fn class_frame(&self, item: u32) -> Rgba8 {
        class_frame(self.data, item)
    }

    fn title(&self, item: u32) -> String {
        item_title(self.data, item)
    }

    /// The item's k graph neighbours as tiles framed by `frame`.
    fn neighbour_tiles(&self, item: u32, frame: &dyn Fn(u32) -> (Rgba8, String)) -> Vec<Tile> {
        let k = self.audit.k;
        let i = item as usize;
        self.graph.neighbors(i)[..k]
            .iter()
            .zip(&self.graph.neighbor_distances(i)[..k])
            .map(|(&j, &d)| {
                let (colour, caption) = frame(j);
                Tile {
                    item: ItemId(j),
                    frame: colour,
                    hover: format!("{}\ndistance {d:.4}", self.title(j)),
                    caption,
                }
            })
            .collect()
    }

    /// A row for one item: its thumbnail, title, evidence; nothing to accept.
    fn item_row(&self, item: u32, lines: Vec<String>, tiles: Vec<Tile>) -> IssueRow {
        IssueRow {
            item: ItemId(item),
            frame: self.class_frame(item),
            title: self.title(item),
            lines,
            tiles,
            accept: None,
            done: None,
        }
    }

    fn members(&self, group: &[u32], caption: &dyn Fn(u32) -> String) -> Vec<Tile> {
        group
            .iter()
            .take(MAX_MEMBERS)
            .map(|&j| Tile {
                item: ItemId(j),
                frame: self.class_frame(j),
                caption: caption(j),
                hover: self.title(j),
            })
            .collect()
    }
}

/// The `row`-th finding of `tab` (`rows` are the tab's entries: items, or group indices).
pub fn describe_row(
    ctx: &RowContext<'_>,
    tab: IssueTab,
    rows: &[u32],
    row: usize,
) -> Option<IssueRow> {
    let &entry = rows.get(row)?;
    let audit = ctx.audit;
    let class_caption = |j: u32| {
        ctx.class(j)
            .map_or_else(|| format!("#{j}"), |(_, c)| c.to_owned())
    };
    Some(match tab {
        IssueTab::Labels => {
            let l = audit.labels.as_ref()?;
            let names = &ctx.data.classes.as_ref()?.labels.names;
            let i = entry as usize;
            let (given, _) = ctx.class(entry)?;
            let suggested = l.suggested[i];
            let p = |c: u32| l.probs[i * l.n_classes + c as usize];
            let sugg_name = names[suggested as usize].as_str();
            let relabelled = ctx.labels.get(ItemId(entry));
            let lines = vec![
                format!("given {} · suggested {sugg_name}", names[given as usize]),
                format!(
                    "p({}) {:.2} · p({sugg_name}) {:.2} from {} neighbours",
                    names[given as usize],
                    p(given),
                    p(suggested),
                    audit.k
                ),
            ];
            let tiles = ctx.neighbour_tiles(entry, &|j| (ctx.class_frame(j), class_caption(j)));
            IssueRow {
                accept: (relabelled != Some(sugg_name)).then(|| format!("accept {sugg_name} (Y)")),
                done: relabelled.map(|l| {
                    if l == sugg_name {
                        format!("relabelled {l} (Ctrl+Z undoes)")
                    } else {
                        format!("labelled {l}")
                    }
                }),
                ..ctx.item_row(entry, lines, tiles)
            }
        }
        IssueTab::Duplicates | IssueTab::Leaks => {
            let d = &audit.duplicates;
            let group = d.groups.get(entry as usize)?;
            let first = *group.first()?;
            let exact = group.iter().filter(|&&j| d.exact[j as usize]).count();
            let mut classes: Vec<&str> = group
                .iter()
                .filter_map(|&j| ctx.class(j).map(|c| c.1))
                .collect();
            classes.sort_unstable();
            classes.dedup();
            let mut lines = vec![if exact == group.len() {
                "exact copies (identical features)".to_owned()
            } else if exact > 0 {
                format!("{exact} exact copies, the others within {:.4}", d.threshold)
            } else {
                format!(
                    "near copies: within {:.4} of each other ({})",
                    d.threshold, d.threshold_source
                )
            }];
            if classes.len() > 1 {
                lines.push(format!("classes differ: {}", classes.join(", ")));
            }
            let split_of = |j: u32| {
                ctx.split_codes
                    .zip(ctx.splits)
                    .map(|(codes, names)| names[codes[j as usize] as usize].clone())
            };
            let caption: Box<dyn Fn(u32) -> String> = if tab == IssueTab::Leaks {
                let mut splits: Vec<String> = group.iter().filter_map(|&j| split_of(j)).collect();
                splits.sort_unstable();
                splits.dedup();
                lines.insert(0, format!("across the splits {}", splits.join(", ")));
                Box::new(move |j| split_of(j).unwrap_or_default())
            } else {
                Box::new(|j| format!("#{j}"))
            };
            if group.len() > MAX_MEMBERS {
                lines.push(format!("(the first {MAX_MEMBERS} shown)"));
            }
            let in_split = match (tab, split_of(first)) {
                (IssueTab::Leaks, Some(s)) => format!(" · {s}"),
                _ => String::new(),
            };
            IssueRow {
                item: ItemId(first),
                frame: ctx.class_frame(first),
                title: format!("{} items · {}{in_split}", group.len(), ctx.title(first)),
                lines,
                tiles: ctx.members(&group[1..], &*caption),
                accept: None,
                done: None,
            }
        }
        IssueTab::Outliers => {
            let i = entry as usize;
            let k = audit.k;
            let kth = ctx.graph.neighbor_distances(i)[k - 1];
            let score = audit.outliers.score[i];
            ctx.item_row(
                entry,
                vec![
                    format!("outlier score {score:.2} (about 1 inside a cluster)"),
                    format!("its {k}th neighbour at {kth:.4}: {score:.1}× as far as theirs"),
                ],
                ctx.neighbour_tiles(entry, &|j| (ctx.class_frame(j), class_caption(j))),
            )
        }
        IssueTab::Fidelity => {
            let f = audit.fidelity.as_ref()?;
            let i = entry as usize;
            let k = audit.k;
            let kept_on_map = ctx.on_map.map(|m| &m[i * k..(i + 1) * k]);
            let kept = |j: u32| kept_on_map.map(|m| m.contains(&j));
            ctx.item_row(
                entry,
                vec![
                    format!(
                        "keeps {} of its {k} original neighbours on the map",
                        (f.preserved[i] * k as f32).round() as usize
                    ),
                    format!(
                        "trust penalty {} · green: kept, red: torn away",
                        f.trust_penalty[i]
                    ),
                ],
                ctx.neighbour_tiles(entry, &|j| match kept(j) {
                    Some(true) => (KEPT_COLOR, "kept".to_owned()),
                    Some(false) => (TORN_COLOR, "torn".to_owned()),
                    None => (NEUTRAL, String::new()),
                }),
            )
        }
    })
}

/// A tab's button: its count, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub struct TabInfo {
    pub tab: IssueTab,
    pub count: Result<usize, &'static str>,
}

/// Everything the panel shows besides the rows.
pub struct IssuesPanel<'a> {
    pub tab: IssueTab,
    pub tabs: &'a [TabInfo],
    /// The audit's state or its parameters, in words (short), and more on hover.
    pub status: &'a str,
    pub status_detail: &'a str,
    pub n_rows: usize,
    pub current: Option<usize>,
    /// Findings of this tab marked "not an issue".
    pub dismissed: usize,
    pub error: Option<&'a str>,
    /// The map is coloured by this tab's score.
    pub colored: bool,
    pub score_label: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IssuesUiAction {
    Tab(IssueTab),
    Go(usize),
    Accept(usize),
    Dismiss(usize),
    ColorBy,
    Select(ItemId),
    Close,
}

/// The panel; `row` builds a finding (asked only for the rows in view), `thumb` its images.
pub fn issues_ui(
    ui: &mut egui::Ui,
    panel: &IssuesPanel<'_>,
    row: &dyn Fn(usize) -> Option<IssueRow>,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<IssuesUiAction> {
    let mut action = None;
    // Fill the panel: egui sizes a panel by its content, and a first frame with nothing to
    // list would shrink it for good.
    ui.set_min_height(ui.available_height());
    ui.horizontal(|ui| {
        ui.strong("Issues");
        for t in panel.tabs {
            let text = match t.count {
                Ok(n) => format!("{} ({n})", t.tab.title()),
                Err(_) => t.tab.title().to_owned(),
            };
            let r = ui.add_enabled(
                t.count.is_ok(),
                egui::Button::selectable(panel.tab == t.tab, text),
            );
            let r = match t.count {
                Err(why) => r.on_disabled_hover_text(why),
                Ok(_) => r,
            };
            if r.clicked() {
                action = Some(IssuesUiAction::Tab(t.tab));
            }
        }
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.small_button("close (I)").clicked() {
                action = Some(IssuesUiAction::Close);
            }
        });
    });
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(
                !panel.colored,
                egui::Button::new("colour the map by it").small(),
            )
            .on_hover_text(format!("colour every point by {}", panel.score_label))
            .clicked()
        {
            action = Some(IssuesUiAction::ColorBy);
        }
        ui.label(egui::RichText::new(panel.status).small().weak())
            .on_hover_text(panel.status_detail);
        if panel.dismissed > 0 {
            ui.label(
                egui::RichText::new(format!("· {} marked not an issue", panel.dismissed)).small(),
            );
        }
        ui.label(
            egui::RichText::new("· Down / Up step, Y accept, K not an issue")
                .small()
                .weak(),
        );
        if let Some(e) = panel.error {
            ui.colored_label(egui::Color32::YELLOW, e);
        }
    });
    if panel.n_rows == 0 {
        ui.label(if panel.tabs.iter().any(|t| t.count.is_ok()) {
            "Nothing to show here."
        } else {
            "Computing the audit…"
        });
        return action;
    }
    let row_px = ROW_IMAGE_PX + 18.0;
    let mut scroll = egui::ScrollArea::vertical()
        .id_salt(("issues-rows", panel.tab))
        .auto_shrink([false, false]);
    // Keep the current row in view as the keys step through the list.
    if let Some(c) = panel.current {
        let spacing = ui.spacing().item_spacing.y;
        let top = c as f32 * (row_px + spacing);
        let h = ui.available_height();
        let shown = ui
            .ctx()
            .data(|d| d.get_temp::<f32>(egui::Id::new(("issues-offset", panel.tab))))
            .unwrap_or(0.0);
        if top < shown || top + row_px > shown + h {
            scroll = scroll.vertical_scroll_offset((top - h / 2.0).max(0.0));
        }
    }
    let out = scroll.show_rows(ui, row_px, panel.n_rows, |ui, range| {
        for r in range {
            let Some(finding) = row(r) else { continue };
            if let Some(a) = row_ui(ui, panel, r, &finding, row_px, thumb) {
                action = Some(a);
            }
        }
    });
    let offset = out.state.offset.y;
    ui.ctx()
        .data_mut(|d| d.insert_temp(egui::Id::new(("issues-offset", panel.tab)), offset));
    action
}

fn row_ui(
    ui: &mut egui::Ui,
    panel: &IssuesPanel<'_>,
    r: usize,
    finding: &IssueRow,
    row_px: f32,
    thumb: &mut dyn FnMut(ItemId) -> Thumb,
) -> Option<IssuesUiAction> {
    let mut action = None;
    let current = panel.current == Some(r);
    let response = ui.horizontal(|ui| {
        ui.set_height(row_px);
        let image = tile_image(ui, &thumb(finding.item), ROW_IMAGE_PX, finding.frame)
            .on_hover_text("click: select it on the map");
        if image.clicked() {
            action = Some(IssuesUiAction::Go(r));
        }
        ui.vertical(|ui| {
            ui.set_width(TEXT_PX);
            ui.add(egui::Label::new(egui::RichText::new(&finding.title).strong()).truncate());
            for line in &finding.lines {
                ui.add(egui::Label::new(egui::RichText::new(line).small()).truncate());
            }
            // The actions under the evidence text: the tiles get the rest of the width.
            ui.horizontal(|ui| {
                if let Some(text) = &finding.accept
                    && ui
                        .small_button(text)
                        .on_hover_text(
                            "give it the suggested class in the labels journal (Ctrl+Z undoes)",
                        )
                        .clicked()
                {
                    action = Some(IssuesUiAction::Accept(r));
                }
                if let Some(done) = &finding.done {
                    ui.label(
                        egui::RichText::new(done)
                            .small()
                            .color(theme::rgba8(KEPT_COLOR)),
                    );
                }
                if ui
                    .small_button("not an issue (K)")
                    .on_hover_text(
                        "keep it as it is; it is not shown again (kept in the labels folder)",
                    )
                    .clicked()
                {
                    action = Some(IssuesUiAction::Dismiss(r));
                }
            });
        });
        let step = EVIDENCE_PX + ui.spacing().item_spacing.x;
        let fit = ((ui.available_width() + ui.spacing().item_spacing.x) / step)
            .floor()
            .max(0.0) as usize;
        for t in finding.tiles.iter().take(fit) {
            ui.vertical(|ui| {
                let r =
                    tile_image(ui, &thumb(t.item), EVIDENCE_PX, t.frame).on_hover_text(&t.hover);
                if r.clicked() {
                    action = Some(IssuesUiAction::Select(t.item));
                }
                ui.add_sized(
                    [EVIDENCE_PX, 12.0],
                    egui::Label::new(egui::RichText::new(&t.caption).small().weak()).truncate(),
                );
            });
        }
    });
    let rect = response.response.rect;
    if current {
        ui.painter().rect_stroke(
            rect.expand(1.0),
            3.0,
            egui::Stroke::new(2.0, theme::ACCENT),
            egui::StrokeKind::Outside,
        );
    }
    action
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Categorical, ClassSource, Classes, Features};
    use crate::knn::{Metric, exact_knn};
    use crate::labels::LabelState;
    use crate::quality::{AuditInput, Labels, audit};

    /// Six items of "a" at 0…5 and six of "b" at 100…105; item 2 says "b", items 8 and 9 are
    /// one row.
    fn case() -> (Dataset, KnnGraph) {
        let mut x: Vec<f32> = (0..6)
            .map(|i| i as f32)
            .chain((0..6).map(|i| 100.0 + i as f32))
            .collect();
        x[9] = x[8];
        let mut names = vec!["a"; 6];
        names.extend(["b"; 6]);
        names[2] = "b";
        let data = Dataset {
            name: "t".into(),
            features: Features::new(12, 1, x, "float32", "x.npy", "x.npy").expect("features"),
            images: Images::None,
            classes: Some(Classes {
                labels: Categorical::from_strings(&names),
                source: ClassSource::BuiltIn,
            }),
            metadata: None,
        };
        let graph = exact_knn(&data.features.values(), 1, 4, Metric::Euclidean, &()).expect("knn");
        (data, graph)
    }

    #[test]
    fn a_label_issue_row_shows_both_classes_and_the_neighbours_classes() {
        let (data, graph) = case();
        let classes = data.classes.as_ref().expect("classes");
        let a = audit(&AuditInput {
            features: &data.features.values(),
            dim: 1,
            graph: &graph,
            k: 4,
            dup_threshold: None,
            labels: Some(Labels {
                codes: &classes.labels.codes,
                names: &classes.labels.names,
            }),
            layout: None,
            splits: None,
        })
        .expect("audit");
        let labels = LabelState::default();
        let ctx = RowContext {
            audit: &a,
            data: &data,
            graph: &graph,
            labels: &labels,
            splits: None,
            split_codes: None,
            on_map: None,
        };
        let row = describe_row(&ctx, IssueTab::Labels, &[2], 0).expect("row");
        assert_eq!(row.item, ItemId(2));
        assert_eq!(row.title, "#2 · b");
        assert!(
            row.lines[0].contains("given b · suggested a"),
            "{:?}",
            row.lines
        );
        assert_eq!(row.tiles.len(), 4);
        assert!(row.tiles.iter().all(|t| t.caption == "a"));
        assert_eq!(row.accept.as_deref(), Some("accept a (Y)"));
        assert_eq!(row.done, None);
        // Once relabelled: no button, a note instead.
        let batch = labels.assign(&[ItemId(2)], Some("a"), 1).expect("batch");
        let mut relabelled = labels.clone();
        relabelled.replay(&batch);
        let ctx = RowContext {
            labels: &relabelled,
            ..ctx
        };
        let row = describe_row(&ctx, IssueTab::Labels, &[2], 0).expect("row");
        assert_eq!(row.accept, None);
        assert!(
            row.done
                .as_deref()
                .is_some_and(|d| d.contains("relabelled a"))
        );
        // The duplicate pair, side by side: the first in the row, its copy as a tile.
        let g = a.duplicates.group_of[8].expect("grouped");
        let row = describe_row(&ctx, IssueTab::Duplicates, &[g], 0).expect("row");
        assert_eq!(row.item, ItemId(8));
        assert_eq!(
            row.tiles.iter().map(|t| t.item).collect::<Vec<_>>(),
            vec![ItemId(9)]
        );
        assert!(row.lines[0].contains("exact copies"));
        // Out of range: nothing.
        assert!(describe_row(&ctx, IssueTab::Labels, &[2], 1).is_none());
    }
}
