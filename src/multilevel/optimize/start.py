"""A starting theta from the method of moments, computed from the cross-products alone.

lme4 starts every fit at Lambda = I. On large data the optimizer then spends most of its
evaluations finding the right region. Moments of per-group least-squares estimates give a start
close to the optimum for nearly nothing: with r = y - X beta_OLS and, for each group with enough
rows, b_j = A_j^-1 Z_j'r_j (A_j = Z_j'Z_j),

    Cov(b_j) ~ Tau + sigma^2 A_j^-1,   so   Tau ~ cov_j(b_j) - sigma^2 mean_j(A_j^-1),

with sigma^2 the pooled within-group residual variance. Lambda is the Cholesky factor of
Tau / sigma^2 restricted to the block pattern of the model (eigenvalues floored so it is
positive definite). Any failure falls back to lme4's start.
"""

from __future__ import annotations

import numpy as np

from multilevel.objective.crossprod import CrossProducts

#: a group's Z_j'Z_j counts as invertible when det / prod(diag) exceeds this
CONDITION = 1e-8
#: eigenvalues of Tau / sigma^2 are floored at this fraction of the largest (and at FLOOR)
RELATIVE_FLOOR = 1e-2
FLOOR = 1e-2


def moment_start(xp: CrossProducts, default: np.ndarray) -> np.ndarray:
    """theta near the optimum for one grouping factor; ``default`` when moments are unusable."""
    if xp.n_rest:
        return default
    try:
        theta = _moments(xp)
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        return default
    if theta is None or theta.shape != default[xp.first_theta].shape:
        return default
    if not np.all(np.isfinite(theta)):
        return default
    out = default.copy()
    out[xp.first_theta] = theta
    return out


def _moments(xp: CrossProducts) -> np.ndarray | None:
    Q, p = xp.Q, xp.p
    with np.errstate(all="raise"):
        C = xp.C
        beta = np.linalg.lstsq(C[:p, :p], C[:p, p], rcond=None)[0] if p else np.zeros(0)
        w = np.append(-beta, 1.0)
        v = np.einsum("iag,a->gi", xp.B, w)  # Z_j'r_j, (G, Q)
        A = np.moveaxis(xp.A, 2, 0)  # (G, Q, Q)
        diag = np.einsum("gii->gi", A)
        det = np.linalg.det(A)
        scale = np.prod(np.where(diag > 0, diag, 1.0), axis=1)
        ok = (np.all(diag > 0, axis=1)) & (det > CONDITION * scale)
        if ok.sum() < Q + 2:
            return None
        A_inv = np.linalg.inv(A[ok])
        b = np.einsum("gij,gj->gi", A_inv, v[ok])
        within_ss = float(w @ C @ w) - float(np.einsum("gi,gi->", v[ok], b))
        df = xp.n - Q * int(ok.sum()) - p
        if df <= 0 or within_ss <= 0:
            return None
        sigma2 = within_ss / df
        Tau = np.atleast_2d(np.cov(b.T, ddof=1)) - sigma2 * A_inv.mean(axis=0)
    # only the blocks the model estimates (e.g. diagonal for (x || g))
    pattern = np.zeros((Q, Q), bool)
    pattern[xp.first_map.rows, xp.first_map.cols] = True
    pattern |= pattern.T
    T = np.where(pattern, Tau, 0.0) / sigma2
    vals, vecs = np.linalg.eigh(T)
    vals = np.maximum(vals, max(RELATIVE_FLOOR * vals.max(), FLOOR))
    L = np.linalg.cholesky((vecs * vals) @ vecs.T)
    L = np.where(pattern, L, 0.0)  # exact zeros outside the blocks (rounding of eigh)
    return L[xp.first_map.rows, xp.first_map.cols]
