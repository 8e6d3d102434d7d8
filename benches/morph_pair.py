#!/usr/bin/env python3
"""Two embeddings of the same items for the morph's frame time (issue #40): A is N points in
50 Gaussian clusters in 16-D; B moves 10 % of them to another cluster (fresh noise for all).

    python3 benches/morph_pair.py OUT_DIR [N]   # writes OUT_DIR/a/features.npy, OUT_DIR/b/features.npy

numpy only; seeded, so the same N gives the same files.
"""

import sys
from pathlib import Path

import numpy as np


def main():
    out = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    d, c = 16, 50
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 10, (c, d)).astype(np.float32)
    label = rng.integers(0, c, n)
    a = (centers[label] + rng.normal(0, 1, (n, d))).astype(np.float32)
    moved = rng.random(n) < 0.1
    label_b = label.copy()
    label_b[moved] = rng.integers(0, c, int(moved.sum()))
    b = (centers[label_b] + rng.normal(0, 1, (n, d))).astype(np.float32)
    for name, x in (("a", a), ("b", b)):
        (out / name).mkdir(parents=True, exist_ok=True)
        np.save(out / name / "features.npy", x)
    np.save(out / "a" / "labels.npy", label.astype(np.int64))
    print(f"{n} items: {int(moved.sum())} moved to another cluster in B -> {out}/a, {out}/b")


if __name__ == "__main__":
    main()
