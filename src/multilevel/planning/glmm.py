"""Power for binary and count outcomes: responses drawn from a fitted GLMM (binomial 0/1 or
Poisson) and refitted with the GLMM fitter, tested by Wald z as glmer's summary does.

A GLMM refit cannot reuse the response's cross-products (the working weights change with the
response), so each simulation is a full fit; the simulations still run on all cores and are
reproducible from the seed whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from multilevel.design.model import ModelDesign
from multilevel.errors import MultilevelError
from multilevel.planning.pvalues import TestSpec, _as_p
from multilevel.simulate.problem import RefitProblem

FAMILIES = ("binomial", "poisson")


def family_name(fit: Any) -> str | None:
    """'binomial' or 'poisson' for a GLMM fit, None for a linear mixed model."""
    family = getattr(fit, "family", None)  # a fit, or a PlannedDesign's family name
    if family is None or getattr(family, "is_gaussian", False):
        return None
    return str(getattr(family, "name", family)).lower()


@dataclass(frozen=True, eq=False)
class GlmmRunner:
    """Draws GLMM responses for one design and refits them (runs in a worker)."""

    spec: TestSpec
    problem: RefitProblem
    design: ModelDesign
    formula: str
    response: str
    family: Any
    nagq: int

    def draw(
        self,
        beta: np.ndarray,
        theta: np.ndarray,
        sigma: float,
        seeds: Sequence[np.random.SeedSequence],
    ) -> np.ndarray:
        """eta = X beta + Z Lambda u (u ~ N(0, I)), then y ~ Bernoulli(mu) or Poisson(mu)."""
        from multilevel.family import get_family

        family = get_family(self.family)
        problem = self.problem
        Lam = problem.Lambda(theta)
        mu0 = problem.X @ np.asarray(beta, float)
        Y = np.empty((problem.n, len(seeds)))
        name = family_name(self)
        for s, ss in enumerate(seeds):
            rng = np.random.default_rng(ss)
            u = rng.standard_normal(problem.n_random)
            mu = family.linkinv(mu0 + np.asarray(problem.Z @ (Lam @ u)))
            Y[:, s] = rng.binomial(1, mu) if name == "binomial" else rng.poisson(mu)
        return Y

    def p_values(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        from multilevel.api import fit as fit_model

        S = Y.shape[1]
        p = np.full(S, np.nan)
        failed = np.zeros(S, bool)
        singular = np.zeros(S, bool)
        data = self.design.frame.data
        for s in range(S):
            try:
                refit = fit_model(
                    self.formula,
                    data.assign(**{self.response: Y[:, s]}),
                    family=self.family,
                    nagq=self.nagq,
                    warn=False,
                )
            except (MultilevelError, np.linalg.LinAlgError, FloatingPointError, ValueError):
                failed[s] = True
                continue
            if not refit.optimization.converged or not np.all(np.isfinite(refit.beta)):
                failed[s] = True
                continue
            singular[s] = bool(refit.is_singular)
            if self.spec.function is not None:
                p[s] = _as_p(self.spec.function(refit))
            else:
                j = self.spec.column
                assert j is not None
                z = refit.beta[j] / np.sqrt(refit.vcov_beta[j, j])
                p[s] = 2 * stats.norm.sf(abs(z))
        return p, failed, singular
