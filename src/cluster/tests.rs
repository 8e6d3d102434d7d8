use super::*;

/// Items 0,1 close, 2,3 close, 4 far: merges (0,1) h1, (2,3) h2, (5,6) h3, (4,7) h4.
fn toy() -> Dendrogram {
    let m = |a, b, height, size| Merge { a, b, height, size };
    Dendrogram {
        n_items: 5,
        merges: vec![
            m(0, 1, 1.0, 2),
            m(2, 3, 2.0, 2),
            m(5, 6, 3.0, 4),
            m(4, 7, 4.0, 5),
        ],
    }
}

#[test]
fn the_top_tree_has_the_cut_clusters_as_leaves() {
    let d = toy();
    // k = 3: clusters {0,1} (id 0), {2,3} (id 1), {4} (id 2); top merges (5,6) and (4,7).
    let labels = d.cut(3).expect("3");
    let top = d.top(3, &labels).expect("top");
    assert_eq!(top.nodes.len(), 5);
    let root = top.nodes.last().expect("root");
    assert_eq!((root.size, root.height), (5, 4.0));
    assert_eq!(
        root.clusters,
        vec![2, 0, 1],
        "left to right: item 4, then {{0,1}}, {{2,3}}"
    );
    let (l, r) = root.children.expect("branch");
    assert_eq!(top.nodes[l].clusters, vec![2]);
    assert!(top.nodes[l].children.is_none());
    assert_eq!((top.nodes[r].size, top.nodes[r].height), (4, 3.0));
    let leaves: Vec<(u32, f32)> = top
        .nodes
        .iter()
        .filter(|n| n.children.is_none())
        .map(|n| (n.clusters[0], n.height))
        .collect();
    assert_eq!(leaves, vec![(2, 0.0), (0, 1.0), (1, 2.0)]);
    // k = 1: the root alone, a leaf holding everything.
    let one = d.top(1, &d.cut(1).expect("1")).expect("top 1");
    assert_eq!(one.nodes.len(), 1);
    assert_eq!(one.nodes[0].size, 5);
    assert!(d.top(6, &labels).is_err());
}

#[test]
fn cuts_replay_the_lowest_merges() {
    let d = toy();
    assert_eq!(d.cut(5).expect("5"), vec![0, 1, 2, 3, 4]);
    assert_eq!(d.cut(4).expect("4"), vec![0, 0, 1, 2, 3]);
    assert_eq!(d.cut(3).expect("3"), vec![0, 0, 1, 1, 2]);
    assert_eq!(d.cut(2).expect("2"), vec![0, 0, 0, 0, 1]);
    assert_eq!(d.cut(1).expect("1"), vec![0; 5]);
    assert!(matches!(d.cut(0), Err(ClusterError::BadK { k: 0, .. })));
    assert!(matches!(d.cut(6), Err(ClusterError::BadK { k: 6, .. })));
}

#[test]
fn dendrograms_survive_the_cache_format_and_bad_bytes_are_refused() {
    let d = toy();
    assert_eq!(Dendrogram::from_bytes(&d.to_bytes()), Some(d.clone()));
    let bytes = d.to_bytes();
    assert_eq!(Dendrogram::from_bytes(&bytes[..bytes.len() - 1]), None);
    // A merge that names a cluster not yet made.
    let mut bad = d;
    bad.merges[0].b = 8;
    assert_eq!(Dendrogram::from_bytes(&bad.to_bytes()), None);
}

#[test]
fn adjusted_rand_index_ignores_names_and_punishes_mixing() {
    assert!((adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 2, 2]) - 1.0).abs() < 1e-12);
    assert!(adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]) < 0.0);
    let a = [0, 0, 0, 1, 1, 1, 2, 2, 2];
    let b = [0, 0, 1, 1, 1, 1, 2, 2, 2];
    let ari = adjusted_rand_index(&a, &b);
    assert!(ari > 0.5 && ari < 1.0, "{ari}");
}

#[test]
fn three_blobs_come_apart_under_every_linkage() {
    // 30 points: three tight groups of ten on a line, far apart.
    let features: Vec<f32> = (0..30)
        .flat_map(|i| {
            [
                (i / 10) as f32 * 100.0 + (i % 10) as f32 * 0.1,
                (i % 3) as f32 * 0.05,
            ]
        })
        .collect();
    for linkage in [
        Linkage::Ward,
        Linkage::Average,
        Linkage::Complete,
        Linkage::Single,
        Linkage::Centroid,
    ] {
        let d = cluster(&features, 2, linkage, &()).expect("clusters");
        assert_eq!(d.merges.len(), 29);
        assert!(
            d.merges
                .windows(2)
                .all(|w| w[0].height <= w[1].height + 1e-4),
            "{linkage:?}: merges in height order"
        );
        let labels = d.cut(3).expect("cut");
        let truth: Vec<u32> = (0..30).map(|i| i / 10).collect();
        assert_eq!(labels, truth, "{linkage:?}");
    }
    assert!(matches!(
        cluster(&[1.0, 2.0], 2, Linkage::Ward, &()),
        Err(ClusterError::TooFew(1))
    ));
}

fn fixture(name: &str) -> Vec<f64> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    crate::npy::read_vector_file(&path).expect("fixture").0
}

#[test]
fn digits_clusters_match_scikit_learn() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/digits_features_u8.npy");
    let m = crate::npy::read_matrix_file(&path).expect("digits");
    assert_eq!((m.n_rows, m.n_cols), (1797, 64));
    for (linkage, min_ari) in [
        (Linkage::Ward, 0.99),
        (Linkage::Average, 0.99),
        (Linkage::Complete, 0.99),
        (Linkage::Single, 0.99),
    ] {
        let d = cluster(&m.data, 64, linkage, &()).expect("clusters");
        let ours = d.cut(10).expect("cut");
        let theirs: Vec<u32> = fixture(&format!("digits_{}10_sklearn.npy", linkage.name()))
            .into_iter()
            .map(|v| v as u32)
            .collect();
        let ari = adjusted_rand_index(&ours, &theirs);
        eprintln!("{linkage:?}: adjusted Rand index against scikit-learn {ari:.4}");
        assert!(ari >= min_ari, "{linkage:?}: adjusted Rand index {ari:.4}");
    }
}

#[test]
fn the_cache_gives_back_the_same_tree() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = Cache::at(dir.path());
    let features: Vec<f32> = (0..40).map(|i| ((i * 37) % 17) as f32).collect();
    let first = cached(&features, 2, Linkage::Average, &cache, &()).expect("computed");
    assert!(first.computed_secs.is_some());
    let second = cached(&features, 2, Linkage::Average, &cache, &()).expect("cached");
    assert!(second.computed_secs.is_none());
    assert_eq!(first.dendrogram, second.dendrogram);
    // Another linkage is another entry.
    let other = cached(&features, 2, Linkage::Ward, &cache, &()).expect("computed");
    assert!(other.computed_secs.is_some());
}

#[test]
fn micro_clusters_approximate_the_exact_tree() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/digits_features_u8.npy");
    let m = crate::npy::read_matrix_file(&path).expect("digits");
    let exact = cluster(&m.data, 64, Linkage::Ward, &()).expect("exact");
    let approx = micro::cluster_micro(&m.data, 64, Linkage::Ward, 300, &()).expect("micro");
    assert_eq!(approx.n_items, 1797);
    assert_eq!(approx.merges.len(), 1796);
    assert!(approx.merges.windows(2).all(|w| w[0].height <= w[1].height));
    // Every merge joins clusters that exist, the last one holds everything.
    assert_eq!(
        Dendrogram::from_bytes(&approx.to_bytes()).as_ref(),
        Some(&approx)
    );
    assert_eq!(approx.merges.last().map(|m| m.size), Some(1797));
    let ari = adjusted_rand_index(&exact.cut(10).expect("cut"), &approx.cut(10).expect("cut"));
    eprintln!("micro (300) vs exact ward, K = 10: adjusted Rand index {ari:.3}");
    assert!(
        ari > 0.6,
        "micro-cluster ward strays from exact ward: ARI {ari:.3}"
    );
    // Fine cuts still give every item a cluster.
    assert_eq!(approx.cut(1797).expect("cut").len(), 1797);
    for linkage in [Linkage::Average, Linkage::Single] {
        let t = micro::cluster_micro(&m.data, 64, linkage, 300, &()).expect("micro");
        assert_eq!(t.cut(10).expect("cut").len(), 1797);
    }
}

#[test]
fn medoids_are_the_members_nearest_their_means() {
    // Cluster 0: 0, 1, 2 on a line (mean 1: item 1); cluster 1: 10, 11 (mean 10.5: the first).
    let features = [0.0, 1.0, 2.0, 10.0, 11.0];
    let labels = [0, 0, 0, 1, 1];
    assert_eq!(medoids(&features, 1, &labels, 2), vec![1, 3]);
    assert_eq!(
        medoids(&features, 1, &labels, 3)[2],
        u32::MAX,
        "empty cluster"
    );
}
