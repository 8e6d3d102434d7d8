//! The audit as a cache artefact: a relaunch (or a second `audit`) on the same data, graph,
//! labels and splits reads it instead of recomputing. The fidelity scores are not stored —
//! they depend on the layout, which changes far more often, and cost one grid pass — so they
//! are computed afresh for the layout given.
//!
//! The payload is a small little-endian format (lengths first); anything that does not decode
//! to a consistent audit is reported and recomputed, never trusted.

use xxhash_rust::xxh3::Xxh3;

use super::{Audit, AuditInput, Duplicates, LabelIssues, Outliers, QualityError};
use crate::cache::{Cache, CacheKey, Lookup};
use crate::payload::{Reader, Writer};

const KIND: &str = "audit";
/// Bumped whenever a score's definition changes, so old entries miss.
const VERSION: u32 = 1;

/// What [`cached`] found.
pub struct CachedAudit {
    pub audit: Audit,
    /// Read from the cache (else computed, and stored).
    pub hit: bool,
    /// Cache problems worth a line in the log (a corrupt entry, a failed write).
    pub warnings: Vec<String>,
}

/// The audit of `input`, from `cache` when it holds one for the same inputs.
pub fn cached(input: &AuditInput<'_>, cache: &Cache) -> Result<CachedAudit, QualityError> {
    super::check(input)?;
    let key = key(input);
    let mut warnings = Vec::new();
    let mut stored = None;
    match cache.load(&key) {
        Lookup::Hit(bytes) => match decode(&bytes, input) {
            Some(a) => stored = Some(a),
            None => warnings.push("the cached audit did not decode; recomputing it".to_owned()),
        },
        Lookup::Corrupt { path, reason } => warnings.push(format!(
            "ignored a corrupt cached audit {} ({reason}); recomputing it",
            path.display()
        )),
        Lookup::Miss => {}
    }
    if let Some(mut audit) = stored {
        audit.fidelity = input
            .layout
            .map(|(coords, dims)| super::fidelity(input.graph, input.k, coords, dims));
        return Ok(CachedAudit {
            audit,
            hit: true,
            warnings,
        });
    }
    let audit = super::audit(input)?;
    // A failure is the cache's to report, once per process.
    let _ = cache.store(&key, &encode(&audit));
    Ok(CachedAudit {
        audit,
        hit: false,
        warnings,
    })
}

/// Everything the layout-independent scores depend on.
fn key(input: &AuditInput<'_>) -> CacheKey {
    let mut h = Xxh3::new();
    let g = input.graph;
    h.update(&(g.k as u64).to_le_bytes());
    h.update(bytemuck::cast_slice(&g.indices));
    h.update(bytemuck::cast_slice(&g.distances));
    if let Some(l) = &input.labels {
        h.update(b"labels");
        h.update(bytemuck::cast_slice(l.codes));
        for n in l.names {
            h.update(&(n.len() as u64).to_le_bytes());
            h.update(n.as_bytes());
        }
    }
    if let Some(s) = input.splits {
        h.update(b"splits");
        h.update(bytemuck::cast_slice(s));
    }
    let params = format!(
        "v{VERSION} k={} threshold={:?} inputs={:032x}",
        input.k,
        input.dup_threshold.map(f32::to_bits),
        h.digest128()
    );
    CacheKey::new(KIND, input.features, input.dim, &params)
}

/// No group: `u32::MAX` in `group_of`.
const NONE: u32 = u32::MAX;

fn encode(a: &Audit) -> Vec<u8> {
    let mut o = Writer::default();
    o.u64(a.n_items as u64);
    o.u64(a.k as u64);
    let d = &a.duplicates;
    o.f32s(&[d.threshold, d.median_first_distance]);
    o.str(&d.threshold_source);
    o.u32s(
        &d.group_of
            .iter()
            .map(|g| g.unwrap_or(NONE))
            .collect::<Vec<_>>(),
    );
    o.u32s(&d.groups.iter().map(|g| g.len() as u32).collect::<Vec<_>>());
    o.u32s(&d.groups.concat());
    o.bools(&d.exact);
    o.f32s(&a.outliers.score);
    o.u32s(&a.outliers.ranking);
    match &a.labels {
        Some(l) => {
            o.u64(l.n_classes as u64 + 1);
            o.f32s(&l.probs);
            o.f32s(&l.quality);
            o.u32s(&l.suggested);
            o.bools(&l.is_issue);
            o.f32s(&l.thresholds);
        }
        None => o.u64(0),
    }
    match &a.leaks {
        Some(l) => {
            o.u64(1);
            o.u32s(&l.iter().map(|&g| g as u32).collect::<Vec<_>>());
        }
        None => o.u64(0),
    }
    o.0
}

/// The stored audit, if it is whole and fits `input` (item count, k, groups in range).
fn decode(bytes: &[u8], input: &AuditInput<'_>) -> Option<Audit> {
    let mut i = Reader::new(bytes);
    let n = i.len()?;
    let k = i.len()?;
    if n != input.graph.n_items() || k != input.k {
        return None;
    }
    let t = i.f32s()?;
    let (&threshold, &median_first_distance) = (t.first()?, t.get(1)?);
    let threshold_source = i.str()?.to_owned();
    let group_of_raw = i.u32s()?;
    let sizes = i.u32s()?;
    let members = i.u32s()?;
    let exact = i.bools()?;
    let n_groups = sizes.len();
    let group_of: Vec<Option<u32>> = group_of_raw
        .iter()
        .map(|&g| match g {
            NONE => Some(None),
            g if (g as usize) < n_groups => Some(Some(g)),
            _ => None,
        })
        .collect::<Option<_>>()?;
    if sizes.iter().map(|&s| s as usize).sum::<usize>() != members.len()
        || members.iter().any(|&m| m as usize >= n)
    {
        return None;
    }
    let mut groups = Vec::with_capacity(n_groups);
    let mut at = 0;
    for &s in &sizes {
        groups.push(members[at..at + s as usize].to_vec());
        at += s as usize;
    }
    let score = i.f32s()?;
    let ranking = i.u32s()?;
    let labels = match i.len()? {
        0 => None,
        c => {
            let n_classes = c - 1;
            let l = LabelIssues {
                n_classes,
                probs: i.f32s()?,
                quality: i.f32s()?,
                suggested: i.u32s()?,
                is_issue: i.bools()?,
                thresholds: i.f32s()?,
            };
            let fits = l.probs.len() == n.checked_mul(n_classes)?
                && l.quality.len() == n
                && l.suggested.len() == n
                && l.suggested.iter().all(|&s| (s as usize) < n_classes)
                && l.is_issue.len() == n
                && l.thresholds.len() == n_classes;
            if !fits {
                return None;
            }
            Some(l)
        }
    };
    let leaks = match i.len()? {
        0 => None,
        _ => {
            let l = i.u32s()?;
            if l.iter().any(|&g| g as usize >= n_groups) {
                return None;
            }
            Some(l.into_iter().map(|g| g as usize).collect())
        }
    };
    let whole = i.is_done()
        && group_of.len() == n
        && exact.len() == n
        && score.len() == n
        && ranking.len() == n
        && ranking.iter().all(|&r| (r as usize) < n)
        // What the input asks for must be there: labels given, labels stored.
        && labels.is_some() == input.labels.is_some()
        && leaks.is_some() == input.splits.is_some();
    whole.then_some(Audit {
        n_items: n,
        k,
        duplicates: Duplicates {
            threshold,
            threshold_source,
            group_of,
            groups,
            exact,
            median_first_distance,
        },
        outliers: Outliers { score, ranking },
        labels,
        fidelity: None,
        leaks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::{Metric, exact_knn};
    use crate::quality::Labels;

    #[test]
    fn a_second_audit_reads_the_first_and_adds_the_layouts_fidelity() {
        let x: Vec<f32> = [0.0, 0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 13.0, 50.0].to_vec();
        let codes = [0u32, 0, 0, 1, 0, 1, 1, 1, 1, 1];
        let names = vec!["a".to_owned(), "b".to_owned()];
        let splits = [0u32, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        let graph = exact_knn(&x, 1, 4, Metric::Euclidean, &()).expect("knn");
        let layout: Vec<f32> = x.iter().flat_map(|&v| [v, 0.0]).collect();
        let dir = tempfile::tempdir().expect("tmp");
        let cache = Cache::at(dir.path());
        let input = AuditInput {
            features: &x,
            dim: 1,
            graph: &graph,
            k: 3,
            dup_threshold: None,
            labels: Some(Labels {
                codes: &codes,
                names: &names,
            }),
            layout: None,
            splits: Some(&splits),
        };
        let first = cached(&input, &cache).expect("audit");
        assert!(!first.hit);
        assert!(first.warnings.is_empty(), "{:?}", first.warnings);
        let with_layout = AuditInput {
            layout: Some((&layout, 2)),
            ..input
        };
        let second = cached(&with_layout, &cache).expect("audit");
        assert!(second.hit);
        assert_eq!(
            second.audit,
            crate::quality::audit(&with_layout).expect("audit")
        );
        // Other labels: another entry.
        let other = [1u32, 0, 0, 1, 0, 1, 1, 1, 1, 1];
        let relabelled = AuditInput {
            labels: Some(Labels {
                codes: &other,
                names: &names,
            }),
            ..input
        };
        assert!(!cached(&relabelled, &cache).expect("audit").hit);
        // A truncated payload is not trusted.
        let bytes = encode(&first.audit);
        assert!(decode(&bytes[..bytes.len() - 3], &input).is_none());
        assert!(decode(&bytes, &input).is_some());
        // Nor one for another k.
        assert!(decode(&bytes, &AuditInput { k: 2, ..input }).is_none());
    }
}
