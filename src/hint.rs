//! The options an error message points the user to. The library knows which option would fix
//! a problem ("several arrays: choose one with …"); only the front end knows how its user
//! spells it — `--npz-key` on the command line, `npz_key=` in Python. Messages name an
//! [`Opt`], and the front end says once, at its start, which spelling its user reads.

use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

/// How the user spells options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `--npz-key` (the command line; the default).
    Flags,
    /// `npz_key=` (a Python call).
    Keywords,
}

static STYLE: AtomicU8 = AtomicU8::new(0);

/// The variable a front end sets to have a program it starts (the explorer's window) speak its
/// user's spelling: `keywords` or `flags`.
pub const STYLE_VARIABLE: &str = "IVT_EXPLORE_OPTION_STYLE";

/// Set the spelling messages use from now on (process-wide).
pub fn set_style(style: Style) {
    STYLE.store(style as u8, Ordering::Relaxed);
}

/// The spelling messages use.
pub fn style() -> Style {
    if STYLE.load(Ordering::Relaxed) == Style::Keywords as u8 {
        Style::Keywords
    } else {
        Style::Flags
    }
}

/// An option, by its command-line name without the dashes; shown in the current [`style`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt(pub &'static str);

impl Opt {
    /// The option as a user of `style` types it.
    pub fn spelled(self, style: Style) -> String {
        match style {
            Style::Flags => format!("--{}", self.0),
            Style::Keywords => format!("{}=", self.0.replace('-', "_")),
        }
    }
}

impl fmt::Display for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.spelled(style()))
    }
}

pub const ALLOW_MISSING_IMAGES: Opt = Opt("allow-missing-images");
pub const CACHE_MAX_GB: Opt = Opt("cache-max-gb");
pub const CLUSTERS: Opt = Opt("clusters");
pub const COLOR_BY: Opt = Opt("color-by");
pub const COLORS: Opt = Opt("colors");
pub const COMPARE: Opt = Opt("compare");
pub const GPU_MEM_MB: Opt = Opt("gpu-mem-mb");
pub const IMAGE_COLUMN: Opt = Opt("image-column");
pub const IMAGE_LAYOUT: Opt = Opt("image-layout");
pub const IMAGES: Opt = Opt("images");
pub const LABEL_NAMES: Opt = Opt("label-names");
pub const LABELS: Opt = Opt("labels");
pub const LABELS_OUT: Opt = Opt("labels-out");
pub const LAYOUT: Opt = Opt("layout");
pub const METADATA: Opt = Opt("metadata");
pub const METRIC: Opt = Opt("metric");
pub const MODE: Opt = Opt("mode");
pub const MODEL: Opt = Opt("model");
pub const NO_SPRITE: Opt = Opt("no-sprite");
pub const NPZ_KEY: Opt = Opt("npz-key");
pub const OUTPUT: Opt = Opt("output");
pub const POINT_SIZE: Opt = Opt("point-size");
pub const SAVE_SELECTION_PATH: Opt = Opt("save-selection-path");
pub const SELECT: Opt = Opt("select");
pub const SIZE: Opt = Opt("size");
pub const SORT_KEYS: Opt = Opt("sort-keys");
pub const THUMBNAIL_SIZE: Opt = Opt("thumbnail-size");
pub const VECTOR_COLUMN: Opt = Opt("vector-column");
pub const ZOOM: Opt = Opt("zoom");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_reads_as_its_users_spell_it() {
        // The process-wide style is left alone: other tests read messages in parallel.
        assert_eq!(NPZ_KEY.spelled(Style::Flags), "--npz-key");
        assert_eq!(
            ALLOW_MISSING_IMAGES.spelled(Style::Keywords),
            "allow_missing_images="
        );
        assert_eq!(
            style(),
            Style::Flags,
            "the command line's spelling by default"
        );
    }
}
