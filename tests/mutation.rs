//! Mutation tests of every parser users feed files to: `.npy`, `.npz`, CSV/TSV features,
//! metadata CSV/TSV, label files, `projector_config.pbtxt`, TensorBoard tensors and metadata,
//! the labels journal, sort keys and a data set folder's `meta.json`.
//!
//! Each parser gets valid seed files, mutated by a seeded loop (bit flips, bytes set to
//! delimiters and extremes, truncations, deletions, duplicated and spliced ranges, numbers
//! swapped for huge, negative or non-finite ones). Every mutated input must be accepted or
//! rejected with an error that names the file — never a panic, an abort or a parse slower than
//! a second. A failing input is saved under the target folder with the command to rerun it.
//!
//! CI runs 10,000 inputs per parser. The bench-style run is
//! `IVT_MUTATIONS=1000000 cargo test --test mutation -- --nocapture`
//! (figures in benches/README.md); `IVT_MUTATION_SEED` changes the stream.

use std::cell::RefCell;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ivt::dataset::projector;
use ivt::dataset::{self, DataSource, ImageLayout, InputSpec, ItemId};
use ivt::labels::journal;
use ivt::rng::SplitMix;
use le_bytes::f32_bytes;

#[path = "common/le_bytes.rs"]
mod le_bytes;

/// Inputs per parser unless `IVT_MUTATIONS` says otherwise.
const DEFAULT_INPUTS: u64 = 10_000;
/// A parse slower than this counts as a hang.
const SLOW: Duration = Duration::from_secs(1);
/// A parse still running after this is stuck for good: the run aborts, naming the input.
const STUCK: Duration = Duration::from_secs(30);
/// Failing inputs kept per parser and kind (the first ones; the counts cover all).
const EXAMPLES_KEPT: usize = 3;
/// Rows of every seed data set (features, metadata, labels, tensors agree on it).
const N_ITEMS: usize = 4;

/// The error as the user sees it: the message and its causes, as `main` prints them.
type Outcome = Result<(), String>;
type Parse = Box<dyn Fn(&Path) -> Outcome + Send + Sync>;

struct Target {
    name: &'static str,
    /// The mutated file's name in the parser's work folder: its extension picks the format.
    file: &'static str,
    seeds: Vec<Vec<u8>>,
    parse: Parse,
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn outcome<T, E: std::error::Error>(r: Result<T, E>) -> Outcome {
    r.map(drop).map_err(|e| chain(&e))
}

// ---------------------------------------------------------------- seeds

/// A `.npy` file: `descr` like `<f4`, `shape`, raw little-endian data.
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8], version: u8) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape_text = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape_text}, }}",
        if fortran { "True" } else { "False" }
    );
    let len_bytes = if version == 1 { 2 } else { 4 };
    let unpadded = 6 + 2 + len_bytes + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

fn i64_bytes(values: &[i64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn feature_npys() -> Vec<Vec<u8>> {
    let values: Vec<f32> = (0..N_ITEMS * 3).map(|i| i as f32 * 0.5 - 1.0).collect();
    let f64s: Vec<u8> = values
        .iter()
        .flat_map(|&v| f64::from(v).to_le_bytes())
        .collect();
    // float16: 1.0, -2.0, 0.5, … as raw half bits.
    let halves: Vec<u8> = [0x3c00u16, 0xc000, 0x3800, 0x0000, 0x4200, 0x7bff]
        .iter()
        .cycle()
        .take(N_ITEMS * 3)
        .flat_map(|h| h.to_le_bytes())
        .collect();
    let ints: Vec<u8> = (0..N_ITEMS as i32 * 3)
        .flat_map(|v| v.to_le_bytes())
        .collect();
    vec![
        npy("<f4", false, &[N_ITEMS, 3], &f32_bytes(&values), 1),
        npy("<f8", true, &[N_ITEMS, 3], &f64s, 1),
        npy("<f2", false, &[N_ITEMS, 3], &halves, 2),
        npy("<i4", false, &[N_ITEMS, 3], &ints, 1),
        npy("|u1", false, &[N_ITEMS, 3], &[7u8; N_ITEMS * 3], 1),
    ]
}

fn npz(entries: &[(&str, &[u8])], compression: zip::CompressionMethod) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(compression);
    for (name, bytes) in entries {
        zip.start_file(*name, options).expect("entry");
        zip.write_all(bytes).expect("write entry");
    }
    zip.finish().expect("finish").into_inner()
}

fn npz_seeds() -> Vec<Vec<u8>> {
    let npys = feature_npys();
    let labels = npy("<i8", false, &[N_ITEMS], &[1u8; N_ITEMS * 8], 1);
    vec![
        npz(&[("x.npy", &npys[0])], zip::CompressionMethod::Stored),
        npz(&[("x.npy", &npys[2])], zip::CompressionMethod::Deflated),
        npz(
            &[("embeddings.npy", &npys[1]), ("labels.npy", &labels)],
            zip::CompressionMethod::Deflated,
        ),
    ]
}

fn journal_seeds(work: &Path) -> Vec<Vec<u8>> {
    let dir = work.join("journal-seed");
    let (mut journal, mut state, _) = journal::open(&dir, N_ITEMS).expect("journal");
    // Each step is a change of the state as it stands after the previous one.
    type Step = dyn Fn(&ivt::labels::LabelState) -> Option<ivt::labels::Batch>;
    let steps: [&Step; 4] = [
        &|s| s.assign(&[ItemId(0), ItemId(2)], Some("positive"), 1_700_000_000_000),
        &|s| s.assign(&[ItemId(1)], Some("negative"), 1_700_000_000_500),
        &|s| s.assign(&[ItemId(2)], None, 1_700_000_001_000),
        &|s| s.undo_batch(1_700_000_002_000),
    ];
    for step in steps {
        let batch = step(&state).expect("a change");
        journal.append(&batch).expect("append");
        state.replay(&batch);
    }
    let bytes = std::fs::read(journal.path()).expect("journal bytes");
    drop(journal);
    vec![bytes]
}

const PBTXT: &str = r#"model_checkpoint_path: "model.ckpt"
embeddings {
  tensor_name: "features"
  tensor_path: "features/tensors.tsv"
  tensor_shape: 4
  tensor_shape: 3
  metadata_path: "features/metadata.tsv"
  sprite {
    image_path: "features/sprite.png"
    single_image_dim: 28
    single_image_dim: 28
  }
}
embeddings {
  tensor_name: 'second # not a comment'
  tensor_path: "b\t\"q\".tsv"
  # a comment
  tensor_shape: [4, 3]
}
"#;

fn targets(work: &Path) -> Vec<Target> {
    let text = |s: &str| s.as_bytes().to_vec();
    let images = work.join("images");
    std::fs::create_dir_all(&images).expect("images dir");
    for name in ["cat_01.png", "cat_02.png", "dog_01.png", "dog_flip.png"] {
        image::GrayImage::new(2, 2)
            .save(images.join(name))
            .expect("image");
    }
    let folder_features = feature_npys().swap_remove(0);
    let folder_labels = npy("<i8", false, &[N_ITEMS], &[0u8; N_ITEMS * 8], 1);
    vec![
        Target {
            name: ".npy features",
            file: "features.npy",
            seeds: feature_npys(),
            parse: Box::new(|p| outcome(dataset::load_features(p, None))),
        },
        Target {
            name: ".npz features",
            file: "features.npz",
            seeds: npz_seeds(),
            // The two-array seed needs a key; the others hold one array and need none.
            parse: Box::new(|p| {
                outcome(dataset::load_features(p, None))
                    .or_else(|_| outcome(dataset::load_features(p, Some("embeddings"))))
            }),
        },
        Target {
            name: "CSV features",
            file: "features.csv",
            seeds: vec![
                text("a,b,c\n1,2,3\n4.5,-6e2,7\n0,0,1e-3\n8,9,10\n"),
                text("# comment\n1,2\n\n3,4\r\n5,6\n7,8"),
            ],
            parse: Box::new(|p| outcome(dataset::load_features(p, None))),
        },
        Target {
            name: "TSV features",
            file: "features.tsv",
            seeds: vec![text("x\ty\n1\t2\n3\t4\n5\t6\n7\t8\n")],
            parse: Box::new(|p| outcome(dataset::load_features(p, None))),
        },
        Target {
            name: "metadata CSV",
            file: "meta.csv",
            seeds: vec![
                text("id,score,split\na,0.5,train\nb,1,val\nc,-2,test\nd,3e1,train\n"),
                text("name,\"note, quoted\"\n\"x\"\"y\",1\nz,\n,3\nw,4\n"),
            ],
            parse: Box::new(|p| outcome(dataset::load_metadata(p, N_ITEMS))),
        },
        Target {
            name: "metadata TSV",
            file: "meta.tsv",
            seeds: vec![text("id\tconfidence\na\t0.1\nb\t0.9\nc\t0.3\nd\t1\n")],
            parse: Box::new(|p| outcome(dataset::load_metadata(p, N_ITEMS))),
        },
        Target {
            name: "label file (text)",
            file: "labels.txt",
            seeds: vec![text("cat\ncat\ndog\nbird\n"), text("0\n1\n1\n2\n\n")],
            parse: Box::new(|p| outcome(dataset::load_labels(p, N_ITEMS, None))),
        },
        Target {
            name: "label file (.npy)",
            file: "labels.npy",
            seeds: vec![
                npy("<i8", false, &[N_ITEMS], &i64_bytes(&[0, 1, 2, 1]), 1),
                npy(
                    "<f4",
                    false,
                    &[N_ITEMS],
                    &f32_bytes(&[0.0, 1.0, 2.0, 1.0]),
                    1,
                ),
            ],
            parse: Box::new(|p| {
                let names = ["a", "b", "c"].map(str::to_owned);
                outcome(dataset::load_labels(p, N_ITEMS, Some(&names)))
            }),
        },
        Target {
            name: "projector_config.pbtxt",
            file: "projector_config.pbtxt",
            seeds: vec![
                text(PBTXT),
                text(
                    "embeddings { tensor_name: \"x\" tensor_path: \"t.bytes\" tensor_shape: 2 tensor_shape: 2 }\n",
                ),
            ],
            parse: Box::new(|p| outcome(projector::Config::read(p))),
        },
        Target {
            name: "projector tensor (TSV)",
            file: "tensors.tsv",
            seeds: vec![
                text("1\t2\t3\n4\t5\t6\n7\t8\t9\n-1\t0.5\t1e3\n"),
                text("1.5\t-2\t0\r\n3\t4\t5\r\n6\t7\t8\r\n9\t10\t11\r\n"),
            ],
            parse: Box::new(|p| outcome(projector::read::read_tensor(p, &[N_ITEMS as u64, 3]))),
        },
        Target {
            name: "projector metadata",
            file: "metadata.tsv",
            seeds: vec![
                text("label\tsplit\ncat\ttrain\ndog\tval\ncat\ttest\nbird\ttrain\n"),
                text("cat\ndog\ncat\nbird\n"),
            ],
            parse: Box::new(|p| outcome(projector::read::read_metadata(p, N_ITEMS))),
        },
        Target {
            name: "labels journal",
            file: "labels.jsonl",
            seeds: journal_seeds(work),
            parse: Box::new(|p| {
                let dir = p.parent().expect("in a folder");
                outcome(journal::read(dir, N_ITEMS))
            }),
        },
        Target {
            name: "sort keys",
            file: "keys.txt",
            seeds: vec![
                text("dog_01\ncat_02\ncat_01\ndog_flip\n"),
                text("flip\ncat_02.png\ncat_01\ndog_01\n"),
            ],
            parse: Box::new(move |p| {
                outcome(dataset::scan_image_folder(
                    &images,
                    ImageLayout::Flat,
                    Some(p),
                    Some(N_ITEMS),
                    false,
                    dataset::Probe::default(),
                ))
            }),
        },
        Target {
            name: "data set meta.json",
            file: "meta.json",
            seeds: vec![
                text(r#"{"label_names": ["cat", "dog"], "n": 4}"#),
                text(r#"{"label_names": {"0": "cat", "1": "dog"}}"#),
            ],
            parse: Box::new(move |p| {
                // The folder around meta.json: features and labels written once per folder.
                let dir = p.parent().expect("in a folder");
                let features = dir.join("features.npy");
                if !features.exists() {
                    std::fs::write(&features, &folder_features).expect("features");
                    std::fs::write(dir.join("labels.npy"), &folder_labels).expect("labels");
                }
                let spec = InputSpec::new(DataSource::Path(dir.to_path_buf()));
                outcome(dataset::load(&spec))
            }),
        },
    ]
}

// ---------------------------------------------------------------- mutation

/// Bytes a parser treats specially, and numbers that overflow, go negative or are not finite.
const TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    "\t",
    ",",
    ";",
    "\"",
    "'",
    "#",
    "\\",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ":",
    " ",
    "\0",
    "\u{feff}",
    "é",
    "-",
    "-1",
    "0",
    "nan",
    "inf",
    "-inf",
    "1e309",
    "1e-320",
    "-0",
    "4294967296",
    "18446744073709551616",
    "9223372036854775807",
    "99999999999999999999999",
    "0x10",
    "True",
    "False",
    "None",
    "'<f4'",
    "'>f8'",
    "'|O'",
    "'shape': (",
    "fortran_order",
    "embeddings {",
    "tensor_shape: ",
    "}\n",
    "\"kind\":\"undo\"",
    "\"item\":",
    "null",
];

struct Mutator(SplitMix);

impl Mutator {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n.max(1) as u64) as usize
    }

    fn token(&mut self) -> &'static [u8] {
        TOKENS[self.below(TOKENS.len())].as_bytes()
    }

    /// A seed changed by one to four operations.
    fn mutate(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        let mut data = seeds[self.below(seeds.len())].clone();
        for _ in 0..1 + self.below(4) {
            let len = data.len();
            let at = self.below(len + 1);
            match self.below(9) {
                0 if len > 0 => data[at.min(len - 1)] ^= 1 << self.below(8),
                1 if len > 0 => {
                    let byte = self.token()[0];
                    data[at.min(len - 1)] = byte;
                }
                2 => data.truncate(at),
                3 => {
                    let end = (at + 1 + self.below(16)).min(len);
                    data.drain(at..end);
                }
                4 if len > 0 => {
                    // Duplicate a range somewhere else (repeated rows, fields, records).
                    let start = self.below(len);
                    let end = (start + 1 + self.below(64)).min(len);
                    let piece = data[start..end].to_vec();
                    let to = self.below(len + 1);
                    data.splice(to..to, piece);
                }
                5 => {
                    // Splice in part of another seed.
                    let other = &seeds[self.below(seeds.len())];
                    let start = self.below(other.len());
                    let end = (start + self.below(other.len() - start + 1)).min(other.len());
                    let piece = other[start..end].to_vec();
                    data.splice(at..at, piece);
                }
                6 => {
                    let t = self.token();
                    data.splice(at..at, t.iter().copied());
                }
                7 => {
                    // A number in the text swapped for an extreme one.
                    let digits: Vec<usize> =
                        (0..len).filter(|&i| data[i].is_ascii_digit()).collect();
                    if !digits.is_empty() {
                        let start = digits[self.below(digits.len())];
                        let mut end = start;
                        while end < len && data[end].is_ascii_digit() {
                            end += 1;
                        }
                        let t = self.token();
                        data.splice(start..end, t.iter().copied());
                    }
                }
                _ => {
                    // Random bytes.
                    let n = 1 + self.below(8);
                    let bytes: Vec<u8> = (0..n).map(|_| self.0.next_u64() as u8).collect();
                    data.splice(at..at, bytes);
                }
            }
        }
        data
    }
}

// ---------------------------------------------------------------- the run

#[derive(Default)]
struct Report {
    inputs: u64,
    accepted: u64,
    rejected: u64,
    panics: u64,
    slow: u64,
    unclear: u64,
    /// Valid seed files the parser rejected (a broken harness, or a broken parser).
    bad_seeds: u64,
    slowest: Duration,
    examples: Vec<String>,
}

thread_local! {
    /// The last panic's message and location, recorded by the hook instead of printed.
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

fn failures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("mutation-failures")
}

/// Keep a failing input where it survives the run, and say how to look at it.
fn keep(report: &mut Report, target: &Target, index: u64, data: &[u8], what: &str) {
    if report.examples.len() >= EXAMPLES_KEPT * 4 {
        return;
    }
    let dir = failures_dir();
    let _ = std::fs::create_dir_all(&dir);
    let name = format!(
        "{}-{index}-{}",
        target.name.replace([' ', '(', ')', '/'], "_"),
        target.file
    );
    let path = dir.join(name);
    let _ = std::fs::write(&path, data);
    report.examples.push(format!(
        "{} input {index} ({}): {what}",
        target.name,
        path.display()
    ));
}

fn run_target(
    target: &Target,
    inputs: u64,
    seed: u64,
    work: &Path,
    started_ms: &AtomicU64,
    clock: Instant,
) -> Report {
    let dir = work.join(target.file.replace('.', "_"));
    std::fs::create_dir_all(&dir).expect("work dir");
    let path = dir.join(target.file);
    let mut mutator = Mutator(SplitMix::new(
        seed ^ ivt::rng::mix(target.name.len() as u64 + 1),
    ));
    let mut report = Report::default();
    // Valid seeds must parse, or the mutations test nothing. Inside catch_unwind, like the
    // inputs: a panic here would otherwise be swallowed by the silent hook.
    for (i, s) in target.seeds.iter().enumerate() {
        std::fs::write(&path, s).expect("seed");
        let result = panic::catch_unwind(AssertUnwindSafe(|| (target.parse)(&path)));
        let what = match result {
            Ok(Ok(())) => None,
            Ok(Err(message)) => Some(message),
            Err(_) => Some(LAST_PANIC.with(|m| m.borrow().clone())),
        };
        if let Some(what) = what {
            report.bad_seeds += 1;
            report
                .examples
                .push(format!("{}: valid seed {i} rejected: {what}", target.name));
        }
    }
    for index in 0..inputs {
        let data = mutator.mutate(&target.seeds);
        std::fs::write(&path, &data).expect("write input");
        started_ms.store(clock.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
        let t = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| (target.parse)(&path)));
        let took = t.elapsed();
        started_ms.store(0, Ordering::SeqCst);
        report.inputs += 1;
        report.slowest = report.slowest.max(took);
        if took > SLOW {
            report.slow += 1;
            keep(&mut report, target, index, &data, &format!("took {took:?}"));
        }
        match result {
            Ok(Ok(())) => report.accepted += 1,
            Ok(Err(message)) => {
                report.rejected += 1;
                if !message.contains(target.file) {
                    report.unclear += 1;
                    keep(
                        &mut report,
                        target,
                        index,
                        &data,
                        &format!("error without the file name: {message}"),
                    );
                }
            }
            Err(_) => {
                report.panics += 1;
                let message = LAST_PANIC.with(|m| m.borrow().clone());
                keep(
                    &mut report,
                    target,
                    index,
                    &data,
                    &format!("panic: {message}"),
                );
            }
        }
    }
    report
}

#[test]
fn parsers_reject_mutated_input_with_clear_errors_never_a_panic_or_hang() {
    let inputs: u64 = std::env::var("IVT_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_INPUTS);
    let seed: u64 = std::env::var("IVT_MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Many small files: on tmpfs where there is one.
    let shm = Path::new("/dev/shm");
    let work = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("work dir");
    let targets = targets(work.path());
    panic::set_hook(Box::new(|info| {
        LAST_PANIC.with(|m| *m.borrow_mut() = info.to_string());
    }));
    let clock = Instant::now();
    let started: Vec<AtomicU64> = targets.iter().map(|_| AtomicU64::new(0)).collect();
    let done = AtomicBool::new(false);
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicU64::new(0);
    let reports: Vec<std::sync::Mutex<Option<(Report, Duration)>>> = targets
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    std::thread::scope(|scope| {
        // The watchdog: a parse stuck past STUCK would hang CI with no word; abort naming it.
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(200));
                let now = clock.elapsed().as_millis() as u64 + 1;
                for (t, s) in targets.iter().zip(&started) {
                    let since = s.load(Ordering::SeqCst);
                    if since != 0 && now - since > STUCK.as_millis() as u64 {
                        eprintln!(
                            "STUCK: {} has parsed one input for over {STUCK:?}; the input is {}",
                            t.name,
                            work.path()
                                .join(t.file.replace('.', "_"))
                                .join(t.file)
                                .display()
                        );
                        std::process::abort();
                    }
                }
            }
        });
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let t = next.fetch_add(1, Ordering::SeqCst) as usize;
                        let Some(target) = targets.get(t) else { break };
                        let begun = Instant::now();
                        let report =
                            run_target(target, inputs, seed, work.path(), &started[t], clock);
                        *reports[t].lock().expect("report") = Some((report, begun.elapsed()));
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        done.store(true, Ordering::SeqCst);
    });
    let _ = panic::take_hook();

    println!(
        "| parser | inputs | accepted | rejected | panics | over 1 s | slowest | errors without the file | wall |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut problems = Vec::new();
    for (target, report) in targets.iter().zip(reports) {
        let (r, wall) = report
            .into_inner()
            .expect("report")
            .unwrap_or_else(|| panic!("{}: the run did not finish", target.name));
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1} ms | {} | {:.1} s |",
            target.name,
            r.inputs,
            r.accepted,
            r.rejected,
            r.panics,
            r.slow,
            r.slowest.as_secs_f64() * 1e3,
            r.unclear,
            wall.as_secs_f64()
        );
        if r.panics + r.slow + r.unclear + r.bad_seeds > 0 {
            problems.extend(r.examples);
        }
    }
    assert!(
        problems.is_empty(),
        "mutated inputs that failed (seed {seed}):\n{}",
        problems.join("\n")
    );
}
