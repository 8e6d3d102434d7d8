//! The search language shared by the explorer's search box and `ivt-explore query --where`:
//! one parser, one matcher, so the box and the command line always agree.
//!
//! A query is terms separated by spaces; an item matches when every term does.
//! - `flip` — case-insensitive substring of the file name, the class name or any text column;
//!   `/fl.p$/` — a regular expression (case-insensitive) over the same; `"two words"` quoted.
//! - `column:value` — substring of that text column (`column:/re/` a regex), or equality for
//!   a numeric one; `column=value` exact (case-insensitive) text or number, `column!=value`.
//! - `column>0.3`, `>=`, `<`, `<=` — numeric columns; a missing value (empty cell) never
//!   compares true.
//! - Fields besides the metadata columns: `file`, `class`, `label` (the user's labels:
//!   `label:positive`, `label=none` for unlabelled), `item` (the row number: `item>=100`).
//! - `-term` — the term must not match.
//!
//! Errors (an unknown column, a malformed regex or number, a comparison on a text column) name
//! the term and say what would be accepted: the box shows them under itself, the CLI prints them.

use std::fmt;
use std::sync::Arc;

use memchr::memmem;
use rayon::prelude::*;
use regex::{Regex, RegexBuilder};

use crate::dataset::{Categorical, Dataset, Images};
use crate::dataset::{Column, ColumnValues, Metadata};

/// A query that could not be parsed: what is wrong, in words a user acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError(pub String);

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SearchError {}

/// Every item's file name (its path under the image folder), lower-cased once and stored end
/// to end: built once per data set and shared by every search over it (the explorer runs one
/// per edit of the box), so a search over a million names allocates nothing per item.
#[derive(Debug, Default)]
pub struct FileNames {
    text: String,
    /// `text[ends[i - 1]..ends[i]]` is item i's.
    ends: Vec<usize>,
}

impl FileNames {
    /// The file names of `data`'s images (none when it has no image files).
    pub fn of(data: &Dataset) -> Self {
        match &data.images {
            Images::Files(f) => Self::from_names(
                (0..f.paths.len())
                    .filter_map(|i| f.relative_path(i))
                    .map(|p| p.to_string_lossy()),
            ),
            _ => Self::default(),
        }
    }

    /// One name per item, in item order.
    pub fn from_names(names: impl IntoIterator<Item = impl AsRef<str>>) -> Self {
        let mut out = Self::default();
        for name in names {
            out.text.push_str(&name.as_ref().to_lowercase());
            out.ends.push(out.text.len());
        }
        out
    }

    /// Item i's name as indexed (lower case).
    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }
}

/// What a query searches: the data set's file names ([`FileNames`]), classes and columns, and
/// the user's labels.
pub struct SearchIndex<'a> {
    n_items: usize,
    files: Arc<FileNames>,
    classes: Option<&'a Categorical>,
    columns: Vec<&'a Column>,
    /// The user's label of each item (`None`: unlabelled); empty when labels are not known.
    labels: Vec<Option<String>>,
}

impl<'a> SearchIndex<'a> {
    /// Index `data`; `labels(i)` gives item i's label, when labels are known.
    pub fn new(data: &'a Dataset, labels: Option<&dyn Fn(usize) -> Option<String>>) -> Self {
        Self::with_files(data, Arc::new(FileNames::of(data)), labels)
    }

    /// Index `data` with its file names already lower-cased (`FileNames::of(data)`).
    pub fn with_files(
        data: &'a Dataset,
        files: Arc<FileNames>,
        labels: Option<&dyn Fn(usize) -> Option<String>>,
    ) -> Self {
        let n_items = data.n_items();
        Self::from_parts(
            n_items,
            files,
            data.classes.as_ref().map(|c| &c.labels),
            data.metadata.as_ref(),
            labels
                .map(|f| (0..n_items).map(f).collect())
                .unwrap_or_default(),
        )
    }

    /// Index `n_items` items from their parts: `files` one name per item (empty: no image
    /// files), `labels` one per item (empty: labels not known).
    pub fn from_fields(
        n_items: usize,
        files: &[impl AsRef<str>],
        classes: Option<&'a Categorical>,
        metadata: Option<&'a Metadata>,
        labels: Vec<Option<String>>,
    ) -> Self {
        let files = Arc::new(FileNames::from_names(files));
        Self::from_parts(n_items, files, classes, metadata, labels)
    }

    fn from_parts(
        n_items: usize,
        files: Arc<FileNames>,
        classes: Option<&'a Categorical>,
        metadata: Option<&'a Metadata>,
        labels: Vec<Option<String>>,
    ) -> Self {
        Self {
            n_items,
            files,
            classes,
            columns: metadata
                .map(|m| m.columns.iter().collect())
                .unwrap_or_default(),
            labels,
        }
    }

    pub fn n_items(&self) -> usize {
        self.n_items
    }

    /// Item i's file name as indexed (lower case), if the data set has image files.
    fn file(&self, i: usize) -> Option<&str> {
        self.files.get(i)
    }

    /// Every item matching `query`, ascending, on all cores.
    pub fn run(&self, query: &Query) -> Vec<u32> {
        let plan = query.plan(self);
        (0..self.n_items as u32)
            .into_par_iter()
            .with_min_len(4096)
            .filter(|&i| plan.matches(self, i as usize))
            .collect()
    }
}

/// A parsed query: terms, all of which must match.
#[derive(Debug, Clone)]
pub struct Query {
    terms: Vec<Term>,
}

#[derive(Debug, Clone)]
struct Term {
    negated: bool,
    test: Test,
}

#[derive(Debug, Clone)]
enum Test {
    /// Any text: file name, class, text columns.
    AnyText(Text),
    File(Text),
    Class(Text),
    Label(LabelTest),
    Item(Op, f64),
    TextColumn(usize, Text),
    Numeric(usize, Op, f64),
}

#[derive(Debug, Clone)]
enum Text {
    /// A lower-cased needle, its searcher built once (SIMD; building it per item cost more
    /// than the search).
    Contains(Box<memmem::Finder<'static>>),
    /// Lower-cased whole value.
    Equals(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
enum LabelTest {
    Is(Text),
    Unlabelled,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, a: f64, b: f64) -> bool {
        // NaN (a missing value) fails every comparison, `!=` included.
        if a.is_nan() {
            return false;
        }
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => a == b,
            Op::Ne => a != b,
        }
    }
}

impl Text {
    fn matches(&self, lowered: &str) -> bool {
        match self {
            Text::Contains(n) => n.find(lowered.as_bytes()).is_some(),
            Text::Equals(v) => lowered == v,
            Text::Regex(r) => r.is_match(lowered),
        }
    }

    /// For a value not yet lower-cased (class names, column values: few distinct ones).
    fn matches_raw(&self, value: &str) -> bool {
        self.matches(&value.to_lowercase())
    }
}

/// The names a query may use besides the metadata columns.
const FIELDS: [&str; 4] = ["file", "class", "label", "item"];

impl Query {
    /// Parse `text` against the fields `index` knows. An empty query matches everything.
    pub fn parse(text: &str, index: &SearchIndex) -> Result<Self, SearchError> {
        let terms = tokens(text)?
            .into_iter()
            .map(|t| term(&t, index))
            .collect::<Result<_, _>>()?;
        Ok(Self { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Evaluate per-category tests once per distinct name (a class or text column has few),
    /// so matching an item is a table lookup.
    fn plan(&self, index: &SearchIndex) -> Plan {
        let category_table = |cat: &Categorical, text: &Text| -> Vec<bool> {
            cat.names.iter().map(|n| text.matches_raw(n)).collect()
        };
        let steps = self
            .terms
            .iter()
            .map(|t| {
                let step = match &t.test {
                    Test::AnyText(text) => Step::AnyText {
                        text: text.clone(),
                        class: index.classes.map(|c| category_table(c, text)),
                        columns: index
                            .columns
                            .iter()
                            .enumerate()
                            .filter_map(|(k, c)| match &c.values {
                                ColumnValues::Categorical(cat) => {
                                    Some((k, category_table(cat, text)))
                                }
                                ColumnValues::Numeric(_) => None,
                            })
                            .collect(),
                    },
                    Test::Class(text) => match index.classes {
                        Some(c) => Step::Codes(None, category_table(c, text)),
                        None => Step::Never,
                    },
                    Test::TextColumn(k, text) => match &index.columns[*k].values {
                        ColumnValues::Categorical(cat) => {
                            Step::Codes(Some(*k), category_table(cat, text))
                        }
                        ColumnValues::Numeric(_) => Step::Never,
                    },
                    other => Step::Direct(other.clone()),
                };
                (t.negated, step)
            })
            .collect();
        Plan { steps }
    }
}

/// A query ready to run over one index.
struct Plan {
    steps: Vec<(bool, Step)>,
}

enum Step {
    AnyText {
        text: Text,
        class: Option<Vec<bool>>,
        columns: Vec<(usize, Vec<bool>)>,
    },
    /// Item matches when its code's entry is true: the class (`None`) or a text column.
    Codes(Option<usize>, Vec<bool>),
    Direct(Test),
    Never,
}

impl Plan {
    fn matches(&self, index: &SearchIndex, i: usize) -> bool {
        self.steps
            .iter()
            .all(|(negated, step)| step.matches(index, i) != *negated)
    }
}

impl Step {
    fn matches(&self, index: &SearchIndex, i: usize) -> bool {
        let code_of = |column: Option<usize>| -> Option<usize> {
            match column {
                None => index.classes.map(|c| c.codes[i] as usize),
                Some(k) => match &index.columns[k].values {
                    ColumnValues::Categorical(cat) => Some(cat.codes[i] as usize),
                    ColumnValues::Numeric(_) => None,
                },
            }
        };
        match self {
            Step::AnyText {
                text,
                class,
                columns,
            } => {
                index.file(i).is_some_and(|f| text.matches(f))
                    || class
                        .as_ref()
                        .is_some_and(|t| code_of(None).is_some_and(|c| t[c]))
                    || columns
                        .iter()
                        .any(|(k, t)| code_of(Some(*k)).is_some_and(|c| t[c]))
            }
            Step::Codes(column, table) => code_of(*column).is_some_and(|c| table[c]),
            Step::Never => false,
            Step::Direct(test) => match test {
                Test::File(text) => index.file(i).is_some_and(|f| text.matches(f)),
                Test::Label(LabelTest::Unlabelled) => {
                    index.labels.get(i).is_none_or(Option::is_none)
                }
                Test::Label(LabelTest::Is(text)) => index
                    .labels
                    .get(i)
                    .and_then(Option::as_deref)
                    .is_some_and(|l| text.matches_raw(l)),
                Test::Item(op, v) => op.holds(i as f64, *v),
                Test::Numeric(k, op, v) => match &index.columns[*k].values {
                    ColumnValues::Numeric(values) => op.holds(values[i], *v),
                    ColumnValues::Categorical(_) => false,
                },
                // Planned into tables above.
                Test::AnyText(_) | Test::Class(_) | Test::TextColumn(..) => false,
            },
        }
    }
}

/// The terms of `text` as the parser sees them (quoted phrases and regexes whole); an
/// unclosed quote or regex falls back to splitting at spaces.
pub fn split_terms(text: &str) -> Vec<String> {
    tokens(text).unwrap_or_else(|_| text.split_whitespace().map(str::to_owned).collect())
}

/// Split at spaces outside quotes and regexes; quotes are kept (the term parser needs to know
/// what was quoted).
fn tokens(text: &str) -> Result<Vec<String>, SearchError> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == '\\' && q == '/' {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            None => {
                // A regex opens at the start of a value: `/…/`, `-/…/`, `col:/…/`.
                let value_start =
                    current.is_empty() || current == "-" || current.ends_with([':', '=', '<', '>']);
                if c == '"' || (c == '/' && value_start) {
                    quote = Some(c);
                }
                current.push(c);
            }
        }
    }
    if let Some(q) = quote {
        let what = if q == '"' {
            "quote"
        } else {
            "regular expression"
        };
        return Err(SearchError(format!(
            "unclosed {what} in `{current}`: close it with {q}"
        )));
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

fn term(token: &str, index: &SearchIndex) -> Result<Term, SearchError> {
    let (negated, body) = match token.strip_prefix('-') {
        Some(rest) if !rest.is_empty() => (true, rest),
        _ => (false, token),
    };
    let (test, not) = match split_field(body) {
        Some((field, op, value)) => field_test(body, unquote(field), op, value, index)?,
        None => (Test::AnyText(text_value(body, false)?), false),
    };
    Ok(Term {
        negated: negated != not,
        test,
    })
}

/// `field OP value`, OP the first operator after the field name (which may be quoted);
/// `None` for text: a bare word, a quoted phrase or a `/regex/`.
fn split_field(body: &str) -> Option<(&str, &str, &str)> {
    if body.starts_with('/') {
        return None;
    }
    let field_end = if let Some(rest) = body.strip_prefix('"') {
        1 + rest.find('"')? + 1
    } else {
        body.find([':', '=', '<', '>', '!'])?
    };
    if field_end == 0 {
        return None;
    }
    let rest = &body[field_end..];
    let op = ["!=", ">=", "<=", ":", "=", "<", ">"]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    Some((&body[..field_end], op, &rest[op.len()..]))
}

/// A text value: `/regex/`, `"quoted"` or a bare word; lower-cased. `exact`: the whole value
/// must equal it (`=`), else it is a substring.
fn text_value(value: &str, exact: bool) -> Result<Text, SearchError> {
    if let Some(pattern) = value.strip_prefix('/').and_then(|v| v.strip_suffix('/'))
        && value.len() >= 2
    {
        return RegexBuilder::new(pattern)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map(Text::Regex)
            .map_err(|e| SearchError(format!("bad regular expression /{pattern}/: {e}")));
    }
    let v = unquote(value).to_lowercase();
    Ok(if exact {
        Text::Equals(v)
    } else {
        Text::Contains(Box::new(memmem::Finder::new(v.as_bytes()).into_owned()))
    })
}

fn number(term: &str, value: &str) -> Result<f64, SearchError> {
    unquote(value)
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| !v.is_nan())
        .ok_or_else(|| SearchError(format!("`{term}`: `{value}` is not a number")))
}

fn field_test(
    term: &str,
    field: &str,
    op: &str,
    value: &str,
    index: &SearchIndex,
) -> Result<(Test, bool), SearchError> {
    if value.is_empty() {
        return Err(SearchError(format!("`{term}`: nothing after `{op}`")));
    }
    let compare = match op {
        "<" => Some(Op::Lt),
        "<=" => Some(Op::Le),
        ">" => Some(Op::Gt),
        ">=" => Some(Op::Ge),
        _ => None,
    };
    // Metadata columns first (exact name, then case-insensitive), then the built-in fields:
    // a column called "label" in the user's CSV is theirs to search.
    let column = index
        .columns
        .iter()
        .position(|c| c.name == field)
        .or_else(|| {
            index
                .columns
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(field))
        });
    let text_only = |name: &str| {
        SearchError(format!(
            "`{term}`: {name} is text; compare it with `:` (contains), `=` or `!=`"
        ))
    };
    let equality = |op: &str| if op == "!=" { Op::Ne } else { Op::Eq };
    if let Some(k) = column {
        return match &index.columns[k].values {
            ColumnValues::Numeric(_) => {
                let op = compare.unwrap_or_else(|| equality(op));
                Ok((Test::Numeric(k, op, number(term, value)?), false))
            }
            ColumnValues::Categorical(_) => {
                if compare.is_some() {
                    return Err(text_only(&format!("column `{}`", index.columns[k].name)));
                }
                let text = text_value(value, op != ":")?;
                // `!=` on text is `=` negated.
                Ok((Test::TextColumn(k, text), op == "!="))
            }
        };
    }
    match field.to_ascii_lowercase().as_str() {
        "item" => {
            let op = compare.unwrap_or_else(|| equality(op));
            Ok((Test::Item(op, number(term, value)?), false))
        }
        f @ ("file" | "class" | "label") => {
            if compare.is_some() {
                return Err(text_only(f));
            }
            let text = text_value(value, op != ":")?;
            let test = match f {
                "file" => Test::File(text),
                "class" => Test::Class(text),
                _ => match text {
                    Text::Equals(v) if v == "none" => Test::Label(LabelTest::Unlabelled),
                    t => Test::Label(LabelTest::Is(t)),
                },
            };
            Ok((test, op == "!="))
        }
        _ => {
            let mut known: Vec<&str> = index.columns.iter().map(|c| c.name.as_str()).collect();
            known.extend(FIELDS);
            Err(SearchError(format!(
                "`{term}`: no column `{field}` (known: {}); quote a term to search for it as text",
                known.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(values: &[&str]) -> Categorical {
        Categorical::from_strings(values)
    }

    /// Six items: files, classes, a text and a numeric column (item 4's score missing), and
    /// labels on items 1 and 2.
    struct Fixture {
        classes: Categorical,
        metadata: Metadata,
    }

    fn fixture() -> Fixture {
        Fixture {
            classes: cat(&["cat", "dog", "cat", "bird", "dog", "cat"]),
            metadata: Metadata {
                columns: vec![
                    Column {
                        name: "split".into(),
                        values: ColumnValues::Categorical(cat(&[
                            "train", "train", "val", "test", "val", "train",
                        ])),
                    },
                    Column {
                        name: "Score".into(),
                        values: ColumnValues::Numeric(vec![0.1, 0.5, 0.9, 0.3, f64::NAN, 0.3]),
                    },
                ],
            },
        }
    }

    fn index(f: &Fixture) -> SearchIndex<'_> {
        let names = [
            "cat/img_001.jpg",
            "dog/IMG_002_flip.jpg",
            "cat/img_003_flip.png",
            "bird/img_004.jpg",
            "dog/img_005.jpg",
            "cat/x y.jpg",
        ];
        let labels = vec![
            None,
            Some("positive".to_owned()),
            Some("negative".to_owned()),
            None,
            None,
            None,
        ];
        SearchIndex::from_fields(6, &names, Some(&f.classes), Some(&f.metadata), labels)
    }

    fn find(q: &str) -> Vec<u32> {
        let f = fixture();
        let idx = index(&f);
        let query = Query::parse(q, &idx).unwrap_or_else(|e| panic!("{q}: {e}"));
        idx.run(&query)
    }

    fn error(q: &str) -> String {
        let f = fixture();
        let idx = index(&f);
        match Query::parse(q, &idx) {
            Ok(_) => panic!("`{q}` parsed"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn words_are_case_insensitive_substrings_of_any_text() {
        assert_eq!(find(""), [0, 1, 2, 3, 4, 5]);
        assert_eq!(find("FLIP"), [1, 2]);
        // Class names and text columns count; numbers do not.
        assert_eq!(find("bird"), [3]);
        assert_eq!(find("val"), [2, 4]);
        assert_eq!(find("0.5"), Vec::<u32>::new());
        // Every term must match; `-` negates.
        assert_eq!(find("flip cat"), [2]);
        assert_eq!(find("flip -cat"), [1]);
        assert_eq!(find("\"x y\""), [5]);
        assert_eq!(find("nothing-like-this"), Vec::<u32>::new());
    }

    #[test]
    fn regular_expressions_match_case_insensitively() {
        assert_eq!(find("/^dog/"), [1, 4]);
        assert_eq!(find("/img_00[13]\\./"), [0]);
        assert_eq!(find("/IMG_00[13]_/"), [2]);
        assert_eq!(find("file:/\\.png$/"), [2]);
        assert_eq!(find("-/flip/ split:/^t/"), [0, 3, 5]);
        // A regex with a space is one term.
        assert_eq!(find("/x y/"), [5]);
    }

    #[test]
    fn columns_compare_by_type() {
        assert_eq!(find("split:val"), [2, 4]);
        assert_eq!(find("split:al"), [2, 4]);
        assert_eq!(find("split=tra"), Vec::<u32>::new());
        assert_eq!(find("split=TRAIN"), [0, 1, 5]);
        assert_eq!(find("split!=train"), [2, 3, 4]);
        // Numeric columns (names case-insensitive); a missing value never compares true.
        assert_eq!(find("score>0.3"), [1, 2]);
        assert_eq!(find("Score>=0.3"), [1, 2, 3, 5]);
        assert_eq!(find("score<0.3"), [0]);
        assert_eq!(find("score<=0.3"), [0, 3, 5]);
        assert_eq!(find("score:0.3"), [3, 5]);
        assert_eq!(find("score=0.3"), [3, 5]);
        assert_eq!(find("score!=0.3"), [0, 1, 2]);
        assert_eq!(find("-score>0.3"), [0, 3, 4, 5]);
        assert_eq!(find("score>-1 score<1e9"), [0, 1, 2, 3, 5]);
    }

    #[test]
    fn built_in_fields_file_class_label_item() {
        assert_eq!(find("class:cat"), [0, 2, 5]);
        assert_eq!(find("class=do"), Vec::<u32>::new());
        assert_eq!(find("class:/^(dog|bird)$/"), [1, 3, 4]);
        assert_eq!(find("file:flip"), [1, 2]);
        assert_eq!(find("label:positive"), [1]);
        assert_eq!(find("label:/tive$/"), [1, 2]);
        assert_eq!(find("label=none"), [0, 3, 4, 5]);
        assert_eq!(find("-label=none"), [1, 2]);
        assert_eq!(find("item:3"), [3]);
        assert_eq!(find("item>=4"), [4, 5]);
        assert_eq!(find("item<2 class:cat"), [0]);
    }

    #[test]
    fn a_column_named_like_a_field_is_the_users() {
        let f = Fixture {
            classes: cat(&["a", "b"]),
            metadata: Metadata {
                columns: vec![Column {
                    name: "label".into(),
                    values: ColumnValues::Categorical(cat(&["mine", "theirs"])),
                }],
            },
        };
        let idx = SearchIndex::from_fields(
            2,
            &[] as &[&str],
            Some(&f.classes),
            Some(&f.metadata),
            Vec::new(),
        );
        let q = Query::parse("label:theirs", &idx).expect("parse");
        assert_eq!(idx.run(&q), [1]);
        // Without images the file field matches nothing; words still search the rest.
        let q = Query::parse("file:a", &idx).expect("parse");
        assert!(idx.run(&q).is_empty());
        let q = Query::parse("b", &idx).expect("parse");
        assert_eq!(idx.run(&q), [1]);
    }

    #[test]
    fn mistakes_are_messages_that_say_what_to_do() {
        let e = error("colour:red");
        assert!(
            e.contains("no column `colour`") && e.contains("split, Score"),
            "{e}"
        );
        let e = error("/(unclosed/");
        assert!(e.contains("bad regular expression"), "{e}");
        let e = error("/abc");
        assert!(e.contains("unclosed regular expression"), "{e}");
        let e = error("\"abc");
        assert!(e.contains("unclosed quote"), "{e}");
        let e = error("score>abc");
        assert!(e.contains("not a number"), "{e}");
        let e = error("score>nan");
        assert!(e.contains("not a number"), "{e}");
        let e = error("split>3");
        assert!(e.contains("is text"), "{e}");
        let e = error("class<3");
        assert!(e.contains("class is text"), "{e}");
        let e = error("score>");
        assert!(e.contains("nothing after"), "{e}");
        // A term that only looks like a field is searchable as text when quoted.
        assert_eq!(find("\"colour:red\""), Vec::<u32>::new());
    }
}
