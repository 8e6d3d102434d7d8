#!/usr/bin/env python3
"""Reference side of the data-quality benchmark for `ivt-explore audit`.

Injects known problems into a data set folder written by make_datasets.py (label noise,
exact and near duplicates), runs a Python reference (a kNN classifier's out-of-sample class
probabilities fed to cleanlab), and scores any audit CSV against the injected truth.

Subcommands
-----------
make DATA_DIR OUT_DIR [--flip 0.05] [--exact 200] [--near 200] [--seed 0] [--near-sigma 2]
    Copy DATA_DIR (features.npy, labels.npy, images/, meta.json) to OUT_DIR with
      * a seeded fraction --flip of the labels flipped uniformly to another class
        (OUT_DIR/labels.npy holds the noisy labels);
      * --exact exact copies and --near near copies of distinct, randomly chosen items,
        appended after the original rows (in a seeded shuffled order). A near copy is the
        original 28x28 uint8 image plus rint(N(0, --near-sigma)) grey levels, clipped to
        0..255, its feature row re-derived as uint8 / 255 (float32), as make_datasets.py
        makes Fashion-MNIST / MNIST features. Appended items keep the original's (possibly
        flipped) label.
    images/ holds symlinks to the source PNGs for the original rows and new files for the
    appended ones, all named <zero-padded item>.png. The truth goes to OUT_DIR/truth/:
      labels_true.npy        int64 (n_total,), the clean labels (copies: their original's)
      flipped.npy            int64, sorted indices of the flipped original items
      duplicates.csv         item,original_item,kind (kind = exact | near)
      preexisting_identical.csv  item,group: original rows whose feature row is byte-identical
                             to another original row (duplicates already in the source data)
      manifest.json          parameters, n_original, n_total, counts

cleanlab OUT_DIR [-k 10] [--eps 1e-3] [--smooth 1e-3] [--jobs N]
    Exact kNN graph of all items (scikit-learn NearestNeighbors, brute force, euclidean,
    k+1 neighbours then the item itself dropped; distances recomputed in float64 and rows
    re-sorted, nearest first, ties by index), out-of-sample kNN class probabilities
    (weights 1/(d + eps), normalised, then (1 - smooth) * p + smooth / C), then
    cleanlab.filter.find_label_issues(labels, pred_probs) with default arguments and
    cleanlab.rank.get_label_quality_scores. Prints precision / recall / F1 of the flagged
    items against truth/flipped.npy over the original (non-appended) items only, and
    precision@(number flipped) of the quality ranking, with wall seconds per step. Writes
      truth/knn_k{K}_indices.npy    int64 (n_total, K), self excluded
      truth/knn_k{K}_distances.npy  float32 (n_total, K), euclidean, nearest first
      truth/cleanlab_k{K}_audit.csv item,is_label_issue,label_quality,duplicate_group,
                                    is_exact_duplicate (duplicate columns left empty)
    so the Rust tool can be given the same graph:
      ivt-explore audit OUT_DIR --knn truth/knn_k10_indices.npy
                                --knn-distances truth/knn_k10_distances.npy

score OUT_DIR AUDIT.csv
    Read an audit CSV (column names: the *_COLUMNS constants below, matched case-insensitively;
    items absent from the CSV count as not flagged, with the worst quality) and print
      * label issues: P / R / F1 of is_label_issue over the original items, and
        precision@(number flipped) of the ranking by ascending label_quality (ties by item);
      * duplicates: an injected pair (item, original) is found when both share one non-empty
        duplicate_group (recall, overall and per kind); precision = fraction of the items in
        groups (of two or more) that are injected copies, their originals, or rows
        byte-identical to another original row (pre-existing duplicates, reported apart);
        is_exact_duplicate is checked against the injected kinds.

Only numpy, scikit-learn and cleanlab (2.x) are needed (Pillow for `make`'s PNGs).
Example:
    .venv/bin/python scripts/quality_bench.py make DATA/fashion_mnist_20k DATA/fmnist20k_noisy
    .venv/bin/python scripts/quality_bench.py cleanlab DATA/fmnist20k_noisy -k 10
    .venv/bin/python scripts/quality_bench.py score DATA/fmnist20k_noisy audit.csv
"""
import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
import time

import numpy as np

# Audit CSV columns: accepted header names, first is the canonical one (case-insensitive).
ITEM_COLUMNS = ("item", "index", "id", "row")
IS_ISSUE_COLUMNS = ("is_label_issue", "label_issue", "is_issue", "flagged")
QUALITY_COLUMNS = ("label_quality", "label_quality_score", "quality", "score")
DUP_GROUP_COLUMNS = ("duplicate_group", "dup_group", "duplicate_set", "group")
IS_EXACT_COLUMNS = ("is_exact_duplicate", "exact_duplicate", "is_exact", "exact")
# duplicate_group values that mean "in no group".
NO_GROUP = {"", "-1", "none", "nan", "null", "na", "n/a"}
TRUE_WORDS = {"1", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "false", "f", "no", "n", ""}

TRUTH = "truth"


def log(msg):
    print(msg, flush=True)


class Timer:
    """Prints and records wall seconds of a named step."""

    def __init__(self):
        self.steps = []

    def __call__(self, name):
        timer = self

        class _Step:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                dt = time.perf_counter() - self.t0
                timer.steps.append((name, dt))
                log(f"[time] {name}: {dt:.2f} s")

        return _Step()

    def total(self):
        return sum(dt for _, dt in self.steps)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def identical_row_groups(feats):
    """Groups (lists of row indices, each of size >= 2) of byte-identical feature rows."""
    feats = np.ascontiguousarray(feats)
    by_hash = {}
    for i in range(feats.shape[0]):
        by_hash.setdefault(hashlib.blake2b(feats[i].tobytes(), digest_size=16).digest(), []).append(i)
    return sorted((g for g in by_hash.values() if len(g) > 1), key=lambda g: g[0])


def image_names(src_images, n, meta):
    """The source PNG file names of rows 0..n-1, in row order."""
    fmt = meta.get("png_name_format")
    if fmt:
        names = [fmt.format(i=i) for i in range(n)]
        if all(os.path.exists(os.path.join(src_images, x)) for x in (names[0], names[-1])):
            return names
    names = sorted(x for x in os.listdir(src_images) if x.lower().endswith(".png"))
    if len(names) != n:
        sys.exit(f"{src_images}: {len(names)} PNG files for {n} rows")
    return names


# ------------------------------------------------------------------------------- make
def cmd_make(a):
    from PIL import Image

    src, out = a.data_dir, a.out_dir
    feats = np.load(os.path.join(src, "features.npy"))
    labels = np.load(os.path.join(src, "labels.npy")).astype(np.int64)
    with open(os.path.join(src, "meta.json")) as f:
        meta = json.load(f)
    n, d = feats.shape
    if labels.shape != (n,):
        sys.exit(f"labels.npy has shape {labels.shape}, features.npy {feats.shape}")
    n_classes = int(len(meta.get("label_names") or []) or labels.max() + 1)
    hw = meta.get("image_hw") or [28, 28]
    pixels = np.rint(feats.astype(np.float64) * 255.0)
    derivable = (hw[0] * hw[1] == d and pixels.min() >= 0 and pixels.max() <= 255
                 and np.array_equal((pixels / 255.0).astype(np.float32), feats))
    if a.near > 0 and not derivable:
        sys.exit("near copies need features = uint8 pixels / 255 with d = image height x width "
                 "(Fashion-MNIST, mnist10k); this data set is not of that kind")
    pixels = pixels.astype(np.uint8)
    src_images = os.path.join(src, "images")
    names = image_names(src_images, n, meta) if os.path.isdir(src_images) else None

    if os.path.exists(out):
        if os.listdir(out) and not os.path.exists(os.path.join(out, TRUTH, "manifest.json")):
            sys.exit(f"{out} exists, is not empty and was not written by this script")
        shutil.rmtree(out)
    os.makedirs(os.path.join(out, TRUTH))

    rng = np.random.default_rng(a.seed)
    # (a) label noise: a uniform other class for a seeded subset.
    n_flip = int(round(a.flip * n))
    flipped = np.sort(rng.choice(n, n_flip, replace=False)).astype(np.int64)
    noisy = labels.copy()
    noisy[flipped] = (labels[flipped] + rng.integers(1, n_classes, size=n_flip)) % n_classes
    assert np.all(noisy[flipped] != labels[flipped])

    # (b) duplicates of distinct originals, appended in a shuffled order.
    n_dup = a.exact + a.near
    originals = rng.choice(n, n_dup, replace=False).astype(np.int64)
    kinds = np.array(["exact"] * a.exact + ["near"] * a.near)
    new_rows, new_pixels = [], []
    for o, kind in zip(originals, kinds):
        if kind == "exact":
            new_rows.append(feats[o])
            new_pixels.append(pixels[o] if derivable else None)
        else:
            while True:
                noise = np.rint(rng.normal(0.0, a.near_sigma, size=d))
                p = np.clip(pixels[o].astype(np.float64) + noise, 0, 255).astype(np.uint8)
                if not np.array_equal(p, pixels[o]):
                    break
            new_pixels.append(p)
            new_rows.append((p.astype(np.float32) / np.float32(255.0)).astype(np.float32))
    order = rng.permutation(n_dup)
    originals, kinds = originals[order], kinds[order]
    new_rows = [new_rows[i] for i in order]
    new_pixels = [new_pixels[i] for i in order]
    n_total = n + n_dup
    dup_items = np.arange(n, n_total, dtype=np.int64)

    all_feats = np.ascontiguousarray(np.concatenate([feats, np.array(new_rows, dtype=np.float32).reshape(n_dup, d)]),
                                     dtype=np.float32)
    all_noisy = np.concatenate([noisy, noisy[originals]]).astype(np.int64)
    all_true = np.concatenate([labels, labels[originals]]).astype(np.int64)
    np.save(os.path.join(out, "features.npy"), all_feats)
    np.save(os.path.join(out, "labels.npy"), all_noisy)
    np.save(os.path.join(out, TRUTH, "labels_true.npy"), all_true)
    np.save(os.path.join(out, TRUTH, "flipped.npy"), flipped)
    with open(os.path.join(out, TRUTH, "duplicates.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item", "original_item", "kind"])
        for it, o, kind in zip(dup_items, originals, kinds):
            w.writerow([int(it), int(o), kind])

    groups = identical_row_groups(feats)
    with open(os.path.join(out, TRUTH, "preexisting_identical.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item", "group"])
        for gi, g in enumerate(groups):
            for it in g:
                w.writerow([it, gi])
    conflicting = sum(1 for g in groups if len(set(labels[g].tolist())) > 1)

    # images/: symlinks to the originals, files for the copies, one zero-padded name width.
    width = None
    if names is not None:
        width = max(5, len(str(n_total - 1)))
        img_dir = os.path.join(out, "images")
        os.makedirs(img_dir)
        src_abs = os.path.realpath(src_images)
        for i, name in enumerate(names):
            target = os.path.join(src_abs, name)
            link = os.path.join(img_dir, f"{i:0{width}d}.png")
            if a.copy_images:
                shutil.copyfile(target, link)
            else:
                os.symlink(os.path.realpath(target), link)
        for it, o, kind, p in zip(dup_items, originals, kinds, new_pixels):
            dst = os.path.join(img_dir, f"{it:0{width}d}.png")
            if kind == "exact":
                shutil.copyfile(os.path.join(src_abs, names[o]), dst)
            else:
                im = Image.fromarray(np.ascontiguousarray(p.reshape(hw[0], hw[1])))
                im.save(dst, format="PNG", optimize=False)
    else:
        log(f"[make] {src} has no images/: writing none")

    m = dict(meta)
    m.update({
        "name": os.path.basename(os.path.normpath(out)),
        "n": n_total,
        "d": d,
        "png_written": names is not None,
        "png_name_format": f"{{i:0{width}d}}.png" if width else None,
        "label_counts": np.bincount(all_noisy, minlength=n_classes).tolist(),
        "sha256_features": sha256_file(os.path.join(out, "features.npy")),
        "sha256_labels": sha256_file(os.path.join(out, "labels.npy")),
        "derived_from": os.path.realpath(src),
        "derivation": (f"scripts/quality_bench.py make: {a.flip:g} of labels flipped, {a.exact} exact and "
                       f"{a.near} near copies appended, seed {a.seed}; truth in {TRUTH}/"),
    })
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(m, f, indent=1, sort_keys=True)
    manifest = {
        "source": os.path.realpath(src), "seed": a.seed, "flip": a.flip, "exact": a.exact,
        "near": a.near, "near_sigma": a.near_sigma, "n_original": n, "n_total": n_total,
        "n_classes": n_classes, "n_flipped": n_flip,
        "flipped_among_duplicated_originals": int(np.isin(originals, flipped).sum()),
        "preexisting_identical_groups": len(groups),
        "preexisting_identical_rows": int(sum(len(g) for g in groups)),
        "preexisting_identical_redundant_rows": int(sum(len(g) - 1 for g in groups)),
        "preexisting_identical_groups_with_conflicting_labels": conflicting,
    }
    with open(os.path.join(out, TRUTH, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    near_d = [float(np.linalg.norm(all_feats[it].astype(np.float64) - feats[o]))
              for it, o, kind in zip(dup_items, originals, kinds) if kind == "near"]
    log(f"[make] {out}: n={n_total} ({n} original + {a.exact} exact + {a.near} near copies), "
        f"{n_flip} labels flipped ({manifest['flipped_among_duplicated_originals']} of them among "
        f"the duplicated originals)")
    if near_d:
        log(f"[make] near copies: euclidean distance to original median {np.median(near_d):.4f} "
            f"(min {min(near_d):.4f}, max {max(near_d):.4f})")
    log(f"[make] source already holds {len(groups)} groups of byte-identical feature rows "
        f"({manifest['preexisting_identical_rows']} rows, "
        f"{manifest['preexisting_identical_redundant_rows']} redundant; {conflicting} groups with "
        f"conflicting labels)")


# ------------------------------------------------------------------------------- cleanlab
def load_manifest(out):
    with open(os.path.join(out, TRUTH, "manifest.json")) as f:
        return json.load(f)


def exact_knn(x, k, jobs):
    """k nearest other items of every row: int64 / float32 (n, k), nearest first."""
    from sklearn.neighbors import NearestNeighbors

    n = x.shape[0]
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="euclidean", n_jobs=jobs).fit(x)
    dist, idx = nn.kneighbors(x)
    is_self = idx == np.arange(n)[:, None]
    has_self = is_self.any(axis=1)
    keep = ~is_self
    keep[~has_self, -1] = False                  # self outside the k+1 (many ties): drop the last
    idx = idx[keep].reshape(n, k).astype(np.int64)
    sk = dist[keep].reshape(n, k)
    # Distances recomputed in float64 (no |a|^2 + |b|^2 - 2ab cancellation), rows re-sorted.
    exact = np.empty((n, k), dtype=np.float64)
    x64 = x.astype(np.float64)
    for s in range(0, n, 2048):
        e = min(n, s + 2048)
        diff = x64[idx[s:e]] - x64[s:e, None, :]
        exact[s:e] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    order = np.lexsort((idx, exact), axis=-1)
    idx = np.take_along_axis(idx, order, axis=1)
    exact = np.take_along_axis(exact, order, axis=1)
    sk = np.take_along_axis(sk, order, axis=1)
    return idx, exact.astype(np.float32), int(n - has_self.sum()), float(np.abs(sk - exact).max())


def knn_probs(idx, dist, labels, n_classes, eps, smooth):
    """Out-of-sample kNN class probabilities, inverse-distance weighted and smoothed."""
    n, k = idx.shape
    w = 1.0 / (dist.astype(np.float64) + eps)
    p = np.zeros((n, n_classes))
    np.add.at(p, (np.repeat(np.arange(n), k), labels[idx].ravel()), w.ravel())
    p /= p.sum(axis=1, keepdims=True)
    return (1.0 - smooth) * p + smooth / n_classes


def prf(flagged, truth):
    tp = int(np.sum(flagged & truth))
    fp = int(np.sum(flagged & ~truth))
    fn = int(np.sum(~flagged & truth))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f1, tp, fp, fn


def precision_at(quality, truth, m):
    """Precision of the m items with the lowest quality (ties by item index)."""
    order = np.lexsort((np.arange(len(quality)), quality))
    return float(truth[order[:m]].mean()) if m else 0.0


def cmd_cleanlab(a):
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    out, k = a.out_dir, a.k
    t = Timer()
    with t("load"):
        man = load_manifest(out)
        x = np.load(os.path.join(out, "features.npy"))
        labels = np.load(os.path.join(out, "labels.npy")).astype(np.int64)
        flipped = np.load(os.path.join(out, TRUTH, "flipped.npy"))
    n0, n = man["n_original"], x.shape[0]
    n_classes = man["n_classes"]
    truth = np.zeros(n0, dtype=bool)
    truth[flipped] = True
    log(f"[cleanlab] {out}: n={n} (original {n0}), d={x.shape[1]}, k={k}, {len(flipped)} flipped")
    with t(f"exact kNN (sklearn brute, k+1={k + 1})"):
        idx, dist, no_self, max_dev = exact_knn(x, k, a.jobs)
    log(f"[cleanlab] rows whose k+1 list lacked the item itself (identical-row ties): {no_self}; "
        f"max |sklearn - float64| distance {max_dev:.2e}; zero distances: {int((dist == 0).sum())}")
    ip = os.path.join(out, TRUTH, f"knn_k{k}_indices.npy")
    dp = os.path.join(out, TRUTH, f"knn_k{k}_distances.npy")
    np.save(ip, idx)
    np.save(dp, dist)
    with t("kNN class probabilities"):
        pred_probs = knn_probs(idx, dist, labels, n_classes, a.eps, a.smooth)
    with t("cleanlab.filter.find_label_issues (defaults)"):
        issues = find_label_issues(labels, pred_probs)
    with t("cleanlab.rank.get_label_quality_scores"):
        quality = get_label_quality_scores(labels, pred_probs)
    log(f"[time] total: {t.total():.2f} s")

    acc = float((pred_probs.argmax(1)[:n0] == np.load(os.path.join(out, TRUTH, "labels_true.npy"))[:n0]).mean())
    p, r, f1, tp, fp, fn = prf(issues[:n0], truth)
    pk = precision_at(quality[:n0], truth, len(flipped))
    log(f"[cleanlab] kNN accuracy vs true labels (original items): {acc:.4f}")
    log(f"[cleanlab] flagged {int(issues.sum())} of {n} ({int(issues[:n0].sum())} original, "
        f"{int(issues[n0:].sum())} appended)")
    log(f"[cleanlab] label issues (original items): precision {p:.4f}  recall {r:.4f}  F1 {f1:.4f}  "
        f"(tp {tp}, fp {fp}, fn {fn})")
    log(f"[cleanlab] precision@{len(flipped)} of label quality ranking: {pk:.4f}")
    csv_path = os.path.join(out, TRUTH, f"cleanlab_k{k}_audit.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([ITEM_COLUMNS[0], IS_ISSUE_COLUMNS[0], QUALITY_COLUMNS[0], DUP_GROUP_COLUMNS[0],
                    IS_EXACT_COLUMNS[0]])
        for i in range(n):
            w.writerow([i, "true" if issues[i] else "false", f"{quality[i]:.6g}", "", ""])
    log(f"[cleanlab] wrote {ip}, {dp}, {csv_path}")


# ------------------------------------------------------------------------------- score
def find_column(header, names, required=True):
    low = [h.strip().lower() for h in header]
    for nm in names:
        if nm in low:
            return low.index(nm)
    if required:
        sys.exit(f"audit CSV: no column among {list(names)} in header {header}")
    return None


def parse_bool(s, where):
    v = s.strip().lower()
    if v in TRUE_WORDS:
        return True
    if v in FALSE_WORDS:
        return False
    sys.exit(f"{where}: '{s}' is not a boolean")


def cmd_score(a):
    out = a.out_dir
    man = load_manifest(out)
    n0, n = man["n_original"], man["n_total"]
    flipped = np.load(os.path.join(out, TRUTH, "flipped.npy"))
    truth = np.zeros(n0, dtype=bool)
    truth[flipped] = True
    pairs = []
    with open(os.path.join(out, TRUTH, "duplicates.csv")) as f:
        for row in csv.DictReader(f):
            pairs.append((int(row["item"]), int(row["original_item"]), row["kind"]))
    pre_path = os.path.join(out, TRUTH, "preexisting_identical.csv")
    pre_group = {}
    if os.path.exists(pre_path):
        with open(pre_path) as f:
            for row in csv.DictReader(f):
                pre_group[int(row["item"])] = int(row["group"])
    else:
        src = np.load(os.path.join(out, "features.npy"), mmap_mode="r")[:n0]
        for gi, g in enumerate(identical_row_groups(np.asarray(src))):
            for it in g:
                pre_group[it] = gi

    issue = np.zeros(n, dtype=bool)
    quality = np.full(n, np.inf)
    group = [None] * n
    exact_flag = np.zeros(n, dtype=bool)
    seen = np.zeros(n, dtype=bool)
    with open(a.audit_csv, newline="") as f:
        rd = csv.reader(f)
        header = next(rd)
        ci = find_column(header, ITEM_COLUMNS)
        cis = find_column(header, IS_ISSUE_COLUMNS, required=False)
        cq = find_column(header, QUALITY_COLUMNS, required=False)
        cg = find_column(header, DUP_GROUP_COLUMNS, required=False)
        ce = find_column(header, IS_EXACT_COLUMNS, required=False)
        for line, row in enumerate(rd, start=2):
            if not row:
                continue
            where = f"{a.audit_csv}:{line}"
            i = int(row[ci])
            if not 0 <= i < n:
                sys.exit(f"{where}: item {i} outside 0..{n}")
            seen[i] = True
            if cis is not None:
                issue[i] = parse_bool(row[cis], where)
            if cq is not None and row[cq].strip():
                quality[i] = float(row[cq])
            if cg is not None and row[cg].strip().lower() not in NO_GROUP:
                group[i] = row[cg].strip()
            if ce is not None:
                exact_flag[i] = parse_bool(row[ce], where)
    log(f"[score] {a.audit_csv}: {int(seen.sum())} of {n} items listed; columns: "
        f"is_label_issue {'yes' if cis is not None else 'NO'}, label_quality {'yes' if cq is not None else 'NO'}, "
        f"duplicate_group {'yes' if cg is not None else 'NO'}, is_exact_duplicate {'yes' if ce is not None else 'NO'}")

    # Label issues, over the original items.
    if cis is not None:
        p, r, f1, tp, fp, fn = prf(issue[:n0], truth)
        log(f"[score] label issues (original items): flagged {int(issue[:n0].sum())}  precision {p:.4f}  "
            f"recall {r:.4f}  F1 {f1:.4f}  (tp {tp}, fp {fp}, fn {fn}); appended items flagged: "
            f"{int(issue[n0:].sum())}")
    if cq is not None:
        log(f"[score] precision@{len(flipped)} by ascending label_quality: "
            f"{precision_at(quality[:n0], truth, len(flipped)):.4f}")

    # Duplicates.
    if cg is None:
        return
    members = {}
    for i, g in enumerate(group):
        if g is not None:
            members.setdefault(g, []).append(i)
    singletons = [g for g, m in members.items() if len(m) < 2]
    grouped = [i for g, m in members.items() if len(m) >= 2 for i in m]
    found = {"exact": [0, 0], "near": [0, 0]}
    for it, o, kind in pairs:
        found[kind][1] += 1
        if group[it] is not None and group[it] == group[o]:
            found[kind][0] += 1
    tot_found = sum(v[0] for v in found.values())
    tot = sum(v[1] for v in found.values())
    injected = set()
    for it, o, _ in pairs:
        injected.update((it, o))
    inj = sum(1 for i in grouped if i in injected)
    pre = sum(1 for i in grouped if i not in injected and i in pre_group)
    other = [i for i in grouped if i not in injected and i not in pre_group]
    log(f"[score] duplicate recall: {tot_found}/{tot} = {tot_found / max(tot, 1):.4f}  "
        + "  ".join(f"{k} {v[0]}/{v[1]}" for k, v in found.items()))
    log(f"[score] duplicate groups: {len(members) - len(singletons)} (of 2+ items; {len(singletons)} "
        f"one-item groups ignored) holding {len(grouped)} items: {inj} injected copies/originals, "
        f"{pre} other pre-existing identical rows, {len(other)} unexplained")
    if grouped:
        log(f"[score] duplicate precision: {(inj + pre) / len(grouped):.4f} "
            f"(injected only: {inj / len(grouped):.4f})")
    n_pre_rows = len(pre_group)
    n_pre_found = sum(1 for i in pre_group if group[i] is not None
                      and any(group[j] == group[i] for j in pre_group if j != i and pre_group[j] == pre_group[i]))
    log(f"[score] pre-existing identical rows in the source: {n_pre_rows} in "
        f"{len(set(pre_group.values()))} groups; {n_pre_found} of them grouped with an identical twin")
    if other:
        x = np.load(os.path.join(out, "features.npy"), mmap_mode="r")
        ds = []
        for i in other:
            mates = [j for j in members[group[i]] if j != i]
            ds.append(min(float(np.linalg.norm(np.asarray(x[i], np.float64) - x[j])) for j in mates))
        q = np.percentile(ds, [0, 50, 90, 100])
        log(f"[score] unexplained grouped items: distance to nearest group mate min {q[0]:.4f} "
            f"median {q[1]:.4f} p90 {q[2]:.4f} max {q[3]:.4f}; e.g. items {other[:8]}")
    if ce is not None:
        ex = [it for it, _, k in pairs if k == "exact"]
        nr = [it for it, _, k in pairs if k == "near"]
        log(f"[score] is_exact_duplicate: exact copies flagged {int(exact_flag[ex].sum())}/{len(ex)}, "
            f"near copies flagged {int(exact_flag[nr].sum())}/{len(nr)}, items flagged in all "
            f"{int(exact_flag.sum())}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make", help="inject label noise and duplicates into a copy of a data set")
    m.add_argument("data_dir")
    m.add_argument("out_dir")
    m.add_argument("--flip", type=float, default=0.05, help="fraction of labels flipped (default 0.05)")
    m.add_argument("--exact", type=int, default=200, help="exact copies appended (default 200)")
    m.add_argument("--near", type=int, default=200, help="near copies appended (default 200)")
    m.add_argument("--near-sigma", type=float, default=2.0, help="near-copy noise, grey levels (default 2)")
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--copy-images", action="store_true", help="copy the original PNGs instead of symlinking")
    c = sub.add_parser("cleanlab", help="kNN + cleanlab reference on a `make` output")
    c.add_argument("out_dir")
    c.add_argument("-k", type=int, default=10)
    c.add_argument("--eps", type=float, default=1e-3, help="weights are 1/(d + eps) (default 1e-3)")
    c.add_argument("--smooth", type=float, default=1e-3,
                   help="p = (1 - s) p + s / C so no class is 0 (default 1e-3)")
    c.add_argument("--jobs", type=int, default=None, help="NearestNeighbors n_jobs")
    s = sub.add_parser("score", help="score an audit CSV against a `make` output's truth")
    s.add_argument("out_dir")
    s.add_argument("audit_csv")
    a = ap.parse_args()
    {"make": cmd_make, "cleanlab": cmd_cleanlab, "score": cmd_score}[a.cmd](a)


if __name__ == "__main__":
    main()
