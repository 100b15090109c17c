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


def deviance_vp(dev: ProfiledDeviance, varpar: np.ndarray) -> float:
    """-2 log L (or the REML criterion) at theta = varpar[:-1], sigma = varpar[-1]."""
    theta, sigma2 = varpar[:-1], varpar[-1] ** 2
    ev = dev.evaluate(theta)
    n, p = dev.xp.n, dev.xp.p
    value = ev.ldL2 + ev.r2 / sigma2 + n * (LOG_2PI + np.log(sigma2))
    if dev.reml:
        value += ev.ldRX2 - p * (LOG_2PI + np.log(sigma2))
    return float(value)


def vcov_vp(dev: ProfiledDeviance, varpar: np.ndarray) -> np.ndarray:
    return varpar[-1] ** 2 * dev.evaluate(varpar[:-1]).XtVinvX_inv


def _steps(x: np.ndarray, rel: float) -> np.ndarray:
    return rel * np.maximum(np.abs(x), 0.1)


def varpar_info(dev: ProfiledDeviance, theta: np.ndarray, sigma: float) -> VarParInfo:
    """Hessian of the deviance and Jacobian of Var(beta) at (theta, sigma)."""
    x = np.append(np.asarray(theta, float), sigma)
    k = x.size
    h = _steps(x, 1e-3)  # second differences: 1e-4 is already in the rounding noise
    f0 = deviance_vp(dev, x)
    H = np.empty((k, k))
    E = np.diag(h)
    fp = [deviance_vp(dev, x + E[i]) for i in range(k)]
    fm = [deviance_vp(dev, x - E[i]) for i in range(k)]
    for i in range(k):
        H[i, i] = (fp[i] - 2 * f0 + fm[i]) / h[i] ** 2
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
    J = np.stack([(vcov_vp(dev, x + E[i]) - vcov_vp(dev, x - E[i])) / (2 * h[i]) for i in range(k)])
    return VarParInfo(x, H, A, vcov_vp(dev, x), J)


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
