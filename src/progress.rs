//! Progress reporting and cancellation for long computations (kNN, layouts, clustering).
//!
//! Algorithms take `&dyn Observer`: the CLI draws a progress bar through it, the viewer will
//! read it from a background task, tests pass `&()`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Told how far a computation has got; asked whether to stop.
pub trait Observer: Sync {
    /// A new stage of the computation starts (e.g. "k-means", "probe pass 2"); the progress
    /// that follows counts within it, so a bar can restart its count and its time estimate.
    fn stage(&self, _name: &str) {}
    /// `done` of `total` units (rows, iterations) are finished.
    fn progress(&self, _done: u64, _total: u64) {}
    /// Whether the caller wants the computation abandoned.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Observes nothing, never cancels.
impl Observer for () {}

/// A progress counter and a cancel flag shared between threads.
#[derive(Debug, Default)]
pub struct SharedProgress {
    pub done: AtomicU64,
    pub total: AtomicU64,
    pub cancel: AtomicBool,
}

impl Observer for SharedProgress {
    fn progress(&self, done: u64, total: u64) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}
