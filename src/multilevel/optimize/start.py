"""A starting theta from the method of moments, computed from the cross-products alone.

lme4 starts every fit at Lambda = I. On large data the optimizer then spends most of its
evaluations finding the right region. Moments of per-group least-squares estimates give a start
close to the optimum for nearly nothing: with r = y - X beta_OLS and, for each group with enough
rows, b_j = A_j^-1 Z_j'r_j (A_j = Z_j'Z_j),

    Cov(b_j) ~ Tau + sigma^2 A_j^-1,   so   Tau ~ cov_j(b_j) - sigma^2 mean_j(A_j^-1),

with sigma^2 the pooled within-group residual variance. Lambda is the Cholesky factor of
Tau / sigma^2 restricted to the block pattern of the model (eigenvalues floored so it is
positive definite). Any failure falls back to lme4's start.

For terms on other grouping factors (crossed or nested designs), each scalar term (q = 1) gets the
same estimate from its own level sums (the diagonal of Z_rest'Z_rest and Z_rest'[X y]), as if it
were the only random term: a rougher start, but in the right region.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.linalg

from multilevel.objective.crossprod import CrossProducts

#: a group's Z_j'Z_j counts as invertible when det / prod(diag) exceeds this
CONDITION = 1e-8
#: eigenvalues of Tau / sigma^2 are floored at this fraction of the largest (and at FLOOR)
RELATIVE_FLOOR = 1e-2
#: fixed effects beyond which OLS for the moments is solved by Cholesky, not an SVD
WIDE_X = 100
FLOOR = 1e-2
#: fixed effects beyond which OLS for the moments is solved by Cholesky, not an SVD
WIDE_X = 100


def choose_start(
    deviance: Callable[[np.ndarray], float],
    xp: CrossProducts,
    default: np.ndarray,
    compare: bool = True,
) -> tuple[np.ndarray, bool]:
    """The moment start if its deviance is below that of ``default`` (lme4's start), else
    ``default``; and whether the start is the moments' (two deviance evaluations). Without
    ``compare`` (an evaluation costs a large factorization) the moment start is kept whenever
    its deviance is finite (one evaluation, which the optimizer's first one reuses)."""
    start, informed = moment_start(xp, default)
    if np.array_equal(start, default):
        return default, False
    f_start = deviance(start)
    if not np.isfinite(f_start) or (compare and not f_start < deviance(default)):
        return default, False
    return start, informed


def moment_start(xp: CrossProducts, default: np.ndarray) -> tuple[np.ndarray, bool]:
    """theta near the optimum, and whether every element came from the moments (else the
    remaining elements keep ``default``, lme4's start)."""
    out = np.asarray(default, dtype=float).copy()
    informed = np.zeros(out.shape, bool)
    pattern = np.zeros((xp.Q, xp.Q), bool)
    pattern[xp.first_map.rows, xp.first_map.cols] = True
    L = _safe_moments(xp.A, xp.B, xp, pattern)
    if L is not None:
        out[xp.first_theta] = L[xp.first_map.rows, xp.first_map.cols]
        informed[xp.first_theta] = True
    C_rr, C_rw = xp.C_rr, xp.C_rw
    scalar = _scalar_rest_terms(xp) if C_rr is not None and C_rw is not None else {}
    for k, levels in scalar.items():
        assert C_rr is not None and C_rw is not None
        A = C_rr.diagonal()[levels][None, None, :]
        B = C_rw[levels].T[None, :, :]
        L = _safe_moments(A, B, xp, np.ones((1, 1), bool))
        if L is not None:
            out[k] = L[0, 0]
            informed[k] = True
    return out, bool(informed.all())


def _scalar_rest_terms(xp: CrossProducts) -> dict[int, np.ndarray]:
    """theta index -> its columns of Z_rest, for the terms with one random effect per level."""
    rows, cols, idx = xp.rest_map
    out = {}
    for k in np.unique(idx):
        mine = idx == k
        levels = rows[mine]
        others = ~mine & (np.isin(rows, levels) | np.isin(cols, levels))
        if np.array_equal(rows[mine], cols[mine]) and not others.any():
            out[int(k)] = levels
    return out


def _safe_moments(
    A: np.ndarray, B: np.ndarray, xp: CrossProducts, pattern: np.ndarray
) -> np.ndarray | None:
    try:
        L = _moments(A, B, xp.C, xp.n, xp.p, pattern)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return None
    if L is None or not np.all(np.isfinite(L)):
        return None
    return L


def _ols(XtX: np.ndarray, Xty: np.ndarray) -> np.ndarray:
    """OLS coefficients from X'X and X'y: lstsq (an SVD), or on a wide X a Cholesky solve (X has
    full rank after aliased columns are dropped; p^3/3 flops where the SVD costs ten times that)."""
    if len(Xty) <= WIDE_X:
        return np.linalg.lstsq(XtX, Xty, rcond=None)[0] if len(Xty) else np.zeros(0)
    try:
        with np.errstate(all="ignore"):
            R = scipy.linalg.cholesky(XtX, lower=False)
            beta = scipy.linalg.cho_solve((R, False), Xty)
        if np.all(np.isfinite(beta)):
            return np.asarray(beta)
    except (np.linalg.LinAlgError, ValueError):
        pass
    return np.linalg.lstsq(XtX, Xty, rcond=None)[0]


def _moments(
    A: np.ndarray, B: np.ndarray, C: np.ndarray, n: int, p: int, pattern: np.ndarray
) -> np.ndarray | None:
    """Lambda (Q x Q, zero outside ``pattern``) from per-group sums A (Q, Q, G) = Z_j'Z_j and
    B (Q, p + 1, G) = Z_j'[X y], and C = [X y]'[X y]; None when the moments are unusable."""
    Q = A.shape[0]
    with np.errstate(all="raise"):
        beta = _ols(C[:p, :p], C[:p, p])
        w = np.append(-beta, 1.0)
        v = np.einsum("iag,a->gi", B, w)  # Z_j'r_j, (G, Q)
        A = np.moveaxis(A, 2, 0)  # (G, Q, Q)
        diag = np.einsum("gii->gi", A)
        det = np.linalg.det(A)
        scale = np.prod(np.where(diag > 0, diag, 1.0), axis=1)
        ok = (np.all(diag > 0, axis=1)) & (det > CONDITION * scale)
        if ok.sum() < Q + 2:
            return None
        A_inv = np.linalg.inv(A[ok])
        b = np.einsum("gij,gj->gi", A_inv, v[ok])
        within_ss = float(w @ C @ w) - float(np.einsum("gi,gi->", v[ok], b))
        df = n - Q * int(ok.sum()) - p
        if df <= 0 or within_ss <= 0:
            return None
        sigma2 = within_ss / df
        Tau = np.atleast_2d(np.cov(b.T, ddof=1)) - sigma2 * A_inv.mean(axis=0)
        # no effect can carry more variance than the outcome has: cap each variance at
        # (y'y / n) / mean(z_i^2), which bounds the start when few rows per group make the
        # per-group estimates wild
        z2 = np.einsum("gii->i", A) / n
        cap = (C[p, p] / n) / np.where(z2 > 0, z2, 1.0) / sigma2
    # only the blocks the model estimates (e.g. diagonal for (x || g))
    full = pattern | pattern.T
    T = np.where(full, Tau, 0.0) / sigma2
    vals, vecs = np.linalg.eigh(T)
    vals = np.clip(vals, max(RELATIVE_FLOOR * vals.max(), FLOOR), None)
    T = (vecs * vals) @ vecs.T
    scale = np.sqrt(np.minimum(np.diag(T), cap) / np.diag(T))  # shrink rows/cols over the cap
    L = np.linalg.cholesky(T * np.outer(scale, scale))
    return np.where(full, L, 0.0)  # exact zeros outside the blocks (rounding of eigh)
