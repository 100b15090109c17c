"""Sufficient statistics of a one-grouping-factor model, accumulated chunk by chunk.

With one grouping factor the profiled deviance needs only A_j = Z_j'Z_j, B_j = Z_j'[X y],
C = [X y]'[X y] and y'y (see NOTES-math). Each chunk is encoded with an :class:`Encoding` learned
once (the same columns for every chunk, categorical levels fixed in advance), its rows with a
missing value are dropped and counted, and its sums by group are formed with ``np.bincount``.
Partial statistics of chunks or partitions add up exactly (:func:`merge`), in any order;
:func:`cross_products_of` turns the total into the core's :class:`CrossProducts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.design.fixed import aliased_columns
from multilevel.design.frame import r_collation_key
from multilevel.design.layout import ModelLayout
from multilevel.design.model import check_levels, data_warnings
from multilevel.design.random import level_label
from multilevel.design.shift import Shift
from multilevel.errors import DataError
from multilevel.formula.rnames import lme4_name
from multilevel.objective.crossprod import CrossProducts, group_cross, theta_maps
from multilevel.sources.chunks import missing_and_infinite
from multilevel.sources.encoding import Encoding, column_key


@dataclass(frozen=True)
class PartialStats:
    """Sums over some rows: per group (labels in code order) and overall. Add with :func:`merge`."""

    n_input: int
    dropped_by: dict[str, int]
    n: int
    labels: np.ndarray  # raw group values, one per group code
    counts: np.ndarray  # (G,) rows per group
    A: np.ndarray  # (Q, Q, G)
    B: np.ndarray  # (Q, P + 1, G)
    C: np.ndarray  # (P + 1, P + 1)
    yy: float
    y_range: tuple[float, float] = field(default=(np.inf, -np.inf))
    y_sum: float = 0.0

    @property
    def G(self) -> int:
        return int(self.labels.shape[0])


def empty_stats(enc: Encoding) -> PartialStats:
    Q, P = enc.Q, len(enc.fixed_raw)
    return PartialStats(
        0,
        {},
        0,
        np.zeros(0),
        np.zeros(0, np.int64),
        np.zeros((Q, Q, 0)),
        np.zeros((Q, P + 1, 0)),
        np.zeros((P + 1, P + 1)),
        0.0,
    )


def _group_cross(
    codes: np.ndarray, counts: np.ndarray, zcols: list, Xy: np.ndarray, xkeys: list
) -> tuple[np.ndarray, np.ndarray]:
    """A_j = Z_j'Z_j and B_j = Z_j'[X y] of a chunk (a key of None is the intercept)."""
    values = {k: v for k, v in zcols if k is not None}
    values.update({k: Xy[:, j] for j, k in enumerate(xkeys) if k is not None})
    z_keys = [() if k is None else (k,) for k, _ in zcols]
    w_keys = [() if k is None else (k,) for k in xkeys]
    return group_cross(codes, counts.shape[0], z_keys, w_keys, values.__getitem__)


def partial_stats(chunk: pd.DataFrame, enc: Encoding) -> PartialStats:
    """The statistics of one chunk (any rows, in any order)."""
    if list(chunk.columns) != list(enc.columns):
        chunk = chunk[list(enc.columns)]
    dropped_by, keep, infinite = missing_and_infinite(chunk)
    for name, inf in infinite.items():
        if (inf & keep).any():
            raise DataError(
                f"column {name!r} has {int((inf & keep).sum())} infinite value(s); "
                "remove or recode them"
            )
    rows = chunk if keep.all() else chunk.loc[keep]
    base = empty_stats(enc)
    if len(rows) == 0:
        return PartialStats(
            len(chunk), dropped_by, 0, base.labels, base.counts, base.A, base.B, base.C, 0.0
        )
    rows = enc.prepare(rows)
    y = enc.outcome(rows)
    Xy, zcols = enc.matrices(rows, y)
    xkeys = [column_key(n) for n in enc.fixed_raw] + ["\0y"]
    if enc.shift is not None:  # [X y] about a shift: a new array (Z keeps the values it read)
        Xy = Xy - enc.shift
        xkeys = [k if k is None else f"\0x{k}" for k in xkeys]
    C = Xy.T @ Xy
    if not np.all(np.isfinite(np.diag(C))):
        bad = [n for n, v in zip(enc.fixed_raw, np.diag(C), strict=False) if not np.isfinite(v)]
        raise DataError(
            f"the model matrix has non-finite values in column(s) {bad} (e.g. log "
            "of zero or a negative number)"
        )
    codes, labels = group_codes(rows[enc.group])
    counts = np.bincount(codes, minlength=labels.shape[0])
    A, B = _group_cross(codes, counts, zcols, Xy, xkeys)
    return PartialStats(
        n_input=len(chunk),
        dropped_by=dropped_by,
        n=len(y),
        labels=labels,
        counts=counts,
        A=A,
        B=B,
        C=C,
        yy=float(Xy[:, -1] @ Xy[:, -1]),
        y_range=(float(y.min()), float(y.max())),
        y_sum=float(Xy[:, -1].sum()),
    )


def group_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..G-1 and the group value of each code, for the groups present in ``col``.
    Integer ids in a compact range are coded by offset (no hashing), others by factorize."""
    if pd.api.types.is_integer_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype):
        v = col.to_numpy(dtype=np.int64)
        lo, hi = int(v.min()), int(v.max())
        if hi - lo < 4 * len(v) + 1024:
            v = v - lo
            present = np.bincount(v, minlength=hi - lo + 1) > 0
            if present.all():
                return v, np.arange(lo, hi + 1)
            remap = np.cumsum(present) - 1
            return remap[v], np.flatnonzero(present) + lo
    codes, uniques = pd.factorize(col, sort=False)
    return codes, np.asarray(uniques)


def merge(a: PartialStats, b: PartialStats) -> PartialStats:
    """The statistics of the rows of ``a`` and ``b`` together (exact: sums add)."""
    if b.G == 0 or a.G == 0:
        big, small = (a, b) if b.G == 0 else (b, a)
        labels, counts, A, B = big.labels, big.counts, big.A, big.B
    else:
        pos = pd.Index(a.labels).get_indexer(b.labels)
        new = pos < 0
        G = a.G + int(new.sum())
        pos[new] = np.arange(a.G, G)
        labels = np.concatenate(
            [
                a.labels.astype(object) if a.labels.dtype != b.labels.dtype else a.labels,
                b.labels[new],
            ]
        )
        counts = np.zeros(G, np.int64)
        A = np.zeros(a.A.shape[:2] + (G,))
        B = np.zeros(a.B.shape[:2] + (G,))
        counts[: a.G], A[..., : a.G], B[..., : a.G] = a.counts, a.A, a.B
        counts[pos] += b.counts
        A[..., pos] += b.A
        B[..., pos] += b.B
    dropped = dict(a.dropped_by)
    for k, v in b.dropped_by.items():
        dropped[k] = dropped.get(k, 0) + v
    return PartialStats(
        n_input=a.n_input + b.n_input,
        dropped_by=dropped,
        n=a.n + b.n,
        labels=labels,
        counts=counts,
        A=A,
        B=B,
        C=a.C + b.C,
        yy=a.yy + b.yy,
        y_range=(min(a.y_range[0], b.y_range[0]), max(a.y_range[1], b.y_range[1])),
        y_sum=a.y_sum + b.y_sum,
    )


@dataclass(frozen=True)
class Totals:
    """What a second pass over the rows needs besides the fit: the kept fixed-effect columns
    and the raw value of each group (in level order)."""

    keep: tuple[int, ...]
    group_values: np.ndarray


def _factor_order(labels: np.ndarray) -> np.ndarray:
    """The order of R's factor levels: numbers numerically, text in R's collation (as the
    in-memory model frame orders a text grouping column)."""
    if labels.dtype.kind in "iuf":
        return np.argsort(labels, kind="stable")
    keys = [r_collation_key(str(v)) for v in labels]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)


def _kept_shift(enc: Encoding, keep: list[int]) -> Shift | None:
    """The shift of the kept columns of X and of y (None without one)."""
    if enc.shift is None:
        return None
    intercept = keep.index(enc.fixed_raw.index("Intercept"))
    return Shift(intercept, enc.shift[keep], float(enc.shift[-1]))


def cross_products_of(
    stats: PartialStats, enc: Encoding
) -> tuple[CrossProducts, ModelLayout, Totals]:
    """The core's CrossProducts and the model's layout from the total statistics: groups in R's
    factor order, aliased fixed-effect columns dropped (as lme4), and lme4's checks on the
    number of levels."""
    if stats.n == 0:
        raise DataError(
            f"no rows left after dropping rows with missing values in {', '.join(stats.dropped_by)}"
            f" ({stats.n_input} rows)"
            if stats.n_input
            else "the data has no rows"
        )
    labels = stats.labels
    if enc.group_order is not None:
        pos = {v: i for i, v in enumerate(enc.group_order)}
        where = np.array([pos.get(v, -1) for v in labels])
        if (where < 0).any():
            bad = labels[where < 0][:5].tolist()
            raise DataError(f"group value(s) {bad} of {enc.group!r} are not in group_levels")
        order = np.argsort(where, kind="stable")
    else:
        order = _factor_order(labels)
    A, B = stats.A[..., order], stats.B[..., order]
    values = labels[order]
    G = values.shape[0]
    P = B.shape[1] - 1
    drop = aliased_columns(None, XtX=stats.C[:P, :P])
    keep = [j for j in range(P) if j not in drop]
    cols = keep + [P]
    B = np.ascontiguousarray(B[:, cols, :])
    C = stats.C[np.ix_(cols, cols)]
    names = [lme4_name(enc.fixed_raw[j]) for j in range(P)]
    n = stats.n
    check_levels(enc.terms, [G] * len(enc.terms), n)
    if stats.y_range[0] == stats.y_range[1]:
        raise DataError(f"the outcome {enc.formula.response!r} is constant in every row used")
    levels = tuple(level_label(v) for v in values)
    layout = ModelLayout(
        formula=enc.formula,
        terms=tuple(t.layout() for t in enc.terms),
        fixed_names=tuple(names[j] for j in keep),
        levels={t.name: levels for t in enc.terms},
        n_obs=n,
        n_input=stats.n_input,
        dropped_by=dict(stats.dropped_by),
        warnings=tuple(
            data_warnings(stats.n_input, n, stats.dropped_by, [names[j] for j in drop])
        ),
        group_sizes={enc.group: stats.counts[order]},
    )
    fmap, first_theta, rest_map = theta_maps(layout)
    xp = CrossProducts(
        n=n,
        p=len(keep),
        G=G,
        Q=enc.Q,
        first_map=fmap,
        first_theta=first_theta,
        A=np.ascontiguousarray(A),
        B=B,
        C=C,
        n_rest=0,
        B_rest=None,
        rest_map=rest_map,
        yy=stats.yy,
        y_var=stats.yy / n - (stats.y_sum / n) ** 2,
        shift=_kept_shift(enc, keep),
    )
    return xp, layout, Totals(keep=tuple(keep), group_values=values)
