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
    /// The cross-validation of the last fit: a job of its own after the fit, so the map is
    /// coloured by a new fit without waiting for the five refits it costs (~4 s at 10⁶ items).
    cv_running: Option<(u64, Job<Result<Accuracy, String>>)>,
    /// The latest cross-validated accuracy, and the labels it rests on.
    pub accuracy: Option<Accuracy>,
    /// The labels version whose cross-validation failed (not retried every frame).
    cv_failed_for: Option<u64>,
}

/// The probe's accuracy, estimated on the labels of one version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    pub value: f64,
    /// How many labels it rests on.
    pub labels: usize,
    /// The labels version it was measured on.
    pub version: u64,
}

struct Fitted {
    probe: Arc<Probe>,
    scaler: Arc<Scaler>,
}

impl ProbeView {
    /// Nothing to fit or cross-validate and nothing running (the capture waits for this).
    pub fn is_idle(&self, labels_version: u64) -> bool {
        self.fit_is_current(labels_version)
            && self.cv_running.is_none()
            && (self.status.is_some()
                || self.cv_failed_for == Some(labels_version)
                || self.accuracy.is_some_and(|a| a.version == labels_version))
    }

    /// The probe in the store is fitted on the labels of `labels_version` (not a refusal).
    pub fn fit_is_current(&self, labels_version: u64) -> bool {
        self.running.is_none() && self.fitted_for == Some(labels_version)
    }

    /// One line on the probe: what it rests on and how good it is, or what it needs.
    pub fn describe(&self, probe: Option<&Probe>, labels_version: u64) -> String {
        if let Some(why) = &self.status {
            return why.clone();
        }
        let Some(p) = probe else {
            return if self.running.is_some() {
                "fitting the probe…".to_owned()
            } else {
                "the probe waits for the kNN graph".to_owned()
            };
        };
        let per: Vec<String> = p
            .names
            .iter()
            .zip(&p.per_label)
            .map(|(n, c)| format!("{n} {c}"))
            .collect();
        let mut line = format!("probe on {} labels ({})", p.n_labels(), per.join(", "));
        match self.accuracy {
            Some(a) => line.push_str(&format!(
                " · cross-validated accuracy {:.2}{}",
                a.value,
                if a.labels == p.n_labels() {
                    String::new()
                } else {
                    format!(" (on {} labels)", a.labels)
                }
            )),
            None => line.push_str(" · accuracy: cross-validating…"),
        }
        if !self.fit_is_current(labels_version) {
            line.push_str(" · refitting…");
        }
        line
    }
}

pub struct ProbePlugin;

impl Plugin for ProbePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ProbeView>()
            .add_systems(Update, (start_fit, finish_fit, cross_validate).chain());
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
        let fitted = probe::fit(&input, &labelled).map_err(|e| e.to_string())?;
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
            info!("probe fitted on {} labels", fitted.probe.n_labels());
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

/// After a fit, its accuracy: one cross-validation at a time, of the latest labels fitted.
fn cross_validate(store: Res<Store>, labels: Res<Labels>, mut view: ResMut<ProbeView>) {
    if let Some((version, job)) = view.cv_running.as_mut() {
        let version = *version;
        let Some(result) = job.poll_result() else {
            return;
        };
        view.cv_running = None;
        match result {
            Ok(a) => {
                info!(
                    "probe: cross-validated accuracy {:.3} on {} labels",
                    a.value, a.labels
                );
                view.accuracy = Some(a);
            }
            Err(e) => {
                warn!("the probe's cross-validation (labels version {version}): {e}");
                view.cv_failed_for = Some(version);
            }
        }
    }
    let version = labels.version;
    if !view.fit_is_current(version)
        || view.status.is_some()
        || view.cv_failed_for == Some(version)
        || view.accuracy.is_some_and(|a| a.version == version)
    {
        return;
    }
    let (Some(graph), Some(scaler)) = (store.graph.clone(), view.scaler.clone()) else {
        return;
    };
    let labelled = Labelled::of(&labels.state);
    let data = Arc::clone(&store.data);
    let job = Job::spawn("probe check", move || {
        let values = data.features.values();
        let input = ProbeInput {
            features: &values,
            dim: data.features.dim(),
            scaler: &scaler,
            graph: Some(&graph),
        };
        let value = probe::cross_validate(&input, &labelled).map_err(|e| e.to_string())?;
        Ok(Accuracy {
            value,
            labels: labelled.items.len(),
            version,
        })
    });
    match job {
        Ok(job) => view.cv_running = Some((version, job)),
        Err(e) => {
            warn!("{e}");
            view.cv_failed_for = Some(version);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dataset::{Categorical, ClassSource, Classes, Dataset, Features, Images, ItemId};
    use crate::knn::{Metric, exact_knn};
    use crate::labels::{LabelSet, journal};
    use crate::viewer::app::ExplorerStatePlugin;
    use crate::viewer::colors::Coloring;
    use crate::viewer::labels::{LabelItems, LabelsPlugin};
    use crate::viewer::options::ViewerOptions;

    /// 300 items in 4-D: three blobs (classes 0, 1, 2) of 100.
    pub(crate) fn data() -> Dataset {
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

    /// The probe in the store (the test fails without one).
    pub(crate) fn fitted(app: &App) -> Arc<Probe> {
        app.world()
            .resource::<Store>()
            .probe
            .clone()
            .expect("probe")
    }

    /// Give `items` the label `name` (applied on the next update).
    pub(crate) fn label(app: &mut App, items: &[u32], name: &str) {
        app.world_mut().write_message(LabelItems {
            items: items.iter().map(|&i| ItemId(i)).collect(),
            label: Some(name.to_owned()),
        });
    }

    /// A window-less explorer on [`data`] with its kNN graph, labels journalled in `dir`, and
    /// the probe.
    pub(crate) fn probe_app(dir: &std::path::Path) -> App {
        let data = data();
        let graph = exact_knn(&data.features.values(), 4, 10, Metric::Euclidean, &()).expect("knn");
        let (j, state, _) = journal::open(dir, 300).expect("journal");
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
        app
    }

    #[test]
    fn labels_refit_the_probe_in_the_background_and_colour_the_map() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut app = probe_app(dir.path());
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
        let probe = fitted(&app);
        assert_eq!(probe.n_labels(), 7);
        let view = app.world().resource::<ProbeView>();
        let accuracy = view.accuracy.expect("cross-validated");
        assert_eq!((accuracy.labels, accuracy.version), (7, 3));
        assert!(
            view.describe(Some(&probe), 3).starts_with(
                "probe on 7 labels (negative 3, positive 4) · cross-validated accuracy"
            ),
            "{}",
            view.describe(Some(&probe), 3)
        );
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
