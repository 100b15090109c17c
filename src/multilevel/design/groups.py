"""Grouping factors as R codes them: one code per row, levels in R's factor order.

Every fit codes its groups here, in memory and chunk by chunk: :func:`group_values` gives each
row the code of its level and each code its value, in one hash pass (integer ids in a compact
range by offset, without hashing; a categorical's own codes as they are) after which only the
few distinct values are sorted (:func:`level_order`) and the codes remapped. A chunked fit codes
each chunk unordered, merges the levels of all chunks by value and orders them once at the end
with the same :func:`level_order`. An interaction ``a:b`` is ordered by a's levels, then b's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from multilevel.design.groupsums import group_sums
from multilevel.design.values import r_level_order
from multilevel.errors import DataError
from multilevel.read.schema import hash_codes


def level_label(value: object) -> str:
    """A level as R prints it: whole-number floats without '.0', logicals FALSE/TRUE."""
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _column_labels(values: np.ndarray) -> list[str]:
    """Labels of one column's levels, vectorised where the type allows."""
    kind: str = values.dtype.kind
    if kind == "O":
        kind = {"string": "U", "integer": "i"}.get(pd.api.types.infer_dtype(values), "O")
    if kind == "U":
        return values.tolist()
    if kind in "iu":
        return values.astype(str).tolist()
    return [level_label(v) for v in values]


def level_labels(values: np.ndarray) -> tuple[str, ...]:
    """The label of each level: (G,) values, or (G, k) rows of an interaction (``a:b``)."""
    if values.ndim == 1:
        return tuple(_column_labels(values))
    parts = [_column_labels(values[:, j]) for j in range(values.shape[1])]
    return tuple(":".join(row) for row in zip(*parts, strict=True))


def _column_order(values: np.ndarray) -> np.ndarray:
    """R's factor order of one column's distinct values: numbers (and logicals) numerically,
    text by R's collation, ids written as plain integers numerically (as ``read.csv`` would
    have read them)."""
    if values.dtype.kind in "iufb":
        return np.argsort(values, kind="stable")
    return np.array(r_level_order([str(v) for v in values], ids=True), dtype=np.int64)


def level_order(values: np.ndarray) -> np.ndarray:
    """Positions of the levels ``values`` ((G,), or (G, k) for an interaction) in R's order;
    an interaction by its first column's order, then the second's, and so on."""
    if values.ndim == 1:
        return _column_order(values)
    ranks = []
    for j in range(values.shape[1]):
        column = values[:, j]
        codes, uniques = pd.factorize(column)
        try:
            distinct = np.asarray(uniques.tolist())  # object columns of numbers: numerically
        except (TypeError, ValueError):
            distinct = np.asarray(uniques, dtype=object)
        if distinct.dtype.kind not in "iufb":
            distinct = np.asarray(uniques, dtype=object)
        rank = np.empty(len(distinct), np.int64)
        rank[_column_order(distinct)] = np.arange(len(distinct))
        ranks.append(rank[codes])
    return np.lexsort(ranks[::-1])


def _dense(v: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes of integers in [lo, hi] by offset (sorted, no hashing) and the values present."""
    v = v - lo
    present = np.bincount(v, minlength=hi - lo + 1) > 0
    if present.all():
        return v, np.arange(lo, hi + 1)
    remap = np.cumsum(present) - 1
    return remap[v], np.flatnonzero(present) + lo


def _compact_range(v: np.ndarray) -> tuple[int, int] | None:
    """(min, max) of integer codes when the range is small enough to count in."""
    if not v.size:
        return None
    lo, hi = int(v.min()), int(v.max())
    return (lo, hi) if hi - lo < 4 * len(v) + 1024 else None


def _reorder(
    codes: np.ndarray, values: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Codes and values with the levels put in ``order`` (no copy when already in it)."""
    if np.array_equal(order, np.arange(len(order))):
        return codes, values
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], values[order]


def used_categories(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Whether each category occurs among a categorical's ``codes`` (none missing): one
    counting pass without an n-long copy of the codes (much cheaper than a sort)."""
    return group_sums(codes, n_categories, [()], lambda _: codes)[()] > 0


def _column_codes(col: pd.Series, ordered: bool) -> tuple[np.ndarray, np.ndarray]:
    """Codes and values of one grouping column (complete rows)."""
    if isinstance(col.dtype, pd.CategoricalDtype):  # its own codes, unused categories dropped
        codes = col.cat.codes.to_numpy()
        if codes.size and codes.min() < 0:
            raise DataError(f"grouping factor {col.name!r} has missing values")
        categories = col.cat.categories.to_numpy()
        used = used_categories(codes, len(categories))
        if used.all():
            return codes, categories
        remap = np.cumsum(used) - 1
        return remap[codes], categories[used]
    if pd.api.types.is_bool_dtype(col):
        codes, values = _dense(col.to_numpy(dtype=bool).astype(np.int64), 0, 1)
        return codes, values.astype(bool)
    if pd.api.types.is_integer_dtype(col):
        v = col.to_numpy(dtype=np.int64)
        bounds = _compact_range(v)
        if bounds is not None:
            return _dense(v, *bounds)
    if ordered and pd.api.types.is_numeric_dtype(col):  # numeric order: pandas sorts in C
        codes, uniques = pd.factorize(col, sort=True)
        return codes, np.asarray(uniques)
    codes, uniques = hash_codes(col)
    values = np.asarray(uniques)
    if ordered:
        return _reorder(codes, values, _column_order(values))
    return codes, values


def group_values(
    data: pd.DataFrame, factors: Sequence[str], *, ordered: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..G-1 of the levels of the interaction of ``factors`` present in ``data`` and
    the value of each level: (G,) for one column, (G, k) rows for k columns.

    ``ordered``: levels in R's order (a categorical's own, else :func:`level_order`), as an
    in-memory fit needs them; otherwise in whatever order one pass gives (a chunk's levels are
    merged with other chunks' by value and ordered once at the end)."""
    parts = [_column_codes(data[f], ordered) for f in factors]
    if len(parts) == 1:
        return parts[0]
    combined = np.zeros(len(data), np.int64)
    for codes, values in parts:
        combined = combined * len(values) + codes
    bounds = _compact_range(combined)
    if bounds is not None:  # sorted: by the first column's levels, then the second's...
        codes, keys = _dense(combined, *bounds)
    else:
        codes, keys = pd.factorize(combined, sort=ordered)
    values = np.empty((len(keys), len(parts)), object)
    rest = np.asarray(keys)
    for j in range(len(parts) - 1, -1, -1):
        size = len(parts[j][1])
        values[:, j] = parts[j][1][rest % size]
        rest = rest // size
    return codes, values


def group_codes(data: pd.DataFrame, factors: Sequence[str]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes (levels in R's order) and the labels of the levels of the interaction of
    ``factors`` present in ``data`` (``a:b`` labels for an interaction)."""
    codes, values = group_values(data, factors)
    return codes, level_labels(values)
