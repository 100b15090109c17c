"""What a fitted model (:class:`~multilevel.result.fit.MixedFit`: linear or generalized, from
rows or from chunked cross-products) reports from its likelihood: sizes, parameter count,
deviance or REML criterion, AIC, BIC, standard errors and the ICC of the null model."""

from __future__ import annotations

from typing import Any

import numpy as np

from multilevel.design.layout import ModelLayout
from multilevel.family import Family


class LikelihoodCriteria:
    """Mixin over ``layout``, ``family``, ``nagq``, ``reml``, ``beta``, ``theta``, ``loglik``,
    ``vcov_beta``, ``sigma``, ``optimization`` and ``random_effects``."""

    layout: ModelLayout
    family: Family
    nagq: int
    reml: bool
    beta: np.ndarray
    theta: np.ndarray
    loglik: float
    vcov_beta: np.ndarray
    sigma: float
    random_effects: tuple[Any, ...]
    optimization: Any

    # ------------------------------------------------------------------ the model's size
    @property
    def fixed_names(self) -> tuple[str, ...]:
        return self.layout.fixed_names

    @property
    def theta_names(self) -> tuple[str, ...]:
        return tuple(self.layout.theta_names())

    @property
    def n_obs(self) -> int:
        return self.layout.n_obs

    @property
    def n_groups(self) -> dict[str, int]:
        return self.layout.n_groups

    @property
    def n_dropped(self) -> int:
        return self.layout.n_dropped

    @property
    def dropped_by(self) -> dict[str, int]:
        """Rows dropped for a missing value, by column."""
        return dict(self.layout.dropped_by)

    @property
    def response(self) -> str:
        """The outcome (a column name, an expression such as log(y), or cbind(s, f))."""
        return self.layout.response

    # ------------------------------------------------------------------ the family
    @property
    def is_glmm(self) -> bool:
        """A generalized linear mixed model: its family fixes the level-1 variance."""
        return not self.family.is_gaussian

    @property
    def link(self) -> str:
        return self.family.link

    @property
    def method(self) -> str:
        """REML or ML for a linear mixed model; Laplace or AGQ(nagq) for a GLMM (ML both)."""
        if self.is_glmm:
            return "Laplace" if self.nagq == 1 else f"AGQ({self.nagq})"
        return "REML" if self.reml else "ML"

    @property
    def integration(self) -> str | None:
        """How a GLMM's likelihood integrates over the random effects: "Laplace" or "adaptive
        Gauss-Hermite, K points"; None for a linear mixed model (exact)."""
        if not self.is_glmm:
            return None
        return "Laplace" if self.nagq == 1 else f"adaptive Gauss-Hermite, {self.nagq} points"

    @property
    def converged(self) -> bool:
        return bool(self.optimization.converged)

    @property
    def n_params(self) -> int:
        """Fixed effects + covariance parameters, + sigma for a linear mixed model (lme4's
        ``df`` of logLik), + the parameters of a residual correlation / variance function (as
        nlme)."""
        if self.is_glmm:  # the family fixes the conditional variance: no sigma
            return len(self.beta) + len(self.theta)
        residual = getattr(self, "residual_structure", None)
        return len(self.beta) + len(self.theta) + 1 + (residual.n_params if residual else 0)

    @property
    def deviance(self) -> float | None:
        """-2 log-likelihood of an ML fit (None for REML fits, as in the reference files)."""
        return None if self.reml else -2.0 * self.loglik

    @property
    def reml_criterion(self) -> float | None:
        return -2.0 * self.loglik if self.reml else None

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + float(np.log(self.n_obs)) * self.n_params

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov_beta))

    @property
    def residual_variance(self) -> float:
        return self.sigma**2

    @property
    def is_intercept_only(self) -> bool:
        return all(vc.terms == ("(Intercept)",) for vc in self.random_effects)

    @property
    def is_null_model(self) -> bool:
        """Random-effects ANOVA: fixed part is the intercept only, random parts are intercepts."""
        return self.fixed_names == ("(Intercept)",) and self.is_intercept_only

    @property
    def icc(self) -> dict[str, float] | None:
        """tau00 / (tau00 + s2) per group for the null model, else None. s2 is sigma^2 for a
        linear mixed model (lme4 reference); for a GLMM the level-1 variance on the latent
        scale, pi^2/3 for logit (probit: 1, cloglog: pi^2/6; Poisson, log link:
        log(1 + 1/exp(b0))), as ``performance::icc``.

        With several intercept terms each gets var_g / (sum of intercept variances + s2).
        """
        if not self.is_null_model:
            return None
        if self.is_glmm:
            from multilevel.glmm.icc import distribution_variance

            try:
                s2 = distribution_variance(self)
            except ValueError:
                return None
        else:
            s2 = self.sigma**2
        total = sum(float(vc.covariance[0, 0]) for vc in self.random_effects) + s2
        return {vc.group: float(vc.covariance[0, 0]) / total for vc in self.random_effects}
