"""Cross-products computed once, from which the profiled deviance is evaluated for any theta.

Terms on the grouping factor with the most levels form the *first block*: Z'Z restricted to
them is block diagonal, one Q x Q block per level j (Q = sum of their q), so the data enter as

    A_j = Z_j'Z_j  (G x Q x Q),   B_j = Z_j'W  (G x Q x P),   C = W'W  (P x P),

with W = [Z_rest, X, y]. Terms on other grouping factors (crossed or nested) make up Z_rest,
whose cross-products are kept sparse. With one grouping factor Z_rest is empty and everything is
a sum over rows by group: one pass, in any order, in chunks or per partition (see NOTES-math).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from multilevel.design.columns import SparseColumns
from multilevel.design.groupsums import group_sums
from multilevel.design.layout import ModelLayout
from multilevel.design.model import ModelDesign
from multilevel.design.random import RandomTerm
from multilevel.design.shift import Shift, intercept_of, shifts_from_gram

#: above this many random effects outside the first block, their part of the system stays sparse
DENSE_REST_LIMIT = 3000


#: the outcome's key among the factor names of the columns
Y_KEY = "\0y"


def group_cross(
    codes: np.ndarray,
    G: int,
    z_keys: Sequence[tuple[str, ...]],
    w_keys: Sequence[tuple[str, ...]],
    value: Callable[[str], np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """A_j = Z_j'Z_j (Q, Q, G) and B_j = Z_j'W (Q, P, G) for every group j, by bincount.

    Each column is given by the names of the data columns it is the product of (``()`` is the
    intercept); ``value(name)`` returns that data column. Every distinct product is summed once:
    the intercept's products are the columns themselves, and Z's columns are often X's.
    """
    Q = len(z_keys)
    pairs = {(r, c): tuple(sorted(z_keys[r] + z_keys[c])) for r in range(Q) for c in range(r + 1)}
    cross = {
        (r, c): tuple(sorted(z_keys[r] + w_keys[c])) for r in range(Q) for c in range(len(w_keys))
    }
    sums = group_sums(codes, G, list(dict.fromkeys([*pairs.values(), *cross.values()])), value)
    A = np.empty((Q, Q, G))
    B = np.empty((Q, len(w_keys), G))
    for (r, c), key in pairs.items():
        A[r, c] = A[c, r] = sums[key]
    for (r, c), key in cross.items():
        B[r, c] = sums[key]
    return A, B


@dataclass(frozen=True)
class ThetaMap:
    """Where each theta element sits in a Lambda: rows, cols and the theta index of each entry."""

    rows: np.ndarray
    cols: np.ndarray
    index: np.ndarray

    def fill(self, theta: np.ndarray, size: int) -> np.ndarray:
        L = np.zeros((size, size))
        L[self.rows, self.cols] = theta[self.index]
        return L


def theta_maps(
    layout: ModelLayout,
) -> tuple[ThetaMap, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Where theta sits: in the first block's Q x Q Lambda (map and the theta indices it uses),
    and in Lambda_rest over the columns of Z_rest (rows, cols, theta index of every entry;
    columns term by term, level by level, q within a level)."""
    first, rest = layout.first_block()
    offsets = np.cumsum([0] + [t.n_theta for t in layout.terms])
    rows: list[int] = []
    cols: list[int] = []
    index: list[int] = []
    q_off = 0
    for k in first:
        t = layout.terms[k]
        tr, tc = t.tril
        rows += list(q_off + tr)
        cols += list(q_off + tc)
        index += list(range(len(index), len(index) + t.n_theta))
        q_off += t.q
    fmap = ThetaMap(np.array(rows, int), np.array(cols, int), np.array(index, int))
    first_theta = np.concatenate([np.arange(offsets[k], offsets[k + 1]) for k in first])
    r_rows, r_cols, r_idx = [np.zeros(0, int)], [np.zeros(0, int)], [np.zeros(0, int)]
    off = 0
    for k in rest:
        t = layout.terms[k]
        G = len(layout.levels[t.name])
        lev = np.arange(G) * t.q + off
        for j, (r, c) in enumerate(zip(*t.tril, strict=True)):
            r_rows.append(lev + r)
            r_cols.append(lev + c)
            r_idx.append(np.full(G, offsets[k] + j))
        off += G * t.q
    rest_map = (np.concatenate(r_rows), np.concatenate(r_cols), np.concatenate(r_idx))
    return fmap, first_theta, rest_map


@dataclass(frozen=True)
class CrossProducts:
    """The sufficient statistics of a linear mixed model for the profiled deviance."""

    n: int
    p: int
    G: int  # levels of the first grouping factor
    Q: int  # random effects per level in the first block
    first_map: ThetaMap  # theta -> first-block Lambda (Q x Q); theta index relative to start
    first_theta: np.ndarray  # indices of theta used by the first block
    A: np.ndarray  # (Q, Q, G): Z_j'Z_j, group index last (see smallmat)
    B: np.ndarray  # (Q, p + 1, G): Z_j'[X y]
    C: np.ndarray  # (p + 1, p + 1): [X y]'[X y]
    # rest (other grouping factors), empty when there is one grouping factor
    n_rest: int
    B_rest: sp.csr_matrix | None  # (G*Q, n_rest): Z_1'Z_rest
    rest_map: tuple[np.ndarray, np.ndarray, np.ndarray]  # rows, cols, theta index of Lambda_rest
    yy: float
    C_rr: np.ndarray | sp.csr_matrix | None = None  # Z_rest'Z_rest: dense, or sparse when large
    C_rw: np.ndarray | None = None  # Z_rest'[X y]
    y_var: float = float("nan")  # the outcome's variance (is the residual variance near 0?)
    shift: Shift | None = None  # the cross-products are those of X - 1 shift.x', y - shift.y

    @property
    def rest_is_sparse(self) -> bool:
        """Many levels in the other factors: keep Z_rest'Z_rest sparse, factor it by sparse LU."""
        return sp.issparse(self.C_rr)

    @property
    def B_flat(self) -> np.ndarray:
        """B as a (G*Q, p + 1) matrix, rows ordered group by group."""
        return np.moveaxis(self.B, 2, 0).reshape(self.G * self.Q, self.B.shape[1])


def first_block(design: ModelDesign) -> tuple[list[RandomTerm], list[RandomTerm]]:
    """Terms on the grouping factor of the first (most levels) term, and the others."""
    first, rest = design.layout.first_block()
    return [design.terms[k] for k in first], [design.terms[k] for k in rest]


def sparse_z(codes: np.ndarray, G: int, Z: np.ndarray, fmt: str = "csr") -> sp.spmatrix:
    """The n x (G q) sparse Z of a grouping factor from its (n, q) dense columns: row i holds
    Z[i] in the columns l q, ..., l q + q - 1 of its level l = codes[i]."""
    n, q = Z.shape
    rows = np.repeat(np.arange(n), q)
    cols = (codes.astype(np.int64)[:, None] * q + np.arange(q)[None, :]).ravel()
    return sp.coo_matrix((Z.ravel(), (rows, cols)), shape=(n, G * q)).asformat(fmt)


def rest_matrix(terms: list[RandomTerm], n: int) -> tuple[sp.csc_matrix, list[int]]:
    """Sparse Z for the terms outside the first block; column offsets per term."""
    blocks, offsets, off = [], [], 0
    for t in terms:
        blocks.append(sparse_z(t.codes, t.n_levels, t.Z, "csc"))
        offsets.append(off)
        off += t.n_levels * t.q
    return sp.hstack(blocks, format="csc"), offsets


def _shifted_outcome(design: ModelDesign) -> tuple[np.ndarray, Shift | None]:
    """y (minus its mean when it lies far from zero) and the shift of X and y, if any."""
    y, n = design.y, design.n
    intercept = intercept_of(design.fixed.columns)  # a column of ones: shifts are exact
    x_shift = design.fixed.shift if intercept is not None else None
    # weighted rows (design/weights.py): the intercept column is sqrt(w), y about c_y sqrt(w)
    s = (
        None
        if intercept is None or not design.fixed.columns.factors[intercept]
        else (design.fixed.columns.column(intercept))
    )
    total, square = float(y.sum() if s is None else s @ y), float(y @ y)
    gram = np.array([[n if s is None else float(s @ s), total], [total, square]])
    y_shift = shifts_from_gram(gram, n, 0 if intercept is not None else None)
    if x_shift is None and y_shift is None:
        return y, None
    assert intercept is not None
    c_y = 0.0 if y_shift is None else float(y_shift[1])
    x = np.zeros(design.p) if x_shift is None else x_shift
    return (y if not c_y else y - c_y if s is None else y - c_y * s), Shift(intercept, x, c_y)


def cross_products(design: ModelDesign) -> CrossProducts:
    """One pass over the rows: the cross-products the deviance needs."""
    first, rest = first_block(design)
    fmap, first_theta, rest_map = theta_maps(design.layout)
    G = first[0].n_levels
    Q = sum(t.q for t in first)
    # the data read in place (ModelColumns): group sums product by product; X and y about a
    # shift when some column lies far from zero (design/shift.py)
    X = design.fixed.shifted()
    y, shift = _shifted_outcome(design)
    source: dict[str, np.ndarray] = {Y_KEY: y}
    for matrix in [X] + [t.columns for t in first]:
        if not isinstance(matrix, SparseColumns):  # its columns would be made dense
            source.update(matrix.source)
    z_keys = [f for t in first for f in t.columns.factors]
    if isinstance(X, SparseColumns):  # a wide factor: Z_j'X from sparse products
        A, By = group_cross(first[0].index, G, z_keys, [(Y_KEY,)], source.__getitem__)
        z = [t.columns.column(j) for t in first for j in range(t.q)]
        B = np.concatenate([X.group_cross(first[0].index, G, z), By], axis=1)
    else:
        A, B = group_cross(first[0].index, G, z_keys, [*X.factors, (Y_KEY,)], source.__getitem__)
    Xty = X.tdot(y)
    C = np.empty((design.p + 1, design.p + 1))
    C[: design.p, : design.p] = design.fixed.gram()
    C[: design.p, design.p] = C[design.p, : design.p] = Xty
    C[design.p, design.p] = y @ y

    common: dict[str, Any] = dict(
        n=design.n,
        p=design.p,
        G=G,
        Q=Q,
        first_map=fmap,
        first_theta=first_theta,
        A=A,
        B=B,
        C=C,
        yy=float(C[design.p, design.p]),
        y_var=float(C[design.p, design.p] / design.n - (y.sum() / design.n) ** 2),
        shift=shift,
    )
    if not rest:
        return CrossProducts(**common, n_rest=0, B_rest=None, rest_map=rest_map)

    Zr, offsets = rest_matrix(rest, design.n)
    nr = Zr.shape[1]
    # Z_1 as a sparse (n x G*Q) matrix, for Z_1'Z_rest
    Z1 = np.hstack([t.Z for t in first]) if len(first) > 1 else first[0].Z
    Z1s = sparse_z(first[0].codes, G, Z1)
    B_rest = (Z1s.T @ Zr).tocsr()
    ZrX = X.left(Zr.T) if isinstance(X, SparseColumns) else np.asarray(Zr.T @ X.array)
    C_rw = np.column_stack([ZrX, np.asarray(Zr.T @ y)])
    ZrZr = (Zr.T @ Zr).tocsr()
    C_rr = ZrZr if nr > DENSE_REST_LIMIT else ZrZr.toarray()
    return CrossProducts(
        **common,
        n_rest=nr,
        B_rest=B_rest,
        rest_map=rest_map,
        C_rr=C_rr,
        C_rw=C_rw,
    )
