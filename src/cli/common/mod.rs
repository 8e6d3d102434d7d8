//! What every command shares, and nothing above it: the argument groups (`args`), loading the
//! data set (`load`), the kNN graph given or computed (`graph`) and progress on stderr
//! (`progress`). Commands import from here, never from each other's files for these.

pub mod args;
pub mod graph;
pub mod load;
pub mod progress;
