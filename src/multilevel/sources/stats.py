"""Sufficient statistics of a linear mixed model, accumulated chunk by chunk.

For every grouping factor f (each distinct ``| g``, ``| a:b``) a chunk gives the per-level
blocks A_f,j = Z_f,j'Z_f,j and B_f,j = Z_f,j'[X y] (see NOTES-math); for every pair of factors
the sparse cross-products Z_f'Z_g (for random intercepts, the number of rows in each pair of
levels); and C = [X y]'[X y]. Each chunk is encoded with an :class:`Encoding` learned once, its
rows with a missing value are dropped and counted. Levels are matched across chunks by their
values, so partial statistics of chunks or partitions add up exactly (:func:`merge`), in any
order; :func:`cross_products_of` orders the levels as R does, makes the factor with most levels
the first block (lme4's order of terms) and assembles the core's :class:`CrossProducts`, the
same an in-memory fit forms. Memory: the statistics (levels x q x p, and the distinct pairs of
levels), not the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from multilevel.design.fixed import aliased_columns
from multilevel.design.frame import check_rows_left, drop_incomplete
from multilevel.design.groups import group_values, level_labels, level_order
from multilevel.design.layout import ModelLayout, lme4_order
from multilevel.design.model import check_levels, check_outcome_varies, data_warnings
from multilevel.design.random_shift import centre_zterms
from multilevel.design.shift import Shift
from multilevel.errors import DataError
from multilevel.objective.crossprod import (
    DENSE_REST_LIMIT,
    CrossProducts,
    group_cross,
    sparse_z,
    theta_maps,
)
from multilevel.sources.encoding import Encoding, GroupFactor, column_key


@dataclass(frozen=True)
class FactorSums:
    """Sums per level of one grouping factor (levels in code order)."""

    labels: np.ndarray  # (G,) raw level values, or (G, k) for an interaction of k columns
    counts: np.ndarray  # (G,) rows per level
    A: np.ndarray  # (Q_f, Q_f, G)
    B: np.ndarray  # (Q_f, P + 1, G)

    @property
    def G(self) -> int:
        return int(self.labels.shape[0])


@dataclass(frozen=True)
class PairSums:
    """Z_f'Z_g of two grouping factors as (row, col, value) triples over their block layouts:
    row l Q_f + i for level l of f and its i-th random effect, col m Q_g + j likewise."""

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray


@dataclass(frozen=True)
class PartialStats:
    """Sums over some rows: per level of each grouping factor, per pair of factors, and
    overall. Add with :func:`merge`."""

    n_input: int
    dropped_by: dict[str, int]
    n: int
    factors: tuple[FactorSums, ...]  # one per Encoding.groups
    pairs: dict[tuple[int, int], PairSums]  # (f, g), f < g
    C: np.ndarray  # (P + 1, P + 1)
    yy: float
    y_range: tuple[float, float] = field(default=(np.inf, -np.inf))
    y_sum: float = 0.0
    log_w: float = 0.0  # sum of log w over the rows (precision weights; 0 without)

    @property
    def G(self) -> int:
        """Levels of the first grouping factor (the only one in most models)."""
        return self.factors[0].G


def empty_stats(enc: Encoding) -> PartialStats:
    P = len(enc.fixed_raw)
    factors = []
    for gf in enc.groups:
        Q = enc.Q_of(gf)
        labels = np.zeros(0) if len(gf.columns) == 1 else np.zeros((0, len(gf.columns)), object)
        factors.append(
            FactorSums(labels, np.zeros(0, np.int64), np.zeros((Q, Q, 0)), np.zeros((Q, P + 1, 0)))
        )
    return PartialStats(0, {}, 0, tuple(factors), {}, np.zeros((P + 1, P + 1)), 0.0)


def _group_cross(
    codes: np.ndarray, G: int, zcols: list, Xy: np.ndarray, xkeys: list
) -> tuple[np.ndarray, np.ndarray]:
    """A_j = Z_j'Z_j and B_j = Z_j'[X y] of a chunk (a key of None is the intercept)."""
    values = {k: v for k, v in zcols if k is not None}
    values.update({k: Xy[:, j] for j, k in enumerate(xkeys) if k is not None})
    z_keys = [() if k is None else (k,) for k, _ in zcols]
    w_keys = [() if k is None else (k,) for k in xkeys]
    return group_cross(codes, G, z_keys, w_keys, values.__getitem__)


def _sparse_z(codes: np.ndarray, G: int, zcols: list) -> sp.spmatrix:
    """Z of one factor as an n x (G Q) sparse matrix, columns l Q + i (a key of None is the
    intercept)."""
    n = codes.shape[0]
    return sparse_z(codes, G, np.column_stack([np.ones(n) if k is None else v for k, v in zcols]))


def partial_stats(chunk: pd.DataFrame, enc: Encoding) -> PartialStats:
    """The statistics of one chunk (any rows, in any order)."""
    if list(chunk.columns) != list(enc.columns):
        chunk = chunk[list(enc.columns)]
    rows, dropped_by = drop_incomplete(chunk)  # as the in-memory model frame drops them
    if len(rows) == 0:
        base = empty_stats(enc)
        return PartialStats(len(chunk), dropped_by, 0, base.factors, {}, base.C, 0.0)
    rows = enc.prepare(rows)
    y = enc.outcome(rows)
    w, off = enc.weights_offset(rows)  # precision weights: rows scaled by sqrt(w)
    sqrt_w = None if w is None else np.sqrt(w)
    Xy, zterms = enc.matrices(rows, y if off is None else y - off, sqrt_w, enc.shift)
    zterms = centre_zterms([t.name for t in enc.terms], zterms, enc.random_shift)  # hook
    xkeys = [column_key(n, w is not None) for n in enc.fixed_raw] + ["\0y"]
    if enc.shift is not None:  # [X y] about a shift (Z keeps the values it read)
        xkeys = [k if k is None else f"\0x{k}" for k in xkeys]
    C = Xy.T @ Xy
    if not np.all(np.isfinite(np.diag(C))):
        bad = [n for n, v in zip(enc.fixed_raw, np.diag(C), strict=False) if not np.isfinite(v)]
        raise DataError(
            f"the model matrix has non-finite values in column(s) {bad} (e.g. log "
            "of zero or a negative number)"
        )
    factors, sparse = [], []
    for gf in enc.groups:
        codes, labels = group_values(rows, gf.columns, ordered=False)  # ordered once, at the end
        G = labels.shape[0]
        zcols = [kc for k in gf.terms for kc in zterms[k]]
        A, B = _group_cross(codes, G, zcols, Xy, xkeys)
        factors.append(FactorSums(labels, np.bincount(codes, minlength=G), A, B))
        if len(enc.groups) > 1:
            sparse.append(_sparse_z(codes, G, zcols))
    pairs = {}
    for f in range(len(sparse)):
        for g in range(f + 1, len(sparse)):
            prod = (sparse[f].T @ sparse[g]).tocoo()
            pairs[f, g] = PairSums(prod.row.astype(np.int64), prod.col.astype(np.int64), prod.data)
    return PartialStats(
        n_input=len(chunk),
        dropped_by=dropped_by,
        n=len(y),
        factors=tuple(factors),
        pairs=pairs,
        C=C,
        yy=float(Xy[:, -1] @ Xy[:, -1]),
        y_range=(float(y.min()), float(y.max())),
        y_sum=float(Xy[:, -1].sum()),
        log_w=0.0 if w is None else float(np.log(w).sum()),
    )


def _match(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each level of ``b`` its position among the levels of ``a`` followed by the new ones,
    and those levels."""
    if a.shape[0] == 0:
        return np.arange(b.shape[0]), b
    if a.ndim == 1:
        pos = pd.Index(a).get_indexer(b)
    else:
        index = pd.MultiIndex.from_arrays([a[:, j] for j in range(a.shape[1])])
        pos = index.get_indexer(pd.MultiIndex.from_arrays([b[:, j] for j in range(b.shape[1])]))
    new = pos < 0
    pos[new] = np.arange(a.shape[0], a.shape[0] + int(new.sum()))
    if a.dtype != b.dtype:
        a = a.astype(object)
    return pos, np.concatenate([a, b[new]])


def _merge_factor(a: FactorSums, b: FactorSums) -> tuple[FactorSums, np.ndarray]:
    if b.G == 0:
        return a, np.zeros(0, np.int64)
    pos, labels = _match(a.labels, b.labels)
    G = labels.shape[0]
    counts = np.zeros(G, np.int64)
    A = np.zeros(a.A.shape[:2] + (G,))
    B = np.zeros(a.B.shape[:2] + (G,))
    counts[: a.G], A[..., : a.G], B[..., : a.G] = a.counts, a.A, a.B
    counts[pos] += b.counts
    A[..., pos] += b.A
    B[..., pos] += b.B
    return FactorSums(labels, counts, A, B), pos


def _relabel(index: np.ndarray, pos: np.ndarray, Q: int) -> np.ndarray:
    """Block-layout indices l Q + i with the levels l renumbered by ``pos``."""
    return pos[index // Q] * Q + index % Q


def _compact(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray) -> PairSums:
    """Triples with equal (row, col) added up."""
    key = rows.astype(np.int64) * (int(cols.max(initial=0)) + 1) + cols
    uniq, inv = np.unique(key, return_inverse=True)
    width = int(cols.max(initial=0)) + 1
    return PairSums(uniq // width, uniq % width, np.bincount(inv.ravel(), weights=vals))


def merge(a: PartialStats, b: PartialStats) -> PartialStats:
    """The statistics of the rows of ``a`` and ``b`` together (exact: sums add)."""
    factors, positions = [], []
    for fa, fb in zip(a.factors, b.factors, strict=True):
        merged, pos = _merge_factor(fa, fb)
        factors.append(merged)
        positions.append(pos)
    pairs = dict(a.pairs)
    for (f, g), pb in b.pairs.items():
        Qf, Qg = factors[f].A.shape[0], factors[g].A.shape[0]
        rows = _relabel(pb.rows, positions[f], Qf)
        cols = _relabel(pb.cols, positions[g], Qg)
        pa = pairs.get((f, g))
        if pa is not None:
            rows = np.concatenate([pa.rows, rows])
            cols = np.concatenate([pa.cols, cols])
            vals = np.concatenate([pa.vals, pb.vals])
            pairs[f, g] = _compact(rows, cols, vals)
        else:
            pairs[f, g] = PairSums(rows, cols, pb.vals)
    dropped = dict(a.dropped_by)
    for k, v in b.dropped_by.items():
        dropped[k] = dropped.get(k, 0) + v
    return PartialStats(
        n_input=a.n_input + b.n_input,
        dropped_by=dropped,
        n=a.n + b.n,
        factors=tuple(factors),
        pairs=pairs,
        C=a.C + b.C,
        yy=a.yy + b.yy,
        y_range=(min(a.y_range[0], b.y_range[0]), max(a.y_range[1], b.y_range[1])),
        y_sum=a.y_sum + b.y_sum,
        log_w=a.log_w + b.log_w,
    )


@dataclass(frozen=True)
class Totals:
    """What a second pass over the rows needs besides the fit: the kept fixed-effect columns
    and the raw values of each grouping factor's levels, in level order."""

    keep: tuple[int, ...]
    group_values: tuple[np.ndarray, ...]  # per Encoding.groups


def _level_order(fs: FactorSums, gf: GroupFactor) -> np.ndarray:
    """The levels in R's order: declared (or a categorical's), else R's factor order of the
    values (:func:`multilevel.design.groups.level_order`, as an in-memory fit orders them)."""
    labels = fs.labels
    if gf.order is not None:
        pos = {v: i for i, v in enumerate(gf.order)}
        where = np.array([pos.get(v, -1) for v in labels])
        if (where < 0).any():
            bad = labels[where < 0][:5].tolist()
            raise DataError(f"group value(s) {bad} of {gf.name!r} are not in group_levels")
        return np.argsort(where, kind="stable")
    return level_order(labels)


def _kept_shift(enc: Encoding, keep: list[int]) -> Shift | None:
    """The shift of the kept columns of X and of y (None without one)."""
    if enc.shift is None:
        return None
    intercept = keep.index(enc.fixed_raw.index("Intercept"))
    return Shift(intercept, enc.shift[keep], float(enc.shift[-1]))


def cross_products_of(
    stats: PartialStats, enc: Encoding
) -> tuple[CrossProducts, ModelLayout, Totals]:
    """The core's CrossProducts and the model's layout from the total statistics: levels in R's
    order, the factor with most levels first (lme4's order of terms), aliased fixed-effect
    columns dropped (as lme4), and lme4's checks on the number of levels."""
    check_rows_left(stats.n, stats.n_input, stats.dropped_by)
    orders = [_level_order(fs, gf) for fs, gf in zip(stats.factors, enc.groups, strict=True)]
    G = [len(o) for o in orders]
    P = stats.C.shape[0] - 1
    drop = aliased_columns(None, XtX=stats.C[:P, :P])
    keep = [j for j in range(P) if j not in drop]
    cols = keep + [P]
    names = list(enc.fixed_names)
    n = stats.n
    factor_of = {k: f for f, gf in enumerate(enc.groups) for k in gf.terms}
    sorted_terms = lme4_order([G[factor_of[k]] for k in range(len(enc.terms))])
    terms = [enc.terms[k] for k in sorted_terms]
    check_levels(terms, [G[factor_of[k]] for k in sorted_terms], n)
    check_outcome_varies(enc.formula.response, *stats.y_range)
    labels = [
        level_labels(fs.labels[order]) for fs, order in zip(stats.factors, orders, strict=True)
    ]
    layout = ModelLayout(
        formula=enc.formula,
        terms=tuple(t.layout() for t in terms),
        fixed_names=tuple(names[j] for j in keep),
        levels={enc.terms[k].name: labels[factor_of[k]] for k in sorted_terms},
        n_obs=n,
        n_input=stats.n_input,
        dropped_by=dict(stats.dropped_by),
        warnings=tuple(data_warnings(stats.n_input, n, stats.dropped_by, [names[j] for j in drop])),
        group_sizes={
            gf.name: fs.counts[order]
            for gf, fs, order in zip(enc.groups, stats.factors, orders, strict=True)
        },
    )
    fmap, first_theta, rest_map = theta_maps(layout)
    f0 = factor_of[sorted_terms[0]]
    first = stats.factors[f0]
    Q = enc.Q_of(enc.groups[f0])
    common = dict(
        n=n,
        p=len(keep),
        G=G[f0],
        Q=Q,
        first_map=fmap,
        first_theta=first_theta,
        A=np.ascontiguousarray(first.A[..., orders[f0]]),
        B=np.ascontiguousarray(first.B[:, cols, :][..., orders[f0]]),
        C=stats.C[np.ix_(cols, cols)],
        rest_map=rest_map,
        yy=stats.yy,
        y_var=stats.yy / n - (stats.y_sum / n) ** 2,
        shift=_kept_shift(enc, keep),
    )
    if len(enc.groups) == 1:
        return CrossProducts(**common, n_rest=0, B_rest=None), layout, _totals(stats, keep, orders)
    where = _rest_columns(enc, stats, orders, sorted_terms, factor_of, f0)
    nr = sum(G[factor_of[k]] * enc.terms[k].q for k in sorted_terms if factor_of[k] != f0)
    r_rows, r_cols, r_vals = [], [], []
    b_rows, b_cols, b_vals = [], [], []
    C_rw = np.zeros((nr, len(cols)))
    for f, fs in enumerate(stats.factors):
        if f == f0:
            continue
        Qf = fs.A.shape[0]
        lev, i, j = np.meshgrid(np.arange(fs.G), np.arange(Qf), np.arange(Qf), indexing="ij")
        r_rows.append(where[f][lev * Qf + i].ravel())
        r_cols.append(where[f][lev * Qf + j].ravel())
        r_vals.append(np.moveaxis(fs.A, 2, 0).ravel())
        C_rw[where[f]] = np.moveaxis(fs.B[:, cols, :], 2, 0).reshape(fs.G * Qf, len(cols))
    for (f, g), pair in stats.pairs.items():
        if f == f0:  # Z_1'Z_rest: rows in the first block's layout
            b_rows.append(where[f0][pair.rows])
            b_cols.append(where[g][pair.cols])
            b_vals.append(pair.vals)
        elif g == f0:
            b_rows.append(where[f0][pair.cols])
            b_cols.append(where[f][pair.rows])
            b_vals.append(pair.vals)
        else:  # Z_f'Z_g and its transpose, both in Z_rest'Z_rest
            r_rows += [where[f][pair.rows], where[g][pair.cols]]
            r_cols += [where[g][pair.cols], where[f][pair.rows]]
            r_vals += [pair.vals, pair.vals]
    C_rr = sp.csr_matrix(
        (np.concatenate(r_vals), (np.concatenate(r_rows), np.concatenate(r_cols))),
        shape=(nr, nr),
    )
    B_rest = sp.csr_matrix(
        (np.concatenate(b_vals), (np.concatenate(b_rows), np.concatenate(b_cols))),
        shape=(G[f0] * Q, nr),
    )
    xp = CrossProducts(
        **common,
        n_rest=nr,
        B_rest=B_rest,
        C_rr=C_rr if nr > DENSE_REST_LIMIT else C_rr.toarray(),
        C_rw=C_rw,
    )
    return xp, layout, _totals(stats, keep, orders)


def _rest_columns(
    enc: Encoding,
    stats: PartialStats,
    orders: list[np.ndarray],
    sorted_terms: list[int],
    factor_of: dict[int, int],
    f0: int,
) -> list[np.ndarray]:
    """For each factor, where each entry l Q_f + i of its block layout (levels in code order)
    goes: the first factor's row in Z_1 (levels in R's order), another factor's column of
    Z_rest (term by term in lme4's order, then level by level, then q)."""
    where: list[np.ndarray] = []
    offsets, off = {}, 0
    for k in sorted_terms:
        if factor_of[k] != f0:
            offsets[k] = off
            off += stats.factors[factor_of[k]].G * enc.terms[k].q
    for f, (fs, gf) in enumerate(zip(stats.factors, enc.groups, strict=True)):
        Qf = enc.Q_of(gf)
        newpos = np.empty(fs.G, np.int64)
        newpos[orders[f]] = np.arange(fs.G)
        out = np.empty(fs.G * Qf, np.int64)
        level = np.arange(fs.G)
        within = 0
        for k in gf.terms:
            q = enc.terms[k].q
            for kk in range(q):
                if f == f0:
                    out[level * Qf + within + kk] = newpos * Qf + within + kk
                else:
                    out[level * Qf + within + kk] = offsets[k] + newpos * q + kk
            within += q
        where.append(out)
    return where


def _totals(stats: PartialStats, keep: list[int], orders: list[np.ndarray]) -> Totals:
    return Totals(
        keep=tuple(keep),
        group_values=tuple(fs.labels[o] for fs, o in zip(stats.factors, orders, strict=True)),
    )
