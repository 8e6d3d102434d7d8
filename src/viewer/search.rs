//! The search box: the query language of [`crate::search`] typed in the top bar, run off the
//! main thread, its matches highlighted on the map (the rest dimmed, or hidden), stepped
//! through with Enter / Shift+Enter.
//!
//! The text is parsed at once on the main thread against the data set's column names (cheap:
//! no item is read), so a mistake shows while typing; the match itself runs as a task on
//! Bevy's compute pool over a [`SearchIndex`] (the lower-cased file names are built by the
//! first search and kept), and a result is used only if the text and the labels are still what
//! it was computed for.

use std::sync::Arc;

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures_lite::future};
use bevy_egui::input::egui_wants_any_keyboard_input;

use super::labels::Labels;
use super::state::{SelectItem, Store};
use crate::dataset::ItemId;
use crate::search::{FileNames, Query, SearchIndex};

/// The search box's state.
#[derive(Resource, Debug, Default)]
pub struct SearchBox {
    /// What is typed (the UI edits it).
    pub text: String,
    /// Set by `/` or Ctrl+F: the UI gives the box the keyboard focus.
    pub focus_requested: bool,
    /// Why the text is not a query, in words.
    pub error: Option<String>,
    /// The matches of `done_for`'s text, ascending.
    pub matches: Option<Arc<Vec<u32>>>,
    /// Index into `matches` of the item Enter moved to last.
    pub current: Option<usize>,
    /// The filters panel's charts, for the current set (see [`super::item_set`]).
    pub charts: super::filters::ChartCache,
    /// (text, labels version) of the search running or finished last.
    done_for: Option<(String, u64)>,
    /// The data set's file names as searched, from the first search on.
    files: Option<Arc<FileNames>>,
    task: Option<Task<SearchDone>>,
}

/// A finished search.
#[derive(Debug)]
struct SearchDone {
    /// The text and labels version it ran for.
    ran_for: (String, u64),
    found: Result<Vec<u32>, String>,
    files: Arc<FileNames>,
}

impl SearchBox {
    /// No search is running or waiting to run.
    pub fn is_idle(&self) -> bool {
        self.task.is_none()
    }

    /// "12 matches", "no match", or what is wrong.
    pub fn status(&self) -> Option<String> {
        if let Some(e) = &self.error {
            return Some(e.clone());
        }
        let n = self.matches.as_ref()?.len();
        Some(match (n, self.current) {
            (0, _) => "no match".to_owned(),
            (n, Some(at)) => format!("{} of {n}", at + 1),
            (1, None) => "1 match".to_owned(),
            (n, None) => format!("{n} matches"),
        })
    }

    /// Move to the next match (`forward`) or the previous one; the item to select.
    pub fn step(&mut self, forward: bool) -> Option<ItemId> {
        let n = self.matches.as_ref()?.len();
        if n == 0 {
            return None;
        }
        let at = match (self.current, forward) {
            (None, true) => 0,
            (None, false) => n - 1,
            (Some(c), true) => (c + 1) % n,
            (Some(c), false) => (c + n - 1) % n,
        };
        self.current = Some(at);
        self.matches.as_ref().map(|m| ItemId(m[at]))
    }
}

/// A step request from the box (Enter, Shift+Enter).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSearch {
    pub forward: bool,
}

/// The search's systems: the current set follows them ([`super::item_set`]).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchSet;

pub struct SearchPlugin {
    /// `--search EXPR`: the text the box starts with.
    pub initial: Option<String>,
}

impl Plugin for SearchPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(SearchBox {
            text: self.initial.clone().unwrap_or_default(),
            ..SearchBox::default()
        })
        .add_message::<StepSearch>()
        .add_systems(
            Update,
            (
                search_keys.run_if(not(egui_wants_any_keyboard_input)),
                start_search,
                finish_search,
                step_search,
            )
                .chain()
                .in_set(SearchSet),
        );
    }
}

/// `/` (without Shift: `?` is help) or Ctrl+F: type a search.
fn search_keys(keys: Res<ButtonInput<KeyCode>>, mut search: ResMut<SearchBox>) {
    let shift = keys.any_pressed([KeyCode::ShiftLeft, KeyCode::ShiftRight]);
    let ctrl = keys.any_pressed([KeyCode::ControlLeft, KeyCode::ControlRight]);
    if (keys.just_pressed(KeyCode::Slash) && !shift) || (ctrl && keys.just_pressed(KeyCode::KeyF)) {
        search.focus_requested = true;
    }
}

/// Parse a changed text now (errors show while typing); run a valid query as a task.
fn start_search(store: Res<Store>, labels: Option<Res<Labels>>, mut search: ResMut<SearchBox>) {
    let labels_version = labels.as_ref().map_or(0, |l| l.version);
    let text = search.text.trim().to_owned();
    let wanted = (text.clone(), labels_version);
    if search.task.is_some() || search.done_for.as_ref() == Some(&wanted) {
        return;
    }
    search.done_for = Some(wanted);
    search.current = None;
    if text.is_empty() {
        search.error = None;
        search.matches = None;
        return;
    }
    let data = &store.data;
    // Column names and types only: no file name is read for this.
    let names = SearchIndex::from_fields(
        data.n_items(),
        &[] as &[&str],
        data.classes.as_ref().map(|c| &c.labels),
        data.metadata.as_ref(),
        Vec::new(),
    );
    if let Err(e) = Query::parse(&text, &names) {
        search.error = Some(e.to_string());
        search.matches = None;
        return;
    }
    search.error = None;
    let data = Arc::clone(&store.data);
    let label_state = labels.as_ref().map(|l| l.state.clone());
    let files = search.files.clone();
    search.task = Some(AsyncComputeTaskPool::get().spawn(async move {
        let files = files.unwrap_or_else(|| Arc::new(FileNames::of(&data)));
        let label_of = |i: usize| {
            label_state
                .as_ref()
                .and_then(|s| s.get(ItemId(i as u32)))
                .map(str::to_owned)
        };
        let index = SearchIndex::with_files(
            &data,
            Arc::clone(&files),
            label_state.as_ref().map(|_| &label_of as _),
        );
        let found = Query::parse(&text, &index)
            .map(|q| index.run(&q))
            .map_err(|e| e.to_string());
        SearchDone {
            ran_for: (text, labels_version),
            found,
            files,
        }
    }));
}

/// Take a finished search; a stale one (the text changed meanwhile) is dropped and rerun.
fn finish_search(mut search: ResMut<SearchBox>) {
    let Some(task) = search.task.as_mut() else {
        return;
    };
    let Some(done) = future::block_on(future::poll_once(task)) else {
        return;
    };
    search.task = None;
    search.files = Some(done.files);
    if search.done_for.as_ref() != Some(&done.ran_for) {
        return;
    }
    match done.found {
        Ok(items) => search.matches = Some(Arc::new(items)),
        Err(e) => {
            search.error = Some(e);
            search.matches = None;
        }
    }
}

/// Enter / Shift+Enter: select the next or previous match and bring the view to it.
fn step_search(
    mut steps: MessageReader<StepSearch>,
    mut search: ResMut<SearchBox>,
    mut select: MessageWriter<SelectItem>,
) {
    for step in steps.read() {
        if let Some(item) = search.step(step.forward) {
            select.write(SelectItem {
                item: Some(item),
                focus: true,
            });
        }
    }
}

/// The matches as CSV: item, file, class, label, then every metadata column.
pub fn matches_csv(
    data: &crate::dataset::Dataset,
    labels: Option<&crate::labels::LabelState>,
    items: &[u32],
) -> String {
    use crate::dataset::{ColumnValues, Images};
    let field = crate::dataset::csv_field;
    let columns = data.metadata.iter().flat_map(|m| &m.columns);
    let mut out = String::from("item,file,class,label");
    for c in columns.clone() {
        out.push(',');
        out.push_str(&field(&c.name));
    }
    out.push('\n');
    for &i in items {
        let at = i as usize;
        let file = match &data.images {
            Images::Files(f) => f
                .paths
                .get(at)
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let class = data
            .classes
            .as_ref()
            .map(|c| c.labels.name_of(ItemId(i)))
            .unwrap_or_default();
        let label = labels.and_then(|l| l.get(ItemId(i))).unwrap_or_default();
        out.push_str(&format!(
            "{i},{},{},{}",
            field(&file),
            field(class),
            field(label)
        ));
        for c in columns.clone() {
            out.push(',');
            match &c.values {
                ColumnValues::Numeric(v) if v[at].is_finite() => out.push_str(&v[at].to_string()),
                ColumnValues::Numeric(_) => {}
                ColumnValues::Categorical(cat) => out.push_str(&field(cat.name_of(ItemId(i)))),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::app::ExplorerStatePlugin;
    use crate::viewer::item_set::{ItemSet, ItemSetPlugin, SetAction, SetOrigin};
    use crate::viewer::options::ViewerOptions;
    use crate::viewer::state::{ColorState, Selection, dimmed};

    fn app(initial: &str) -> App {
        let data = crate::dataset::load_demo();
        let mut app = App::new();
        app.add_plugins((MinimalPlugins, bevy::input::InputPlugin))
            .init_resource::<bevy_egui::input::EguiWantsInput>()
            .add_plugins(ExplorerStatePlugin {
                options: ViewerOptions::default(),
                data: Arc::new(data),
            })
            .add_plugins(SearchPlugin {
                initial: Some(initial.to_owned()),
            })
            .add_plugins(ItemSetPlugin);
        app
    }

    /// Run frames until the search task has finished.
    fn settle(app: &mut App) {
        for _ in 0..500 {
            app.update();
            if app.world().resource::<SearchBox>().is_idle() {
                app.update();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("the search never finished");
    }

    #[test]
    fn a_search_dims_the_rest_and_enter_selects_each_match() {
        let mut app = app("class:sandal item<100");
        settle(&mut app);
        let search = app.world().resource::<SearchBox>();
        let found = search.matches.clone().expect("matches");
        assert_eq!(
            search.status().as_deref(),
            Some(format!("{} matches", found.len()).as_str())
        );
        assert!(!found.is_empty() && found.iter().all(|&i| i < 100));
        // The map: matches keep their colour, the rest are dimmed.
        let color = app.world().resource::<ColorState>();
        let classes = &app.world().resource::<Store>().data.classes;
        let sandal = classes
            .as_ref()
            .expect("classes")
            .labels
            .names
            .iter()
            .position(|n| n == "Sandal");
        for i in 0..200u32 {
            let item = ItemId(i);
            let own = color.coloring.color_of(item, &color.hidden);
            let is_sandal = classes.as_ref().expect("classes").labels.codes[i as usize] as usize
                == sandal.expect("sandal");
            let want = if is_sandal && i < 100 {
                own
            } else {
                dimmed(own)
            };
            assert_eq!(color.point_color(item), want, "item {i}");
            assert_eq!(color.searched_out(item), !(is_sandal && i < 100));
        }
        // Enter: the first match is selected; Shift+Enter from there wraps to the last.
        // (The selection takes the message on the next frame.)
        app.world_mut().write_message(StepSearch { forward: true });
        app.update();
        app.update();
        assert_eq!(
            app.world().resource::<Selection>().selected,
            Some(ItemId(found[0]))
        );
        app.world_mut().write_message(StepSearch { forward: false });
        app.update();
        app.update();
        let last = *found.last().expect("last");
        assert_eq!(
            app.world().resource::<Selection>().selected,
            Some(ItemId(last))
        );
        // Hide the rest: transparent; clear the box: every colour back.
        app.world_mut().resource_mut::<ItemSet>().hide_others = true;
        app.update();
        let color = app.world().resource::<ColorState>();
        let other = (0..100u32)
            .find(|i| !found.contains(i))
            .expect("a non-match");
        assert_eq!(color.point_color(ItemId(other))[3], 0);
        app.world_mut().resource_mut::<SearchBox>().text.clear();
        settle(&mut app);
        let color = app.world().resource::<ColorState>();
        assert!(color.search.is_none());
        assert_eq!(
            color.point_color(ItemId(other)),
            color.coloring.color_of(ItemId(other), &color.hidden)
        );
    }

    #[test]
    fn label_all_is_one_batch_and_export_writes_a_new_csv() {
        use crate::labels::{LabelSet, journal};
        use crate::viewer::labels::LabelsPlugin;
        let dir = tempfile::tempdir().expect("tempdir");
        let (j, state, _) = journal::open(&dir.path().join("labels"), 1_000).expect("journal");
        let mut app = app("class:sandal item<60");
        app.insert_resource(Labels::new(LabelSet::default(), state, Some(j)))
            .add_plugins(LabelsPlugin);
        app.world_mut().resource_mut::<ItemSet>().export_dir = dir.path().to_owned();
        settle(&mut app);
        let found = app
            .world()
            .resource::<SearchBox>()
            .matches
            .clone()
            .expect("matches");
        assert!(!found.is_empty());
        // The search's matches are the current set.
        let set = app.world().resource::<ItemSet>();
        assert_eq!(set.items.as_ref(), Some(&found));
        assert_eq!(
            set.origin,
            Some(SetOrigin::Search("class:sandal item<60".into()))
        );
        app.world_mut().write_message(SetAction::LabelAll);
        app.update();
        app.update();
        let labels = app.world().resource::<Labels>();
        for i in 0..60 {
            let want = found.contains(&i).then_some("positive");
            assert_eq!(labels.state.get(ItemId(i)), want, "item {i}");
        }
        assert!(labels.state.can_undo());
        // One batch: a single undo takes every label back.
        app.world_mut()
            .write_message(crate::viewer::labels::UndoLabels { redo: false });
        app.update();
        assert!(app.world().resource::<Labels>().state.is_empty());
        // Export twice: two files, neither overwritten.
        for _ in 0..2 {
            app.world_mut().write_message(SetAction::Export);
            app.update();
        }
        let first = std::fs::read_to_string(dir.path().join("ivt-selection-1.csv")).expect("csv");
        assert!(dir.path().join("ivt-selection-2.csv").exists());
        let mut lines = first.lines();
        assert_eq!(lines.next(), Some("item,file,class,label"));
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), found.len());
        assert_eq!(rows[0], format!("{},,Sandal,", found[0]));
        let status = app.world().resource::<ItemSet>().status.clone();
        assert!(status.is_some_and(|s| s.contains("ivt-selection-2.csv")));
    }

    #[test]
    fn a_bad_query_is_a_message_and_matches_nothing() {
        let mut app = app("score>0.3");
        settle(&mut app);
        let search = app.world().resource::<SearchBox>();
        assert!(search.matches.is_none());
        let status = search.status().expect("status");
        assert!(status.contains("no column `score`"), "{status}");
        assert!(app.world().resource::<ColorState>().search.is_none());
    }

    #[test]
    fn stepping_wraps_both_ways_and_the_status_says_where() {
        let mut s = SearchBox {
            matches: Some(Arc::new(vec![3, 8, 20])),
            ..SearchBox::default()
        };
        assert_eq!(s.status().as_deref(), Some("3 matches"));
        assert_eq!(s.step(true), Some(ItemId(3)));
        assert_eq!(s.step(true), Some(ItemId(8)));
        assert_eq!(s.status().as_deref(), Some("2 of 3"));
        assert_eq!(s.step(false), Some(ItemId(3)));
        assert_eq!(s.step(false), Some(ItemId(20)));
        assert_eq!(s.step(true), Some(ItemId(3)));
        let mut none = SearchBox {
            matches: Some(Arc::new(Vec::new())),
            ..SearchBox::default()
        };
        assert_eq!(none.step(true), None);
        assert_eq!(none.status().as_deref(), Some("no match"));
        none.error = Some("bad".into());
        assert_eq!(none.status().as_deref(), Some("bad"));
    }
}
