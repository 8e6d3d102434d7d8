#!/usr/bin/env python3
"""Time pynndescent (default parameters, n_jobs=2) on the first N rows of a features file and
save its k-NN indices (self first, as pynndescent returns them) for
`cargo run --release --example knn_candidates -- FEATURES N K file:OUT.npy` to score with the
same recall sample as our searches.

    .venv/bin/python scripts/bench_pynndescent.py FEATURES.npy N K OUT.npy

The time printed includes numba's compilation on first use (a fresh process, as a user's first
call); the compilation alone is timed on 2,000 rows first and printed separately.
"""
import sys
import time

import numpy as np
import pynndescent


def main():
    path, n, k, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    x = np.load(path, mmap_mode="r")[:n]
    x = np.ascontiguousarray(x, dtype=np.float32)
    t = time.perf_counter()
    pynndescent.NNDescent(x[:2000], n_neighbors=k + 1, n_jobs=2).neighbor_graph
    warm = time.perf_counter() - t
    t = time.perf_counter()
    idx, _ = pynndescent.NNDescent(x, n_neighbors=k + 1, n_jobs=2).neighbor_graph
    secs = time.perf_counter() - t
    np.save(out, idx.astype(np.int64))
    print(f"pynndescent {pynndescent.__version__}\tN={n}\tk={k}\t{secs:.1f} s "
          f"(after {warm:.1f} s of compilation on 2,000 rows)")


if __name__ == "__main__":
    main()
