//! The current selection as data: the items the lasso drew round, or the search box found (the
//! filters write search terms, so a filter is a search). One set at a time; the newest source
//! wins. The map highlights it (the rest dimmed, or hidden), the filters chart it against all
//! items, and its panel acts on it: label all (one undo step), invert, export the file list,
//! copy the file names.
//!
//! The set is shared as `Arc<Vec<u32>>` (ascending item indices): a search over a million items
//! hands its result over without a copy, and the O(N) mask for the map is rebuilt only when the
//! set or the hide toggle changes.

use std::path::PathBuf;
use std::sync::Arc;

use bevy::prelude::*;

use super::labels::{LabelItems, Labels};
use super::search::SearchBox;
use super::state::{ColorState, SearchMask, Store};
use crate::dataset::{Dataset, ItemId};

/// Thumbnails the panel's strip shows at most (the first items of the set).
pub const STRIP_MAX: usize = 500;

/// Where the set came from, for the panel's title and the inverse's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOrigin {
    /// The search box's text (or the filters' terms) at the time.
    Search(String),
    Lasso,
    /// Every item not in the set that came from here.
    Inverse(Box<SetOrigin>),
}

impl SetOrigin {
    pub fn describe(&self) -> String {
        match self {
            Self::Search(text) => format!("search `{text}`"),
            Self::Lasso => "lasso".to_owned(),
            Self::Inverse(of) => format!("not ({})", of.describe()),
        }
    }
}

/// The current set and what the panel shows about it.
#[derive(Resource, Debug)]
pub struct ItemSet {
    /// Ascending item indices; `None`: nothing selected.
    pub items: Option<Arc<Vec<u32>>>,
    pub origin: Option<SetOrigin>,
    /// Hide the items outside the set (else they are dimmed).
    pub hide_others: bool,
    /// Shift+drag also gives the lassoed items the active label (else it only selects them).
    pub lasso_labels: bool,
    /// The panel shows the class histogram and the thumbnail strip (else one row).
    pub details: bool,
    /// Bumped on every change of `items`.
    pub version: u64,
    /// Where "export" writes its CSV (the current folder by default).
    pub export_dir: PathBuf,
    /// What the last action did (export, copy), for the panel.
    pub status: Option<String>,
    /// File names waiting for the UI, which owns the clipboard, to copy them.
    pub to_clipboard: Option<String>,
    /// Per class: (name, items in the set, items in all), largest share of the set first;
    /// for `classes_for` == `version`.
    classes: Vec<ClassCount>,
    classes_for: Option<u64>,
}

/// One class's count in the set and overall.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassCount {
    pub code: u32,
    pub name: String,
    pub in_set: usize,
    pub in_all: usize,
}

impl Default for ItemSet {
    fn default() -> Self {
        Self {
            items: None,
            origin: None,
            hide_others: false,
            lasso_labels: true,
            details: true,
            version: 0,
            export_dir: PathBuf::from("."),
            status: None,
            to_clipboard: None,
            classes: Vec::new(),
            classes_for: None,
        }
    }
}

impl ItemSet {
    /// Make `items` (ascending) the current set.
    pub fn replace(&mut self, items: Arc<Vec<u32>>, origin: SetOrigin) {
        debug_assert!(items.windows(2).all(|w| w[0] < w[1]));
        self.items = Some(items);
        self.origin = Some(origin);
        self.version += 1;
        self.status = None;
    }

    pub fn clear(&mut self) {
        if self.items.is_some() {
            self.items = None;
            self.origin = None;
            self.version += 1;
            self.status = None;
        }
    }

    pub fn len(&self) -> usize {
        self.items.as_ref().map_or(0, |s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class histogram of the set (empty without classes), computed once per set.
    pub fn class_counts(&mut self, data: &Dataset) -> &[ClassCount] {
        if self.classes_for != Some(self.version) {
            self.classes_for = Some(self.version);
            self.classes = match &self.items {
                Some(items) => class_counts(data, items),
                None => Vec::new(),
            };
        }
        &self.classes
    }
}

/// What the panel's buttons do with the set.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetAction {
    /// Give every item the active label (one batch: one undo step).
    LabelAll,
    /// The set becomes every other item.
    Invert,
    /// Write the set as a CSV (item, file, class, label, metadata) to a new file.
    Export,
    /// Put the items' file names (one per line) on the clipboard.
    CopyNames,
    /// No set (a search's text is cleared too, so it does not come back).
    Clear,
}

pub struct ItemSetPlugin;

impl Plugin for ItemSetPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ItemSet>()
            .add_message::<SetAction>()
            .add_message::<LabelItems>()
            .add_systems(
                Update,
                (follow_search, act_on_set, apply_mask)
                    .chain()
                    .after(super::search::SearchSet),
            );
    }
}

/// A new search result becomes the set; a cleared search clears a set it made.
fn follow_search(
    search: Option<Res<SearchBox>>,
    mut set: ResMut<ItemSet>,
    mut seen: Local<Option<usize>>,
) {
    let Some(search) = search else { return };
    let now = search.matches.as_ref().map(|m| Arc::as_ptr(m) as usize);
    if *seen == now {
        return;
    }
    *seen = now;
    match &search.matches {
        Some(m) => set.replace(
            Arc::clone(m),
            SetOrigin::Search(search.text.trim().to_owned()),
        ),
        None if matches!(set.origin, Some(SetOrigin::Search(_))) => set.clear(),
        None => {}
    }
}

/// The panel's buttons.
fn act_on_set(
    mut actions: MessageReader<SetAction>,
    store: Res<Store>,
    labels: Option<Res<Labels>>,
    search: Option<ResMut<SearchBox>>,
    mut set: ResMut<ItemSet>,
    mut label: MessageWriter<LabelItems>,
) {
    let mut search = search;
    for action in actions.read() {
        if *action == SetAction::Clear {
            if matches!(set.origin, Some(SetOrigin::Search(_)))
                && let Some(search) = search.as_mut()
            {
                search.text.clear();
            }
            set.clear();
            continue;
        }
        let (Some(items), Some(origin)) = (set.items.clone(), set.origin.clone()) else {
            continue;
        };
        match action {
            SetAction::LabelAll => {
                if let Some(name) = labels.as_ref().and_then(|l| l.active_name()) {
                    label.write(LabelItems {
                        items: items.iter().map(|&i| ItemId(i)).collect(),
                        label: Some(name.to_owned()),
                    });
                }
            }
            SetAction::Invert => {
                let inverse = complement(store.n_items(), &items);
                set.replace(Arc::new(inverse), SetOrigin::Inverse(Box::new(origin)));
            }
            SetAction::Export => {
                let state = labels.as_ref().map(|l| &l.state);
                set.status = Some(export(&set.export_dir, &store.data, state, &items));
            }
            SetAction::CopyNames => {
                set.to_clipboard = Some(file_names(&store.data, &items));
                set.status = Some(format!("copied {} file names", items.len()));
            }
            SetAction::Clear => {}
        }
    }
}

/// Write the set to a new `ivt-selection-N.csv` in `dir` (never over an existing file).
fn export(
    dir: &std::path::Path,
    data: &Dataset,
    labels: Option<&crate::labels::LabelState>,
    items: &[u32],
) -> String {
    let Some(path) = (1..100_000)
        .map(|n| dir.join(format!("ivt-selection-{n}.csv")))
        .find(|p| !p.exists())
    else {
        return format!("{}: no free ivt-selection-N.csv name", dir.display());
    };
    let csv = super::search::matches_csv(data, labels, items);
    match crate::atomic::write_with(&path, |f| std::io::Write::write_all(f, csv.as_bytes())) {
        Ok(()) => format!("wrote {} ({} items)", path.display(), items.len()),
        Err(e) => format!("cannot write {}: {e}", path.display()),
    }
}

/// Keep the colouring's mask in step with the set and the hide toggle (an O(N) pass, once per
/// change).
fn apply_mask(
    store: Res<Store>,
    set: Res<ItemSet>,
    mut color: ResMut<ColorState>,
    mut applied: Local<Option<(u64, bool)>>,
) {
    let want = (set.version, set.hide_others);
    if *applied == Some(want) {
        return;
    }
    *applied = Some(want);
    let mask = set.items.as_ref().map(|items| {
        let mut matches = vec![false; store.n_items()];
        for &i in items.iter() {
            if let Some(slot) = matches.get_mut(i as usize) {
                *slot = true;
            }
        }
        Arc::new(SearchMask {
            matches,
            hide_others: set.hide_others,
        })
    });
    if color.search.is_some() || mask.is_some() {
        color.search = mask;
        color.version += 1;
    }
}

/// The items of `0..n` not in `items` (ascending), ascending.
pub fn complement(n: usize, items: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(n.saturating_sub(items.len()));
    let mut next = items.iter().peekable();
    for i in 0..n as u32 {
        if next.peek() == Some(&&i) {
            next.next();
        } else {
            out.push(i);
        }
    }
    out
}

/// The items' image files, one per line, relative to the image folder (`#item` for items
/// without a file).
pub fn file_names(data: &Dataset, items: &[u32]) -> String {
    let mut out = String::new();
    for &i in items {
        match data.images.relative_path(i as usize) {
            Some(p) => out.push_str(&p.display().to_string()),
            None => out.push_str(&format!("#{i}")),
        }
        out.push('\n');
    }
    out
}

/// Per class, how many of `items` and of all items have it: the classes present in the set,
/// the most frequent first (ties by class order).
pub fn class_counts(data: &Dataset, items: &[u32]) -> Vec<ClassCount> {
    let Some(classes) = &data.classes else {
        return Vec::new();
    };
    let cat = &classes.labels;
    let mut in_all = vec![0usize; cat.names.len()];
    for &c in &cat.codes {
        if let Some(n) = in_all.get_mut(c as usize) {
            *n += 1;
        }
    }
    let mut in_set = vec![0usize; cat.names.len()];
    for &i in items {
        if let Some(n) = cat
            .codes
            .get(i as usize)
            .and_then(|&c| in_set.get_mut(c as usize))
        {
            *n += 1;
        }
    }
    let mut out: Vec<ClassCount> = (0..cat.names.len())
        .filter(|&c| in_set[c] > 0)
        .map(|c| ClassCount {
            code: c as u32,
            name: cat.names[c].clone(),
            in_set: in_set[c],
            in_all: in_all[c],
        })
        .collect();
    out.sort_by(|a, b| b.in_set.cmp(&a.in_set).then(a.code.cmp(&b.code)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{
        Categorical, ClassSource, Classes, Features, ImageFiles, ImageOrder, Images,
    };
    use crate::viewer::app::ExplorerStatePlugin;
    use crate::viewer::options::ViewerOptions;
    use crate::viewer::state::dimmed;

    /// Six items, classes a b a c a b, image files a0.png … in a folder.
    fn data() -> Dataset {
        let n = 6;
        let names = ["a", "b", "a", "c", "a", "b"];
        let root = PathBuf::from("/images");
        Dataset {
            name: "six".into(),
            features: Features::new(
                n,
                1,
                (0..n).map(|i| i as f32).collect(),
                "float32",
                "f",
                "f",
            )
            .expect("features"),
            images: Images::Files(ImageFiles {
                root: root.clone(),
                order: ImageOrder::Natural,
                sizes: vec![None; n],
                paths: (0..n)
                    .map(|i| root.join(names[i]).join(format!("{}{i}.png", names[i])))
                    .collect::<Vec<_>>()
                    .into(),
                failures: Vec::new(),
                unused_files: 0,
                identities: Default::default(),
                sampled: false,
            }),
            classes: Some(Classes {
                labels: Categorical::from_strings(&names),
                source: ClassSource::BuiltIn,
            }),
            metadata: None,
        }
    }

    #[test]
    fn complements_classes_and_names() {
        assert_eq!(complement(6, &[0, 2, 5]), [1, 3, 4]);
        assert_eq!(complement(3, &[]), [0, 1, 2]);
        assert!(complement(2, &[0, 1]).is_empty());
        let data = data();
        let counts = class_counts(&data, &[0, 1, 2, 4, 5]);
        let got: Vec<(&str, usize, usize)> = counts
            .iter()
            .map(|c| (c.name.as_str(), c.in_set, c.in_all))
            .collect();
        assert_eq!(got, [("a", 3, 3), ("b", 2, 2)]);
        assert_eq!(file_names(&data, &[1, 3]), "b/b1.png\nc/c3.png\n");
        let no_files = Dataset {
            images: Images::None,
            ..data
        };
        assert_eq!(file_names(&no_files, &[4]), "#4\n");
    }

    fn app() -> App {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins(ExplorerStatePlugin {
                options: ViewerOptions::default(),
                data: Arc::new(data()),
            })
            .add_plugins(ItemSetPlugin);
        app
    }

    #[test]
    fn a_set_dims_the_rest_and_inverting_and_clearing_follow() {
        let mut app = app();
        app.update();
        app.world_mut()
            .resource_mut::<ItemSet>()
            .replace(Arc::new(vec![1, 3]), SetOrigin::Lasso);
        app.update();
        let color = app.world().resource::<ColorState>();
        let own = |c: &ColorState, i: u32| c.coloring.color_of(ItemId(i), &c.hidden);
        assert_eq!(color.point_color(ItemId(1)), own(color, 1));
        assert_eq!(color.point_color(ItemId(0)), dimmed(own(color, 0)));
        app.world_mut().write_message(SetAction::Invert);
        app.update();
        let set = app.world().resource::<ItemSet>();
        assert_eq!(
            set.items.as_deref().map(Vec::as_slice),
            Some(&[0, 2, 4, 5][..])
        );
        assert_eq!(
            set.origin.as_ref().map(|o| o.describe()).as_deref(),
            Some("not (lasso)")
        );
        let color = app.world().resource::<ColorState>();
        assert_eq!(color.point_color(ItemId(1)), dimmed(own(color, 1)));
        assert_eq!(color.point_color(ItemId(0)), own(color, 0));
        // Hidden instead of dimmed.
        app.world_mut().resource_mut::<ItemSet>().hide_others = true;
        app.update();
        assert_eq!(
            app.world().resource::<ColorState>().point_color(ItemId(1))[3],
            0
        );
        app.world_mut().write_message(SetAction::CopyNames);
        app.update();
        assert_eq!(
            app.world().resource::<ItemSet>().to_clipboard.as_deref(),
            Some("a/a0.png\na/a2.png\na/a4.png\nb/b5.png\n")
        );
        app.world_mut().write_message(SetAction::Clear);
        app.update();
        assert!(app.world().resource::<ItemSet>().items.is_none());
        let color = app.world().resource::<ColorState>();
        assert!(color.search.is_none());
        assert_eq!(color.point_color(ItemId(1)), own(color, 1));
    }
}
