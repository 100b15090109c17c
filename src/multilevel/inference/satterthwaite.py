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

from multilevel.objective.deviance import LOG_2PI, ProfiledDeviance


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


def varpar_info(dev: ProfiledDeviance, theta: np.ndarray, sigma: float) -> VarParInfo:
    """Hessian of the deviance and Jacobian of Var(beta) at (theta, sigma), by central
    differences (step 1e-3 relative: smaller steps drown second differences in rounding)."""
    x = np.append(np.asarray(theta, float), sigma)
    k = x.size
    h = _steps(x, 1e-3)
    f0, V0 = _at(dev, x)
    H = np.empty((k, k))
    E = np.diag(h)
    plus = [_at(dev, x + E[i]) for i in range(k)]
    minus = [_at(dev, x - E[i]) for i in range(k)]
    for i in range(k):
        H[i, i] = (plus[i][0] - 2 * f0 + minus[i][0]) / h[i] ** 2
        for j in range(i):
            fpp = deviance_vp(dev, x + E[i] + E[j])
            fpm = deviance_vp(dev, x + E[i] - E[j])
            fmp = deviance_vp(dev, x - E[i] + E[j])
            fmm = deviance_vp(dev, x - E[i] - E[j])
            H[i, j] = H[j, i] = (fpp - fpm - fmp + fmm) / (4 * h[i] * h[j])
    try:
        A = 2 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        A = 2 * np.linalg.pinv(H)
    J = np.stack([(plus[i][1] - minus[i][1]) / (2 * h[i]) for i in range(k)])
    grad = np.array([(plus[i][0] - minus[i][0]) / (2 * h[i]) for i in range(k)])
    return VarParInfo(x, H, A, V0, J, grad)


def profiled_hessian(info: VarParInfo) -> np.ndarray:
    """Hessian of the profiled deviance d(theta) = min_sigma D(theta, sigma): the Schur
    complement H_tt - H_ts H_ss^-1 H_st (exact at the profiled sigma)."""
    H = info.hessian
    return H[:-1, :-1] - np.outer(H[:-1, -1], H[-1, :-1]) / H[-1, -1]


def satterthwaite(info: VarParInfo, L: np.ndarray) -> np.ndarray:
    """Satterthwaite df for each row l of L (contrasts of beta)."""
    L = np.atleast_2d(L)
    out = np.empty(L.shape[0])
    for r, l in enumerate(L):
        var = float(l @ info.vcov_beta @ l)
        g = np.array([l @ Jk @ l for Jk in info.jacobian])
        denom = float(g @ info.vcov_varpar @ g)
        out[r] = 2 * var**2 / denom if denom > 0 else np.inf
    return out


def t_test(estimate: np.ndarray, se: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """t statistics and two-sided p-values."""
    t = estimate / se
    return t, 2 * stats.t.sf(np.abs(t), df)
