//! The probe: what the user's labels so far say about every other item, and which items to
//! look at next.
//!
//! Two models are fitted on the labels and averaged: a multinomial logistic regression on the
//! features ([`logistic`]) and label spreading over the kNN graph ([`propagate`]). Measured on
//! Fashion-MNIST 70k (simulated labelling, benches/README.md) the average beats either alone:
//! the regression generalises across the map, the spreading follows the data's shape where a
//! linear boundary cannot. Its accuracy is estimated by stratified cross-validation on the
//! labels themselves, and said with the number of labels it rests on.
//!
//! Suggestions ([`suggest`]) pick unlabelled items: the ones the probe is least sure of, the
//! same spread over the map (no two from one neighbourhood), or the likeliest of one label.

pub mod logistic;
pub mod propagate;

use std::cmp::Ordering;

use rayon::prelude::*;
use thiserror::Error;

use crate::knn::KnnGraph;
pub use logistic::{Logistic, Scaler};

#[derive(Debug, Error, PartialEq)]
pub enum ProbeError {
    #[error("the probe needs labels of at least two kinds; there are {0}")]
    OneLabel(String),
    #[error("the probe needs at least {need} labels of each kind: {have} — label {more}")]
    TooFew {
        need: usize,
        have: String,
        more: String,
    },
    #[error("{0}")]
    Shape(String),
    #[error("unknown label {0:?} (labels: {1})")]
    UnknownLabel(String, String),
}

/// Labels per kind the probe needs (one to fit on, one to check it with).
pub const MIN_PER_LABEL: usize = 2;
/// Folds of the cross-validation (fewer when a label has fewer items).
const FOLDS: usize = 5;

/// The labels the probe learns from: items and their label codes (indices into `names`).
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub names: Vec<String>,
    pub items: Vec<u32>,
    pub codes: Vec<u32>,
}

impl Labelled {
    /// From (item, label name) pairs; names numbered in sorted order, so codes do not depend on
    /// the order labels were given.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (u32, &'a str)>) -> Self {
        let pairs: Vec<(u32, &str)> = pairs.into_iter().collect();
        let mut names: Vec<String> = pairs.iter().map(|(_, l)| (*l).to_owned()).collect();
        names.sort_unstable();
        names.dedup();
        let code = |l: &str| names.binary_search_by(|n| n.as_str().cmp(l)).unwrap_or(0) as u32;
        let codes = pairs.iter().map(|(_, l)| code(l)).collect();
        Self {
            items: pairs.iter().map(|(i, _)| *i).collect(),
            codes,
            names,
        }
    }

    /// The labels in force in a journal's state.
    pub fn of(state: &crate::labels::LabelState) -> Self {
        Self::from_pairs(state.iter().map(|(i, l)| (i.0, l)))
    }

    /// Which of `n` items carry a label (what [`suggest`] skips).
    pub fn mask(&self, n: usize) -> Vec<bool> {
        let mut labelled = vec![false; n];
        for &i in &self.items {
            if let Some(m) = labelled.get_mut(i as usize) {
                *m = true;
            }
        }
        labelled
    }

    fn counts(&self) -> Vec<usize> {
        let mut c = vec![0; self.names.len()];
        for &k in &self.codes {
            c[k as usize] += 1;
        }
        c
    }
}

/// What the probe needs besides the labels: the features with their scaler, and the graph.
pub struct ProbeInput<'a> {
    /// N × `dim`, row-major.
    pub features: &'a [f32],
    pub dim: usize,
    pub scaler: &'a Scaler,
    /// The kNN graph of the features; without it the regression alone.
    pub graph: Option<&'a KnnGraph>,
}

/// The probe's view of every item.
#[derive(Debug, Clone)]
pub struct Probe {
    pub names: Vec<String>,
    /// N × `names.len()`: each item's probability of each label.
    pub probs: Vec<f32>,
    /// Share of the labels the probe gets right when each is held out (stratified folds):
    /// [`cross_validate`], which costs five refits, so it is asked for separately.
    pub cv_accuracy: Option<f64>,
    /// Labels it rests on, per label (as `names`).
    pub per_label: Vec<usize>,
    /// Whether the graph's spreading was part of it.
    pub spread: bool,
}

impl Probe {
    pub fn n_labels(&self) -> usize {
        self.per_label.iter().sum()
    }

    pub fn n_items(&self) -> usize {
        self.probs.len() / self.names.len().max(1)
    }

    /// Item `i`'s probabilities, one per label.
    pub fn row(&self, i: usize) -> &[f32] {
        let c = self.names.len();
        &self.probs[i * c..][..c]
    }

    /// Item `i`'s likeliest label (code).
    pub fn predicted(&self, i: usize) -> usize {
        argmax(self.row(i))
    }

    /// The code of label `name`.
    pub fn code(&self, name: &str) -> Result<usize, ProbeError> {
        self.names
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| ProbeError::UnknownLabel(name.to_owned(), self.names.join(", ")))
    }
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .max_by(|a, b| {
            a.1.partial_cmp(b.1)
                .unwrap_or(Ordering::Equal)
                .then(b.0.cmp(&a.0))
        })
        .map_or(0, |(k, _)| k)
}

/// Whether the labels are enough for a probe: two kinds at least, each with
/// [`MIN_PER_LABEL`] items.
pub fn check_labels(labelled: &Labelled) -> Result<(), ProbeError> {
    let counts = labelled.counts();
    let have = || {
        labelled
            .names
            .iter()
            .zip(&counts)
            .map(|(n, c)| format!("{n} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if labelled.names.len() < 2 {
        return Err(ProbeError::OneLabel(if labelled.names.is_empty() {
            "none".to_owned()
        } else {
            format!("only {}", have())
        }));
    }
    let short: Vec<String> = labelled
        .names
        .iter()
        .zip(&counts)
        .filter(|&(_, &c)| c < MIN_PER_LABEL)
        .map(|(n, &c)| format!("{} more {n}", MIN_PER_LABEL - c))
        .collect();
    if !short.is_empty() {
        return Err(ProbeError::TooFew {
            need: MIN_PER_LABEL,
            have: have(),
            more: short.join(", "),
        });
    }
    Ok(())
}

/// Fit the probe on `labelled` and score every item (without its accuracy: see
/// [`cross_validate`]).
pub fn fit(input: &ProbeInput<'_>, labelled: &Labelled) -> Result<Probe, ProbeError> {
    check_labels(labelled)?;
    let n = input.features.len() / input.dim.max(1);
    if input.features.len() != n * input.dim || input.scaler.mean.len() != input.dim {
        return Err(ProbeError::Shape(format!(
            "{} feature values are not rows of {} (the scaler has {})",
            input.features.len(),
            input.dim,
            input.scaler.mean.len()
        )));
    }
    if let Some(g) = input.graph
        && g.n_items() != n
    {
        return Err(ProbeError::Shape(format!(
            "the graph has {} items, the features {n}",
            g.n_items()
        )));
    }
    if let Some(&bad) = labelled.items.iter().find(|&&i| i as usize >= n) {
        return Err(ProbeError::Shape(format!(
            "labelled item {bad} is out of range ({n} items)"
        )));
    }
    let probs = scores(
        input,
        &labelled.items,
        &labelled.codes,
        labelled.names.len(),
    );
    Ok(Probe {
        names: labelled.names.clone(),
        probs,
        cv_accuracy: None,
        per_label: labelled.counts(),
        spread: input.graph.is_some(),
    })
}

/// Both models' probabilities for every item, averaged.
fn scores(input: &ProbeInput<'_>, items: &[u32], codes: &[u32], c: usize) -> Vec<f32> {
    let model = Logistic::fit(input.features, input.dim, input.scaler, items, codes, c);
    let (mut p, spread) = rayon::join(
        || model.predict(input.features),
        || input.graph.map(|g| propagate::spread(g, items, codes, c)),
    );
    if let Some(s) = spread {
        p.par_iter_mut()
            .zip(&s)
            .for_each(|(a, b)| *a = 0.5 * (*a + b));
    }
    p
}

/// The probe's accuracy by stratified k-fold cross-validation on the labels: each label's items
/// dealt round-robin into folds, each fold predicted by a probe fitted on the others.
pub fn cross_validate(input: &ProbeInput<'_>, labelled: &Labelled) -> Result<f64, ProbeError> {
    check_labels(labelled)?;
    Ok(held_out_accuracy(input, labelled))
}

fn held_out_accuracy(input: &ProbeInput<'_>, labelled: &Labelled) -> f64 {
    let counts = labelled.counts();
    let folds = FOLDS.min(counts.iter().copied().min().unwrap_or(0)).max(2);
    let c = labelled.names.len();
    let mut seen = vec![0usize; c];
    let fold_of: Vec<usize> = labelled
        .codes
        .iter()
        .map(|&k| {
            let f = seen[k as usize] % folds;
            seen[k as usize] += 1;
            f
        })
        .collect();
    let mut right = 0usize;
    for f in 0..folds {
        let (mut items, mut codes) = (Vec::new(), Vec::new());
        for ((&i, &k), &g) in labelled.items.iter().zip(&labelled.codes).zip(&fold_of) {
            if g != f {
                items.push(i);
                codes.push(k);
            }
        }
        let model = Logistic::fit(input.features, input.dim, input.scaler, &items, &codes, c);
        let spread = input.graph.map(|g| propagate::spread(g, &items, &codes, c));
        let mut p = vec![0f32; c];
        for ((&i, &k), &g) in labelled.items.iter().zip(&labelled.codes).zip(&fold_of) {
            if g != f {
                continue;
            }
            let i = i as usize;
            model.predict_row(&input.features[i * input.dim..][..input.dim], &mut p);
            if let Some(s) = &spread {
                for (a, b) in p.iter_mut().zip(&s[i * c..][..c]) {
                    *a = 0.5 * (*a + b);
                }
            }
            right += usize::from(argmax(&p) == k as usize);
        }
    }
    right as f64 / labelled.items.len().max(1) as f64
}

/// How to pick the next items to label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// The smallest margin between the two likeliest labels.
    Uncertain,
    /// Uncertain, but none in the kNN neighbourhood of one already picked: a batch that covers
    /// the map instead of ten near-copies.
    Diverse,
    /// The likeliest items of this label.
    Likely(String),
}

/// The name `--strategy` takes (what [`FromStr`](std::str::FromStr) reads back).
impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uncertain => f.write_str("uncertain"),
            Self::Diverse => f.write_str("diverse"),
            Self::Likely(label) => write!(f, "likely:{label}"),
        }
    }
}

impl std::str::FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "uncertain" => Ok(Self::Uncertain),
            "diverse" => Ok(Self::Diverse),
            _ => match s.strip_prefix("likely:") {
                Some(label) if !label.is_empty() => Ok(Self::Likely(label.to_owned())),
                _ => Err(format!(
                    "{s:?}: uncertain, diverse or likely:LABEL (e.g. likely:positive)"
                )),
            },
        }
    }
}

/// Up to `n` unlabelled items to look at next, best first. `labelled` marks the items that
/// have a label (they are never suggested); `graph` keeps a diverse batch apart.
pub fn suggest(
    probe: &Probe,
    strategy: &Strategy,
    n: usize,
    labelled: &[bool],
    graph: Option<&KnnGraph>,
) -> Result<Vec<u32>, ProbeError> {
    let items = probe.n_items();
    // Score: lower is better.
    let score: Vec<f32> = match strategy {
        Strategy::Uncertain | Strategy::Diverse => (0..items)
            .into_par_iter()
            .map(|i| {
                let row = probe.row(i);
                let (mut a, mut b) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
                for &p in row {
                    if p > a {
                        (a, b) = (p, a);
                    } else if p > b {
                        b = p;
                    }
                }
                a - b
            })
            .collect(),
        Strategy::Likely(label) => {
            let k = probe.code(label)?;
            (0..items)
                .into_par_iter()
                .map(|i| -probe.row(i)[k])
                .collect()
        }
    };
    let mut order: Vec<u32> = (0..items as u32)
        .filter(|&i| !labelled.get(i as usize).copied().unwrap_or(false))
        .collect();
    let by_score = |p: &u32, q: &u32| {
        score[*p as usize]
            .total_cmp(&score[*q as usize])
            .then(p.cmp(q))
    };
    let diverse = matches!(strategy, Strategy::Diverse) && graph.is_some();
    // Only the best few need sorting: a diverse batch skips neighbours, so it may look deeper.
    let keep = if diverse { n.saturating_mul(64) } else { n };
    if order.len() > keep && keep > 0 {
        order.select_nth_unstable_by(keep - 1, by_score);
        order.truncate(keep);
    }
    order.sort_unstable_by(by_score);
    let (Some(graph), true) = (graph, diverse) else {
        order.truncate(n);
        return Ok(order);
    };
    // Neither a neighbour of a picked item nor one whose neighbours hold a picked item (the
    // graph is not symmetric); if that leaves too few, the best of the skipped fill the batch.
    let mut near_picked = std::collections::HashSet::new();
    let mut picked: Vec<u32> = Vec::with_capacity(n);
    let mut skipped = Vec::new();
    for i in order {
        if picked.len() == n {
            break;
        }
        let near = near_picked.contains(&i)
            || graph
                .neighbors(i as usize)
                .iter()
                .any(|j| picked.contains(j));
        if near {
            skipped.push(i);
            continue;
        }
        picked.push(i);
        near_picked.extend(graph.neighbors(i as usize).iter().copied());
    }
    let short = n.saturating_sub(picked.len());
    picked.extend(skipped.into_iter().take(short));
    Ok(picked)
}

#[cfg(test)]
mod tests;
