//! "query image…": a small file browser in egui — the folders and images of one folder, a path
//! field to type or paste into — so picking a query image needs no desktop portal or GTK
//! (the explorer runs over `ssh -X` and under Xvfb as well as on a desktop). Without an
//! encoder it only explains that `--model` is needed.

use std::path::{Path, PathBuf};

use bevy::prelude::Resource;
use bevy_egui::egui;

/// Entries listed per folder at most (a million-image folder is not listed whole).
pub const MAX_ENTRIES: usize = 2_000;

/// The browser's state between frames.
#[derive(Resource, Debug, Default)]
pub struct FileBrowser {
    pub open: bool,
    /// The folder listed.
    pub dir: PathBuf,
    /// The path field.
    pub typed: String,
    /// Folders first, then images, each sorted by name; for `listed`.
    entries: Vec<Entry>,
    listed: Option<PathBuf>,
    /// More entries than listed.
    truncated: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    is_dir: bool,
}

impl FileBrowser {
    /// Open at `dir` (the image folder, or the current folder).
    pub fn open_at(&mut self, dir: &Path) {
        self.open = true;
        if self.listed.is_none() {
            self.dir = dir.to_owned();
            self.typed = dir.display().to_string();
        }
    }

    /// (Re)read the folder when it changed.
    fn list(&mut self) {
        if self.listed.as_deref() == Some(self.dir.as_path()) {
            return;
        }
        self.listed = Some(self.dir.clone());
        self.entries.clear();
        self.truncated = false;
        match std::fs::read_dir(&self.dir) {
            Ok(read) => {
                for entry in read.flatten() {
                    if self.entries.len() >= MAX_ENTRIES {
                        self.truncated = true;
                        break;
                    }
                    let path = entry.path();
                    let is_dir = path.is_dir();
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with('.') || !(is_dir || crate::dataset::is_image(&path)) {
                        continue;
                    }
                    self.entries.push(Entry { name, is_dir });
                }
                self.entries.sort_by(|a, b| {
                    b.is_dir
                        .cmp(&a.is_dir)
                        .then_with(|| crate::dataset::natural_cmp(&a.name, &b.name))
                });
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{}: {e}", self.dir.display())),
        }
    }

    fn go_to(&mut self, dir: PathBuf) {
        self.typed = dir.display().to_string();
        self.dir = dir;
    }
}

/// Draw the browser (when open); the image file picked, if one was.
pub fn browser_ui(
    ctx: &egui::Context,
    browser: &mut FileBrowser,
    unavailable: Option<&str>,
) -> Option<PathBuf> {
    if !browser.open {
        return None;
    }
    let mut picked = None;
    let mut open = true;
    egui::Window::new("Query by image")
        .open(&mut open)
        .collapsible(false)
        .default_size([460.0, 420.0])
        .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
        .show(ctx, |ui| {
            if let Some(why) = unavailable {
                ui.label(why);
                return;
            }
            browser.list();
            ui.label(
                "An image file: its nearest items in the original space, and its place on the map.",
            );
            ui.horizontal(|ui| {
                if ui.button("⬆").on_hover_text("the folder above").clicked()
                    && let Some(up) = browser.dir.parent()
                {
                    let up = up.to_owned();
                    browser.go_to(up);
                }
                let field = ui.add(
                    egui::TextEdit::singleline(&mut browser.typed)
                        .desired_width(ui.available_width() - 50.0)
                        .hint_text("a folder or an image file"),
                );
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.button("go").clicked() || enter {
                    let path = PathBuf::from(browser.typed.trim());
                    if path.is_dir() {
                        browser.dir = path;
                    } else if path.is_file() {
                        picked = Some(path);
                    } else {
                        browser.error = Some(format!("{}: no such file or folder", path.display()));
                    }
                }
            });
            if let Some(e) = &browser.error {
                ui.colored_label(egui::Color32::from_rgb(240, 110, 90), e);
            }
            ui.separator();
            let mut go = None;
            egui::ScrollArea::vertical()
                .id_salt("browser-list")
                .max_height(300.0)
                .show_rows(ui, 18.0, browser.entries.len(), |ui, rows| {
                    for entry in &browser.entries[rows] {
                        let text = if entry.is_dir {
                            format!("📁 {}/", entry.name)
                        } else {
                            entry.name.clone()
                        };
                        if ui.selectable_label(false, text).clicked() {
                            go = Some(entry.clone());
                        }
                    }
                });
            if browser.truncated {
                ui.weak(format!(
                    "first {MAX_ENTRIES} entries listed: type a file's path above"
                ));
            }
            if browser.entries.is_empty() && browser.error.is_none() {
                ui.weak("no folders or images here");
            }
            if let Some(entry) = go {
                let path = browser.dir.join(&entry.name);
                if entry.is_dir {
                    browser.go_to(path);
                } else {
                    picked = Some(path);
                }
            }
        });
    if picked.is_some() || !open {
        browser.open = false;
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_come_first_and_only_images_are_listed() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["b10.png", "b9.jpg", "notes.txt", ".hidden.png"] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        std::fs::create_dir(dir.path().join("zoo")).expect("mkdir");
        let mut browser = FileBrowser::default();
        browser.open_at(dir.path());
        browser.list();
        let names: Vec<&str> = browser.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["zoo", "b9.jpg", "b10.png"]);
        browser.go_to(dir.path().join("missing"));
        browser.list();
        assert!(
            browser
                .error
                .as_deref()
                .is_some_and(|e| e.contains("missing"))
        );
    }
}
