//! The search box: the query language of [`crate::search`] typed in the top bar, run off the
//! main thread, its matches highlighted on the map (the rest dimmed, or hidden), stepped
//! through with Enter / Shift+Enter.
//!
//! The text is parsed at once on the main thread against the data set's column names (cheap:
//! no item is read), so a mistake shows while typing; the match itself runs as a task on
//! Bevy's compute pool over a fresh [`SearchIndex`], and a result is used only if the text
//! and the labels are still what it was computed for.

use std::sync::Arc;

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures_lite::future};
use bevy_egui::input::egui_wants_any_keyboard_input;

use super::labels::Labels;
use super::{ColorState, SearchMask, SelectItem, Store};
use crate::dataset::ItemId;
use crate::search::{Query, SearchIndex};

/// The search box's state.
#[derive(Resource, Debug, Default)]
pub struct SearchBox {
    /// What is typed (the UI edits it).
    pub text: String,
    /// Hide the items that do not match (else they are dimmed).
    pub hide_others: bool,
    /// Set by `/` or Ctrl+F: the UI gives the box the keyboard focus.
    pub focus_requested: bool,
    /// Why the text is not a query, in words.
    pub error: Option<String>,
    /// The matches of `done_for`'s text, ascending.
    pub matches: Option<Arc<Vec<u32>>>,
    /// Index into `matches` of the item Enter moved to last.
    pub current: Option<usize>,
    /// The filters panel's charts, for the current matches.
    pub charts: super::filters::ChartCache,
    /// (text, labels version) of the search running or finished last.
    done_for: Option<(String, u64)>,
    task: Option<Task<SearchDone>>,
}

/// A finished search: the text and labels version it ran for, and the matches or the error.
type SearchDone = (String, u64, Result<Vec<u32>, String>);

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
                apply_mask,
                step_search,
            )
                .chain(),
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
    search.task = Some(AsyncComputeTaskPool::get().spawn(async move {
        let label_of = |i: usize| {
            label_state
                .as_ref()
                .and_then(|s| s.get(ItemId(i as u32)))
                .map(str::to_owned)
        };
        let index = SearchIndex::new(&data, label_state.as_ref().map(|_| &label_of as _));
        let found = Query::parse(&text, &index)
            .map(|q| index.run(&q))
            .map_err(|e| e.to_string());
        (text, labels_version, found)
    }));
}

/// Take a finished search; a stale one (the text changed meanwhile) is dropped and rerun.
fn finish_search(mut search: ResMut<SearchBox>) {
    let Some(task) = search.task.as_mut() else {
        return;
    };
    let Some((text, labels_version, found)) = future::block_on(future::poll_once(task)) else {
        return;
    };
    search.task = None;
    if search.done_for.as_ref() != Some(&(text, labels_version)) {
        return;
    }
    match found {
        Ok(items) => search.matches = Some(Arc::new(items)),
        Err(e) => {
            search.error = Some(e);
            search.matches = None;
        }
    }
}

/// Keep the colouring's mask in step with the matches and the hide toggle (rebuilt only when
/// either changes: an O(N) pass, once per search).
fn apply_mask(
    store: Res<Store>,
    search: Res<SearchBox>,
    mut color: ResMut<ColorState>,
    mut applied: Local<Option<(usize, bool)>>,
) {
    let want = search
        .matches
        .as_ref()
        .map(|m| (Arc::as_ptr(m) as usize, search.hide_others));
    if *applied == want {
        return;
    }
    *applied = want;
    color.search = search.matches.as_ref().map(|m| {
        let mut matches = vec![false; store.n_items()];
        for &i in m.iter() {
            if let Some(slot) = matches.get_mut(i as usize) {
                *slot = true;
            }
        }
        Arc::new(SearchMask {
            matches,
            hide_others: search.hide_others,
        })
    });
    color.version += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::{ExplorerStatePlugin, Selection, ViewerOptions, dimmed};

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
            });
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
        app.world_mut().resource_mut::<SearchBox>().hide_others = true;
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
