"""What users pass, made into what the engine takes.

Feature matrices arrive as numpy arrays of any number type and order, non-contiguous views,
torch tensors (on any device, with or without gradients) or anything with ``__array__``; labels
as integers or strings. They become C-ordered float32 matrices and integer codes, or a
``ValueError`` that names the argument and the problem. Non-finite values are found by the
engine (it names their row and column without a second pass in Python).
"""

from __future__ import annotations

import numbers
import os

import numpy as np


def matrix(x, name="X", dims=None):
    """``x`` as a C-contiguous float32 array of shape (n, d)."""
    if isinstance(x, (str, bytes, os.PathLike)):
        raise ValueError(
            f"{name} is a path ({os.fspath(x)!r}); this function takes an array "
            "(load it with numpy.load, or give the path to show())"
        )
    # A torch tensor: off the autograd graph and onto the CPU first, as numpy() requires.
    if hasattr(x, "detach") and hasattr(x, "cpu") and not isinstance(x, np.ndarray):
        x = x.detach().cpu()
    try:
        a = np.asarray(x)
    except Exception as e:  # noqa: BLE001 - any failure to convert is the input's problem
        raise ValueError(f"{name} cannot be read as an array: {e}") from e
    if a.dtype.kind not in "fiub":
        raise ValueError(
            f"{name} has dtype {a.dtype}; expected numbers (float16/32/64 or integers)"
        )
    if a.ndim != 2:
        raise ValueError(
            f"{name} must be 2-dimensional (items × features); it has shape {a.shape}"
        )
    if dims is not None and a.shape[1] != dims:
        raise ValueError(f"{name} has {a.shape[1]} columns; expected {dims}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {a.shape})")
    # float64 values beyond float32's range become ±inf here; the engine reports them by row
    # and column like any other non-finite value.
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(a, dtype=np.float32)


def _is_missing(v):
    return v is None or (isinstance(v, numbers.Real) and v != v)


def categories(values, n, name="labels"):
    """Per-item categories as (codes uint32 [n], names list[str], the distinct values).

    Integers and strings (and anything numpy orders) are accepted; a missing value (None,
    NaN) is an error naming its position, since an item with no class cannot be voted on.
    """
    if hasattr(values, "to_numpy"):  # pandas Series / Categorical
        values = values.to_numpy()
    if hasattr(values, "detach") and hasattr(values, "cpu"):
        values = values.detach().cpu()
    a = np.asarray(values)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-dimensional; it has shape {a.shape}")
    if len(a) != n:
        raise ValueError(f"{name} has {len(a)} entries, X has {n} rows")
    if a.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(a))
        if len(bad):
            raise ValueError(f"{name}[{bad[0]}] is {a[bad[0]]}: every item needs a class")
    if a.dtype.kind == "O":
        for i, v in enumerate(a):
            if _is_missing(v):
                raise ValueError(f"{name}[{i}] is {v!r}: every item needs a class")
        try:
            uniques, codes = np.unique(a, return_inverse=True)
        except TypeError:
            # Mixed types (ints and strings): ordered by their text.
            uniques, codes = np.unique(a.astype(str), return_inverse=True)
    else:
        uniques, codes = np.unique(a, return_inverse=True)
    names = [str(u) for u in uniques]
    return np.ascontiguousarray(codes.reshape(-1), dtype=np.uint32), names, uniques
