"""Variance explained: Nakagawa & Schielzeth's R^2 and Raudenbush & Bryk's proportions.

Nakagawa & Schielzeth (2013) split the variance of y into the fixed part, sigma2_f = Var(X beta)
(sample variance of the fixed-effect predictions, n - 1 denominator as R's ``var``), the random
part and the residual sigma^2:

    R2_marginal = sigma2_f / (sigma2_f + sigma2_u + sigma^2),
    R2_conditional = (sigma2_f + sigma2_u) / (sigma2_f + sigma2_u + sigma^2).

With random slopes the random-part variance depends on the covariates; Johnson (2014) uses its
average over the rows, sigma2_u = mean_i z_i' Sigma z_i summed over random blocks, which reduces
to tau00 for random intercepts.

Raudenbush & Bryk's proportion of variance explained at each level compares a model with the
null model (random-effects ANOVA): (sigma2_null - sigma2) / sigma2_null at level 1 and
(tau00_null - tau00) / tau00_null at level 2. It can be negative (e.g. level-2 variance grows
when a group-mean-centred level-1 predictor is added).

For a GLMM the residual sigma^2 is replaced by the family's distribution-specific variance on
the latent scale (pi^2/3 for logit; Poisson: log(1 + 1/exp(b0)) from the null model), as
``performance::r2_nakagawa``; a GLMM estimates no level-1 variance, so the proportion explained
at level 1 is undefined (NaN).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from multilevel.errors import ModelComparisonError
from multilevel.result.fit import LmmFit


@dataclass(frozen=True)
class R2:
    """Nakagawa-Schielzeth-Johnson variance decomposition of one fit."""

    marginal: float
    conditional: float
    var_fixed: float  # sigma2_f
    var_random: float  # sigma2_u (Johnson's mean of diag(Z Sigma Z'))
    var_residual: float  # sigma^2

    @property
    def icc_adjusted(self) -> float:
        """sigma2_u / (sigma2_u + sigma^2): the (conditional, residual) ICC of the fit."""
        return self.var_random / (self.var_random + self.var_residual)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "icc_adjusted": self.icc_adjusted}


def random_variance(fit: LmmFit) -> float:
    """sum over random blocks of mean_i z_i' Sigma z_i (Johnson 2014)."""
    total = 0.0
    for term, vc in zip(fit.design.terms, fit.random_effects, strict=True):
        Z = term.Z
        total += float(np.mean(np.einsum("ij,jk,ik->i", Z, vc.covariance, Z)))
    return total


def residual_variance(fit: Any, null: Any = None) -> float:
    """sigma^2 of a linear mixed model; the distribution-specific variance of a GLMM."""
    if fit.is_glmm:
        from multilevel.glmm.icc import distribution_variance

        return distribution_variance(fit, null)
    return float(fit.sigma**2)


def r2(fit: LmmFit, null: Any = None) -> R2:
    """Marginal and conditional R^2 (Nakagawa & Schielzeth 2013; Johnson 2014 for slopes).
    ``null``: the null model, needed for a Poisson GLMM's distribution-specific variance."""
    X = fit.design.X
    # var(X beta) from centred columns: exactly 0 for the intercept, whatever the rounding of beta
    eta = (X - X.mean(axis=0)) @ fit.beta
    var_f = float(eta @ eta / (eta.size - 1)) if eta.size > 1 else 0.0
    var_u = random_variance(fit)
    var_e = residual_variance(fit, null)
    total = var_f + var_u + var_e
    return R2(
        marginal=var_f / total,
        conditional=(var_f + var_u) / total,
        var_fixed=var_f,
        var_random=var_u,
        var_residual=var_e,
    )


def intercept_variance(fit: LmmFit, group: str | None = None) -> float:
    """tau00: the variance of the random intercept on ``group`` (the only factor by default)."""
    factors = {vc.grouping_factor for vc in fit.random_effects}
    if group is None:
        if len(factors) != 1:
            raise ModelComparisonError(
                f"the model has several grouping factors ({', '.join(sorted(factors))}); "
                "name the one whose intercept variance to use"
            )
        group = next(iter(factors))
    for vc in fit.random_effects:
        if vc.grouping_factor == group and "(Intercept)" in vc.terms:
            i = vc.terms.index("(Intercept)")
            return float(vc.covariance[i, i])
    raise ModelComparisonError(f"the model '{fit.formula}' has no random intercept for {group!r}")


def variance_explained(fit: LmmFit, null: LmmFit, group: str | None = None) -> dict[str, float]:
    """Raudenbush & Bryk's proportion of variance explained at level 1 (sigma^2) and level 2
    (tau00) relative to the null model; level 1 is NaN for a GLMM (no sigma^2 is estimated)."""
    t0, t1 = intercept_variance(null, group), intercept_variance(fit, group)
    level1 = float("nan") if fit.is_glmm else float((null.sigma**2 - fit.sigma**2) / null.sigma**2)
    return {
        "level1": level1,
        "level2": float((t0 - t1) / t0) if t0 > 0 else float("nan"),
    }
