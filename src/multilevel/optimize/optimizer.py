"""Minimize the profiled deviance over theta, and record exactly what was done.

With one grouping factor the deviance has an exact gradient and we use L-BFGS-B (bounds: the
diagonal of each Lambda >= 0). Otherwise the derivative-free COBYQA (a successor of lme4's
BOBYQA by the same trust-region family) minimizes it. After
the optimizer stops we check the result as lme4 does (``checkConv``): the gradient scaled by the
Hessian, ignoring components held at a bound where the gradient points outward, and we restart
from the boundary once if moving a zero variance off the edge lowers the deviance (lme4's
``restart_edge``). Everything is recorded in :class:`OptSummary`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.optimize import Bounds, minimize

from multilevel.objective.deviance import ProfiledDeviance

FTOL = 1e-15
GTOL = 1e-9
MAXITER = 5000
MAXFEV = 20000
TR_RADIUS = 1e-7  # theta to ~1e-7: the deviance to ~1e-12, 20% fewer evaluations than 1e-9
#: where one evaluation factors a dense Schur complement of at least EXPENSIVE_SCHUR rows
#: (a crossed fit: InstEval's is 1145), COBYQA stops at a trust radius of LOOSE_TR_RADIUS and
#: one Newton step on the Hessian that the convergence check computes anyway finishes the job
#: (optimize.polish): 30 instead of 50 evaluations on InstEval, the same optimum to 1e-9
LOOSE_TR_RADIUS = 1e-4
EXPENSIVE_SCHUR = 500
#: COBYQA's first trust radius from a moment start (optimize.start); from lme4's start it is 1
INFORMED_TR_RADIUS = 0.1
MAX_RESTART_ROUNDS = 4
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
            "scaled_gradient_max": (
                self.scaled_gradient_max if np.isfinite(self.scaled_gradient_max) else None
            ),
            "converged": self.converged,
            "restarted_from_boundary": self.restarted_from_boundary,
            "notes": self.notes,
        }


def central_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6
) -> np.ndarray:
    """Central differences with a step relative to |x|."""
    g = np.empty_like(x)
    for k in range(x.size):
        step = h * max(1.0, abs(x[k]))
        e = np.zeros_like(x)
        e[k] = step
        g[k] = (f(x + e) - f(x - e)) / (2 * step)
    return g


class _Counter:
    """Counts evaluations; the gradient path sees the deviance per observation (values of order
    one, which L-BFGS-B's first steps and tolerances are made for)."""

    def __init__(self, dev: ProfiledDeviance):
        self.dev = dev
        self.n = 0
        self.scale = float(max(dev.xp.n, 1))

    def fun(self, theta: np.ndarray) -> float:
        self.n += 1
        return self.dev(theta)

    def fun_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.n += 1
        try:
            f, g = self.dev.value_and_gradient(theta)
        except (np.linalg.LinAlgError, FloatingPointError):
            return float("inf"), np.zeros_like(theta)
        return f / self.scale, g / self.scale


def final_radius(dev: ProfiledDeviance) -> float:
    """COBYQA's final trust radius: loose where an evaluation factors a large dense Schur
    complement (then polished by a Newton step, optimize.polish), else TR_RADIUS."""
    xp = dev.xp
    n_rest = getattr(xp, "n_rest", 0)
    dense = n_rest and not getattr(xp, "rest_is_sparse", True)
    return LOOSE_TR_RADIUS if dense and n_rest + xp.p >= EXPENSIVE_SCHUR else TR_RADIUS


def _run(counter: _Counter, start: np.ndarray, lower: np.ndarray, radius: float = 1.0) -> Any:
    if counter.dev.has_gradient:
        bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
        opts = {"ftol": FTOL, "gtol": GTOL, "maxiter": MAXITER, "maxcor": 20}
        res = minimize(
            counter.fun_grad, start, jac=True, method="L-BFGS-B", bounds=bounds, options=opts
        )
        res.fun = float(res.fun) * counter.scale  # back to the deviance
        return res
    # derivative-free, as lme4's BOBYQA: far fewer evaluations than finite-difference gradients
    bounds = Bounds(lower, np.full_like(lower, np.inf))
    return minimize(
        counter.fun,
        start,
        method="COBYQA",
        bounds=bounds,
        options={
            "initial_tr_radius": radius,
            "final_tr_radius": min(final_radius(counter.dev), radius),
            "maxfev": MAXFEV,
        },
    )


@dataclass
class _Path:
    """One optimization from one start, with its boundary restarts."""

    start: np.ndarray
    res: Any
    theta: np.ndarray
    fmin: float
    n_iter: int
    notes: list[str]
    restarted: bool


def _from_start(counter: _Counter, start: np.ndarray, lower: np.ndarray, radius: float) -> _Path:
    res = _run(counter, start, lower, radius)
    path = _Path(
        start, res, np.maximum(res.x, lower), float(res.fun), int(getattr(res, "nit", 0)), [], False
    )
    # A zero on the diagonal of Lambda may be a genuine boundary estimate or a corner the
    # optimizer ran into (the profiled deviance has local minima there). Restart from points
    # just off the edge and keep the best: a singular fit is reported only if it survives.
    offdiag = ~np.isfinite(lower)
    tried: list[np.ndarray] = []
    for _ in range(MAX_RESTART_ROUNDS):
        on_edge = (lower == 0) & (path.theta <= BOUNDARY_TOL)
        if not on_edge.any():
            break
        path.restarted = True
        starts = [
            np.where(on_edge, 0.1, path.theta),
            np.where(on_edge, 0.1, np.where(offdiag, 0.0, path.theta)),
            0.1 * start,
        ]
        improved = False
        for trial in starts:
            if any(np.allclose(trial, t) for t in tried):
                continue
            tried.append(trial)
            res2 = _run(counter, trial, lower)
            path.n_iter += int(getattr(res2, "nit", 0))
            if np.isfinite(res2.fun) and res2.fun < path.fmin - 1e-9:
                path.notes.append(
                    "restarted off the boundary: the deviance improved by "
                    f"{path.fmin - float(res2.fun):.4g} (the previous optimum had a zero variance)"
                )
                path.theta, path.fmin, path.res = np.maximum(res2.x, lower), float(res2.fun), res2
                improved = True
        if not improved:
            break
    return path


def optimize_theta(
    dev: ProfiledDeviance,
    start: np.ndarray,
    lower: np.ndarray,
    informed_start: bool = False,
    also_from: np.ndarray | None = None,
) -> OptSummary:
    """Minimize ``dev`` from ``start`` with lower bounds and record the run.

    ``informed_start``: the start is an estimate (the moments), so the derivative-free search
    begins in a smaller trust region around it. ``also_from``: a second start (lme4's), run as
    well (each with its boundary restarts); the better optimum is kept, a guard against a local
    optimum where deviances are cheap. ``theta_initial`` records the start of the kept run.

    The convergence check needs the Hessian, which the caller computes anyway for the
    Satterthwaite df; :func:`check_convergence` adds it to the record.
    """
    counter = _Counter(dev)
    start = np.asarray(start, dtype=float)
    best = _from_start(counter, start, lower, INFORMED_TR_RADIUS if informed_start else 1.0)
    n_iter = best.n_iter
    if also_from is not None and not np.allclose(also_from, start):
        other = _from_start(counter, np.asarray(also_from, dtype=float), lower, 1.0)
        n_iter += other.n_iter
        if np.isfinite(other.fmin) and other.fmin < best.fmin - 1e-6 * max(1.0, abs(best.fmin)):
            other.notes.append(
                f"lme4's start (Lambda = I) reached a deviance {best.fmin - other.fmin:.4g} lower "
                "than the start from the moment estimates; its optimum is used"
            )
            best = other
        elif np.isfinite(other.fmin) and other.fmin < best.fmin:
            best = other  # the same optimum, found a little more precisely
    return OptSummary(
        optimizer="L-BFGS-B (exact gradient)" if dev.has_gradient else "COBYQA (derivative-free)",
        theta_initial=best.start.tolist(),
        theta_final=best.theta.tolist(),
        lower=lower.tolist(),
        fmin=best.fmin,
        n_evaluations=counter.n,
        n_iterations=n_iter,
        tolerances={
            "ftol": FTOL,
            "gtol": GTOL,
            "final_tr_radius": final_radius(dev),
            "maxiter": MAXITER,
            "conv_tol": CONV_TOL,
        },
        message=str(best.res.message),
        gradient=[],
        scaled_gradient_max=float("nan"),
        converged=bool(np.isfinite(best.fmin) and best.res.success),
        restarted_from_boundary=best.restarted,
        notes=best.notes,
    )


def free_parameters(params: np.ndarray, gradient: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """The parameters not held at a lower bound with the gradient pointing outward (those
    satisfy the optimality conditions already)."""
    return ~((params - lower <= BOUNDARY_TOL) & (gradient >= 0))


def scaled_gradient(
    gradient: np.ndarray, hessian: np.ndarray | None, free: np.ndarray
) -> float | None:
    """lme4's convergence measure (``checkConv``, lme4 1.1-31): max over the free parameters of
    min(|R^-1 g|, |g|), R'R = H the Cholesky factor of the Hessian; the raw gradient where there
    is no Hessian; None where the Hessian is not positive definite."""
    g = np.asarray(gradient, dtype=float)[free]
    if not g.size:
        return 0.0
    if hessian is None:
        return float(np.max(np.abs(g)))
    try:
        R = np.linalg.cholesky(np.asarray(hessian, float)[np.ix_(free, free)]).T  # upper
        scaled = np.linalg.solve(R, g)
    except np.linalg.LinAlgError:
        return None
    return float(np.max(np.minimum(np.abs(scaled), np.abs(g))))


def check_convergence(
    opt: OptSummary, gradient: np.ndarray, hessian: np.ndarray | None, lower: np.ndarray
) -> OptSummary:
    """lme4's check: the scaled gradient (:func:`scaled_gradient`) below 0.002 over the
    parameters not held at a bound with the gradient pointing outward. ``lower`` has one bound
    per parameter of ``opt.theta_final`` (-inf for fixed effects in a GLMM's record).

    Where the Hessian is not positive definite, a singular fit is judged on the raw gradient
    (lme4 skips the check on singular fits); any other fit is not converged, as lme4 warns."""
    params = np.asarray(opt.theta_final, dtype=float)
    g = np.asarray(gradient, dtype=float)
    free = free_parameters(params, g, lower)
    scaled = scaled_gradient(g, hessian, free)
    notes = list(opt.notes)
    if scaled is None and singular(params, lower):
        scaled = scaled_gradient(g, None, free)
    if scaled is None:
        scaled = float("inf")
        notes.append(
            "the optimizer did not converge: the Hessian of the deviance is not positive "
            "definite at the estimates, so they may be a saddle point rather than the maximum "
            "of the likelihood; rescale or centre the predictors, or fit a simpler random part"
        )
    elif not scaled < CONV_TOL:
        notes.append(
            f"the optimizer did not converge: the gradient scaled by the Hessian is {scaled:.3g} "
            f"at the estimates (tolerance {CONV_TOL}; optimizer message: {opt.message}). The "
            "estimates may not be the maximum of the likelihood; rescale or centre the "
            "predictors, or fit a simpler random part"
        )
    ok = bool(np.isfinite(opt.fmin) and scaled < CONV_TOL)
    return replace(opt, gradient=g.tolist(), scaled_gradient_max=scaled, converged=ok, notes=notes)


def singular_note(names: list[str], theta: np.ndarray, lower: np.ndarray) -> str | None:
    """The message of a boundary (singular) fit, naming the variances estimated as zero."""
    zero = [
        n for n, th, lo in zip(names, theta, lower, strict=True) if lo == 0 and th < SINGULAR_TOL
    ]
    if not zero:
        return None
    return (
        "boundary (singular) fit: the variance of "
        + ", ".join(zero)
        + " is estimated as (nearly) zero; a simpler random-effects structure without it "
        "fits the data equally well"
    )


def singular(theta: np.ndarray, lower: np.ndarray) -> bool:
    """lme4's isSingular: a diagonal element of some Lambda is (nearly) zero."""
    return bool(np.any((lower == 0) & (theta < SINGULAR_TOL)))
