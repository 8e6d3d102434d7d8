//! Item images for the panels: decoded off the main thread, kept in an LRU of egui textures.
//!
//! The UI asks [`Thumbs::get`] for an item every frame it shows it; the first ask queues a
//! decode on Bevy's `AsyncComputeTaskPool` (files are read and shrunk there), later frames
//! find the texture. Least recently used textures are dropped beyond [`CAPACITY`], so
//! browsing thousands of neighbours keeps memory flat.

use std::collections::{HashMap, VecDeque};

use bevy::prelude::*;
use bevy::tasks::{AsyncComputeTaskPool, Task, futures_lite::future};
use bevy_egui::{EguiContexts, egui};

use super::state::Store;
use crate::dataset::{Images, ItemId};

/// Textures kept (each at most [`MAX_SIDE_PX`]² RGBA: ≤ 256 KiB).
pub const CAPACITY: usize = 512;
/// Longest side a decoded image is shrunk to.
pub const MAX_SIDE_PX: u32 = 256;
/// Decodes in flight at once.
const MAX_PENDING: usize = 16;

/// What the UI can draw for an item now.
#[derive(Debug, Clone, PartialEq)]
pub enum Thumb {
    Ready {
        texture: egui::TextureId,
        size: egui::Vec2,
    },
    Loading,
    Failed(String),
    /// The data set has no images.
    None,
}

impl Thumb {
    /// A loaded texture, at its own size.
    pub fn of(texture: &egui::TextureHandle) -> Self {
        let [w, h] = texture.size();
        Self::Ready {
            texture: texture.id(),
            size: egui::vec2(w as f32, h as f32),
        }
    }
}

/// The texture cache and decode queue.
#[derive(Resource, Default)]
pub struct Thumbs {
    textures: HashMap<ItemId, egui::TextureHandle>,
    /// Most recently used at the back.
    recency: VecDeque<ItemId>,
    queued: Vec<ItemId>,
    pending: HashMap<ItemId, Task<Result<egui::ColorImage, String>>>,
    failed: HashMap<ItemId, String>,
    has_images: bool,
}

impl Thumbs {
    /// The item's image if decoded; otherwise queue it and say so.
    pub fn get(&mut self, item: ItemId) -> Thumb {
        if !self.has_images {
            return Thumb::None;
        }
        if let Some(t) = self.textures.get(&item) {
            let thumb = Thumb::of(t);
            self.touch(item);
            return thumb;
        }
        if let Some(e) = self.failed.get(&item) {
            return Thumb::Failed(e.clone());
        }
        if !self.pending.contains_key(&item) && !self.queued.contains(&item) {
            self.queued.push(item);
        }
        Thumb::Loading
    }

    fn touch(&mut self, item: ItemId) {
        if let Some(pos) = self.recency.iter().position(|&i| i == item) {
            self.recency.remove(pos);
        }
        self.recency.push_back(item);
    }

    fn insert(&mut self, item: ItemId, texture: egui::TextureHandle) {
        self.textures.insert(item, texture);
        self.touch(item);
        while self.textures.len() > CAPACITY {
            let Some(old) = self.recency.pop_front() else {
                break;
            };
            self.textures.remove(&old);
        }
    }

    pub fn len(&self) -> usize {
        self.textures.len()
    }

    pub fn is_empty(&self) -> bool {
        self.textures.is_empty()
    }

    /// Nothing queued or being decoded (the screenshot waits for this).
    pub fn is_idle(&self) -> bool {
        self.queued.is_empty() && self.pending.is_empty()
    }
}

pub struct ThumbsPlugin;

impl Plugin for ThumbsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Thumbs>()
            .add_systems(Startup, note_images)
            .add_systems(Update, (spawn_decodes, finish_decodes).chain());
    }
}

fn note_images(store: Res<Store>, mut thumbs: ResMut<Thumbs>) {
    thumbs.has_images = !matches!(store.data.images, Images::None);
}

fn spawn_decodes(store: Res<Store>, mut thumbs: ResMut<Thumbs>) {
    while thumbs.pending.len() < MAX_PENDING && !thumbs.queued.is_empty() {
        let item = thumbs.queued.remove(0);
        let data = std::sync::Arc::clone(&store.data);
        let task = AsyncComputeTaskPool::get().spawn(async move { decode(&data.images, item) });
        thumbs.pending.insert(item, task);
    }
}

fn finish_decodes(mut contexts: EguiContexts, mut thumbs: ResMut<Thumbs>) -> Result {
    if thumbs.pending.is_empty() {
        return Ok(());
    }
    let ctx = contexts.ctx_mut()?.clone();
    let mut finished = Vec::new();
    for (item, task) in thumbs.pending.iter_mut() {
        if let Some(result) = future::block_on(future::poll_once(task)) {
            finished.push((*item, result));
        }
    }
    for (item, result) in finished {
        thumbs.pending.remove(&item);
        match result {
            Ok(image) => {
                let texture = ctx.load_texture(
                    format!("item-{}", item.0),
                    image,
                    egui::TextureOptions::LINEAR,
                );
                thumbs.insert(item, texture);
            }
            Err(e) => {
                thumbs.failed.insert(item, e);
            }
        }
    }
    Ok(())
}

/// An item's image as RGBA, its longest side at most [`MAX_SIDE_PX`], upright and with its
/// transparency on the same light checkerboard as its thumbnails on the map.
pub fn decode(images: &Images, item: ItemId) -> Result<egui::ColorImage, String> {
    let rgba = match images {
        Images::None => return Err("no images".to_owned()),
        Images::Gray8 { .. } | Images::Rgba8 { .. } => images
            .memory_rgba(item.index())
            .ok_or_else(|| format!("item {} has no image", item.0))?,
        Images::Files(files) => {
            let path = files
                .paths
                .get(item.index())
                .ok_or_else(|| format!("item {} has no image", item.0))?;
            return decode_file(path);
        }
    };
    Ok(shown(rgba))
}

/// An image file as the panels show it (see [`decode`]): also a query image, which is no item.
pub fn decode_file(path: &std::path::Path) -> Result<egui::ColorImage, String> {
    let img = crate::thumbs::decode::decode_shown(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    // `thumbnail` also enlarges: only shrink.
    let img = if img.width() > MAX_SIDE_PX || img.height() > MAX_SIDE_PX {
        img.thumbnail(MAX_SIDE_PX, MAX_SIDE_PX)
    } else {
        img
    };
    Ok(shown(img.to_rgba8()))
}

/// Transparency on the checkerboard, as an egui image.
fn shown(mut rgba: image::RgbaImage) -> egui::ColorImage {
    crate::thumbs::over_backdrop(&mut rgba);
    let size = [rgba.width() as usize, rgba.height() as usize];
    egui::ColorImage::from_rgba_unmultiplied(size, rgba.as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gray_images_decode_to_rgba_and_bad_items_fail() {
        let images = Images::Gray8 {
            width: 2,
            height: 1,
            pixels: vec![0, 10, 200, 255],
        };
        let img = decode(&images, ItemId(1)).expect("decode");
        assert_eq!(img.size, [2, 1]);
        assert_eq!(img.pixels[0], egui::Color32::from_rgb(200, 200, 200));
        assert!(decode(&images, ItemId(2)).is_err());
        assert!(decode(&Images::None, ItemId(0)).is_err());
    }

    #[test]
    fn transparent_pixels_are_drawn_on_the_checkerboard_not_black() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("icon.png");
        image::RgbaImage::from_fn(4, 4, |x, _| {
            image::Rgba(if x < 2 { [0, 0, 0, 255] } else { [0, 0, 0, 0] })
        })
        .save(&path)
        .expect("png");
        let images = Images::Files(crate::dataset::ImageFiles {
            root: dir.path().to_path_buf(),
            order: crate::dataset::ImageOrder::Natural,
            sizes: vec![Some((4, 4))],
            paths: vec![path].into(),
            failures: Vec::new(),
            unused_files: 0,
            identities: Default::default(),
            sampled: false,
        });
        let img = decode(&images, ItemId(0)).expect("decode");
        assert_eq!(
            img.pixels[0],
            egui::Color32::BLACK,
            "opaque black stays black"
        );
        for x in 2..4 {
            let p = img.pixels[x];
            assert_eq!(p.a(), 255);
            assert!(p.r() >= crate::thumbs::decode::BACKDROP_DARK, "{p:?}");
        }
    }
}
