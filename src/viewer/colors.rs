//! How points are coloured: by class, cluster, a metadata column or a user array.
//!
//! Pure code (no Bevy): a [`ColorSource`] plus the data resolves into a [`Coloring`], which
//! gives every point an sRGBA8 colour and describes its legend (categorical: one entry per
//! group, each can be hidden) or colour bar (numeric). Palette and colormap constants live
//! here and nowhere else.

use crate::dataset::{Categorical, ColumnValues, Dataset, ItemId};

/// sRGB + alpha, 8 bits each: the vertex format the points are drawn with.
pub type Rgba8 = [u8; 4];

/// Points with no value (a NaN in a numeric column) and points of hidden groups.
pub const MISSING_COLOR: Rgba8 = [110, 110, 110, 255];
/// Alpha 0 tells the point shader to discard the point.
pub const HIDDEN: Rgba8 = [0, 0, 0, 0];
/// Single colour when nothing is chosen.
pub const UNIFORM_COLOR: Rgba8 = [95, 170, 240, 255];
/// The selected item's ring and its neighbours' rings.
pub const SELECTED_COLOR: Rgba8 = [255, 40, 200, 255];
pub const NEIGHBOR_COLOR: Rgba8 = [255, 255, 255, 255];

/// Tableau 20 reordered so the first ten are the strong Tableau 10 colours: readable on the
/// dark background, distinct for the ten classes most data sets have.
const PALETTE: [Rgba8; 20] = [
    [78, 121, 167, 255],
    [242, 142, 43, 255],
    [225, 87, 89, 255],
    [118, 183, 178, 255],
    [89, 161, 79, 255],
    [237, 201, 72, 255],
    [176, 122, 161, 255],
    [255, 157, 167, 255],
    [156, 117, 95, 255],
    [186, 176, 172, 255],
    [160, 203, 232, 255],
    [255, 190, 125, 255],
    [140, 209, 125, 255],
    [182, 153, 45, 255],
    [73, 152, 148, 255],
    [134, 188, 182, 255],
    [241, 206, 99, 255],
    [212, 166, 200, 255],
    [250, 191, 210, 255],
    [215, 181, 166, 255],
];

/// Colour of group `code`: the palette, then evenly spread hues for very many groups.
pub fn category_color(code: usize) -> Rgba8 {
    if let Some(c) = PALETTE.get(code) {
        return *c;
    }
    // Golden-angle hue steps never repeat and keep neighbouring codes apart.
    let hue = (code as f32 * 137.507_77) % 360.0;
    hsv(hue, 0.55, 0.92)
}

fn hsv(hue_deg: f32, s: f32, v: f32) -> Rgba8 {
    let c = v * s;
    let h = hue_deg / 60.0;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    let to8 = |f: f32| ((f + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    [to8(r), to8(g), to8(b), 255]
}

/// Numeric colormaps (matplotlib's, sampled at 9 stops and interpolated linearly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    #[default]
    Viridis,
    Magma,
    Coolwarm,
}

impl Colormap {
    pub const ALL: [Self; 3] = [Self::Viridis, Self::Magma, Self::Coolwarm];

    pub fn label(self) -> &'static str {
        match self {
            Self::Viridis => "viridis",
            Self::Magma => "magma",
            Self::Coolwarm => "coolwarm",
        }
    }

    fn stops(self) -> &'static [[u8; 3]; 9] {
        match self {
            Self::Viridis => &[
                [68, 1, 84],
                [71, 44, 122],
                [59, 81, 139],
                [44, 113, 142],
                [33, 144, 141],
                [39, 173, 129],
                [92, 200, 99],
                [170, 220, 50],
                [253, 231, 37],
            ],
            Self::Magma => &[
                [0, 0, 4],
                [28, 16, 68],
                [79, 18, 123],
                [129, 37, 129],
                [181, 54, 122],
                [229, 80, 100],
                [251, 135, 97],
                [254, 194, 135],
                [252, 253, 191],
            ],
            Self::Coolwarm => &[
                [59, 76, 192],
                [98, 130, 234],
                [141, 176, 254],
                [184, 208, 249],
                [221, 221, 221],
                [245, 196, 173],
                [244, 154, 123],
                [222, 96, 77],
                [180, 4, 38],
            ],
        }
    }

    /// Colour at `t` in [0, 1] (clamped).
    pub fn at(self, t: f32) -> Rgba8 {
        let stops = self.stops();
        let x = t.clamp(0.0, 1.0) * 8.0;
        let i = (x.floor() as usize).min(7);
        let f = x - i as f32;
        let mix = |a: u8, b: u8| (f32::from(a) * (1.0 - f) + f32::from(b) * f).round() as u8;
        let (a, b) = (stops[i], stops[i + 1]);
        [mix(a[0], b[0]), mix(a[1], b[1]), mix(a[2], b[2]), 255]
    }
}

/// What the user picked to colour by.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum ColorSource {
    /// One colour for all.
    #[default]
    Uniform,
    /// The class labels (folders, labels file, the demo's classes).
    Class,
    /// A metadata column by name.
    Column(String),
    /// A float per point from `--colors FILE.npy`.
    Values,
    /// The dendrogram of the features cut into this many clusters.
    Clusters(usize),
    /// A score of the data-quality audit (computed on first use).
    Score(Score),
    /// `--compare B`: how much each item's neighbourhood changed (1 − overlap).
    Compare,
    /// The probe's probability of this label (refitted as labels are given).
    Probe(String),
}

/// The audit's per-item scores the map can be coloured by, each oriented so that higher is
/// more suspicious (bright in every colormap: the eye goes to the problems).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Score {
    /// 1 − p(given label): how much the neighbours doubt the label.
    LabelDoubt,
    /// Distance to the k-th neighbour over the neighbours' own.
    Outlier,
    /// 1 − the share of the original neighbours kept on the map.
    NeighboursLost,
    /// Trustworthiness-style penalty of the false neighbours on the map.
    TrustPenalty,
    /// 1 for an exact copy, 0.5 for a near copy, 0 otherwise.
    Duplicate,
}

impl Score {
    pub const ALL: [Self; 5] = [
        Self::LabelDoubt,
        Self::Outlier,
        Self::NeighboursLost,
        Self::TrustPenalty,
        Self::Duplicate,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::LabelDoubt => "audit: label doubt",
            Self::Outlier => "audit: outlier score",
            Self::NeighboursLost => "audit: neighbours lost on the map",
            Self::TrustPenalty => "audit: trust penalty",
            Self::Duplicate => "audit: duplicates",
        }
    }

    /// The name `--color-by audit:NAME` takes.
    pub fn cli_name(self) -> &'static str {
        match self {
            Self::LabelDoubt => "label",
            Self::Outlier => "outlier",
            Self::NeighboursLost => "fidelity",
            Self::TrustPenalty => "trust",
            Self::Duplicate => "duplicates",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.cli_name() == name)
    }

    /// The score of every item, or why the audit holds none (no classes, no layout).
    pub fn values(self, audit: &crate::quality::Audit) -> Result<Vec<f32>, ColorError> {
        let missing = |why: &str| ColorError::NoScore(format!("{}: {why}", self.label()));
        match self {
            Self::LabelDoubt => audit
                .labels
                .as_ref()
                .map(|l| l.quality.iter().map(|q| 1.0 - q).collect())
                .ok_or_else(|| missing("the data set has no classes")),
            Self::Outlier => Ok(audit.outliers.score.clone()),
            Self::NeighboursLost => audit
                .fidelity
                .as_ref()
                .map(|f| f.preserved.iter().map(|p| 1.0 - p).collect())
                .ok_or_else(|| missing("no layout yet")),
            Self::TrustPenalty => audit
                .fidelity
                .as_ref()
                .map(|f| f.trust_penalty.iter().map(|&p| p as f32).collect())
                .ok_or_else(|| missing("no layout yet")),
            Self::Duplicate => {
                let d = &audit.duplicates;
                Ok(d.group_of
                    .iter()
                    .zip(&d.exact)
                    .map(|(g, &exact)| match (g, exact) {
                        (_, true) => 1.0,
                        (Some(_), false) => 0.5,
                        (None, false) => 0.0,
                    })
                    .collect())
            }
        }
    }

    /// Heavy-tailed scores are coloured up to their 99th percentile: a few extreme items
    /// would otherwise squeeze everything else into the colormap's first shade.
    fn clipped(self) -> bool {
        matches!(self, Self::Outlier | Self::TrustPenalty)
    }
}

/// The compare colouring's name in the panel and its colour bar.
pub const COMPARE_LABEL: &str = "compare: neighbours changed";

impl ColorSource {
    pub fn label(&self) -> String {
        match self {
            Self::Uniform => "none".to_owned(),
            Self::Class => "class".to_owned(),
            Self::Column(name) => name.clone(),
            Self::Values => format!("{} values", crate::hint::COLORS),
            Self::Clusters(_) => "clusters".to_owned(),
            Self::Score(s) => s.label().to_owned(),
            Self::Compare => COMPARE_LABEL.to_owned(),
            Self::Probe(label) => format!("probe: p({label})"),
        }
    }
}

/// A colouring resolved against the data.
#[derive(Debug, Clone, PartialEq)]
pub enum Coloring {
    Uniform,
    Categorical {
        names: Vec<String>,
        codes: Vec<u32>,
        counts: Vec<usize>,
    },
    Numeric {
        values: Vec<f32>,
        /// The range mapped to 0…1 (finite values' min and max).
        min: f32,
        max: f32,
        colormap: Colormap,
    },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ColorError {
    #[error(
        "cannot colour by class: this data set has no classes (give {} or a class-folder tree)",
        crate::hint::LABELS
    )]
    NoClasses,
    #[error("cannot colour by {0:?}: no such metadata column (available: {1})")]
    NoColumn(String, String),
    #[error("cannot colour by {} values: none were given", crate::hint::COLORS)]
    NoValues,
    #[error("cannot colour by clusters: {0}")]
    NoClusters(String),
    #[error("cannot colour by {0}")]
    NoScore(String),
}

impl Coloring {
    /// Resolve `source` against the data set (and the user's `--colors` array, if any).
    pub fn resolve(
        source: &ColorSource,
        data: &Dataset,
        values: Option<&[f32]>,
        colormap: Colormap,
    ) -> Result<Self, ColorError> {
        match source {
            ColorSource::Uniform => Ok(Self::Uniform),
            ColorSource::Class => data
                .classes
                .as_ref()
                .map(|c| Self::categorical(&c.labels))
                .ok_or(ColorError::NoClasses),
            ColorSource::Column(name) => {
                let column = data.metadata.as_ref().and_then(|m| m.column(name));
                match column.map(|c| &c.values) {
                    Some(ColumnValues::Categorical(cat)) => Ok(Self::categorical(cat)),
                    Some(ColumnValues::Numeric(v)) => {
                        let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                        Ok(Self::numeric(v, colormap))
                    }
                    None => {
                        let names: Vec<&str> = data
                            .metadata
                            .iter()
                            .flat_map(|m| m.columns.iter().map(|c| c.name.as_str()))
                            .collect();
                        let available = if names.is_empty() {
                            format!("none; give {} FILE.csv", crate::hint::METADATA)
                        } else {
                            names.join(", ")
                        };
                        Err(ColorError::NoColumn(name.clone(), available))
                    }
                }
            }
            ColorSource::Values => values
                .map(|v| Self::numeric(v.to_vec(), colormap))
                .ok_or(ColorError::NoValues),
            // The dendrogram lives in the store: see `ColorState::set_source`.
            ColorSource::Clusters(_) => Err(ColorError::NoClusters("not computed yet".to_owned())),
            // So does the audit.
            ColorSource::Score(s) => Err(ColorError::NoScore(format!(
                "{}: the audit is not computed yet",
                s.label()
            ))),
            // And the comparison.
            ColorSource::Compare => Err(ColorError::NoScore(format!(
                "{COMPARE_LABEL}: the comparison is not computed yet"
            ))),
            // And the probe.
            ColorSource::Probe(label) => Err(ColorError::NoScore(format!(
                "probe:{label}: the probe is not fitted yet (it needs two labels of two kinds)"
            ))),
        }
    }

    /// A score of the audit, with a colour range fit for it.
    pub fn score(
        score: Score,
        audit: &crate::quality::Audit,
        colormap: Colormap,
    ) -> Result<Self, ColorError> {
        let values = score.values(audit)?;
        let mut coloring = Self::numeric(values, colormap);
        if score.clipped()
            && let Self::Numeric {
                values, max, min, ..
            } = &mut coloring
        {
            let mut finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
            if !finite.is_empty() {
                let at = (finite.len() - 1) * 99 / 100;
                let (_, p99, _) = finite.select_nth_unstable_by(at, f32::total_cmp);
                if *p99 > *min {
                    *max = *p99;
                }
            }
        }
        Ok(coloring)
    }

    /// How much each item's neighbourhood changed between two embeddings, 1 − overlap, on a
    /// fixed 0…1 range (bright: changed; the same colour means the same share in any data).
    pub fn changed(c: &crate::metrics::compare::Comparison, colormap: Colormap) -> Self {
        Self::Numeric {
            values: c.overlap.iter().map(|o| 1.0 - o).collect(),
            min: 0.0,
            max: 1.0,
            colormap,
        }
    }

    /// Each item's probability of `label` under the probe, on a fixed 0–1 bar.
    pub fn probe(
        probe: &crate::probe::Probe,
        label: &str,
        colormap: Colormap,
    ) -> Result<Self, ColorError> {
        let k = probe
            .code(label)
            .map_err(|e| ColorError::NoScore(format!("probe:{label}: {e}")))?;
        Ok(Self::Numeric {
            values: (0..probe.n_items()).map(|i| probe.row(i)[k]).collect(),
            min: 0.0,
            max: 1.0,
            colormap,
        })
    }

    pub(crate) fn categorical(cat: &Categorical) -> Self {
        Self::Categorical {
            names: cat.names.clone(),
            codes: cat.codes.clone(),
            counts: cat.counts(),
        }
    }

    fn numeric(values: Vec<f32>, colormap: Colormap) -> Self {
        let (min, max) = values
            .iter()
            .filter(|v| v.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let (min, max) = if min <= max { (min, max) } else { (0.0, 1.0) };
        Self::Numeric {
            values,
            min,
            max,
            colormap,
        }
    }

    /// The group code of each item, for the grouping neighbour modes.
    pub fn groups(&self) -> Option<&[u32]> {
        match self {
            Self::Categorical { codes, .. } => Some(codes),
            _ => None,
        }
    }

    /// Colour of one item; `hidden[code]` hides a categorical group.
    pub fn color_of(&self, item: ItemId, hidden: &[bool]) -> Rgba8 {
        let i = item.index();
        match self {
            Self::Uniform => UNIFORM_COLOR,
            Self::Categorical { codes, .. } => {
                let code = codes[i] as usize;
                if hidden.get(code).copied().unwrap_or(false) {
                    HIDDEN
                } else {
                    category_color(code)
                }
            }
            Self::Numeric {
                values,
                min,
                max,
                colormap,
            } => {
                let v = values[i];
                if !v.is_finite() {
                    MISSING_COLOR
                } else if max > min {
                    colormap.at((v - min) / (max - min))
                } else {
                    colormap.at(0.5)
                }
            }
        }
    }

    /// Every item's colour, in item order.
    pub fn colors(&self, n_items: usize, hidden: &[bool]) -> Vec<Rgba8> {
        (0..n_items)
            .map(|i| self.color_of(ItemId(i as u32), hidden))
            .collect()
    }

    /// A short description of the item's value (tooltips, grid tiles).
    pub fn describe(&self, item: ItemId) -> Option<String> {
        match self {
            Self::Uniform => None,
            Self::Categorical { names, codes, .. } => {
                Some(names[codes[item.index()] as usize].clone())
            }
            Self::Numeric { values, .. } => Some(format!("{:.4}", values[item.index()])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{ClassSource, Classes, DataSource, InputSpec};

    fn data_with_classes() -> Dataset {
        let mut d = crate::dataset::load(&InputSpec::new(DataSource::Demo)).expect("demo");
        d.classes = Some(Classes {
            labels: Categorical::from_strings(&["b", "a", "b"]),
            source: ClassSource::BuiltIn,
        });
        d
    }

    #[test]
    fn categories_map_to_the_palette_and_can_be_hidden() {
        let data = data_with_classes();
        let c =
            Coloring::resolve(&ColorSource::Class, &data, None, Colormap::Viridis).expect("class");
        assert_eq!(c.groups(), Some(&[1u32, 0, 1][..]));
        assert_eq!(c.colors(3, &[]), vec![PALETTE[1], PALETTE[0], PALETTE[1]]);
        assert_eq!(
            c.colors(3, &[false, true]),
            vec![HIDDEN, PALETTE[0], HIDDEN]
        );
        assert_eq!(c.describe(ItemId(1)).as_deref(), Some("a"));
        // Beyond the palette: distinct, opaque colours.
        assert_ne!(category_color(20), category_color(21));
        assert_eq!(category_color(57)[3], 255);
    }

    #[test]
    fn numeric_values_span_the_colormap_and_nan_is_grey() {
        let data = data_with_classes();
        let v = [2.0, f32::NAN, 4.0, 3.0];
        let c = Coloring::resolve(&ColorSource::Values, &data, Some(&v), Colormap::Viridis)
            .expect("values");
        let colors = c.colors(4, &[]);
        assert_eq!(colors[0], [68, 1, 84, 255]);
        assert_eq!(colors[1], MISSING_COLOR);
        assert_eq!(colors[2], [253, 231, 37, 255]);
        assert_eq!(colors[3], [33, 144, 141, 255]);
        assert_eq!(Colormap::Coolwarm.at(0.5), [221, 221, 221, 255]);
    }

    #[test]
    fn audit_scores_point_up_at_the_problems() {
        use crate::knn::{Metric, exact_knn};
        use crate::quality::{AuditInput, Labels, audit};
        // Two classes on a line; item 3 sits among class 0 but says 1; 8 is far away.
        let x = [0.0f32, 1.0, 2.0, 3.0, 4.0, 20.0, 21.0, 22.0, 90.0];
        let codes = [0u32, 0, 0, 1, 0, 1, 1, 1, 1];
        let names = vec!["a".to_owned(), "b".to_owned()];
        let graph = exact_knn(&x, 1, 3, Metric::Euclidean, &()).expect("knn");
        let a = audit(&AuditInput {
            features: &x,
            dim: 1,
            graph: &graph,
            k: 3,
            dup_threshold: None,
            labels: Some(Labels {
                codes: &codes,
                names: &names,
            }),
            layout: None,
            splits: None,
        })
        .expect("audit");
        let doubt = Score::LabelDoubt.values(&a).expect("classes");
        let worst = (0..9).max_by(|&i, &j| doubt[i].total_cmp(&doubt[j]));
        assert_eq!(worst, Some(3));
        let c = Coloring::score(Score::Outlier, &a, Colormap::Viridis).expect("outliers");
        // The far item gets the brightest colour.
        assert_eq!(c.color_of(ItemId(8), &[]), [253, 231, 37, 255]);
        assert!(matches!(
            Coloring::score(Score::NeighboursLost, &a, Colormap::Viridis),
            Err(ColorError::NoScore(why)) if why.contains("no layout")
        ));
        assert_eq!(Score::parse("outlier"), Some(Score::Outlier));
        assert_eq!(Score::parse("nope"), None);
    }

    #[test]
    fn unknown_sources_say_what_exists() {
        let mut data = data_with_classes();
        let e = Coloring::resolve(
            &ColorSource::Column("age".into()),
            &data,
            None,
            Colormap::Viridis,
        );
        assert!(
            matches!(e, Err(ColorError::NoColumn(_, ref avail)) if avail.contains("--metadata"))
        );
        assert_eq!(
            Coloring::resolve(&ColorSource::Values, &data, None, Colormap::Viridis),
            Err(ColorError::NoValues)
        );
        data.classes = None;
        assert_eq!(
            Coloring::resolve(&ColorSource::Class, &data, None, Colormap::Viridis),
            Err(ColorError::NoClasses)
        );
    }
}
