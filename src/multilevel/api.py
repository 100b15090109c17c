"""``multilevel.fit``: formula -> design -> objective -> optimizer -> result, in a few lines."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from multilevel.design.model import ModelDesign, build_design
from multilevel.design.weights import log_weight_sum, working_design
from multilevel.errors import DataError
from multilevel.inference.satterthwaite import profiled_hessian, satterthwaite, varpar_info
from multilevel.objective import CrossProducts, ProfiledDeviance, cross_products
from multilevel.objective.modes import conditional_modes
from multilevel.optimize import optimize_theta, singular
from multilevel.optimize.optimizer import check_convergence
from multilevel.optimize.start import choose_start
from multilevel.optimize.threads import kernel_threads
from multilevel.result.fit import LmmFit, VarianceComponent

#: sizes up to which a fit also optimizes from lme4's start: G * Q^2 of the first block and the
#: order of the dense Schur complement (a few milliseconds per run at most)
CHEAP_FIRST_BLOCK = 20_000
CHEAP_SCHUR = 200


class FitWarning(UserWarning):
    """A fit that did not converge, is singular, or lost rows: also recorded in the result."""


def fit(
    formula: str,
    data: Any,
    reml: bool = True,
    *,
    family: Any = None,
    nagq: int = 1,
    weights: Any = None,
    offset: Any = None,
    contrasts: dict[str, str] | None = None,
    na_values: Any = None,
    correlation: Any = None,
    variance: Any = None,
    warn: bool = True,
) -> Any:
    """Fit a linear mixed model written as an lme4 formula.

    ``data`` is any source ``multilevel.read.as_source`` reads: a pandas, polars (DataFrame or
    LazyFrame), Arrow or Dask table, a DuckDB relation, or a CSV or Parquet file or folder.
    REML by default, as lme4; ``reml=False`` for maximum likelihood. ``contrasts`` codes
    factors as lme4's argument does: ``{"recipe": "sum"}`` (treatment, sum, helmert or poly).
    ``weights`` (precision weights: residual variance sigma^2 / w) and ``offset`` (a known
    term of the linear predictor; also ``offset(expr)`` in the formula) are a column name, an
    expression of columns, or an array with one value per row of ``data``, as lme4's.
    ``na_values``: codes that mark missing values (e.g. ``[".", "-999"]``).
    ``correlation`` (``multilevel.AR1(...)``, ``multilevel.CAR1(...)``) and ``variance``
    (``multilevel.VarIdent(...)``, ``multilevel.VarPower(...)``) give the residuals nlme's
    correlation structures and variance functions (see :mod:`multilevel.residual`).

    ``family="binomial" | "poisson"`` (or ``multilevel.Binomial(link="probit")``) fits a
    generalized linear mixed model as lme4's ``glmer`` (Laplace, or adaptive Gauss-Hermite
    with ``nagq > 1``); ``weights`` (binomial trials) and ``offset`` belong to those.

    On large data the numeric columns are read in place, not copied. With pandas' copy-on-write
    (pandas 3; pandas 2 copies instead) later edits of the DataFrame never reach the fit, but
    numpy arrays wrapped without a copy (``pd.DataFrame({...}, copy=False)``) and edited in place
    afterwards would change the fitted values computed from them: copy such arrays first.

    >>> import multilevel
    >>> m = multilevel.fit("mathach ~ 1 + (1 | school)", multilevel.datasets.hsb())
    >>> round(m.icc["school"], 4)
    0.1804
    """
    if family is not None and str(family).strip().lower() != "gaussian":  # hook: GLMMs (#12)
        from multilevel.glmm.fit import fit_glmm

        if correlation is not None or variance is not None:
            raise DataError(
                "correlation= and variance= (residual structures) are for linear mixed models; "
                "a GLMM's conditional variance is fixed by its family"
            )

        return fit_glmm(
            formula,
            data,
            family,
            nagq=nagq,
            weights=weights,
            offset=offset,
            contrasts=contrasts,
            na_values=na_values,
            warn=warn,
        )
    if nagq != 1:
        raise DataError(
            "nagq (adaptive Gauss-Hermite quadrature) is an argument of generalized linear mixed "
            "models: give family='binomial' or 'poisson' (a linear mixed model is exact without it)"
        )
    if (correlation is not None or variance is not None) and (
        weights is not None or offset is not None
    ):
        raise DataError(
            "weights= and offset= cannot be combined with residual correlation or variance "
            "structures yet: give the variance function (e.g. VarIdent) instead of weights, or "
            "subtract the offset from the outcome"
        )
    design = build_design(
        formula, data, contrasts, weights=weights, offset=offset, na_values=na_values
    )
    if correlation is not None or variance is not None:  # hook: multilevel.residual
        from multilevel.residual.fit import fit_residual

        return fit_residual(design, data, reml, correlation, variance, warn=warn)
    return fit_design(design, reml=reml, warn=warn, _stacklevel=3)


def fit_design(
    design: ModelDesign, reml: bool = True, warn: bool = True, *, _stacklevel: int = 2
) -> LmmFit:
    """Fit an already-built design (used by ``fit`` and by refits in likelihood-ratio tests)."""
    if reml and design.n <= design.p:
        raise DataError(
            f"REML needs more observations ({design.n}) than fixed effects ({design.p})"
        )
    xp = cross_products(working_design(design))  # weights and offset: a row transform first
    _check_outcome_not_explained(xp, design)
    try:
        with kernel_threads(xp.n_rest, design.p), np.errstate(all="ignore"):
            result = _fit(design, xp, reml)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError) as exc:
        raise DataError(
            "the model could not be fitted: the equations are numerically singular at the "
            f"estimates ({exc}). This happens with too little data for the random part, or "
            "predictors on very different scales; simplify the random part or rescale predictors"
        ) from None
    if not (np.isfinite(result.loglik) and np.all(np.isfinite(result.beta))):
        raise DataError(
            "the fit produced non-finite values (log-likelihood or estimates); rescale the "
            "outcome and predictors, or simplify the model"
        )
    if warn:
        for msg in result.warnings:
            warnings.warn(msg, FitWarning, stacklevel=_stacklevel)
    return result


def _check_outcome_not_explained(xp: CrossProducts, design: ModelDesign) -> None:
    """Refuse an outcome that the fixed effects reproduce exactly (e.g. y on both sides)."""
    C = xp.C
    d = np.sqrt(np.maximum(np.diag(C), 1e-300))
    try:
        R = np.linalg.cholesky(C / np.outer(d, d))
    except np.linalg.LinAlgError:
        R = None
    if R is None or R[-1, -1] ** 2 < 1e-12:
        raise DataError(
            f"the outcome {design.formula.response!r} is an exact linear function of the fixed "
            "effects (is it also on the right-hand side of the formula?); nothing is left for "
            "the random effects and the residual to explain"
        )


def _fit(design: ModelDesign, xp: CrossProducts, reml: bool) -> LmmFit:
    dev = ProfiledDeviance(xp, reml=reml)
    lower = design.theta_lower()
    start, informed = choose_start(dev, xp, design.theta_start())
    # where a deviance evaluation is cheap, lme4's start is tried as well (the better optimum wins)
    cheap = xp.G * xp.Q**2 <= CHEAP_FIRST_BLOCK and xp.n_rest + xp.p <= CHEAP_SCHUR
    opt = optimize_theta(
        dev,
        start,
        lower,
        informed_start=informed,
        also_from=design.theta_start() if cheap else None,
    )
    theta = np.asarray(opt.theta_final)
    ev = dev.evaluate(theta)
    sigma2 = dev.sigma2(ev)
    sigma = float(np.sqrt(sigma2))
    loglik = -0.5 * dev.criterion(ev) + 0.5 * log_weight_sum(design)  # lme4's, with weights

    components = []
    for t, th in zip(design.terms, design.split_theta(theta), strict=True):
        Lt = t.Lambda(th)
        components.append(
            VarianceComponent(t.name, t.grouping_factor, t.term_names, sigma2 * (Lt @ Lt.T))
        )
    modes = conditional_modes(design, dev, ev, sigma2)

    info = varpar_info(dev, theta, sigma)
    df = satterthwaite(info, np.eye(design.p)) if design.p else np.zeros(0)
    gradient = dev.value_and_gradient(theta)[1] if dev.has_gradient else info.gradient[:-1]
    opt = check_convergence(opt, gradient, profiled_hessian(info), lower)
    is_sing = singular(theta, lower)

    messages = list(design.warnings)
    if is_sing:
        zero = [
            n
            for n, th, lo in zip(design.theta_names(), theta, lower, strict=True)
            if lo == 0 and th < 1e-4
        ]
        messages.append(
            "boundary (singular) fit: the variance of "
            + ", ".join(zero)
            + " is estimated as (nearly) zero; a simpler random-effects structure without it "
            "fits the data equally well"
        )
    if sigma <= 1e-7 * max(
        float(np.sqrt(max(xp.yy / xp.n - (design.y.sum() / xp.n) ** 2, 0))), 1e-300
    ):
        messages.append(
            f"the residual variance is (nearly) zero (sigma = {sigma:.3g}): the outcome is an "
            "exact "
            "function of the predictors and the groups, so the variance components cannot be "
            "estimated; check that the outcome is not computed from the predictors"
        )
    if not opt.converged:
        messages.extend(opt.notes or ["the optimizer did not converge"])
    return LmmFit(
        formula=design.formula.text,
        reml=reml,
        design=design,
        fixed_names=design.fixed.names,
        beta=ev.beta,
        vcov_beta=sigma2 * ev.XtVinvX_inv,
        df_satterthwaite=df,
        theta=theta,
        theta_names=tuple(design.theta_names()),
        sigma=sigma,
        random_effects=tuple(components),
        loglik=float(loglik),
        optimization=opt,
        is_singular=is_sing,
        modes=modes,
        warnings=tuple(messages),
        _varpar=info,
    )
