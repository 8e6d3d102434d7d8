//! The filters panel: a histogram per numeric metadata column and a bar chart per categorical
//! one (and the classes), each showing all items in grey and the current search's matches in
//! colour — how the found items differ from the rest. Brushing a histogram or clicking a bar
//! writes search terms (`score>=0.2 score<=0.5`, `split=val`) into the search box, so a filter
//! is a search: one language, one matcher, one highlight on the map.
//!
//! A text column whose values are nearly all unique (names, code points, file ids) gets one
//! line instead of bars — twelve bars of count 2 are noise that pushes the useful charts down —
//! and such lines come after every chart.

use std::sync::Arc;

use bevy_egui::egui;

use crate::dataset::{Categorical, ColumnValues, Dataset};

/// Bins of a numeric histogram.
pub const BINS: usize = 30;
/// Bars shown per categorical column (the most frequent).
pub const MAX_BARS: usize = 12;

/// One column's chart data.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// The name a search term uses (`class` for the classes).
    pub field: String,
    pub kind: ChartKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChartKind {
    /// Equal-width bins over [lo, hi]; missing values are not counted.
    Numeric {
        lo: f64,
        hi: f64,
        all: Vec<u32>,
        matched: Vec<u32>,
    },
    /// The most frequent values, largest first, with their counts.
    Categorical {
        names: Vec<String>,
        all: Vec<u32>,
        matched: Vec<u32>,
    },
    /// A column of nearly unique values ([`nearly_unique`]): how many distinct values it
    /// holds, and how many of them the matches have.
    Distinct { values: usize, matched: usize },
}

/// Whether a categorical column with these per-value counts is nearly unique: more values
/// than bars, and most rows hold a value that at most one other row shares. Its bars would
/// each show a count of one or two.
pub fn nearly_unique(counts: &[u32]) -> bool {
    let rows: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    let rare: u64 = counts
        .iter()
        .filter(|&&c| c <= 2)
        .map(|&c| u64::from(c))
        .sum();
    counts.len() > MAX_BARS && 2 * rare >= rows
}

/// The charts of every column of `data`, with the counts of `matches` (the search's items):
/// the classes first, the nearly unique columns' lines last.
pub fn charts(data: &Dataset, matches: Option<&[u32]>) -> Vec<Chart> {
    let mut out = Vec::new();
    if let Some(classes) = &data.classes {
        out.push(categorical_chart("class", &classes.labels, matches));
    }
    for column in data.metadata.iter().flat_map(|m| &m.columns) {
        out.push(match &column.values {
            ColumnValues::Categorical(cat) => categorical_chart(&column.name, cat, matches),
            ColumnValues::Numeric(values) => numeric_chart(&column.name, values, matches),
        });
    }
    // Stable: the columns keep their file order within each group.
    out.sort_by_key(|c| matches!(c.kind, ChartKind::Distinct { .. }));
    out
}

fn categorical_chart(field: &str, cat: &Categorical, matches: Option<&[u32]>) -> Chart {
    let mut all = vec![0u32; cat.names.len()];
    for &c in &cat.codes {
        all[c as usize] += 1;
    }
    let mut matched = vec![0u32; cat.names.len()];
    for &i in matches.unwrap_or_default() {
        if let Some(&c) = cat.codes.get(i as usize) {
            matched[c as usize] += 1;
        }
    }
    if nearly_unique(&all) {
        return Chart {
            field: field.to_owned(),
            kind: ChartKind::Distinct {
                values: all.iter().filter(|&&a| a > 0).count(),
                matched: matched.iter().filter(|&&m| m > 0).count(),
            },
        };
    }
    let mut order: Vec<usize> = (0..cat.names.len()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(all[c]), c));
    order.truncate(MAX_BARS);
    Chart {
        field: field.to_owned(),
        kind: ChartKind::Categorical {
            names: order.iter().map(|&c| cat.names[c].clone()).collect(),
            all: order.iter().map(|&c| all[c]).collect(),
            matched: order.iter().map(|&c| matched[c]).collect(),
        },
    }
}

fn numeric_chart(field: &str, values: &[f64], matches: Option<&[u32]>) -> Chart {
    let (lo, hi) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 0.0) };
    let bin = |v: f64| -> Option<usize> {
        if !v.is_finite() {
            return None;
        }
        Some(if hi > lo {
            (((v - lo) / (hi - lo) * BINS as f64) as usize).min(BINS - 1)
        } else {
            0
        })
    };
    let mut all = vec![0u32; BINS];
    for &v in values {
        if let Some(b) = bin(v) {
            all[b] += 1;
        }
    }
    let mut matched = vec![0u32; BINS];
    for &i in matches.unwrap_or_default() {
        if let Some(b) = values.get(i as usize).and_then(|&v| bin(v)) {
            matched[b] += 1;
        }
    }
    Chart {
        field: field.to_owned(),
        kind: ChartKind::Numeric {
            lo,
            hi,
            all,
            matched,
        },
    }
}

/// A count with thousands separated: 1,911.
pub fn grouped(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `text` with every term about `field` (`field:…`, `field=…`, `field>…` …) replaced by
/// `terms` (none: the filter on that field is cleared). Other terms are kept as typed.
pub fn set_field_terms(text: &str, field: &str, terms: &[String]) -> String {
    let about_field = |token: &str| {
        let body = token.strip_prefix('-').unwrap_or(token);
        let name = body
            .strip_prefix('"')
            .map_or(field.to_owned(), |_| format!("\"{field}\""));
        body.len() > name.len()
            && body[..name.len()].eq_ignore_ascii_case(&name)
            && body[name.len()..].starts_with([':', '=', '<', '>', '!'])
    };
    let mut kept: Vec<String> = crate::search::split_terms(text)
        .into_iter()
        .filter(|t| !about_field(t))
        .collect();
    kept.extend(terms.iter().cloned());
    kept.join(" ")
}

/// A field name as a search term writes it (quoted when it holds a space or an operator).
pub fn quoted(name: &str) -> String {
    if name.contains(|c: char| c.is_whitespace() || ":=<>!\"-/".contains(c)) {
        format!("\"{name}\"")
    } else {
        name.to_owned()
    }
}

/// A value as a search term writes it.
fn value_term(value: &str) -> String {
    if value.contains(char::is_whitespace) {
        format!("\"{value}\"")
    } else {
        value.to_owned()
    }
}

/// The charts cached for one set of matches (rebuilt when the search result changes).
#[derive(Debug, Default)]
pub struct ChartCache {
    /// The matches the charts were drawn for (by address; `Some(None)`: no search).
    key: Option<Option<usize>>,
    pub charts: Vec<Chart>,
}

impl ChartCache {
    pub fn update(&mut self, data: &Dataset, matches: Option<&Arc<Vec<u32>>>) {
        let key = matches.map(|m| Arc::as_ptr(m) as usize);
        if self.key != Some(key) {
            self.key = Some(key);
            self.charts = charts(data, matches.map(|m| m.as_slice()));
        }
    }
}

/// Draw the charts; returns the new search text when a bar was clicked or a range brushed.
pub fn filters_ui(ui: &mut egui::Ui, charts: &[Chart], text: &str) -> Option<String> {
    let mut new_text = None;
    let grey = egui::Color32::from_gray(90);
    let accent = egui::Color32::from_rgb(250, 200, 60);
    for chart in charts {
        let field = quoted(&chart.field);
        ui.label(egui::RichText::new(&chart.field).strong());
        match &chart.kind {
            ChartKind::Distinct { values, matched } => {
                let found = if crate::search::split_terms(text).is_empty() {
                    String::new()
                } else {
                    format!(" ({} among the found)", grouped(*matched))
                };
                ui.label(
                    egui::RichText::new(format!(
                        "{} distinct values{found} — search `{field}:…`",
                        grouped(*values)
                    ))
                    .small(),
                )
                .on_hover_text(
                    "nearly every value is unique or shared by two items: \
                     a bar chart would show counts of one or two",
                );
            }
            ChartKind::Categorical {
                names,
                all,
                matched,
            } => {
                let max = all.iter().copied().max().unwrap_or(1).max(1) as f32;
                for ((name, &a), &m) in names.iter().zip(all).zip(matched) {
                    let (rect, response) = ui.allocate_exact_size(
                        egui::vec2(ui.available_width(), 16.0),
                        egui::Sense::click(),
                    );
                    let bar_w = rect.width() * 0.45;
                    let bar = |n: u32| {
                        egui::Rect::from_min_size(
                            rect.min,
                            egui::vec2(bar_w * n as f32 / max, rect.height() - 3.0),
                        )
                    };
                    let painter = ui.painter();
                    painter.rect_filled(bar(a), 0.0, grey);
                    painter.rect_filled(bar(m), 0.0, accent);
                    painter.text(
                        rect.min + egui::vec2(bar_w + 6.0, 0.0),
                        egui::Align2::LEFT_TOP,
                        format!("{name}  {m}/{a}"),
                        egui::FontId::proportional(11.0),
                        ui.visuals().text_color(),
                    );
                    if response
                        .on_hover_text("click: only this value (click again: any)")
                        .clicked()
                    {
                        let term = format!("{field}={}", value_term(name));
                        let on = crate::search::split_terms(text).contains(&term);
                        let terms = if on { Vec::new() } else { vec![term] };
                        new_text = Some(set_field_terms(text, &chart.field, &terms));
                    }
                }
            }
            ChartKind::Numeric {
                lo,
                hi,
                all,
                matched,
            } => {
                let (rect, response) = ui.allocate_exact_size(
                    egui::vec2(ui.available_width(), 36.0),
                    egui::Sense::drag(),
                );
                let max = all.iter().copied().max().unwrap_or(1).max(1) as f32;
                let w = rect.width() / BINS as f32;
                let painter = ui.painter();
                for (b, (&a, &m)) in all.iter().zip(matched).enumerate() {
                    let x = rect.min.x + b as f32 * w;
                    let column = |n: u32, colour| {
                        let h = rect.height() * n as f32 / max;
                        painter.rect_filled(
                            egui::Rect::from_min_max(
                                egui::pos2(x, rect.max.y - h),
                                egui::pos2(x + w - 1.0, rect.max.y),
                            ),
                            0.0,
                            colour,
                        );
                    };
                    column(a, grey);
                    column(m, accent);
                }
                ui.label(
                    egui::RichText::new(format!("{lo:.3} … {hi:.3}  (drag to filter)")).small(),
                );
                let at = |x: f32| {
                    lo + (hi - lo) * f64::from(((x - rect.min.x) / rect.width()).clamp(0.0, 1.0))
                };
                if response.double_clicked() {
                    new_text = Some(set_field_terms(text, &chart.field, &[]));
                } else if response.drag_stopped()
                    && let (Some(start), Some(end)) = (
                        ui.input(|i| i.pointer.press_origin()).map(|p| p.x),
                        response.interact_pointer_pos().map(|p| p.x),
                    )
                {
                    let (a, b) = (at(start.min(end)), at(start.max(end)));
                    new_text = Some(set_field_terms(
                        text,
                        &chart.field,
                        &[format!("{field}>={a:.4}"), format!("{field}<={b:.4}")],
                    ));
                }
            }
        }
        ui.add_space(4.0);
    }
    new_text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Categorical, Column, Metadata};

    #[test]
    fn terms_for_a_field_are_replaced_and_the_rest_kept() {
        assert_eq!(
            set_field_terms(
                "flip score>0.1 class:cat",
                "score",
                &["score>=0.2".into(), "score<=0.5".into()]
            ),
            "flip class:cat score>=0.2 score<=0.5"
        );
        assert_eq!(
            set_field_terms("-Score<3 scores>1 x", "score", &[]),
            "scores>1 x"
        );
        assert_eq!(
            set_field_terms("", "split", &["split=val".into()]),
            "split=val"
        );
        assert_eq!(
            set_field_terms("\"my col\"=a b", "my col", &["\"my col\"=c".into()]),
            "b \"my col\"=c"
        );
        assert_eq!(quoted("my col"), "\"my col\"");
        assert_eq!(quoted("score"), "score");
    }

    #[test]
    fn charts_count_all_items_and_the_matches() {
        let mut data = crate::dataset::load_demo();
        data.metadata = Some(Metadata {
            columns: vec![Column {
                name: "score".into(),
                values: ColumnValues::Numeric(
                    (0..data.n_items())
                        .map(|i| {
                            if i % 10 == 0 {
                                f64::NAN
                            } else {
                                (i % 100) as f64
                            }
                        })
                        .collect(),
                ),
            }],
        });
        let matches: Vec<u32> = (0..50).collect();
        let charts = charts(&data, Some(&matches));
        assert_eq!(charts.len(), 2);
        let ChartKind::Categorical {
            names,
            all,
            matched,
        } = &charts[0].kind
        else {
            panic!("class chart");
        };
        assert_eq!((charts[0].field.as_str(), names.len()), ("class", 10));
        assert!(all.iter().all(|&a| a == 1000));
        // The first 50 items' classes, over the bars shown.
        let shown = matched.iter().sum::<u32>();
        assert_eq!(shown, 50);
        let ChartKind::Numeric {
            lo,
            hi,
            all,
            matched,
        } = &charts[1].kind
        else {
            panic!("score chart");
        };
        assert_eq!((*lo, *hi), (1.0, 99.0));
        // Missing values (every tenth) are not counted.
        assert_eq!(all.iter().sum::<u32>(), 9_000);
        assert_eq!(matched.iter().sum::<u32>(), 45);
        // Without a search nothing is matched.
        let plain = super::charts(&data, None);
        let ChartKind::Numeric { matched, .. } = &plain[1].kind else {
            panic!("score chart");
        };
        assert_eq!(matched.iter().sum::<u32>(), 0);
    }

    #[test]
    fn nearly_unique_text_columns_get_one_line_after_the_charts() {
        let mut data = crate::dataset::load_demo();
        let n = data.n_items();
        let column = |name: &str, value: &dyn Fn(usize) -> String| Column {
            name: name.into(),
            values: ColumnValues::Categorical(Categorical::from_strings(
                &(0..n).map(value).collect::<Vec<_>>(),
            )),
        };
        data.metadata = Some(Metadata {
            columns: vec![
                // Pairs of rows share a name, as emoji skin tones share a short name.
                column("short_name", &|i| format!("name_{}", i / 2)),
                column("style", &|i| ["flat", "3d", "outline"][i % 3].to_owned()),
                // Many values, but each shared by ten rows: still a useful chart.
                column("group", &|i| format!("g{}", i / 10)),
            ],
        });
        let matches: Vec<u32> = (0..7).collect();
        let charts = charts(&data, Some(&matches));
        let fields: Vec<&str> = charts.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["class", "style", "group", "short_name"]);
        assert_eq!(
            charts[3].kind,
            ChartKind::Distinct {
                values: n / 2,
                matched: 4
            }
        );
        assert!(matches!(charts[2].kind, ChartKind::Categorical { .. }));
        assert!(!nearly_unique(&[2; MAX_BARS]), "few values: bars");
        assert!(nearly_unique(&[1; MAX_BARS + 1]));
        assert!(!nearly_unique(&[3; 100]));
        assert_eq!(grouped(1_911), "1,911");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }
}
