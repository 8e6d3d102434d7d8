#!/usr/bin/env python3
"""Time faiss-cpu's inverted file (IndexIVFFlat) and HNSW (IndexHNSWFlat) as kNN-graph searches
on the first N rows of a features file — every row a query against all rows, as a kNN graph is
made — and save each setting's k-NN indices (self first where faiss returns it) for
`cargo run --release --example knn_candidates -- FEATURES N K file:OUT.npy …` to score with the
same recall sample as our searches (issue #39's anchors).

    .venv/bin/python scripts/bench_faiss.py FEATURES.npy N K OUT_PREFIX [METRIC] [--no-hnsw]

Writes OUT_PREFIX-<setting>.npy and prints one line per setting: `<setting>\t<seconds>\t<path>`.
Settings: the inverted file with 4·√N cells (faiss's guideline), its k-means trained as ours
is — a sample of 64 rows per cell, 10 iterations (faiss's defaults, 256 rows and 25 iterations,
took 50 s on Fashion-MNIST 70k on this 2-core machine: minutes at 10⁶) — at nprobe 4, 8 and 16,
its time counting the training and filing once in each; HNSW with 32 links per node
(efConstruction 40, faiss's default) at efSearch 32 and 64, its time counting the build in each
(`--no-hnsw` leaves it out: its build takes minutes at 10⁶ on 2 cores). METRIC is euclidean (the default) or cosine (rows
normalised, then euclidean: the same order). faiss uses every core (OpenMP).
"""
import math
import sys
import time

import numpy as np

import faiss


def search(index, x, k):
    """The k + 1 nearest of every row (self included), as int64."""
    _, idx = index.search(x, k + 1)
    return idx.astype(np.int64)


def main():
    args = [a for a in sys.argv[1:] if a != "--no-hnsw"]
    hnsw_too = len(args) == len(sys.argv) - 1
    path, n, k, prefix = args[0], int(args[1]), int(args[2]), args[3]
    metric = args[4] if len(args) > 4 else "euclidean"
    x = np.ascontiguousarray(np.load(path, mmap_mode="r")[:n], dtype=np.float32)
    if metric == "cosine":
        faiss.normalize_L2(x)
    elif metric != "euclidean":
        sys.exit(f"bench_faiss: unknown metric {metric!r} (euclidean or cosine)")
    d = x.shape[1]
    print(f"# faiss {faiss.__version__}, {faiss.omp_get_max_threads()} threads, {n} x {d}, k={k}, {metric}")

    nlist = max(1, int(4 * math.sqrt(n)))
    t = time.perf_counter()
    quantizer = faiss.IndexFlatL2(d)
    ivf = faiss.IndexIVFFlat(quantizer, d, nlist)
    ivf.cp.max_points_per_centroid = 64
    ivf.cp.niter = 10
    ivf.train(x)
    ivf.add(x)
    built = time.perf_counter() - t
    for nprobe in (4, 8, 16):
        ivf.nprobe = nprobe
        t = time.perf_counter()
        idx = search(ivf, x, k)
        secs = built + time.perf_counter() - t
        out = f"{prefix}-ivf{nlist}-nprobe{nprobe}.npy"
        np.save(out, idx)
        print(f"IVF{nlist},Flat nprobe {nprobe}\t{secs:.1f}\t{out}", flush=True)

    if not hnsw_too:
        return
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(d, 32)
    hnsw.add(x)
    built = time.perf_counter() - t
    for ef in (32, 64):
        hnsw.hnsw.efSearch = ef
        t = time.perf_counter()
        idx = search(hnsw, x, k)
        secs = built + time.perf_counter() - t
        out = f"{prefix}-hnsw32-ef{ef}.npy"
        np.save(out, idx)
        print(f"HNSW32 efSearch {ef}\t{secs:.1f}\t{out}", flush=True)


if __name__ == "__main__":
    main()
