"""Minimize the profiled deviance over theta, and record exactly what was done.

With one grouping factor the deviance has an exact gradient and we use L-BFGS-B (bounds: the
diagonal of each Lambda >= 0). Otherwise L-BFGS-B runs on central-difference gradients. After
the optimizer stops we check the result as lme4 does (``checkConv``): the gradient scaled by the
Hessian, ignoring components held at a bound where the gradient points outward, and we restart
from the boundary once if moving a zero variance off the edge lowers the deviance (lme4's
``restart_edge``). Everything is recorded in :class:`OptSummary`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from multilevel.objective.deviance import ProfiledDeviance

FTOL = 1e-15
GTOL = 1e-9
MAXITER = 5000
CONV_TOL = 2e-3  # lme4's check.conv.grad tolerance on the Hessian-scaled gradient
SINGULAR_TOL = 1e-4  # lme4's isSingular tolerance on the diagonal of Lambda
BOUNDARY_TOL = 1e-6


@dataclass(frozen=True)
class OptSummary:
    """The record of one optimization, like MixedModels.jl's OptSummary."""

    optimizer: str
    theta_initial: list[float]
    theta_final: list[float]
    lower: list[float]
    fmin: float
    n_evaluations: int
    n_iterations: int
    tolerances: dict[str, float]
    message: str
    gradient: list[float]
    scaled_gradient_max: float
    converged: bool
    restarted_from_boundary: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "optimizer": self.optimizer,
            "theta_initial": self.theta_initial,
            "theta_final": self.theta_final,
            "lower": [None if not np.isfinite(v) else v for v in self.lower],
            "fmin": self.fmin,
            "n_evaluations": self.n_evaluations,
            "n_iterations": self.n_iterations,
            "tolerances": self.tolerances,
            "message": self.message,
            "gradient": self.gradient,
            "scaled_gradient_max": self.scaled_gradient_max,
            "converged": self.converged,
            "restarted_from_boundary": self.restarted_from_boundary,
            "notes": self.notes,
        }


def central_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central differences with a step relative to |x|."""
    g = np.empty_like(x)
    for k in range(x.size):
        step = h * max(1.0, abs(x[k]))
        e = np.zeros_like(x)
        e[k] = step
        g[k] = (f(x + e) - f(x - e)) / (2 * step)
    return g


def hessian_of(grad: Callable[[np.ndarray], np.ndarray], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Symmetrized central-difference Jacobian of a gradient function."""
    k = x.size
    H = np.empty((k, k))
    for j in range(k):
        step = h * max(1.0, abs(x[j]))
        e = np.zeros(k)
        e[j] = step
        H[:, j] = (grad(x + e) - grad(x - e)) / (2 * step)
    return (H + H.T) / 2


class _Counter:
    def __init__(self, dev: ProfiledDeviance):
        self.dev = dev
        self.n = 0

    def fun(self, theta: np.ndarray) -> float:
        self.n += 1
        return self.dev(theta)

    def fun_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.n += 1
        try:
            return self.dev.value_and_gradient(theta)
        except (np.linalg.LinAlgError, FloatingPointError):
            return float("inf"), np.zeros_like(theta)

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        if self.dev.has_gradient:
            return self.fun_grad(theta)[1]
        return central_gradient(self.fun, theta)


def _run(counter: _Counter, start: np.ndarray, lower: np.ndarray):
    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    opts = {"ftol": FTOL, "gtol": GTOL, "maxiter": MAXITER, "maxcor": 20}
    if counter.dev.has_gradient:
        return minimize(counter.fun_grad, start, jac=True, method="L-BFGS-B", bounds=bounds, options=opts)
    return minimize(
        counter.fun,
        start,
        jac=lambda th: central_gradient(counter.fun, th),
        method="L-BFGS-B",
        bounds=bounds,
        options=opts,
    )


def _convergence(counter: _Counter, theta: np.ndarray, lower: np.ndarray) -> tuple[np.ndarray, float]:
    """Gradient and max |H^-1 g| over the free parameters (lme4's relative-gradient check)."""
    g = counter.gradient(theta)
    at_bound = (theta - lower <= BOUNDARY_TOL) & (g >= 0)
    free = ~at_bound
    if not free.any():
        return g, 0.0
    H = hessian_of(counter.gradient, theta)[np.ix_(free, free)]
    try:
        scaled = np.linalg.solve(H, g[free])
        return g, float(np.max(np.abs(scaled)))
    except np.linalg.LinAlgError:
        return g, float("inf")


def optimize_theta(dev: ProfiledDeviance, start: np.ndarray, lower: np.ndarray) -> OptSummary:
    """Minimize ``dev`` from ``start`` with lower bounds; check and record the result."""
    counter = _Counter(dev)
    start = np.asarray(start, dtype=float)
    res = _run(counter, start, lower)
    theta = np.maximum(res.x, lower)
    fmin = float(res.fun)
    n_iter = int(res.nit)
    message = str(res.message)
    notes: list[str] = []
    restarted = False
    # restart from the boundary if a zero variance can move off the edge to a lower deviance
    on_edge = [k for k in range(theta.size) if lower[k] == 0 and theta[k] <= BOUNDARY_TOL]
    for k in on_edge:
        trial = theta.copy()
        trial[k] = 1e-3
        if counter.fun(trial) < fmin - 1e-10:
            res2 = _run(counter, trial, lower)
            restarted = True
            if res2.fun < fmin:
                notes.append(
                    f"restarted from the boundary (theta[{k}] = 0): deviance improved by "
                    f"{fmin - float(res2.fun):.3g}"
                )
                theta, fmin = np.maximum(res2.x, lower), float(res2.fun)
                n_iter += int(res2.nit)
                message = str(res2.message)
            break
    g, scaled = _convergence(counter, theta, lower)
    converged = bool(np.isfinite(fmin) and scaled < CONV_TOL)
    if not converged:
        notes.append(
            f"the gradient scaled by the Hessian is {scaled:.3g} at the optimum "
            f"(tolerance {CONV_TOL}); the optimizer may have stopped early"
        )
    return OptSummary(
        optimizer="L-BFGS-B (exact gradient)" if dev.has_gradient else "L-BFGS-B (central differences)",
        theta_initial=start.tolist(),
        theta_final=theta.tolist(),
        lower=lower.tolist(),
        fmin=fmin,
        n_evaluations=counter.n,
        n_iterations=n_iter,
        tolerances={"ftol": FTOL, "gtol": GTOL, "maxiter": MAXITER, "conv_tol": CONV_TOL},
        message=message,
        gradient=g.tolist(),
        scaled_gradient_max=scaled,
        converged=converged,
        restarted_from_boundary=restarted,
        notes=notes,
    )


def singular(theta: np.ndarray, lower: np.ndarray) -> bool:
    """lme4's isSingular: a diagonal element of some Lambda is (nearly) zero."""
    return bool(np.any((lower == 0) & (theta < SINGULAR_TOL)))
