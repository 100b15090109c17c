"""What a fitted model (:class:`~multilevel.result.fit.LmmFit`, from rows or from chunked
cross-products) reports from its likelihood: parameter count, deviance or REML criterion, AIC,
BIC, standard errors and the ICC of the null model."""

from __future__ import annotations

from typing import Any

import numpy as np


class LikelihoodCriteria:
    """Mixin over ``reml``, ``beta``, ``theta``, ``loglik``, ``n_obs``, ``vcov_beta``, ``sigma``,
    ``optimization``, ``fixed_names`` and ``random_effects``."""

    reml: bool
    beta: np.ndarray
    theta: np.ndarray
    loglik: float
    vcov_beta: np.ndarray
    sigma: float
    random_effects: tuple[Any, ...]
    optimization: Any
    fixed_names: tuple[str, ...]
    n_obs: int

    @property
    def method(self) -> str:
        return "REML" if self.reml else "ML"

    @property
    def converged(self) -> bool:
        return bool(self.optimization.converged)

    @property
    def n_params(self) -> int:
        """Fixed effects + covariance parameters + sigma (lme4's ``df`` of logLik), + the
        parameters of a residual correlation / variance function (as nlme)."""
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
        """tau00 / (tau00 + sigma^2) per group for the null model (lme4 reference), else None.

        With several intercept terms each gets var_g / (sum of intercept variances + sigma^2).
        """
        if not self.is_null_model:
            return None
        total = sum(float(vc.covariance[0, 0]) for vc in self.random_effects) + self.sigma**2
        return {vc.group: float(vc.covariance[0, 0]) / total for vc in self.random_effects}
