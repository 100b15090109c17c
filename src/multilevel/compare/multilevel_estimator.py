"""The multilevel model itself (``multilevel.fit``) in the comparison protocol.

REML by default, as lme4; the reference df are Satterthwaite's, so tests of level-2
predictors use about G - (number of level-2 coefficients) df rather than N - K.
"""

from __future__ import annotations

import numpy as np

from multilevel.compare.data import ClusteredData
from multilevel.compare.protocol import EstimatorResult
from multilevel.errors import DataError
from multilevel.fitting import fit_design
from multilevel.result.fit import LmmFit


def conditional_icc(fit: LmmFit) -> float | None:
    """tau00 / (tau00 + sigma^2) for a single random-intercept term, else None."""
    if len(fit.random_effects) != 1 or fit.random_effects[0].terms != ("(Intercept)",):
        return None
    tau00 = float(fit.random_effects[0].covariance[0, 0])
    return tau00 / (tau00 + fit.sigma**2)


def multilevel_model(data: ClusteredData, reml: bool = True) -> EstimatorResult:
    """Fit the formula's linear mixed model to the same rows and columns."""
    if data.design is None:
        raise DataError("the multilevel estimator needs the model design (use clustered_data)")
    fit = fit_design(data.design, reml=reml, warn=False)
    return from_fit(fit, data.n_clusters)


def from_fit(fit: LmmFit, n_clusters: int) -> EstimatorResult:
    """An already fitted :class:`LmmFit` as an :class:`EstimatorResult`."""
    vcov = np.asarray(fit.vcov_beta)
    icc = conditional_icc(fit)
    extras: dict = {
        "sigma": fit.sigma,
        "reml": fit.reml,
        "converged": fit.converged,
        "is_singular": fit.is_singular,
        "random_effects": {vc.group: vc.covariance for vc in fit.random_effects},
    }
    if icc is not None:
        extras["icc"] = icc
    return EstimatorResult(
        name="multilevel",
        label=f"Multilevel model ({fit.method})",
        coef_names=tuple(fit.fixed_names),
        estimates=np.asarray(fit.beta),
        std_errors=np.sqrt(np.diag(vcov)),
        vcov=vcov,
        df=np.asarray(fit.df_satterthwaite, dtype=float),
        n_obs=fit.n_obs,
        n_clusters=n_clusters,
        loglik=float(fit.loglik),
        notes=(f"{fit.formula}; {fit.method} log-likelihood; Satterthwaite df",)
        + tuple(fit.warnings),
        extras=extras,
    )
