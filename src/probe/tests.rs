use super::*;
use crate::knn::{Metric, exact_knn};

/// Two blobs in 2-D, 100 items each: "cat" around (0, 0), "dog" around (6, 0), with a few
/// items half way between.
fn blobs() -> (Vec<f32>, Vec<u32>) {
    let mut x = Vec::new();
    let mut truth = Vec::new();
    for i in 0..200u32 {
        let class = i / 100;
        let (a, b) = ((i * 37 % 100) as f32 / 100.0, (i * 61 % 100) as f32 / 100.0);
        x.extend([class as f32 * 6.0 + 2.0 * a - 1.0, 2.0 * b - 1.0]);
        truth.push(class);
    }
    // Items 200..204 between the blobs.
    for t in 0..4 {
        x.extend([2.6 + 0.25 * t as f32, 0.0]);
        truth.push(u32::from(t >= 2));
    }
    (x, truth)
}

fn labelled(pairs: &[(u32, &str)]) -> Labelled {
    Labelled::from_pairs(pairs.iter().copied())
}

#[test]
fn it_says_what_labels_it_needs() {
    assert_eq!(
        check_labels(&labelled(&[])),
        Err(ProbeError::OneLabel("none".into()))
    );
    let one = check_labels(&labelled(&[(0, "cat"), (1, "cat")])).expect_err("one kind");
    assert_eq!(
        one.to_string(),
        "the probe needs labels of at least two kinds; there are only cat 2"
    );
    let few = check_labels(&labelled(&[(0, "cat"), (1, "cat"), (2, "dog")])).expect_err("one dog");
    assert_eq!(
        few.to_string(),
        "the probe needs at least 2 labels of each kind: cat 2, dog 1 — label 1 more dog"
    );
    assert!(check_labels(&labelled(&[(0, "cat"), (1, "cat"), (2, "dog"), (3, "dog")])).is_ok());
}

#[test]
fn two_labels_each_tell_the_blobs_apart_and_cross_validate() {
    let (x, truth) = blobs();
    let scaler = Scaler::of(&x, 2);
    let graph = exact_knn(&x, 2, 15, Metric::Euclidean, &()).expect("knn");
    // Four of each: every fold fits on three of each (with one, two points in 2-D leave the
    // boundary's direction to chance).
    let given = labelled(&[
        (0, "cat"),
        (1, "cat"),
        (2, "cat"),
        (3, "cat"),
        (150, "dog"),
        (151, "dog"),
        (152, "dog"),
        (153, "dog"),
    ]);
    for graph in [None, Some(&graph)] {
        let probe = fit(
            &ProbeInput {
                features: &x,
                dim: 2,
                scaler: &scaler,
                graph,
            },
            &given,
        )
        .expect("probe");
        assert_eq!(probe.names, ["cat", "dog"]);
        assert_eq!((probe.n_labels(), probe.spread), (8, graph.is_some()));
        assert_eq!(probe.cv_accuracy, None, "asked for separately");
        let input = ProbeInput {
            features: &x,
            dim: 2,
            scaler: &scaler,
            graph,
        };
        assert_eq!(
            cross_validate(&input, &given),
            Ok(1.0),
            "graph {}",
            graph.is_some()
        );
        let right = (0..200)
            .filter(|&i| probe.predicted(i) == truth[i] as usize)
            .count();
        assert!(right >= 198, "{right} of 200 right");
        for i in 0..204 {
            let s: f32 = probe.row(i).iter().sum();
            assert!((s - 1.0).abs() < 1e-4, "item {i}: {:?}", probe.row(i));
        }
    }
}

#[test]
fn suggestions_pick_the_undecided_the_spread_out_and_the_likely() {
    let (x, _) = blobs();
    let scaler = Scaler::of(&x, 2);
    let graph = exact_knn(&x, 2, 10, Metric::Euclidean, &()).expect("knn");
    let given = labelled(&[(0, "cat"), (1, "cat"), (150, "dog"), (151, "dog")]);
    let input = ProbeInput {
        features: &x,
        dim: 2,
        scaler: &scaler,
        graph: None,
    };
    let probe = fit(&input, &given).expect("probe");
    let mut is_labelled = vec![false; 204];
    for &i in &given.items {
        is_labelled[i as usize] = true;
    }
    // The four items between the blobs are the least decided.
    let mut unsure = suggest(&probe, &Strategy::Uncertain, 4, &is_labelled, None).expect("ok");
    unsure.sort_unstable();
    assert_eq!(unsure, [200, 201, 202, 203]);
    // Diverse: no two suggestions neighbours of each other.
    let spread = suggest(&probe, &Strategy::Diverse, 6, &is_labelled, Some(&graph)).expect("ok");
    assert_eq!(spread.len(), 6);
    for &a in &spread {
        for &b in &spread {
            assert!(
                a == b || !graph.neighbors(a as usize).contains(&b),
                "{a} and {b} are neighbours: {spread:?}"
            );
        }
    }
    // Likely dogs: dog-blob items, never a labelled one.
    let dogs = suggest(
        &probe,
        &Strategy::Likely("dog".into()),
        10,
        &is_labelled,
        None,
    )
    .expect("ok");
    assert!(
        dogs.iter()
            .all(|&i| (100..200).contains(&i) && !is_labelled[i as usize]),
        "{dogs:?}"
    );
    assert!(matches!(
        suggest(
            &probe,
            &Strategy::Likely("cow".into()),
            3,
            &is_labelled,
            None
        ),
        Err(ProbeError::UnknownLabel(..))
    ));
    // Everything labelled: nothing to suggest.
    assert!(
        suggest(&probe, &Strategy::Uncertain, 3, &[true; 204], None)
            .expect("ok")
            .is_empty()
    );
}

#[test]
fn strategies_parse_from_their_names() {
    assert_eq!("uncertain".parse(), Ok(Strategy::Uncertain));
    assert_eq!("diverse".parse(), Ok(Strategy::Diverse));
    assert_eq!("likely:dog".parse(), Ok(Strategy::Likely("dog".into())));
    assert!("likely:".parse::<Strategy>().is_err());
    assert!("random".parse::<Strategy>().is_err());
    for s in [
        Strategy::Uncertain,
        Strategy::Diverse,
        Strategy::Likely("dog".into()),
    ] {
        assert_eq!(s.to_string().parse(), Ok(s));
    }
}

#[test]
fn the_mask_marks_the_labelled_items() {
    let l = Labelled::from_pairs([(3, "a"), (0, "b")]);
    assert_eq!(l.mask(5), [true, false, false, true, false]);
}
