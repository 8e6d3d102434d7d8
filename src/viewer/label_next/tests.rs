//! The "label next" loop without a window: a batch from the probe, keys label the highlighted
//! item and move on, a new batch once it is done; "label all" as one undoable batch.

use bevy::ecs::system::RunSystemOnce;

use super::*;
use crate::viewer::labels::UndoLabels;
use crate::viewer::press_keys;
use crate::viewer::probe::tests::{fitted, probe_app};
use crate::viewer::state::Selection;

fn app(dir: &std::path::Path, next: LabelNext) -> App {
    let mut app = probe_app(dir);
    app.add_plugins(LabelNextPlugin {
        strategy: None,
        all: None,
    })
    .insert_resource(next);
    app
}

/// Update until the probe and the batch are done.
fn settle(app: &mut App) {
    for _ in 0..3000 {
        app.update();
        let version = app.world().resource::<Labels>().version;
        let probe = app.world().resource::<ProbeView>();
        if app.world().resource::<LabelNext>().is_idle(probe, version) {
            // One more frame: the highlight's selection and key target follow.
            app.update();
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!("the probe or the batch did not finish");
}

fn label(app: &mut App, items: &[u32], name: &str) {
    crate::viewer::probe::tests::label(app, items, name);
    app.update();
}

fn get(app: &App, item: u32) -> Option<String> {
    app.world()
        .resource::<Labels>()
        .state
        .get(ItemId(item))
        .map(str::to_owned)
}

#[test]
fn keys_label_the_highlighted_suggestion_and_move_on_then_a_new_batch_comes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = app(
        dir.path(),
        LabelNext::opened(Some(Strategy::Uncertain), None),
    );
    // Too few labels: no batch, and the keys still label the map's points.
    label(&mut app, &[0], "positive");
    settle(&mut app);
    assert!(app.world().resource::<LabelNext>().batch.is_empty());
    assert_eq!(*app.world().resource::<KeyTarget>(), KeyTarget::Pointer);
    label(&mut app, &[1, 2], "positive");
    label(&mut app, &[100, 101, 200, 201], "negative");
    settle(&mut app);
    let batch = app.world().resource::<LabelNext>().batch.clone();
    assert_eq!(batch.len(), BATCH);
    let first = batch[0];
    assert!(get(&app, first).is_none(), "suggestions are unlabelled");
    assert_eq!(
        *app.world().resource::<KeyTarget>(),
        KeyTarget::Item(ItemId(first))
    );
    assert_eq!(
        app.world().resource::<Selection>().selected,
        Some(ItemId(first)),
        "the highlighted suggestion is selected: its neighbours show"
    );
    // The cursor resting on another point does not take the key.
    app.world_mut().resource_mut::<Selection>().hovered = Some(ItemId(299));
    press_keys(&mut app, &[KeyCode::Digit2]);
    app.update();
    assert_eq!(get(&app, first).as_deref(), Some("negative"));
    assert_eq!(get(&app, 299), None);
    let next = app.world().resource::<LabelNext>();
    assert_eq!(next.highlighted, 1, "on to the next one");
    // → skips one, ← comes back.
    press_keys(&mut app, &[KeyCode::ArrowRight]);
    assert_eq!(app.world().resource::<LabelNext>().highlighted, 2);
    press_keys(&mut app, &[KeyCode::ArrowLeft]);
    assert_eq!(app.world().resource::<LabelNext>().highlighted, 1);
    // Label the rest with keys: ten key presses in all for ten images.
    for _ in 1..BATCH {
        let item = app.world().resource::<LabelNext>().highlighted_item();
        let item = item.expect("highlighted").0;
        press_keys(&mut app, &[KeyCode::Digit1]);
        app.update();
        assert_eq!(get(&app, item).as_deref(), Some("positive"));
    }
    assert!(batch.iter().all(|&i| get(&app, i).is_some()));
    assert!(app.world().resource::<LabelNext>().refresh);
    settle(&mut app);
    let next = app.world().resource::<LabelNext>();
    assert!(!next.refresh);
    assert_eq!(next.batch.len(), BATCH);
    assert!(
        next.batch.iter().all(|&i| get(&app, i).is_none()),
        "a new batch of unlabelled items: {:?}",
        next.batch
    );
    // Another strategy: a new batch by it, the likeliest positives.
    {
        let mut next = app.world_mut().resource_mut::<LabelNext>();
        next.strategy = Strategy::Likely("positive".into());
        next.ask_new_batch();
    }
    settle(&mut app);
    let probe = fitted(&app);
    let k = probe.code("positive").expect("code");
    let next = app.world().resource::<LabelNext>();
    assert!(
        next.batch.iter().all(|&i| probe.row(i as usize)[k] > 0.5),
        "likely positives: {:?}",
        next.batch
    );
    // A label the probe does not know: said, not retried, and nothing waits for it.
    let kept = next.batch.clone();
    {
        let mut next = app.world_mut().resource_mut::<LabelNext>();
        next.strategy = Strategy::Likely("cat".into());
        next.ask_new_batch();
    }
    settle(&mut app);
    let next = app.world().resource::<LabelNext>();
    assert!(
        next.error.as_deref().is_some_and(|e| e.contains("\"cat\"")),
        "{:?}",
        next.error
    );
    assert_eq!(next.batch, kept);
    // L closes the panel; the keys go back to the map's points.
    press_keys(&mut app, &[KeyCode::KeyL]);
    app.update();
    assert!(!app.world().resource::<LabelNext>().open);
    assert_eq!(*app.world().resource::<KeyTarget>(), KeyTarget::Pointer);
}

#[test]
fn label_all_gives_the_sure_ones_the_label_in_one_undoable_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut app = app(
        dir.path(),
        LabelNext::opened(None, Some(("positive".into(), 0.8))),
    );
    label(&mut app, &[0, 1, 2], "positive");
    label(&mut app, &[100, 101, 200, 201], "negative");
    settle(&mut app);
    app.update();
    let items = app.world().resource::<LabelNext>().all.items.clone();
    assert!(
        items.len() >= 50 && items.iter().all(|&i| (3..100).contains(&i)),
        "the first blob's unlabelled items: {} {:?}",
        items.len(),
        &items[..items.len().min(10)]
    );
    let probe = fitted(&app);
    let k = probe.code("positive").expect("code");
    let p: Vec<f32> = items.iter().map(|&i| probe.row(i as usize)[k]).collect();
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "least sure first");
    assert!(p[0] >= 0.8);
    // A higher threshold: fewer.
    app.world_mut().resource_mut::<LabelNext>().all.threshold = 0.99;
    app.update();
    let fewer = app.world().resource::<LabelNext>().all.items.len();
    assert!(fewer <= items.len());
    app.world_mut().resource_mut::<LabelNext>().all.threshold = 0.8;
    app.update();
    // One batch: every listed item labelled, the user's own labels untouched.
    label(&mut app, &[3], "negative");
    app.update();
    let items = app.world().resource::<LabelNext>().all.items.clone();
    assert!(!items.contains(&3), "labelled items are not offered");
    let before = app.world().resource::<Labels>().version;
    app.world_mut()
        .run_system_once(
            move |mut next: ResMut<LabelNext>, mut out: MessageWriter<LabelItems>| {
                label_all(&mut next, "positive", before, &mut out);
            },
        )
        .expect("label all");
    app.update();
    let labels = app.world().resource::<Labels>();
    assert_eq!(labels.version, before + 1, "one batch");
    assert!(
        items
            .iter()
            .all(|&i| get(&app, i).as_deref() == Some("positive"))
    );
    assert_eq!(get(&app, 3).as_deref(), Some("negative"));
    assert!(
        app.world()
            .resource::<LabelNext>()
            .all
            .done
            .as_ref()
            .is_some_and(|(at, d)| *at == before && d.contains("Ctrl+Z")),
    );
    app.world_mut().write_message(UndoLabels { redo: false });
    app.update();
    assert!(items.iter().all(|&i| get(&app, i).is_none()), "one Ctrl+Z");
    assert_eq!(get(&app, 3).as_deref(), Some("negative"));
}
