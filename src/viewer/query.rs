//! Query by image: an image dropped on the window, given with `open … --query IMG` or picked in
//! the "query image…" browser is embedded by the data set's encoder (`--model`, with the same
//! preprocessing), its nearest items found in the original space by an exact scan, and it is
//! placed on the map as a numbered marker at the weighted mean of its nearest items' positions
//! (where UMAP's `transform` starts a new point). The neighbour grid shows its neighbours until
//! a point is clicked; clicking a marker shows them again. Queries stay until cleared.
//!
//! The encoder is a plain function handed in by the CLI, so the explorer does not depend on
//! ONNX Runtime and tests can give their own.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures_lite::future};
use bevy::window::FileDragAndDrop;
use bevy_egui::egui;

use super::neighbors::Neighbor;
use super::state::{LayoutCoords, SelectItem, Store};
use crate::dataset::ItemId;

/// One image file to its feature vector, or why not.
type EmbedFn = dyn Fn(&Path) -> Result<Vec<f32>, String> + Send + Sync;

/// Embeds one image file as the data set's features were made: the vector, or why not.
#[derive(Clone)]
pub struct Encoder(Arc<EmbedFn>);

impl Encoder {
    pub fn new(f: impl Fn(&Path) -> Result<Vec<f32>, String> + Send + Sync + 'static) -> Self {
        Self(Arc::new(f))
    }

    pub fn embed(&self, image: &Path) -> Result<Vec<f32>, String> {
        (self.0)(image)
    }
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encoder")
    }
}

/// Neighbours found per query (the largest neighbour grid, 8 × 8).
pub const QUERY_K: usize = 64;
/// Neighbours whose positions place the marker.
pub const PLACE_K: usize = 16;

/// Without an encoder: what the user is told.
pub static NEEDS_MODEL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "query by image needs the encoder that made the features: open the image folder with \
         {} ENCODER.onnx (and the same preprocessing options)",
        crate::hint::MODEL
    )
});

/// One query image on the map.
#[derive(Clone)]
pub struct QueryMarker {
    /// Shown as "Q1", "Q2", … in the order the queries were made.
    pub number: usize,
    pub path: PathBuf,
    /// Nearest first, in the original space.
    pub neighbors: Vec<Neighbor>,
    /// The image for the panel, decoded off the main thread.
    pub image: Option<egui::ColorImage>,
    /// Made from `image` by the UI on first draw.
    pub texture: Option<egui::TextureHandle>,
}

impl std::fmt::Debug for QueryMarker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryMarker")
            .field("number", &self.number)
            .field("path", &self.path)
            .field("neighbors", &self.neighbors.len())
            .finish_non_exhaustive()
    }
}

impl QueryMarker {
    /// Where the marker stands on `layout`.
    pub fn position(&self, layout: &LayoutCoords) -> Option<Vec3> {
        place(layout, &self.neighbors)
    }
}

/// The queries made, the one whose neighbours the grid shows, and the ones running.
#[derive(Resource, Default)]
pub struct Queries {
    pub encoder: Option<Encoder>,
    pub markers: Vec<QueryMarker>,
    /// Index into `markers` of the query the neighbour grid shows.
    pub active: Option<usize>,
    /// The last failure (no model, unreadable image), shown in the neighbour panel.
    pub error: Option<String>,
    /// Bumped when `markers` or `active` change.
    pub version: u64,
    pending: Vec<Task<QueryDone>>,
}

impl Queries {
    /// No query is being embedded or searched.
    pub fn is_idle(&self) -> bool {
        self.pending.is_empty()
    }

    pub fn active_marker(&self) -> Option<&QueryMarker> {
        self.active.and_then(|a| self.markers.get(a))
    }

    pub fn running(&self) -> usize {
        self.pending.len()
    }
}

/// Query with this image file.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
pub struct QueryImage(pub PathBuf);

/// What the marker and panel buttons do.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryAction {
    /// Show this query's neighbours (index into `markers`).
    Show(usize),
    /// Remove every marker.
    ClearAll,
}

/// A finished query.
struct QueryDone {
    path: PathBuf,
    result: Result<(Vec<Neighbor>, Option<egui::ColorImage>), String>,
}

pub struct QueryPlugin {
    pub encoder: Option<Encoder>,
    /// `--query IMG`: queried at start.
    pub initial: Vec<PathBuf>,
}

impl Plugin for QueryPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(Queries {
            encoder: self.encoder.clone(),
            ..Queries::default()
        })
        .add_message::<QueryImage>()
        .add_message::<QueryAction>()
        .add_message::<FileDragAndDrop>()
        .add_systems(
            Update,
            (
                read_drops,
                start_queries,
                finish_queries,
                act_on_queries,
                hide_on_select,
            )
                .chain(),
        );
        let initial = self.initial.clone();
        app.add_systems(Startup, move |mut out: MessageWriter<QueryImage>| {
            for path in &initial {
                out.write(QueryImage(path.clone()));
            }
        });
    }
}

/// Files dropped on the window are queries.
fn read_drops(mut drops: MessageReader<FileDragAndDrop>, mut out: MessageWriter<QueryImage>) {
    for drop in drops.read() {
        if let FileDragAndDrop::DroppedFile { path_buf, .. } = drop {
            out.write(QueryImage(path_buf.clone()));
        }
    }
}

/// Embed and search each new query off the main thread.
fn start_queries(
    mut requests: MessageReader<QueryImage>,
    store: Res<Store>,
    mut queries: ResMut<Queries>,
) {
    for QueryImage(path) in requests.read() {
        let Some(encoder) = queries.encoder.clone() else {
            queries.error = Some(NEEDS_MODEL.clone());
            continue;
        };
        if !path.is_file() {
            queries.error = Some(format!("{}: not an image file", path.display()));
            continue;
        }
        let data = Arc::clone(&store.data);
        let metric = store.metric;
        let path = path.clone();
        queries
            .pending
            .push(AsyncComputeTaskPool::get().spawn(async move {
                let result = encoder.embed(&path).and_then(|vector| {
                    let f = &data.features;
                    let found = crate::knn::query(&f.values(), f.dim(), &vector, QUERY_K, metric)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    let neighbors = found
                        .into_iter()
                        .map(|(item, distance)| Neighbor {
                            item: ItemId(item),
                            distance,
                        })
                        .collect();
                    // The panel's picture; a file the encoder read but we cannot show is no error.
                    let image = super::thumbs::decode_file(&path).ok();
                    Ok((neighbors, image))
                });
                QueryDone { path, result }
            }));
    }
}

/// A finished query becomes a marker, and the grid shows its neighbours.
fn finish_queries(mut queries: ResMut<Queries>) {
    let mut done = Vec::new();
    queries
        .pending
        .retain_mut(|task| match future::block_on(future::poll_once(task)) {
            Some(d) => {
                done.push(d);
                false
            }
            None => true,
        });
    for d in done {
        match d.result {
            Ok((neighbors, image)) => {
                let number = queries.markers.last().map_or(1, |m| m.number + 1);
                queries.markers.push(QueryMarker {
                    number,
                    path: d.path,
                    neighbors,
                    image,
                    texture: None,
                });
                queries.active = Some(queries.markers.len() - 1);
                queries.error = None;
                queries.version += 1;
            }
            Err(e) => queries.error = Some(e),
        }
    }
}

fn act_on_queries(mut actions: MessageReader<QueryAction>, mut queries: ResMut<Queries>) {
    for action in actions.read() {
        match *action {
            QueryAction::Show(i) if i < queries.markers.len() => queries.active = Some(i),
            QueryAction::Show(_) => continue,
            QueryAction::ClearAll => {
                queries.markers.clear();
                queries.active = None;
                queries.error = None;
            }
        }
        queries.version += 1;
    }
}

/// Selecting an item hands the neighbour grid back to it.
fn hide_on_select(mut selects: MessageReader<SelectItem>, mut queries: ResMut<Queries>) {
    if selects.read().any(|s| s.item.is_some()) && queries.active.is_some() {
        queries.active = None;
        queries.version += 1;
    }
}

/// The marker's place on `layout`: the mean of its nearest items' positions weighted by
/// inverse distance, so an exact copy of an item lands on that item. `None` without
/// neighbours.
pub fn place(layout: &LayoutCoords, neighbors: &[Neighbor]) -> Option<Vec3> {
    let near: Vec<&Neighbor> = neighbors
        .iter()
        .filter(|n| n.item.index() < layout.n_items())
        .take(PLACE_K)
        .collect();
    if near.is_empty() {
        return None;
    }
    let mean = near.iter().map(|n| n.distance.max(0.0)).sum::<f32>() / near.len() as f32;
    // Relative to the typical distance, so the weights do not depend on the features' scale.
    let eps = (mean * 1e-6).max(f32::MIN_POSITIVE);
    let (sum, total) = near.iter().fold((Vec3::ZERO, 0.0), |(sum, total), n| {
        let w = 1.0 / (n.distance.max(0.0) + eps);
        (sum + layout.position(n.item) * w, total + w)
    });
    (total > 0.0 && sum.is_finite()).then(|| sum / total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Dataset, Features, Images};
    use crate::viewer::app::ExplorerStatePlugin;
    use crate::viewer::options::ViewerOptions;
    use crate::viewer::state::{NeighborView, Selection};

    fn n(item: u32, distance: f32) -> Neighbor {
        Neighbor {
            item: ItemId(item),
            distance,
        }
    }

    #[test]
    fn the_marker_sits_at_the_inverse_distance_mean_and_on_an_exact_copy() {
        let layout = crate::viewer::state::test_layout(vec![0.0, 0.0, 10.0, 0.0, 0.0, 10.0], 2);
        // Equal distances: the plain mean.
        let p = place(&layout, &[n(0, 1.0), n(1, 1.0), n(2, 1.0)]).expect("placed");
        assert!(
            (p - Vec3::new(10.0 / 3.0, 10.0 / 3.0, 0.0)).length() < 1e-4,
            "{p}"
        );
        // Twice as far: half the weight.
        let p = place(&layout, &[n(0, 1.0), n(1, 2.0)]).expect("placed");
        assert!((p.x - 10.0 / 3.0).abs() < 1e-2, "{p}");
        // An exact copy (distance 0) pins the marker to its item.
        let p = place(&layout, &[n(1, 0.0), n(0, 1.0), n(2, 1.0)]).expect("placed");
        assert!((p - Vec3::new(10.0, 0.0, 0.0)).length() < 0.05, "{p}");
        assert_eq!(place(&layout, &[]), None);
        assert_eq!(place(&layout, &[n(7, 1.0)]), None);
    }

    /// 20 items on a line at x = index (features and layout alike); the encoder reads the
    /// number in the file's name ("q7.5.png" → [7.5, 0]).
    fn app(encoder: Option<Encoder>) -> App {
        let n = 20;
        let v: Vec<f32> = (0..n).flat_map(|i| [i as f32, 0.0]).collect();
        let data = Dataset {
            name: "line".into(),
            features: Features::new(n, 2, v.clone(), "float32", "f", "f").expect("features"),
            images: Images::None,
            classes: None,
            metadata: None,
        };
        let mut app = App::new();
        app.add_plugins(MinimalPlugins)
            .add_plugins(ExplorerStatePlugin {
                options: ViewerOptions {
                    nside: 2,
                    layout: Some(crate::viewer::state::test_layout(v, 2)),
                    ..ViewerOptions::default()
                },
                data: Arc::new(data),
            })
            .add_plugins(crate::viewer::neighbor_grid::NeighborsPlugin)
            .add_plugins(QueryPlugin {
                encoder,
                initial: Vec::new(),
            });
        app
    }

    fn name_encoder() -> Encoder {
        Encoder::new(|path: &Path| {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            stem.trim_start_matches('q')
                .parse::<f32>()
                .map(|x| vec![x, 0.0])
                .map_err(|e| format!("{}: {e}", path.display()))
        })
    }

    fn settle(app: &mut App) {
        for _ in 0..500 {
            app.update();
            if app.world().resource::<Queries>().is_idle() {
                app.update();
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        panic!("the query never finished");
    }

    fn drop_file(app: &mut App, path: &Path) {
        app.world_mut().write_message(FileDragAndDrop::DroppedFile {
            window: Entity::PLACEHOLDER,
            path_buf: path.to_owned(),
        });
    }

    #[test]
    fn a_dropped_file_places_a_marker_and_fills_the_grid() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("q7.25.png");
        image::RgbImage::from_pixel(3, 2, image::Rgb([200, 10, 10]))
            .save(&file)
            .expect("png");
        let mut app = app(Some(name_encoder()));
        app.update();
        drop_file(&mut app, &file);
        settle(&mut app);
        let queries = app.world().resource::<Queries>();
        assert_eq!(queries.error, None);
        assert_eq!(queries.markers.len(), 1);
        let marker = &queries.markers[0];
        assert_eq!(marker.number, 1);
        assert_eq!(marker.image.as_ref().map(|i| i.size), Some([3, 2]));
        assert_eq!(queries.active, Some(0));
        // Nearest in the original space: 7, 8, 6, 9, …
        let nearest: Vec<u32> = marker.neighbors.iter().take(4).map(|n| n.item.0).collect();
        assert_eq!(nearest, [7, 8, 6, 9]);
        assert!((marker.neighbors[0].distance - 0.25).abs() < 1e-5);
        // Between 7 and 8, nearer 7.
        let layout = app
            .world()
            .resource::<Store>()
            .layout
            .clone()
            .expect("layout");
        let at = marker.position(&layout).expect("placed");
        assert!(at.x > 7.0 && at.x < 7.5, "{at}");
        // The grid (2 × 2) shows the query's neighbours.
        let grid: Vec<u32> = app
            .world()
            .resource::<NeighborView>()
            .items
            .iter()
            .map(|n| n.item.0)
            .collect();
        assert_eq!(grid, [7, 8, 6, 9]);
        // Clicking a point hands the grid back to it; showing the query brings it back.
        app.world_mut().write_message(SelectItem {
            item: Some(ItemId(0)),
            focus: false,
        });
        app.update();
        app.update();
        assert_eq!(app.world().resource::<Queries>().active, None);
        assert_eq!(
            app.world().resource::<Selection>().selected,
            Some(ItemId(0))
        );
        assert_eq!(
            app.world().resource::<NeighborView>().items[0].item,
            ItemId(1)
        );
        // A second query keeps the first marker.
        std::fs::write(
            dir.path().join("q15.png"),
            b"not decoded: the encoder reads the name",
        )
        .expect("write");
        drop_file(&mut app, &dir.path().join("q15.png"));
        settle(&mut app);
        let queries = app.world().resource::<Queries>();
        assert_eq!(queries.markers.len(), 2);
        assert_eq!(queries.markers[1].number, 2);
        assert!(queries.markers[1].image.is_none());
        app.world_mut().write_message(QueryAction::Show(0));
        app.update();
        app.update();
        assert_eq!(
            app.world().resource::<NeighborView>().items[0].item,
            ItemId(7)
        );
        app.world_mut().write_message(QueryAction::ClearAll);
        app.update();
        assert!(app.world().resource::<Queries>().markers.is_empty());
    }

    #[test]
    fn without_a_model_or_a_file_the_panel_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("q1.png");
        std::fs::write(&file, b"x").expect("write");
        let mut without = app(None);
        without.update();
        drop_file(&mut without, &file);
        settle(&mut without);
        let queries = without.world().resource::<Queries>();
        assert!(queries.markers.is_empty());
        assert!(
            queries
                .error
                .as_deref()
                .is_some_and(|e| e.contains("--model"))
        );
        let mut app = app(Some(name_encoder()));
        app.update();
        drop_file(&mut app, &dir.path().join("missing.png"));
        settle(&mut app);
        let error = app.world().resource::<Queries>().error.clone();
        assert!(error.is_some_and(|e| e.contains("missing.png")));
        // An encoder failure is shown too.
        let bad = dir.path().join("qx.png");
        std::fs::write(&bad, b"x").expect("write");
        drop_file(&mut app, &bad);
        settle(&mut app);
        let error = app.world().resource::<Queries>().error.clone();
        assert!(error.is_some_and(|e| e.contains("qx.png")));
    }
}
