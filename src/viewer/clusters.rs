//! Clusters in the explorer: the dendrogram is computed (or read from the cache) in the
//! background the first time the user colours by clusters; from then on every cluster count
//! is a cut of the same tree, so the slider recolours at once.

use std::sync::Arc;

use bevy::prelude::*;

use super::colors::ColorSource;
use super::job::Job;
use super::state::{ColorState, Store};
use crate::cluster::{self, Linkage};
use crate::progress::SharedProgress;

/// Clusters shown when the user first picks "clusters".
pub const DEFAULT_CLUSTERS: usize = 10;

/// Ask for the clusters coloured with `k` groups (computing the dendrogram first if needed).
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShowClusters(pub usize);

#[derive(Debug, Clone, PartialEq, Default)]
pub enum ClusterState {
    #[default]
    Idle,
    Running,
    Ready,
    Failed(String),
}

/// The background computation and what it is for.
#[derive(Resource, Default)]
pub struct ClusterJob {
    pub state: ClusterState,
    pub progress: Arc<SharedProgress>,
    /// The cluster count to show once the tree is there.
    pending_k: Option<usize>,
    task: Option<Job<Result<cluster::Cached, String>>>,
}

pub struct ClustersPlugin;

impl Plugin for ClustersPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<ClusterJob>()
            .add_message::<ShowClusters>()
            .add_systems(Update, (request_clusters, finish_clusters).chain());
    }
}

/// Cut the tree we have, or start computing it.
fn request_clusters(
    mut requests: MessageReader<ShowClusters>,
    store: Res<Store>,
    mut color: ResMut<ColorState>,
    mut job: ResMut<ClusterJob>,
) {
    let Some(&ShowClusters(k)) = requests.read().last() else {
        return;
    };
    if store.dendrogram.is_some() {
        if let Err(e) = color.set_source(ColorSource::Clusters(k), &store) {
            warn!("{e}");
        }
        return;
    }
    job.pending_k = Some(k);
    if job.task.is_some() {
        return;
    }
    let data = Arc::clone(&store.data);
    let cache = store.cache.clone();
    let progress = Arc::clone(&job.progress);
    let task = Job::spawn("clusters", move || {
        cluster::cached(
            &data.features.values(),
            data.features.dim(),
            Linkage::Ward,
            &cache,
            progress.as_ref(),
        )
        .map_err(|e| e.to_string())
    });
    match task {
        Ok(t) => {
            job.state = ClusterState::Running;
            job.task = Some(t);
        }
        Err(e) => {
            warn!("clusters: {e}");
            job.state = ClusterState::Failed(e);
        }
    }
}

fn finish_clusters(
    mut store: ResMut<Store>,
    mut color: ResMut<ColorState>,
    mut job: ResMut<ClusterJob>,
) {
    let Some(task) = &mut job.task else { return };
    let Some(result) = task.poll_result() else {
        return;
    };
    job.task = None;
    match result {
        Ok(got) => {
            for w in &got.warnings {
                warn!("{w}");
            }
            if let Some(secs) = got.computed_secs {
                info!(
                    "ward dendrogram of {} items in {secs:.2} s",
                    got.dendrogram.n_items
                );
            }
            store.dendrogram = Some(Arc::new(got.dendrogram));
            job.state = ClusterState::Ready;
            if let Some(k) = job.pending_k.take()
                && let Err(e) = color.set_source(ColorSource::Clusters(k), &store)
            {
                warn!("{e}");
            }
        }
        Err(e) => {
            warn!("clusters: {e}");
            job.state = ClusterState::Failed(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Dataset, Features, Images};
    use crate::viewer::app::ExplorerStatePlugin;
    use crate::viewer::colors::Coloring;
    use crate::viewer::options::ViewerOptions;

    /// 12 items in three tight groups of four on a line.
    fn groups() -> Dataset {
        let v: Vec<f32> = (0..12)
            .flat_map(|i| [(i / 4) as f32 * 50.0 + (i % 4) as f32, 0.0])
            .collect();
        Dataset {
            name: "groups".into(),
            features: Features::new(12, 2, v, "float32", "g.npy", "g.npy").expect("features"),
            images: Images::None,
            classes: None,
            metadata: None,
        }
    }

    fn groups_shown(app: &App) -> Vec<u32> {
        match &app.world().resource::<ColorState>().coloring {
            Coloring::Categorical { codes, .. } => codes.clone(),
            other => panic!("not categorical: {other:?}"),
        }
    }

    #[test]
    fn the_tree_is_computed_once_and_every_count_is_a_cut() {
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins(ExplorerStatePlugin {
                options: ViewerOptions::default(),
                data: Arc::new(groups()),
            })
            .add_plugins(ClustersPlugin);
        app.world_mut().write_message(ShowClusters(3));
        for _ in 0..500 {
            app.update();
            if app.world().resource::<ClusterJob>().state == ClusterState::Ready {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        app.update();
        assert_eq!(
            app.world().resource::<ClusterJob>().state,
            ClusterState::Ready
        );
        assert_eq!(groups_shown(&app), vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
        // The dendrogram view's tree: three leaves, the clusters of the cut.
        let color = app.world().resource::<ColorState>();
        let top = color.tree.as_ref().expect("top tree");
        let mut leaves = top.nodes.last().expect("root").clusters.clone();
        leaves.sort_unstable();
        assert_eq!(leaves, vec![0, 1, 2]);
        // Clicking a branch shows only its clusters.
        let (_, right) = top.nodes.last().expect("root").children.expect("branch");
        let keep = top.nodes[right].clusters.clone();
        app.world_mut()
            .resource_mut::<ColorState>()
            .show_only(&keep);
        let hidden = app.world().resource::<ColorState>().hidden.clone();
        for code in 0..3u32 {
            assert_eq!(hidden[code as usize], !keep.contains(&code));
        }
        let tree = Arc::clone(
            app.world()
                .resource::<Store>()
                .dendrogram
                .as_ref()
                .expect("tree"),
        );
        // Another count recolours in the same frame, from the same tree.
        app.world_mut().write_message(ShowClusters(12));
        app.update();
        assert_eq!(groups_shown(&app), (0..12).collect::<Vec<u32>>());
        let store = app.world().resource::<Store>();
        assert!(Arc::ptr_eq(store.dendrogram.as_ref().expect("tree"), &tree));
        assert_eq!(
            app.world().resource::<ColorState>().source,
            ColorSource::Clusters(12)
        );
    }
}
