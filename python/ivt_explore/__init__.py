"""ivt-explore from Python: the engine in process (numpy in, numpy out) and the explorer.

    import ivt_explore as ivt
    idx, dist = ivt.knn(X, k=15)            # the kNN graph in the original space
    Y = ivt.umap(X)                         # or ivt.tsne(X), ivt.pca(X): float32 [n, 2]
    table = ivt.audit(X, labels=y)          # duplicates, outliers, label issues per item
    nxt = ivt.suggest(X, session.labels())  # what to label next, and every item's p(label)
    session = ivt.show(X, images="imgs/", labels=y)   # the explorer, in its own process
    session.labels()                        # {item: label} given so far

Every computation runs with the GIL released; Ctrl+C (or a notebook's interrupt) stops it
within a second and raises ``KeyboardInterrupt``. The same input and seed give exactly what the
``ivt-explore`` program computes. Bad input is a ``ValueError`` naming the problem.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import _native
from ._inputs import categories, matrix
from ._session import Session, add_labels, labels, show

__all__ = [
    "ApproximationWarning",
    "Session",
    "add_labels",
    "audit",
    "cluster",
    "evaluate",
    "knn",
    "labels",
    "pca",
    "show",
    "suggest",
    "trustworthiness",
    "tsne",
    "umap",
]

__version__ = _native.__version__

#: An approximate kNN graph whose estimated recall is below this is reported with a warning.
RECALL_WARNING = 0.90
#: A probe whose cross-validated accuracy is below this, or that rests on fewer labels than
#: PROBE_FEW_LABELS, is reported with a warning (as ``ivt-explore suggest`` does).
PROBE_ACCURACY_WARNING = 0.75
PROBE_FEW_LABELS = 20


class ApproximationWarning(UserWarning):
    """An approximate result whose estimated quality is poor."""


def _warn_recall(estimate, k):
    if estimate is None:
        return
    recall, sample, search = estimate
    if recall < RECALL_WARNING:
        warnings.warn(
            f"approximate kNN graph: estimated recall@{k} is {recall:.3f} (from {sample} "
            f"items searched exactly; {search}), below {RECALL_WARNING:.2f}; "
            "pass exact=True for the exact graph",
            ApproximationWarning,
            stacklevel=3,
        )


def knn(X, k=15, metric="euclidean", exact=None, target_recall=None):
    """The k nearest neighbours of every row of ``X`` in the original space.

    Returns ``(indices, distances)``: int64 and float32 arrays of shape (n, k), nearest first,
    an item never its own neighbour. ``exact=None`` searches exactly while that is cheap
    (n² · d up to 15,000² · 784) and approximately above, by an inverted file that estimates
    its own recall on a sample; below 0.90 it warns (``ApproximationWarning``) with the figure.
    ``exact=True`` / ``False`` forces either. ``metric``: "euclidean" or "cosine".
    ``target_recall`` (between 0 and 1, default 0.95) is the recall the approximate search aims
    for: higher probes more cells per item and takes longer.
    """
    x = matrix(X)
    _check_k(k, x.shape[0], "k")
    if target_recall is not None:
        target_recall = float(target_recall)
    indices, distances, estimate = _native.knn(x, int(k), metric, exact, target_recall)
    _warn_recall(estimate, k)
    return indices, distances


def _check_k(k, n, name):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name}={k!r}: must be an integer")
    if not 1 <= k < n:
        raise ValueError(f"{name}={k}: must be between 1 and the number of items less one ({n - 1})")


def umap(
    X,
    dims=2,
    n_neighbors=15,
    min_dist=0.1,
    metric="euclidean",
    seed=0,
    knn=None,
    spread=1.0,
    epochs=None,
):
    """A UMAP layout of ``X``: float32 (n, dims), as ``ivt-explore layout --method umap``.

    ``n_neighbors`` counts the item itself, as umap-learn does. ``knn``: a graph you computed
    (``(indices, distances)`` as :func:`knn`, scikit-learn or pynndescent give them; a first
    column that is each item itself is dropped) instead of the default search; it is checked
    as ``--knn`` is (its distances against ``X``'s).
    """
    x = matrix(X)
    graph = _graph(knn, x.shape[0])
    layout, notes = _native.umap(x, int(dims), int(n_neighbors), float(min_dist), float(spread),
                                 None if epochs is None else int(epochs), metric, int(seed),
                                 *graph)
    _notes(notes)
    return layout


def tsne(
    X,
    dims=2,
    perplexity=30.0,
    seed=0,
    knn=None,
    n_iter=750,
    exaggeration=12.0,
    exaggeration_iter=250,
    learning_rate=None,
    dof=1.0,
    theta=None,
    metric="euclidean",
):
    """A t-SNE layout of ``X``: float32 (n, dims), as ``ivt-explore layout --method tsne``.

    ``learning_rate=None`` is n / exaggeration (openTSNE's rule); ``theta=None`` picks the
    gradient (exact below 1,000 items, FFT interpolation in 2D from 10,000, Barnes-Hut else).
    ``knn``: a graph you computed (at least 3 × perplexity neighbours), as for :func:`umap`.
    """
    x = matrix(X)
    graph = _graph(knn, x.shape[0])
    layout, notes = _native.tsne(x, int(dims), float(perplexity), int(n_iter),
                                 float(exaggeration), int(exaggeration_iter),
                                 None if learning_rate is None else float(learning_rate),
                                 float(dof), None if theta is None else float(theta), metric,
                                 int(seed), *graph)
    _notes(notes)
    return layout


def _graph(graph, n):
    """``knn=(indices, distances)`` as the engine takes them, or (None, None)."""
    if graph is None:
        return None, None
    try:
        indices, distances = graph
    except (TypeError, ValueError):
        raise ValueError("knn must be (indices, distances) as ivt_explore.knn returns them") from None
    idx = np.asarray(indices)
    if idx.ndim != 2 or idx.dtype.kind not in "iu":
        raise ValueError(f"knn indices must be integers of shape (n, k); got {idx.dtype} {idx.shape}")
    if idx.shape[0] != n:
        raise ValueError(f"knn indices have {idx.shape[0]} rows, X has {n}")
    dist = matrix(distances, "knn distances", dims=idx.shape[1])
    return np.ascontiguousarray(idx, dtype=np.int64), dist


def _notes(notes):
    for note in notes:
        warnings.warn(f"knn: {note}", UserWarning, stacklevel=3)


def pca(X, dims=2):
    """The first ``dims`` principal components of ``X``: float32 (n, dims)."""
    return _native.pca(matrix(X), int(dims))


def cluster(X, n_clusters, linkage="ward"):
    """Hierarchical clusters of ``X`` cut into ``n_clusters``: int32 (n,), as ``ivt-explore
    cluster`` ("ward", "average", "complete", "single" or "centroid" linkage; above 20,000
    items the tree is built over k-means micro-clusters)."""
    x = matrix(X)
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise ValueError(f"n_clusters={n_clusters!r}: must be an integer")
    return _native.cluster(x, int(n_clusters), linkage)


def audit(X, labels=None, k=10, metric="euclidean", dup_threshold=None, layout=None, splits=None):
    """What is wrong with a data set, per item, as the columns of ``ivt-explore audit``'s CSV.

    A dict of numpy arrays (``pandas.DataFrame(ivt.audit(X, y))`` is the table): ``item``,
    ``duplicate_group`` (numbered from 1; 0 = none), ``is_exact_duplicate``, ``outlier_score``,
    ``outlier_rank`` (1 = most outlying); with ``labels``: ``class``, ``label_quality``,
    ``suggested_class``, ``is_label_issue``; with ``layout`` (n × 2 or 3): ``fidelity``,
    ``trust_penalty``; with ``splits`` (e.g. "train"/"test" per item): ``split``, ``is_leak``.
    """
    x = matrix(X)
    n = x.shape[0]
    _check_k(k, n, "k")
    codes = names = uniques = None
    if labels is not None:
        codes, names, uniques = categories(labels, n, "labels")
    split_codes = split_names = split_uniques = None
    if splits is not None:
        split_codes, split_names, split_uniques = categories(splits, n, "splits")
    lay = None if layout is None else matrix(layout, "layout")
    threshold = None if dup_threshold is None else float(dup_threshold)
    out = _native.audit(x, int(k), metric, threshold, codes, names or [], lay, split_codes,
                        len(split_names or []))
    columns = {"item": out.pop("item")}
    if labels is not None:
        columns["class"] = uniques[codes]
    columns.update(
        (key, out.pop(key))
        for key in ["duplicate_group", "is_exact_duplicate", "outlier_score", "outlier_rank"]
    )
    if labels is not None:
        columns["label_quality"] = out.pop("label_quality")
        columns["suggested_class"] = uniques[out.pop("suggested_class")]
        columns["is_label_issue"] = out.pop("is_label_issue")
    if "fidelity" in out:
        columns["fidelity"] = out.pop("fidelity")
        columns["trust_penalty"] = out.pop("trust_penalty")
    if splits is not None:
        columns["split"] = split_uniques[split_codes]
        columns["is_leak"] = out.pop("is_leak")
    columns.update(out)
    return columns


def evaluate(X, Y, labels=None, k=10, tw_sample=5000):
    """How faithful layout ``Y`` is to ``X``, as ``ivt-explore eval --json``: a dict with
    ``trustworthiness`` (over ``tw_points`` items: a fixed-seed sample of ``tw_sample`` when n
    is larger; 0 = all), ``knn_preservation`` and, with ``labels``, ``knn_accuracy`` (over
    ``neighbour_points`` items: all while the exact graph is cheap, a sample of 5,000 above)."""
    x = matrix(X)
    y = matrix(Y, "Y")
    n = x.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"Y has {y.shape[0]} rows, X has {n}: a layout has one row per item")
    _check_k(k, n, "k")
    codes, names = None, []
    if labels is not None:
        codes, names, _ = categories(labels, n, "labels")
    return _native.evaluate(x, y, int(k), codes, len(names), int(tw_sample))


def trustworthiness(X, Y, k=10, tw_sample=5000):
    """scikit-learn's trustworthiness of layout ``Y`` for ``X`` with ``k`` neighbours (over a
    fixed-seed sample of ``tw_sample`` items when n is larger; 0 = all items)."""
    x = matrix(X)
    y = matrix(Y, "Y")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"Y has {y.shape[0]} rows, X has {x.shape[0]}")
    _check_k(k, x.shape[0], "k")
    return _native.trustworthiness(x, y, int(k), int(tw_sample))


def _given_labels(labels, n):
    """``labels`` as (items uint32, codes uint32, names): a ``{item: label}`` mapping (what
    ``Session.labels()`` returns) or one entry per item, None / "" / NaN where unlabelled."""
    if hasattr(labels, "items") and callable(labels.items):
        pairs = []
        for item, label in labels.items():
            if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
                raise ValueError(f"labels: item {item!r} is not an integer index")
            if not 0 <= int(item) < n:
                raise ValueError(f"labels: item {item} is out of range: X has {n} rows")
            if label is not None and label == label and str(label) != "":
                pairs.append((int(item), str(label)))
    else:
        if hasattr(labels, "to_numpy"):
            labels = labels.to_numpy()
        a = np.asarray(labels, dtype=object)
        if a.ndim != 1 or len(a) != n:
            raise ValueError(
                f"labels must be a {{item: label}} mapping or one entry per item ({n}); "
                f"got shape {a.shape}"
            )
        pairs = [(i, str(v)) for i, v in enumerate(a) if v is not None and v == v and str(v) != ""]
    names = sorted({label for _, label in pairs})
    code = {name: c for c, name in enumerate(names)}
    items = np.array([i for i, _ in pairs], dtype=np.uint32)
    codes = np.array([code[label] for _, label in pairs], dtype=np.uint32)
    return items, codes, names


def suggest(X, labels, n=20, strategy="diverse", metric="euclidean", knn=None):
    """What to label next, as ``ivt-explore suggest``: a probe fitted on the labels so far — a
    logistic regression on ``X`` averaged with label spreading over its kNN graph — and the
    ``n`` unlabelled items it most needs labels for.

    ``labels``: a ``{item: label}`` mapping (``Session.labels()``, so a notebook and the
    explorer share one loop) or one entry per item, None / "" / NaN where unlabelled; at least
    two labels of each of at least two kinds. ``strategy``: "diverse" (the least sure, no two
    from one neighbourhood: the default), "uncertain" or "likely:LABEL" (the likeliest of a
    label not yet labelled). ``knn=(indices, distances)`` reuses a graph from ``ivt.knn``.

    A dict: ``suggestions`` (int64 items, best first), ``p`` (float32 (n_items, n_labels),
    each item's probability of each label), ``label_names`` (the columns of ``p``, sorted),
    ``predicted`` (each item's likeliest label), ``cv_accuracy`` (stratified 5-fold on the
    labels) and ``labels_per_name``. Warns (``ApproximationWarning``) when the accuracy is below
    ``PROBE_ACCURACY_WARNING`` or the labels are fewer than ``PROBE_FEW_LABELS``.
    """
    x = matrix(X)
    rows = x.shape[0]
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r}: must be a positive integer")
    items, codes, names = _given_labels(labels, rows)
    out = _native.suggest(x, items, codes, names, int(n), str(strategy), metric, *_graph(knn, rows))
    _notes(out["notes"])
    if out["estimate"] is not None:
        _warn_recall(out["estimate"], min(10, rows - 1))
    accuracy = out["cv_accuracy"]
    if accuracy < PROBE_ACCURACY_WARNING or len(items) < PROBE_FEW_LABELS:
        warnings.warn(
            f"the probe rests on {len(items)} labels; its cross-validated accuracy is "
            f"{accuracy:.3f}: label more (the suggestions are the ones to label)",
            ApproximationWarning,
            stacklevel=2,
        )
    p = out["p"]
    return {
        "suggestions": out["suggestions"],
        "p": p,
        "label_names": names,
        "predicted": np.asarray(names, dtype=object)[p.argmax(axis=1)],
        "cv_accuracy": accuracy,
        "labels_per_name": dict(zip(names, out["per_label"])),
    }
