//! The Bevy explorer (feature `viewer`): points, thumbnails, picking and panels.
//!
//! The window itself arrives with the explorer issue (#5). What is here already is the check
//! every launch needs first: winit panics without a display server, so the viewer refuses to
//! start with a clear message instead.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum ViewerError {
    #[error(
        "no display: neither DISPLAY nor WAYLAND_DISPLAY is set. Run on a desktop session, over `ssh -X`, \
         or headless under `xvfb-run -a ivt-explore ...`"
    )]
    NoDisplay,
    #[error(
        "the interactive explorer is not built yet (issue #5); `ivt-explore info` shows the data set"
    )]
    NotYet,
}

/// Whether a window can be opened at all.
pub fn check_display() -> Result<(), ViewerError> {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("DISPLAY") || set("WAYLAND_DISPLAY") {
        Ok(())
    } else {
        Err(ViewerError::NoDisplay)
    }
}

/// Open the explorer on a data set.
pub fn run(_dataset: crate::dataset::Dataset) -> Result<(), ViewerError> {
    check_display()?;
    Err(ViewerError::NotYet)
}
