//! The run's lifetime as every command sees it: when it started, Ctrl+C, and the progress bar
//! that reports a long computation (and its cancellation) on stderr.

use indicatif::{ProgressBar, ProgressStyle};
use ivt::progress::Observer;

static LAUNCHED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// When the command started (for "first frame after N s" and similar reports).
pub fn launched() -> std::time::Instant {
    *LAUNCHED.get_or_init(std::time::Instant::now)
}

/// Set by the first Ctrl+C in a headless command; every progress observer reports it as a
/// cancellation, so the computation unwinds through its error path: nothing half-written is
/// left under an output's name, and temporary files are removed as they are dropped.
pub static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Exit status after Ctrl+C, as shells report a process ended by SIGINT.
pub const INTERRUPTED_EXIT: u8 = 130;

/// Ctrl+C stops the computation at its next check; a second one quits at once. Not for the
/// explorer, whose window owns the session (closing it is how it stops).
pub fn stop_on_ctrl_c() {
    let installed = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(i32::from(INTERRUPTED_EXIT));
        }
        eprintln!("\nstopping (Ctrl+C again to quit at once)…");
    });
    if let Err(e) = installed {
        // Without it Ctrl+C still stops the process, only less tidily.
        eprintln!("warning: cannot catch Ctrl+C ({e}); it will stop the program at once");
    }
}

/// A progress bar on stderr when it is a terminal; silent otherwise (logs, tests). A
/// computation in stages gets the stage's name beside the bar, and when the bar goes, one line
/// on stderr of how long each stage took (also in logs: it says where a long run went).
pub struct Bar {
    bar: ProgressBar,
    what: String,
    /// Each stage's name and start, in order.
    stages: std::sync::Mutex<Vec<(String, std::time::Instant)>>,
}

impl Bar {
    pub fn new(what: &str) -> Self {
        Self::styled(what, "{msg} [{bar:30}] {pos}/{len} ({eta} left)")
    }

    /// A bar that also shows the rate (items per second), for work counted in images.
    pub fn with_rate(what: &str) -> Self {
        Self::styled(what, "{msg} [{bar:30}] {pos}/{len} {per_sec} ({eta} left)")
    }

    fn styled(what: &str, template: &str) -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_message(what.to_owned());
        Self {
            bar,
            what: what.to_owned(),
            stages: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Replace the text before the bar (e.g. the current loss).
    pub fn set_message(&self, what: String) {
        self.bar.set_message(what);
    }

    /// "k-means 1.2 s · filing 3.4 s · …" for the stages seen, or `None` before any.
    fn stage_times(&self) -> Option<String> {
        let stages = self.stages.lock().ok()?;
        if stages.is_empty() {
            return None;
        }
        let ends = stages
            .iter()
            .skip(1)
            .map(|(_, start)| *start)
            .chain([std::time::Instant::now()]);
        let parts: Vec<String> = stages
            .iter()
            .zip(ends)
            .map(|((name, start), end)| {
                // Hundredths below 10 s: a short stage's 0.1 s is too coarse to compare runs.
                let secs = end.duration_since(*start).as_secs_f64();
                let places = if secs < 10.0 { 2 } else { 1 };
                format!("{name} {secs:.places$} s")
            })
            .collect();
        Some(parts.join(" · "))
    }
}

impl Observer for Bar {
    fn stage(&self, name: &str) {
        if let Ok(mut stages) = self.stages.lock() {
            stages.push((name.to_owned(), std::time::Instant::now()));
        }
        self.bar.set_message(format!("{}: {name}", self.what));
        self.bar.set_length(0);
        self.bar.reset();
    }

    fn progress(&self, done: u64, total: u64) {
        self.bar.set_length(total);
        self.bar.set_position(done);
    }

    fn cancelled(&self) -> bool {
        INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
        if let Some(times) = self.stage_times() {
            eprintln!("{}: {times}", self.what);
        }
    }
}
