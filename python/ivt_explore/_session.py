"""``show()``: the explorer from a notebook or script, and the labels it gives back.

The explorer runs in its own process (``python -m ivt_explore open …``, the very program the
package installs as ``ivt-explore``), so the notebook stays usable while the window is open and
a crash of one cannot take the other down. Arrays and tables are handed over as files in a
session folder (features as ``.npy``, which the explorer maps rather than reads; metadata as
CSV), removed when the session is closed. Labels are not in that folder: they go to the labels
journal (``labels_out``), which the explorer appends to as the user labels and which
``Session.labels()`` reads live.
"""

from __future__ import annotations

import atexit
import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from . import _native
from ._inputs import matrix

#: Parameters of the reference tool (Interactive t-SNE) accepted under their old names.
_REFERENCE_NAMES = {
    "image_path": "images",
    "image_sort_key": "sort_keys",
    "num_clusters": "clusters",
    "method": "layout",
    "plot_max_n_thumbnails": "max_thumbnails",
}

_LAYOUT_METHODS = ("umap", "tsne", "pca")


def labels(labels_out, n_items=None):
    """The labels in the journal folder ``labels_out`` as ``{item: label}`` (also while an
    explorer is labelling into it). ``n_items``: the data set's size, when known, so that a
    journal of another data set is refused rather than misread."""
    got, warnings = _native.read_labels(os.fspath(labels_out), n_items)
    for w in warnings:
        import warnings as _warnings

        _warnings.warn(f"{os.fspath(labels_out)}: {w}", stacklevel=2)
    return got


def add_labels(labels_out, labels, n_items):
    """Label items from Python, in the journal the explorer uses: ``labels`` maps item → label
    (``None`` removes an item's label). One undoable batch per label, synced to disk before
    this returns; the explorer shows them when it opens the journal. Refused (``ValueError``)
    while an explorer has the journal open, for an item ≥ ``n_items`` and for a label that is
    not a plain folder name. Returns how many items changed."""
    pairs = []
    for item, label in dict(labels).items():
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            raise ValueError(f"labels: item {item!r} is not an item number")
        if item < 0:
            raise ValueError(f"labels: item {item} is negative")
        pairs.append((int(item), None if label is None else str(label)))
    return _native.write_labels(os.fspath(labels_out), int(n_items), pairs)


class Session:
    """An explorer started by :func:`show`: its process, its labels, its end."""

    def __init__(self, process, labels_out, n_items, folder, log_path, command):
        self._process = process
        self.labels_out = labels_out
        self.n_items = n_items
        self._folder = folder
        self._log_path = log_path
        self.command = command

    def __repr__(self):
        state = "running" if self.running else f"ended ({self.returncode})"
        return f"<ivt_explore.Session {state}, labels in {self.labels_out!r}>"

    @property
    def running(self):
        return self._process is not None and self._process.poll() is None

    @property
    def returncode(self):
        return None if self._process is None else self._process.poll()

    def labels(self):
        """The labels given so far, ``{item: label}``, read live from the journal (empty until
        the first label is given)."""
        if not os.path.exists(os.path.join(self.labels_out, "labels.jsonl")):
            return {}
        return labels(self.labels_out, self.n_items)

    def log(self):
        """What the explorer has printed so far."""
        if self._log_path is None or not os.path.exists(self._log_path):
            return ""
        with open(self._log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait(self, timeout=None):
        """Wait until the window is closed; its exit status. An explorer that failed raises
        ``RuntimeError`` with what it printed."""
        if self._process is None:
            return 0
        code = self._process.wait(timeout)
        self._cleanup()
        if code != 0:
            raise RuntimeError(f"the explorer ended with status {code}:\n{self.log()[-4000:]}")
        return code

    def close(self):
        """Close the explorer (if still open) and remove the session's files; the labels stay."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _cleanup(self):
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _program():
    """The ivt-explore program of this package, run by this Python."""
    return [sys.executable, "-m", "ivt_explore"]


def _write_lines(path, values, name):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for i, v in enumerate(values):
            text = str(v)
            if "\n" in text or "\r" in text:
                raise ValueError(f"{name}[{i}] holds a line break: {text!r}")
            f.write(text + "\n")


def _columns(metadata, n):
    """A DataFrame, a pyarrow Table or a dict of columns, as (names, list of columns)."""
    if hasattr(metadata, "to_pydict"):  # pyarrow Table / RecordBatch
        metadata = metadata.to_pydict()
    elif hasattr(metadata, "to_dict") and hasattr(metadata, "columns"):  # pandas DataFrame
        metadata = {str(c): metadata[c].to_numpy() for c in metadata.columns}
    if not isinstance(metadata, dict):
        raise ValueError(
            "metadata must be a pandas DataFrame, a pyarrow Table or a dict of columns; got "
            f"{type(metadata).__name__}"
        )
    names, columns = [], []
    for key, column in metadata.items():
        values = list(np.asarray(column, dtype=object).reshape(-1)) if not isinstance(
            column, list) else column
        if len(values) != n:
            raise ValueError(f"metadata column {key!r} has {len(values)} values, X has {n} rows")
        names.append(str(key))
        columns.append(values)
    return names, columns


def _write_metadata(path, metadata, n):
    names, columns = _columns(metadata, n)
    with open(path, "w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        for i in range(n):
            out.writerow(["" if c[i] is None else c[i] for c in columns])


def _option(key, value):
    flag = "--" + key.replace("_", "-")
    if value is True:
        return [flag]
    if value is False or value is None:
        return []
    if isinstance(value, (tuple, list)):
        value = ",".join(str(v) for v in value)
    return [flag, str(value)]


def show(
    features,
    images=None,
    labels=None,
    metadata=None,
    colors=None,
    layout=None,
    clusters=None,
    sort_keys=None,
    nside=4,
    save_selection_path=None,
    labels_out=None,
    screenshot=None,
    size=(1600, 900),
    max_thumbnails=None,
    vector_column=None,
    image_column=None,
    **view_options,
):
    """Open the explorer on ``features``: an array, a table (a pandas DataFrame or pyarrow
    Table with a column of vectors, ``vector_column``, needed when several columns hold
    vectors; an ``image_column`` of paths; every other column is metadata) or a path the
    ``ivt-explore`` program opens (.npy, .npz, CSV, Parquet, a projector log, an image folder).

    ``images``: the folder of images, one per row (flat, in natural order or by
    ``sort_keys``; or torchvision ``root/<class>/<image>``). ``labels``: a class per item.
    ``metadata``: a DataFrame, pyarrow Table or dict of columns (searchable, colourable).
    ``colors``: a float per item, shown with a colour bar. ``layout``: an (n, 2|3) array, or
    "umap" / "tsne" / "pca" to compute one. ``clusters``: a number of hierarchical clusters
    to colour by. ``nside``: the neighbour grid is nside × nside. ``save_selection_path``:
    images given the first label are also copied there. ``labels_out``: the labels journal's
    folder (default ``ivt-labels/<data set name>``). Other keywords are the program's view
    options (``view="3d"``, ``point_size=4``, ``color_by="class"``, …).

    With ``screenshot="view.png"`` the view is rendered offscreen and ``show`` returns once
    the file is written; otherwise the window opens in its own process and ``show`` returns
    at once. Returns a :class:`Session`.
    """
    # The reference tool's names, for users coming from it (docs/python.md has the table).
    renamed = {new: view_options.pop(old) for old, new in _REFERENCE_NAMES.items()
               if old in view_options}
    images = renamed.get("images", images)
    sort_keys = renamed.get("sort_keys", sort_keys)
    clusters = renamed.get("clusters", clusters)
    max_thumbnails = renamed.get("max_thumbnails", max_thumbnails)
    layout = renamed.get("layout", layout)
    if view_options.pop("plot_thumbnails", True) is False:
        view_options["no_thumbnails"] = True
    folder = tempfile.mkdtemp(prefix="ivt-explore-session-")
    atexit.register(shutil.rmtree, folder, True)
    try:
        args, n_items, name = _arguments(
            folder, features, images, labels, metadata, colors, layout, clusters, sort_keys,
            vector_column, image_column)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if labels_out is None:
        labels_out = _native.default_labels_dir(name)
    labels_out = os.fspath(labels_out)
    args += _option("nside", int(nside))
    args += ["--labels-out", labels_out]
    if save_selection_path is not None:
        args += ["--save-selection-path", os.fspath(save_selection_path)]
    if max_thumbnails is not None:
        args += _option("max_thumbnails", int(max_thumbnails))
    width, height = size
    args += ["--size", f"{int(width)}x{int(height)}"]
    for key, value in view_options.items():
        args += _option(key, value)
    if screenshot is not None:
        command = _program() + ["screenshot"] + args + ["-o", os.fspath(screenshot)]
        done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                              env=_child_env())
        shutil.rmtree(folder, ignore_errors=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"ivt-explore screenshot failed (status {done.returncode}):\n{done.stderr[-4000:]}"
            )
        return Session(None, labels_out, n_items, None, None, command)
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(
            "no display to open the explorer's window on (neither DISPLAY nor WAYLAND_DISPLAY "
            "is set): pass screenshot='view.png' to render the view to a file instead"
        )
    command = _program() + ["open"] + args
    log_path = os.path.join(folder, "explorer.log")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                   env=_child_env())
    return Session(process, labels_out, n_items, folder, log_path, command)


def _child_env():
    """The environment of the explorer's process: its messages name options as keywords
    (``point_size=``), the way the user of :func:`show` passed them."""
    return {**os.environ, "IVT_EXPLORE_OPTION_STYLE": "keywords"}


def _is_table(x):
    """A pandas DataFrame or a pyarrow Table / RecordBatch."""
    return (hasattr(x, "to_pydict") and hasattr(x, "schema")) or (
        hasattr(x, "columns") and hasattr(x, "iloc"))


def _table(folder, table, vector_column, image_column):
    """A table with a vector column, handed over as Parquet (what the program reads with
    --vector-column): one write by pyarrow, one read by the program."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ValueError(
            "features is a table: showing it needs pyarrow (pip install pyarrow), or pass the "
            "vector column as an array (np.stack(df[column])) and the rest as metadata"
        ) from None
    if not hasattr(table, "to_pydict"):
        table = pa.Table.from_pandas(table, preserve_index=False)
    columns = [str(c) for c in table.column_names]
    for what, column in [("vector_column", vector_column), ("image_column", image_column)]:
        if column is not None and column not in columns:
            raise ValueError(f"{what}={column!r}: no such column (the columns: {', '.join(columns)})")
    if image_column is not None:
        # The program resolves relative paths against the Parquet file's folder (the session's):
        # the user meant them from here.
        at = columns.index(image_column)
        paths = [None if p is None else os.path.abspath(os.fspath(p))
                 for p in table.column(at).to_pylist()]
        table = table.set_column(at, table.field(at).name, pa.array(paths, pa.string()))
    # Named by content, as an array is: the same table shown again finds its labels.
    written = os.path.join(folder, "table.parquet")
    pq.write_table(table, written)
    digest = hashlib.blake2b(digest_size=6)
    with open(written, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    name = f"table-{table.num_rows}-{digest.hexdigest()}.parquet"
    path = os.path.join(folder, name)
    os.replace(written, path)
    args = [path]
    if vector_column is not None:
        args += ["--vector-column", str(vector_column)]
    if image_column is not None:
        args += ["--image-column", str(image_column)]
    return args, table.num_rows, name


def _arguments(folder, features, images, labels, metadata, colors, layout, clusters, sort_keys,
               vector_column=None, image_column=None):
    """The program's data arguments, files written into ``folder`` where arrays were given;
    with the number of items when known and the data set's name."""
    if _is_table(features):
        args, n, name = _table(folder, features, vector_column, image_column)
    elif isinstance(features, (str, os.PathLike)):
        path = os.fspath(features)
        if not os.path.exists(path):
            raise ValueError(f"features: {path!r} does not exist")
        args = [path]
        if vector_column is not None:
            args += ["--vector-column", str(vector_column)]
        if image_column is not None:
            args += ["--image-column", str(image_column)]
        n = None
        name = os.path.basename(os.path.normpath(path))
    else:
        if vector_column is not None or image_column is not None:
            raise ValueError("vector_column and image_column name columns of a table (a pandas "
                             "DataFrame, a pyarrow Table or a Parquet file); features is an array")
        x = matrix(features, "features")
        n = x.shape[0]
        # Named by content: the same array shown again finds its labels journal and its cached
        # layouts, as a file would.
        digest = hashlib.blake2b(x.data, digest_size=6).hexdigest()
        name = f"array-{x.shape[0]}x{x.shape[1]}-{digest}.npy"
        path = os.path.join(folder, name)
        np.save(path, x)
        args = [path]

    def need_n(what):
        if n is None:
            raise ValueError(
                f"{what} given as values needs the features as an array (with a path, give "
                "the program's files instead)"
            )

    if images is not None:
        if isinstance(images, (str, os.PathLike)):
            args += ["--images", os.fspath(images)]
        else:
            need_n("images")
            paths = [os.fspath(p) for p in images]
            if len(paths) != n:
                raise ValueError(f"images lists {len(paths)} files, features has {n} rows")
            listing = os.path.join(folder, "images.txt")
            _write_lines(listing, [os.path.abspath(p) for p in paths], "images")
            args += ["--images", listing]
    if sort_keys is not None:
        listing = os.path.join(folder, "sort_keys.txt")
        _write_lines(listing, list(sort_keys), "sort_keys")
        args += ["--sort-keys", listing]
    if labels is not None:
        if isinstance(labels, (str, os.PathLike)):
            args += ["--labels", os.fspath(labels)]
        else:
            need_n("labels")
            values = labels.to_numpy() if hasattr(labels, "to_numpy") else np.asarray(labels)
            if len(values) != n:
                raise ValueError(f"labels has {len(values)} entries, features has {n} rows")
            path = os.path.join(folder, "labels.txt")
            _write_lines(path, list(values), "labels")
            args += ["--labels", path]
    if metadata is not None:
        if isinstance(metadata, (str, os.PathLike)):
            args += ["--metadata", os.fspath(metadata)]
        else:
            need_n("metadata")
            path = os.path.join(folder, "metadata.csv")
            _write_metadata(path, metadata, n)
            args += ["--metadata", path]
    if colors is not None:
        c = np.asarray(colors, dtype=np.float32).reshape(-1)
        if n is not None and len(c) != n:
            raise ValueError(f"colors has {len(c)} values, features has {n} rows")
        path = os.path.join(folder, "colors.npy")
        np.save(path, c)
        args += ["--colors", path]
    if layout is not None:
        if isinstance(layout, str) and layout in _LAYOUT_METHODS:
            args += ["--method", layout]
        elif isinstance(layout, (str, os.PathLike)):
            args += ["--layout", os.fspath(layout)]
        else:
            y = matrix(layout, "layout")
            if y.shape[1] not in (2, 3) or (n is not None and y.shape[0] != n):
                raise ValueError(
                    f"layout has shape {y.shape}; expected ({n if n is not None else 'n'}, 2 or 3)"
                )
            path = os.path.join(folder, "layout.npy")
            np.save(path, y)
            args += ["--layout", path]
    if clusters is not None:
        if isinstance(clusters, (int, np.integer)) and not isinstance(clusters, bool):
            args += ["--clusters", str(int(clusters)), "--color-by", "clusters"]
        else:
            need_n("clusters as an array")
            ids = np.asarray(clusters).reshape(-1)
            if len(ids) != n:
                raise ValueError(f"clusters has {len(ids)} values, features has {n} rows")
            if metadata is not None:
                raise ValueError(
                    "clusters as an array and metadata: add the clusters to the metadata as a "
                    "column and pass color_by='<its name>'"
                )
            path = os.path.join(folder, "metadata.csv")
            _write_metadata(path, {"cluster": [f"cluster {v}" for v in ids]}, n)
            args += ["--metadata", path, "--color-by", "cluster"]
    return args, n, name
