"""theta and the structure parameters z optimized together, where the whitened cross-products
come cheaply for any z (:mod:`multilevel.residual.lagsums`).

    d(theta, z) = d*(theta; A(z), B(z), C(z)) + log|Sigma(z)|

by L-BFGS-B on the deviance per observation: the exact gradient in theta (the profiled
deviance's own), central differences in z (two evaluations per parameter, each O(groups)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from multilevel.design.model import ModelDesign
from multilevel.objective import ProfiledDeviance
from multilevel.optimize.start import choose_start
from multilevel.residual.lagsums import LagSums

#: central-difference step in z
H = 1e-5
#: a line-search stop counts as converged below this projected gradient (deviance per row)
GTOL_STOP = 1e-6


@dataclass(frozen=True)
class JointOptimum:
    theta: np.ndarray
    z: np.ndarray
    fmin: float
    evaluations: int
    converged: bool
    message: str


def optimize_joint(
    sums: LagSums, design: ModelDesign, reml: bool, z0: np.ndarray, bounds: list
) -> JointOptimum:
    n_theta = design.n_theta
    scale = float(design.n)
    count = [0]

    def deviance(theta: np.ndarray, z: np.ndarray) -> tuple[ProfiledDeviance, float]:
        dev = ProfiledDeviance(sums.cross_products(z), reml=reml)
        return dev, sums.logdet(z)

    def fun_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        count[0] += 1
        theta, z = x[:n_theta], x[n_theta:]
        try:
            dev, logdet = deviance(theta, z)
            f, g_theta = dev.value_and_gradient(theta)
            g_z = np.empty(z.size)
            for k in range(z.size):
                e = np.zeros(z.size)
                e[k] = H
                dp, lp = deviance(theta, z + e)
                dm, lm = deviance(theta, z - e)
                g_z[k] = (dp(theta) + lp - dm(theta) - lm) / (2 * H)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError):
            return float("inf"), np.zeros(x.size)
        value = f + logdet
        if not np.isfinite(value) or not np.all(np.isfinite(g_z)):
            return float("inf"), np.zeros(x.size)
        return value / scale, np.concatenate([g_theta, g_z]) / scale

    dev0, _ = deviance(design.theta_start(), z0)
    theta0, _ = choose_start(dev0, dev0.xp, design.theta_start())
    lower = design.theta_lower()
    theta_bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    with np.errstate(all="ignore"):
        res = minimize(
            fun_grad,
            np.concatenate([theta0, z0]),
            jac=True,
            method="L-BFGS-B",
            bounds=theta_bounds + list(bounds),
            options={"ftol": 1e-15, "gtol": 1e-9, "maxiter": 5000, "maxcor": 20},
        )
    return JointOptimum(
        theta=np.maximum(res.x[:n_theta], lower),
        z=np.asarray(res.x[n_theta:]),
        fmin=float(res.fun) * scale,
        evaluations=count[0],
        converged=bool(np.isfinite(res.fun) and (res.success or _stationary(res, lower, bounds))),
        message=str(res.message),
    )


def _stationary(res, lower: np.ndarray, bounds: list) -> bool:
    """L-BFGS-B can stop in a line search at the optimum (the deviance no longer decreases in
    double precision): accept if the projected gradient per observation is below GTOL_STOP."""
    lo = np.concatenate([lower, [b[0] for b in bounds]])
    g = np.asarray(res.jac, dtype=float)
    at_lower = (res.x - np.where(np.isfinite(lo), lo, -np.inf) <= 1e-8) & (g > 0)
    return bool(np.max(np.abs(np.where(at_lower, 0.0, g)), initial=0.0) < GTOL_STOP)
