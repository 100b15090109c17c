"""One Newton step after the derivative-free optimizer, on the convergence check's Hessian.

COBYQA stops when its trust radius reaches 1e-7, or 1e-4 where each evaluation factors a large
dense matrix (crossed fits; optimize.optimizer.final_radius). Theta is then known to about that
precision, and where it stops within it depends on rounding in the deviance (two routes to the
same cross-products, in memory or in chunks, stop at different points). The convergence check
computes the gradient g and Hessian H of the deviance at that theta anyway (central
differences, inference.satterthwaite), so the Newton step theta - H^-1 g locates the optimum to
rounding for one more evaluation. Parameters at a lower bound stay there; one that the step
would push past its bound is held at the bound and the step is solved again for the others.
The step is kept only if it is small and does not raise the deviance beyond rounding.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from multilevel.objective.deviance import ProfiledDeviance
from multilevel.optimize.optimizer import BOUNDARY_TOL, OptSummary

#: the step may move no parameter by more than this times max(|theta|, 0.1)
MAX_STEP = 1e-2
#: the deviance after the step may exceed the optimizer's by this much relative (rounding)
ROUNDING = 1e-11


def newton_step(
    theta: np.ndarray, gradient: np.ndarray, hessian: np.ndarray, lower: np.ndarray
) -> np.ndarray | None:
    """theta + d minimizing the quadratic model g'd + d'Hd/2 subject to theta + d >= lower
    (by fixing at their bound the parameters that cross it); None if H is not usable."""
    at_bound = theta - lower <= BOUNDARY_TOL
    d = np.zeros_like(theta)
    for _ in range(theta.size):
        free = ~at_bound
        if not free.any():
            return theta + d
        fixed = ~free
        rhs = gradient[free] + hessian[np.ix_(free, fixed)] @ d[fixed]
        try:
            d[free] = -np.linalg.solve(hessian[np.ix_(free, free)], rhs)
        except np.linalg.LinAlgError:
            return None
        crossed = free & (theta + d < lower)
        if not crossed.any():
            return theta + d
        d[crossed] = lower[crossed] - theta[crossed]
        at_bound |= crossed
    return None


def newton_polish(
    dev: ProfiledDeviance,
    opt: OptSummary,
    gradient: np.ndarray,
    hessian: np.ndarray,
    lower: np.ndarray,
) -> OptSummary:
    """The record after one Newton step from the derivative-free optimizer's theta, or
    unchanged; the step costs one evaluation."""
    if not np.isfinite(opt.fmin):
        return opt
    theta = np.asarray(opt.theta_final, dtype=float)
    new = newton_step(theta, np.asarray(gradient, float), np.asarray(hessian, float), lower)
    if new is None or not np.all(np.isfinite(new)) or np.array_equal(new, theta):
        return opt
    if np.any(np.abs(new - theta) > MAX_STEP * np.maximum(np.abs(theta), 0.1)):
        return opt
    f1 = dev(new)
    if not f1 <= opt.fmin + ROUNDING * max(1.0, abs(opt.fmin)):
        return opt
    moved = float(np.max(np.abs(new - theta) / np.maximum(np.abs(theta), 1e-8)))
    note = (
        f"a Newton step on the convergence check's Hessian moved theta by {moved:.2g} "
        f"(relative), the deviance by {opt.fmin - f1:.2g}; the gradient and Hessian recorded "
        "are those before the step"
    )
    return replace(
        opt,
        theta_final=new.tolist(),
        fmin=float(f1),
        n_evaluations=opt.n_evaluations + 1,
        notes=[*opt.notes, note],
    )
