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

from multilevel.design.fixed import RANK_TOL
from multilevel.design.random import level_label
from multilevel.design.values import r_level_order
from multilevel.errors import DataError
from multilevel.formula.rnames import lme4_name
from multilevel.objective.crossprod import CrossProducts, ThetaMap, group_cross
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
    C = Xy.T @ Xy
    if not np.all(np.isfinite(np.diag(C))):
        bad = [n for n, v in zip(enc.fixed_raw, np.diag(C), strict=False) if not np.isfinite(v)]
        raise DataError(
            f"the model matrix has non-finite values in column(s) {bad} (e.g. log "
            "of zero or a negative number)"
        )
    codes, labels = group_codes(rows[enc.group])
    counts = np.bincount(codes, minlength=labels.shape[0])
    xkeys = [column_key(n) for n in enc.fixed_raw] + ["\0y"]
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
        yy=float(y @ y),
        y_range=(float(y.min()), float(y.max())),
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
    )


def aliased_from_crossprod(XtX: np.ndarray, tol: float = RANK_TOL) -> list[int]:
    """Columns that are linear combinations of earlier ones, from X'X alone: column j is aliased
    when its distance from the span of the kept earlier columns (R_jj of a Cholesky factor built
    column by column) is below ``tol`` times its norm, as ``aliased_columns`` does with a QR."""
    k = XtX.shape[0]
    norms = np.sqrt(np.maximum(np.diag(XtX), 0.0))
    if k and np.all(norms > 0):
        try:
            ratio = np.diag(np.linalg.cholesky(XtX / np.outer(norms, norms)))
            if np.all(ratio > 1e-4):
                return []
        except np.linalg.LinAlgError:
            pass
    kept: list[int] = []
    aliased = []
    R = np.zeros((k, k))
    for j in range(k):
        r = XtX[kept, j].astype(float)
        if kept:
            Rk = R[np.ix_(range(len(kept)), range(len(kept)))]
            r = np.linalg.solve(Rk.T, r)  # R_k' r = X_k'x_j
        d2 = XtX[j, j] - float(r @ r)
        if norms[j] == 0 or np.sqrt(max(d2, 0.0)) <= tol * norms[j]:
            aliased.append(j)
            continue
        m = len(kept)
        R[:m, m] = r
        R[m, m] = np.sqrt(d2)
        kept.append(j)
    return aliased


@dataclass(frozen=True)
class Totals:
    """What the fit needs besides the cross-products: names, levels, counts, checks."""

    fixed_names: tuple[str, ...]
    dropped_names: tuple[str, ...]
    keep: tuple[int, ...]
    group_levels: tuple[str, ...]
    group_values: np.ndarray  # raw values in level order
    group_sizes: np.ndarray  # rows per group, in level order
    n_input: int
    n_dropped: int
    dropped_by: dict[str, int]


def _factor_order(labels: np.ndarray) -> np.ndarray:
    """The order of R's factor levels: numbers numerically, text in R's collation (as the
    in-memory model frame orders a text grouping column)."""
    if labels.dtype.kind in "iuf":
        return np.argsort(labels, kind="stable")
    # text ids that are plain integers (read from a CSV as text): numeric order, as in memory
    return np.array(r_level_order([str(v) for v in labels], ids=True), dtype=np.int64)


def cross_products_of(stats: PartialStats, enc: Encoding) -> tuple[CrossProducts, Totals]:
    """The core's CrossProducts from the total statistics: groups in R's factor order, aliased
    fixed-effect columns dropped (as lme4), and lme4's checks on the number of levels."""
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
    drop = aliased_from_crossprod(stats.C[:P, :P])
    keep = [j for j in range(P) if j not in drop]
    cols = keep + [P]
    B = np.ascontiguousarray(B[:, cols, :])
    C = stats.C[np.ix_(cols, cols)]
    names = [lme4_name(enc.fixed_raw[j]) for j in range(P)]
    n = stats.n
    for t in enc.terms:
        if G < 2:
            raise DataError(
                f"grouping factor {enc.group!r} has only {G} level in the rows used; "
                "a random effect needs at least 2 groups"
            )
        if G >= n or G * t.q >= n:
            raise DataError(
                f"term '{t.name}' has {G * t.q} random effects ({G} groups x {t.q}) "
                f"for {n} observations; the model is unidentifiable"
            )
    if stats.y_range[0] == stats.y_range[1]:
        raise DataError(f"the outcome {enc.formula.response!r} is constant in every row used")
    rows, colsm, index = [], [], []
    off = k = 0
    for t in enc.terms:
        for r, c in zip(*t.tril, strict=True):
            rows.append(off + r)
            colsm.append(off + c)
            index.append(k)
            k += 1
        off += t.q
    fmap = ThetaMap(np.array(rows, int), np.array(colsm, int), np.array(index, int))
    xp = CrossProducts(
        n=n,
        p=len(keep),
        G=G,
        Q=enc.Q,
        first_map=fmap,
        first_theta=np.arange(k),
        A=np.ascontiguousarray(A),
        B=B,
        C=C,
        n_rest=0,
        B_rest=None,
        rest_map=(np.zeros(0, int), np.zeros(0, int), np.zeros(0, int)),
        yy=stats.yy,
    )
    totals = Totals(
        fixed_names=tuple(names[j] for j in keep),
        dropped_names=tuple(names[j] for j in drop),
        keep=tuple(keep),
        group_levels=tuple(level_label(v) for v in values),
        group_values=values,
        group_sizes=stats.counts[order],
        n_input=stats.n_input,
        n_dropped=stats.n_input - n,
        dropped_by=dict(stats.dropped_by),
    )
    return xp, totals
