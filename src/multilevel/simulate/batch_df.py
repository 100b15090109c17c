"""Satterthwaite df for a batch of refits, as :mod:`multilevel.inference.satterthwaite` computes
them for one fit (lmerTest's method), with the same central-difference stencil in theta.

With phi = (theta, sigma), D(theta, sigma) = a(theta) + b(theta) / sigma^2 + c log(2 pi sigma^2)
(a = log|L|^2 [+ log|R_X|^2 for REML], b = r^2), the Hessian H of D and the Jacobian of
Var(beta) = sigma^2 U(theta) give, for a contrast l, df = 2 (l'Var l)^2 / (g' 2H^-1 g) with
g_k = l' dVar/dphi_k l.
"""

from __future__ import annotations

import numpy as np

from multilevel.simulate.batch import BatchDeviance

#: relative step in theta (as inference/satterthwaite.py: smaller drowns in rounding noise)
REL_STEP = 1e-3


def batch_satterthwaite(
    dev: BatchDeviance, theta: np.ndarray, data: tuple, sigma: np.ndarray, L: np.ndarray
) -> np.ndarray:
    """df (S, r) for the contrasts in the rows of L (r, p), at thetas (k, S) and sigmas (S,)."""
    L = np.atleast_2d(np.asarray(L, float))
    k, S = theta.shape
    xp = dev.xp
    c = xp.n - (xp.p if dev.reml else 0)
    s2 = sigma**2
    h = REL_STEP * np.maximum(np.abs(theta), 0.1)  # (k, S)

    def pieces(th: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        st = dev.evaluate(th, *data)
        a = st.ldL2 + (st.ldRX2 if dev.reml else 0.0)
        return a, st.r2, st.U

    a0, b0, U0 = pieces(theta)
    E = [np.where(np.arange(k)[:, None] == i, h, 0.0) for i in range(k)]
    plus = [pieces(theta + E[i]) for i in range(k)]
    minus = [pieces(theta - E[i]) for i in range(k)]
    H = np.empty((S, k + 1, k + 1))
    b_i = np.empty((k, S))
    J = np.empty((k + 1, S, L.shape[0]))  # l' dVar/dphi_k l for each contrast
    for i in range(k):
        hi = h[i]
        b_i[i] = (plus[i][1] - minus[i][1]) / (2 * hi)
        A2 = (plus[i][0] - 2 * a0 + minus[i][0]) / hi**2
        B2 = (plus[i][1] - 2 * b0 + minus[i][1]) / hi**2
        H[:, i, i] = A2 + B2 / s2
        dU = (plus[i][2] - minus[i][2]) / (2 * hi)  # (p, p, S)
        J[i] = s2[:, None] * np.einsum("ra,abs,rb->sr", L, dU, L)
        for j in range(i):
            corners = [
                pieces(theta + si * E[i] + sj * E[j])
                for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1))
            ]
            denom = 4 * h[i] * h[j]
            A2ij = (corners[0][0] - corners[1][0] - corners[2][0] + corners[3][0]) / denom
            B2ij = (corners[0][1] - corners[1][1] - corners[2][1] + corners[3][1]) / denom
            H[:, i, j] = H[:, j, i] = A2ij + B2ij / s2
    H[:, :k, k] = H[:, k, :k] = (-2 * b_i / sigma**3).T
    H[:, k, k] = 6 * b0 / sigma**4 - 2 * c / s2
    J[k] = (2 * sigma)[:, None] * np.einsum("ra,abs,rb->sr", L, U0, L)
    try:
        A = 2 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        A = 2 * np.linalg.pinv(H)
    var = s2[:, None] * np.einsum("ra,abs,rb->sr", L, U0, L)  # (S, r)
    denom = np.einsum("isr,sij,jsr->sr", J, A, J)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2 * var**2 / denom, np.inf)
