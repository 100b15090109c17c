"""Fit a GLMM: Laplace (nagq = 1) for any random part, adaptive Gauss-Hermite for one scalar
random effect. Steps as lme4's ``glmer``: design -> deviance function of (theta, beta) ->
optimizer -> checks -> result, each a function here.

The optimizer differs from lme4's (a derivative-free BOBYQA after an nAGQ = 0 stage): the
Laplace deviance comes with its exact gradient, so L-BFGS-B from the GLM estimates reaches the
optimum in a few dozen evaluations, and Newton steps on a Hessian by differences of the exact
gradient polish it (the same Hessian gives lme4's Hessian-based standard errors).
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
from scipy import optimize

from multilevel.errors import DataError
from multilevel.family import Family, get_family
from multilevel.glmm.checks import data_notes, fit_notes
from multilevel.glmm.design import GlmmDesign, build_glmm_design
from multilevel.glmm.engine import glm_start, make_engine
from multilevel.glmm.general import GeneralLaplace
from multilevel.glmm.grouped import GroupedLaplace
from multilevel.glmm.newton import approximate_hessian, newton
from multilevel.objective.modes import TermModes
from multilevel.optimize.optimizer import OptSummary, check_convergence, singular, singular_note
from multilevel.result.fit import MixedFit, variance_components

#: lme4 computes the Hessian-based covariance of the fixed effects below this many rows
#: (``calc.derivs``); above it, the PIRLS-based one (``unsc``)
HESSIAN_ROWS = 10_000
#: step of the finite differences for the Hessian (lme4's deriv12 uses 1e-4)
FD_STEP = 1e-4

Engine = GroupedLaplace | GeneralLaplace


def fit_glmm(
    formula: str,
    data: Any,
    family: str | Family,
    *,
    nagq: int = 1,
    weights: Any = None,
    offset: Any = None,
    contrasts: dict[str, str] | None = None,
    na_values: Any = None,
    warn: bool = True,
) -> MixedFit:
    """``multilevel.fit(formula, data, family=...)``: see :func:`multilevel.fit`."""
    fam = get_family(family)
    if not isinstance(nagq, int | np.integer) or isinstance(nagq, bool) or nagq < 1:
        raise DataError(f"nagq must be a whole number >= 1 (1 = Laplace), not {nagq!r}")
    gd = build_glmm_design(
        formula,
        data,
        fam,
        weights=weights,
        offset=offset,
        contrasts=contrasts,
        na_values=na_values,
    )
    if nagq > 1 and not (len(gd.base.terms) == 1 and gd.base.terms[0].q == 1):
        raise DataError(
            "nAGQ > 1 is only available for models with a single, scalar random-effects term "
            f"(lme4's rule); '{formula}' has "
            + ", ".join(f"({', '.join(t.term_names)} | {t.grouping_factor})" for t in gd.base.terms)
            + ". Use nagq=1 (Laplace)"
        )
    result = fit_glmm_design(gd, nagq)
    if warn:
        for msg in result.warnings:
            warnings.warn(msg, _fit_warning(), stacklevel=3)
    return result


def _fit_warning() -> type[Warning]:
    from multilevel.api import FitWarning

    return FitWarning


def optimize_laplace(
    engine: Engine,
    nth: int,
    start: np.ndarray,
    lower: np.ndarray,
    scale: np.ndarray,
    full_hessian: bool,
) -> tuple[np.ndarray, int, list[str], np.ndarray | None, np.ndarray]:
    """Newton on the exact gradient (:mod:`multilevel.glmm.newton`); L-BFGS-B from its end
    point if it stops short (recorded in the notes). With ``full_hessian`` the Hessian by
    differences of the gradient is computed and a Newton step on it polishes the optimum.
    Returns phi, evaluations, notes, that Hessian and where it was computed."""
    res = newton(engine, start, nth, lower)
    phi, evals, notes = res.phi, res.evaluations, list(res.notes)
    if not res.converged:
        phi, e2, ok = _lbfgsb(engine, nth, phi, lower, scale)
        evals += e2
        notes.append("Newton stopped short; L-BFGS-B continued from its end point")
        if not ok:
            notes.append("L-BFGS-B did not report convergence either")
    if not full_hessian:
        return phi, evals, notes, None, phi
    phi, extra, H, at = _newton_polish(engine, nth, phi, lower, rounds=2)
    return phi, evals + extra, notes, H, at


def _lbfgsb(
    engine: Engine, nth: int, start: np.ndarray, lower: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, int, bool]:
    """L-BFGS-B on x with phi = start + scale @ x (curvature about equal in all directions)."""
    count = [0]

    def fg(x: np.ndarray) -> tuple[float, np.ndarray]:
        count[0] += 1
        phi = start + scale @ x
        try:
            f, g = engine.deviance_and_gradient(phi, nth)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            f, g = np.inf, np.zeros_like(phi)
        if not (np.isfinite(f) and np.all(np.isfinite(g))):
            return 1e300, np.zeros_like(phi)  # a step too far: the line search backs off
        return f, scale.T @ g

    d = np.diag(scale)[:nth]
    bounds = [
        ((lo - s0) / di if np.isfinite(lo) else None, None)
        for lo, s0, di in zip(lower, start[:nth], d, strict=True)
    ]
    bounds += [(None, None)] * (len(start) - nth)
    res = optimize.minimize(
        fg,
        np.zeros(len(start)),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20},
    )
    phi = start + scale @ np.asarray(res.x, dtype=float)
    phi[:nth] = np.maximum(phi[:nth], lower)
    engine.deviance_and_gradient(phi, nth)
    return phi, count[0] + 1, bool(res.success)


def parameter_scale(gd: GlmmDesign, beta0: np.ndarray) -> np.ndarray:
    """Block-diagonal scale: theta by 1/sqrt(levels), beta by the inverse Cholesky factor of
    the GLM's X'WX (so the fixed part's curvature is about the identity)."""
    d = gd.base
    th = np.concatenate([np.full(t.n_theta, 1 / np.sqrt(t.n_levels)) for t in d.terms])
    X = np.asarray(d.X, dtype=float)
    rt = gd.family.rows(gd.offset + X @ beta0, gd.y, gd.weights)
    info = 2 * (X.T @ (np.maximum(rt.b, 1e-12)[:, None] * X))
    try:
        R = np.linalg.cholesky(info).T
        T = np.linalg.inv(R)
    except np.linalg.LinAlgError:
        T = np.diag(1 / np.sqrt(np.maximum(np.diag(info), 1e-12)))
    k = len(th) + len(beta0)
    S = np.zeros((k, k))
    S[: len(th), : len(th)] = np.diag(th)
    S[len(th) :, len(th) :] = T
    return S


def _hessian(engine: Engine, nth: int, phi: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Central differences of the exact gradient (one-sided at a bound), symmetrised."""
    k = len(phi)
    H = np.empty((k, k))
    for j in range(k):
        h = FD_STEP
        up = phi.copy()
        up[j] += h
        dn = phi.copy()
        dn[j] -= h
        if j < nth and dn[j] < lower[j]:
            g0 = engine.deviance_and_gradient(phi, nth)[1]
            H[:, j] = (engine.deviance_and_gradient(up, nth)[1] - g0) / h
        else:
            H[:, j] = (
                engine.deviance_and_gradient(up, nth)[1] - engine.deviance_and_gradient(dn, nth)[1]
            ) / (2 * h)
    engine.deviance_and_gradient(phi, nth)  # leave the modes at phi
    return 0.5 * (H + H.T)


def _newton_polish(
    engine: Engine, nth: int, phi: np.ndarray, lower: np.ndarray, rounds: int = 4
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Newton steps on the free parameters, with one Hessian (by differences of the exact
    gradient) at the L-BFGS-B point, while they lower the deviance. Returns phi, evaluations,
    the Hessian and the point where it was computed."""
    f, g = engine.deviance_and_gradient(phi, nth)
    H = _hessian(engine, nth, phi, lower)
    at = phi.copy()
    evals = 2 * len(phi) + 2
    for _ in range(rounds):
        free = np.ones(len(phi), bool)
        free[:nth] = ~((phi[:nth] <= lower + 1e-10) & (g[:nth] > 0))
        step = np.zeros_like(phi)
        try:
            step[free] = -np.linalg.solve(H[np.ix_(free, free)], g[free])
        except np.linalg.LinAlgError:
            break
        new = phi + step
        new[:nth] = np.maximum(new[:nth], lower)
        f_new, g_new = engine.deviance_and_gradient(new, nth)
        evals += 1
        if not f_new < f:
            break
        small = f - f_new < 1e-10
        phi, f, g = new, f_new, g_new
        if small:
            break
    engine.deviance_and_gradient(phi, nth)  # leave the modes at phi
    return phi, evals + 1, H, at


def optimize_agq(
    engine: GroupedLaplace,
    nth: int,
    start: np.ndarray,
    lower: np.ndarray,
    nagq: int,
    scale: np.ndarray,
) -> tuple[np.ndarray, int, list[str]]:
    """L-BFGS-B with central-difference gradients on the AGQ deviance, from the Laplace
    optimum, in the scaled coordinates phi = start + scale @ x."""
    count = [0]

    def f(x: np.ndarray) -> float:
        count[0] += 1
        try:
            v = engine.agq_deviance(start + scale @ x, nth, nagq)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return 1e300
        return v if np.isfinite(v) else 1e300

    d = np.diag(scale)[:nth]
    bounds = [((lo - s0) / di, None) for lo, s0, di in zip(lower, start[:nth], d, strict=True)]
    bounds += [(None, None)] * (len(start) - nth)
    res = optimize.minimize(
        f,
        np.zeros(len(start)),
        method="L-BFGS-B",
        jac="3-point",
        bounds=bounds,
        options={"maxiter": 500, "ftol": 1e-15, "gtol": 1e-8},
    )
    notes = [] if res.success else [f"L-BFGS-B (AGQ): {res.message}"]
    phi = start + scale @ np.asarray(res.x)
    phi[:nth] = np.maximum(phi[:nth], lower)
    return phi, count[0], notes


def _agq_hessian(engine: GroupedLaplace, nth: int, phi: np.ndarray, nagq: int) -> np.ndarray:
    """Second differences of the AGQ deviance (lme4's deriv12), step 1e-4."""
    k, h = len(phi), FD_STEP
    f0 = engine.agq_deviance(phi, nth, nagq)
    H = np.empty((k, k))
    E = np.eye(k) * h
    for i in range(k):
        fp = engine.agq_deviance(phi + E[i], nth, nagq)
        fm = engine.agq_deviance(phi - E[i], nth, nagq)
        H[i, i] = (fp - 2 * f0 + fm) / h**2
        for j in range(i):
            fpp = engine.agq_deviance(phi + E[i] + E[j], nth, nagq)
            fpm = engine.agq_deviance(phi + E[i] - E[j], nth, nagq)
            fmp = engine.agq_deviance(phi - E[i] + E[j], nth, nagq)
            fmm = engine.agq_deviance(phi - E[i] - E[j], nth, nagq)
            H[i, j] = H[j, i] = (fpp - fpm - fmp + fmm) / (4 * h * h)
    engine.agq_deviance(phi, nth, nagq)
    return H


def fit_glmm_design(gd: GlmmDesign, nagq: int = 1) -> MixedFit:
    """Optimize, check and build the result for a built design."""
    d = gd.base
    engine = make_engine(gd)
    nth = d.n_theta
    lower = d.theta_lower()
    beta0 = glm_start(gd)
    theta0 = d.theta_start()
    start = np.concatenate([theta0, beta0])
    with np.errstate(over="ignore", under="ignore"):
        phi, evals, notes, H_polish, H_at = optimize_laplace(
            engine, nth, start, lower, parameter_scale(gd, beta0), d.n < HESSIAN_ROWS
        )
        laplace_dev = engine.deviance(phi, nth)
        if nagq > 1:
            assert isinstance(engine, GroupedLaplace)
            phi, e2, n2 = optimize_agq(engine, nth, phi, lower, nagq, parameter_scale(gd, beta0))
            evals += e2
            notes += n2
            dev = engine.agq_deviance(phi, nth, nagq)
            H = _agq_hessian(engine, nth, phi, nagq) if d.n < HESSIAN_ROWS else None
            grad = optimize.approx_fprime(phi, lambda x: engine.agq_deviance(x, nth, nagq), 1e-6)
            engine.agq_deviance(phi, nth, nagq)
        else:
            dev, grad = engine.deviance_and_gradient(phi, nth)
            H = None
            if d.n < HESSIAN_ROWS:  # the polish's Hessian unless the polish moved phi
                moved = float(np.max(np.abs(phi - H_at), initial=0.0))
                H = (
                    H_polish
                    if moved < 1e-6 or H_polish is None
                    else _hessian(engine, nth, phi, lower)
                )
            laplace_dev = dev
    H_check = H
    if H_check is None:  # lme4 scales the gradient by the Hessian: the cheap one here
        H_check = approximate_hessian(
            engine, phi, engine.deviance_and_gradient(phi, nth)[1], nth, lower
        )[0]
        if nagq > 1 and isinstance(engine, GroupedLaplace):
            engine.agq_deviance(phi, nth, nagq)
    theta, beta = phi[:nth], phi[nth:]
    vcov, vcov_note = _vcov(engine, theta, nth, H)
    if vcov_note:
        notes.append(vcov_note)
    b, cond_var = engine.modes(theta)
    return _build(
        gd,
        engine,
        nagq,
        theta,
        beta,
        vcov,
        dev,
        laplace_dev,
        grad,
        H_check,
        b,
        cond_var,
        evals,
        start,
        lower,
        notes,
    )


def _vcov(
    engine: Engine, theta: np.ndarray, nth: int, H: np.ndarray | None
) -> tuple[np.ndarray, str | None]:
    """lme4's choice: 2 H^-1 (fixed-effects block) when the Hessian was computed and is
    positive definite, else the PIRLS-based (R_X'R_X)^-1."""
    if H is not None:
        try:
            Hi = np.linalg.inv(H)
            V = 2 * Hi[nth:, nth:]
            if np.all(np.linalg.eigvalsh(V) > 0):
                return 0.5 * (V + V.T), None
        except np.linalg.LinAlgError:
            pass
        note = "the Hessian is not positive definite; standard errors from the PIRLS weights"
        return engine.unscaled_vcov(theta), note
    return engine.unscaled_vcov(theta), None


def _build(
    gd: GlmmDesign,
    engine: Engine,
    nagq: int,
    theta: np.ndarray,
    beta: np.ndarray,
    vcov: np.ndarray,
    dev: float,
    laplace_dev: float,
    grad: np.ndarray,
    H: np.ndarray | None,
    b: np.ndarray,
    cond_var: np.ndarray,
    evals: int,
    start: np.ndarray,
    lower: np.ndarray,
    notes: list[str],
) -> MixedFit:
    d = gd.base
    components = variance_components(d.terms, d.split_theta(theta))
    modes = {}
    off = 0
    grouped = isinstance(engine, GroupedLaplace)
    for t, th in zip(d.terms, d.split_theta(theta), strict=True):
        Lt = t.Lambda(th)
        if grouped:
            bt = b[:, off : off + t.q]
            cv = cond_var[:, off : off + t.q, off : off + t.q]
            off += t.q
        else:  # b here is u and cond_var is H^-1: map each term's blocks through Lambda
            ut = b[off : off + t.n_levels * t.q].reshape(t.n_levels, t.q)
            idx = np.arange(off, off + t.n_levels * t.q).reshape(t.n_levels, t.q)
            bt = ut @ Lt.T
            cv = np.einsum("ik,gkl,jl->gij", Lt, cond_var[idx[:, :, None], idx[:, None, :]], Lt)
            off += t.n_levels * t.q
        modes[t.name] = TermModes(b=np.asarray(bt), cond_var=np.asarray(cv))
    opt = OptSummary(
        optimizer="Newton (exact gradient)" + (" + AGQ L-BFGS-B" if nagq > 1 else ""),
        theta_initial=[float(v) for v in start],
        theta_final=[float(v) for v in np.concatenate([theta, beta])],
        lower=[float(v) for v in lower],
        fmin=float(dev),
        n_evaluations=int(evals),
        n_iterations=int(engine.pirls_iterations),
        tolerances={"pirls_decrement": 1e-11, "lbfgsb_ftol": 1e-15},
        message="; ".join(notes) if notes else "converged",
        gradient=[],
        scaled_gradient_max=float("nan"),
        converged=False,
        notes=list(notes),
    )
    # lme4's check over (theta, beta), as the linear model's: the fixed effects are unbounded
    opt = check_convergence(opt, grad, H, np.concatenate([lower, np.full(beta.size, -np.inf)]))
    if notes:  # the optimizer reported a problem of its own
        opt = replace(opt, converged=False)
    is_sing = singular(theta, lower)
    messages = list(d.warnings) + data_notes(gd)
    note = singular_note(d.theta_names(), theta, lower) if is_sing else None
    if note:
        messages.append(note)
    messages += fit_notes(gd, beta, vcov)
    if not opt.converged:
        messages.extend(opt.notes)
    sat = gd.family.saturated_loglik(gd.y, gd.weights)
    return MixedFit(
        formula=gd.formula.text,
        reml=False,
        layout=d.layout,
        beta=beta,
        vcov_beta=vcov,
        df_satterthwaite=np.full(len(beta), np.inf),  # Wald z
        theta=theta,
        sigma=1.0,  # no residual variance: the family fixes the conditional variance
        random_effects=components,
        loglik=-0.5 * float(dev),
        optimization=opt,
        is_singular=is_sing,
        modes=modes,
        warnings=tuple(messages),
        _design=d,
        family=gd.family,
        nagq=nagq,
        glmm=gd,
        loglik_laplace=-0.5 * float(laplace_dev),
        saturated_loglik=sat,
        hessian=H,
    )
