"""The compute functions: right answers, the CLI's answers, every input form, bad input."""

import signal
import threading
import time
import _thread
import warnings

import numpy as np
import pytest

import ivt_explore as ivt
from conftest import run_program


def brute_force_knn(X, k):
    d = ((X[:, None, :].astype(np.float64) - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def test_knn_is_the_exact_graph(blobs):
    X, _ = blobs
    idx, dist = ivt.knn(X, k=5)
    assert idx.shape == (180, 5) and idx.dtype == np.int64
    assert dist.shape == (180, 5) and dist.dtype == np.float32
    truth = brute_force_knn(X, 5)
    assert (np.sort(idx, 1) == np.sort(truth, 1)).mean() > 0.99
    assert np.all(np.diff(dist, axis=1) >= 0), "nearest first"
    expected = np.sqrt(((X[:, None, :] - X[idx]) ** 2).sum(-1))
    np.testing.assert_allclose(dist, expected, rtol=1e-4, atol=1e-4)


def test_approximate_graph_with_poor_recall_warns_with_the_figure(monkeypatch, blobs):
    X, _ = blobs
    # The real estimate of this small, easy set is high: raise the bar to see the warning.
    monkeypatch.setattr(ivt, "RECALL_WARNING", 1.01)
    with pytest.warns(ivt.ApproximationWarning, match=r"estimated recall@5 is \d\.\d{3}"):
        ivt.knn(X, k=5, exact=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ivt.knn(X, k=5, exact=True)  # exact: nothing to warn about


def test_a_higher_target_recall_finds_more_and_a_bad_one_is_refused():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 16)).astype(np.float32)  # no clusters: recall needs probes
    truth = np.sort(brute_force_knn(X, 10), 1)

    def recall(target):
        idx, _ = ivt.knn(X, k=10, exact=False, target_recall=target)
        return np.mean([len(np.intersect1d(a, b)) for a, b in zip(idx, truth)]) / 10

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ivt.ApproximationWarning)
        low = recall(0.3)
    high = recall(0.99)
    assert high >= 0.97 and high > low, (low, high)
    for bad in [1.5, 1.0, 0, -0.2, float("nan")]:
        with pytest.raises(ValueError, match="target_recall"):
            ivt.knn(X, k=10, exact=False, target_recall=bad)


def test_every_input_form_gives_the_same_graph(blobs):
    X, _ = blobs
    X64 = X.astype(np.float64)
    reference = ivt.knn(X, k=4)[0]

    class Wrapped:  # anything with __array__, as a CPU torch tensor is
        def __array__(self, dtype=None, copy=None):
            return X64

    wide = np.zeros((180, 20), dtype=np.float32)
    wide[:, ::2] = X
    for form in [X64, np.asfortranarray(X), wide[:, ::2], Wrapped(), X.tolist()]:
        np.testing.assert_array_equal(ivt.knn(form, k=4)[0], reference)
    # float16 and integers are widened, not refused.
    assert ivt.knn(X.astype(np.float16), k=4)[0].shape == (180, 4)
    assert ivt.knn((X * 10).astype(np.int32), k=4)[0].shape == (180, 4)


def test_a_nan_is_named_by_row_and_column(blobs):
    X, _ = blobs
    X = X.copy()
    X[17, 3] = np.nan
    with pytest.raises(ValueError, match=r"NaN at row 17, column 3"):
        ivt.umap(X)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda X: ivt.knn(X[0]), r"2-dimensional .* shape \(10,\)"),
        (lambda X: ivt.knn(X, k=180), r"k=180: must be between 1 and .* \(179\)"),
        (lambda X: ivt.knn(X, metric="manhattan"), r"metric: 'manhattan' is not one of: euclidean, cosine"),
        (lambda X: ivt.knn(np.array([["a", "b"]])), r"dtype <U1"),
        (lambda X: ivt.umap(X, dims=4), r"dims|2 or 3"),
        (lambda X: ivt.tsne(X, perplexity=-1), r"perplexity"),
        (lambda X: ivt.cluster(X, 0), r"n_clusters=0"),
        (lambda X: ivt.cluster(X, 3, linkage="median"), r"linkage: 'median' is not one of: ward"),
        (lambda X: ivt.audit(X, labels=[0, 1]), r"labels has 2 entries, X has 180 rows"),
        (lambda X: ivt.audit(X, labels=[None] * 180), r"labels\[0\] is None"),
        (lambda X: ivt.evaluate(X, X[:10, :2]), r"Y has 10 rows, X has 180"),
        (lambda X: ivt.umap("features.npy"), r"is a path"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_problem(blobs, call, message):
    X, _ = blobs
    with pytest.raises(ValueError, match=message):
        call(X)


def test_layouts_are_seeded_and_separate_the_blobs(blobs):
    X, y = blobs
    for layout in [ivt.umap, ivt.tsne]:
        a = layout(X, seed=3)
        assert a.shape == (180, 2) and a.dtype == np.float32
        np.testing.assert_array_equal(a, layout(X, seed=3))
        if layout is ivt.umap:  # t-SNE starts from PCA: the seed only matters when it samples
            assert not np.array_equal(a, layout(X, seed=4))
        scores = ivt.evaluate(X, a, labels=y, k=10)
        assert scores["knn_accuracy"] > 0.95, (layout.__name__, scores)
    assert ivt.umap(X, dims=3).shape == (180, 3)
    p = ivt.pca(X, dims=2)
    assert p.shape == (180, 2)


def test_the_same_input_and_seed_give_the_clis_results(tmp_path, blobs):
    X, y = blobs
    data = tmp_path / "features.npy"
    np.save(data, X)
    for method, ours in [
        ("umap", ivt.umap(X, seed=5, min_dist=0.2)),
        ("tsne", ivt.tsne(X, seed=5, perplexity=20)),
        ("pca", ivt.pca(X)),
    ]:
        out = tmp_path / f"{method}.npy"
        extra = {"umap": ["--min-dist", "0.2"], "tsne": ["--perplexity", "20"], "pca": []}
        done = run_program("layout", data, "--method", method, "--seed", "5", "--no-cache",
                           "-o", out, *extra[method])
        assert done.returncode == 0, done.stderr
        np.testing.assert_array_equal(np.load(out), ours, err_msg=method)
    out = tmp_path / "knn.npy"
    done = run_program("knn", data, "-k", "7", "--no-cache", "-o", out)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(out), ivt.knn(X, k=7)[0])
    out = tmp_path / "clusters.npy"
    done = run_program("cluster", data, "--clusters", "3", "--no-cache", "-o", out)
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(out), ivt.cluster(X, 3))


def test_a_graph_computed_elsewhere_gives_the_clis_layout_from_it(tmp_path, blobs):
    X, _ = blobs
    # scikit-learn's habit: each item first in its own list, at distance 0.
    idx, dist = ivt.knn(X, k=20)
    with_self = np.hstack([np.arange(len(X))[:, None], idx])
    dist_self = np.hstack([np.zeros((len(X), 1), np.float32), dist])
    with pytest.warns(UserWarning, match="list the item itself"):
        ours = ivt.umap(X, knn=(with_self, dist_self), seed=2)
    np.save(tmp_path / "f.npy", X)
    np.save(tmp_path / "i.npy", with_self)
    np.save(tmp_path / "d.npy", dist_self)
    done = run_program("layout", tmp_path / "f.npy", "--knn", tmp_path / "i.npy",
                       "--knn-distances", tmp_path / "d.npy", "--seed", "2", "--no-cache",
                       "-o", tmp_path / "u.npy")
    assert done.returncode == 0, done.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "u.npy"), ours)
    # Checked as --knn is: too few neighbours, a bad index, distances of other data.
    with pytest.raises(ValueError, match="needs 14"):
        ivt.umap(X, knn=(idx[:, :5], dist[:, :5]))
    bad = idx.copy()
    bad[3, 2] = 999
    with pytest.raises(ValueError, match=r"knn indices: row 3, column 2 .*999"):
        ivt.umap(X, knn=(bad, dist))
    with pytest.raises(ValueError, match="knn distances"):
        ivt.tsne(X, perplexity=5, knn=(idx, dist * 3 + 1))


def test_clusters_recover_the_blobs(blobs):
    X, y = blobs
    got = ivt.cluster(X, 3)
    assert got.dtype == np.int32 and got.shape == (180,)
    # The same partition, whatever the numbering.
    for c in range(3):
        assert len(set(got[y == c])) == 1
    assert len(set(got)) == 3


def test_audit_finds_the_duplicate_and_the_mislabelled_item(blobs):
    X, y = blobs
    X = X.copy()
    X[5] = X[6]  # an exact duplicate
    names = np.array(["cat", "dog", "fish"])[y]
    names[100] = "cat"  # item 100 sits among the dogs
    table = ivt.audit(X, labels=names, k=10, splits=np.where(np.arange(180) % 2, "train", "test"))
    n = 180
    for column in ["item", "class", "duplicate_group", "is_exact_duplicate", "outlier_score",
                   "outlier_rank", "label_quality", "suggested_class", "is_label_issue",
                   "split", "is_leak"]:
        assert len(table[column]) == n, column
    assert table["is_exact_duplicate"][5] and table["is_exact_duplicate"][6]
    assert table["duplicate_group"][5] == table["duplicate_group"][6] > 0
    assert table["is_leak"][5], "items 5 and 6 are in different splits"
    assert table["is_label_issue"][100]
    assert table["suggested_class"][100] == "dog"
    assert table["class"][100] == "cat"
    assert sorted(table["outlier_rank"]) == list(range(1, n + 1))
    try:
        import pandas
    except ImportError:
        return
    frame = pandas.DataFrame(table)
    assert frame.shape == (n, len(table))


def test_trustworthiness_of_the_data_itself_is_one(blobs):
    X, _ = blobs
    assert ivt.trustworthiness(X, X) == pytest.approx(1.0)
    shuffled = X[np.random.default_rng(0).permutation(len(X))]
    assert ivt.trustworthiness(X, shuffled[:, :2]) < 0.8


def test_ctrl_c_stops_a_long_computation_within_a_second():
    # A process started in the background by a shell without job control (`cmd &` in a
    # script) inherits SIGINT ignored, and Python then installs no handler: interrupt_main()
    # would do nothing and the t-SNE below would run for minutes. Python's own handler, for
    # this test only.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _interrupt_a_long_tsne()
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_a_long_tsne():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 20)).astype(np.float32)
    started = time.monotonic()
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        # Far longer than the test's patience uninterrupted (minutes).
        ivt.tsne(X, n_iter=1_000_000)
    stopped = time.monotonic() - started
    timer.join()
    assert stopped < 0.5 + 1.0, f"stopped {stopped - 0.5:.2f} s after Ctrl+C"
    # The engine is usable afterwards.
    assert ivt.pca(X).shape == (3000, 2)


def test_suggest_learns_from_a_few_labels_and_picks_unlabelled_items(blobs):
    X, y = blobs
    # Two labels in blob 0 (positive), two in each other blob (negative), as a dict as
    # Session.labels() returns it.
    given = {0: "positive", 1: "positive", 60: "negative", 61: "negative",
             120: "negative", 121: "negative"}
    with pytest.warns(ivt.ApproximationWarning, match="rests on 6 labels"):
        out = ivt.suggest(X, given, n=5)
    assert out["label_names"] == ["negative", "positive"]
    assert out["p"].shape == (180, 2) and out["p"].dtype == np.float32
    np.testing.assert_allclose(out["p"].sum(1), 1.0, atol=1e-4)
    assert out["labels_per_name"] == {"negative": 4, "positive": 2}
    truth = np.where(y == 0, "positive", "negative")
    assert (out["predicted"] == truth).mean() > 0.95
    s = out["suggestions"]
    assert s.dtype == np.int64 and len(s) == 5 and len(set(s)) == 5
    assert not set(s) & set(given), "labelled items are never suggested"
    assert 0.0 <= out["cv_accuracy"] <= 1.0
    # likely:positive: the unlabelled items of blob 0; a per-item list reads the same.
    per_item = [given.get(i) for i in range(180)]
    with pytest.warns(ivt.ApproximationWarning):
        likely = ivt.suggest(X, per_item, n=10, strategy="likely:positive")
    assert all(y[i] == 0 for i in likely["suggestions"])
    np.testing.assert_allclose(likely["p"], out["p"], atol=1e-6)


def test_suggest_says_what_is_missing_and_refuses_bad_labels(blobs):
    X, _ = blobs
    with pytest.raises(ValueError, match="at least two kinds"):
        ivt.suggest(X, {0: "positive", 1: "positive"})
    with pytest.raises(ValueError, match="label 1 more negative"):
        ivt.suggest(X, {0: "positive", 1: "positive", 60: "negative"})
    with pytest.raises(ValueError, match="item 999 is out of range"):
        ivt.suggest(X, {999: "positive"})
    with pytest.raises(ValueError, match="strategy"):
        ivt.suggest(X, {0: "a", 1: "a", 60: "b", 61: "b"}, strategy="best")
    with pytest.raises(ValueError, match="likely:cat"):
        ivt.suggest(X, {0: "a", 1: "a", 60: "b", 61: "b"}, strategy="likely:cat")
    with pytest.raises(ValueError, match="one entry per item"):
        ivt.suggest(X, ["a", "b"])
