#!/usr/bin/env python3
"""ivt_explore called from Python against umap-learn, openTSNE and pynndescent, in one process.

What a notebook user compares: each tool called on the same float32 array, warm (numba's JIT
compiled first on a small array, as in a notebook's second call), with the quality of every
result scored by the same code (``ivt.evaluate``: trustworthiness on a fixed 5,000-item sample,
kNN preservation and kNN accuracy; the kNN graphs by recall against the exact graph). Then the
cost of the Python call against the program's (``ivt-explore layout/knn --no-cache``) on the same
file, which should be the same computation.

    python benches/python_peers.py DATA_DIR [--k 15] [--skip-tsne] [--json OUT.json]

DATA_DIR is a folder made by scripts/make_datasets.py (features.npy, labels.npy). Needs
ivt_explore installed (a release build: `pip install ./python`, or `maturin develop --release
--no-default-features` for the engine alone), and umap-learn, openTSNE, pynndescent.
Timings are wall seconds of one run each; the ratios are what to compare across machines.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

import numpy as np

import ivt_explore as ivt


def timed(f, *args, **kwargs):
    t = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - t


def recall(found, truth):
    k = truth.shape[1]
    hits = sum(len(set(a[:k]) & set(b)) for a, b in zip(found, truth))
    return hits / truth.size


def program(*args):
    """The ivt-explore program of the same installation; its wall time."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ivt_explore", *map(str, args)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"ivt-explore {' '.join(map(str, args))} failed:\n{done.stderr}")
    return wall, done.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("--k", type=int, default=15)
    ap.add_argument("--skip-tsne", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    X = np.ascontiguousarray(np.load(os.path.join(a.data, "features.npy")), dtype=np.float32)
    y = np.load(os.path.join(a.data, "labels.npy"))
    n, d = X.shape
    k = a.k
    print(f"{a.data}: {n} × {d}, k = {k}, ivt_explore {ivt.__version__}", flush=True)
    rows = []

    def report(task, tool, secs, **quality):
        row = {"task": task, "tool": tool, "seconds": round(secs, 2), **quality}
        rows.append(row)
        print(json.dumps(row), flush=True)

    import pynndescent
    import umap
    import openTSNE

    # Warm-up: numba compiles once per process; a notebook user pays it once.
    small = X[:2000]
    pynndescent.NNDescent(small, n_neighbors=k + 1, n_jobs=2).neighbor_graph
    umap.UMAP(n_neighbors=15).fit_transform(small)
    if not a.skip_tsne:
        openTSNE.TSNE(n_jobs=2).fit(small)
    ivt.umap(small)

    # kNN: the exact graph is the truth both are scored against.
    (truth, _), secs = timed(ivt.knn, X, k=k, exact=True)
    report("knn", "ivt exact", secs, recall=1.0)
    (idx, _), secs = timed(ivt.knn, X, k=k)
    report("knn", "ivt", secs, recall=round(recall(idx, truth), 4))
    index, secs = timed(lambda: pynndescent.NNDescent(X, n_neighbors=k + 1, n_jobs=2).neighbor_graph)
    found = np.array([row[row != i][:k] for i, row in enumerate(index[0])])
    report("knn", "pynndescent", secs, recall=round(recall(found, truth), 4))

    def scored(Y):
        s = ivt.evaluate(X, Y, labels=y, k=10)
        return {key: round(s[key], 4) for key in ["trustworthiness", "knn_preservation", "knn_accuracy"]}

    Y, secs = timed(ivt.umap, X, seed=0)
    report("umap", "ivt", secs, **scored(Y))
    Y, secs = timed(umap.UMAP(n_neighbors=15, min_dist=0.1).fit_transform, X)
    report("umap", "umap-learn", secs, **scored(Y))
    if not a.skip_tsne:
        Y, secs = timed(ivt.tsne, X, seed=0)
        report("tsne", "ivt", secs, **scored(Y))
        Y, secs = timed(lambda: np.asarray(openTSNE.TSNE(n_jobs=2, random_state=0).fit(X)))
        report("tsne", "openTSNE", secs, **scored(Y))

    # The Python call against the program, same file, no cache.
    features = os.path.join(a.data, "features.npy")
    out = "/tmp/ivt-python-peers.npy"
    for task, args, call in [
        ("knn", ["knn", features, "-k", k, "--no-cache", "-o", out], lambda: ivt.knn(X, k=k)),
        ("umap", ["layout", features, "--method", "umap", "--no-cache", "-o", out], lambda: ivt.umap(X)),
    ]:
        wall, log = program(*args)
        _, secs = timed(call)
        report(f"{task} call", "python / program", secs / wall,
               python_s=round(secs, 2), program_s=round(wall, 2))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"data": a.data, "n": n, "d": d, "k": k, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
