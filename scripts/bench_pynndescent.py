#!/usr/bin/env python3
"""Time pynndescent (default parameters, n_jobs=2) on the first N rows of a features file and
save its k-NN indices (self first, as pynndescent returns them) for
`cargo run --release --example knn_candidates -- FEATURES N K file:OUT.npy` to score with the
same recall sample as our searches.

    .venv/bin/python scripts/bench_pynndescent.py FEATURES.npy N K OUT.npy [METRIC]

METRIC is euclidean (the default) or cosine. The time printed is warm: numba compiles on a
first call on 2,000 rows, timed and printed separately, with the import. A user's first call in
a fresh process costs all three: printed as "fresh".
"""
import sys
import time

import numpy as np

started = time.perf_counter()
import pynndescent  # noqa: E402  (timed: part of a fresh process's cost)

imported = time.perf_counter() - started


def main():
    path, n, k, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    metric = sys.argv[5] if len(sys.argv) > 5 else "euclidean"
    x = np.load(path, mmap_mode="r")[:n]
    x = np.ascontiguousarray(x, dtype=np.float32)
    t = time.perf_counter()
    pynndescent.NNDescent(x[:2000], n_neighbors=k + 1, n_jobs=2, metric=metric).neighbor_graph
    warm = time.perf_counter() - t
    t = time.perf_counter()
    idx, _ = pynndescent.NNDescent(x, n_neighbors=k + 1, n_jobs=2, metric=metric).neighbor_graph
    secs = time.perf_counter() - t
    np.save(out, idx.astype(np.int64))
    print(f"pynndescent {pynndescent.__version__}\tN={n}\tk={k}\t{metric}\t{secs:.1f} s "
          f"(after {warm:.1f} s of compilation on 2,000 rows)\t"
          f"fresh {imported + warm + secs:.1f} s (import {imported:.1f} s)")


if __name__ == "__main__":
    main()
