"""Cross-products of the whitened rows for any structure parameter z, from sums taken once.

With Sigma^{-1/2} bidiagonal, whitened row i is a*_i = alpha_i a_i - beta_i a_prev(i), so

    sum_i a*_i b*_i = sum_i alpha_i^2 a_i b_i - alpha_i beta_i (a_i b_prev + a_prev b_i)
                      + beta_i^2 a_prev b_prev.

alpha_i and beta_i depend on z only through the row's *class*: first row of its group or not,
its lag t_i - t_prev(i), and the strata of the row and of its predecessor (VarIdent). With few
classes (integer times, a handful of strata) the three sums per class and group are formed once
(O(n)); afterwards the cross-products A_j, B_j, C of :mod:`multilevel.objective.crossprod` cost
O(classes x groups) for any z: the whole fit no longer reads the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from multilevel.design.model import ModelDesign
from multilevel.objective.crossprod import CrossProducts, cross_products, first_block
from multilevel.residual.bound import BoundCorrelation, BoundVariance
from multilevel.residual.structures import VarIdent
from multilevel.residual.whiten import ResidualModel

#: above this many classes the rows are whitened afresh for every z instead
MAX_CLASSES = 64


@dataclass(frozen=True)
class LagSums:
    """Per class and group: sums of a b, of a b_prev + a_prev b and of a_prev b_prev."""

    model: ResidualModel
    template: CrossProducts  # the unwhitened cross-products (maps, sizes)
    lag: np.ndarray  # (K,) lag of each class (0 for first rows)
    stratum: np.ndarray  # (K,) stratum of the row
    stratum_prev: np.ndarray  # (K,) stratum of its predecessor (0 for first rows)
    count: np.ndarray  # (K,) rows per class
    S_A: np.ndarray  # (3 K, Q, Q, G): the three sums of each class, stacked
    S_B: np.ndarray  # (3 K, Q, P + 1, G)
    S_C: np.ndarray  # (3 K, P + 1, P + 1)

    def coefficients(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """alpha and beta of every class at z."""
        zc, zv = self.model.split(np.asarray(z, dtype=float))
        first = self.lag == 0
        if self.model.variance is not None:
            g = np.exp(np.concatenate([[0.0], zv]))
            g_row, g_prev = g[self.stratum], g[self.stratum_prev]
        else:
            g_row = g_prev = np.ones(self.lag.size)
        if self.model.correlation is None:
            return 1.0 / g_row, np.zeros(self.lag.size)
        phi = self.model.correlation.phi(zc)
        rho = np.where(first, 0.0, np.power(phi, np.where(first, 1, self.lag)))
        c = 1.0 / np.sqrt(1.0 - rho**2)
        return c / g_row, np.where(first, 0.0, rho * c / g_prev)

    def logdet(self, z: np.ndarray) -> float:
        alpha, _ = self.coefficients(z)
        return float(-2.0 * self.count @ np.log(alpha))  # |Sigma^-1/2| = prod alpha_i

    def cross_products(self, z: np.ndarray) -> CrossProducts:
        alpha, beta = self.coefficients(z)
        w = np.concatenate([alpha**2, -alpha * beta, beta**2])  # (3 K,)
        A = _combine(w, self.S_A)
        B = _combine(w, self.S_B)
        C = _combine(w, self.S_C)
        return replace(self.template, A=A, B=B, C=C, yy=float(C[-1, -1]))


def _combine(w: np.ndarray, S: np.ndarray) -> np.ndarray:
    """sum_k w_k S_k as one matrix-vector product (S contiguous, class first)."""
    return (w @ S.reshape(S.shape[0], -1)).reshape(S.shape[1:])


def lag_sums(design: ModelDesign, model: ResidualModel) -> LagSums | None:
    """The sums, or None where they do not apply (several grouping factors, VarPower, many
    classes): there the rows are whitened for every z."""
    corr, var = model.correlation, model.variance
    first, rest = first_block(design)
    if rest or (var is not None and not isinstance(var.spec, VarIdent)):
        return None
    n = design.n
    cls = _classes(n, corr, var)
    if cls is None:
        return None
    key, lag, stratum, stratum_prev = cls
    K = lag.size
    G = first[0].n_levels
    j = first[0].codes
    # columns with their recipes: equal recipes (Z's intercept and slope are usually X's) are
    # summed once
    z_cols = [(f, t.columns, k) for t in first for k, f in enumerate(t.columns.factors)]
    X = design.fixed.columns
    w_cols = [(f, X, k) for k, f in enumerate(X.factors)] + [(("\0y",), None, 0)]
    Q, P1 = len(z_cols), len(w_cols)

    def column(entry: tuple) -> np.ndarray:
        _, matrix, k = entry
        return design.y if matrix is None else matrix.column(k)

    cache: dict[tuple, np.ndarray] = {}

    def pair(a: tuple, b: tuple) -> np.ndarray:
        key = tuple(sorted((a[0], b[0])))
        if key not in cache:
            cache[key] = sums(column(a), column(b))
        return cache[key]

    rows = corr.rows if corr is not None else np.zeros(0, np.int64)
    prev = corr.prev if corr is not None else np.zeros(0, np.int64)
    idx_all = key * G + j
    idx_lag = idx_all[rows]

    def sums(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """(3, K, G): sums of a b, a b_prev + a_prev b, a_prev b_prev by class and group."""
        out = np.zeros((3, K * G))
        out[0] = np.bincount(idx_all, weights=a * b, minlength=K * G)
        if rows.size:
            a_p, b_p = a[prev], b[prev]
            out[1] = np.bincount(idx_lag, weights=a[rows] * b_p + a_p * b[rows], minlength=K * G)
            out[2] = np.bincount(idx_lag, weights=a_p * b_p, minlength=K * G)
        return out.reshape(3, K, G)

    S_A = np.zeros((3 * K, Q, Q, G))
    for r in range(Q):
        for c in range(r + 1):
            S_A[:, r, c] = S_A[:, c, r] = pair(z_cols[r], z_cols[c]).reshape(3 * K, G)
    S_B = np.zeros((3 * K, Q, P1, G))
    for r in range(Q):
        for c in range(P1):
            S_B[:, r, c] = pair(z_cols[r], w_cols[c]).reshape(3 * K, G)
    S_C = np.zeros((3 * K, P1, P1))
    for r in range(P1):
        for c in range(r + 1):
            total = pair(w_cols[r], w_cols[c]).sum(axis=2).reshape(3 * K)
            S_C[:, r, c] = S_C[:, c, r] = total
    count = np.bincount(key, minlength=K).astype(float)
    return LagSums(model, cross_products(design), lag, stratum, stratum_prev, count, S_A, S_B, S_C)


def _classes(
    n: int, corr: BoundCorrelation | None, var: BoundVariance | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Class of every row, with each class's lag (0: first row), stratum and predecessor's."""
    s = var.strata if var is not None and var.strata is not None else np.zeros(n, np.int64)
    S = int(s.max()) + 1 if n else 1
    lag_code = np.zeros(n, np.int64)
    s_prev = np.zeros(n, np.int64)
    lags = np.zeros(1)
    if corr is not None:
        if corr.lag.dtype.kind in "iu" and corr.lag.size and corr.lag.max() < 1 << 20:
            lags_u = np.flatnonzero(np.bincount(corr.lag))  # integer lags: count, not sort
            if lags_u.size + 1 > MAX_CLASSES:
                return None
            to_code = np.zeros(int(lags_u[-1]) + 1, np.int64)
            to_code[lags_u] = np.arange(lags_u.size)
            inv = to_code[corr.lag]
        else:
            lags_u, inv = np.unique(corr.lag, return_inverse=True)
        if lags_u.size + 1 > MAX_CLASSES:
            return None
        lag_code[corr.rows] = inv.ravel() + 1
        s_prev[corr.rows] = s[corr.prev]
        lags = np.concatenate([[0.0], lags_u.astype(float)])
    raw = (lag_code * S + s) * S + s_prev  # small integers: classes by counting, not sorting
    present = np.flatnonzero(np.bincount(raw))
    if present.size > MAX_CLASSES:
        return None
    lookup = np.zeros(int(present[-1]) + 1, np.int64)
    lookup[present] = np.arange(present.size)
    uniq, key = present, lookup[raw]
    lag_of = lags[uniq // (S * S)]
    return key.ravel(), lag_of, (uniq // S) % S, uniq % S
