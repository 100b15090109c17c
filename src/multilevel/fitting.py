"""From cross-products to the fitted model: the one path every fit takes, in memory or in chunks.

Split as lme4 splits ``lmer``: :func:`optimize_lmm` (``optimizeLmer``: start, optimizer,
boundary restarts), :func:`check_fit` (``checkConv``: gradient scaled by the Hessian, singular
fit, residual variance near zero) and :func:`make_fit` (``mkMerMod``: variance components,
conditional modes, the result). :func:`fit_statistics` chains them after the checks that need
only the cross-products (REML needs n > p; the outcome must not be a linear function of X).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from multilevel.design.layout import ModelLayout
from multilevel.design.model import ModelDesign
from multilevel.design.random_shift import RandomShift, centre_random_slopes, unshift_random
from multilevel.design.shift import Shift
from multilevel.design.weights import log_weight_sum, working_design
from multilevel.errors import DataError, FitWarning
from multilevel.inference.satterthwaite import (
    VarParInfo,
    profiled_hessian,
    satterthwaite,
    varpar_info,
)
from multilevel.objective.crossprod import CrossProducts, cross_products
from multilevel.objective.deviance import Evaluation, ProfiledDeviance
from multilevel.objective.modes import conditional_modes
from multilevel.optimize.optimizer import (
    BOUNDARY_TOL,
    LOOSE_TR_RADIUS,
    OptSummary,
    check_convergence,
    final_radius,
    optimize_theta,
    singular,
    singular_note,
)
from multilevel.optimize.polish import newton_polish
from multilevel.optimize.start import choose_start
from multilevel.optimize.threads import IdleCores, kernel_threads, stencil_workers
from multilevel.result.fit import LmmFit, RowReader, variance_components

#: sizes up to which a fit also optimizes from lme4's start: G * Q^2 of the first block and the
#: order of the dense Schur complement (a few milliseconds per run at most)
CHEAP_FIRST_BLOCK = 20_000
CHEAP_SCHUR = 200
#: a residual SD below this fraction of the outcome's SD is reported as (nearly) zero
ZERO_SIGMA = 1e-7


def fit_statistics(
    xp: CrossProducts,
    layout: ModelLayout,
    reml: bool = True,
    *,
    design: Any = None,
    reader: RowReader | None = None,
    warn: bool = True,
    stacklevel: int = 2,
    loglik_shift: float = 0.0,
    random_shift: RandomShift | None = None,
) -> LmmFit:
    """Fit a linear mixed model from its cross-products (``xp``) and its layout.

    ``design`` (the rows, for an in-memory fit) and ``reader`` (a second pass over a chunked
    source) only travel into the result; the numbers depend on ``xp`` alone. ``random_shift``:
    random slopes fitted about a shift, mapped back here (design/random_shift.py). Warnings point
    ``stacklevel`` frames up (2: the caller's line).
    """
    check_reml_rows(reml, xp.n, xp.p)
    check_outcome(xp, layout)
    try:
        with kernel_threads(xp.n_rest, xp.p) as threads, np.errstate(all="ignore"):
            dev = ProfiledDeviance(xp, reml=reml)
            if dev.schur is not None:  # BLAS threads for its Cholesky, if they pay now
                dev.schur.threads = threads
            elif xp.n_rest == 0:  # one factor: the p x p Cholesky of a wide X
                dev.threads = threads
            idle = IdleCores()
            opt = optimize_lmm(dev, xp, layout)
            dev.workers = stencil_workers(threads, idle)  # the Hessian's evaluations, 2 at once?
            ev, info, checked = check_fit(dev, opt, xp, layout)
            fit = make_fit(dev, ev, info, checked, layout, design=design, reader=reader)
            if loglik_shift:  # e.g. 1/2 sum log w of precision weights (lme4's loglik)
                fit = replace(fit, loglik=fit.loglik + loglik_shift)
            if random_shift is not None:  # hook: Z was centred (design/random_shift.py)
                fit = unshift_random(fit, random_shift)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            "the model could not be fitted: the equations are numerically singular at the "
            f"estimates ({exc}). This happens with too little data for the random part, or "
            "predictors on very different scales; simplify the random part or rescale predictors"
        ) from None
    if not (np.isfinite(fit.loglik) and np.all(np.isfinite(fit.beta))):
        raise DataError(
            "the fit produced non-finite values (log-likelihood or estimates); rescale the "
            "outcome and predictors, or simplify the model"
        )
    if warn:
        for msg in fit.warnings:
            warnings.warn(msg, FitWarning, stacklevel=stacklevel)
    return fit


def fit_design(
    design: ModelDesign, reml: bool = True, warn: bool = True, *, _stacklevel: int = 2
) -> LmmFit:
    """Fit an already-built design (used by ``fit`` and by refits in likelihood-ratio tests);
    :func:`~multilevel.fitting.fit_statistics` checks what needs only the cross-products (REML
    needs n > p)."""
    # weights and offset: a row transform first; random slopes of far predictors centred
    work, random_shift = centre_random_slopes(working_design(design))
    return fit_statistics(
        cross_products(work),
        design.layout,
        reml,
        design=design,
        warn=warn,
        stacklevel=_stacklevel + 1,
        loglik_shift=0.5 * log_weight_sum(design),  # lme4's log-likelihood, with weights
        random_shift=random_shift,
    )


def check_reml_rows(reml: bool, n: int, p: int) -> None:
    """REML needs more observations than fixed effects (its df n - p must be positive)."""
    if reml and n <= p:
        raise DataError(f"REML needs more observations ({n}) than fixed effects ({p})")


def check_outcome(xp: CrossProducts, layout: ModelLayout) -> None:
    """Refuse an outcome that the fixed effects reproduce exactly (e.g. y on both sides)."""
    C = xp.C
    d = np.sqrt(np.maximum(np.diag(C), 1e-300))
    try:
        R = np.linalg.cholesky(C / np.outer(d, d))
    except np.linalg.LinAlgError:
        R = None
    if R is None or R[-1, -1] ** 2 < 1e-12:
        raise DataError(
            f"the outcome {layout.response!r} is an exact linear function of the fixed "
            "effects (is it also on the right-hand side of the formula?); nothing is left for "
            "the random effects and the residual to explain"
        )


def optimize_lmm(dev: ProfiledDeviance, xp: CrossProducts, layout: ModelLayout) -> OptSummary:
    """lme4's ``optimizeLmer``: minimize the profiled deviance from the better of the moment
    start and lme4's; where an evaluation is cheap, also from lme4's start (the better optimum
    is kept, a guard against a local optimum near the moment start)."""
    lower = layout.theta_lower()
    default = layout.theta_start()
    expensive = final_radius(dev) == LOOSE_TR_RADIUS  # each evaluation a large factorization
    start, informed = choose_start(dev, xp, default, compare=not expensive)
    cheap = xp.G * xp.Q**2 <= CHEAP_FIRST_BLOCK and xp.n_rest + xp.p <= CHEAP_SCHUR
    return optimize_theta(
        dev, start, lower, informed_start=informed, also_from=default if cheap else None
    )


def polish(
    dev: ProfiledDeviance,
    opt: OptSummary,
    f0: float,
    g0: np.ndarray,
    hessian: np.ndarray,
    lower: np.ndarray,
) -> tuple[OptSummary, np.ndarray]:
    """One Newton step on the exact gradient ``g0`` (one grouping factor), with the Hessian
    the Satterthwaite df need anyway; returns the record and the gradient at its theta.

    A minimizer stops where the deviance stops changing in double precision, which leaves
    theta uncertain to about 1e-8 relative (the deviance is flat to second order); the gradient
    vanishes linearly, so one Newton step locates the optimum to rounding. Parameters on a
    bound stay there; the step is kept only if it is small and lowers the gradient without
    raising the deviance (two more evaluations).
    """
    theta = np.asarray(opt.theta_final, dtype=float)
    free = np.flatnonzero(theta - lower > BOUNDARY_TOL)
    if not free.size or not np.isfinite(f0):
        return opt, g0
    try:
        step = np.linalg.solve(hessian[np.ix_(free, free)], g0[free])
    except np.linalg.LinAlgError:
        return opt, g0
    if not np.all(np.isfinite(step)) or np.any(
        np.abs(step) > 1e-4 * np.maximum(np.abs(theta[free]), 0.1)
    ):
        return opt, g0
    new = theta.copy()
    new[free] -= step
    if np.any(new < lower):
        return opt, g0
    try:
        f1, g1 = dev.value_and_gradient(new)
    except (np.linalg.LinAlgError, FloatingPointError):
        return opt, g0
    if f1 <= f0 + 1e-13 * abs(f0) and np.linalg.norm(g1[free]) < np.linalg.norm(g0[free]):
        return replace(opt, theta_final=new.tolist(), fmin=float(f1)), g1
    return opt, g0


@dataclass(frozen=True)
class CheckedFit:
    """The optimum after lme4's checks: the record, singularity, and what to tell the user."""

    optimization: OptSummary
    is_singular: bool
    messages: tuple[str, ...]


def check_fit(
    dev: ProfiledDeviance, opt: OptSummary, xp: CrossProducts, layout: ModelLayout
) -> tuple[Evaluation, VarParInfo, CheckedFit]:
    """lme4's ``checkConv`` and ``isSingular``, and a residual variance near zero."""
    theta = np.asarray(opt.theta_final)
    lower = layout.theta_lower()
    ev = dev.evaluate(theta)
    sigma = float(np.sqrt(dev.sigma2(ev)))
    info = varpar_info(dev, theta, sigma)
    hessian = profiled_hessian(info)
    if dev.has_gradient:
        f0, gradient = dev.value_and_gradient(theta)
        opt, gradient = polish(dev, opt, f0, gradient, hessian, lower)
    else:  # a derivative-free run stopped at a loose radius: a Newton step (optimize.polish)
        gradient = info.gradient[:-1]
        opt = newton_polish(dev, opt, gradient, hessian, lower)
    if not np.array_equal(opt.theta_final, theta):  # info stays: it moved by ~1e-8 (~1e-5)
        theta = np.asarray(opt.theta_final)
        ev = dev.evaluate(theta)
        sigma = float(np.sqrt(dev.sigma2(ev)))
    opt = check_convergence(opt, gradient, hessian, lower)
    is_sing = singular(theta, lower)
    messages = list(layout.warnings)
    note = singular_note(layout.theta_names(), theta, lower) if is_sing else None
    if note:
        messages.append(note)
    if sigma <= ZERO_SIGMA * max(float(np.sqrt(max(xp.y_var, 0.0))), 1e-300):
        messages.append(
            f"the residual variance is (nearly) zero (sigma = {sigma:.3g}): the outcome is an "
            "exact function of the predictors and the groups, so the variance components cannot "
            "be estimated; check that the outcome is not computed from the predictors"
        )
    if not opt.converged:
        messages.extend(opt.notes or ["the optimizer did not converge"])
    return ev, info, CheckedFit(opt, is_sing, tuple(messages))


def make_fit(
    dev: ProfiledDeviance,
    ev: Evaluation,
    info: VarParInfo,
    checked: CheckedFit,
    layout: ModelLayout,
    *,
    design: Any = None,
    reader: RowReader | None = None,
) -> LmmFit:
    """lme4's ``mkMerMod``: variance components, conditional modes, Satterthwaite df, result."""
    theta = ev.theta
    sigma2 = dev.sigma2(ev)
    components = variance_components(layout.terms, layout.split_theta(theta), sigma2)
    p = dev.xp.p
    beta, vcov = ev.beta, sigma2 * ev.XtVinvX_inv
    if dev.xp.shift is not None:  # back from the shifted columns to the data's own
        beta, vcov, info = unshift(dev.xp.shift, beta, vcov, info)
    return LmmFit(
        formula=layout.formula.text,
        reml=dev.reml,
        layout=layout,
        beta=beta,
        vcov_beta=vcov,
        df_satterthwaite=satterthwaite(info, np.eye(p)) if p else np.zeros(0),
        theta=np.asarray(theta),
        sigma=float(np.sqrt(sigma2)),
        random_effects=components,
        loglik=float(-0.5 * dev.criterion(ev)),
        optimization=checked.optimization,
        is_singular=checked.is_singular,
        modes=conditional_modes(layout, dev, ev, sigma2),
        warnings=checked.messages,
        _design=design,
        reader=reader,
        _varpar=info,
    )


def unshift(
    shift: Shift, beta: np.ndarray, vcov: np.ndarray, info: VarParInfo
) -> tuple[np.ndarray, np.ndarray, VarParInfo]:
    """beta, Var(beta) and the derivatives of Var(beta) (Satterthwaite) in the original columns
    from those of the shifted ones: beta = T beta~ + c_y e_0, Var(beta) = T Var(beta~) T'."""
    T = shift.T
    beta = T @ beta
    beta[shift.intercept] += shift.y
    jacobian = np.einsum("ij,kjl,ml->kim", T, info.jacobian, T)
    info = replace(info, vcov_beta=T @ info.vcov_beta @ T.T, jacobian=jacobian)
    return beta, T @ vcov @ T.T, info
