//! Command-line interface: the top-level command enum and its dispatch to one file per
//! subcommand. It lives in the library so that the binary and the Python package's
//! `ivt-explore` program (a console script calling [`main`]) are the same program. Each file holds its command's arguments (clap) beside the code that validates
//! them into library types; what several commands share (argument groups, loading, the kNN
//! graph, progress) is in `common`, which imports no command.

mod audit;
mod cache;
mod cluster;
mod common;
mod compare;
mod embed;
mod eval;
mod export_labels;
mod export_projector;
mod info;
mod knn;
mod label;
mod layout;
mod open;
mod query;
mod suggest;
mod thumbs;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use audit::AuditArgs;
use cache::CacheCommandArgs;
use cluster::ClusterArgs;
use common::args::{DATASET, InputArgs};
use common::progress::{launched, stop_on_ctrl_c};
use compare::CompareArgs;
use embed::EmbedArgs;
use eval::EvalArgs;
use export_labels::ExportLabelsArgs;
use export_projector::ExportProjectorArgs;
use info::InfoArgs;
use knn::KnnArgs;
use label::LabelArgs;
use layout::LayoutArgs;
use open::{OpenArgs, ScreenshotArgs, ViewArgs};
use query::QueryArgs;
use suggest::SuggestArgs;
use thumbs::ThumbsArgs;

use common::progress::{INTERRUPTED, INTERRUPTED_EXIT};

#[derive(Debug, Parser)]
#[command(
    name = "ivt-explore",
    version,
    about = "Explore high-dimensional embeddings of image data sets",
    long_about = "Explore high-dimensional embeddings of image data sets: nearest neighbours in the \
                  original space, t-SNE/UMAP maps in 2D and 3D, image thumbnails and labelling.\n\n\
                  With no subcommand, opens the built-in demo (Fashion-MNIST test set); the view \
                  options below apply to it (`ivt-explore --size 1920x1080`). For your own data \
                  they follow the data: `ivt-explore open DATA --size 1920x1080`.",
    // `ivt-explore --size 800x600 open DATA` is refused with a message naming both, rather
    // than applying one of the two sets of view options.
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The view options of the demo opened when no subcommand is given.
    #[command(flatten)]
    demo_view: ViewArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open a data set in the explorer.
    Open(OpenArgs),
    /// Print what a data set holds (sizes, value statistics, images, classes, metadata) and check it
    /// exactly as `open` would.
    Info(InfoArgs),
    /// Compute embeddings of an image folder with an ONNX image encoder.
    Embed(EmbedArgs),
    /// Compute the k-nearest-neighbour graph in the original feature space.
    Knn(KnnArgs),
    /// Compute a 2D or 3D layout (t-SNE, UMAP or PCA).
    Layout(LayoutArgs),
    /// Build the thumbnail cache of the data set's images (the explorer builds it too, on open).
    Thumbs(ThumbsArgs),
    /// Hierarchical clustering, cut into a number of clusters.
    Cluster(ClusterArgs),
    /// Score a layout: trustworthiness, kNN preservation, kNN label accuracy.
    Eval(EvalArgs),
    /// Write TensorBoard projector files (tensors, metadata, sprite).
    ExportProjector(ExportProjectorArgs),
    /// Export the labels as an ImageFolder tree OUT/<label>/<image> plus OUT/labels.csv
    /// (updates an earlier export in place; never touches the source images).
    ExportLabels(ExportLabelsArgs),
    /// Give items labels from a script (`--items 3,17 --label positive`, or `--from-csv`): one
    /// batch appended to the labels journal, undoable in the explorer like any other.
    Label(LabelArgs),
    /// What to label next: a probe fitted on the labels so far (its cross-validated accuracy
    /// printed), the items it suggests, every item's probabilities with -o.
    Suggest(SuggestArgs),
    /// Render a view headless to a PNG and exit.
    Screenshot(ScreenshotArgs),
    /// Find items by the explorer's search language: `--where 'flip class:cat score>0.3'`.
    Query(QueryArgs),
    /// Which items' neighbourhoods differ between two embeddings of the same items (A B):
    /// per item the share of its k nearest neighbours both spaces agree on, the items that
    /// changed most, and with classes the kNN accuracy of each.
    Compare(CompareArgs),
    /// Find what is wrong with a data set: near-duplicates, outliers, label issues and (with
    /// --layout) where the map tears neighbours apart, from the kNN graph.
    Audit(AuditArgs),
    /// List what the cache holds (by kind, with data set, size and last use), or trim it to a
    /// size (--max-gb) or clear it (--clear).
    Cache(CacheCommandArgs),
}

fn check_cache_env() -> anyhow::Result<()> {
    match std::env::var(ivt::cache::MAX_GB_ENV) {
        Ok(v) => ivt::cache::parse_max_gb(&v)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("{}={v:?}: {e}", ivt::cache::MAX_GB_ENV)),
        Err(std::env::VarError::NotPresent) => Ok(()),
        Err(e) => anyhow::bail!("{}: {e}", ivt::cache::MAX_GB_ENV),
    }
}

/// How a data set is named in the cache's listing: its path made absolute (a listing is read
/// from anywhere), or the demo.
fn dataset_label(data: Option<&std::path::Path>) -> String {
    match data {
        Some(path) => ivt::cache::FileIdentities::new()
            .key_path(path)
            .display()
            .to_string(),
        None => "demo (Fashion-MNIST test set)".to_owned(),
    }
}

/// The data set a command reads (`Some(None)`: the demo), for [`DATASET`]; `None` for one that
/// reads none.
fn data_of(command: Option<&Command>) -> Option<Option<&std::path::Path>> {
    fn input(i: &InputArgs) -> Option<Option<&std::path::Path>> {
        Some(i.data.as_deref())
    }
    let Some(command) = command else {
        return Some(None);
    };
    match command {
        Command::Open(a) => input(&a.input),
        Command::Info(a) => input(&a.input),
        Command::Embed(a) => input(&a.input),
        Command::Knn(a) => input(&a.input),
        Command::Layout(a) => input(&a.input),
        Command::Thumbs(a) => input(&a.input),
        Command::Cluster(a) => input(&a.input),
        Command::Eval(a) => Some(Some(a.data.as_path())),
        Command::ExportProjector(a) => input(&a.input),
        Command::ExportLabels(a) => input(&a.input),
        Command::Label(a) => input(&a.input),
        Command::Suggest(a) => input(&a.input),
        Command::Screenshot(a) => input(&a.input),
        Command::Query(a) => input(&a.input),
        Command::Audit(a) => input(&a.input),
        Command::Compare(a) => input(&a.input),
        Command::Cache(_) => None,
    }
}

/// Run the program on `args` (the program's name first, as `std::env::args_os` gives them):
/// errors and the cache's notices printed once on stderr, the exit status returned (a number,
/// so that the Python package's console script can exit with it too).
pub fn main(args: impl IntoIterator<Item = OsString>) -> u8 {
    // Messages name options as flags, unless a Python call started this program for its user.
    let keywords = std::env::var(ivt::hint::STYLE_VARIABLE).is_ok_and(|v| v == "keywords");
    ivt::hint::set_style(if keywords {
        ivt::hint::Style::Keywords
    } else {
        ivt::hint::Style::Flags
    });
    let result = run(args);
    // What the cache had to say (a write that failed, entries removed to stay within its
    // limit): once, whatever the command's outcome.
    for notice in ivt::cache::take_notices() {
        match notice {
            ivt::cache::Notice::Info(text) => eprintln!("note: {text}"),
            ivt::cache::Notice::Warning(text) => eprintln!("warning: {text}"),
        }
    }
    match result {
        Ok(code) => u8::from(code != ExitCode::SUCCESS),
        Err(_) if INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) => {
            // The computation stopped because it was asked to, not because anything failed.
            eprintln!("cancelled (Ctrl+C): no file was left half-written");
            INTERRUPTED_EXIT
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            1
        }
    }
}

/// Parse the command line and run it. Errors are returned to [`main`], which prints them once.
fn run(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<ExitCode> {
    launched();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // --help, --version and usage errors print and exit as clap always does.
        Err(e) => e.exit(),
    };
    check_cache_env()?;
    if let Some(data) = data_of(cli.command.as_ref()) {
        let _ = DATASET.set(dataset_label(data));
    }
    if !matches!(
        cli.command,
        None | Some(Command::Open(_)) | Some(Command::Screenshot(_))
    ) {
        stop_on_ctrl_c();
    }
    match cli.command {
        None => open::run_demo(&cli.demo_view),
        Some(Command::Open(args)) => open::run(&args),
        Some(Command::Info(args)) => info::run(&args),
        Some(Command::Embed(args)) => embed::run(&args),
        Some(Command::Knn(args)) => knn::run(&args),
        Some(Command::Layout(args)) => layout::run(&args),
        Some(Command::Thumbs(args)) => thumbs::run(&args),
        Some(Command::Cluster(args)) => cluster::run(&args),
        Some(Command::Eval(args)) => eval::run(&args),
        Some(Command::ExportProjector(args)) => export_projector::run(&args),
        Some(Command::ExportLabels(args)) => export_labels::run(&args),
        Some(Command::Label(args)) => label::run(&args),
        Some(Command::Suggest(args)) => suggest::run(&args),
        Some(Command::Screenshot(args)) => open::screenshot(&args),
        Some(Command::Query(args)) => query::run(&args),
        Some(Command::Audit(args)) => audit::run(&args),
        Some(Command::Compare(args)) => compare::run(&args),
        Some(Command::Cache(args)) => cache::run(&args),
    }
}
