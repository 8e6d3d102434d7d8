//! The probe in the explorer: refitted in the background whenever the labels change (never on
//! the main thread), its probabilities kept in the store, and the map coloured by one label's
//! probability (`--color-by probe:LABEL`, the colour menu) once it is there.
//!
//! One fit at a time: labels given while a fit runs are picked up by the next one, so a burst
//! of key presses costs one refit after the running one, not one each.

use std::sync::Arc;

use bevy::prelude::*;

use super::colors::ColorSource;
use super::job::Job;
use super::labels::Labels;
use super::state::{ColorState, Store};
use crate::probe::{self, Labelled, Probe, ProbeInput, Scaler};

/// The probe's state, and what it was fitted for.
#[derive(Resource, Default)]
pub struct ProbeView {
    /// The labels version the probe (or its refusal) is for.
    fitted_for: Option<u64>,
    running: Option<(u64, Job<Result<Fitted, String>>)>,
    /// Why there is no probe (too few labels, a failure), in words.
    pub status: Option<String>,
    /// Scaled once per data set, in the first fit.
    scaler: Option<Arc<Scaler>>,
}

struct Fitted {
    probe: Arc<Probe>,
    scaler: Arc<Scaler>,
}

impl ProbeView {
    /// Nothing to fit and nothing running (the capture waits for this).
    pub fn is_idle(&self, labels_version: u64) -> bool {
        self.running.is_none() && self.fitted_for == Some(labels_version)
    }
}

pub struct ProbePlugin;

impl Plugin for ProbePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ProbeView>()
            .add_systems(Update, (start_fit, finish_fit).chain());
    }
}

/// A fit of the labels as they are now, once the graph is there and none is running.
fn start_fit(store: Res<Store>, labels: Res<Labels>, mut view: ResMut<ProbeView>) {
    if view.running.is_some() || view.fitted_for == Some(labels.version) {
        return;
    }
    let Some(graph) = store.graph.clone() else {
        return;
    };
    let labelled = Labelled::of(&labels.state);
    if let Err(e) = probe::check_labels(&labelled) {
        view.status = Some(e.to_string());
        view.fitted_for = Some(labels.version);
        return;
    }
    let data = Arc::clone(&store.data);
    let scaler = view.scaler.clone();
    let job = Job::spawn("probe", move || {
        let values = data.features.values();
        let dim = data.features.dim();
        let scaler = scaler.unwrap_or_else(|| Arc::new(Scaler::of(&values, dim)));
        let input = ProbeInput {
            features: &values,
            dim,
            scaler: &scaler,
            graph: Some(&graph),
        };
        let mut fitted = probe::fit(&input, &labelled).map_err(|e| e.to_string())?;
        fitted.cv_accuracy = probe::cross_validate(&input, &labelled).ok();
        Ok(Fitted {
            probe: Arc::new(fitted),
            scaler,
        })
    });
    match job {
        Ok(job) => view.running = Some((labels.version, job)),
        Err(e) => {
            view.status = Some(e);
            view.fitted_for = Some(labels.version);
        }
    }
}

/// Take a finished fit: into the store, and the map recoloured if it shows the probe.
fn finish_fit(
    mut view: ResMut<ProbeView>,
    mut store: ResMut<Store>,
    mut color: ResMut<ColorState>,
) {
    let Some((version, job)) = view.running.as_mut() else {
        return;
    };
    let version = *version;
    let Some(result) = job.poll_result() else {
        return;
    };
    view.running = None;
    view.fitted_for = Some(version);
    match result {
        Ok(fitted) => {
            let p = &fitted.probe;
            info!(
                "probe fitted on {} labels: cross-validated accuracy {}",
                p.n_labels(),
                p.cv_accuracy
                    .map_or_else(|| "unknown".to_owned(), |a| format!("{a:.3}"))
            );
            view.status = None;
            view.scaler = Some(fitted.scaler);
            store.probe = Some(fitted.probe);
            if let ColorSource::Probe(_) = &color.source {
                let source = color.source.clone();
                if let Err(e) = color.set_source(source, &store) {
                    warn!("{e}");
                }
            }
        }
        Err(e) => {
            warn!("the probe: {e}");
            view.status = Some(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Categorical, ClassSource, Classes, Dataset, Features, Images, ItemId};
    use crate::knn::{Metric, exact_knn};
    use crate::labels::{LabelSet, journal};
    use crate::viewer::app::ExplorerStatePlugin;
    use crate::viewer::colors::Coloring;
    use crate::viewer::labels::{LabelItems, LabelsPlugin};
    use crate::viewer::options::ViewerOptions;

    /// 300 items in 4-D: three blobs (classes 0, 1, 2) of 100.
    fn data() -> Dataset {
        let mut x = Vec::new();
        let mut names = Vec::new();
        for i in 0..300usize {
            let class = i / 100;
            for j in 0..4 {
                let centre = if j == class { 10.0 } else { 0.0 };
                x.push(centre + ((i * 7 + j * 13) % 10) as f32 / 10.0);
            }
            names.push(class.to_string());
        }
        Dataset {
            name: "blobs".into(),
            features: Features::new(300, 4, x, "float32", "x.npy", "x.npy").expect("features"),
            images: Images::None,
            classes: Some(Classes {
                labels: Categorical::from_strings(&names),
                source: ClassSource::BuiltIn,
            }),
            metadata: None,
        }
    }

    fn wait(app: &mut App) {
        for _ in 0..2000 {
            app.update();
            let version = app.world().resource::<Labels>().version;
            if app.world().resource::<ProbeView>().is_idle(version) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("the probe did not finish");
    }

    fn label(app: &mut App, items: &[u32], name: &str) {
        app.world_mut().write_message(LabelItems {
            items: items.iter().map(|&i| ItemId(i)).collect(),
            label: Some(name.to_owned()),
        });
    }

    #[test]
    fn labels_refit_the_probe_in_the_background_and_colour_the_map() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = data();
        let graph = exact_knn(&data.features.values(), 4, 10, Metric::Euclidean, &()).expect("knn");
        let (j, state, _) = journal::open(dir.path(), 300).expect("journal");
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .insert_resource(ButtonInput::<KeyCode>::default())
            .init_resource::<bevy_egui::input::EguiWantsInput>()
            .insert_resource(Labels::new(LabelSet::default(), state, Some(j)))
            .add_plugins(ExplorerStatePlugin {
                options: ViewerOptions {
                    graph: Some(Arc::new(graph)),
                    ..default()
                },
                data: Arc::new(data),
            })
            .add_plugins((LabelsPlugin, ProbePlugin));
        // One label: no probe, and it says what it needs.
        label(&mut app, &[0], "positive");
        wait(&mut app);
        assert!(app.world().resource::<Store>().probe.is_none());
        let status = app.world().resource::<ProbeView>().status.clone();
        assert!(
            status.as_deref().is_some_and(|s| s.contains("two kinds")),
            "{status:?}"
        );
        // With enough, the map is coloured by the probe as soon as it is fitted.
        app.world_mut().resource_mut::<ColorState>().source = ColorSource::Probe("positive".into());
        label(&mut app, &[1, 2, 3], "positive");
        label(&mut app, &[200, 201, 202], "negative");
        wait(&mut app);
        let probe = app
            .world()
            .resource::<Store>()
            .probe
            .clone()
            .expect("probe");
        assert_eq!(probe.n_labels(), 7);
        assert!(probe.cv_accuracy.is_some());
        let color = app.world().resource::<ColorState>();
        let Coloring::Numeric {
            values, min, max, ..
        } = &color.coloring
        else {
            panic!("numeric colouring, got {:?}", color.coloring);
        };
        assert_eq!((*min, *max), (0.0, 1.0));
        let mean =
            |r: std::ops::Range<usize>| values[r.clone()].iter().sum::<f32>() / r.len() as f32;
        assert!(
            mean(0..100) > 0.7 && mean(200..300) < 0.3,
            "{} {}",
            mean(0..100),
            mean(200..300)
        );
    }
}
