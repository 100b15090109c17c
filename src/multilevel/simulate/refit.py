"""A refit of the model to a new response: the optimizer on the design's cross-products with the
response's part replaced, starting from the fitted theta (as lme4's ``refit``).

The result is a small record (theta, beta, sigma, Var(beta), log-likelihood, singular,
converged), not a full fit: conditional modes and the Satterthwaite Hessian for every simulated
response would cost more than the optimization itself. Satterthwaite df are computed on request,
and :attr:`Refit.fit` builds the full fit (a :class:`multilevel.LmmFit`) when a statistic needs it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from multilevel.fitting import fit_design
from multilevel.inference.satterthwaite import VarParInfo, satterthwaite, varpar_info
from multilevel.objective.crossprod import CrossProducts
from multilevel.objective.deviance import ProfiledDeviance
from multilevel.optimize.optimizer import optimize_theta, singular

if TYPE_CHECKING:
    from multilevel.design.model import ModelDesign
    from multilevel.design.shift import Shift
    from multilevel.result.fit import LmmFit

#: numerical failures of one refit: it is counted as failed, the others go on
REFIT_ERRORS = (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError)


@dataclass(frozen=True, eq=False)
class Refit:
    """One refit to a simulated response: the estimates, and more on request.

    ``beta`` follows ``fixed_names``; ``theta`` the fitted model's theta; ``vcov_beta`` is
    Var(beta_hat) = sigma^2 (X'V^-1X)^-1 at the refit's variance components.
    """

    theta: np.ndarray
    beta: np.ndarray
    sigma: float
    vcov_beta: np.ndarray
    loglik: float
    is_singular: bool
    converged: bool
    reml: bool
    fixed_names: tuple[str, ...] = ()
    y: np.ndarray | None = field(default=None, repr=False)
    cross_products: CrossProducts | None = field(default=None, repr=False)
    design: ModelDesign | None = field(default=None, repr=False)
    # the cross-products are about this shift (design/shift.py): contrasts of beta are L T there
    shift: Shift | None = field(default=None, repr=False)

    @property
    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov_beta))

    @cached_property
    def _varpar(self) -> VarParInfo:
        if self.cross_products is None:
            raise ValueError("this refit does not keep its cross-products")
        dev = ProfiledDeviance(self.cross_products, reml=self.reml)
        return varpar_info(dev, self.theta, self.sigma)

    def satterthwaite_df(self, L: np.ndarray) -> np.ndarray:
        """Satterthwaite df of each contrast (row of L), as lmerTest."""
        L = np.atleast_2d(np.asarray(L, float))
        return satterthwaite(self._varpar, L if self.shift is None else L @ self.shift.T)

    def written(self, shift: Shift | None) -> Refit:
        """This refit, fitted about ``shift``, as one of the model written (beta, Var(beta))."""
        if shift is None:
            return self
        T = shift.T
        beta = T @ self.beta
        beta[shift.intercept] += shift.y
        return replace(self, beta=beta, vcov_beta=T @ self.vcov_beta @ T.T, shift=shift)

    @cached_property
    def fit(self) -> LmmFit:
        """The full fit of the model to this response (conditional modes, tables, ...)."""

        if self.design is None or self.y is None:
            raise ValueError("this refit does not keep its design and response")
        return fit_design(replace(self.design, y=self.y), reml=self.reml, warn=False)


class Refitter:
    """Refits one design to new responses, one at a time, with the fit's optimizer."""

    def __init__(self, xp: CrossProducts, reml: bool, start: np.ndarray, lower: np.ndarray):
        self.template = ProfiledDeviance(xp, reml=reml)
        self.reml = reml
        self.start = np.asarray(start, float)
        self.lower = np.asarray(lower, float)

    def deviance_for(self, xp: CrossProducts) -> ProfiledDeviance:
        """The deviance of the same design with other response cross-products (the pair map of
        crossed designs, which depends on Z only, is shared)."""
        dev = copy.copy(self.template)
        dev.xp = xp
        dev.evaluations = 0
        return dev

    def refit(self, xp: CrossProducts) -> Refit:
        """Optimize theta for these cross-products from the fitted theta (with the fit's boundary
        restarts); raises one of :data:`REFIT_ERRORS` when the refit fails numerically."""
        dev = self.deviance_for(xp)
        with np.errstate(all="ignore"):
            opt = optimize_theta(dev, self.start, self.lower, informed_start=True)
            theta = np.asarray(opt.theta_final)
            ev = dev.evaluate(theta)
        sigma2 = dev.sigma2(ev)
        loglik = -0.5 * dev.criterion(ev)
        if not (np.isfinite(loglik) and sigma2 > 0 and np.all(np.isfinite(ev.beta))):
            raise FloatingPointError("the refit produced non-finite estimates")
        return Refit(
            theta=theta,
            beta=ev.beta,
            sigma=float(np.sqrt(sigma2)),
            vcov_beta=sigma2 * ev.XtVinvX_inv,
            loglik=float(loglik),
            is_singular=singular(theta, self.lower),
            converged=bool(opt.converged),
            reml=self.reml,
            cross_products=xp,
        )
