"""The ICC of a binary outcome on the latent scale: a logistic (probit: normal) latent variable
has residual variance pi^2/3 (1), so ICC = tau00 / (tau00 + pi^2/3), as ``performance::icc``.
The interval comes from the profile of the Laplace deviance in tau00 (beta re-optimized)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize, stats

if TYPE_CHECKING:
    from multilevel.result.criteria import LikelihoodCriteria
    from multilevel.result.fit import MixedFit

LATENT_VARIANCE = {"logit": np.pi**2 / 3, "probit": 1.0, "cloglog": np.pi**2 / 6}


def latent_residual_variance(fit: LikelihoodCriteria) -> float | None:
    """The level-1 variance on the latent scale (binomial links only)."""
    if fit.family.name != "binomial":
        return None
    return LATENT_VARIANCE[fit.link]


def distribution_variance(fit: LikelihoodCriteria, null: LikelihoodCriteria | None = None) -> float:
    """The level-1 (distribution-specific) variance that ICC and R^2 of a GLMM divide by, as
    ``performance::icc`` and ``r2_nakagawa`` (insight's lognormal approximation for Poisson):
    binomial: the latent variance (pi^2/3 for logit); Poisson with log link:
    log(1 + 1/mu), mu = exp(b0) the intercept of the ``null`` model ``y ~ 1 + (random part)``
    (``fit`` itself when it is that null model)."""
    s2 = latent_residual_variance(fit)
    if s2 is not None:
        return s2
    if fit.family.name == "poisson" and fit.link == "log":
        ref = fit if null is None else null
        if not ref.is_null_model:
            raise ValueError(
                "the Poisson distribution-specific variance needs the null model "
                "y ~ 1 + (1 | g): pass it as null="
            )
        return float(np.log1p(np.exp(-ref.beta[0])))
    raise ValueError(f"no distribution-specific variance for {fit.family}")


@dataclass(frozen=True)
class LatentIcc:
    """ICC on the latent scale with a profile-likelihood interval."""

    group: str
    icc: float
    lower: float
    upper: float
    level: float
    tau00: float
    latent_variance: float

    def to_dict(self) -> dict[str, float | str]:
        return dict(self.__dict__)


def latent_icc(fit: MixedFit, level: float = 0.95) -> LatentIcc:
    """ICC = tau00 / (tau00 + s2) for a model with one random intercept (binomial family),
    with the interval from the profile deviance of theta = sqrt(tau00) (beta re-optimized)."""
    from multilevel.glmm.engine import make_engine

    s2 = latent_residual_variance(fit)
    if s2 is None:
        raise ValueError("the latent-scale ICC is defined for binomial models (logit, probit)")
    terms = fit.design.terms
    if len(terms) != 1 or terms[0].q != 1:
        raise ValueError("the latent-scale ICC needs exactly one random intercept term")
    engine = make_engine(fit.glmm_design)
    assert fit.loglik_laplace is not None  # a GLMM (binomial, checked above)
    dev_hat = -2 * fit.loglik_laplace
    crit = stats.chi2.ppf(level, 1)
    beta = fit.beta.copy()

    def profile(theta: float) -> float:
        nonlocal beta
        res = optimize.minimize(
            lambda b: engine.deviance_and_gradient(np.concatenate([[theta], b]), 1),
            beta,
            jac=True,
            method="L-BFGS-B",
            options={"ftol": 1e-13, "gtol": 1e-8},
        )
        beta = res.x
        return float(res.fun) - dev_hat - crit

    th = float(fit.theta[0])
    lo = 0.0
    if th > 1e-6 and profile(0.0) > 0:
        lo = optimize.brentq(profile, 0.0, th, xtol=1e-6)
    beta = fit.beta.copy()
    hi_b = max(2 * th, 0.5)
    while profile(hi_b) < 0 and hi_b < 50:
        hi_b *= 2
    hi = optimize.brentq(profile, th, hi_b, xtol=1e-6)

    def icc(t: float) -> float:
        return t * t / (t * t + s2)

    tau = th * th
    return LatentIcc(terms[0].grouping_factor, icc(th), icc(lo), icc(hi), level, tau, s2)
