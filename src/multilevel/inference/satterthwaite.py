"""Satterthwaite degrees of freedom for fixed-effect contrasts, as lmerTest computes them.

For a contrast l, df = 2 (l' C l)^2 / (g' A g), where C = Var(beta_hat) = sigma^2 (R_X'R_X)^-1 as
a function of the variance parameters phi = (theta, sigma), g is the gradient of l' C(phi) l at
phi_hat and A = 2 H^-1, H the Hessian of the (REML or ML) deviance in phi with beta profiled out
and sigma not (lmerTest's ``devfun_vp``). Derivatives are central differences on our cheap
cross-product deviance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from multilevel.objective.deviance import LOG_2PI, Evaluation, ProfiledDeviance


@dataclass(frozen=True)
class VarParInfo:
    """Derivatives of the deviance and of Var(beta) in phi = (theta, sigma) at the optimum."""

    varpar: np.ndarray
    hessian: np.ndarray
    vcov_varpar: np.ndarray  # A = 2 H^-1
    vcov_beta: np.ndarray
    jacobian: np.ndarray  # (k, p, p): d Var(beta) / d phi_k
    gradient: np.ndarray  # (k,): d deviance / d phi (central differences; ~0 at the optimum)


def _at(dev: ProfiledDeviance, varpar: np.ndarray) -> tuple[float, np.ndarray]:
    """-2 log L (or the REML criterion) and Var(beta) at theta = varpar[:-1], sigma = varpar[-1]."""
    theta, sigma2 = varpar[:-1], varpar[-1] ** 2
    ev = dev.evaluate(theta)
    n, p = dev.xp.n, dev.xp.p
    value = ev.ldL2 + ev.r2 / sigma2 + n * (LOG_2PI + np.log(sigma2))
    if dev.reml:
        value += ev.ldRX2 - p * (LOG_2PI + np.log(sigma2))
    return float(value), sigma2 * ev.XtVinvX_inv


def deviance_vp(dev: ProfiledDeviance, varpar: np.ndarray) -> float:
    """lmerTest's ``devfun_vp``: the deviance with beta profiled out and sigma not."""
    return _at(dev, varpar)[0]


def _steps(x: np.ndarray, rel: float) -> np.ndarray:
    return rel * np.maximum(np.abs(x), 0.1)


def _pieces(ev: Evaluation, reml: bool) -> tuple[float, float, np.ndarray]:
    """D(theta, sigma) = a(theta) + b(theta) / sigma^2 + c log(2 pi sigma^2): returns a, b and
    U(theta) = Var(beta) / sigma^2 of one evaluation."""
    a = ev.ldL2 + (ev.ldRX2 if reml else 0.0)
    return a, ev.r2, ev.XtVinvX_inv


def stencil(theta: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """The steps h and the points of the central stencil: theta, theta +/- h_i e_i, and
    theta +/- (h_i e_i + h_j e_j) for j < i (1 + 2k + k(k - 1) points)."""
    k = theta.size
    h = _steps(theta, 1e-3)
    E = np.diag(h)
    points = [theta] + [theta + E[i] for i in range(k)] + [theta - E[i] for i in range(k)]
    for i in range(k):
        for j in range(i):
            points += [theta + E[i] + E[j], theta - E[i] - E[j]]
    return h, points


def varpar_info(dev: ProfiledDeviance, theta: np.ndarray, sigma: float) -> VarParInfo:
    """Hessian of the deviance and Jacobian of Var(beta) at (theta, sigma).

    sigma enters D(theta, sigma) = a(theta) + b(theta)/sigma^2 + c log(2 pi sigma^2) in closed
    form, so only a and b are differenced, on a central stencil in theta (step 1e-3 relative:
    smaller steps drown second differences in rounding noise): 1 + 2k + k(k - 1) evaluations
    of the deviance, each a factorization of the Schur complement on a crossed model (made two
    at a time where the deviance has ``workers`` = 2: they are independent).
    """
    theta = np.asarray(theta, float)
    k = theta.size
    c = dev.xp.n - (dev.xp.p if dev.reml else 0)
    s2 = sigma**2
    h, points = stencil(theta)
    pieces = [_pieces(ev, dev.reml) for ev in dev.evaluate_many(points)]
    a0, b0, U0 = pieces[0]
    plus, minus = pieces[1 : 1 + k], pieces[1 + k : 1 + 2 * k]
    pairs = iter(pieces[1 + 2 * k :])
    a_i = np.array([(plus[i][0] - minus[i][0]) / (2 * h[i]) for i in range(k)])
    b_i = np.array([(plus[i][1] - minus[i][1]) / (2 * h[i]) for i in range(k)])
    A2 = np.empty((k, k))
    B2 = np.empty((k, k))
    for i in range(k):
        A2[i, i] = (plus[i][0] - 2 * a0 + minus[i][0]) / h[i] ** 2
        B2[i, i] = (plus[i][1] - 2 * b0 + minus[i][1]) / h[i] ** 2
        for j in range(i):
            # f(+i+j) + f(-i-j) - f(+i) - f(-i) - f(+j) - f(-j) + 2 f = 2 h_i h_j f_ij + O(h^4):
            # two evaluations per pair (the four-corner stencil takes four), the same O(h^2)
            up, down = next(pairs), next(pairs)
            denom = 2 * h[i] * h[j]
            for out, m, centre in ((A2, 0, a0), (B2, 1, b0)):
                axes = plus[i][m] + minus[i][m] + plus[j][m] + minus[j][m]
                out[i, j] = out[j, i] = (up[m] + down[m] - axes + 2 * centre) / denom
    H = np.empty((k + 1, k + 1))
    H[:k, :k] = A2 + B2 / s2
    H[:k, k] = H[k, :k] = -2 * b_i / sigma**3
    H[k, k] = 6 * b0 / sigma**4 - 2 * c / s2
    try:
        A = 2 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        A = 2 * np.linalg.pinv(H)
    J = np.empty((k + 1, *U0.shape))
    for i in range(k):
        J[i] = s2 * (plus[i][2] - minus[i][2]) / (2 * h[i])
    J[k] = 2 * sigma * U0
    grad = np.append(a_i + b_i / s2, -2 * b0 / sigma**3 + 2 * c / sigma)
    return VarParInfo(np.append(theta, sigma), H, A, s2 * U0, J, grad)


def profiled_hessian(info: VarParInfo) -> np.ndarray:
    """Hessian of the profiled deviance d(theta) = min_sigma D(theta, sigma): the Schur
    complement H_tt - H_ts H_ss^-1 H_st (exact at the profiled sigma)."""
    H = info.hessian
    return H[:-1, :-1] - np.outer(H[:-1, -1], H[-1, :-1]) / H[-1, -1]


def satterthwaite(info: VarParInfo, L: np.ndarray) -> np.ndarray:
    """Satterthwaite df for each row l of L (contrasts of beta)."""
    L = np.atleast_2d(L)
    J = info.jacobian
    if L.shape[0] == L.shape[1] and np.array_equal(L, np.eye(L.shape[0])):  # each coefficient
        var = np.diagonal(info.vcov_beta).copy()
        g = np.diagonal(J, axis1=1, axis2=2).T  # (rows, k): l'J_k l = (J_k)_rr
    else:
        var = np.einsum("ri,ij,rj->r", L, info.vcov_beta, L, optimize=True)
        g = np.stack([np.einsum("ri,ij,rj->r", L, Jk, L, optimize=True) for Jk in J], axis=1)
    denom = np.einsum("rk,kl,rl->r", g, info.vcov_varpar, g)
    with np.errstate(divide="ignore"):
        return np.where(denom > 0, 2 * var**2 / np.where(denom > 0, denom, 1.0), np.inf)


def t_test(estimate: np.ndarray, se: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """t statistics and two-sided p-values."""
    t = estimate / se
    return t, 2 * stats.t.sf(np.abs(t), df)


def satterthwaite_f(
    info: VarParInfo, beta: np.ndarray, L: np.ndarray, tol: float = 1e-8
) -> tuple[float, int, float]:
    """F statistic, numerator and denominator df for H0: L beta = 0 (lmerTest's ``contestMD``).

    With L Var(beta) L' = P diag(d) P', the q rows of P'L are independent contrasts with t
    statistics t_m and Satterthwaite df nu_m; F = sum t_m^2 / q and the denominator df is
    2E / (E - q) with E = sum nu_m / (nu_m - 2) (any nu_m <= 2 gives 2; equal nu_m give nu).
    """
    L = np.atleast_2d(L)
    d, P = np.linalg.eigh(L @ info.vcov_beta @ L.T)
    order = np.argsort(d)[::-1]
    d, P = d[order], P[:, order]
    q = int(np.sum(d > max(tol * d[0], 0.0)))
    PtL = (P.T @ L)[:q]
    F = float(np.sum((PtL @ beta) ** 2 / d[:q]) / q)
    nu = satterthwaite(info, PtL)
    return F, q, _f_ddf(nu)


def _f_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2)))
    return 2 * E / (E - nu.size)
